"""export_weights against the fake server: the two replies of an export, and the
typed ``wait=`` overloads (checked by ``mypy --strict`` and at run time)."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import email.utils
import inspect
import logging
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, assert_type

import httpx
import pytest

from tests.support.fakeserver import (
    ARTIFACT,
    CHECKPOINT,
    EXPORT,
    LIST,
    FakeClock,
    FakeWeaver,
    artifact_json,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.no_search import no_search
from weaver_facade import (
    Artifact,
    ArtifactStatus,
    AsyncOperationHandle,
    CheckpointRef,
    ConversionProgress,
    ExportInProgressError,
    InvalidArgumentError,
    NotFoundError,
    OperationFailedError,
    OperationHandle,
    OperationProgress,
    OperationStatus,
    OperationTimeoutError,
    PollPolicy,
    PollSettings,
    ResponseValidationError,
    UnsafeArtifactPathError,
)
from weaver_facade._artifacts import artifact_result
from weaver_facade._operations import DEADLINE_GRACE, OperationSnapshot

OTHER = uuid.UUID("5d9e6679-7425-40de-944b-e07fc1f90ae8")  # a second artifact of the checkpoint


def operation_json(status: str, response: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "op-x", "status": status, "kind": "export_checkpoint"}
    if response is not None:
        body["response"] = response
    if status == "running":
        body["metadata"] = {"conversion_progress": {"shards_done": 0, "bytes_done": 1}}
    return body


def running_hit() -> FakeWeaver:
    """A server that answers the export with its pending artifact, completed on the
    second listing."""
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    fake.script(
        "GET",
        LIST,
        json_reply(200, {"items": [artifact_json("pending")]}),
        json_reply(200, {"items": [artifact_json("completed")]}),
    )
    return fake


def test_an_export_met_by_a_redirect_names_where_it_leads() -> None:
    # The export's own reply parser, which tells an Artifact from an Operation, sees every
    # status below 400: a redirect must still read as one, as on every other route.
    fake = FakeWeaver()
    moved = httpx.Response(307, headers={"Location": "https://moved.example/export"})
    fake.script("POST", EXPORT, moved)
    with service(fake) as svc, pytest.raises(ResponseValidationError) as moved_away:
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    said = str(moved_away.value)
    assert "HTTP status 307 (a redirect to https://moved.example/export, which " in said, said


def test_a_202_is_waited_for_and_typed() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(202, operation_json("running")))
    fake.script(
        "GET", "/api/v1/operations/op-x", json_reply(200, operation_json("done", artifact_json()))
    )
    seen: list[OperationProgress] = []
    with service(fake, on_progress=seen.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        artifact = trainer.export_weights(CHECKPOINT)
        assert_type(artifact, Artifact)
        assert artifact.id == ARTIFACT
        assert artifact.files[0].name == "a.bin"
    assert seen[0].conversion == ConversionProgress(shards_done=0, bytes_done=1)
    assert seen[-1].status.value == "done"
    [post] = fake.sent("POST", EXPORT)
    # The official SDK's body, with its default TTL of 7 days (the wire sheet).
    assert fake.body(post) == {
        "format": "huggingface",
        "merge_adapter": False,
        "ttl_seconds": 604800,
        "force": False,
    }
    assert "Idempotency-Key" in post.headers


@pytest.mark.parametrize("given", ["path", "checkpoint", "id"])
def test_a_started_export_is_of_its_checkpoints_model(given: str) -> None:
    # A server without operation-details says no model; the checkpoint's path names it
    # (another model than the trainer's here), so the handle has it, as a save's has.
    fake = FakeWeaver()
    fake.checkpoints["m-2"].append({**checkpoint_json("m-2", "c"), "id": str(CHECKPOINT)})
    bare = {"id": "op-x", "status": "pending"}
    fake.script("POST", EXPORT, json_reply(202, bare))
    with service(fake) as svc:
        trainer = svc.training_client("m-1")
        path = "weaver://m-2/checkpoints/c"
        refs: dict[str, CheckpointRef] = {
            "path": path,
            "checkpoint": svc.training_client("m-2").get_checkpoint(path),
            "id": CHECKPOINT,
        }
        ref = refs[given]
        handle = trainer.export_weights(ref, wait=False)
    assert handle.kind == "export_checkpoint"
    # An id alone names no model: the export may be of any model's checkpoint.
    assert handle.model_id == (None if given == "id" else "m-2")


def test_a_save_and_export_sends_the_official_sdks_body() -> None:
    fake = FakeWeaver()
    hf = "/api/v1/models/m-1/export-hf"
    fake.script("POST", hf, json_reply(200, artifact_json()), json_reply(200, artifact_json()))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        trainer.export_weights()
        trainer.export_weights(merge_adapter=True, ttl_seconds=60)
    first, second = (fake.body(post) for post in fake.sent("POST", hf))
    # The wire sheet: the export body without ``force``, the default TTL 7 days.
    assert first == {"format": "huggingface", "merge_adapter": False, "ttl_seconds": 604800}
    assert second == {"format": "huggingface", "merge_adapter": True, "ttl_seconds": 60}


def test_a_200_hit_returns_the_existing_artifact_and_a_done_handle() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json()), json_reply(200, artifact_json()))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        handle = trainer.export_weights(CHECKPOINT, wait=False, ttl_seconds=None, force=True)
        assert_type(handle, OperationHandle[Artifact])
        assert handle.done()
        assert handle.result().id == ARTIFACT
        assert trainer.export_weights(CHECKPOINT).status is ArtifactStatus.COMPLETED
    assert not fake.sent("GET", "/api/v1/operations/op-x")
    body = fake.body(fake.sent("POST", EXPORT)[0])
    assert body["ttl_seconds"] is None
    assert body["force"] is True


def test_a_200_hit_on_a_running_export_is_waited_for_through_the_listing() -> None:
    fake = running_hit()
    with service(fake) as svc:
        artifact = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    assert artifact.status is ArtifactStatus.COMPLETED
    assert len(fake.sent("GET", LIST)) == 2


def test_a_failed_artifact_is_an_operation_failure() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    fake.script(
        "GET", LIST, json_reply(200, {"items": [artifact_json("error", error="disk full")]})
    )
    with service(fake) as svc, pytest.raises(OperationFailedError, match="disk full"):
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)


def test_a_done_export_whose_artifact_failed_is_an_operation_failure() -> None:
    # The done operation's artifact said `error`: export_weights returned it as its
    # result, a failed export as though it had worked, where a 200 with it raises.
    fake = FakeWeaver()
    failed = artifact_json("error", error="conversion crashed")
    fake.script("POST", EXPORT, json_reply(202, operation_json("done", failed)))
    with service(fake) as svc, pytest.raises(OperationFailedError, match="conversion crashed"):
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_done_export_whose_artifact_is_pending_is_waited_for(via: str) -> None:
    # The done operation's artifact still said `pending`: export_weights returned it, not
    # the completed artifact it promises, which a download then refused as not ready.
    fake = FakeWeaver()
    pending_artifact = artifact_json("pending")
    fake.script("POST", EXPORT, json_reply(202, operation_json("done", pending_artifact)))
    fake.script(
        "GET",
        LIST,
        json_reply(200, {"items": [artifact_json("pending")]}),
        json_reply(200, {"items": [artifact_json("completed")]}),
    )
    if via == "sync":
        with service(fake) as svc:
            artifact = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    else:

        async def exported() -> Artifact:
            svc = async_service(fake)
            try:
                trainer = await svc.create_training_client("weaver-tiny")
                return await trainer.export_weights(CHECKPOINT)
            finally:
                await svc.aclose()

        artifact = asyncio.run(exported())
    assert artifact.status is ArtifactStatus.COMPLETED
    assert len(fake.sent("GET", LIST)) == 2


def test_a_reattached_export_whose_artifact_is_pending_is_waited_for() -> None:
    # service.operation(id, Artifact) waits as the export's own handle does.
    fake = FakeWeaver()
    done = json_reply(200, operation_json("done", artifact_json("pending")))
    fake.script("GET", "/api/v1/operations/op-x", done)
    fake.script("GET", LIST, json_reply(200, {"items": [artifact_json("completed")]}))
    with service(fake) as svc:
        artifact = svc.operation("op-x", Artifact).result()
    assert artifact.status is ArtifactStatus.COMPLETED
    assert len(fake.sent("GET", LIST)) == 1


def test_an_existing_failed_export_fails_the_wait_and_the_handle() -> None:
    # A handle's result is the wait's, as for any failed operation.
    fake = FakeWeaver()
    failed = json_reply(200, artifact_json("error", error="conversion crashed"))
    fake.script("POST", EXPORT, failed, failed)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(OperationFailedError, match="conversion crashed"):
            trainer.export_weights(CHECKPOINT)
        handle = trainer.export_weights(CHECKPOINT, wait=False)
        assert handle.done()
        with pytest.raises(OperationFailedError, match="conversion crashed"):
            handle.result()
    assert not fake.sent("GET", LIST)


async def test_async_waits_for_a_running_hit_through_the_listing() -> None:
    fake = running_hit()
    svc = async_service(fake)
    try:
        trainer = await svc.create_training_client("weaver-tiny")
        artifact = await trainer.export_weights(CHECKPOINT)
    finally:
        await svc.aclose()
    assert artifact.status is ArtifactStatus.COMPLETED
    assert len(fake.sent("GET", LIST)) == 2


async def test_async_overloads() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json()), json_reply(200, artifact_json()))
    svc = async_service(fake)
    try:
        trainer = await svc.create_training_client("weaver-tiny")
        artifact = await trainer.export_weights(CHECKPOINT)
        assert_type(artifact, Artifact)
        handle = await trainer.export_weights(CHECKPOINT, wait=False)
        assert_type(handle, AsyncOperationHandle[Artifact])
        assert isinstance(handle, AsyncOperationHandle)
        assert (await handle).id == artifact.id
    finally:
        await svc.aclose()


def test_the_wait_for_a_running_hit_follows_the_client_poll_settings() -> None:
    # Backoff draws stay under 1 s, so every pause is min_interval: the client's own.
    sleeps: list[float] = []
    poll = PollSettings(min_interval=2.0, max_backoff=1.0)
    with service(running_hit(), sleep=sleeps.append, poll=poll) as svc:
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    assert sleeps
    assert set(sleeps) == {2.0}


@pytest.mark.parametrize(
    ("status", "body", "label", "field"),
    [
        (200, {k: v for k, v in artifact_json().items() if k != "id"}, "Artifact", "id"),
        (200, artifact_json("weird"), "Artifact", "status"),
        (202, {"status": "running", "kind": "export_checkpoint"}, "Operation", "id"),
        (200, {"status": "running", "kind": "export_checkpoint"}, "Operation", "id"),
        # A kind of neither (an artifact kind added to the spec, or none): by the status.
        (200, artifact_json() | {"kind": "gguf"}, "Artifact", "kind"),
        (200, {k: v for k, v in artifact_json().items() if k != "kind"}, "Artifact", "kind"),
        (200, artifact_json() | {"kind": ["hf_model"]}, "Artifact", "kind"),
        # An Artifact's `checkpoint_id`, no `uri`: an Artifact, not an Operation of its own kind.
        (
            200,
            {k: v for k, v in artifact_json().items() if k != "uri"} | {"kind": "adapter"},
            "Artifact",
            "uri",
        ),
        # Its status an Artifact's alone: an Artifact missing both fields, not an Operation.
        (
            200,
            {k: v for k, v in artifact_json().items() if k not in {"uri", "checkpoint_id"}},
            "Artifact",
            "checkpoint_id",
        ),
    ],
    ids=[
        "artifact-without-id",
        "artifact-with-unknown-status",
        "operation-without-id",
        "operation-at-200-without-id",
        "artifact-of-an-unknown-kind",
        "artifact-without-kind",
        "artifact-with-a-list-for-kind",
        "artifact-of-its-own-kind-without-uri",
        "completed-artifact-without-uri-or-checkpoint-id",
    ],
)
def test_a_bad_export_reply_is_explained_by_the_schema_of_its_kind(
    status: int, body: dict[str, Any], label: str, field: str
) -> None:
    # An export answers with an Artifact or an Operation, told apart by `kind`: a reply
    # that breaks it is explained from that schema, not in the generated code's words.
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(status, body))
    with service(fake) as svc, pytest.raises(ResponseValidationError) as info:
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    assert info.value.field == field
    assert str(info.value).startswith(f"export_checkpoint: {label}: ")
    assert "Error" not in str(info.value)  # no KeyError or ValueError text


@pytest.mark.parametrize("status", [200, 202])
def test_an_operation_given_an_artifact_kind_is_named_as_such(status: int) -> None:
    # The wire: an Operation's kind is never hf_model or hf_adapter. A server that sends
    # one anyway broke that rule; the reply is not an Artifact missing two fields.
    fake = FakeWeaver()
    fake.script(
        "POST", EXPORT, json_reply(status, operation_json("pending") | {"kind": "hf_model"})
    )
    with service(fake) as svc, pytest.raises(ResponseValidationError) as info:
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    message = str(info.value)
    assert message.startswith("export_checkpoint: the reply's kind 'hf_model' is an Artifact's")
    assert "an Operation given an artifact's kind" in message
    assert "required" not in message


@pytest.mark.parametrize("status", [200, 201, 202])
@pytest.mark.parametrize("shape", ["artifact", "operation", "operation-of-an-unlisted-kind"])
def test_an_export_reply_is_told_by_its_kind_whatever_its_2xx(status: int, shape: str) -> None:
    # The wire sheet: clients tell the Artifact from the Operation by its `kind`, and a
    # POST that starts an operation promises only "2xx"; the status decided before.
    # The sheet names no operation kinds: a server's own (`export`) is no Artifact's.
    fake = FakeWeaver()
    served = artifact_json()
    first = {
        "artifact": served,
        "operation": operation_json("pending"),
        "operation-of-an-unlisted-kind": operation_json("pending") | {"kind": "export"},
    }[shape]
    fake.script("POST", EXPORT, json_reply(status, first))
    fake.script("GET", "/api/v1/operations/op-x", json_reply(200, operation_json("done", served)))
    with service(fake) as svc:
        artifact = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    assert (str(artifact.id), artifact.kind.value, artifact.uri) == (
        served["id"],
        served["kind"],
        served["uri"],
    )
    polls = len(fake.sent("GET", "/api/v1/operations/op-x"))
    assert polls == (0 if shape == "artifact" else 1)


def test_a_bad_ttl_says_what_none_means_for_an_export() -> None:
    # None keeps the artifact as long as its checkpoint, not "permanent" as for a save.
    with service(FakeWeaver()) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(InvalidArgumentError) as info:
            trainer.export_weights(CHECKPOINT, ttl_seconds=0)
    assert "or None to follow the checkpoint" in str(info.value)
    assert "permanent" not in str(info.value)


def test_a_running_hit_not_yet_listed_is_still_pending() -> None:
    # A server whose list items carry no `status` (completed, says the wire) lists only
    # completed artifacts: the pending one was taken as gone ("the artifact disappeared").
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    listed = {k: v for k, v in artifact_json().items() if k != "status"}
    fake.script(
        "GET",
        LIST,
        json_reply(200, {"items": []}),
        json_reply(200, {"items": []}),
        json_reply(200, {"items": [listed]}),
    )
    with service(fake) as svc:
        artifact = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT)
    assert (artifact.id, artifact.status) == (ARTIFACT, ArtifactStatus.COMPLETED)
    assert len(fake.sent("GET", LIST)) == 3


def test_a_running_hit_never_listed_is_pending_until_the_wait_ends() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    fake.script("GET", LIST, json_reply(200, {"items": []}))
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, wait=False)
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=0)
    assert handle.status is OperationStatus.PENDING


# -- an identical export still running: no operation to re-attach to --------------------------

URI = "weaver://m-1/checkpoints/c/artifacts/hf_adapter"  # artifact_json's uri


def pending_hit(clock: FakeClock) -> tuple[FakeWeaver, PollPolicy]:
    """A server whose export answers 200 with the pending artifact, then lists it as
    unavailable (503, ``Retry-After: 20``) for ever; checkpoint ``c`` is CHECKPOINT."""
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    busy = json_reply(503, error_json("unavailable", "busy", retryable=True), {"Retry-After": "20"})
    fake.script("GET", LIST, *[busy] * 50)
    return fake, PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)


def test_a_running_hit_is_a_running_handle_whose_hint_works() -> None:
    # The handle is not done: the artifact it holds is pending. Its id is the artifact's
    # uri (the issue: `artifact-<uuid>` was named for service.operation, which 404s), and
    # the timeout's hint names a call that shows the artifact.
    clock = FakeClock()
    fake, poll = pending_hit(clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, wait=False)
        assert not handle.done()
        assert handle.status is OperationStatus.PENDING
        assert handle.id == URI
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)  # not PollSettings.timeout (an hour), list calls included
        assert clock.now - begin <= 5 + DEADLINE_GRACE
        hint = "list_artifacts('weaver://m-1/checkpoints/c')"
        assert hint in str(info.value)
        fake.scripts.clear()
        fake.script("GET", LIST, json_reply(200, {"items": [artifact_json("pending")]}))
        [shown] = svc.list_artifacts("weaver://m-1/checkpoints/c")
    assert shown.uri == info.value.operation_id


def test_re_attaching_to_a_running_hits_id_names_the_call_that_shows_it() -> None:
    # OperationHandle.id said that service.operation(id) re-attaches to it; with an
    # artifact's uri for id, that call said only that the id breaks the id pattern.
    clock = FakeClock()
    fake, poll = pending_hit(clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, wait=False)
        with pytest.raises(InvalidArgumentError) as refused:
            svc.operation(handle.id)
    checkpoint = URI.partition("/artifacts/")[0]
    assert str(refused.value).endswith(f"list_artifacts({checkpoint!r})"), refused.value
    said = " ".join((inspect.getdoc(OperationHandle.id) or "").split())
    assert "an export answered with its artifact, the artifact's ``uri``" in said, said


async def test_an_async_running_hit_keeps_the_wait_deadline() -> None:
    clock = FakeClock()
    fake, poll = pending_hit(clock)
    svc = async_service(fake, poll=poll, sleep=clock.asleep)
    try:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.export_weights(CHECKPOINT, wait=False)
        assert not handle.done()
        begin = clock.now
        with pytest.raises(OperationTimeoutError):
            await handle.result(timeout=5)
        assert clock.now - begin <= 5 + DEADLINE_GRACE
    finally:
        await svc.aclose()


def test_a_done_export_without_response_is_named_as_its_twins_are() -> None:
    # The save, step and export results share one rule: a done Operation has `response`.
    done = OperationSnapshot(id="op-1", status=OperationStatus.DONE)
    with pytest.raises(ResponseValidationError, match="has no `response` \\(its Artifact\\)"):
        artifact_result("export_checkpoint", done)


@pytest.mark.parametrize(
    ("field", "value"),
    # A sha256 that is no lowercase hex SHA-256 (the spec's wire rule) was taken as given.
    [("size", "3"), ("sha256", 7), ("sha256", "9F86D081" * 8), ("sha256", "9f86d081" * 7)],
)
def test_a_bad_manifest_file_field_is_named_where_it_is(field: str, value: object) -> None:
    manifest = {"format_version": 1, "files": [{"name": "a.bin", field: value}]}
    snapshot = OperationSnapshot(
        id="op-x", status=OperationStatus.DONE, response=artifact_json(manifest=manifest)
    )
    with pytest.raises(ResponseValidationError) as info:
        artifact_result("export_checkpoint", snapshot)
    assert info.value.field == f"manifest.files[0].{field}"
    assert f"field `manifest.files[0].{field}`" in str(info.value)


def test_a_listing_s_manifest_sha256_is_held_to_the_spec_s_pattern() -> None:
    # Taken as given, shown by `checkpoints artifacts`, while a download descriptor's
    # sha256 of the same form is refused.
    fake = FakeWeaver()
    manifest = {"format_version": 1, "files": [{"name": "a.bin", "size": 3, "sha256": "ABC"}]}
    fake.script("GET", LIST, json_reply(200, {"items": [artifact_json(manifest=manifest)]}))
    with service(fake) as svc, pytest.raises(ResponseValidationError) as info:
        svc.list_artifacts(CHECKPOINT)
    assert info.value.field == "manifest.files[0].sha256"
    assert "'ABC' is not 64 lowercase hex digits" in str(info.value)


def test_a_download_after_a_failed_export_says_the_export_failed(tmp_path: Path) -> None:
    # It said only "no completed hf_adapter artifact; export it first", as though none had
    # been tried: the user learnt why only by listing the artifacts.
    fake = FakeWeaver()
    failed = artifact_json("error", error="conversion ran out of disk")
    fake.script("GET", LIST, json_reply(200, {"items": [failed]}))
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path / "out")
    assert "hf_adapter export failed: conversion ran out of disk" in str(missing.value)
    assert not (tmp_path / "out").exists()


def test_a_download_of_a_kind_not_exported_names_the_kind_there(tmp_path: Path) -> None:
    # Of a full_ft checkpoint's hf_adapter, it said only "export it first", which makes
    # another hf_model: the user learnt that one was there only by listing the artifacts.
    fake = FakeWeaver()
    model = {
        **artifact_json(),
        "kind": "hf_model",
        "uri": "weaver://m-1/checkpoints/c/artifacts/hf_model",
    }
    fake.script("GET", LIST, json_reply(200, {"items": [model]}))
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path / "out", kind="hf_adapter")
    said = "has no completed hf_adapter artifact, only an hf_model one; export it first"
    assert said in str(missing.value)
    assert not (tmp_path / "out").exists()


def test_a_download_of_an_artifact_path_of_an_unknown_kind_is_refused_unsent(
    tmp_path: Path,
) -> None:
    # A typo in the path's last segment: refused by the path's own words, before any request
    # (a listing would only say that the checkpoint has no such artifact).
    fake = FakeWeaver()
    with service(fake) as svc, pytest.raises(InvalidArgumentError) as refused:
        svc.download_weights("weaver://m-1/checkpoints/c/artifacts/hf_adapters", tmp_path / "o")
    assert str(refused.value) == (
        "'weaver://m-1/checkpoints/c/artifacts/hf_adapters': an artifact's path ends in "
        "/artifacts/hf_model or /artifacts/hf_adapter"
    )
    assert fake.sent() == []
    assert not (tmp_path / "o").exists()


def test_a_download_of_a_checkpoint_never_exported_names_the_library_call(tmp_path: Path) -> None:
    # It said "export it first (export_weights, or `weaver-facade checkpoints export`)": the
    # command line's way out too, which the command line then cut off its text.
    fake = FakeWeaver()
    fake.script("GET", LIST, json_reply(200, {"items": []}))
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path / "out")
    assert str(missing.value).endswith(
        "checkpoint weaver://m-1/checkpoints/c has no completed artifact; export it first "
        "with export_weights()"
    ), str(missing.value)
    assert "weaver-facade" not in str(missing.value)


@pytest.mark.parametrize("given", ["uuid", "str"])
def test_a_download_by_a_checkpoint_s_id_says_to_pass_the_checkpoint(
    tmp_path: Path, given: str
) -> None:
    # An id alone is taken as an artifact's; a checkpoint's id, which looks alike, met a
    # bare 404 for an artifact that never was.
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    missing_reply = json_reply(404, error_json("not_found", f"artifact {CHECKPOINT} not found"))
    fake.script("GET", f"/api/v1/artifacts/{CHECKPOINT}/download", missing_reply)
    target = CHECKPOINT if given == "uuid" else str(CHECKPOINT)
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights(target, tmp_path / "out")
    assert f"get_artifact_download: artifact {CHECKPOINT} not found" in str(missing.value)
    assert missing.value.__notes__ == [
        f"{CHECKPOINT} is the id of checkpoint weaver://m-1/checkpoints/c, not of an "
        "artifact: to download its export, pass its path instead: "
        "download_weights('weaver://m-1/checkpoints/c', dest)"
    ]
    (cli,) = getattr(missing.value, "cli_notes", {}).values()
    assert cli.endswith("`weaver-facade checkpoints download weaver://m-1/checkpoints/c -o DIR`")


@pytest.mark.parametrize("route", [404, 405])
@pytest.mark.parametrize("listed", ["exported", "unexported", "disagreeing"])
def test_a_checkpoint_s_id_is_told_by_its_artifacts_without_the_checkpoint_route(
    tmp_path: Path, route: int, listed: str
) -> None:
    # The real service has no GET /checkpoints/{id}: a checkpoint's id given to
    # download_weights met a bare 404 there, though its artifacts' listing knows it.
    fake = FakeWeaver()
    fake.script("GET", f"/api/v1/checkpoints/{CHECKPOINT}", httpx.Response(route))
    # An artifact of another checkpoint, which a listing should not hold, tells nothing.
    other = artifact_json(
        id=str(uuid.uuid4()),
        checkpoint_id=str(uuid.uuid4()),
        uri="weaver://m-1/checkpoints/d/artifacts/hf_adapter",
    )
    # Two of its artifacts whose paths name two checkpoints tell nothing either.
    elsewhere = artifact_json(
        id=str(uuid.uuid4()), kind="hf_model", uri="weaver://m-1/checkpoints/e/artifacts/hf_model"
    )
    items = {
        "exported": [other, artifact_json()],
        "unexported": [other],
        "disagreeing": [other, artifact_json(), elsewhere],
    }[listed]
    fake.script("GET", LIST, json_reply(200, {"items": items}))
    missing_reply = json_reply(404, error_json("not_found", f"artifact {CHECKPOINT} not found"))
    fake.script("GET", f"/api/v1/artifacts/{CHECKPOINT}/download", missing_reply)
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights(CHECKPOINT, tmp_path / "out")
    assert f"get_artifact_download: artifact {CHECKPOINT} not found" in str(missing.value)
    # An empty listing does not tell a checkpoint without exports from no checkpoint.
    told = [
        f"{CHECKPOINT} is the id of checkpoint weaver://m-1/checkpoints/c, not of an "
        "artifact: to download its export, pass its path instead: "
        "download_weights('weaver://m-1/checkpoints/c', dest)"
    ]
    assert getattr(missing.value, "__notes__", []) == (told if listed == "exported" else [])


def _no_reply(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no reply", request=request)


@pytest.mark.parametrize("failing", ["checkpoint", "listing"])
def test_a_failed_look_for_a_checkpoint_s_id_leaves_the_404_bare(
    tmp_path: Path, failing: str
) -> None:
    # A look that got no reply was followed by the listing, which could wait as long
    # again; a 503 of the listing is not retried.
    fake = FakeWeaver()
    look = f"/api/v1/checkpoints/{CHECKPOINT}"
    fake.script("GET", look, _no_reply if failing == "checkpoint" else httpx.Response(404))
    listed = json_reply(200, {"items": [artifact_json()]})
    fake.script(
        "GET", LIST, json_reply(503, error_json("unavailable", "busy", retryable=True)), listed
    )
    missing_reply = json_reply(404, error_json("not_found", f"artifact {CHECKPOINT} not found"))
    fake.script("GET", f"/api/v1/artifacts/{CHECKPOINT}/download", missing_reply)
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights(CHECKPOINT, tmp_path / "out")
    assert getattr(missing.value, "__notes__", []) == []
    assert len(fake.sent("GET", look)) == 1
    assert len(fake.sent("GET", LIST)) == (failing == "listing")


@pytest.mark.parametrize("call", ["download", "list_artifacts", "export"])
def test_a_path_of_a_model_forgotten_with_its_listing_says_what_to_pass(
    tmp_path: Path, call: str
) -> None:
    # A server that forgets a terminated model may refuse its checkpoint listing too (404)
    # and still find its checkpoints by id: a path, looked up in that listing, met a bare
    # "[404 not_found] list_checkpoints: model m-1 not found".
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    gone = json_reply(404, error_json("not_found", "model m-1 not found"))
    path = "weaver://m-1/checkpoints/c"
    with service(fake) as svc:
        [checkpoint] = svc.training_client("m-1").list_checkpoints()  # before it was forgotten
        fake.script("GET", "/api/v1/models/m-1/checkpoints", gone)
        attempts: dict[str, Callable[[], object]] = {
            "download": lambda: svc.download_weights(path, tmp_path / "out"),
            "list_artifacts": lambda: svc.list_artifacts(path),
            "export": lambda: svc.training_client("m-1").export_weights(path),
        }
        with pytest.raises(NotFoundError) as missing:
            attempts[call]()
        assert "list_checkpoints: model m-1 not found" in str(missing.value)
        assert missing.value.__notes__ == [
            "model m-1 may not exist, or may have been terminated: a server may forget a "
            "terminated model and refuse to list its checkpoints, which it still finds by "
            "id; pass the Checkpoint instead of its path weaver://m-1/checkpoints/c, or its "
            "id (but to download_weights, which takes an id as an artifact's, the artifact's id)"
        ]
        (cli,) = getattr(missing.value, "cli_notes", {}).values()
        assert cli == (
            "model m-1 may not exist, or may have been terminated: a server may forget a "
            "terminated model and refuse to list its checkpoints; download an artifact of "
            "weaver://m-1/checkpoints/c by its id instead: "
            "`weaver-facade checkpoints download ARTIFACT_ID -o DIR`"
        )
        # The ways out the note names reach the artifacts with no listing of the model.
        listed = len(fake.sent("GET", "/api/v1/models/m-1/checkpoints"))
        fake.script("GET", LIST, *[json_reply(200, {"items": [artifact_json()]})] * 3)
        assert [a.id for a in svc.list_artifacts(checkpoint)] == [ARTIFACT]
        assert [a.id for a in svc.list_artifacts(checkpoint.id)] == [ARTIFACT]
        stop = json_reply(404, error_json("stop", "x"))
        fake.script("GET", f"/api/v1/artifacts/{ARTIFACT}/download", stop, stop)
        for target in (checkpoint, ARTIFACT):
            with pytest.raises(NotFoundError, match=r"\[404 stop\]"):
                svc.download_weights(target, tmp_path / "out")
        assert len(fake.sent("GET", "/api/v1/models/m-1/checkpoints")) == listed
        assert len(fake.sent("GET", f"/api/v1/artifacts/{ARTIFACT}/download")) == 2


def test_a_download_by_an_unknown_id_is_the_server_s_404_alone(tmp_path: Path) -> None:
    fake = FakeWeaver()  # the id names no checkpoint either
    missing_reply = json_reply(404, error_json("not_found", f"artifact {OTHER} not found"))
    fake.script("GET", f"/api/v1/artifacts/{OTHER}/download", missing_reply)
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights(OTHER, tmp_path / "out")
    assert getattr(missing.value, "__notes__", []) == []
    assert len(fake.sent("GET", f"/api/v1/checkpoints/{OTHER}")) == 1


def test_the_look_for_a_checkpoint_s_id_is_never_retried(tmp_path: Path) -> None:
    # It only adds a hint to the 404 in hand: on a busy server, retries held that 404 up
    # for seconds, with WARNINGs of a request the user never made.
    fake = FakeWeaver()
    missing_reply = json_reply(404, error_json("not_found", f"artifact {OTHER} not found"))
    fake.script("GET", f"/api/v1/artifacts/{OTHER}/download", missing_reply)
    busy = json_reply(503, error_json("unavailable", "busy", retryable=True))
    fake.script("GET", f"/api/v1/checkpoints/{OTHER}", busy, busy)
    sleeps: list[float] = []
    with service(fake, sleep=sleeps.append) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights(OTHER, tmp_path / "out")
    assert getattr(missing.value, "__notes__", []) == []
    assert len(fake.sent("GET", f"/api/v1/checkpoints/{OTHER}")) == 1
    assert sleeps == []


def test_an_export_that_failed_before_the_last_one_is_not_blamed(tmp_path: Path) -> None:
    # The wire gives a listing no order: a server listing the newest first, a deleted
    # artifact newer than a failed one, still got "its last export failed".
    fake = FakeWeaver()
    failed = artifact_json("error", error="out of disk", created_at="2026-11-29T10:00:00Z")
    deleted = {**artifact_json("deleted", created_at="2026-11-29T11:00:00Z"), "id": str(OTHER)}
    fake.script("GET", LIST, json_reply(200, {"items": [deleted, failed]}))
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    with service(fake) as svc, pytest.raises(NotFoundError) as missing:
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path / "out")
    assert "has no completed artifact; export it first" in str(missing.value)


def downloads_other_of(fake: FakeWeaver, items: list[dict[str, Any]], tmp_path: Path) -> None:
    """Check that a download of checkpoint c, whose artifacts ``items`` lists, takes
    ``OTHER`` (whose descriptor then stops it)."""
    fake.script("GET", LIST, json_reply(200, {"items": items}))
    fake.script(
        "GET", f"/api/v1/artifacts/{OTHER}/download", json_reply(404, error_json("stop", "x"))
    )
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    with service(fake) as svc, pytest.raises(NotFoundError, match=r"\[404 stop\]"):
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path / "out")


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
def test_the_newest_completed_artifact_is_downloaded_in_any_listing_order(
    tmp_path: Path, newest_first: bool
) -> None:
    # Of two exported within one whole second, the later in the order the other times show.
    fake = FakeWeaver()
    old = artifact_json(created_at="2026-11-29T10:00:00Z")
    tied = {**old, "created_at": "2026-11-29T11:00:00Z", "id": str(uuid.uuid4())}
    new = {**artifact_json(created_at="2026-11-29T11:00:00Z"), "id": str(OTHER)}
    items = [new, tied, old] if newest_first else [old, tied, new]
    downloads_other_of(fake, items, tmp_path)


async def test_an_artifact_of_another_kind_than_asked_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    # download_weights' docstring: kind, "given with an artifact or its id, the kind it
    # must be". The Artifact says its kind: nothing to ask the server, nothing written.
    fake = FakeWeaver()
    fake.script("GET", LIST, *(json_reply(200, {"items": [artifact_json()]}) for _ in range(2)))
    with service(fake) as svc:
        (adapter,) = svc.list_artifacts(CHECKPOINT)
        fake.requests.clear()
        with pytest.raises(InvalidArgumentError, match=f"artifact {ARTIFACT} is hf_adapter, not"):
            svc.download_weights(adapter, tmp_path / "out", kind="hf_model")
    async with async_service(fake) as async_svc:
        (adapter,) = await async_svc.list_artifacts(CHECKPOINT)
        fake.requests.clear()
        with pytest.raises(InvalidArgumentError, match="is hf_adapter, not hf_model"):
            await async_svc.download_weights(adapter, tmp_path / "out", kind="hf_model")
    assert fake.requests == []
    assert not (tmp_path / "out").exists()


def _export_met_after_a_lost_reply(fake: FakeWeaver, *artifacts: dict[str, Any]) -> None:
    """A forced export whose first attempt got a 503 (the server may have acted) and
    whose retry meets 409 ``export_in_progress``; the checkpoint's artifacts then."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    running = error_json("export_in_progress", "an export of it is running")
    date = {"Date": email.utils.format_datetime(now, usegmt=True)}
    fake.script(
        "POST",
        EXPORT,
        json_reply(503, error_json("unavailable", "overloaded", retryable=True)),
        json_reply(409, running, date),
    )
    fake.script("GET", LIST, json_reply(200, {"items": list(artifacts)}))


def test_a_retried_exports_409_without_its_own_export_is_the_conflict() -> None:
    # _recovery: a 409 after an attempt that may have acted is taken for our own export
    # only if the checkpoint has exactly one pending artifact made since; here the
    # running export is older than the first attempt (another caller's): a real conflict.
    fake = FakeWeaver()
    an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    older = artifact_json("pending", created_at=an_hour_ago.isoformat())
    _export_met_after_a_lost_reply(fake, older, {**artifact_json(), "id": str(OTHER)})
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(ExportInProgressError) as conflict:
            trainer.export_weights(CHECKPOINT, force=True)
    assert conflict.value.status_code == 409
    assert len(fake.sent("POST", EXPORT)) == 2
    assert len(fake.sent("GET", LIST)) == 1  # looked for its own, found none


def test_a_retried_exports_409_with_its_own_export_waits_for_it() -> None:
    # The same 409, and the one pending artifact was made since the first attempt: ours.
    fake = FakeWeaver()
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    _export_met_after_a_lost_reply(fake, artifact_json("pending", created_at=now))
    fake.script("GET", LIST, json_reply(200, {"items": [artifact_json(created_at=now)]}))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        artifact = trainer.export_weights(CHECKPOINT, force=True)
    assert (artifact.id, artifact.status) == (ARTIFACT, ArtifactStatus.COMPLETED)
    assert len(fake.sent("POST", EXPORT)) == 2


def test_a_retried_exports_409_with_its_own_export_done_by_the_listing_returns_it() -> None:
    # The same 409, but the export ran on while the retry's reply came back: the listing
    # read after it shows the artifact made since the first attempt already completed.
    # It raised ExportInProgressError for an export that had worked.
    fake = FakeWeaver()
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    _export_met_after_a_lost_reply(fake, artifact_json("completed", created_at=now))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        artifact = trainer.export_weights(CHECKPOINT, force=True)
    assert (artifact.id, artifact.status) == (ARTIFACT, ArtifactStatus.COMPLETED)
    assert len(fake.sent("POST", EXPORT)) == 2


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_a_destination_a_file_is_in_the_way_of_is_refused_before_any_request(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_bytes(b"keep")
    fake = FakeWeaver()
    with service(fake) as svc:
        fake.requests.clear()
        with pytest.raises(UnsafeArtifactPathError, match="is not a directory"):
            svc.download_weights(ARTIFACT, tmp_path / where)
    assert fake.requests == []
    assert (tmp_path / "file").read_bytes() == b"keep"


@pytest.mark.parametrize(("thing", "said"), [("file", "a file"), ("fifo", "a named pipe")])
def test_what_is_in_the_way_of_a_destination_is_named_as_it_is(
    tmp_path: Path, thing: str, said: str
) -> None:
    # A named pipe (or /dev/null) in the way was "a file" too, then "not a folder".
    there = tmp_path / "there"
    if thing == "file":
        there.write_bytes(b"keep")
    else:
        os.mkfifo(there)
    with service(FakeWeaver()) as svc, pytest.raises(UnsafeArtifactPathError) as refused:
        svc.download_weights(ARTIFACT, there / "sub")
    assert (
        str(refused.value) == f"{there / 'sub'} is not a directory: {there}, {said}, is in its way"
    )


@pytest.mark.parametrize("where", ["", "sub"])
def test_a_broken_symlink_as_a_destination_is_named_before_any_request(
    tmp_path: Path, where: str
) -> None:
    # A link to a disk not mounted, say: it was "not a directory" alone, which `ls` says
    # it is, and only once the artifact had been looked up.
    link = tmp_path / "models"
    link.symlink_to(tmp_path / "un\tmounted")  # shown escaped
    fake = FakeWeaver()
    with service(fake) as svc:
        fake.requests.clear()
        with pytest.raises(UnsafeArtifactPathError) as refused:
            svc.download_weights(ARTIFACT, link / where)
    broken = f"a broken symlink (to {tmp_path}/un\\tmounted)"
    assert str(refused.value) == (
        f"{link} is not a directory: it is {broken}"
        if not where
        else f"{link / where} is not a directory: {link}, {broken}, is in its way"
    )
    assert fake.requests == []
    assert not (tmp_path / "un\tmounted").exists()


def test_a_destination_s_control_characters_are_escaped_in_its_refusal(tmp_path: Path) -> None:
    # A folder from a variable or a glob: its newline split the message (one line of the
    # command line's, where it became a space) and its escape sequence reached the terminal.
    there = tmp_path / "a\nb\x1b[2Kc"
    there.write_bytes(b"keep")
    with service(FakeWeaver()) as svc, pytest.raises(UnsafeArtifactPathError) as refused:
        svc.download_weights(ARTIFACT, there / "sub\t")
    shown = f"{tmp_path}/a\\nb\\x1b[2Kc"
    assert str(refused.value) == (
        f"{shown}/sub\\t is not a directory: {shown}, a file, is in its way"
    )
    assert refused.value.name == str(there / "sub\t")  # the path itself, for code


@pytest.mark.parametrize("segments", [[255] * 20, [300]], ids=["path-max", "name-max"])
def test_a_destination_longer_than_the_system_holds_is_refused_before_any_request(
    tmp_path: Path, segments: list[int]
) -> None:
    # It raised the OSError (ENAMETOOLONG) of looking for it: the typed refusal of a file
    # path too long is the facade's for a destination too (the CLI said "cannot write").
    dest = tmp_path.joinpath(*("d" * n for n in segments))
    fake = FakeWeaver()
    with service(fake) as svc:
        fake.requests.clear()
        with pytest.raises(UnsafeArtifactPathError, match="a path the system cannot hold"):
            svc.download_weights(ARTIFACT, dest)
    assert fake.requests == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("below", ["out", "sub/out"])
def test_a_destination_below_a_folder_without_search_permission_is_refused_at_once(
    tmp_path: Path, below: str
) -> None:
    # A folder of mode rw- above `dest`: looking for what is in the way raised the bare
    # PermissionError, no WeaverError, where one that cannot be made is the typed refusal.
    locked = tmp_path / "locked"
    dest = locked / below
    fake = FakeWeaver()
    with no_search(locked), service(fake) as svc:
        fake.requests.clear()
        with pytest.raises(UnsafeArtifactPathError) as refused:
            svc.download_weights(ARTIFACT, dest)
    assert str(refused.value) == f"cannot write to {dest}: Permission denied"
    assert refused.value.name == str(dest)
    assert fake.requests == []
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
def test_a_pending_export_s_time_shows_the_listing_s_order_too(
    tmp_path: Path, newest_first: bool
) -> None:
    # The completed two tie and show no order on their own; a re-export under way does.
    fake = FakeWeaver()
    third = uuid.UUID("0b5c5f9e-3f0e-4d7a-9a55-1f6a3c2d9e11")
    fourth = uuid.UUID("5d1e0c4b-8a3f-4e2d-b7c6-2f9a1e3d5c77")
    tied = {**artifact_json(created_at="2026-11-29T11:00:00Z"), "id": str(third)}
    new = {**artifact_json(created_at="2026-11-29T11:00:00Z"), "id": str(OTHER)}
    again = {**artifact_json("pending", created_at="2026-11-29T12:00:00Z"), "id": str(fourth)}
    items = [again, new, tied] if newest_first else [tied, new, again]
    downloads_other_of(fake, items, tmp_path)


# -- an artifact that keeps another TTL than asked -------------------------------------------

HF = "/api/v1/models/m-1/export-hf"


def kept_ttl_warning(caplog: pytest.LogCaptureFixture) -> str:
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    warning = record.getMessage()
    assert f"artifact {ARTIFACT} keeps ttl_seconds=3600, not the 7200 asked" in warning
    # The library's way out; the command line shows its own words (``cli_message``),
    # which are the same but for it. Both were in every one.
    assert "weaver-facade" not in warning
    cli = getattr(record, "cli_message", None)
    assert cli == warning.replace(
        "export_weights(..., force=True)", "`weaver-facade checkpoints export --force`"
    )
    return warning


def test_a_200_hit_that_keeps_its_ttl_says_it_was_already_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json(ttl_seconds=3600)))
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, ttl_seconds=7200)
    warning = kept_ttl_warning(caplog)
    assert "an export of its kind was already made" in warning
    assert warning.endswith("; export_weights(..., force=True) replaces it")


def export_whose_server_keeps_3600(*, force: bool) -> None:
    """An export asking for 7200 s, answered 202, whose artifact keeps 3600."""
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(202, operation_json("running")))
    done = operation_json("done", artifact_json(ttl_seconds=3600))
    fake.script("GET", "/api/v1/operations/op-x", json_reply(200, done))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        trainer.export_weights(CHECKPOINT, ttl_seconds=7200, force=force)


async def test_an_async_export_s_ttl_warning_is_logged_in_its_caller_s_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An async result is parsed in a thread of its own; a record its parse logs must still
    # carry the caller's context, which a program's log filters read (a request id, say).
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
    seen: list[str] = []

    def note(record: logging.LogRecord) -> bool:
        seen.append(request_id.get())
        return True

    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(202, operation_json("running")))
    done = operation_json("done", artifact_json(ttl_seconds=3600))
    fake.script("GET", "/api/v1/operations/op-x", json_reply(200, done))
    logger = logging.getLogger("weaver_facade")
    logger.addFilter(note)
    try:
        async with async_service(fake) as svc:
            trainer = await svc.create_training_client("weaver-tiny")
            request_id.set("req-7")
            await trainer.export_weights(CHECKPOINT, ttl_seconds=7200)
    finally:
        logger.removeFilter(note)
    kept_ttl_warning(caplog)
    assert seen == ["req-7"]


def test_a_new_export_whose_ttl_the_server_set_is_not_said_to_be_already_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 202 starts an export, or is one of its kind still under way: which, the reply does
    # not tell, and the warning said "was already made" of both.
    export_whose_server_keeps_3600(force=False)
    warning = kept_ttl_warning(caplog)
    assert "already made" not in warning
    assert "the server set it, or answered with an export of its kind under way" in warning
    assert warning.endswith("; once that is done, export_weights(..., force=True) replaces it")


def test_a_forced_export_whose_ttl_the_server_set_names_no_force(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # force=True replaces any export of its kind: its 202 is a new export, and the warning
    # told to pass the force=True it had.
    export_whose_server_keeps_3600(force=True)
    assert kept_ttl_warning(caplog).endswith("not the 7200 asked: the server set it")


@pytest.mark.parametrize("given", ["path", "checkpoint"])
@pytest.mark.parametrize(
    ("checkpoint_ttl", "kept", "warned"),
    [(None, 3600, True), (7200, 3600, True), (3600, 3600, False), (None, None, False)],
    ids=["permanent", "other-ttl", "its-ttl", "none-kept"],
)
def test_a_200_hit_that_does_not_follow_the_checkpoint_says_so(
    caplog: pytest.LogCaptureFixture,
    given: str,
    checkpoint_ttl: int | None,
    kept: int | None,
    warned: bool,
) -> None:
    # ttl_seconds=None (`checkpoints export --follow-checkpoint`) asks the artifact to
    # follow the checkpoint's retention; an export of its kind already made came back with
    # its own TTL, and no warning said so (one was said only of a number asked).
    fake = FakeWeaver()
    listed = {**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT), "ttl_seconds": checkpoint_ttl}
    fake.checkpoints["m-1"].append(listed)
    fake.script("POST", EXPORT, json_reply(200, artifact_json(ttl_seconds=kept)))
    with service(fake) as svc:
        trainer = svc.training_client("m-1")
        path = "weaver://m-1/checkpoints/c"
        ref = path if given == "path" else trainer.get_checkpoint(path)
        caplog.clear()
        assert trainer.export_weights(ref, ttl_seconds=None).ttl_seconds == kept
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if not warned:
        assert warnings == []
        return
    [warning] = warnings
    assert warning.startswith(
        f"artifact {ARTIFACT} keeps ttl_seconds=3600, not the checkpoint's retention "
        f"(its ttl_seconds={checkpoint_ttl}) asked: an export of its kind was already made"
    )
    assert warning.endswith("; export_weights(..., force=True) replaces it")


def test_a_202_whose_artifact_does_not_follow_the_checkpoint_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 202 may be an export of its kind under way, started with another TTL: its artifact
    # kept that TTL without a word for ttl_seconds=None, where a number asked is warned of
    # (README: "for None, when the artifact's TTL is a number that is neither the
    # checkpoint's nor ends with it").
    fake = FakeWeaver()
    listed = {**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT), "ttl_seconds": None}
    fake.checkpoints["m-1"].append(listed)
    fake.script("POST", EXPORT, json_reply(202, operation_json("running")))
    done = operation_json("done", artifact_json(ttl_seconds=3600))
    fake.script("GET", "/api/v1/operations/op-x", json_reply(200, done))
    with service(fake) as svc:
        trainer = svc.training_client("m-1")
        trainer.export_weights("weaver://m-1/checkpoints/c", ttl_seconds=None)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(
        f"artifact {ARTIFACT} keeps ttl_seconds=3600, not the checkpoint's retention "
        "(its ttl_seconds=None) asked: the server set it, or answered with an export of its "
        "kind under way"
    )


def test_a_recovered_exports_artifact_that_does_not_follow_the_checkpoint_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The same for the export a 409 after a lost reply finds to be our own.
    fake = FakeWeaver()
    listed = {**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT), "ttl_seconds": None}
    fake.checkpoints["m-1"].append(listed)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    _export_met_after_a_lost_reply(fake, artifact_json(created_at=now, ttl_seconds=3600))
    with service(fake) as svc:
        trainer = svc.training_client("m-1")
        trainer.export_weights("weaver://m-1/checkpoints/c", ttl_seconds=None, force=True)
    [warning] = [m for r in caplog.records if "keeps ttl_seconds" in (m := r.getMessage())]
    assert warning.startswith(
        f"artifact {ARTIFACT} keeps ttl_seconds=3600, not the checkpoint's retention "
        "(its ttl_seconds=None) asked: the server set it"
    )


def test_a_200_hit_that_ends_with_the_checkpoint_follows_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server may count the artifact's TTL from the export and end it with the checkpoint.
    fake = FakeWeaver()
    ends = "2026-11-29T11:01:00Z"
    listed = {
        **checkpoint_json("m-1", "c"),
        "id": str(CHECKPOINT),
        "ttl_seconds": 3600,
        "expires_at": ends,
    }
    fake.checkpoints["m-1"].append(listed)
    fake.script("POST", EXPORT, json_reply(200, artifact_json(ttl_seconds=1800, expires_at=ends)))
    with service(fake) as svc:
        svc.training_client("m-1").export_weights("weaver://m-1/checkpoints/c", ttl_seconds=None)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


def test_a_save_and_export_whose_ttl_the_server_set_names_no_force(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It saves a new checkpoint, whose export none was made before; and force=True is
    # refused there.
    fake = FakeWeaver()
    started = {**operation_json("running"), "kind": "export_model_weights"}
    fake.script("POST", HF, json_reply(202, started))
    done = {**operation_json("done", artifact_json(ttl_seconds=3600)), "kind": started["kind"]}
    fake.script("GET", "/api/v1/operations/op-x", json_reply(200, done))
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny").export_weights(ttl_seconds=7200)
    warning = kept_ttl_warning(caplog)
    assert "already made" not in warning
    assert "force" not in warning
    assert warning.endswith("not the 7200 asked: the server set it")


def test_a_long_wait_for_a_running_hit_names_the_export(caplog: pytest.LogCaptureFixture) -> None:
    # A running hit is watched through its checkpoint's artifacts: there is no operation,
    # and the long wait's WARNING said "waiting for operation weaver://...".
    clock = FakeClock()
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    fake.script("GET", LIST, *[json_reply(200, {"items": [artifact_json("pending")]})] * 200)
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=clock.sleep) as svc,
    ):
        handle = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, wait=False)
        with pytest.raises(OperationTimeoutError) as raised:
            handle.result(timeout=400)
    # The wait's end names it as its WARNING does: it said "operation weaver://...".
    assert str(raised.value).startswith(f"the export of {URI} still pending after 400.0 s")
    said = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(said) == 1, said
    assert re.fullmatch(
        rf"waiting for the export of {re.escape(URI)} \(export_checkpoint, pending\) for "
        r"3(0\d|10) s so far; the wait ends after 400 s, its timeout; a Ctrl-C ends it "
        r"sooner, and the export keeps running on the server",
        said[0],
    )


def test_a_failed_hit_names_the_export() -> None:
    # Watched through its checkpoint's artifacts, with no operation: its failure said
    # "operation weaver://... failed", as the long wait's WARNING once did.
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "c"), "id": str(CHECKPOINT)})
    fake.script("POST", EXPORT, json_reply(200, artifact_json("pending")))
    failed = artifact_json("error", error="out of disk")
    fake.script("GET", LIST, json_reply(200, {"items": [failed]}))
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").export_weights(CHECKPOINT, wait=False)
        with pytest.raises(OperationFailedError) as raised:
            handle.result()
    assert str(raised.value) == f"the export of {URI} failed [export_failed]: out of disk"
