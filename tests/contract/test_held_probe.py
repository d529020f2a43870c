"""The extension probe keeps to `--deadline` for each request.

It kept its own timeouts (33 s per attempt), and sent a request the server accepted and
never answered again, several times: a run against one held there for minutes while the
lifecycle's requests each end within the deadline.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.contract.support import KEY
from tests.support.scripted_http import HANG, ScriptedServer
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
    assert probe.note == (
        "the extension probe stopped early: no reply to POST /api/v1/sessions within 6 s, "
        "retries included (its time for one request: ContractSettings.deadline and a "
        "second, at least 6 s)"
    ), probe.note
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
    assert "no reply to POST /api/v1/sessions within 6 s" in probe.note, probe.note
    # The request's 6 s (its polls' 5 s and a second), and no backoff after it.
    assert took < 6.0 + 1.5, took
