"""The retry transports: httpx transport wrappers around a sans-IO ``RetryPolicy``.

``RetryPolicy`` decides, without I/O, whether and when to send a request
again; ``RetryTransport``/``AsyncRetryTransport`` only send, sleep and log.
They re-send the very same ``httpx.Request``, so its ``Idempotency-Key``
(``_calls``) is the same on every attempt: a server that honours it recognises a
retried save, which never becomes a duplicate or a 409 (for one that ignores it,
see ``EarlierAttempt`` below).

What is retried, and how long it waits, is decided by ``_retry``, within the
``RetrySettings`` and the request's ``CallOptions``.

Each reply's body is read within its attempt, bounded by the call's deadline
(without one, by one read timeout after its headers): a connection dropped in
the middle of a body is a failed attempt like any other, and an error reply's
Error body can decide whether to retry. Replies are therefore never streamed.

A reply's ``EarlierAttempt`` (``response.extensions[EARLIER_ATTEMPT]``) is how
a save, against a server that ignores ``Idempotency-Key``, tells "my own first
attempt made this checkpoint" from a real conflict (see ``_recovery``), and how
a create whose earlier reply was lost warns of a model it may have left behind.

Beside them, what they wrap: the transport the facade makes when given no client
(``own_transport``, with the environment's TLS and proxy settings) or the user's own client
(``ClientTransport``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import random
import re
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Generic, TypeVar, cast

import attrs
import httpx

from . import _retry as rules
from ._args import bounded
from ._causes import (
    TUNNELLED,
    ProxyMounts,
    bad_host,
    causes,
    environment_mounts,
    environment_proxy,
    proxy_taken,
    tunnel_step,
)
from ._errors import (
    ClientClosedError,
    InvalidArgumentError,
)
from ._interrupt import between_requests, connecting, context_set
from ._lazy import asyncio, asyncio_sleep
from ._logs import logger
from ._redact import (
    REDACTED,
    SECRET_HEADER_NAMES,
    SENDING,
    SENT_SECRETS,
    scrub,
    secret_headers,
    secrets_of,
    shown_url,
)
from ._socket_deadline import Lookups, bound_by_deadline, bound_client, ends
from ._wire import (
    EARLIER_ATTEMPT,
    PROXIED,
    EarlierAttempt,
    request_proxy_words,
    with_content,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH"})
C = TypeVar("C", httpx.Client, httpx.AsyncClient)


@attrs.frozen(kw_only=True)
class RetrySettings:
    """How HTTP requests are retried.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        initial_backoff: The cap of the first wait, in seconds; it doubles per retry.
        max_backoff: The largest cap of a wait, in seconds.
        max_retry_after: The longest ``Retry-After`` we wait out, in seconds, if what
            is left of ``max_retry_wait`` allows it: by default, a ``Retry-After`` over
            30 s is not waited out (its error is raised at once, with ``retry_after``).
        max_retry_wait: The most one call may sleep between its attempts, in all.

    A download's transfers from storage follow ``max_retries``, ``max_backoff`` and
    ``max_retry_after`` where they are larger than their own (``DownloadSettings``), so
    that the bounds raised to ride out a restart carry them too.
    """

    max_retries: int = bounded(4, 0, integer=True)
    initial_backoff: float = bounded(0.5, 0, above=True)
    max_backoff: float = bounded(8.0, 0, above=True)
    max_retry_after: float = bounded(60.0, 0)
    max_retry_wait: float = bounded(30.0, 0)


class RetryPolicy:
    """Decides whether a request is sent again and after how long. No I/O, no sleeping.

    Args:
        settings: The limits.
        rng: A ``random.random``-like source in [0, 1), injectable for tests; it draws the
            waits of a download's transfers from storage too.
    """

    def __init__(
        self, settings: RetrySettings | None = None, *, rng: Callable[[], float] | None = None
    ) -> None:
        self.settings: RetrySettings = settings or RetrySettings()
        self._rng = rng or random.random

    def backoff(self, attempt: int) -> float:
        """Full-jitter wait before retry number ``attempt + 1``: uniform in [0, cap)."""
        s = self.settings
        return rules.full_jitter(attempt, s.initial_backoff, s.max_backoff, self._rng)

    @staticmethod
    def is_replayable(request: httpx.Request) -> bool:
        """Whether sending ``request`` twice cannot do the work twice."""
        method = request.method.upper()
        return method in _REPLAYABLE_METHODS or (
            method == "POST" and IDEMPOTENCY_HEADER in request.headers
        )

    def max_retries(self, request: httpx.Request) -> int:
        """The retries ``request`` may have: its own ``CallOptions``, else the settings'."""
        own = rules.CallOptions.of(request).max_retries
        return self.settings.max_retries if own is None else own

    @staticmethod
    def stopped(request: httpx.Request) -> bool:
        """Whether ``request`` must not be sent again (its ``CallOptions.stop`` says so)."""
        stop = rules.CallOptions.of(request).stop
        return stop is not None and stop()

    def retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | Exception,
        attempt: int,
        *,
        slept: float = 0.0,
        remaining: float | None = None,
    ) -> float | None:
        """Seconds to wait before sending ``request`` again, or ``None`` to stop.

        ``attempt`` counts the retries already made (0 after the first try),
        ``slept`` the seconds already slept between them, and ``remaining``
        the time left before the call's deadline (``None``: no deadline).
        """
        s = self.settings
        if attempt >= self.max_retries(request) or self.stopped(request):
            return None
        replayable = self.is_replayable(request)
        retry_after: float | None = None
        if isinstance(outcome, httpx.Response):
            says = rules.server_says_retryable(outcome, request)
            if not rules.response_is_retryable(
                outcome.status_code, replayable=replayable, server_says=says
            ):
                return None
            retry_after = rules.parse_retry_after(outcome.headers.get("Retry-After"))
            if retry_after is not None and retry_after > s.max_retry_after:
                return None
        elif not rules.transport_error_is_retryable(outcome, replayable=replayable) or (
            not rules.CallOptions.of(request).retry_unreachable
            and not rules.may_have_acted(outcome)
        ):
            return None
        # A deadline leaves no time for an attempt after a sleep that reaches it (none, after
        # a sleep without end); the sleep budget may be slept whole ("never more than
        # max_retry_wait in all").
        deadline = math.inf if remaining is None else remaining
        delay = rules.wait_before_retry(self.backoff(attempt), retry_after)
        return None if delay >= deadline or delay > s.max_retry_wait - slept else delay


class _Attempts:
    """One call's retry loop state, shared by both transports: deadline, counters, logging."""

    def __init__(
        self,
        policy: RetryPolicy,
        request: httpx.Request,
        clock: Callable[[], float],
        *,
        asynchronous: bool = False,
    ) -> None:
        self._policy = policy
        self._request = request
        self._clock = clock
        self._sync = not asynchronous  # one request at a time on its thread (``connecting``)
        request.extensions = {
            **request.extensions,
            "trace": self._atrace if asynchronous else self._trace,
        }
        timeout = rules.CallOptions.of(request).timeout
        self._deadline = None if timeout is None else clock() + timeout
        self._base_timeouts = dict(request.extensions.get("timeout") or {})
        self.attempt = 0
        self._slept = 0.0
        # Behind ``EarlierAttempt``: when the attempt being sent left, and the first one
        # the server may have acted on.
        self._sending = 0.0
        self._maybe_acted: float | None = None
        self._replies_lost = 0
        self._earlier: tuple[float | None, int] = (None, 0)  # both, before the attempt sent
        self._counted = False  # the attempt being sent, or last sent, was counted
        # Whether httpcore's trace spoke of the attempt being sent, and if so whether it
        # has sent its headers.
        self._traced = False
        self._sent = False
        # Behind ``Reach``: whether an earlier attempt may have acted (not a 408, 429 or
        # 503, which ``_maybe_acted`` counts all the same, for a 409's recovery).
        self._reached = False
        found = request.extensions.get(rules.REACH)
        self._reach = found if isinstance(found, rules.Reach) else rules.Reach()  # unread

    def before_send(self) -> float | None:
        """Cap this attempt's timeouts by the time left; log the request at DEBUG. The
        seconds the attempt may take: by the call's deadline, if it has one, else by its
        own timeouts (``attempt_bound``)."""
        if self._deadline is not None and self._base_timeouts:
            remaining = self._deadline - self._clock()
            self._request.extensions = {
                **self._request.extensions,
                "timeout": rules.capped_timeouts(self._base_timeouts, remaining),
            }
        if logger.isEnabledFor(logging.DEBUG):
            headers = self._request.headers.multi_items()
            logger.debug(
                "request %s %s (attempt %d) headers=%s",
                self._request.method,
                shown_url(self._request.url),
                self.attempt + 1,
                {k: (REDACTED if k.lower() in SECRET_HEADER_NAMES else v) for k, v in headers},
            )
        self._sending = time.monotonic()
        self._earlier = (self._maybe_acted, self._replies_lost)
        self._traced = self._sent = self._counted = False
        self._request.extensions.pop(TUNNELLED, None)
        self._reach.maybe = True
        if self._deadline is None:
            return rules.attempt_bound(self._base_timeouts)
        return rules.attempt_time(self._deadline - self._clock())

    def _trace(self, event: str, info: Mapping[str, object]) -> None:
        """httpcore's hook: an attempt still connecting has sent nothing, so a Ctrl-C or a
        cancel then cuts nothing the server got, unless an earlier attempt may have acted;
        once its headers go out, the server may act on it, also while a transport of the
        user's sends it again, connecting anew: not a proxy's CONNECT's, which is still
        making the connection. (A transport that does not call the hook leaves every
        attempt one that may have reached the server.)"""
        self._traced = True
        tunnel = tunnel_step(event, info)
        if event.endswith(".send_request_headers.started"):
            self._note_secrets(info)
        if event.endswith((".connect_tcp.started", ".connect_unix_socket.started")):
            self._reach.maybe = self._sent or self._reached
            if self._sync and not (self._sent or self._reached):  # else a reply may tell
                connecting(True)
        elif event.endswith(".send_request_headers.started") and tunnel is None:
            self._sent = True
            self._reach.maybe = True
            if self._sync:
                connecting(False)
            if self._request.url.scheme == "https" and PROXIED in self._request.extensions:
                # Through an open tunnel: maybe one an earlier request opened (no CONNECT).
                self._request.extensions[TUNNELLED] = True
        elif tunnel is False and self._sent:  # a transport of the user's sending it again
            self._request.extensions.pop(TUNNELLED, None)
        elif tunnel is not None:
            self._request.extensions[TUNNELLED] = tunnel

    def _note_secrets(self, info: Mapping[str, object]) -> None:
        """The secret headers of what httpcore sends, which the request may not hold
        (``SENT_SECRETS``), so that the records of its reply, logged after this hook,
        and its reply and errors are scrubbed of them."""
        sent = secret_headers(getattr(info.get("request"), "headers", None) or ())
        known = self._request.extensions.get(SENT_SECRETS) or ()
        new = tuple(header for header in sent if header not in known)
        if new:
            self._request.extensions[SENT_SECRETS] = (*known, *new)

    async def _atrace(self, event: str, info: Mapping[str, object]) -> None:
        self._trace(event, info)

    def _reached_by(self, outcome: httpx.Response | Exception) -> bool:
        """``rules.reached``; but a failure before the attempt's headers went out, as the
        trace tells (a proxy's CONNECT that timed out), reached nothing."""
        if isinstance(outcome, Exception) and self._traced and not self._sent:
            return False
        return rules.reached(outcome)

    def after_sleep(self, closed: bool) -> bool:
        """Whether to send again after the sleep: not once the request was ``stopped``
        meanwhile. Refused once the transport was closed, or its client began closing,
        while the retry waited: the client's owner has stopped it, and a late retry could
        still act on the server (create a model that the close no longer terminates)."""
        self._check_open(closed)
        return not self._policy.stopped(self._request)

    def _check_open(self, closed: bool) -> None:
        refused = self._request.extensions.get(rules.REFUSED)
        if closed or (callable(refused) and refused()):
            raise ClientClosedError(
                f"{self._request.method} {self._request.url.path}: not retried, "
                "the Weaver client was closed"
            )

    def last(self, outcome: httpx.Response | Exception) -> httpx.Response:
        """The reply to hand on, with the earlier attempt noted; or its error, raised,
        with ``Reach`` saying whether any attempt may have reached the server."""
        if isinstance(outcome, Exception):
            self._count(outcome)
            raise outcome
        # The reason phrase, which a server may build from the request's headers: errors
        # quote it, and the facade's own httpx client logs it once this call's request is
        # no longer ``SENDING``.
        reason = outcome.extensions.get("reason_phrase")
        if isinstance(reason, bytes):
            secrets = secrets_of(self._request)
            outcome.extensions["reason_phrase"] = scrub(reason.decode("latin-1"), secrets).encode(
                "latin-1"
            )
        # Of the attempts before this reply's alone: a retry stopped after its wait has
        # counted this one too (``_count``).
        maybe_acted, replies_lost = self._earlier
        if maybe_acted is not None:
            outcome.extensions[EARLIER_ATTEMPT] = EarlierAttempt(
                sent=maybe_acted, received=time.monotonic(), replies_lost=replies_lost
            )
        return outcome

    def bound(self, response: httpx.Response) -> httpx.Response:
        """``response`` with its body bounded in time."""
        ends = [self._deadline] if self._deadline is not None else []
        read = (self._request.extensions.get("timeout") or {}).get("read")
        if read is not None:  # the whole body within one read timeout of its headers
            ends.append(self._clock() + read)
        if ends:
            response.stream = _BoundedBody(response.stream, min(ends), self._clock, self._request)
        return response

    def _count(self, outcome: httpx.Response | Exception) -> None:
        """Count the attempt that ended in ``outcome``, with no attempt on its way now:
        behind ``EarlierAttempt``, the first that may have acted and the replies lost;
        ``Reach`` too, for a Ctrl-C, a cancel or a close in the wait, or the error raised.
        Once an attempt: a retry stopped after its wait ends with the outcome counted before
        it (told by the attempt, not the outcome's identity: a transport may raise one error
        object again)."""
        if self._counted:
            return
        self._counted = True
        if self._maybe_acted is None and rules.may_have_acted(outcome):
            self._maybe_acted = self._sending
        self._replies_lost += rules.reply_lost(outcome)
        self._reached = self._reached or self._reached_by(outcome)
        self._reach.maybe = self._reached
        self._reach.replies_lost = self._replies_lost

    def next_delay(self, outcome: httpx.Response | Exception, closed: bool) -> float | None:
        """Ask the policy, and log what it decided. A retry is refused at once when the
        client is closing (``closed``): its close may be what cut the request."""
        request = self._request
        remaining = None if self._deadline is None else self._deadline - self._clock()
        delay = self._policy.retry_delay(
            request, outcome, self.attempt, slept=self._slept, remaining=remaining
        )
        if delay is not None:
            self._count(outcome)
            self._check_open(closed)  # after: a close cuts what reached nothing, too
            through = (
                request_proxy_words(outcome) if isinstance(outcome, httpx.RequestError) else ""
            )
            logger.warning(
                "%s %s: %s; retrying in %.1f s (retry %d)",
                request.method,
                request.url.path,
                # A transport error's own words are in it, which may quote the key; the
                # proxy's part is named as in its error, and in storage's retries.
                scrub(rules.describe_failure(outcome) + through, secrets_of(request)),
                delay,
                self.attempt + 1,
            )
            self.attempt += 1
            self._slept += delay
        elif isinstance(outcome, httpx.Response) and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "reply %s %s: %d request_id=%s",
                request.method,
                request.url.path,
                outcome.status_code,
                scrub(outcome.headers.get("X-Request-ID"), secrets_of(request)),
            )
        return delay


def _still_arriving(request: httpx.Request, begun: bool) -> rules.BodyTimeout:
    # A deadline that passed before any of the body (its headers in time) leaves none read.
    said = "the reply's body was still arriving" if begun else rules.NO_BODY_IN_TIME
    return rules.BodyTimeout(said, request=request)


def _begun(reply: httpx.Response) -> bool:
    """Whether a piece of ``reply``'s body came in time (it is bounded: ``_BoundedBody``)."""
    return isinstance(reply.stream, _BoundedBody) and reply.stream.begun


class _BoundedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply's body that must have arrived by ``ends``: a body sent a byte at a time
    would hold a call past its deadline, or without one for ever (``_socket_deadline``)."""

    def __init__(
        self, stream: object, ends: float, clock: Callable[[], float], request: httpx.Request
    ) -> None:
        self._stream = stream
        self._ends = ends
        self._clock = clock
        self._request = request
        self.begun = False  # a piece of the body came in time

    def _late(self) -> rules.BodyTimeout:
        return _still_arriving(self._request, self.begun)

    def _in_time(self, chunk: bytes) -> bytes:
        if self._clock() > self._ends:
            raise self._late()
        self.begun = self.begun or bool(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in cast(httpx.SyncByteStream, self._stream):
                yield self._in_time(chunk)
        except httpx.ReadTimeout as exc:  # a wait for bytes cut by the deadline (_socket_deadline)
            if isinstance(exc, rules.BodyTimeout):
                raise
            raise self._late() from None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in cast(httpx.AsyncByteStream, self._stream):
                yield self._in_time(chunk)
        except httpx.ReadTimeout as exc:
            if isinstance(exc, rules.BodyTimeout):
                raise
            raise self._late() from None

    def close(self) -> None:
        cast(httpx.SyncByteStream, self._stream).close()

    async def aclose(self) -> None:
        await cast(httpx.AsyncByteStream, self._stream).aclose()


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries through a ``RetryPolicy``.

    Args:
        transport: The transport that really sends (default httpx's, through the proxy
            the environment names, if one).
        policy: The retry decisions (default ``RetryPolicy()``).
        sleep: How to wait; injectable for tests.
        clock: A monotonic clock for deadlines; injectable for tests.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport or own_transport()
        self.policy: RetryPolicy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy says; the last reply, or its transport error."""
        attempts = _Attempts(self.policy, request, self._clock)
        with context_set(SENDING, (request, REDACTED)):
            while True:
                left = attempts.before_send()
                outcome: httpx.Response | Exception
                try:
                    with (
                        ends(None if left is None else time.monotonic() + left),
                        between_requests(idle=False),
                    ):
                        outcome = _read(attempts.bound(self._transport.handle_request(request)))
                except httpx.TransportError as exc:
                    outcome = exc
                delay = attempts.next_delay(outcome, self._closed)
                if delay is None:
                    return attempts.last(outcome)
                with between_requests():  # a held Ctrl-C ends the wait: no reply to lose
                    self._sleep(delay)
                if not attempts.after_sleep(self._closed):
                    return attempts.last(outcome)

    def close(self) -> None:
        """Close the wrapped transport; a retry waiting now is not sent."""
        self._closed = True
        self._transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of ``RetryTransport``, driven by the same ``RetryPolicy``."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio_sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport or own_async_transport()
        self.policy: RetryPolicy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """See ``RetryTransport.handle_request``."""
        attempts = _Attempts(self.policy, request, self._clock, asynchronous=True)
        with context_set(SENDING, (request, REDACTED)):
            while True:
                bounded = asyncio.timeout(attempts.before_send())  # whatever the transport
                outcome: httpx.Response | Exception
                reply = None
                try:
                    async with bounded:
                        reply = await self._transport.handle_async_request(request)
                        outcome = await _aread(attempts.bound(reply))
                except httpx.TransportError as exc:
                    outcome = exc
                except TimeoutError:
                    if not bounded.expired():
                        raise
                    outcome = (
                        httpx.ReadTimeout("no reply in time", request=request)
                        if reply is None
                        else _still_arriving(request, _begun(reply))
                    )
                delay = attempts.next_delay(outcome, self._closed)
                if delay is None:
                    return attempts.last(outcome)
                await self._sleep(delay)
                if not attempts.after_sleep(self._closed):
                    return attempts.last(outcome)

    async def aclose(self) -> None:
        """Close the wrapped transport; a retry waiting now is not sent."""
        self._closed = True
        await self._transport.aclose()


class _ThroughClient(Generic[C]):
    """Sends through a user's httpx client, so that its transport, proxies, auth and
    hooks carry the facade's requests while the facade's own client still sets the
    API-key header (see ``_ServiceBase._generated``). Its ``follow_redirects`` is
    not: httpx drops ``Authorization`` on a redirect to another host, but not the API
    key's header, which would go to any host (the facade's own client follows none).

    The user's client is not closed by us: its owner closes it (``owned``: we are). Ours
    goes through the environment's proxies, read as it was made (``mounts``): each request
    holds the one httpx takes for it.
    """

    def __init__(
        self,
        client: C,
        *,
        owned: bool = False,
        mounts: ProxyMounts = (),
        lookups: Lookups | None = None,
    ) -> None:
        self._client: C = client
        self._owned = owned
        self._mounts = mounts
        self._lookups = lookups  # an owned client's, stopped as it closes (``own_transport``)

    def _prepared(self, request: httpx.Request) -> httpx.Request:
        # The user's own default headers (say, a proxy token) still apply; ours win.
        for key, value in self._client.headers.multi_items():
            if key not in request.headers:
                request.headers[key] = value
        if self._mounts and (proxy := proxy_taken(request.url, self._mounts, self._client)):
            request.extensions[PROXIED] = proxy
        return request


class ClientTransport(_ThroughClient[httpx.Client], httpx.BaseTransport):
    """Sends through a user's ``httpx.Client`` (see ``_ThroughClient``)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        prepared = self._prepared(request)
        return _detached(self._client.send(prepared, stream=True, follow_redirects=False))

    def close(self) -> None:
        if self._lookups is not None:
            self._lookups.stop()
        if self._owned:
            self._client.close()


class AsyncClientTransport(_ThroughClient[httpx.AsyncClient], httpx.AsyncBaseTransport):
    """The async twin of ``ClientTransport``, for a user's ``httpx.AsyncClient``."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        prepared = self._prepared(request)
        return _detached(await self._client.send(prepared, stream=True, follow_redirects=False))

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


@contextlib.contextmanager
def environment_settings() -> Iterator[None]:
    """Building an httpx transport or client, which reads the CA bundle and the proxies
    the environment names: a setting it cannot use is refused, before any request."""
    try:
        yield
    except (OSError, ValueError, ImportError, httpx.InvalidURL) as exc:  # ssl.SSLError: OSError
        said = str(exc)
        cert_file = os.environ.get("SSL_CERT_FILE")
        if isinstance(exc, OSError) and exc.filename is None and cert_file:
            # ssl names no file; SSL_CERT_DIR is only read when a certificate is looked up
            said = f"SSL_CERT_FILE={cert_file!r}: {exc.strerror or exc}"
        # A proxy URL's user name may be its key (``shown_url``): httpx's URL repr
        # hides only a password.
        said = _USERINFO.sub(r"\1***@", said)
        cut = isinstance(exc, httpx.InvalidURL) and _user_info_cut()
        if cut:  # httpx quotes what it could not read as the host or port: the user info
            said = _CUT_USER_INFO
        for each in causes(exc):  # behind ours all the same (``__context__``)
            each.__traceback__ = None  # its frames hold the proxy URL (httpx's, ours)
            each.args = tuple(
                (_CUT_USER_INFO if cut else _USERINFO.sub(r"\1***@", arg))
                if isinstance(arg, str)
                else arg
                for arg in each.args
            )
        raise InvalidArgumentError(
            f"the environment's TLS or proxy settings cannot be used ({type(exc).__name__}: "
            f"{said}); see SSL_CERT_FILE, SSL_CERT_DIR and the *_PROXY variables"
        ) from None


_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]*@")
_CUT_USER_INFO = (
    "the user info of a proxy URL holds a '/', '?' or '#', which ends the URL's host: "
    "percent-encode it (%2F, %3F, %23)"
)


def _user_info_cut() -> bool:
    """Whether a proxy URL the environment names has user info that a ``/``, ``?`` or ``#``
    cuts short: httpx then reads a part of it (of the password) as the host and port."""
    for scheme, proxy in urllib.request.getproxies().items():
        rest = proxy.partition("://")[2] or proxy
        if scheme != "no" and "@" in rest and "@" not in re.split(r"[/?#]", rest, maxsplit=1)[0]:
            return True
    return False


def tls_context() -> ssl.SSLContext:
    """httpx's default context for the trust the environment names (``SSL_CERT_FILE``,
    else ``SSL_CERT_DIR``, else certifi's bundle), shared: loading a bundle takes about
    0.1 s, which every client paid, blocking an event loop. A bundle changed since
    (another file, mtime or size) is read anew; one that cannot be read fails each time."""
    if path := os.environ.get("SSL_CERT_FILE"):
        kind = "file"
    elif path := os.environ.get("SSL_CERT_DIR"):
        kind = "dir"
    else:
        import certifi  # as httpx does: only when needed

        kind, path = "certifi", certifi.where()
    try:
        found = os.stat(path)
        identity: tuple[int, int, int] | None = (found.st_ino, found.st_mtime_ns, found.st_size)
    except OSError:
        identity = None
    # ssl.create_default_context also reads SSLKEYLOGFILE.
    return _tls_context((kind, path, identity, os.environ.get("SSLKEYLOGFILE")))


@functools.lru_cache(maxsize=4)
def _tls_context(trust: tuple[object, ...]) -> ssl.SSLContext:
    """Keyed by ``trust``: what httpx reads from the environment to build it."""
    return httpx.create_ssl_context()


def _proxy_mounts(url: str | None) -> ProxyMounts:
    """The environment's proxies as httpx mounts them (``environment_mounts``) if requests
    for ``url`` (for any URL, if ``None``) go through one, as httpx decides
    (``proxy_taken``), else none; a ValueError, which ``environment_settings`` words, for
    one whose host no name lookup can encode."""
    mounts = environment_mounts()
    proxy = environment_proxy() if url is None else proxy_taken(url, mounts)
    if proxy and (problem := bad_host(httpx.URL(proxy))):
        raise ValueError(f"the proxy's {problem}")
    return mounts if proxy else ()


def own_transport(url: str | None = None) -> httpx.BaseTransport:
    """What sends when the user gives no client: httpx's transport, or a client of its
    own when the environment names a proxy for ``url`` (given a transport, httpx
    ignores them). Its close stops its connects' name lookups too (``Lookups``): a call
    in another thread waiting for one ends at once, as one reading a connection does.
    ``url`` goes without its user info: a refusal's traceback shows this frame."""
    with environment_settings():  # which drops the frames below, that hold the proxy URL
        return _own_transport(url)


def _own_transport(url: str | None) -> httpx.BaseTransport:
    lookups = Lookups()
    if mounts := _proxy_mounts(url):
        client = bound_client(httpx.Client(verify=tls_context()), lookups)
        return ClientTransport(client, owned=True, mounts=mounts, lookups=lookups)
    transport = _OwnTransport(lookups, verify=tls_context())
    bound_by_deadline([transport], lookups)
    return transport


class _OwnTransport(httpx.HTTPTransport):
    """httpx's transport, whose close stops ``lookups`` (``own_transport``)."""

    def __init__(self, lookups: Lookups, *, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify)
        self._lookups = lookups

    def close(self) -> None:
        self._lookups.stop()
        super().close()


def own_async_transport(url: str | None = None) -> httpx.AsyncBaseTransport:
    """See ``own_transport``."""
    with environment_settings():
        return _own_async_transport(url)


def _own_async_transport(url: str | None) -> httpx.AsyncBaseTransport:
    if mounts := _proxy_mounts(url):
        client = httpx.AsyncClient(verify=tls_context())
        return AsyncClientTransport(client, owned=True, mounts=mounts)
    return httpx.AsyncHTTPTransport(verify=tls_context())


def _read(response: httpx.Response) -> httpx.Response:
    # The reply goes on as read, not copied (a copy per reply was a twentieth of the
    # facade's own time in B1): httpx's client keeps a body already read.
    try:
        response.read()
    except Exception:  # a transport error, or a body that does not decode: free the connection
        response.close()
        raise
    return response


async def _aread(response: httpx.Response) -> httpx.Response:
    try:
        await response.aread()
    except Exception:  # see _read
        await response.aclose()
        raise
    return response


def _detached(response: httpx.Response) -> httpx.Response:
    # A fresh, unread response around the same byte stream: our own client
    # reads (and decodes) it, exactly as if it came from a transport. Once the body
    # was read (by a response hook of the user's client, as httpx's docs show for
    # logging), the stream is spent: the decoded body is passed on instead.
    if response.is_stream_consumed:
        return with_content(response, response.content)
    return httpx.Response(
        status_code=response.status_code,
        headers=response.headers,
        stream=response.stream,
        extensions=response.extensions,
    )
