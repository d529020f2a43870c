"""Finding, getting and deleting checkpoints on the wire, as I/O-free plans.

The real wire has no get-by-path, and gets or deletes by id only with the
``checkpoint-by-id`` extension; these plans page through a model's list where
the wire offers nothing better, and turn a missing route into the right error.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Container

import attrs
from weaver_client import limits

from . import _calls as calls
from ._args import check_int
from ._checkpoints import (
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    checkpoint_from_wire,
    coerce_checkpoint_ref,
    in_model,
)
from ._errors import (
    APIConnectionError,
    APIError,
    NotFoundError,
    UnsupportedByServerError,
)
from ._extensions import CHECKPOINT_BY_ID
from ._lazy import wire
from ._models import CHECKPOINT_PAGE_SIZE
from ._operations import PollPolicy
from ._plans import Call, Pause, Plan
from ._plural import counted
from ._retry import may_have_acted
from ._wire import field_error, newest, optional

# Empty pages in a row, each with a cursor, that end a listing as one that never ends. A
# legal listing may have long runs (a server that filters each page after reading it gives
# one per page of expired checkpoints, which come first): 100,000 at the default page size.
_EMPTY_PAGES = 1000


class CheckpointPager:
    """Pages of ``list_checkpoints``: which call next, and the checkpoints of each reply."""

    def __init__(self, model_id: str, page_size: int) -> None:
        self.model_id = model_id
        low, high = limits.LIST_CHECKPOINTS_LIMIT_MINIMUM, limits.LIST_CHECKPOINTS_LIMIT_MAXIMUM
        self.page_size = check_int("page_size", page_size, low, high)
        self.cursor: str | None = None
        self._seen: set[str] = set()
        self._last: set[uuid.UUID] = set()  # the previous page's checkpoints
        self._empty = 0  # empty pages in a row
        self.done = False

    def call(self) -> Call[wire.CheckpointList]:
        return calls.list_checkpoints(self.model_id, limit=self.page_size, cursor=self.cursor)

    def read(self, page: wire.CheckpointList) -> list[Checkpoint]:
        op = "list_checkpoints"
        found = [
            checkpoint_from_wire(op, item, where=f"items[{i}]") for i, item in enumerate(page.items)
        ]
        # Held to its type though unpromised: left out, it would end the listing early
        # (an older checkpoint for ``latest``), and a listing has no work to keep.
        cursor = optional(op, "CheckpointList", "next_cursor", page.next_cursor, str, lenient=False)
        ids = {checkpoint.id for checkpoint in found}
        again = bool(ids) and ids <= self._last
        self._last, self._empty = ids, 0 if ids else self._empty + 1
        if cursor is None:
            self.done = True
        elif cursor in self._seen:
            # A server whose cursors go round (A, B, A) would make us list for ever.
            said = "field `next_cursor` repeats a cursor already sent"
            raise field_error(op, "CheckpointList", "next_cursor", said)
        elif again or self._empty >= _EMPTY_PAGES:
            # So would one that ignores the cursor sent, or gives a new one on every empty
            # page past the end. An empty page alone ends nothing: a server may give one.
            listed = (
                "the previous page's checkpoints again"
                if again
                else f"nothing ({counted(self._empty, 'empty page')} in a row)"
            )
            said = (
                f"field `next_cursor` asks for another page, but the page at cursor "
                f"{self.cursor!r} listed {listed}: the listing would never end"
            )
            raise field_error(op, "CheckpointList", "next_cursor", said)
        else:
            self._seen.add(cursor)
            self.cursor = cursor
        return found


def find(model_id: str, wanted: Callable[[Checkpoint], bool]) -> Plan[Checkpoint | None]:
    """The first of a model's checkpoints that is ``wanted``, or ``None``."""
    pager = CheckpointPager(model_id, CHECKPOINT_PAGE_SIZE)
    while not pager.done:
        page: wire.CheckpointList = yield pager.call()
        for checkpoint in pager.read(page):
            if wanted(checkpoint):
                return checkpoint
    return None


# A listing's refusals that say its model is not there to be listed.
_REFUSES_THE_MODEL = frozenset({400, 403, 404, 410, 422})


def kept_of_forgotten(
    model_id: str, wanted: Callable[[Checkpoint], bool]
) -> Plan[Checkpoint | None]:
    """For a model whose ``GET`` is a 404: the first checkpoint of its own that its
    listing still has and that is ``wanted``, or ``None``.

    The wire promises no ``GET`` of a terminated model, whose checkpoints stay; an
    unknown model has none. A listing that refuses the model (404; 400 for an id it
    does not know; 403 for another key's) finds none; a 429, a 5xx or a lost reply
    says nothing, and is raised.
    """
    try:
        return (yield from find(model_id, lambda c: c.model_id == model_id and wanted(c)))
    except APIError as refused:
        if refused.status_code not in _REFUSES_THE_MODEL:
            raise
        return None


# How many times more a checkpoint its model's list lacks is looked for, each after a
# pause (``Pause``): a server may not list at once what it has just made. The poll
# backoff's first pauses (at most 0.25, 0.5 and 1 s by default) keep a missing
# checkpoint's error prompt.
LOOKS_AGAIN = 3


def _kept() -> bool:
    return False


def asked(deleted_here: Container[object], key: object) -> Callable[[], bool]:
    """Whether this client deleted ``key`` (an id or a path), as ``deleted_here`` says when
    asked: a delete in another thread may end during a look-up."""
    return lambda: key in deleted_here


def find_listed(
    model_id: str, wanted: Callable[[Checkpoint], bool], deleted: Callable[[], bool] = _kept
) -> Plan[tuple[Checkpoint | None, str]]:
    """``find``, looked for ``LOOKS_AGAIN`` times more within the call's deadline, unless
    this client ``deleted()`` it (asked after each look, ``asked``); with ``None``, how many
    times the list was read and why, for the error."""
    for looks in itertools.count(1):
        found = yield from find(model_id, wanted)
        if found is not None:
            return found, ""
        gone = deleted()
        if gone or looks > LOOKS_AGAIN or not (yield Pause(looks - 1)):
            break
    why = (
        "this client deleted it"
        if gone
        else "a server may list a checkpoint it has just saved only later"
    )
    return None, f"listed {counted(looks, 'time')}: {why}"


def find_by_path(path: CheckpointPath, deleted: Callable[[], bool] = _kept) -> Plan[Checkpoint]:
    """A path's checkpoint, found by name in its model's list (``find_listed``)."""
    found, listed = yield from find_listed(path.model_id, lambda c: c.name == path.name, deleted)
    if found is None:
        raise NotFoundError(
            f"no checkpoint named {path.name!r} among the checkpoints of model "
            f"{path.model_id} ({path}), {listed}",
            code="not_found",
        )
    return found


def latest(
    model_id: str, saved: Callable[[], frozenset[str]] = frozenset
) -> Plan[Checkpoint | None]:
    """A model's newest completed checkpoint (``_wire.newest``). A listing that lacks one
    of ``saved()`` (ids of checkpoints just saved, less those deleted since: asked after
    each look) is read again, as ``find_listed`` does."""
    for looks in itertools.count(1):
        pager = CheckpointPager(model_id, CHECKPOINT_PAGE_SIZE)
        listed: list[Checkpoint] = []
        while not pager.done:
            page: wire.CheckpointList = yield pager.call()
            listed += pager.read(page)
        shown = {str(checkpoint.id) for checkpoint in listed}
        if saved() <= shown or looks > LOOKS_AGAIN or not (yield Pause(looks - 1)):
            break
    return newest(
        listed,
        lambda checkpoint: checkpoint.created_at,
        lambda checkpoint: checkpoint.status is CheckpointStatus.COMPLETED,
    )


def _route_missing(error: APIError) -> bool:
    """A 404 or 405 from a route of the ``checkpoint-by-id`` extension: either no such
    checkpoint, or a server without the route; the model's checkpoint list tells which."""
    return error.status_code in (404, 405)


def _route_unknown(error: APIError) -> bool:
    """Whether a refusal of ``GET /checkpoints/{id}`` says that the server has no such
    route, whatever the id: a 405, or a 404 without the spec's Error body (a framework's
    own page); not a 404 ``not_found`` (README, "Saves": ``by_id`` counts those)."""
    return error.status_code == 405 or (error.status_code == 404 and error.code is None)


def by_id(
    checkpoint_id: uuid.UUID,
    model_id: str | None,
    server: PollPolicy | None = None,
    deleted: Callable[[], bool] = _kept,
) -> Plan[Checkpoint]:
    """A checkpoint by id; without the extension's route, from ``model_id``'s list.

    ``server``: the client's policy, which remembers whether the server has the route
    (``PollPolicy.checkpoint_by_id_supported``): a reply by id says it has; where none
    came, a miss of a listed checkpoint that says the route is unknown (``_route_unknown``),
    or a second miss, says it has not, and then the list is read at once.
    """
    missed: APIError | None = None
    if server is None or server.checkpoint_by_id_supported is not False or model_id is None:
        try:
            reply: wire.Checkpoint = yield calls.get_checkpoint(checkpoint_id)
        except APIError as exc:
            if not _route_missing(exc):
                raise
            if model_id is None and server is not None and server.checkpoint_by_id_supported:
                raise  # the server has read an id before: this one names no checkpoint
            if model_id is None and deleted() and not _route_unknown(exc):
                # Its DELETE by id worked, so the server has the route: the id is gone.
                raise NotFoundError(
                    f"get_checkpoint: no checkpoint with id {checkpoint_id} (the server found "
                    "none: this client deleted it)",
                    status_code=exc.status_code,
                    code="not_found",
                    request_id=exc.request_id,
                ) from exc
            if model_id is None:
                raise UnsupportedByServerError(
                    f"get_checkpoint: checkpoint {checkpoint_id} was not found by id; this "
                    f"server may lack the {CHECKPOINT_BY_ID} extension, without which an id "
                    "alone names no model to look in; pass the checkpoint's weaver:// path or "
                    "the Checkpoint instead",
                    extension=CHECKPOINT_BY_ID,
                    status_code=exc.status_code,
                    code=exc.code,
                    request_id=exc.request_id,
                ) from exc
            missed = exc
        else:
            if server is not None:
                server.checkpoint_by_id_supported = True
            return checkpoint_from_wire("get_checkpoint", reply)
    found, listed = yield from find_listed(model_id, lambda c: c.id == checkpoint_id, deleted)
    if found is None:
        raise NotFoundError(
            f"get_checkpoint: no checkpoint with id {checkpoint_id} (the server found "
            f"none, and none is among the checkpoints of model {model_id}, {listed})",
            status_code=None if missed is None else missed.status_code,
            code="not_found",
            request_id=None if missed is None else missed.request_id,
        ) from missed
    if missed is not None and server is not None and server.checkpoint_by_id_supported is None:
        server.checkpoint_by_id_misses += 1
        if _route_unknown(missed) or server.checkpoint_by_id_misses > 1:
            server.checkpoint_by_id_supported = False
    return found


def by_ref(
    ref: object,
    model_id: str | None,
    server: PollPolicy | None = None,
    deleted_here: Container[object] = (),
) -> Plan[Checkpoint]:
    """A ``Checkpoint`` (fetched again), id or path; ``model_id``: the list an id falls
    back to; ``server``: as for ``by_id``; ``deleted_here``: the ids and paths of checkpoints
    this client deleted (``find_listed``)."""
    target = in_model(coerce_checkpoint_ref, ref, model_id)
    if isinstance(target, CheckpointPath):
        return (yield from find_by_path(target, asked(deleted_here, target)))
    if isinstance(target, Checkpoint):
        gone = asked(deleted_here, target.id)
        return (yield from by_id(target.id, target.model_id, server, gone))
    return (yield from by_id(target, model_id, server, asked(deleted_here, target)))


def _gone(checkpoint_id: uuid.UUID, model_id: str) -> Plan[bool]:
    """Whether a checkpoint is gone: its ``GET`` says deleted; a 404 (or a server without
    the route) leaves it to its model's list, which leaves out deleted and expired ones,
    and failed ones too: their ``GET`` tells."""
    try:
        reply: wire.Checkpoint = yield calls.get_checkpoint(checkpoint_id)
    except APIError as exc:
        if not _route_missing(exc):
            raise
        return (yield from find(model_id, lambda c: c.id == checkpoint_id)) is None
    return checkpoint_from_wire("get_checkpoint", reply).status is CheckpointStatus.DELETED


def delete(target: Checkpoint) -> Plan[Checkpoint]:
    """Delete a checkpoint; without the extension's route, ``UnsupportedByServerError``.

    Given looked up, an id too, as a path is: a reply without the checkpoint (a 204)
    leaves only the one looked up to return, and once deleted it can no longer be looked
    up."""
    checkpoint_id, model_id = target.id, target.model_id
    try:
        reply: calls.CheckpointReply = yield calls.delete_checkpoint(checkpoint_id)
    except APIConnectionError as lost:
        # A DELETE is not sent again (a second would meet a 404): its reply lost after
        # it may have acted, a look at the checkpoint tells whether it is gone.
        if not may_have_acted(lost.__cause__) or not (yield from _gone(checkpoint_id, model_id)):
            raise
        return attrs.evolve(target, status=CheckpointStatus.DELETED)
    except APIError as exc:
        if not _route_missing(exc):
            raise
        # A route unknown whatever the id (``_route_unknown``); else the list must show it.
        if not _route_unknown(exc) and (
            (yield from find(model_id, lambda c: c.id == checkpoint_id)) is None
        ):
            exc.add_note(
                f"model {model_id} does not list it either: it was deleted or has expired; "
                f"or this server lacks the {CHECKPOINT_BY_ID} extension, without which it "
                "cannot delete checkpoints, and its list does not show this one yet"
            )
            raise
        raise UnsupportedByServerError(
            f"delete_checkpoint: this server cannot delete checkpoints: it lacks the "
            f"{CHECKPOINT_BY_ID} extension (DELETE /api/v1/checkpoints/{{id}} is not a route "
            f"there); checkpoint {target.path} was not deleted",
            extension=CHECKPOINT_BY_ID,
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        ) from exc
    deleted = reply.read(checkpoint_from_wire, "delete_checkpoint")
    return deleted or attrs.evolve(target, status=CheckpointStatus.DELETED)
