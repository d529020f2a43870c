"""Every exception the facade raises.

Our exception hierarchy::

    WeaverError
    ├── InvalidInputError (also ValueError) ........ refused before any change was sent
    │   ├── InvalidCheckpointPath
    │   ├── InvalidCheckpointName
    │   ├── InvalidCheckpointRef
    │   ├── InvalidDatumError
    │   └── InvalidArgumentError ................... AdamParams, ttl, rank, mode, ...
    │       └── AmbiguousArtifactKindError ......... a checkpoint with both kinds, no kind=
    ├── APIError ................................... status_code, code, message, retryable,
    │   │                                            request_id, details, retry_after
    │   ├── BadRequestError ........................ 400 (or 422 invalid_request)
    │   ├── AuthenticationError .................... 401
    │   ├── PermissionDeniedError .................. 403
    │   ├── NotFoundError .......................... 404
    │   ├── ConflictError .......................... 409
    │   │   ├── CheckpointExistsError .............. checkpoint_exists
    │   │   ├── CheckpointNotReadyError ............ checkpoint_not_ready
    │   │   ├── ArtifactNotReadyError .............. artifact_not_ready
    │   │   ├── ExportInProgressError .............. export_in_progress
    │   │   ├── ModelTerminatedError ............... model_terminated
    │   │   ├── ModelStateLostError ................ model_state_lost
    │   │   └── SeqIdConflictError ................. seq_id_conflict
    │   ├── PayloadTooLargeError ................... 413
    │   ├── UnprocessableEntityError ............... 422
    │   │   ├── OptimizerStateUnavailableError ..... optimizer_state_unavailable (also ValueError)
    │   │   ├── IncompatibleCheckpointError ........ incompatible_checkpoint
    │   │   ├── UnknownBaseModelError .............. unknown_base_model
    │   │   ├── MergeNotSupportedError ............. merge_not_supported
    │   │   └── IdempotencyMismatchError ........... idempotency_mismatch
    │   ├── RateLimitError ......................... 429
    │   ├── InternalServerError .................... 5xx
    │   ├── APIConnectionError ..................... no reply (status_code is None)
    │   │   └── APITimeoutError
    │   ├── ResponseValidationError ................ the reply does not match the spec
    │   └── UnsupportedByServerError ............... the server lacks a needed extension
    ├── OperationFailedError ....................... a polled operation ended in `error`
    ├── OperationTimeoutError (also TimeoutError) .. the wait ended; the operation goes on
    ├── ClientClosedError (also RuntimeError) ...... the client was closed: nothing more is sent
    ├── EventLoopError (also RuntimeError) ......... an async client off its asyncio loop
    └── DownloadError .............................. an artifact's files could not be downloaded
        ├── UnsafeArtifactPathError ................ a name would write outside the destination
        ├── ArtifactIntegrityError ................. a file's size or sha256 differs
        ├── StorageError ........................... storage refused the URL or kept failing
        └── DownloadTimeoutError (also TimeoutError)  the download's deadline passed
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ._lazy import asyncio
from ._watched import name_watched, seconds


class WeaverError(Exception):
    """The base of every exception raised by weaver_facade.

    Every one survives ``pickle`` and ``copy`` whole (its message and attributes), as an
    error raised in a worker process (``concurrent.futures``, ``multiprocessing``) is.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``cls(*args)``, which keyword-only constructors
        # (``OperationTimeoutError(operation_id=...)``) refuse: the parent process then
        # failed to unpickle the error, and a process pool broke instead of raising it.
        return (_rebuilt, (type(self), self.args), self.__dict__)


def _rebuilt(cls: type[WeaverError], args: tuple[Any, ...]) -> WeaverError:
    """An instance of ``cls`` with ``args``, its ``__init__`` skipped (for unpickling)."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


class InvalidInputError(WeaverError, ValueError):
    """An argument was refused before any request that could change anything was sent:
    nothing happened server-side. Most are refused before any request at all; a few only
    once reads found what an argument names (``AmbiguousArtifactKindError``, a resume's
    base model that the server does not describe, a download's ``kind`` that is not the
    artifact's)."""


class InvalidCheckpointPath(InvalidInputError):
    """A string is not a valid ``weaver://{model_id}/checkpoints/{name}`` path."""


class InvalidCheckpointName(InvalidInputError):
    """A checkpoint name does not match ``^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$``."""


class InvalidCheckpointRef(InvalidInputError):
    """A value is neither a ``Checkpoint``, a ``weaver://`` path nor a checkpoint id."""


class InvalidDatumError(InvalidInputError):
    """A training ``Datum`` is malformed (empty tokens, mismatched lengths, bad targets...)."""


class InvalidArgumentError(InvalidInputError):
    """Any other refused argument: Adam settings, TTL, LoRA rank, training mode, limits."""


class AmbiguousArtifactKindError(InvalidArgumentError):
    """A download of a checkpoint that has completed artifacts of both kinds, without
    ``kind``: found once its artifacts are listed (nothing but reads was sent).

    Attributes:
        checkpoint: The checkpoint, as given (its path, or its id).
        kinds: The kinds it has (``hf_adapter``, ``hf_model``), one of which to pass.
    """

    def __init__(self, message: str, *, checkpoint: str, kinds: tuple[str, ...]) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.kinds = kinds


class APIError(WeaverError):
    """The server refused a request, or its reply could not be used.

    Attributes:
        status_code: The HTTP status, or ``None`` when no reply was received
            (connection errors) or the facade decided without one.
        code: The stable machine-readable ``error`` code of the reply
            (``not_found``, ``checkpoint_exists``...), or ``None``.
        message: A human-readable explanation.
        retryable: Whether repeating the same request may succeed.
        request_id: The server's id for the request; quote it in bug reports.
        details: Structured context from the reply (may be empty).
        retry_after: Seconds the server asked us to wait (``Retry-After``), if any.
    """

    #: How the reply was obtained (``_wire.Delivery``), set by the facade on errors
    #: made from a reply: its ``Date`` and whether an earlier attempt may have acted.
    delivery: object | None = None
    # Whether ``str()`` starts with the ``[status code]`` label.
    _status_in_str: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.retryable = retryable
        self.request_id = request_id
        self.details: Mapping[str, Any] = dict(details or {})
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [str(self.status_code)] if self.status_code is not None else []
        parts += [self.code] if self.code else []
        prefix = f"[{' '.join(parts)}] " if parts and self._status_in_str else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, retryable={self.retryable!r}, "
            f"request_id={self.request_id!r})"
        )


class BadRequestError(APIError):
    """400 ``invalid_request`` (or 422, as some servers answer it): the server names the
    offending field in the message."""


class AuthenticationError(APIError):
    """401 ``unauthorized``: the API key is missing or not valid."""


class PermissionDeniedError(APIError):
    """403: the API key may not do this."""


class NotFoundError(APIError):
    """404 ``not_found``: no such session, model, checkpoint or operation for this key.

    Also raised without a status when a checkpoint path given as a reference is
    not among the model's listed checkpoints.
    """


class ConflictError(APIError):
    """409: the request conflicts with the resource's current state."""


class CheckpointExistsError(ConflictError):
    """409 ``checkpoint_exists``: the model already has a checkpoint of that name."""


class CheckpointNotReadyError(ConflictError):
    """409 ``checkpoint_not_ready``: the checkpoint is still being saved."""


#: The note on a ``CheckpointNotReadyError`` of a pending checkpoint: what to do next.
NOT_READY_NOTE = (
    "a checkpoint is pending until its save ends: wait for the save (its OperationHandle's "
    "result(), or service.operation(OPERATION_ID, Checkpoint).result() from another "
    "process), or look again with get_checkpoint, and try again once it is completed"
)


class ArtifactNotReadyError(ConflictError):
    """409 ``artifact_not_ready``: the artifact's export is still running, or failed."""


class ExportInProgressError(ConflictError):
    """409 ``export_in_progress``: ``force`` while an export of the same kind still runs."""


class ModelTerminatedError(ConflictError):
    """409 ``model_terminated``: the model was terminated."""


class ModelStateLostError(ConflictError):
    """409 ``model_state_lost``: the server lost the model's training state (e.g. a restart).

    The model trains no more; its checkpoints stay. Unless the server's message says so, a
    note says how to go on: a new model with the last checkpoint loaded into it.
    """


#: What to do once a model's training state is lost: the facade's own words, since a
#: server's message need not say (``says_how_to_resume`` tells whether it does). No call
#: to paste: ``latest_checkpoint()`` is ``None`` for a model made so that has not saved
#: yet, and the README's recipe (type-checked by the tests) takes both cases.
RESUME_CALL = (
    "service.create_training_client_from_state() of trainer.latest_checkpoint(), or, while "
    "that is None (a model made so, not saved since), of trainer.resumed_from's path, as the "
    'README\'s "Lost state" shows'
)
RESUME_ADVICE = f"create a new model and load the last checkpoint into it: {RESUME_CALL}"
#: The note of a model whose training state is lost (a 409, or a failed operation).
STATE_LOST_NOTE = f"the model trains no more, and its checkpoints stay: {RESUME_ADVICE}"
#: ``RESUME_CALL`` in the command line's words. The wire gives no model's source (a library
#: client keeps it as ``resumed_from``): a model not saved since its load goes on from the
#: path its load printed.
RESUME_COMMANDS = (
    "`weaver-facade models create BASE_MODEL` with the model's mode and LoRA rank (`--full` "
    "or `--lora-rank N`, as `weaver-facade models show MODEL_ID` shows them), then "
    "`weaver-facade checkpoints load NEW_MODEL_ID PATH` with the newest PATH of "
    "`weaver-facade checkpoints list MODEL_ID` "
    "(if it lists none, the PATH that `weaver-facade checkpoints load` last loaded into the "
    "model, as that command printed it: the server does not say it), and `--with-optimizer` "
    "if that checkpoint holds its optimizer state"
)


def says_how_to_resume(*said: object) -> bool:
    """Whether a server's words (its message, a diagnostic) already say to go on from a
    checkpoint in a new model, as ``RESUME_ADVICE`` does."""
    return server_says(said, "new model", "checkpoint")


def server_says(said: Iterable[object], *words: str) -> bool:
    """Whether a server's words (its message, a diagnostic; ``None`` where it gave none)
    hold each of ``words``, in any case."""
    text = " ".join(s for s in said if isinstance(s, str)).lower()
    return all(word in text for word in words)


class SeqIdConflictError(ConflictError):
    """409 ``seq_id_conflict``: a ``seq_id`` was reused with a different body.

    Typical cause: two clients attached to the same model, each counting from 1.
    """


class PayloadTooLargeError(APIError):
    """413 ``payload_too_large``: the request body is larger than the server (or a proxy in
    front of it) takes, such as a batch of too many tokens; split it. Never retried."""


class UnprocessableEntityError(APIError):
    """422: the request is well-formed but cannot be carried out."""


class OptimizerStateUnavailableError(UnprocessableEntityError, ValueError):
    """The checkpoint holds no optimizer state, so it cannot be loaded with the optimizer;
    being a ``ValueError`` too, it reads as "wrong checkpoint".

    Raised by ``load_state_with_optimizer`` before any request when given a
    ``Checkpoint`` whose type is not ``weight_and_optimizer``
    (``APIError.status_code`` is ``None``), and for the server's 422
    ``optimizer_state_unavailable`` when only a path was given. Save with
    ``include_optimizer=True`` to be able to resume, or use ``load_state`` to
    restore the weights alone. ``create_training_client_from_state`` refuses such a
    checkpoint the same way, before creating a model; ``with_optimizer=False`` there
    restores the weights alone.
    """


class IncompatibleCheckpointError(UnprocessableEntityError):
    """422 ``incompatible_checkpoint``: base model, training mode or rank do not fit the model."""


class UnknownBaseModelError(UnprocessableEntityError):
    """422 ``unknown_base_model``: ``base_model`` is not a supported model."""


class MergeNotSupportedError(UnprocessableEntityError):
    """422 ``merge_not_supported``: ``merge_adapter`` for a ``full_ft`` model, which has no
    adapter."""


class IdempotencyMismatchError(UnprocessableEntityError):
    """422 ``idempotency_mismatch``: an Idempotency-Key was reused with another body."""


class RateLimitError(APIError):
    """429 ``rate_limited``: slow down; ``APIError.retry_after`` says for how long."""


class InternalServerError(APIError):
    """5xx: the server (or a proxy in front of it) failed."""


class APIConnectionError(APIError):
    """No reply was received: the connection failed or broke.

    ``APIError.status_code`` is ``None``.
    """


class APITimeoutError(APIConnectionError):
    """The HTTP request timed out (connect, read, write or pool)."""


class ResponseValidationError(APIError):
    """A reply does not match the spec, so it cannot be turned into a facade type.

    The message names the operation and the field, for example
    ``save_checkpoint: Checkpoint: required field `type` missing (got `checkpoint_type`)``.

    Attributes:
        operation: The spec's ``operationId`` of the request.
        field: The offending JSON field, when one can be named.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        field: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, request_id=request_id)
        self.operation = operation
        self.field = field

    # The message already says what is wrong; a status prefix would only distract.
    _status_in_str = False


class UnsupportedByServerError(APIError):
    """The server lacks an optional extension of the wire that this call needs, and the
    core wire offers no other way (for example deleting a checkpoint without the
    ``checkpoint-by-id`` extension). Nothing was changed on the server.

    Attributes:
        extension: The extension's name in openapi.yaml (``x-weaver-extension``).
    """

    def __init__(self, message: str, *, extension: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.extension = extension

    # The server's status (a 404 for an unknown route) would read as "not found".
    _status_in_str = False


class OperationFailedError(WeaverError):
    """A polled operation ended with status ``error``.

    One the server cut off (``interrupted``), or whose model lost its training state
    (``model_state_lost``), has a note saying how to go on, unless the server's words say
    it already.

    Attributes:
        operation_id: The operation's id.
        code: The server's ``error_code`` (or legacy ``error``), such as ``interrupted``.
        message: The server's ``error_message``; ``None`` when it gave none.
        details: ``error_details`` (``diagnostic_message``, ``stage``...).
        retryable: Whether submitting the same work again may succeed; ``None`` when
            the server did not say (the wire makes it optional).
    """

    def __init__(
        self,
        *,
        operation_id: str,
        code: str | None,
        message: str | None,
        details: Mapping[str, Any] | None = None,
        retryable: bool | None = False,
    ) -> None:
        self.operation_id = operation_id
        self.code = code
        self.message = message
        self.details: Mapping[str, Any] = dict(details or {})
        self.retryable = retryable
        said = message or "the server gave no message"
        super().__init__(f"{name_watched(operation_id)} failed [{code or 'unknown'}]: {said}")


class OperationTimeoutError(WeaverError, TimeoutError):
    """Waiting for an operation ended before it finished. The operation keeps running.

    Re-attach later with ``service.operation(error.operation_id)``, or, for a save,
    ``service.operation(error.operation_id, Checkpoint)``, as the message says: from a
    server that does not say an operation's kind (the wire's), only that waits for the
    saved checkpoint to be completed, as ``save_state`` does. For a save recovered
    without its operation, the id is the checkpoint's ``weaver://`` path, for
    ``get_checkpoint()``; for an export answered with its artifact (no operation), the
    artifact's ``uri``, whose checkpoint ``list_artifacts()`` shows.

    Attributes:
        operation_id: The operation's id.
        status: The last status seen (``pending`` or ``running``; ``done`` when only
            what the operation made is not yet: ``result_pending``).
        result_pending: The operation is done, but what it made (a save's checkpoint)
            still says ``pending``, and is what the wait was for.
        waited: Seconds spent waiting.
        last_error: When the wait ended because polls kept failing (the server
            unreachable, 503s...), the last failure; also the ``__cause__``.
        poll_error: That failure in a few words (``connection refused``,
            ``HTTP 503``), as ``OperationProgress.poll_error`` shows it.
    """

    def __init__(
        self,
        *,
        operation_id: str,
        status: str,
        waited: float,
        last_error: Exception | None = None,
        poll_error: str | None = None,
        result_type: str | None = None,
        result_pending: bool = False,
    ) -> None:
        self.operation_id = operation_id
        self.status = status
        self.waited = waited
        self.last_error = last_error
        self.poll_error = poll_error
        self.result_pending = result_pending
        # A save's checkpoint is pending after its operation is done: name what is.
        made = f"is done, but its {result_type or 'result'}" if result_pending else None
        if last_error is None:
            seen = f"{made} still says pending" if made else f"still {status}"
            keeps = "it may yet be completed" if made else "it keeps running"
            message = f"{name_watched(operation_id)} {seen} after {seconds(waited)} s; {keeps}"
        else:
            seen = f"{made} was last seen pending" if made else f"last seen {status}"
            keeps = "it may yet be completed" if made else "it may still be running"
            message = (
                f"{name_watched(operation_id)} {seen}; gave up after {seconds(waited)} s: the last "
                f"poll failed ({last_error}); {keeps}"
            )
        message += " on the server"
        super().__init__(f"{message}: {pick_up_again(operation_id, result_type)}")


# Set on an exception by ``add_goes_on_note``.
_GOES_ON = "_weaver_goes_on"


def add_goes_on_note(exc: BaseException, note: str) -> None:
    """Add ``note`` to ``exc``: it says that something goes on on the server (an operation
    whose wait ended, a request the server may act on), which a close that terminates
    its model ends, as ``goes_on`` tells ``CreatedModels.closing_block``."""
    exc.add_note(note)
    setattr(exc, _GOES_ON, True)


def goes_on(exc: BaseException) -> bool:
    """Whether ``exc`` says that something goes on on the server: a note added by
    ``add_goes_on_note``, or its kind (a wait's timeout; a Ctrl-C or a cancel, which may
    leave an operation started without waiting); or an exception it groups (a failing
    ``TaskGroup``'s) or was raised from (``asyncio.timeout``'s ``TimeoutError``) does.
    Each is looked at once, without recursion: a chain of causes may be long, or a loop."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        each = todo.pop()
        if id(each) in seen:
            continue
        seen.add(id(each))
        if getattr(each, _GOES_ON, False) is True or isinstance(
            each, (OperationTimeoutError, KeyboardInterrupt, asyncio.CancelledError)
        ):
            return True
        todo += each.exceptions if isinstance(each, BaseExceptionGroup) else ()
        todo += [each.__cause__] if each.__cause__ is not None else []
    return False


# Set on an exception by ``note_cli_words``; the command line reads it by this name.
_CLI_NOTES = "cli_notes"


def note_cli_words(exc: BaseException, note: str, cli: str) -> None:
    """Give ``exc``'s ``note`` (or its text), which names library calls, the command line's
    words ``cli``, which it shows instead (``exc.cli_notes``, by note, as a log record's
    ``cli_message``)."""
    vars(exc).setdefault(_CLI_NOTES, {})[note] = cli


def carry_notes(first: BaseException, again: BaseException) -> None:
    """Give ``again``, raised while ``first`` was being handled (a second Ctrl-C during
    the close that a first one's ``with`` block began), ``first``'s notes, with their
    command line's words and mark (``goes_on``): a traceback shows them only above
    ``again``'s, as the exception it happened during, and the command line not at all."""
    have = getattr(again, "__notes__", [])
    for note in getattr(first, "__notes__", []):
        if note not in have:
            again.add_note(note)
    for note, cli in vars(first).get(_CLI_NOTES, {}).items():
        note_cli_words(again, note, cli)
    if getattr(first, _GOES_ON, False) is True:
        setattr(again, _GOES_ON, True)


def pick_up_again(operation_id: str, result_type: str | None = None) -> str:
    """How to look again at an operation whose wait ended: by its id, with the name of
    the ``result_type`` a re-attach needs to wait as the wait did (a save's
    ``Checkpoint``), or, for a save or an export watched through what it makes (its
    handle's id is then a path), by that."""
    checkpoint, artifacts, _ = operation_id.partition("/artifacts/")
    if not operation_id.startswith("weaver://"):
        typed = f", {result_type}" if result_type else ""
        return f"re-attach with service.operation({operation_id!r}{typed})"
    if artifacts:
        return f"look at it again with list_artifacts({checkpoint!r})"
    return f"look at it again with get_checkpoint({operation_id!r})"


class ClientClosedError(WeaverError, RuntimeError):
    """The client was closed: a call made after ``close()`` sends nothing, and a retry
    that was waiting when it closed is not sent. A request already on its way may have
    acted on the server."""


class EventLoopError(WeaverError, RuntimeError):
    """An ``AsyncServiceClient`` (or a training client or handle of it) was used where no
    asyncio event loop runs (under trio), or on another event loop than the one it was
    first used on: nothing was sent. Its connections and
    heartbeat belong to that loop, so make one client per ``asyncio.run()``. Also raised by
    ``aclose()`` of a client given ``http_client`` once that loop is closed, naming the
    models it created that it can no longer terminate."""


def running_loop() -> asyncio.AbstractEventLoop:
    """The running asyncio event loop; ``EventLoopError`` where none runs (under trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise EventLoopError(
            "weaver_facade's async clients run on asyncio, and no asyncio event loop is "
            "running here; under trio, call a ServiceClient from a worker thread "
            "(trio.to_thread.run_sync)"
        ) from None


class DownloadError(WeaverError):
    """Downloading an artifact's files failed; finished files and ``.part`` files stay
    (except one that failed verification), and running it again resumes them.

    Attributes:
        name: The artifact file concerned (its name in the artifact), if one.
    """

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name


class UnsafeArtifactPathError(DownloadError):
    """A file name of the artifact is unsafe (``..``, absolute, ``\\``, ``:``, empty or dot
    segments, trailing dots or spaces, duplicates), or a symlink or file stands in the
    way, or the destination cannot be made or takes no files (no permission), or it or a
    file in place there cannot be read (to lock it, to hash it). Raised before anything is
    written."""


class ArtifactIntegrityError(DownloadError):
    """A downloaded file's size or sha256 is not the descriptor's; the file is not published.

    Attributes:
        expected: The descriptor's value (size in bytes or sha256 hex).
        received: What was received.
    """

    def __init__(
        self, message: str, *, name: str | None, expected: str | None, received: str | None
    ) -> None:
        super().__init__(message, name=name)
        self.expected = expected
        self.received = received


class StorageError(DownloadError):
    """Storage refused a file's URL (even fresh ones) or kept failing past the retries.

    Attributes:
        status_code: The last HTTP status from storage, if it answered.
    """

    def __init__(self, message: str, *, name: str | None, status_code: int | None) -> None:
        super().__init__(message, name=name)
        self.status_code = status_code


class DownloadTimeoutError(DownloadError, TimeoutError):
    """The download's overall deadline passed; run it again to resume."""


# -- mapping a server error to its class ------------------------------------------------

_BY_CODE: Mapping[str, type[APIError]] = {
    "checkpoint_exists": CheckpointExistsError,
    "checkpoint_not_ready": CheckpointNotReadyError,
    "artifact_not_ready": ArtifactNotReadyError,
    "export_in_progress": ExportInProgressError,
    "merge_not_supported": MergeNotSupportedError,
    "model_terminated": ModelTerminatedError,
    "model_state_lost": ModelStateLostError,
    "seq_id_conflict": SeqIdConflictError,
    "optimizer_state_unavailable": OptimizerStateUnavailableError,
    "incompatible_checkpoint": IncompatibleCheckpointError,
    "unknown_base_model": UnknownBaseModelError,
    "idempotency_mismatch": IdempotencyMismatchError,
}

# The spec's codes that need no class of their own: their status says what happened.
# Every other code of the spec has its class above (`scripts/regenerate` checks both).
TOLD_BY_STATUS = frozenset(
    {
        "invalid_request",
        "unauthorized",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "rate_limited",
        "internal",
        "unavailable",
    }
)

_BY_STATUS: Mapping[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class(status_code: int, code: str | None) -> type[APIError]:
    """The exception class of an HTTP error reply: its status's, refined by the code."""
    cls = InternalServerError if status_code >= 500 else _BY_STATUS.get(status_code, APIError)
    by_code = _BY_CODE.get(code or "")
    # A code only refines its own status: a 500 that says `checkpoint_exists`
    # is still a server error.
    if by_code is not None and issubclass(by_code, cls):
        return by_code
    if status_code == 422 and code == "invalid_request":
        return BadRequestError  # the wire states no status for it: 422 is a server's choice
    return cls
