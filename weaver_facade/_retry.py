"""The retry rules, in one I/O-free place: what is retried, how long to wait, and deadlines.

The retry transport (HTTP requests), the poller (operation waits), a download's
``Transfer`` (storage GETs) and the error mapping (``APIError.retryable`` of a reply
without an Error body) all decide with these functions, so they cannot disagree.
What is retried is the README's "What is retried" (an Error body's ``retryable`` first,
then the status, or the transport's failure); beside it:

* A 413 is never retried: the same body is refused again, whatever the reply says.
* A 502 or 504 without an Error body comes from a proxy that may have passed the request
  on: it is retried only for a request safe to repeat.
* **Deadlines.** A wait that would end past the deadline is not started: a
  ``Retry-After`` longer than the time left ends the call (or the operation
  wait) at once, with that reply's error.

Which rule each asks:

==================================  ===========================================================
``response_is_retryable``           the transport (``RetryPolicy.retry_delay``), and the
                                    error mapping (``APIError.retryable``)
``transport_error_is_retryable``    the transport, of a request that got no reply
``error_is_retryable``              the poller (``Poller.on_failure``; ``poll_is_repeatable``)
``poll_is_repeatable``              the poller (``Poller.repeatable``)
``storage_status_is_retryable``     downloads (``Transfer``, of a storage GET's reply)
``tunnel_refusal_is_retryable``     a proxy's refusal of a CONNECT: downloads (``Transfer``)
                                    and the error mapping (``connection_error``)
==================================  ===========================================================
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import json
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs
import httpx

from ._causes import causes, never_reached, no_retry_helps
from ._errors import APIConnectionError, APIError, ResponseValidationError
from ._lazy import wire

NOT_ACTED_STATUSES = frozenset({408, 429, 503})
MAYBE_ACTED_STATUSES = frozenset({502, 504})

_MAYBE_SENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

# Keys of ``httpx.Request.extensions``: a request's ``CallOptions``; a ``() -> bool``
# saying whether the client sending it now refuses to send (it is closing: no retry
# then); the request's ``Reach``.
EXTENSION = "weaver_facade"
REFUSED = "weaver_facade.refused"
REACH = "weaver_facade.reach"


@attrs.define
class Reach:
    """Whether a request may have reached the server so far, kept by the retry transport:
    not while it waits to retry after attempts that all failed before sending (a refused
    connect) or were refused unacted (a 408, 429 or 503), nor while the first attempt that
    may reach it connects, where an interrupt cuts nothing the server got. How many of its
    attempts got no reply (``reply_lost``): so far, while it waits to retry; once it
    failed, the last one's too."""

    maybe: bool = True
    replies_lost: int = 0


class CallOptions(NamedTuple):
    """Per-call overrides the retry transport reads from the request.

    Attributes:
        timeout: The call's deadline in seconds from its first attempt, retries
            included, as ``with_options`` says; ``None``: no deadline.
        max_retries: Overrides the transport's ``max_retries`` (``None``: keep it).
        retry_unreachable: Retry a request that could not reach the server (a failed
            connect). The close's terminates do not: they are best effort, and a server
            that cannot be reached would hold up closing for seconds of backoff.
        stop: Asked before each retry: once true, the request is not sent again and
            the last attempt's outcome stands (a create after a first Ctrl-C).
    """

    timeout: float | None = None
    max_retries: int | None = None
    retry_unreachable: bool = True
    stop: Callable[[], bool] | None = None

    @staticmethod
    def of(request: httpx.Request) -> CallOptions:
        """The options a request carries (the defaults when it carries none)."""
        found = request.extensions.get(EXTENSION)
        return found if isinstance(found, CallOptions) else CallOptions()


def full_jitter(attempt: int, initial: float, maximum: float, rng: Callable[[], float]) -> float:
    """The wait before retry ``attempt + 1``: uniform in [0, min(maximum, initial * 2**attempt))."""
    # The exponent is capped: 2.0**1024 overflows, and a long wait makes that many polls.
    return rng() * min(maximum, initial * 2.0 ** min(attempt, 64))


def parse_http_date(value: str | None) -> datetime.datetime | None:
    """An HTTP-date header (``Retry-After``, ``Date``) as an aware datetime; ``None`` if bad."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=datetime.UTC) if when.tzinfo is None else when


def parse_retry_after(value: str | None, *, now: datetime.datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP-date); ``None`` if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        now = now or datetime.datetime.now(datetime.UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def response_is_retryable(
    status: int, *, replayable: bool, server_says: bool | None = None
) -> bool:
    """Whether a reply may be answered by sending the request again.

    ``server_says`` is its Error body's ``retryable`` (``None``: the reply has none).
    """
    if status == 413:
        return False
    if server_says is not None:
        return server_says and (status in NOT_ACTED_STATUSES or replayable)
    return status in NOT_ACTED_STATUSES or (status in MAYBE_ACTED_STATUSES and replayable)


def server_says_retryable(
    response: httpx.Response, request: httpx.Request | None = None
) -> bool | None:
    """The ``retryable`` of an error reply's Error body, if its body was read and carries one;
    ``request``: the reply's, where the reply is not yet bound to it (a transport's)."""
    body = _error_body(response)
    if body is None:
        return None
    if _polls(response, request) and _legacy_read_failure(response.status_code, body):
        return True  # says `false`, for an operation that may well be there
    flag = body.get("retryable")
    return flag if isinstance(flag, bool) else None


def _error_body(response: httpx.Response) -> Mapping[str, Any] | None:
    """An error reply's JSON object, if its body was read and is one."""
    if response.status_code < 400:
        return None
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None
    if not content.lstrip().startswith(b"{"):
        return None
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nesting a server should not send
        return None
    return body if isinstance(body, dict) else None


# What the generated ``from_dict`` (and ``json``) raise on a reply off the spec: a
# missing key, a wrong type, a bad value, nesting past the recursion limit.
PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


def error_body(data: object) -> wire.Error | None:
    """A reply's JSON as its ``APIError`` reads it: an Error body the generated parser takes
    (one without ``retryable`` is none) with an ``error`` and a ``message``, whose plain
    values' types the parser does not check."""
    if not isinstance(data, Mapping):
        return None
    try:
        body = wire.Error.from_dict(data)
    except PARSE_ERRORS:
        return None
    code: object = body.error
    message: object = body.message
    return body if isinstance(code, str) and isinstance(message, str) else None


def _error_code(response: httpx.Response) -> str | None:
    """The code of an error reply's Error body, as its ``APIError`` has it."""
    body = error_body(_error_body(response))
    return None if body is None else body.error


def _polls(response: httpx.Response, request: httpx.Request | None) -> bool:
    """Whether ``response`` answers a GET of an operation: a poll, or a re-attach's look."""
    request = request or request_of(response)
    return request is not None and request.method == "GET" and "/operations/" in request.url.path


def request_of(outcome: httpx.Response | httpx.RequestError) -> httpx.Request | None:
    """The request of a reply or a failure, if it is bound to one."""
    try:
        return outcome.request
    except RuntimeError:  # built without its request
        return None


def storage_status_is_retryable(status: int) -> bool:
    """Whether a storage GET (a presigned URL) answered with ``status`` is worth repeating.

    Storage differs from the API on one point: object stores answer transient
    faults with a plain 500 too (S3's ``InternalError``) and ask clients to
    retry every 5xx of a GET, which changes nothing.
    """
    return response_is_retryable(status, replayable=True) or status >= 500


#: Whether a proxy's ``status`` to our CONNECT (``_causes.proxy_refusal``) may change on
#: another try: nothing reached the server, so as a GET's (a 5xx: a gateway that could
#: not reach it), not a 4xx of the proxy's rules or of its credentials (403, 407).
tunnel_refusal_is_retryable = storage_status_is_retryable


def transport_error_is_retryable(error: Exception, *, replayable: bool) -> bool:
    """Whether a request that got no reply may be sent again: one that never reached the
    server (a proxy's refusal of the tunnel aside, never retried), or one safe to repeat."""
    if no_retry_helps(error) or isinstance(error, httpx.ProxyError):
        return False
    return never_reached(error) or (isinstance(error, _MAYBE_SENT_ERRORS) and replayable)


def may_have_acted(outcome: object) -> bool:
    """Whether the server may have acted on a request that ended in ``outcome`` (a reply,
    or any transport failure after the request could have reached it)."""
    return not never_reached(outcome)


def reached(outcome: object) -> bool:
    """Whether the server may have acted on an attempt that ended in ``outcome``, for
    ``Reach``: as ``may_have_acted``, but not a 408, 429 or 503, which say it did not."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code not in NOT_ACTED_STATUSES
    return may_have_acted(outcome)


def reply_lost(outcome: object) -> bool:
    """Whether a request that ended in ``outcome`` may have been acted on by a server whose
    reply never came: a transport failure after it could have been sent, or a proxy's 502
    or 504 (a 408, 429 or 503 says the server did not act; a 502 or 504 with an Error body
    is the server's own reply, as its 500 is)."""
    if isinstance(outcome, httpx.Response):
        return (
            outcome.status_code in MAYBE_ACTED_STATUSES and server_says_retryable(outcome) is None
        )
    return may_have_acted(outcome)


# A legacy weaver-server answers a read of its store that failed with a 404 `not_found`
# naming the I/O error; the official SDK polls again on these words (its operations.py).
_LEGACY_READ_FAILURES = re.compile(
    "unexpected eof|connection reset|broken pipe|bad connection|server closed the connection",
    re.IGNORECASE,
)


def _legacy_read_failure(status: int, body: Mapping[str, Any]) -> bool:
    """Whether an Error body is a legacy weaver-server's 404 for a read of its store that
    failed: the transport's and (through ``APIError.retryable``) the poller's rule."""
    message = body.get("message")
    return (
        (status, body.get("error")) == (404, "not_found")
        and isinstance(message, str)
        and _LEGACY_READ_FAILURES.search(message) is not None
    )


def error_is_retryable(error: Exception) -> bool:
    """Whether a facade error of a request that is safe to repeat (a poll) is worth repeating."""
    if isinstance(error, APIConnectionError):
        return not no_retry_helps(error)  # its cause, the transport's error
    if isinstance(error, ResponseValidationError) or not isinstance(error, APIError):
        return False
    # Set by ``_wire.error_from_response`` with ``response_is_retryable``.
    return error.retryable


#: Polls in a row answered with a 5xx that is not otherwise retried (its Error body's
#: ``retryable: false``, or a 500 without one) after which a wait still polls again
#: (``poll_is_repeatable``).
FINAL_5XX_POLLS = 10


def poll_is_repeatable(error: Exception, final_5xx_in_a_row: int) -> bool:
    """Whether a failed poll (a GET of an operation, or of what it made) is worth sending
    again: what ``error_is_retryable`` says, and any other 5xx after fewer than
    ``FINAL_5XX_POLLS`` such in a row. The server failed to answer a look at work that
    may well run on, which a look changes nothing of."""
    if error_is_retryable(error):
        return True
    status = error.status_code if isinstance(error, APIError) else None
    return status is not None and status >= 500 and final_5xx_in_a_row < FINAL_5XX_POLLS


def wait_before_retry(backoff: float, retry_after: float | None) -> float:
    # A shorter Retry-After (0, negative, a date in the past) says nothing about when to
    # come back: taken as given, every retry would follow its failure at once.
    return backoff if retry_after is None else max(backoff, retry_after)


class BodyTimeout(httpx.ReadTimeout):
    """A reply's body still arriving, or none of it come, when its call's deadline (or one
    read timeout) ends; its text says which."""


NO_BODY_IN_TIME = "none of the reply's body came in time"


def describe_failure(error: BaseException | httpx.Response) -> str:
    """A short, key-free description of why a request failed, for outage and retry messages."""
    if isinstance(error, httpx.Response):  # a request's retry: worded as a poll's error
        code = _error_code(error)
        return f"HTTP {error.status_code}" + (f" ({code})" if code else "")
    if isinstance(error, APIConnectionError):
        cause = error.__cause__
        if isinstance(cause, httpx.TransportError):
            return describe_failure(cause)
        return str(error)
    if isinstance(error, APIError):
        return f"HTTP {error.status_code}" + (f" ({error.code})" if error.code else "")
    if isinstance(error, httpx.ConnectError):
        if _refused(error):
            return "connection refused"
        return f"cannot connect ({error})" if str(error) else "cannot connect"
    if isinstance(error, BodyTimeout):
        return str(error) or "the reply's body was still arriving"
    if isinstance(error, httpx.TimeoutException):
        return {
            httpx.ConnectTimeout: "connect timed out",
            httpx.ReadTimeout: "no reply in time",
            httpx.WriteTimeout: "send timed out",
            httpx.PoolTimeout: "no free connection in time",
        }.get(type(error), "timed out")
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        return "connection dropped"
    # A direct storage GET fails past its connect (``_storage_http``) in the socket's errors
    # and http.client's, as httpx's reads do in its own.
    if isinstance(error, TimeoutError):
        return "no reply in time"
    if isinstance(error, OSError | http.client.IncompleteRead | http.client.BadStatusLine):
        return "connection dropped"
    if isinstance(error, zlib.error):  # its Content-Encoding's, which storage's body breaks
        return f"the body does not decode ({error})"
    return type(error).__name__


def _refused(error: BaseException) -> bool:
    """Whether a connect was refused. The async transport says only "All connection
    attempts failed", with the reason a few causes down: for a name of several addresses,
    in the group of its connects' errors. Each is looked at once: a member's causes may
    lead back to its group."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        for e in causes(todo.pop()):
            if id(e) in seen:  # and those behind it
                break
            seen.add(id(e))
            if isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower():
                return True
            if isinstance(e, BaseExceptionGroup):
                todo.extend(e.exceptions)
    return False


def capped_timeouts(timeouts: Mapping[str, float | None], remaining: float) -> dict[str, float]:
    """httpx's per-request ``timeout`` extension, each part capped by the time left."""
    left = attempt_time(remaining)
    return {k: left if v is None else min(v, left) for k, v in timeouts.items()}


def attempt_bound(timeouts: Mapping[str, float | None]) -> float | None:
    """How long an attempt may take without a deadline: its phases' timeouts added up,
    or ``None`` when one has none (httpx's bound each wait for bytes: ``_socket_deadline``)."""
    total = 0.0
    for phase in ("pool", "connect", "write", "read"):
        timeout = timeouts.get(phase)
        if timeout is None:
            return None
        total += timeout
    return total


def attempt_time(remaining: float) -> float:
    """How long an attempt may take with ``remaining`` seconds to the deadline: an
    attempt made at the deadline (the last look of a wait) still gets a little."""
    return max(remaining, 0.05)
