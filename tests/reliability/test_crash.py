"""SIGKILL of a real emulator process while the facade waits on a stream of saves.

``tests/emulator/test_restart.py`` checks the server's side of a crash over
raw HTTP. These tests check what a script using the facade sees: handles
that were waiting when the server died end with a clear error and never
hang, whether the server comes back (``OperationFailedError``, code
``interrupted``) or not (``OperationTimeoutError`` naming the operation);
and what survives is intact: every completed checkpoint's file matches the
sha256 the facade got back when it was saved, and nothing half-written is
visible.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.emulator import EmulatorProcess, spawn_emulator
from tests.support.fakeserver import FakeClock, FakeWeaver, error_json, json_reply
from tests.support.fakeserver import service as unit_service
from weaver_facade import (
    APIConnectionError,
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    InternalServerError,
    ModelStateLostError,
    NotFoundError,
    OperationFailedError,
    OperationHandle,
    OperationStatus,
    OperationTimeoutError,
    PollPolicy,
    PollSettings,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    datum_from_tokens,
)

KEY = "reliability-crash-key-2c9d41"
STREAM = 40
# Short waits everywhere: a test that sits out a real backoff proves nothing more.
RETRY = RetryPolicy(RetrySettings(max_retries=3, initial_backoff=0.02, max_backoff=0.1))
POLL = PollSettings(timeout=60, long_poll=5, initial_backoff=0.05, max_backoff=0.2)

Outcome = Checkpoint | BaseException


def spawn(data_dir: Path, *extra: str) -> EmulatorProcess:
    return spawn_emulator("--data-dir", str(data_dir), "--api-key", KEY, "--no-access-log", *extra)


def service(base_url: str) -> ServiceClient:
    return ServiceClient(base_url, KEY, retry=RETRY, poll=POLL, heartbeat_interval=0)


@pytest.fixture
def processes() -> Iterator[list[EmulatorProcess]]:
    """Every emulator a test starts; any still running at the end is killed."""
    started: list[EmulatorProcess] = []
    yield started
    for process in started:
        process.stop(signal.SIGKILL)


class Waiters:
    """One thread per handle, each blocked in ``result()``, recording how it ended."""

    def __init__(self, handles: list[OperationHandle[Checkpoint]], timeout: float) -> None:
        self.outcomes: dict[int, Outcome] = {}
        self.seconds: dict[int, float] = {}
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._wait, args=(i, h, timeout), daemon=True)
            for i, h in enumerate(handles)
        ]
        for thread in self.threads:
            thread.start()

    def _wait(self, i: int, handle: OperationHandle[Checkpoint], timeout: float) -> None:
        started = time.monotonic()
        outcome: Outcome
        try:
            outcome = handle.result(timeout=timeout)
        except BaseException as exc:
            outcome = exc
        with self._lock:
            self.outcomes[i] = outcome
            self.seconds[i] = time.monotonic() - started

    def completed(self) -> dict[int, Checkpoint]:
        with self._lock:
            return {i: o for i, o in self.outcomes.items() if isinstance(o, Checkpoint)}

    def join(self, deadline: float) -> list[int]:
        """Join every thread by ``deadline`` (monotonic); the indexes of those still waiting."""
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return [i for i, t in enumerate(self.threads) if t.is_alive()]


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_mid_stream_then_restart(tmp_path: Path, processes: list[EmulatorProcess]) -> None:
    data_dir = tmp_path / "data"
    first = spawn(data_dir, "--latency", "save_checkpoint=0.05")
    processes.append(first)
    port = first.base_url.rsplit(":", 1)[1]
    with service(first.base_url) as svc:
        # Kept: the model is looked at again after this client closes.
        trainer = svc.create_training_client("weaver-tiny", seed=4, keep=True)
        trainer.forward_backward([datum_from_tokens(list(range(1, 17)))])
        trainer.optim_step()
        # A stream of saves, queued on the server; one waiting thread per handle.
        handles = [trainer.save_state(f"stream-{i:02d}", wait=False) for i in range(STREAM)]
        waiters = Waiters(handles, timeout=60)
        wait_until(lambda: len(waiters.completed()) >= 5, seconds=30)
        first.stop(signal.SIGKILL)
        assert first.process.returncode == -signal.SIGKILL

        # The same data dir and port: the waiting handles reconnect by themselves.
        second = spawn(data_dir, "--port", port)
        processes.append(second)
        still_waiting = waiters.join(deadline=time.monotonic() + 30)
    assert still_waiting == [], "handles still waiting 30 s after the restart"

    completed = waiters.completed()
    interrupted: dict[int, OperationFailedError] = {}
    for i, outcome in waiters.outcomes.items():
        if isinstance(outcome, Checkpoint):
            assert outcome.name == f"stream-{i:02d}"
            continue
        assert isinstance(outcome, OperationFailedError), repr(outcome)
        assert outcome.code == "interrupted"
        assert outcome.operation_id == handles[i].id
        assert "restart" in str(outcome)
        interrupted[i] = outcome
    assert len(completed) >= 5
    assert interrupted, "the kill landed mid-stream"
    assert len(completed) + len(interrupted) == STREAM

    with service(second.base_url) as svc:
        attached = svc.training_client(trainer.model_id)
        listed = {c.id: c for c in attached.list_checkpoints()}
        # Only completed checkpoints are visible, each with the digest recorded at save time.
        assert all(c.status is CheckpointStatus.COMPLETED for c in listed.values())
        for checkpoint in completed.values():
            assert listed[checkpoint.id].sha256 == checkpoint.sha256
        files = {p.name: p for p in (data_dir / "checkpoints").iterdir()}
        assert sorted(files) == sorted(f"{cid}.safetensors" for cid in listed)
        for cid, checkpoint in listed.items():
            assert checkpoint.sha256 is not None
            assert sha256_file(files[f"{cid}.safetensors"]) == checkpoint.sha256
        assert len(listed) == len(completed)

        # Interrupted saves left nothing by their name, and their operations say why.
        for i, failure in interrupted.items():
            with pytest.raises(NotFoundError):
                attached.get_checkpoint(CheckpointPath(trainer.model_id, f"stream-{i:02d}"))
            handle = svc.operation(failure.operation_id, Checkpoint)
            assert handle.status is OperationStatus.ERROR
            with pytest.raises(OperationFailedError) as again:
                handle.result(timeout=1)
            assert again.value.code == "interrupted"
        # The model lost its in-memory state; saving it now would save something else.
        with pytest.raises(ModelStateLostError):
            attached.save_state("after-restart")
    assert second.stop() == 128 + signal.SIGTERM
    assert KEY not in first.output() + second.output()


def test_sigkill_without_restart_ends_every_wait_with_the_operation_id(
    tmp_path: Path, processes: list[EmulatorProcess]
) -> None:
    emulator = spawn(tmp_path / "data", "--latency", "save_checkpoint=30")
    processes.append(emulator)
    timeout = 1.5
    with service(emulator.base_url) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        handles = [trainer.save_state(f"never-{i}", wait=False) for i in range(3)]
        # Long-polls are in flight when the server dies.
        waiters = Waiters(handles, timeout=timeout)
        time.sleep(0.3)
        emulator.stop(signal.SIGKILL)
        still_waiting = waiters.join(deadline=time.monotonic() + 15)
        assert still_waiting == []

        for i, handle in enumerate(handles):
            outcome = waiters.outcomes[i]
            assert isinstance(outcome, OperationTimeoutError), repr(outcome)
            assert outcome.operation_id == handle.id
            assert handle.id in str(outcome)
            assert isinstance(outcome.last_error, APIConnectionError)
            assert outcome.__cause__ is outcome.last_error
            # Bounded by the timeout plus one round of (short) transport retries.
            assert timeout <= waiters.seconds[i] < timeout + 3
        # New calls fail at once with a connection error, not a hang.
        started = time.monotonic()
        with pytest.raises(APIConnectionError):
            trainer.save_state("late")
        with pytest.raises(APIConnectionError):
            svc.operation(handles[0].id)
        assert time.monotonic() - started < 5


# -- the same decisions without a process: a fake server and a fake clock ----------------------


def test_polls_failing_until_the_deadline_end_as_a_timeout_naming_the_operation() -> None:
    fake = FakeWeaver()
    clock = FakeClock()
    unavailable = json_reply(503, error_json("unavailable", "try later", retryable=True))
    fake.script("GET", "/api/v1/operations/op-1", *[unavailable] * 10_000)
    poll = PollPolicy(PollSettings(timeout=30), clock=clock, rng=lambda: 0.5)
    no_retry = RetryPolicy(RetrySettings(max_retries=0))
    with unit_service(fake, poll=poll, retry=no_retry, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        with pytest.raises(OperationTimeoutError) as info:
            handle.result()
    error = info.value
    assert error.operation_id == "op-1"
    assert error.status == "pending"
    assert error.waited == pytest.approx(30)
    assert isinstance(error.last_error, InternalServerError)
    assert error.last_error.status_code == 503
    assert "service.operation('op-1', Checkpoint)" in str(error)  # a save's re-attach
    assert "try later" in str(error)


def test_a_poll_refused_for_good_is_raised_as_it_is() -> None:
    fake = FakeWeaver()
    clock = FakeClock()
    gone = json_reply(404, error_json("not_found", "operation op-1 not found"))
    fake.script("GET", "/api/v1/operations/op-1", gone)
    poll = PollPolicy(PollSettings(timeout=30), clock=clock)
    with unit_service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        with pytest.raises(NotFoundError):
            handle.result()
    assert clock.now - 1000.0 < 1
