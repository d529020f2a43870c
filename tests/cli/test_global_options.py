"""The global options (``--base-url``, ``--api-key``, ``--max-retries``, ``--json``, ``-q``)
work before or after any subcommand, at any level, for every command the CLI has."""

from __future__ import annotations

import io
import os
import pprint
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import rich
from rich.console import Console

from tests.support.cli import API_KEY, Cli, command_at, command_paths, invoke
from weaver_facade._cli._state import CliState
from weaver_facade.cli import main
from weaver_facade.contract._findings import RETRIES
from weaver_facade.emulator import RunningEmulator

NO_SERVER: dict[str, str | None] = {"WEAVER_BASE_URL": None, "WEAVER_API_KEY": None}
GLOBALS = ["--base-url", "http://127.0.0.1:9", "--api-key", "k-1", "--max-retries", "1"]


PATHS = list(command_paths(main))


# The README: these print no JSON document and refuse --json rather than ignore it; and
# they refuse the client's options that they have no use for.
NO_JSON = [("emulator",), ("contract-test",)]
NOT_FOR = {
    ("emulator",): [["--base-url", "http://127.0.0.1:9"], ["--max-retries", "1"], ["-q"]],
    ("contract-test",): [["--max-retries", "1"], ["-q"]],
}


def test_the_walk_finds_the_commands() -> None:
    # A guard for the test below: it must cover the nested commands, not only the groups.
    assert ("checkpoints", "set-ttl") in PATHS
    assert ("operations", "wait") in PATHS
    assert ("emulator",) in PATHS


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_every_command_accepts_the_global_options_after_its_name(path: tuple[str, ...]) -> None:
    # Parsing happens before --help acts: an option the command did not accept exits 2.
    if path in NOT_FOR:
        given = ["--api-key", "k-1"] if path == ("emulator",) else GLOBALS[:4]
    else:
        given = [*GLOBALS, "--json", "-q"]
    run = invoke([*path, *given, "--help"], NO_SERVER)
    assert run.exit_code == 0, run.stderr
    assert "No such option" not in run.stderr


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
@pytest.mark.parametrize("path", NO_JSON, ids=" ".join)
def test_commands_without_json_output_refuse_json(path: tuple[str, ...], before: bool) -> None:
    # Accepted and ignored, --json left a script parsing text. Each case would also fail
    # without --json (no server; a data dir under a file), so that none can start serving.
    rest = ["--quick"] if path == ("contract-test",) else ["--data-dir", "/dev/null/x"]
    args = ["--json", *path, *rest] if before else [*path, *rest, "--json"]
    run = invoke(args, NO_SERVER)
    assert run.exit_code == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith(f"error: --json is not for `weaver-facade {path[0]}`, which ")
    assert len(run.stderr.splitlines()) == 1
    if path == ("contract-test",):
        assert "`--report DIR` writes it as JSON (DIR/contract-report.json)" in run.stderr


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
@pytest.mark.parametrize(
    ("path", "option"),
    [(path, option) for path, options in NOT_FOR.items() for option in options],
    ids=lambda v: " ".join(v),
)
def test_commands_refuse_client_options_they_have_no_use_for(
    path: tuple[str, ...], option: list[str], before: bool
) -> None:
    # Accepted and ignored: `--base-url X emulator` served at the default port, not at X.
    rest = ["--quick"] if path == ("contract-test",) else ["--data-dir", "/dev/null/x"]
    args = [*option, *path, *rest] if before else [*path, *rest, *option]
    run = invoke(args, NO_SERVER)
    assert run.exit_code == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith(f"error: {option[0]} is not for `weaver-facade {path[0]}`, ")
    assert len(run.stderr.splitlines()) == 1
    if option[0] == "--max-retries" and path == ("contract-test",):  # the kit's own count
        assert f"(up to {RETRIES} times)" in run.stderr
        # It said "only when a 429 or 503 asks it to wait": the kit sends its own requests
        # again after a lost reply too, where that is safe.
        assert "only when" not in run.stderr
        assert "after a reply lost on the way" in run.stderr


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("http://h.test/api/v1", " is the server root; drop the trailing '/api/v1' from "),
        ("ftp://h.test", " must start with http:// or https://, got 'ftp://h.test'"),
        ("http://h.test:99999", "'s port 99999 is not in 1..65535"),
    ],
)
def test_a_bad_base_url_is_named_as_given_not_by_the_librarys_parameter(
    given: str, words: str
) -> None:
    # It said "base_url is the server root; ...": the library's parameter, no CLI flag.
    run = invoke(["--base-url", given, "models", "list"], {**NO_SERVER, "WEAVER_API_KEY": "k"})
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith(f"error: --base-url{words}"), run.stderr
    run = invoke(["models", "list"], {**NO_SERVER, "WEAVER_API_KEY": "k", "WEAVER_BASE_URL": given})
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith(f"error: WEAVER_BASE_URL{words}"), run.stderr


def test_a_bad_api_key_is_named_as_given_not_by_the_librarys_parameter() -> None:
    # It said "api_key (or WEAVER_API_KEY) must be printable ASCII": the library's
    # parameter, no CLI flag, for a key given with --api-key.
    env = {**NO_SERVER, "WEAVER_BASE_URL": "http://h.test"}
    run = invoke(["--api-key", "s\u00e9cret", "models", "list"], env)
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: --api-key must be printable ASCII"), run.stderr
    run = invoke(["models", "list"], {**env, "WEAVER_API_KEY": "s\u00e9cret"})
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: WEAVER_API_KEY must be printable ASCII"), run.stderr
    assert "s\u00e9cret" not in run.stderr + run.stdout


def test_contract_test_names_the_base_url_as_given_too() -> None:
    # `weaver-facade contract-test` handed the kit WEAVER_BASE_URL's value as --base-url,
    # which the kit then named: "error: --base-url is the server root", of no flag given.
    env = {**NO_SERVER, "WEAVER_API_KEY": "k", "WEAVER_BASE_URL": "http://h.test/api/v1"}
    run = invoke(["contract-test"], env)
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: WEAVER_BASE_URL is the server root"), run.stderr
    for argv in (
        ["--base-url", "http://h.test/api/v1", "contract-test"],
        ["contract-test", "--base-url", "http://h.test/api/v1"],
    ):
        run = invoke(argv, {**env, "WEAVER_BASE_URL": "http://127.0.0.1:9"})
        assert run.exit_code == 2, run.stderr
        assert run.stderr.startswith("error: --base-url is the server root"), run.stderr


def test_contract_test_names_a_bad_api_key_as_given_too() -> None:
    # The kit's own check read only WEAVER_API_KEY, naming the library's parameter; a key
    # given with --api-key reached httpx, whose UnicodeEncodeError ended in a traceback.
    env = {**NO_SERVER, "WEAVER_BASE_URL": "http://127.0.0.1:9"}
    run = invoke(["contract-test"], {**env, "WEAVER_API_KEY": "s\u00e9cret"})
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: WEAVER_API_KEY must be printable ASCII"), run.stderr
    for argv in (
        ["--api-key", "s\u00e9cret", "contract-test"],
        ["contract-test", "--api-key", "s\u00e9cret"],
    ):
        run = invoke(argv, {**env, "WEAVER_API_KEY": "k"})
        assert run.exit_code == 2, run.stderr
        assert run.stderr.startswith("error: --api-key must be printable ASCII"), run.stderr
        assert "s\u00e9cret" not in run.stderr + run.stdout


def test_a_client_key_before_emulator_is_refused_not_dropped() -> None:
    # The emulator ran with auth off: the key before its name is the client's.
    run = invoke(["--api-key", "k-1", "emulator", "--data-dir", "/dev/null/x"], NO_SERVER)
    assert run.exit_code == 2, run.stderr
    assert run.stderr == (
        "error: --api-key before `emulator` is a client's key; give the emulator the keys it "
        "accepts after its name: weaver-facade emulator --api-key KEY\n"
    )
    # The environment's client key is no such mistake; the data dir under a file still is.
    run = invoke(["emulator", "--data-dir", "/dev/null/x"], {**NO_SERVER, "WEAVER_API_KEY": "k"})
    assert run.exit_code == 2, run.stderr
    assert "--api-key before" not in run.stderr


@pytest.mark.parametrize("option", ["--base-url", "--api-key", "--max-retries"])
def test_a_value_option_without_its_value_is_refused(option: str) -> None:
    # Last after the command, `--api-key` went on with the environment's key.
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://127.0.0.1:9",
        "WEAVER_API_KEY": "k-env",
    }
    run = invoke(["models", "list", option], env)
    assert run.exit_code == 2, run.stderr
    # With the pointer to --help that every other usage error carries (click raises this
    # one without its command, which left the pointer out).
    assert run.stderr == (
        f"error: Option '{option}' requires an argument. (see 'main models list --help')\n"
    )
    top = invoke([option], env)
    assert top.exit_code == 2, top.stderr
    assert top.stderr == f"error: Option '{option}' requires an argument. (see 'main --help')\n"


USAGE_ERRORS = {
    "bad-value": ["models", "create", "weaver-tiny", "--lora-rank", "999"],
    "conflict": ["models", "create", "weaver-tiny", "--full", "--seed", "3"],
    "missing-option": ["checkpoints", "download", "weaver://m-1/checkpoints/c"],
    "missing-argument": ["operations", "show"],
    # The parser stops at an option it does not know, before it reads a --json after it.
    "unknown-option": ["checkpoints", "list", "m-1", "--frobnicate"],
}


@pytest.mark.parametrize(
    "args",
    [
        *(["--json", *args] for args in USAGE_ERRORS.values()),
        *([*args, "--json"] for args in USAGE_ERRORS.values()),
        # Nothing after an unknown command is parsed: --json counts before it.
        ["--json", "no-such-command"],
        ["--frobnicate", "--json", "models", "list"],
        # An option's value missing at the end (a --json after it would be its value).
        ["--json", "checkpoints", "show", "c", "--model"],
    ],
    ids=[
        *(f"before-{k}" for k in USAGE_ERRORS),
        *(f"after-{k}" for k in USAGE_ERRORS),
        "cmd",
        "top-level-unknown-option",
        "before-option-without-value",
    ],
)
def test_a_usage_error_with_json_is_a_json_document_too(args: list[str]) -> None:
    # The README: errors are one line on stderr and, with --json, {"error": {...}} on stdout.
    run = invoke(args, NO_SERVER)
    assert run.exit_code == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    error = run.json()["error"]
    assert error["exit_code"] == 2
    assert run.stderr == f"error: {error['message']}\n"
    plain = invoke([a for a in args if a != "--json"], NO_SERVER)
    assert (plain.exit_code, plain.stdout, plain.stderr) == (2, "", run.stderr)


def test_a_usage_error_of_a_command_that_refuses_json_prints_none() -> None:
    # The emulator prints no JSON document, not even for a --json it never read.
    run = invoke(["emulator", "--frobnicate", "--json"], NO_SERVER)
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr.startswith("error: No such option '--frobnicate'")


TIMEOUT_COMMANDS = [
    path
    for path in PATHS
    if any("--timeout" in p.opts for p in command_at(path).params if isinstance(p, click.Option))
]


def test_the_walk_finds_the_commands_that_wait() -> None:
    assert {("operations", "wait"), ("checkpoints", "save"), ("checkpoints", "export")} <= set(
        TIMEOUT_COMMANDS
    )


@pytest.mark.parametrize("path", TIMEOUT_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("value", ["nan", "-1", "abc"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(
    path: tuple[str, ...], value: str
) -> None:
    # --timeout nan passed the range check and the wait ended at once. Refused while the
    # options are read: before the command finds that no server is given.
    arguments = [p for p in command_at(path).params if isinstance(p, click.Argument)]
    run = invoke([*path, *("x" for _ in arguments), "--timeout", value], NO_SERVER)
    assert run.exit_code == 2, run.stdout
    assert run.stderr.startswith("error: Invalid value for '--timeout'"), run.stderr
    if value != "-1":  # not click's "'abc' is not a valid float range."
        assert f"{value!r} is not a number of seconds" in run.stderr, run.stderr


@pytest.mark.parametrize("path", TIMEOUT_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("inf", "a finite number of seconds"),
        ("1e400", "a finite number of seconds"),
        ("31536001", "at most 31536000 seconds (a year)"),
    ],
)
def test_an_endless_timeout_is_refused_as_the_kit_refuses_it(
    path: tuple[str, ...], value: str, said: str
) -> None:
    # `--timeout inf` and `1e400` were taken, `contract-test --deadline inf` is a usage error:
    # no socket timeout or timer takes them, and waiting for ever is no --timeout at all.
    arguments = [p for p in command_at(path).params if isinstance(p, click.Argument)]
    run = invoke([*path, *("x" for _ in arguments), "--timeout", value], NO_SERVER)
    assert run.exit_code == 2, run.stdout
    expected = f"error: Invalid value for '--timeout': {value!r} must be {said}"
    assert run.stderr.startswith(expected), run.stderr


@pytest.mark.parametrize("path", TIMEOUT_COMMANDS, ids=" ".join)
def test_help_states_the_longest_timeout_taken(path: tuple[str, ...]) -> None:
    # `[greater than 0]`, while `--timeout 31536001` is refused: the help stated no bound
    # above. It states the one a value is refused past, in the words of a value below.
    param = next(p for p in command_at(path).params if p.name == "timeout")
    assert _takes(param, "31536000")
    assert not _takes(param, "31536001")
    shown = " ".join(invoke([*path, "--help"], NO_SERVER).stdout.split())
    assert "[greater than 0 and at most 31536000 (a year)]" in shown, shown
    with pytest.raises(click.BadParameter) as refused:
        param.type.convert("0", param, None)
    assert refused.value.message.endswith(" greater than 0 and at most 31536000 (a year)")


# Each number option, but the emulator's: it imports nothing of the facade, and its own types
# are held to the same rule in tests/emulator/test_server_cli.py.
NUMBER_OPTIONS = {
    (path, param.opts[0]): param
    for path in [(), *PATHS]
    if path != ("emulator",)
    for param in command_at(path).params
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType)
}


def test_the_walk_finds_the_number_options() -> None:
    assert {"--max-retries", "--timeout", "--ttl", "--lora-rank", "--seed"} <= {
        option for _, option in NUMBER_OPTIONS
    }


@pytest.mark.parametrize(
    ("path", "option"),
    NUMBER_OPTIONS,
    ids=lambda o: o if isinstance(o, str) else " ".join(o) or "weaver-facade",
)
def test_a_number_option_takes_ascii_digits_only(path: tuple[str, ...], option: str) -> None:
    # Python's int() and float() take "0_1" and other scripts' digits ("\u0661" is 1): --ttl
    # refused them, --max-retries, --timeout and the others took them. Each says why, in
    # the words of a whole number's refusal (--timeout and --ttl named only their range).
    param = NUMBER_OPTIONS[path, option]
    number = int if isinstance(param.type, click.types.IntParamType) else float
    valid = next(str(n) for n in range(100) if _takes(param, str(n)))
    for written in (f"0_{valid}", valid.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))):
        assert number(written) == number(valid)  # what Python reads as the valid number
        with pytest.raises(click.BadParameter, match=f"^{re.escape(repr(written))} is not "):
            param.type.convert(written, param, None)
        with pytest.raises(click.BadParameter, match=r" in digits 0-9$"):
            param.type.convert(written, param, None)


def _outside(kind: click.IntRange | click.FloatRange) -> float | None:
    if kind.min is not None:
        return kind.min if kind.min_open else kind.min - 1
    if kind.max is not None:
        return kind.max if kind.max_open else kind.max + 1
    return None


# What each option takes, in the words of its help and of the README (the spec's bounds).
SAID = {
    "--max-retries": "a whole number from 0 to 20",
    "--max-concurrency": "a whole number from 1 to 64",
    "--lora-rank": "a whole number from 1 to 256",
    "--seed": "a whole number from 0 to 4294967295",
    "--timeout": "a number of seconds greater than 0",
    "--ttl": "a whole number of seconds from",
}


@pytest.mark.parametrize(
    ("path", "option"),
    NUMBER_OPTIONS,
    ids=lambda o: o if isinstance(o, str) else " ".join(o) or "weaver-facade",
)
def test_a_number_out_of_range_is_refused_in_the_cli_words(
    path: tuple[str, ...], option: str
) -> None:
    # click's own words were left: `0.0 is not in the range x>0.`, `0 is not in the range
    # 1<=x<=64.` and `'x' is not a valid integer range.`, where --ttl said what it takes.
    param = NUMBER_OPTIONS[path, option]
    assert isinstance(param.type, click.IntRange | click.FloatRange)
    outside = [str(_outside(param.type)), "x"]
    arguments = [p for p in command_at(path).params if isinstance(p, click.Argument)]
    for value in outside:
        run = invoke([*path, *("x" for _ in arguments), option, value], NO_SERVER)
        assert run.exit_code == 2, run.stdout
        said = f"error: Invalid value for '{option}': {value!r} is not {SAID[option]}"
        assert run.stderr.startswith(said), run.stderr
        assert "range" not in run.stderr, run.stderr


# Every option of a number range type that a help shows (the global options repeated after a
# command's name are hidden there), the emulator's too.
RANGE_OPTIONS = {
    (path, param.opts[0]): param
    for path in [(), *PATHS]
    for param in command_at(path).params
    if isinstance(param, click.Option)
    and not param.hidden
    and isinstance(param.type, click.IntRange | click.FloatRange)
}
# click's notation: `[1<=x<=64]`, `[x>0]`, and `[x<=None]` for a range without bounds.
NOTATION = re.compile(r"[<>]=|\bx[<>]|[<>]x\b")


def test_the_walk_finds_the_bounded_options() -> None:
    assert {
        ((), "--max-retries"),
        (("checkpoints", "download"), "--max-concurrency"),
        (("checkpoints", "set-ttl"), "--ttl"),
        (("operations", "wait"), "--timeout"),
        (("emulator",), "--port"),
        (("emulator",), "--fault-seed"),  # no bound at all
    } <= set(RANGE_OPTIONS)


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "weaver-facade")
def test_help_shows_no_range_in_clicks_notation(path: tuple[str, ...]) -> None:
    # `[default: 4; 1<=x<=64]`, `[x>0]` and `[x<=None]`, where a refusal says `from 1 to
    # 64`, `greater than 0`, and an option without bounds has none to state.
    run = invoke([*path, "--help"], NO_SERVER)
    assert run.exit_code == 0, run.stderr
    assert not NOTATION.search(run.stdout), run.stdout


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda p: " ".join(p) or "weaver-facade")
def test_help_names_what_a_number_option_takes(path: tuple[str, ...]) -> None:
    # `--max-retries INTEGER RANGE` and `--url-ttl FLOAT RANGE`, where the others say `N`
    # and `SECONDS`: click's name of the type, not of what the option takes.
    run = invoke([*path, "--help"], NO_SERVER)
    assert run.exit_code == 0, run.stderr
    assert not re.search(r"\b(INTEGER|FLOAT)\b", run.stdout), run.stdout


@pytest.mark.parametrize(
    ("path", "option"),
    RANGE_OPTIONS,
    ids=lambda o: o if isinstance(o, str) else " ".join(o) or "weaver-facade",
)
def test_help_states_an_options_bounds_as_its_refusal_does(
    path: tuple[str, ...], option: str
) -> None:
    # Each range in the words of the refusal of a value outside it: `[default: 4; from 1 to
    # 64]` beside `'0' is not a whole number from 1 to 64`; the default still shown.
    param = RANGE_OPTIONS[path, option]
    kind = param.type
    assert isinstance(kind, click.IntRange | click.FloatRange)
    command = command_at(path)
    record = param.get_help_record(click.Context(command, info_name=command.name))
    assert record is not None
    shown = " ".join(invoke([*path, "--help"], NO_SERVER).stdout.split())
    assert " ".join(record[1].split()) in shown  # the record is what --help prints
    extra = re.fullmatch(r".*\[(?P<extra>[^\[\]]*)\]", record[1], re.DOTALL)
    parts = extra["extra"].split("; ") if extra else []
    if param.show_default and param.default is not None:
        assert f"default: {param.default}" in parts, record
    bounds = [part for part in parts if not part.startswith(("default: ", "required"))]
    ends = [str(int(e) if e == int(e) else e) for e in (kind.min, kind.max) if e is not None]
    if not ends:  # unbounded: nothing to state
        assert bounds == [], record
        return
    assert len(bounds) == 1, record
    assert re.findall(r"\d+(?:\.\d+)?", bounds[0])[: len(ends)] == ends, record  # the type's own
    value = _outside(kind)
    with pytest.raises(click.BadParameter) as refused:
        param.type.convert(str(value), param, None)
    assert refused.value.message.endswith(f" {bounds[0]}"), (refused.value.message, record)


def _takes(param: click.Parameter, value: str) -> bool:
    try:
        param.type.convert(value, param, None)
    except click.BadParameter:
        return False
    return True


@pytest.mark.parametrize("path", TIMEOUT_COMMANDS, ids=" ".join)
def test_a_timeout_of_zero_is_a_usage_error(path: tuple[str, ...]) -> None:
    # `checkpoints save`, `load`, `export` and `operations wait` took --timeout 0 (the
    # help said [x>=0], nothing what it meant), sent the request and exited 1, "still
    # pending after 0.2 s". Refused as `checkpoints download` refuses it, before any request.
    arguments = [p for p in command_at(path).params if isinstance(p, click.Argument)]
    run = invoke([*path, *("x" for _ in arguments), "--timeout", "0"], NO_SERVER)
    assert run.exit_code == 2, run.stdout
    said = "Invalid value for '--timeout': '0' is not a number of seconds greater than 0"
    assert said in run.stderr, run.stderr
    shown = " ".join(invoke([*path, "--help"], NO_SERVER).stdout.split())
    assert "[greater than 0 and at most 31536000 (a year)]" in shown, shown


def test_options_after_the_command_reach_the_server(cli: Cli, emu: RunningEmulator) -> None:
    run = cli(
        "checkpoints", "list", "m-none", "--base-url", emu.base_url, "--api-key", API_KEY,
        "--json", env=NO_SERVER,
    )  # fmt: skip
    assert run.exit_code == 1  # the server answered: no such model
    assert run.json()["error"]["status_code"] == 404


def test_at_the_group_level_too(cli: Cli, emu: RunningEmulator) -> None:
    run = cli(
        "checkpoints", "--json", "--base-url", emu.base_url, "--api-key", API_KEY,
        "list", "m-none", env=NO_SERVER,
    )  # fmt: skip
    assert run.json()["error"]["status_code"] == 404


def test_the_last_one_given_wins(cli: Cli, emu: RunningEmulator) -> None:
    wrong_first = cli(
        "--base-url", "http://127.0.0.1:9", "checkpoints", "list", "m-none",
        "--base-url", emu.base_url, "--json",
    )  # fmt: skip
    assert wrong_first.json()["error"]["status_code"] == 404
    no_key = cli("checkpoints", "list", "m-none", "--api-key", "wrong-key", "--json")
    assert no_key.json()["error"]["status_code"] == 401


def test_without_them_the_environment_still_applies(cli: Cli) -> None:
    run = cli("checkpoints", "list", "m-none", "--json")
    assert run.json()["error"]["status_code"] == 404


def test_a_commands_own_option_keeps_its_meaning() -> None:
    # The emulator's --api-key is a key it accepts (repeatable), not the client's key.
    emulator = main.get_command(click.Context(main), "emulator")
    assert emulator is not None
    api_keys = [p for p in emulator.params if "--api-key" in p.opts]
    assert len(api_keys) == 1
    assert api_keys[0].multiple


def test_global_options_are_listed_in_the_top_level_help() -> None:
    run = invoke(["--help"], NO_SERVER)
    assert "may also follow any command" in " ".join(run.stdout.split())


@pytest.mark.parametrize("group", ["checkpoints", "operations", "models"])
def test_a_group_is_described_in_the_same_words_at_the_top_and_in_its_own_help(
    group: str,
) -> None:
    # The top level said "List, show, save, ..." of checkpoints, its own help "List,
    # inspect, save, ...": two texts, which had drifted apart.
    top = " ".join(invoke(["--help"], NO_SERVER).stdout.split())
    own = invoke([group, "--help"], NO_SERVER).stdout.split("\n\n")[1]
    summary = " ".join(own.split())
    assert f"{group} {summary}" in top, (summary, top)


def test_quiet_after_the_command_silences_the_no_wait_hint(cli: Cli, model_id: str) -> None:
    loud = cli("checkpoints", "save", model_id, "loud", "--no-wait")
    assert loud.exit_code == 0, loud.stderr
    assert "wait for it with: weaver-facade operations wait" in loud.stderr
    quiet = cli("checkpoints", "save", model_id, "quiet", "--no-wait", "-q")
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert "pending" in quiet.stdout or "running" in quiet.stdout or "done" in quiet.stdout
    before = cli("-q", "checkpoints", "save", model_id, "quiet-before", "--no-wait")
    assert before.stderr == ""


def test_quiet_after_the_command_silences_the_retry_lines() -> None:
    unreachable = {"WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": None}
    loud = invoke(["models", "list", "--max-retries", "1"], unreachable)
    assert "retrying in" in loud.stderr  # what -q must silence
    for args in (["-q", "models", "list"], ["models", "list", "-q"], ["models", "-q", "list"]):
        run = invoke([*args, "--max-retries", "1"], unreachable)
        assert run.exit_code == 1
        assert run.stderr.splitlines() == [run.stderr.splitlines()[-1]], args
        assert run.stderr.startswith("error: cannot reach http://127.0.0.1:9")


def test_the_console_script_takes_them_after_the_command_too() -> None:
    script = Path(sys.executable).parent / "weaver-facade"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    done = subprocess.run(
        [str(script), "checkpoints", "list", "m-1", "--base-url", "http://127.0.0.1:9",
         "--max-retries", "0", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach http://127.0.0.1:9"), done.stderr
    assert '"type": "APIConnectionError"' in done.stdout


def test_the_states_repr_hides_the_base_urls_user_info() -> None:
    # A traceback's locals (rich, pytest -l) show each command's state.
    state = CliState(base_url="http://user:pw-5e0c71@127.0.0.1:9", api_key="sk-5e0c71")
    try:
        assert "5e0c71" not in repr(state)
        assert "base_url='http://***@127.0.0.1:9'" in repr(state)
    finally:
        state.close()  # else its stderr handler prints the retries of later commands


TYPED_KEY = "sk-typed-0c4f9e2a7b61d835"
TYPED_PASSWORD = "pw-typed-3e7a51c9"


def test_the_states_attributes_hold_neither_the_key_nor_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # rich.inspect, pprint(vars()) and a debugger showed both: the state kept the key (as
    # `_CliState__api_key` and through its `api_key`) and the base URL as given.
    url = f"http://user:{TYPED_PASSWORD}@127.0.0.1:9"
    state = CliState(base_url=url, api_key=TYPED_KEY)
    later = CliState()
    later.set_global("base_url", url)
    later.set_global("api_key", TYPED_KEY)
    try:
        for each in (state, later):
            console = Console(record=True, file=io.StringIO(), width=200)
            rich.inspect(each, console=console, private=True)
            print(console.export_text())
            pprint.pprint(vars(each))
    finally:
        state.close()
        later.close()
    shown = capsys.readouterr().out
    assert TYPED_KEY not in shown
    assert TYPED_PASSWORD not in shown
    assert "api_key = <redacted>" in shown  # the attributes are there, hidden
    assert "base_url = 'http://***@127.0.0.1:9'" in shown
    for each in (state, later):  # and what the commands send
        assert each.api_key is not None
        assert each.api_key.reveal() == TYPED_KEY
        assert each.base_url is not None
        assert each.base_url.reveal() == url


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--base-url", "--api-key", TYPED_KEY, "models", "list"], "No such command '***'."),
        (["models", "list", "--base-url", "--api-key", TYPED_KEY], "extra argument (***)"),
        (["checkpoints", "show", "--base-url", "--api-key", TYPED_KEY], "'***' is not a "),
        (["--json", "--base-url", "--api-key", TYPED_KEY, "models"], "No such command '***'."),
        (
            ["--api-key", "--base-url", f"http://u:{TYPED_PASSWORD}@127.0.0.1:9", "models"],
            "No such command 'http://***@127.0.0.1:9'.",
        ),
    ],
    ids=["command", "argument", "ref", "json", "url"],
)
def test_a_key_taken_for_another_word_is_hidden_in_the_error(args: list[str], said: str) -> None:
    # `--base-url $UNSET --api-key KEY`: --base-url took `--api-key` for its value, and the
    # key, a command's name or argument now, was named by the error on stderr (and in the
    # --json document on stdout): `No such command 'sk-...'`.
    run = invoke(args, {"WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": None})
    assert run.exit_code == 2, run.stderr
    assert said in run.stderr
    if "--json" in args:
        assert said in run.json()["error"]["message"]
    for secret in (TYPED_KEY, TYPED_PASSWORD):
        assert secret not in run.stdout + run.stderr


@pytest.mark.parametrize("flag", [[], ["-q"]], ids=["first", "after-a-flag"])
@pytest.mark.parametrize("key", ["a", "to", "not"])
def test_a_short_key_in_its_place_leaves_the_errors_words_as_they_are(
    key: str, flag: list[str]
) -> None:
    # A key shorter than the rule's ANYWHERE is hidden where it stands alone, and the key
    # `a` made the error `'x' is not *** 'weaver://...' path; to name *** checkpoint`. The
    # key taken as --api-key's value is no word of the error's; taken for another word, it
    # is hidden still.
    args = ["checkpoints", "show", "x"]
    env: dict[str, str | None] = {"WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": None}
    plain = invoke([*flag, *args], env)
    keyed = invoke([*flag, "--api-key", key, *args], env)
    assert keyed.exit_code == plain.exit_code == 2, keyed.stderr
    assert f" {key} " in plain.stderr  # the error has the key as a word of its own
    assert keyed.stderr == plain.stderr
    shifted = invoke(["--base-url", "--api-key", key, "models", "list"], env)
    assert shifted.exit_code == 2, shifted.stderr
    assert shifted.stderr.startswith("error: No such command '***'.")


@pytest.mark.parametrize(
    "args",
    [["checkpoints", "set-ttl", "x", "--permanent"], ["checkpoints", "show", "x", "--json"]],
    ids=["its-own-flag", "a-global-flag"],
)
def test_a_short_key_after_a_commands_flag_leaves_the_errors_words_as_they_are(
    args: list[str],
) -> None:
    # Only the root group's flags were known to take no value: after a command's own
    # (`--permanent`), the key `a` was hidden as if the flag had taken `--api-key` for
    # its value, and the error read `'x' is not *** 'weaver://...' path`.
    env: dict[str, str | None] = {"WEAVER_BASE_URL": "http://127.0.0.1:9", "WEAVER_API_KEY": None}
    plain = invoke(args, env)
    keyed = invoke([*args, "--api-key", "a"], env)
    assert keyed.exit_code == plain.exit_code == 2, keyed.stderr
    assert " a " in plain.stderr  # the error has the key as a word of its own
    assert (keyed.stdout, keyed.stderr) == (plain.stdout, plain.stderr)
    # A command's option that takes a value took `--api-key` for it: hidden still.
    shifted = invoke([*args[:3], "--model", "--api-key", "a"], env)
    assert shifted.exit_code == 2, shifted.stderr
    assert "Got unexpected extra argument (***)" in shifted.stderr, shifted.stderr


def test_the_base_urls_user_name_leaves_the_errors_words_as_they_are() -> None:
    # Each half of the user info was hidden alone, by a short key's rule: the user name
    # `weaver` made the error's `weaver://` path `***://`, in every error of the command.
    args = ["checkpoints", "show", "no-such-path"]
    env: dict[str, str | None] = {"WEAVER_BASE_URL": None, "WEAVER_API_KEY": None}
    plain = invoke(["--base-url", "http://127.0.0.1:9", *args], env)
    with_user = invoke(["--base-url", f"http://weaver:{TYPED_PASSWORD}@127.0.0.1:9", *args], env)
    assert with_user.exit_code == plain.exit_code == 2, with_user.stderr
    assert "'weaver://" in plain.stderr
    assert with_user.stderr == plain.stderr
