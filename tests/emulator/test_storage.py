"""Storage: signed URLs without the API key, ranges, expiry, tampering, and storage faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import h11
import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from tests.emulator.artifact_support import exported, fetch, trained_checkpoint
from tests.support.emulator import KEY_A, Api, AppFactory, FakeClock, Json
from weaver_facade.emulator import FaultConfig, FaultRule, run_emulator
from weaver_facade.emulator._storage import PathSend, Transfers

STORAGE_ROUTE = "/storage/artifacts/{artifact_id}/{name}"


def _api(app: Starlette) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=60
    )
    return client, Api(client, KEY_A)


async def _merged_file(api: Api) -> tuple[Json, Json]:
    """(descriptor, its safetensors file item) of a merged export."""
    ckpt = await trained_checkpoint(api)
    artifact = await exported(api, ckpt["id"], merge_adapter=True)
    descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
    item = next(f for f in descriptor["files"] if f["name"].endswith(".safetensors"))
    return descriptor, item


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_signed_url_needs_no_key_and_serves_exact_bytes(api: Api) -> None:
    descriptor, item = await _merged_file(api)
    assert descriptor["total_bytes"] == sum(f["size"] for f in descriptor["files"])
    assert urlsplit(item["url"]).scheme == "http"
    assert urlsplit(item["url"]).netloc == "emulator"
    response = await fetch(api.client, item["url"])
    assert response.status_code == 200
    assert "x-weaver-api-key" not in response.request.headers
    assert int(response.headers["content-length"]) == item["size"] == len(response.content)
    assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
    assert response.headers["accept-ranges"] == "bytes"
    head = await api.client.head(item["url"])
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == item["size"]


async def test_range_from_an_offset_is_206_and_past_the_end_is_416(api: Api) -> None:
    _, item = await _merged_file(api)
    whole = (await fetch(api.client, item["url"])).content
    offset = item["size"] // 3
    partial = await fetch(api.client, item["url"], Range=f"bytes={offset}-")
    assert partial.status_code == 206
    assert partial.content == whole[offset:]
    assert int(partial.headers["content-length"]) == item["size"] - offset
    assert partial.headers["content-range"] == f"bytes {offset}-{item['size'] - 1}/{item['size']}"
    last = await fetch(api.client, item["url"], Range=f"bytes={item['size'] - 1}-")
    assert (last.status_code, last.content) == (206, whole[-1:])
    end = await fetch(api.client, item["url"], Range=f"bytes={item['size']}-")
    assert end.status_code == 416
    assert end.headers["content-range"] == f"bytes */{item['size']}"


async def test_a_url_expires_after_url_ttl_and_a_new_descriptor_works(
    make_app: AppFactory, clock: FakeClock
) -> None:
    client, api = _api(make_app(url_ttl=60))
    async with client:
        descriptor, item = await _merged_file(api)
        expires_at = dt.datetime.fromisoformat(item["url_expires_at"])
        # --url-ttl seconds, rounded up to a whole second (README).
        assert 60 <= expires_at.timestamp() - clock.now <= 61
        assert expires_at.timestamp() == int(expires_at.timestamp())
        clock.advance(expires_at.timestamp() - clock.now - 0.01)
        assert (await fetch(client, item["url"])).status_code == 200
        clock.advance(0.02)
        expired = await fetch(client, item["url"])
        assert expired.status_code == 403
        assert "expired" in expired.json()["message"]
        fresh = await api.ok("GET", f"/artifacts/{descriptor['artifact_id']}/download")
        renewed = next(f for f in fresh["files"] if f["name"] == item["name"])
        assert renewed["url"] != item["url"]
        assert (await fetch(client, renewed["url"])).status_code == 200


async def test_an_altered_url_is_403(api: Api) -> None:
    descriptor, item = await _merged_file(api)
    url = item["url"]
    signature = dict(parse_qsl(urlsplit(url).query))["signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    other = next(f for f in descriptor["files"] if f["name"] != item["name"])
    later = str(int(dict(parse_qsl(urlsplit(url).query))["expires"]) + 3600)
    for bad in (
        _with_query(url, signature=flipped),
        _with_query(url, expires=later),
        url.split("?")[0],
        # A valid signature of one file does not open another.
        url.replace(item["name"], other["name"]),
    ):
        response = await fetch(api.client, bad)
        assert response.status_code == 403, bad
        assert response.json()["error"] == "forbidden"
    assert (await fetch(api.client, url)).status_code == 200


async def test_storage_urls_can_point_at_another_host(make_app: AppFactory) -> None:
    client, api = _api(make_app(storage_url="http://storage.test:9000/"))
    async with client:
        _, item = await _merged_file(api)
    assert item["url"].startswith("http://storage.test:9000/storage/artifacts/")


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        (FaultRule("unavailable", 1.0, route=STORAGE_ROUTE, retry_after=2), 503),
        (FaultRule("rate_limited", 1.0, route=STORAGE_ROUTE, retry_after=3), 429),
    ],
)
async def test_storage_faults_answer_with_retry_after(
    make_app: AppFactory, rule: FaultRule, status: int
) -> None:
    client, api = _api(make_app(faults=FaultConfig(rules=(rule,))))
    async with client:
        # The API is untouched: the rule names the storage route.
        _, item = await _merged_file(api)
        response = await fetch(client, item["url"])
    assert response.status_code == status
    assert response.headers["retry-after"] == str(rule.retry_after)
    assert response.json()["retryable"] is True


async def test_a_storage_that_ignores_range_answers_200_with_the_whole_file(
    make_app: AppFactory,
) -> None:
    rule = FaultRule("ignore_range", 1.0, route=STORAGE_ROUTE)
    client, api = _api(make_app(faults=FaultConfig(rules=(rule,))))
    async with client:
        _, item = await _merged_file(api)
        response = await fetch(client, item["url"], Range="bytes=100-")
    assert response.status_code == 200
    assert len(response.content) == item["size"]
    assert hashlib.sha256(response.content).hexdigest() == item["sha256"]


async def test_a_connection_dropped_mid_body_delivers_part_of_the_file() -> None:
    rule = FaultRule("drop", 1.0, when="mid", route=STORAGE_ROUTE)
    with run_emulator(api_keys=(KEY_A,), faults=FaultConfig(rules=(rule,), seed=5)) as emu:
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=30) as client:
            api = Api(client, KEY_A)
            descriptor, item = await _merged_file(api)
            stored = emu.data_dir / "artifacts" / descriptor["artifact_id"] / item["name"]
            whole = stored.read_bytes()
            assert hashlib.sha256(whole).hexdigest() == item["sha256"]
            for _ in range(3):
                received = bytearray()
                async with client.stream("GET", item["url"]) as response:
                    assert response.status_code == 200
                    assert int(response.headers["content-length"]) == item["size"]
                    with pytest.raises(httpx.RemoteProtocolError):
                        await _read_into(response, received)
                assert 0 < len(received) < item["size"]
                # What did arrive is the file's true prefix, so a client can resume after it.
                assert whole.startswith(received)


async def _read_into(response: httpx.Response, sink: bytearray) -> None:
    async for chunk in response.aiter_raw():
        sink += chunk


async def test_a_whole_file_goes_out_with_sendfile_and_the_connection_stays_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[int] = []
    recorded = threading.Condition()
    real_sendfile = os.sendfile

    def counting_sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        done = real_sendfile(out_fd, in_fd, offset, count)
        with recorded:
            sent.append(done)
            recorded.notify_all()
        return done

    def sendfile_total(size: int) -> int:
        # The client can hold every byte before the server thread returns from
        # sendfile and records it (on a busy machine): wait for that, boundedly.
        with recorded:
            recorded.wait_for(lambda: sum(sent) >= size, timeout=5)
            return sum(sent)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    with run_emulator(api_keys=(KEY_A,)) as emu:
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=30) as client:
            api = Api(client, KEY_A)
            descriptor, item = await _merged_file(api)
            stored = emu.data_dir / "artifacts" / descriptor["artifact_id"] / item["name"]
            whole = stored.read_bytes()
            sent.clear()
            first = await fetch(client, item["url"])
            assert (first.status_code, first.content) == (200, whole)
            assert sendfile_total(item["size"]) == item["size"]
            # The same keep-alive connection serves the next replies: a range (streamed,
            # not sent with sendfile) and the whole file again.
            sent.clear()
            offset = item["size"] // 2
            partial = await fetch(client, item["url"], Range=f"bytes={offset}-")
            assert (partial.status_code, partial.content) == (206, whole[offset:])
            assert sent == []
            again = await fetch(client, item["url"])
            assert again.content == whole
            assert sendfile_total(item["size"]) == item["size"]
            assert "x-request-id" in again.headers


class _LoopWithoutSendfile(asyncio.SelectorEventLoop):
    """An event loop without ``loop.sendfile``, as uvloop's (which uvicorn picks
    whenever it is installed): the base class's raises NotImplementedError."""

    sendfile = asyncio.AbstractEventLoop.sendfile


def test_files_are_served_on_an_event_loop_without_sendfile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With uvloop installed, every storage reply ended after its headers: the body's
    # sendfile raised NotImplementedError, and downloads gave up on IncompleteRead.
    monkeypatch.setattr(
        "uvicorn.loops.auto.auto_loop_factory",
        lambda use_subprocess=False: _LoopWithoutSendfile,
    )
    with run_emulator(api_keys=(KEY_A,)) as emu:

        async def download() -> None:
            async with httpx.AsyncClient(base_url=emu.base_url, timeout=30) as client:
                descriptor, item = await _merged_file(Api(client, KEY_A))
                stored = emu.data_dir / "artifacts" / descriptor["artifact_id"] / item["name"]
                reply = await fetch(client, item["url"])
                assert (reply.status_code, reply.content) == (200, stored.read_bytes())

        asyncio.run(download())


class _GoneCycle:
    """uvicorn's request cycle after the client closed the connection: its ``send`` drops
    every message, and h11 has sent nothing of the reply."""

    def __init__(self) -> None:
        self.conn = h11.Connection(h11.SERVER)
        self.disconnected = True
        self.sent: list[str] = []

        class Transport:
            def is_closing(self) -> bool:
                return True

            def close(self) -> None:
                pass

        self.transport = Transport()

    async def send(self, message: Message) -> None:
        self.sent.append(message["type"])


async def test_a_client_gone_before_the_file_is_sent_is_no_error(tmp_path: Path) -> None:
    # Each abandoned download logged "Exception in ASGI application": h11 refused the
    # file's bytes of a reply whose start uvicorn had dropped.
    file = tmp_path / "weights.bin"
    file.write_bytes(b"x" * 1024)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(file)})

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    cycle = _GoneCycle()
    scope = {"type": "http", "path": "/storage/artifacts/a/weights.bin", "extensions": {}}
    await PathSend(app, Transfers())(scope, receive, cycle.send)
    assert cycle.sent == ["http.response.start"]


async def test_a_client_gone_mid_file_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    # Every download abandoned mid-file logged "ASGI callable returned without completing
    # response": uvicorn learnt of the closed connection only after the app returned.
    with (
        caplog.at_level(logging.INFO, logger="uvicorn.error"),
        run_emulator(api_keys=(KEY_A,)) as emu,
    ):
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=30) as client:
            api = Api(client, KEY_A)
            # An untrained weaver-large-vocab: its merged weights are tens of MiB.
            model_id = await api.model(base_model="weaver-large-vocab")
            checkpoint = await api.save(model_id, "weight")
            artifact = await exported(api, checkpoint["id"], merge_adapter=True)
            descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
            item = max(descriptor["files"], key=lambda f: int(f["size"]))
        url = httpx.URL(item["url"])
        assert item["size"] > 4 * 1024 * 1024  # more than the socket buffers hold
        for _ in range(3):
            with socket.create_connection((url.host, url.port)) as conn:
                conn.sendall(f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    # The emulator's stop waited for each request to end (or logged an ERROR cancelling
    # it), so whatever uvicorn logged of the closed connections is in caplog by now.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
