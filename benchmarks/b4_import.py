"""B4, import time: ``import weaver_facade`` against ``import httpx``, cold, in fresh processes.

Each sample is a new interpreter that times its one import statement with
``perf_counter`` (interpreter start-up, the same for both, is left out).
Samples of the statements alternate so that drift hits all alike.

Bytecode caches are warm, as for any installed package (pip compiles on
install) or a checkout after its first run: the samples run with a private
``PYTHONPYCACHEPREFIX`` filled by a first, unmeasured run, so a
``PYTHONDONTWRITEBYTECODE`` in the environment would not make the checkout's
modules compile from source on every import while httpx's come compiled.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks.common import ROOT, Result, Section, median, ms, percentile, table

TARGET = 1.5
STATEMENTS = {
    "import httpx": "import httpx",
    "import weaver_facade": "import weaver_facade",
    "first request built": (
        "import weaver_facade; from weaver_facade import _calls; "
        "_calls.list_checkpoints('m-1', limit=1, cursor=None)"
    ),
}


def sample(statement: str, env: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    )
    return float(out.stdout)


def run(quick: bool) -> Section:
    runs = 5 if quick else 21
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    with tempfile.TemporaryDirectory(prefix="weaver-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for statement in STATEMENTS.values():  # fills the bytecode cache
            sample(statement, env)
        for _ in range(runs):
            for name, statement in STATEMENTS.items():
                times[name].append(sample(statement, env))
    p50 = {name: median(values) for name, values in times.items()}
    ratio = p50["import weaver_facade"] / p50["import httpx"]
    section = Section("B4 — import time")
    section.results.append(
        Result(
            "B4",
            "import weaver_facade / import httpx, p50",
            f"{ratio:.2f}x ({ms(p50['import weaver_facade'])} vs {ms(p50['import httpx'])})",
            f"≤ {TARGET}x",
            ratio <= TARGET,
        )
    )
    section.notes.append(f"{runs} fresh interpreters per statement, interleaved.")
    section.notes += table(
        ["statement", "p50", "p90", "min"],
        (
            [f"`{name}`", ms(p50[name]), ms(percentile(values, 90)), ms(min(values))]
            for name, values in times.items()
        ),
    )
    return section
