"""Serving over real HTTP: ``run_emulator`` in a thread, and the ``emulator`` command."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import gc
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner

from tests.support.emulator import API, KEY_A, Api, batch, spawn_emulator
from weaver_facade import ServiceClient
from weaver_facade.cli import main
from weaver_facade.emulator import RunningEmulator, run_emulator
from weaver_facade.emulator import _cli as emulator_cli
from weaver_facade.emulator._config import EmulatorConfig
from weaver_facade.emulator._store import DataDirInUse

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_run_emulator_is_ready_in_under_a_second(tmp_path: Path) -> None:
    # Warm the imports and the parsed spec: this measures the server, not the interpreter.
    with run_emulator(tmp_path / "warm"):
        pass
    started = time.monotonic()
    with run_emulator(tmp_path / "data", api_keys=(KEY_A,)) as emu:
        ready_after = time.monotonic() - started
        response = httpx.get(
            f"{emu.base_url}{API}/supported-models", headers={"X-WEAVER-API-KEY": KEY_A}
        )
        assert response.status_code == 200
    assert ready_after < 1.0, ready_after


def test_running_emulator_facts(tmp_path: Path) -> None:
    with run_emulator(api_keys=(KEY_A, "second-key")) as emu:
        assert isinstance(emu, RunningEmulator)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.base_url)
        assert emu.port > 0
        assert emu.host == "127.0.0.1"
        assert emu.api_key == KEY_A
        assert KEY_A not in repr(emu)
        assert "second-key" not in repr(emu)
        assert emu.data_dir.is_dir()
        temp_dir = emu.data_dir
        spec = httpx.get(f"{emu.base_url}/openapi.yaml")
        assert spec.status_code == 200
        assert spec.content == SPEC.read_bytes()
        unauthorized = httpx.get(f"{emu.base_url}{API}/supported-models")
        assert unauthorized.status_code == 401
        assert unauthorized.headers["x-request-id"]
    assert not temp_dir.exists(), "a temporary data dir is removed on exit"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.base_url}/openapi.yaml", timeout=2)

    kept = tmp_path / "kept"
    with run_emulator(kept, api_keys=()) as emu:
        assert emu.api_key is None
        assert httpx.get(f"{emu.base_url}{API}/supported-models").status_code == 200
    assert (kept / "weaver.db").exists() or any(kept.iterdir())


def test_exit_does_not_wait_for_held_long_polls(tmp_path: Path) -> None:
    async def scenario(emu: RunningEmulator) -> asyncio.Task[httpx.Response]:
        client = httpx.AsyncClient(base_url=emu.base_url, timeout=60)
        api = Api(client, emu.api_key)
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        return asyncio.create_task(
            api.request("GET", f"/operations/{op['id']}", params={"wait": 60})
        )

    loop = asyncio.new_event_loop()
    try:
        with run_emulator(latency={"forward_backward": 60}) as emu:
            held = loop.run_until_complete(scenario(emu))
            loop.run_until_complete(asyncio.sleep(0.2))  # the poll is now parked on the server
            started = time.monotonic()
        stopped_after = time.monotonic() - started
        loop.run_until_complete(asyncio.wait([held], timeout=10))
    finally:
        loop.close()
    # Without releasing the parked poll, uvicorn would wait out its graceful-shutdown timeout.
    assert stopped_after < 1.5, stopped_after
    answer = held.result()
    assert answer.status_code == 200
    assert answer.json()["status"] in ("pending", "running")


async def test_real_http_workflow_through_run_emulator() -> None:
    with run_emulator() as emu:
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=30) as client:
            api = Api(client, emu.api_key)
            model_id = await api.model()
            first = await api.step(model_id, batch(0))
            ckpt = await api.save(model_id, "weight_and_optimizer", name="http")
            second = await api.step(model_id, batch(1))
            await api.load(model_id, ckpt["path"], include_optimizer=True)
            assert await api.step(model_id, batch(1)) == second
            assert first > 0


def test_the_command_serves_and_keeps_the_key_secret(tmp_path: Path) -> None:
    key = "command-line-secret-5c1e"
    emu = spawn_emulator(
        "--data-dir", str(tmp_path / "d"), "--api-key", key, "--latency", "optim_step=0"
    )
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.base_url)
        assert emu.seconds_to_ready < 5, emu.seconds_to_ready  # interpreter start-up included
        assert httpx.get(f"{emu.base_url}/openapi.yaml").content == SPEC.read_bytes()
        headers = {"X-WEAVER-API-KEY": key}
        created = httpx.post(f"{emu.base_url}{API}/sessions", json={}, headers=headers)
        assert created.status_code == 201
        assert httpx.post(f"{emu.base_url}{API}/sessions", json={}).status_code == 401
        bad = httpx.post(
            f"{emu.base_url}{API}/sessions", json={}, headers={"X-WEAVER-API-KEY": key + "!"}
        )
        assert bad.status_code == 401
    finally:
        code = emu.stop()
    assert code == 128 + signal.SIGTERM, code  # as the README's exit statuses say
    assert key not in emu.output()
    assert (tmp_path / "d").is_dir()


def test_the_command_without_keys_warns_that_auth_is_off(tmp_path: Path) -> None:
    emu = spawn_emulator("--data-dir", str(tmp_path / "d"), "--no-long-poll")
    try:
        assert httpx.get(f"{emu.base_url}{API}/supported-models").status_code == 200
    finally:
        emu.stop()
    assert "auth" in "".join(emu.stderr).lower()


def test_keys_joined_by_commas_are_warned_about_without_showing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `alice,bob` was one key, silently: a client sending `alice` got 401 with no hint.
    monkeypatch.setenv("WEAVER_EMULATOR_API_KEYS", "alice-5c1e,bob-5c1e")
    emu = spawn_emulator("--data-dir", str(tmp_path / "d"))
    try:
        headers = {"X-WEAVER-API-KEY": "alice-5c1e"}
        assert (
            httpx.post(f"{emu.base_url}{API}/sessions", json={}, headers=headers).status_code == 401
        )
    finally:
        emu.stop()
    stderr = "".join(emu.stderr)
    assert "separates keys with spaces" in stderr, stderr
    assert "5c1e" not in emu.output()


def test_the_command_refuses_bad_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing is left behind: the temporary data dir of a refused command is removed too.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runner = CliRunner()
    for args in (
        ["emulator", "--latency", "warp_drive=1"],
        ["emulator", "--latency", "optim_step=fast"],
        ["emulator", "--fault", "kind=explode,rate=1"],
        ["emulator", "--fault", "kind=drop,rate=2"],
        ["emulator", "--extensions", "warp-drive"],
        ["emulator", "--shard-size", "0"],
        ["emulator", "--max-body-size", "64 parsecs"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert list(tmp_path.iterdir()) == [], args


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--shard-size", "0"], {}, "--shard-size must be a whole number of bytes >= 1, not 0"),
        (["--max-body-size", "0KB"], {}, "--max-body-size must be a whole number of bytes >= 1"),
        (["--shard-size", "5XB"], {}, "Invalid value for '--shard-size': size '5XB': expected"),
        (["--max-body-size", "x"], {}, "Invalid value for '--max-body-size': size 'x': expected"),
        (["--storage-url", "ftp://x"], {}, "--storage-url must be scheme://host[:port]"),
        (["--storage-url", "http://a..b"], {}, "--storage-url's host 'a..b' is not a valid"),
        (["--api-key", " k"], {}, "--api-key must be printable ASCII without blanks"),
        ([], {"WEAVER_EMULATOR_API_KEYS": "a\x01b"}, "WEAVER_EMULATOR_API_KEYS must be printable"),
        (["--latency", "warp_drive=1"], {}, "--latency kind must be one of forward_backward, "),
        (["--latency", "x"], {}, "--latency 'x': expected kind=seconds"),
        (["--fault", "x"], {}, "--fault 'x': expected key=value pairs"),
        (["--fault", "kind=drop,rate=1,when=soon"], {}, "--fault 'when' must be one of before, "),
    ],
)
@pytest.mark.parametrize("command", ["weaver-facade", "python -m weaver_facade.emulator"])
def test_a_refused_setting_is_named_as_the_user_gave_it(
    command: str, args: list[str], env: dict[str, str], said: str
) -> None:
    # The config's refusal named its Python field (`shard_size must be ...`, `storage_url's
    # host ...`), which no option of the command is called, and `size '5XB'` none at all.
    runner = CliRunner(env=env)
    if command == "weaver-facade":
        result = runner.invoke(main, ["emulator", *args])
    else:
        result = runner.invoke(emulator_cli.emulator, args, prog_name="python -m x")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {said}"), result.stderr
    # No field whose name is not the option's (`latency` is both).
    fields = {f.name for f in dataclasses.fields(EmulatorConfig) if "_" in f.name}
    assert not fields & set(re.findall(r"\w+", result.stderr)), result.stderr


# The emulator's number options, found by walking its command.
NUMBER_OPTIONS = {
    param.opts[0]: param
    for param in emulator_cli.emulator.params
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType)
}


def test_the_walk_finds_the_number_options() -> None:
    assert {"--port", "--fault-seed", "--url-ttl"} <= set(NUMBER_OPTIONS)


@pytest.mark.parametrize("option", NUMBER_OPTIONS)
def test_a_number_option_takes_ascii_digits_only(option: str) -> None:
    # Python's int() and float() read "8_0" and other scripts' digits ("\u0668\u0660" is 80):
    # `--port \u0668\u0666\u0665\u0660` served on 8650, which `weaver-facade`'s options refuse.
    param = NUMBER_OPTIONS[option]
    number = int if isinstance(param.type, click.types.IntParamType) else float
    said = f"{'a whole number' if number is int else 'a number of seconds'} in digits 0-9"
    for written in ("8_0", "\u0668\u0660"):
        assert number(written) == 80  # what Python reads
        with pytest.raises(click.BadParameter, match=re.escape(f"{written!r} is not {said}")):
            param.type.convert(written, param, None)


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--port", "70000", "a whole number from 0 to 65535"),
        ("--port", "-1", "a whole number from 0 to 65535"),
        ("--url-ttl", "0", "a number of seconds greater than 0"),
    ],
)
def test_a_number_out_of_range_is_refused_in_the_cli_words(
    option: str, value: str, said: str
) -> None:
    # click's words were left: `70000 is not in the range 0<=x<=65535.`, `0.0 is not in
    # the range x>0.`, where `weaver-facade`'s options say what they take.
    result = CliRunner().invoke(main, ["emulator", option, value])
    assert result.exit_code == 2, result.output
    expected = f"error: Invalid value for '{option}': {value!r} is not {said}"
    assert result.stderr.startswith(expected), result.stderr
    assert "range" not in result.stderr


@pytest.mark.parametrize("value", ["inf", "1e400"])
def test_an_endless_url_ttl_is_refused_in_the_cli_words(value: str) -> None:
    # Refused later, by the config, in other words: `Error: url_ttl must be a finite ...`.
    result = CliRunner().invoke(main, ["emulator", "--url-ttl", value])
    assert result.exit_code == 2, result.output
    expected = f"error: Invalid value for '--url-ttl': {value!r} must be a finite number"
    assert result.stderr.startswith(expected), result.stderr


def test_help_states_the_longest_url_ttl_taken() -> None:
    # `[default: 3600.0; greater than 0]`, while `--url-ttl 31536001` is refused.
    result = CliRunner().invoke(main, ["emulator", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "greater than 0 and at most 31536000 (a year)]" in result.stdout, result.stdout
    refused = CliRunner().invoke(main, ["emulator", "--url-ttl", "31536001"])
    assert refused.exit_code == 2, refused.output


@pytest.mark.parametrize("host", ["", " "])
def test_an_empty_host_is_refused_not_served_on_every_interface(host: str) -> None:
    # `--host "$HOST"` with HOST unset listened on every interface (auth off unless keys
    # were given), and its ready line named `http://:8080`, a URL no client takes.
    done = subprocess.run(
        [sys.executable, "-m", "weaver_facade.emulator", "--port", "0", "--host", host],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    expected = "error: Invalid value for '--host': an empty host is no interface"
    assert done.stderr.startswith(expected), done.stderr
    assert "listening" not in done.stdout + done.stderr


def test_a_host_it_cannot_listen_on_is_one_line_whatever_it_holds() -> None:
    # `--host "$HOST"` with a newline at its end: the error went on to a second line.
    result = CliRunner().invoke(main, ["emulator", "--port", "0", "--host", "127.0.0.1\n"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: cannot listen on 127.0.0.1\\n:0: "), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("listed", ["", " "])
def test_an_empty_extension_list_is_refused_not_taken_for_none(listed: str) -> None:
    # `--extensions "$EXTENSIONS"` with EXTENSIONS unset served today's Weaver, without a
    # word, to tests written for the extensions (`--extensions none` says so).
    result = CliRunner().invoke(main, ["emulator", "--port", "0", "--extensions", listed])
    assert result.exit_code == 2, result.output
    expected = "error: Invalid value for '--extensions': an empty list names no extension"
    assert result.stderr.startswith(expected), result.stderr
    assert "listening" not in result.output


def test_an_empty_data_dir_is_refused_not_taken_as_the_current_one(tmp_path: Path) -> None:
    # `--data-dir "$DIR"` with DIR unset served with its state in the current directory,
    # kept after exit, where no --data-dir gives a temporary one removed on exit.
    done = subprocess.run(
        [sys.executable, "-m", "weaver_facade.emulator", "--port", "0", "--data-dir", ""],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    expected = "error: Invalid value for '--data-dir': an empty path is no folder"
    assert done.stderr.startswith(expected), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_run_alone_breaks_no_word_at_its_hyphen() -> None:
    # `python -m weaver_facade.emulator --help` at 60 columns: `cursor-` / `paging`,
    # `checkpoint-by-` / `id`, as `weaver-facade emulator --help` said them.
    shown = CliRunner().invoke(emulator_cli.emulator, ["--help"], terminal_width=58).stdout
    assert "cursor-paging" in shown
    assert not [line for line in shown.splitlines() if re.search(r"\w-$", line)], shown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_temporary_data_dir_is_removed_when_stopped(sig: signal.Signals) -> None:
    # uvicorn re-raises the signal that stopped it; SIGTERM's default action ended the
    # process before the command could remove its temporary directory.
    emu = spawn_emulator()
    try:
        shown = re.search(r"weaver emulator data dir: (\S+)", "".join(emu.stdout))
        assert shown is not None, emu.output()
        data_dir = Path(shown.group(1))
        assert data_dir.is_dir()
        # 128 + the signal, as the README's exit statuses say (130: interrupted); SIGINT
        # exited 1 after click's "Aborted!".
        assert emu.stop(sig) == 128 + sig, emu.output()
    finally:
        emu.stop(signal.SIGKILL)
    assert "Aborted" not in emu.output()
    assert not data_dir.exists(), emu.output()


@pytest.mark.parametrize("script", [True, False], ids=["weaver-facade", "python-m"])
@pytest.mark.parametrize("data_dir", [True, False], ids=["data-dir", "temporary"])
def test_sigterm_ends_the_emulator_with_its_status_however_it_runs(
    tmp_path: Path, script: bool, data_dir: bool
) -> None:
    # `weaver-facade emulator --data-dir DIR` took SIGTERM as a Ctrl-C (exit 130, as the
    # console script's client commands do), where the README says no command but the
    # emulator does: without --data-dir, or as `python -m`, it ended with SIGTERM's 143.
    args = ["--data-dir", str(tmp_path / "data")] if data_dir else []
    emu = spawn_emulator(*args, "--no-access-log", script=script)
    try:
        assert emu.stop(signal.SIGTERM) == 128 + signal.SIGTERM, emu.output()
    finally:
        emu.stop(signal.SIGKILL)
    assert "interrupted" not in emu.output()


@pytest.mark.parametrize("data_dir", [True, False], ids=["data-dir", "temporary"])
def test_the_command_run_in_process_leaves_the_sigterm_handler_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: bool
) -> None:
    # Its SIGTERM handler (exit 143) stayed the process's once the command had ended, and
    # the command run in a thread other than the main one (whose handlers they are) failed
    # with "signal only works in main thread", where it served before.
    served: list[str] = []
    monkeypatch.setattr(
        emulator_cli,
        "serve_forever",
        lambda *a, **k: served.append(threading.current_thread().name),
    )
    args = ["emulator", "--port", "0", *(["--data-dir", str(tmp_path)] if data_dir else [])]
    before = signal.getsignal(signal.SIGTERM)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert signal.getsignal(signal.SIGTERM) is before
    results: list[click.testing.Result] = []
    thread = threading.Thread(target=lambda: results.append(CliRunner().invoke(main, args)))
    thread.start()
    thread.join(timeout=60)
    assert results[0].exit_code == 0, (results[0].output, results[0].exception)
    assert served == ["MainThread", thread.name]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_data_dir_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["emulator", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --data-dir {blocker / 'data'}: "), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_data_dir_s_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    # A data dir from a variable or a glob: its newline broke the error's one line and the
    # ready line's (a script reading the URL's line got the path's end), and its escape
    # sequence rewrote the terminal. As the library's quotes write them, tab and newline too.
    odd, shown = "a\nb\tc\x1b[2Kd", "a\\nb\\tc\\x1b[2Kd"
    blocker = tmp_path / odd
    blocker.write_text("")
    result = CliRunner().invoke(main, ["emulator", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: --data-dir {tmp_path}/{shown}/data: '{tmp_path}/{shown}' is a file\n"
    )
    data_dir = tmp_path / f"dir-{odd}"
    emu = spawn_emulator("--data-dir", str(data_dir))
    command = [sys.executable, "-m", "weaver_facade.emulator", "--port", "0"]
    try:
        second = subprocess.run(
            [*command, "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        emu.stop()
    assert f"weaver emulator data dir: {tmp_path}/dir-{shown}\n" in emu.stdout, emu.output()
    assert second.returncode == 2, second.stderr
    assert second.stderr == (
        f"error: data dir {tmp_path}/dir-{shown} is in use by another emulator\n"
    )


@pytest.mark.parametrize("fault", ["rate=2", "rate=0.5", "when=after"])
def test_a_fault_without_a_kind_says_it_is_required(fault: str) -> None:
    # It said "kind must be one of ..., not ''": a value that was never given.
    result = CliRunner().invoke(main, ["emulator", "--fault", fault])
    assert result.exit_code == 2
    expected = (
        f"error: --fault '{fault}': 'kind' (unavailable, rate_limited, drop or ignore_range) "
        "is required"
    )
    assert result.stderr.startswith(expected), result.stderr


@pytest.mark.parametrize("fault", ["kind=nope,rate=1", "kind=nope", "kind=,rate=0.5"])
def test_a_bad_fault_kind_names_the_allowed_ones(fault: str) -> None:
    kinds = "unavailable, rate_limited, drop, ignore_range"
    expected = f"--fault '{fault}': kind must be one of {kinds}"
    result = CliRunner().invoke(main, ["emulator", "--fault", fault])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    # The same words from `python -m weaver_facade.emulator`.
    done = subprocess.run(
        [sys.executable, "-m", "weaver_facade.emulator", "--port", "0", "--fault", fault],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert expected in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--bad-option"],
        ["--port", "abc"],
        ["--fault", "kind=nope"],
        ["--port"],
        ["--fault"],
        ["--extensions"],
    ],
    ids=[
        "unknown-option",
        "bad-value",
        "refused-in-the-command",
        "no-port-value",
        "no-fault-value",
        "no-extensions-value",
    ],
)
def test_a_usage_error_is_one_line_either_way(args: list[str]) -> None:
    # `python -m weaver_facade.emulator` printed click's three lines (usage, `Try ...`,
    # `Error: ...`), where `weaver-facade emulator` prints one `error:` line, exit 2.
    script = str(Path(sys.executable).with_name("weaver-facade"))
    commands = {
        "weaver-facade emulator": [script, "emulator"],
        "python -m weaver_facade.emulator": [sys.executable, "-m", "weaver_facade.emulator"],
    }
    lines = {}
    for name, command in commands.items():
        done = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: "), line
        assert line.endswith(f" (see '{name} --help')"), line
        lines[name] = line.replace(name, "PROG")
    assert len(set(lines.values())) == 1, lines


def test_the_cli_group_lists_the_emulator_without_importing_it() -> None:
    code = (
        "import sys, weaver_facade.cli\n"
        "from click.testing import CliRunner\n"
        "out = CliRunner().invoke(weaver_facade.cli.main, ['--help']).output\n"
        "assert 'emulator' in out, out\n"
        "assert 'numpy' not in sys.modules and 'weaver_facade.emulator' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in (
        "--data-dir",
        "--host",
        "--port",
        "--api-key",
        "--latency",
        "--fault",
        "--no-long-poll",
        "--extensions",
    ):
        assert option in result.output


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("python_m", [False, True], ids=["console-script", "python-m"])
def test_a_port_in_use_is_one_line_that_says_what_to_do(taken_port: int, python_m: bool) -> None:
    # uvicorn logged its error and exited 3, a status the README does not list; then
    # `python -m weaver_facade.emulator` printed click's usage text around it.
    script = str(Path(sys.executable).with_name("weaver-facade"))
    command = [sys.executable, "-m", "weaver_facade.emulator"] if python_m else [script, "emulator"]
    done = subprocess.run(
        [*command, "--port", str(taken_port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: port {taken_port} on 127.0.0.1 is in use"), line
    assert "--port 0" in line
    assert "--help" not in line
    assert done.stdout == ""


def test_run_emulator_on_a_port_in_use_says_so(taken_port: int) -> None:
    # It raised "failed to start on 127.0.0.1:PORT: SystemExit(3)"; only uvicorn's log said why.
    with (
        pytest.raises(
            RuntimeError, match=f"127.0.0.1:{taken_port}: port {taken_port} is in use"
        ) as raised,
        run_emulator(port=taken_port),
    ):
        pass
    assert "SystemExit" not in str(raised.value)


def test_run_emulator_on_an_address_not_the_hosts_says_why() -> None:
    # It raised "failed to start on 192.0.2.1:0: SystemExit(3)"; only uvicorn's log said
    # why. 192.0.2.1 is a documentation address (RFC 5737), no host's own.
    with (
        pytest.raises(
            RuntimeError,
            match=r"^the emulator cannot listen on 192\.0\.2\.1:0: \w",
        ) as raised,
        run_emulator(host="192.0.2.1", port=0),
    ):
        pass
    assert "SystemExit" not in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.EADDRNOTAVAIL


@pytest.fixture
def port_80_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bind of port 80 refused for want of privileges, as for a user not root."""
    bind = socket.socket.bind

    def refusing(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[1] == 80:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        bind(sock, address)

    monkeypatch.setattr(socket.socket, "bind", refusing)


@pytest.mark.usefixtures("port_80_refused")
def test_run_emulator_on_a_port_it_may_not_bind_says_why() -> None:
    # It raised "failed to start on 127.0.0.1:80: SystemExit(3)"; only uvicorn's log said why.
    with (
        pytest.raises(
            RuntimeError,
            match=r"127\.0\.0\.1:80: permission denied \(ports below 1024 need privileges\)",
        ) as raised,
        run_emulator(port=80),
    ):
        pass
    assert "SystemExit" not in str(raised.value)


@pytest.mark.usefixtures("port_80_refused")
def test_the_emulator_command_on_a_port_it_may_not_bind_says_why() -> None:
    result = CliRunner().invoke(main, ["emulator", "--port", "80"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: cannot listen on 127.0.0.1:80: permission denied "
        "(ports below 1024 need privileges): choose another with --port, "
        "or --port 0 for a free one\n"
    )


def test_a_port_taken_after_the_check_exits_1_not_3(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Taken between the check and uvicorn's bind: uvicorn says why, the status is ours.
    monkeypatch.setattr(emulator_cli, "_check_can_listen", lambda host, port: None)
    result = CliRunner().invoke(main, ["emulator", "--port", str(taken_port)])
    assert result.exit_code == 1, result.output


def test_a_data_dir_that_is_a_file_is_said_in_the_commands_words(tmp_path: Path) -> None:
    # click's own check said "Invalid value for '--data-dir': Directory 'F' is a file.",
    # unlike the command's line for a data dir below a file.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for data in (blocker, blocker / "data"):
        result = CliRunner().invoke(main, ["emulator", "--data-dir", str(data), "--port", "0"])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: --data-dir {data}: '{blocker}' is a file\n"
    assert blocker.read_text() == ""


def test_a_data_dir_that_is_or_is_under_a_broken_symlink_is_named_so(tmp_path: Path) -> None:
    # A link to a disk not mounted: the mkdir said "File exists", which `ls` contradicts.
    # Where it leads is shown escaped, as the paths the user gave: a newline broke the line.
    link = tmp_path / "data"
    link.symlink_to(tmp_path / "un\nmounted")
    for data in (link, link / "sub"):
        result = CliRunner().invoke(main, ["emulator", "--data-dir", str(data), "--port", "0"])
        assert result.exit_code == 2, result.output
        broken = f"'{link}' is a broken symlink (to {tmp_path}/un\\nmounted)"
        assert result.stderr == f"error: --data-dir {data}: {broken}\n"
    assert not (tmp_path / "un\nmounted").exists()


@pytest.mark.parametrize(
    ("in_the_way", "said"),
    [
        ("emulator.lock", "{data}/emulator.lock: Is a directory"),
        ("weaver.db", "its database {data}/weaver.db: unable to open database file"),
    ],
)
def test_a_data_dir_it_cannot_use_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_the_way: str, said: str
) -> None:
    # A data dir the user cannot write into (root's, say) ended in the store's traceback,
    # exit 1: PermissionError on its lock file. A folder in a file's place fails the same
    # way for root too. Given relative, as the store names its files absolute.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / in_the_way).mkdir(parents=True)
    result = CliRunner().invoke(main, ["emulator", "--data-dir", "data", "--port", "0"])
    assert result.exit_code == 2, result.output
    named = said.format(data=tmp_path / "data" if in_the_way == "emulator.lock" else "data")
    assert result.stderr == f"error: cannot use data dir data: {named}\n"


@pytest.mark.parametrize(
    "in_the_way",
    [
        "weaver.db",  # the store's database: its connection fails
        "tokenizers",  # a file where the emulator writes its tokenizer, after the store opened
    ],
)
def test_a_start_refused_by_its_data_dir_leaves_nothing_open(
    tmp_path: Path, in_the_way: str
) -> None:
    # The lock file stayed open until collected: the data dir stayed held by a start that
    # failed (while its traceback lived, as in a test's report), and Python warned of an
    # unclosed file later, which `-W error::ResourceWarning` turned into a failure.
    from weaver_facade.emulator import EmulatorConfig, create_app

    data = tmp_path / "data"
    blocker = data / in_the_way
    if in_the_way == "weaver.db":
        blocker.mkdir(parents=True)
    else:
        data.mkdir()
        blocker.write_text("")
    workers_before = {t for t in threading.enumerate() if t.name.startswith("weaver-worker-")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(Exception) as refused:  # noqa: PT011  # whichever the OS raises
            create_app(EmulatorConfig(data_dir=data))
        assert not isinstance(refused.value, DataDirInUse)
        # While the failure is still at hand, the dir is free for another start.
        (blocker.rmdir if blocker.is_dir() else blocker.unlink)()
        create_app(EmulatorConfig(data_dir=data)).emulator.close()
        workers_after = {t for t in threading.enumerate() if t.name.startswith("weaver-worker-")}
        del refused
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert workers_after <= workers_before


def test_a_data_dir_serves_one_emulator_at_a_time(tmp_path: Path) -> None:
    # A second one took the first's active models for leftovers of a crash (state_lost),
    # failed its pending saves and deleted the files they were writing.
    data = tmp_path / "shared"
    with run_emulator(data, api_keys=(KEY_A,)) as first:
        with (
            pytest.raises(DataDirInUse, match=f"data dir {data} is in use by another"),
            run_emulator(data, api_keys=(KEY_A,)),
        ):
            pass
        command = CliRunner().invoke(main, ["emulator", "--data-dir", str(data), "--port", "0"])
        assert command.exit_code == 2, command.output
        assert command.stderr.startswith(f"error: data dir {data} is in use by another")
        created = httpx.post(
            f"{first.base_url}{API}/sessions", headers={"X-WEAVER-API-KEY": KEY_A}, json={}
        )
        assert created.status_code == 201
    # Free again once the first has stopped.
    with run_emulator(data, api_keys=(KEY_A,)) as again:
        assert again.base_url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_held_long_poll_is_answered_when_the_command_stops(sig: signal.Signals) -> None:
    # `run_emulator` answered held long-polls before stopping; the command did not:
    # uvicorn waited out its graceful timeout, then cancelled the request, which got a
    # plain-text 500 (which a client does not retry) and left a traceback in the log.
    emu = spawn_emulator("--latency", "save_checkpoint=60", "--no-access-log")
    try:
        with httpx.Client(base_url=emu.base_url + API, timeout=30) as client:
            session = client.post("/sessions", json={"tags": [], "user_metadata": {}}).json()["id"]
            model = client.post(
                f"/sessions/{session}/models", json={"model_seq_id": 1, "base_model": "weaver-tiny"}
            ).json()["id"]
            op = client.post(f"/models/{model}/checkpoints", json={"type": "weight"}).json()["id"]
            replies: list[httpx.Response] = []
            poll = threading.Thread(
                target=lambda: replies.append(client.get(f"/operations/{op}", params={"wait": 30}))
            )
            poll.start()
            time.sleep(0.5)  # held: the save takes a minute
            assert emu.stop(sig) == 128 + sig, emu.output()
            poll.join(timeout=30)
    finally:
        emu.stop(signal.SIGKILL)
    assert replies, emu.output()
    assert replies[0].status_code == 200, (replies[0].text, emu.output())
    assert replies[0].json()["id"] == op
    assert replies[0].json()["status"] in ("pending", "running")
    assert "Exception in ASGI application" not in emu.output()


def test_a_download_on_its_way_ends_without_a_traceback_when_the_command_stops() -> None:
    # Held long-polls were answered before stopping, but a storage download was not:
    # uvicorn waited out its graceful timeout, then cancelled the request's `sendfile`,
    # which left "Exception in ASGI application" and a traceback in the log.
    emu = spawn_emulator("--no-access-log")
    try:
        with ServiceClient(emu.base_url, api_key=None) as service:
            trainer = service.create_training_client("weaver-large-vocab", lora_rank=32)
            artifact = trainer.export_weights(trainer.save_state("big"))
        descriptor = httpx.get(f"{emu.base_url}{API}/artifacts/{artifact.id}/download").json()
        big = max(descriptor["files"], key=lambda f: f["size"])
        # Larger than the loopback socket's buffers: the server is still sending it.
        assert big["size"] > 16 * 1024 * 1024
        url = httpx.URL(big["url"])
        with socket.create_connection((url.host, url.port or 80), timeout=10) as reader:
            target = url.raw_path.decode()
            reader.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode())
            received = b""
            while b"\r\n\r\n" not in received or received.endswith(b"\r\n\r\n"):
                chunk = reader.recv(65536)
                assert chunk, received
                received += chunk
            assert received.startswith(b"HTTP/1.1 200"), received[:200]
            # The body has begun, and the reader stops reading it.
            assert emu.stop(signal.SIGTERM) == 128 + signal.SIGTERM, emu.output()
    finally:
        emu.stop(signal.SIGKILL)
    assert "Exception in ASGI application" not in emu.output()
    assert "graceful shutdown exceeded" not in emu.output()


# A request of each kind, and the access log line of each (uvicorn's words).
_LOGGED_REQUESTS = (
    ("GET", "/openapi.yaml", '"GET /openapi.yaml HTTP/1.1" 200'),
    ("POST", f"{API}/sessions", f'"POST {API}/sessions HTTP/1.1" 201'),
    ("GET", f"{API}/no-such-route", f'"GET {API}/no-such-route HTTP/1.1" 404'),
)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="default"),
        pytest.param(("--no-access-log",), id="off", marks=pytest.mark.slow),
        pytest.param(("--log-level", "warning"), id="warning", marks=pytest.mark.slow),
    ],
)
def test_the_log_has_one_line_per_request_at_info_unless_turned_off(args: tuple[str, ...]) -> None:
    # The README: "It logs at `--log-level` (`info` by default), one line per request unless
    # `--no-access-log`."
    emu = spawn_emulator(*args)
    try:
        with httpx.Client(base_url=emu.base_url, timeout=10) as client:
            for method, path, _ in _LOGGED_REQUESTS:
                client.request(method, path, json={} if method == "POST" else None)
    finally:
        emu.stop()
    lines = emu.output().splitlines()
    logged = [sum(said in line for line in lines) for _, _, said in _LOGGED_REQUESTS]
    assert logged == ([1, 1, 1] if args == () else [0, 0, 0]), lines
    # INFO records but at --log-level warning (uvicorn's start, say).
    assert any(" INFO " in line for line in lines) is (args != ("--log-level", "warning")), lines


def test_the_command_s_defaults_are_the_readme_s() -> None:
    # The README: it binds to 127.0.0.1 by default, draws faults from `--fault-seed N`
    # (0 by default), signs URLs for `--url-ttl` seconds (default 3600), shards above
    # `--shard-size` (default `5GB`), takes bodies of at most 64 MiB, offers `all` the
    # extensions and logs at `info`; auth is off without keys.
    params = emulator_cli.emulator.make_context("emulator", []).params
    assert params["host"] == "127.0.0.1"
    assert params["fault_seed"] == 0
    assert params["url_ttl"] == 3600
    assert params["shard_size"] == 5 * 10**9
    assert params["max_body_size"] == 64 * 2**20
    assert (params["extensions"], params["log_level"], params["api_keys"]) == ("all", "info", ())


def test_run_emulator_s_defaults_are_the_readme_s() -> None:
    # The README: `run_emulator()` takes a free loopback port, a temporary data dir and
    # the key "test-key", which the server then asks for.
    with run_emulator() as emu:
        assert emu.api_key == "test-key"
        assert httpx.URL(emu.base_url).host == "127.0.0.1"
        assert Path(emu.data_dir).is_dir()
        sessions = f"{emu.base_url}{API}/sessions"
        refused = httpx.post(sessions, headers={"X-WEAVER-API-KEY": "another-key"}, json={})
        assert refused.status_code == 401
        made = httpx.post(sessions, headers={"X-WEAVER-API-KEY": "test-key"}, json={})
        assert made.status_code == 201
    assert not Path(emu.data_dir).exists()
