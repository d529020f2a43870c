"""The emulator over real HTTP, holding the reply to each model's create until released,
and a Ctrl-C as a terminal sends it: for the tests of an interrupted create."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

from tests.support.emulator import serve_in_thread
from tests.support.logs import logged
from weaver_facade.emulator import EmulatorConfig, create_app

CREATE = re.compile(r"/api/v1/sessions/[^/]+/models")
TERMINATE = re.compile(r"/api/v1/models/[^/]+/terminate")


class HeldCreates:
    """An ASGI app: the emulator, whose reply to a model's create waits for ``release``
    once the model is made (``made``). While ``failing``, a create makes no model and is
    answered 503 ``unavailable`` (``retryable``) instead, held the same way. ``attempts``
    counts the creates that arrived. While ``holding_terminates``, a model's terminate
    (``terminating``) never reaches the emulator: it is answered 503 once the server stops."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.made = threading.Event()
        self.release = threading.Event()
        self.failing = False
        self.attempts = 0
        self.holding_terminates = False
        self.terminating = threading.Event()
        self.stopping = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self.holding_terminates
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and TERMINATE.fullmatch(scope["path"])
        ):
            self.terminating.set()
            await asyncio.to_thread(self.stopping.wait, 30)
            await _unavailable(send)
            return
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not CREATE.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        self.attempts += 1
        if self.failing:
            self.made.set()
            await asyncio.to_thread(self.release.wait, 5)
            await _unavailable(send)
            return

        async def held(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.made.set()
                await asyncio.to_thread(self.release.wait, 5)
            await send(message)

        await self.app(scope, receive, held)


async def _unavailable(send: Any) -> None:
    body = b'{"error": "unavailable", "message": "busy", "retryable": true}'
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@attrs.frozen
class Served:
    base_url: str
    api_key: str
    held: HeldCreates

    def statuses(self) -> dict[str, str]:
        """Every model's status, as the server itself tells (not through the facade)."""
        reply = httpx.get(
            f"{self.base_url}/api/v1/models", headers={"X-WEAVER-API-KEY": self.api_key}
        )
        reply.raise_for_status()
        return {m["id"]: m["status"] for m in reply.json()["items"]}


@contextlib.contextmanager
def serve_held_creates(api_key: str) -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix="weaver-held-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(api_key,)))
        held = HeldCreates(app)
        with serve_in_thread(held, app, name="held-creates") as base_url:
            try:
                yield Served(base_url, api_key, held)
            finally:
                held.release.set()  # before the server stops: a held reply would hold it up
                held.stopping.set()
            app.state.emulator.close()


@contextlib.contextmanager
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, as a script has, whatever the test runner set."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c() -> None:
    """SIGINT to the main thread, as a terminal sends it: a wait for a reply there is woken
    (a signal sent to the process may reach another thread, which wakes nothing)."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


HOLD_NOTICE = "interrupted: waiting for create_model to end"
# The same WARNING, as the command line shows it.
CLI_HOLD_NOTICE = "interrupted: waiting for the model's create to end"


def interrupt_then_answer(held: HeldCreates, signum: int = signal.SIGINT) -> threading.Thread:
    """A thread that sends Ctrl-C (or ``signum``) to the main thread once the model is made,
    then lets its reply go once the main thread holds the signal back, as the facade's
    WARNING says (without one, after 5 s: a create that did not hold it fails its test)."""

    def run() -> None:
        with logged(HOLD_NOTICE) as held_back:
            assert held.made.wait(5)
            signal.pthread_kill(threading.main_thread().ident or 0, signum)
            held_back.wait(5)
            held.release.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
