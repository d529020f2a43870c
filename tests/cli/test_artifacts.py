"""``weaver-facade checkpoints export | artifacts | download`` against a real emulator."""

from __future__ import annotations

import errno
import hashlib
import inspect
import os
import re
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests.support.cli import (
    API_KEY,
    STORAGE_503,
    Cli,
    ctrl_c_after_the_first_change,
    invoke,
)
from tests.support.fakeserver import (
    CHECKPOINT,
    EXPORT,
    LIST,
    FakeClock,
    FakeWeaver,
    artifact_json,
    checkpoint_json,
    error_json,
    json_reply,
)
from tests.support.fakeserver import service as fake_service
from tests.support.search_only import search_only
from weaver_facade import (
    DownloadProgress,
    DownloadTimeoutError,
    InvalidArgumentError,
    OperationHandle,
    PollPolicy,
    PollSettings,
    ServiceClient,
    StorageError,
)
from weaver_facade._cli import artifacts as cli_artifacts
from weaver_facade.emulator._config import FaultConfig, FaultRule


def saved(cli: Cli, model_id: str, name: str = "c1") -> str:
    run = cli("checkpoints", "save", model_id, name, "--json")
    assert run.exit_code == 0, run.stderr
    return f"weaver://{model_id}/checkpoints/{name}"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_list_and_download(cli: Cli, model_id: str, tmp_path: Path) -> None:
    ref = saved(cli, model_id)
    run = cli("checkpoints", "export", ref, "--json")
    assert run.exit_code == 0, run.stderr
    artifact = run.json()
    assert artifact["status"] == "completed"
    assert artifact["kind"] == "hf_adapter"
    assert artifact["uri"] == f"{ref}/artifacts/hf_adapter"
    # Text form of the same export: an identical export answers with the same artifact.
    run = cli("checkpoints", "export", ref)
    assert run.exit_code == 0
    assert f"exported {ref}/artifacts/hf_adapter" in run.stdout
    assert artifact["id"] in run.stdout
    listed = cli("checkpoints", "artifacts", ref, "--json").json()
    assert [a["id"] for a in listed["artifacts"]] == [artifact["id"]]
    assert "adapter_model.safetensors" in cli("checkpoints", "artifacts", ref).stdout

    out = tmp_path / "out"
    run = cli("checkpoints", "download", ref, "-o", str(out), "--json")
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["artifact_id"] == artifact["id"]
    assert result["bytes"] == result["bytes_fetched"] == artifact["size_bytes"]
    for f in artifact["files"]:
        assert sha(out / f["name"]) == f["sha256"]
    # Plain progress lines (stderr is not a terminal), then the table; all files there.
    run = cli("checkpoints", "download", artifact["id"], "-o", str(out))
    assert run.exit_code == 0, run.stderr
    n = len(artifact["files"])
    assert f"{n}/{n} files" in run.stderr
    assert f"{n} files already there" in run.stdout
    # With one file gone, one is already there: "1 file", not "1 files".
    assert n == 2
    (out / artifact["files"][0]["name"]).unlink()
    run = cli("checkpoints", "download", artifact["id"], "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert ", 1 file already there" in run.stdout


def test_export_can_follow_the_checkpoints_retention(cli: Cli, model_id: str) -> None:
    # The library's ttl_seconds=None, which the spec allows: --ttl took only seconds.
    run = cli("checkpoints", "save", model_id, "kept", "--ttl", "3600", "--json")
    assert run.exit_code == 0, run.stderr
    checkpoint = run.json()
    ref = f"weaver://{model_id}/checkpoints/kept"
    run = cli("checkpoints", "export", ref, "--follow-checkpoint", "--json")
    assert run.exit_code == 0, run.stderr
    artifact = run.json()
    assert artifact["ttl_seconds"] is None
    assert artifact["expires_at"] == checkpoint["expires_at"]
    run = cli("checkpoints", "export", ref, "--follow-checkpoint", "--ttl", "600")
    assert run.exit_code == 2
    assert "give --ttl SECONDS or --follow-checkpoint, not both" in run.stderr


def test_export_following_the_checkpoint_warns_of_an_earlier_artifact(
    cli: Cli, model_id: str
) -> None:
    # An export of its kind already made comes back with its own TTL: --follow-checkpoint
    # returned it without a word, where --ttl SECONDS has the library's WARNING.
    ref = saved(cli, model_id)
    first = cli("checkpoints", "export", ref, "--ttl", "600", "--json")
    assert first.exit_code == 0, first.stderr
    run = cli("checkpoints", "export", ref, "--follow-checkpoint", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["id"] == first.json()["id"]
    assert (
        f"artifact {first.json()['id']} keeps ttl_seconds=600, not the checkpoint's "
        "retention (its ttl_seconds=None) asked: an export of its kind was already made"
    ) in run.stderr
    # The command line's way out alone: it named the library's call too.
    assert "already made; `weaver-facade checkpoints export --force` replaces it" in run.stderr
    assert "export_weights" not in run.stderr


def test_download_of_a_checkpoint_never_exported_names_the_command(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # It said "export it first (export_weights, or `weaver-facade checkpoints export`)",
    # the library's way out too, to a user of the command line. The library names its
    # call, which the command line words as its own command, as it does in every note.
    ref = saved(cli, model_id)
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "x"), "--json")
    assert run.exit_code == 1
    said = (
        f"checkpoint {ref} has no completed artifact; export it first with "
        "`weaver-facade checkpoints export`"
    )
    assert run.stderr == f"error: [not_found] {said}\n"
    error = run.json()["error"]
    assert (error["type"], error["message"]) == ("NotFoundError", f"[not_found] {said}")


def test_download_of_a_lora_checkpoints_hf_model_names_the_merge(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # It said "export it first with `weaver-facade checkpoints export`", which exports the
    # adapter again; a LoRA checkpoint's hf_model is its adapter merged.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref, "--json").exit_code == 0  # the adapter
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "x"), "--kind", "hf_model")
    assert run.exit_code == 1
    assert run.stderr == (
        f"error: [not_found] checkpoint {ref} has no completed hf_model artifact, only an "
        "hf_adapter one; export it with `weaver-facade checkpoints export --merge-adapter`\n"
    )
    assert cli("checkpoints", "export", ref, "--merge-adapter", "--json").exit_code == 0
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "x"), "--kind", "hf_model")
    assert run.exit_code == 0, run.stderr


def test_export_no_wait_merge_and_kind(cli: Cli, model_id: str, tmp_path: Path) -> None:
    ref = saved(cli, model_id)
    run = cli("checkpoints", "export", ref, "--merge-adapter", "--ttl", "600", "--no-wait")
    assert run.exit_code == 0, run.stderr
    assert "operations wait" in run.stderr
    assert cli("checkpoints", "export", ref, "--json").exit_code == 0  # the adapter
    # Both kinds and no --kind: a usage error (the lists told it), in the command's words.
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "x"), "--json")
    assert run.exit_code == 2
    assert run.stderr == (
        f"error: checkpoint {ref} has artifacts of more than one kind: "
        "choose one with --kind hf_adapter or --kind hf_model\n"
    )
    assert run.json()["error"]["type"] == "AmbiguousArtifactKindError"
    assert run.json()["error"]["exit_code"] == 2
    run = cli(
        "checkpoints",
        "download",
        f"{ref}/artifacts/hf_model",
        "-o",
        str(tmp_path / "m"),
        "--json",
        "--no-verify",
        "--max-concurrency",
        "2",
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["kind"] == "hf_model"
    assert (tmp_path / "m" / "config.json").exists()


def test_merge_adapter_of_a_full_ft_checkpoint_says_to_drop_the_option(cli: Cli) -> None:
    # The server's refusal came in the library's words: "export it with merge_adapter false".
    created = cli("models", "create", "weaver-tiny", "--full", "--json")
    assert created.exit_code == 0, created.stderr
    ref = saved(cli, created.json()["id"])
    for wait in ([], ["--no-wait"]):
        run = cli("checkpoints", "export", ref, "--merge-adapter", *wait, "--json")
        # Refused before any request (a usage error): the server described the model as
        # full_ft. The server's own refusal is in the same words (the next test).
        assert run.exit_code == 2
        assert run.stderr == (
            f"error: checkpoint {ref} was trained with full_ft and has no adapter to merge; "
            "drop --merge-adapter to export its weights (hf_model)\n"
        )
        assert run.json()["error"]["type"] == "MergeNotSupportedError"
        assert f"error: {run.json()['error']['message']}\n" == run.stderr
    # Dropping it, as told, exports the full weights.
    run = cli("checkpoints", "export", ref, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["kind"] == "hf_model"


def test_the_servers_refusal_to_merge_is_said_in_the_same_words(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that does not describe its model's mode leaves the refusal to the server.
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    fake.script("GET", "/api/v1/models/m-1", json_reply(200, {"id": "m-1"}))
    refusal = error_json("merge_not_supported", "model m-1 is full_ft")
    fake.script("POST", EXPORT, json_reply(422, refusal))
    with fake_service(fake) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        ref = "weaver://m-1/checkpoints/c"
        run = cli("checkpoints", "export", ref, "--merge-adapter", "--json")
    assert run.exit_code == 1  # the server refused it
    assert run.stderr == (
        f"error: checkpoint {ref} was trained with full_ft and has no adapter to merge; "
        "drop --merge-adapter to export its weights (hf_model)\n"
    )
    assert len(fake.sent("POST", EXPORT)) == 1


def test_an_export_operation_can_be_waited_for_and_shown(cli: Cli, model_id: str) -> None:
    # --no-wait says to `operations wait` the export: that must show its artifact.
    ref = saved(cli, model_id)
    started = cli("checkpoints", "export", ref, "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    operation_id = started.json()["id"]
    waited = cli("operations", "wait", operation_id)
    assert waited.exit_code == 0, waited.stderr
    assert f"{ref}/artifacts/hf_adapter" in waited.stdout
    assert "adapter_model.safetensors" in waited.stdout
    shown = cli("operations", "show", operation_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    listed = cli("checkpoints", "artifacts", ref, "--json").json()["artifacts"]
    assert shown.json()["result"] == listed[0]


@pytest.mark.parametrize("emulator_config", [{}, {"extensions": "none"}], ids=["all", "none"])
def test_a_started_export_names_the_model_of_its_path(cli: Cli, model_id: str) -> None:
    # Without operation-details the Operation says no model; the path names it.
    ref = saved(cli, model_id)
    started = cli("checkpoints", "export", ref, "--no-wait", "--json")
    assert started.exit_code == 0, started.stderr
    assert (started.json()["kind"], started.json()["model_id"]) == ("export_checkpoint", model_id)


@pytest.mark.parametrize("emulator_config", [{"latency": {"export_checkpoint": 0.5}}])
def test_waiting_for_an_export_shows_its_progress_and_names_it_on_ctrl_c(
    cli: Cli, model_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = saved(cli, model_id)
    run = cli("checkpoints", "export", ref)
    assert run.exit_code == 0, run.stderr
    # Not a terminal: one plain line per change, as for save and load.
    lines = run.stderr.splitlines()
    assert re.fullmatch(r"operation op-\S+: \S.*", lines[0]), run.stderr
    operation_id = lines[0].split(":")[0].removeprefix("operation ")
    assert lines[-1] == f"operation {operation_id}: done"

    ctrl_c_after_the_first_change(monkeypatch)  # still exporting
    run = cli("checkpoints", "export", ref, "--force")
    assert run.exit_code == 130
    assert "keeps running on the server (`weaver-facade operations wait op-" in run.stderr


def test_a_destination_that_is_or_is_under_a_file_is_a_usage_error_before_any_request(
    tmp_path: Path,
) -> None:
    # `-o A_FILE` was a usage error (2), but `-o A_FILE/out` exited 1, as if the server had
    # refused something, and only after the checkpoint was looked up (by id, with --model).
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    refs = [["weaver://m-1/checkpoints/c"], [str(uuid.uuid4()), "--model", "m-1"]]
    # Listening but never accepting: a connection the command opened would wait in its
    # backlog.
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        env: dict[str, str | None] = {
            "WEAVER_BASE_URL": f"http://127.0.0.1:{server.getsockname()[1]}",
            "WEAVER_API_KEY": API_KEY,
            "WEAVER_LOG": None,
        }
        for ref in refs:
            args = ["checkpoints", "download", *ref, "--timeout", "2", "--json", "-o"]
            run = invoke([*args, str(blocker)], env)
            assert run.exit_code == 2, run.stderr
            # In the command's words, as below: click's own were "Directory 'X' is a file."
            assert run.stderr == (
                f"error: Invalid value for '-o' / '--output': '{blocker}' is a file "
                "(see 'main checkpoints download --help')\n"
            )
            run = invoke([*args, str(blocker / "out")], env)
            assert run.exit_code == 2, run.stderr
            # It names the file in the way, not only the folder that cannot be made below it.
            assert run.stderr.startswith(
                f"error: Invalid value for '-o' / '--output': '{blocker / 'out'}' cannot be "
                f"made: '{blocker}' is a file"
            ), run.stderr
            assert run.json()["error"]["exit_code"] == 2
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing connected
    assert blocker.read_text() == ""


def test_a_broken_symlink_as_the_destination_is_a_usage_error_naming_it(
    tmp_path: Path,
) -> None:
    # `-o` a link to a disk not mounted exited 1 with "... is not a directory", after the
    # checkpoint was looked up. Where it leads is shown escaped: its newline was a space.
    link = tmp_path / "models"
    link.symlink_to(tmp_path / "un\nmounted")
    env: dict[str, str | None] = {
        "WEAVER_BASE_URL": "http://127.0.0.1:9",
        "WEAVER_API_KEY": API_KEY,
    }
    run = invoke(["checkpoints", "download", "weaver://m-1/checkpoints/c", "-o", str(link)], env)
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith(
        f"error: Invalid value for '-o' / '--output': '{link}' is a broken symlink "
        f"(to {tmp_path}/un\\nmounted)"
    ), run.stderr
    assert not (tmp_path / "un\nmounted").exists()


def test_an_empty_destination_is_refused_not_taken_for_here(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `-o "$OUT"` with OUT unset downloaded into the current folder, replacing the user's
    # files of the artifact's names (config.json, ...) with a warning only.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text("the user's")
    run = cli("checkpoints", "download", ref, "-o", "")
    assert run.exit_code == 2, run.stderr
    assert "an empty path is no folder; give . for this one" in run.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
    assert (tmp_path / "config.json").read_text() == "the user's"


# A folder from a variable or a glob may hold a newline, a tab or an escape sequence.
# U+2028, U+2029 and U+0085 end a line too, in a terminal and for str.splitlines().
ODD_NAME = "a\nb\tc\x1b[2Kd\u2028e\u2029f\x85g"
ODD_SHOWN = "a\\nb\\tc\\x1b[2Kd\\u2028e\\u2029f\\x85g"  # as repr() writes them


def test_every_character_that_ends_a_line_is_shown_escaped() -> None:
    # Python's own list of line ends (str.splitlines), beside the one shown_path escapes.
    from weaver_facade._dest import shown_path

    ends = [c for c in map(chr, range(sys.maxunicode + 1)) if len(f"a{c}b".splitlines()) > 1]
    assert len(ends) == 10
    assert [shown_path(c) for c in ends] == [repr(c)[1:-1] for c in ends]
    assert all("\\" in shown_path(c) for c in ends)


def test_a_destination_with_control_characters_is_shown_escaped(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder was written as given: its newline broke the table's title in two and was a
    # space in an error line, so that neither named the folder; its ESC[2K erased the line.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    out = tmp_path / ODD_NAME
    run = cli("checkpoints", "download", ref, "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[0].endswith(f" to {tmp_path}/{ODD_SHOWN}"), run.stdout
    # JSON keeps the path as it is, escaped as JSON does.
    run = cli("checkpoints", "download", ref, "-o", str(out), "--json")
    assert run.json()["destination"] == str(out)

    blocker = tmp_path / f"file-{ODD_NAME}"
    blocker.write_text("")
    for given, said in (
        (blocker, f"'{tmp_path}/file-{ODD_SHOWN}' is a file"),
        (blocker / "out", f"cannot be made: '{tmp_path}/file-{ODD_SHOWN}' is a file"),
    ):
        run = cli("checkpoints", "download", ref, "-o", str(given))
        assert run.exit_code == 2, run.stderr
        assert len(run.stderr.splitlines()) == 1, run.stderr
        assert said in run.stderr, run.stderr

    locked = tmp_path / f"locked-{ODD_NAME}"
    mkdir = Path.mkdir

    def refused(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(locked))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    run = cli("checkpoints", "download", ref, "-o", str(locked))
    assert run.exit_code == 1, run.stderr
    shown = f"{tmp_path}/locked-{ODD_SHOWN}"
    assert run.stderr == f"error: cannot write to {shown}: Permission denied\n"

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ServiceClient, "download_weights", interrupt)
    run = cli("checkpoints", "download", ref, "-o", str(locked))
    assert run.exit_code == 130
    assert run.stderr == f"error: interrupted; nothing was written to {shown}\n"


def test_a_destination_without_permission_says_it_cannot_write(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The library's refusal is typed now (UnsafeArtifactPathError, not a bare
    # PermissionError); the command's words stay those it printed for the OSError.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    dest = tmp_path / "locked" / "out"
    mkdir = Path.mkdir

    def refused(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == dest:
            raise PermissionError(13, "Permission denied", str(dest.parent))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    run = cli("checkpoints", "download", ref, "-o", str(dest), "--json")
    assert run.exit_code == 1
    assert run.stderr == f"error: cannot write to {dest.parent}: Permission denied\n"
    assert run.json()["error"]["type"] == "UnsafeArtifactPathError"


def test_a_destination_it_cannot_read_is_the_downloads_error_as_one_it_cannot_write(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # click's own check refused it as a usage error (2), in its words ("Directory 'X' is
    # not readable."), where a folder without write permission is the download's error (1).
    # Its words say what failed (they were "cannot write to", of a folder it may write in).
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    dest = tmp_path / "unreadable"
    dest.mkdir()
    # What the system answers a user without read permission on it (root reads anything).
    access, open_ = os.access, os.open

    def no_read(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        return False if Path(path) == dest and mode & os.R_OK else access(path, mode)

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == dest and flags & os.O_ACCMODE != os.O_WRONLY:
            raise PermissionError(13, "Permission denied", str(path))
        return open_(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "access", no_read)
    monkeypatch.setattr(os, "open", refused)
    run = cli("checkpoints", "download", ref, "-o", str(dest))
    assert run.exit_code == 1, run.stderr
    assert run.stderr.splitlines()[-1] == f"error: cannot read {dest}: Permission denied"
    assert list(dest.iterdir()) == []


def test_a_destination_it_may_only_search_says_it_can_neither_read_nor_write(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # A folder of mode --x was said "cannot read DEST", as one of d-wx is: half of it.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    dest = tmp_path / "search-only"
    with search_only(dest):
        run = cli("checkpoints", "download", ref, "-o", str(dest))
    assert run.exit_code == 1, run.stderr
    assert run.stderr.splitlines()[-1] == f"error: cannot read or write {dest}: Permission denied"
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("left", ["finished", "part"])
def test_a_file_it_fails_to_read_says_it_cannot_read(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left: str
) -> None:
    # A finished file (or a .part) is hashed before it is skipped (or resumed): a disk's
    # EIO there was worded "cannot write to FILE", as a failure to write is.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    dest = tmp_path / "out"
    assert cli("checkpoints", "download", ref, "-o", str(dest)).exit_code == 0
    there = sorted(dest.iterdir())[0]
    if left == "part":
        there = there.rename(there.with_name(there.name + ".part"))
    open_, read = os.open, os.read
    failing: set[int] = set()

    def opened(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = open_(path, flags, *args, **kwargs)
        if Path(path) == there and flags & os.O_ACCMODE == os.O_RDONLY:
            failing.add(fd)
        return fd

    def failed(fd: int, size: int) -> bytes:
        if fd in failing:
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # as the system's: no file named
        return read(fd, size)

    monkeypatch.setattr(os, "open", opened)
    monkeypatch.setattr(os, "read", failed)
    run = cli("checkpoints", "download", ref, "-o", str(dest))
    assert failing, "the file was not read"
    assert run.exit_code == 1, run.stderr
    said = f"error: cannot read {there}: {os.strerror(errno.EIO)}"
    assert run.stderr.splitlines()[-1] == said, run.stderr


def test_bad_input_is_refused_before_any_request(cli: Cli, tmp_path: Path) -> None:
    run = cli("checkpoints", "download", "not-a-ref", "-o", str(tmp_path / "o"))
    assert run.exit_code == 2
    path = "weaver://m/checkpoints/c/artifacts/weights"
    run = cli("checkpoints", "download", path, "-o", str(tmp_path / "o"))
    assert run.exit_code == 2
    # The path is what was given, not a kind= (the issue: "kind must be ... or None").
    assert "/artifacts/hf_adapter" in run.stderr
    assert "kind must" not in run.stderr
    assert "None" not in run.stderr
    merged = path.replace("weights", "hf_model")
    run = cli("checkpoints", "download", merged, "-o", str(tmp_path / "o"), "--kind", "hf_adapter")
    assert run.exit_code == 2
    assert "'--kind'" in run.stderr
    assert "kind=" not in run.stderr
    # A newline of the REF is shown escaped, as the library quotes it: it was a space.
    odd = merged.replace("/c/", "/c\nd/")
    run = cli("checkpoints", "download", odd, "-o", str(tmp_path / "o"), "--kind", "hf_adapter")
    assert run.exit_code == 2
    assert "but weaver://m/checkpoints/c\\nd/artifacts/hf_model is hf_model" in run.stderr
    run = cli("checkpoints", "export", "weaver://m/checkpoints/c", "--ttl", "0")
    assert run.exit_code == 2
    run = cli("checkpoints", "download", "weaver://m/checkpoints/c")
    assert run.exit_code == 2  # -o is required
    assert not (tmp_path / "o").exists()


def test_max_concurrency_takes_the_library_default_and_bound(
    cli: Cli, service: ServiceClient, model_id: str, tmp_path: Path
) -> None:
    # The library's signature and its refusal are one source; the CLI's help and
    # exit status are the other.
    default = inspect.signature(ServiceClient.download_weights).parameters["max_concurrency"]
    assert f"[default: {default.default};" in cli("checkpoints", "download", "--help").stdout
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    with pytest.raises(InvalidArgumentError) as refused:
        service.download_weights(ref, tmp_path / "lib", max_concurrency=65)
    assert "64" in str(refused.value)
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "o"), "--max-concurrency", "65")
    assert run.exit_code == 2
    # Named as the option on the command line, not as the Python parameter.
    assert "'--max-concurrency'" in run.stderr
    assert "64" in run.stderr
    assert "max_concurrency" not in run.stderr
    assert not (tmp_path / "o").exists()
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "o"), "--max-concurrency", "64")
    assert run.exit_code == 0, run.stderr


def test_a_download_timeout_the_library_refuses_is_refused_as_the_help_says(
    cli: Cli, tmp_path: Path
) -> None:
    # The help said [x>=0], and 0 then failed in the library's words (`timeout must be`).
    with fake_service(FakeWeaver()) as lib, pytest.raises(InvalidArgumentError):
        lib.download_weights("weaver://m/checkpoints/c", tmp_path / "lib", timeout=0)
    shown = " ".join(cli("checkpoints", "download", "--help").stdout.split())
    assert "[greater than 0 and at most 31536000 (a year)]" in shown, shown
    ref = "weaver://m/checkpoints/c"
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "o"), "--timeout", "0")
    assert run.exit_code == 2
    said = "Invalid value for '--timeout': '0' is not a number of seconds greater than 0"
    assert said in run.stderr, run.stderr
    assert not (tmp_path / "o").exists()


def test_an_artifact_path_of_another_model_than_model_is_refused(cli: Cli, tmp_path: Path) -> None:
    # A checkpoint path that --model contradicts was refused; an artifact's was not.
    ref = "weaver://m-a/checkpoints/c1/artifacts/hf_adapter"
    out = tmp_path / "o"
    run = cli("checkpoints", "download", ref, "-o", str(out), "--model", "m-other")
    assert run.exit_code == 2, run.stderr
    assert "belongs to model m-a, but --model says m-other" in run.stderr
    assert not out.exists()


def _suggested(stderr: str) -> list[list[str]]:
    """The commands an error line suggests, each as its words after `weaver-facade`."""
    found = re.findall(r"`weaver-facade ([^`]+)`", stderr)
    return [command.split() for command in found]


@pytest.mark.parametrize("command", ["artifacts", "show"])
def test_an_artifacts_path_or_id_given_for_a_checkpoint_says_what_takes_it(
    cli: Cli, model_id: str, tmp_path: Path, command: str
) -> None:
    # Said only "is not a checkpoint path" (an id: "is a checkpoint id; add --model"),
    # without the checkpoint the path names, nor that `checkpoints download` takes both.
    ref = saved(cli, model_id)
    artifact = cli("checkpoints", "export", ref, "--json").json()
    for given, model in ((artifact["uri"], []), (artifact["id"], []), (artifact["id"], [model_id])):
        run = cli("checkpoints", command, given, *(["--model", *model] if model else []))
        assert run.exit_code == (1 if model else 2), run.stderr
        suggested = _suggested(run.stderr)
        download = ["checkpoints", "download", given, "-o", "DIR"]
        assert download in suggested, run.stderr
        out = tmp_path / f"o{len(model)}"
        done = cli(*[str(out) if word == "DIR" else word for word in download])
        assert done.exit_code == 0, done.stderr
        assert sorted(p.name for p in out.iterdir()) == sorted(f["name"] for f in artifact["files"])
        if given == artifact["uri"]:  # and the checkpoint's path, which the command takes
            assert f" {ref} " in run.stderr or f" {ref}," in run.stderr, run.stderr
            assert cli("checkpoints", command, ref).exit_code == 0


@pytest.mark.parametrize(
    "command",
    [["show"], ["artifacts"], ["delete"], ["set-ttl", "--permanent"], ["export"], ["load", "m-1"]],
    ids=lambda c: c[0],
)
def test_an_artifacts_path_is_refused_naming_its_checkpoint(command: list[str]) -> None:
    # Refused before any request, in every command that takes a checkpoint's REF.
    uri = "weaver://m-1/checkpoints/c1/artifacts/hf_model"
    name, *rest = command
    run = invoke(["checkpoints", name, *rest, uri], {"WEAVER_BASE_URL": None})
    assert run.exit_code == 2, run.stderr
    assert "weaver://m-1/checkpoints/c1," in run.stderr, run.stderr
    assert ["checkpoints", "download", uri, "-o", "DIR"] in _suggested(run.stderr)


def test_ctrl_c_before_any_file_claims_none_stays(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "finished files and partial ones (*.part) stay in OUT" of a folder never made.
    ref = saved(cli, model_id)
    out = tmp_path / "out"

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ServiceClient, "download_weights", interrupt)
    run = cli("checkpoints", "download", ref, "-o", str(out))
    assert run.exit_code == 130
    assert run.stderr.splitlines()[-1] == f"error: interrupted; nothing was written to {out}"
    assert not out.exists()


def test_ctrl_c_leaves_resumable_part_files(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref).exit_code == 0
    out = tmp_path / "out"

    def interrupt(self: object, progress: DownloadProgress) -> None:
        if progress.bytes_done > 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_artifacts._Bar, "__call__", interrupt)
    run = cli("checkpoints", "download", ref, "-o", str(out))
    assert run.exit_code == 130
    assert "run the same command again to resume" in run.stderr
    assert run.stderr.count("*.part") == 1  # not the library's note again
    parts = list(out.rglob("*.part"))
    assert parts
    assert any(p.stat().st_size > 0 for p in parts)
    run = cli("checkpoints", "download", ref, "-o", str(out), "--json")
    assert run.exit_code == 130
    assert f"error: {run.json()['error']['message']}" == run.stderr.splitlines()[-1]
    monkeypatch.undo()
    run = cli("checkpoints", "download", ref, "-o", str(out), "--json")
    assert run.exit_code == 0, run.stderr
    assert not list(out.rglob("*.part"))
    assert run.json()["bytes_fetched"] < run.json()["bytes"]


def test_artifacts_of_a_checkpoint_without_any(
    cli: Cli, model_id: str, service: ServiceClient
) -> None:
    ref = saved(cli, model_id)
    run = cli("checkpoints", "artifacts", ref)
    assert run.exit_code == 0
    assert "no artifacts" in run.stdout


def test_the_progress_bar_on_a_terminal_shows_bytes_rate_and_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setenv("TERM", "xterm")  # whatever the runner's is (dumb: no bar)

    from rich.console import Console

    screen = io.StringIO()
    now = [100.0]
    bar = cli_artifacts._Bar(
        quiet=False, console=Console(file=screen, force_terminal=True), clock=lambda: now[0]
    )
    total = 8_000_000
    with bar.shown():
        bar(DownloadProgress(bytes_done=0, bytes_total=total, files_done=0, files_total=3))
        for done in (4_000_000, 6_000_000):
            now[0] += 2.0
            bar(DownloadProgress(bytes_done=done, bytes_total=total, files_done=1, files_total=3))
    shown = screen.getvalue()
    assert "1/3 files" in shown
    # In the units of the table and of the plain lines (KiB, MiB: powers of 1024), which
    # the bar's were not (kB, MB). The bar gives the unit once, after the total.
    from weaver_facade._cli._output import _size

    assert (_size(6_000_000), _size(total)) == ("5.7 MiB", "7.6 MiB")
    assert "5.7/7.6 MiB" in shown  # bytes done of total
    assert f"{_size(1_000_000)}/s" in shown  # the rate, from the last 2 s
    assert " MB" not in shown
    assert "0:00:02" in shown  # the time left at that rate
    quiet = io.StringIO()
    silent = cli_artifacts._Bar(quiet=True, console=Console(file=quiet, force_terminal=True))
    with silent.shown():
        silent(DownloadProgress(bytes_done=1, bytes_total=2, files_done=0, files_total=1))
    assert quiet.getvalue() == ""


def test_without_a_terminal_that_can_redraw_each_file_is_a_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from rich.console import Console

    # TERM=dumb: rich draws no bar; a closed stderr (`2>&-`) has no stream to ask isatty.
    monkeypatch.setenv("TERM", "dumb")
    screen = io.StringIO()
    dumb = Console(file=screen, force_terminal=True)
    bar = cli_artifacts._Bar(quiet=False, console=dumb)
    with bar.shown():
        bar(DownloadProgress(bytes_done=2048, bytes_total=2048, files_done=1, files_total=1))
    assert screen.getvalue() == ""
    assert capsys.readouterr().err == "1/1 files, 2.0 KiB of 2.0 KiB\n"
    monkeypatch.setattr(sys, "stderr", None)
    closed = cli_artifacts._Bar(quiet=False)
    with closed.shown():
        closed(DownloadProgress(bytes_done=1, bytes_total=1, files_done=1, files_total=1))


def test_export_shows_its_operation_while_waiting(cli: Cli, model_id: str) -> None:
    # As save and load do: each change of the export operation is a line on stderr.
    ref = saved(cli, model_id, "shown")
    run = cli("checkpoints", "export", ref)
    assert run.exit_code == 0, run.stderr
    assert "operation op-" in run.stderr
    assert run.stderr.rstrip().endswith(": done")
    hit = cli("checkpoints", "export", ref)  # an identical export: no operation runs
    assert hit.exit_code == 0, hit.stderr
    assert "operation" not in hit.stderr


def test_an_identical_export_still_running_names_a_command_that_shows_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server may answer an identical export with its artifact, still pending (the
    # emulator answers the running operation instead): no operation to `operations wait`,
    # so both hints name `checkpoints artifacts` of the artifact's checkpoint.
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    fake.script("POST", EXPORT, *[json_reply(200, artifact_json("pending"))] * 4)
    fake.script("GET", LIST, *[json_reply(200, {"items": [artifact_json("pending")]})] * 100)
    clock = FakeClock()  # the watch's polls wait out --timeout on it
    poll = PollPolicy(PollSettings(), clock=clock)
    with fake_service(fake, poll=poll, sleep=clock.sleep) as other:
        trainer = other.training_client("m-1")
        monkeypatch.setattr(ServiceClient, "training_client", lambda *_: trainer)
        ref = "weaver://m-1/checkpoints/c"  # artifact_json's checkpoint
        hint = f"weaver-facade checkpoints artifacts {ref}"
        run = cli("checkpoints", "export", ref, "--no-wait", "--json")
        assert run.exit_code == 0, run.stderr
        assert run.json()["status"] == "pending"
        assert run.json()["id"] == artifact_json()["uri"]
        run = cli("checkpoints", "export", ref, "--no-wait")
        # That command looks, it does not wait ("wait for it with" promised more).
        assert run.stderr.strip() == f"look at it again with: {hint}"
        started = clock.now
        run = cli("checkpoints", "export", ref, "--timeout", "0.2", "--json")
        assert run.exit_code == 1
        assert 0 < clock.now - started <= 0.2  # the watch waited out --timeout, no more
        assert run.stderr.strip().endswith(f"look at it again with `{hint}`")
        assert run.json()["error"]["type"] == "OperationTimeoutError"

        def interrupted(*_: object, **__: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(OperationHandle, "watch", interrupted)
        run = cli("checkpoints", "export", ref)
        assert run.exit_code == 130
        assert run.stderr.strip().endswith(f"(`{hint}`)")


def test_a_file_the_server_gave_no_sha256_is_said_unchecked(
    cli: Cli, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shown as "sha256 not checked (--no-verify)" without --no-verify, and in JSON the
    # other files' checked hashes were hidden.
    import weaver_facade._artifacts as artifacts_module
    from weaver_facade._artifacts import descriptor_from_wire as given

    def without_first_sha256(gen: Any) -> Any:
        described = given(gen)
        first = attrs.evolve(described.files[0], sha256=None)
        return attrs.evolve(described, files=(first, *described.files[1:]))

    monkeypatch.setattr(artifacts_module, "descriptor_from_wire", without_first_sha256)
    ref = saved(cli, model_id)
    files = cli("checkpoints", "export", ref, "--json").json()["files"]
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "t"))
    assert run.exit_code == 0, run.stderr
    rows = {f["name"]: next(r for r in run.stdout.splitlines() if f["name"] in r) for f in files}
    assert "sha256 not checked (the server gave none)" in rows[files[0]["name"]]
    assert all(f"sha256 {f['sha256']}" in rows[f["name"]] for f in files[1:])
    shown = cli("checkpoints", "download", ref, "-o", str(tmp_path / "j"), "--json").json()
    assert shown["verified"] is False
    assert [f["sha256"] for f in shown["files"]] == [None] + [f["sha256"] for f in files[1:]]


def test_no_verify_shows_no_hash_as_if_checked(cli: Cli, model_id: str, tmp_path: Path) -> None:
    # The descriptor's sha256 next to a file that was never hashed would read as checked.
    ref = saved(cli, model_id)
    artifact = cli("checkpoints", "export", ref, "--json").json()
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "o"), "--no-verify")
    assert run.exit_code == 0, run.stderr
    for f in artifact["files"]:
        assert f["sha256"] not in run.stdout
        [row] = [line for line in run.stdout.splitlines() if f["name"] in line]
        assert "not checked" in row
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "v"))
    assert all(f["sha256"] in run.stdout for f in artifact["files"])
    # Nor in JSON, where the hash of a file skipped by size alone was given as checked.
    again = ("checkpoints", "download", ref, "-o", str(tmp_path / "v"), "--json")
    unchecked = cli(*again, "--no-verify")
    assert unchecked.exit_code == 0, unchecked.stderr
    assert unchecked.json()["verified"] is False
    assert unchecked.json()["files_skipped"] == len(artifact["files"])
    assert {f["sha256"] for f in unchecked.json()["files"]} == {None}
    checked = cli(*again).json()
    assert checked["verified"] is True
    assert {f["sha256"] for f in checked["files"]} == {f["sha256"] for f in artifact["files"]}


def test_download_timeout_ends_it_and_says_so(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # There was no --timeout: a stalled storage host held the command until Ctrl-C. And a
    # DownloadTimeoutError, an OSError too, would have read "cannot write to DIR".
    seen: dict[str, object] = {}

    def timed_out(*_: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise DownloadTimeoutError(
            "a.bin: the download's deadline passed at byte 5 of 9", name="a.bin"
        )

    monkeypatch.setattr(ServiceClient, "download_weights", timed_out)
    path = "weaver://m/checkpoints/c/artifacts/hf_adapter"
    run = cli("checkpoints", "download", path, "-o", str(tmp_path / "o"), "--timeout", "2.5")
    assert run.exit_code == 1
    assert seen["timeout"] == 2.5
    assert run.stderr.strip() == (
        "error: a.bin: the download's deadline passed at byte 5 of 9 (--timeout 2.5 s)"
    )
    assert cli("checkpoints", "download", path, "-o", "o", "--timeout", "-1").exit_code == 2


def test_a_full_disk_says_how_much_more_the_download_needs(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The line said "No space left on device" alone: the library's note, how much to free
    # and that the .part files stay, was left out.
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o" / "a.bin.part"))
    note = f"{tmp_path / 'o'}: the artifact needs 9 bytes more there; free that much"
    full.add_note(note)

    def no_room(*_: object, **kwargs: object) -> None:
        raise full

    monkeypatch.setattr(ServiceClient, "download_weights", no_room)
    path = "weaver://m/checkpoints/c/artifacts/hf_adapter"
    run = cli("checkpoints", "download", path, "-o", str(tmp_path / "o"), "--json")
    assert run.exit_code == 1
    line = f"cannot write to {tmp_path / 'o' / 'a.bin.part'}: No space left on device; {note}"
    assert run.stderr.strip() == f"error: {line}"
    assert run.json()["error"]["message"] == line


def test_a_download_timeout_names_the_timeout_given(
    cli: Cli, model_id: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A checkpoint's path is looked up first, and the download gets what that leaves:
    # its deadline was named as that ("the download's deadline (0.99994 s) passed").
    ref = saved(cli, model_id)
    send = httpx.HTTPTransport.handle_request

    def no_reply(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/artifacts"):
            return send(self, request)
        time.sleep(1.1)  # past --timeout: the API never answers
        raise httpx.ReadTimeout("no reply in time", request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_reply)
    run = cli("checkpoints", "download", ref, "-o", str(tmp_path / "o"), "--timeout", "1")
    assert run.exit_code == 1
    assert "list_artifacts" in run.stderr
    assert run.stderr.strip().endswith("(--timeout 1 s)"), run.stderr
    assert not re.search(r"0\.9\d* s", run.stderr)


def test_a_storage_error_shows_its_status_in_json(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # StorageError carries the last status storage answered; --json shows it as it does
    # an API error's.
    def refused(*_: object, **__: object) -> None:
        raise StorageError("a.bin: storage answered HTTP 403", name="a.bin", status_code=403)

    monkeypatch.setattr(ServiceClient, "download_weights", refused)
    path = "weaver://m/checkpoints/c/artifacts/hf_adapter"
    run = cli("checkpoints", "download", path, "-o", str(tmp_path / "o"), "--json")
    assert run.exit_code == 1
    error = run.json()["error"]
    assert error["type"] == "StorageError"
    assert error["status_code"] == 403


@pytest.mark.parametrize("emulator_config", [{}, {"extensions": "none"}], ids=["all", "none"])
def test_an_unknown_bare_id_says_a_checkpoint_id_needs_its_model(
    cli: Cli, model_id: str, tmp_path: Path, emulator_config: dict[str, str]
) -> None:
    # A bare id is an artifact's; a checkpoint's id was met by "artifact ... not found".
    # Without the checkpoint route (as on the real service) its artifacts tell its path.
    checkpoint = cli("checkpoints", "save", model_id, "c1", "--json").json()
    if emulator_config:
        cli("checkpoints", "export", "c1", "--model", model_id)
    run = cli("checkpoints", "download", checkpoint["id"], "-o", str(tmp_path / "o"))
    assert run.exit_code == 1
    assert f"artifact {checkpoint['id']} not found" in run.stderr
    assert run.stderr.strip().endswith(
        f"{checkpoint['id']} is the id of checkpoint {checkpoint['path']}, not of an artifact: "
        "to download its export, pass its path instead: "
        f"`weaver-facade checkpoints download {checkpoint['path']} -o DIR`"
    )
    # An id that names no checkpoint of this key either keeps the guess.
    unknown = str(uuid.uuid4())
    run = cli("checkpoints", "download", unknown, "-o", str(tmp_path / "o"))
    assert run.exit_code == 1
    assert run.stderr.strip().endswith("for a checkpoint's id, pass --model MODEL_ID")


def test_an_artifact_id_with_a_model_says_to_leave_the_model_out(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # With --model an id is a checkpoint's; an artifact's was met by "no checkpoint with id".
    cli("checkpoints", "save", model_id, "c1")
    artifact = cli("checkpoints", "export", "c1", "--model", model_id, "--json").json()
    out = tmp_path / "o"
    run = cli("checkpoints", "download", artifact["id"], "--model", model_id, "-o", str(out))
    assert run.exit_code == 1
    assert f"no checkpoint with id {artifact['id']}" in run.stderr
    assert run.stderr.strip().endswith("for an artifact's id, leave out --model")
    assert not out.exists()
    assert cli("checkpoints", "download", artifact["id"], "-o", str(out)).exit_code == 0


def test_an_unknown_model_with_an_id_gets_no_artifact_hint(cli: Cli, tmp_path: Path) -> None:
    # The 404 was the model's ("model m-typo not found"), not "no checkpoint with id":
    # leaving out --model is no way out of a mistyped model id.
    out = tmp_path / "o"
    ref = "5f0c6b9e-2a61-4d43-9b8e-0d2f7c1a9e11"
    run = cli("checkpoints", "download", ref, "--model", "m-typo", "-o", str(out))
    assert run.exit_code == 1
    assert "model m-typo not found" in run.stderr
    assert "leave out --model" not in run.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(
                    FaultRule(
                        kind="unavailable",
                        rate=1.0,
                        method="GET",
                        route="/api/v1/checkpoints/{checkpoint_id}",
                        retry_after=20,
                    ),
                ),
                seed=1,
            )
        }
    ],
)
def test_download_timeout_bounds_the_lookup_of_a_checkpoint_id(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # A checkpoint id (with --model) is looked up before the download, and that lookup
    # waited out a 20 s Retry-After whatever --timeout said (export's lookup keeps to it).
    run = cli("checkpoints", "save", model_id, "c1", "--json")
    assert run.exit_code == 0, run.stderr
    checkpoint_id = run.json()["id"]
    out = str(tmp_path / "out")
    started = time.monotonic()
    run = cli(
        "checkpoints",
        "download",
        checkpoint_id,
        "--model",
        model_id,
        "-o",
        out,
        "-q",
        "--timeout",
        "2",
    )
    assert time.monotonic() - started < 10
    assert run.exit_code == 1
    assert "503" in run.stderr


@pytest.mark.parametrize("emulator_config", [{"faults": FaultConfig(rules=(STORAGE_503,), seed=1)}])
def test_max_retries_says_that_a_downloads_storage_gets_retry_on_their_own(
    cli: Cli, model_id: str, tmp_path: Path
) -> None:
    # --max-retries was "Retries of a failed HTTP request": with 0, a download's GETs from
    # storage still retried (their own count, up to 9 failed attempts in a row), unsaid.
    ref = saved(cli, model_id)
    assert cli("checkpoints", "export", ref, "-q").exit_code == 0
    out = tmp_path / "out"
    run = cli(
        "--max-retries", "0", "checkpoints", "download", ref, "-o", str(out),
        "--max-concurrency", "1",  # the fault draws in one order
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert re.search(r"storage GET \S+ of artifact .*: HTTP 503; retrying", run.stderr)
    helped = " ".join(cli("--help").stdout.split())
    own = "a download's transfers from storage retry on their own, 8 times in a row at least"
    assert f"{own}, or N if more" in helped
