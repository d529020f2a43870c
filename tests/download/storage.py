"""A small object store on 127.0.0.1 for download tests: signed URLs, ranges and faults.

It serves ``files`` (key -> bytes) at ``/o/{key}?exp=&sig=`` with exact
``Content-Length``, ``Range: bytes=N-`` as 206 and 416 past the end, and 403
for an expired or tampered URL. Faults are scripted per key (``script``) or
drawn at random (``chaos``):

* ``"503"``, ``"429"``: that status, with ``Retry-After: 0`` (the backoff stands);
  ``"slow503"`` after 0.2 s; ``"503:N"``, ``"429:N"``: with ``Retry-After: N``;
* ``"403"``, ``"401"``: as if the URL had expired;
* ``"400-expired"``: 400 with the XML error ``ExpiredToken``, as GCS answers an expired
  URL (and S3 one whose signing session ended before it);
* ``"404-gone"``: 404 with S3's XML error ``NoSuchKey``, as for an object deleted;
* ``"403-stall-body"``: a 403's headers, then nothing of its body until the server stops;
  ``"403-stall-body-close"``: so, its headers saying ``Connection: close``;
* ``"drop:N"``: send the headers and N bytes of the body, then close the connection;
* ``"eof:N"``: ``"drop:N"`` without ``Content-Length``, whose close ends a body (a clean
  cut looks like the end);
* ``"stall:N"``: send the headers and N bytes, then nothing until the server stops;
* ``"stall-head"``: read the request and answer nothing until the server stops;
* ``"pause"``: answer as without an action, after 0.15 s;
* ``"full"``: ignore ``Range`` and answer 200 with the whole file;
* ``"eof-full"``: ``"full"`` without ``Content-Length``, whose close ends the body;
* ``"redirect"``: 302 to the same URL on a second server (another port), which
  must never see the API key either;
* ``"wrong-range"``: a 206 that starts at byte 0 whatever was asked;
* ``"gzip"``: the object as stored with ``Content-Encoding: gzip``, which S3 and Azure
  serve so whatever the request's ``Accept-Encoding``; a ``Range`` counts its bytes.
  ``"gzip+ACTION"``: so, with another action (``"gzip+drop:N"``). ``"deflate"``: so with
  ``Content-Encoding: deflate`` (zlib's format, as RFC 9110 has it); ``"raw-deflate"``:
  under that name, the bare deflate stream that some servers send instead.

Every request's path and headers are recorded (``requests``), and the most requests in
their ``"pause"`` at once (``most_at_once``). A request in absolute form
(``GET http://host/o/key``, as to a proxy) is served too, so the second server can
stand in for a proxy. ``tls`` (a certificate and key file) serves HTTPS instead.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import random
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from tests.support.scripted_http import QuietServer

SECRET = b"storage-test-secret"

# The bodies of an object stored encoded, by the action that serves it so.
_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,
    "raw-deflate": lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS),
}


def sign(key: str, exp: int) -> str:
    return hmac.new(SECRET, f"{key}:{exp}".encode(), hashlib.sha256).hexdigest()


class Recorded:
    def __init__(self, port: int, method: str, path: str, headers: dict[str, str]) -> None:
        self.port = port
        self.method = method
        self.path = path
        self.headers = headers

    @property
    def key(self) -> str:
        return unquote(urlsplit(self.path).path.removeprefix("/o/"))

    def __repr__(self) -> str:
        return f"Recorded({self.method} {self.path} range={self.headers.get('range')})"


class StorageServer:
    def __init__(
        self, files: dict[str, bytes] | None = None, *, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.tls = tls
        self.stopping = threading.Event()
        self.requests: list[Recorded] = []
        self.scripts: dict[str, deque[str]] = defaultdict(deque)
        self.chaos_rates: dict[str, float] = {}
        self.rng = random.Random(0)
        self.lock = threading.Lock()
        self.bytes_sent = 0
        self.at_once = 0
        self.most_at_once = 0
        self.chunk = 64 * 1024
        self._servers: list[QuietServer] = []
        self._threads: list[threading.Thread] = []

    # -- configuration -------------------------------------------------------------------
    def script(self, key: str, *actions: str) -> None:
        self.scripts[key].extend(actions)

    def chaos(self, *, seed: int = 0, **rates: float) -> None:
        """Random faults on every request: drop=0.2, s503=0.1, s429=0.1, s403=..."""
        self.rng = random.Random(seed)
        self.chaos_rates = dict(rates)

    def url(self, key: str, *, expires_in: float = 3600.0, port: int | None = None) -> str:
        exp = int(time.time() + expires_in)
        scheme = "https" if self.tls else "http"
        path = f"/o/{quote(key)}"
        return f"{scheme}://127.0.0.1:{port or self.port}{path}?exp={exp}&sig={sign(key, exp)}"

    @property
    def port(self) -> int:
        return self._servers[0].server_address[1]

    @property
    def other_port(self) -> int:
        return self._servers[1].server_address[1]

    def keys_fetched(self) -> list[str]:
        return [r.key for r in self.requests]

    # -- serving ---------------------------------------------------------------------------
    def _next_action(self, key: str) -> str | None:
        with self.lock:
            if self.scripts[key]:
                return self.scripts[key].popleft()
            r = self.rng.random()
            for name, rate in self.chaos_rates.items():
                if r < rate:
                    if name == "drop":
                        size = len(self.files.get(key, b""))
                        return f"drop:{self.rng.randrange(max(1, size))}"
                    return name.removeprefix("s")
                r -= rate
        return None

    def handle(self, h: BaseHTTPRequestHandler, port: int) -> None:
        split = urlsplit(h.path)
        with self.lock:
            self.requests.append(
                Recorded(port, h.command, h.path, {k.lower(): v for k, v in h.headers.items()})
            )
        key = unquote(split.path.removeprefix("/o/"))
        query = parse_qs(split.query)
        exp = int(query.get("exp", ["0"])[0])
        sig = query.get("sig", [""])[0]
        if key not in self.files or not split.path.startswith("/o/"):
            return _reply(h, 404, b"no such object")
        if not hmac.compare_digest(sig, sign(key, exp)) or exp < time.time():
            return _reply(h, 403, b"<Error>AccessDenied: request has expired</Error>")
        action = self._next_action(key)
        if action == "stall-head":
            self.stopping.wait()
            h.close_connection = True
            return None
        if action == "slow503":
            time.sleep(0.2)
            action = "503"
        if action == "pause":
            # Counted during the pause alone: a count that ended once the reply was written
            # also counted the client's next request, sent as soon as it had read the body.
            with self.lock:
                self.at_once += 1
                self.most_at_once = max(self.most_at_once, self.at_once)
            time.sleep(0.15)
            with self.lock:
                self.at_once -= 1
            action = None
        if action is not None and action.startswith(("503", "429")):
            status, _, retry_after = action.partition(":")
            return _reply(h, int(status), b"slow down", {"Retry-After": retry_after or "0"})
        if action in ("403", "401"):
            return _reply(h, int(action), b"<Error>AccessDenied: request has expired</Error>")
        if action in ("403-stall-body", "403-stall-body-close"):
            h.send_response(403)
            h.send_header("Content-Length", "300")
            if action == "403-stall-body-close":
                h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.flush()
            self.stopping.wait()
            h.close_connection = True
            return None
        if action == "400-expired":
            return _reply(h, 400, _xml_error("ExpiredToken", "Invalid argument."))
        if action == "404-gone":
            return _reply(h, 404, _xml_error("NoSuchKey", "The specified key does not exist."))
        if action == "redirect":
            h.send_response(302)
            # The request's path, also when a proxy's absolute URL (http://host:port/...)
            target = split.path + (f"?{split.query}" if split.query else "")
            h.send_header("Location", f"http://127.0.0.1:{self.other_port}{target}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        data = self.files[key]
        coding, _, rest = (action or "").partition("+")
        encoded = coding in _ENCODERS
        if encoded:
            data = _ENCODERS[coding](data)
            action = rest or None
        start = 0
        rng = h.headers.get("Range")
        if rng and action not in ("full", "eof-full"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                return _reply(
                    h, 416, b"range not satisfiable", {"Content-Range": f"bytes */{len(data)}"}
                )
            if action == "wrong-range":
                start = 0
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = memoryview(data)[start:]
        close_delimited = action is not None and action.startswith(("eof:", "eof-full"))
        if not close_delimited:
            h.send_header("Content-Length", str(len(body)))
        h.send_header("Content-Type", "application/octet-stream")
        if encoded:
            h.send_header("Content-Encoding", coding.removeprefix("raw-"))
        h.end_headers()
        limit = len(body)
        if action is not None and action.startswith(("drop:", "stall:", "eof:")):
            limit = min(limit, int(action.split(":")[1]))
        sent = 0
        try:
            while sent < limit:
                piece = body[sent : min(limit, sent + self.chunk)]
                h.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
            return None
        finally:
            with self.lock:
                self.bytes_sent += sent
        if limit < len(body) or close_delimited:
            h.wfile.flush()
            if action is not None and action.startswith("stall:"):
                self.stopping.wait()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
        return None

    @contextmanager
    def running(self) -> Iterator[StorageServer]:
        outer = self

        for _ in range(2):

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                disable_nagle_algorithm = True

                def do_GET(self) -> None:
                    outer.handle(self, self.server.server_port)  # type: ignore[attr-defined]

                def log_message(self, format: str, *args: Any) -> None:
                    pass

            server = QuietServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            if self.tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*self.tls)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        try:
            yield self
        finally:
            self.stopping.set()
            for server in self._servers:
                server.shutdown()
                server.server_close()
            self._servers.clear()


def _reply(
    h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _xml_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


# -- what the API says of the files stored ---------------------------------------------------

DATA = {"adapter_model.safetensors": bytes(range(256)) * 4000, "adapter_config.json": b"{}"}


def descriptor(
    storage: StorageServer, artifact_id: uuid.UUID, stored: dict[str, bytes] = DATA
) -> httpx.Response:
    files = [
        {
            "name": name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "url": storage.url(name),
            "url_expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
        }
        for name, data in stored.items()
    ]
    return httpx.Response(
        200,
        json={
            "artifact_id": str(artifact_id),
            "kind": "hf_adapter",
            "total_bytes": sum(len(d) for d in stored.values()),
            "files": files,
        },
    )


BIG = "adapter_model.safetensors"
# Two files, for tests whose storage stops sending them after 200,000 bytes (both held).
STORED = {BIG: DATA[BIG], "tokenizer.bin": DATA[BIG][::-1]}
