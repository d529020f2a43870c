"""A JSON reply under another Content-Type is named with the type the spec documents."""

from __future__ import annotations

import json

import pytest

from weaver_facade.contract._spec import load_spec

SESSION = {"id": "s-1", "created_at": "2026-11-29T10:00:00Z"}


def check(content_type: str | None, status: int = 200) -> list[tuple[str, str, str, str]]:
    spec = load_spec()
    headers = {"X-Request-ID": "req-1"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps(SESSION).encode()
    problems = spec.check_reply(spec.by_id("get_session"), status, headers, body)
    return [(p.check, p.message, p.expected, p.got) for p in problems]


def test_a_json_body_sent_as_text_is_named_with_the_documented_type() -> None:
    assert check("text/plain; charset=utf-8") == [
        (
            "content_type_conformance",
            "the 200 reply's Content-Type is `text/plain; charset=utf-8`, where the spec "
            "documents `application/json`",
            "Content-Type application/json",
            "text/plain; charset=utf-8",
        )
    ]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_in_any_spelling_conforms(content_type: str) -> None:
    assert check(content_type) == []


def test_a_reply_without_a_content_type_is_left_to_its_body() -> None:
    # No header at all: the body is checked as JSON, as a client that sniffs reads it.
    assert check(None) == []
