"""A reply that is not JSON is named with where its JSON breaks, and the bytes there.

A stray byte after a long body was shown as the body's first 60 characters alone, which
look like good JSON.
"""

from __future__ import annotations

import json

import pytest

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
    # It read "the 200 reply is not JSON (expecting value at character 0: '' then
    # '<html>Bad Gateway</h'; ...)": JSON's words for a page a proxy or a framework sent.
    spec = load_spec()
    headers = {**HEADERS, "Content-Type": "text/html"}
    body = b"<html>Bad Gateway</html>"
    [problem] = spec.check_reply(spec.by_id("list_checkpoints"), 200, headers, body)
    assert problem.message == ("the 200 reply is an HTML page, not JSON (content-type 'text/html')")
    assert problem.got == "an HTML page (content-type text/html)"


def test_an_html_page_is_named_by_its_title() -> None:
    spec = load_spec()
    headers = {**HEADERS, "Content-Type": "text/html; charset=utf-8"}
    body = (
        b"<!DOCTYPE html>\n<html>\n<head><title>502 Bad\n Gateway</title></head>\n<body>\n"
        b"<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body></html>"
    )
    [problem] = spec.check_reply(spec.by_id("get_operation"), 404, headers, body)
    assert problem.message == (
        "the 404 reply is an HTML page titled '502 Bad Gateway', not JSON "
        "(content-type 'text/html; charset=utf-8')"
    )


def test_an_html_page_sent_as_json_is_named_so() -> None:
    spec = load_spec()
    body = b"  <!doctype html><html lang=en><title>404 Not Found</title><h1>Not Found</h1>"
    [problem] = spec.check_reply(spec.by_id("list_checkpoints"), 200, HEADERS, body)
    assert problem.message == (
        "the 200 reply is an HTML page titled '404 Not Found', not JSON "
        "(content-type 'application/json')"
    )


@pytest.mark.parametrize("body", [b'{"error": "not_found"', b"Bad Gateway"])
def test_a_body_under_an_html_type_that_is_no_page_is_not_named_a_page(body: bytes) -> None:
    # Its content type alone made it "an HTML page, not JSON": a JSON body cut short lost
    # where it broke, and plain text was called a page it is not. Named as under any
    # other type.
    spec = load_spec()
    op = spec.by_id("list_checkpoints")
    [as_html] = spec.check_reply(op, 200, {**HEADERS, "Content-Type": "text/html"}, body)
    [as_text] = spec.check_reply(op, 200, {**HEADERS, "Content-Type": "text/plain"}, body)
    assert as_html.message.startswith("the 200 reply is not JSON ("), as_html.message
    assert as_html.message == as_text.message.replace("text/plain", "text/html")


def test_text_that_is_no_json_from_its_start_is_shown_from_there() -> None:
    spec = load_spec()
    headers = {**HEADERS, "Content-Type": "text/plain"}
    [problem] = spec.check_reply(spec.by_id("list_checkpoints"), 200, headers, b"Bad Gateway")
    assert problem.message == (
        "the 200 reply is not JSON (it begins 'Bad Gateway'; content-type 'text/plain')"
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
