"""A reply lost on the way is a transport fault, retried as the facade retries it.

Against a server that acted on the first create, save, load and export and then closed
the connection, the kit's own export had "no reply: RemoteProtocolError" as a
``server_answers`` finding (the download and storage steps skipped), and the extension
probe "stopped early" at its model's create: the kit's own requests did not retry a
dropped connection, which the facade (and the official SDK) do.
"""

from __future__ import annotations

import httpx
import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade._causes import TUNNELLED
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._artifact_steps import STEP_EXPORT
from weaver_facade.contract._findings import IDEMPOTENCY_HEADER
from weaver_facade.contract._patience import RESENT, lost_replies


@pytest.mark.parametrize("extensions", ["all", "none"])
def test_a_lost_reply_is_no_finding(extensions: str) -> None:
    # "none": without Idempotency-Key, a retried save or export meets its own first
    # attempt's work (409), which the kit finds; "all": the server recognises the retry.
    with serve_emulator(Drift.DROP_FIRST, extensions=extensions) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    # The probe's and the lifecycle's: two sessions, checkpoints exported.
    kinds = [kind for kind, _ in served.middleware.dropped]
    assert {k: kinds.count(k) >= 2 for k in ("create", "save", "load", "export")} == {
        "create": True,
        "save": True,
        "load": True,
        "export": True,
    }
    assert report.findings == [], report.findings
    assert [n for n in report.notes if "stopped early" in n] == []
    assert report.lifecycle is not None
    assert [s.name for s in report.lifecycle.steps if s.status != "passed"] == []


@pytest.mark.parametrize(
    ("fault", "resent"),
    [(httpx.ConnectError("refused"), False), (httpx.RemoteProtocolError("cut"), True)],
    ids=["not-sent", "reply-lost"],
)
def test_a_request_is_marked_resent_only_after_an_attempt_that_may_have_acted(
    fault: Exception, resent: bool
) -> None:
    # A connection refused reached nothing: the 409 after it is no earlier attempt's work,
    # which the kit would take apart (a save's "idempotency-key missing", the export's
    # listing) as its own, as the facade's EarlierAttempt does not.
    faults = [fault]

    def reply(request: httpx.Request) -> httpx.Response:
        if faults:
            raise faults.pop()
        return httpx.Response(409, json={"error": "conflict"})

    with httpx.Client(transport=lost_replies(httpx.MockTransport(reply))) as http:
        got = http.post("http://server/api/v1/x", headers={IDEMPOTENCY_HEADER: "k"})
    assert got.status_code == 409
    assert bool(got.request.extensions.get(RESENT)) is resent


def test_a_request_reset_at_the_proxy_s_connect_is_not_marked_resent() -> None:
    # The proxy reset the connection before its tunnel opened (``TUNNELLED`` False, as the
    # facade's trace marks it): nothing reached the server, as for a refused connection.
    attempts: list[int] = []

    def reply(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            request.extensions[TUNNELLED] = False
            raise httpx.ReadError("reset at the CONNECT", request=request)
        return httpx.Response(409, json={"error": "conflict"})

    with httpx.Client(transport=lost_replies(httpx.MockTransport(reply))) as http:
        got = http.post("http://server/api/v1/x", headers={IDEMPOTENCY_HEADER: "k"})
    assert (got.status_code, len(attempts)) == (409, 2)
    assert not got.request.extensions.get(RESENT)


def test_a_repeated_export_refused_with_409_is_a_finding_though_its_artifact_completes() -> None:
    # The spec answers an export sent again 202 with the running export's Operation, or
    # 200 with its Artifact, with an Idempotency-Key or without: a 409 `export_in_progress`
    # to the kit's export, sent again after its reply was lost, had no finding once the
    # artifact of its first attempt completed (only when none did).
    with serve_emulator(Drift.LOST_EXPORT_REPEAT_409) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert [k for k, _ in served.middleware.dropped].count("export") >= 2  # probe, lifecycle
    found = [(f.operation, f.check, f.got) for f in report.findings]
    export = "POST /api/v1/checkpoints/{checkpoint_id}/export"
    assert found == [(export, "repeated_export", "409 export_in_progress")]
    assert "then completed" in report.findings[0].message
    assert report.lifecycle is not None
    failed = [s.name for s in report.lifecycle.steps if s.status != "passed"]
    assert failed == [STEP_EXPORT]  # the download and storage steps still ran
