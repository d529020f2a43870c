"""A call's deadline at the socket, for the sync transports the facade makes itself (why, and
how the rest are bounded: DEVELOPERS.md, "Deadlines travel with the request").

Each connect, TLS handshake, read and write is capped by the end of the attempt being sent in
its thread (``ends``, set by the retry transport), through a wrapper of httpcore's network
backend: httpx's timeouts would give a read that stalls after a connect that stalled a whole
read timeout of its own. The contract kit's sending transports keep it too, and its clean-up
sets one for each of its requests.

The same wrapper shuts a socket down when its connection is closed, so that the client's close
wakes a thread blocked reading it (a held long-poll), as ``aclose()`` does a task.

httpcore is imported when a transport is made, as httpx does (about 60 ms of
``import weaver_facade`` otherwise): the wrappers only need its method names.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import ssl
import time
import typing
from collections.abc import Iterable, Iterator

import httpx

if typing.TYPE_CHECKING:
    import httpcore

# The time.monotonic() by which the attempt this thread is sending must be over.
_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar("weaver_ends", default=None)


@contextlib.contextmanager
def ends(at: float | None) -> Iterator[None]:
    """Cap the socket work of this thread's requests by ``at`` (``None``: no cap), or
    by the cap already set, when earlier: a transport beneath another keeps its end."""
    outer = _ENDS.get()
    if outer is not None and (at is None or outer < at):
        at = outer
    token = _ENDS.set(at)
    try:
        yield
    finally:
        _ENDS.reset(token)


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


class _Backend:  # an httpcore.NetworkBackend
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> _Stream:
        timeout = _left(timeout, "ConnectTimeout")
        return _Stream(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> _Stream:
        timeout = _left(timeout, "ConnectTimeout")
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_client(client: httpx.Client) -> httpx.Client:
    """``client``, each of its transports (its proxies' too) made to keep ``ends``."""
    bound_by_deadline([client._transport, *filter(None, client._mounts.values())])
    return client


def bound_by_deadline(transports: Iterable[httpx.BaseTransport]) -> None:
    """Make each of httpx's own transports among ``transports`` keep ``ends``.

    httpx takes no network backend, so its connection pool's is wrapped in place
    (``_pool._network_backend``, of the pinned httpx and httpcore; a test holds it).
    """
    import httpcore  # imported by the transports themselves already

    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):  # not a _Backend already
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
