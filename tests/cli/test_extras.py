"""A plain ``pip install weaver-facade`` (no extras): each entry point names the extra it needs.

The missing packages are simulated in a subprocess: a ``sitecustomize`` on
``PYTHONPATH`` makes importing the modules of ``BLOCKED_MODULES`` fail, as it
does where they are not installed. The console script is the real one from
this environment's ``bin``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "weaver-facade"

BLOCKER = """
import importlib.abc, os, sys

BLOCKED = set(filter(None, os.environ.get("BLOCKED_MODULES", "").split(",")))


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture(scope="module")
def blocker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("blocker")
    (where / "sitecustomize.py").write_text(BLOCKER)
    return where


def run(blocker: Path, blocked: str, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), env.get("PYTHONPATH", "")])
    env["BLOCKED_MODULES"] = blocked
    return subprocess.run(
        list(command), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def one_line(extra: str, what: str) -> str:
    return f"error: {what} needs the '{extra}' extra: pip install 'weaver-facade[{extra}]'\n"


def test_the_blocker_blocks_only_what_it_is_told(blocker: Path) -> None:
    # The control: nothing blocked, everything works; click blocked, click cannot be imported.
    assert run(blocker, "", str(SCRIPT), "--version").returncode == 0
    done = run(blocker, "click", sys.executable, "-c", "import click")
    assert "No module named 'click'" in done.stderr


@pytest.mark.parametrize("blocked", ["click", "rich"])
def test_the_console_script_without_the_cli_extra(blocker: Path, blocked: str) -> None:
    done = run(blocker, blocked, str(SCRIPT), "checkpoints", "list", "m-1")
    assert done.returncode == 2
    assert done.stderr == one_line("cli", "the weaver-facade command")
    assert done.stdout == ""


@pytest.mark.parametrize("module", ["weaver_facade", "weaver_facade.cli"])
@pytest.mark.parametrize("blocked", ["click", "rich"])
def test_python_m_without_the_cli_extra(blocker: Path, module: str, blocked: str) -> None:
    # `python -m weaver_facade.cli` imported click before any check: a traceback ending in
    # "No module named 'click'", where `python -m weaver_facade` said it in one line.
    done = run(blocker, blocked, sys.executable, "-m", module, "checkpoints", "list", "m-1")
    assert done.returncode == 2
    assert done.stderr == one_line("cli", "the weaver-facade command")
    assert done.stdout == ""


@pytest.mark.parametrize("blocked", ["starlette", "numpy", "click"])
def test_python_m_emulator_without_the_emulator_extra(blocker: Path, blocked: str) -> None:
    done = run(blocker, blocked, sys.executable, "-m", "weaver_facade.emulator", "--port", "0")
    assert done.returncode == 2
    assert done.stderr == one_line("emulator", "python -m weaver_facade.emulator")


@pytest.mark.parametrize("blocked", ["schemathesis", "yaml"])
def test_python_m_contract_without_the_contract_extra(blocker: Path, blocked: str) -> None:
    done = run(blocker, blocked, sys.executable, "-m", "weaver_facade.contract", "--help")
    assert done.returncode == 2
    assert done.stderr == one_line("contract", "python -m weaver_facade.contract")


@pytest.mark.parametrize(
    ("command", "blocked", "extra"),
    [("emulator", "uvicorn", "emulator"), ("contract-test", "schemathesis", "contract")],
)
def test_a_subcommand_without_its_extra(
    blocker: Path, command: str, blocked: str, extra: str
) -> None:
    done = run(blocker, blocked, str(SCRIPT), command, "--help")
    assert done.returncode == 2
    assert done.stderr == one_line(extra, f"weaver-facade {command}")


def test_the_library_still_raises_import_error(blocker: Path) -> None:
    # Importing the emulator from code is an ImportError to handle, not an exit.
    code = "from weaver_facade.emulator import run_emulator"
    done = run(blocker, "starlette", sys.executable, "-c", code)
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'starlette'" in done.stderr
    # The client itself needs no extra.
    light = "import weaver_facade; print(weaver_facade.ServiceClient.__name__)"
    done = run(blocker, "click,rich,starlette,numpy,schemathesis", sys.executable, "-c", light)
    assert done.stdout == "ServiceClient\n", done.stderr


def test_the_console_script_with_the_extra_runs_the_cli(blocker: Path) -> None:
    done = run(blocker, "", str(SCRIPT), "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: weaver-facade ")


# Trains, saves, loads and exports a LoRA and a full_ft model, each file the emulator reads or
# writes: none may need safetensors, which the `emulator` extra does not bring.
WITHOUT_SAFETENSORS = """
import sys
from weaver_facade import ServiceClient, datum_from_tokens
from weaver_facade.emulator import run_emulator

with run_emulator() as emu, ServiceClient(base_url=emu.base_url, api_key=emu.api_key) as svc:
    for mode in ("lora", "full_ft"):
        trainer = svc.create_training_client("weaver-tiny", training_mode=mode)
        trainer.forward_backward([datum_from_tokens(list(b"the cat sat"))])
        trainer.optim_step()
        checkpoint = trainer.save_state(mode)
        svc.create_training_client_from_state(checkpoint)
        for merge in (False, True) if mode == "lora" else (False,):
            trainer.export_weights(checkpoint, merge_adapter=merge)
print(sorted(m for m in sys.modules if m.partition(".")[0] == "safetensors"))
"""


def test_the_emulator_needs_no_safetensors(blocker: Path) -> None:
    command = [sys.executable, "-m", "weaver_facade.emulator", "--help"]
    assert run(blocker, "safetensors", *command).returncode == 0
    done = run(blocker, "safetensors", sys.executable, "-c", WITHOUT_SAFETENSORS)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
