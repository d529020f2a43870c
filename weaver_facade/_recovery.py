"""Exactly-once saves on a server without ``Idempotency-Key``. No I/O.

A save whose first attempt reached the server but whose reply was lost (a
dropped connection, a timeout, a 5xx after it acted) is sent again by the
retry transport. A server with the ``idempotency-key`` extension answers the
repeat with the original operation. A server without it creates nothing new
and answers ``409 checkpoint_exists``: the checkpoint is there, made by our own
first attempt. This module tells that apart from a real conflict (a checkpoint
of that name that existed before the call), which still raises
``CheckpointExistsError``.

The rule. The 409 is taken for our own checkpoint only when all hold:

1. an earlier attempt of this very request may have been acted on (the retry
   transport says so: ``EarlierAttempt``); a 409 on the first attempt, or
   after failures that never reached the server, is always a real conflict;
2. the model's checkpoint of that name (looked up through the core wire, the
   model's checkpoint list) has the requested ``type``, and the requested
   ``ttl_seconds`` when one was given;
3. it was created after that earlier attempt was sent, compared in server
   time: its ``created_at`` is at least the 409 reply's ``Date`` minus the
   time measured locally since that attempt was sent, less
   ``CLOCK_TOLERANCE``. ``Date`` has whole seconds and is never ahead of the
   server's clock, so this bound is never after the true moment of sending:
   our own checkpoint always passes. A reply without ``Date`` passes nothing.

What it cannot tell apart: another client saving the same name with the same
type and TTL within about a second (the ``Date`` resolution plus the
tolerance) before our first attempt, or while our retries were going on.
Names unique to each save (as in a training loop) never meet that.

The recovered save has no operation id (the server's reply with it was lost):
its handle watches the checkpoint itself through the model's checkpoint list,
under the checkpoint's path as its id, until it is ``completed`` (or
``failed``).
"""

from __future__ import annotations

import datetime

import attrs
from weaver_client.types import Unset

from ._checkpoints import Checkpoint, CheckpointPath, CheckpointStatus, CheckpointType
from ._errors import APIError, CheckpointExistsError
from ._operations import OperationSnapshot, OperationStatus
from ._wire import Delivery

__all__ = ["CLOCK_TOLERANCE", "SaveIntent", "SaveWatch", "created_since", "own_checkpoint"]

# created_at and Date may come from two clocks of one server (or of two servers
# behind one address), and created_at may be rounded rather than truncated.
CLOCK_TOLERANCE = datetime.timedelta(seconds=0.5)


@attrs.frozen
class SaveIntent:
    """What one ``save_state`` call asked for."""

    model_id: str
    name: str
    type: CheckpointType
    ttl_seconds: int | Unset | None

    @property
    def path(self) -> CheckpointPath:
        return CheckpointPath(self.model_id, self.name)


def created_since(error: APIError) -> datetime.datetime | None:
    """For a 409 ``checkpoint_exists`` after an attempt that may have acted: the server
    time before which that attempt cannot have created anything. ``None`` means the
    conflict is real (rule 1, or no ``Date``)."""
    delivery = error.delivery
    if not isinstance(error, CheckpointExistsError) or not isinstance(delivery, Delivery):
        return None
    earlier = delivery.earlier_attempt
    if earlier is None or delivery.date is None:
        return None
    elapsed = max(0.0, earlier.received - earlier.sent)
    return delivery.date - datetime.timedelta(seconds=elapsed)


def own_checkpoint(intent: SaveIntent, found: Checkpoint | None, since: datetime.datetime) -> bool:
    """Rules 2 and 3: whether ``found`` (the model's checkpoint of that name) is ours."""
    return (
        found is not None
        and found.type is intent.type
        and (isinstance(intent.ttl_seconds, Unset) or found.ttl_seconds == intent.ttl_seconds)
        and found.created_at >= since - CLOCK_TOLERANCE
    )


_STATUS = {
    CheckpointStatus.PENDING: OperationStatus.PENDING,
    CheckpointStatus.COMPLETED: OperationStatus.DONE,
}


class SaveWatch:
    """A recovered save seen as an operation: its status follows the checkpoint's."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.id = str(checkpoint.path)
        self.latest = checkpoint

    def snapshot(self, checkpoint: Checkpoint) -> OperationSnapshot:
        """The save's state, from the checkpoint as last listed."""
        self.latest = checkpoint
        status = _STATUS.get(checkpoint.status, OperationStatus.ERROR)
        failed = status is OperationStatus.ERROR
        return OperationSnapshot(
            id=self.id,
            status=status,
            kind="save_checkpoint",
            error_code="save_failed" if failed else None,
            error_message=f"checkpoint {checkpoint.path} is {checkpoint.status.value}"
            if failed
            else None,
        )

    def result(self, _: OperationSnapshot) -> Checkpoint:
        """The checkpoint, once completed."""
        return self.latest
