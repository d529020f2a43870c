"""``weaver-facade operations ...``: look at an operation, or wait for it to end.

Every training step, save, load and export is an operation; its id comes from
``checkpoints save/load/export --no-wait``, from an ``OperationTimeoutError`` or
from the server. ``show`` looks once; ``wait`` long-polls until the status is
``done`` or ``error`` (exit 1 for ``error`` or when ``--timeout`` passes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from weaver_client.schemas import SCHEMAS

from .. import (
    APIError,
    Artifact,
    Checkpoint,
    ForwardBackwardResult,
    LoadResult,
    OperationHandle,
    OperationStatus,
    OperationTimeoutError,
    OptimStepResult,
    ResponseValidationError,
    ServiceClient,
)
from .._result_shape import only_fields_of, result_schemas, shaped_as
from . import SUMMARIES
from ._output import show_operation
from ._state import (
    EXIT_API_ERROR,
    NOT_SEEN,
    CliError,
    cli_notes,
    current_state,
    handles_errors,
    json_option,
    timeout_option,
    within,
)

__all__ = ["operations"]


@click.group(
    "operations",
    help=SUMMARIES["operations"],
    context_settings={"help_option_names": ["-h", "--help"]},
)
def operations() -> None:
    pass


# The types ``service.operation(id, result_type)`` parses a result into, by schema name.
_RESULT_TYPES = {
    t.__name__: t
    for t in (ForwardBackwardResult, OptimStepResult, Checkpoint, LoadResult, Artifact)
}


def _typed(
    handle: OperationHandle[Any],
    service: ServiceClient,
    left: Callable[[], float | None] | None,
) -> OperationHandle[Any]:
    """``handle`` again, with its result's type, where the server does not say the kind (an
    extension, ``operation-details``): its result is then the raw ``response``, printed
    unlike the same result with the extension. The shape tells which result it is.
    A save done while its checkpoint is still pending is waited out by the typed handle,
    for the time ``left()`` (``wait``); ``show`` (no ``left``) shows it as it is."""
    if handle.kind is not None or handle.status is not OperationStatus.DONE:
        return handle
    response, schemas = handle.result(), set(result_schemas(SCHEMAS).values())
    # The real wire's Operation says nothing else of its kind: only the result can tell.
    shapes = {s for s in schemas if shaped_as(response, s, "Operation", SCHEMAS)} or {
        s for s in schemas if only_fields_of(response, s, SCHEMAS)
    }
    if len(shapes) != 1:  # a field of the server's own beside a load's, say: no guess
        return handle
    result_type = _RESULT_TYPES[shapes.pop()]
    typed = service.operation(handle.id, result_type)
    if left is None and not typed.done():
        return typed
    try:
        typed.result(None if left is None else left())
    except ResponseValidationError as refused:
        # A shape whose parser needs what only the request says (a load's result of a
        # bare `path`, without `include_optimizer`): the operation is done all the same.
        # Any other refusal (a drifted checkpoint `type`) is the server's error, as before.
        if result_type is not LoadResult or refused.field in (None, *response):
            raise
        return handle
    return typed


def _report(
    handle: OperationHandle[Any],
    service: ServiceClient,
    *,
    fail: bool,
    left: Callable[[], float | None] | None = None,
) -> None:
    """Print the operation; with ``fail``, an operation that ended in error exits 1."""
    handle = _typed(handle, service, left)
    failure = show_operation(handle, handle.kind, as_json=current_state().as_json)
    if failure is not None and fail:
        # The operation was printed (with its error) above; no second JSON document. Its
        # notes in the command line's words say what to do (after a restart, say).
        message = "; ".join([str(failure), *cli_notes(failure)])
        raise CliError(message, exit_code=EXIT_API_ERROR)


@operations.command("show")
@click.argument("operation_id", metavar="OP_ID")
@json_option
@handles_errors
def show(operation_id: str) -> None:
    """Show an operation's status, and its result or error once it is over."""
    service = current_state().service()
    _report(service.operation(operation_id), service, fail=False)


@operations.command("wait")
@click.argument("operation_id", metavar="OP_ID")
@timeout_option("Stop waiting after this long (default: 1 hour); the operation keeps running.")
@json_option
@handles_errors
def wait(operation_id: str, timeout: float | None) -> None:
    """Wait for an operation to end and show its result (exit 1 if it failed)."""
    state = current_state()
    service, left = state.waiting(timeout)
    state.progress.last_operation_id = operation_id  # named if its first look fails
    with state.progress.active():
        try:
            handle = service.operation(operation_id)
        except APIError as exc:
            if exc.status_code is None or not state.deadline_stopped():
                raise  # unreachable, refused, or --max-retries ran out first
            # The server kept asking to try again until --timeout: a timeout, as a poll's.
            waited = state.waited() or 0.0
            raise OperationTimeoutError(
                operation_id=operation_id, status=NOT_SEEN, waited=waited, last_error=exc
            ) from exc
        state.progress.follow(handle, left())
    _report(handle, within(state.service(), left), fail=True, left=left)
