"""What ``scripts/demo`` and ``scripts/test`` install into ``.venv``, on a fresh clone and after.

The venv is a stand-in whose ``python`` records each ``pip install`` instead of
running it (and each script it is asked to run), with ``ruff``, ``mypy``, ``lint-imports`` and
``openapi-spec-validator`` that do nothing: the flow of the real scripts, in
milliseconds, without a package index.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-c" ]; then exec {real} "$@"; fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    case "$*" in *" -e "*) echo "install ${{*##* }}" >> "$BOOTSTRAP_LOG" ;; esac
    exit 0
fi
echo "run $*" >> "$BOOTSTRAP_LOG"
"""


# A tool of the venv: it records that it ran, with its arguments.
FAKE_TOOL = """#!/bin/sh
echo "tool ${0##*/} $*" >> "$BOOTSTRAP_LOG"
"""
# An interpreter PYTHON may name: it answers the version check, and its `-m venv DIR`
# copies a stand-in venv.
FAKE_BOOT_PYTHON = """#!/bin/sh
if [ "$1" = "-c" ]; then exec {real} "$@"; fi
echo "venv made by ${{0##*/}}" >> "$BOOTSTRAP_LOG"
cp -R {template} "$3"
"""


def make_venv(venv: Path) -> None:
    """The stand-in venv: a recording ``python`` and tools."""
    venv_bin = venv / "bin"
    venv_bin.mkdir(parents=True)
    tools = {"python": FAKE_PYTHON.format(real=sys.executable)}
    tools |= dict.fromkeys(("ruff", "mypy", "lint-imports", "openapi-spec-validator"), FAKE_TOOL)
    for name, text in tools.items():
        (venv_bin / name).write_text(text)
        (venv_bin / name).chmod(stat.S_IRWXU)


@pytest.fixture
def bare_checkout(tmp_path: Path) -> Path:
    """A copy of the scripts and the two files the install depends on, without ``.venv``."""
    root = tmp_path / "clone"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, root / name)
    return root


@pytest.fixture
def checkout(bare_checkout: Path) -> Path:
    """The copy, with its stand-in ``.venv``."""
    make_venv(bare_checkout / ".venv")
    return bare_checkout


def run(checkout: Path, script: str, **variables: str) -> list[str]:
    """Run ``scripts/SCRIPT``; the installs and runs it made."""
    log = checkout / "log"
    log.write_text("")
    drop = ("WEAVER_VENV", "BOOTSTRAP_EXTRAS", "PYTHON")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    done = subprocess.run(
        [str(checkout / "scripts" / script)],
        env={**env, **variables, "BOOTSTRAP_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line.removeprefix("install ") for line in lines if line.startswith("install ")]


def test_the_demo_installs_only_the_emulator_extra(checkout: Path) -> None:
    lines = run(checkout, "demo")
    assert installs(lines) == [f"{checkout}[emulator]"]
    assert "run scripts/_demo.py" in lines
    assert installs(run(checkout, "demo")) == []  # nothing again


def test_the_tests_after_the_demo_install_everything_once(checkout: Path) -> None:
    run(checkout, "demo")
    assert installs(run(checkout, "test")) == [f"{checkout}[dev]"]
    assert installs(run(checkout, "test")) == []
    # A dev install serves the demo too.
    assert installs(run(checkout, "demo")) == []


def test_the_tests_alone_install_everything_and_run_every_step(checkout: Path) -> None:
    lines = run(checkout, "test")
    assert installs(lines) == [f"{checkout}[dev]"]
    # The README: "every check: ruff, mypy --strict, import layers, spec validation, drift
    # check, API reference, pytest".
    assert "tool ruff check ." in lines
    assert "tool ruff format --check ." in lines
    assert any(line.startswith("tool mypy --strict ") for line in lines), lines
    assert "tool lint-imports --no-cache" in lines
    assert "tool openapi-spec-validator openapi.yaml" in lines
    assert f"run {checkout}/scripts/_regenerate.py --check" in lines
    assert "run scripts/_docs.py --check" in lines
    assert any(line.split()[:3] == ["run", "-m", "pytest"] for line in lines), lines


def test_python_names_the_interpreter_of_a_new_venv_only(bare_checkout: Path) -> None:
    # The README: "The venv is made with `python3`, or with the interpreter that `PYTHON`
    # names ...; to change it later, remove `.venv`."
    pythons = bare_checkout.parent / "pythons"
    make_venv(pythons / "template")
    for name in ("python-a", "python-b"):
        text = FAKE_BOOT_PYTHON.format(real=sys.executable, template=pythons / "template")
        (pythons / name).write_text(text)
        (pythons / name).chmod(stat.S_IRWXU)
    lines = run(bare_checkout, "demo", PYTHON=str(pythons / "python-a"))
    assert lines[0] == "venv made by python-a"
    assert installs(lines) == [f"{bare_checkout}[emulator]"]
    lines = run(bare_checkout, "demo", PYTHON=str(pythons / "python-b"))
    assert not [line for line in lines if line.startswith("venv made by")]
    shutil.rmtree(bare_checkout / ".venv")
    assert (
        run(bare_checkout, "demo", PYTHON=str(pythons / "python-b"))[0] == "venv made by python-b"
    )


def test_a_changed_pin_reinstalls_what_each_script_needs(checkout: Path) -> None:
    run(checkout, "test")
    with (checkout / "constraints.txt").open("a") as f:
        f.write("# changed\n")
    assert installs(run(checkout, "demo")) == [f"{checkout}[emulator]"]
    assert installs(run(checkout, "test")) == [f"{checkout}[dev]"]


def test_a_venv_installed_before_extras_were_recorded_counts_as_dev(checkout: Path) -> None:
    run(checkout, "test")
    stamp = checkout / ".venv" / ".weaver-facade-install"
    stamp.write_text(stamp.read_text().split()[0] + "\n")  # the old form: the hash alone
    assert installs(run(checkout, "demo")) == []
    assert installs(run(checkout, "test")) == []
