"""Trying again when the server asks to: a 429 or 503 that says "later" is no contract break.

Nor is a reply lost on the way (a dropped connection): the kit's own API requests are
sent again by the facade's ``RetryTransport``, under the facade's ``RetryPolicy`` for
transport faults (``api_client``, ``lost_replies``): a request safe to repeat, that is a
GET, a PATCH, or a POST with an ``Idempotency-Key``.

The conformance part sends schemathesis' requests through ``PatientTransport`` (in
``_conformance``), which asks the same policy after a lost reply (``resend_delay``); the
kit's own raw clients (the probes, storage) through ``PatientHTTPTransport``; the
lifecycle's facade client retries by itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .. import RetryPolicy, RetrySettings, RetryTransport
from .._causes import never_reached
from .._socket_deadline import bound_client, current_end, ends
from ._clients import kit_client
from ._findings import RETRIES

__all__ = [
    "MAX_RETRY_WAIT",
    "RESENT",
    "RETRIED",
    "RETRIES_OWN",
    "UNWAITED",
    "PatientHTTPTransport",
    "Within",
    "api_client",
    "lost_replies",
    "patient_client",
    "resend_delay",
    "retry_after",
    "sending_transport",
]


class _ThroughClient(httpx.BaseTransport):
    """Sends with an httpx client of its own, which goes through the proxy the
    environment names: a client handed a transport ignores them, for that transport.
    Its socket work keeps the end a caller sets (``_socket_deadline.ends``): httpx's
    timeouts bound each wait for bytes, not a reply sent a byte at a time."""

    def __init__(self) -> None:
        self._client = bound_client(kit_client())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._client.send(request, stream=True)

    def close(self) -> None:
        self._client.close()


def sending_transport() -> httpx.BaseTransport:
    """What sends the kit's own requests, as the facade's do."""
    return _ThroughClient()


# A request's extension: its sender tries it again by itself, within a budget of its own
# (a clean-up's ``Sweep``), so neither a reply that asks to try later nor a lost reply is
# retried beneath it, where the waits and attempts would overrun that budget.
RETRIES_OWN = "weaver_facade.contract.retries_own"


# The longest wait the kit takes for one retry, whatever the server asks.
MAX_RETRY_WAIT = 10.0


def retry_after(status: int, headers: Mapping[str, Any], body: bytes | None) -> float | None:
    """The seconds to wait before trying again when a reply asks for it, else None.

    A 429 or 503 asks for it with ``Retry-After`` (seconds) or an Error body whose
    ``retryable`` is true; ``retryable: false`` never does. At most ``MAX_RETRY_WAIT``.
    """
    if status not in (429, 503):
        return None
    try:
        retryable = json.loads(body or b"null").get("retryable")
    except (ValueError, AttributeError):
        retryable = None
    if retryable is False:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        seconds = None
    if seconds is None or not seconds >= 0:  # absent, or an HTTP-date
        return 1.0 if retryable is True or value is not None else None
    return min(seconds, MAX_RETRY_WAIT)


# A reply's extension: how many times ``PatientHTTPTransport`` sent its request again
# before it, which a watcher above that transport, seeing the last reply only, cannot tell.
RETRIED = "weaver_facade.contract.retried"
# A reply's extension: the wait it asked for, not taken because it would end past the end
# of its request (``Within``), or take its waits past ``PatientHTTPTransport``'s ``waits``.
UNWAITED = "weaver_facade.contract.unwaited"


class PatientHTTPTransport(httpx.BaseTransport):
    """An httpx transport that sends a request again, at most ``RETRIES`` times, while the
    server asks to try later (each reply says how often: ``RETRIED``), but for a wait that
    would end past the request's own end (``Within``), or take its waits in all past
    ``waits`` seconds, which is its reply (``UNWAITED``). Once a request has used up its
    retries, none is retried again: a server that stays unavailable costs its retries
    once, not per request."""

    def __init__(
        self, inner: httpx.BaseTransport | None = None, *, waits: float | None = None
    ) -> None:
        self._inner = inner or sending_transport()
        self._waits = waits
        self._lock = threading.Lock()
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        slept = 0.0
        while True:
            response = self._inner.handle_request(request)
            response.extensions[RETRIED] = attempt  # a copy's too: ``copy_with`` shares them
            if (
                response.status_code not in (429, 503)
                or self.down
                or request.extensions.get(RETRIES_OWN)
            ):
                return response
            # A transport's caller reads the stream (WatchingTransport raw), which a read
            # reply no longer has: the body is read from a copy.
            raw = raw_body(response)
            unread = copy_with(response, raw, request)
            wait = retry_after(
                response.status_code, response.headers, copy_with(response, raw).read()
            )
            if wait is None:
                return unread
            if attempt == RETRIES:  # before the time: no wait was due, whatever it asked
                with self._lock:
                    self.down = True
                return unread
            at = current_end()
            if (at is not None and time.monotonic() + wait > at) or (
                self._waits is not None and slept + wait > self._waits
            ):
                unread.extensions[UNWAITED] = wait
                return unread
            attempt += 1
            slept += wait
            time.sleep(wait)

    def close(self) -> None:
        self._inner.close()


def raw_body(response: httpx.Response) -> bytes:
    """The whole body of ``response`` as it came (its encoding kept), which closes it."""
    try:
        return b"".join(response.iter_raw())
    finally:
        response.close()


def copy_with(
    response: httpx.Response, raw: bytes, request: httpx.Request | None = None
) -> httpx.Response:
    """An unread copy of ``response`` with ``raw`` (``raw_body``) as its body."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        request=request,
        extensions=response.extensions,
    )


def patient_client(*, waits: float | None = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` (``kwargs`` as for it) whose requests are tried again while
    the server asks to try later, each waiting ``waits`` seconds in all at most."""
    return kit_client(transport=PatientHTTPTransport(waits=waits), **kwargs)


# A request's extension, set once a transport fault after it may have reached the server
# has it sent again: a 409 that follows may be its own first attempt's work, on a server
# without Idempotency-Key. A connection that failed to open, or that the proxy reset at its
# CONNECT, reached nothing (as for the facade's EarlierAttempt): its retry is no repeat.
RESENT = "weaver_facade.contract.resent"


class _TransportFaults(RetryPolicy):
    """The facade's retry policy for transport faults alone; a reply that asks to try
    later is ``PatientHTTPTransport``'s."""

    def retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | Exception,
        attempt: int,
        *,
        slept: float = 0.0,
        remaining: float | None = None,
    ) -> float | None:
        if isinstance(outcome, httpx.Response) or request.extensions.get(RETRIES_OWN):
            return None
        at = current_end()
        if at is not None:  # the request's own end (``Within``): an attempt after it fails
            left = at - time.monotonic()  # at once, in words of a connect that timed out
            remaining = left if remaining is None else min(remaining, left)
        delay = super().retry_delay(request, outcome, attempt, slept=slept, remaining=remaining)
        if delay is not None and not never_reached(outcome):
            request.extensions[RESENT] = True
        return delay


_LOST_REPLIES = _TransportFaults(RetrySettings(max_retries=RETRIES))


def lost_replies(inner: httpx.BaseTransport) -> httpx.BaseTransport:
    """``inner``, whose requests are sent again after a transport fault as the facade's
    are, at most ``RETRIES`` times: a request that is safe to repeat (a GET, a PATCH, a
    POST with an ``Idempotency-Key``), and one that is not only if it never reached the
    server."""
    return RetryTransport(inner, policy=_LOST_REPLIES)


def resend_delay(
    request: httpx.Request, attempt: int, *, slept: float, remaining: float
) -> float | None:
    """The seconds to wait before sending ``request`` again, its reply lost on the way
    (the connection closed after it was sent), as ``lost_replies`` would; ``None``: not
    again. ``attempt`` counts the resends made, ``slept`` their waits, ``remaining`` the
    time left."""
    lost = httpx.RemoteProtocolError("the reply was lost", request=request)
    return _LOST_REPLIES.retry_delay(request, lost, attempt, slept=slept, remaining=remaining)


class Within(httpx.BaseTransport):
    """``inner``, each request of which, its retries and its reply's body included, ends
    within ``seconds`` at its socket (``_socket_deadline``): httpx's timeouts bound one
    attempt's each wait for bytes."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with ends(time.monotonic() + self._seconds):
            response = self._inner.handle_request(request)
            response.read()
        return response

    def close(self) -> None:
        self._inner.close()


def api_client(*, within: float, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` (``kwargs`` as for it) for the kit's own API requests: tried
    again while the server asks to try later, and after a reply lost on the way, each
    request ending ``within`` seconds, retries included."""
    return kit_client(transport=Within(lost_replies(PatientHTTPTransport()), within), **kwargs)
