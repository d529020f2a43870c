"""Sessions against the emulator: configuration from the environment, heartbeats, logs."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest

from tests.support.integration import (
    API_KEY,
    BASE_MODEL,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import ServiceClient
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
