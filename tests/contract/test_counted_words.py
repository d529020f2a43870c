"""Counts in the kit's notes and findings read right for one and for many.

A run whose server asked once to try later read "the server asked 1 times to try a
request again later", and one reply that kept asking "1 replies still asked to try again
later ...", and a storage reply of one byte "with 1 bytes".
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from weaver_facade.contract._artifact_steps import STEP_STORAGE, _Fetched, _url
from weaver_facade.contract._conformance import _limit_ignored, _retry_notes, _unavailable
from weaver_facade.contract._findings import Finding, fold_server_wide
from weaver_facade.contract._lifecycle import StepFailed, StepResult

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
        as_curl_command=lambda headers: "curl ...",
    )
    sent = SimpleNamespace(headers={})  # the request the reply answered
    response = SimpleNamespace(status_code=200, json=lambda: {"items": [{}, {}]}, request=sent)
    finding = _limit_ignored(case, response, None)
    assert finding is not None
    assert finding.expected == "at most 1 item"
    assert finding.message == "2 items for limit=1: the server ignores `limit`"
    response = SimpleNamespace(status_code=200, json=lambda: {"items": [{}]}, request=sent)
    finding = _limit_ignored(
        SimpleNamespace(**{**vars(case), "query": {"limit": 0}}), response, None
    )
    assert finding is not None
    assert finding.message == "1 item for limit=0: the server ignores `limit`"
    assert finding.got == "1 item"


def _storage_steps(serve: Callable[[httpx.Request], httpx.Response]) -> Any:
    """The kit's artifact steps, with ``serve`` as the storage and findings as the
    lifecycle records them."""
    from weaver_facade.contract._artifact_steps import ArtifactSteps

    def expect(result: StepResult, ok: bool, finding: Finding) -> None:
        if not ok:
            result.findings.append(finding)
            raise StepFailed

    steps = ArtifactSteps.__new__(ArtifactSteps)
    steps.storage = httpx.Client(transport=httpx.MockTransport(serve))
    steps.sc = cast(
        Any,
        SimpleNamespace(
            finding=lambda *a: Finding("lifecycle", *a[:5]),
            expect=expect,
            s=SimpleNamespace(deadline=3.0),
        ),
    )
    return steps


def test_a_range_reply_of_one_byte() -> None:
    # "`Range: bytes=1-` got 206 with 1 bytes, not 206 with the last 1".
    def storage(request: httpx.Request) -> httpx.Response:
        assert request.headers["Range"] == "bytes=1-"
        return httpx.Response(206, content=b"x")

    steps = _storage_steps(storage)
    url = _url({"name": "a.bin", "url": "http://storage.test/a.bin"})
    step = StepResult(STEP_STORAGE, "running")
    with pytest.raises(StepFailed):
        steps._ranges(step, [_Fetched("a.bin", url, 2, b"ab")])
    (finding,) = step.findings
    assert finding.message == (
        "`a.bin`: `Range: bytes=1-` got 206 with 1 byte, not 206 with the last 1 byte"
    )
    assert finding.got == "206, 1 byte"


def test_a_range_reply_of_many_bytes() -> None:
    def storage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"abcd")  # the Range ignored

    steps = _storage_steps(storage)
    url = _url({"name": "a.bin", "url": "http://storage.test/a.bin"})
    step = StepResult(STEP_STORAGE, "running")
    with pytest.raises(StepFailed):
        steps._ranges(step, [_Fetched("a.bin", url, 4, b"abcd")])
    (finding,) = step.findings
    assert finding.message == (
        "`a.bin`: `Range: bytes=2-` got 200 with 4 bytes, not 206 with the last 2 bytes"
    )
    assert finding.got == "200, 4 bytes"


def _serve(body: bytes, request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=httpx.ByteStream(body))  # unread, as the wire's


WRONG = "0" * 64


def _wrong_file_finding(body: bytes, size: object) -> Finding:
    """The finding of a download of ``body`` whose descriptor gives ``size`` and a sha256
    that is not its (the kit reads a download raw)."""
    steps = _storage_steps(functools.partial(_serve, body))
    step = StepResult(STEP_STORAGE, "running")
    item = {"name": "a.bin", "url": "http://storage.test/a.bin", "size": size, "sha256": WRONG}
    with pytest.raises(StepFailed):
        steps._fetch(step, item)
    (finding,) = step.findings
    return finding


@pytest.mark.parametrize(
    ("body", "size", "served", "described"),
    [
        (b"a", 1, "1 byte", "1 byte"),
        (b"ab", 2, "2 bytes", "2 bytes"),
        # A size `true` read "the descriptor says True byte": a bool is an int in Python.
        (b"a", True, "1 byte", "size true"),
        (b"a", None, "1 byte", "size null"),
        (b"a", "12", "1 byte", 'size "12"'),
    ],
)
def test_a_download_of_the_wrong_file_counts_its_bytes(
    body: bytes, size: object, served: str, described: str
) -> None:
    # "the storage served 1 bytes with sha256 ...; the descriptor says 1 bytes, ...".
    finding = _wrong_file_finding(body, size)
    digest = hashlib.sha256(body).hexdigest()
    assert finding.message == (
        f"`a.bin`: the storage served {served} with sha256 {digest}; "
        f"the descriptor says {described}, sha256 {WRONG}"
    )
    assert finding.expected == f"{described}, sha256 {WRONG}"
    assert finding.got == f"{served}, sha256 {digest}"


def test_a_descriptor_size_true_is_not_a_size_of_one_byte() -> None:
    # `true == 1` in Python: a one-byte file matched a descriptor whose size is `true`, and
    # a two-byte one did not. Neither is checked against it, as a size "12" is not.
    for body in (b"a", b"ab"):
        steps = _storage_steps(functools.partial(_serve, body))
        step = StepResult(STEP_STORAGE, "running")
        sha = hashlib.sha256(body).hexdigest()
        item = {"name": "a.bin", "url": "http://storage.test/a.bin", "size": True, "sha256": sha}
        assert steps._fetch(step, item).size == len(body)
        assert step.findings == []
