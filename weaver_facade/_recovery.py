"""Exactly-once saves on a server without ``Idempotency-Key``. No I/O.

There, a save whose reply was lost after the server acted is sent again and meets
``409 checkpoint_exists`` (or a 409 of a code the spec does not name): the checkpoint of
its own first attempt. The README's "How a save tells its own checkpoint from a real
conflict" gives the rule, why our own checkpoint always passes, and what the rule cannot
tell apart; here, the 409 is ours only when all hold:

1. an earlier attempt of this very request may have acted (``EarlierAttempt``);
2. the model's checkpoint of that name has the requested ``type``, and the requested
   ``ttl_seconds`` when one was given;
3. its ``created_at`` is at least the 409's ``Date`` minus the time measured locally
   since that attempt was sent, less ``CLOCK_TOLERANCE`` (no ``Date``: no match).

A forced export's ``409 export_in_progress`` is its own first attempt's export under rules
1 and 3 (``own_export``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from weaver_client.types import Unset

from ._artifacts import Artifact, ArtifactStatus
from ._checkpoints import Checkpoint, CheckpointType
from ._download import ArtifactKind
from ._errors import APIError, ConflictError, NotFoundError
from ._operations import OperationSnapshot, OperationStatus
from ._plans import Plan
from ._wire import Delivery

# created_at may be written in whole seconds, truncated (as the spec's examples
# are): up to 1 s before the true moment; and created_at and Date may come from
# two clocks of one server (or of two servers behind one address): 0.5 s more.
CLOCK_TOLERANCE = datetime.timedelta(seconds=1.5)


class SaveIntent(NamedTuple):
    """What one ``save_state`` call asked for."""

    model_id: str
    name: str
    type: CheckpointType
    ttl_seconds: int | Unset | None


def created_since(error: APIError, conflict: type[ConflictError]) -> datetime.datetime | None:
    """For the 409 ``conflict`` (or one whose code the spec does not name) after an attempt
    that may have acted: the server time before which that attempt cannot have created
    anything. ``None`` means the conflict is real (rule 1, or no ``Date``)."""
    delivery = error.delivery
    unnamed = type(error) is ConflictError
    if not (isinstance(error, conflict) or unnamed) or not isinstance(delivery, Delivery):
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


def own_export(
    artifacts: list[Artifact], since: datetime.datetime, merge_adapter: bool
) -> Artifact | None:
    """Among a checkpoint's artifacts, the export our own earlier attempt started: the one
    still running, else the one done since the 409 (the listing comes after it)."""
    made = [
        a
        for a in artifacts
        if a.created_at is not None
        and a.created_at >= since - CLOCK_TOLERANCE
        and (a.kind is ArtifactKind.HF_MODEL or not merge_adapter)
    ]
    for status in (ArtifactStatus.PENDING, ArtifactStatus.COMPLETED):
        if mine := [a for a in made if a.status is status]:
            return mine[0] if len(mine) == 1 else None
    return None


_Resource = TypeVar("_Resource", bound=Checkpoint | Artifact)

# A resource's status as its operation's; any other is a failure.
_STATUS = {"pending": OperationStatus.PENDING, "completed": OperationStatus.DONE}


def _named(resource: Checkpoint | Artifact) -> str:
    """A resource's name for its user: an artifact's ``uri``, a checkpoint's path."""
    return resource.uri if isinstance(resource, Artifact) else str(resource.path)


class ResourceWatch(Generic[_Resource]):
    """A save or an export known by its resource rather than an operation (a recovered
    save or export, an identical export's 200) seen as one: there is no operation id, so
    its id is the resource's path, and its status follows the resource's as ``read`` sees
    it again (``look``).

    With ``operation_id``, the resource is that operation's result, watched once the
    operation is done (``_operations._HandleState._follow``): the id stays the
    operation's, and a pending resource shows as ``running``. A miss (``NotFoundError``)
    is as the README's "Saves" says: one found before, or one ``said_gone`` takes for the
    server's word, is looked for once more, then fails the operation; one never found is
    looked for until the wait's deadline, as a pending one is."""

    def __init__(
        self,
        kind: str,
        resource: _Resource,
        read: Callable[[_Resource], Plan[_Resource]],
        *,
        operation_id: str | None = None,
        said_gone: Callable[[NotFoundError], bool] = lambda _: False,
    ) -> None:
        self.id = operation_id or _named(resource)
        self.kind = kind
        self.latest = resource
        self._read = read
        self._said_gone = said_gone
        self._of_operation = operation_id is not None
        self._missed = False  # the last read found nothing
        self._found = False  # a read has found it

    def snapshot(self, resource: _Resource) -> OperationSnapshot:
        """The operation's state, from the resource as last seen."""
        self.latest = resource
        status = _STATUS.get(resource.status, OperationStatus.ERROR)
        if status is OperationStatus.PENDING and self._of_operation:
            status = OperationStatus.RUNNING
        if status is not OperationStatus.ERROR:
            return OperationSnapshot(id=self.id, status=status, kind=self.kind)
        if isinstance(resource, Artifact):
            message = resource.error or f"the export of artifact {resource.id} failed"
        else:
            message = f"checkpoint {resource.path} is {resource.status.value}"
        return self._failed(message)

    def _failed(self, message: str) -> OperationSnapshot:
        code = "export_failed" if isinstance(self.latest, Artifact) else "save_failed"
        return OperationSnapshot(
            id=self.id,
            status=OperationStatus.ERROR,
            kind=self.kind,
            error_code=code,
            error_message=message,
        )

    def look(self) -> Plan[OperationSnapshot]:
        """See the resource again."""
        try:
            resource = yield from self._read(self.latest)
        except NotFoundError as exc:
            if not self._of_operation:
                raise
            if not (self._found or self._said_gone(exc)) or not self._missed:
                self._missed = True
                return self.snapshot(self.latest)
            what = "artifact" if isinstance(self.latest, Artifact) else "checkpoint"
            return self._failed(
                f"{what} {_named(self.latest)} is no longer found, and was never completed "
                f"(deleted or expired?): {exc.message}"
            )
        self._missed = False
        self._found = True
        return self.snapshot(resource)

    def result(self, _: OperationSnapshot) -> _Resource:
        """The resource, once completed."""
        return self.latest
