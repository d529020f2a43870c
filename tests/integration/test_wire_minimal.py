"""The whole workflow against a server that sends only what the wire sheet promises.

The emulator runs without extensions behind ``TrimmingTransport``
(``tests/support/wire_minimal.py``), which cuts each reply of the trimmed route groups
down to the fields ``weaver-wire.md`` promises. One test per group, so that one break
does not hide another, then every trim at once (sync and async). What the facade returns
is checked against the emulator's own records (its SQLite store) and, for downloads,
against the files' bytes on disk. Values the sheet allows but the emulator never sends
(a checkpoint name outside the spec's pattern) come from the scriptable ``FakeWeaver``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import FakeWeaver, checkpoint_json
from tests.support.fakeserver import service as fake_service
from tests.support.integration import API_KEY, BASE_MODEL, FAST_RETRY, batch
from tests.support.wire_minimal import GROUPS, ROUTES, TrimmingTransport
from weaver_facade import (
    AsyncServiceClient,
    CheckpointExistsError,
    CheckpointStatus,
    IncompatibleCheckpointError,
    InvalidArgumentError,
    NotFoundError,
    ServiceClient,
    UnknownBaseModelError,
    UnsupportedByServerError,
)
from weaver_facade.emulator import RunningEmulator, run_emulator
from weaver_facade.emulator._base_models import BASE_MODELS

ALL = {*GROUPS, "errors"}


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with run_emulator(api_keys=(API_KEY,), extensions="none") as running:
        yield running


def rows(emu: RunningEmulator, sql: str, *params: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(Path(emu.data_dir) / "weaver.db") as db:
        return list(db.execute(sql, params).fetchall())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def facade_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the facade logged and swallowed (a failed heartbeat or terminate, a retry)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("weaver_facade") and r.levelno >= logging.WARNING
    ]


# Wire routes the facade never asks; the table holds them all the same.
NOT_ASKED = {("GET", "/sessions/{}")}


def assert_routes_seen(transport: TrimmingTransport, groups: set[str]) -> None:
    """Every route of the trimmed groups that the facade uses was really asked (and so
    trimmed): a test of a group cannot pass by never reaching it."""
    for route in ROUTES:
        if route.group in groups and (route.method, route.path) not in NOT_ASKED:
            assert any(route.matches(m, p) for m, p, _ in transport.seen), (
                f"the workflow never asked {route.method} {route.path}"
            )


@contextmanager
def service_over(
    emu: RunningEmulator, transport: TrimmingTransport, **kw: Any
) -> Iterator[ServiceClient]:
    """A ServiceClient whose replies pass through ``transport``; closed, with its
    connections, on exit."""
    with (
        httpx.Client(transport=transport) as http,
        ServiceClient(emu.base_url, API_KEY, http_client=http, retry=FAST_RETRY, **kw) as service,
    ):
        yield service


def losses_recorded(emu: RunningEmulator, model_id: str) -> list[float]:
    """The server's own record of a model's forward-backward losses, in order."""
    recorded = rows(
        emu,
        "SELECT response FROM operations WHERE model_id=? AND kind='forward_backward' "
        "ORDER BY CAST(seq_id AS INTEGER)",
        model_id,
    )
    return [json.loads(r)["metrics"]["loss:sum"] for (r,) in recorded]


def manifest_hashes(emu: RunningEmulator, artifact_id: str) -> dict[str, str]:
    """The server's own record of an artifact's files: name -> sha256."""
    ((manifest,),) = rows(emu, "SELECT manifest FROM artifacts WHERE id=?", artifact_id)
    return {f["name"]: f["sha256"] for f in json.loads(manifest)["files"]}


def workflow(emu: RunningEmulator, service: ServiceClient, dest: Path) -> list[str]:
    """The user's checkpoint workflow through the public API; returns the created model ids.

    Each step's result is compared with the server's records, not with another reply.
    """
    data = batch()
    assert BASE_MODEL in {m.name for m in service.supported_models()}
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    losses = []
    for _ in range(2):
        losses.append(trainer.forward_backward(data).loss)
        assert trainer.optim_step().metrics
    assert losses == losses_recorded(emu, trainer.model_id)

    saved = trainer.save_state("wire-minimal")
    assert saved.status is CheckpointStatus.COMPLETED
    assert str(saved.path) == f"weaver://{trainer.model_id}/checkpoints/wire-minimal"
    assert rows(emu, "SELECT id, name, type, status FROM checkpoints") == [
        (str(saved.id), "wire-minimal", "weight_and_optimizer", "completed")
    ]
    assert trainer.list_checkpoints() == [saved]
    following = trainer.forward_backward(data).loss
    changed = trainer.set_checkpoint_ttl(saved, 3600)
    assert (changed.id, changed.ttl_seconds) == (saved.id, 3600)
    assert rows(emu, "SELECT ttl_seconds FROM checkpoints WHERE id=?", str(saved.id)) == [(3600,)]

    # Weights and optimizer state into another model: it continues where the first did.
    other = service.create_training_client(BASE_MODEL, seed=2)
    loaded = other.load_state_with_optimizer(saved)
    assert loaded.path == saved.path
    assert other.forward_backward(data).loss == following
    resumed = service.create_training_client_from_state(saved)
    assert resumed.resumed_from is not None
    assert resumed.resumed_from.path == saved.path
    assert resumed.forward_backward(data).loss == following

    artifact = trainer.export_weights(saved)
    assert rows(emu, "SELECT id, kind, status FROM artifacts") == [
        (str(artifact.id), artifact.kind.value, "completed")
    ]
    result = service.download_weights(artifact, dest)
    on_disk = {f.name: sha256(result.path(f.name)) for f in result.files}
    assert on_disk == manifest_hashes(emu, str(artifact.id))
    # An identical export is answered with the artifact itself (200), no new one.
    assert trainer.export_weights(saved).id == artifact.id
    assert [a.id for a in service.list_artifacts(saved)] == [artifact.id]
    # Save and export in one step (export-hf); then download by the checkpoint's path,
    # which finds the artifact in the checkpoint's list.
    merged = trainer.export_weights(merge_adapter=True)
    ((checkpoint_id, kind),) = rows(
        emu, "SELECT checkpoint_id, kind FROM artifacts WHERE id=?", str(merged.id)
    )
    assert (str(merged.checkpoint_id), merged.kind.value) == (checkpoint_id, kind)
    assert (checkpoint_id, kind) != (str(saved.id), "hf_adapter")  # a new checkpoint, merged
    again = service.download_weights(saved.path, dest.with_name("by-path"))
    assert {f.name: sha256(again.path(f.name)) for f in again.files} == on_disk
    return [trainer.model_id, other.model_id, resumed.model_id]


def run_trimmed(
    emu: RunningEmulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    groups: set[str],
    **options: Any,
) -> TrimmingTransport:
    """The workflow with ``groups`` trimmed, then close: its models end terminated, and the
    facade logged no failure it swallowed."""
    caplog.set_level(logging.WARNING, logger="weaver_facade")
    transport = TrimmingTransport(groups, **options.pop("transport", {}))
    with service_over(emu, transport, **options) as service:
        made = workflow(emu, service, tmp_path / "weights")
    statuses = dict(rows(emu, "SELECT id, status FROM models"))
    assert {model_id: statuses[model_id] for model_id in made} == dict.fromkeys(made, "terminated")
    assert facade_warnings(caplog) == []
    assert_routes_seen(transport, groups)
    return transport


# -- one route group at a time -----------------------------------------------------------------


def test_sessions_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(emu, tmp_path, caplog, {"sessions"})


@pytest.mark.parametrize("no_body", [False, True], ids=["empty-object", "no-body"])
def test_heartbeat_trimmed(
    emu: RunningEmulator, caplog: pytest.LogCaptureFixture, no_body: bool
) -> None:
    # "POST /sessions/{session_id}/heartbeat: empty body, 200. The real SDK ... ignores the
    # reply." Nothing is promised of the reply: `{}`, or no body at all.
    caplog.set_level(logging.WARNING, logger="weaver_facade")
    transport = TrimmingTransport({"heartbeat"}, no_body={"heartbeat"} if no_body else ())
    (beat,) = (r for r in ROUTES if r.group == "heartbeat")
    with service_over(emu, transport, heartbeat_interval=0.05) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        assert transport.wait_for(beat)
        trainer.forward_backward(batch())
    ((last,),) = rows(emu, "SELECT last_heartbeat_at FROM sessions")
    assert last is not None
    assert facade_warnings(caplog) == []


def test_models_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(emu, tmp_path, caplog, {"models"})


def test_models_with_only_their_id(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(emu, tmp_path, caplog, {"models"}, transport={"sparse": True})


@pytest.mark.parametrize(
    "settings",
    [{"training_mode": "lora", "lora_rank": 8, "seed": 1}, {"training_mode": "full_ft"}],
    ids=["lora-rank-8", "full-ft"],
)
def test_resume_copies_the_model_settings_from_a_trimmed_model(
    emu: RunningEmulator, settings: dict[str, Any]
) -> None:
    transport = TrimmingTransport({"models"})
    with service_over(emu, transport) as service:
        trainer = service.create_training_client(BASE_MODEL, **settings)
        trainer.forward_backward(batch())
        trainer.optim_step()
        saved = trainer.save_state("settings")
        following = trainer.forward_backward(batch()).loss
        resumed = service.create_training_client_from_state(saved)
        assert resumed.forward_backward(batch()).loss == following
    made = {
        model_id: (mode, lora)
        for model_id, mode, lora in rows(emu, "SELECT id, training_mode, lora_config FROM models")
    }
    assert made[resumed.model_id] == made[trainer.model_id]


def test_resume_in_another_process_says_which_settings_it_guessed(emu: RunningEmulator) -> None:
    # A client that did not create the source model knows only what the server says.
    with service_over(emu, TrimmingTransport({"models"})) as first:
        trainer = first.create_training_client(BASE_MODEL, lora_rank=8, seed=1)
        trainer.forward_backward(batch())
        trainer.optim_step()
        saved = trainer.save_state("rank-8")
    with (
        service_over(emu, TrimmingTransport({"models"})) as second,
        pytest.raises(IncompatibleCheckpointError) as refused,
    ):
        second.create_training_client_from_state(saved)
    message = str(refused.value)
    assert f"the server did not describe model {trainer.model_id}'s settings" in message
    assert "guessed training_mode 'lora' and LoRA rank 32" in message
    assert "create_training_client) and call load_state_with_optimizer on it" in message
    made = rows(emu, "SELECT lora_config FROM models ORDER BY rowid")
    ranks = [json.loads(lora)["rank"] for (lora,) in made]
    assert ranks == [8, 32]  # the guess was made, and the load refused it


def test_resume_in_another_process_from_a_model_described_by_id_alone(
    emu: RunningEmulator,
) -> None:
    # The wire requires only the model's id: the base model then comes from the caller.
    with service_over(emu, TrimmingTransport({"models"}, sparse=True)) as first:
        trainer = first.create_training_client(BASE_MODEL, seed=1)
        trainer.forward_backward(batch())
        trainer.optim_step()
        saved = trainer.save_state("id-only")
        following = trainer.forward_backward(batch()).loss
    transport = TrimmingTransport({"models"}, sparse=True)
    with service_over(emu, transport) as second:
        with pytest.raises(InvalidArgumentError, match=r"base_model=\.\.\."):
            second.create_training_client_from_state(saved)
        assert rows(emu, "SELECT count(*) FROM models") == [(1,)]
        resumed = second.create_training_client_from_state(saved, base_model=BASE_MODEL)
        assert resumed.forward_backward(batch()).loss == following
    assert transport.trimmed["models"] >= 2


def test_terminate_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(emu, tmp_path, caplog, {"terminate"})


def test_terminate_model_trimmed(emu: RunningEmulator) -> None:
    transport = TrimmingTransport({"terminate"})
    with service_over(emu, transport) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1, keep=True)
        service.terminate_model(trainer.model_id)
    assert rows(emu, "SELECT status FROM models") == [("terminated",)]


def test_a_model_this_client_created_is_described_whole_by_id_alone(emu: RunningEmulator) -> None:
    # Model replies of the id alone, a terminate reply of none: get_model and terminate_model
    # gave base_model None for a model this client had just created.
    transport = TrimmingTransport({"models", "terminate"}, sparse=True)
    with service_over(emu, transport) as service:
        trainer = service.create_training_client(BASE_MODEL, lora_rank=8, seed=1, keep=True)
        seen = [service.get_model(trainer.model_id), service.terminate_model(trainer.model_id)]
    (base, mode, rank) = rows(emu, "SELECT base_model, training_mode, lora_config FROM models")[0]
    for model in seen:
        assert model.id == trainer.model_id
        assert (model.base_model, model.training_mode, model.lora_rank) == (
            base,
            mode,
            json.loads(rank)["rank"],
        )


def test_listing_models_on_a_server_with_only_the_wire_routes(emu: RunningEmulator) -> None:
    transport = TrimmingTransport((), only_wire_routes=True)
    with service_over(emu, transport) as service:
        service.create_training_client(BASE_MODEL, seed=1)
        with pytest.raises(UnsupportedByServerError):
            service.list_models()


def test_supported_models_trimmed(emu: RunningEmulator) -> None:
    transport = TrimmingTransport({"supported-models"})
    with service_over(emu, transport) as service:
        listed = service.supported_models()
    assert {m.name for m in listed} == set(BASE_MODELS)
    assert all(m.config for m in listed)
    assert_routes_seen(transport, {"supported-models"})


def test_training_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Without extensions the emulator's training replies hold no more than the wire
    # promises (an operation with nothing queued ahead has no pending_info): the routes
    # were seen, and their replies needed no trimming.
    transport = run_trimmed(emu, tmp_path, caplog, {"training"})
    assert "training" not in transport.trimmed


def test_operations_started_with_another_2xx(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(
        emu, tmp_path, caplog, {"training", "checkpoints"}, transport={"operation_status": 201}
    )


def test_checkpoints_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = run_trimmed(emu, tmp_path, caplog, {"checkpoints"})
    assert transport.trimmed["checkpoints"] > 0  # the emulator sends more than the wire promises


@pytest.mark.parametrize("no_body", [False, True], ids=["empty-object", "no-body"])
def test_checkpoint_ttl_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, no_body: bool
) -> None:
    # "synchronous": nothing is promised of the reply, `{}` or no body at all; the
    # workflow reads the changed TTL back and compares it with the server's record.
    no = {"checkpoint-ttl"} if no_body else set()
    transport = run_trimmed(emu, tmp_path, caplog, {"checkpoint-ttl"}, transport={"no_body": no})
    if not no_body:
        assert transport.trimmed["checkpoint-ttl"] > 0  # the emulator sends the Checkpoint


def test_artifacts_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = run_trimmed(emu, tmp_path, caplog, {"artifacts"})
    assert transport.trimmed["artifacts"] > 0  # the emulator sends more than the wire promises


def test_artifacts_without_what_may_be_missing(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # "`size` and `sha256` may be missing; then nothing can be verified or skipped";
    # "an item without `status` counts as completed".
    transport = run_trimmed(emu, tmp_path, caplog, {"artifacts"}, transport={"sparse": True})
    assert transport.trimmed["artifacts"] > 0


def test_errors_trimmed(emu: RunningEmulator) -> None:
    transport = TrimmingTransport({"errors"})
    with service_over(emu, transport) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        with pytest.raises(UnknownBaseModelError) as unknown:
            service.create_training_client("no-such-base-model")
        assert unknown.value.status_code == 422
        with pytest.raises(NotFoundError):
            service.get_model("m-no-such-model")
        trainer.save_state("twice")
        with pytest.raises(CheckpointExistsError) as exists:
            trainer.save_state("twice")
        assert exists.value.request_id
    assert {status for _, _, status in transport.seen} >= {404, 409, 422}


def test_a_listed_checkpoint_whose_name_the_wire_allows() -> None:
    # The official SDK sends `"name"?: str`; one checkpoint named outside the spec's
    # pattern (saved by it, or named by the server) must not make the whole list fail.
    fake = FakeWeaver()
    with fake_service(fake) as service:
        trainer = service.create_training_client(BASE_MODEL)
        model_id = trainer.model_id
        fake.checkpoints[model_id] += [
            checkpoint_json(model_id, "step-1"),
            checkpoint_json(model_id, "epoch 2"),
        ]
        assert [c.name for c in trainer.list_checkpoints()] == ["step-1", "epoch 2"]


# -- every trim at once ------------------------------------------------------------------------


def test_everything_trimmed(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_trimmed(
        emu,
        tmp_path,
        caplog,
        ALL,
        heartbeat_interval=0.05,
        transport={"only_wire_routes": True},
    )


async def test_everything_trimmed_async(
    emu: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="weaver_facade")
    transport = TrimmingTransport(ALL, only_wire_routes=True)
    data = batch()
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncServiceClient(emu.base_url, API_KEY, http_client=http, retry=FAST_RETRY) as service,
    ):
        trainer = await service.create_training_client(BASE_MODEL, seed=1)
        losses = []
        for _ in range(2):
            losses.append((await trainer.forward_backward(data)).loss)
            await trainer.optim_step()
        assert losses == losses_recorded(emu, trainer.model_id)
        saved = await trainer.save_state("async")
        assert await trainer.list_checkpoints() == [saved]
        following = (await trainer.forward_backward(data)).loss
        changed = await trainer.set_checkpoint_ttl(saved, None)
        assert (changed.id, changed.ttl_seconds) == (saved.id, None)
        other = await service.create_training_client(BASE_MODEL, seed=2)
        await other.load_state_with_optimizer(saved)
        assert (await other.forward_backward(data)).loss == following
        resumed = await service.create_training_client_from_state(saved)
        assert (await resumed.forward_backward(data)).loss == following
        artifact = await trainer.export_weights(saved)
        result = await service.download_weights(artifact, tmp_path / "weights")
        on_disk = {f.name: sha256(result.path(f.name)) for f in result.files}
        assert on_disk == manifest_hashes(emu, str(artifact.id))
        made = [trainer.model_id, other.model_id, resumed.model_id]
    statuses = dict(rows(emu, "SELECT id, status FROM models"))
    assert [statuses[m] for m in made] == ["terminated"] * 3
    assert facade_warnings(caplog) == []
