"""The extension probe keeps to `--deadline` for each request.

It kept its own timeouts (33 s per attempt), and sent a request the server accepted and
never answered again, several times: a run against one held there for minutes while the
lifecycle's requests each end within the deadline.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import httpx
import pytest

from tests.contract.support import KEY
from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade.contract import _extensions, _patience
from weaver_facade.contract._extensions import ExtensionProbe, probe_extensions
from weaver_facade.contract._spec import load_spec


def test_a_probe_request_without_a_reply_ends_near_the_deadline() -> None:
    probes: list[ExtensionProbe] = []
    with ScriptedServer(lambda method, path: HANG) as server:
        started = time.monotonic()
        run = threading.Thread(
            target=lambda: probes.append(
                probe_extensions(
                    load_spec().document,
                    base_url=server.base_url,
                    api_key=KEY,
                    base_model="weaver-tiny",
                    deadline=1.0,
                )
            ),
            daemon=True,
        )
        run.start()
        run.join(timeout=40)
        took = time.monotonic() - started
        assert not run.is_alive(), f"the probe still waits after {took:.0f} s"
        sent = list(server.requests)
    [probe] = probes
    assert probe.note is not None
    # Not the last attempt's words: the retries that the deadline cut at once said
    # "ConnectTimeout: the attempt's time is up" of a server that took every connection.
    waited = re.fullmatch(
        r"the extension probe stopped early: no reply to POST /api/v1/sessions; it gave up "
        r"after (\d+\.\d) s, retries included \(a request's time is at most 6 s: "
        r"ContractSettings\.deadline and a second, at least 6 s\)",
        probe.note,
    )
    assert waited is not None, probe.note
    assert 6 <= float(waited[1]) <= took, probe.note  # held to the end of the request's time
    assert sent, "the probe sent nothing"
    assert set(sent) == {("POST", "/api/v1/sessions")}, sent
    # Room for the probe's longest poll (5 s) and a second, then retries that the deadline
    # cuts at once, after their backoff.
    assert took < 5.0 + 1.0 + 8.0, took


def test_no_retry_is_made_once_a_probe_request_s_time_is_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each retry after the request's time ran out failed at once, logged as "connect
    # timed out; retrying in N s" of a server that took every connection, and slept its
    # backoff (3 s in all) past that time.
    with (
        ScriptedServer(lambda method, path: HANG) as server,
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
    ):
        started = time.monotonic()
        probe = probe_extensions(
            load_spec().document,
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            deadline=1.0,
        )
        took = time.monotonic() - started
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries == [], retries
    assert probe.note is not None
    assert "no reply to POST /api/v1/sessions; it gave up after " in probe.note, probe.note
    # The request's 6 s (its polls' 5 s and a second), and no backoff after it.
    assert took < 6.0 + 1.5, took


def _probe_with_a_held_save(
    monkeypatch: pytest.MonkeyPatch, read_timeout: float, deadline: float
) -> tuple[ExtensionProbe, list[str], float]:
    """The probe against a server that holds the save sent without a key, the third (the
    keyed save and its repeat are answered), its read timeout ``read_timeout``; the probe,
    the saves the server saw and the seconds the probe took."""
    real = _patience.api_client
    monkeypatch.setattr(  # in place of the probe's 33 s
        _extensions,
        "api_client",
        lambda **kw: real(**{**kw, "timeout": httpx.Timeout(read_timeout)}),
    )
    saves: list[str] = []
    done = {"id": "op-1", "status": "done", "response": {"id": "c-1", "path": "weaver://m-1/a"}}

    def answer(method: str, path: str) -> Reply | str:
        if (method, path) == ("POST", "/api/v1/sessions"):
            return 201, {"id": "s-1"}, {}
        if (method, path) == ("POST", "/api/v1/sessions/s-1/models"):
            return 201, {"id": "m-1"}, {}
        if (method, path) == ("POST", "/api/v1/models/m-1/checkpoints"):
            saves.append(path)
            return HANG if len(saves) == 3 else (202, {"id": "op-1", "status": "pending"}, {})
        if path.startswith("/api/v1/operations/op-1"):
            return 200, done, {}
        if path.startswith("/api/v1/models/m-1/checkpoints"):
            return 200, {"items": []}, {}
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}

    with ScriptedServer(answer) as server:
        started = time.monotonic()
        probe = probe_extensions(
            load_spec().document,
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            deadline=deadline,
        )
        return probe, saves, time.monotonic() - started


def test_a_save_not_sent_again_says_how_long_the_probe_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A save without a key is not sent again after its read timeout (33 s), yet the note
    # said "no reply ... within 61 s": the request's bound, not the time it took.
    probe, saves, _ = _probe_with_a_held_save(monkeypatch, read_timeout=1.0, deadline=20.0)
    assert len(saves) == 3, saves
    assert probe.note is not None
    # Given up after its read timeout alone (1 s), well within the request's 21 s.
    words = r"no reply to POST /api/v1/models/m-1/checkpoints; it gave up after (\S+) s, "
    waited = re.search(words, probe.note)
    assert waited is not None, probe.note
    assert 1 <= float(waited[1]) <= 5, probe.note
    assert probe.note.endswith(
        "(a request's time is at most 21 s: ContractSettings.deadline and a second, at least 6 s)"
    ), probe.note


def test_a_wait_under_10_s_is_said_in_tenths(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rounded to whole seconds, a save given up after its 0.4 s read timeout read "it gave
    # up after 0 s", where the lifecycle's steps give such a wait in tenths.
    probe, _, took = _probe_with_a_held_save(monkeypatch, read_timeout=0.4, deadline=1.0)
    assert probe.note is not None
    waited = re.search(r"; it gave up after (\S+) s, retries included", probe.note)
    assert waited is not None, probe.note
    assert re.fullmatch(r"\d\.\d", waited[1]), probe.note
    assert 0.4 <= float(waited[1]) <= took, probe.note
