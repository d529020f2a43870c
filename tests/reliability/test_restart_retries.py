"""The README's retry bounds against a server that goes away and comes back, over real sockets.

The README: the default retries are "enough for a dropped connection, not for a server that
restarts, whose refused connections then end a training step with `APIConnectionError`", and
"a script that trains for hours and should ride out a restart raises the bounds:
`ServiceClient(retry=RetryPolicy(RetrySettings(max_retries=20, max_retry_wait=300)))`";
against a real emulator restarted on its data dir, the script goes on from its latest
checkpoint as "Lost state" says (without one, the emulator forgets the model too), and
the raised bounds carry a download's transfers over storage's restart too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.emulator import spawn_emulator
from weaver_facade import (
    AdamParams,
    APIConnectionError,
    DownloadResult,
    ForwardBackwardResult,
    ModelStateLostError,
    NotFoundError,
    OperationFailedError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    StorageError,
    TrainingClient,
    datum_from_tokens,
)
from weaver_facade.emulator import run_emulator

KEY = "reliability-restart-key-7d3a90"
README_BOUNDS = RetrySettings(max_retries=20, max_retry_wait=300)  # "raises the bounds"
SLACK = 2.0  # two workers share two cores


class Gate:
    """A loopback port that relays each connection to a server while open, and refuses
    connections while closed, as the port of a server that restarts does."""

    def __init__(self, target: tuple[str, int] | None) -> None:
        self.target = target  # may be set once the gate's URL made the server
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.open()
        self.url = f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and drop those relayed."""
        assert self._listener is not None
        # Shut down first: a close alone leaves the port listening while accept() blocks on it.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            assert self.target is not None
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def gate() -> Iterator[Gate]:
    with run_emulator(api_keys=(KEY,)) as emu:
        host, port = emu.base_url.removeprefix("http://").split(":")
        gate = Gate((host, int(port)))
        yield gate
        gate.close()


@dataclasses.dataclass
class Ended:
    """What a training step gave or raised, and when it ended."""

    outcome: object = None
    at: float = math.inf


def step_in_a_thread(trainer: TrainingClient) -> tuple[threading.Thread, Ended]:
    """A training step started in a thread, and how it ended."""
    ended = Ended()

    def step() -> None:
        try:
            ended.outcome = trainer.forward_backward([datum_from_tokens([1, 2, 3, 4])])
        except Exception as exc:
            ended.outcome = exc
        ended.at = time.monotonic()

    thread = threading.Thread(target=step, daemon=True)
    thread.start()
    return thread, ended


def test_the_readme_bounds_ride_out_a_restart_that_the_default_ones_do_not(gate: Gate) -> None:
    patient = RetryPolicy(README_BOUNDS)
    defaults = RetrySettings()
    caps = [min(defaults.max_backoff, defaults.initial_backoff * 2**a) for a in range(4)]
    with (
        ServiceClient(gate.url, KEY, heartbeat_interval=0) as default_client,
        ServiceClient(gate.url, KEY, heartbeat_interval=0, retry=patient) as patient_client,
    ):
        default_trainer = default_client.create_training_client("weaver-tiny")
        patient_trainer = patient_client.create_training_client("weaver-tiny")
        gate.close()  # the server goes away: its port refuses connections
        down = time.monotonic()
        default_thread, default_ended = step_in_a_thread(default_trainer)
        patient_thread, patient_ended = step_in_a_thread(patient_trainer)
        default_thread.join(timeout=sum(caps) + SLACK + 10)
        assert not default_thread.is_alive()
        # The default retries gave up while the server was still away.
        assert isinstance(default_ended.outcome, APIConnectionError)
        assert "connection refused" in str(default_ended.outcome).lower()
        assert default_ended.at - down < sum(caps) + SLACK  # README: 7.5 s in all
        assert patient_thread.is_alive()  # still retrying
        gate.open()  # the server is back, on the same port
        up = time.monotonic()
        patient_thread.join(timeout=patient.settings.max_backoff + SLACK + 10)
        assert not patient_thread.is_alive()
        assert isinstance(patient_ended.outcome, ForwardBackwardResult), patient_ended
        # Within a retry's longest sleep of the server's return.
        assert patient_ended.at - up < patient.settings.max_backoff + SLACK


BATCH = [datum_from_tokens(list(b"the cat sat on the mat")), datum_from_tokens(list(b"a cat"))]
ADAM = AdamParams(learning_rate=0.05)
STEPS, EVERY = 6, 2


def train(service: ServiceClient, lost: list[Exception], step_done: threading.Event) -> list[float]:
    """The README's long script: train, save every EVERY steps, and, when the server lost
    the model's training state, go on from the latest checkpoint as "Lost state" says."""
    trainer = service.create_training_client("weaver-tiny", lora_rank=8, seed=0)
    losses: dict[int, float] = {}
    step = 1
    while step <= STEPS:
        try:
            losses[step] = trainer.forward_backward(BATCH).loss
            trainer.optim_step(ADAM)
            if step % EVERY == 0:
                trainer.save_state(f"step-{step}")
        except (OperationFailedError, ModelStateLostError) as exc:
            lost.append(exc)
            checkpoint = trainer.latest_checkpoint()
            assert checkpoint is not None
            trainer = service.create_training_client_from_state(checkpoint)
            step = int(checkpoint.name.removeprefix("step-")) + 1
            continue
        if step == EVERY + 1:
            step_done.set()  # a checkpoint to go on from, and a step since
        step += 1
    return [losses[s] for s in range(1, STEPS + 1)]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_readme_script_rides_out_a_real_restart_to_the_same_losses(
    tmp_path: Path, sig: signal.Signals
) -> None:
    with (
        run_emulator(api_keys=(KEY,)) as never_restarted,
        ServiceClient(never_restarted.base_url, KEY, heartbeat_interval=0) as service,
    ):
        expected = train(service, [], threading.Event())

    data_dir = tmp_path / "data"
    args = ("--data-dir", str(data_dir), "--api-key", KEY, "--no-access-log")
    # Slow steps: the kill lands while one is under way.
    processes = [spawn_emulator(*args, "--latency", "forward_backward=0.3")]
    port = processes[0].base_url.rsplit(":", 1)[1]
    lost: list[Exception] = []
    ended: list[object] = []  # the losses, or what the script raised
    step_done = threading.Event()

    def script(service: ServiceClient) -> None:
        try:
            ended.append(train(service, lost, step_done))
        except Exception as exc:
            ended.append(exc)
            step_done.set()

    try:
        with ServiceClient(
            processes[0].base_url, KEY, heartbeat_interval=0, retry=RetryPolicy(README_BOUNDS)
        ) as service:
            thread = threading.Thread(target=script, args=(service,), daemon=True)
            thread.start()
            assert step_done.wait(60)
            processes[0].stop(sig)
            time.sleep(2)  # its port refuses connections meanwhile
            processes.append(spawn_emulator(*args, "--port", port))
            thread.join(timeout=90)
            assert not thread.is_alive()
    finally:
        for process in processes:
            process.stop(signal.SIGKILL)
    # Carried over the refused connections by the raised bounds, the step under way ended
    # for the training state the emulator lost, and the script went on from step-2.
    assert isinstance(ended[0], list), repr(ended[0])
    assert len(lost) == 1, lost
    failed = lost[0]
    assert isinstance(failed, ModelStateLostError) or (
        isinstance(failed, OperationFailedError) and failed.code == "interrupted"
    ), repr(failed)
    assert [loss.hex() for loss in ended[0]] == [loss.hex() for loss in expected]


def test_an_emulator_restarted_without_a_data_dir_forgets_the_model_too() -> None:
    # The README: restarted without a data dir, the emulator forgets the model, its
    # operations and checkpoints too, so nothing ends interrupted nor with
    # ModelStateLostError, and no checkpoint is left to go on from.
    with run_emulator(api_keys=(KEY,), latency={"forward_backward": 60}) as first:
        service = ServiceClient(
            first.base_url, KEY, heartbeat_interval=0, retry=RetryPolicy(README_BOUNDS)
        )
        trainer = service.create_training_client("weaver-tiny")
        saved = trainer.save_state("kept")
        step = trainer.forward_backward(BATCH, wait=False)
    port = int(first.base_url.rsplit(":", 1)[1])
    with run_emulator(api_keys=(KEY,), port=port) as second, service:
        assert second.base_url == first.base_url
        with pytest.raises(NotFoundError, match=f"operation {step.id} not found"):
            step.result(timeout=30)
        with pytest.raises(NotFoundError, match=f"model {trainer.model_id} not found"):
            trainer.forward_backward(BATCH)
        with pytest.raises(NotFoundError):
            service.create_training_client_from_state(saved)


BLIP = 20.0  # seconds of storage refusing connections: a storage host's restart
HALF = 0.5  # the jitter's draw: every storage wait is half its cap


@pytest.mark.slow
def test_the_readme_bounds_carry_a_download_over_a_storage_restart_the_default_ones_do_not(
    tmp_path: Path,
) -> None:
    # The emulator's storage (the host its URLs name) behind a gate, which refuses
    # connections for BLIP seconds. The default bounds leave a file its own 9 attempts in a
    # row, 15.9 s of waits with each half its cap (0.25 s doubling to 8 s); the README's
    # give it 21, more than a minute's: the download ends once storage is back.
    gate = Gate(None)
    with run_emulator(api_keys=(KEY,), storage_url=gate.url) as emu:
        host, port = emu.base_url.removeprefix("http://").split(":")
        gate.target = (host, int(port))
        with ServiceClient(emu.base_url, KEY, heartbeat_interval=0) as service:
            trainer = service.create_training_client("weaver-tiny")
            artifact = trainer.export_weights(trainer.save_state("s"))
        retries = {
            "default": RetryPolicy(RetrySettings(), rng=lambda: HALF),
            "readme": RetryPolicy(README_BOUNDS, rng=lambda: HALF),
        }
        ended = {name: Ended() for name in retries}

        def download(name: str) -> None:
            with ServiceClient(emu.base_url, KEY, heartbeat_interval=0, retry=retries[name]) as svc:
                try:
                    ended[name].outcome = svc.download_weights(
                        artifact, tmp_path / name, timeout=BLIP + 60
                    )
                except Exception as exc:
                    ended[name].outcome = exc
                ended[name].at = time.monotonic()

        gate.close()
        down = time.monotonic()
        threads = [threading.Thread(target=download, args=(n,), daemon=True) for n in retries]
        for thread in threads:
            thread.start()
        time.sleep(BLIP)
        gate.open()
        up = time.monotonic()
        for thread in threads:
            thread.join(timeout=60)
        gate.close()
    assert not any(thread.is_alive() for thread in threads)
    result = ended["readme"].outcome
    assert isinstance(result, DownloadResult), repr(result)
    # Within a storage wait of its return (half of 8 s), and each file the manifest's.
    assert ended["readme"].at - up < HALF * 8.0 + SLACK
    assert {f.name for f in result.files} == {f.name for f in artifact.files}
    for f in artifact.files:
        data = result.path(f.name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (f.size, f.sha256)
    given_up = ended["default"].outcome
    assert isinstance(given_up, StorageError), repr(given_up)
    assert "giving up after 9 failed attempts" in str(given_up)
    assert "Connection refused" in str(given_up)
    waits = sum(HALF * min(8.0, 0.25 * 2**a) for a in range(8))  # 15.9 s
    assert waits - SLACK < ended["default"].at - down < waits + SLACK < BLIP
