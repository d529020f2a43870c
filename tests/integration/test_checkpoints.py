"""Checkpoint management against the emulator: paging, references, TTLs, deletion, attaching."""

from __future__ import annotations

import datetime

import pytest

from tests.support.integration import (
    BASE_MODEL,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import (
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    NotFoundError,
    TrainingClient,
)

NAMES = [f"step-{i}" for i in range(5)]


def _save_all(trainer: TrainingClient) -> list[Checkpoint]:
    return [trainer.save_state(name, include_optimizer=False) for name in NAMES]


def _listings(recorder: Recorder) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in recorder.sent("GET", "/checkpoints")]


def test_listing_follows_every_page(trainer: TrainingClient, recorder: Recorder) -> None:
    saved = _save_all(trainer)
    assert trainer.list_checkpoints(page_size=2) == saved
    pages = _listings(recorder)
    assert [p["limit"] for p in pages] == ["2", "2", "2"]
    assert "cursor" not in pages[0]
    assert pages[1]["cursor"]
    assert pages[2]["cursor"] != pages[1]["cursor"]
    # One page that holds them all.
    assert trainer.list_checkpoints() == saved
    assert len(_listings(recorder)) == 4


def test_iter_checkpoints_is_lazy(trainer: TrainingClient, recorder: Recorder) -> None:
    saved = _save_all(trainer)
    listed = trainer.iter_checkpoints(page_size=2)
    assert _listings(recorder) == []
    assert next(listed) == saved[0]
    assert next(listed) == saved[1]
    assert len(_listings(recorder)) == 1
    assert next(listed) == saved[2]
    assert len(_listings(recorder)) == 2
    assert list(listed) == saved[3:]
    assert len(_listings(recorder)) == 3


async def test_async_listing(make_async_service: AsyncServiceFactory) -> None:
    trainer = await make_async_service().create_training_client(BASE_MODEL, seed=1)
    saved = [await trainer.save_state(name, include_optimizer=False) for name in NAMES]
    assert await trainer.list_checkpoints(page_size=2) == saved
    assert [c async for c in trainer.iter_checkpoints(page_size=3)] == saved


def test_get_by_every_kind_of_reference(trainer: TrainingClient) -> None:
    saved = trainer.save_state("ref")
    refs: list[object] = [
        saved,
        saved.id,
        str(saved.id),
        saved.path,
        str(saved.path),
    ]
    for ref in refs:
        assert trainer.get_checkpoint(ref) == saved, ref  # type: ignore[arg-type]


def test_ttl_set_and_cleared(trainer: TrainingClient) -> None:
    expiring = trainer.save_state("expiring", ttl_seconds=120)
    assert expiring.ttl_seconds == 120
    assert expiring.expires_at is not None
    assert expiring.expires_at - expiring.created_at == datetime.timedelta(seconds=120)

    before = datetime.datetime.now(datetime.UTC)
    longer = trainer.set_checkpoint_ttl(expiring.path, 3600)
    assert longer.id == expiring.id
    assert longer.ttl_seconds == 3600
    assert longer.expires_at is not None
    # Counted from now, not from creation.
    remaining = longer.expires_at - before
    assert datetime.timedelta(seconds=3590) < remaining < datetime.timedelta(seconds=3610)

    permanent = trainer.set_checkpoint_ttl(str(expiring.id), None)
    assert permanent.ttl_seconds is None
    assert permanent.expires_at is None
    assert trainer.get_checkpoint(expiring).ttl_seconds is None

    kept = trainer.save_state("permanent", ttl_seconds=None)
    assert (kept.ttl_seconds, kept.expires_at) == (None, None)


def test_delete_by_path(trainer: TrainingClient) -> None:
    keep, gone = trainer.save_state("keep"), trainer.save_state("gone")
    deleted = trainer.delete_checkpoint(str(gone.path))
    assert deleted.id == gone.id
    assert deleted.status is CheckpointStatus.DELETED
    assert trainer.list_checkpoints() == [keep]
    with pytest.raises(NotFoundError):
        trainer.get_checkpoint(gone.id)
    with pytest.raises(NotFoundError):
        trainer.load_state(gone)
    with pytest.raises(NotFoundError) as again:
        trainer.delete_checkpoint(gone)
    assert again.value.status_code == 404


def test_attached_client_manages_and_loads_checkpoints(
    make_service: ServiceFactory, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("shared")
    attached = make_service().training_client(trainer.model_id)
    assert attached.model_id == trainer.model_id
    assert attached.model.base_model == BASE_MODEL
    assert attached.list_checkpoints() == [saved]
    assert attached.load_state_with_optimizer(saved).optimizer_step == 1
    other = attached.save_state("from-attached")
    assert other.path == CheckpointPath(model_id=trainer.model_id, name="from-attached")
    assert [c.name for c in trainer.list_checkpoints()] == ["shared", "from-attached"]


def test_an_attached_client_continues_from_the_servers_next_seq_id(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    data = batch()
    reference = make_service().create_training_client(BASE_MODEL, seed=9)
    expected = []
    for _ in range(3):
        expected.append(reference.forward_backward(data).loss)
        reference.optim_step()

    first = make_service().create_training_client(BASE_MODEL, seed=9)
    for _ in range(2):  # seq_ids 1 to 4
        first.forward_backward(data)
        first.optim_step()

    # Counting from 1 again would get old operations back; the server says where to go on.
    attached = make_service().training_client(first.model_id)
    assert attached.model.next_seq_id == 5
    assert attached.forward_backward(data).loss == expected[2]
    assert attached.optim_step().metrics["optim:step"] == 3
    # An explicit next_seq_id overrides the server's.
    again = make_service().training_client(first.model_id, next_seq_id=7)
    sent = len(recorder.requests)
    again.forward_backward(data)
    assert len(recorder.requests) > sent
    assert make_service().training_client(first.model_id).model.next_seq_id == 8
