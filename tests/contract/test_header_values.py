"""A documented response header is held to its schema, not only to being there.

`Retry-After` is "seconds to wait", an integer from 0 to 3600 in the spec (the sheet:
"`Retry-After` (seconds) on 429 and 503"); an HTTP-date, a fraction or a day passed.
"""

from __future__ import annotations

import json

import pytest

from weaver_facade.contract._spec import load_spec

ERROR = json.dumps({"error": "unavailable", "message": "busy", "retryable": True}).encode()


def problems(retry_after: str) -> list[tuple[str, str, str, str]]:
    spec = load_spec()
    headers = {
        "X-Request-ID": "req-1",
        "Content-Type": "application/json",
        "Retry-After": retry_after,
    }
    found = spec.check_reply(spec.by_id("get_model"), 503, headers, ERROR)
    return [(p.check, p.message, p.expected, p.got) for p in found]


@pytest.mark.parametrize(
    "value", ["Sun, 06 Dec 2026 06:00:00 GMT", "1.5", "-3", "86400", "soon", ""]
)
def test_a_retry_after_outside_its_schema_is_named(value: str) -> None:
    assert problems(value) == [
        (
            "response_headers_conformance",
            f"the 503 reply's `Retry-After` is {value!r}, where the spec has an integer "
            "from 0 to 3600 (Seconds to wait before retrying.)",
            "header Retry-After: an integer from 0 to 3600",
            repr(value),
        )
    ]


@pytest.mark.parametrize("value", ["0", "2", "3600", " 5 "])
def test_a_retry_after_in_seconds_conforms(value: str) -> None:
    assert problems(value) == []
