"""The kit's reports hide the API key without mangling the words around a short one."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import httpx

from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._conformance import _server_error
from weaver_facade.contract._extensions import ExtensionProbe, _Probe
from weaver_facade.contract._findings import KEY_PLACEHOLDER, redact, redact_curl
from weaver_facade.contract._spec import Problem, Spec, load_spec


def test_a_long_key_is_hidden_wherever_it_appears() -> None:
    key = "sk-0123456789abcdef"
    assert redact(f"x{key}y and {key}", key) == f"x{KEY_PLACEHOLDER}y and {KEY_PLACEHOLDER}"


def test_a_short_key_is_hidden_only_where_it_stands_alone() -> None:
    # With the key `k`, `checkpoints` read `chec$WEAVER_API_KEYpoints` in every curl line.
    text = "curl .../models/m-1/checkpoints -H 'X-WEAVER-API-KEY: k' (bad key k)"
    assert redact(text, "k") == (
        f"curl .../models/m-1/checkpoints -H 'X-WEAVER-API-KEY: {KEY_PLACEHOLDER}' "
        f"(bad key {KEY_PLACEHOLDER})"
    )


def test_a_short_key_that_ends_a_sentence_is_hidden() -> None:
    assert redact("unknown API key k.", "k") == f"unknown API key {KEY_PLACEHOLDER}."
    assert redact("see k.json", "k") == "see k.json"


def test_an_ignored_auth_reproduction_sends_a_wrong_key() -> None:
    # It read the key from $WEAVER_API_KEY like every other line, so it sent the right
    # key and could not show that the server accepts a wrong one.
    sample = "curl -X POST -H 'X-WEAVER-API-KEY: [Filtered]' http://w.test/api/v1/sessions"
    wrong = redact_curl(sample, "sk-real-0123456789", wrong_key=True)
    assert '-H "X-WEAVER-API-KEY: $WEAVER_API_KEY-not-valid"' in wrong
    right = redact_curl(sample, "sk-real-0123456789")
    assert '-H "X-WEAVER-API-KEY: $WEAVER_API_KEY"' in right


def test_a_key_is_hidden_as_a_url_or_an_escaped_string_carries_it() -> None:
    # A key of characters a URL quotes, or a repr or JSON escapes, in the words a report
    # quotes: a request's URL, a reply's body.
    key = 'sk-a/b+c d\\e"f-0123456789'
    shown = [
        f"GET /api/v1/models?cursor={quote(key, safe='')}",
        f"GET /api/v1/models?cursor={quote_plus(key)}",
        repr(key.encode()),
        json.dumps({"message": f"bad key {key}"}),
    ]
    for text in shown:
        assert KEY_PLACEHOLDER in redact(text, key), text


_KEY = "sk-live-0123456789abcdef"


def _texts(problems: list[Problem]) -> str:
    return "\n".join(f"{p.message} | {p.expected} | {p.got}" for p in problems)


def test_a_key_across_a_cut_is_hidden_before_the_cut() -> None:
    # The kit cut what it shows of a reply (a page's title at 60 characters, a value at
    # 60, a refusal's words at 200) before its report hid the key: a key across the cut
    # was no longer whole, and its first characters stayed.
    spec = Spec(load_spec().document, secret=_KEY)
    op = spec.operations["GET /api/v1/supported-models"]
    page = f"<html><head><title>{'x' * 50}{_KEY}</title></head></html>".encode()
    value = f"{'x' * 50}{_KEY}"
    not_json = f'"{_KEY}" tail'.encode()
    shown = [
        _texts(spec.check_reply(op, 503, {"Content-Type": "text/html"}, page)),
        _texts(spec.check_reply(op, 200, {"Content-Type": "text/html"}, page)),
        _texts(spec.check_reply(op, 200, {"Content-Type": "application/json"}, not_json)),
        _texts(spec.check_schema("Checkpoint", {"created_at": value, "name": value})),
        _texts([spec.describe_refusal(op, None, 400, f"{'x' * 190}{_KEY}".encode())]),
        _texts(
            [
                _server_error(
                    500, {}, json.dumps({"error": "e", "message": value * 4}).encode(), _KEY
                )
            ]
        ),
    ]
    for text in shown:
        assert _KEY[:6] not in text, text
        assert KEY_PLACEHOLDER[:4] in text, text  # hidden, then cut


def test_a_key_across_the_probe_s_cut_is_hidden_before_it() -> None:
    # The extension probe's evidence quotes 40 characters of a field of the server's own.
    result = ExtensionProbe(known=("operation-details",))
    op = {"id": "op-1", "status": "done", "model_id": "m-1", "kind": f"{'x' * 30}{_KEY}"}
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as http:
        probe = _Probe(spec_document(), http, result, deadline=1.0, secret=_KEY)
        probe.fields("operation-details", "Operation", op)
    evidence = result.evidence["operation-details"]
    assert _KEY[:6] not in evidence, evidence
    assert KEY_PLACEHOLDER[:4] in evidence, evidence


def test_a_key_across_where_json_breaks_is_hidden_whole() -> None:
    # A key that begins as JSON does (a hex key's first digit) breaks the reply there: its
    # halves were hidden apart, neither the whole key, and the 20 characters after showed.
    key = "3f2a9c8e7d6b5a4f3e2d1c0b"
    spec = Spec(load_spec().document, secret=key)
    op = spec.operations["GET /api/v1/supported-models"]
    json_type = {"Content-Type": "application/json"}
    for body in (f"{key} is no key", f'{{"key": {key}}}', f"[1, 2]{key}"):
        text = _texts(spec.check_reply(op, 200, json_type, body.encode()))
        assert key[1:7] not in text, text
        assert KEY_PLACEHOLDER in text, text
