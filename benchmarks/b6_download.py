"""B6, download: the >= 1 GiB merged export of weaver-large, facade against curl.

The emulator runs in its own process and exports a LoRA model of
``weaver-large`` merged into its base weights (1.09 GB, sharded at 300 MB so
that the download is several files at once). Then, side by side and
alternating, in fresh folders each time:

* ``curl --parallel --parallel-max 4`` fetches the descriptor's signed URLs
  (the physical limit here: C, no hashing);
* ``download_weights`` (4 files at once, sha256 checked while streaming) runs in
  a child process, which reports its wall time and its peak RSS growth
  (``ru_maxrss`` after the download minus the RSS just before it) and its CPU
  time.

Wall time is the median of the runs. Then a child downloader is killed with
SIGKILL once half of the bytes are on disk; a second run must fetch only the
missing bytes (plus at most 64 KiB) and skip the finished files.
``--quick`` uses ``weaver-large-vocab`` (about 39 MB) instead.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import KEY, ROOT, Result, Section, emulator, median
from weaver_facade import Artifact, ServiceClient, datum_from_tokens
from weaver_facade import _calls as calls
from weaver_facade._artifacts import descriptor_from_wire

WALL_TARGET = 1.25
RSS_TARGET = 64 * 2**20
REFETCH_TARGET = 64 * 1024

CHILD = """
import json, os, resource, sys, time
from weaver_facade import ServiceClient
base, key, artifact, dest = sys.argv[1:5]
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
with ServiceClient(base, key, heartbeat_interval=0) as service:
    service.list_artifacts  # everything imported before the baseline
    import weaver_facade._download, httpx, hashlib
    before = rss()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = service.download_weights(artifact, dest, max_concurrency=4)
    wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = usage.ru_maxrss * 1024
print(json.dumps({"wall": wall, "rss_growth": peak - before, "fetched": result.bytes_fetched,
                  "skipped": result.files_skipped, "bytes": result.bytes,
                  "cpu": usage.ru_utime + usage.ru_stime - cpu.ru_utime - cpu.ru_stime}))
"""


def _child(base_url: str, artifact: Artifact, dest: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, base_url, KEY, str(artifact.id), str(dest)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def facade_run(base_url: str, artifact: Artifact, dest: Path) -> dict[str, Any]:
    out, _ = _child(base_url, artifact, dest).communicate(timeout=1800)
    report: dict[str, Any] = json.loads(out)
    return report


def curl_run(service: ServiceClient, artifact: Artifact, dest: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of curl fetching every file."""
    descriptor = descriptor_from_wire(service._io.send(calls.get_artifact_download(artifact.id)))
    dest.mkdir(parents=True)
    args = ["curl", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "4"]
    for f in descriptor.files:
        args += ["-o", str(dest / f.name), f.url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(args, check=True, timeout=1800)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def on_disk(dest: Path) -> int:
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def export(service: ServiceClient, base_model: str) -> Artifact:
    trainer = service.create_training_client(base_model, lora_rank=8, seed=0)
    trainer.forward_backward([datum_from_tokens([1, 2, 3, 4, 5, 6, 7, 8])])
    trainer.optim_step()
    return trainer.export_weights(trainer.save_state("b6"), merge_adapter=True)


def run(quick: bool) -> Section:
    base_model = "weaver-large-vocab" if quick else "weaver-large"
    shard = 10_000_000 if quick else 300_000_000
    repeats = 1 if quick else 5
    section = Section("B6 — downloading an export")
    with (
        tempfile.TemporaryDirectory(prefix="weaver-bench-b6-") as tmp,
        emulator(Path(tmp) / "server", shard_size=shard) as server,
        ServiceClient(server.base_url, KEY, heartbeat_interval=0, timeout=1800) as service,
    ):
        started = time.perf_counter()
        artifact = export(service, base_model)
        export_seconds = time.perf_counter() - started
        total = artifact.size_bytes or 0
        work = Path(tmp) / "work"
        curl_times: list[float] = []
        curl_cpu: list[float] = []
        facade_times: list[float] = []
        facade_cpu: list[float] = []
        growths: list[int] = []
        for i in range(repeats):
            # Each timed run starts with no writeback of an earlier one still going on.
            os.sync()
            wall, cpu = curl_run(service, artifact, work / f"curl-{i}")
            curl_times.append(wall)
            curl_cpu.append(cpu)
            shutil.rmtree(work / f"curl-{i}")
            os.sync()
            report = facade_run(server.base_url, artifact, work / f"facade-{i}")
            assert report["fetched"] == total, report
            facade_times.append(report["wall"])
            facade_cpu.append(report["cpu"])
            growths.append(report["rss_growth"])
            shutil.rmtree(work / f"facade-{i}")

        # Kill -9 half-way, then resume.
        dest = work / "killed"
        child = _child(server.base_url, artifact, dest)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and child.poll() is None:
            if dest.exists() and on_disk(dest) >= total // 2:
                break
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kept = on_disk(dest)
        finished = sum(1 for f in artifact.files if (dest / f.name).exists())
        resumed = facade_run(server.base_url, artifact, dest)
        refetched = resumed["fetched"] - (total - kept)

    ratio = median(facade_times) / median(curl_times)
    section.results += [
        Result(
            "B6",
            f"wall time, {total / 2**30:.2f} GiB in {len(artifact.files)} files, facade / curl",
            f"{ratio:.2f}x ({median(facade_times):.2f} s / {median(curl_times):.2f} s)",
            f"<= {WALL_TARGET}x",
            ratio <= WALL_TARGET,
        ),
        Result(
            "B6",
            "peak RSS growth of the downloading process",
            f"{max(growths) / 2**20:.1f} MiB",
            f"<= {RSS_TARGET // 2**20} MiB",
            max(growths) <= RSS_TARGET,
        ),
        Result(
            "B6",
            "re-fetched beyond the missing bytes after kill -9 half-way",
            f"{refetched} B ({finished} finished files skipped: {resumed['skipped']})",
            f"<= {REFETCH_TARGET // 1024} KiB",
            0 <= refetched <= REFETCH_TARGET and resumed["skipped"] == finished,
        ),
    ]
    rate = total / median(facade_times) / 2**20
    section.notes += [
        f"The export of {base_model} merged ({total:,} bytes, {len(artifact.files)} files) "
        f"took {export_seconds:.1f} s. Each side ran {repeats} time(s), alternating, into a "
        "fresh folder; curl fetched the same signed URLs with `--parallel --parallel-max 4`, "
        "the facade with `max_concurrency=4`, checking every sha256 while streaming.",
        f"Facade runs: {', '.join(f'{t:.2f} s' for t in facade_times)} "
        f"(median {rate:.0f} MiB/s); curl runs: {', '.join(f'{t:.2f} s' for t in curl_times)}.",
        f"CPU time (user + system) per run, facade: {', '.join(f'{t:.2f} s' for t in facade_cpu)}; "
        f"curl: {', '.join(f'{t:.2f} s' for t in curl_cpu)}.",
        f"Peak RSS growth per run: {', '.join(f'{g / 2**20:.1f} MiB' for g in growths)}.",
        f"The killed run had {kept:,} of {total:,} bytes on disk ({finished} files finished); "
        f"the rerun fetched {resumed['fetched']:,} bytes.",
    ]
    return section
