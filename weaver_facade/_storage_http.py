"""HTTP/1.1 GETs of presigned storage URLs, each body read into the caller's buffer
(why ``http.client``, not the generated client: DEVELOPERS.md, "Storage downloads").

* **No API key.** A request carries only the headers its caller gives, and
  every redirect (up to ``MAX_REDIRECTS``, to any host) carries the same.
* **TLS** is verified with the API's context (``tls_context``: httpx's default, the
  same CA bundle and ``SSL_CERT_FILE``/``SSL_CERT_DIR`` rules), taken on first HTTPS use.
* **Proxies.** When the environment names one (``environment_proxy``), every GET
  goes through an httpx client with ``trust_env``, so the proxy rules (``NO_PROXY``
  included) stay httpx's; its replies are read through the same ``readinto``.
* **Timeouts**: ``CONNECT_TIMEOUT`` to look the host's name up, and again to connect
  (TLS included), or the time left before the caller's deadline if shorter,
  ``read_timeout`` between two reads.
* **Stopping.** ``abort`` shuts down the sockets of the GETs in flight, which
  ends a connect or a read blocked on any of them at once, and stops waiting for a
  name's lookup (``Lookups``, the proxy's too); every GET has a connection of its
  own (through the proxy too: httpx keeps none alive), so each socket is known.
* **Logs.** A presigned URL is a credential; the direct GETs log nothing, and
  through the proxy httpx's and httpcore's records are dropped while a thread
  sends a storage GET (they hold the URL, and a redirect's ``Location``).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

import attrs
import httpx

from ._causes import (
    ProxyMounts,
    bad_host,
    environment_mounts,
    environment_proxy,
    proxy_taken,
    tunnel_step,
)
from ._redact import HTTPCORE_LOGGERS, shown_url
from ._retry import request_of
from ._socket_deadline import Lookups, bound_client, ends
from ._transport import environment_settings, tls_context

MAX_REDIRECTS = 20  # as httpx
CONNECT_TIMEOUT = 10.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LOOP = f"a redirect loop: more than {MAX_REDIRECTS} redirects"


# Where httpx logs a request's URL (INFO) and httpcore a reply's headers (DEBUG).
_HTTPX_LOGGERS = ("httpx", "httpcore.socks", *HTTPCORE_LOGGERS)
_SENDING = threading.local()


def _quiet(record: logging.LogRecord) -> bool:
    return not getattr(_SENDING, "active", False)


# A GET's extension through httpx: its ``Route``, which its redirects share (httpx gives
# each a copy of the extensions).
_ROUTE = "weaver_facade.storage_route"


@attrs.define
class Route:
    """The proxy a GET through httpx went through for its last request, a redirect's
    (``None``: its host is exempt), its user info hidden (``shown_url``: its failure's
    request holds this), and whether that proxy had opened its tunnel (of an https URL)
    for the connection made last, as httpcore's trace tells."""

    proxy: str | None = None
    tunnelled: bool = False


def route(error: BaseException) -> Route | None:
    """How the GET that failed in ``error`` went, if through httpx."""
    request = request_of(error) if isinstance(error, httpx.RequestError) else None
    found = None if request is None else request.extensions.get(_ROUTE)
    return found if isinstance(found, Route) else None


class StorageProtocolError(http.client.HTTPException):
    """A URL this client cannot fetch (``UnfetchableURLError``), or a stopped download."""


class UnfetchableURLError(StorageProtocolError):
    """A URL no retry can fetch: relative, of another scheme than HTTP(S), a bad port or
    IPv6 literal, a host name IDNA cannot encode, or one that redirects in a loop."""


def _unfetchable(why: object) -> UnfetchableURLError:
    return UnfetchableURLError(f"cannot fetch this URL: {why}")


@contextlib.contextmanager
def _unfetchable_on(*errors: type[Exception]) -> Iterator[None]:
    """``errors`` of a URL that no retry can fetch, as ``UnfetchableURLError``."""
    try:
        yield
    except errors as exc:
        raise _unfetchable(exc) from None


def _refuse_bad_host(url: httpx.URL) -> None:
    """A host no name lookup can take (``bad_host``: an ``xn--`` label that is not punycode,
    say, where httpx raises idna's own error), refused in words that name it, not the URL,
    whose query is a credential."""
    if problem := bad_host(url):
        raise _unfetchable(problem)


#: What a failed connection, a dropped one or a malformed reply raises: the
#: caller resumes from the last byte it has.
FAILURES = (OSError, http.client.HTTPException, httpx.RequestError)


@contextlib.contextmanager
def _connecting() -> Iterator[None]:
    """A direct GET's failure to connect (a name's lookup, TCP, TLS's handshake) as httpx's,
    as httpcore maps it: as a GET's through the proxy, and an API call's (their words)."""
    try:
        yield
    except TimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpx.ConnectError(str(exc)) from exc


_UNSENDABLE = re.compile(r"[^\x00-\x1f\x21-\x7f]+")  # a space or a non-ASCII character


class Reply(Protocol):
    """A reply whose body is still to be read."""

    status: int
    headers: Mapping[str, str]  # lowercase names

    def readinto(self, buffer: memoryview) -> int:
        """Read what has arrived of the body into ``buffer`` (at most its length);
        0 at the end. A body cut short raises one of ``FAILURES``."""
        ...

    def limit_reads(self, seconds: float) -> None:
        """Wait at most ``seconds`` for each further read (of an error's body, which
        matters less than the reply's status)."""
        ...

    def close(self) -> None: ...


def _shut_down(sockets: Iterable[socket.socket]) -> None:
    """End every read blocked on ``sockets``, from any thread."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            # The plain socket's shutdown, also of a TLS one: ``SSLSocket.shutdown`` drops
            # its TLS state first, and a handshake or read that starts just after then
            # fails with an AttributeError, outside ``FAILURES``, not an ``OSError``.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _as_httpx_reads(value: str) -> str:
    """A header value as httpx reads it: UTF-8 where its bytes are, else Latin-1 (which
    http.client reads every byte as), so that a redirect's raw UTF-8 ``Location`` is
    followed to the same URL as behind a proxy."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _refuse_unfetchable_location(response: httpx.Response) -> None:
    """Behind a proxy, a ``Location`` httpx cannot parse is refused as a first URL is:
    httpx would raise ``RemoteProtocolError``, which is retried."""
    location = response.headers.get("location")
    if response.is_redirect and location is not None:
        with _unfetchable_on(httpx.InvalidURL):
            _refuse_bad_host(httpx.URL(location))


class IncompleteRead(http.client.IncompleteRead):
    """http.client's, counting the body's bytes that came before it ended: its own count
    is of the last read alone (0 of a body cut after some)."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(b"", expected)
        self.got = got

    def __repr__(self) -> str:
        return f"IncompleteRead({self.got} bytes read, {self.expected} more expected)"


class _DirectReply:
    def __init__(self, connection: http.client.HTTPConnection, read_timeout: float) -> None:
        self._connection = connection
        self._read_timeout = read_timeout
        # Held before the reply is read: http.client lets go of the socket of a reply that
        # says ``Connection: close`` as it reads its headers.
        self._sock = connection.sock
        self._response = connection.getresponse()
        self.status = self._response.status
        self.headers: Mapping[str, str] = {
            k.lower(): _as_httpx_reads(v) for k, v in self._response.getheaders()
        }
        # Bytes of the body still to come, when its length is known (no chunks).
        self._left = None if self._response.chunked else self._response.length
        self._got = 0

    def readinto(self, buffer: memoryview) -> int:
        left = self._left
        if left is None:  # chunked, or until the connection closes: rare for storage
            return self._response.readinto(buffer)
        if not left:
            return 0
        # One network read, not a full buffer (``HTTPResponse.readinto`` waits for
        # one): what arrived is handed over at once.
        n = self._response.fp.readinto1(buffer[:left])
        if not n:
            raise IncompleteRead(self._got, left)
        self._left = left - n
        self._got += n
        return n

    def limit_reads(self, seconds: float) -> None:
        self._sock.settimeout(min(seconds, self._read_timeout))

    def close(self) -> None:
        self._response.close()
        self._connection.close()


class _HttpxReply:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers  # httpx's names are lowercase
        self._chunks = response.iter_raw()
        self._left = memoryview(b"")
        self._limit: float | None = None

    def readinto(self, buffer: memoryview) -> int:
        if not self._left:
            # httpx's read timeout is fixed as the request is sent: a limit set since is
            # each read's end at the socket (``ends``).
            until = None if self._limit is None else time.monotonic() + self._limit
            with ends(until):
                self._left = memoryview(next(self._chunks, b""))
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def limit_reads(self, seconds: float) -> None:
        self._limit = seconds

    def close(self) -> None:
        self._response.close()


class StorageHTTP:
    """GETs of storage URLs; safe to share between threads (one connection per GET)."""

    def __init__(self, *, user_agent: str, read_timeout: float) -> None:
        self._headers = {"User-Agent": user_agent}
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._httpx: httpx.Client | None = None
        self._mounts: ProxyMounts = ()  # its proxies, as the environment named them
        self._lookups = Lookups()  # the name lookups under way, which ``abort`` stops
        if environment_proxy() is not None:
            for name in _HTTPX_LOGGERS:
                logging.getLogger(name).addFilter(_quiet)  # filters are a set: added once
            with environment_settings():  # a proxy it cannot use fails here, not per GET
                self._mounts = environment_mounts()
                # Bound (``bound_client``) for its connects' name lookups, which no timeout
                # reaches: the proxy's name is looked up within the connect timeout, or
                # until ``abort``.
                self._httpx = bound_client(
                    httpx.Client(
                        verify=tls_context(),
                        follow_redirects=True,
                        max_redirects=MAX_REDIRECTS,
                        event_hooks={
                            "request": [self._note_route],
                            "response": [_refuse_unfetchable_location],
                        },
                        limits=httpx.Limits(max_keepalive_connections=0),
                    ),
                    self._lookups,
                )
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._aborted = False

    def _note_route(self, request: httpx.Request) -> None:
        """httpx's hook as it sends a GET, and each redirect: the proxy it takes, by its
        own reading of ``NO_PROXY`` as the client was made (``proxy_taken``), for each
        host in turn."""
        way, client = request.extensions.get(_ROUTE), self._httpx
        if isinstance(way, Route) and client is not None:
            proxy = proxy_taken(request.url, self._mounts, client)
            way.proxy = None if proxy is None else shown_url(proxy)
            way.tunnelled = False  # each request has a connection of its own

    def abort(self) -> None:
        """From another thread: end every GET, whether waiting for its reply or reading
        it (each socket stays tracked while it lives), and refuse new ones."""
        with self._lock:
            self._aborted = True
            sockets = list(self._sockets)
        _shut_down(sockets)
        self._lookups.stop()

    def _track(self, sock: socket.socket) -> bool:
        """Let ``abort`` reach ``sock``; whether the download was already stopped."""
        with self._lock:
            self._sockets.add(sock)
            return self._aborted

    def get(self, url: str, headers: Mapping[str, str], time_left: float | None = None) -> Reply:
        """Send ``GET url`` with ``headers``, following redirects; the body is unread."""
        headers = {**self._headers, **headers}
        connect = (
            CONNECT_TIMEOUT if time_left is None else max(min(CONNECT_TIMEOUT, time_left), 0.01)
        )
        if self._httpx is not None:  # the environment names a proxy
            return self._via_httpx(self._httpx, url, headers, connect)
        for _ in range(MAX_REDIRECTS + 1):
            reply = self._direct(url, headers, connect)
            location = reply.headers.get("location")
            if reply.status not in _REDIRECTS or location is None:
                return reply
            reply.close()
            with _unfetchable_on(ValueError):  # a bad IPv6 literal, say
                url = urljoin(url, location)
        raise UnfetchableURLError(_LOOP)

    def _direct(self, url: str, headers: dict[str, str], connect: float) -> _DirectReply:
        with _unfetchable_on(ValueError):  # a bad IPv6 literal, say
            parts = urlsplit(url)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise UnfetchableURLError(f"cannot fetch a {parts.scheme or 'relative'} URL")
        # A host the name lookup's IDNA 2003 reads is fetched, though httpx's IDNA 2008 may
        # refuse it (xn--ls8h.la, an emoji's); one that neither reads is refused.
        try:
            parts.hostname.encode("idna").decode("idna")
        except UnicodeError:
            with contextlib.suppress(httpx.InvalidURL):  # else http.client's to refuse
                _refuse_bad_host(httpx.URL(url))
        https = parts.scheme == "https"
        with _unfetchable_on(ValueError):  # out of range, or not a number
            port = parts.port
        if port == 0:  # no server listens there; not the scheme's default either
            raise _unfetchable("port 0")
        port = port or (443 if https else 80)
        # The socket is made here, not by http.client, so that ``abort`` reaches its connect.
        with _connecting():
            sock = self._open(parts.hostname, port, connect)
        connection = (
            # Given a context, it does not load the CA bundle again (the socket is ours).
            http.client.HTTPSConnection(parts.hostname, port, context=tls_context())
            if https
            else http.client.HTTPConnection(parts.hostname, port)
        )
        try:
            if https:  # a new socket object: the one tracked is detached from its descriptor
                sock = tls_context().wrap_socket(
                    sock, server_hostname=parts.hostname, do_handshake_on_connect=False
                )
                if self._track(sock):
                    raise StorageProtocolError("the download was stopped")
                with _connecting():
                    sock.do_handshake()
            sock.settimeout(self._read_timeout)
            connection.sock = sock
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            # http.client cannot send a non-ASCII character (UnicodeEncodeError, outside
            # the error tree) nor a space (InvalidURL, retried until the deadline): UTF-8,
            # percent-encoded, as httpx sends them behind a proxy.
            target = _UNSENDABLE.sub(lambda m: quote(m[0], safe=""), target)
            connection.request("GET", target, headers=headers)
            return _DirectReply(connection, self._read_timeout)
        except BaseException:
            sock.close()
            connection.close()
            raise

    def _open(self, host: str, port: int, timeout: float) -> socket.socket:
        """A socket connected to ``host``, tracked (for ``abort``) before it connects."""
        failure: OSError | None = None
        with _unfetchable_on(UnicodeError):  # a host IDNA cannot encode (an empty label, say)
            found = self._lookups.addresses(host, port, timeout)
        for family, kind, proto, _, address in found:
            sock = socket.socket(family, kind, proto)
            if self._track(sock):
                sock.close()
                raise StorageProtocolError("the download was stopped")
            try:
                sock.settimeout(timeout)
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                failure = exc
        raise failure or OSError(f"{host} has no address")

    def _via_httpx(
        self, client: httpx.Client, url: str, headers: dict[str, str], connect: float
    ) -> _HttpxReply:
        timeout = httpx.Timeout(self._read_timeout, connect=connect)
        with _unfetchable_on(httpx.InvalidURL):
            _refuse_bad_host(httpx.URL(url))
            request = client.build_request("GET", url, headers=headers, timeout=timeout)

        way = request.extensions[_ROUTE] = Route()  # its proxy: ``_note_route``

        def trace(event: str, info: Mapping[str, Any]) -> None:
            # httpcore's hook as each connection is made (through the proxy's tunnel or
            # not: ``way``), and as TLS wraps it (which detaches the plain socket: through
            # a proxy's tunnel, after the connect): its socket, for ``abort``.
            if (tunnel := tunnel_step(event, info)) is not None:
                way.tunnelled = tunnel
            if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
                return
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None and self._track(sock):
                _shut_down([sock])

        request.extensions["trace"] = trace
        _SENDING.active = True
        try:
            with _unfetchable_on(httpx.UnsupportedProtocol):  # also of a redirect
                return _HttpxReply(client.send(request, stream=True))
        except httpx.TooManyRedirects:
            raise UnfetchableURLError(_LOOP) from None
        finally:
            _SENDING.active = False

    def close(self) -> None:
        if self._httpx is not None:
            self._httpx.close()
