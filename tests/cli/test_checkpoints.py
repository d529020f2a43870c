"""``weaver-facade checkpoints ...`` against a real emulator, tables and --json."""

from __future__ import annotations

import datetime
import email.utils
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.cli import API_KEY, OPERATION_KEYS, Cli, Run, invoke, shown_whole, train_model
from tests.support.fakeserver import (
    FakeWeaver,
    RewritingFake,
    checkpoint_json,
    each_checkpoint,
    error_json,
    json_reply,
)
from tests.support.fakeserver import service as fake_service
from tests.support.openapi import openapi
from tests.support.spec_values import SCHEMAS
from weaver_facade import ServiceClient, _wire
from weaver_facade.emulator import RunningEmulator
from weaver_facade.emulator._config import FaultConfig, FaultRule

CHECKPOINT_KEYS = {
    "id",
    "name",
    "path",
    "model_id",
    "type",
    "status",
    "has_optimizer_state",
    "ttl_seconds",
    "created_at",
    "expires_at",
    "size_bytes",
    "sha256",
    "train_unembed",
    "train_mlp",
    "train_attn",
}
UNREACHABLE = {"WEAVER_BASE_URL": "http://127.0.0.1:9"}
# The core flows run against an emulator with every extension and one without any.
both_servers = pytest.mark.parametrize(
    "emulator_config", [{}, {"extensions": "none"}], ids=["extensions-all", "extensions-none"]
)

NAME_MAX: int = SCHEMAS["CheckpointName"]["maxLength"]


@pytest.fixture
def offered(emu: RunningEmulator) -> frozenset[str]:
    """The extensions this test's emulator offers."""
    names: frozenset[str] = emu.config.extensions
    return names


def path(model_id: str, name: str) -> str:
    return f"weaver://{model_id}/checkpoints/{name}"


def save(cli: Cli, model_id: str, name: str, *extra: str) -> dict[str, object]:
    run = cli("checkpoints", "save", model_id, name, "--json", *extra)
    assert run.exit_code == 0, run.stderr
    saved: dict[str, object] = run.json()
    return saved


# -- list ---------------------------------------------------------------------------------


def test_list_of_a_model_without_checkpoints(cli: Cli, model_id: str) -> None:
    run = cli("checkpoints", "list", model_id)
    assert run.exit_code == 0
    assert f"checkpoints of {model_id}" in run.stdout
    assert "(none)" in run.stdout
    assert cli("checkpoints", "list", model_id, "--json").json() == {
        "model_id": model_id,
        "checkpoints": [],
    }


@both_servers
def test_list_shows_every_checkpoint_oldest_first(cli: Cli, model_id: str) -> None:
    save(cli, model_id, "alpha")
    save(cli, model_id, "beta", "--weights-only", "--ttl", "600")
    table = cli("checkpoints", "list", model_id)
    assert table.exit_code == 0
    rows = [line for line in table.stdout.splitlines() if re.search(r"\b(alpha|beta)\b", line)]
    assert len(rows) == 2
    assert re.search(r"alpha\W+weight_and_optimizer\W+completed\W+.*permanent", rows[0])
    assert re.search(r"beta\W+weight\W+completed\W+.*600 s", rows[1])
    listed = cli("checkpoints", "list", model_id, "--json").json()
    assert listed["model_id"] == model_id
    assert [c["name"] for c in listed["checkpoints"]] == ["alpha", "beta"]
    assert all(set(c) == CHECKPOINT_KEYS for c in listed["checkpoints"])


@pytest.mark.parametrize("columns", [20, 40, 200])
def test_a_narrow_terminal_shows_every_value_whole(cli: Cli, model_id: str, columns: int) -> None:
    # At COLUMNS=20 rich cropped the list's columns to nothing, and at 40 it broke names,
    # ids and paths, which users copy, across lines.
    save(cli, model_id, "first-checkpoint-of-a-long-run")
    save(cli, model_id, "second", "--weights-only")
    narrow = {"COLUMNS": str(columns)}
    listed = cli("checkpoints", "list", model_id, env=narrow)
    assert listed.exit_code == 0, listed.stderr
    checkpoints = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    for c in checkpoints:
        for value in (c["name"], c["type"], c["status"]):
            assert shown_whole(value, listed.stdout), (value, listed.stdout)
    shown = cli("checkpoints", "show", checkpoints[0]["path"], env=narrow)
    for value in (checkpoints[0]["path"], checkpoints[0]["id"], checkpoints[0]["sha256"]):
        assert shown_whole(value, shown.stdout), (value, shown.stdout)
    # A terminal wide enough keeps the tables: one row, one line.
    if columns == 200:
        assert re.search(r"first-checkpoint-of-a-long-run\W+weight_and_optimizer", listed.stdout)
        assert re.search(r"sha256\W+" + checkpoints[0]["sha256"], shown.stdout)


def test_global_json_flag_works_like_the_command_flag(cli: Cli, model_id: str) -> None:
    save(cli, model_id, "alpha")
    before = cli("--json", "checkpoints", "list", model_id).json()
    after = cli("checkpoints", "list", model_id, "--json").json()
    assert before == after
    assert before["checkpoints"][0]["name"] == "alpha"


# -- save -----------------------------------------------------------------------------------


@both_servers
def test_save_defaults_to_weights_and_optimizer(cli: Cli, model_id: str) -> None:
    run = cli("checkpoints", "save", model_id, "first")
    assert run.exit_code == 0, run.stderr
    assert f"saved {path(model_id, 'first')}" in run.stdout
    assert re.search(r"type\W+weight_and_optimizer", run.stdout)
    assert re.search(r"resumable\W+yes", run.stdout)
    saved = cli("checkpoints", "show", path(model_id, "first"), "--json").json()
    assert saved["type"] == "weight_and_optimizer"
    assert saved["has_optimizer_state"] is True
    assert saved["ttl_seconds"] is None
    assert saved["expires_at"] is None


@both_servers
def test_save_weights_only_with_a_ttl(cli: Cli, model_id: str) -> None:
    saved = save(cli, model_id, "light", "--weights-only", "--ttl", "600")
    assert set(saved) == CHECKPOINT_KEYS
    assert saved["type"] == "weight"
    assert saved["has_optimizer_state"] is False
    assert saved["status"] == "completed"
    assert saved["ttl_seconds"] == 600
    assert saved["path"] == path(model_id, "light")
    assert saved["model_id"] == model_id
    uuid.UUID(str(saved["id"]))
    created = datetime.datetime.fromisoformat(str(saved["created_at"]))
    expires = datetime.datetime.fromisoformat(str(saved["expires_at"]))
    assert abs((expires - created).total_seconds() - 600) < 5


@both_servers
def test_save_of_an_existing_name_is_an_api_error(cli: Cli, model_id: str) -> None:
    save(cli, model_id, "twice")
    run = cli("checkpoints", "save", model_id, "twice")
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr.startswith("error: [409 checkpoint_exists]")
    assert len(run.stderr.splitlines()) == 1
    # What to do: the name is taken (by an earlier save, perhaps one interrupted or run
    # with --no-wait, whose checkpoint may still be pending), so pick another or look.
    assert run.stderr.rstrip().endswith(
        "; choose another NAME, or look at the one there with `weaver-facade checkpoints "
        f"show {path(model_id, 'twice')}` (an earlier save, perhaps still pending)"
    )
    failed = cli("checkpoints", "save", model_id, "twice", "--json")
    assert failed.exit_code == 1
    assert failed.json()["error"]["code"] == "checkpoint_exists"
    assert failed.json()["error"]["status_code"] == 409
    assert failed.json()["error"]["exit_code"] == 1


def _save_on(fake: FakeWeaver, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Run:
    with fake_service(fake) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        return cli("checkpoints", "save", "m-1", "c1")


def test_a_save_refused_by_a_409_of_another_code_says_what_to_do_too(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wire sheet names no code for a taken name: "conflict" is as likely as the spec's.
    fake = FakeWeaver()
    taken = json_reply(409, error_json("conflict", "checkpoint 'c1' already exists"))
    fake.script("POST", "/api/v1/models/m-1/checkpoints", taken)
    run = _save_on(fake, cli, monkeypatch)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: [409 conflict]")
    assert run.stderr.rstrip().endswith(
        "; choose another NAME, or look at the one there with `weaver-facade checkpoints "
        "show weaver://m-1/checkpoints/c1` (an earlier save, perhaps still pending)"
    )


def test_a_save_refused_by_a_409_without_an_error_body_is_no_taken_name(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy's 409 page says nothing of the name: the library keeps it a ConflictError,
    # and the command told it as a taken name all the same.
    fake = FakeWeaver()
    page = httpx.Response(409, text="<html>conflict</html>", headers={"Content-Type": "text/html"})
    fake.script("POST", "/api/v1/models/m-1/checkpoints", page)
    run = _save_on(fake, cli, monkeypatch)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: [409]"), run.stderr
    assert "choose another NAME" not in run.stderr


def test_a_save_whose_lost_reply_the_list_does_not_show_yet_says_so_in_cli_words(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeWeaver()

    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset after the server acted", request=request)

    date = {"Date": email.utils.formatdate(usegmt=True)}
    taken = json_reply(409, error_json("conflict", "checkpoint 'c1' already exists"), date)
    fake.script("POST", "/api/v1/models/m-1/checkpoints", lost, taken)
    fake.script("GET", "/api/v1/models/m-1/checkpoints", json_reply(200, {"items": []}))
    run = _save_on(fake, cli, monkeypatch)
    assert run.exit_code == 1
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 2
    (line,) = run.stderr.splitlines()[-1:]
    assert line.startswith("error: [409 conflict]")
    assert (
        "; an earlier attempt of this save lost its reply and may have made it, but the "
        "model's checkpoint list does not show it yet: look again with `weaver-facade "
        "checkpoints list MODEL_ID`; choose another NAME"
    ) in line


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("a/b", "contains '/'"),
        (".hidden", SCHEMAS["CheckpointName"]["x-weaver-pattern-words"]),
        ("x" * (NAME_MAX + 1), f"at most {NAME_MAX}"),
        ("sp ace", "contains ' '"),
    ],
)
def test_save_refuses_a_bad_name_before_any_request(cli: Cli, name: str, complaint: str) -> None:
    # The server is unreachable: an exit 2 naming the problem proves nothing was sent.
    run = cli("checkpoints", "save", "m-1", name, env=UNREACHABLE)
    assert run.exit_code == 2
    assert complaint in run.stderr
    assert run.stderr.startswith("error: checkpoint name")
    assert len(run.stderr.splitlines()) == 1


def test_save_refuses_a_bad_ttl_and_a_bad_model_id(cli: Cli) -> None:
    zero = cli("checkpoints", "save", "m-1", "ok", "--ttl", "0", env=UNREACHABLE)
    assert zero.exit_code == 2
    assert "--ttl" in zero.stderr
    huge = cli("checkpoints", "save", "m-1", "ok", "--ttl", str(10**12), env=UNREACHABLE)
    assert huge.exit_code == 2
    assert "--ttl" in huge.stderr
    bad_model = cli("checkpoints", "save", "bad model!", "ok", env=UNREACHABLE)
    assert bad_model.exit_code == 2
    assert "model id 'bad model!' is not valid" in bad_model.stderr
    # The command's own argument, as its usage line names it: not the library's model_id.
    for command in (["list", "bad model!"], ["load", "bad model!", "weaver://m-1/checkpoints/c"]):
        run = cli("checkpoints", *command, env=UNREACHABLE)
        assert run.exit_code == 2
        assert run.stderr.startswith("error: MODEL_ID 'bad model!' is not valid"), run.stderr


@both_servers
def test_save_without_waiting_then_wait_for_the_operation(
    cli: Cli, model_id: str, offered: frozenset[str]
) -> None:
    started = cli("checkpoints", "save", model_id, "later", "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    operation = started.json()
    assert set(operation) == OPERATION_KEYS
    assert operation["status"] in {"pending", "running", "done"}
    assert operation["kind"] == "save_checkpoint"  # known from the request, before the result
    done = cli("operations", "wait", operation["id"], "--json")
    assert done.exit_code == 0
    # Re-attached by id, the kind is the server's to say (operation-details), or
    # told from the result's shape.
    assert done.json()["kind"] == "save_checkpoint"
    assert done.json()["result"]["path"] == path(model_id, "later")
    human = cli("checkpoints", "save", model_id, "later-2", "--no-wait")
    assert human.exit_code == 0
    assert "weaver-facade operations wait op-" in human.stderr


def _refused_for_20_s(route: str) -> dict[str, object]:
    """An emulator whose POST to ``route`` is always 503 with ``Retry-After: 20``."""
    rule = FaultRule(kind="unavailable", rate=1.0, method="POST", route=route, retry_after=20)
    return {"faults": FaultConfig(rules=(rule,), seed=1)}


@pytest.mark.parametrize(
    ("emulator_config", "command"),
    [
        (_refused_for_20_s("/api/v1/models/{model_id}/checkpoints"), "save"),
        (_refused_for_20_s("/api/v1/models/{model_id}/load"), "load"),
        (_refused_for_20_s("/api/v1/checkpoints/{checkpoint_id}/export"), "export"),
    ],
    ids=["save", "load", "export"],
)
def test_no_wait_keeps_to_the_timeout(
    cli: Cli, model_id: str, service: ServiceClient, command: str
) -> None:
    # --timeout bounds the whole command, its requests included (README): with
    # --no-wait it was dropped, and the request waited out a 20 s Retry-After.
    if command == "save":
        args = ["save", model_id, "later"]
    else:
        service.training_client(model_id).save_state("c0")
        args = ["load", model_id, path(model_id, "c0")]
        args = args if command == "load" else ["export", path(model_id, "c0")]
    started = time.monotonic()
    run = cli("checkpoints", *args, "--no-wait", "--timeout", "2", "-q")
    assert time.monotonic() - started < 10
    assert run.exit_code == 1
    assert "503" in run.stderr


# -- show -----------------------------------------------------------------------------------


@both_servers
def test_show_by_path_by_id_and_by_name(cli: Cli, model_id: str, offered: frozenset[str]) -> None:
    saved = save(cli, model_id, "shown")
    by_path = cli("checkpoints", "show", path(model_id, "shown"), "--json").json()
    by_id = cli("checkpoints", "show", str(saved["id"]), "--model", model_id, "--json").json()
    by_name = cli("checkpoints", "show", "shown", "--model", model_id, "--json").json()
    assert by_path == by_id == by_name == saved
    table = cli("checkpoints", "show", path(model_id, "shown"))
    assert table.exit_code == 0
    assert re.search(rf"id\W+{saved['id']}", table.stdout)
    digest = re.search(r"sha256\W+[0-9a-f]{64}", table.stdout)
    assert (digest is not None) == ("checkpoint-details" in offered)


@both_servers
def test_a_name_that_reads_as_an_id_is_found_by_name(cli: Cli, model_id: str) -> None:
    # A run's UUID is a valid NAME, which save takes; given with --model it was read as an
    # id alone, and its checkpoint was "not found" by every command but its path.
    name = str(uuid.uuid4())
    saved = save(cli, model_id, name)
    assert saved["id"] != name
    shown = cli("checkpoints", "show", name, "--model", model_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json() == saved
    loaded = cli("checkpoints", "load", model_id, name, "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert loaded.json()["path"] == saved["path"]
    kept = cli("checkpoints", "set-ttl", name, "--model", model_id, "--ttl", "60", "--json")
    assert kept.exit_code == 0, kept.stderr
    assert (kept.json()["path"], kept.json()["ttl_seconds"]) == (saved["path"], 60)
    missing = cli("checkpoints", "show", str(uuid.uuid4()), "--model", model_id)
    assert missing.exit_code == 1
    assert "no checkpoint with id" in missing.stderr


@pytest.mark.usefixtures("weaver_log_undone")
def test_an_id_found_nowhere_reads_the_list_once_more_for_its_name(cli: Cli, model_id: str) -> None:
    # The id's lookup already read the list, again and again over the time a new checkpoint
    # may take to be listed: its name is then looked for in one more read, not a new round
    # of reads and waits (each a walk of every page of a model's checkpoints).
    def list_reads(ref: str) -> int:
        run = cli("checkpoints", "show", ref, "--model", model_id, env={"WEAVER_LOG": "debug"})
        assert run.exit_code == 1, run.stderr
        listing = rf"^request GET \S+/api/v1/models/{model_id}/checkpoints\?"
        return len(re.findall(listing, run.stderr, re.MULTILINE))

    by_name = list_reads("no-such-name")
    assert by_name > 1
    assert list_reads(str(uuid.uuid4())) == by_name + 1


def test_a_name_that_reads_as_an_id_named_twice_is_deleted_once(cli: Cli, model_id: str) -> None:
    name = str(uuid.uuid4())
    saved = save(cli, model_id, name)
    run = cli("checkpoints", "delete", name, name, "--model", model_id, "--json")
    assert run.exit_code == 0, run.stderr
    assert [c["path"] for c in run.json()["deleted"]] == [saved["path"]]


def test_show_needs_the_model_of_an_id_or_name(cli: Cli, model_id: str) -> None:
    saved = save(cli, model_id, "shown")
    by_id = cli("checkpoints", "show", str(saved["id"]), env=UNREACHABLE)
    assert by_id.exit_code == 2
    assert "--model MODEL_ID" in by_id.stderr
    by_name = cli("checkpoints", "show", "shown", env=UNREACHABLE)
    assert by_name.exit_code == 2
    assert "--model MODEL_ID" in by_name.stderr
    other = cli("checkpoints", "show", path(model_id, "shown"), "--model", "m-other")
    assert other.exit_code == 2
    assert f"belongs to model {model_id}" in other.stderr


def test_a_name_no_save_could_use_is_looked_up_not_refused(cli: Cli, model_id: str) -> None:
    # A server may report such a name (the wire says only `"name"?: str`): a path or
    # --model name with one is looked up, and this server has none of that name.
    for ref in (path(model_id, "epoch 2"), "epoch 2"):
        run = cli("checkpoints", "show", ref, "--model", model_id)
        assert run.exit_code == 1, run.stderr
        assert "no checkpoint named 'epoch 2'" in run.stderr


def test_show_of_an_id_of_another_model_is_not_found(
    cli: Cli, model_id: str, service: ServiceClient
) -> None:
    saved = save(cli, model_id, "mine")
    other = train_model(service, steps=1)
    run = cli("checkpoints", "show", str(saved["id"]), "--model", other)
    assert run.exit_code == 1
    assert f"belongs to model {model_id}, not to {other}" in run.stderr


@both_servers
def test_every_command_refuses_an_id_of_another_model_as_show_does(
    cli: Cli, model_id: str, service: ServiceClient, tmp_path: Path
) -> None:
    # export and artifacts took a checkpoint's id whatever --model said: the export was
    # made, and the artifacts listed, of another model's checkpoint.
    saved = save(cli, model_id, "mine")
    other = train_model(service, steps=0)

    def said(*args: str) -> tuple[int, str, str]:  # each reply has a request id of its own
        run = cli("checkpoints", *args, str(saved["id"]), "--model", other)
        return run.exit_code, re.sub(r" \(request id [^)]*\)", "", run.stderr), run.stdout

    shown = said("show")
    assert shown[0] == 1, shown
    refused = (
        f"belongs to model {model_id}, not to {other}",
        f"among the checkpoints of model {other}",
    )
    assert any(words in shown[1] for words in refused), shown
    out = tmp_path / "o"
    for command in (
        ["export"],
        ["artifacts"],
        ["download", "-o", str(out)],
        ["set-ttl", "--permanent"],
    ):
        expected = shown
        if refused[1] in shown[1]:  # no checkpoint of that id: an artifact's, perhaps
            told = f"; an artifact's id is for `weaver-facade checkpoints download {saved['id']}"
            assert told in shown[1], shown
            hint = {
                "download": "; for an artifact's id, leave out --model",
                "artifacts": shown[1][shown[1].index(told) : -1],
            }.get(command[0], "")
            alone = shown[1][: shown[1].index(told)] + "\n"
            expected = (shown[0], alone.replace("\n", f"{hint}\n"), shown[2])
        assert said(*command) == expected, command
    assert not out.exists()
    artifacts = cli("checkpoints", "artifacts", path(model_id, "mine"), "--json").json()
    assert artifacts["artifacts"] == []  # nothing was exported


@pytest.mark.parametrize("command", ["show", "artifacts"])
def test_an_id_under_a_missing_model_is_no_hint_of_an_artifact(cli: Cli, command: str) -> None:
    # The model is not found before any checkpoint is looked for: no checkpoint of it is
    # missing, so the id is no more an artifact's than a checkpoint's.
    run = cli("checkpoints", command, str(uuid.uuid4()), "--model", "m-missing")
    assert run.exit_code == 1, run.stderr
    assert "m-missing" in run.stderr
    assert "artifact" not in run.stderr


@pytest.mark.parametrize(
    "ref",
    [
        "weaver://m-1/checkpoint/x",
        "s3://bucket/checkpoints/x",
        "weaver://m-1/checkpoints/a/b",
        "weaver:///checkpoints/x",
    ],
)
def test_show_refuses_invalid_paths_before_any_request(cli: Cli, ref: str) -> None:
    run = cli("checkpoints", "show", ref, env=UNREACHABLE)
    assert run.exit_code == 2
    assert run.stderr.startswith("error: ")
    assert "checkpoint path" in run.stderr or "model id" in run.stderr
    assert len(run.stderr.splitlines()) == 1


def test_show_of_a_missing_checkpoint(cli: Cli, model_id: str) -> None:
    run = cli("checkpoints", "show", path(model_id, "ghost"), "--json")
    assert run.exit_code == 1
    assert run.json()["error"]["type"] == "NotFoundError"
    assert "no checkpoint named 'ghost'" in run.stderr


# -- load -----------------------------------------------------------------------------------


@both_servers
def test_load_with_optimizer_into_a_new_model(
    cli: Cli, model_id: str, service: ServiceClient, offered: frozenset[str]
) -> None:
    save(cli, model_id, "resume-me")
    fresh = train_model(service, steps=0)
    run = cli(
        "checkpoints", "load", fresh, path(model_id, "resume-me"), "--with-optimizer", "--json"
    )
    assert run.exit_code == 0, run.stderr
    loaded = run.json()
    assert set(loaded) == {
        "model_id",
        "path",
        "include_optimizer",
        "checkpoint_id",
        "optimizer_step",
    }
    assert loaded["model_id"] == fresh
    assert loaded["path"] == path(model_id, "resume-me")
    assert loaded["include_optimizer"] is True
    # The model had trained two steps; the server says so with load-details.
    assert loaded["optimizer_step"] == (2 if "load-details" in offered else None)


@both_servers
def test_load_by_id_and_by_name(
    cli: Cli, model_id: str, service: ServiceClient, offered: frozenset[str]
) -> None:
    saved = save(cli, model_id, "by-id")
    fresh = train_model(service, steps=0)
    # An id is looked up through MODEL_ID, the model loaded into, with or without lookup by
    # id (with it, another model's checkpoint was loaded: the README says it is not found).
    by_id = cli("checkpoints", "load", fresh, str(saved["id"]))
    assert by_id.exit_code == 1
    assert len(by_id.stderr.splitlines()) == 1
    if "checkpoint-by-id" in offered:
        assert f"belongs to model {model_id}, not to {fresh} (its path, {saved['path']}" in (
            by_id.stderr
        )
    else:
        assert f"none is among the checkpoints of model {fresh}" in by_id.stderr
    own = cli("checkpoints", "load", model_id, str(saved["id"]))
    assert own.exit_code == 0, own.stderr
    assert re.search(r"restored\W+weights\W", own.stdout)
    if "load-details" in offered:
        assert re.search(rf"checkpoint id\W+{saved['id']}", own.stdout)
    by_path = cli("checkpoints", "load", fresh, str(saved["path"]))
    assert by_path.exit_code == 0, by_path.stderr
    # A bare name is a checkpoint of MODEL_ID itself.
    by_name = cli("checkpoints", "load", model_id, "by-id", "--json")
    assert by_name.exit_code == 0, by_name.stderr
    assert by_name.json()["path"] == path(model_id, "by-id")
    assert by_name.json()["include_optimizer"] is False


def test_load_with_optimizer_of_a_weights_only_checkpoint_fails(cli: Cli, model_id: str) -> None:
    saved = save(cli, model_id, "weights", "--weights-only")
    ref = path(model_id, "weights")
    run = cli("checkpoints", "load", model_id, ref, "--with-optimizer")
    # A path: the server refuses it when submitted (no operation, so no progress either).
    assert run.exit_code == 1
    assert run.stderr == (
        f"error: checkpoint {ref} holds no optimizer state (it was saved with "
        "--weights-only); drop --with-optimizer to load its weights alone\n"
    )
    # An id: the CLI looks the checkpoint up, sees its type and refuses before any load.
    by_id = cli("checkpoints", "load", model_id, str(saved["id"]), "--with-optimizer", "--json")
    assert by_id.exit_code == 2
    assert "drop --with-optimizer" in by_id.stderr
    assert by_id.json()["error"]["type"] == "OptimizerStateUnavailableError"
    assert f"error: {by_id.json()['error']['message']}" == by_id.stderr.splitlines()[-1]
    # Dropping it, as told, loads the weights.
    assert cli("checkpoints", "load", model_id, ref).exit_code == 0


@pytest.mark.parametrize("saved_as", ["weight", "weight_and_optimizer"])
def test_load_with_optimizer_refused_in_the_servers_own_words(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, saved_as: str
) -> None:
    # The wire's load "returns an Operation" and names no code: a server may fail it with
    # one of its own. The CLI said only that; it now says which option to drop, when the
    # checkpoint really holds no optimizer state, and keeps the server's words otherwise.
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "w", saved_as))
    fake.fail_load("m-1", "no_moments", "no Adam")
    with fake_service(fake) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        ref = "weaver://m-1/checkpoints/w"
        run = cli("checkpoints", "load", "m-1", ref, "--with-optimizer", "--json")
    assert run.exit_code == 1
    assert run.json()["error"]["type"] == "OperationFailedError"
    assert run.json()["error"]["code"] == "no_moments"
    said = run.stderr.splitlines()[-1]
    if saved_as == "weight":
        assert said == (
            f"error: checkpoint {ref} holds no optimizer state (it was saved with "
            "--weights-only); drop --with-optimizer to load its weights alone"
        )
    else:
        assert said.startswith("error: operation op-9 failed [no_moments]")
        assert "drop --with-optimizer" not in run.stderr


# -- delete ---------------------------------------------------------------------------------


def test_delete_several(cli: Cli, model_id: str) -> None:
    a = save(cli, model_id, "a")
    save(cli, model_id, "b")
    save(cli, model_id, "c")
    run = cli("checkpoints", "delete", path(model_id, "a"), "b", "--model", model_id)
    assert run.exit_code == 0, run.stderr
    assert f"deleted {path(model_id, 'a')} ({a['id']})" in run.stdout
    assert f"deleted {path(model_id, 'b')}" in run.stdout
    left = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [c["name"] for c in left] == ["c"]


def test_a_deleted_checkpoints_export_still_downloads_by_its_id(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    save(cli, model_id, "e")
    artifact = cli("checkpoints", "export", path(model_id, "e"), "--json", "-q").json()
    assert cli("checkpoints", "delete", path(model_id, "e")).exit_code == 0
    gone = cli("checkpoints", "artifacts", path(model_id, "e"))
    assert gone.exit_code == 1, gone.stderr
    run = cli("checkpoints", "download", artifact["id"], "-o", str(tmp_path), "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["files"] == artifact["files"]


def test_delete_goes_on_after_a_failure_and_exits_1(cli: Cli, model_id: str) -> None:
    save(cli, model_id, "x")
    save(cli, model_id, "y")
    run = cli(
        "checkpoints",
        "delete",
        path(model_id, "x"),
        path(model_id, "missing"),
        path(model_id, "y"),
        "--json",
    )
    assert run.exit_code == 1
    report = run.json()
    assert [c["name"] for c in report["deleted"]] == ["x", "y"]
    assert all(c["status"] == "deleted" for c in report["deleted"])
    assert [e["ref"] for e in report["errors"]] == [path(model_id, "missing")]
    assert report["errors"][0]["type"] == "NotFoundError"
    assert f"error: {path(model_id, 'missing')}:" in run.stderr


def test_a_checkpoint_named_twice_is_deleted_once_without_an_error(cli: Cli, model_id: str) -> None:
    # By its name, path and id on one command line (`delete $(cat names)`): the second
    # was "no checkpoint named 'twice' ..., listed 4 times: a server may list a checkpoint
    # it has just saved only later", exit status 1, though this command had deleted it.
    saved = save(cli, model_id, "twice")
    save(cli, model_id, "kept")
    refs = ["twice", path(model_id, "twice"), str(saved["id"]), "twice"]
    run = cli("checkpoints", "delete", *refs, "--model", model_id, "--json")
    assert run.exit_code == 0, run.stderr
    report = run.json()
    assert [c["id"] for c in report["deleted"]] == [saved["id"]]
    assert report["errors"] == []
    left = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [c["name"] for c in left] == ["kept"]


def test_delete_checks_every_ref_before_deleting_any(cli: Cli, model_id: str) -> None:
    save(cli, model_id, "kept")
    run = cli("checkpoints", "delete", path(model_id, "kept"), "weaver://bad")
    assert run.exit_code == 2
    assert "weaver://bad" in run.stderr
    left = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [c["name"] for c in left] == ["kept"]


def test_delete_by_id_checks_the_model(cli: Cli, model_id: str, service: ServiceClient) -> None:
    saved = save(cli, model_id, "guarded")
    other = train_model(service, steps=0)
    wrong = cli("checkpoints", "delete", str(saved["id"]), "--model", other)
    assert wrong.exit_code == 1
    assert cli("checkpoints", "show", path(model_id, "guarded")).exit_code == 0
    right = cli("checkpoints", "delete", str(saved["id"]), "--model", model_id, "--json")
    assert right.exit_code == 0
    assert right.json()["deleted"][0]["id"] == saved["id"]


@pytest.mark.parametrize("emulator_config", [{"extensions": "none"}])
def test_delete_on_a_server_without_delete_is_an_api_error(cli: Cli, model_id: str) -> None:
    saved = save(cli, model_id, "kept")
    for ref in (path(model_id, "kept"), str(saved["id"])):
        run = cli("checkpoints", "delete", ref, "--model", model_id)
        assert run.exit_code == 1
        assert run.stdout == ""
        assert len(run.stderr.splitlines()) == 1
        assert run.stderr.startswith(f"error: {ref}: ")
        assert "checkpoint-by-id" in run.stderr
    left = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [c["id"] for c in left] == [saved["id"]]


def test_delete_needs_a_ref(cli: Cli) -> None:
    run = cli("checkpoints", "delete")
    assert run.exit_code == 2
    assert "Missing argument" in run.stderr


# -- set-ttl --------------------------------------------------------------------------------


def test_set_ttl_and_make_permanent(cli: Cli, model_id: str) -> None:
    saved = save(cli, model_id, "kept")
    limited = cli("checkpoints", "set-ttl", path(model_id, "kept"), "--ttl", "120", "--json")
    assert limited.exit_code == 0, limited.stderr
    assert limited.json()["ttl_seconds"] == 120
    assert limited.json()["expires_at"] is not None
    forever = cli("checkpoints", "set-ttl", str(saved["id"]), "--model", model_id, "--permanent")
    assert forever.exit_code == 0, forever.stderr
    assert "ttl permanent" in forever.stdout
    shown = cli("checkpoints", "show", path(model_id, "kept"), "--json").json()
    assert shown["ttl_seconds"] is None
    assert shown["expires_at"] is None


@pytest.mark.parametrize("options", [[], ["--ttl", "5", "--permanent"]])
def test_set_ttl_needs_exactly_one_choice(cli: Cli, options: list[str]) -> None:
    run = cli("checkpoints", "set-ttl", "weaver://m-1/checkpoints/x", *options)
    assert run.exit_code == 2
    assert "exactly one of --ttl SECONDS and --permanent" in run.stderr


def spec_ttl_maximum() -> int:
    """The spec's bound on ``ttl_seconds``, read from openapi.yaml itself."""
    spec = openapi()
    return int(spec["components"]["schemas"]["TtlSeconds"]["maximum"])


@pytest.mark.parametrize("command", ["save", "set-ttl"])
def test_ttl_range_is_named_in_seconds_in_errors_and_help(cli: Cli, command: str) -> None:
    maximum = spec_ttl_maximum()
    args = ["m-1", "ok"] if command == "save" else ["weaver://m-1/checkpoints/ok"]
    # Python's int() would take "6_0" and other scripts' digits ("٦٠" is 60): refused in
    # the words of any whole number's (``_help.WholeNumber``).
    for bad, said in [
        *((bad, f"from 1 to {maximum}") for bad in ("99999999999", str(maximum + 1), "0", "soon")),
        *((bad, "in digits 0-9") for bad in ("6_0", "\u0666\u0660")),
    ]:
        run = cli("checkpoints", command, *args, "--ttl", bad, env=UNREACHABLE)
        assert run.exit_code == 2, run.stderr
        assert f"{bad!r} is not a whole number of seconds {said}" in run.stderr
        assert len(run.stderr.splitlines()) == 1
    shown = " ".join(cli("checkpoints", command, "--help").stdout.split())
    # The bound in words too (the spec's is a whole number of years or days).
    words = re.search(rf"1 to {maximum} \((\d+) (year|day)s?\)", shown)
    assert words is not None, shown
    assert int(words[1]) * (365 if words[2] == "year" else 1) * 86_400 == maximum


def test_ctrl_c_while_a_save_is_sent_says_the_checkpoint_may_be_made(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "error: interrupted" alone: the server may have made the checkpoint, and the same
    # save again then fails, its name taken. The CLI says where to look first.
    fake = FakeWeaver()

    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    fake.script("POST", "/api/v1/models/m-1/checkpoints", interrupted)
    with fake_service(fake) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        run = cli("checkpoints", "save", "m-1", "c1", "--json")
    assert run.exit_code == 130
    path = "weaver://m-1/checkpoints/c1"
    said = (
        "interrupted while the request to save checkpoint 'c1' was on its way: the server "
        "may have made it (saving 'c1' again then fails, its name taken); look with "
        f"`weaver-facade checkpoints show {path}` or `weaver-facade checkpoints list MODEL_ID`"
    )
    assert run.stderr.splitlines()[-1] == f"error: {said}"
    assert run.json()["error"]["message"] == said
    assert run.json()["error"]["type"] == "KeyboardInterrupt"


_EVERY_SAVE_LOST = FaultRule("drop", 1.0, "after", "POST", "/api/v1/models/{model_id}/checkpoints")


@pytest.mark.parametrize("emulator_config", [{"faults": FaultConfig(rules=(_EVERY_SAVE_LOST,))}])
def test_a_save_whose_replies_were_all_lost_says_where_its_checkpoint_may_be(
    cli: Cli, emu: RunningEmulator, model_id: str
) -> None:
    # It said "(the server may have acted)" alone: the server made the checkpoint, and the
    # same save again fails, its name taken, with nothing said of where to look first.
    run = cli("--max-retries", "0", "checkpoints", "save", model_id, "c1", "--json")
    assert run.exit_code == 1
    made = path(model_id, "c1")
    said = (
        "no reply came while the request to save checkpoint 'c1' was on its way: the server "
        "may have made it (saving 'c1' again then fails, its name taken); look with "
        f"`weaver-facade checkpoints show {made}` or `weaver-facade checkpoints list MODEL_ID`"
    )
    [error] = run.stderr.splitlines()
    assert error.startswith(f"error: lost the reply from {emu.base_url} (the server may have "), (
        error
    )
    assert error.endswith(f"; {said}"), error
    assert run.json()["error"]["message"] == error.removeprefix("error: ")
    listed = cli("checkpoints", "list", model_id, "--json").json()["checkpoints"]
    assert [c["path"] for c in listed] == [made]  # it was made


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 2.0}}])
def test_a_load_or_export_of_a_pending_checkpoint_says_how_to_wait_for_it(
    cli: Cli, model_id: str
) -> None:
    # Right after `checkpoints save --no-wait` (or another client's save), a load or an
    # export showed the server's `[409 checkpoint_not_ready] ...` alone, no next step.
    started = cli("checkpoints", "save", model_id, "slow", "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    pending = path(model_id, "slow")
    hint = (
        "; a checkpoint is pending until its save ends: wait for the save (`weaver-facade "
        "operations wait OP_ID`, with the OP_ID that `checkpoints save --no-wait` printed), "
        f"or look with `weaver-facade checkpoints show {pending}`, and try again once it is "
        "completed"
    )
    for refused in (
        cli("checkpoints", "load", model_id, pending, "--json"),
        cli("checkpoints", "load", model_id, "slow", "--json"),  # looked up by its name
        cli("checkpoints", "export", pending, "--json"),
    ):
        assert refused.exit_code == 1, refused.stderr
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("CheckpointNotReadyError", "checkpoint_not_ready")
        assert error["message"].endswith(hint), error["message"]
    waited = cli("operations", "wait", started.json()["id"])
    assert waited.exit_code == 0, waited.stderr
    assert cli("checkpoints", "load", model_id, pending).exit_code == 0


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 2.0}}])
def test_a_delete_of_a_pending_checkpoint_says_how_to_wait_for_it(cli: Cli, model_id: str) -> None:
    # The server's `[409 checkpoint_not_ready] ...` alone, where the library's error has a
    # note on what to do next, which a load or an export of it shows in the CLI's words.
    started = cli("checkpoints", "save", model_id, "slow", "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    pending = path(model_id, "slow")
    hint = (
        "; a checkpoint is pending until its save ends: wait for the save (`weaver-facade "
        "operations wait OP_ID`, with the OP_ID that `checkpoints save --no-wait` printed), "
        f"or look with `weaver-facade checkpoints show {pending}`, and try again once it is "
        "completed"
    )
    checkpoint_id = cli("checkpoints", "show", pending, "--json").json()["id"]
    for ref in (pending, checkpoint_id):
        refused = cli("checkpoints", "delete", ref, "--model", model_id, "--json")
        assert refused.exit_code == 1, refused.stderr
        [error] = refused.json()["errors"]
        assert error["type"] == "CheckpointNotReadyError"
        assert error["message"].endswith(hint), error["message"]
        assert refused.stderr == f"error: {ref}: {error['message']}\n"
    assert cli("operations", "wait", started.json()["id"]).exit_code == 0
    assert cli("checkpoints", "delete", pending).exit_code == 0


def test_ctrl_c_while_a_save_waits_to_retry_a_refused_request_says_interrupted(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every attempt was refused before sending: the server cannot have made the
    # checkpoint, so the error does not send the user looking for it.
    fake = FakeWeaver()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def ctrl_c(_seconds: float) -> None:
        raise KeyboardInterrupt

    fake.script("POST", "/api/v1/models/m-1/checkpoints", refused)
    with fake_service(fake, sleep=ctrl_c) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        run = cli("checkpoints", "save", "m-1", "c1", "--json")
    assert run.exit_code == 130
    assert run.json()["error"]["message"] == "interrupted"


def test_a_save_whose_last_attempt_found_no_server_after_a_lost_reply_is_not_unreached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first attempt's reply was lost (the server saved it), the retry's connection was
    # refused: "cannot reach URL", which says nothing was sent, and no word of the
    # checkpoint the first attempt may have made, which the library's note names.
    fake = FakeWeaver()
    saves = [0]

    def handle(_self: object, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/checkpoints"):
            saves[0] += 1
            if saves[0] == 1:
                fake(request)
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return fake(request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://weaver.test",
        "WEAVER_API_KEY": API_KEY,
    }
    run = invoke(["--max-retries", "1", "checkpoints", "save", "m-1", "c1", "--json"], env)
    assert run.exit_code == 1
    assert saves == [2]
    error = run.stderr.splitlines()[-1]
    assert error.startswith(
        "error: lost the reply from http://weaver.test (the server may have acted): "
        "save_checkpoint: ConnectError: "
    ), error
    assert error.endswith(
        "; no reply came while the request to save checkpoint 'c1' was on its way: the server "
        "may have made it (saving 'c1' again then fails, its name taken); look with "
        "`weaver-facade checkpoints show weaver://m-1/checkpoints/c1` or "
        "`weaver-facade checkpoints list MODEL_ID`"
    ), error
    assert run.json()["error"]["message"] == error.removeprefix("error: ")
    assert [c["name"] for c in fake.checkpoints["m-1"]] == ["c1"]  # it was made


@pytest.mark.usefixtures("weaver_log_undone")
def test_an_operation_kind_of_the_servers_own_is_not_warned_about_in_every_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A server without `operation-details` may give an Operation a `kind` in words of its
    # own (the spec's `x-weaver-without-extension`: anything but an artifact's kind): every
    # `operations show` and `wait` printed a WARNING that it "is not a valid
    # OperationKind", which its user can do nothing about. The log WEAVER_LOG=info asks
    # for names it.
    fake = FakeWeaver()
    saved = checkpoint_json("m-1", "c1")
    done = {"id": "op-7", "status": "done", "kind": "save", "response": saved}
    fake.script("GET", "/api/v1/operations/op-7", *[json_reply(200, done)] * 10)
    commands = [["operations", "show", "op-7"], ["operations", "wait", "op-7"]]
    logged = quiet_in_each_command(monkeypatch, fake, commands, shown="c1")
    assert "get_operation: Operation: the server's `kind` is left out" in logged


@pytest.mark.usefixtures("weaver_log_undone")
def test_a_server_that_leaves_out_null_ttls_is_not_warned_about_in_every_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A server may leave a permanent checkpoint's null `ttl_seconds` and `expires_at` out:
    # every command printed two WARNING lines on it, which its user can do nothing about,
    # and reading them as null loses nothing. The log WEAVER_LOG=info asks for names them.
    fake = RewritingFake(each_checkpoint(lambda c: {k: v for k, v in c.items() if v is not None}))
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "c1"))
    commands = [["checkpoints", "list", "m-1"], ["checkpoints", "save", "m-1", "c2"]]
    logged = quiet_in_each_command(monkeypatch, fake, commands, shown="permanent")
    for field in ("ttl_seconds", "expires_at"):
        assert f"list_checkpoints: Checkpoint: the server left out `{field}`" in logged


def quiet_in_each_command(
    monkeypatch: pytest.MonkeyPatch,
    fake: Callable[[httpx.Request], httpx.Response],
    commands: list[list[str]],
    *,
    shown: str,
) -> str:
    """Run each of ``commands`` on ``fake``: no WARNING of a field left out, ``shown`` on
    stdout; then the stderr of the first again, under the log WEAVER_LOG=info asks for."""
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://weaver.test",
        "WEAVER_API_KEY": API_KEY,
        "WEAVER_LOG": None,
    }
    for args in commands:
        monkeypatch.setattr(_wire, "_warned", set())  # each command is a process of its own
        run = invoke(args, env)
        assert run.exit_code == 0, run.stderr
        assert "left out" not in run.stderr, run.stderr
        assert shown in run.stdout
    monkeypatch.setattr(_wire, "_warned", set())
    return invoke(commands[0], {**env, "WEAVER_LOG": "info"}).stderr


def test_a_failed_delete_escapes_its_ref_as_the_rest_of_its_line(cli: Cli, model_id: str) -> None:
    # The line of one REF among others gave the REF as typed: its C1 control character (NEL,
    # a terminal's newline; CSI, an escape sequence's start) reached the terminal, while the
    # message beside it escaped it.
    ref = path(model_id, "a\x85b")
    run = cli("checkpoints", "delete", ref)
    assert run.exit_code == 1, run.stderr
    line = next(line for line in run.stderr.splitlines() if line.startswith("error: "))
    assert "\x85" not in line, repr(line)
    assert line.startswith(f"error: {path(model_id, 'a')}\\x85b: "), line


def test_a_name_not_in_utf_8_is_escaped_one_way_in_a_c_locale(
    emu: RunningEmulator, model_id: str
) -> None:
    # Under LC_ALL=C without UTF-8 mode the name's undecodable byte is a lone surrogate:
    # the library quotes it as '\udce9', and the path it wrote as given became `caf?` on
    # stderr, in the same line.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONIOENCODING", "WEAVER_LOG"}}
    env.update(LC_ALL="C", PYTHONUTF8="0", WEAVER_BASE_URL=emu.base_url, WEAVER_API_KEY=API_KEY)
    ref = path(model_id, "caf").encode() + b"\xe9"
    done = subprocess.run(
        [sys.executable, "-m", "weaver_facade", "checkpoints", "show", ref],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert b"?" not in done.stderr, done.stderr
    assert done.stderr.count(b"caf\\udce9") >= 2, done.stderr
