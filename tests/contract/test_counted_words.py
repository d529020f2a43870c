"""Counts in the kit's notes and findings read right for one and for many.

A run whose server asked once to try later read "the server asked 1 times to try a
request again later", and one reply that kept asking "1 replies still asked to try again
later ...".
"""

from __future__ import annotations

from types import SimpleNamespace

from weaver_facade.contract._conformance import _limit_ignored, _retry_notes, _unavailable
from weaver_facade.contract._findings import Finding, fold_server_wide

LISTING = "GET /api/v1/supported-models"


def test_the_retry_notes_for_one() -> None:
    assert _retry_notes(1, 1, 1) == [
        "the server asked once to try a request again later (429 or 503); the kit waited "
        "as asked and sent it again",
        "1 reply was lost on the way (the connection closed); the kit sent that request "
        "again, as the facade does, being safe to repeat",
        "1 reply asked to try again after the time limit: that request was not checked",
    ]


def test_the_retry_notes_for_many() -> None:
    assert _retry_notes(3, 2, 4) == [
        "the server asked 3 times to try a request again later (429 or 503); the kit "
        "waited as asked and sent it again",
        "2 replies were lost on the way (the connection closed); the kit sent those "
        "requests again, as the facade does, being safe to repeat",
        "4 replies asked to try again after the time limit: those requests were not checked",
    ]
    assert _retry_notes(0, 0, 0) == []


def test_the_availability_finding_counts_its_replies() -> None:
    one = _unavailable([(LISTING, 503, "curl one", 3)])
    assert one.message.startswith("1 reply still asked to try again later"), one.message
    assert "that request was not checked" in one.message, one.message
    two = _unavailable([(LISTING, 503, "curl one", 3), (LISTING, 429, "curl two", 3)])
    assert two.message.startswith("2 replies still asked to try again later"), two.message
    assert "those requests were not checked" in two.message, two.message


def _header_finding(operation: str) -> Finding:
    return Finding(
        part="conformance",
        operation=operation,
        check="response_headers_conformance",
        message="200 reply lacks the required header `X-Request-ID`",
        expected="header X-Request-ID",
        got="no X-Request-ID",
    )


def test_a_server_wide_finding_counts_one_more_reply() -> None:
    [folded] = fold_server_wide([_header_finding("GET /a"), _header_finding("GET /b")])
    assert folded.message.endswith("; 1 more reply lacks it too (GET /b)"), folded.message
    [folded] = fold_server_wide([_header_finding(f"GET /{c}") for c in "abc"])
    assert folded.message.endswith("; 2 more replies lack it too (GET /b, GET /c)")
    method = [
        Finding("conformance", op, "unsupported_method", "TRACE: 500", "405", "500")
        for op in ("GET /a", "GET /b")
    ]
    [folded] = fold_server_wide(method)
    assert folded.message.endswith("; 1 more reply too (GET /b)"), folded.message


def test_a_page_beyond_a_limit_of_one() -> None:
    case = SimpleNamespace(
        query={"limit": 1},
        operation=SimpleNamespace(label=LISTING),
        as_curl_command=lambda: "curl ...",
    )
    response = SimpleNamespace(status_code=200, json=lambda: {"items": [{}, {}]})
    finding = _limit_ignored(case, response, None)
    assert finding is not None
    assert finding.expected == "at most 1 item"
    assert finding.message == "2 items for limit=1: the server ignores `limit`"
    response = SimpleNamespace(status_code=200, json=lambda: {"items": [{}]})
    finding = _limit_ignored(
        SimpleNamespace(**{**vars(case), "query": {"limit": 0}}), response, None
    )
    assert finding is not None
    assert finding.message == "1 item for limit=0: the server ignores `limit`"
    assert finding.got == "1 item"
