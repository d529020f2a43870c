"""The availability finding says how often each request that still asked to try later
was sent again.

Once an operation has used its retries, conformance sends its later requests once only;
the finding said "after 3 retries each" of those too. The lifecycle's said "after up to 3
retries" of every request, whether it was retried 3 times, once or not at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from weaver_facade.contract._conformance import (
    ConformanceOutcome,
    PatientTransport,
    _collect,
    _unavailable,
    stopped_notes,
)
from weaver_facade.contract._findings import Finding
from weaver_facade.contract._lifecycle import Watcher, WatchingTransport, still_later
from weaver_facade.contract._patience import PatientHTTPTransport
from weaver_facade.contract._spec import load_spec

LABEL = "GET /api/v1/checkpoints/{checkpoint_id}/artifacts"


class _Busy:
    """schemathesis' transport, answering every request 503 with `Retry-After: 0`."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, case: Any, **kwargs: Any) -> Any:
        self.sent += 1
        body = {"error": "unavailable", "message": "busy", "retryable": True}
        return SimpleNamespace(
            status_code=503,
            headers={"Retry-After": ["0"], "Content-Type": ["application/json"]},
            content=json.dumps(body).encode(),
        )


def _case() -> Any:
    return SimpleNamespace(
        operation=SimpleNamespace(label=LABEL, method="GET"), headers={}, method="GET"
    )


def test_a_request_after_its_operation_used_its_retries_is_said_not_retried() -> None:
    inner = _Busy()
    patient = PatientTransport(inner, deadline=float("inf"))
    cases = [_case(), _case()]
    replies = [patient.send(case) for case in cases]
    assert inner.sent == 5  # the first request and its 3 retries, then the second once
    failure = SimpleNamespace(operation=LABEL, title="Server error", message="")
    check = SimpleNamespace(
        name="not_a_server_error",
        failure_info=SimpleNamespace(failure=failure, code_sample="curl ..."),
    )
    recorder = SimpleNamespace(
        interactions={f"c{i}": SimpleNamespace(response=r) for i, r in enumerate(replies)},
        cases={f"c{i}": SimpleNamespace(value=c) for i, c in enumerate(cases)},
        checks={f"c{i}": [check] for i in range(len(cases))},
    )
    outcome = ConformanceOutcome()
    _collect(
        load_spec(), recorder, outcome, None, ran_out=patient.ran_out, retries_of=patient.retries_of
    )
    assert outcome.findings == []
    finding = _unavailable(outcome.later)
    assert finding.message == (
        "2 replies still asked to try again later, 1 after 3 retries, 1 not retried (an "
        "operation that used its retries is not retried again): those requests were not "
        "checked"
    )


def test_replies_all_retried_alike() -> None:
    one = _unavailable([(LABEL, 503, "curl", 3)])
    assert one.message.startswith("1 reply still asked to try again later, after 3 retries: ")
    two = _unavailable([(LABEL, 503, "curl", 3), (LABEL, 429, "curl", 3)])
    assert two.message.startswith("2 replies still asked to try again later, after 3 retries each")


BUSY = {"error": "unavailable", "message": "busy", "retryable": True}
SAVE = "http://weaver.test/api/v1/models/m-1/checkpoints"


class _Unavailable(httpx.BaseTransport):
    """Answers 503 with `Retry-After: 0`, unread, as a network transport does."""

    def __init__(self) -> None:
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        content = json.dumps(BUSY).encode()
        return httpx.Response(503, headers={"Retry-After": "0"}, stream=httpx.ByteStream(content))


def _scenario(watcher: Watcher) -> Any:
    """What ``still_later`` uses of the lifecycle's ``Scenario``."""
    return SimpleNamespace(watcher=watcher, finding=lambda *a: Finding("lifecycle", *a[:5]))


def test_the_kits_own_request_says_how_often_it_was_sent_again() -> None:
    # The lifecycle's raw client retries beneath its watcher, which sees the last reply
    # only; once a request has used its retries, the client retries none again.
    watcher = Watcher(load_spec(), "", None)
    inner = _Unavailable()
    raw = httpx.Client(transport=WatchingTransport(watcher, PatientHTTPTransport(inner)))
    with raw:
        raw.post("http://weaver.test/api/v1/models/m-1/load")
        assert inner.sent == 4
        first = still_later(_scenario(watcher), watcher.exchanges[-1])
        raw.get("http://weaver.test/api/v1/models/m-1")
        assert inner.sent == 5
        second = still_later(_scenario(watcher), watcher.exchanges[-1])
    assert len(watcher.exchanges) == 2
    assert first is not None
    assert first.message == (
        "still 503 unavailable after 3 retries: the server asked to try again later, and "
        "the step could not be checked"
    )
    assert second is not None
    assert second.message == (
        "503 unavailable, not retried (an earlier request used its retries): the server "
        "asked to try again later, and the step could not be checked"
    )


def test_a_facade_call_says_how_often_the_watcher_saw_it_sent_again() -> None:
    # The facade retries above the watcher, which sees each attempt: the very same request.
    watcher = Watcher(load_spec(), "", None)
    save = httpx.Request("POST", SAVE, json={"path": "x"})
    for _ in range(2):
        watcher.see(httpx.Response(503, headers={"Retry-After": "0"}, json=BUSY, request=save))
    asked = watcher.exchanges[-1]
    # A later request of another call does not hide those of the save.
    poll = httpx.Request("GET", "http://weaver.test/api/v1/operations/op-1")
    watcher.see(httpx.Response(503, headers={"Retry-After": "0"}, json=BUSY, request=poll))
    once = still_later(_scenario(watcher), asked)
    assert once is not None
    assert once.message.startswith("still 503 unavailable after 1 retry: the server asked")
    never = still_later(_scenario(watcher), watcher.exchanges[-1])
    assert never is not None
    assert never.message.startswith("503 unavailable, not retried: the server asked")


class _Later:
    """schemathesis' transport, answering every request 503 with `Retry-After: 5`."""

    def send(self, case: Any, **kwargs: Any) -> Any:
        body = {"error": "unavailable", "message": "busy", "retryable": True}
        return SimpleNamespace(
            status_code=503,
            headers={"Retry-After": ["5"], "Content-Type": ["application/json"]},
            content=json.dumps(body).encode(),
        )


def test_a_stop_ends_a_wait_before_a_retry_at_once() -> None:
    # A Ctrl-C waits for the engine's requests, which end at once (``Ends.stop``); a retry
    # waited out the 5 s (up to 10 s) the server asked for first, and the run ended late.
    patient = PatientTransport(_Later(), deadline=float("inf"))
    replies: list[Any] = []
    worker = threading.Thread(target=lambda: replies.append(patient.send(_case())), daemon=True)
    worker.start()
    time.sleep(0.3)  # the first reply came, and its wait began
    stopped = time.monotonic()
    patient.ends.stop("the run was stopped")
    worker.join(timeout=20)
    took = time.monotonic() - stopped
    assert not worker.is_alive()
    assert took < 3.0, took  # well before the 5 s wait would have ended
    [reply] = replies
    assert reply.status_code == 503
    assert patient.ran_out(reply)  # not checked: the wait it asked for was not over


class _Dropped:
    """schemathesis' transport, whose every reply is lost on the way (the connection closed
    after the request was sent); the run stops as the first is about to be sent again."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop

    def send(self, case: Any, **kwargs: Any) -> Any:
        import requests

        raise requests.ConnectionError("Connection aborted: RemoteDisconnected")

    def serialize_case(self, case: Any, **kwargs: Any) -> dict[str, Any]:
        self._stop()  # read to tell whether the request is safe to send again
        return {"method": "GET", "headers": {}}


def test_a_resend_a_stop_prevented_is_said_not_sent() -> None:
    # The wait before sending again a request whose reply was lost ended at the stop: the
    # note said "a reply was still coming", of a request that was not on its way.
    stopped: list[PatientTransport] = []
    patient = PatientTransport(
        _Dropped(lambda: stopped[0].ends.stop("the run was stopped")), deadline=float("inf")
    )
    stopped.append(patient)
    with pytest.raises(OSError, match="Connection aborted") as lost:
        patient.send(_case())
    assert patient.cut_off(lost.value)
    assert stopped_notes(patient) == [
        f"{LABEL}: a reply was lost on the way and the part stopped before the request was "
        "sent again: not checked"
    ]
