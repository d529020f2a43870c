"""A reply that is not JSON is named with where its JSON breaks, and the bytes there.

A stray byte after a long body was shown as the body's first 60 characters alone, which
look like good JSON.
"""

from __future__ import annotations

import json

from tests.support.fakeserver import checkpoint_json
from weaver_facade.contract._spec import load_spec

HEADERS = {"X-Request-ID": "req-1", "Content-Type": "application/json"}


def problem_of(body: bytes) -> tuple[str, str, str]:
    spec = load_spec()
    [problem] = spec.check_reply(spec.by_id("list_checkpoints"), 200, HEADERS, body)
    return problem.check, problem.message, problem.got


def test_a_trailing_byte_after_a_long_body_is_shown_where_it_is() -> None:
    body = json.dumps({"items": [checkpoint_json("m-1", f"c{i}") for i in range(3)]}).encode()
    check, message, _ = problem_of(body + b"x")
    assert check == "response_schema_conformance"
    assert f"extra data after the JSON value at character {len(body)}" in message
    assert f"{body[len(body) - 20 :].decode()!r} then 'x';" in message


def test_a_body_cut_short_is_shown_where_it_ends() -> None:
    body = json.dumps({"items": [checkpoint_json("m-1", "c1")]}).encode()[:-2]
    _, message, _ = problem_of(body)
    assert f"at character {len(body)}" in message


def test_an_html_page_is_one_problem_with_its_type() -> None:
    spec = load_spec()
    headers = {**HEADERS, "Content-Type": "text/html"}
    body = b"<html>Bad Gateway</html>"
    [problem] = spec.check_reply(spec.by_id("list_checkpoints"), 200, headers, body)
    assert problem.message == (
        "the 200 reply is not JSON (expecting value at character 0: '' then "
        "'<html>Bad Gateway</h'; content-type 'text/html')"
    )


def test_an_empty_body_is_named_so() -> None:
    # It read "the 200 reply is not JSON (expecting value at character 0: '' then the
    # end; ...)": a server's author had to work out that nothing came.
    for body in (b"", b" \r\n"):
        check, message, got = problem_of(body)
        assert check == "response_schema_conformance"
        assert message == (
            "the 200 reply has an empty body, where the spec documents a JSON one "
            "(content-type 'application/json')"
        ), message
        assert got == "an empty body"
