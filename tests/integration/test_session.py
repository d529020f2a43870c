"""Sessions against the emulator: configuration from the environment, heartbeats, logs."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.integration import (
    API_KEY,
    BASE_MODEL,
    FAST_RETRY,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import AsyncServiceClient, AsyncTrainingClient, ServiceClient
from weaver_facade.emulator import RunningEmulator

BEAT = 0.05


def _heartbeats(recorder: Recorder) -> int:
    return len(recorder.sent("POST", "/heartbeat"))


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "weaver-heartbeat"]


def test_configuration_from_the_environment(
    emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEAVER_BASE_URL", emu.base_url + "/")
    monkeypatch.setenv("WEAVER_API_KEY", API_KEY)
    with ServiceClient(heartbeat_interval=0) as service:
        assert service.base_url == emu.base_url
        trainer = service.create_training_client(BASE_MODEL)
        assert trainer.forward_backward(batch()).loss > 0


def test_heartbeats_run_while_open_and_stop_on_close(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    before = len(_heartbeat_threads())
    service = make_service(heartbeat_interval=BEAT)
    assert recorder.requests == [], "the session opens lazily"
    service.create_training_client(BASE_MODEL)
    session_id = service.session_id
    assert session_id is not None
    assert len(_heartbeat_threads()) == before + 1
    _wait_for(lambda: _heartbeats(recorder) >= 3)
    for beat in recorder.sent("POST", "/heartbeat"):
        assert beat.url.path == f"/api/v1/sessions/{session_id}/heartbeat"
        assert beat.headers["X-WEAVER-API-KEY"] == API_KEY

    service.close()
    # close() does not wait for a heartbeat in flight; the thread then ends at once.
    _wait_for(lambda: len(_heartbeat_threads()) == before)
    stopped = _heartbeats(recorder)
    time.sleep(BEAT * 4)
    assert _heartbeats(recorder) == stopped


async def test_async_heartbeats_stop_on_close(
    make_async_service: AsyncServiceFactory, recorder: Recorder
) -> None:
    service = make_async_service(heartbeat_interval=BEAT)
    await service.create_training_client(BASE_MODEL)
    deadline = time.monotonic() + 5
    while _heartbeats(recorder) < 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert any(t.get_name() == "weaver-heartbeat" for t in asyncio.all_tasks())
    await service.aclose()
    assert not any(t.get_name() == "weaver-heartbeat" for t in asyncio.all_tasks())
    stopped = _heartbeats(recorder)
    await asyncio.sleep(BEAT * 4)
    assert _heartbeats(recorder) == stopped


def test_debug_logs_never_show_the_key(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="weaver_facade")
    trainer = make_service().create_training_client(BASE_MODEL)
    trainer.forward_backward(batch())
    trainer.save_state("logged")
    records = [r for r in caplog.records if r.name == "weaver_facade"]
    assert any("/forward-backward-passes" in r.getMessage() for r in records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage()


# The wire gives a session no lifetime, but a server may end one (missed heartbeats):
# every create in it is then 404 until the client opens a new one. Creates that met the
# end at once each opened one of their own, where they share the first session.
def _end_session(emu: RunningEmulator, session_id: str | None) -> None:
    assert emu.app.state.emulator.store.execute("DELETE FROM sessions WHERE id=?", (session_id,))


def _sessions(emu: RunningEmulator) -> list[str]:
    """The sessions the server has, as it tells (not through the facade)."""
    return [row["id"] for row in emu.app.state.emulator.store.all("SELECT id FROM sessions")]


def _models_in(emu: RunningEmulator, session_id: str | None) -> set[str]:
    rows = emu.app.state.emulator.store.all(
        "SELECT id FROM models WHERE session_id=?", (session_id,)
    )
    return {row["id"] for row in rows}


async def test_async_creates_after_the_session_ended_share_one_new_session(
    emu: RunningEmulator, make_async_service: AsyncServiceFactory
) -> None:
    service = make_async_service(heartbeat_interval=0)
    await service.create_training_client(BASE_MODEL)
    ended = service.session_id
    _end_session(emu, ended)
    creates = (service.create_training_client(BASE_MODEL) for _ in range(10))
    trainers = await asyncio.wait_for(asyncio.gather(*creates), 30)
    assert _sessions(emu) == [service.session_id]
    assert service.session_id != ended
    assert _models_in(emu, service.session_id) == {trainer.model_id for trainer in trainers}


def test_threaded_creates_after_the_session_ended_share_one_new_session(
    emu: RunningEmulator, make_service: ServiceFactory
) -> None:
    service = make_service(heartbeat_interval=0)
    service.create_training_client(BASE_MODEL)
    ended = service.session_id
    _end_session(emu, ended)
    with ThreadPoolExecutor(10) as pool:
        creates = [pool.submit(service.create_training_client, BASE_MODEL) for _ in range(10)]
        trainers = [create.result(timeout=30) for create in creates]
    assert _sessions(emu) == [service.session_id]
    assert service.session_id != ended
    assert _models_in(emu, service.session_id) == {trainer.model_id for trainer in trainers}


_OPEN = "/api/v1/sessions"
_CREATE: contextvars.ContextVar[int] = contextvars.ContextVar("create", default=-1)


class _Renewals(httpx.AsyncHTTPTransport):
    """The emulator over HTTP, with the opens of sessions scripted: the next ``refuse``
    of them answered 500 (not retried) unsent, and, while ``hold``, each held until
    ``release`` (``reached`` once one is; ``opened_by``: the ``_CREATE`` of its caller).
    ``met_end`` is set once ``expect_gone`` creates have been answered 404."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = 0
        self.hold = False
        self.opened_by = -1
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.gone = 0
        self.expect_gone = 0
        self.met_end = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == _OPEN:
            if self.refuse:
                self.refuse -= 1
                body = {"error": "internal", "message": "down", "retryable": False}
                return httpx.Response(500, json=body)
            if self.hold:
                self.opened_by = _CREATE.get()
                self.reached.set()
                await self.release.wait()
        response = await super().handle_async_request(request)
        if response.status_code == 404 and request.url.path.endswith("/models"):
            await response.aread()
            self.gone += 1
            if self.gone == self.expect_gone:
                self.met_end.set()
        return response


@contextlib.asynccontextmanager
async def _renewing(emu: RunningEmulator, renewals: _Renewals) -> AsyncIterator[AsyncServiceClient]:
    async with (
        httpx.AsyncClient(transport=renewals) as http,
        AsyncServiceClient(
            emu.base_url, emu.api_key, http_client=http, retry=FAST_RETRY, heartbeat_interval=0
        ) as service,
    ):
        yield service


async def test_a_failed_renewal_leaves_the_next_create_to_renew_it(emu: RunningEmulator) -> None:
    # Of ten creates that met the end, the one whose open of the new session failed
    # fails; the next one, which waited for it, opens one, which the other eight share.
    renewals = _Renewals()
    async with _renewing(emu, renewals) as service:
        await service.create_training_client(BASE_MODEL)
        ended = service.session_id
        _end_session(emu, ended)
        renewals.refuse = 1
        creates = (service.create_training_client(BASE_MODEL) for _ in range(10))
        outcomes = await asyncio.wait_for(asyncio.gather(*creates, return_exceptions=True), 30)
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert [getattr(e, "status_code", e) for e in refused] == [500]
    assert _sessions(emu) == [service.session_id]
    assert service.session_id != ended
    made = {o.model_id for o in outcomes if isinstance(o, AsyncTrainingClient)}
    assert len(made) == 9
    assert _models_in(emu, service.session_id) == made


async def test_creates_waiting_for_a_renewal_whose_caller_was_cancelled_share_it(
    emu: RunningEmulator,
) -> None:
    # The create that opens the new session is cancelled while the open is on its way:
    # the open goes on, and the creates that waited for it take it.
    renewals = _Renewals()
    async with _renewing(emu, renewals) as service:
        await service.create_training_client(BASE_MODEL)
        ended = service.session_id
        _end_session(emu, ended)
        renewals.hold = True
        renewals.expect_gone = 10

        async def create(number: int) -> AsyncTrainingClient:
            _CREATE.set(number)  # and so to the task the create runs in, and its requests
            return await service.create_training_client(BASE_MODEL)

        tasks = [asyncio.create_task(create(number)) for number in range(10)]
        try:
            await asyncio.wait_for(renewals.reached.wait(), 10)  # one create's open, held
            await asyncio.wait_for(renewals.met_end.wait(), 10)  # every create met the end
            opening = tasks.pop(renewals.opened_by)
            opening.cancel()
            with pytest.raises(asyncio.CancelledError):
                await opening
        finally:
            renewals.release.set()
        trainers = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert _sessions(emu) == [service.session_id]
    assert service.session_id != ended
    # No model for the cancelled one: no create is sent after a cancel.
    assert _models_in(emu, service.session_id) == {trainer.model_id for trainer in trainers}
