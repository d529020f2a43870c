"""A server that asks to try again later is retried, and at worst one availability finding.

A 429 or 503 with ``Retry-After`` or ``retryable: true`` is the server saying "later", not a
contract break. Against the emulator with 5 % injected 503s, a quick run reported 28
findings under schemathesis' titles for any 5xx ("Server error", "Wrong response to
undeclared method", "Unexpected response to invalid authentication"), one per operation.
"""

from __future__ import annotations

import functools
import json
import re

import httpx
import pytest

from weaver_facade.contract import run_contract_test
from weaver_facade.contract._lifecycle import Watcher, WatchingTransport
from weaver_facade.contract._patience import PatientHTTPTransport, retry_after
from weaver_facade.contract._spec import load_spec
from weaver_facade.emulator import FaultConfig, FaultRule, run_emulator

from .drift import Drift
from .support import KEY, serve_emulator
from .support import quick as quick_run

# Retried steps take longer: the lifecycle gets more time per operation.
quick = functools.partial(quick_run, deadline=5.0)


def faults(*rules: FaultRule) -> FaultConfig:
    return FaultConfig(rules=rules, seed=7)


@pytest.mark.slow  # runs the kit against a server of its own
def test_transient_503s_are_retried_not_findings() -> None:
    # Ten seconds of the run send hundreds of requests, so dozens of 503s.
    flaky = FaultRule("unavailable", 0.05, retry_after=0)
    with run_emulator(api_keys=(KEY,), faults=faults(flaky)) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("conformance",), time_limit=10.0))
    # Four 503s in a row for one request are unlikely, but not impossible: then one
    # availability finding, never a contract finding.
    assert [f.check for f in report.findings if f.check != "availability"] == [], [
        f.line() for f in report.findings
    ]
    assert len(report.findings) <= 1
    assert any(n.startswith("the server asked ") for n in report.notes), report.notes


@pytest.mark.slow  # runs the kit against a server of its own
def test_a_route_that_stays_unavailable_is_one_availability_finding() -> None:
    down = FaultRule("unavailable", 1.0, route="/api/v1/operations/{operation_id}", retry_after=0)
    # The extension probe polls it first, in the run's first seconds.
    with run_emulator(api_keys=(KEY,), faults=faults(down)) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("conformance",), time_limit=10.0))
    lines = [f.line() for f in report.findings]
    assert [f.check for f in report.findings] == ["availability"], lines
    (finding,) = report.findings
    assert finding.operation == "GET /api/v1/operations/{operation_id}", lines
    # Its first request retried 3 times, any later one not again.
    assert re.search(r"still asked to try again later, (1 )?after 3 retries", finding.message)
    assert finding.curl is not None
    assert "$WEAVER_API_KEY" in finding.curl
    assert KEY not in finding.curl


def test_a_wait_beyond_the_time_limit_leaves_the_request_unchecked() -> None:
    # The kit marked such a reply on schemathesis' Response, whose __slots__ refuse a new
    # attribute: every request that got one became a `run_error` finding ("Runtime Error:
    # 'Response' object has no attribute 'weaver_contract_out_of_time'").
    # On a route the extension probe does not send, and one of the first the examples reach
    # (the TTL change, twenty operations in, was not reached within 5 s on a busy machine).
    # The kit waits 10 s at most: every request of a 9 s part asks for a wait past its end.
    down = FaultRule(
        "unavailable", 1.0, method="GET", route="/api/v1/sessions/{session_id}", retry_after=10
    )
    with run_emulator(api_keys=(KEY,), faults=faults(down)) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("conformance",), time_limit=9.0))
    assert report.findings == [], [f.line() for f in report.findings]
    assert any("asked to try again after the time limit" in n for n in report.notes), report.notes


@pytest.mark.parametrize(
    ("retry_after", "said"),
    [
        (0, "still 503 unavailable after 3 retries:"),
        (
            120,
            "503 unavailable, not retried: the server asked to try again in 120 s, longer "
            "than the facade waits for one call",
        ),
    ],
    ids=["retried", "too-long-to-wait"],
)
def test_the_lifecycle_names_the_request_that_stayed_unavailable(
    retry_after: int, said: str
) -> None:
    # The load step's optimizer step got the 503s; it was reported under the load's POST.
    # One asking for two minutes, more than the facade waits for one call, is not retried:
    # the finding read "still 503 unavailable after up to 3 retries" all the same.
    down = FaultRule(
        "unavailable", 1.0, route="/api/v1/models/{model_id}/optimizer-steps",
        retry_after=retry_after,
    )  # fmt: skip
    with run_emulator(api_keys=(KEY,), faults=faults(down)) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("lifecycle",)))
    lines = [f.line() for f in report.findings]
    assert [f.check for f in report.findings] == ["availability"], lines
    (finding,) = report.findings
    assert finding.operation == "POST /api/v1/models/{model_id}/optimizer-steps", lines
    assert finding.message.startswith(said), lines


def test_a_listing_of_base_models_that_stays_unavailable_is_an_availability_finding() -> None:
    # The kit's first request, for the base model to train: its 503s after the retries were
    # a note ("answered 503; training uses ..."), and the run passed.
    down = FaultRule("unavailable", 1.0, route="/api/v1/supported-models", retry_after=0)
    with run_emulator(api_keys=(KEY,), faults=faults(down)) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("lifecycle",)))
    lines = [f.line() for f in report.findings]
    assert [(f.part, f.operation, f.check) for f in report.findings] == [
        ("lifecycle", "GET /api/v1/supported-models", "availability")
    ], lines
    (finding,) = report.findings
    assert finding.message.startswith("still 503 after 3 retries: the server asked"), lines
    assert finding.curl is not None
    assert "/api/v1/supported-models" in finding.curl
    assert KEY not in finding.curl
    assert not report.passed


def test_a_right_refusal_after_a_retry_is_right() -> None:
    # The duplicate save's first attempt got 503, its retry the right 409; the facade took
    # that 409 for its own first attempt's checkpoint, and the step read "saving `NAME`
    # again: expected 409 checkpoint_exists, got 409 checkpoint_exists".
    with serve_emulator(Drift.BUSY_SAVES) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.keys, "the saves were answered 503 first"
    assert report.findings == [], [f.line() for f in report.findings]


@pytest.mark.slow  # runs the kit against a server of its own
def test_a_busy_server_holds_up_no_probe_and_no_storage_check() -> None:
    # Every request's first attempt answered 503, try later. The extension probe stopped
    # early ("GET /api/v1/operations/... answered 503"), leaving extensions undetermined,
    # and the storage checks' raw requests were findings ("got 503, not 416").
    with serve_emulator() as served:
        clean = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    with serve_emulator(Drift.BUSY) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.keys, "the requests were answered 503 first"
    assert report.findings == [], [f.line() for f in report.findings]
    assert report.extensions is not None
    assert clean.extensions is not None
    assert report.extensions.note is None, report.extensions.note
    assert report.extensions.offered == clean.extensions.offered


def test_what_asks_to_try_later() -> None:
    error = b'{"error": "unavailable", "message": "busy", "retryable": true}'
    assert retry_after(503, {"retry-after": ["2"]}, b"") == 2.0
    assert retry_after(429, {"Retry-After": "0"}, b"") == 0.0
    assert retry_after(503, {}, error) == 1.0
    assert retry_after(503, {"retry-after": ["3600"]}, error) == 10.0  # at most MAX_RETRY_WAIT
    # A refusal that says it is final, a 503 that says nothing, other statuses: no retry.
    assert retry_after(503, {"retry-after": ["1"]}, error.replace(b"true", b"false")) is None
    assert retry_after(503, {}, b"") is None
    assert retry_after(500, {"retry-after": ["1"]}, error) is None


def test_a_503_the_kit_gives_up_on_reaches_the_watcher_unread() -> None:
    # The lifecycle's raw client reads each reply raw in its WatchingTransport: a 503 that
    # PatientHTTPTransport had read (final, or its retries used up) crashed the whole run
    # with httpx.StreamConsumed, in the cleanup's terminate, and lost the report.
    final = {"error": "unavailable", "message": "busy", "retryable": False}
    later = {"error": "unavailable", "message": "busy", "retryable": True}
    for body, headers in ((final, {}), (later, {"Retry-After": "0"})):
        watcher = Watcher(load_spec(), "", None)
        inner = _Unavailable(body, headers)
        client = httpx.Client(transport=WatchingTransport(watcher, PatientHTTPTransport(inner)))
        with client:
            reply = client.post("http://weaver.test/api/v1/models/m-1/terminate")
        assert reply.status_code == 503
        assert reply.json() == body


class _Unavailable(httpx.BaseTransport):
    """Answers 503, unread, as a network transport does (MockTransport reads its replies)."""

    def __init__(self, body: dict[str, object], headers: dict[str, str]) -> None:
        self.body, self.headers = body, headers

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = json.dumps(self.body).encode()
        return httpx.Response(503, headers=self.headers, stream=httpx.ByteStream(content))


@pytest.mark.slow  # runs the kit against a server of its own
def test_a_refusal_step_or_download_that_stays_unavailable_is_availability() -> None:
    # Against a server answering 60 % of requests 503 with Retry-After, the replies that
    # still asked after the retries were findings of their own: "a malformed path gets 400:
    # expected 400, got 503 unavailable" (error_case), "no key gets 401: ... got 503", and
    # the download descriptor "a spec-valid request was refused with 503"
    # (positive_data_acceptance); the README makes them one availability finding.
    for route in ("/api/v1/models/{model_id}/load", "/api/v1/artifacts/{artifact_id}/download"):
        down = FaultRule("unavailable", 1.0, route=route, retry_after=0)
        with run_emulator(api_keys=(KEY,), faults=faults(down)) as emu:
            report = run_contract_test(quick(emu.base_url, parts=("lifecycle",)))
        lines = [f.line() for f in report.findings]
        assert [f.check for f in report.findings] == ["availability"], lines
        # The kit's own requests retry beneath the watcher: the count is the transport's.
        assert report.findings[0].message.startswith("still 503 unavailable after 3 retries:")
