"""An operation that went from `done` back to `pending` is named.

Only `done` and `error` are terminal (the spec's `x-weaver-terminal`): a client stops
polling there, and one that reads the operation again (by id, a re-attach) must see the
same. The kit read each operation until it was done and never again, so a server whose
finished operations fell back to `pending` passed.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from tests.contract.support import KEY, quick
from tests.support.emulator import serve_in_thread
from weaver_facade.contract import run_contract_test
from weaver_facade.emulator import EmulatorConfig, create_app

OPERATION = re.compile(r"^/api/v1/operations/([^/]+)$")


class FallsBackToPending:
    """The emulator, but the read of an operation already seen `done` says `pending`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.done: set[str] = set()
        self.fell_back: set[str] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffered(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self.rewrite(scope, start["status"], b"".join(chunks))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)

    def rewrite(self, scope: Any, status: int, body: bytes) -> bytes:
        if status >= 300 or not body:
            return body
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if not isinstance(data, dict) or data.get("status") != "done" or "id" not in data:
            return body
        op_id = str(data["id"])
        is_read = scope["method"] == "GET" and OPERATION.match(scope["path"])
        if is_read and op_id in self.done:
            self.fell_back.add(op_id)
            data = {k: v for k, v in data.items() if k != "response"}
            return json.dumps({**data, "status": "pending"}).encode()
        self.done.add(op_id)
        return body


def test_an_operation_back_to_pending_after_done_is_a_finding() -> None:
    with tempfile.TemporaryDirectory(prefix="weaver-stays-done-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        falling = FallsBackToPending(app)
        with serve_in_thread(falling, app, name="stays-done") as base_url:
            report = run_contract_test(quick(base_url, parts=("lifecycle",)))
    assert falling.fell_back, "no operation was read again after done: the test shows nothing"
    found = [f for f in report.findings if f.check == "operation_terminal"]
    assert found, [f.line() for f in report.findings]
    [first, *_] = found
    assert first.operation == "GET /api/v1/operations/{operation_id}"
    op_id = re.search(r"`(op-[^`]+)`", first.message)
    assert op_id is not None
    assert op_id[1] in falling.fell_back
    assert "`pending` after `done`" in first.message
    assert "terminal" in first.message
    assert not report.passed
