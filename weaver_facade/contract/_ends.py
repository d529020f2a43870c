"""An end for each of schemathesis' requests, whole reply included, and for all at a stop.

schemathesis sends with requests, whose timeouts bound each wait for bytes: a reply sent a
byte a second never times out, and held the conformance part past its time limit, and a
Ctrl-C, whose stop waits for the engine's threads, for as long as the body took. Here, as
``_socket_deadline`` does for httpx, a request's socket is shut down at its end (``Ends``),
which wakes the thread reading it; requests' connection pools make their connections
through classes of ours (``bound_session``), which note each connection a request uses.
A connect's name lookup has no socket to shut, and no timeout reaches it: such a request is
sent from a thread of its own, left to its lookup at its end, and its connection, once
open, is shut before anything is sent on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

__all__ = ["Ends", "Sending", "bound_session"]


class Sending:
    """One request on its way: its end, the connections it used, and why it was cut."""

    def __init__(self, ends: float, ends_why: str) -> None:
        self.ends = ends
        self.ends_why = ends_why
        self.connections: list[HTTPConnection] = []
        #: Whether one of them was open (connected, its name looked up) while it was used.
        self.connected = False
        #: Why its sockets were shut down (``None``: they were not).
        self.cut: str | None = None
        #: Set at its cut: the waits for its sends (``_Adapter.send``).
        self.wakes: set[threading.Event] = set()


_current = threading.local()  # .sending: this thread's Sending, if any
_lock = threading.Lock()


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            # The base class's: an SSLSocket's own would drop its TLS state under the reader.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _cut(sending: Sending, why: str) -> None:
    with _lock:
        if sending.cut is None:
            sending.cut = why
        connections = list(sending.connections)
        wakes = list(sending.wakes)
    for wake in wakes:
        wake.set()
    for connection in connections:
        _shut(connection)


def _used(connection: HTTPConnection) -> None:
    """Note ``connection`` as used by this thread's request; shut at once if it was cut."""
    sending: Sending | None = getattr(_current, "sending", None)
    if sending is None:
        return
    with _lock:
        sending.connections.append(connection)
        sending.connected = sending.connected or connection.sock is not None
        cut = sending.cut is not None
    if cut:
        _shut(connection)


class _Noted:
    """A connection that notes each request it sends, and its socket once open."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _used(self)  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _used(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTP(_Noted, HTTPConnection):
    pass


class _HTTPS(_Noted, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTP


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPS


def _noting(manager: PoolManager) -> PoolManager:
    if type(manager) in (PoolManager, ProxyManager):  # a SOCKS proxy's keeps its own
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class _Adapter(HTTPAdapter):
    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """requests' send; one bounded by ``Ends`` is waited for until its cut at most."""
        sending: Sending | None = getattr(_current, "sending", None)
        if sending is None:
            return super().send(request, *args, **kwargs)
        over = threading.Event()
        outcome: list[Any] = []

        def send() -> None:
            _current.sending = sending  # its connections noted, and shut once cut
            try:
                outcome.append(super(_Adapter, self).send(request, *args, **kwargs))
            except BaseException as exc:  # raised in the caller's thread
                outcome.append(exc)
            over.set()

        with _lock:
            sending.wakes.add(over)
            if sending.cut is not None:
                over.set()
        try:
            if not over.is_set():
                threading.Thread(target=send, name="weaver-contract-send", daemon=True).start()
            over.wait()
        finally:
            with _lock:
                sending.wakes.discard(over)
        if not outcome:  # cut first: its connect (a name's lookup) is left to end by itself
            raise requests.ConnectionError(sending.cut, request=request)
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _noting(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> PoolManager:
        return _noting(super().proxy_manager_for(proxy, **kwargs))


def bound_session(session: requests.Session) -> requests.Session:
    """``session``, its connections noted for ``Ends`` (once)."""
    if not isinstance(session.get_adapter("http://"), _Adapter):
        session.mount("http://", _Adapter())
        session.mount("https://", _Adapter())
    return session


class Ends:
    """Shuts down each request's sockets at its end (``sending``), and every request's at
    ``stop``, from a thread of its own; a request sent after ``stop`` is cut at once, and a
    wait before one (``pause``) ends at ``stop`` too."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._on_way: set[Sending] = set()
        self._stopped: str | None = None
        self._stop = threading.Event()  # the pauses', apart from the watcher's condition
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def sending(self, ends: float, ends_why: str) -> Iterator[Sending]:
        """The requests this thread sends in the block end by ``ends`` (``time.monotonic``),
        which ``ends_why`` names."""
        sending = Sending(ends, ends_why)
        with self._cond:
            if self._stopped is not None:
                sending.cut = self._stopped
            self._on_way.add(sending)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="weaver-contract-ends", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        _current.sending = sending
        try:
            yield sending
        finally:
            _current.sending = None
            with self._cond:
                self._on_way.discard(sending)

    def stop(self, why: str) -> None:
        """Cut every request on its way, and each sent from now on, for ``why``."""
        with self._cond:
            if self._stopped is None:
                self._stopped = why
            self._cond.notify()
        self._stop.set()

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or until ``stop``: whether it came."""
        return self._stop.wait(seconds)

    def close(self) -> None:
        self.stop("the part was over")
        thread = self._thread
        if thread is not None:
            thread.join()

    def _watch(self) -> None:
        # Each cut under the lock that a request's end takes: a connection its thread has
        # taken up again for its next request, after that end, is not shut.
        with self._cond:
            while True:
                now = time.monotonic()
                for sending in self._on_way:
                    if sending.cut is None and (self._stopped is not None or sending.ends <= now):
                        _cut(sending, self._stopped or sending.ends_why)
                if self._stopped is not None:
                    return
                first = min((s.ends for s in self._on_way if s.cut is None), default=None)
                self._cond.wait(None if first is None else first - now)
