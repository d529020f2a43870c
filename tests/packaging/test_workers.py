"""``scripts/test``'s pytest and mypy workers follow the cores a CPU quota leaves it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.scripts import load_script


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "200000 100000\n"}, 2),
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_the_quota_is_read_from_cgroup_v2_or_v1(
    tmp_path: Path, files: dict[str, str], cores: int | None
) -> None:
    assert load_script("_workers").quota_cores(cgroup(tmp_path, files)) == cores


@pytest.mark.parametrize(
    ("usable", "files", "cores", "pytest_workers", "mypy_workers"),
    [
        (8, {}, 8, 4, 4),
        (8, {"cpu.max": "200000 100000\n"}, 2, 3, 2),
        (8, {"cpu.max": "100000 100000\n"}, 1, 1, 0),
        (3, {}, 3, 4, 3),
        (2, {}, 2, 3, 2),
        (1, {"cpu.max": "400000 100000\n"}, 1, 1, 0),
    ],
)
def test_pytest_gets_a_worker_more_than_the_cores_and_mypy_one_per_core_up_to_four(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    usable: int,
    files: dict[str, str],
    cores: int,
    pytest_workers: int,
    mypy_workers: int,
) -> None:
    workers = load_script("_workers")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(usable)))
    assert workers.cores(cgroup(tmp_path, files)) == cores
    assert workers.workers(cgroup(tmp_path, files)) == pytest_workers
    assert workers.mypy_workers(cgroup(tmp_path, files)) == mypy_workers


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_scripts_test_help_says_how_to_use_it_and_runs_nothing(flag: str, tmp_path: Path) -> None:
    # It ran ruff and mypy and ended in pytest's help, minutes later.
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [str(root / "scripts" / "test"), flag],
        env={**os.environ, "WEAVER_VENV": str(tmp_path / "venv")},  # none: nothing installed
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "scripts/test --slow" in done.stdout
    assert "scripts/test -- ARGS" in done.stdout
    assert not (tmp_path / "venv").exists()
