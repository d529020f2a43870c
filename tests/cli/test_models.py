"""``weaver-facade models ...`` and ``supported-models``, in-process with click's runner.

What the commands print is compared with the emulator's own answers over plain HTTP.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import API_KEY, Cli, Run, invoke, shown_whole
from tests.support.fakeserver import FakeWeaver, checkpoint_json, error_json, json_reply
from tests.support.held_creates import (
    CLI_HOLD_NOTICE,
    ctrl_c,
    default_sigint,
    interrupt_then_answer,
    serve_held_creates,
)
from tests.support.openapi import openapi
from tests.support.signals import watched, with_sigint
from weaver_facade import ModelInfo, ServiceClient
from weaver_facade._cli.models import print_model, print_models
from weaver_facade._io import Wakeup
from weaver_facade.emulator import FaultConfig, FaultRule, RunningEmulator
from weaver_facade.emulator._base_models import BASE_MODELS

MODEL_KEYS = {
    "id",
    "base_model",
    "training_mode",
    "status",
    "lora_rank",
    "lora_seed",
    "session_id",
    "tokenizer_path",
    "next_seq_id",
    "created_at",
}
UNREACHABLE = {"WEAVER_BASE_URL": "http://127.0.0.1:9"}
ROOT = Path(__file__).resolve().parents[2]


def raw(emu: RunningEmulator, path: str) -> Any:
    reply = httpx.get(f"{emu.base_url}/api/v1{path}", headers={"X-WEAVER-API-KEY": API_KEY})
    reply.raise_for_status()
    return reply.json()


def test_supported_models_names_the_base_models(cli: Cli) -> None:
    table = cli("supported-models")
    assert table.exit_code == 0, table.stderr
    for name, spec in BASE_MODELS.items():
        assert re.search(rf"{name}\W+available\W+.*vocab_size={spec.vocab_size}", table.stdout)
    listed = cli("supported-models", "--json").json()["supported_models"]
    assert {m["name"] for m in listed} == set(BASE_MODELS)
    assert all(set(m) == {"name", "status", "config"} for m in listed)


def test_create_list_show_and_terminate(cli: Cli, emu: RunningEmulator) -> None:
    assert cli("models", "list", "--json").json() == {"models": []}
    assert "(none)" in cli("models", "list").stdout

    lora = cli("models", "create", "weaver-tiny", "--lora-rank", "8", "--seed", "4", "--json")
    assert lora.exit_code == 0, lora.stderr
    created = lora.json()
    assert set(created) == MODEL_KEYS
    assert created["lora_rank"] == 8
    assert created["lora_seed"] == 4
    full = cli("models", "create", "weaver-tiny", "--full")
    assert full.exit_code == 0, full.stderr
    full_id = re.search(r"created model (\S+)", full.stdout)
    assert full_id is not None
    # The command line keeps what it creates: both outlive their invocation.
    server = raw(emu, "/models")["items"]
    assert [(m["id"], m["status"]) for m in server] == [
        (created["id"], "active"),
        (full_id[1], "active"),
    ]
    assert server[1]["training_mode"] == "full_ft"

    listed = cli("models", "list", "--json").json()["models"]
    assert [m["id"] for m in listed] == [m["id"] for m in server]
    assert listed[0] == created
    table = cli("models", "list").stdout
    assert re.search(rf"{created['id']}\W+weaver-tiny\W+lora\W+8\W+active", table)
    assert re.search(rf"{full_id[1]}\W+weaver-tiny\W+full_ft\W+-\W+active", table)

    shown = cli("models", "show", created["id"])
    assert re.search(r"lora rank\W+8", shown.stdout)
    assert re.search(r"status\W+active", shown.stdout)

    ended = cli("models", "terminate", created["id"], "--json")
    assert ended.exit_code == 0
    assert ended.json()["status"] == "terminated"
    assert raw(emu, f"/models/{created['id']}")["status"] == "terminated"
    # The README: `models list` shows the key's models oldest first, terminated ones too.
    after = cli("models", "list", "--json").json()["models"]
    assert [(m["id"], m["status"]) for m in after] == [
        (created["id"], "terminated"),
        (full_id[1], "active"),
    ]
    refused = cli("checkpoints", "save", created["id"], "late")
    assert refused.exit_code == 1
    assert "model_terminated" in refused.stderr


# Seeded: the create's first attempt is dropped after the server made the model.
_LOST_CREATE = FaultRule("drop", 0.5, "after", "POST", "/api/v1/sessions/{session_id}/models")


@pytest.mark.parametrize(
    "emulator_config", [{"faults": FaultConfig(rules=(_LOST_CREATE,), seed=1)}]
)
def test_create_after_a_lost_reply_warns_of_a_model_left_unknown(cli: Cli) -> None:
    run = cli("models", "create", "weaver-tiny", "--json")
    assert run.exit_code == 0, run.stderr
    made = run.json()["id"]
    retry, warning = run.stderr.splitlines()
    assert "connection dropped; retrying" in retry
    assert f"model {made} " in warning
    assert "reply was lost" in warning
    # The command line's words, not the library's calls, which a terminal has no use for.
    assert warning.endswith(
        "a server with the model-listing extension shows it in `weaver-facade models list` "
        "(end it with `weaver-facade models terminate`)"
    ), warning
    assert "list_models()" not in warning


@pytest.mark.parametrize(
    "emulator_config", [{"faults": FaultConfig(rules=(_LOST_CREATE,), seed=1)}]
)
def test_quiet_create_after_a_lost_reply_still_warns_of_a_model_left_unknown(cli: Cli) -> None:
    # `-q --json` in a CI job printed the model made and nothing of the other one the lost
    # attempt may have left running: -q hid the WARNING, as it hides progress and retries.
    run = cli("-q", "--json", "models", "create", "weaver-tiny")
    assert run.exit_code == 0, run.stderr
    made = run.json()["id"]
    assert set(run.json()) == MODEL_KEYS  # the document is the model made, as without -q
    [warning] = run.stderr.splitlines()  # the retry is still silenced
    assert warning.startswith(f"create_model: model {made} was made after"), warning
    assert warning.endswith("(end it with `weaver-facade models terminate`)"), warning


_EVERY_CREATE_LOST = FaultRule("drop", 1.0, "after", "POST", "/api/v1/sessions/{session_id}/models")


@pytest.mark.parametrize("emulator_config", [{"faults": FaultConfig(rules=(_EVERY_CREATE_LOST,))}])
def test_create_whose_replies_were_all_lost_says_a_model_may_be_made(
    cli: Cli, emu: RunningEmulator
) -> None:
    # It said "(the server may have acted)" alone, dropping the library's note that a
    # model may have been made and where to look for it.
    run = cli("--max-retries", "0", "models", "create", "weaver-tiny", "--json")
    assert run.exit_code == 1
    said = (
        "no reply came while the request to create a model was on its way: the server may "
        "have made it, which this client cannot terminate, not knowing its id; a server "
        "with the model-listing extension shows it in `weaver-facade models list` (end it "
        "with `weaver-facade models terminate`)"
    )
    [error] = run.stderr.splitlines()
    assert error.startswith(f"error: lost the reply from {emu.base_url} (the server may have "), (
        error
    )
    assert error.endswith(f"; {said}"), error
    assert run.json()["error"]["message"] == error.removeprefix("error: ")
    assert [m["id"] for m in raw(emu, "/models")["items"]]  # it was made


def _create_after_lost_replies(
    monkeypatch: pytest.MonkeyPatch,
    lost: int,
    then: httpx.Response | httpx.TransportError,
    *options: str,
    ctrl_c: bool = False,
) -> Run:
    """``models create`` whose first ``lost`` attempts the server takes and whose replies
    are lost, and whose next ones meet ``then``; with ``ctrl_c``, after a Ctrl-C that
    came while the next one was on its way."""
    fake = FakeWeaver()
    creates = [0]

    def handle(_self: object, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/models"):
            creates[0] += 1
            if creates[0] <= lost:
                fake(request)
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
            if ctrl_c:
                signal.raise_signal(signal.SIGINT)
            if isinstance(then, Exception):
                then.request = request
                raise then
            return then
        return fake(request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://weaver.test",
        "WEAVER_API_KEY": API_KEY,
    }
    with default_sigint():
        return invoke([*options, "models", "create", "weaver-tiny"], env)


def test_create_whose_last_attempt_found_no_server_after_a_lost_reply_is_not_unreached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reply lost, then the server gone (a refused connection): "cannot reach URL",
    # which says nothing was sent, stood before the note that a model may have been made.
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    run = _create_after_lost_replies(monkeypatch, 1, refused, "--max-retries", "1")
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    assert error.startswith(
        "error: lost the reply from http://weaver.test (the server may have acted): "
        "create_model: ConnectError: "
    ), error
    assert "; no reply came while the request to create a model was on its way: " in error


def test_create_refused_after_lost_replies_says_how_many_models_may_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Refused (a 500) after two attempts whose replies were lost: the library's note,
    # which the one-line error dropped, in the command line's words.
    run = _create_after_lost_replies(monkeypatch, 2, json_reply(500, error_json("internal", "no")))
    assert run.exit_code == 1
    error = run.stderr.splitlines()[-1]
    assert error.startswith("error: [500 internal] create_model: no (request id "), error
    assert "); 2 earlier attempts' replies were lost while the request to create a " in error
    assert error.endswith(
        "shows them in `weaver-facade models list` (end them with `weaver-facade models terminate`)"
    ), error


def assert_interrupted_says_a_model_may_be_made(run: Run) -> None:
    """``run``'s error, in its JSON and its last line, says that the create interrupted on
    its way may have made a model, and how to find it."""
    message = run.json()["error"]["message"]
    assert message.startswith(
        "interrupted while the request to create a model was on its way: the server may have "
        "made it, "
    ), message
    assert message.endswith(
        "shows it in `weaver-facade models list` (end it with `weaver-facade models terminate`)"
    ), message
    assert run.stderr.splitlines()[-1] == f"error: {message}"


def test_ctrl_c_held_while_a_create_is_refused_after_a_lost_reply_says_a_model_may_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C while the retry after a lost reply was on its way, held until its 500:
    # "error: interrupted" alone, where the refusal had said a model may have been made.
    refused = json_reply(500, error_json("internal", "no"))
    run = _create_after_lost_replies(monkeypatch, 1, refused, "--json", ctrl_c=True)
    assert run.exit_code == 130, run.stderr
    assert_interrupted_says_a_model_may_be_made(run)


def test_ctrl_c_while_a_create_waits_to_retry_a_lost_reply_says_a_model_may_be_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Ctrl-C while the retry of a create whose reply was lost waited (no request on its
    # way, so raised at once) said "interrupted" alone: the model the lost attempt may
    # have made, which nothing terminates, was named nowhere.
    fake = FakeWeaver()
    creates = [0]

    def handle(_self: object, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/models"):
            creates[0] += 1
            fake(request)
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return fake(request)

    def ctrl_c(_self: object, _seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    monkeypatch.setattr(Wakeup, "sleep", ctrl_c)
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://weaver.test",
        "WEAVER_API_KEY": API_KEY,
    }
    run = invoke(["models", "create", "weaver-tiny", "--json"], env)
    assert run.exit_code == 130
    assert creates == [1]
    assert_interrupted_says_a_model_may_be_made(run)


def test_create_interrupted_by_ctrl_c_terminates_the_model_it_made() -> None:
    # `models create` keeps its model, but a Ctrl-C while it was made lost its id: the
    # model stayed running, named nowhere. Held until the reply, it is named, then
    # terminated as the command ends (exit 130).
    with default_sigint(), serve_held_creates(API_KEY) as served:
        thread = interrupt_then_answer(served.held)
        env: dict[str, str | None] = {"WEAVER_BASE_URL": served.base_url, "WEAVER_API_KEY": API_KEY}
        run = invoke(["models", "create", "weaver-tiny"], {**env, "WEAVER_LOG": None})
        thread.join()
        assert run.exit_code == 130, run.stderr
        [(model_id, status)] = served.statuses().items()
        assert status == "terminated"
        assert f"model {model_id} was being created" in run.stderr
        assert run.stderr.splitlines()[-1] == "error: interrupted"
    # In the command's words, not the library's (create_model, the client's close).
    assert run.stderr.startswith(CLI_HOLD_NOTICE), run.stderr
    said = f"interrupted while model {model_id} was being created; the command terminates it"
    assert said in run.stderr
    assert "create_model" not in run.stderr


@pytest.mark.parametrize("sigint", ["SIG_DFL", "SIG_IGN"], ids=["foreground", "background"])
def test_create_stopped_by_sigterm_terminates_the_model_it_made(sigint: str) -> None:
    # SIGTERM (a cancelled CI job, `docker stop`, `timeout`) ended the command at once: exit
    # -15, and the model the server had made kept running. It now ends as a Ctrl-C does.
    # A background job of a script (`weaver-facade models create ... &`, or under nohup)
    # starts with SIGINT ignored: there the SIGTERM was raised at once, losing the reply.
    script = Path(sys.executable).with_name("weaver-facade")
    with serve_held_creates(API_KEY) as served:
        env = {**os.environ, "WEAVER_BASE_URL": served.base_url, "WEAVER_API_KEY": API_KEY}
        env.pop("WEAVER_LOG", None)
        argv = with_sigint(sigint, [str(script), "models", "create", "weaver-tiny"])
        with watched(argv, env) as run:
            assert served.held.made.wait(30)
            run.process.send_signal(signal.SIGTERM)
            # The command took the signal while the reply is held.
            assert run.line_starting(CLI_HOLD_NOTICE, timeout=5), "the signal was not held"
            served.held.release.set()
            run.process.wait(timeout=60)
        stderr = run.stderr
        assert run.process.returncode == 130, stderr
        [(model_id, status)] = served.statuses().items()
        assert status == "terminated"
        assert f"model {model_id} was being created" in stderr
        assert stderr.splitlines()[-1] == "error: interrupted"


def test_a_second_ctrl_c_while_the_close_terminates_the_model_ends_as_the_first() -> None:
    # A first Ctrl-C ends `models create` once its reply names the model, which the close
    # then terminates; a second one while the server is slow to answer that terminate
    # ended in click's "Aborted!" and exit 1, the first's own line lost.
    script = Path(sys.executable).with_name("weaver-facade")
    with serve_held_creates(API_KEY) as served:
        served.held.holding_terminates = True
        env = {**os.environ, "WEAVER_BASE_URL": served.base_url, "WEAVER_API_KEY": API_KEY}
        env.pop("WEAVER_LOG", None)
        argv = with_sigint("SIG_DFL", [str(script), "models", "create", "weaver-tiny"])
        with watched(argv, env) as run:
            assert served.held.made.wait(30)
            run.process.send_signal(signal.SIGINT)
            assert run.line_starting(CLI_HOLD_NOTICE, timeout=5), "the signal was not held"
            served.held.release.set()
            assert served.held.terminating.wait(30), "the close sent no terminate"
            run.process.send_signal(signal.SIGINT)
            run.process.wait(timeout=30)
        stderr = run.stderr
        [(model_id, status)] = served.statuses().items()
    assert run.process.returncode == 130, stderr
    assert "Aborted" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    # The close said what it left, the model running on (its terminate never reached the
    # emulator), and the command that frees it; then the first Ctrl-C's line, last (the
    # model was named again after it, at exit, in the library's words).
    assert status == "active"
    lines = stderr.splitlines()
    left = f"the close was interrupted: models left running: {model_id} (end it with "
    said = lines.index(f"{left}`weaver-facade models terminate`)")
    assert lines[said + 1 :] == ["error: interrupted"], stderr


def test_usage_and_api_errors(cli: Cli) -> None:
    both = cli("models", "create", "weaver-tiny", "--full", "--lora-rank", "4", env=UNREACHABLE)
    assert both.exit_code == 2
    assert "--full" in both.stderr
    rank = cli("models", "create", "weaver-tiny", "--lora-rank", "0", env=UNREACHABLE)
    assert rank.exit_code == 2
    # The command's own argument, as its usage line names it: not the library's model_id.
    for command in ("show", "terminate"):
        bad_id = cli("models", command, "bad id!", env=UNREACHABLE)
        assert bad_id.exit_code == 2
        assert bad_id.stderr.startswith("error: MODEL_ID 'bad id!' is not valid"), bad_id.stderr
    long_id = cli("models", "show", "m" * 200, env=UNREACHABLE)
    assert long_id.stderr.startswith("error: MODEL_ID is 200 characters long"), long_id.stderr
    unknown = cli("models", "create", "no-such-model", "--json")
    assert unknown.exit_code == 1
    assert unknown.json()["error"]["code"] == "unknown_base_model"
    missing = cli("models", "show", "m-missing")
    assert missing.exit_code == 1
    assert "not found" in missing.stderr
    unreachable = cli("models", "list", env=UNREACHABLE)
    assert unreachable.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in unreachable.stderr


@pytest.mark.parametrize("columns", [20, 40, 200])
def test_a_narrow_terminal_shows_every_model_id_whole(cli: Cli, columns: int) -> None:
    # At COLUMNS=20 rich cropped every column of the list to nothing.
    for _ in range(2):
        assert cli("models", "create", "weaver-tiny", "-q").exit_code == 0
    listed = cli("models", "list", env={"COLUMNS": str(columns)})
    assert listed.exit_code == 0, listed.stderr
    found = cli("models", "list", "--json").json()["models"]
    assert len(found) == 2
    for m in found:
        for value in (m["id"], m["base_model"], m["status"]):
            assert shown_whole(value, listed.stdout), (value, listed.stdout)
    if columns == 200:  # a table, one model a line
        assert all(re.search(rf"{m['id']}\W+weaver-tiny", listed.stdout) for m in found)


@pytest.mark.parametrize("emulator_config", [{"extensions": "none"}])
def test_list_on_a_server_without_model_listing_says_so(cli: Cli) -> None:
    made = cli("models", "create", "weaver-tiny", "--json")
    assert made.exit_code == 0, made.stderr
    run = cli("models", "list")
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr == (
        "error: this server cannot list models: it lacks the model-listing extension "
        "(GET /api/v1/models is not a route there, unless --base-url is not the server's "
        "root); `weaver-facade models show MODEL_ID` shows one by its id\n"
    )
    as_json = cli("models", "list", "--json")
    assert as_json.exit_code == 1
    error = as_json.json()["error"]
    assert (error["type"], error["status_code"]) == ("UnsupportedByServerError", 404)
    # What the command points to works on that server.
    shown = cli("models", "show", made.json()["id"])
    assert shown.exit_code == 0, shown.stderr


def test_help_lists_the_model_commands(cli: Cli) -> None:
    top = cli("--help")
    assert re.search(r"models\s+List, show, create and terminate", top.stdout)
    assert re.search(r"supported-models\s+List the base models", top.stdout)
    create = cli("models", "create", "--help")
    assert "--lora-rank N" in create.stdout
    assert "--full" in create.stdout


def test_rank_bounds_come_from_the_spec_and_the_default_is_what_help_says(
    cli: Cli, emu: RunningEmulator
) -> None:
    spec = openapi()
    rank = spec["components"]["schemas"]["LoraConfig"]["properties"]["rank"]
    above = cli("models", "create", "weaver-tiny", "--lora-rank", str(rank["maximum"] + 1))
    assert above.exit_code == 2
    assert f"a whole number from {rank['minimum']} to {rank['maximum']}" in above.stderr
    stated = re.search(r"Default:\s+LoRA,\s+rank\s+(\d+)", cli("models", "create", "--help").stdout)
    assert stated is not None
    created = cli("models", "create", "weaver-tiny", "--json").json()
    assert raw(emu, f"/models/{created['id']}")["lora_config"]["rank"] == int(stated[1])


def test_a_model_without_its_settings_prints_dashes(capsys: Any) -> None:
    # The real service promises only id, base_model and tokenizer_path.
    bare = ModelInfo(id="m-w", base_model="weaver-tiny")
    print_model(bare)
    print_models([bare])
    out = capsys.readouterr().out
    assert re.search(r"training mode\s*│\s*-\s", out)
    assert re.search(r"│ m-w\s*│ weaver-tiny\s*│ -\s", out)


def test_a_model_described_by_its_id_alone_prints_a_dash_for_its_base_model(
    capsys: Any,
) -> None:
    # The wire calls only `id` required.
    bare = ModelInfo(id="m-w")
    print_model(bare)
    print_models([bare])
    out = capsys.readouterr().out
    assert re.search(r"base model\s*│\s*-\s", out)
    assert re.search(r"│ m-w\s*│ -\s*│ -\s", out)


FORGETFUL: dict[str, str | None] = {
    "WEAVER_BASE_URL": "http://weaver.test",
    "WEAVER_API_KEY": API_KEY,
}
GONE = "/api/v1/models/m-9"


def forgetful_server(monkeypatch: pytest.MonkeyPatch, *, checkpoint: bool) -> FakeWeaver:
    """A server that forgets model m-9 once terminated: its terminate answers 200, then
    404 like every route of it; its checkpoint list keeps one (``checkpoint``), or is a
    404 as for a model the server never had."""
    fake = FakeWeaver()
    fake.script("POST", f"{GONE}/terminate", json_reply(200, {}))
    for _ in range(4):
        fake.script("POST", f"{GONE}/terminate", json_reply(404, error_json("not_found", "nope")))
        fake.script("GET", GONE, json_reply(404, error_json("not_found", "model m-9 not found")))
    if checkpoint:
        fake.checkpoints["m-9"].append(checkpoint_json("m-9", "c1"))
    else:
        fake.script("GET", f"{GONE}/checkpoints", json_reply(404, error_json("not_found", "x")))
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    return fake


def test_terminate_run_twice_on_a_server_that_forgets_the_model_is_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second `models terminate` exited 1 with the server's 404, where the facade's
    # `terminate_model` twice is no error: each command is a new client, which did not
    # know it had terminated the model. The server still lists its checkpoints, which is
    # how a model it forgot is told from one it never had.
    forgetful_server(monkeypatch, checkpoint=True)
    first = invoke(["models", "terminate", "m-9"], FORGETFUL)
    assert first.exit_code == 0, first.stderr
    second = invoke(["models", "terminate", "m-9", "--json"], FORGETFUL)
    assert second.exit_code == 0, second.stderr
    assert second.json()["id"] == "m-9"
    assert second.json()["status"] is None  # the server no longer says


def test_terminate_of_a_model_the_server_never_had_is_still_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = forgetful_server(monkeypatch, checkpoint=False)
    fake.scripts[("POST", f"{GONE}/terminate")].popleft()  # never terminated: 404 at once
    run = invoke(["models", "terminate", "m-9"], FORGETFUL)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: "), run.stderr
    assert "not found" in run.stderr or "nope" in run.stderr


def test_a_terminated_models_save_and_load_say_its_checkpoints_stay(
    cli: Cli, service: ServiceClient, model_id: str
) -> None:
    # The server's `[409 model_terminated] ... was terminated` gave no next step, where
    # the library's own refusal says the checkpoints stay and how to go on from them.
    saved = cli("checkpoints", "save", model_id, "kept")
    assert saved.exit_code == 0, saved.stderr
    assert cli("models", "terminate", model_id).exit_code == 0
    path = f"weaver://{model_id}/checkpoints/kept"
    for refused in (
        cli("checkpoints", "save", model_id, "late"),
        cli("checkpoints", "load", model_id, path),
    ):
        assert refused.exit_code == 1
        assert "model_terminated" in refused.stderr
        assert (
            f"; its checkpoints stay: list them with `weaver-facade checkpoints list "
            f"{model_id}`, export or download them, or load one into a new model "
            "(`weaver-facade models create BASE_MODEL` with the model's mode and LoRA "
            f"rank (`--full` or `--lora-rank N`, as `weaver-facade models show {model_id}` "
            "shows them), then "
            "`weaver-facade checkpoints load NEW_MODEL_ID REF`, with `--with-optimizer` if "
            "REF holds its optimizer state)\n"
        ) in refused.stderr


def test_terminate_run_twice_of_a_model_without_checkpoints_says_it_may_be_terminated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The second `models terminate` of a model without checkpoints, on a server that
    # forgets terminated models, said "not found" alone, as for a mistyped id: the wire
    # cannot tell them apart, and the message now says so.
    forgetful_server(monkeypatch, checkpoint=False)
    assert invoke(["models", "terminate", "m-9"], FORGETFUL).exit_code == 0
    second = invoke(["models", "terminate", "m-9", "--json"], FORGETFUL)
    assert second.exit_code == 1
    assert second.json()["error"]["type"] == "NotFoundError"
    assert second.json()["error"]["message"].endswith(
        "; model m-9 may not exist, or may have been terminated already: a server may forget a "
        "terminated model, which without a checkpoint of it listed looks like one it never had"
    )


FORGOTTEN = (
    "; model m-9: the server no longer finds it (terminated?), so this client, attached for "
    "its checkpoints, cannot train it. They can still be listed, exported and downloaded, and "
    "deleted where the server has the checkpoint-by-id extension."
)
MAYBE_TERMINATED = (
    "; model m-9 may not exist, or may have been terminated already: a server may forget a "
    "terminated model, which without a checkpoint of it listed looks like one it never had"
)


@pytest.mark.parametrize(
    ("checkpoint", "note"), [(True, FORGOTTEN), (False, MAYBE_TERMINATED)], ids=["kept", "none"]
)
def test_save_and_load_into_a_model_the_server_forgot_say_it_may_be_terminated(
    monkeypatch: pytest.MonkeyPatch, checkpoint: bool, note: str
) -> None:
    # A server that forgets a terminated model answers 404 for it, not 409 model_terminated:
    # `checkpoints save` and `load` into it said "[404 not_found] ... model m-9 not found"
    # alone, as for a mistyped id. They now show the library's note: that the server no
    # longer finds the model (terminated?) while its checkpoints stay; or, with none listed,
    # that it may not exist or may have been terminated, as `models terminate` says.
    fake = forgetful_server(monkeypatch, checkpoint=checkpoint)
    gone = json_reply(404, error_json("not_found", "model m-9 not found"))
    fake.script("POST", f"{GONE}/checkpoints", gone)
    fake.script("POST", f"{GONE}/load", gone)
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "c1"))
    for refused in (
        invoke(["checkpoints", "save", "m-9", "late", "--json"], FORGETFUL),
        invoke(["checkpoints", "load", "m-9", "weaver://m-1/checkpoints/c1", "--json"], FORGETFUL),
    ):
        assert refused.exit_code == 1, refused.stderr
        error = refused.json()["error"]
        assert (error["type"], error["status_code"]) == ("NotFoundError", 404)
        assert error["message"].endswith(note), error["message"]
        assert refused.stderr.rstrip("\n").endswith(note), refused.stderr


AN_ID = "7f0c8d3e-2b4a-4c59-9e61-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    "command",
    [
        ["models", "show", "m-9"],
        ["checkpoints", "list", "m-9"],
        # Commands that reach a checkpoint through its model said the 404 alone too.
        ["checkpoints", "export", "weaver://m-9/checkpoints/c1"],
        ["checkpoints", "show", AN_ID, "--model", "m-9"],
        ["checkpoints", "artifacts", AN_ID, "--model", "m-9"],
        ["checkpoints", "download", AN_ID, "--model", "m-9", "-o", "out"],
        ["checkpoints", "set-ttl", "weaver://m-9/checkpoints/c1", "--ttl", "60"],
    ],
    ids=["show", "list", "export", "checkpoint-show", "artifacts", "download", "set-ttl"],
)
def test_show_and_list_of_a_model_the_server_forgot_say_it_may_be_terminated(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # `models show` and `checkpoints list` of a terminated model the server forgot, without
    # checkpoints, said "[404 not_found] ... model m-9 not found" alone, where `models
    # terminate` and `checkpoints save` show the library's note.
    forgetful_server(monkeypatch, checkpoint=False)
    refused = invoke([*command, "--json"], FORGETFUL)
    assert refused.exit_code == 1, refused.stderr
    error = refused.json()["error"]
    assert (error["type"], error["status_code"]) == ("NotFoundError", 404)
    assert error["message"].endswith(MAYBE_TERMINATED), error["message"]
    assert refused.stderr.rstrip("\n").endswith(MAYBE_TERMINATED), refused.stderr


def test_delete_of_a_checkpoint_of_a_model_the_server_forgot_says_it_may_be_terminated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `checkpoints delete` gives each REF's error on a line of its own, which said the
    # 404 alone where `checkpoints show` of the same REF shows the library's note.
    forgetful_server(monkeypatch, checkpoint=False)
    refused = invoke(["checkpoints", "delete", "weaver://m-9/checkpoints/c1", "--json"], FORGETFUL)
    assert refused.exit_code == 1, refused.stderr
    [error] = refused.json()["errors"]
    assert error["type"] == "NotFoundError"
    assert error["message"].endswith(MAYBE_TERMINATED), error["message"]
    assert refused.stderr.rstrip("\n").endswith(MAYBE_TERMINATED), refused.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["checkpoints", "download", "weaver://m-9/checkpoints/c1", "-o", "out"],
        ["checkpoints", "artifacts", "weaver://m-9/checkpoints/c1"],
    ],
    ids=["download", "artifacts"],
)
def test_a_path_of_a_model_forgotten_with_its_listing_says_to_download_by_artifact_id(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # A path is looked up in its model's listing, which a server that forgot the model
    # refuses: the command said "[404 not_found] list_checkpoints: ..." alone.
    forgetful_server(monkeypatch, checkpoint=False)
    refused = invoke(command, FORGETFUL)
    assert refused.exit_code == 1, refused.stderr
    assert refused.stderr.rstrip("\n").endswith(
        "; model m-9 may not exist, or may have been terminated: a server may forget a "
        "terminated model and refuse to list its checkpoints; download an artifact of "
        "weaver://m-9/checkpoints/c1 by its id instead: "
        "`weaver-facade checkpoints download ARTIFACT_ID -o DIR`"
    ), refused.stderr


def test_show_of_a_model_the_server_forgot_with_checkpoints_says_it_was_terminated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forgetful_server(monkeypatch, checkpoint=True)
    refused = invoke(["models", "show", "m-9"], FORGETFUL)
    assert refused.exit_code == 1
    assert refused.stderr.rstrip("\n").endswith(
        "; model m-9 is no longer found, but the server lists checkpoints of it: it was "
        "terminated, and they stay"
    ), refused.stderr
    assert invoke(["checkpoints", "list", "m-9"], FORGETFUL).exit_code == 0


def test_load_of_a_checkpoint_not_found_into_a_model_found_says_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The model is found: the load's 404 is its checkpoint's, and nothing is said of
    # a terminated model.
    fake = FakeWeaver()
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    run = invoke(["checkpoints", "load", "m-9", "weaver://m-9/checkpoints/nope"], FORGETFUL)
    assert run.exit_code == 1
    assert "checkpoint weaver://m-9/checkpoints/nope not found" in run.stderr
    assert "terminated" not in run.stderr


def test_terminate_refused_404_of_a_model_the_server_finds_says_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its GET answers: the 404 said something else, and no "terminated already" is told.
    fake = FakeWeaver()
    refused = json_reply(404, error_json("not_found", "no such route"))
    fake.script("POST", f"{GONE}/terminate", refused)
    fake.script("GET", GONE, *[json_reply(200, {"id": "m-9"})] * 2)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    run = invoke(["models", "terminate", "m-9"], FORGETFUL)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: [404 not_found] terminate_model: no such route (")
    assert "terminated" not in run.stderr


def test_a_model_the_command_could_not_terminate_is_named_with_its_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A create interrupted by Ctrl-C made a model that the command terminates as it ends;
    # when the server could not be reached by then, the WARNING naming the model left
    # running said "end it with terminate_model()", the library's words.
    fake = FakeWeaver()

    def handle(_self: object, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/models"):
            ctrl_c()  # held until this reply, which names the model
        if request.url.path.endswith("/terminate"):
            raise httpx.ConnectError("connection refused", request=request)
        return fake(request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://weaver.test",
        "WEAVER_API_KEY": API_KEY,
    }
    with default_sigint():
        run = invoke(["models", "create", "weaver-tiny"], {**env, "WEAVER_LOG": None})
    assert run.exit_code == 130, run.stderr
    [model_id] = re.findall(r"interrupted while model (\S+) was being created", run.stderr)
    assert fake.terminated == []
    said = f"models left running: {model_id} (end it with `weaver-facade models terminate`)"
    assert said in run.stderr, run.stderr
    assert "terminate_model()" not in run.stderr, run.stderr
