"""Checkpoints, their ``weaver://`` paths, and the one place that coerces references
(``coerce_checkpoint_path``, ``coerce_checkpoint_ref``), before any request is sent."""

from __future__ import annotations

import datetime
import enum
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

import attrs
from weaver_client import limits

from ._args import check_id
from ._errors import (
    InvalidCheckpointName,
    InvalidCheckpointPath,
    InvalidCheckpointRef,
)
from ._lazy import wire
from ._logs import give_cli_words
from ._operations import AsyncOperationHandle, _HandleState
from ._wire import (
    WireFields,
    WireValues,
    as_utc,
    expect,
    field_error,
    optional,
    parse_model,
    reply_error,
    result_of,
)

SCHEME = "weaver://"
_NAME = re.compile(limits.CHECKPOINT_NAME_PATTERN)
_STORED_NAME = re.compile(limits.STORED_CHECKPOINT_NAME_PATTERN)
_PATH = re.compile(limits.CHECKPOINT_PATH_PATTERN)
_SEGMENT = "checkpoints"
# An artifact's path (``Artifact.uri``): its checkpoint's path, and its kind as written.
_ARTIFACT_PATH = re.compile(
    rf"(?P<checkpoint>{re.escape(SCHEME)}[^/]+/{_SEGMENT}/[^/]+)/artifacts/(?P<kind>[^/]+)"
)


class CheckpointType(enum.StrEnum):
    """What a checkpoint holds.

    ``WEIGHT`` holds the trainable weights; ``WEIGHT_AND_OPTIMIZER`` also holds
    the Adam moments and step and is the only type that can be resumed with
    ``load_state_with_optimizer``; ``SAMPLING`` holds weights for sampling and
    expires after an hour by default.
    """

    WEIGHT = "weight"
    WEIGHT_AND_OPTIMIZER = "weight_and_optimizer"
    SAMPLING = "sampling"


class CheckpointStatus(enum.StrEnum):
    """A checkpoint's lifecycle: ``pending`` while saving, then ``completed`` (or ``failed``,
    also for a server that says ``error``); ``deleted`` once ``delete_checkpoint`` removed it."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


def validate_checkpoint_name(name: object) -> str:
    """Return ``name`` if a save may ask for it, else raise ``InvalidCheckpointName``.

    A save's name is the spec's ``CheckpointName``: 1 to 128 ASCII letters, digits, '.', '_'
    or '-', not starting with '.'. Names a server reports may be wider.
    """
    most = limits.CHECKPOINT_NAME_MAX_LENGTH
    # The spec states the length apart from the pattern: either may change alone.
    if type(name) is str and len(name) <= most and _NAME.fullmatch(name):
        return name
    # Only a refused name gets here: say exactly why.
    if not isinstance(name, str):
        raise InvalidCheckpointName(f"checkpoint name must be a string, got {type(name).__name__}")
    if name == "":
        raise InvalidCheckpointName("checkpoint name is empty")
    if len(name) > most:
        raise InvalidCheckpointName(
            f"checkpoint name is {len(name)} characters long; at most {most} are allowed"
        )
    if not _NAME.fullmatch(name):
        # A character is refused where the pattern refuses it after a valid first one.
        bad = sorted({c for c in name if not _NAME.fullmatch("a" + c)})
        found = f"it contains {', '.join(map(repr, bad))}; " if bad else ""
        raise InvalidCheckpointName(
            f"checkpoint name {name!r} is not valid: {found}it must be "
            f"{limits.CHECKPOINT_NAME_PATTERN_WORDS}"
        )
    return name


def _check_stored_name(name: object, where: str) -> str:
    """A name in a path: the spec's StoredCheckpointName."""
    if not isinstance(name, str):
        raise InvalidCheckpointPath(f"{where} must be a string, got {type(name).__name__}")
    if not _STORED_NAME.fullmatch(name):
        raise InvalidCheckpointPath(
            f"{where} {name!r} is not valid: it must be "
            f"{limits.STORED_CHECKPOINT_NAME_PATTERN_WORDS}"
        )
    return name


# Dict classes, not slotted: attrs sets a frozen dict class's fields straight into its
# ``__dict__``, which makes a listing's conversion a fifth faster (B1).
@attrs.frozen(slots=False)
class CheckpointPath:
    """A parsed ``weaver://{model_id}/checkpoints/{name}`` path.

    ``str(path)`` gives the wire form back; ``CheckpointPath.parse(text)``
    validates one and names the exact problem in ``InvalidCheckpointPath``.
    The name may be any the server reports (the spec's StoredCheckpointName), not
    only those a save accepts: the server answers a name it never made with not-found.
    """

    model_id: str
    name: str

    def __attrs_post_init__(self) -> None:
        if type(self.model_id) is str and type(self.name) is str and _PATH.fullmatch(str(self)):
            return
        check_id("the model id", self.model_id, InvalidCheckpointPath)
        _check_stored_name(self.name, "checkpoint name")

    @classmethod
    def parse(cls, text: str) -> CheckpointPath:
        """Parse and validate a ``weaver://`` path; an artifact's path
        (``.../artifacts/KIND``) is refused naming its checkpoint's and ``download_weights``."""
        try:
            return cls._parse(text)
        except InvalidCheckpointPath:
            if (artifact := artifact_path_parts(text)) is None:
                raise
        refused = InvalidCheckpointPath(
            f"{text} is an artifact's path: give its checkpoint's, {artifact[0]}, or download "
            f"the artifact with download_weights({text!r}, dest)"
        )
        give_cli_words(refused)  # the command line names its command
        raise refused

    @classmethod
    def _parse(cls, text: str) -> CheckpointPath:
        """``parse`` without its advice, for a path a reply gives."""
        if type(text) is str and _PATH.fullmatch(text):
            model_id, _, name = text[len(SCHEME) :].split("/")
            return cls(model_id=model_id, name=name)  # which checks both parts again, cheaply
        if not isinstance(text, str):
            raise InvalidCheckpointPath(
                f"a checkpoint path must be a string, got {type(text).__name__}"
            )
        if not text.startswith(SCHEME):
            scheme, sep, _ = text.partition("://")
            found = f"scheme {scheme + '://'!r}" if sep else "no scheme"
            raise InvalidCheckpointPath(
                f"{text!r} is not a checkpoint path: it has {found}; "
                f"expected '{limits.CHECKPOINT_PATH_PATTERN_WORDS}'"
            )
        parts = text[len(SCHEME) :].split("/")
        if len(parts) != 3 or parts[1] != _SEGMENT:
            raise InvalidCheckpointPath(
                f"{text!r} is not a checkpoint path: expected "
                f"'{limits.CHECKPOINT_PATH_PATTERN_WORDS}'"
            )
        model_id, _, name = parts
        check_id(f"in {text!r}, the model id", model_id, InvalidCheckpointPath)
        _check_stored_name(name, f"in {text!r}, the checkpoint name")
        return cls(model_id=model_id, name=name)

    def __str__(self) -> str:
        return f"{SCHEME}{self.model_id}/{_SEGMENT}/{self.name}"


def artifact_path_parts(text: object) -> tuple[str, str] | None:
    """The checkpoint path and the kind (as written, any) of ``text``, if it is an
    artifact's path (``weaver://{model_id}/checkpoints/{name}/artifacts/{kind}``)."""
    if isinstance(text, str) and (match := _ARTIFACT_PATH.fullmatch(text)):
        return match["checkpoint"], match["kind"]
    return None


@attrs.frozen(slots=False)  # see CheckpointPath
class Checkpoint:
    """A saved training state, as the server describes it.

    Attributes:
        id: The server's id for the checkpoint.
        name: Its name, unique within the model: any a server reports (the spec's
            ``StoredCheckpointName``); a save's name is held to ``CheckpointName``.
        type: What it holds; only ``WEIGHT_AND_OPTIMIZER`` can resume the optimizer.
        path: Its ``weaver://`` path, which ``load_state`` takes.
        status: ``pending`` while saving, then ``completed``.
        ttl_seconds: Its time to live, or ``None`` if permanent.
        created_at: When it was created (timezone-aware).
        expires_at: When it expires, or ``None`` if permanent.
        train_unembed, train_mlp, train_attn: Which parts of the model were trained.
        size_bytes: The size of its files, when the server says.
        sha256: A digest of its files, when the server says.
        model_id: The model it belongs to (from the server, else from the path).
    """

    id: uuid.UUID
    name: str
    type: CheckpointType
    path: CheckpointPath
    status: CheckpointStatus
    ttl_seconds: int | None
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    train_unembed: bool
    train_mlp: bool
    train_attn: bool
    model_id: str
    size_bytes: int | None = None
    sha256: str | None = None

    @property
    def has_optimizer_state(self) -> bool:
        """Whether ``load_state_with_optimizer`` can resume from this checkpoint."""
        return self.type is CheckpointType.WEIGHT_AND_OPTIMIZER


CHECKPOINT_FIELDS = (
    WireFields(
        "Checkpoint",
        Checkpoint,
        required={"model_id": "taken from `path` when the reply leaves it out (the real wire)"},
    ),
    WireFields(
        "CheckpointList",
        Checkpoint,
        left_out={"items": "each is a Checkpoint", "next_cursor": "read to ask for the next page"},
    ),
)

CheckpointLike: TypeAlias = Checkpoint | CheckpointPath | str
"""What every method taking a checkpoint accepts."""

CheckpointRef: TypeAlias = Checkpoint | CheckpointPath | uuid.UUID | str
"""What get/delete/TTL accept: a checkpoint, a path, or a checkpoint id."""

_Target = TypeVar("_Target")


def coerce_checkpoint_path(checkpoint: object) -> CheckpointPath:
    """Turn a ``Checkpoint``, ``CheckpointPath`` or ``weaver://`` string into a path."""
    if isinstance(checkpoint, Checkpoint):
        return checkpoint.path
    if isinstance(checkpoint, CheckpointPath):
        return checkpoint
    if isinstance(checkpoint, str):
        return CheckpointPath.parse(checkpoint)
    raise InvalidCheckpointPath(
        "expected a Checkpoint, a CheckpointPath or a 'weaver://' path string, "
        f"got {_got(checkpoint)}"
    )


_SAVES = frozenset({"save_checkpoint"})


def _got(
    value: object, gives: str = "the checkpoint it gives", kinds: frozenset[str] = _SAVES
) -> str:
    """The type of ``value`` where a checkpoint belongs; of a handle (a save's, started with
    ``wait=False``), what to pass instead: ``gives``. A handle of a kind not in ``kinds``
    (an export's, a step's) gives nothing the call takes: sending its result on would only
    be refused in turn."""
    name = type(value).__name__
    if isinstance(value, _HandleState):
        if value.kind is not None and value.kind not in kinds:
            return (
                f"{name} of an operation of kind {value.kind}, whose result this call does not take"
            )
        wait = "await " if isinstance(value, AsyncOperationHandle) else ""
        return f"{name}: pass {gives}, {wait}handle.result()"
    return name


def coerce_checkpoint_ref(ref: object) -> Checkpoint | CheckpointPath | uuid.UUID:
    """Sort a reference into a known ``Checkpoint``, a path to look up, or an id."""
    if isinstance(ref, Checkpoint | CheckpointPath | uuid.UUID):
        return ref
    if isinstance(ref, str):
        if "://" in ref:
            return CheckpointPath.parse(ref)
        try:
            return uuid.UUID(ref)
        except ValueError:
            raise InvalidCheckpointRef(
                f"{ref!r} is neither a 'weaver://' checkpoint path nor a checkpoint id (UUID)"
            ) from None
    raise InvalidCheckpointRef(
        "expected a Checkpoint, a CheckpointPath, a 'weaver://' path or a checkpoint id, "
        f"got {_got(ref)}"
    )


def in_model(coerce: Callable[[object], _Target], ref: object, model_id: str | None) -> _Target:
    """``coerce(ref)``, whose refusal of a bare checkpoint name shows the path of that name in
    model ``model_id``; the name stays refused (a load takes a checkpoint of any model)."""
    try:
        return coerce(ref)
    except (InvalidCheckpointRef, InvalidCheckpointPath) as exc:
        if model_id is None or not isinstance(ref, str) or "://" in ref:
            raise
        try:
            path = CheckpointPath(model_id=model_id, name=ref)
        except ValueError:
            raise exc from None
        raise type(exc)(f"{exc}; for checkpoint {ref!r} of this model: '{path}'") from None


def path_from_wire(operation: str, schema: str, value: object) -> CheckpointPath:
    """A ``path`` field of a reply, which must be a valid ``weaver://`` path."""
    text = expect(operation, schema, "path", value, str)
    try:
        return CheckpointPath._parse(text)
    except ValueError as exc:
        raise field_error(operation, schema, "path", f"field `path`: {exc}") from None


CHECKPOINT_VALUES = (
    WireValues("CheckpointType", CheckpointType),
    WireValues("CheckpointStatus", CheckpointStatus, mapped={"error": "failed"}),
)
# Keyed by value: the generated enums are StrEnums, equal to (and hashed as) their values.
_TYPES: dict[str, CheckpointType] = CHECKPOINT_VALUES[0].table()
_STATUSES: dict[str, CheckpointStatus] = CHECKPOINT_VALUES[1].table()


def checkpoint_from_wire(operation: str, gen: wire.Checkpoint, *, where: str = "") -> Checkpoint:
    """The facade ``Checkpoint`` for a generated one.

    ``from_dict`` made ``id`` a UUID, ``created_at`` a datetime and both enums
    members; the other fields it passes through unchecked, so their types are
    checked here, and the spec's schema names any that is wrong.
    """
    name, ttl, expires = gen.name, gen.ttl_seconds, gen.expires_at
    if not (
        type(name) is str
        and type(gen.path) is str
        and type(gen.train_unembed) is bool
        and type(gen.train_mlp) is bool
        and type(gen.train_attn) is bool
        and (ttl is None or type(ttl) is int)
        and (expires is None or type(expires) is datetime.datetime)
    ):
        raise reply_error(
            operation, "Checkpoint", gen.to_dict(), where=where or None, fields=CHECKPOINT_FIELDS[0]
        )
    schema = "Checkpoint" + (f" {where}" if where else "")
    # Extensions, which a server may send with a meaning of its own: one that breaks the
    # spec is left out, null too (the spec lets none of them be null).
    model_id = optional(operation, schema, "model_id", gen.model_id, str, nullable=False)
    size = optional(operation, schema, "size_bytes", gen.size_bytes, int, nullable=False)
    sha = optional(operation, schema, "sha256", gen.sha256, str, nullable=False)
    path = path_from_wire(operation, schema, gen.path)
    # The path names the checkpoint and its model: the fields must say the same.
    for field, value, named in (("name", name, path.name), ("model_id", model_id, path.model_id)):
        if value != named and value is not None:
            said = f"field `{field}` is {value!r} but `path` names {named!r}"
            raise field_error(operation, schema, field, said)
    return Checkpoint(
        id=gen.id,
        name=name,
        type=_TYPES[gen.type_],
        path=path,
        status=_STATUSES[gen.status],
        ttl_seconds=ttl,
        created_at=as_utc(gen.created_at),
        expires_at=None if expires is None else as_utc(expires),
        train_unembed=gen.train_unembed,
        train_mlp=gen.train_mlp,
        train_attn=gen.train_attn,
        model_id=model_id or path.model_id,
        size_bytes=size,
        sha256=sha,
    )


def checkpoint_result(operation: str, data: Mapping[str, Any] | None) -> Checkpoint:
    """Parse a done save operation's ``response`` (a Checkpoint)."""
    gen = parse_model(operation, wire.Checkpoint, result_of(operation, "Checkpoint", data))
    return checkpoint_from_wire(operation, gen)
