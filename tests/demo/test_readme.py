"""The README's ten-line script runs as printed, against an emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from weaver_facade.emulator import run_emulator

README = Path(__file__).resolve().parents[2] / "README.md"


def ten_line_script() -> str:
    text = README.read_text()
    section = text.split("### A ten-line script", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README has no ten-line script"
    return found.group(1)


def test_the_readme_script_runs_and_resumes() -> None:
    script = ten_line_script()
    assert len(script.strip().splitlines()) <= 12
    with run_emulator(api_keys=("readme-key",)) as emu:
        env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": "readme-key"}
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    losses = [float(line.split()[1]) for line in lines[:3]]
    assert [line.split()[0] for line in lines[:3]] == ["0", "1", "2"]
    assert losses[0] > losses[1] > losses[2]
    assert "include_optimizer=True" in lines[3]
    assert "optimizer_step=3" in lines[3]


def weights_script() -> str:
    section = README.read_text().split("### Getting the weights out", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README has no export example"
    return found.group(1)


def test_the_readme_export_example_downloads_verified_files(tmp_path: Path) -> None:
    import hashlib

    with run_emulator(api_keys=("readme-key",)) as emu:
        env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": "readme-key"}
        done = subprocess.run(
            [sys.executable, "-c", weights_script()],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    printed = [line.split() for line in done.stdout.splitlines()]
    assert {name for name, _, _ in printed} == {"adapter_config.json", "adapter_model.safetensors"}
    for name, size, sha256 in printed:
        data = (tmp_path / "adapter" / name).read_bytes()
        assert len(data) == int(size)
        assert hashlib.sha256(data).hexdigest() == sha256
