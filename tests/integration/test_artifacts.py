"""Exporting and downloading weights through the facade, against the emulator."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from tests.support.integration import AsyncServiceFactory, ServiceFactory, batch
from weaver_facade import (
    AmbiguousArtifactKindError,
    Artifact,
    ArtifactKind,
    ArtifactNotReadyError,
    ArtifactStatus,
    AsyncOperationHandle,
    DownloadProgress,
    InvalidArgumentError,
    MergeNotSupportedError,
    NotFoundError,
    OperationHandle,
    OperationProgress,
    ServiceClient,
    TrainingClient,
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_matches_manifest(artifact: Artifact, dest: Path) -> None:
    """Every file on disk is the one the server's manifest describes."""
    assert artifact.files
    for f in artifact.files:
        path = dest.joinpath(*f.name.split("/"))
        assert path.stat().st_size == f.size, f.name
        assert sha(path) == f.sha256, f.name
    on_disk = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert on_disk == sorted(f.name for f in artifact.files)


def test_export_a_checkpoint_then_download_it(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    checkpoint = trainer.save_state("ckpt")
    artifact = trainer.export_weights(checkpoint)
    assert artifact.status is ArtifactStatus.COMPLETED
    assert artifact.kind is ArtifactKind.HF_ADAPTER
    assert artifact.checkpoint_id == checkpoint.id
    assert artifact.uri == f"{checkpoint.path}/artifacts/hf_adapter"
    assert {f.name for f in artifact.files} >= {
        "adapter_model.safetensors",
        "adapter_config.json",
    }
    assert service.list_artifacts(checkpoint) == [artifact]
    seen: list[DownloadProgress] = []
    result = service.download_weights(artifact, tmp_path / "out", progress=seen.append)
    assert_matches_manifest(artifact, tmp_path / "out")
    assert result.artifact_id == artifact.id
    assert result.bytes == artifact.size_bytes == result.bytes_fetched
    assert result.files_skipped == 0
    assert {f.name for f in result.files} == {f.name for f in artifact.files}
    assert seen[-1].bytes_done == seen[-1].bytes_total == artifact.size_bytes
    assert seen[-1].files_done == len(artifact.files)
    config = json.loads(result.path("adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    # Again: every file is there already, nothing is fetched.
    again = service.download_weights(artifact.id, tmp_path / "out")
    assert (again.bytes_fetched, again.files_skipped) == (0, len(artifact.files))
    assert result.verified
    assert again.verified
    # Skipped by size alone: the result says no hash was checked.
    unchecked = service.download_weights(artifact.id, tmp_path / "out", verify=False)
    assert (unchecked.files_skipped, unchecked.verified) == (len(artifact.files), False)


def test_an_export_of_the_same_kind_returns_the_same_artifact_and_force_replaces_it(
    trainer: TrainingClient,
) -> None:
    checkpoint = trainer.save_state("ckpt")
    first = trainer.export_weights(checkpoint.path)
    assert trainer.export_weights(str(checkpoint.path)).id == first.id
    # Whatever TTL it asks for: the artifact keeps its own (README).
    again = trainer.export_weights(checkpoint, ttl_seconds=None)
    assert (again.id, again.ttl_seconds) == (first.id, first.ttl_seconds)
    assert first.ttl_seconds is not None
    handle = trainer.export_weights(checkpoint, wait=False)
    assert isinstance(handle, OperationHandle)
    assert handle.result().id == first.id
    forced = trainer.export_weights(checkpoint, force=True)
    assert forced.id != first.id
    assert forced.status is ArtifactStatus.COMPLETED


def test_an_export_that_keeps_another_ttl_says_so(
    trainer: TrainingClient, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = trainer.save_state("ckpt")
    first = trainer.export_weights(checkpoint, ttl_seconds=3600)
    assert first.ttl_seconds == 3600
    trainer.export_weights(checkpoint, ttl_seconds=3600)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # None follows the checkpoint's retention (permanent here), which the earlier
    # artifact does not.
    trainer.export_weights(checkpoint, ttl_seconds=None)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"artifact {first.id} keeps ttl_seconds=3600, not the checkpoint's retention" in warning
    caplog.clear()
    handle = trainer.export_weights(checkpoint, ttl_seconds=7200, wait=False)
    assert handle.result().ttl_seconds == 3600
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"artifact {first.id} keeps ttl_seconds=3600, not the 7200 asked" in warning
    assert warning.endswith("export_weights(..., force=True) replaces it")
    caplog.clear()
    assert trainer.export_weights(checkpoint, ttl_seconds=7200, force=True).ttl_seconds == 7200
    assert not caplog.records


def test_export_the_current_weights_in_one_step(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    artifact = trainer.export_weights()
    assert artifact.status is ArtifactStatus.COMPLETED
    # It was saved as a new checkpoint, which lists it.
    [listed] = service.list_artifacts(artifact.checkpoint_id)
    assert listed.id == artifact.id
    result = service.download_weights(str(artifact.id), tmp_path / "out")
    assert_matches_manifest(artifact, result.destination)
    with pytest.raises(InvalidArgumentError, match="force"):
        trainer.export_weights(None, force=True)


def test_a_download_of_a_lora_checkpoints_hf_model_says_to_merge(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    # Of a LoRA checkpoint exported as its adapter, a download of kind hf_model said
    # "export it first with export_weights()", which gives the same hf_adapter back (an
    # export of that kind already made): its hf_model is the adapter merged.
    checkpoint = trainer.save_state("ckpt")
    trainer.export_weights(checkpoint)
    with pytest.raises(NotFoundError) as missing:
        service.download_weights(checkpoint, tmp_path / "m", kind="hf_model")
    said = str(missing.value)
    assert said.endswith("; export it with export_weights(..., merge_adapter=True)"), said
    # The way out it names gives the download its kind.
    merged = trainer.export_weights(checkpoint, merge_adapter=True)
    result = service.download_weights(checkpoint, tmp_path / "m", kind="hf_model")
    assert result.artifact_id == merged.id


def test_download_by_path_with_and_without_kind(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    checkpoint = trainer.save_state("ckpt")
    with pytest.raises(NotFoundError, match="export it first") as missing:
        service.download_weights(checkpoint, tmp_path / "none")
    # The checkpoint is named by its path, not by the repr of the object passed.
    assert f"checkpoint {checkpoint.path} has no" in str(missing.value)
    adapter = trainer.export_weights(checkpoint)
    result = service.download_weights(str(checkpoint.path), tmp_path / "a")
    assert result.artifact_id == adapter.id
    merged = trainer.export_weights(checkpoint, merge_adapter=True)
    assert merged.kind is ArtifactKind.HF_MODEL
    assert "config.json" in {f.name for f in merged.files}
    with pytest.raises(AmbiguousArtifactKindError, match="pass kind='hf_adapter' or") as both:
        service.download_weights(checkpoint, tmp_path / "b")
    assert f"checkpoint {checkpoint.path} has artifacts" in str(both.value)
    assert both.value.checkpoint == str(checkpoint.path)
    assert both.value.kinds == ("hf_adapter", "hf_model")
    result = service.download_weights(checkpoint, tmp_path / "b", kind="hf_model")
    assert result.artifact_id == merged.id
    assert_matches_manifest(merged, tmp_path / "b")
    result = service.download_weights(f"{checkpoint.path}/artifacts/hf_adapter", tmp_path / "c")
    assert result.artifact_id == adapter.id
    with pytest.raises(InvalidArgumentError, match="names hf_adapter"):
        service.download_weights(
            f"{checkpoint.path}/artifacts/hf_adapter", tmp_path / "d", kind="hf_model"
        )
    with pytest.raises(InvalidArgumentError, match="is hf_adapter, not hf_model"):
        service.download_weights(str(adapter.id), tmp_path / "g", kind="hf_model")
    assert not (tmp_path / "g").exists()  # refused before anything is written
    with pytest.raises(InvalidArgumentError):
        service.download_weights("not-an-id", tmp_path / "e")
    with pytest.raises(InvalidArgumentError, match="max_concurrency"):
        service.download_weights(adapter, tmp_path / "f", max_concurrency=0)


def test_merging_a_full_ft_model_is_refused(service: ServiceClient) -> None:
    trainer = service.create_training_client("weaver-tiny", training_mode="full_ft")
    trainer.forward_backward(batch())
    trainer.optim_step()
    checkpoint = trainer.save_state("ft")
    for known in (checkpoint, None):  # its own model, whose mode the client knows
        with pytest.raises(MergeNotSupportedError, match="full_ft") as here:
            trainer.export_weights(known, merge_adapter=True)
        assert here.value.status_code is None  # refused before any request
    # By id, the checkpoint may be any model's: the server refuses it.
    with pytest.raises(MergeNotSupportedError) as there:
        trainer.export_weights(checkpoint.id, merge_adapter=True)
    assert there.value.status_code == 422
    assert trainer.export_weights(checkpoint).kind is ArtifactKind.HF_MODEL


def test_an_unknown_artifact_id_is_not_found(service: ServiceClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        service.download_weights(uuid.uuid4(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_deleted_checkpoints_artifact_stays_downloadable_by_id(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    # The README's word: deleting a checkpoint deletes no export of it.
    checkpoint = trainer.save_state("gone")
    artifact = trainer.export_weights(checkpoint)
    trainer.delete_checkpoint(checkpoint)
    with pytest.raises(NotFoundError):
        service.list_artifacts(checkpoint.path)  # found through the checkpoint: no more
    result = service.download_weights(artifact.id, tmp_path / "out")
    assert result.verified
    assert_matches_manifest(artifact, tmp_path / "out")


def test_export_reports_operation_progress(make_service: ServiceFactory) -> None:
    seen: list[OperationProgress] = []
    service = make_service(on_progress=seen.append)
    trainer = service.create_training_client("weaver-tiny", seed=1)
    trainer.forward_backward(batch())
    trainer.optim_step()
    checkpoint = trainer.save_state("p")
    seen.clear()
    artifact = trainer.export_weights(checkpoint)
    assert artifact.status is ArtifactStatus.COMPLETED
    # The export reports its conversion while it runs, then its end.
    running = [p.conversion for p in seen if p.conversion is not None]
    assert running
    assert all(c.bytes_done <= (artifact.size_bytes or 0) for c in running)
    assert seen[-1].status.value == "done"


async def test_async_export_and_download(
    make_async_service: AsyncServiceFactory, tmp_path: Path
) -> None:
    service = make_async_service()
    trainer = await service.create_training_client("weaver-tiny", seed=3)
    await trainer.forward_backward(batch())
    await trainer.optim_step()
    checkpoint = await trainer.save_state("ckpt")
    handle = await trainer.export_weights(checkpoint, wait=False)
    assert isinstance(handle, AsyncOperationHandle)
    artifact = await handle
    assert artifact.status is ArtifactStatus.COMPLETED
    assert await service.list_artifacts(checkpoint.id) == [artifact]
    result = await service.download_weights(checkpoint.path, tmp_path / "out")
    assert_matches_manifest(artifact, tmp_path / "out")
    assert result.bytes_fetched == artifact.size_bytes
    with pytest.raises(InvalidArgumentError, match="is hf_adapter, not hf_model"):
        await service.download_weights(artifact.id, tmp_path / "other", kind="hf_model")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("emulator_config", [{"latency": {"export_checkpoint": 1.0}}])
def test_download_by_path_while_the_export_runs_says_so(
    service: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    # It said "has no completed artifact; export it first" of an export still running;
    # by its id the server says 409 artifact_not_ready.
    checkpoint = trainer.save_state("ckpt")
    handle = trainer.export_weights(checkpoint, wait=False)
    with pytest.raises(ArtifactNotReadyError, match="hf_adapter artifact is still being exported"):
        service.download_weights(checkpoint, tmp_path / "early")
    assert not (tmp_path / "early").exists()
    artifact = handle.result()
    assert service.download_weights(checkpoint, tmp_path / "out").artifact_id == artifact.id
