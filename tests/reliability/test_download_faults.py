"""Downloads through storage faults, and a downloader killed with SIGKILL then run again.

The emulator's fault layer disturbs only its storage route: 20% of bodies are
cut mid-way, some replies are 503 or 429 with ``Retry-After``, and the URLs
live 2 s, so a download held up for longer meets one expiry. The files must
end byte-identical to a fault-free download and to the server's manifest.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.download.storage import StorageServer, descriptor
from tests.support.fakeserver import FakeWeaver, service
from weaver_facade import Artifact, DownloadProgress, ServiceClient, datum_from_tokens
from weaver_facade.emulator import run_emulator
from weaver_facade.emulator._config import FaultConfig, FaultRule
from weaver_facade.emulator._storage import STORAGE_ROUTE

KEY = "reliability-download-key"
BATCH = [datum_from_tokens([(3 * i + j) % 256 for j in range(12)]) for i in range(4)]


def merged_export(service: ServiceClient, base_model: str = "weaver-tiny") -> Artifact:
    trainer = service.create_training_client(base_model, seed=5)
    trainer.forward_backward(BATCH)
    trainer.optim_step()
    return trainer.export_weights(trainer.save_state("c"), merge_adapter=True)


def tree(dest: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()
    }


def test_downloads_through_drops_503s_429s_and_an_expiry_end_byte_identical(
    tmp_path: Path,
) -> None:
    faults = FaultConfig(
        rules=(
            FaultRule("drop", 0.2, when="mid", route=STORAGE_ROUTE),
            FaultRule("unavailable", 0.1, route=STORAGE_ROUTE, retry_after=0),
            FaultRule("rate_limited", 0.1, route=STORAGE_ROUTE, retry_after=0),
        ),
        seed=7,
    )
    with (
        run_emulator(api_keys=(KEY,), shard_size=20_000, url_ttl=2.0) as clean,
        ServiceClient(clean.base_url, KEY, heartbeat_interval=0) as service,
    ):
        reference_artifact = merged_export(service)
        service.download_weights(reference_artifact, tmp_path / "reference")
    reference = tree(tmp_path / "reference")
    assert len(reference) >= 4  # sharded: a real multi-file download

    descriptors: list[httpx.Request] = []
    with (
        run_emulator(api_keys=(KEY,), shard_size=20_000, url_ttl=2.0, faults=faults) as emu,
        httpx.Client(event_hooks={"request": [descriptors.append]}) as http,
        ServiceClient(emu.base_url, KEY, heartbeat_interval=0, http_client=http) as service,
    ):
        artifact = merged_export(service)
        held: list[DownloadProgress] = []

        def hold_once(p: DownloadProgress) -> None:
            if not held and p.bytes_done > 0:
                held.append(p)
                time.sleep(2.5)  # every URL handed out so far expires meanwhile

        descriptors.clear()
        result = service.download_weights(
            artifact, tmp_path / "faulty", progress=hold_once, timeout=120
        )
    # The URLs were refreshed through the API at least once.
    assert len([r for r in descriptors if r.url.path.endswith("/download")]) >= 2
    got = tree(tmp_path / "faulty")
    assert got == reference
    for f in artifact.files:
        assert hashlib.sha256(got[f.name]).hexdigest() == f.sha256
    assert result.bytes == sum(len(v) for v in reference.values())
    # Drops resume where they stopped: far less than a second copy is re-fetched.
    assert result.bytes_fetched < 1.5 * result.bytes


DOWNLOADER = """
import sys, time
from weaver_facade import ServiceClient
base, key, artifact, dest = sys.argv[1:5]
with ServiceClient(base, key, heartbeat_interval=0) as service:
    # Slowed down (1 ms per network read) so that the parent can kill it half-way.
    service.download_weights(artifact, dest, max_concurrency=2,
                             progress=lambda p: time.sleep(0.001))
"""


@pytest.mark.slow
def test_a_killed_download_resumes_without_fetching_finished_files_again(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "out"
    with (
        run_emulator(api_keys=(KEY,), shard_size=8_000_000) as emu,
        ServiceClient(emu.base_url, KEY, heartbeat_interval=0) as service,
    ):
        artifact = merged_export(service, "weaver-large-vocab")
        assert len(artifact.files) >= 4
        proc = subprocess.Popen(
            [sys.executable, "-c", DOWNLOADER, emu.base_url, KEY, str(artifact.id), str(dest)],
            env={**os.environ, "WEAVER_API_KEY": ""},
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                finished = [f for f in artifact.files if (dest / f.name).exists()]
                parts = [p for p in dest.glob("*.part") if p.stat().st_size > 0]
                if finished and parts:
                    break
                assert proc.poll() is None, "the downloader ended before it was killed"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        finished_names = {f.name for f in artifact.files if (dest / f.name).exists()}
        on_disk = sum((dest / n).stat().st_size for n in finished_names) + sum(
            p.stat().st_size for p in dest.glob("*.part")
        )
        assert finished_names
        assert on_disk < (artifact.size_bytes or 0)
        result = service.download_weights(artifact, dest)
    assert result.files_skipped == len(finished_names)
    missing = result.bytes - on_disk
    assert missing <= result.bytes_fetched <= missing + 64 * 1024
    for f in artifact.files:
        assert hashlib.sha256((dest / f.name).read_bytes()).hexdigest() == f.sha256
    assert not list(dest.glob("*.part"))


def test_with_options_leaves_a_downloads_transfers_to_its_own_timeout(tmp_path: Path) -> None:
    # A download has its own deadline, `download_weights(timeout=...)`: a copy's
    # `with_options(timeout=0.5)` bounds its API requests only. Storage answers 503 four
    # times (0.2 s each, then a backoff), so the file takes longer than 0.5 s, and arrives.
    stored, artifact_id, fake = {"w.bin": b"weights" * 1000}, uuid.uuid4(), FakeWeaver()
    with StorageServer(stored).running() as storage:
        storage.script("w.bin", *["slow503"] * 4)
        path = f"/api/v1/artifacts/{artifact_id}/download"
        fake.script("GET", path, descriptor(storage, artifact_id, stored))
        with service(fake) as svc:
            started = time.monotonic()
            svc.with_options(timeout=0.5).download_weights(artifact_id, tmp_path)
            assert time.monotonic() - started > 0.8
        assert [r.key for r in storage.requests] == ["w.bin"] * 5
    assert (tmp_path / "w.bin").read_bytes() == stored["w.bin"]
