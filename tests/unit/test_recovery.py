"""The rule that tells a retried save's own checkpoint from a real conflict (``_recovery``).

Pure: errors, deliveries and checkpoints are built by hand, times are chosen."""

from __future__ import annotations

import datetime
import uuid

import pytest
from weaver_client.types import UNSET

from weaver_facade import (
    APIError,
    Artifact,
    ArtifactKind,
    ArtifactStatus,
    Checkpoint,
    CheckpointExistsError,
    CheckpointPath,
    CheckpointStatus,
    CheckpointType,
    ConflictError,
    ExportInProgressError,
    ModelTerminatedError,
    NotFoundError,
    OperationStatus,
)
from weaver_facade._plans import Plan
from weaver_facade._recovery import (
    CLOCK_TOLERANCE,
    ResourceWatch,
    SaveIntent,
    created_since,
    own_checkpoint,
    own_export,
)
from weaver_facade._wire import Delivery, EarlierAttempt

DATE = datetime.datetime(2026, 11, 30, 12, 0, 10, tzinfo=datetime.UTC)
INTENT = SaveIntent("m-1", "step-10", CheckpointType.WEIGHT_AND_OPTIMIZER, UNSET)


def conflict(delivery: Delivery | None) -> CheckpointExistsError:
    error = CheckpointExistsError("exists", status_code=409, code="checkpoint_exists")
    error.delivery = delivery
    return error


def checkpoint(
    created: datetime.datetime,
    *,
    type_: CheckpointType = CheckpointType.WEIGHT_AND_OPTIMIZER,
    ttl: int | None = None,
    status: CheckpointStatus = CheckpointStatus.COMPLETED,
) -> Checkpoint:
    return Checkpoint(
        id=uuid.uuid4(),
        name="step-10",
        type=type_,
        path=CheckpointPath("m-1", "step-10"),
        status=status,
        ttl_seconds=ttl,
        created_at=created,
        expires_at=None,
        train_unembed=True,
        train_mlp=True,
        train_attn=True,
        model_id="m-1",
    )


def test_the_bound_is_the_date_less_the_time_since_the_attempt_was_sent() -> None:
    error = conflict(Delivery(EarlierAttempt(sent=100.0, received=102.5), DATE))
    assert created_since(error, CheckpointExistsError) == DATE - datetime.timedelta(seconds=2.5)


@pytest.mark.parametrize(
    "delivery",
    [
        None,  # an error the facade made without a reply
        Delivery(None, DATE),  # the first attempt met the conflict: a real one
        Delivery(EarlierAttempt(sent=100.0, received=101.0), None),  # no Date: cannot tell
    ],
)
def test_without_an_earlier_attempt_or_a_date_the_conflict_is_real(
    delivery: Delivery | None,
) -> None:
    assert created_since(conflict(delivery), CheckpointExistsError) is None


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("gone", status_code=404, code="not_found"),
        ModelTerminatedError("terminated", status_code=409, code="model_terminated"),
        ExportInProgressError("running", status_code=409, code="export_in_progress"),
    ],
)
def test_only_the_conflict_asked_for_is_recovered(error: APIError) -> None:
    error.delivery = Delivery(EarlierAttempt(sent=1.0, received=2.0), DATE)
    assert created_since(error, CheckpointExistsError) is None


def test_a_409_of_a_code_the_spec_does_not_name_may_be_ours() -> None:
    # The wire sheet names no code for a duplicate name: another server's 409
    # "already_exists" after a lost reply is the same conflict, checked the same way.
    error = ConflictError("exists", status_code=409, code="already_exists")
    error.delivery = Delivery(EarlierAttempt(sent=100.0, received=102.0), DATE)
    assert created_since(error, CheckpointExistsError) == DATE - datetime.timedelta(seconds=2)
    assert created_since(error, ExportInProgressError) == DATE - datetime.timedelta(seconds=2)


def test_a_checkpoint_made_after_the_attempt_with_the_same_type_is_ours() -> None:
    since = DATE - datetime.timedelta(seconds=2)
    assert own_checkpoint(INTENT, checkpoint(since), since)
    assert own_checkpoint(INTENT, checkpoint(since - CLOCK_TOLERANCE), since)
    assert own_checkpoint(INTENT, checkpoint(DATE), since)


def test_a_checkpoint_older_than_the_attempt_is_a_real_conflict() -> None:
    since = DATE - datetime.timedelta(seconds=2)
    older = since - CLOCK_TOLERANCE - datetime.timedelta(milliseconds=1)
    assert not own_checkpoint(INTENT, checkpoint(older), since)


def test_the_clock_tolerance_is_the_readme_s_one_and_a_half_seconds() -> None:
    # The README: `created_at` is at least the bound "less 1.5 s of tolerance".
    since = DATE - datetime.timedelta(seconds=2)
    assert own_checkpoint(INTENT, checkpoint(since - datetime.timedelta(seconds=1.49)), since)
    assert not own_checkpoint(INTENT, checkpoint(since - datetime.timedelta(seconds=1.51)), since)


def test_another_type_or_ttl_is_a_real_conflict() -> None:
    since = DATE - datetime.timedelta(seconds=2)
    assert not own_checkpoint(INTENT, checkpoint(DATE, type_=CheckpointType.WEIGHT), since)
    with_ttl = SaveIntent("m-1", "step-10", CheckpointType.WEIGHT_AND_OPTIMIZER, 600)
    assert own_checkpoint(with_ttl, checkpoint(DATE, ttl=600), since)
    assert not own_checkpoint(with_ttl, checkpoint(DATE, ttl=None), since)
    assert not own_checkpoint(INTENT, None, since)


def _never_read(_: Checkpoint) -> Plan[Checkpoint]:
    raise AssertionError("read again")


def test_the_watch_follows_the_checkpoint_status() -> None:
    pending = checkpoint(DATE, status=CheckpointStatus.PENDING)
    watch = ResourceWatch("save_checkpoint", pending, _never_read)
    assert watch.snapshot(pending).status is OperationStatus.PENDING
    assert watch.id == "weaver://m-1/checkpoints/step-10"
    done = checkpoint(DATE)
    snap = watch.snapshot(done)
    assert snap.status is OperationStatus.DONE
    assert watch.result(snap) is done
    failed = watch.snapshot(checkpoint(DATE, status=CheckpointStatus.FAILED))
    assert failed.status is OperationStatus.ERROR
    assert failed.error_code == "save_failed"


def test_a_created_at_in_whole_seconds_is_ours() -> None:
    # The spec's examples write created_at in whole seconds. Sent at server time
    # 12:00:09.9, created at 12:00:09.95 (written 12:00:09), the 409 at 12:00:10.2
    # (Date 12:00:10), 0.3 s after the send on the local clock.
    error = conflict(Delivery(EarlierAttempt(sent=100.0, received=100.3), DATE))
    since = created_since(error, CheckpointExistsError)
    assert since is not None
    truncated = DATE - datetime.timedelta(seconds=1)
    assert own_checkpoint(INTENT, checkpoint(truncated), since)


def artifact(
    created: datetime.datetime | None,
    kind: ArtifactKind = ArtifactKind.HF_ADAPTER,
    status: ArtifactStatus = ArtifactStatus.PENDING,
) -> Artifact:
    return Artifact(
        id=uuid.uuid4(),
        checkpoint_id=uuid.uuid4(),
        model_id="m-1",
        kind=kind,
        status=status,
        uri=f"weaver://m-1/checkpoints/step-10/artifacts/{kind.value}",
        created_at=created,
    )


def test_a_forced_export_in_progress_after_a_lost_reply_is_recovered_by_date() -> None:
    error = ExportInProgressError("running", status_code=409, code="export_in_progress")
    error.delivery = Delivery(EarlierAttempt(sent=100.0, received=102.0), DATE)
    assert created_since(error, ExportInProgressError) == DATE - datetime.timedelta(seconds=2)
    error.delivery = Delivery(None, DATE)
    assert created_since(error, ExportInProgressError) is None


def test_our_export_is_the_one_pending_or_completed_artifact_made_since() -> None:
    since = DATE - datetime.timedelta(seconds=2)
    ours = artifact(DATE)
    older = artifact(since - CLOCK_TOLERANCE - datetime.timedelta(seconds=1))
    done_before = artifact(older.created_at, status=ArtifactStatus.COMPLETED)
    assert own_export([older, done_before, ours], since, merge_adapter=False) is ours
    assert own_export([older, done_before], since, merge_adapter=False) is None
    # Done by the time the list is read (the export ran on after the 409): still ours.
    done = artifact(DATE, status=ArtifactStatus.COMPLETED)
    assert own_export([older, done_before, done], since, merge_adapter=False) is done
    assert own_export([done, ours], since, merge_adapter=False) is ours  # running first
    assert own_export([done, done], since, merge_adapter=False) is None  # which one?
    failed = artifact(DATE, status=ArtifactStatus.ERROR)
    assert own_export([failed], since, merge_adapter=False) is None
    assert own_export([artifact(None)], since, merge_adapter=False) is None  # no created_at
    # Merging makes an hf_model; two candidates cannot be told apart.
    merged = artifact(DATE, kind=ArtifactKind.HF_MODEL)
    assert own_export([ours, merged], since, merge_adapter=True) is merged
    assert own_export([ours, merged], since, merge_adapter=False) is None
