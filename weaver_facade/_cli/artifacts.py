"""``weaver-facade checkpoints export | artifacts | download``: get the weights out.

``export`` converts a checkpoint to Hugging Face layout (an artifact),
``artifacts`` lists a checkpoint's artifacts and ``download`` fetches one into
a folder, verified and resumable. The progress of a download is a bar (bytes,
rate, time left) on a terminal and one line per finished file otherwise.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from weaver_client import limits

from .. import (
    SERVER_DEFAULT,
    AmbiguousArtifactKindError,
    ArtifactFile,
    ArtifactKind,
    DownloadProgress,
    DownloadResult,
    DownloadTarget,
    DownloadTimeoutError,
    NotFoundError,
    ServiceClient,
    WeaverError,
)
from .._dest import doing, in_the_way, shown_path, what_is_there
from .._help import Folder, WholeNumber
from .._plural import counted
from ._output import _size, artifact_json, emit_json, print_artifact, print_fields
from ._progress import can_redraw, new_console, stderr_is_a_tty, to_stderr
from ._state import (
    EXIT_API_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    as_timeout,
    cli_notes,
    current_state,
    handles_errors,
    json_option,
    timeout_option,
)
from .checkpoints import (
    _ARTIFACT_TTL,
    _artifact_id_told,
    _checkpoints_stay,
    _in_words,
    _model_option,
    _Models,
    _refused_in_cli_words,
    _show_started,
    _wait_options,
    _when_completed,
    checkpoints,
    parse_ref,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["artifact_json", "download_json"]


# The library's default; its bound too (held equal by tests/cli), so that click names a
# bad value by the option, not by the library's parameter.
_MAX_CONCURRENCY = 64
_KINDS = tuple(sorted(kind.value for kind in ArtifactKind))  # the spec's, as the library's
_CONCURRENCY: int = (
    inspect.signature(ServiceClient.download_weights).parameters["max_concurrency"].default
)


def download_json(r: DownloadResult, *, verify: bool) -> dict[str, Any]:
    """A download's result as JSON."""
    return {
        "artifact_id": str(r.artifact_id),
        "kind": r.kind.value,
        "destination": str(r.destination),
        "verified": r.verified,
        # Only a checked hash is given: with --no-verify the server's would read as checked.
        "files": [
            {"name": f.name, "size": f.size, "sha256": f.sha256 if verify else None}
            for f in r.files
        ],
        "bytes": r.bytes,
        "bytes_fetched": r.bytes_fetched,
        "files_skipped": r.files_skipped,
        "seconds": round(r.seconds, 3),
    }


def _sha256_checked(file: ArtifactFile, verify: bool) -> str:
    if not verify:
        return "sha256 not checked (--no-verify)"
    if file.sha256 is None:
        return "sha256 not checked (the server gave none)"
    return f"sha256 {file.sha256}"


_EXPORT_TTL: int = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]


@checkpoints.command("export")
@click.argument("ref")
@click.option(
    "--merge-adapter",
    is_flag=True,
    help="For LoRA, merge the adapter into the base weights (hf_model) instead of "
    "exporting the adapter alone (hf_adapter).",
)
@click.option(
    "--ttl",
    type=_ARTIFACT_TTL,
    metavar="SECONDS",
    help=f"Keep the artifact this long. Default: {_EXPORT_TTL}"
    f"{_in_words(_EXPORT_TTL)}, sent as the official SDK does.",
)
@click.option(
    "--follow-checkpoint",
    is_flag=True,
    help="Keep the artifact as long as the checkpoint, as its TTL stands at the export "
    "(permanent if it has none), instead of --ttl.",
)
@click.option("--force", is_flag=True, help="Replace an existing artifact of the same kind.")
@_wait_options
@_model_option
@json_option
@handles_errors
def export(
    ref: str,
    merge_adapter: bool,
    ttl: int | None,
    follow_checkpoint: bool,
    force: bool,
    no_wait: bool,
    timeout: float | None,
    model_id: str | None,
) -> None:
    """Export the checkpoint REF to Hugging Face layout, ready to download."""
    if ttl is not None and follow_checkpoint:
        raise click.UsageError("give --ttl SECONDS or --follow-checkpoint, not both")
    owner, target = parse_ref(ref, model_id)
    state = current_state()
    service, left = state.waiting(timeout)
    models = _Models(service)  # its lookup, too, within --timeout
    with _checkpoints_stay(owner):
        trainer = models.get(owner)
        checkpoint = models.known(owner, target, ref)  # another model's id is refused, as by show
    no_adapter = (
        f"checkpoint {ref} was trained with full_ft and has no adapter to merge; "
        "drop --merge-adapter to export its weights (hf_model)"
    )
    with (
        state.progress.active(),
        _when_completed(checkpoint),
        _refused_in_cli_words("merge_not_supported", no_adapter),
    ):
        handle = trainer.export_weights(
            checkpoint,
            merge_adapter=merge_adapter,
            ttl_seconds=None if follow_checkpoint else SERVER_DEFAULT if ttl is None else ttl,
            force=force,
            wait=False,
        )
        if no_wait:
            _show_started(handle, "export_checkpoint")
            return
        if not handle.status.is_terminal:  # an identical export may be done already
            state.progress.follow(handle, left())
        artifact = handle.result(0)
    if state.as_json:
        emit_json(artifact_json(artifact))
    else:
        print_artifact(artifact, f"exported {artifact.uri}")


@checkpoints.command("artifacts")
@click.argument("ref")
@_model_option
@json_option
@handles_errors
def artifacts(ref: str, model_id: str | None) -> None:
    """List the artifacts exported from the checkpoint REF."""
    owner, target = parse_ref(ref, model_id)
    models = _Models()
    with _checkpoints_stay(owner):
        with _artifact_id_told(models, owner, target):
            checkpoint = models.known(owner, target, ref)
        found = current_state().service().list_artifacts(checkpoint)
    if current_state().as_json:
        emit_json({"checkpoint": ref, "artifacts": [artifact_json(a) for a in found]})
        return
    if not found:
        click.echo(f"no artifacts for {ref}; create one with `weaver-facade checkpoints export`")
    for a in found:
        print_artifact(a)


class _Bar:
    """A download's ``progress`` callback: a rich bar on a terminal, else a line per file."""

    def __init__(
        self,
        quiet: bool,
        console: Console | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._quiet = quiet
        # Tests pass a console that acts as a terminal, and a clock for the rate.
        self._console = console
        self._clock = clock
        self._bar: Progress | None = None
        self._task: Any = None
        self._files = 0

    @contextlib.contextmanager
    def shown(self) -> Iterator[None]:
        console = self._console
        if console is None and not self._quiet and stderr_is_a_tty():
            console = new_console(stderr=True)
        if console is not None and not self._quiet and can_redraw(console):
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                Task,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.text import Text

            class Speed(TransferSpeedColumn):
                """The rate in the table's units (rich's own is in kB/s, MB/s)."""

                def render(self, task: Task) -> Text:
                    speed = task.finished_speed or task.speed
                    shown = "?" if speed is None else f"{_size(int(speed))}/s"
                    return Text(shown, style="progress.data.speed")

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(binary_units=True),  # KiB, MiB: the table's units
                Speed(),
                TimeRemainingColumn(),
                console=console,
                get_time=self._clock,
            )
            self._task = self._bar.add_task("downloading", total=None)
        try:
            if self._bar is not None:
                with self._bar:
                    yield
            else:
                yield
        finally:
            self._bar = None

    def __call__(self, p: DownloadProgress) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task,
                completed=p.bytes_done,
                total=p.bytes_total or None,
                description=f"{p.files_done}/{p.files_total} files",
            )
        elif not self._quiet and p.files_done != self._files:
            self._files = p.files_done
            to_stderr(
                f"{p.files_done}/{p.files_total} files, "
                f"{_size(p.bytes_done)} of {_size(p.bytes_total)}"
            )


def _folder(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    folder = Path(value)  # not empty: ``Folder`` refused that
    # A file in the way (`-o A_FILE/out`) is a usage error, as `-o A_FILE` is (click's
    # check, which a file below it passes), and told before the checkpoint is looked up.
    try:
        there = in_the_way(folder)
    except OSError:  # too long a path, or one below a folder without search: the library says so
        return folder
    if there is not None:
        what = what_is_there(there)
        if there == folder:
            raise click.BadParameter(f"'{shown_path(folder)}' is {what}")
        raise click.BadParameter(
            f"'{shown_path(folder)}' cannot be made: '{shown_path(there)}' is {what}"
        )
    return folder


@checkpoints.command("download")
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    # Checked by `_folder` alone: click's checks refused a folder the user cannot read as a
    # usage error (2), where one the user cannot write into is the download's (1).
    type=Folder(),
    callback=_folder,
    metavar="DIR",
    help="The folder to download into (created if needed).",
)
@click.option(
    "--kind",
    type=click.Choice(_KINDS),
    help="The artifact's kind, when the checkpoint has both.",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help=(
        "Do not check the files' sha256 (sizes still are, and the hash of a resumed file "
        "or of one in place whose size the server does not give)."
    ),
)
@click.option(
    "--max-concurrency",
    type=WholeNumber(min=1, max=_MAX_CONCURRENCY),
    metavar="N",
    default=_CONCURRENCY,
    show_default=True,
    help="Files fetched at once.",
)
@timeout_option(
    "Give up after this long, retries included (default: none); run it again to resume."
)
@_model_option
@json_option
@handles_errors
def download(
    ref: str,
    output: Path,
    kind: str | None,
    no_verify: bool,
    max_concurrency: int,
    timeout: float | None,
    model_id: str | None,
) -> None:
    """Download an artifact into a folder, verified and resumable.

    REF is a checkpoint (its weaver:// path, or its id or name with --model),
    an artifact's path (weaver://MODEL_ID/checkpoints/NAME/artifacts/KIND) or
    an artifact id. Run it again after an interruption: finished files are
    kept and partial ones (NAME.part) resume where they stopped.
    """
    target: DownloadTarget
    remaining = timeout  # what --timeout leaves for the download
    if "/artifacts/" in ref:
        if model_id is not None and ref.startswith("weaver://"):
            parse_ref(ref.partition("/artifacts/")[0], model_id)  # another model's: refused
        target = ref
        named = ref.rpartition("/")[2]
        if kind is not None and named != kind and named in _KINDS:  # else the library says
            shown = shown_path(ref)
            raise click.BadParameter(f"{kind}, but {shown} is {named}", param_hint="'--kind'")
    elif "://" not in ref and model_id is None:
        try:
            target = uuid.UUID(ref)  # an artifact id
        except ValueError:
            target = parse_ref(ref, model_id)[1]  # explains what a REF is
    else:
        owner, found = parse_ref(ref, model_id)
        service, left = current_state().waiting(timeout)  # an id's lookup within it too
        models = _Models(service)
        if isinstance(found, uuid.UUID):
            with _checkpoints_stay(owner):  # refused as such, with no hint below
                models.get(owner)
        try:
            target = models.known(owner, found, ref)
        except NotFoundError as exc:
            # Another model's checkpoint is refused without a status; a 404 found none, and
            # with --model the id was taken as a checkpoint's: it may have been an artifact's.
            if not isinstance(found, uuid.UUID) or exc.status_code is None:
                raise
            message = f"{exc}; for an artifact's id, leave out --model"
            raise current_state().failure(exc, EXIT_API_ERROR, message) from None
        remaining = left()
    state = current_state()
    bar = _Bar(quiet=state.as_json or state.progress.quiet)
    try:
        with bar.shown():
            result = state.service().download_weights(
                target,
                output,
                kind=kind,  # type: ignore[arg-type]
                verify=not no_verify,
                max_concurrency=max_concurrency,
                progress=bar,
                timeout=as_timeout(remaining),
            )
    except KeyboardInterrupt as exc:
        # Before the first file began (the artifact still being looked up), nothing stays.
        message = (
            f"interrupted; finished files and partial ones (*.part) stay in {shown_path(output)}: "
            "run the same command again to resume"
            if output.is_dir() and any(output.iterdir())
            else f"interrupted; nothing was written to {shown_path(output)}"
        )
        raise state.failure(exc, EXIT_INTERRUPTED, message) from None
    except AmbiguousArtifactKindError as exc:  # said with kind=, the library's name
        choices = " or ".join(f"--kind {k}" for k in exc.kinds)
        message = f"checkpoint {ref} has artifacts of more than one kind: choose one with {choices}"
        # Found once the artifacts are listed, but a usage error: the command lacks --kind.
        raise state.failure(exc, EXIT_USAGE, message) from None
    except NotFoundError as exc:
        if not isinstance(target, uuid.UUID):  # a checkpoint: the library says it all
            raise
        # Without --model an id is taken as an artifact's: it may have been a checkpoint's
        # (the library's note says so when the server has one of that id).
        told = cli_notes(exc) or ["for a checkpoint's id, pass --model MODEL_ID"]
        message = "; ".join([str(exc), *told])
        raise state.failure(exc, EXIT_API_ERROR, message) from None
    except DownloadTimeoutError as exc:  # --timeout as given, not what the lookup left
        raise state.failure(exc, EXIT_API_ERROR, f"{exc} (--timeout {timeout:g} s)") from None
    except WeaverError:
        raise  # a TimeoutError among them is an OSError too, but not a local one
    except OSError as exc:  # the local side: a full disk, say, or a disk's EIO as it hashes
        said = f"cannot {doing(exc)} {shown_path(exc.filename or output)}: {exc.strerror or exc}"
        # The library's note: how much more a full disk must hold, and what stays.
        message = "; ".join([said, *getattr(exc, "__notes__", ())])
        raise state.failure(exc, EXIT_API_ERROR, message) from None
    if state.as_json:
        emit_json(download_json(result, verify=not no_verify))
        return
    rows = [(f.name, f"{_size(f.size)}  {_sha256_checked(f, not no_verify)}") for f in result.files]
    rows.append(
        (
            "total",
            f"{_size(result.bytes)} in {result.seconds:.1f} s; "
            f"fetched {_size(result.bytes_fetched)}"
            + (
                f", {counted(result.files_skipped, 'file')} already there"
                if result.files_skipped
                else ""
            ),
        )
    )
    title = f"downloaded {result.kind.value} {result.artifact_id} to {shown_path(output)}"
    print_fields(title, rows)
