"""The sans-IO decisions: ``PollPolicy`` (waiting for operations) and ``RetryPolicy`` (HTTP)."""

from __future__ import annotations

import copy
import functools
import inspect
import math
import pickle
import re
import ssl
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fakeserver import FakeClock, FakeWeaver, wait_out
from tests.support.fakeserver import service as fake_service
from weaver_facade import (
    APIConnectionError,
    APIError,
    InvalidArgumentError,
    NotFoundError,
    PollPolicy,
    PollSettings,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    RetrySettings,
)
from weaver_facade._causes import PLAIN_HTTP_HINT, plain_http
from weaver_facade._durations import Bracket
from weaver_facade._errors import InternalServerError
from weaver_facade._operations import GiveUp, Poll, Poller, Sleep
from weaver_facade._retry import EXTENSION, FINAL_5XX_POLLS, CallOptions
from weaver_facade._wire import PROXIED, connection_error


def untyped(value: object) -> Any:
    """Pass a wrongly typed value on purpose, as an untyped caller would."""
    return value


def policy(clock: FakeClock, rng: float = 0.5, **settings: float) -> PollPolicy:
    return PollPolicy(PollSettings(**settings), clock=clock, rng=lambda: rng)


def to_next_poll(poller: Poller, clock: FakeClock) -> None:
    """Sleep (on ``clock``) through ``poller``'s waits up to its next poll."""
    step = poller.next_step()
    while isinstance(step, Sleep):
        clock.sleep(step.seconds)
        step = poller.next_step()
    assert isinstance(step, Poll)


# -- polling ----------------------------------------------------------------------------------


def test_long_poll_wait_is_the_smaller_of_remaining_and_long_poll() -> None:
    clock = FakeClock()
    poller = policy(clock, long_poll=20).start(timeout=50)
    # Each poll, long-poll included, must be over by the deadline (plus a grace).
    assert poller.next_step() == Poll(wait=20, budget=50.5)
    clock.now += 20  # the server held the request
    poller.on_reply(terminal=False)
    assert poller.long_poll_supported is True
    assert poller.next_step() == Poll(wait=20, budget=30.5)
    clock.now += 20
    poller.on_reply(terminal=False)
    assert poller.next_step() == Poll(wait=10, budget=10.5)  # only 10 s left


def test_immediate_non_terminal_answers_fall_back_to_backoff() -> None:
    clock = FakeClock()
    poller = policy(
        clock, rng=0.999999, initial_backoff=0.25, max_backoff=10, backoff_ratio=1e9
    ).start(timeout=1000)
    delays = []
    for _ in range(8):
        step = poller.next_step()
        assert isinstance(step, Poll)
        clock.now += 0.01  # answered at once: no long-poll support
        poller.on_reply(terminal=False)
        sleep = poller.next_step()
        assert isinstance(sleep, Sleep)
        delays.append(sleep.seconds)
        clock.sleep(sleep.seconds)
    assert poller.long_poll_supported is False
    caps = [0.25, 0.5, 1, 2, 4, 8, 10, 10]
    assert delays == pytest.approx(caps, rel=1e-5)


@settings(deadline=None)  # timing is for benchmarks; two workers share two cores
@given(
    st.floats(min_value=0.001, max_value=600),
    st.floats(min_value=0, max_value=0.999999),
    st.floats(min_value=0.05, max_value=0.5),
)
def test_without_long_poll_the_lag_is_a_fraction_of_the_duration(
    duration: float, u: float, ratio: float
) -> None:
    # An operation that ends `duration` s into the wait is seen at most
    # max(min_interval, ratio * duration) late, whatever the jitter draws.
    clock = FakeClock()
    poller = policy(clock, rng=u, min_interval=0.05, backoff_ratio=ratio).start(timeout=3600)
    lag = wait_out(poller, clock, duration, reply=0.001) - duration
    assert lag <= max(0.05, ratio * duration) + 0.001 + 1e-9


def test_without_long_poll_sleeps_grow_with_the_time_waited() -> None:
    clock = FakeClock()
    poller = policy(clock, rng=0.999999, min_interval=0.05, backoff_ratio=0.2).start(timeout=1000)
    delays = []
    for _ in range(12):
        assert isinstance(poller.next_step(), Poll)
        clock.now += 0.01
        poller.on_reply(terminal=False)
        sleep = poller.next_step()
        assert isinstance(sleep, Sleep)
        delays.append(sleep.seconds)
        clock.sleep(sleep.seconds)
    waited_before = [sum(delays[:i]) + 0.01 * (i + 1) for i in range(len(delays))]
    expected = [
        max(0.05, min(0.999999 * min(10, 0.25 * 2**i), 0.2 * w))
        for i, w in enumerate(waited_before)
    ]
    assert delays == pytest.approx(expected, rel=1e-6)
    assert delays[0] == pytest.approx(0.05)  # min_interval while little time has passed
    assert delays[-1] > 4 * delays[0]


@pytest.mark.parametrize(
    "copied",
    [lambda p: pickle.loads(pickle.dumps(p)), copy.deepcopy],  # noqa: S301 (our own bytes)
    ids=["pickle", "deepcopy"],
)
def test_a_poll_policy_sent_to_another_process_keeps_what_it_learned(
    copied: Callable[[PollPolicy], PollPolicy],
) -> None:
    # ``ClientOptions(poll=PollPolicy(...))`` sent to a worker process failed with
    # "cannot pickle '_thread.lock' object", which said nothing of the policy.
    key = ("m-1", "optim_step")
    policy = PollPolicy(PollSettings(timeout=7, initial_backoff=0.5))
    policy.durations.record(key, Bracket(0.8, 1.2))
    twin = copied(policy)
    assert twin.settings == PollSettings(timeout=7, initial_backoff=0.5)
    assert twin.durations.expected(key) == (Bracket(0.8, 1.2),)
    twin.durations.record(key, Bracket(0.9, 1.0))  # its own history from now on
    assert twin.durations.expected(key) == (Bracket(0.9, 1.0),)
    assert policy.durations.expected(key) == (Bracket(0.8, 1.2),)
    assert 0 <= twin.backoff(3) < 4


@settings(deadline=None)
@given(st.floats(min_value=0, max_value=0.999999), st.integers(min_value=0, max_value=30))
def test_backoff_is_full_jitter_within_the_cap(u: float, attempt: int) -> None:
    p = PollPolicy(PollSettings(initial_backoff=0.25, max_backoff=10), rng=lambda: u)
    delay = p.backoff(attempt)
    assert 0 <= delay < min(10, 0.25 * 2**attempt)


def test_a_server_that_never_finishes_ends_in_give_up_without_busy_looping() -> None:
    clock = FakeClock()
    # rng=0 draws the shortest jitter every time; min_interval still spaces the polls.
    poller = policy(clock, rng=0.0, min_interval=0.05).start(timeout=30)
    polls = 0
    while True:
        step = poller.next_step()
        if isinstance(step, GiveUp):
            break
        if isinstance(step, Sleep):
            clock.sleep(step.seconds)
            continue
        polls += 1
        poller.on_reply(terminal=False)  # answered at once, never done
    assert step.waited >= 30
    assert polls <= 30 / 0.05 + 2
    assert min(clock.sleeps[:-1]) >= 0.05 - 1e-9  # the last one is cut at the deadline


def test_deadline_gives_up_after_a_final_look() -> None:
    clock = FakeClock()
    poller = policy(clock, rng=0.999999, initial_backoff=8, max_backoff=8, backoff_ratio=1e9).start(
        timeout=5
    )
    assert isinstance(poller.next_step(), Poll)
    clock.now += 0.01
    poller.on_reply(terminal=False)
    sleep = poller.next_step()
    assert isinstance(sleep, Sleep)
    assert sleep.seconds == pytest.approx(4.99)  # cut at the deadline
    clock.sleep(sleep.seconds)
    assert poller.next_step() == Poll(wait=0.0, budget=0.5)  # one last look, briefly
    poller.on_reply(terminal=False)
    step = poller.next_step()
    assert isinstance(step, GiveUp)
    assert step.waited == pytest.approx(5)


def test_timeout_zero_polls_once() -> None:
    clock = FakeClock()
    poller = policy(clock).start(timeout=0)
    assert poller.next_step() == Poll(wait=0.0, budget=0.5)
    poller.on_reply(terminal=False)
    assert isinstance(poller.next_step(), GiveUp)


def test_default_timeout_comes_from_settings() -> None:
    clock = FakeClock()
    poller = policy(clock, timeout=7).start()
    assert poller.deadline - poller.started == 7


def test_failures_are_retried_within_the_deadline_honouring_retry_after() -> None:
    clock = FakeClock()
    poller = policy(clock, rng=0.0).start(timeout=60)
    poller.next_step()
    limited = RateLimitError("slow", status_code=429, retryable=True, retry_after=12.0)
    assert poller.on_failure(limited)
    sleep = poller.next_step()
    assert isinstance(sleep, Sleep)  # a GiveUp(12.0) is an equal tuple
    assert sleep.seconds == 12.0
    clock.sleep(12)
    assert isinstance(poller.next_step(), Poll)
    assert poller.on_failure(APIConnectionError("refused"))
    assert poller.on_failure(InternalServerError("boom", status_code=503, retryable=True))


@pytest.mark.parametrize("retry_after", [0.0, 0.001, None])
def test_polls_refused_with_retry_after_zero_back_off(retry_after: float | None) -> None:
    # ``Retry-After: 0`` (or a past date, or a negative number, which parse as 0, or a
    # tiny fraction) on every poll of a wait made it poll again at once, over and over:
    # about 1,200 requests a second against an overloaded server until the deadline
    # (README: never a busy loop).
    clock = FakeClock()
    poller = policy(clock, rng=0.5).start(timeout=3600)
    sleeps = []
    for _ in range(6):
        assert isinstance(poller.next_step(), Poll)
        busy = InternalServerError("busy", status_code=503, retryable=True, retry_after=retry_after)
        assert poller.on_failure(busy)
        step = poller.next_step()
        assert isinstance(step, Sleep)
        sleeps.append(step.seconds)
        clock.sleep(step.seconds)
    assert min(sleeps) > 0
    assert sleeps == sorted(sleeps)
    assert sleeps[-1] > sleeps[0]


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_the_server_calls_final_is_polled_again_a_few_times_in_a_row(status: int) -> None:
    # A poll is a GET of an operation that may well run on: a 5xx `retryable: false` (a
    # hiccup of the server's store) ended a wait of an hour at once, whereas the official
    # SDK polls again after any 5xx. The wait does too, within its deadline, up to
    # FINAL_5XX_POLLS in a row (a reply between starts the count again), so that a server
    # that keeps refusing still ends it with its error.
    clock = FakeClock()
    poller = policy(clock).start(timeout=3600)
    final = InternalServerError("down", status_code=status, retryable=False)
    poll = functools.partial(to_next_poll, poller, clock)

    for _ in range(2):
        for _ in range(FINAL_5XX_POLLS):
            poll()
            assert poller.on_failure(final)
        poll()
        poller.on_reply(terminal=False)
    for _ in range(FINAL_5XX_POLLS):
        poll()
        assert poller.on_failure(final)
    poll()
    assert not poller.repeatable(final)
    assert not poller.on_failure(final)
    assert poller.waited < 3600


def test_a_retryable_5xx_between_final_ones_starts_their_count_again() -> None:
    # "In a row": a 503 asking to try again is a reply between two final 500s, as a
    # successful poll is. It left the count as it was, so that final 5xx polls apart
    # (each pair with an overloaded 503 between) ended a long wait.
    clock = FakeClock()
    poller = policy(clock).start(timeout=3600)
    final = InternalServerError("down", status_code=500, retryable=False)
    busy = InternalServerError("busy", status_code=503, retryable=True)
    poll = functools.partial(to_next_poll, poller, clock)

    for _ in range(FINAL_5XX_POLLS):
        poll()
        assert poller.on_failure(final)
        poll()
        assert poller.on_failure(busy)
    poll()
    assert poller.repeatable(final)
    assert poller.waited < 3600


def test_a_lost_reply_between_final_5xx_polls_leaves_their_count() -> None:
    # A poll whose reply was lost (an APIConnectionError, an APIError too) is no reply
    # between two final 5xx, unlike a 503: it started their count again, so that final
    # 500s with dropped connections between them were polled until the deadline, if any.
    clock = FakeClock()
    poller = policy(clock).start(timeout=3600)
    final = InternalServerError("down", status_code=500, retryable=False)
    poll = functools.partial(to_next_poll, poller, clock)

    for _ in range(FINAL_5XX_POLLS):
        poll()
        assert poller.on_failure(final)
        poll()
        assert poller.on_failure(APIConnectionError("reset"))
    poll()
    assert not poller.repeatable(final)
    assert poller.waited < 3600


def test_a_4xx_the_server_calls_final_stops_at_once() -> None:
    # ``retryable`` is the Error body's word (or, without one, the status rule's).
    poller = policy(FakeClock()).start(timeout=60)
    poller.next_step()
    assert not poller.on_failure(APIError("no", status_code=400, retryable=False))


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("gone", status_code=404),
        ResponseValidationError("bad", operation="get_operation", status_code=200),
    ],
)
def test_non_retryable_failures_stop(error: Exception) -> None:
    poller = policy(FakeClock()).start(timeout=60)
    poller.next_step()
    assert poller.on_failure(error) is False


def _tls_failure(tls: ssl.SSLError) -> APIConnectionError:
    """The facade's error of a poll whose TLS handshake failed with ``tls``, as ``_io``
    raises it (from the transport's error, itself from ``tls``)."""
    failed = httpx.ConnectError(str(tls))
    failed.__cause__ = tls
    error = connection_error("get_operation", failed)
    error.__cause__ = failed
    return error


def _plain_http() -> ssl.SSLError:
    tls = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    tls.reason = "WRONG_VERSION_NUMBER"  # as OpenSSL sets it
    return tls


@pytest.mark.parametrize(
    "tls",
    [ssl.SSLCertVerificationError(1, "certificate verify failed"), _plain_http()],
    ids=["refused certificate", "plain HTTP"],
)
def test_a_poll_whose_tls_no_retry_changes_is_not_retried(tls: ssl.SSLError) -> None:
    # As for any request (``transport_error_is_retryable``): a poll that met plain HTTP
    # behind an https:// URL was polled again until the wait's deadline.
    error = _tls_failure(tls)
    assert error.retryable is False
    poller = policy(FakeClock()).start(timeout=60)
    poller.next_step()
    assert poller.on_failure(error) is False


def test_a_certificate_refused_at_an_https_proxy_points_to_ssl_cert_file_too() -> None:
    # An https:// proxy URL whose proxy shows a certificate TLS does not trust: its words
    # said "see *_PROXY" alone, though its CA in SSL_CERT_FILE is as likely the fix, and
    # the same refusal at the tunnel's far end says "see SSL_CERT_FILE".
    request = httpx.Request("GET", "https://x/api/v1/models/m-1")
    request.extensions[PROXIED] = "https://alice:PW-9z@proxy.example:3128"
    failed = httpx.ConnectError("certificate verify failed", request=request)
    failed.__cause__ = ssl.SSLCertVerificationError(1, "certificate verify failed")
    said = str(connection_error("get_model", failed))
    assert said.endswith(
        "(through the proxy https://***@proxy.example:3128 the environment names; see "
        "*_PROXY and SSL_CERT_FILE)"
    ), said


def _tls_error(reason: str | None, text: str) -> ssl.SSLError:
    """An ``ssl.SSLError`` as ``_ssl`` makes it: ``[SSL: REASON] text``, or ``[SSL] text``
    when Python's table of OpenSSL's reasons lacks the code (a newer OpenSSL)."""
    tls = ssl.SSLError(1, f"[SSL: {reason}] {text} (_ssl.c:1000)" if reason else f"[SSL] {text}")
    tls.library = "SSL"
    if reason is not None:
        tls.reason = reason
    return tls


# How OpenSSL names a server that answers a TLS ClientHello in plain HTTP
# ("HTTP/1.1 400 ..."): up to 3.1 the record's version is checked first; from 3.2 its
# length ("P/" is 20527 bytes) fails first, and "record layer failure" is put on top,
# which Python reports (the last error), its reason named or not by Python's own table.
PLAIN_HTTP_SPELLINGS = {
    "wrong-version-number": ("WRONG_VERSION_NUMBER", "wrong version number"),
    "record-layer-failure": ("RECORD_LAYER_FAILURE", "record layer failure"),
    "record-layer-failure-unnamed": (None, "record layer failure"),
    "packet-length-too-long": ("PACKET_LENGTH_TOO_LONG", "packet length too long"),
    "packet-length-too-long-unnamed": (None, "packet length too long"),
}


@pytest.mark.parametrize(
    ("reason", "text"), list(PLAIN_HTTP_SPELLINGS.values()), ids=list(PLAIN_HTTP_SPELLINGS)
)
def test_every_spelling_of_plain_http_behind_https_is_told(reason: str | None, text: str) -> None:
    # Only OpenSSL 3.1's WRONG_VERSION_NUMBER was: on 3.2 and later (Homebrew's, Fedora's)
    # the same server was retried to the end, and its error gave no hint.
    tls = _tls_error(reason, text)
    assert plain_http(tls)
    error = _tls_failure(tls)
    assert error.retryable is False
    assert str(error).endswith(PLAIN_HTTP_HINT)
    request = httpx.Request("GET", "http://x/api/v1/operations/op-1")
    assert isinstance(failed := error.__cause__, httpx.ConnectError)
    assert RETRY.retry_delay(request, failed, 0) is None  # the transport's rule


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "sslv3 alert handshake failure"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "tlsv1 alert protocol version"),
        ("UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol"),
    ],
    ids=["handshake-failure", "protocol-version", "eof"],
)
def test_other_tls_failures_are_no_plain_http(reason: str, text: str) -> None:
    tls = _tls_error(reason, text)
    assert not plain_http(tls)
    assert not str(_tls_failure(tls)).endswith(PLAIN_HTTP_HINT)


@pytest.mark.parametrize("broken", [httpx.ReadError, httpx.WriteError], ids=["read", "write"])
def test_a_record_broken_on_a_connection_made_is_retried(
    broken: type[httpx.TransportError],
) -> None:
    # From OpenSSL 3.2 a bad MAC mid-body is a "record layer failure" too, as plain HTTP's
    # handshake is: a storage GET of a large file, or any request, that met one was given up
    # at once, and said the server speaks plain HTTP, though a plain-HTTP server fails the
    # handshake (a ConnectError), never a read.
    tls = _tls_error("RECORD_LAYER_FAILURE", "record layer failure")
    failed = broken(str(tls))
    failed.__cause__ = tls
    assert not plain_http(failed)
    request = httpx.Request("GET", "http://x/api/v1/operations/op-1")
    assert RETRY.retry_delay(request, failed, 0) is not None
    error = connection_error("get_operation", failed)
    error.__cause__ = failed
    assert error.retryable is not False
    assert not str(error).endswith(PLAIN_HTTP_HINT)


def test_failures_after_the_deadline_stop() -> None:
    clock = FakeClock()
    poller = policy(clock).start(timeout=1)
    poller.next_step()
    clock.now += 2
    assert poller.on_failure(APIConnectionError("refused")) is False


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: PollSettings(long_poll=61), "PollSettings: long_poll must be a number >= 0 and"),
        (lambda: PollSettings(timeout=0), "PollSettings: timeout must be a number > 0; got 0"),
        # A TypeError from a comparison inside attrs, before.
        (lambda: PollSettings(timeout=untyped("x")), "PollSettings: timeout must be a number"),
        (lambda: PollSettings(timeout=math.nan), "PollSettings: timeout must be a number > 0"),
        (lambda: PollSettings(backoff_ratio=untyped(True)), "PollSettings: backoff_ratio must"),
        (lambda: RetrySettings(max_retries=-1), "RetrySettings: max_retries must be an int >= 0"),
        (lambda: RetrySettings(max_retries=untyped(1.5)), "RetrySettings: max_retries must be"),
        (lambda: RetrySettings(max_retry_after=-1), "RetrySettings: max_retry_after must be"),
    ],
)
def test_settings_are_validated_with_the_facades_error(
    build: Callable[[], object], problem: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(problem)}"):
        build()


def test_settings_take_numbers_of_other_libraries_as_the_plain_numbers_they_stand_for() -> None:
    # PollSettings(timeout=np.float32(0.5)) was refused as "must be a number > 0", and
    # RetrySettings(max_retries=np.int64(3)) as "must be an int >= 0", which counts and
    # seconds given to a call take; an np.float64, a float, was kept as it came.
    import numpy as np

    poll = PollSettings(
        timeout=untyped(np.float32(0.5)),
        long_poll=untyped(np.int64(3)),
        max_backoff=untyped(Fraction(5, 2)),
        min_interval=untyped(np.float64(0.125)),
    )
    assert poll == PollSettings(timeout=0.5, long_poll=3, max_backoff=2.5, min_interval=0.125)
    assert repr(poll) == repr(
        PollSettings(timeout=0.5, long_poll=3, max_backoff=2.5, min_interval=0.125)
    )
    assert type(poll.min_interval) is float
    retry = RetrySettings(
        max_retries=untyped(np.int64(3)), max_retry_wait=untyped(np.float32(0.25))
    )
    assert repr(retry) == repr(RetrySettings(max_retries=3, max_retry_wait=0.25))
    with pytest.raises(InvalidArgumentError, match=r"max_retries must be an int >= 0; got -1$"):
        RetrySettings(max_retries=untyped(np.int8(-1)))
    with pytest.raises(InvalidArgumentError, match="max_retries must be an int >= 0"):
        RetrySettings(max_retries=untyped(np.float64(3.0)))
    with pytest.raises(InvalidArgumentError, match="timeout must be a number > 0"):
        PollSettings(timeout=untyped(np.bool_(True)))


def test_download_settings_take_numbers_of_other_libraries_as_plain_numbers() -> None:
    # Its seconds kept an np.float32 as it came (its counts were converted already).
    import numpy as np

    from weaver_facade._download import DownloadSettings

    given = DownloadSettings(
        timeout=untyped(np.float32(0.5)),
        initial_backoff=untyped(np.float64(0.125)),
        max_backoff=untyped(Fraction(5, 2)),
        max_retry_after=untyped(np.int64(30)),
        refresh_margin=untyped(np.float32(1.5)),
        max_refreshes=untyped(np.int8(2)),
        read_timeout=untyped(np.float32(5)),
    )
    plain = DownloadSettings(
        timeout=0.5,
        initial_backoff=0.125,
        max_backoff=2.5,
        max_retry_after=30,
        refresh_margin=1.5,
        max_refreshes=2,
        read_timeout=5.0,
    )
    assert repr(given) == repr(plain)
    assert [type(v) for v in attrs.astuple(given)] == [type(v) for v in attrs.astuple(plain)]
    assert DownloadSettings(timeout=None).timeout is None


# -- retries ---------------------------------------------------------------------------------


def request(method: str, *, idempotency_key: bool = False) -> httpx.Request:
    headers = {"Idempotency-Key": "k-1"} if idempotency_key else {}
    return httpx.Request(method, "http://w.test/api/v1/x", headers=headers)


def reply(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers)


def error(status: int, retryable: bool) -> httpx.Response:
    """A reply with the spec's Error body, whose ``retryable`` is the server's word."""
    return httpx.Response(status, json={"error": "e", "message": "m", "retryable": retryable})


RETRY = RetryPolicy(RetrySettings(max_retries=3, initial_backoff=1, max_backoff=4), rng=lambda: 0.5)


@pytest.mark.parametrize(
    ("req", "outcome", "retried"),
    [
        (request("GET"), reply(503), True),
        (request("GET"), reply(502), True),
        (request("GET"), reply(504), True),
        (request("GET"), reply(429), True),
        (request("GET"), reply(408), True),
        (request("GET"), reply(500), False),
        (request("GET"), reply(404), False),
        (request("GET"), reply(200), False),
        (request("POST", idempotency_key=True), reply(502), True),
        (request("POST"), reply(502), False),
        (request("POST"), reply(503), True),
        (request("DELETE"), reply(504), False),
        (request("DELETE"), reply(429), True),
        (request("PATCH"), reply(502), True),
        (request("POST"), httpx.ConnectError("refused"), True),
        (request("DELETE"), httpx.ConnectTimeout("slow"), True),
        (request("POST"), httpx.ReadTimeout("slow"), False),
        (request("POST", idempotency_key=True), httpx.ReadTimeout("slow"), True),
        (request("POST", idempotency_key=True), httpx.RemoteProtocolError("eof"), True),
        (request("DELETE"), httpx.ReadError("reset"), False),
        (request("GET"), httpx.UnsupportedProtocol("ftp"), False),
        # The Error body's ``retryable`` decides first, as for the official SDK.
        (request("GET"), error(500, True), True),
        (request("GET"), error(409, True), True),
        (request("GET"), error(503, False), False),
        (request("GET"), error(429, False), False),
        (request("POST"), error(503, True), True),
        (request("POST"), error(500, True), False),
        (request("POST", idempotency_key=True), error(500, True), True),
        (request("POST", idempotency_key=True), error(502, False), False),
        # Not an Error body: the status decides.
        (request("GET"), httpx.Response(500, json={"retryable": "yes"}), False),
        (request("GET"), httpx.Response(503, json=[{"retryable": False}]), True),
    ],
)
def test_what_is_retried(
    req: httpx.Request, outcome: httpx.Response | Exception, retried: bool
) -> None:
    assert (RETRY.retry_delay(req, outcome, 0) is not None) is retried


def test_a_call_may_give_up_on_a_server_that_cannot_be_reached() -> None:
    # The close's terminates: best effort, not seconds of backoff against a closed port.
    req = request("POST", idempotency_key=True)
    req.extensions[EXTENSION] = CallOptions(retry_unreachable=False)
    assert RETRY.retry_delay(req, httpx.ConnectError("refused"), 0) is None
    assert RETRY.retry_delay(req, httpx.ConnectTimeout("slow"), 0) is None
    # A server that was reached is retried as ever.
    assert RETRY.retry_delay(req, httpx.ReadTimeout("lost"), 0) == 0.5
    assert RETRY.retry_delay(req, reply(503), 0) == 0.5


def test_backoff_doubles_to_the_cap_and_stops_at_max_retries() -> None:
    get = request("GET")
    assert [RETRY.retry_delay(get, reply(503), a) for a in range(4)] == [0.5, 1.0, 2.0, None]
    capped = RetryPolicy(
        RetrySettings(max_retries=10, initial_backoff=1, max_backoff=4), rng=lambda: 0.999
    )
    delays = [capped.retry_delay(get, reply(503), a) for a in range(10)]
    assert delays[-1] == pytest.approx(4 * 0.999)
    assert all(d is not None and d < 4 for d in delays)


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    get = request("GET")
    assert RETRY.retry_delay(get, reply(429, "7"), 0) == 7.0
    assert RETRY.retry_delay(get, reply(503, "0"), 0) == 0.5  # shorter: the backoff
    assert RETRY.retry_delay(get, reply(429, "61"), 0) is None  # longer than max_retry_after
    assert RETRY.retry_delay(get, reply(429, "soon"), 0) == 0.5  # unparsable: backoff


def test_the_longest_retry_after_waited_out_by_default_is_the_one_documented() -> None:
    # RetrySettings said only "max_retry_after: the longest Retry-After we wait out"
    # (60 s by default), but max_retry_wait (30 s in all) refused any over 30 s.
    doc = " ".join((inspect.getdoc(RetrySettings) or "").split())
    said = re.search(r"by default, a ``Retry-After`` over (\d+) s is not waited out", doc)
    assert said is not None, doc
    longest, get = float(said[1]), request("GET")
    assert RetryPolicy().retry_delay(get, reply(503, f"{longest:g}"), 0) == longest
    assert RetryPolicy().retry_delay(get, reply(503, f"{longest + 1:g}"), 0) is None


@pytest.mark.parametrize("attempt", [0, 2, 9])
def test_poll_backoff_is_the_range_its_docstring_states(attempt: int) -> None:
    # It named a private function (``_retry.full_jitter``) a user cannot read.
    settings = PollSettings(initial_backoff=0.3, max_backoff=2.0)
    doc = " ".join((inspect.getdoc(PollPolicy.backoff) or "").split())
    assert "uniform in [0, min(``max_backoff``, ``initial_backoff`` * 2**attempt))" in doc
    top = min(settings.max_backoff, settings.initial_backoff * 2**attempt)
    assert PollPolicy(settings, rng=lambda: 0.0).backoff(attempt) == 0.0
    assert PollPolicy(settings, rng=lambda: 0.999).backoff(attempt) == pytest.approx(0.999 * top)


def test_initial_backoff_also_paces_the_looks_for_a_path_a_listing_lacks() -> None:
    # PollSettings said initial_backoff paces polls "when long-poll is not supported";
    # it is also the first pause of the looks for a path a listing lacks (the README:
    # "pauses of the client's poll backoff (PollSettings.initial_backoff, doubling").
    clock, first = FakeClock(), 0.8
    poll = PollPolicy(PollSettings(initial_backoff=first), clock=clock, rng=lambda: 0.999)
    fake = FakeWeaver()
    with fake_service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.training_client("m-1", next_seq_id=1)
        with pytest.raises(NotFoundError):
            trainer.get_checkpoint("weaver://m-1/checkpoints/missing")
    assert clock.sleeps == pytest.approx([first * 0.999 * 2**i for i in range(3)])
    said = " ".join((inspect.getdoc(PollSettings) or "").split())
    assert "also the first pause between the looks for a path" in said, said


@pytest.mark.parametrize("retry_after", ["inf", "1e999"])
def test_a_retry_after_without_end_is_not_waited_for_even_without_caps(retry_after: str) -> None:
    # No cap on Retry-After or on the sleeps, and no deadline: a sleep without end
    # would leave no attempt to follow it, so the error stands at once.
    uncapped = RetryPolicy(RetrySettings(max_retry_after=math.inf, max_retry_wait=math.inf))
    get = request("GET")
    assert uncapped.retry_delay(get, reply(503, retry_after), 0) is None
    assert uncapped.retry_delay(get, reply(503, "1e6"), 0) == 1e6  # a long one still is


@pytest.mark.parametrize("retry_after", ["0", "-5", "0.001", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_a_retry_after_shorter_than_the_backoff_does_not_cut_it_short(retry_after: str) -> None:
    # ``Retry-After: 0`` (or a negative number or a past date, which parse as 0) made
    # every retry follow its failure at once, as the poller's did (see
    # test_polls_refused_with_retry_after_zero_back_off): the backoff stands.
    get = request("GET")
    delays = [RETRY.retry_delay(get, reply(503, retry_after), a) for a in range(3)]
    assert delays == [0.5, 1.0, 2.0]
    # A Retry-After longer than the backoff still wins.
    assert RETRY.retry_delay(get, reply(503, "1.5"), 1) == 1.5


def test_retry_after_as_an_http_date() -> None:
    import datetime

    from weaver_facade._retry import parse_retry_after

    now = datetime.datetime(2026, 11, 29, 10, 0, 0, tzinfo=datetime.UTC)
    assert parse_retry_after("Sun, 29 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 29 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def test_backoff_survives_thousands_of_attempts() -> None:
    # 2.0**1024 overflows; a long wait without long-poll makes that many polls.
    poll = PollPolicy(PollSettings(initial_backoff=0.25, max_backoff=10), rng=lambda: 0.5)
    retry = RetryPolicy(RetrySettings(initial_backoff=0.5, max_backoff=8), rng=lambda: 0.5)
    assert poll.backoff(5000) == pytest.approx(5.0)
    assert retry.backoff(5000) == pytest.approx(4.0)


def test_only_an_error_reply_has_an_error_body_to_read() -> None:
    # Every successful reply, a page of 100 checkpoints say, was parsed a second time
    # looking for `retryable` (B1 went from 1.5x to 1.8x).
    from weaver_facade._retry import server_says_retryable

    assert server_says_retryable(httpx.Response(200, json={"retryable": False})) is None
    assert server_says_retryable(error(503, False)) is False


def test_a_legacy_404_for_a_failed_read_of_an_operation_is_retried_as_it_arrives() -> None:
    # A transport's reply is not yet bound to its request; the re-attach's look (and
    # `operations show`) got the legacy weaver-server's 404 once, and failed.
    said = {"error": "not_found", "message": "read operation: unexpected EOF", "retryable": False}
    lost = httpx.Response(404, json=said)
    poll = httpx.Request("GET", "http://x/api/v1/operations/op-1")
    assert RETRY.retry_delay(poll, lost, 0) == 0.5
    assert RETRY.retry_delay(httpx.Request("GET", "http://x/api/v1/models/m-1"), lost, 0) is None


def test_the_readme_states_the_default_retries_as_they_are() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    said = re.search(
        r"By default a request is sent again up to (\d+) times, after sleeps that cap at "
        r"([\d.]+(?:, [\d.]+)*) and ([\d.]+) s \(([\d.]+) s in all",
        readme,
    )
    assert said is not None
    caps = [float(c) for c in said[2].split(", ")] + [float(said[3])]
    policy = RetryPolicy(rng=lambda: 1 - 1e-12)  # the top of each full-jitter range
    retries = RetrySettings().max_retries
    assert int(said[1]) == retries == len(caps)
    assert [policy.backoff(attempt) for attempt in range(retries)] == pytest.approx(caps)
    assert float(said[4]) == pytest.approx(sum(caps))
