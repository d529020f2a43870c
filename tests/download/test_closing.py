"""A client's close stops its downloads: their transfers end, ``.part`` files stay."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.download.storage import StorageServer
from tests.download.test_no_key_to_storage import DATA, descriptor
from tests.support.fakeserver import BASE, KEY, FakeWeaver
from weaver_facade import AsyncServiceClient, ClientClosedError, DownloadProgress, ServiceClient

BIG = "adapter_model.safetensors"


def test_close_stops_a_download_storage_holds(tmp_path: Path) -> None:
    # The transfers went on after close() until their read timeout (60 s), and longer
    # with retries: storage GETs are not API calls, so nothing refused them.
    artifact_id = uuid.uuid4()
    fake = FakeWeaver()
    got_bytes = threading.Event()

    def progress(p: DownloadProgress) -> None:
        if p.bytes_done >= 65536:  # the stalled file's first read
            got_bytes.set()

    with StorageServer(DATA).running() as storage:
        storage.script(BIG, "stall:200000")
        path = f"/api/v1/artifacts/{artifact_id}/download"
        fake.script("GET", path, descriptor(storage, artifact_id))
        http = httpx.Client(transport=httpx.MockTransport(fake))
        svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        errors: list[BaseException] = []

        def download() -> None:
            try:
                svc.download_weights(artifact_id, tmp_path / "out", progress=progress)
            except BaseException as exc:
                errors.append(exc)

        downloading = threading.Thread(target=download)
        downloading.start()
        assert got_bytes.wait(10)
        svc.close()
        downloading.join(10)
        assert not downloading.is_alive(), "the download outlived the close"
    assert len(errors) == 1, errors
    assert isinstance(errors[0], ClientClosedError)
    assert "run it again" in str(errors[0])
    assert (tmp_path / "out" / f"{BIG}.part").stat().st_size >= 65536  # kept for a resume
    assert not (tmp_path / "out" / BIG).exists()


async def test_aclose_stops_a_download_storage_holds(tmp_path: Path) -> None:
    artifact_id = uuid.uuid4()
    fake = FakeWeaver()
    got_bytes = threading.Event()

    def progress(p: DownloadProgress) -> None:
        if p.bytes_done >= 65536:  # the stalled file's first read
            got_bytes.set()

    with StorageServer(DATA).running() as storage:
        storage.script(BIG, "stall:200000")
        path = f"/api/v1/artifacts/{artifact_id}/download"
        fake.script("GET", path, descriptor(storage, artifact_id))
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        downloading = asyncio.create_task(
            svc.download_weights(artifact_id, tmp_path / "out", progress=progress)
        )
        assert await asyncio.to_thread(got_bytes.wait, 10)
        await svc.aclose()
        done, _ = await asyncio.wait({downloading}, timeout=10)
        assert done, "the download outlived the close"
        with pytest.raises(ClientClosedError, match="run it again"):
            await downloading
    assert not (tmp_path / "out" / BIG).exists()
