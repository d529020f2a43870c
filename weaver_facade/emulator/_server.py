"""Serving the emulator over real HTTP: uvicorn in a background thread, or in the foreground."""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ._config import EmulatorConfig
from ._storage import STORAGE_PREFIX

__all__ = [
    "RunningEmulator",
    "listen_refusal",
    "permission_denied",
    "run_emulator",
    "serve_forever",
]

log = logging.getLogger("weaver_facade.emulator")

# Long-polls may hold a request for up to 60 s; a stopping server must not wait for them.
_GRACEFUL_SHUTDOWN_SECONDS = 2
_STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RunningEmulator:
    """A started emulator. ``base_url`` has no trailing slash and no ``/api/v1``."""

    base_url: str
    api_key: str | None = field(repr=False)
    data_dir: Path
    app: Starlette = field(repr=False)
    config: EmulatorConfig = field(repr=False)

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


class _Server(uvicorn.Server):
    """A uvicorn server that reports when it listens (or failed to start), and answers
    the app's held long-polls and ends its storage downloads when it stops, whatever
    stops it (a signal too)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[_Server], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Else uvicorn waits out its graceful timeout for them, then cancels them: a
        # plain-text 500, which a client does not retry, and a traceback in the log.
        _release_long_polls(self.config.app)
        _end_transfers(self.config.app)
        await super().shutdown(sockets=sockets)

    def bound_port(self) -> int:
        for server in self.servers:
            for sock in server.sockets or ():
                return int(sock.getsockname()[1])
        raise RuntimeError("the server has no listening socket")


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _uvicorn_config(app: Starlette, host: str, port: int, *, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # Never reconfigure the host program's logging; log through our loggers.
        log_config=None,
        access_log=access_log,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )


class _HideSignatures(logging.Filter):
    """A storage URL's query is its signature, a credential until it expires: the access
    log shows the path without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            path, signed, _ = args[2].partition("?")
            if signed and path.startswith(STORAGE_PREFIX):
                record.args = (*args[:2], f"{path}?[signature hidden]", *args[3:])
        return True


_ACCESS_FILTER = _HideSignatures()
_SERVER_THREAD = "weaver-emulator-server"


class _QuietInThread(logging.Filter):
    """An emulator served in a thread logs no access lines. uvicorn's own switch for that
    (``access_log=False``) empties the process-wide ``uvicorn.access`` logger and stops
    its propagation: the host program's handlers there were lost, and one added later
    (pytest's, which joins every logger that does not propagate) got a line per request,
    storage signatures too."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _SERVER_THREAD


_IN_THREAD_FILTER = _QuietInThread()


def _release_long_polls(app: object) -> None:
    """Answer held long-polls now (with the current state) so shutdown need not wait for them."""
    state = getattr(app, "state", None)
    waiters: Any = getattr(getattr(state, "emulator", None), "waiters", None)
    notify_all = getattr(waiters, "notify_all", None)
    if callable(notify_all):
        notify_all()


def _end_transfers(app: object) -> None:
    """End the storage files on their way: a client resumes them as a dropped connection."""
    stop = getattr(getattr(app, "transfers", None), "stop", None)
    if callable(stop):
        stop()


def _close_emulator(app: Starlette) -> None:
    emulator: Any = getattr(app.state, "emulator", None)
    close = getattr(emulator, "close", None)
    if callable(close):
        close()


@contextlib.contextmanager
def run_emulator(
    data_dir: str | Path | None = None,
    *,
    api_keys: tuple[str, ...] | list[str] = ("test-key",),
    host: str = "127.0.0.1",
    port: int = 0,
    **config: Any,
) -> Iterator[RunningEmulator]:
    """Start an emulator on ``host:port`` (0 picks a free port) in a background thread.

    With ``data_dir=None`` the state lives in a temporary directory removed on
    exit. Other keyword arguments are fields of ``EmulatorConfig`` (``latency``,
    ``faults``, ``extensions``, ``honor_long_poll``, ...). ``api_keys=()`` turns
    authentication off.
    """
    from . import create_app  # the app pulls numpy; importing it here keeps this module light

    temp_dir: str | None = None
    if data_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="weaver-emulator-")
        data_dir = temp_dir
    try:
        emulator_config = EmulatorConfig(
            data_dir=Path(data_dir), api_keys=tuple(api_keys), **config
        )
        app = create_app(emulator_config)
        try:
            with _serve_in_thread(app, host, port) as bound_port:
                yield RunningEmulator(
                    base_url=_base_url(host, bound_port),
                    api_key=emulator_config.api_keys[0] if emulator_config.api_keys else None,
                    data_dir=emulator_config.data_dir,
                    app=app,
                    config=emulator_config,
                )
        finally:
            _close_emulator(app)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def listen_refusal(host: str, port: int) -> OSError | None:
    """Why ``host``:``port`` cannot be listened on, or ``None``: binds it as uvicorn will
    (every address of the host, SO_REUSEADDR), since uvicorn only logs why, and exits."""
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
    except OSError as exc:
        return exc
    return None


def permission_denied(port: int) -> str:
    """A bind of ``port`` refused with EACCES, in words: uvicorn's exit status says nothing."""
    if 0 < port < 1024:
        return "permission denied (ports below 1024 need privileges)"
    return "permission denied"


@contextlib.contextmanager
def _serve_in_thread(app: Starlette, host: str, port: int) -> Iterator[int]:
    # Other refusals are uvicorn's to judge: it binds fewer addresses (not a ``::1`` that
    # ``localhost`` names on a host without IPv6).
    refused = listen_refusal(host, port)
    cannot_listen = f"the emulator cannot listen on {host}:{port}"
    if refused is not None and refused.errno in (errno.EADDRINUSE, errno.EACCES):
        in_use = refused.errno == errno.EADDRINUSE
        why = f"port {port} is in use" if in_use else permission_denied(port)
        raise RuntimeError(f"{cannot_listen}: {why}") from refused
    settled = threading.Event()
    failure: list[BaseException] = []

    def on_ready(_: _Server) -> None:
        settled.set()

    logging.getLogger("uvicorn.access").addFilter(_IN_THREAD_FILTER)  # once: filters are a set
    server = _Server(_uvicorn_config(app, host, port, access_log=True), on_ready)

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # uvicorn reports a failed bind with SystemExit
            failure.append(exc)
        finally:
            settled.set()

    thread = threading.Thread(target=run, name=_SERVER_THREAD, daemon=True)
    thread.start()
    settled.wait(_STARTUP_TIMEOUT_SECONDS)
    if not server.started:
        server.should_exit = True
        thread.join(timeout=5)
        if refused is not None and failure and isinstance(failure[0], SystemExit):
            # uvicorn's exit status says nothing; the refusal it met too says why.
            raise RuntimeError(f"{cannot_listen}: {refused.strerror or refused}") from refused
        reason = f": {failure[0]!r}" if failure else ""
        raise RuntimeError(f"the emulator failed to start on {host}:{port}{reason}")
    try:
        yield server.bound_port()
    finally:
        server.should_exit = True
        thread.join(timeout=_GRACEFUL_SHUTDOWN_SECONDS + 10)


def serve_forever(
    config: EmulatorConfig,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], None],
    access_log: bool = True,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; ``on_ready`` gets the base URL."""
    from . import create_app

    app = create_app(config)
    logging.getLogger("uvicorn.access").addFilter(_ACCESS_FILTER)  # once: filters are a set
    server = _Server(
        _uvicorn_config(app, host, port, access_log=access_log),
        lambda s: on_ready(_base_url(host, s.bound_port())),
    )
    try:
        server.run()
    finally:
        _close_emulator(app)
