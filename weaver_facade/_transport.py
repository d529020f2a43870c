"""Retries, in one place: httpx transport wrappers around a sans-IO ``RetryPolicy``.

``RetryPolicy`` decides, without I/O, whether and when to send a request
again; ``RetryTransport``/``AsyncRetryTransport`` only send, sleep and log.
They re-send the very same ``httpx.Request``, so its ``Idempotency-Key``
header (one per logical call, set by the facade on every POST) is the same on
every attempt: a retried save is recognised by the server and never becomes a
duplicate or a 409.

What is retried:

* connection failures that happened before the server could have seen the
  request (connect errors and timeouts, pool timeouts), for every method;
* 408, 429 and 503, which say the server did not act, for every method;
* other transport failures (read timeouts, dropped connections) and 502/504,
  only for requests that are safe to repeat: GET/HEAD/OPTIONS/PUT/PATCH, and
  POSTs that carry an ``Idempotency-Key``. DELETE is not repeated then: a
  repeat of a delete that did happen would answer 404.

Waits are capped exponential backoff with full jitter; a ``Retry-After``
header is honoured when it is at most ``max_retry_after`` seconds; a longer one
is not waited out: the error surfaces at once with ``retry_after`` set.

A reply that follows an attempt the server may have acted on (any failure
after the request was sent: a dropped connection, a timeout, a 5xx) carries an
``EarlierAttempt`` in ``response.extensions[EARLIER_ATTEMPT]``. Against a
server that ignores ``Idempotency-Key``, that is how a save tells "my own
first attempt made this checkpoint" from a real conflict (see ``_recovery``).

Logging goes to ``logging.getLogger("weaver_facade")``; ``WEAVER_LOG=debug``
logs every request and reply with the API key redacted.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Awaitable, Callable

import attrs
import httpx

from ._wire import API_KEY_HEADER, EARLIER_ATTEMPT, REDACTED, EarlierAttempt, parse_retry_after

__all__ = [
    "AsyncRetryTransport",
    "RetryPolicy",
    "RetrySettings",
    "RetryTransport",
    "configure_logging",
    "logger",
]

logger = logging.getLogger("weaver_facade")

IDEMPOTENCY_HEADER = "Idempotency-Key"
_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH"})
_NOT_ACTED_STATUSES = frozenset({408, 429, 503})
_MAYBE_ACTED_STATUSES = frozenset({502, 504})
# Failures before the request could reach the server.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@attrs.frozen(kw_only=True)
class RetrySettings:
    """How HTTP requests are retried.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        initial_backoff: The cap of the first wait, in seconds; it doubles per retry.
        max_backoff: The largest cap of a wait, in seconds.
        max_retry_after: The longest ``Retry-After`` we wait out, in seconds.
    """

    max_retries: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    initial_backoff: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))
    max_backoff: float = attrs.field(default=8.0, validator=attrs.validators.gt(0))
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))


class RetryPolicy:
    """Decides whether a request is sent again and after how long. No I/O, no sleeping.

    Args:
        settings: The limits.
        rng: A ``random.random``-like source in [0, 1), injectable for tests.
    """

    def __init__(
        self, settings: RetrySettings | None = None, *, rng: Callable[[], float] | None = None
    ) -> None:
        self.settings = settings or RetrySettings()
        self._rng = rng or random.random

    def backoff(self, attempt: int) -> float:
        """Full-jitter wait before retry number ``attempt + 1``: uniform in [0, cap)."""
        s = self.settings
        cap = min(s.max_backoff, s.initial_backoff * 2.0 ** min(attempt, 64))  # 2.0**1024 overflows
        return self._rng() * cap

    @staticmethod
    def is_replayable(request: httpx.Request) -> bool:
        """Whether sending ``request`` twice cannot do the work twice."""
        method = request.method.upper()
        return method in _REPLAYABLE_METHODS or (
            method == "POST" and IDEMPOTENCY_HEADER in request.headers
        )

    def retry_delay(
        self, request: httpx.Request, outcome: httpx.Response | Exception, attempt: int
    ) -> float | None:
        """Seconds to wait before sending ``request`` again, or ``None`` to stop.

        ``attempt`` counts the retries already made (0 after the first try).
        """
        if attempt >= self.settings.max_retries:
            return None
        if isinstance(outcome, httpx.Response):
            status = outcome.status_code
            if status in _NOT_ACTED_STATUSES or (
                status in _MAYBE_ACTED_STATUSES and self.is_replayable(request)
            ):
                retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
                if retry_after is None:
                    return self.backoff(attempt)
                return retry_after if retry_after <= self.settings.max_retry_after else None
            return None
        if isinstance(outcome, _NOT_SENT_ERRORS) or (
            isinstance(outcome, _MAYBE_SENT_ERRORS) and self.is_replayable(request)
        ):
            return self.backoff(attempt)
        return None


class _Attempts:
    """The bookkeeping behind ``EarlierAttempt``, shared by both transports."""

    def __init__(self) -> None:
        self._sending = 0.0
        self._maybe_acted: float | None = None

    def sending(self) -> None:
        self._sending = time.monotonic()

    def retrying(self, outcome: httpx.Response | Exception) -> None:
        if self._maybe_acted is None and not isinstance(outcome, _NOT_SENT_ERRORS):
            self._maybe_acted = self._sending

    def stamp(self, response: httpx.Response) -> httpx.Response:
        if self._maybe_acted is not None:
            response.extensions[EARLIER_ATTEMPT] = EarlierAttempt(
                sent=self._maybe_acted, received=time.monotonic()
            )
        return response


def _describe(outcome: httpx.Response | Exception) -> str:
    if isinstance(outcome, httpx.Response):
        return f"HTTP {outcome.status_code}"
    return type(outcome).__name__


def _redacted_headers(headers: httpx.Headers) -> dict[str, str]:
    return {
        k: (REDACTED if k.lower() == API_KEY_HEADER.lower() else v)
        for k, v in headers.multi_items()
    }


def _log_request(request: httpx.Request, attempt: int) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "request %s %s (attempt %d) headers=%s",
            request.method,
            request.url,
            attempt + 1,
            _redacted_headers(request.headers),
        )


def _next_delay(
    policy: RetryPolicy,
    request: httpx.Request,
    outcome: httpx.Response | Exception,
    attempt: int,
) -> float | None:
    """Ask the policy, and log what it decided."""
    delay = policy.retry_delay(request, outcome, attempt)
    if delay is not None:
        logger.info(
            "retrying %s %s after %s in %.2f s (retry %d)",
            request.method,
            request.url.path,
            _describe(outcome),
            delay,
            attempt + 1,
        )
    elif isinstance(outcome, httpx.Response) and logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "reply %s %s: %d request_id=%s",
            request.method,
            request.url.path,
            outcome.status_code,
            outcome.headers.get("X-Request-ID"),
        )
    return delay


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries through a ``RetryPolicy``.

    Args:
        transport: The transport that really sends (default ``httpx.HTTPTransport()``).
        policy: The retry decisions (default ``RetryPolicy()``).
        sleep: How to wait; injectable for tests.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport or httpx.HTTPTransport()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy says; the last reply, or its transport error."""
        attempt = 0
        attempts = _Attempts()
        while True:
            _log_request(request, attempt)
            outcome: httpx.Response | Exception
            attempts.sending()
            try:
                outcome = self._transport.handle_request(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = _next_delay(self.policy, request, outcome, attempt)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise outcome
                return attempts.stamp(outcome)
            attempts.retrying(outcome)
            if isinstance(outcome, httpx.Response):
                outcome.close()
            self._sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Close the wrapped transport."""
        self._transport.close()


async def _asyncio_sleep(seconds: float) -> None:
    import asyncio  # only the async handles need it; see _lazy

    await asyncio.sleep(seconds)


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of ``RetryTransport``, driven by the same ``RetryPolicy``."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
    ) -> None:
        self._transport = transport or httpx.AsyncHTTPTransport()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy says; the last reply, or its transport error."""
        attempt = 0
        attempts = _Attempts()
        while True:
            _log_request(request, attempt)
            outcome: httpx.Response | Exception
            attempts.sending()
            try:
                outcome = await self._transport.handle_async_request(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = _next_delay(self.policy, request, outcome, attempt)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise outcome
                return attempts.stamp(outcome)
            attempts.retrying(outcome)
            if isinstance(outcome, httpx.Response):
                await outcome.aclose()
            await self._sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._transport.aclose()


class ClientTransport(httpx.BaseTransport):
    """Sends through a user's ``httpx.Client``, so that its transport, proxies,
    auth and hooks carry the facade's requests while the facade's own client
    still sets the API-key header (``set_httpx_client`` would drop it).

    The user's client is not closed by us: its owner closes it.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _merge_default_headers(request, self._client.headers)
        return _detached(self._client.send(request, stream=True))


class AsyncClientTransport(httpx.AsyncBaseTransport):
    """The async twin of ``ClientTransport``, for a user's ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _merge_default_headers(request, self._client.headers)
        return _detached(await self._client.send(request, stream=True))


def _detached(response: httpx.Response) -> httpx.Response:
    # A fresh, unread response around the same byte stream: our own client
    # reads (and decodes) it, exactly as if it came from a transport.
    return httpx.Response(
        status_code=response.status_code,
        headers=response.headers,
        stream=response.stream,
        extensions=response.extensions,
    )


def _merge_default_headers(request: httpx.Request, defaults: httpx.Headers) -> None:
    # The user's own default headers (say, a proxy token) still apply; ours win.
    for key, value in defaults.multi_items():
        if key not in request.headers:
            request.headers[key] = value


def configure_logging(env: str | None = None) -> None:
    """Apply ``WEAVER_LOG`` (``debug`` or ``info``): set the level and add a stderr handler."""
    level_name = (env if env is not None else os.environ.get("WEAVER_LOG", "")).strip().upper()
    if level_name not in {"DEBUG", "INFO"}:
        return
    logger.setLevel(getattr(logging, level_name))
    if not any(getattr(h, "_weaver_env_handler", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._weaver_env_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
