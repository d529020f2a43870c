"""What every benchmark shares: results, statistics, machine facts and emulator processes."""

from __future__ import annotations

import json
import os
import platform
import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key-3f9a0c71d2e8"


@dataclass
class Result:
    """One line of RESULTS.md: a measured figure next to its target."""

    bench: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: informative, no target
    why: str = ""  # why the figure is what it is, when the verdict needs it

    @property
    def verdict(self) -> str:
        verdict = {True: "met", False: "**missed**", None: ""}[self.ok]
        return f"{verdict}: {self.why}" if self.why else verdict


@dataclass
class Section:
    """A benchmark's results and the notes that explain how they were measured."""

    title: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table's lines."""
    lines = [f"| {' | '.join(header)} |", "|" + " --- |" * len(header)]
    return lines + [f"| {' | '.join(row)} |" for row in rows]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def machine_info() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        if found:
            cpu = found.group(1).strip()
    memory = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        if found:
            memory = f"{int(found.group(1)) / 1024**2:.1f} GiB"
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("httpx", "uvicorn", "starlette", "attrs")
    )
    return [
        ("CPU", f"{cpu} ({os.cpu_count()} logical cores)"),
        ("memory", memory),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("packages", versions),
    ]


def render(sections: list[Section], *, command: str, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M %Z')} in {seconds:.0f} s. "
        "Every figure is a ratio or a distribution measured side by side in this one run, "
        "on loopback. Rerun with `scripts/bench` (`--quick` for a short smoke run).",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in machine_info()),
        "",
        "## Summary",
        "",
        *table(
            ["benchmark", "metric", "measured", "target", "verdict"],
            (
                [r.bench, r.metric, r.value, r.target, r.verdict]
                for s in sections
                for r in s.results
            ),
        ),
    ]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        lines += [
            f"{note}\n" if not note.startswith(("|", "    ", "```")) else note
            for note in section.notes
        ]
    return "\n".join(lines).rstrip() + "\n"


# -- emulator processes -----------------------------------------------------------------------

READY = re.compile(r"weaver emulator listening on (http://\S+)")


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str


@contextmanager
def emulator(data_dir: Path, **config: Any) -> Iterator[Server]:
    """An emulator in its own process (``benchmarks._serve``), so it never shares our GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._serve", str(data_dir), json.dumps(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump(stream: IO[str]) -> None:
        for line in stream:
            output.append(line)
            found = READY.search(line)
            if found:
                ready.put(found.group(1))

    assert process.stdout is not None
    assert process.stderr is not None
    for stream in (process.stdout, process.stderr):
        threading.Thread(target=pump, args=(stream,), daemon=True).start()
    try:
        try:
            base_url = ready.get(timeout=60)
        except queue.Empty:
            raise RuntimeError("the emulator did not start:\n" + "".join(output)) from None
        yield Server(process, base_url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
