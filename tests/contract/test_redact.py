"""The kit's reports hide the API key without mangling the words around a short one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from tests.contract.support import quick
from tests.support.scripted_http import Reply, ScriptedServer
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._conformance import _server_error
from weaver_facade.contract._extensions import ExtensionProbe, _Probe
from weaver_facade.contract._findings import KEY_PLACEHOLDER, redact, redact_curl
from weaver_facade.contract._report import render_text, to_json, write_reports
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


def test_a_secret_ending_in_a_percent_sign_is_hidden_whole_in_a_url() -> None:
    # Its % is %25 in a URL: the character as is, looked for first, ended the place before
    # the 25, which was shown (`cursor=$WEAVER_API_KEY25`), and so how the secret ends.
    secret = "pw-0123456789-100%"
    for text in (quote(secret, safe=""), quote_plus(secret)):
        assert redact(f"cursor={text}&x=1", secret) == f"cursor={KEY_PLACEHOLDER}&x=1", text


def test_a_secret_ending_in_a_latin_1_lead_byte_is_hidden_whole_when_escaped() -> None:
    # Ã (C3) is the first of its own UTF-8 bytes (C3 83) read as Latin-1: escaped, \u00c3
    # alone ended the place before the \u0083 of the echo, which was shown after it.
    for secret in ("pw-0123456789-\u00c3", "pw-0123456789-\u00c2"):
        read = secret.encode().decode("latin-1")
        for text in (json.dumps(read), repr(json.dumps(read))):
            hidden = redact(f"bad password {text}!", secret)
            assert f'{KEY_PLACEHOLDER}"' in hidden, hidden  # the quote closes right after it


def test_a_key_is_hidden_as_any_json_text_escapes_it() -> None:
    # JSON may write any character of a string as an escape, and servers do: Python's
    # json.dumps \u00e9 for é, PHP's json_encode that and \/ for /, Go's \u0026 for &,
    # .NET's \u002B for +; a repr of such a text doubles the backslash.
    key = "sk-a/b+c&d-\u00e9-0123456789"
    written = [
        json.dumps(key),
        json.dumps(key).replace("/", "\\/"),
        json.dumps(key, ensure_ascii=False).replace("&", "\\u0026"),
        json.dumps(key).replace("+", "\\u002B").replace("/", "\\u002f"),
        repr(json.dumps(key)),
    ]
    for text in written:
        assert "0123456789" in text, text  # the key is there
        hidden = redact(f"bad key {text}!", key)
        assert "0123456789" not in hidden, hidden
        assert KEY_PLACEHOLDER in hidden, hidden


def test_a_key_with_a_run_of_backslashes_is_hidden_whole_and_quickly() -> None:
    # Each backslash of the key was looked for as 1 to 4 of a text's, each apart: a run of
    # 12 was tried in every split of a text's run (23 s for the text below), and a run the
    # key ends with was hidden as its first split, leaving the rest of a JSON text's.
    key = "sk-" + "\\" * 12 + "-0123456789"
    started = time.monotonic()
    text = "who is sk-" + "\\" * 60 + "?"
    assert redact(text, key) == text
    assert time.monotonic() - started < 1
    for secret in (key, "sk-0123456789" + "\\" * 3):
        for written in (secret, json.dumps(secret), repr(json.dumps(secret)), repr(secret)):
            hidden = redact(f"bad key {written}!", secret)
            assert "0123456789" not in hidden, hidden
            assert "\\" not in hidden, hidden


def test_a_key_with_many_runs_of_backslashes_is_looked_for_quickly() -> None:
    # A JSON text or a repr of the key's \\/ holds a run of backslashes that its \\ and its
    # escaped / split in more than one way: each was tried for each of the key's runs, a
    # text that fell short at the end in every combination (2 s for 22 runs).
    key = "sk-" + "\\/" * 22 + "-\u00e9-0123456789"
    written = [  # each without its quotes
        key,
        json.dumps(key)[1:-1],
        json.dumps(key)[1:-1].replace("/", "\\/"),
        repr(key)[1:-1],
        repr(json.dumps(key))[2:-2],
        key.encode("ascii", "backslashreplace").decode(),  # the é alone escaped
    ]
    started = time.monotonic()
    for text in written:
        near = text.replace("0123456789", "012345678!")
        assert redact(f"who is {near}?", key) == f"who is {near}?"
        assert redact(f"bad key {text}!", key) == f"bad key {KEY_PLACEHOLDER}!", text
    assert time.monotonic() - started < 1


def test_a_key_with_backslashes_is_hidden_in_json_quoted_three_deep() -> None:
    # A gateway that quotes its upstream's JSON text in a string of its own, and one that
    # quotes that: the key's backslashes doubled at each depth, and the escape of the
    # character after them (\\" at the first) grown to three and seven backslashes.
    for key in ['sk-a\\"b-0123456789', "sk-a\\/b-0123456789", "sk-\\\\\u00e9-0123456789"]:
        text = key
        for depth in range(1, 4):
            text = json.dumps(text)[1:-1]
            assert redact(f"bad key {text}!", key) == f"bad key {KEY_PLACEHOLDER}!", (depth, text)


def test_a_secret_a_server_read_as_latin_1_is_hidden_too() -> None:
    # A base URL's password goes as UTF-8 in the Basic credentials; a server that decodes
    # them as Latin-1 (as RFC 7617 once had it) echoes each é as two characters, Ã©.
    # Some bytes read so are no printable characters (à's A0, Cyrillic er's 80): a repr, as a
    # pytest report or a finding quotes the echo, escapes them (Ã\xa0).
    secret = "cl\u00e9-secr\u00e8te-\u00e0-\u0440-0123456789"
    read = secret.encode().decode("latin-1")
    for text in (read, json.dumps(read), repr(read), repr(json.dumps(read, ensure_ascii=False))):
        assert "0123456789" in text, text  # the secret is there
        hidden = redact(f"bad password {text}!", secret)
        assert "0123456789" not in hidden, hidden
        assert KEY_PLACEHOLDER in hidden, hidden


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


def test_a_key_whose_places_overlap_where_json_breaks_is_hidden_whole() -> None:
    # A key whose start repeats at its end may overlap itself: the place across the break
    # was skipped, as overlapping the one before it, which ends at the break; both halves
    # showed, each hidden apart.
    key = "0],1234567890]"
    body = "[[" + key[:-2] + key  # the key twice, sharing its `0]`
    spec = Spec(load_spec().document, secret=key)
    op = spec.operations["GET /api/v1/supported-models"]
    text = _texts(spec.check_reply(op, 200, {"Content-Type": "application/json"}, body.encode()))
    assert "at character 16" in text, text  # where the first place of the key ends
    assert "123456789" not in text, text
    assert KEY_PLACEHOLDER in text, text


def test_a_key_escaped_across_a_cut_or_where_json_breaks_is_hidden_whole() -> None:
    # Escaped, the key is longer than itself: it is looked for as far back as its
    # escaped form reaches, not its own length.
    key = "3f2a9c8e/7d6b5a4f3e2d1c0b"
    escaped = key.replace("/", "\\/")
    spec = Spec(load_spec().document, secret=key)
    op = spec.operations["GET /api/v1/supported-models"]
    json_type = {"Content-Type": "application/json"}
    shown = [
        _texts(spec.check_reply(op, 200, json_type, f'{{"key": {escaped}}}'.encode())),
        _texts([spec.describe_refusal(op, None, 400, f"{'x' * 190}{escaped}".encode())]),
    ]
    for text in shown:
        assert "3f2a9c" not in text, text
        assert "7d6b5a" not in text, text
        assert KEY_PLACEHOLDER[:4] in text, text


def test_secrets_a_server_echoes_json_escaped_are_in_no_report(tmp_path: Path) -> None:
    # A server's JSON escaped them, as PHP's json_encode does (é as \u00e9, / as \/): the
    # key (a / of base64) and the base URL's password stayed in the findings quoting the
    # reply, and in the facade's error those quote.
    key = "sk-live/0123456789+abcdef"
    password = "cl\u00e9-secr\u00e8te-123"
    said = {"error": "bad_request", "message": 5, "detail": f"who is {key} ({password})?"}
    body = json.dumps(said).replace("/", "\\/").encode()
    assert key.encode() not in body
    assert b"secr\\u00e8te-123" in body
    listing = {"items": [{"name": "weaver-tiny", "status": "ready", "config": {"vocab_size": 256}}]}

    def answer(method: str, path: str) -> Reply:
        if path.startswith("/api/v1/supported-models"):
            return 200, listing, {}
        return 400, body, {}

    with ScriptedServer(answer) as server:
        url = server.base_url.replace("http://", f"http://u:{quote(password)}@")
        report = run_contract_test(quick(url, api_key=key, parts=("lifecycle",)))
    written = [p.read_text(encoding="utf-8") for p in write_reports(report, tmp_path)]
    shown = ["\n".join(render_text(report)), json.dumps(to_json(report)), *written]
    assert "who is" in shown[0], shown[0]  # the reply is quoted
    for text in shown:
        assert "0123456789" not in text, text
        assert "te-123" not in text, text
