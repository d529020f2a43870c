"""``weaver-facade operations ...``: look at an operation, or wait for it to end.

Every training step, save and load is an operation; its id comes from
``checkpoints save/load --no-wait``, from an ``OperationTimeoutError`` or from
the server. ``show`` looks once; ``wait`` long-polls until the status is
``done`` or ``error`` (exit 1 for ``error`` or when ``--timeout`` passes).
"""

from __future__ import annotations

from typing import Any

import click

from .. import APIError, OperationHandle, OperationTimeoutError
from ._output import emit_json, operation_json, operation_times, outcome, print_operation
from ._state import (
    EXIT_API_ERROR,
    NOT_SEEN,
    CliError,
    current_state,
    handles_errors,
    json_option,
    timeout_option,
)

__all__ = ["operations"]


@click.group("operations", context_settings={"help_option_names": ["-h", "--help"]})
def operations() -> None:
    """Look at operations (training steps, saves, loads) and wait for them."""


def _report(handle: OperationHandle[Any], *, fail: bool) -> None:
    """Print the operation; with ``fail``, an operation that ended in error exits 1."""
    result, failure = outcome(handle)
    args = (handle.id, handle.status.value, handle.pending_info, result, failure)
    if current_state().as_json:
        emit_json(operation_json(*args, kind=handle.kind, **operation_times(handle)))
    else:
        print_operation(*args, kind=handle.kind, **operation_times(handle))
    if failure is not None and fail:
        # The operation was printed (with its error) above; no second JSON document.
        raise CliError(str(failure), exit_code=EXIT_API_ERROR)


@operations.command("show")
@click.argument("operation_id")
@json_option
@handles_errors
def show(operation_id: str) -> None:
    """Show an operation's status, and its result or error once it is over."""
    _report(current_state().service().operation(operation_id), fail=False)


@operations.command("wait")
@click.argument("operation_id")
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
    _report(handle, fail=True)
