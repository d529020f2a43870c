"""The README's scripts and commands run as printed, against an emulator."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import weaver_facade
from tests.support.ports import free_port
from weaver_facade import ModelStateLostError, ServiceClient, TrainingClient, datum_from_tokens
from weaver_facade.emulator import run_emulator

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def run_on_emulator(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a README script as a user would, against an emulator, and check it succeeds."""
    with run_emulator(api_keys=("readme-key",)) as emu:
        env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": "readme-key"}
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    return done


def ten_line_script() -> str:
    text = README.read_text()
    section = text.split("### A ten-line script", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README has no ten-line script"
    return found.group(1)


def test_the_readme_script_runs_and_resumes() -> None:
    script = ten_line_script()
    assert len(script.strip().splitlines()) <= 12
    done = run_on_emulator(script)
    lines = done.stdout.splitlines()
    losses = [float(line.split()[1]) for line in lines[:3]]
    assert [line.split()[0] for line in lines[:3]] == ["0", "1", "2"]
    assert losses[0] > losses[1] > losses[2]
    # Visibly: more than a quarter of the loss gone in two steps, as the comment shows.
    assert losses[2] < 0.75 * losses[0]
    shown = re.search(r"# ([\d.]+), ([\d.]+), ([\d.]+) on the emulator", script)
    assert shown, script
    assert [f"{loss:.1f}" for loss in losses] == list(shown.groups())
    assert "include_optimizer=True" in lines[3]
    assert "optimizer_step=3" in lines[3]


def test_the_error_tree_is_documented_by_public_names_only() -> None:
    text = README.read_text()
    section = text.split("Errors are one tree", 1)[1].split("The API reference", 1)[0]
    named = {name for name in re.findall(r"`(\w+)`", section) if hasattr(weaver_facade, name)}
    exported = {
        name
        for name in weaver_facade.__all__
        if isinstance(getattr(weaver_facade, name), type)
        and issubclass(getattr(weaver_facade, name), weaver_facade.WeaverError)
    }
    assert named == exported
    assert "_errors" not in text


def test_the_install_lines_name_real_extras() -> None:
    text = README.read_text()
    section = text.split("### Install", 1)[1].split("###", 1)[0]
    extras = set(tomllib.loads((README.parent / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"])  # fmt: skip
    named = set(re.findall(r"\[(\w+)\]", section))
    assert named
    assert named <= extras


def test_the_install_lines_name_packages_their_extra_brings() -> None:
    # Each install line's comment names some packages it brings: `pip install '.[cli]'  #
    # + the weaver-facade command (click, rich)`.
    section = README.read_text().split("### Install", 1)[1].split("###", 1)[0]
    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    lines = re.findall(r"^pip install '?\.(?:\[(\w+)\])?'? +#.*?(?:: |\()(.*?)\)?$", section, re.M)
    assert [extra for extra, _ in lines] == ["", "cli", "emulator", "contract"]
    for extra, packages in lines:
        required = project["optional-dependencies"][extra] if extra else project["dependencies"]
        names = {re.split(r"[=<>\[]", r, maxsplit=1)[0] for r in required}
        assert set(re.split(r", | and ", packages)) <= names, (extra, packages)


def weights_script() -> str:
    section = README.read_text().split("### Getting the weights out", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README has no export example"
    return found.group(1)


def test_the_readme_export_example_downloads_verified_files(tmp_path: Path) -> None:
    import hashlib

    done = run_on_emulator(weights_script(), cwd=tmp_path)
    printed = [line.split() for line in done.stdout.splitlines()]
    assert {name for name, _, _ in printed} == {"adapter_config.json", "adapter_model.safetensors"}
    for name, size, sha256 in printed:
        data = (tmp_path / "adapter" / name).read_bytes()
        assert len(data) == int(size)
        assert hashlib.sha256(data).hexdigest() == sha256


def test_the_readme_signatures_are_the_methods() -> None:
    # The README writes out export_weights' and download_weights' parameters by hand: a
    # parameter renamed, added or given another default left them stale, unnoticed.
    text = README.read_text()
    methods: dict[str, Callable[..., Any]] = {
        "export_weights": weaver_facade.TrainingClient.export_weights,
        "download_weights": weaver_facade.ServiceClient.download_weights,
    }
    for name, method in methods.items():
        found = re.search(rf"`(?:service\.)?{name}\((.*?)\)`", text)
        assert found, f"the README does not write out {name}'s parameters"
        expected: list[str] = []
        for p in list(inspect.signature(method).parameters.values())[1:]:
            if p.kind is p.KEYWORD_ONLY and "*" not in expected:
                expected.append("*")
            if p.default is p.empty:
                expected.append(p.name)
            elif p.default is weaver_facade.SERVER_DEFAULT:  # its value, said in words
                expected.append(f"{p.name}=...")
            else:
                expected.append(f"{p.name}={p.default!r}")
        assert [w.strip() for w in found.group(1).split(",")] == expected, name


def checkpoints_script() -> str:
    section = README.read_text().split("### Listing, expiring and deleting checkpoints", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README has no example of checkpoint management"
    return found.group(1)


def test_the_readme_checkpoint_example_lists_expires_and_deletes() -> None:
    # The README named get_checkpoint, set_checkpoint_ttl and delete_checkpoint only in
    # passing, on no object: a new user tried them on the ServiceClient (AttributeError).
    done = run_on_emulator(checkpoints_script())
    assert done.stdout.splitlines() == [
        "draft weight_and_optimizer 3600",
        "final weight_and_optimizer None",
        "draft None",
        "deleted",
        "final",
    ]


def lost_state_recipe() -> str:
    section = README.read_text().split("**Lost state.**", 1)[1].split("\n#", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, 'the README shows no recipe under "Lost state"'
    return found.group(1)


def test_the_lost_state_recipe_type_checks() -> None:
    # The note's `service.create_training_client_from_state(trainer.latest_checkpoint())`,
    # pasted into a script, failed `mypy --strict`: latest_checkpoint() may be None.
    mypy = [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml"]
    run = subprocess.run(
        [*mypy, "-c", lost_state_recipe()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("include_optimizer", [True, False], ids=["full", "weights-only"])
def test_the_lost_state_recipe_goes_on_after_each_restart(
    tmp_path: Path, include_optimizer: bool
) -> None:
    # Restarted on its data dir, the emulator keeps the checkpoints and loses each
    # model's training state. The note's recipe went on from latest_checkpoint(), which
    # is None for a model made so that has not saved yet: the second restart's.
    recipe: dict[str, Any] = {}
    exec(lost_state_recipe(), recipe)  # noqa: S102 - the README's own code
    go_on: Callable[[ServiceClient, TrainingClient], TrainingClient] = recipe["go_on"]
    port = free_port()
    batch = [datum_from_tokens(list(b"the cat sat on the mat"))]

    def restarted() -> contextlib.AbstractContextManager[Any]:
        return run_emulator(tmp_path / "data", api_keys=("readme-key",), port=port)

    url = f"http://127.0.0.1:{port}"
    with ServiceClient(url, "readme-key", heartbeat_interval=0) as service:
        with restarted():
            trainer = service.create_training_client("weaver-tiny")
            trainer.forward_backward(batch)
            trainer.optim_step()
            saved = trainer.save_state("saved", include_optimizer=include_optimizer)
        for _ in range(2):  # from its checkpoint, then from the one it came from
            with restarted():
                with pytest.raises(ModelStateLostError):
                    trainer.forward_backward(batch)
                trainer = go_on(service, trainer)
                assert trainer.resumed_from is not None
                loaded = (trainer.resumed_from.path, trainer.resumed_from.include_optimizer)
                assert loaded == (saved.path, include_optimizer)
                trainer.forward_backward(batch)  # it trains
                trainer.optim_step()


def contract_test_commands() -> str:
    section = README.read_text().split("## Contract-testing a real server", 1)[1]
    blocks = re.findall(r"```\n(.*?)```", section, re.DOTALL)
    assert blocks, "the README does not try the kit on the emulator"
    assert "emulator" in blocks[-1], blocks[-1]
    return str(blocks[-1])


def test_the_readme_contract_test_commands_run_as_pasted(tmp_path: Path) -> None:
    # Pasted as one, the kit started while the emulator was still starting, and ended at
    # once: `error: cannot reach http://127.0.0.1:8080: ConnectError`, exit 2.
    commands = contract_test_commands()
    report = re.search(r"--report (\S+)", commands)
    assert report, commands
    # Its report lands in the checkout: one git ignores, not an untracked folder.
    ignored = subprocess.run(["git", "check-ignore", "-q", report.group(1)], cwd=ROOT)
    assert ignored.returncode == 0, f"{report.group(1)} is not git-ignored"
    port = free_port()
    # The emulator as on a first run, whose start compiles its caches: seconds late.
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "weaver-facade").write_text(
        f'#!/bin/sh\nsleep 3\nexec "{Path(sys.executable).parent}/weaver-facade" "$@"\n'
    )
    (slow / "weaver-facade").chmod(0o755)
    script = (
        commands.replace("8080", str(port))
        .replace(".venv/bin/", f"{slow}/")
        # A short run of the kit: the commands' order is what is under test.
        .replace(report.group(0), f"--report {tmp_path / 'report'} --quick --only lifecycle")
    )
    shell = subprocess.Popen(
        ["bash", "-c", f"{script}status=$?\nkill $!\nwait\nexit $status\n"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = shell.communicate(timeout=120)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert shell.returncode == 0, output
    assert "contract: PASS, 0 findings" in output
    assert (tmp_path / "report" / "contract-report.json").is_file()
