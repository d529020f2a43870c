"""``weaver-facade checkpoints ...``: list, show, save, load, delete and set-ttl
(export, artifacts and download are in ``artifacts.py``).

A checkpoint reference (REF) is one of:

* a ``weaver://{model_id}/checkpoints/{name}`` path: it names its model, so it
  needs nothing else;
* a checkpoint id (a UUID) with ``--model MODEL_ID``: the model to which it
  must belong (the facade works on a model's checkpoints through that model);
* a bare checkpoint name with ``--model MODEL_ID``.

For ``load``, MODEL_ID is the model loaded into; a REF given as an id or a
name is looked up through it, and a path may name any model.
Invalid paths, names, ids and TTLs are refused before any request (exit 2).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from weaver_client import limits

from .. import (
    SERVER_DEFAULT,
    APIError,
    Checkpoint,
    CheckpointExistsError,
    CheckpointNotReadyError,
    CheckpointPath,
    InvalidCheckpointRef,
    InvalidInputError,
    ModelTerminatedError,
    NotFoundError,
    OperationFailedError,
    OperationHandle,
    ServiceClient,
    TrainingClient,
    WeaverError,
    coerce_checkpoint_ref,
    validate_checkpoint_name,
)
from .._help import WholeNumber, in_digits, not_in_digits
from .._plural import counted
from . import SUMMARIES
from ._output import (
    checkpoint_json,
    emit_json,
    load_json,
    print_checkpoint,
    print_checkpoints,
    print_load,
    show_operation,
)
from ._progress import printable, to_stderr
from ._state import (
    EXIT_API_ERROR,
    EXIT_USAGE,
    current_state,
    handles_errors,
    json_option,
    look_again,
    looking_again,
    noted,
    timeout_option,
    within,
)

__all__ = ["checkpoints"]

F = TypeVar("F", bound=Callable[..., Any])

Target = CheckpointPath | uuid.UUID


def _in_words(seconds: int) -> str:
    """``seconds`` in years or days when it is a whole number of them, else nothing."""
    for unit, size in (("year", 365 * 86_400), ("day", 86_400)):
        if seconds % size == 0:
            return f" ({counted(seconds // size, unit)})"
    return ""


class _Seconds(WholeNumber):
    """A TTL within the spec's bounds, checked by click before anything is sent, named in
    seconds (``range``)."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(low, high)
        self.range = f"{low} to {high}{_in_words(high)}"

    def _describe_range(self) -> str:  # in --help, as the refusal says it
        return f"from {self.range}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not in_digits(value):
            self.fail(not_in_digits(value, "a whole number of seconds"), param, ctx)
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a whole number of seconds from {self.range}", param, ctx)


_TTL = _Seconds(limits.TTL_SECONDS_MINIMUM, limits.TTL_SECONDS_MAXIMUM)
_ARTIFACT_TTL = _Seconds(limits.ARTIFACT_TTL_SECONDS_MINIMUM, limits.ARTIFACT_TTL_SECONDS_MAXIMUM)


def _download(ref: str) -> str:
    return f"`weaver-facade checkpoints download {ref} -o DIR`"


def parse_ref(text: str, model_id: str | None) -> tuple[str, Target]:
    """The model a REF belongs to, and the path or id to look up (no request); an
    artifact's path is refused by the library, naming `checkpoints download`."""
    try:
        target = coerce_checkpoint_ref(text)
    except InvalidCheckpointRef:
        if model_id is None:
            raise InvalidCheckpointRef(
                f"{text!r} is not a '{limits.CHECKPOINT_PATH_PATTERN_WORDS}' path; "
                "to name a checkpoint by its name or id, add --model MODEL_ID"
            ) from None
        return model_id, CheckpointPath(model_id=model_id, name=text)
    if isinstance(target, CheckpointPath):
        if model_id is not None and model_id != target.model_id:
            raise InvalidCheckpointRef(
                f"{text} belongs to model {target.model_id}, but --model says {model_id}"
            )
        return target.model_id, target
    if model_id is None:
        raise InvalidCheckpointRef(
            f"{text} is a checkpoint id; add --model MODEL_ID (the model it belongs to), "
            f"or pass its weaver:// path; an artifact's id is for {_download(text)}"
        )
    assert isinstance(target, uuid.UUID)  # a string is a path or an id, never a Checkpoint
    return model_id, target


class _Models:
    """Training clients attached to existing models, one per model id, of ``service`` (by
    default the command's)."""

    def __init__(self, service: ServiceClient | None = None) -> None:
        self._service = service
        self._clients: dict[str, TrainingClient] = {}

    def get(self, model_id: str) -> TrainingClient:
        if model_id not in self._clients:
            service = self._service or current_state().service()
            self._clients[model_id] = service.training_client(model_id)
        return self._clients[model_id]

    def checkpoint(self, model_id: str, target: Target, ref: str | None = None) -> Checkpoint:
        """Look a checkpoint up; an id must belong to ``model_id`` (``ref``: see
        ``look_up``)."""
        return look_up(self.get(model_id), model_id, target, ref)

    def known(
        self, model_id: str, target: Target, ref: str | None = None
    ) -> CheckpointPath | Checkpoint:
        """A path as it is; an id looked up as ``checkpoint`` does, so that a checkpoint of
        another model than ``model_id`` is refused the same way by every command."""
        if isinstance(target, CheckpointPath):
            return target
        return self.checkpoint(model_id, target, ref)


def look_up(trainer: TrainingClient, model_id: str, target: Target, ref: str | None) -> Checkpoint:
    """The checkpoint ``target`` names, of ``model_id`` if an id. ``ref``, the text an id was
    read from, is also a name a save takes (a run's UUID): when no checkpoint has that id,
    the one of that name is looked for, and the id's "not found" stands if none. The id's
    lookup read the list already, again over the time a new checkpoint may take to be
    listed: the name is looked for in one more read, not in a new round of reads and waits."""
    try:
        return _owned(trainer.get_checkpoint(target), target, model_id)
    except NotFoundError as exc:
        if not isinstance(target, uuid.UUID) or ref is None or exc.status_code is None:
            raise
        try:
            CheckpointPath(model_id=model_id, name=ref)
        except InvalidCheckpointRef:  # "{...}" or "urn:uuid:..." is no name
            raise exc from None
        named = next((c for c in trainer.iter_checkpoints() if c.name == ref), None)
        if named is None:
            raise exc from None
        return named


def _owned(found: Checkpoint, target: Target, model_id: str) -> Checkpoint:
    """``found``, the checkpoint ``target`` (an id) names, if it belongs to ``model_id``: a
    server that looks ids up finds any model's, one that does not only ``model_id``'s."""
    if found.model_id != model_id:
        raise NotFoundError(
            f"checkpoint {target} belongs to model {found.model_id}, not to {model_id} "
            f"(its path, {found.path}, names it whatever the model)",
            code="not_found",
        )
    return found


def _model_option(f: F) -> F:
    return click.option(
        "--model",
        "model_id",
        metavar="MODEL_ID",
        help="The model of a REF given as a checkpoint id or name.",
    )(f)


def _wait_options(f: F) -> F:
    f = click.option(
        "--no-wait",
        is_flag=True,
        help="Print the operation and return; `operations wait OP_ID` waits for it later.",
    )(f)
    return timeout_option(
        "How long to wait for the operation (default: 1 hour); it keeps running after."
    )(f)


@click.group(
    "checkpoints",
    help=f"{SUMMARIES['checkpoints']}\n\nREF is a weaver://MODEL_ID/checkpoints/NAME path, "
    "or a checkpoint id or name together with --model MODEL_ID.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def checkpoints() -> None:
    pass


@checkpoints.command("list")
@click.argument("model_id")
@json_option
@handles_errors
def list_(model_id: str) -> None:
    """List MODEL_ID's pending and completed checkpoints, in the server's order."""
    with _checkpoints_stay(model_id):  # a model not found: the library's note
        found = current_state().service().training_client(model_id).list_checkpoints()
    if current_state().as_json:
        emit_json({"model_id": model_id, "checkpoints": [checkpoint_json(c) for c in found]})
    else:
        print_checkpoints(model_id, found)


@checkpoints.command("show")
@click.argument("ref")
@_model_option
@json_option
@handles_errors
def show(ref: str, model_id: str | None) -> None:
    """Show one checkpoint."""
    owner, target = parse_ref(ref, model_id)
    models = _Models()
    with _checkpoints_stay(owner), _artifact_id_told(models, owner, target):
        checkpoint = models.checkpoint(owner, target, ref)
    if current_state().as_json:
        emit_json(checkpoint_json(checkpoint))
    else:
        print_checkpoint(checkpoint)


@checkpoints.command(
    "save",
    help="Save MODEL_ID's current state as the checkpoint NAME.\n\n"
    f"NAME is {limits.CHECKPOINT_NAME_PATTERN_WORDS}.",
)
@click.argument("model_id")
@click.argument("name")
@click.option(
    "--weights-only",
    is_flag=True,
    help="Save type 'weight': no optimizer state, so it cannot be resumed with the optimizer. "
    "Default: 'weight_and_optimizer'.",
)
@click.option(
    "--ttl",
    type=_TTL,
    metavar="SECONDS",
    help="Delete it this many seconds from now. Default: the server's (permanent).",
)
@_wait_options
@json_option
@handles_errors
def save(
    model_id: str,
    name: str,
    weights_only: bool,
    ttl: int | None,
    no_wait: bool,
    timeout: float | None,
) -> None:
    # Refuse a bad id or name before any request: a path takes any name a server may
    # report, a save only the spec's CheckpointName.
    path = CheckpointPath(model_id=model_id, name=validate_checkpoint_name(name))
    state = current_state()
    service, left = state.waiting(timeout)
    with state.progress.active(), _checkpoints_stay(model_id), _name_taken(path):
        trainer = service.training_client(model_id)
        # A Ctrl-C on its way says, in the library's note, where its checkpoint may be.
        handle = within(trainer, left).save_state(
            name,
            include_optimizer=not weights_only,
            ttl_seconds=SERVER_DEFAULT if ttl is None else ttl,
            wait=False,
        )
        if no_wait:
            _show_started(handle, "save_checkpoint")
            return
        state.progress.follow(handle, left())
        checkpoint = handle.result(0)
    if state.as_json:
        emit_json(checkpoint_json(checkpoint))
    else:
        print_checkpoint(checkpoint, f"saved {checkpoint.path}")


def _show_started(handle: OperationHandle[Any], kind: str) -> None:
    """The operation of ``--no-wait``, as it was when submitted."""
    state = current_state()
    show_operation(handle, kind, as_json=state.as_json)
    if not (state.as_json or state.quiet):
        # One already over (done within its POST) has nothing left to wait for.
        how = looking_again(handle.id, "look at it again" if handle.done() else "wait for it")
        to_stderr(f"{how} with: {look_again(handle.id)}")


@checkpoints.command("load")
@click.argument("model_id")
@click.argument("ref")
@click.option(
    "--with-optimizer",
    is_flag=True,
    help="Also restore the optimizer state (Adam moments and step) to resume training "
    "exactly; needs a 'weight_and_optimizer' checkpoint. Default: weights only.",
)
@_wait_options
@json_option
@handles_errors
def load(
    model_id: str, ref: str, with_optimizer: bool, no_wait: bool, timeout: float | None
) -> None:
    """Load the checkpoint REF into MODEL_ID (REF may belong to another model)."""
    # A path may name any model; an id or a bare name is looked up through MODEL_ID.
    target = CheckpointPath.parse(ref) if "://" in ref else parse_ref(ref, model_id)[1]
    state = current_state()
    service, left = state.waiting(timeout)
    with _checkpoints_stay(model_id):
        trainer = service.training_client(model_id)
    # A path is loaded as it is; an id is looked up first (the load takes a path).
    checkpoint = (
        target
        if isinstance(target, CheckpointPath)
        else look_up(within(trainer, left), model_id, target, ref)
    )
    bounded = within(trainer, left)
    load_state = bounded.load_state_with_optimizer if with_optimizer else bounded.load_state
    no_optimizer_state = (
        f"checkpoint {ref} holds no optimizer state (it was saved with --weights-only); "
        "drop --with-optimizer to load its weights alone"
    )

    def weight_only(refusal: APIError | OperationFailedError) -> bool:
        """A server's refusal in a code of its own (the wire names none): of a path
        whose checkpoint holds no optimizer state? A best-effort look, only then."""
        if not with_optimizer or not isinstance(checkpoint, CheckpointPath):
            return False
        if isinstance(refusal, APIError) and not 400 <= (refusal.status_code or 0) < 500:
            return False
        try:
            return not within(trainer, left).get_checkpoint(checkpoint).has_optimizer_state
        except WeaverError:
            return False

    with (
        state.progress.active(),
        _checkpoints_stay(model_id),
        _when_completed(checkpoint),
        _refused_in_cli_words("optimizer_state_unavailable", no_optimizer_state, weight_only),
    ):
        handle = load_state(checkpoint, wait=False)
        if no_wait:
            _show_started(handle, "load_checkpoint")
            return
        state.progress.follow(handle, left())
        result = handle.result(0)
    if state.as_json:
        emit_json(load_json(result, model_id))
    else:
        print_load(result, model_id)


@contextlib.contextmanager
def _refused_in_cli_words(
    code: str,
    message: str,
    also: Callable[[APIError | OperationFailedError], bool] = lambda _: False,
) -> Iterator[None]:
    """An option that does not fit the checkpoint, refused (error ``code``, or another
    refusal that ``also`` recognises) in the library's words: say ``message`` instead,
    which names the option to drop."""
    try:
        yield
    except (APIError, OperationFailedError) as exc:
        if exc.code != code and not also(exc):
            raise
        # Refused by the facade before any request (a usage error), or by the server.
        refused_here = isinstance(exc, APIError) and exc.status_code is None
        exit_code = EXIT_USAGE if refused_here else EXIT_API_ERROR
        raise current_state().failure(exc, exit_code, message) from None


@contextlib.contextmanager
def _checkpoints_stay(model_id: str) -> Iterator[None]:
    """A model found terminated: say, as the library does, that its checkpoints stay, and
    how to go on from them in the CLI's words. A server that forgets a terminated model
    answers 404 instead: the library's note then says what it may mean."""
    try:
        yield
    except NotFoundError as exc:
        message = noted(exc)
        if message is None:  # not the model's, or the library can tell no more
            raise
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None
    except ModelTerminatedError as exc:
        message = (
            f"{exc}; its checkpoints stay: list them with `weaver-facade checkpoints list "
            f"{model_id}`, export or download them, or load one into a new model "
            "(`weaver-facade models create BASE_MODEL` with the model's mode and LoRA rank "
            f"(`--full` or `--lora-rank N`, as `weaver-facade models show {model_id}` shows "
            "them), then `weaver-facade "
            "checkpoints load NEW_MODEL_ID REF`, with `--with-optimizer` if REF holds its "
            "optimizer state)"
        )
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None


@contextlib.contextmanager
def _artifact_id_told(models: _Models, model_id: str, target: Target) -> Iterator[None]:
    """An id that names no checkpoint of the model (--model): it may be an artifact's, which
    `checkpoints download` takes. The model is got first, since one not found is no hint of
    that. Another model's checkpoint is refused without a status."""
    if isinstance(target, uuid.UUID):
        models.get(model_id)
    try:
        yield
    except NotFoundError as exc:
        if not isinstance(target, uuid.UUID) or exc.status_code is None:
            raise
        message = f"{noted(exc) or exc}; an artifact's id is for {_download(str(target))}"
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None


@contextlib.contextmanager
def _name_taken(path: CheckpointPath) -> Iterator[None]:
    """A save refused because its name is taken: say what to do, in the CLI's words."""
    try:
        yield
    except CheckpointExistsError as exc:  # also a 409 of a code the spec does not name
        message = (
            f"{noted(exc) or exc}; choose another NAME, or look at the one there with "
            f"`weaver-facade checkpoints show {path}` (an earlier save, perhaps still pending)"
        )
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None


@contextlib.contextmanager
def _when_completed(checkpoint: CheckpointPath | Checkpoint) -> Iterator[None]:
    """A checkpoint refused as not completed (still pending: a save with --no-wait, or
    another client's): say, as the library does, how to wait for it in the CLI's words."""
    try:
        yield
    except CheckpointNotReadyError as exc:
        message = _not_completed(exc, checkpoint)
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None


def _not_completed(exc: CheckpointNotReadyError, checkpoint: CheckpointPath | Checkpoint) -> str:
    """``exc``'s text and the library's note on it in the CLI's words: how to wait."""
    path = checkpoint.path if isinstance(checkpoint, Checkpoint) else checkpoint
    return (
        f"{exc}; a checkpoint is pending until its save ends: wait for the save "
        "(`weaver-facade operations wait OP_ID`, with the OP_ID that `checkpoints save "
        f"--no-wait` printed), or look with `weaver-facade checkpoints show {path}`, "
        "and try again once it is completed"
    )


@checkpoints.command("delete")
@click.argument("refs", metavar="REF...", nargs=-1, required=True)
@_model_option
@json_option
@handles_errors
def delete(refs: tuple[str, ...], model_id: str | None) -> None:
    """Delete checkpoints and their files.

    Their exports are not deleted: each stays downloadable by its artifact id
    (`checkpoints download ARTIFACT_ID`) until its TTL ends.

    Every REF is checked before anything is deleted. A REF that fails does not
    stop the others; the exit status is then 1.
    """
    targets = [(ref, *parse_ref(ref, model_id)) for ref in refs]
    state = current_state()
    models = _Models()
    deleted: list[Checkpoint] = []
    errors: list[dict[str, Any]] = []
    # A checkpoint named again (by its name, path or id) is deleted once: looked up again,
    # it was "not found", and the exit status 1.
    gone: set[tuple[str, Target]] = set()
    for ref, owner, target in targets:
        if (owner, target) in gone:
            continue
        checkpoint: CheckpointPath | Checkpoint | None = None
        try:
            checkpoint = models.known(owner, target, ref)
            deleted.append(models.get(owner).delete_checkpoint(checkpoint))
            # The target too: a name that reads as an id is not that checkpoint's id.
            gone |= {(owner, target), (owner, deleted[-1].path), (owner, deleted[-1].id)}
        except InvalidInputError:
            raise
        except WeaverError as exc:
            message = noted(exc) or str(exc)  # a model not found: the library's note
            if isinstance(exc, CheckpointNotReadyError) and checkpoint is not None:
                message = _not_completed(exc, checkpoint)  # a save still running
            errors.append({"ref": ref, "type": type(exc).__name__, "message": message})
            to_stderr(printable(f"error: {ref}: {message}"))
    if state.as_json:
        emit_json({"deleted": [checkpoint_json(c) for c in deleted], "errors": errors})
    else:
        for c in deleted:
            click.echo(printable(f"deleted {c.path} ({c.id})"))
    if errors:
        raise click.exceptions.Exit(EXIT_API_ERROR)


@checkpoints.command("set-ttl")
@click.argument("ref")
@click.option(
    "--ttl",
    type=_TTL,
    metavar="SECONDS",
    help="Expire this many seconds from now.",
)
@click.option("--permanent", is_flag=True, help="Never expire.")
@_model_option
@json_option
@handles_errors
def set_ttl(ref: str, ttl: int | None, permanent: bool, model_id: str | None) -> None:
    """Change when a checkpoint expires: --ttl SECONDS from now, or --permanent."""
    if (ttl is None) == (not permanent):
        raise click.UsageError("give exactly one of --ttl SECONDS and --permanent")
    owner, target = parse_ref(ref, model_id)
    models = _Models()
    with _checkpoints_stay(owner):  # a model not found: the library's note
        updated = models.get(owner).set_checkpoint_ttl(
            models.known(owner, target, ref), None if permanent else ttl
        )
    if current_state().as_json:
        emit_json(checkpoint_json(updated))
    else:
        print_checkpoint(updated, f"{updated.path}: ttl {_ttl_text(updated.ttl_seconds)}")


def _ttl_text(ttl: int | None) -> str:
    return "permanent" if ttl is None else f"{ttl} s"


# export, artifacts and download live in their own module and join this group.
from . import artifacts as _artifacts  # noqa: E402

__all__ += ["_artifacts"]
