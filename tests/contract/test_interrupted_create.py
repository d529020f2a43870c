"""SIGTERM (a cancelled CI job) while a model's create is on its way: the kit waits for the
reply, terminates the model it names, and exits 130.

The extension probe sent its create with a raw client: the interrupt came while it waited,
the reply was lost, and the model it made kept running on the server (with the server's
training resources), unknown to the run. The lifecycle's creates (the facade's, which hold
the interrupt) and schemathesis' (sent from its workers, which a first interrupt lets finish)
did not lose theirs; they are here so that they stay so. With SIGINT at its default, and
ignored (a background job), where the SIGTERM raised at once and lost the reply.
"""

from __future__ import annotations

import asyncio
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.support import KEY, kit_process
from tests.support.emulator import serve_in_thread
from weaver_facade import ServiceClient
from weaver_facade.emulator import EmulatorConfig, create_app

_CREATE = re.compile(r"/api/v1/sessions/[^/]+/models")


class _HoldCreate:
    """Holds the reply to the ``nth`` model create of the run, once the model is made
    (``arrived``), until ``release``."""

    def __init__(self, app: Any, nth: int) -> None:
        self.app = app
        self.nth = nth
        self.seen = 0
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        creates = scope["type"] == "http" and scope["method"] == "POST"
        if not (creates and _CREATE.fullmatch(scope["path"])):
            await self.app(scope, receive, send)
            return
        self.seen += 1
        held = self.seen == self.nth

        async def reply(message: Any) -> None:
            if held and message["type"] == "http.response.start":
                # The model is made; its reply is on its way.
                self.arrived.set()
                await asyncio.to_thread(self.release.wait, 30)
            await send(message)

        await self.app(scope, receive, reply)


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, _HoldCreate, str]]:
    with tempfile.TemporaryDirectory(prefix="weaver-contract-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        holding = _HoldCreate(app, request.param[0])
        with serve_in_thread(holding, app, name="contract-emulator") as base_url:
            yield base_url, holding, request.param[1]


@pytest.mark.parametrize(
    ("served", "sigint"),
    [
        ((1, "lifecycle"), "SIG_DFL"),
        ((2, "lifecycle"), "SIG_DFL"),
        ((2, "conformance"), "SIG_DFL"),
        ((1, "lifecycle"), "SIG_IGN"),
        ((2, "lifecycle"), "SIG_IGN"),
    ],
    ids=[
        "the-extension-probe's-create",
        "the-lifecycle's-create",
        "a-conformance-create",
        "the-extension-probe's-create-in-a-background-job",
        "the-lifecycle's-create-in-a-background-job",
    ],
    indirect=["served"],
)
def test_sigterm_during_a_create_terminates_the_model_it_made(
    served: tuple[str, _HoldCreate, str], sigint: str
) -> None:
    base_url, holding, part = served
    args = ["--base-url", base_url, "--only", part, "--quick"]
    # SIGINT at its default, as for a foreground job, or ignored, as for a script's
    # background job, whatever this run inherited.
    with kit_process(sigint, args) as run:
        try:
            assert holding.arrived.wait(120), "the run sent no create"
            run.send_signal(signal.SIGTERM)
            # The kit's main thread takes the signal while the create is on its way.
            threading.Event().wait(0.5)
        finally:
            holding.release.set()
        stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stdout + stderr
    assert stderr.rstrip().endswith("error: interrupted"), stderr
    with ServiceClient(base_url, KEY, heartbeat_interval=0) as service:
        made = service.list_models()
    assert len(made) == holding.nth, made  # the held create made its model
    assert {m.status for m in made} == {"terminated"}, made
