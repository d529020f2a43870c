"""Serving an (optionally drifting) emulator over real HTTP for the kit's tests, and the
quick settings they run the kit with."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.contract.drift import Drift, DriftMiddleware
from tests.support.emulator import serve_in_thread
from tests.support.scripted_http import Answer, Reply
from tests.support.signals import with_sigint
from weaver_facade.contract import ContractSettings
from weaver_facade.contract._kit import QUICK_MAX_EXAMPLES, QUICK_STATEFUL_STEPS
from weaver_facade.emulator import EmulatorConfig, create_app

if TYPE_CHECKING:
    from starlette.applications import Starlette

KEY = "contract-kit-secret-key-5b9e"
ROOT = Path(__file__).resolve().parents[2]


def model_reads(reply: Reply | str) -> Answer:
    """A server that opens a session and creates model ``m-1``, answers a read of that
    model (the kit's own request without the key, for its 401) with ``reply``, and refuses
    everything else."""

    def answer(method: str, path: str) -> Reply | str:
        path = path.partition("?")[0]
        if method == "POST" and path == "/api/v1/sessions":
            return 201, {"id": "s-1", "created_at": "2026-11-29T10:01:00Z"}, {}
        if method == "POST" and path == "/api/v1/sessions/s-1/models":
            return 201, {"id": "m-1", "base_model": "weaver-tiny"}, {}
        if method == "GET" and path == "/api/v1/models/m-1":
            return reply
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}

    return answer


def kit_process(sigint: str, args: list[str], key: str = KEY) -> subprocess.Popen[str]:
    """``python -m weaver_facade.contract ARGS`` with SIGINT's disposition ``sigint`` (see
    ``with_sigint``) and ``key`` in ``WEAVER_API_KEY``; its output piped, as text."""
    return subprocess.Popen(
        with_sigint(sigint, [sys.executable, "-m", "weaver_facade.contract", *args]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WEAVER_API_KEY": key},
        cwd=ROOT,
    )


def quick(base_url: str, **overrides: object) -> ContractSettings:
    """The kit's ``--quick`` run against ``base_url`` with ``KEY``, as ``overrides`` change it."""
    settings: dict[str, object] = {
        "base_url": base_url,
        "api_key": KEY,
        "max_examples": QUICK_MAX_EXAMPLES,
        "stateful_steps": QUICK_STATEFUL_STEPS,
        "time_limit": 60.0,
        "deadline": 3.0,
    }
    settings.update(overrides)
    return ContractSettings(**settings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Served:
    base_url: str
    middleware: DriftMiddleware
    app: Starlette

    def checkpoints(self) -> dict[str, str]:
        """Each checkpoint the emulator ever stored, by name, with its status: its own
        store's record, read past every route (and past the kit)."""
        rows = self.app.state.emulator.store.all("SELECT name, status FROM checkpoints")
        return {str(row["name"]): str(row["status"]) for row in rows}


@contextlib.contextmanager
def serve_emulator(
    drift: Drift = Drift.NONE,
    *,
    served_spec: bytes | None = None,
    api_keys: tuple[str, ...] = (KEY,),
    extensions: str = "all",
) -> Iterator[Served]:
    """The emulator (offering ``extensions``) behind ``DriftMiddleware`` on a free loopback
    port, in a thread."""
    with tempfile.TemporaryDirectory(prefix="weaver-contract-") as data_dir:
        emulated = EmulatorConfig(data_dir=Path(data_dir), api_keys=api_keys, extensions=extensions)
        app = create_app(emulated)
        key = next(iter(api_keys), None)
        middleware = DriftMiddleware(app, drift, served_spec=served_spec, key=key)
        with serve_in_thread(middleware, app, name="contract-emulator") as base_url:
            yield Served(base_url, middleware, app)
