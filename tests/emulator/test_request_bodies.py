"""Request bodies: the size limit (413 ``payload_too_large``), refused without buffering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.emulator import API, KEY_A, AppFactory, assert_error
from weaver_facade.cli import main
from weaver_facade.emulator import EmulatorConfig, run_emulator
from weaver_facade.emulator import _cli as emulator_cli

LIMIT = 4096


async def _call(
    app: Any, body_chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any], int]:
    """Send a POST straight to the ASGI app; its status, its JSON body and how many body
    messages the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        chunk = next(body_chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/sessions",
        "raw_path": f"{API}/sessions".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"emulator"), (b"x-weaver-api-key", KEY_A.encode()), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(content), pulled


def _endless() -> Iterator[bytes]:
    """A body without end: the app may read a little of it, never all (that would fail)."""
    for _ in range(1000):
        yield b" " * 1000
    raise AssertionError("read 1 MB of the body")


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read(
    make_app: AppFactory,
) -> None:
    app = make_app(max_body_size=LIMIT)
    status, body, pulled = await _call(app, _endless(), [(b"content-length", b"4097")])
    assert status == 413
    assert body["error"] == "payload_too_large"
    assert body["retryable"] is False
    assert f"larger than {LIMIT} bytes" in body["message"]
    assert pulled == 0


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(make_app: AppFactory) -> None:
    # No Content-Length: an endless body is read only until it passes the limit.
    status, body, pulled = await _call(make_app(max_body_size=LIMIT), _endless(), [])
    assert status == 413
    assert body["error"] == "payload_too_large"
    assert pulled == LIMIT // 1000 + 1


async def test_a_body_of_the_limit_is_taken(make_app: AppFactory) -> None:
    chunks = iter([b" " * LIMIT])
    status, body, _ = await _call(
        make_app(max_body_size=LIMIT), chunks, [(b"content-length", str(LIMIT).encode())]
    )
    # Read and parsed: blank, so refused as a missing body, not as too large.
    assert (status, body["error"]) == (400, "invalid_request")


def test_the_limit_over_real_http(tmp_path: Path) -> None:
    with run_emulator(tmp_path, api_keys=(KEY_A,), max_body_size=2**20) as emu:
        headers = {"X-WEAVER-API-KEY": KEY_A, "Content-Type": "application/json"}
        with httpx.Client(base_url=emu.base_url + API, headers=headers, timeout=30) as client:
            declared = client.post("/sessions", content=b" " * (32 * 2**20))
            error = assert_error(declared, 413, "payload_too_large", f"larger than {2**20} bytes")
            assert error["request_id"] == declared.headers["X-Request-ID"]
            streamed = client.post("/sessions", content=iter([b" " * 65536] * 512))
            assert_error(streamed, 413, "payload_too_large")
            # The connection stays usable, and a body within the limit is served.
            assert client.post("/sessions", json={"tags": ["x" * 100]}).status_code == 201


def test_the_command_line_sets_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[EmulatorConfig] = []
    monkeypatch.setattr(emulator_cli, "serve_forever", lambda config, *a, **k: seen.append(config))
    for args, limit in (([], 64 * 2**20), (["--max-body-size", "2MB"], 2_000_000)):
        result = CliRunner().invoke(main, ["emulator", "--port", "0", *args])
        assert result.exit_code == 0, result.output
        assert seen.pop().max_body_size == limit
