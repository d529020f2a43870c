"""``weaver-facade operations show/wait``, progress reporting, and interrupted waits."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import click
import httpx
import pytest
from click.testing import CliRunner

from tests.support.cli import API_KEY, OPERATION_KEYS, Cli, ctrl_c_after_the_first_change
from tests.support.ctrl_c_points import every_point, interrupted_at
from tests.support.fakeserver import FakeClock, FakeWeaver, artifact_json, checkpoint_json
from tests.support.fakeserver import service as fake_service
from tests.support.scripted_http import Reply, ScriptedServer, pending, unavailable
from tests.support.signals import watched, with_sigint
from weaver_facade import (
    OperationHandle,
    OperationProgress,
    PollPolicy,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    datum_from_tokens,
)
from weaver_facade._cli import operations as cli_operations
from weaver_facade._cli._state import CliError, look_again
from weaver_facade.cli import main
from weaver_facade.emulator import RunningEmulator, run_emulator
from weaver_facade.emulator._config import FaultConfig, FaultRule
from weaver_facade.emulator._extensions import known_extensions

OPERATION = "/api/v1/operations/{operation_id}"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@contextlib.contextmanager
def cli_against(answer: Callable[[str, str], Reply]) -> Iterator[CliRunner]:
    """A CLI runner whose server answers each request (method, path) with ``answer``."""
    with ScriptedServer(answer) as server:
        yield CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})


def done_with(response: dict[str, Any]) -> Callable[[str, str], Reply]:
    """A server whose operation op-1 is done with ``response``."""
    return lambda method, path: (200, {"id": "op-1", "status": "done", "response": response}, {})


@pytest.fixture
def emulator_config() -> dict[str, Any]:
    # Saves take a while, so that operations can be seen pending and waited for.
    return {"latency": {"save_checkpoint": 0.6}}


def start_save(cli: Cli, model_id: str, name: str) -> str:
    run = cli("checkpoints", "save", model_id, name, "--no-wait", "--json")
    assert run.exit_code == 0, run.stderr
    operation_id: str = run.json()["id"]
    return operation_id


def test_show_an_unfinished_operation_then_wait_for_it(cli: Cli, model_id: str) -> None:
    operation_id = start_save(cli, model_id, "slow")
    shown = cli("operations", "show", operation_id, "--json")
    assert shown.exit_code == 0
    snapshot = shown.json()
    assert set(snapshot) == OPERATION_KEYS
    assert snapshot["status"] in {"pending", "running"}
    assert snapshot["result"] is None
    assert snapshot["error"] is None
    assert snapshot["kind"] == "save_checkpoint"  # the server's, before there is a result
    assert shown.stderr == ""  # show does not wait, so it reports no progress

    waited = cli("operations", "wait", operation_id)
    assert waited.exit_code == 0, waited.stderr
    assert re.search(rf"id\W+{operation_id}", waited.stdout)
    assert re.search(r"status\W+done", waited.stdout)
    assert re.search(r"kind\W+save_checkpoint", waited.stdout)
    assert f"weaver://{model_id}/checkpoints/slow" in waited.stdout
    # Not a terminal: one plain progress line per change, ending with done.
    progress = waited.stderr.splitlines()
    assert progress[0].startswith(f"operation {operation_id}: ")
    assert progress[-1] == f"operation {operation_id}: done"

    done = cli("operations", "show", operation_id, "--json").json()
    assert done["status"] == "done"
    assert done["kind"] == "save_checkpoint"
    assert done["result"]["name"] == "slow"
    assert done["pending_info"] is None


def test_waiting_for_a_save_shows_pending_info(cli: Cli, model_id: str) -> None:
    # The first save runs; the second waits in the queue behind it.
    start_save(cli, model_id, "first")
    run = cli("checkpoints", "save", model_id, "second")
    assert run.exit_code == 0, run.stderr
    lines = run.stderr.splitlines()
    assert re.fullmatch(
        r"operation op-\S+: pending \(queued: queued behind 1 operation\b.*, "
        r"wait_seconds \d+\.\d\)",
        lines[0],
    ), lines
    assert lines[-1].endswith(": done")


def test_quiet_prints_no_progress(cli: Cli, model_id: str) -> None:
    run = cli("--quiet", "checkpoints", "save", model_id, "hush")
    assert run.exit_code == 0
    assert run.stderr == ""


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 5.0}}])
def test_wait_timeout_exits_1_and_says_how_to_wait_again(cli: Cli, model_id: str) -> None:
    operation_id = start_save(cli, model_id, "slow")
    run = cli("operations", "wait", operation_id, "--timeout", "0.2")
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    assert error.startswith(f"error: operation {operation_id} still ")
    assert f"`weaver-facade operations wait {operation_id}`" in error
    as_json = cli("operations", "wait", operation_id, "--timeout", "0.01", "--json")
    assert as_json.exit_code == 1
    assert as_json.json()["error"]["type"] == "OperationTimeoutError"
    assert as_json.json()["error"]["operation_id"] == operation_id
    assert cli("operations", "show", operation_id, "--json").json()["status"] == "running"


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 5.0}}])
def test_a_timeout_shorter_than_one_look_names_the_timeout_given(cli: Cli, model_id: str) -> None:
    # No wait is shorter than its one look: the time the command took is not the
    # --timeout given, which the error names beside it.
    operation_id = start_save(cli, model_id, "slow")
    run = cli("operations", "wait", operation_id, "--timeout", "1e-300")
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    took = re.search(r" still running after (\S+) s \(--timeout 1e-300 s\); ", error)
    assert took is not None, error
    assert float(took[1]) > 0, error


@pytest.mark.parametrize(
    "ref", ["weaver://m-1/checkpoints/c", "weaver://m-1/checkpoints/c/artifacts/hf_adapter"]
)
def test_the_path_a_timeout_names_is_refused_as_an_op_id_naming_its_command(
    cli: Cli, ref: str
) -> None:
    # A save or an export answered without an operation is known by its path, which
    # `operations wait` took for a malformed id.
    run = cli("operations", "wait", ref)
    assert run.exit_code == 2
    assert run.stderr.strip().endswith(f"look at it again with `{look_again(ref)}`"), run.stderr


def test_a_json_error_has_the_words_of_the_error_line(cli: Cli, model_id: str) -> None:
    # The JSON document tells a command-line user what to run, as the stderr line does.
    operation_id = start_save(cli, model_id, "slow")
    run = cli("operations", "wait", operation_id, "--timeout", "0.01", "--json")
    assert run.exit_code == 1
    message = run.json()["error"]["message"]
    assert f"error: {message}" == run.stderr.splitlines()[-1]
    assert f"`weaver-facade operations wait {operation_id}`" in message
    unreachable = {"WEAVER_BASE_URL": "http://127.0.0.1:9"}
    run = cli("--max-retries", "0", "models", "list", "--json", env=unreachable)
    assert run.exit_code == 1
    message = run.json()["error"]["message"]
    assert f"error: {message}" == run.stderr.splitlines()[-1]
    assert message.startswith("cannot reach http://127.0.0.1:9: ")


def test_a_failed_operation(cli: Cli, model_id: str, emu: RunningEmulator) -> None:
    start_save(cli, model_id, "running")
    queued = start_save(cli, model_id, "queued")
    # Terminated while the second save waits: it fails when its turn comes.
    httpx.post(
        f"{emu.base_url}/api/v1/models/{model_id}/terminate",
        headers={"X-WEAVER-API-KEY": API_KEY},
    ).raise_for_status()
    waited = cli("operations", "wait", queued, "--json")
    assert waited.exit_code == 1
    report = waited.json()  # one JSON document: the operation, with its error
    assert report["status"] == "error"
    assert report["error"]["code"] == "model_terminated"
    assert report["result"] is None
    assert waited.stderr.splitlines()[-1].startswith(
        f"error: operation {queued} failed [model_terminated]"
    )
    shown = cli("operations", "show", queued)
    assert shown.exit_code == 0  # looking at a failed operation is not an error
    assert re.search(r"error\W+\[model_terminated\]", shown.stdout)


@pytest.mark.parametrize(
    "said",
    [{}, {"error_message": "out of memory", "retryable": True}],
    ids=["nothing", "message-and-retryable"],
)
def test_a_failed_operation_shows_null_for_what_the_server_left_out(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, said: dict[str, Any]
) -> None:
    # The wire makes an operation's error_message and retryable optional: unknown is
    # null (the README's "null when unknown"), not a false `retryable` or a made-up text.
    fake = FakeWeaver()
    failed = {"id": "op-7", "status": "error", "error_code": "oom", **said}
    reply = httpx.Response(200, json=failed, headers={"X-Request-ID": "req-1"})
    fake.script("GET", OPERATION.format(operation_id="op-7"), *[reply] * 4)
    with fake_service(fake) as other:
        handle = other.operation("op-7")
        monkeypatch.setattr(ServiceClient, "operation", lambda *_: handle)
        shown = cli("operations", "show", "op-7", "--json")
        table = cli("operations", "show", "op-7")
    assert shown.exit_code == 0, shown.stderr
    error = shown.json()["error"]
    assert (error["code"], error["message"], error["retryable"]) == (
        "oom",
        said.get("error_message"),
        said.get("retryable"),
    )
    rows = dict(re.findall(r"│ (error|retryable) +│ (.*?) *│", table.stdout, re.M))
    if said:
        assert rows == {"error": "[oom] out of memory", "retryable": "yes"}
    else:
        assert rows == {
            "error": "[oom] (the server gave no message)",
            "retryable": "(the server did not say)",
        }


@pytest.mark.parametrize(
    "emulator_config", [{"latency": {"save_checkpoint": 0.6}, "extensions": "none"}]
)
def test_a_result_is_shaped_without_the_operation_details_extension(
    cli: Cli, model_id: str
) -> None:
    # Without the operation's kind (an extension) the result was the server's raw dict:
    # other keys than with the extension (no model_id, has_optimizer_state), other times.
    operation_id = start_save(cli, model_id, "s")
    waited = cli("operations", "wait", operation_id, "--json")
    assert waited.exit_code == 0, waited.stderr
    shown = cli("operations", "show", operation_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    checkpoint = cli("checkpoints", "show", f"weaver://{model_id}/checkpoints/s", "--json")
    for run in (waited, shown):
        assert run.json()["kind"] == "save_checkpoint"
        assert run.json()["result"] == checkpoint.json()
        # The server did not say the operation's model; its result, a checkpoint, does.
        assert run.json()["model_id"] == model_id
    table = cli("operations", "show", operation_id)
    assert "result: checkpoint s" in table.stdout


def finished_operations(base_url: str) -> tuple[dict[str, str], tuple[str, str]]:
    """An optimizer step and both loads, done on the server at ``base_url``: their ids by
    name, and the two models' ids (the trained one, the one loaded into)."""
    with ServiceClient(base_url, API_KEY, heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny", seed=3, keep=True)
        trainer.forward_backward([datum_from_tokens(list(b"the cat sat on the mat"))])
        started: dict[str, OperationHandle[Any]] = {"optim_step": trainer.optim_step(wait=False)}
        checkpoint = trainer.save_state("s")
        target = service.create_training_client("weaver-tiny", seed=3, keep=True)
        started["load_state"] = target.load_state(checkpoint, wait=False)
        started["load_state_with_optimizer"] = target.load_state_with_optimizer(
            checkpoint, wait=False
        )
        for handle in started.values():
            handle.result()
        return {name: h.id for name, h in started.items()}, (trainer.model_id, target.model_id)


@pytest.mark.parametrize(
    "emulator_config",
    [{"extensions": set(known_extensions()) - {"operation-details"}}],
)
def test_a_load_or_optimizer_step_prints_alike_without_the_operation_details_extension(
    cli: Cli, emu: RunningEmulator
) -> None:
    # A load's result (no field required) and an optimizer step's (its lone `metrics`) were
    # printed as the server's raw `response` without the operation's kind (an extension):
    # "kind": null, no `checkpoint_id` or `optimizer_step` keys, another table.
    def shown(base_url: str) -> dict[str, str]:
        ids, models = finished_operations(base_url)
        env = {"WEAVER_BASE_URL": base_url}
        seen = {}
        for name, operation_id in ids.items():
            for command in ("show", "wait"):
                run = cli("operations", command, operation_id, "--json", env=env)
                assert run.exit_code == 0, run.stderr
                document = json.dumps({k: run.json()[k] for k in ("kind", "result")})
                # The table's kind, and its result below the operation's own rows.
                table = cli("operations", command, operation_id, env=env).stdout
                table = str(re.findall(r"│ kind +│ (\S+)", table)) + table.partition("┘\n")[2]
                for n, model in enumerate(models):  # each server names its models its way
                    document, table = (t.replace(model, f"MODEL-{n}") for t in (document, table))
                seen[f"{name} {command}"] = UUID.sub("UUID", document)
                seen[f"{name} {command} table"] = UUID.sub("UUID", table)
        return seen

    with run_emulator(api_keys=(API_KEY,)) as with_details:
        expected = shown(with_details.base_url)
    assert shown(emu.base_url) == expected
    assert '"kind": "optim_step"' in expected["optim_step show"]
    assert '"kind": "load_checkpoint"' in expected["load_state_with_optimizer wait"]


def start_forward(base_url: str, model_id: str) -> str:
    """A forward pass (the official SDK's forward(), which the facade does not send) started
    on ``model_id``: its operation's id."""
    datum = {
        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [1, 2, 3, 4]}]},
        "loss_fn_inputs": {
            "target_tokens": {"data": [2, 3, 4, 5], "dtype": "int64"},
            "weights": {"data": [1.0] * 4, "dtype": "float32"},
        },
    }
    forward = {"loss_fn": "cross_entropy", "data": [datum]}
    url, headers = f"{base_url}/api/v1/models/{model_id}", {"X-WEAVER-API-KEY": API_KEY}
    # next_seq_id is an extension: a model no step has been sent to starts at 1.
    seq_id = httpx.get(url, headers=headers).json().get("next_seq_id", 1)
    body = {"payload": {"model_id": model_id, "seq_id": seq_id, "forward_input": forward}}
    sent = httpx.post(f"{url}/forward-passes", json=body, headers=headers)
    assert sent.status_code == 202, sent.text
    operation_id: str = sent.json()["id"]
    return operation_id


def test_the_servers_kind_wins_over_the_results(
    cli: Cli, emu: RunningEmulator, model_id: str
) -> None:
    # A forward pass (the official SDK's forward()) has a forward-backward pass's result, and
    # was shown as "forward_backward" although the server said "forward".
    operation_id = start_forward(emu.base_url, model_id)
    for command in ("wait", "show"):
        run = cli("operations", command, operation_id, "--json")
        assert run.exit_code == 0, run.stderr
        assert (run.json()["kind"], run.json()["result"]["loss"] > 0) == ("forward", True)
        table = cli("operations", command, operation_id).stdout
        assert re.search(r"kind\W+forward\W", table), table


def test_unknown_and_invalid_operation_ids(cli: Cli) -> None:
    unknown = cli("operations", "show", "op-doesnotexist")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: [404 not_found]")
    unreachable = {"WEAVER_BASE_URL": "http://127.0.0.1:9"}
    invalid = cli("operations", "wait", "not an id", env=unreachable)
    assert invalid.exit_code == 2
    # The command's own argument, as its usage line names it: not the library's operation_id.
    assert invalid.stderr.startswith("error: OP_ID 'not an id' is not valid"), invalid.stderr
    empty = cli("operations", "show", "", "--json", env=unreachable)
    assert empty.exit_code == 2
    assert empty.json()["error"]["message"].startswith("OP_ID '' is not valid")


@pytest.mark.parametrize("end", ["unreachable", "ctrl-c"])
def test_a_wait_that_never_saw_its_operation_does_not_say_it_runs(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    # Its first look got no answer: the id may be mistyped, or name an operation long over,
    # which "keeps running on the server" said it was not.
    env = {}
    if end == "unreachable":
        env["WEAVER_BASE_URL"] = "http://127.0.0.1:9"
    else:

        def interrupted(self: ServiceClient, operation_id: str) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(ServiceClient, "operation", interrupted)
    run = cli("--max-retries", "0", "operations", "wait", "op-x", env=env)
    assert run.exit_code == (1 if end == "unreachable" else 130), run.stderr
    assert run.stderr.splitlines()[-1].endswith("; " + _NOT_SEEN), run.stderr


_NOT_SEEN = (
    "operation op-x was not seen; if the server has it, it keeps running there "
    "(`weaver-facade operations wait op-x`)"
)


def test_a_second_ctrl_c_as_the_first_ends_the_command_keeps_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A second Ctrl-C while the first's line was built, or as its error left the command
    # (the spinner's stop, click's contexts), gave a bare `error: interrupted`: the
    # operation, and how to wait for it again, unsaid. One comes at each point in turn,
    # from the first Ctrl-C until the `operations` group's invoke ends (the root context's
    # exit after it is _Root's, and once the process ends, SIGINT's handler's).
    harness: list[Any] = []
    came: list[bool] = []
    ended: list[tuple[int, str]] = []
    invoke = cli_operations.operations.invoke

    def interrupted(self: ServiceClient, operation_id: str) -> None:
        came.append(True)
        sys.setprofile(harness[0])  # its points from the first Ctrl-C on
        raise KeyboardInterrupt

    def invoked(ctx: click.Context) -> Any:
        try:
            return invoke(ctx)
        finally:
            sys.setprofile(None)

    def wait() -> None:
        harness[:] = [sys.getprofile()]
        sys.setprofile(None)
        try:
            main.main(["operations", "wait", "op-x"], standalone_mode=False)
        except CliError as exc:
            ended.append((exc.exit_code, exc.message))
        except click.Abort:  # click's, for a KeyboardInterrupt that reached it
            ended.append((1, "Aborted!"))

    monkeypatch.setattr(ServiceClient, "operation", interrupted)
    monkeypatch.setattr(cli_operations.operations, "invoke", invoked)
    monkeypatch.setenv("WEAVER_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("WEAVER_LOG", raising=False)
    wait()
    first = list(ended)
    assert first == [(130, "interrupted; " + _NOT_SEEN)]
    lines: list[tuple[str, list[tuple[int, str]]]] = []

    def interrupted_at_a_point(at: int, kept: list[BaseException]) -> str:
        came.clear()
        ended.clear()
        where = interrupted_at(at, wait, kept)
        if came:  # else it came before the first, with no line to keep
            lines.append((where, list(ended)))
        return where

    every_point(interrupted_at_a_point, lambda: True)
    assert len(lines) > 20
    assert "\n".join(f"{w}: {e}" for w, e in lines if e != first) == ""


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_while_waiting_names_the_operation(
    cli: Cli, model_id: str, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    operation_id = start_save(cli, model_id, "slow")
    ctrl_c_after_the_first_change(monkeypatch)  # still saving
    run = cli("operations", "wait", operation_id, *(["--json"] if as_json else []))
    assert run.exit_code == 130
    assert run.stderr.splitlines()[-1] == (
        f"error: interrupted; operation {operation_id} keeps running on the server "
        f"(`weaver-facade operations wait {operation_id}`)"
    )
    if as_json:  # the error document says the same
        error = run.json()["error"]
        assert f"error: {error['message']}" == run.stderr.splitlines()[-1]
        assert error["exit_code"] == 130
        assert error["operation_id"] == operation_id


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 30.0}}])
@pytest.mark.parametrize("sigint", ["SIG_DFL", "SIG_IGN"], ids=["foreground", "background"])
def test_sigterm_while_waiting_ends_as_a_ctrl_c(
    cli: Cli, model_id: str, emu: RunningEmulator, sigint: str
) -> None:
    # The README: SIGTERM (a cancelled CI job, `docker stop`, `timeout`) is taken as a
    # Ctrl-C by every command but `emulator`, also in a background job, where SIGINT is
    # ignored. Only `models create` was tried.
    operation_id = start_save(cli, model_id, "held")
    script = Path(sys.executable).with_name("weaver-facade")
    env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
    env.pop("WEAVER_LOG", None)
    argv = with_sigint(sigint, [str(script), "operations", "wait", operation_id])
    with watched(argv, env) as run:
        # Its first progress line: the wait has begun.
        assert run.line_starting("", timeout=30), "the wait never began"
        run.process.send_signal(signal.SIGTERM)
        run.process.wait(timeout=30)
    stderr = run.stderr
    assert run.process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == (
        f"error: interrupted; operation {operation_id} keeps running on the server "
        f"(`weaver-facade operations wait {operation_id}`)"
    )


def test_show_names_the_model_and_times_and_a_loads_model(
    cli: Cli, model_id: str, emu: RunningEmulator
) -> None:
    saved = cli("checkpoints", "save", model_id, "s", "--json")
    assert saved.exit_code == 0, saved.stderr
    target = cli("models", "create", "weaver-tiny", "--lora-rank", "32", "--json").json()["id"]
    started = cli(
        "checkpoints",
        "load",
        target,
        saved.json()["path"],
        "--with-optimizer",
        "--no-wait",
        "--json",
    )
    operation_id = started.json()["id"]
    cli("operations", "wait", operation_id)
    raw = httpx.get(
        f"{emu.base_url}/api/v1/operations/{operation_id}", headers={"X-WEAVER-API-KEY": API_KEY}
    ).json()

    shown = cli("operations", "show", operation_id, "--json").json()
    assert shown["model_id"] == raw["model_id"] == target
    for key in ("created_at", "updated_at"):
        assert datetime.fromisoformat(shown[key]) == datetime.fromisoformat(raw[key])
    assert shown["result"]["model_id"] == raw["response"]["model_id"] == target

    table = cli("operations", "show", operation_id)
    assert re.search(rf"model\W+{target}", table.stdout)
    assert re.search(r"created\W+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", table.stdout)
    assert re.search(r"updated\W+\d{4}-", table.stdout)
    # The load result's table names the model loaded into.
    assert len(re.findall(rf"model\W+{target}", table.stdout)) == 2


# -- plain output: one line per change, retries, silence ------------------------------------


def test_plain_output_is_one_line_per_change(cli: Cli, model_id: str) -> None:
    # Queued behind another save, this one goes pending -> running -> done while waited for.
    start_save(cli, model_id, "ahead")
    run = cli("checkpoints", "save", model_id, "behind")
    assert run.exit_code == 0, run.stderr
    lines = run.stderr.splitlines()
    statuses = [line.split(": ", 1)[1].split(" ")[0] for line in lines]
    assert statuses == ["pending", "running", "done"], lines
    assert len(set(lines)) == len(lines)  # nothing repeated


# Every look at an operation is refused with 503 and Retry-After: 1 s.
overloaded = pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "latency": {"save_checkpoint": 0.6},
            "faults": FaultConfig(
                rules=(FaultRule(kind="unavailable", rate=1.0, method="GET", route=OPERATION),),
                seed=1,
            ),
        }
    ],
)


@overloaded
def test_every_retry_is_a_line_and_quiet_silences_it(cli: Cli, emu: RunningEmulator) -> None:
    # Every poll is refused with 503 and Retry-After: 1 s; the wait gives up after 1.5 s.
    operation_id = "op-does-not-matter"
    run = cli("operations", "wait", operation_id, "--timeout", "1.5")
    assert run.exit_code == 1
    retries = [line for line in run.stderr.splitlines() if "retrying in" in line]
    assert retries, run.stderr
    assert retries[0].startswith(
        f"GET /api/v1/operations/{operation_id}: HTTP 503 (unavailable); retrying in"
    )
    quiet = cli("-q", "operations", "wait", operation_id, "--timeout", "1.5")
    assert quiet.exit_code == 1
    assert quiet.stderr.splitlines() == [quiet.stderr.splitlines()[-1]]
    assert quiet.stderr.startswith("error: ")


def not_seen(cli: Cli, operation_id: str, timeout: str) -> str:
    """The error line of `operations wait` timed out before its first look was answered."""
    run = cli("operations", "wait", operation_id, "--timeout", timeout)
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    assert error.startswith(f"error: operation {operation_id} not seen after "), error
    assert error.endswith(f"wait again with `weaver-facade operations wait {operation_id}`")
    return error


@overloaded
def test_a_first_look_refused_until_the_timeout_is_a_timeout(cli: Cli) -> None:
    # It was the 503's API error, without the hint a timed-out wait gives: the next
    # Retry-After (1 s) would have passed --timeout.
    operation_id = "op-overloaded"
    error = not_seen(cli, operation_id, "1.5")
    assert "the last poll failed: [503 unavailable]" in error
    as_json = cli("operations", "wait", operation_id, "--timeout", "1.5", "--json", "-q")
    assert as_json.json()["error"]["type"] == "OperationTimeoutError"
    assert as_json.json()["error"]["operation_id"] == operation_id


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(
                    FaultRule(
                        kind="unavailable", rate=1.0, method="GET", route=OPERATION, retry_after=45
                    ),
                ),
                seed=1,
            )
        }
    ],
)
def test_a_first_look_asked_to_wait_past_the_timeout_is_a_timeout(cli: Cli) -> None:
    # A Retry-After of 30 s or more is beyond the facade's max_retry_wait, which refused it
    # first: the 503 was the message, though the deadline would have refused it too.
    operation_id = "op-overloaded"
    error = not_seen(cli, operation_id, "5")
    assert "the server asks to try again in 45 s" in error


@pytest.mark.parametrize(("retry_after", "waited"), [(30, True), (119, True), (150, False)])
def test_a_first_look_asked_to_wait_within_the_timeout_waits(
    monkeypatch: pytest.MonkeyPatch, retry_after: int, waited: bool
) -> None:
    # A Retry-After of 30 s or more is beyond max_retry_wait, the limit of a call without a
    # deadline: the 503 was the answer at once, though --timeout 120 allowed the wait.
    fake, clock = FakeWeaver(), FakeClock()
    busy = {"error": "unavailable", "message": "busy", "retryable": True}
    done = {"id": "op-1", "status": "done", "response": {"metrics": {"optim:step": 1.0}}}
    fake.script(
        "GET",
        OPERATION.format(operation_id="op-1"),
        httpx.Response(503, json=busy, headers={"Retry-After": str(retry_after)}),
        *[httpx.Response(200, json=done)] * 3,
    )

    def on_fake(*args: Any, **kwargs: Any) -> ServiceClient:  # sleeps on a fake clock
        http = httpx.Client(transport=httpx.MockTransport(fake))
        poll = PollPolicy(clock=clock)
        return ServiceClient(*args, http_client=http, sleep=clock.sleep, poll=poll, **kwargs)

    monkeypatch.setattr("weaver_facade._cli._state.ServiceClient", on_fake)
    env = {"WEAVER_BASE_URL": "http://weaver.test", "WEAVER_API_KEY": API_KEY}
    args = ["-q", "operations", "wait", "op-1", "--timeout", "120", "--json"]
    run = CliRunner(env=env).invoke(main, args)
    document = json.loads(run.stdout)
    if waited:
        assert (run.exit_code, clock.sleeps) == (0, [retry_after]), run.output
        assert document["result"] == done["response"]
    else:  # past the deadline: a timeout at once, as before
        assert (run.exit_code, clock.sleeps) == (1, []), run.output
        error = document["error"]
        assert (error["type"], error["retry_after"]) == ("OperationTimeoutError", retry_after)


@overloaded
def test_a_first_look_whose_retries_run_out_first_is_the_servers_error(cli: Cli) -> None:
    # --max-retries, not the deadline, ended the wait: waiting again would not help more.
    operation_id = "op-overloaded"
    run = cli("--max-retries", "1", "operations", "wait", operation_id, "--timeout", "60")
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    assert error.startswith("error: [503 unavailable] get_operation: "), error
    assert "wait again" not in error
    as_json = cli("--max-retries", "0", "operations", "wait", operation_id, "--json", "-q")
    assert as_json.json()["error"]["status_code"] == 503


def test_the_clis_retry_rules_are_the_facades() -> None:
    # The CLI's policy notes why retries stopped; it must decide as the facade does, but
    # under --timeout by that deadline alone, as a wait's polls are: the facade's limits of
    # a call without one (max_retry_wait, max_retry_after) refused sleeps it had time for.
    from weaver_facade._cli._state import _Retries

    request = httpx.Request("GET", "http://weaver.test/api/v1/operations/op-1")
    outcomes: list[httpx.Response | Exception] = [
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(503),
        httpx.Response(503, headers={"Retry-After": "45"}),  # beyond max_retry_wait
        httpx.Response(429, headers={"Retry-After": "90"}),  # beyond max_retry_after
        httpx.Response(404),
        httpx.ConnectError("refused", request=request),
    ]
    limited = RetrySettings(max_retries=3)
    deadline_only = attrs.evolve(limited, max_retry_wait=math.inf, max_retry_after=math.inf)
    for outcome in outcomes:
        for attempt in range(4):
            for slept in (0.0, 29.5):
                for remaining in (None, 0.0, 0.3, 1.0, 5.0, 100.0):
                    ours = _Retries(3)
                    theirs = RetryPolicy(limited if remaining is None else deadline_only)
                    ours._rng = random.Random(attempt).random
                    theirs._rng = random.Random(attempt).random
                    args = (request, outcome, attempt)
                    delay = ours.retry_delay(*args, slept=slept, remaining=remaining)
                    assert delay == theirs.retry_delay(*args, slept=slept, remaining=remaining)
                    theirs._rng = random.Random(attempt).random
                    unbounded = theirs.retry_delay(*args, slept=slept)
                    # The deadline stopped it: without it, it would have been retried.
                    stopped = delay is None and remaining is not None and unbounded is not None
                    assert ours.deadline_stopped == stopped, (outcome, attempt, slept, remaining)


def test_outage_and_recovery_lines() -> None:
    from weaver_facade import OperationStatus
    from weaver_facade._cli._progress import describe

    lost = OperationProgress(
        operation_id="op-1",
        status=OperationStatus.RUNNING,
        pending_info=None,
        poll_error="connection refused",
    )
    back = OperationProgress(
        operation_id="op-1", status=OperationStatus.RUNNING, pending_info=None, recovered=True
    )
    assert describe(lost) == "operation op-1: polls failing: connection refused; retrying"
    assert describe(back) == "operation op-1: polls answered again; running"


def test_a_loss_that_is_no_number_is_null_in_json_not_nan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A diverged step's NaN (a server's JSON may carry it, and Python reads it) came out
    # as `NaN`, which is no JSON: JavaScript's and Go's parsers refuse the document.
    import json
    import math

    from weaver_facade._cli._output import emit_json

    def strict(constant: str) -> Any:
        raise AssertionError(f"not JSON: {constant}")

    emit_json(
        {"loss": math.nan, "metrics": {"loss:sum": -math.inf}, "logprobs": [[math.inf, -1.5]]}
    )
    document = json.loads(capsys.readouterr().out, parse_constant=strict)
    assert document == {"loss": None, "metrics": {"loss:sum": None}, "logprobs": [[None, -1.5]]}


@pytest.mark.parametrize(
    ("status", "code", "named"),
    [(400, "invalid_request", True), (401, "unauthorized", True), (404, "not_found", False)],
)
def test_a_wait_ended_by_a_refused_poll_names_the_operation(
    status: int, code: str, named: bool
) -> None:
    # Only a lost connection said so; a refused poll ends the wait, not the operation
    # (unless the server no longer knows it).
    polls = {"n": 0}

    def answer(method: str, path: str) -> Reply:
        polls["n"] += 1
        refused = {"error": code, "message": "no", "retryable": False}
        return pending("op-1") if polls["n"] == 1 else (status, refused, {})

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["operations", "wait", "op-1", "--timeout", "30"])
    assert run.exit_code == 1, run.output
    said = "operation op-1 was last seen pending and may still be running "
    assert (said in run.stderr) is named, run.stderr
    if named:
        assert run.stderr.rstrip().endswith("(`weaver-facade operations wait op-1`)")


def test_a_deleted_checkpoint_s_control_characters_reach_the_terminal_escaped() -> None:
    # A stored name may hold a C1 control (the spec's pattern leaves out C0 and DEL
    # alone): `deleted PATH (ID)` wrote it as it came, CSI (\x9b) included.
    saved = checkpoint_json("m-1", "odd\x9b2J")

    def answer(method: str, path: str) -> Reply:
        return 200, {**saved, "status": "deleted" if method == "DELETE" else "completed"}, {}

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["checkpoints", "delete", saved["id"], "--model", "m-1"])
    assert run.exit_code == 0, run.output
    assert run.stdout == f"deleted weaver://m-1/checkpoints/odd\\x9b2J ({saved['id']})\n"


def test_a_server_s_control_characters_reach_the_terminal_escaped() -> None:
    # A server's words are text to show: their escape sequences rewrote the terminal
    # (ESC[2K erased the error line they were in, ESC]0;... set the window's title).
    reason, message = "behind \x1b]0;title\x07 others", "disk full \x1b[2K \x9b1A\x00"
    polls = {"n": 0}

    def answer(method: str, path: str) -> Reply:
        polls["n"] += 1
        if polls["n"] % 2:
            info = {"code": "queued", "message": reason}
            return 200, {"id": "op-1", "status": "pending", "pending_info": info}, {}
        failed = {"id": "op-1", "status": "error", "error_code": "internal"}
        return 200, {**failed, "error_message": message}, {}

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["operations", "wait", "op-1"])
        as_json = runner.invoke(main, ["operations", "wait", "op-1", "--json"])
    assert run.exit_code == as_json.exit_code == 1, run.output
    for shown in (run.stdout, run.stderr, as_json.stderr):
        assert not set(shown) & {"\x1b", "\x07", "\x9b", "\x00"}, repr(shown)
    assert "operation op-1: pending (queued: behind \\x1b]0;title\\x07 others)" in run.stderr
    assert "[internal] disk full \\x1b[2K \\x9b1A\\x00" in run.stdout  # the table
    said = "error: operation op-1 failed [internal]: disk full \\x1b[2K \\x9b1A\\x00"
    assert run.stderr.splitlines()[-1] == said
    # --json keeps them, escaped as JSON does
    assert json.loads(as_json.stdout)["error"]["message"] == message


@pytest.mark.parametrize(
    ("response", "named"),
    [
        # An export's artifact: its manifest's file names head the table's rows.
        (artifact_json(manifest={"format_version": 1, "files": [{"name": "x\x1b]0;t\x07"}]}), "x"),
        # An optimizer step's metrics, named by the server.
        ({"metrics": {"lr\x1b[2K\x9b1A": 0.5}}, "lr"),
    ],
)
def test_a_server_s_control_characters_in_a_table_s_names_reach_the_terminal_escaped(
    response: dict[str, Any], named: str
) -> None:
    # The values of a table were escaped, but not the names of its rows, which a server
    # gives too: a manifest's file names, a result's metric names.
    with cli_against(done_with(response)) as runner:
        run = runner.invoke(main, ["operations", "show", "op-1"])
    assert run.exit_code == 0, run.output
    assert not set(run.stdout) & {"\x1b", "\x07", "\x9b"}, repr(run.stdout)
    assert f"{named}\\x1b" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("kind", "advice"),
    [
        ("forward_backward", "`weaver-facade models create BASE_MODEL` with the model's "),
        ("export_checkpoint", "export it again, `weaver-facade checkpoints export PATH`"),
    ],
)
def test_an_interrupted_operation_says_what_to_do_in_the_command_line_s_words(
    kind: str, advice: str
) -> None:
    # The real service's message need not say what to do: the library's note, in the
    # command line's words (commands, not calls).
    def answer(method: str, path: str) -> Reply:
        failed = {"id": "op-1", "status": "error", "kind": kind, "error_code": "interrupted"}
        return 200, {**failed, "error_message": "operation interrupted"}, {}

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["operations", "wait", "op-1", "--timeout", "30"])
    assert run.exit_code == 1, run.output
    said = run.stderr.splitlines()[-1]
    assert said.startswith("error: operation op-1 failed [interrupted]: operation interrupted; ")
    assert advice in said
    assert "create_training_client_from_state" not in said
    assert "ModelStateLostError" not in said


def test_a_model_whose_state_was_lost_says_what_to_do_in_the_command_line_s_words() -> None:
    def answer(method: str, path: str) -> Reply:
        if (method, path) == ("POST", "/api/v1/models/m-1/checkpoints"):
            lost = {"error": "model_state_lost", "message": "model m-1 lost its state"}
            return 409, {**lost, "retryable": False}, {}
        if path == "/api/v1/models/m-1/checkpoints":
            return 200, {"items": []}, {}
        return 200, {"id": "m-1", "base_model": "weaver-tiny", "next_seq_id": 1}, {}

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["checkpoints", "save", "m-1", "a"])
    assert run.exit_code == 1, run.output
    said = run.stderr.splitlines()[-1]
    assert said.startswith(
        "error: [409 model_state_lost] save_checkpoint: model m-1 lost its state;"
    )
    assert "`weaver-facade models create BASE_MODEL` with the model's " in said
    assert "create_training_client_from_state" not in said
    # The listing the advice names is empty here (a model loaded from a checkpoint that has
    # not saved since), and a weights-only checkpoint refuses --with-optimizer: the advice
    # must say where to go on from then, and that the option depends on the checkpoint.
    # The wire gives no model's source (`models show` has none to show): it sent the user
    # to "the PATH the model was loaded from", which no command showed.
    assert "if it lists none, the PATH that `weaver-facade checkpoints load` last" in said
    assert "loaded into the model, as that command printed it" in said
    assert "the server does not say it" in said
    source = {"source", "loaded_from", "resumed_from", "checkpoint", "path"}
    with cli_against(answer) as runner:
        shown = runner.invoke(main, ["models", "show", "m-1", "--json"])
    assert shown.exit_code == 0, shown.output
    assert not source & set(json.loads(shown.stdout)), shown.stdout
    # Every command it names is one of the command line's.
    for named in re.findall(r"`weaver-facade ([a-z-]+(?: [a-z-]+)?)", said):
        words = named.split()
        with cli_against(answer) as runner:
            helped = runner.invoke(main, [*words, "--help"])
        assert helped.exit_code == 0, (named, helped.output)
    assert "`--with-optimizer` if that checkpoint holds its optimizer state" in said
    # A checkpoint loads only into a model of its mode and LoRA rank, which `models
    # create BASE_MODEL` alone makes the default ones (LoRA of rank 32).
    assert "with the model's mode and LoRA rank (`--full` or `--lora-rank N`" in said
    assert "`weaver-facade models show MODEL_ID`" in said


def test_a_wait_polls_again_after_a_500_the_server_calls_final() -> None:
    # A 500 `retryable: false` to one poll ended the wait (exit 1), the operation going on;
    # a poll changes nothing on the server, and the official SDK polls again too.
    polls = {"n": 0}

    def answer(method: str, path: str) -> Reply:
        polls["n"] += 1
        if polls["n"] == 2:
            return 500, {"error": "internal", "message": "store hiccup", "retryable": False}, {}
        if polls["n"] == 1:
            return pending("op-1")
        return done_with(checkpoint_json("m-1", "c"))(method, path)

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["operations", "wait", "op-1", "--timeout", "30"])
    assert run.exit_code == 0, run.output
    assert "polls failing: HTTP 500 (internal); retrying" in run.stderr
    assert polls["n"] == 3


def test_max_retries_says_that_a_waits_polls_go_on_through_failed_ones() -> None:
    # --max-retries was said to count the retries of each API request, a download's
    # transfers apart: with 0, a wait still polled again after each failed poll, unsaid.
    polls = {"n": 0}

    def answer(method: str, path: str) -> Reply:
        polls["n"] += 1
        if polls["n"] in (2, 3):
            return unavailable("0")
        if polls["n"] == 1:
            return pending("op-1")
        return done_with(checkpoint_json("m-1", "c"))(method, path)

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["--max-retries", "0", "operations", "wait", "op-1"])
        helped = " ".join(runner.invoke(main, ["--help"]).stdout.split())
    assert run.exit_code == 0, run.output
    assert "polls failing: HTTP 503 (unavailable); retrying" in run.stderr
    assert polls["n"] == 4
    assert "a wait polls on through failed polls until its --timeout" in helped


@pytest.mark.parametrize("emulator_config", [{"extensions": "none"}])
def test_a_kind_two_kinds_share_is_not_guessed_from_the_result(
    cli: Cli, emu: RunningEmulator, service: ServiceClient
) -> None:
    # Without the operation's kind (the real wire), a forward pass (the official SDK's
    # forward()) was shown as "forward_backward", the first kind whose result it has: the
    # result cannot tell the two apart, so the kind is unknown, as an export's is.
    model_id = service.create_training_client("weaver-tiny").model_id
    operation_id = start_forward(emu.base_url, model_id)
    for command in ("wait", "show"):
        run = cli("operations", command, operation_id, "--json")
        assert run.exit_code == 0, run.stderr
        assert (run.json()["kind"], run.json()["result"]["loss"] > 0) == (None, True)
        table = cli("operations", command, operation_id).stdout
        assert "forward_backward" not in table, table
        assert "loss" in table, table


@pytest.mark.parametrize("command", ["show", "wait"])
def test_a_load_result_of_a_bare_path_is_printed_raw(command: str) -> None:
    # The wire names no load result. A done load whose `response` is `{"path": ...}` alone
    # fits LoadResult's fields, whose parser needs `include_optimizer` for an operation it
    # did not start: show and wait exited 1 with a ResponseValidationError for a done load.
    path = "weaver://m-1/checkpoints/c"
    with cli_against(done_with({"path": path})) as runner:
        run = runner.invoke(main, ["operations", command, "op-1", "--json"])
        table = runner.invoke(main, ["operations", command, "op-1"])
    assert run.exit_code == 0, run.output
    shown = json.loads(run.stdout)
    assert (shown["status"], shown["kind"], shown["result"]) == ("done", None, {"path": path})
    assert table.exit_code == 0, table.output
    assert path in table.stdout


def pending_save(method: str, path: str) -> Reply:
    """A server whose save op-1 is done (without its kind, as on the real wire) while its
    checkpoint stays ``pending``, by id as in its model's list."""
    pending = {**checkpoint_json("m-1", "c"), "status": "pending"}
    if path.startswith("/api/v1/operations/op-1"):
        return 200, {"id": "op-1", "status": "done", "response": pending}, {}
    if path.startswith("/api/v1/checkpoints/"):
        return 200, pending, {}
    return 200, {"items": [pending]}, {}


def test_show_of_a_save_done_before_its_checkpoint_does_not_wait() -> None:
    # ``service.operation(id, Checkpoint)``, which shows the result's type, waits such a
    # save out through its checkpoint: show waited up to an hour, and wait --timeout did
    # not stop.
    with cli_against(pending_save) as runner:
        shown = runner.invoke(main, ["operations", "show", "op-1", "--json"])
        waited = runner.invoke(main, ["operations", "wait", "op-1", "--timeout", "0.5"])
    assert shown.exit_code == 0, shown.output
    snapshot = json.loads(shown.stdout)
    assert (snapshot["status"], snapshot["result"]) == ("running", None)
    assert waited.exit_code == 1, waited.output
    assert "is done, but its checkpoint still says pending after" in waited.output, waited.output
    assert "keeps running" not in waited.output, waited.output  # done: not running


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "training"), ("name", "d")],
    ids=["drifted-type", "name-not-the-paths"],
)
def test_a_checkpoint_result_the_facade_refuses_is_still_an_error(field: str, value: str) -> None:
    # Showing a result raw is for a load's bare `path`, which only its request completes:
    # a save's Checkpoint of a drifted `type` (`training`, a shape the contract must
    # prevent) was shown raw too, and `operations wait` exited 0.
    response = {**checkpoint_json("m-1", "c"), field: value}
    with cli_against(done_with(response)) as runner:
        run = runner.invoke(main, ["operations", "wait", "op-1"])
    assert run.exit_code == 1, run.output
    assert f"field `{field}`" in run.output, run.output


def test_no_wait_of_an_operation_done_at_once_hints_no_wait() -> None:
    # A server that finishes the save within its POST: the operation is shown done with
    # its result, so the hint to "wait for it" promised a wait there is no need for.
    def answer(method: str, path: str) -> Reply:
        if method == "POST" and path == "/api/v1/models/m-1/checkpoints":
            done = {"id": "op-1", "status": "done", "response": checkpoint_json("m-1", "c")}
            return 202, done, {}
        return 200, {"id": "m-1", "base_model": "b", "status": "active"}, {}

    with cli_against(answer) as runner:
        run = runner.invoke(main, ["checkpoints", "save", "m-1", "c", "--no-wait"])
    assert run.exit_code == 0, run.stderr
    assert "result: checkpoint c" in run.stdout
    assert run.stderr.strip() == "look at it again with: weaver-facade operations wait op-1"


def test_the_groups_help_names_exports_among_its_operations() -> None:
    # `checkpoints export --no-wait` says to `operations wait` the export, whose group's
    # help named only "training steps, saves, loads".
    done = CliRunner().invoke(main, ["operations", "--help"])
    assert done.exit_code == 0
    assert "(training steps, saves, loads, exports)" in " ".join(done.output.split())
