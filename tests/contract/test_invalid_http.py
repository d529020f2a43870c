"""Generated requests that are not valid HTTP are not held to the spec.

Schemathesis once sent an empty ``transfer-encoding`` header next to the body's
``Content-Length``: uvicorn refused it in plain text before the emulator saw it, and
the run reported that 400 as not JSON and without ``X-Request-ID``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from weaver_facade.contract._conformance import _valid_http


@pytest.mark.parametrize(
    ("headers", "valid"),
    [
        ({}, True),
        ({"X-Custom": "v", "*1j": "X", "UZA&|h$t^!O|oHaS|QW": "w"}, True),
        ({"transfer-encoding": ""}, False),
        ({"Content-Length": "3"}, False),
        ({"Host": "elsewhere"}, False),
        ({"bad name": "v"}, False),
        ({"semi;colon": "v"}, False),
    ],
)
def test_headers_that_make_invalid_http(headers: dict[str, str], valid: bool) -> None:
    assert _valid_http(SimpleNamespace(headers=headers)) is valid
