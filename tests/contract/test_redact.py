"""The kit's reports hide the API key without mangling the words around a short one."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from weaver_facade.contract._findings import KEY_PLACEHOLDER, redact, redact_curl


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
