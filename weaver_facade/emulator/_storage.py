"""The emulator's object storage: artifact files at signed URLs, without the API key.

A URL is ``{base}/storage/artifacts/{artifact_id}/{name}?expires=<unix s>&signature=<hex>``;
the signature is an HMAC-SHA256 over the path and the expiry, keyed by a secret
kept in the data directory, so URLs survive a restart. Like a presigned
object-storage URL it needs no API key, and it answers 403 once expired or
altered. Files go out through starlette's FileResponse: exact
``Content-Length``, ``Range: bytes=N-`` as 206, 416 past the end. A whole file
goes out zero-copy (``sendfile``, see ``PathSend``); a range, or a reply a fault
disturbs, is read off the event loop in 1 MiB chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h11
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import STORAGE_ROUTE
from ._errors import ApiError

if TYPE_CHECKING:
    from ._service import Emulator

__all__ = [
    "STORAGE_PREFIX",
    "STORAGE_ROUTE",
    "PathSend",
    "Transfers",
    "UrlSigner",
    "load_secret",
    "serve_storage",
]

STORAGE_PREFIX = "/storage/"
_SECRET_FILE = "storage-url.key"  # noqa: S105  # a file name, not a secret


def load_secret(data_dir: Path) -> bytes:
    """The data directory's URL-signing secret, created (0600) on first use."""
    path = data_dir / _SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) == 32:
            return secret
        path.unlink()  # a torn write by a killed first start; URLs signed with it never went out
        return load_secret(data_dir)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path.read_bytes()


class UrlSigner:
    def __init__(self, secret: bytes, ttl: float, clock: Callable[[], float]) -> None:
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, path: str) -> tuple[str, int]:
        """(``path?expires=...&signature=...``, expiry in unix seconds)."""
        expires = int(self._clock() + self._ttl) + 1
        return f"{path}?expires={expires}&signature={self._signature(path, expires)}", expires

    def refusal(self, path: str, expires: str | None, signature: str | None) -> str | None:
        """Why a request for ``path`` is refused, or None when its URL is valid now."""
        if expires is None or signature is None or not expires.isdigit() or len(expires) > 12:
            return "the storage URL is not signed"
        if not hmac.compare_digest(self._signature(path, int(expires)), signature):
            return "the storage URL's signature does not match"
        if int(expires) <= self._clock():
            return "the storage URL expired; ask for the artifact's download descriptor again"
        return None


class _StorageFile(FileResponse):
    chunk_size = 1024 * 1024


class _Length:
    """A body part h11 counts but never sees: the bytes ``sendfile`` writes (h11's
    documented way to send a file without copying it through Python)."""

    def __init__(self, size: int) -> None:
        self._size = size

    def __len__(self) -> int:
        return self._size


class Transfers:
    """The storage files being sent, which a stopping server ends at once (as a dropped
    connection, which a download resumes), rather than after its graceful timeout,
    whose cancel of the request logged a traceback."""

    def __init__(self) -> None:
        self._sending: set[asyncio.Future[int]] = set()

    def add(self, sending: asyncio.Future[int]) -> None:
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)

    def stop(self) -> None:
        """End every transfer on its way (on the event loop's thread)."""
        for sending in list(self._sending):
            sending.cancel()


class PathSend:
    """The ASGI ``http.response.pathsend`` extension over uvicorn's h11 protocol,
    which lacks it: starlette's FileResponse then sends a whole file with
    ``sendfile``, without reading it into Python (a GiB costs the emulator about a
    tenth of the CPU). It needs uvicorn's own ``send``: below a fault that wraps
    ``send`` (a reply cut mid-body), files stream as before, and so they do on an event
    loop without ``loop.sendfile`` (uvloop's, which uvicorn picks when it is installed).
    """

    def __init__(self, app: ASGIApp, transfers: Transfers) -> None:
        self.app = app
        self.transfers = transfers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle: Any = getattr(send, "__self__", None)
        conn, transport = getattr(cycle, "conn", None), getattr(cycle, "transport", None)
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(STORAGE_PREFIX)
            or not isinstance(conn, h11.Connection)
            or transport is None
            or type(asyncio.get_running_loop()).sendfile is asyncio.AbstractEventLoop.sendfile
        ):
            await self.app(scope, receive, send)
            return

        async def send_path(message: Message) -> None:
            if message["type"] != "http.response.pathsend":
                await send(message)
                return
            if getattr(cycle, "disconnected", False) or transport.is_closing():
                return  # the client went away; uvicorn dropped the reply's start as well
            # Opening a local file takes microseconds, and sendfile needs the file itself.
            with open(message["path"], "rb") as file:  # noqa: ASYNC230
                size = os.fstat(file.fileno()).st_size
                conn.send_with_data_passthrough(h11.Data(data=_Length(size)))  # type: ignore[arg-type]
                sending = asyncio.ensure_future(
                    asyncio.get_running_loop().sendfile(transport, file, 0, size)
                )
                self.transfers.add(sending)
                try:
                    await sending
                except (OSError, asyncio.CancelledError):
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this request itself is cancelled
                    # The client went away, or the server stops (`Transfers.stop`).
                    transport.close()
                    # uvicorn learns it in connection_lost, a loop turn later; returning
                    # before that, it logs "ASGI callable returned without completing".
                    cycle.disconnected = True
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        extensions = {**scope.get("extensions", {}), "http.response.pathsend": {}}
        await self.app({**scope, "extensions": extensions}, receive, send_path)


def _refuse(status: int, code: str, message: str) -> Response:
    return JSONResponse(ApiError(status, code, message).body(None), status)


async def serve_storage(request: Request) -> Response:
    """GET/HEAD of one artifact file at a signed URL."""
    emulator: Emulator = request.app.state.emulator
    params = request.query_params
    path = request.url.path
    refusal = emulator.signer.refusal(path, params.get("expires"), params.get("signature"))
    if refusal is not None:
        return _refuse(403, "forbidden", refusal)
    file = emulator.artifacts.stored_file(
        request.path_params["artifact_id"], request.path_params["name"]
    )
    if file is None:
        return _refuse(404, "not_found", "the artifact was deleted or expired")
    return _StorageFile(file, media_type="application/octet-stream")
