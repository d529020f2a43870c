"""Each ``DownloadProgress`` names the artifact of its download, as its ``DownloadResult``
does: downloads at once may share one ``progress`` callback (README: ``download_weights``)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.download.storage import DATA, StorageServer, descriptor
from tests.support.fakeserver import FakeWeaver, async_service, service
from weaver_facade import ArtifactKind, DownloadProgress, DownloadResult

BOUND = 30.0  # seconds: two small downloads on loopback


@pytest.fixture
def storage() -> Iterator[StorageServer]:
    with StorageServer(DATA).running() as server:
        yield server


def artifacts(fake: FakeWeaver, storage: StorageServer) -> dict[ArtifactKind, uuid.UUID]:
    """An artifact of each kind, of the same files, whose descriptors the API gives."""
    ids = {}
    for kind in ArtifactKind:
        ids[kind] = uuid.uuid4()
        body = {**descriptor(storage, ids[kind]).json(), "kind": kind.value}
        path = f"/api/v1/artifacts/{ids[kind]}/download"
        fake.script("GET", path, httpx.Response(200, json=body))
    return ids


def check(
    seen: list[DownloadProgress],
    ids: dict[ArtifactKind, uuid.UUID],
    results: dict[ArtifactKind, DownloadResult],
) -> None:
    """Every report names one of the downloads, as its result does, and counts it alone."""
    assert set(results) == set(ArtifactKind)
    assert {p.artifact_id for p in seen} == set(ids.values())
    for kind, result in results.items():
        assert result.artifact_id == ids[kind]
        mine = [p for p in seen if p.artifact_id == result.artifact_id]
        assert {p.kind for p in mine} == {result.kind}
        assert type(mine[-1].artifact_id) is uuid.UUID
        assert type(mine[-1].kind) is ArtifactKind
        assert [p.bytes_done for p in mine] == sorted(p.bytes_done for p in mine)
        assert mine[-1].bytes_done == result.bytes == sum(len(d) for d in DATA.values())
        assert mine[-1].files_done == mine[-1].files_total == len(result.files)


def test_downloads_in_threads_that_share_a_callback_are_told_apart(
    tmp_path: Path, storage: StorageServer
) -> None:
    fake = FakeWeaver()
    ids = artifacts(fake, storage)
    seen: list[DownloadProgress] = []
    lock = threading.Lock()

    def show(p: DownloadProgress) -> None:
        with lock:
            seen.append(p)

    results: dict[ArtifactKind, DownloadResult] = {}
    with service(fake) as svc:

        def download(kind: ArtifactKind) -> None:
            out = tmp_path / kind.value
            results[kind] = svc.download_weights(ids[kind], out, progress=show, timeout=BOUND)

        threads = [threading.Thread(target=download, args=(kind,)) for kind in ArtifactKind]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
    check(seen, ids, results)


async def test_async_downloads_that_share_a_callback_are_told_apart(
    tmp_path: Path, storage: StorageServer
) -> None:
    fake = FakeWeaver()
    ids = artifacts(fake, storage)
    seen: list[DownloadProgress] = []
    async with async_service(fake) as svc:
        done = await asyncio.wait_for(
            asyncio.gather(
                *(
                    svc.download_weights(ids[kind], tmp_path / kind.value, progress=seen.append)
                    for kind in ArtifactKind
                )
            ),
            BOUND,
        )
    check(seen, ids, dict(zip(ArtifactKind, done, strict=True)))


def test_a_progress_made_with_the_counts_alone_names_no_artifact() -> None:
    # As a display's own test makes one, before the artifact was named.
    p = DownloadProgress(bytes_done=1, bytes_total=2, files_done=0, files_total=1)
    assert (p.artifact_id, p.kind) == (None, None)
