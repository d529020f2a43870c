"""A client's close stops its downloads: their transfers end, ``.part`` files stay."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.download.storage import BIG, STORED, StorageServer, descriptor
from tests.support.fakeserver import BASE, KEY, FakeWeaver
from tests.support.name_lookups import names
from weaver_facade import AsyncServiceClient, ClientClosedError, DownloadProgress, ServiceClient


@contextmanager
def held_download() -> Iterator[tuple[FakeWeaver, uuid.UUID, threading.Event, Callable[..., None]]]:
    """An artifact whose transfers storage holds; the event is set once a progress call
    has seen a first 64 KiB on disk."""
    artifact_id, fake, got_bytes = uuid.uuid4(), FakeWeaver(), threading.Event()

    def progress(p: DownloadProgress) -> None:
        if p.bytes_done >= 65536:
            got_bytes.set()

    with StorageServer(STORED).running() as storage:
        for name in STORED:
            storage.script(name, "stall:200000")
        reply = descriptor(storage, artifact_id, STORED)
        fake.script("GET", f"/api/v1/artifacts/{artifact_id}/download", reply)
        yield fake, artifact_id, got_bytes, progress


@pytest.mark.parametrize("timeout", [None, 120.0])
def test_close_stops_a_download_storage_holds(tmp_path: Path, timeout: float | None) -> None:
    # The transfers went on after close() until their read timeout (60 s), and longer
    # with retries: storage GETs are not API calls, so nothing refused them.
    with held_download() as (fake, artifact_id, got_bytes, progress):
        http = httpx.Client(transport=httpx.MockTransport(fake))
        svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            downloading = pool.submit(
                svc.download_weights,
                artifact_id,
                tmp_path / "out",
                progress=progress,
                timeout=timeout,  # with one, a stop was taken for its end
            )
            assert got_bytes.wait(10)
            svc.close()
            # A TimeoutError: the download outlived the close.
            with pytest.raises(ClientClosedError, match="run it again"):
                downloading.result(timeout=10)
    # Kept for a resume (a .part still empty is removed: nothing to resume).
    parts = [p.stat().st_size for p in (tmp_path / "out").glob("*.part")]
    assert sum(parts) >= 65536
    assert 0 not in parts
    assert not (tmp_path / "out" / BIG).exists()


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
def test_close_stops_a_download_waiting_for_a_storage_names_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    # A storage host's name (or its proxy's) that no DNS server answers is waited for up
    # to the connect's 10 s: the close ends that wait, as it ends a connect. The proxy's,
    # looked up by httpx's client, held the close for all of it.
    artifact_id, fake = uuid.uuid4(), FakeWeaver()
    with (
        StorageServer(STORED).running() as storage,
        names(monkeypatch, {"storage.test": None, "proxy.test": None}) as lookups,
    ):
        if proxied:
            monkeypatch.setenv("HTTP_PROXY", f"http://proxy.test:{storage.other_port}")
        reply = descriptor(storage, artifact_id, STORED)
        named = reply.text.replace("127.0.0.1", "storage.test")
        assert named != reply.text
        fake.script(
            "GET", f"/api/v1/artifacts/{artifact_id}/download", httpx.Response(200, text=named)
        )
        http = httpx.Client(transport=httpx.MockTransport(fake))
        svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            downloading = pool.submit(svc.download_weights, artifact_id, tmp_path / "out")
            assert lookups.asked.wait(10)
            svc.close()
            with pytest.raises(ClientClosedError, match="run it again"):
                downloading.result(timeout=2)  # a TimeoutError: the lookup held it
    assert not storage.requests


@pytest.mark.parametrize("seconds", [None, 120.0])
async def test_aclose_stops_a_download_storage_holds(tmp_path: Path, seconds: float | None) -> None:
    with held_download() as (fake, artifact_id, got_bytes, progress):
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        downloading = asyncio.create_task(
            svc.download_weights(artifact_id, tmp_path / "out", progress=progress, timeout=seconds)
        )
        assert await asyncio.to_thread(got_bytes.wait, 10)
        await svc.aclose()
        done, _ = await asyncio.wait({downloading}, timeout=10)
        assert done, "the download outlived the close"
        with pytest.raises(ClientClosedError, match="run it again"):
            await downloading
    assert not (tmp_path / "out" / BIG).exists()
