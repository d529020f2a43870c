"""A server that takes the kit's first request and does not answer it.

The first request (the base-model listing) had a read timeout of its own, 15 s, whatever
`--deadline` said, and its error said `cannot reach` the server, which had taken the
connection: a server slower than 15 s there was called unreachable under `--deadline 300`,
and one that never answers cost 15 s under `--deadline 1`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.scripted_http import HANG, TRICKLE, Reply, ScriptedServer, unavailable
from weaver_facade.contract import ServerUnreachable
from weaver_facade.contract._findings import PYTHON_NAMES
from weaver_facade.contract._kit import _listing_unavailable, _probe

ROOT = Path(__file__).resolve().parents[2]


def test_a_first_request_without_a_reply_keeps_to_the_deadline_and_says_so() -> None:
    with ScriptedServer(lambda method, path: HANG) as server:
        command = [sys.executable, "-m", "weaver_facade.contract", "--quick"]
        command += ["--base-url", server.base_url, "--deadline", "2"]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
        took = time.monotonic() - started
        sent = [(method, path.partition("?")[0]) for method, path in server.requests]
    assert done.returncode == 2, done.stdout + done.stderr
    assert sent == [("GET", "/api/v1/supported-models")], sent
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: no reply from {server.base_url} within 2 s"), error
    assert "GET /api/v1/supported-models" in error, error
    assert "--deadline" in error, error
    assert "cannot reach" not in error, error
    # The deadline and the interpreter's start (a few seconds on a busy machine), not 15 s.
    assert took < 12.0, took


def _not_found_but(hung: tuple[str, str]) -> Callable[[str, str], Reply | str]:
    """A server that answers 404 to every request but ``hung`` (method, path), which it holds."""

    def answer(method: str, path: str) -> Reply | str:
        return HANG if (method, path.partition("?")[0]) == hung else (404, {}, {})

    return answer


@pytest.mark.parametrize(
    ("path", "hung", "said"),
    [
        # The POST unanswered: nothing known, the run goes on with the listing's 404.
        ("", ("POST", "/api/v1/sessions"), "GET /api/v1/supported-models answered 404"),
        # The POST's 404 too, and the listing at the root unanswered: no API, no hint.
        ("/wrong", ("GET", "/api/v1/supported-models"), "no Weaver API at "),
    ],
    ids=["post-unanswered", "root-unanswered"],
)
def test_the_check_for_a_wrong_base_url_keeps_to_the_deadline_too(
    path: str, hung: tuple[str, str], said: str
) -> None:
    # After a 404 to the listing, the check whether the base URL is a Weaver API at all (a
    # POST, then the listing at the server's root) waited 15 s for each reply whatever
    # --deadline said: a run under --deadline 1 took 15 s or 30 s more.
    with ScriptedServer(_not_found_but(hung)) as server:
        started = time.monotonic()
        try:
            outcome = str(_probe(server.base_url + path, None, deadline=1.0).why)
        except ServerUnreachable as exc:
            outcome = str(exc)
        took = time.monotonic() - started
        asked = [(method, sent.partition("?")[0]) for method, sent in server.requests]
    assert hung in asked, asked  # the request held was sent, and waited for
    assert outcome.startswith(said), outcome
    assert took < 6.0, took  # the deadline and a margin for a busy machine, not 15 s


def test_a_first_reply_sent_a_byte_at_a_time_keeps_to_the_deadline() -> None:
    # The deadline was the wait for each of the reply's bytes: one that came a byte every
    # 0.3 s held the run as long as it went on (19 s here) under --deadline 1.
    def answer(method: str, path: str) -> Reply | str:
        return TRICKLE if path.startswith("/api/v1/supported-models") else (404, {}, {})

    with ScriptedServer(answer) as server:
        started = time.monotonic()
        with pytest.raises(ServerUnreachable) as raised:
            _probe(server.base_url, None, deadline=1.0)
        took = time.monotonic() - started
    assert str(raised.value).startswith(
        f"no whole reply from {server.base_url} within 1 s to GET /api/v1/supported-models "
        "(the reply was still coming; the time ContractSettings.deadline gives one request)"
    ), raised.value
    assert took < 4.0, took  # a margin for a busy machine; it took 18 s and more


def test_a_first_request_s_retries_keep_to_the_deadline() -> None:
    # A listing answered 503 with `Retry-After: 10` was sent 4 times, 30 s in all, under
    # --deadline 1.
    with ScriptedServer(lambda method, path: unavailable("10")) as server:
        started = time.monotonic()
        listing = _probe(server.base_url, None, deadline=1.0)
        took = time.monotonic() - started
        sent = list(server.requests)
    assert listing.later is not None
    assert len(sent) == 1, sent
    assert took < 4.0, took  # a margin for a busy machine; it took 18 s and more
    finding = _listing_unavailable(listing.later, "lifecycle", None, 1.0, PYTHON_NAMES)
    assert finding.message == (
        "503, not retried: the server asked to try again in 10 s, and the time "
        "ContractSettings.deadline gives one request (1 s) came first, so the base models "
        "it trains could not be read"
    ), finding.message


def test_the_check_for_a_wrong_base_url_keeps_to_the_deadline_however_slow_its_reply() -> None:
    # Its requests waited --deadline for each byte of their replies.
    def answer(method: str, path: str) -> Reply | str:
        return TRICKLE if method == "POST" else (404, {}, {})

    with ScriptedServer(answer) as server:
        started = time.monotonic()
        listing = _probe(server.base_url, None, deadline=1.0)
        took = time.monotonic() - started
    assert listing.why == "GET /api/v1/supported-models answered 404"
    assert took < 4.0, took  # a margin for a busy machine; it took 18 s and more
