"""Rendering results: rich tables for people, JSON with stable keys for scripts.

The JSON forms are part of the command line's interface: every key is always
present (``null`` when unknown), datetimes are RFC 3339 strings, ids are
strings, enums are their wire values.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .. import (
    Artifact,
    Checkpoint,
    ForwardBackwardResult,
    LoadResult,
    OperationFailedError,
    OperationHandle,
    OptimStepResult,
    PendingInfo,
)
from .._result_shape import result_schemas
from ._progress import columns_given, new_console, pending_reason, printable
from ._state import not_interrupted

__all__ = [
    "artifact_json",
    "checkpoint_json",
    "emit_json",
    "load_json",
    "operation_json",
    "print_artifact",
    "print_checkpoint",
    "print_checkpoints",
    "print_fields",
    "print_load",
    "print_operation",
    "print_table",
    "result_json",
    "show_operation",
]

# -- JSON ---------------------------------------------------------------------------------


def _iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def checkpoint_json(c: Checkpoint) -> dict[str, Any]:
    """A checkpoint as JSON."""
    return {
        "id": str(c.id),
        "name": c.name,
        "path": str(c.path),
        "model_id": c.model_id,
        "type": c.type.value,
        "status": c.status.value,
        "has_optimizer_state": c.has_optimizer_state,
        "ttl_seconds": c.ttl_seconds,
        "created_at": _iso(c.created_at),
        "expires_at": _iso(c.expires_at),
        "size_bytes": c.size_bytes,
        "sha256": c.sha256,
        "train_unembed": c.train_unembed,
        "train_mlp": c.train_mlp,
        "train_attn": c.train_attn,
    }


def load_json(result: LoadResult, model_id: str | None) -> dict[str, Any]:
    """A load's result as JSON; ``model_id`` is the model loaded into, when known."""
    return {
        "model_id": model_id or result.model_id,
        "path": str(result.path),
        "include_optimizer": result.include_optimizer,
        "checkpoint_id": None if result.checkpoint_id is None else str(result.checkpoint_id),
        "optimizer_step": result.optimizer_step,
    }


def artifact_json(a: Artifact) -> dict[str, Any]:
    """An artifact as JSON."""
    return {
        "id": str(a.id),
        "checkpoint_id": str(a.checkpoint_id),
        "model_id": a.model_id,
        "kind": a.kind.value,
        "status": a.status.value,
        "uri": a.uri,
        "size_bytes": a.size_bytes,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in a.files],
        "error": a.error,
        "ttl_seconds": a.ttl_seconds,
        "expires_at": None if a.expires_at is None else a.expires_at.isoformat(),
        "created_at": None if a.created_at is None else a.created_at.isoformat(),
    }


def _pending_json(info: PendingInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "code": info.code,
        "message": info.message,
        "wait_seconds": info.wait_seconds,
        "resources": None if info.resources is None else dict(info.resources),
    }


def result_json(result: object) -> tuple[str | None, Any]:
    """An operation's result as ``(kind, JSON)``; the kind is the spec's operation kind, when
    the result's type belongs to one kind only (else ``None``: a forward pass's result is a
    forward-backward pass's, and an artifact comes from either export)."""
    if isinstance(result, Checkpoint):
        data: Any = checkpoint_json(result)
    elif isinstance(result, LoadResult):
        data = load_json(result, None)
    elif isinstance(result, ForwardBackwardResult):
        data = {
            "loss": result.loss,
            "metrics": dict(result.metrics),
            "datum_ids": list(result.datum_ids),
            "logprobs": [list(row) for row in result.logprobs],
        }
    elif isinstance(result, OptimStepResult):
        data = {"metrics": dict(result.metrics)}
    elif isinstance(result, Artifact):
        data = artifact_json(result)
    else:
        return None, result
    kinds = _kinds_of_results().get(type(result).__name__, ())
    return (kinds[0] if len(kinds) == 1 else None), data


@functools.cache
def _kinds_of_results() -> dict[str, tuple[str, ...]]:
    """The operation kinds whose result has each schema, as the spec says; read when first
    needed, not when every command starts."""
    from weaver_client.schemas import SCHEMAS

    found: dict[str, tuple[str, ...]] = {}
    for kind, schema in result_schemas(SCHEMAS).items():
        found[schema] = (*found.get(schema, ()), kind)
    return found


def operation_json(
    operation_id: str,
    status: str,
    pending_info: PendingInfo | None,
    result: object = None,
    failure: OperationFailedError | None = None,
    *,
    kind: str | None = None,
    model_id: str | None = None,
    created_at: datetime.datetime | None = None,
    updated_at: datetime.datetime | None = None,
) -> dict[str, Any]:
    """An operation as JSON: ``result`` once done, ``error`` once failed, else ``null``.

    ``kind`` is the spec's operation kind when the caller knows it; otherwise
    it is read from the result, and ``null`` before there is one. ``model_id``
    and the times are the server's, ``null`` when it does not say.
    """
    found, data = result_json(result) if result is not None else (None, None)
    kind = kind or found
    error = None
    if failure is not None:
        error = {
            "code": failure.code,
            "message": failure.message,  # null, as retryable, when the server did not say
            "retryable": failure.retryable,
            "details": dict(failure.details),
        }
    return {
        "id": operation_id,
        "status": status,
        "kind": kind,
        "model_id": model_id,
        "created_at": _iso(created_at),
        "updated_at": _iso(updated_at),
        "pending_info": _pending_json(pending_info),
        "result": data,
        "error": error,
    }


def show_operation(
    handle: OperationHandle[Any], kind: str | None, *, as_json: bool
) -> OperationFailedError | None:
    """Print the operation, as JSON with ``as_json``: its result once done, its error
    once failed (also returned)."""
    result: object = None
    failure: OperationFailedError | None = None
    if handle.done():
        try:
            result = handle.result()
        except OperationFailedError as exc:
            failure = exc
    shown = (operation_json if as_json else print_operation)(
        handle.id,
        handle.status.value,
        handle.pending_info,
        result,
        failure,
        kind=kind,
        # A server without operation details does not say the model; a checkpoint's, an
        # artifact's or a load's result does.
        model_id=handle.model_id or getattr(result, "model_id", None),
        created_at=handle.created_at,
        updated_at=handle.updated_at,
    )
    if as_json:
        emit_json(shown)
    return failure


def _finite(data: Any) -> Any:
    """``data`` with every NaN and infinity as ``None``: JSON has no such numbers."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout.

    A loss or metric that is no number (a diverged step's NaN, which a server's
    JSON may carry) is ``null``: Python would write ``NaN``, which no strict JSON
    parser (JavaScript's, Go's, RFC 8259) accepts.
    """
    not_interrupted()
    click.echo(json.dumps(_finite(data), indent=2, allow_nan=False))


# -- tables -------------------------------------------------------------------------------


def _console() -> Console:
    # Created per call: it must write to the sys.stdout of the moment (tests swap it).
    not_interrupted()  # each table's, before it is printed
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and stdout.errors == "strict":
        # A name or message from the server that stdout's encoding cannot carry (an ASCII
        # or Latin-1 locale, PYTHONIOENCODING=ascii) is escaped as stderr does, not a
        # UnicodeEncodeError traceback halfway through the table.
        stdout.reconfigure(errors="backslashreplace")
    console = new_console(highlight=False)
    if not console.is_terminal and not columns_given():
        # Piped output has no width to fit; rich's 80 columns would wrap rows for grep.
        console.width = 160
    return console


def _when(value: datetime.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _ttl(c: Checkpoint) -> str:
    return "permanent" if c.ttl_seconds is None else f"{c.ttl_seconds} s"


def _show(title: str, table: Table, blocks: Sequence[Sequence[tuple[str, str]]]) -> None:
    """``table`` when each of its columns can show its longest word whole; else, on a
    narrow terminal, where rich would break words and then crop whole columns to
    nothing, the title and under it one ``name: value`` line per cell (a blank line
    between rows), which only the terminal wraps: ids and paths stay whole, to copy."""
    console = _console()
    unbounded = console.options.update_width(2**31)
    measured = Measurement.get(console, unbounded, table)
    if measured.minimum <= console.width:
        if measured.maximum > console.width:
            _fit(console, table, measured.minimum)
        # Above the table, not as its title, and on one line that only the terminal wraps:
        # rich pads a title to the table's width, and ends each line it wraps with its
        # space, which piped output carried.
        console.print(Text(title, style="table.title"), soft_wrap=True)
        console.print(table)
        return
    lines = [title]
    for i, block in enumerate(blocks):
        lines += [""] * (i > 0) + [f"  {name}: {value}" for name, value in block]
    console.print(Text("\n".join(lines)), soft_wrap=True)


def _fit(console: Console, table: Table, minimum: int) -> None:
    """Fix the widths of ``table``'s columns to fill ``console`` with none narrower than its
    longest word. Left to rich, a table too wide for one line per row narrows its widest
    columns alike, and broke a word one of them could have kept (``weight_and_opti`` /
    ``mizer``, beside a time that has a space to wrap at)."""
    unbounded = console.options.update_width(2**31)
    lows: list[int] = []
    highs: list[int] = []
    for column in table.columns:
        sizes = [
            Measurement.get(console, unbounded, cell) for cell in (column.header, *column.cells)
        ]
        lows.append(max(column.min_width or 0, *(size.minimum for size in sizes)))
        highs.append(max(lows[-1], *(size.maximum for size in sizes)))
    # The room the columns' contents share: the rest is borders and padding.
    spare = console.width - minimum
    wants = [high - low for low, high in zip(lows, highs, strict=True)]
    for column, low, want in zip(table.columns, lows, wants, strict=True):
        column.width = low + min(want, spare * want // max(sum(wants), 1))


def print_fields(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """A two-column table of ``(field, value)``."""
    title, rows = printable(title), [(printable(n), printable(v)) for n, v in rows]
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    _show(title, table, [rows])


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows under their columns (``(none)`` without any); the first column, which names
    each row (an id, a name), is never wrapped."""
    title, rows = printable(title), [[printable(cell) for cell in row] for row in rows]
    if not rows:
        _console().print(Text(f"{title}\n(none)"), soft_wrap=True)
        return
    table = Table()
    names = [columns[0], *(row[0] for row in rows)]
    table.add_column(columns[0], no_wrap=True, min_width=max(map(cell_len, names)))
    for column in columns[1:]:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*map(Text, row))
    _show(title, table, [list(zip(columns, row, strict=True)) for row in rows])


def _checkpoint_rows(c: Checkpoint) -> list[tuple[str, str]]:
    return [
        ("path", str(c.path)),
        ("id", str(c.id)),
        ("type", c.type.value),
        ("status", c.status.value),
        ("resumable", "yes (weights and optimizer)" if c.has_optimizer_state else "no"),
        ("ttl", _ttl(c)),
        ("created", _when(c.created_at)),
        ("expires", _when(c.expires_at)),
        ("size", _size(c.size_bytes)),
        ("sha256", c.sha256 or "-"),
        (
            "trained",
            ", ".join(
                part
                for part, on in (
                    ("unembed", c.train_unembed),
                    ("mlp", c.train_mlp),
                    ("attn", c.train_attn),
                )
                if on
            )
            or "-",
        ),
    ]


def print_checkpoint(c: Checkpoint, title: str | None = None) -> None:
    """One checkpoint, field by field."""
    print_fields(title or f"checkpoint {c.name}", _checkpoint_rows(c))


def print_checkpoints(model_id: str, checkpoints: Sequence[Checkpoint]) -> None:
    """A model's checkpoints, one per row."""
    title = f"checkpoints of {model_id}: weaver://{model_id}/checkpoints/NAME"
    rows = [
        (c.name, c.type.value, c.status.value, _size(c.size_bytes), _when(c.created_at), _ttl(c))
        for c in checkpoints
    ]
    print_table(title, ("name", "type", "status", "size", "created", "ttl"), rows)


def _load_rows(result: LoadResult, model_id: str | None) -> list[tuple[str, str]]:
    model_id = model_id or result.model_id
    rows = [("model", model_id)] if model_id is not None else []
    return [
        *rows,
        ("path", str(result.path)),
        ("restored", "weights and optimizer state" if result.include_optimizer else "weights"),
        ("checkpoint id", "-" if result.checkpoint_id is None else str(result.checkpoint_id)),
        ("optimizer step", "-" if result.optimizer_step is None else str(result.optimizer_step)),
    ]


def print_load(result: LoadResult, model_id: str | None) -> None:
    """What a load restored."""
    print_fields(f"loaded {result.path.name}", _load_rows(result, model_id))


def print_artifact(a: Artifact, title: str | None = None) -> None:
    """An artifact and its files."""
    rows = [
        ("uri", a.uri),
        ("id", str(a.id)),
        ("kind", a.kind.value),
        ("status", a.status.value + (f": {a.error}" if a.error else "")),
        ("size", _size(a.size_bytes)),
        ("expires", _when(a.expires_at) if a.expires_at else "-"),
    ]
    rows += [(f.name, f"{_size(f.size)}  sha256 {f.sha256 or '-'}") for f in a.files]
    print_fields(title or a.uri, rows)


def _metrics(metrics: Mapping[str, float]) -> list[tuple[str, str]]:
    return [(name, repr(value)) for name, value in sorted(metrics.items())]


def print_operation(
    operation_id: str,
    status: str,
    pending_info: PendingInfo | None,
    result: object = None,
    failure: OperationFailedError | None = None,
    *,
    kind: str | None = None,
    model_id: str | None = None,
    created_at: datetime.datetime | None = None,
    updated_at: datetime.datetime | None = None,
) -> None:
    """An operation and, once it is over, its result or error."""
    found, _ = result_json(result) if result is not None else (None, None)
    kind = kind or found
    rows = [("id", operation_id), ("status", status)]
    if kind is not None:
        rows.append(("kind", kind))
    if model_id is not None:
        rows.append(("model", model_id))
    if created_at is not None:
        rows.append(("created", _when(created_at)))
    if updated_at is not None:
        rows.append(("updated", _when(updated_at)))
    if pending_info is not None:
        rows.append(("pending", pending_reason(pending_info)))
        if pending_info.wait_seconds is not None:
            # As sent: it may be the time left or the time already waited (``PendingInfo``).
            rows.append(("wait_seconds", f"{pending_info.wait_seconds:.1f}"))
    if failure is not None:
        said = failure.message or "(the server gave no message)"
        rows.append(("error", f"[{failure.code or 'unknown'}] {said}"))
        retryable = {True: "yes", False: "no", None: "(the server did not say)"}
        rows.append(("retryable", retryable[failure.retryable]))
    print_fields(f"operation {operation_id}", rows)
    if isinstance(result, Checkpoint):
        print_checkpoint(result, f"result: checkpoint {result.name}")
    elif isinstance(result, LoadResult):
        print_load(result, None)
    elif isinstance(result, ForwardBackwardResult):
        print_fields("result", [("loss", repr(result.loss)), *_metrics(result.metrics)])
    elif isinstance(result, OptimStepResult):
        print_fields("result", _metrics(result.metrics))
    elif isinstance(result, Artifact):
        print_artifact(result, f"result: {result.uri}")
    elif result is not None:
        print_fields("result", [("response", json.dumps(result))])
