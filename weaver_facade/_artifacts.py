"""Artifacts: a checkpoint's weights in Hugging Face layout, and what a download returns.

``Artifact``, ``ArtifactFile`` and ``DownloadResult`` are the public types;
the plans below (``_plans.Plan``) decide which requests find an artifact to
download or a checkpoint to export.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import errno
import functools
import os
import uuid
from collections.abc import Callable, Container, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import attrs
from weaver_client.types import Unset

from . import _calls as calls
from . import _lookup as lookup
from ._args import check_bool, check_callable, check_choice, check_int, check_seconds
from ._checkpoints import (
    Checkpoint,
    CheckpointPath,
    _got,
    artifact_path_parts,
    checkpoint_from_wire,
    coerce_checkpoint_ref,
)
from ._dest import in_the_way, shown_path, what_is_there
from ._download import (
    ArtifactKind,
    Descriptor,
    DownloadProgress,
    Downloads,
    DownloadSettings,
    StorageFile,
    sha256_problem,
    shown,
    unwritable,
)
from ._errors import (
    AmbiguousArtifactKindError,
    APIConnectionError,
    ArtifactNotReadyError,
    ClientClosedError,
    DownloadTimeoutError,
    InvalidArgumentError,
    InvalidCheckpointRef,
    NotFoundError,
    ResponseValidationError,
    UnsafeArtifactPathError,
    WeaverError,
    note_cli_words,
)
from ._lazy import wire
from ._logs import give_cli_words, note_naming_calls
from ._operations import OperationSnapshot
from ._plans import Call, Plan
from ._transport import RetryPolicy, RetrySettings
from ._wire import (
    WireFields,
    WireValues,
    as_utc,
    expect,
    field_error,
    newest,
    optional,
    parse_model,
    result_of,
)

if TYPE_CHECKING:
    from ._io import _Base

IO = TypeVar("IO", bound="_Base[Any, Any]")


class ArtifactStatus(enum.StrEnum):
    """Only ``COMPLETED`` artifacts can be downloaded."""

    PENDING = "pending"
    COMPLETED = "completed"
    ERROR = "error"
    DELETED = "deleted"


ARTIFACT_VALUES = (
    WireValues("ArtifactKind", ArtifactKind),
    WireValues("ArtifactStatus", ArtifactStatus),
)
_KINDS: dict[str, ArtifactKind] = ARTIFACT_VALUES[0].table()
_STATUSES: dict[str, ArtifactStatus] = ARTIFACT_VALUES[1].table()


@attrs.frozen(kw_only=True)
class ArtifactFile:
    """One file of an artifact: its relative POSIX name, size and lowercase-hex sha256
    (``None`` when the server does not say)."""

    name: str
    size: int | None = None
    sha256: str | None = None


@attrs.frozen(kw_only=True)
class Artifact:
    """A checkpoint's weights exported in Hugging Face layout, ready to download.

    Attributes:
        id: The artifact's id; ``download_weights`` takes it.
        checkpoint_id: The checkpoint it was exported from.
        model_id: The model of that checkpoint.
        kind: ``hf_adapter`` or ``hf_model``.
        status: ``completed`` once downloadable.
        uri: ``weaver://{model_id}/checkpoints/{name}/artifacts/{kind}``.
        size_bytes: The files' total size, once completed.
        files: The files, once completed.
        error: Why the export failed, for status ``error``.
        ttl_seconds: Its time to live from the export; ``None`` follows the checkpoint.
        expires_at: When it expires, or ``None``.
        created_at: When the export started, if the server says.
    """

    id: uuid.UUID
    checkpoint_id: uuid.UUID
    model_id: str
    kind: ArtifactKind
    status: ArtifactStatus
    uri: str
    size_bytes: int | None = None
    files: tuple[ArtifactFile, ...] = ()
    error: str | None = None
    ttl_seconds: int | None = None
    expires_at: datetime.datetime | None = None
    created_at: datetime.datetime | None = None


@attrs.frozen(kw_only=True)
class DownloadResult:
    """What ``download_weights`` did.

    Attributes:
        artifact_id: The artifact downloaded.
        kind: Its kind.
        destination: The folder holding its files.
        files: Every file, in place, with the size and sha256 the server gave (``None``
            where it gave none); each checked against what it gave (the sha256 only
            with ``verify=True``).
        bytes: The files' total size on disk (a file the server gave no size counts
            with the bytes written).
        bytes_fetched: Bytes fetched from storage by this call (less when resumed or skipped).
        files_skipped: Files already in place from an earlier run.
        seconds: Wall time of the download.
        verified: Whether every file's sha256 was checked: ``verify=True`` and the server
            gave each file one (False if any file had none to check it against).
    """

    artifact_id: uuid.UUID
    kind: ArtifactKind
    destination: Path
    files: tuple[ArtifactFile, ...]
    bytes: int
    bytes_fetched: int
    files_skipped: int
    seconds: float
    verified: bool

    def path(self, name: str) -> Path:
        """Where the file ``name`` of the artifact is on disk."""
        return self.destination.joinpath(*name.split("/"))


DownloadTarget: TypeAlias = Artifact | Checkpoint | CheckpointPath | uuid.UUID | str
"""An ``Artifact``, an artifact id, a checkpoint, or a ``weaver://`` path (of a
checkpoint, or of an artifact: ``.../artifacts/{kind}``)."""


# -- from the wire -----------------------------------------------------------------------------


ARTIFACT_FIELDS = (
    WireFields(
        "Artifact",
        Artifact,
        mapped={"manifest": "files"},
        left_out={"updated_at": "nothing a caller decides depends on it"},
        required={"status": "an item without one counts as completed (the real wire's lists)"},
    ),
    WireFields("ManifestFile", ArtifactFile),
    WireFields("ArtifactList", Artifact, left_out={"items": "each is an Artifact"}),
    WireFields(
        "ArtifactManifest",
        Artifact,
        left_out={"format_version": "1 is the only layout there is; `files` is read"},
    ),
    WireFields(
        "DownloadDescriptor",
        Descriptor,
        left_out={"total_bytes": "the sum of the files' sizes, which the engine adds up"},
    ),
    WireFields("DownloadFile", StorageFile),
)


def artifact_from_wire(operation: str, gen: wire.Artifact, *, where: str = "") -> Artifact:
    """The facade ``Artifact`` for a generated one, checking what from_dict does not."""
    schema = "Artifact" + (f" {where}" if where else "")
    field = functools.partial(expect, operation, schema)
    maybe = functools.partial(optional, operation, schema)
    listed = functools.partial(optional, operation, schema, nullable=False)  # never null

    files: tuple[ArtifactFile, ...] = ()
    manifest = gen.manifest
    if manifest is not None and not isinstance(manifest, Unset):
        items = field("manifest.files", manifest.files, list)
        files = tuple(
            ArtifactFile(
                name=field(f"manifest.files[{i}].name", f.name, str),
                size=listed(f"manifest.files[{i}].size", f.size, int),
                sha256=_sha256(
                    operation, schema, i, listed(f"manifest.files[{i}].sha256", f.sha256, str)
                ),
            )
            for i, f in enumerate(items)
        )
    return Artifact(
        id=field("id", gen.id, uuid.UUID),
        checkpoint_id=field("checkpoint_id", gen.checkpoint_id, uuid.UUID),
        model_id=field("model_id", gen.model_id, str),
        kind=_KINDS[gen.kind],
        status=ArtifactStatus.COMPLETED if isinstance(gen.status, Unset) else _STATUSES[gen.status],
        uri=field("uri", gen.uri, str),
        size_bytes=maybe("size_bytes", gen.size_bytes, int),
        files=files,
        error=maybe("error", gen.error, str),
        ttl_seconds=maybe("ttl_seconds", gen.ttl_seconds, int),
        expires_at=maybe("expires_at", gen.expires_at, datetime.datetime),
        created_at=maybe("created_at", gen.created_at, datetime.datetime),
    )


def _sha256(operation: str, schema: str, i: int, value: str | None) -> str | None:
    """A manifest file's sha256, held to the spec's pattern as a descriptor's is."""
    if (problem := sha256_problem(value)) is not None:
        field = f"manifest.files[{i}].sha256"
        raise field_error(operation, schema, field, f"field `{field}`: {problem}")
    return value


def artifact_result(operation: str, snapshot: OperationSnapshot) -> Artifact:
    """Parse a done export operation's ``response`` (an Artifact)."""
    data = result_of(operation, "Artifact", snapshot.response)
    return artifact_from_wire(
        operation, parse_model(operation, wire.Artifact, data, where="in `response`")
    )


def _timestamp(value: object) -> float | None:
    """A URL's expiry, or ``None``: unknown, also for a value of another form (the wire
    sheet states none), since a URL is refreshed on its 401/403 anyway; refusing it
    would fail every download of a server that writes the time otherwise."""
    if isinstance(value, datetime.datetime):
        return as_utc(value).timestamp()
    return None


def descriptor_from_wire(gen: wire.DownloadDescriptor) -> Descriptor:
    """The engine's ``Descriptor`` for a generated DownloadDescriptor."""
    op = "get_artifact_download"
    files = []
    for i, f in enumerate(gen.files):
        schema = f"DownloadDescriptor files[{i}]"
        files.append(
            StorageFile(
                name=expect(op, schema, "name", f.name, str),
                size=optional(op, schema, "size", f.size, int, nullable=False),
                sha256=optional(op, schema, "sha256", f.sha256, str, nullable=False),
                url=expect(op, schema, "url", f.url, str),
                url_expires_at=_timestamp(f.url_expires_at),
            )
        )
    return Descriptor(
        artifact_id=str(
            expect(op, "DownloadDescriptor", "artifact_id", gen.artifact_id, uuid.UUID)
        ),
        kind=_KINDS[gen.kind].value,
        files=tuple(files),
    )


def download_arguments(
    dest: object, verify: object, max_concurrency: object, progress: object, timeout: object
) -> tuple[Path, DownloadSettings]:
    """``download_weights``' arguments, checked before any request: the folder, settings."""
    if not isinstance(dest, str | os.PathLike) or not isinstance(os.fspath(dest), str):
        raise InvalidArgumentError(f"dest must be a folder's path, a str or a Path; got {dest!r}")
    if not os.fspath(dest):
        raise InvalidArgumentError("dest must be a folder's path; got '' (use '.' for here)")
    check_callable("progress", progress)
    folder = Path(dest)
    # The nearest of it and its parents that exists, which must be a folder: known before
    # the artifact is looked up (``prepare_dest`` checks again, before anything is made).
    try:
        there = in_the_way(folder)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:  # a folder above it without search permission
            raise unwritable(folder, exc, str(folder)) from None
        raise UnsafeArtifactPathError(  # over PATH_MAX, or a segment over NAME_MAX
            f"{shown_path(folder)} is a path the system cannot hold ({exc.strerror})",
            name=str(folder),
        ) from None
    if there is not None:
        what = what_is_there(there)
        in_way = (
            f": it is {what}"
            if there == folder
            else f": {shown_path(there)}, {what}, is in its way"
        )
        raise UnsafeArtifactPathError(
            f"{shown_path(folder)} is not a directory{in_way}", name=str(folder)
        )
    return folder, DownloadSettings(
        max_concurrency=check_int("max_concurrency", max_concurrency, 1, 64),
        verify=check_bool("verify", verify),
        timeout=None
        if timeout is None
        else check_seconds("timeout", timeout, otherwise=", or None"),
    )


def storage_retries(
    settings: DownloadSettings, retry: RetrySettings, max_retries: int | None
) -> DownloadSettings:
    """The transfers' limits: their own, or the client's where it is more patient (its
    ``max_retries``, or ``with_options``' when given, its ``max_backoff`` and
    ``max_retry_after``), so that bounds raised to ride out a restart carry a download's
    files over it too. Lower ones leave the transfers theirs, as before: a failed transfer
    resumes where it stopped, and giving one up costs a rerun."""
    retries = retry.max_retries if max_retries is None else max_retries
    return attrs.evolve(
        settings,
        max_failures=max(settings.max_failures, retries),
        max_backoff=max(settings.max_backoff, retry.max_backoff),
        max_retry_after=max(settings.max_retry_after, retry.max_retry_after),
    )


class DownloadDeadline(Generic[IO]):
    """A download's one deadline, counted from the call: its API requests (the lookup,
    the descriptor and each refresh), sent through ``io`` (the first through ``first``),
    and its transfers get the time left, retried as ``retry`` allows (``storage_retries``)
    with its jitter."""

    def __init__(self, settings: DownloadSettings, io: IO, retry: RetryPolicy) -> None:
        self._settings = storage_retries(settings, retry.settings, io.options.max_retries)
        self._rng = retry._rng
        self._clock = io.poll.clock  # the transport's
        self._at = None if settings.timeout is None else self._clock() + settings.timeout
        # ``io``, or a copy whose calls all end by the deadline (``until``); measured after
        # ``_left``, that copy's end is never before the deadline, so a request it cuts off
        # is always the download's timeout (``api_request``).
        left = self._left()
        self.io = io if left is None else io.until(left)
        # The first request within ``io``'s own timeout too, counted from here (``whole``),
        # unless the deadline comes first.
        timeout = io.options.timeout
        shorter = timeout is not None and (left is None or timeout < left)
        self.first = io.whole() if shorter else self.io

    def _left(self) -> float | None:
        return None if self._at is None else max(0.0, self._at - self._clock())

    def downloads(
        self, descriptor: Descriptor, progress: Callable[[DownloadProgress], None] | None
    ) -> Downloads:
        """The transfers' state, with the time left as their timeout."""
        return Downloads(
            descriptor,
            attrs.evolve(self._settings, timeout=self._left()),
            progress=progress,
            rng=self._rng,
            artifact=(uuid.UUID(descriptor.artifact_id), ArtifactKind(descriptor.kind)),
        )

    @contextlib.contextmanager
    def api_request(self, step: object) -> Iterator[None]:
        """A step of the download's plans: an API request (a ``Call``) cut off by the
        deadline raises ``DownloadTimeoutError``, the download's timeout, whatever step
        it was at; a failure with time left, or of a pause between looks, stays what it is."""
        try:
            yield
        except APIConnectionError as exc:  # APITimeoutError among them
            if self._left() != 0.0 or not isinstance(step, Call):
                raise
            raise DownloadTimeoutError(
                f"the download's deadline passed while asking the API: {exc}",  # names the call
                name=None,
            ) from exc


def download_result(state: Downloads, dest: Path) -> DownloadResult:
    if not state.complete:  # the transfers were stopped by the client's close
        raise ClientClosedError(
            f"the Weaver client was closed during the download into {shown_path(dest)}; "
            "run it again with another client to resume"
        )
    d = state.descriptor
    return DownloadResult(
        artifact_id=uuid.UUID(d.artifact_id),
        kind=ArtifactKind(d.kind),
        destination=dest,
        files=tuple(ArtifactFile(name=f.name, size=f.size, sha256=f.sha256) for f in d.files),
        bytes=sum(state.sizes.values()),
        bytes_fetched=state.fetched,
        files_skipped=state.skipped,
        seconds=state.clock() - state.started,
        verified=state.verified,
    )


# -- plans: which requests, decided without I/O ---------------------------------------------------


def find_checkpoint_id(ref: object, deleted_here: Container[object] = ()) -> Plan[uuid.UUID]:
    """The id of a checkpoint given as a ``Checkpoint``, an id or a path (looked up by name,
    as ``find_checkpoint``)."""
    target = coerce_checkpoint_ref(ref)
    if isinstance(target, Checkpoint):
        return target.id
    if isinstance(target, uuid.UUID):
        return target
    return (yield from find_checkpoint(target, deleted_here)).id


def find_checkpoint(path: CheckpointPath, deleted_here: Container[object] = ()) -> Plan[Checkpoint]:
    """``lookup.find_by_path``, whose 404 of the model's listing says what to pass instead
    (``_note_forgotten``); ``deleted_here``: the ids and paths of checkpoints this client
    deleted (``lookup.find_listed``)."""
    try:
        return (yield from lookup.find_by_path(path, lookup.asked(deleted_here, path)))
    except NotFoundError as missing:
        if missing.status_code == 404:  # its model's listing refused, not a name it lacks
            _note_forgotten(missing, path)
        raise


def _note_forgotten(missing: NotFoundError, path: CheckpointPath) -> None:
    """Tell a 404 of the listing of ``path``'s model what to pass instead: a server that
    forgets a terminated model may refuse that listing and still find the checkpoint by
    id (a resume's 404 of it has a note of its own, ``_resume``)."""
    maybe = (
        f"model {path.model_id} may not exist, or may have been terminated: a server may "
        "forget a terminated model and refuse to list its checkpoints"
    )
    note = (
        f"{maybe}, which it still finds by id; pass the Checkpoint instead of its path "
        f"{path}, or its id (but to download_weights, which takes an id as an artifact's, "
        "the artifact's id)"
    )
    missing.add_note(note)
    cli = f"{maybe}; download an artifact of {path} by its id instead: "
    note_cli_words(missing, note, cli + "`weaver-facade checkpoints download ARTIFACT_ID -o DIR`")


def list_artifacts_plan(ref: object, deleted_here: Container[object] = ()) -> Plan[list[Artifact]]:
    checkpoint_id = yield from find_checkpoint_id(ref, deleted_here)
    return (yield from _artifacts_of(checkpoint_id))


def _artifacts_of(checkpoint_id: uuid.UUID, *, retried: bool = True) -> Plan[list[Artifact]]:
    """The checkpoint's artifacts; ``retried=False`` for a look that only adds a hint."""
    reply: wire.ArtifactList = yield calls.list_artifacts(checkpoint_id)._replace(retried=retried)
    return [
        artifact_from_wire("list_artifacts", item, where=f"items[{i}]")
        for i, item in enumerate(reply.items)
    ]


# The operations whose result ``download_weights`` takes: a checkpoint, or an artifact.
_GIVE_DOWNLOADS = frozenset({"save_checkpoint", "export_checkpoint", "export_model_weights"})


def download_plan(
    target: object, kind: object, deleted_here: Container[object] = ()
) -> Plan[tuple[uuid.UUID, Descriptor]]:
    """The id of the artifact to download and its descriptor. An artifact given by id
    whose kind is not ``kind`` (only the descriptor tells) is refused before anything is
    written. ``deleted_here``: as for ``find_checkpoint``."""
    if not isinstance(target, DownloadTarget):
        # Not the checkpoint lookup's words: an id here is an artifact's, and a handle (an
        # export's or a save's) gives what this call takes.
        raise InvalidCheckpointRef(
            "download_weights takes an Artifact, an artifact id (UUID), a Checkpoint, a "
            "CheckpointPath or a 'weaver://' path of a checkpoint or of its artifact, got "
            + _got(target, "what it gives", _GIVE_DOWNLOADS)
        )
    wanted = None
    if kind is not None:
        allowed = [k.value for k in ArtifactKind]
        wanted = ArtifactKind(check_choice("kind", kind, allowed, otherwise=", or None"))
    given = _given_id(target)
    artifact_id = (
        given if given is not None else (yield from resolve_download(target, wanted, deleted_here))
    )
    try:
        descriptor = yield from download_descriptor(artifact_id)
    except NotFoundError as missing:
        if given is not None:
            yield from _note_checkpoint_id(missing, given)
        raise
    _check_kind(descriptor.artifact_id, descriptor.kind, wanted)
    return artifact_id, descriptor


def _note_checkpoint_id(missing: NotFoundError, artifact_id: uuid.UUID) -> Plan[None]:
    """Tell a 404 for an artifact id that is a checkpoint's id (a slip their look alike
    invites) how to download that checkpoint's export; whatever stops the look, the 404
    stands as it is."""
    path = yield from _checkpoint_path(artifact_id)
    if path is not None:
        note_naming_calls(
            missing,
            f"{artifact_id} is the id of checkpoint {path}, not of an artifact: to "
            f"download its export, pass its path instead: download_weights({path!r}, dest)",
        )


def _checkpoint_path(checkpoint_id: uuid.UUID) -> Plan[str | None]:
    """The path of the checkpoint ``checkpoint_id`` names, if it is one. Without the
    checkpoint route (the real service has none), its artifacts' paths tell it; a
    checkpoint without an artifact is then not told from no checkpoint at all."""
    try:
        look = calls.get_checkpoint(checkpoint_id)._replace(retried=False)
        return str(checkpoint_from_wire("get_checkpoint", (yield look)).path)
    except (APIConnectionError, DownloadTimeoutError):
        return None  # no reply came: the listing could wait as long again
    except WeaverError:
        pass
    try:
        items = yield from _artifacts_of(checkpoint_id, retried=False)
    except WeaverError:
        return None
    ours = [a.uri for a in items if a.checkpoint_id == checkpoint_id]
    paths = {parts[0] for uri in ours if (parts := artifact_path_parts(uri))}
    return paths.pop() if len(paths) == 1 else None


def _check_kind(artifact_id: object, kind: str, wanted: ArtifactKind | None) -> None:
    if wanted is not None and kind != wanted.value:
        raise InvalidArgumentError(f"artifact {artifact_id} is {kind}, not {wanted.value}")


def download_descriptor(artifact_id: uuid.UUID) -> Plan[Descriptor]:
    """The artifact's files and their storage URLs (fresh on each call)."""
    try:
        return descriptor_from_wire((yield calls.get_artifact_download(artifact_id)))
    except ResponseValidationError as exc:
        shown(exc)  # its frames hold the reply's URLs; the message says what broke the spec
        raise


def _given_id(target: object) -> uuid.UUID | None:
    """The artifact id ``target`` is (a UUID, or its text), if it is one."""
    if isinstance(target, uuid.UUID):
        return target
    if not isinstance(target, str) or "://" in target:
        return None
    try:
        return uuid.UUID(target)
    except ValueError:
        raise InvalidArgumentError(
            f"{target!r} is neither an artifact id (UUID) nor a 'weaver://' path"
        ) from None


def resolve_download(
    target: object, kind: ArtifactKind | None, deleted_here: Container[object] = ()
) -> Plan[uuid.UUID]:
    """The id of the artifact to download, of a ``target`` not given by its id
    (``deleted_here``: as for ``find_checkpoint``)."""
    if isinstance(target, Artifact):
        _check_kind(target.id, target.kind.value, kind)
        return target.id
    checkpoint, path_kind = target, None
    # A checkpoint path and a kind.
    if parts := artifact_path_parts(target):
        checkpoint, named = parts
        if named not in {k.value for k in ArtifactKind}:  # named as in the path
            ends = " or ".join(f"/artifacts/{k.value}" for k in ArtifactKind)
            raise InvalidArgumentError(f"{target!r}: an artifact's path ends in {ends}")
        path_kind = ArtifactKind(named)
    if path_kind is not None and kind is not None and path_kind is not kind:
        raise InvalidArgumentError(f"{target!r} names {path_kind.value}, but kind={kind.value!r}")
    want = path_kind or kind
    artifacts = yield from list_artifacts_plan(checkpoint, deleted_here)
    if isinstance(checkpoint, Checkpoint):  # named by its path, not its repr
        checkpoint = str(checkpoint.path)
    of_kind = [a for a in artifacts if want is None or a.kind is want]
    ready = [a for a in of_kind if a.status is ArtifactStatus.COMPLETED]
    if not ready:
        running = [a for a in of_kind if a.status is ArtifactStatus.PENDING]
        if running:  # as the server says of an artifact named by its id
            raise ArtifactNotReadyError(
                f"checkpoint {checkpoint}'s {running[-1].kind.value} artifact is still being "
                "exported; download it once the export is done",
                code="artifact_not_ready",
            )
        what = f"no completed {want.value} artifact" if want else "no completed artifact"
        # The other kind, there already: a full_ft checkpoint's export never makes this one.
        there = sorted({a.kind.value for a in artifacts if a.status is ArtifactStatus.COMPLETED})
        if there:
            what += f", only an {' and an '.join(there)} one"
        last = _newest(artifacts, of_kind)
        if last is not None and last.status is ArtifactStatus.ERROR:  # why, as a listing would
            why = f": {last.error}" if last.error else ""
            what += f" (its last {last.kind.value} export failed{why})"
        how = "export it first with export_weights()"
        if want is ArtifactKind.HF_MODEL and ArtifactKind.HF_ADAPTER.value in there:
            # A LoRA checkpoint: a plain export gives its hf_adapter back.
            how = "export it with export_weights(..., merge_adapter=True)"
        never = NotFoundError(f"checkpoint {checkpoint} has {what}; {how}", code="not_found")
        give_cli_words(never)
        raise never
    kinds = tuple(sorted({a.kind.value for a in ready}))
    if len(kinds) > 1:
        raise AmbiguousArtifactKindError(
            f"checkpoint {checkpoint} has artifacts of kinds {', '.join(kinds)}: "
            f"pass {' or '.join(f'kind={k!r}' for k in kinds)} to choose one",
            checkpoint=str(checkpoint),
            kinds=kinds,
        )
    chosen = _newest(artifacts, ready)
    assert chosen is not None  # one of ready, which has some
    return chosen.id


def _newest(listed: list[Artifact], among: list[Artifact]) -> Artifact | None:
    """The last exported of ``among``, a part of the ``listed`` artifacts, whose times
    all show the listing's order (``_wire.newest``)."""
    ids = {id(artifact) for artifact in among}
    return newest(listed, lambda artifact: artifact.created_at, lambda a: id(a) in ids)


def artifact_again(artifact: Artifact) -> Plan[Artifact]:
    """The artifact (a pending one: a finished one is not watched) as its checkpoint's
    list shows it now. Not in the list, it is still pending: a server whose items carry
    no ``status``, which means completed, lists only completed artifacts. The wait's
    deadline bounds a watch of one that never comes."""
    items = yield from list_artifacts_plan(artifact.checkpoint_id)
    return next((a for a in items if a.id == artifact.id), artifact)
