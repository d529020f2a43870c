"""Error cases against the emulator: each maps to its class, and bad input sends nothing."""

from __future__ import annotations

import inspect
import uuid

import pytest

from tests.support.integration import (
    API_KEY,
    BASE_MODEL,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import (
    AdamParams,
    APIError,
    AuthenticationError,
    BadRequestError,
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
    PayloadTooLargeError,
    SeqIdConflictError,
    ServiceClient,
    TrainingClient,
    UnknownBaseModelError,
    UnprocessableEntityError,
    datum_from_tokens,
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


def test_a_path_whose_name_no_save_could_use_is_the_servers_not_found(
    service: ServiceClient, trainer: TrainingClient, recorder: Recorder
) -> None:
    # Such a name can come from a server (the wire says only `"name"?: str`): the facade
    # sends its path, and the emulator, which never made it, answers its usual 404.
    odd = f"weaver://{trainer.model_id}/checkpoints/epoch 2"
    for load in (trainer.load_state, trainer.load_state_with_optimizer):
        with pytest.raises(NotFoundError) as by_server:
            load(odd)
        assert (by_server.value.status_code, by_server.value.code) == (404, "not_found")
        # The model read back finds it: the 404 was the checkpoint's, and says no more.
        assert [r.url.path for r in recorder.requests[-2:]] == [
            f"/api/v1/models/{trainer.model_id}/load",
            f"/api/v1/models/{trainer.model_id}",
        ]
        assert not getattr(by_server.value, "__notes__", [])
    with pytest.raises(NotFoundError) as ttl:
        trainer.set_checkpoint_ttl(odd, 60)
    assert ttl.value.status_code == 404
    # Those looked up among the model's checkpoints are not found there.
    with pytest.raises(NotFoundError, match="epoch 2"):
        trainer.get_checkpoint(odd)
    with pytest.raises(NotFoundError, match="epoch 2"):
        service.create_training_client_from_state(odd)
    with pytest.raises(NotFoundError, match="epoch 2"):
        trainer.export_weights(odd)


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


def test_no_key_at_all_says_how_to_give_one(
    make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first script against a server that wants a key, with none set: the 401 says
    # what was missing, whatever the server's own words are.
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    with pytest.raises(AuthenticationError) as caught:
        make_service(api_key=None).create_training_client(BASE_MODEL)
    assert caught.value.__notes__ == ["no API key was given: set WEAVER_API_KEY or pass api_key="]
    with pytest.raises(AuthenticationError) as wrong:
        make_service(api_key="sk-wrong-3c1").create_training_client(BASE_MODEL)
    assert not getattr(wrong.value, "__notes__", [])


def test_a_refused_step_loses_nothing(trainer: TrainingClient) -> None:
    # weaver-tiny's vocabulary is 0..255: the server refuses and names the field.
    with pytest.raises(BadRequestError) as caught:
        trainer.forward_backward([datum_from_tokens([1, 2, 300, 4])])
    error = caught.value
    assert error.status_code == 400
    assert error.code == "invalid_request"
    assert "300" in error.message
    assert "model_input" in str(error.details.get("field"))
    # The model trains on as if nothing happened.
    assert trainer.forward_backward(batch()).loss > 0
    assert trainer.optim_step().metrics["optim:step"] == 2


def test_a_step_whose_seq_id_another_client_took_says_how_to_go_on(
    make_service: ServiceFactory,
) -> None:
    # Two clients train one model, each counting its steps: the one behind meets a seq_id
    # it never chose, and its error says why and how to go on from the server's count.
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL)
    trainer.forward_backward(batch())  # seq_id 1
    other = make_service().training_client(trainer.model_id)
    other.forward_backward([datum_from_tokens([4, 5, 6])])  # seq_id 2, another body
    with pytest.raises(SeqIdConflictError) as caught:
        trainer.forward_backward(batch())  # seq_id 2 again
    (note,) = caught.value.__notes__
    assert "another client" in note
    assert f"service.training_client({trainer.model_id!r})" in note
    # Doing what the note says goes on: the count follows the server's again.
    assert service.training_client(trainer.model_id).forward_backward(batch()).loss > 0
    assert trainer.optim_step().metrics["optim:step"] == 1


def test_a_sequence_or_batch_beyond_the_server_s_capacity_is_its_400(
    service: ServiceClient, trainer: TrainingClient, recorder: Recorder
) -> None:
    # The wire sets no most: the facade sends what the real service (contexts of 32k tokens
    # and more) may take, and the emulator refuses beyond its own capacity, which it states.
    (tiny,) = [m for m in service.supported_models() if m.name == BASE_MODEL]
    most = tiny.config["max_sequence_length"]
    posts = len(recorder.sent("POST", "/forward-backward-passes"))
    long = datum_from_tokens([i % 256 for i in range(2 * most + 1)])
    with pytest.raises(BadRequestError) as caught:
        trainer.forward_backward([datum_from_tokens([1, 2]), long])
    error = caught.value
    assert (error.status_code, error.code) == (400, "invalid_request")
    assert f"{2 * most} tokens, more than {BASE_MODEL}'s" in error.message
    assert f"maximum sequence length of {most}" in error.message
    assert str(error.details.get("field")).endswith("data[1].model_input")
    with pytest.raises(BadRequestError, match="512 Datum, more than the 256"):
        trainer.forward_backward([datum_from_tokens([1, 2])] * 512)
    # Both were sent, refused by the server, and cost the model nothing.
    assert len(recorder.sent("POST", "/forward-backward-passes")) == posts + 2
    assert trainer.forward_backward(batch()).loss > 0
    assert trainer.optim_step().metrics["optim:step"] == 2


@pytest.mark.parametrize("emulator_config", [{"max_body_size": 65536}])
def test_a_body_beyond_the_server_s_limit_is_payload_too_large_sent_once(
    trainer: TrainingClient, recorder: Recorder
) -> None:
    posts = len(recorder.sent("POST", "/forward-backward-passes"))
    tokens = [i % 256 for i in range(4096)]
    with pytest.raises(PayloadTooLargeError) as caught:
        trainer.forward_backward([datum_from_tokens(tokens)] * 4)
    error = caught.value
    assert (error.status_code, error.code, error.retryable) == (413, "payload_too_large", False)
    assert "larger than 65536 bytes" in error.message
    # Never retried (it would fail the same way), and it cost the model nothing.
    assert len(recorder.sent("POST", "/forward-backward-passes")) == posts + 1
    assert trainer.forward_backward(batch()).loss > 0
    # forward_backward's docstring named BadRequestError alone for what is too large.
    said = " ".join((inspect.getdoc(TrainingClient.forward_backward) or "").split())
    assert f"a request body larger than it takes with ``{type(error).__name__}``" in said


def test_the_large_vocabulary_model(make_service: ServiceFactory) -> None:
    trainer = make_service().create_training_client("weaver-large-vocab", lora_rank=4, seed=1)
    assert trainer.model.base_model == "weaver-large-vocab"
    result = trainer.forward_backward([datum_from_tokens([1, 2, 150_000, 4])])
    assert len(result.logprobs[0]) == 3
    trainer.optim_step()
    saved = trainer.save_state("big")
    assert saved.size_bytes is not None
    assert saved.size_bytes > 0
    assert trainer.load_state_with_optimizer(saved).optimizer_step == 1


async def test_async_error_cases(
    make_async_service: AsyncServiceFactory, recorder: Recorder
) -> None:
    trainer = await make_async_service().create_training_client(BASE_MODEL, seed=1)
    weights = await trainer.save_state("w", include_optimizer=False)
    with pytest.raises(CheckpointExistsError):
        await trainer.save_state("w")
    sent = len(recorder.requests)
    with pytest.raises(OptimizerStateUnavailableError) as client_side:
        await trainer.load_state_with_optimizer(weights)
    assert client_side.value.status_code is None
    assert len(recorder.requests) == sent
    with pytest.raises(OptimizerStateUnavailableError) as server_side:
        await trainer.load_state_with_optimizer(str(weights.path))
    assert server_side.value.status_code == 422
    with pytest.raises(NotFoundError):
        await trainer.get_checkpoint(uuid.uuid4())
