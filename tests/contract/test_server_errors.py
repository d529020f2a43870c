"""A 5xx reply is named with what the server said, not schemathesis' bare title.

schemathesis' `not_a_server_error` carries no message: the finding read
`Server error:  [not_a_server_error; expected not_a_server_error to pass; got 500]`.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from weaver_facade.contract._conformance import _findings_for_failure
from weaver_facade.contract._spec import load_spec

LISTING = "GET /api/v1/checkpoints/{checkpoint_id}/artifacts"


def server_error(
    status: int, body: bytes, content_type: str = "application/json"
) -> SimpleNamespace:
    failure = SimpleNamespace(operation=LISTING, title="Server error", message="")
    response = SimpleNamespace(
        status_code=status,
        headers={"content-type": [content_type], "x-request-id": ["req-1"]},
        content=body,
    )
    [finding] = _findings_for_failure(
        load_spec(), "not_a_server_error", failure, None, response, "curl ...", None
    )
    return SimpleNamespace(message=finding.message, expected=finding.expected, got=finding.got)


def test_a_500_with_an_error_body_says_its_code_and_message() -> None:
    body = json.dumps({"error": "internal", "message": "boom", "retryable": False}).encode()
    found = server_error(500, body)
    assert found.message == "the server failed with 500 (`internal`: boom)"
    assert found.expected == "a reply below 500 (503 only to ask to try later)"
    assert found.got == "500"


def test_a_500_without_an_error_body_says_what_came() -> None:
    found = server_error(502, b"<html>Bad Gateway</html>", "text/html")
    assert found.message == "the server failed with 502 (a text/html body)"
    assert found.got == "502"
