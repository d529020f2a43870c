"""A CONNECT-only proxy on a free loopback port, over real sockets, that records what it was
asked and can refuse a host, as a corporate proxy does for HTTPS, or reset its connections."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Literal, Self


class ConnectProxy:
    """A CONNECT-only proxy on a free loopback port: each tunnel in threads of its own;
    ``targets`` are the CONNECT targets it opened, in the order asked, ``refused`` the
    request lines it refused: any but a CONNECT (a proxy that only tunnels, as many
    corporate ones do for HTTPS), and those to ``refuse_host`` (one it does not allow)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.targets: list[str] = []
        self.refused: list[str] = []
        # CONNECTs to this host get ``refusal`` (a status line's rest), ``refusals`` times.
        self.refuse_host: str | None = None
        self.refusal = "403 Forbidden"
        self.refusals = 0
        # CONNECTs to this host are reset (``reset`` has their lines): at once, or once the
        # tunnel is open, at the client's first bytes through it (a TLS handshake's).
        self.reset_host: str | None = None
        self.reset_at: Literal["connect", "tunnel"] = "connect"
        self.reset: list[str] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="connect-proxy", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # wakes the accept (a close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.close_tunnels()
        self._thread.join(timeout=10)

    def close_tunnels(self) -> None:
        """Close every connection open, at both ends: a client's next request needs a new one."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _keep(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._keep(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):  # a client gone, or the proxy closing
            self._handle(client)

    def _handle(self, client: socket.socket) -> None:
        head = client.recv(4096)
        if head.startswith(b"\x16"):  # a TLS ClientHello: a plain proxy says 400, as Squid
            with self._lock:
                self.refused.append("TLS")
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            with self._lock:
                self.refused.append(line)
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, port = target.rsplit(":", 1)
        if host == self.reset_host:
            with self._lock:
                self.reset.append(line)
            if self.reset_at == "tunnel":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                client.recv(4096)
            # An RST, not a FIN: the close drops what is unsent.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        with self._lock:
            refuse = host == self.refuse_host and self.refusals > 0
            if refuse:
                self.refusals -= 1
                self.refused.append(line)
            else:
                self.targets.append(target)
        if refuse:
            client.sendall(f"HTTP/1.1 {self.refusal}\r\nContent-Length: 0\r\n\r\n".encode())
            client.close()
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        upstream.settimeout(None)
        self._keep(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        early = head.split(b"\r\n\r\n", 1)[1]
        if early:
            upstream.sendall(early)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def tunnels_to(self, target: str) -> int:
        """How many tunnels were asked to ``target``, a URL or ``host:port``."""
        with self._lock:
            return self.targets.count(target.split("://", 1)[-1])


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
