"""Error cases against the emulator: each maps to its class, and bad input sends nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import API_KEY, BASE_MODEL, Recorder, ServiceFactory
from weaver_facade import (
    AdamParams,
    APIError,
    AuthenticationError,
    CheckpointExistsError,
    CheckpointPath,
    CheckpointType,
    ConflictError,
    IncompatibleCheckpointError,
    InvalidArgumentError,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    NotFoundError,
    OptimizerStateUnavailableError,
    TrainingClient,
    UnknownBaseModelError,
    UnprocessableEntityError,
)


def test_a_duplicate_name_is_a_conflict_and_keeps_the_original(trainer: TrainingClient) -> None:
    original = trainer.save_state("dup")
    with pytest.raises(CheckpointExistsError) as caught:
        trainer.save_state("dup", include_optimizer=False)
    error = caught.value
    assert isinstance(error, ConflictError)
    assert error.status_code == 409
    assert error.code == "checkpoint_exists"
    assert error.retryable is False
    assert error.request_id
    assert "dup" in str(error)
    assert trainer.list_checkpoints() == [original]


def test_unknown_checkpoints_are_not_found(trainer: TrainingClient) -> None:
    missing = CheckpointPath(model_id=trainer.model_id, name="never-saved")
    with pytest.raises(NotFoundError) as by_server:
        trainer.load_state(missing)
    assert by_server.value.status_code == 404
    assert by_server.value.code == "not_found"
    with pytest.raises(NotFoundError) as by_id:
        trainer.get_checkpoint(uuid.uuid4())
    assert by_id.value.status_code == 404
    with pytest.raises(NotFoundError):
        trainer.delete_checkpoint(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        trainer.set_checkpoint_ttl(missing, 60)
    # A path is looked up among the model's checkpoints: not found without a 404.
    with pytest.raises(NotFoundError, match="never-saved") as by_path:
        trainer.get_checkpoint(str(missing))
    assert by_path.value.status_code is None


def test_optimizer_load_of_a_weight_only_checkpoint(
    trainer: TrainingClient, recorder: Recorder
) -> None:
    weights = trainer.save_state("weights-only", include_optimizer=False)
    assert weights.type is CheckpointType.WEIGHT
    assert not weights.has_optimizer_state

    # Given the Checkpoint, the facade knows its type: refused before any request.
    sent = len(recorder.requests)
    with pytest.raises(OptimizerStateUnavailableError) as client_side:
        trainer.load_state_with_optimizer(weights)
    assert len(recorder.requests) == sent
    assert client_side.value.status_code is None
    assert client_side.value.code == "optimizer_state_unavailable"
    assert isinstance(client_side.value, ValueError)
    assert "weights-only" in str(client_side.value)

    # Given only a path, the server refuses with 422: the same class.
    with pytest.raises(OptimizerStateUnavailableError) as server_side:
        trainer.load_state_with_optimizer(str(weights.path))
    assert len(recorder.requests) == sent + 1
    assert server_side.value.status_code == 422
    assert server_side.value.code == "optimizer_state_unavailable"
    assert isinstance(server_side.value, UnprocessableEntityError)
    assert isinstance(server_side.value, ValueError)

    # The weights themselves load fine.
    assert trainer.load_state(weights).include_optimizer is False


def test_a_checkpoint_of_another_shape_is_incompatible(
    make_service: ServiceFactory, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("rank-32")
    narrow = make_service().create_training_client(BASE_MODEL, lora_rank=4)
    with pytest.raises(IncompatibleCheckpointError) as caught:
        narrow.load_state(saved)
    assert caught.value.status_code == 422


def test_an_unknown_base_model(make_service: ServiceFactory) -> None:
    with pytest.raises(UnknownBaseModelError) as caught:
        make_service().create_training_client("weaver-nonexistent")
    assert caught.value.status_code == 422
    assert caught.value.code == "unknown_base_model"


def test_bad_input_sends_nothing(trainer: TrainingClient, recorder: Recorder) -> None:
    sent = len(recorder.requests)
    with pytest.raises(InvalidCheckpointPath, match="scheme"):
        trainer.load_state("s3://bucket/checkpoints/x")
    with pytest.raises(InvalidCheckpointPath, match="model id"):
        trainer.load_state_with_optimizer("weaver://-bad/checkpoints/x")
    with pytest.raises(InvalidCheckpointName):
        trainer.save_state("a/b")
    with pytest.raises(InvalidArgumentError, match="learning_rate"):
        trainer.optim_step(AdamParams(learning_rate=-1.0))
    assert len(recorder.requests) == sent


def test_a_wrong_key_is_an_authentication_error_without_the_key(
    make_service: ServiceFactory,
) -> None:
    wrong = "sk-wrong-" + uuid.uuid4().hex
    service = make_service(api_key=wrong)
    with pytest.raises(AuthenticationError) as caught:
        service.create_training_client(BASE_MODEL)
    error = caught.value
    assert error.status_code == 401
    assert isinstance(error, APIError)
    for text in (str(error), repr(error), repr(service), str(error.details)):
        assert wrong not in text
        assert API_KEY not in text
