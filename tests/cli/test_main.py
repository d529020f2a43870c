"""The ``weaver-facade`` group: global options, errors, the key, progress, a real process."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

import _weaver_facade_cli
from tests.support.cli import (
    API_KEY,
    Cli,
    command_at,
    command_paths,
    invoke,
    shown_whole,
    train_model,
)
from tests.support.fakeserver import FakeClock, FakeWeaver, json_reply, service
from tests.support.held_creates import default_sigint
from tests.support.ports import free_port
from tests.support.signals import watched, with_sigint
from weaver_facade import (
    Checkpoint,
    ConversionProgress,
    OperationProgress,
    OperationStatus,
    PendingInfo,
    PollPolicy,
    ServiceClient,
    _logs,
)
from weaver_facade._cli import checkpoints as cli_checkpoints
from weaver_facade._cli._output import checkpoint_json
from weaver_facade._cli._progress import Progress, describe
from weaver_facade._cli._state import CliState
from weaver_facade.cli import _NOT_FOR, main
from weaver_facade.emulator import FaultConfig, FaultRule, RunningEmulator, run_emulator

EMULATOR = [sys.executable, "-m", "weaver_facade.emulator", "--port", "0"]
NO_SERVER: dict[str, str | None] = {"WEAVER_BASE_URL": None, "WEAVER_API_KEY": None}


def test_help_needs_no_server_and_lists_every_command() -> None:
    run = invoke(["--help"], NO_SERVER)
    assert run.exit_code == 0
    for command in ("checkpoints", "operations", "emulator"):
        assert re.search(rf"^\s+{command}\s+\S", run.stdout, re.MULTILINE)
    sub = invoke(["checkpoints", "--help"], NO_SERVER)
    assert sub.exit_code == 0
    for command in ("list", "show", "save", "load", "delete", "set-ttl"):
        assert re.search(rf"^\s+{command}\s", sub.stdout, re.MULTILINE)
    ops = invoke(["operations", "--help"], NO_SERVER)
    assert {"show", "wait"} <= set(re.findall(r"^\s+(\w+)\s", ops.stdout, re.MULTILINE))


def test_every_command_takes_json() -> None:
    commands = [
        ["checkpoints", name] for name in ("list", "show", "save", "load", "delete", "set-ttl")
    ] + [["operations", "show"], ["operations", "wait"]]
    for command in commands:
        run = invoke([*command, "--help"], NO_SERVER)
        assert run.exit_code == 0
        assert "--json" in run.stdout, command


@pytest.mark.parametrize("columns", [80, 50])  # a usual terminal; the narrowest click lays out
def test_the_emulator_fault_help_cuts_no_word(columns: int) -> None:
    # The spec's grammar was one 90-character word, which click cut to fit its column.
    (fault,) = [p for p in command_at(("emulator",)).params if p.name == "faults"]
    assert isinstance(fault, click.Option)
    assert fault.help
    run = invoke(["emulator", "--help"], {**NO_SERVER, "COLUMNS": str(columns)})
    assert run.exit_code == 0
    block = run.stdout.split("--fault SPEC", 1)[1].split("\n  --", 1)[0]
    assert block.split() == fault.help.replace("\b", "").split(), block
    if columns == 80:
        assert max(len(line) for line in run.stdout.splitlines()) <= columns, run.stdout


# contract-test's help is argparse's, laid out for the terminal whatever click is told.
HELP_PATHS = [(), *(path for path in command_paths(main) if path != ("contract-test",))]


def _help(path: tuple[str, ...], columns: int) -> str:
    # click's runner lays help out at 80 columns whatever COLUMNS says; a terminal of
    # `columns` gives it `columns - 2` (click's margin).
    run = CliRunner(env=NO_SERVER).invoke(main, [*path, "--help"], terminal_width=columns - 2)
    assert run.exit_code == 0, run.output
    return run.stdout


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda p: " ".join(p) or "weaver-facade")
def test_help_breaks_no_word_at_its_hyphen(path: tuple[str, ...], columns: int) -> None:
    # click wrapped at hyphens too: `weaver-facade supported-` / `models` in `models create
    # --help` at 80 columns, `cursor-` / `paging` in `emulator --help` at 60, which a reader
    # copies whole.
    shown = _help(path, columns)
    broken = [line for line in shown.splitlines() if re.search(r"\w-$", line)]
    assert not broken, broken


def test_importing_the_cli_pulls_neither_numpy_nor_the_emulator() -> None:
    code = (
        "import sys, weaver_facade.cli; "
        "print(sorted(m for m in ('numpy', 'uvicorn', 'weaver_facade.emulator', "
        "'weaver_facade._cli.checkpoints') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["weaver_facade", "weaver_facade.cli"])
def test_python_m_runs_the_command(module: str) -> None:
    # Tried as `python -m weaver_facade.emulator` is, where the console script is not on
    # PATH: `weaver_facade.cli` ran nothing and exited 0, a silent success for a CI step,
    # and the package itself could not be run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    done = subprocess.run(
        [sys.executable, "-m", module, "checkpoints", "list", "m-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == invoke(["checkpoints", "list", "m-1"], NO_SERVER).stderr
    assert done.stderr.startswith("error: no Weaver server given")


def test_no_server_is_a_usage_error() -> None:
    run = invoke(["checkpoints", "list", "m-1"], NO_SERVER)
    assert run.exit_code == 2
    assert run.stderr == (
        "error: no Weaver server given: pass --base-url URL or set WEAVER_BASE_URL "
        "(the server root, such as http://127.0.0.1:8080)\n"
    )


@pytest.mark.parametrize("variable", [None, "http://127.0.0.1:9"], ids=["unset", "set"])
def test_an_empty_base_url_option_is_said_in_the_commands_words(variable: str | None) -> None:
    # `--base-url "$URL"` with URL unset: the library's words, "pass base_url= or set
    # WEAVER_BASE_URL", though the user had passed --base-url (and perhaps set the variable).
    run = invoke(["--base-url", "", "models", "list"], {**NO_SERVER, "WEAVER_BASE_URL": variable})
    assert run.exit_code == 2
    assert run.stderr == (
        "error: --base-url is empty: give the server root, such as http://127.0.0.1:8080, "
        "or leave the option out to use WEAVER_BASE_URL\n"
    )


@pytest.mark.parametrize("variable", [None, "k-from-env"], ids=["unset", "set"])
def test_an_empty_api_key_option_is_said_in_the_commands_words(variable: str | None) -> None:
    # `--api-key "$KEY"` with KEY unset was sent as no key at all, and the server's 401 had
    # the hint "no API key was given: set WEAVER_API_KEY or pass --api-key", though the user
    # had passed --api-key (and perhaps set the variable, which the empty option overrode).
    env = {**NO_SERVER, "WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": variable}
    run = invoke(["--max-retries", "0", "--api-key", "", "models", "list"], env)
    assert run.exit_code == 2, run.stderr
    assert run.stderr == (
        "error: --api-key is empty: give the API key, "
        "or leave the option out to use WEAVER_API_KEY\n"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://host", "must start with http://"),
        ("http://127.0.0.1:abc", "not a valid URL"),
        ("http://weaver..test", "--base-url's host 'weaver..test' is not a valid host name"),
        ("http://xn--zz.test", "--base-url's host 'xn--zz.test' is not a valid host name"),
    ],
)
def test_a_bad_base_url_is_a_usage_error(url: str, problem: str) -> None:
    run = invoke(["--base-url", url, "checkpoints", "list", "m-1"], NO_SERVER)
    assert run.exit_code == 2
    assert problem in run.stderr
    assert len(run.stderr.splitlines()) == 1


def test_a_mistyped_command_is_told_the_nearest_one() -> None:
    # Every top-level command is loaded lazily, and click suggests only the commands
    # registered: `checkpoint export` (the official SDK's spelling) got no "Did you mean",
    # which a mistyped subcommand (`models lst`) did get.
    run = invoke(["checkpoint", "export", "weaver://m-1/checkpoints/c"], NO_SERVER)
    assert run.exit_code == 2
    assert run.stderr == (
        "error: No such command 'checkpoint'. Did you mean 'checkpoints'? (see 'main --help')\n"
    )
    assert "Did you mean 'models'?" in invoke(["model", "list"], NO_SERVER).stderr


def test_unknown_option_is_a_usage_error() -> None:
    run = invoke(["checkpoints", "list", "--frobnicate"], NO_SERVER)
    assert run.exit_code == 2
    assert run.stderr == (
        "error: No such option '--frobnicate'. (see 'main checkpoints list --help')\n"
    )
    top = invoke(["--max-retries", "x", "checkpoints"], NO_SERVER)
    assert top.exit_code == 2
    assert top.stderr.startswith("error: Invalid value for '--max-retries'")
    assert len(top.stderr.splitlines()) == 1
    missing = invoke(["checkpoints", "save", "m-1"], NO_SERVER)
    assert missing.exit_code == 2
    assert missing.stderr == (
        "error: Missing argument 'NAME'. (see 'main checkpoints save --help')\n"
    )


def test_base_url_and_key_options_override_the_environment(
    cli: Cli, model_id: str, emu: RunningEmulator
) -> None:
    nowhere: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://127.0.0.1:9",
        "WEAVER_API_KEY": "not-the-key",
    }
    assert cli("--max-retries", "0", "checkpoints", "list", model_id, env=nowhere).exit_code == 1
    args = ["--base-url", emu.base_url, "--api-key", API_KEY, "--json"]
    run = cli(*args, "checkpoints", "list", model_id, env=nowhere)
    assert run.exit_code == 0, run.stderr
    assert run.json() == {"model_id": model_id, "checkpoints": []}


def test_wrong_key_is_an_api_error_and_never_printed(cli: Cli, model_id: str) -> None:
    wrong = "wrong-key-never-printed-91"
    for args in (
        ["--api-key", wrong, "checkpoints", "list", model_id],
        ["--api-key", wrong, "--json", "checkpoints", "show", f"weaver://{model_id}/checkpoints/x"],
        ["--api-key", wrong, "operations", "show", "op-1"],
    ):
        run = cli(*args)
        assert run.exit_code == 1
        assert "[401 unauthorized]" in run.stderr
        assert wrong not in run.stdout + run.stderr


@pytest.mark.parametrize("unset", [None, " "], ids=["unset", "blank"])
def test_no_key_at_all_says_how_to_give_one(cli: Cli, unset: str | None) -> None:
    # A first run against a server that wants a key, with none set (or a blank one, which
    # the client sends as none).
    run = cli("models", "list", env={"WEAVER_API_KEY": unset})
    assert run.exit_code == 1
    assert run.stderr.startswith("error: [401 unauthorized]")
    assert run.stderr.rstrip().endswith(
        "; no API key was given: set WEAVER_API_KEY or pass --api-key"
    )
    assert run.stderr.count("no API key was given") == 1  # not the library's note too
    wrong = cli("models", "list", "--api-key", "wrong-key-3c1")
    assert wrong.exit_code == 1
    assert "no API key was given" not in wrong.stderr


def test_the_key_is_never_printed_by_help_or_errors(cli: Cli, model_id: str) -> None:
    # `cli` asserts for every run that API_KEY is absent from both streams.
    assert cli("--help").exit_code == 0
    assert cli("checkpoints", "save", model_id, "k").exit_code == 0
    assert cli("checkpoints", "save", model_id, "k").exit_code == 1
    assert cli("checkpoints", "show", "weaver://nope").exit_code == 2
    assert cli("--json", "checkpoints", "save", model_id, "k").exit_code == 1


def test_unreachable_server_is_one_line(cli: Cli) -> None:
    run = cli(
        "--max-retries",
        "0",
        "checkpoints",
        "list",
        "m-1",
        env={"WEAVER_BASE_URL": "http://127.0.0.1:9"},
    )
    assert run.exit_code == 1
    assert run.stderr.startswith("error: cannot reach http://127.0.0.1:9: ")
    assert len(run.stderr.splitlines()) == 1


def test_a_reply_lost_mid_body_is_not_called_unreachable() -> None:
    # A save whose reply was cut said "cannot reach", though the server had saved.
    drop = FaultRule("drop", 1.0, "mid", "GET", "/api/v1/supported-models")
    with run_emulator(api_keys=(API_KEY,), faults=FaultConfig(rules=(drop,))) as emu:
        env: dict[str, str | None] = {"WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
        run = invoke(["--max-retries", "1", "supported-models"], env)
    assert run.exit_code == 1
    retry, error = run.stderr.splitlines()
    assert retry.startswith("GET /api/v1/supported-models: connection dropped; retrying in")
    # A GET changes nothing: no warning that the server may have acted.
    assert error.startswith(f"error: lost the reply from {emu.base_url}: "), run.stderr


def test_a_proxy_that_refused_its_tunnel_is_no_lost_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    # It said "lost the reply from URL (the server may have acted)": nothing reached it.
    def refused(_self: object, request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError("403 Forbidden", request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refused)
    url = "https://weaver.test"
    run = invoke(
        ["models", "create", "weaver-tiny"], {"WEAVER_BASE_URL": url, "WEAVER_API_KEY": API_KEY}
    )
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error: cannot reach {url}: "), run.stderr


@pytest.mark.parametrize(
    ("failure", "args", "said"),
    [
        (httpx.ConnectTimeout, ["checkpoints", "list", "m-1"], "cannot reach {url}: "),
        (httpx.ReadTimeout, ["checkpoints", "list", "m-1"], "no reply in time from {url}: "),
        (
            httpx.ReadTimeout,
            ["checkpoints", "save", "m-1", "c"],
            "no reply in time from {url} (the server may have acted): ",
        ),
    ],
    ids=["connect-timeout", "get-read-timeout", "post-read-timeout"],
)
def test_a_timeout_says_whether_the_server_was_reached_and_may_have_acted(
    monkeypatch: pytest.MonkeyPatch,
    failure: type[httpx.TimeoutException],
    args: list[str],
    said: str,
) -> None:
    # Every timeout said "no reply in time", a connect timeout too (nothing was sent), and
    # a save's said nothing of the checkpoint the server may have made.
    fake = FakeWeaver()  # answers what comes before the request that fails

    def fail(_self: object, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" or "save" not in args:
            raise failure("timed out", request=request)
        return fake(request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", fail)
    url = "http://weaver.test"
    run = invoke(["--max-retries", "0", *args], {"WEAVER_BASE_URL": url, "WEAVER_API_KEY": API_KEY})
    assert run.exit_code == 1
    assert run.stderr.startswith("error: " + said.format(url=url)), run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["checkpoints", "save", "m-1", "c"],
        ["checkpoints", "load", "m-1", "weaver://m-1/checkpoints/c"],
    ],
    ids=["save", "load"],
)
def test_a_request_cut_by_timeout_says_how_long_the_command_ran(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    # A request that --timeout cut before any operation began said only "no reply in time",
    # as if the server had given up, not the user's --timeout; a wait's timeout gives its time.
    def hold(_self: object, request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)  # a reply that never came, cut by the deadline
        raise httpx.ReadTimeout("timed out", request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", hold)
    url = "http://weaver.test"
    env: dict[str, str | None] = {"WEAVER_BASE_URL": url, "WEAVER_API_KEY": API_KEY}
    run = invoke([*args, "--timeout", "1", "--max-retries", "0"], env)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: no reply in time from http://weaver.test"), run.stderr
    assert re.search(r"\(after \d+\.\d s\)$", run.stderr.strip()), run.stderr


@pytest.mark.usefixtures("weaver_log_undone")
def test_weaver_log_debug_shows_every_request_with_the_key_redacted(cli: Cli) -> None:
    run = cli("models", "list", env={"WEAVER_LOG": "debug"})
    assert run.exit_code == 0, run.stderr
    assert re.search(r"request GET \S+/api/v1/models\b", run.stderr), run.stderr
    assert "'x-weaver-api-key': '[redacted]'" in run.stderr
    assert re.search(r"reply GET /api/v1/models: 200", run.stderr)


@pytest.mark.usefixtures("weaver_log_undone")
def test_quiet_silences_the_commands_lines_not_the_log_weaver_log_asks_for(
    cli: Cli, model_id: str
) -> None:
    # -q silenced the log too: a user who set WEAVER_LOG=debug got nothing.
    run = cli("checkpoints", "save", model_id, "c1", "-q", env={"WEAVER_LOG": "debug"})
    assert run.exit_code == 0, run.stderr
    assert re.search(r"^request POST \S+/checkpoints\b", run.stderr, re.MULTILINE), run.stderr
    assert re.search(r"^reply GET /api/v1/operations/", run.stderr, re.MULTILINE)
    assert not re.search(r"^operation op-", run.stderr, re.MULTILINE)  # the progress lines
    assert cli("checkpoints", "save", model_id, "c2", "-q").stderr == ""


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["plain", "quiet"])
def test_a_weaver_log_that_is_no_level_is_reported_whatever_q_says(
    cli: Cli, quiet: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_logs, "_bad_levels_reported", set())  # each command: a process
    # Under -q it was reported nowhere: the user asked for a log and got neither it nor why.
    run = cli("supported-models", "--json", *quiet, env={"WEAVER_LOG": "verbose"})
    assert run.exit_code == 0, run.stderr
    assert run.stderr.startswith("WEAVER_LOG='verbose' is not a log level; use one of "), run.stderr


def test_the_emulator_command_logs_each_line_once(tmp_path: Path) -> None:
    # Without keys the emulator warns that auth is off; its own logging prints that once.
    script = Path(sys.executable).with_name("weaver-facade")
    command = [str(script), "emulator", "--port", "0", "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "listening on" in line:
                break
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert len(re.findall("auth is off", err)) == 1, err


# A module that interrupts its own import, as a Ctrl-C in the first tenths of a second does:
# a SIGINT, delivered at once, that a foreground process turns into KeyboardInterrupt.
_CTRL_C_ON_IMPORT = (
    "import signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "signal.raise_signal(signal.SIGINT)\n"
)


@pytest.mark.parametrize(
    ("shadowed", "args"),
    [("httpx", ["models", "list"]), ("uvicorn", ["emulator", "--port", "0"])],
    ids=["package-import", "command-import"],
)
def test_ctrl_c_while_the_command_loads_exits_130_in_one_line(
    tmp_path: Path, shadowed: str, args: list[str]
) -> None:
    # httpx is imported by the package, before any code of the command ran: a traceback,
    # and death by SIGINT. uvicorn by the emulator's module, which the group loads on
    # demand: click said "Aborted!" and exited 1.
    (tmp_path / shadowed).mkdir()
    (tmp_path / shadowed / "__init__.py").write_text(_CTRL_C_ON_IMPORT, encoding="utf-8")
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "WEAVER_BASE_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")
    assert done.stdout == ""


def test_sigterm_while_the_command_loads_exits_130_in_one_line(tmp_path: Path) -> None:
    # A cancelled CI job's SIGTERM in the first tenths of a second, before the command's
    # own handler (``terminate_as_interrupt``) was set: death by SIGTERM, without a word.
    (tmp_path / "httpx").mkdir()
    (tmp_path / "httpx" / "__init__.py").write_text(
        "import signal\nsignal.raise_signal(signal.SIGTERM)\n", encoding="utf-8"
    )
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "WEAVER_BASE_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [str(script), "models", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr, done.stdout) == (130, "error: interrupted\n", "")


_STORAGE_HELD = FaultRule(
    kind="unavailable", rate=1.0, route="/storage/artifacts/{artifact_id}/{name}", retry_after=30
)


@pytest.mark.parametrize(
    "emulator_config",
    [{"latency": {"load_checkpoint": 60.0}, "faults": FaultConfig(rules=(_STORAGE_HELD,))}],
)
@pytest.mark.parametrize("command", ["wait", "download"])
def test_a_second_ctrl_c_as_the_command_ends_keeps_its_exit_status(
    cli: Cli, emu: RunningEmulator, model_id: str, tmp_path: Path, command: str
) -> None:
    # A first Ctrl-C during a wait (a load's) or a download (storage asking to wait 30 s)
    # ends the command with its line and exit 130; another one as the process then exits
    # was a death by SIGINT (exit status -2: Python's handler again, the command's undone).
    assert cli("checkpoints", "save", model_id, "c", "-q").exit_code == 0
    ref = f"weaver://{model_id}/checkpoints/c"
    assert cli("checkpoints", "export", ref, "-q").exit_code == 0
    args, begun = {
        "wait": (["checkpoints", "load", model_id, ref], "operation "),
        "download": (["checkpoints", "download", ref, "-o", str(tmp_path / "out")], "storage "),
    }[command]
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
    env.pop("WEAVER_LOG", None)
    with watched(with_sigint("SIG_DFL", [str(script), *args]), env) as run:
        assert run.line_starting(begun, timeout=30), run.stderr
        run.process.send_signal(signal.SIGINT)
        assert run.line_starting("error: interrupted", timeout=30), run.stderr
        # More, until it has exited (a tenth of a second, here): each phase of its exit.
        deadline = time.monotonic() + 30
        while run.process.poll() is None and time.monotonic() < deadline:
            run.process.send_signal(signal.SIGINT)
            time.sleep(0.002)
        run.process.wait(timeout=30)
    stderr = run.stderr
    assert run.process.returncode == 130, stderr
    assert "Aborted" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1].startswith("error: interrupted"), stderr


def _blocked_writing_to_a_pipe(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "pipe" in Path(f"/proc/{pid}/wchan").read_text(encoding="ascii")
    return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    ("sent", "status"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)]
)
def test_a_signal_ends_a_command_whose_last_line_nobody_reads(sent: int, status: int) -> None:
    # A command's error line is written once its close is over; to a pipe that nobody
    # reads (a stuck log reader) it waits. The console script ignored SIGTERM there (a
    # cancelled CI job's, `timeout`'s), and SIGINT: only SIGKILL ended it.
    script = Path(sys.executable).with_name("weaver-facade")
    refused = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "WEAVER_BASE_URL": refused, "WEAVER_API_KEY": API_KEY}
    env.pop("WEAVER_LOG", None)
    unread, stderr = os.pipe()
    os.set_blocking(stderr, False)
    with contextlib.suppress(BlockingIOError):  # full: the command's first line waits
        while True:
            os.write(stderr, b"x" * 65536)
    os.set_blocking(stderr, True)
    argv = with_sigint("SIG_DFL", [str(script), "--max-retries", "0", "models", "show", "m-1"])
    try:
        with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env) as run:
            try:
                deadline = time.monotonic() + 30
                while not _blocked_writing_to_a_pipe(run.pid) and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert _blocked_writing_to_a_pipe(run.pid), "it never wrote its line"
                run.send_signal(sent)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.wait(timeout=10)
                ended = run.returncode
            finally:
                run.kill()
    finally:
        os.close(unread)
        os.close(stderr)
    assert ended == status


# A thread that Python waits for as it exits, which never ends.
_EXIT_HANGS = "import threading\nthreading.Thread(target=threading.Event().wait).start()\n"


def test_a_ctrl_c_ends_an_exit_that_hangs_once_the_command_ended(tmp_path: Path) -> None:
    # Once its close was over, the console script ignored SIGINT, so that another Ctrl-C
    # kept the first's exit status: an exit that hung (waiting for a thread of a library's)
    # then ignored every Ctrl-C, and only SIGTERM or SIGKILL ended it.
    (tmp_path / "sitecustomize.py").write_text(_EXIT_HANGS, encoding="utf-8")
    script = Path(sys.executable).with_name("weaver-facade")
    with socket.create_server(("127.0.0.1", 0)) as server:  # takes, never answers
        env = {
            **os.environ,
            "PYTHONPATH": str(tmp_path),
            "WEAVER_BASE_URL": f"http://127.0.0.1:{server.getsockname()[1]}",
            "WEAVER_API_KEY": API_KEY,
        }
        env.pop("WEAVER_LOG", None)
        with watched(with_sigint("SIG_DFL", [str(script), "models", "show", "m-1"]), env) as run:
            assert select.select([server], [], [], 30)[0], "it never sent its request"
            run.process.send_signal(signal.SIGINT)
            assert run.line_starting("error: interrupted", timeout=30), run.stderr
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.process.wait(timeout=2)
            hung = run.process.poll() is None
            run.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.process.wait(timeout=10)
            ended = run.process.poll()
    assert (hung, ended, run.stderr) == (True, 130, "error: interrupted\n")


# The console script, with a Ctrl-C sent as soon as the root context's close is over.
_CTRL_C_ONCE_CLOSED = """
import os, signal, sys
from weaver_facade import cli
from _weaver_facade_cli import run
close = cli._Root._close_with_exception_info
def closed(*args):
    try:
        return close(*args)
    finally:
        os.kill(os.getpid(), signal.SIGINT)
cli._Root._close_with_exception_info = closed
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv[1:] = ["--max-retries", "0", "models", "show", "m-1"]
run()
"""


def test_a_ctrl_c_once_the_close_is_over_keeps_the_commands_line() -> None:
    # A Ctrl-C between the close's end and the command's error line ended the process at
    # once, as interrupted (130), without that line: the command's error unsaid.
    env = {**os.environ, "WEAVER_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    env.pop("WEAVER_LOG", None)
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_ONCE_CLOSED],
        env={**env, "WEAVER_API_KEY": API_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: cannot reach"), done.stderr


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["--json", "models", "list"], True),
        (["models", "list", "--json"], True),
        (["models", "list", "--", "--json"], False),  # an argument, not the option
        (["emulator", "--json"], False),  # which prints no JSON
        (["--json", "checkpoints", "show", "emulator", "--model", "m"], True),  # a name
        (["--base-url", "http://127.0.0.1:9", "contract-test", "--json"], False),
    ],
)
def test_ctrl_c_while_the_package_loads_gives_json_with_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], wanted: bool
) -> None:
    # The console script's own catch said `error: interrupted` alone: a script reading the
    # JSON of `--json` got nothing to read, as it does from an interrupt a moment later.
    (tmp_path / "httpx").mkdir()
    (tmp_path / "httpx" / "__init__.py").write_text(_CTRL_C_ON_IMPORT, encoding="utf-8")
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "WEAVER_BASE_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")
    if not wanted:
        assert done.stdout == ""
        return

    def interrupted(name: str, package: str | None = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    later = invoke(["--json", "models", "list"], NO_SERVER)  # the group's own document
    assert later.exit_code == 130
    assert done.stdout == later.stdout


def test_the_console_script_knows_the_groups_words() -> None:
    # Its copies (it imports nothing of the package): the commands whose --json the group
    # refuses, and the group's options that take a value.
    refusing = frozenset(c for c, refused in _NOT_FOR.items() if "as_json" in refused)
    options = [p for p in main.params if isinstance(p, click.Option) and not p.is_flag]
    valued = frozenset(name for option in options for name in option.opts)
    assert (refusing, valued) == (_weaver_facade_cli._NO_JSON, _weaver_facade_cli._VALUED)


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler, as a command's process has: the command line notes a
    Ctrl-C only then (``_sigterm``), and an earlier test of this worker may have left
    another."""
    with default_sigint():
        yield


def _dropping_a_ctrl_c() -> None:
    """A Ctrl-C while a weakref callback runs (an import's module lock, say): Python prints
    its KeyboardInterrupt as "Exception ignored" and drops it."""

    class Lock:
        pass

    lock = Lock()
    ref = weakref.ref(lock, lambda _: signal.raise_signal(signal.SIGINT))
    del lock
    assert ref() is None


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_python_dropped_ends_the_command_as_interrupted(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    # The command went on, printed its table or JSON and exited 0, under a traceback
    # ("Exception ignored in: ... KeyboardInterrupt"): the user's Ctrl-C did nothing.
    listed = ServiceClient.supported_models

    def dropping(self: ServiceClient) -> Any:
        _dropping_a_ctrl_c()
        return listed(self)

    monkeypatch.setattr(ServiceClient, "supported_models", dropping)
    run = cli("supported-models", *(["--json"] if as_json else []))
    assert run.exit_code == 130, run.stdout + run.stderr
    assert run.stderr == "error: interrupted\n"
    if as_json:
        assert run.json()["error"]["exit_code"] == 130
    else:
        assert run.stdout == ""


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_python_dropped_after_a_wait_names_no_operation_running(
    cli: Cli, model_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dropped once the save was done, it is the command's end that it interrupts: the save
    # is not said to keep running on the server.
    shown = checkpoint_json

    def dropping(checkpoint: Checkpoint) -> dict[str, Any]:
        _dropping_a_ctrl_c()
        return shown(checkpoint)

    monkeypatch.setattr(cli_checkpoints, "checkpoint_json", dropping)
    run = cli("checkpoints", "save", model_id, "c1", "--json", "-q")
    assert run.exit_code == 130, run.stdout + run.stderr
    assert run.stderr == "error: interrupted\n"
    assert run.json()["error"]["exit_code"] == 130
    monkeypatch.undo()
    listed = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [(c["name"], c["status"]) for c in listed] == [("c1", "completed")]


@pytest.mark.usefixtures("python_ctrl_c")
def test_a_ctrl_c_python_dropped_in_the_close_ends_the_command_as_interrupted(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once the command had printed, its close (the client's) is still to come: a Ctrl-C
    # dropped there was hidden from view and the command exited 0, as if none came.
    closing = CliState.close

    def dropping(self: CliState) -> None:
        closing(self)
        _dropping_a_ctrl_c()

    monkeypatch.setattr(CliState, "close", dropping)
    run = cli("supported-models")
    assert run.exit_code == 130, run.stdout + run.stderr
    assert run.stderr == "error: interrupted\n"
    assert "weaver-tiny" in run.stdout  # printed before it came


def test_ctrl_c_while_a_command_loads_gives_json_with_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(name: str, package: str | None = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    run = invoke(["--json", "models", "list"], NO_SERVER)
    assert run.exit_code == 130
    assert run.stderr == "error: interrupted\n"
    error = run.json()["error"]
    assert (error["message"], error["exit_code"]) == ("interrupted", 130)


# -- progress -------------------------------------------------------------------------------


def pending(message: str, wait: float | None) -> OperationProgress:
    info = PendingInfo(code="waiting_for_resources", message=message, wait_seconds=wait)
    return OperationProgress(operation_id="op-7", status=OperationStatus.PENDING, pending_info=info)


def test_describe_names_status_and_pending_info() -> None:
    # `wait_seconds` as sent: the wire does not say whether it is the time left or the
    # time already waited, so "about 12.3 s" could say 12 s more where 12 s have passed.
    assert describe(pending("2 GPUs [busy]", 12.34)) == (
        "operation op-7: pending (waiting_for_resources: 2 GPUs [busy], wait_seconds 12.3)"
    )
    running = OperationProgress(
        operation_id="op-7", status=OperationStatus.RUNNING, pending_info=None
    )
    assert describe(running) == "operation op-7: running"


def test_an_export_s_progress_counts_its_files_in_words() -> None:
    # A server without the totals (the real wire) showed "converted 1 files".
    def running(done: int, total: int | None) -> OperationProgress:
        conversion = ConversionProgress(shards_done=done, bytes_done=2**20, shards_total=total)
        return OperationProgress(
            operation_id="op-7",
            status=OperationStatus.RUNNING,
            pending_info=None,
            conversion=conversion,
        )

    assert describe(running(1, None)) == "operation op-7: running (converted 1 file, 1.0 MiB)"
    assert describe(running(0, None)) == "operation op-7: running (converted 0 files, 1.0 MiB)"
    assert describe(running(1, 1)) == "operation op-7: running (converted 1 of 1 file, 1.0 MiB)"
    assert describe(running(1, 3)) == "operation op-7: running (converted 1 of 3 files, 1.0 MiB)"


def test_pending_info_without_a_message_is_its_code_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `operations show` printed "waiting_for_resources: " with nothing after the colon.
    from weaver_facade._cli._output import print_operation

    info = PendingInfo(code="waiting_for_resources")
    assert describe(pending("", None)) == "operation op-7: pending (waiting_for_resources)"
    print_operation("op-7", "pending", info)
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "waiting_for" in line]
    assert "waiting_for_resources:" not in row


def test_operations_show_gives_wait_seconds_as_sent(capsys: pytest.CaptureFixture[str]) -> None:
    # Its row said "expected wait 12.3 s": from a server that counts the time already
    # waited in it (as the official SDK reads it), 12 s passed read as 12 s to come.
    from weaver_facade._cli._output import print_operation

    print_operation("op-7", "pending", PendingInfo(code="queued", wait_seconds=12.34))
    shown = capsys.readouterr().out
    assert re.search(r"wait_seconds\W+12\.3\b", shown), shown
    assert "expected" not in shown


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_table_with_text_stdout_cannot_encode_is_escaped_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    # A server may report any checkpoint name (`época 2 ✓`); with PYTHONIOENCODING=ascii,
    # or a Latin-1 locale, rich raised UnicodeEncodeError halfway through the table.
    from weaver_facade._cli._output import print_fields

    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.delenv("COLUMNS", raising=False)
    print_fields("checkpoint \u00e9poca 2 \u2713", [("name", "\u00e9poca 2 \u2713")])
    stdout.flush()
    shown = raw.getvalue().decode(encoding)
    assert "\\u2713" in shown  # escaped, as Python's stderr does
    assert "poca 2" in shown


@pytest.mark.parametrize("columns", [24, 28, 30, 200])
def test_a_table_that_barely_fits_breaks_no_word(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: int
) -> None:
    # A name with spaces (a server may report `epoch number 2`) is what a user copies:
    # kept whole on its line, it left the other columns too little room, and rich broke
    # their words (`compl` / `eted`).
    from weaver_facade._cli._output import print_table

    monkeypatch.setenv("COLUMNS", str(columns))
    print_table("checkpoints", ("name", "status"), [("epoch number 2", "completed ok")])
    out = capsys.readouterr().out
    assert shown_whole("epoch number 2", out), out
    assert shown_whole("completed", out), out


@pytest.mark.parametrize("columns", [None, "200", "80", "30"])
def test_piped_tables_end_no_line_in_spaces(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str | None
) -> None:
    # rich padded a table's title to the table's width: `supported base models` was
    # followed by a hundred spaces, which a diff or `grep 'models$'` of the output meets.
    from weaver_facade._cli._output import print_fields, print_table

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    print_fields("checkpoint c1", [("path", "weaver://m-1/checkpoints/c1"), ("size", "1 B")])
    title = "checkpoints of m-1: weaver://m-1/checkpoints/NAME"  # wider than 30 columns
    print_table(title, ("id", "base model"), [("m-1", "weaver-tiny"), ("m-22", "b")])
    print_table(f"no {title}", ("id",), [])
    out = capsys.readouterr().out
    assert "checkpoint c1" in out
    assert "weaver://m-1/checkpoints/c1" in out
    assert "\n│ m-1 " in out  # drawn as a table
    for line in out.splitlines():
        assert line == line.rstrip(), repr(line)


@pytest.mark.parametrize("columns", ["0", "00"])
def test_a_columns_of_zero_prints_the_table_as_if_unset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    # A shell exports COLUMNS=0 for a terminal of no size (a CI pseudo-terminal, a
    # `docker exec -t` before its resize): rich took it for a width of nothing, and
    # `checkpoints show` printed nothing at all, exit status 0.
    from weaver_facade._cli._output import print_fields, print_table

    monkeypatch.delenv("COLUMNS", raising=False)
    print_fields("checkpoint c1", [("path", "weaver://m-1/checkpoints/c1"), ("size", "1 B")])
    print_table("models", ("id", "base model"), [("m-1", "weaver-tiny")])
    unset = capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", columns)
    print_fields("checkpoint c1", [("path", "weaver://m-1/checkpoints/c1"), ("size", "1 B")])
    print_table("models", ("id", "base model"), [("m-1", "weaver-tiny")])
    assert capsys.readouterr().out == unset
    assert "weaver://m-1/checkpoints/c1" in unset


@pytest.mark.parametrize("stderr", [False, True])
def test_a_lines_of_zero_leaves_the_consoles_their_height(
    monkeypatch: pytest.MonkeyPatch, stderr: bool
) -> None:
    # LINES=0 (a terminal of no size) was a height of nothing: the spinner showed `...`.
    from weaver_facade._cli._progress import new_console

    monkeypatch.delenv("LINES", raising=False)
    unset = new_console(stderr=stderr).size
    monkeypatch.setenv("LINES", "0")
    assert new_console(stderr=stderr).size == unset


@pytest.mark.parametrize("columns", range(80, 91))
def test_a_table_narrower_than_its_rows_breaks_no_word(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: int
) -> None:
    # `checkpoints list` on an 80-column terminal: every column's longest word fitted, so
    # the table was drawn, but rich narrowed the two widest columns alike and broke
    # `weight_and_optimizer` (`weight_and_opti` / `mizer`), where the time had a space.
    from weaver_facade._cli._output import print_table

    monkeypatch.setenv("COLUMNS", str(columns))
    row = (
        "c1",
        "weight_and_optimizer",
        "completed",
        "102.8 KiB",
        "2026-12-06 06:22:32Z",
        "permanent",
    )
    print_table("checkpoints", ("name", "type", "status", "size", "created", "ttl"), [row])
    out = capsys.readouterr().out
    for word in " ".join(row).split():
        assert shown_whole(word, out), out
    assert "│ c1 " in out, out  # drawn as a table, not as lines
    assert max(len(line) for line in out.splitlines()) <= columns, out


def spinner(progress: Progress) -> Any:
    """The rich Status on screen, or None (a function, so mypy does not narrow it)."""
    return progress._status


def test_the_spinner_on_a_terminal_shows_status_and_pending_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")  # whatever the runner's is (dumb: no spinner)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    now = [100.0]
    progress = Progress(console=console, clock=lambda: now[0])
    progress(pending("ignored: not active", None))
    assert spinner(progress) is None
    with progress.active():
        progress(pending("queued behind [bold]3[/bold] jobs", 4.0))
        assert spinner(progress) is not None
        now[0] += 7
        console.print(spinner(progress).renderable)
        running = OperationProgress(
            operation_id="op-7", status=OperationStatus.RUNNING, pending_info=None
        )
        progress(running)
        console.print(spinner(progress).renderable)
        done = OperationProgress(
            operation_id="op-7", status=OperationStatus.DONE, pending_info=None
        )
        progress(done)
        assert spinner(progress) is None  # a terminal status removes the spinner
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
    # Server text is shown as is, never read as markup; the time counts from the change.
    assert (
        "operation op-7: pending (waiting_for_resources: queued behind [bold]3[/bold] jobs, "
        "wait_seconds 4.0) [7 s]"
    ) in shown
    assert "operation op-7: running [0 s]" in shown
    assert progress.last_operation_id == "op-7"


def test_quiet_progress_shows_nothing_but_remembers_the_operation() -> None:
    buffer = io.StringIO()
    progress = Progress(quiet=True, console=Console(file=buffer, force_terminal=True))
    with progress.active():
        progress(pending("x", None))
    assert buffer.getvalue() == ""
    assert progress.last_operation_id == "op-7"


def test_on_a_dumb_terminal_each_change_is_a_plain_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # rich draws no spinner on TERM=dumb (an Emacs shell): the wait showed nothing at all.
    monkeypatch.setenv("TERM", "dumb")
    screen = io.StringIO()
    dumb = Console(file=screen, force_terminal=True)
    progress = Progress(console=dumb)
    with progress.active():
        progress(pending("queued", None))
    assert screen.getvalue() == ""
    assert capsys.readouterr().err == ("operation op-7: pending (waiting_for_resources: queued)\n")


def converting(bytes_done: int) -> OperationProgress:
    conversion = ConversionProgress(shards_done=0, bytes_done=bytes_done)
    return OperationProgress(
        operation_id="op-7",
        status=OperationStatus.RUNNING,
        pending_info=None,
        conversion=conversion,
    )


def test_a_change_the_line_does_not_show_prints_no_line_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An export polled as its bytes grow printed `running (converted 0 files, 0.0 MiB)`
    # once per poll, seven lines of twelve the same, in a CI log.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    progress = Progress()
    with progress.active():
        for done in (1000, 2000, 60_000, 200_000, 210_000):
            progress(converting(done))
    assert capsys.readouterr().err.splitlines() == [
        "operation op-7: running (converted 0 files, 0.0 MiB)",
        "operation op-7: running (converted 0 files, 0.1 MiB)",
        "operation op-7: running (converted 0 files, 0.2 MiB)",
    ]


def test_the_spinner_s_time_counts_from_a_change_it_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Such a change also set the spinner's seconds back to 0, the line unchanged.
    monkeypatch.setenv("TERM", "xterm")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    now = [100.0]
    progress = Progress(console=console, clock=lambda: now[0])
    with progress.active():
        progress(converting(1000))
        now[0] += 5
        progress(converting(2000))
        console.print(spinner(progress).renderable)
        progress.stop()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
    assert "operation op-7: running (converted 0 files, 0.0 MiB) [5 s]" in shown, shown


class WaitedWeaver(FakeWeaver):
    """Operations pending for ``lasts`` s of ``clock`` (3 by default), their
    ``wait_seconds`` the time already waited (as the official SDK reads it), then done."""

    def __init__(self, clock: FakeClock, lasts: float = 3.0) -> None:
        super().__init__()
        self.clock = clock
        self.lasts = lasts
        self.submitted: dict[str, float] = {}
        self.said: list[float] = []  # each wait_seconds sent

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        op_id = super()._start(kind, model_id, result).json()["id"]
        self.submitted[op_id] = self.clock.now
        return self._get_operation(op_id)

    def _get_operation(self, op_id: str) -> httpx.Response:
        waited = self.clock.now - self.submitted[op_id]
        body = self._operation_json(op_id, done=waited >= self.lasts)
        if waited < self.lasts:
            self.said.append(round(waited, 1))
            body["pending_info"]["wait_seconds"] = self.said[-1]
        return json_reply(200, body)


def test_the_spinner_shows_the_wait_seconds_last_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new wait_seconds alone is no change, so the spinner kept the one of the last change
    # for the whole wait: `wait_seconds 0.0 [2 s]` where the server had said 2.0 (it counts
    # the time waited), or an estimate counted down frozen beside the time passing.
    monkeypatch.setenv("TERM", "xterm")
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    progress = Progress(console=console, clock=clock)
    fake = WaitedWeaver(clock)
    shown: list[tuple[str, float]] = []  # (the spinner's line, the last wait_seconds sent)

    def sleep(seconds: float) -> None:
        frame = io.StringIO()
        Console(file=frame, width=200).print(spinner(progress).renderable)
        shown.append((frame.getvalue().strip(), fake.said[-1]))
        clock.sleep(seconds)

    with service(fake, sleep=sleep, poll=PollPolicy(clock=clock)) as svc, progress.active():
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        progress.follow(handle, 60)
    assert len(set(fake.said)) > 3, fake.said
    for line, said in shown:
        assert f"wait_seconds {said:.1f})" in line, shown


@pytest.mark.parametrize("timeout", [None, 120.0], ids=["default", "given"])
def test_a_long_wait_s_spinner_says_when_it_ends_and_how_to_bound_it(
    monkeypatch: pytest.MonkeyPatch, timeout: float | None
) -> None:
    # Without --timeout a wait goes on for an hour (its --help's default), and the spinner
    # said nothing of that or of --timeout: the library's WARNING alone, after 5 minutes.
    monkeypatch.setenv("TERM", "xterm")
    clock = FakeClock()
    progress = Progress(console=Console(file=io.StringIO(), force_terminal=True), clock=clock)
    fake = WaitedWeaver(clock, lasts=60.0)
    shown: list[tuple[float, str]] = []  # (seconds into the wait, the spinner's line)

    def sleep(seconds: float) -> None:
        frame = io.StringIO()
        Console(file=frame, width=300).print(spinner(progress).renderable)
        shown.append((clock.now - began, frame.getvalue().strip()))
        clock.sleep(seconds)

    with service(fake, sleep=sleep, poll=PollPolicy(clock=clock)) as svc, progress.active():
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        began = clock.now
        progress.follow(handle, timeout)
    hint = "; waits up to 3600 s in all: --timeout SECONDS sets that]"
    early = [line for waited, line in shown if waited < 30]
    late = [line for waited, line in shown if waited >= 30]
    assert early, shown
    assert late, shown
    assert not any(hint in line for line in early), early
    if timeout is None:
        assert all(line.endswith(hint) for line in late), late
    else:  # bounded by the user, who knows
        assert not any(hint in line for line in late), late


def test_a_closed_stderr_shows_nothing_and_breaks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `2>&-`: Python has no sys.stderr; a save that succeeded ended in AttributeError (exit 1).
    monkeypatch.setattr(sys, "stderr", None)
    progress = Progress()
    with progress.active():
        progress(pending("queued", None))
    assert progress.last_operation_id == "op-7"


# -- the console script against a real emulator process -----------------------------------


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "WEAVER_EMULATOR_API_KEYS": API_KEY}
    log = tmp_path / "emulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*EMULATOR, "--data-dir", str(tmp_path / "data"), "--no-access-log"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+)", log.read_text())
            if found:
                yield found.group(1)
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        else:
            pytest.fail(f"the emulator did not start: {log.read_text()}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_console_script_against_an_emulator_process(emulator_process: str) -> None:
    script = Path(sys.executable).with_name("weaver-facade")
    assert script.exists()
    # The model outlives this client: keep it.
    with ServiceClient(
        emulator_process, API_KEY, heartbeat_interval=0, terminate_models_on_close=False
    ) as service:
        model_id = train_model(service, steps=1)
    # Piped, without the runner's COLUMNS (pytest-xdist sets 80): rows must not wrap.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env |= {"WEAVER_BASE_URL": emulator_process, "WEAVER_API_KEY": API_KEY}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(script), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert "Traceback" not in done.stderr
        assert API_KEY not in done.stdout + done.stderr
        return done

    saved = run("checkpoints", "save", model_id, "from-a-process", "--json")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["path"] == f"weaver://{model_id}/checkpoints/from-a-process"
    listed = run("checkpoints", "list", model_id)
    assert listed.returncode == 0
    assert re.search(r"from-a-process\W+weight_and_optimizer\W+completed", listed.stdout)
    bad = run("checkpoints", "show", "weaver://x")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    missing = run("checkpoints", "show", f"weaver://{model_id}/checkpoints/none")
    assert missing.returncode == 1

    bases = run("supported-models", "--json")
    assert bases.returncode == 0, bases.stderr
    assert "weaver-tiny" in {m["name"] for m in json.loads(bases.stdout)["supported_models"]}
    created = run("models", "create", "weaver-tiny", "--full", "--json")
    assert created.returncode == 0, created.stderr
    new_id = json.loads(created.stdout)["id"]
    listed_models = run("models", "list")
    assert re.search(rf"{model_id}\W+weaver-tiny\W+lora\W+32\W+active", listed_models.stdout)
    assert re.search(rf"{new_id}\W+weaver-tiny\W+full_ft\W+-\W+active", listed_models.stdout)
    ended = run("models", "terminate", new_id, "--json")
    assert json.loads(ended.stdout)["status"] == "terminated"
    shown = run("models", "show", new_id)
    assert re.search(r"status\W+terminated", shown.stdout)


# A command that writes its output, and one that fails (its --json error document is the
# output), whose own error line is said before the output's.
UNWRITTEN = [
    (["--help"], ""),
    (["--json", "--max-retries", "0", "operations", "show", "op-1"], "error: cannot reach "),
]


@pytest.mark.parametrize(("args", "failed"), UNWRITTEN)
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(
    args: list[str], failed: str
) -> None:
    # `> /dev/full` (a full disk) printed click's traceback, ending in OSError.
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": API_KEY}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(script), *args], stdout=full, stderr=subprocess.PIPE, text=True, env=env,
            timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    *first, last = done.stderr.splitlines()
    assert last == "error: cannot write the output: No space left on device", done.stderr
    assert [line[: len(failed)] for line in first] == ([failed] if failed else []), done.stderr


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["--json"], '"path": "weaver://{}/checkpoints/kept"'), (["--no-wait"], "save_checkpoint")],
)
def test_a_stderr_that_cannot_be_written_loses_no_result(
    emu: RunningEmulator, model_id: str, args: list[str], shown: str
) -> None:
    # `2>/dev/full` (a log on a full disk): the first progress line (or --no-wait's hint)
    # ended the command with exit status 1 and nothing on stdout, the checkpoint saved.
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
    env.pop("WEAVER_LOG", None)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(script), "checkpoints", "save", model_id, "kept", *args],
            stdout=subprocess.PIPE, stderr=full, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0
    assert shown.format(model_id) in done.stdout


def test_a_stderr_that_cannot_be_written_stops_no_delete(
    emu: RunningEmulator, cli: Cli, model_id: str
) -> None:
    # The error line of a REF that fails (an id not found) ended the command there: the
    # REFs after it were not deleted, and --json's report of both was lost.
    cli("checkpoints", "save", model_id, "kept", "--json")
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
    env.pop("WEAVER_LOG", None)
    missing = str(uuid.uuid4())
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(script), "checkpoints", "delete", missing, "kept", "--model", model_id, "--json"],
            stdout=subprocess.PIPE, stderr=full, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["deleted"]] == ["kept"]
    assert [e["ref"] for e in report["errors"]] == [missing]
    left = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert left == []


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    script = Path(sys.executable).with_name("weaver-facade")
    with subprocess.Popen(
        [str(script), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        process.stdout.close()  # as `| head -0` would
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err == b""


def _closing_stdout() -> None:
    os.close(1)  # as `>&-` starts the command


@pytest.mark.parametrize(("args", "failed"), UNWRITTEN)
def test_a_closed_stdout_is_output_that_cannot_be_written(args: list[str], failed: str) -> None:
    # `>&-` printed nothing and exited 0: a script took it for success.
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": API_KEY}
    done = subprocess.run(
        [str(script), *args], stderr=subprocess.PIPE, text=True, env=env, timeout=60,
        check=False, preexec_fn=_closing_stdout,
    )  # fmt: skip
    assert done.returncode == 1
    *first, last = done.stderr.splitlines()
    assert last == "error: cannot write the output: standard output is closed", done.stderr
    assert [line[: len(failed)] for line in first] == ([failed] if failed else []), done.stderr


# The commands whose output the weaver-facade group does not print itself: the kit's, by
# argparse (through the group too), and the emulator's when run alone.
OTHER_ENTRIES = [
    ["weaver-facade", "contract-test", "--help"],
    [sys.executable, "-m", "weaver_facade.contract", "--help"],
    [sys.executable, "-m", "weaver_facade.emulator", "--help"],
]


def _entry(args: list[str]) -> list[str]:
    script = str(Path(sys.executable).with_name("weaver-facade"))
    return [script if word == "weaver-facade" else word for word in args]


@pytest.mark.parametrize("args", OTHER_ENTRIES)
@pytest.mark.parametrize(
    ("stdout", "said"),
    [("full", "No space left on device"), ("closed", "standard output is closed")],
)
def test_every_entry_says_that_its_output_was_not_written(
    args: list[str], stdout: str, said: str
) -> None:
    # The kit's --help into a full disk or a closed stdout printed nothing and exited 0
    # (argparse drops a write that fails); the emulator's, run alone, ended in a traceback
    # on a full disk and in silence, exit 0, on a closed stdout.
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            _entry(args), stdout=full if stdout == "full" else None, stderr=subprocess.PIPE,
            text=True, timeout=60, check=False,
            preexec_fn=_closing_stdout if stdout == "closed" else None,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"error: cannot write the output: {said}\n"


def test_the_kits_report_into_a_full_disk_is_one_line_not_a_traceback(
    emu: RunningEmulator,
) -> None:
    env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
    args = [sys.executable, "-m", "weaver_facade.contract", "--only", "lifecycle", "--quick"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            args, stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120,
            check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == "error: cannot write the output: No space left on device"


def test_an_emulator_started_with_its_stdout_closed_serves() -> None:
    # It died of an AttributeError traceback at start: nothing reads a daemon's ready line.
    port = free_port()
    script = Path(sys.executable).with_name("weaver-facade")
    with subprocess.Popen(
        [str(script), "emulator", "--port", str(port)],
        stderr=subprocess.PIPE, text=True, preexec_fn=_closing_stdout,
    ) as process:  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.communicate()[1]
                try:
                    reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/supported-models", timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            assert reply.status_code == 200
        finally:
            process.terminate()
            _, err = process.communicate(timeout=60)
    assert "Traceback" not in err
