"""A real HTTP server on a free loopback port whose replies a test scripts.

For what the emulator will not do on purpose: answer every poll with 503 and
``Retry-After: 30``, accept a request and never answer, or stop listening
(then connections are refused). ``answer(method, path)`` returns a reply
``(status, json_body, headers)`` (a ``bytes`` body is sent as it is), ``HANG`` to
hold the request without answering until the server stops, or ``TRICKLE`` (and its
kin below) to send a reply a byte at a time.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

HANG = "hang"
#: Send a pending Operation's headers at once, then its body one byte per 0.3 s.
TRICKLE = "trickle"
#: The same with a byte of its body every 2.5 s: each wait for one is shorter than a call's
#: deadline of 3 s, and the whole body is not.
SLOW_BODY = "slow-body"
#: Its status line and headers one byte per 0.3 s (no read timeout trips between two).
TRICKLE_HEADERS = "trickle-headers"
_TRICKLES = {TRICKLE: (0.3, False), SLOW_BODY: (2.5, False), TRICKLE_HEADERS: (0.3, True)}
Reply = tuple[int, Any, dict[str, str]]
Answer = Callable[[str, str], "Reply | str"]


def pending(op_id: str) -> Reply:
    return 200, {"id": op_id, "status": "pending", "kind": "save_checkpoint"}, {}


def unavailable(retry_after: str) -> Reply:
    body = {"error": "unavailable", "message": "overloaded", "retryable": True}
    return 503, body, {"Retry-After": retry_after}


class QuietServer(ThreadingHTTPServer):
    """A client that went away (a deadline kept) is no error to print: the traceback
    would land in whatever test captures stderr next in this process.

    It also stops at once: ``shutdown()`` waits for the serving loop to look, every 0.5 s
    by default, every 0.02 s here."""

    def serve_forever(self, poll_interval: float = 0.02) -> None:
        super().serve_forever(poll_interval)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """Use as a context manager; ``base_url`` is where it listens, ``stop()`` closes it."""

    def __init__(self, answer: Answer) -> None:
        self.requests: list[tuple[str, str]] = []
        self._stopped = threading.Event()
        server = self

        # HTTP/1.0: one connection per request, so that after stop() every request
        # is refused, none served on a kept-alive connection.
        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                # Without it each reply waits ~40 ms for the client's delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._serve()

            do_DELETE = do_POST

            def _serve(self) -> None:
                server.requests.append((self.command, self.path))
                reply = answer(self.command, self.path)
                if isinstance(reply, str) and reply in _TRICKLES:
                    self._trickle(json.dumps(pending("op-1")[1]).encode(), *_TRICKLES[reply])
                    return
                if isinstance(reply, str):
                    server._stopped.wait(60)  # hold it: accepted, never answered
                    self.close_connection = True
                    return
                status, body, headers = reply
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _trickle(self, data: bytes, every: float, headers_too: bool) -> None:
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                if headers_too:
                    data = head + data
                else:
                    self.wfile.write(head)
                    self.wfile.flush()
                for i in range(len(data)):
                    if server._stopped.wait(every):
                        break
                    try:
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        break
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening: from now on connections to ``base_url`` are refused."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
