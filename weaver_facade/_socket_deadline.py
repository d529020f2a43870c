"""A call's deadline at the socket, for the sync transports the facade makes itself (why, and
how the rest are bounded: DEVELOPERS.md, "Deadlines travel with the request").

Each connect, TLS handshake, read and write is capped by the end of the attempt being sent in
its thread (``ends``, set by the retry transport), through a wrapper of httpcore's network
backend: httpx's timeouts would give a read that stalls after a connect that stalled a whole
read timeout of its own. The contract kit's sending transports keep it too, and its clean-up
sets one for each of its requests. A connect's name lookup, which no timeout reaches, is
bounded too (``addresses``; storage GETs use it as well).

The same wrapper shuts a socket down when its connection is closed, so that the client's close
wakes a thread blocked reading it (a held long-poll), as ``aclose()`` does a task.

httpcore is imported when a transport is made, as httpx does (about 60 ms of
``import weaver_facade`` otherwise): the wrappers only need its method names.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import os
import socket
import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator

import httpx

from ._interrupt import context_set

if typing.TYPE_CHECKING:
    import httpcore

# The time.monotonic() by which the attempt this thread is sending must be over.
_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar("weaver_ends", default=None)


@contextlib.contextmanager
def ends(at: float | None) -> Iterator[None]:
    """Cap the socket work of this thread's requests by ``at`` (``None``: no cap), or
    by the cap already set, when earlier: a transport beneath another keeps its end."""
    outer = _ENDS.get()
    with context_set(_ENDS, at if outer is None or (at is not None and at < outer) else outer):
        yield


def current_end() -> float | None:
    """The end ``ends`` set for this thread's socket work (``None``: none)."""
    return _ENDS.get()


def _left(timeout: float | None, error: str) -> float | None:
    """``timeout`` capped by the time left; httpcore's ``error`` once none is."""
    at = _ENDS.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        import httpcore

        raise getattr(httpcore, error)("the attempt's time is up")
    return left if timeout is None else min(timeout, left)


class _Flight:
    """A name's lookup under way: its result, once ended, and the callers waiting for it."""

    def __init__(self) -> None:
        self.found: list[typing.Any] = []
        self.waiting: set[threading.Event] = set()


# The lookups under way, by (host, port): a connect joins the one under way rather than
# start another, so that a name no DNS server answers holds one thread, not one per
# connect until the resolver gives up. An ended lookup is dropped: the next looks again.
_FLIGHTS: dict[tuple[str, int], _Flight] = {}
_FLIGHTS_LOCK = threading.Lock()


def _forget_flights() -> None:
    """In a forked child, which has none of its maker's lookup threads (nor its lock's holder)."""
    global _FLIGHTS_LOCK
    _FLIGHTS.clear()
    _FLIGHTS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_flights)


def addresses(
    host: str, port: int, timeout: float, wake: threading.Event
) -> list[tuple[typing.Any, ...]]:
    """``socket.getaddrinfo(host, port, 0, SOCK_STREAM)`` within ``timeout`` seconds, or
    until ``wake`` is set (by the lookup's end, or a stop); else ``TimeoutError``.

    The resolver takes no timeout: a name that no DNS server answers holds its lookup for
    the resolver's own (5 s a try by default, tried again), whatever the deadline. So a
    name is looked up in a thread of its own, left to end by itself, and shared by the
    connects to it meanwhile (``_FLIGHTS``); an address needs none.
    """
    with contextlib.suppress(socket.gaierror):
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    key = (host, port)
    # Shared only once its thread runs: a start that fails (no thread left) or that a Ctrl-C
    # cuts leaves no lookup that every later connect would join for good.
    with _FLIGHTS_LOCK:
        flight = _FLIGHTS.get(key)
        if flight is not None:
            flight.waiting.add(wake)
        elif threading.current_thread() is not threading.main_thread():
            # Started under the lock, so that the connects meanwhile (a pool's) join it: no
            # Ctrl-C nor signal's handler comes in this thread.
            flight = _FLIGHTS[key] = _started(key, wake)
    if flight is None:
        # The main thread's, not under the lock: a signal's handler, which runs there, that
        # connects in start's wait would wait for the lock for good (a connect meanwhile
        # starts its own). One that ended meanwhile is not shared: it would stay for good.
        flight = _started(key, wake)
        with _FLIGHTS_LOCK:
            if not flight.found:
                _FLIGHTS.setdefault(key, flight)
    try:
        wake.wait(min(timeout, threading.TIMEOUT_MAX))
    finally:
        with _FLIGHTS_LOCK:
            flight.waiting.discard(wake)
    if not flight.found:
        raise TimeoutError(f"no address of {host} found in time")
    if isinstance(flight.found[0], BaseException):
        # A copy for each caller: one exception raised in several threads would gather
        # all their tracebacks.
        raise copy.copy(flight.found[0]) from None
    return list(flight.found[0])


def _started(key: tuple[str, int], wake: threading.Event) -> _Flight:
    """A lookup of ``key`` whose thread runs, ``wake`` waiting for it."""
    flight = _Flight()
    flight.waiting.add(wake)
    threading.Thread(target=_look_up, args=(key, flight), name="weaver-lookup", daemon=True).start()
    return flight


def _look_up(key: tuple[str, int], flight: _Flight) -> None:
    found: typing.Any
    try:
        found = socket.getaddrinfo(*key, 0, socket.SOCK_STREAM)
    except BaseException as exc:  # raised in each caller's thread
        found = exc
    with _FLIGHTS_LOCK:
        flight.found.append(found)
        if _FLIGHTS.get(key) is flight:  # not one left unshared (a Ctrl-C, another's first)
            del _FLIGHTS[key]
        waiting = list(flight.waiting)
    for wake in waiting:
        wake.set()


class Lookups:
    """Name lookups (``addresses``) under way, which ``stop`` stops waiting for, for good:
    a download's (``StorageHTTP.abort``), and the API's own transport's as it closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[threading.Event] = set()
        self._stopped = False

    def addresses(self, host: str, port: int, timeout: float) -> list[tuple[typing.Any, ...]]:
        """``addresses(host, port, timeout)``, or ``TimeoutError`` once stopped."""
        wake = threading.Event()  # each its own: a lookup ended sets it
        with self._lock:
            self._waiting.add(wake)
            if self._stopped:
                wake.set()
        try:
            return addresses(host, port, timeout, wake)
        finally:
            with self._lock:
                self._waiting.discard(wake)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            waiting = list(self._waiting)
        for wake in waiting:
            wake.set()


class _Stream:  # an httpcore.NetworkStream
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._pid = os.getpid()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, "ReadTimeout"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, "WriteTimeout"))

    def close(self) -> None:
        # Its shutdown, not its close, wakes a thread blocked reading it (the module's
        # docstring); not in a forked child, whose shutdown would end the parent's too.
        sock = self._stream.get_extra_info("socket")
        if isinstance(sock, socket.socket) and os.getpid() == self._pid:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _Stream:
        timeout = _left(timeout, "ConnectTimeout")
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _Backend:  # an httpcore.NetworkBackend, as a pool without ``uds`` or ``retries`` uses it
    def __init__(self, backend: httpcore.NetworkBackend, lookups: Lookups | None) -> None:
        self._backend = backend
        self._lookups = lookups or Lookups()  # one nothing stops, but a lookup's end

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> _Stream:
        import httpcore

        left = _left(timeout, "ConnectTimeout")
        if left is None:  # no time limit to keep
            return _Stream(
                self._backend.connect_tcp(host, port, None, local_address, socket_options)
            )
        try:
            found = self._lookups.addresses(host, port, left)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # as httpcore's own backend maps them
            raise httpcore.ConnectError(exc) from exc
        # Each address in turn, with the connect's time of its own, as
        # socket.create_connection does once it has looked the name up.
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for *_, address in found:
            # An IPv6 sockaddr's scope (a link-local address's interface) is its last item.
            ip = f"{address[0]}%{address[3]}" if len(address) > 3 and address[3] else address[0]
            try:
                return _Stream(
                    self._backend.connect_tcp(
                        ip,
                        port,
                        _left(timeout, "ConnectTimeout"),
                        local_address,
                        socket_options,
                    )
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")


def bound_client(client: httpx.Client, lookups: Lookups | None = None) -> httpx.Client:
    """``client``, each of its transports (its proxies' too) made to keep ``ends``, and
    its connects' name lookups stopped by ``lookups``' stop."""
    bound_by_deadline([client._transport, *filter(None, client._mounts.values())], lookups)
    return client


def bound_by_deadline(
    transports: Iterable[httpx.BaseTransport], lookups: Lookups | None = None
) -> None:
    """Make each of httpx's own transports among ``transports`` keep ``ends`` (and
    ``lookups``' stop).

    httpx takes no network backend, so its connection pool's is wrapped in place
    (``_pool._network_backend``, of the pinned httpx and httpcore; a test holds it).
    """
    import httpcore  # imported by the transports themselves already

    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):  # not a _Backend already
            pool._network_backend = _Backend(backend, lookups)  # type: ignore[union-attr]
