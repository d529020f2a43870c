"""scripts/_bootstrap.sh refuses an interpreter it cannot use, naming it, before making a venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bootstrap(python: str, venv: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": python, "WEAVER_VENV": str(venv)}
    return subprocess.run(
        ["bash", "-c", f"source {ROOT / 'scripts' / '_bootstrap.sh'}"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_python_that_cannot_be_run_is_named(tmp_path: Path) -> None:
    # It said "needs Python >= 3.11" to a user who had set PYTHON to a 3.12 not on PATH.
    done = _bootstrap("/nowhere/python3.12", tmp_path / "venv")
    assert done.returncode == 2
    assert done.stderr == (
        "error: cannot run /nowhere/python3.12; set PYTHON to a Python 3.11 or newer\n"
    )
    assert not (tmp_path / "venv").exists()


def test_a_python_found_but_unable_to_start_is_named(tmp_path: Path) -> None:
    # A pyenv shim of a version not installed: on PATH, but it cannot run. It was called
    # "older" than 3.11, which sent the user looking for a newer Python than theirs.
    shim = tmp_path / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    done = _bootstrap(str(shim), tmp_path / "venv")
    assert done.returncode == 2
    assert done.stderr == f"error: cannot run {shim}; set PYTHON to a Python 3.11 or newer\n"
    assert not (tmp_path / "venv").exists()


def test_a_python_too_old_is_named(tmp_path: Path) -> None:
    old = tmp_path / "python3.10"
    # Python 3.10, as far as the version check's code can tell, whatever that code is.
    old.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "import sys; sys.version_info = (3, 10, 0); '
        'exec(sys.argv[1])" "$2"\n'
    )
    old.chmod(0o755)
    done = _bootstrap(str(old), tmp_path / "venv")
    assert done.returncode == 2
    assert f"needs Python >= 3.11, and {old} is older" in done.stderr
    assert not (tmp_path / "venv").exists()
