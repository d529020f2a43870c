"""``weaver-facade contract-test``: the contract kit for people who installed the package.

The kit itself is tested in ``tests/contract``; here, that the command reaches
it with the same options, and that the server comes from the global options
or ``WEAVER_BASE_URL`` like every other command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.support.cli import API_KEY, invoke
from weaver_facade import ServiceClient
from weaver_facade.cli import main
from weaver_facade.emulator import RunningEmulator

SCRIPT = Path(sys.executable).parent / "weaver-facade"
NO_SERVER: dict[str, str | None] = {"WEAVER_BASE_URL": None, "WEAVER_API_KEY": None}


def test_help_shows_the_kits_options() -> None:
    run = invoke(["contract-test", "--help"], NO_SERVER)
    assert run.exit_code == 0
    assert run.stdout.startswith("usage: weaver-facade contract-test ")
    for option in ("--report", "--max-examples", "--quick", "--only", "--deadline", "--spec"):
        assert option in run.stdout


def test_no_server_given_is_a_usage_error() -> None:
    run = invoke(["contract-test", "--quick"], NO_SERVER)
    assert run.exit_code == 2
    assert "no Weaver server given: pass --base-url URL or set WEAVER_BASE_URL" in run.stderr


def test_the_base_url_comes_from_the_environment_or_either_side_of_the_command() -> None:
    nowhere = "http://127.0.0.1:9"
    cases: list[tuple[list[str], dict[str, str | None]]] = [
        (["contract-test", "--quick"], {"WEAVER_BASE_URL": nowhere}),
        (["contract-test", "--quick", "--base-url", nowhere], NO_SERVER),
        (["--base-url", nowhere, "contract-test", "--quick"], NO_SERVER),
    ]
    for args, env in cases:
        run = invoke(args, {**NO_SERVER, **env})
        assert run.exit_code == 2, (args, run.stderr)
        assert f"cannot reach {nowhere}" in run.stderr, (args, run.stderr)


def test_python_m_contract_reads_weaver_base_url_too() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    done = subprocess.run(
        [sys.executable, "-m", "weaver_facade.contract", "--quick"],
        env={**env, "WEAVER_BASE_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot reach http://127.0.0.1:9" in done.stderr


def test_a_lifecycle_run_with_the_key_from_the_global_option(
    emu: RunningEmulator, tmp_path: Path
) -> None:
    # The key given before the command reaches the kit; it is never printed.
    result = CliRunner(env=NO_SERVER).invoke(
        main,
        ["--api-key", API_KEY, "contract-test", "--base-url", emu.base_url,
         "--only", "lifecycle", "--quick", "--report", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "contract-report.json").read_text())
    assert report["findings"] == []
    assert API_KEY not in result.output


def test_a_base_model_the_server_does_not_list_is_a_usage_error(emu: RunningEmulator) -> None:
    # It was a finding, as if the server refused to train a model it never offered.
    with ServiceClient(emu.base_url, API_KEY) as service:
        listed = sorted(m.name for m in service.supported_models())
    result = CliRunner(env=NO_SERVER).invoke(
        main,
        ["--api-key", API_KEY, "contract-test", "--base-url", emu.base_url,
         "--base-model", "no-such-model", "--quick"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: base model 'no-such-model' is not one the server lists ({', '.join(listed)})\n"
    )


def test_the_console_script_runs_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    done = subprocess.run(
        [str(SCRIPT), "contract-test", "--quick", "--base-url", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "cannot reach http://127.0.0.1:9" in done.stderr


def test_an_empty_api_key_or_base_url_is_refused_as_by_every_other_command() -> None:
    # `--api-key "$KEY"` with KEY unset was taken as no key, and the run ended saying "no
    # API key was given (--api-key or WEAVER_API_KEY)", though the user had passed one (or
    # the variable was set, and the kit used it instead); an empty --base-url fell back to
    # WEAVER_BASE_URL in the same way. The main command's refusals are the ones to match.
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://127.0.0.1:9",
        "WEAVER_API_KEY": "k-from-env",
    }
    for option, variable in (("--api-key", "WEAVER_API_KEY"), ("--base-url", "WEAVER_BASE_URL")):
        models = invoke(["--max-retries", "0", option, "", "models", "list"], env)
        assert models.exit_code == 2, models.stderr
        assert models.stderr.startswith(f"error: {option} is empty: "), models.stderr
        for args in (
            ["contract-test", "--quick", option, ""],
            ["contract-test", "--quick", option, " "],
            [option, "", "contract-test", "--quick"],
        ):
            for variables in (env, {**env, variable: None}):
                kit = invoke(args, variables)
                assert kit.exit_code == 2, (args, variables, kit.stderr)
                assert kit.stderr == models.stderr, (args, variables)
