"""The kit gives a time of a million seconds or more as written, not in exponent form.

Python's ``:g`` writes 1000000 as ``1e+06``: under `--deadline 1000000` (the options take up
to a year) a stuck load's finding read "`done` within 1e+06 s", and the probe's note "a
request's time is at most 1e+06 s".
"""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.contract.support import KEY
from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade import APIError
from weaver_facade.contract import _extensions, _patience
from weaver_facade.contract._extensions import probe_extensions
from weaver_facade.contract._findings import plain_seconds, waited_words
from weaver_facade.contract._lifecycle import Settings, _not_answered
from weaver_facade.contract._ownership import _TimeUp, time_up_worded
from weaver_facade.contract._spec import load_spec


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.5, "0.5"),
        (60.0, "60"),
        (1.5e-5, "0.000015"),
        (999999.0, "999999"),
        (1e6, "1000000"),
        (1234567.5, "1234567.5"),
        (31536000.0, "31536000"),
    ],
)
def test_seconds_are_shown_as_written(seconds: float, shown: str) -> None:
    assert plain_seconds(seconds) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.012, "0.012"), (0.4, "0.4"), (9.94, "9.9"), (12.3, "12"), (61.2, "61")],
)
def test_a_time_waited_is_shown_to_what_it_tells(seconds: float, shown: str) -> None:
    # In tenths, a request given up after 12 ms (a short timeout's) read "after 0.0 s", as
    # whole seconds had read "0 s"; the facade's own words give such a wait in milliseconds.
    assert waited_words(seconds) == shown


def test_a_stuck_operation_names_a_long_deadline_as_written() -> None:
    settings = Settings("http://weaver.test", KEY, "weaver-tiny", 256, 1e6, "run00001")
    assert settings.within() == "`done` within 1000000 s (ContractSettings.deadline)"


def test_a_retry_after_beyond_the_call_names_a_long_deadline_as_written() -> None:
    busy = APIError("busy", status_code=503, code="unavailable", retryable=True, retry_after=0)
    assert "and the call's deadline (2000000 s) came first" in _not_answered(busy, 0, 2e6)
    later = APIError("busy", status_code=503, code="unavailable", retryable=True, retry_after=1e6)
    assert "the server asked to try again in 1000000 s, longer" in _not_answered(later, 0, 2e6)


def test_the_clean_up_s_time_is_named_as_written(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("weaver_facade")
    cut = _TimeUp("the clean-up's time is up")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), time_up_worded(1e6):
        logger.warning("could not terminate model %s on close: %s", "m-1", cut)
    [record] = caplog.records
    assert record.getMessage() == (
        "could not terminate model m-1 on close: the clean-up's time (1000000 s) ran out "
        "before its terminate was sent"
    )


def test_the_probe_names_a_long_request_time_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _patience.api_client
    monkeypatch.setattr(  # a read timeout of 0.3 s: the save below is given up at once
        _extensions, "api_client", lambda **kw: real(**{**kw, "timeout": httpx.Timeout(0.3)})
    )

    def answer(method: str, path: str) -> Reply | str:
        if (method, path) == ("POST", "/api/v1/sessions"):
            return HANG
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}

    with ScriptedServer(answer) as server:
        probe = probe_extensions(
            load_spec().document,
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            deadline=1e6,
        )
    assert probe.note is not None
    assert "(a request's time is at most 1000001 s: ContractSettings.deadline" in probe.note
