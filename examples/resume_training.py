"""Train, save, resume: the checkpoint workflow of weaver-facade, end to end.

1. train a new model a few steps on a tiny fixed corpus;
2. save its state (``save_state`` saves weights *and* optimizer state by default);
3. train a few more steps and remember those losses: the original continuation;
4. list the model's checkpoints;
5. resume the saved state in one call, ``create_training_client_from_state``
   (a new model like the saved one, loaded with weights *and* optimizer state),
   and train the same steps again: the losses must equal the original ones
   exactly, because the Adam moments and step were restored with the weights;
6. export the saved adapter to Hugging Face (PEFT) layout, download it,
   verified, into a temporary folder, and print its files and hashes.

The models it creates are terminated when the client closes; the checkpoints stay.

Run it against the local emulator with ``scripts/demo``, or against any Weaver
server, unchanged::

    WEAVER_BASE_URL=https://weaver.example.com WEAVER_API_KEY=... \\
        python examples/resume_training.py --base-model NAME

``--base-model`` defaults to ``$WEAVER_BASE_MODEL``, else ``weaver-tiny``.
``--timeout`` bounds each wait for an operation (an hour by default, the library's):
a server that keeps one pending, such as the resume's load, ends the example with an
error naming it.
The checkpoints it saves expire after an hour.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from weaver_facade import (
    AdamParams,
    APIConnectionError,
    APITimeoutError,
    Checkpoint,
    Datum,
    DownloadResult,
    InvalidInputError,
    PollSettings,
    ServiceClient,
    TrainingClient,
    WeaverError,
    datum_from_tokens,
)

# A tiny corpus, tokenized as bytes: every id is < 256, so it fits any vocabulary.
CORPUS = (
    "the cat sat on the mat",
    "a checkpoint keeps the state",
    "resume where you left off",
    "adam keeps two moments",
)
CHECKPOINT_TTL_SECONDS = 3600  # a demo should not leave permanent checkpoints behind

EPILOG = """\
environment:
  WEAVER_BASE_URL    the server root, such as http://127.0.0.1:8080 (required)
  WEAVER_API_KEY     the API key, sent as X-WEAVER-API-KEY (if the server wants one)
  WEAVER_BASE_MODEL  the default of --base-model

exit status:
  0    the resumed losses equal the original ones
  1    they differ, a request failed, the server could not be reached, or an
       operation did not end within --timeout
  2    bad arguments, or no WEAVER_BASE_URL
  130  interrupted
"""


def training_batch() -> list[Datum]:
    """The same batch at every step, so the only state that matters is the model's."""
    return [datum_from_tokens(list(line.encode())) for line in CORPUS]


def train(trainer: TrainingClient, steps: int, adam: AdamParams) -> list[float]:
    """Run ``steps`` forward-backward passes and optimizer steps; return the losses."""
    batch = training_batch()
    losses: list[float] = []
    for _ in range(steps):
        losses.append(trainer.forward_backward(batch).loss)
        trainer.optim_step(adam)
    return losses


def run(service: ServiceClient, base_model: str, steps: int, adam: AdamParams, out: Out) -> bool:
    """The whole story; returns whether the resumed losses matched the original ones."""
    trainer = service.create_training_client(base_model, lora_rank=8, seed=0)
    out.heading(f"model {trainer.model_id} ({base_model}) on {service.base_url}")
    first = train(trainer, steps, adam)
    out.losses("trained", 1, first)

    saved = trainer.save_state(f"step-{steps}", ttl_seconds=CHECKPOINT_TTL_SECONDS)
    out.saved(saved)

    original = train(trainer, steps, adam)
    out.losses("continued", steps + 1, original)
    # Weights only, for contrast: this one cannot resume the optimizer.
    out.saved(
        trainer.save_state(
            f"step-{2 * steps}", include_optimizer=False, ttl_seconds=CHECKPOINT_TTL_SECONDS
        )
    )
    out.checkpoints(trainer.model_id, trainer.list_checkpoints())

    # As a restarted job would: one call makes a model like the saved one (base model,
    # training mode, LoRA settings) and loads the weights and Adam state into it.
    resumed_trainer = service.create_training_client_from_state(saved)
    loaded = resumed_trainer.resumed_from
    step = loaded.optimizer_step if loaded is not None else None
    out.heading(
        f"resumed {saved.path.name} into model {resumed_trainer.model_id}"
        + (f" at optimizer step {step}" if step else "")
    )
    resumed = train(resumed_trainer, steps, adam)
    matched = out.comparison(steps + 1, original, resumed)

    # Get the weights out: export the saved adapter (Hugging Face/PEFT layout) and download it.
    artifact = trainer.export_weights(saved)
    with tempfile.TemporaryDirectory(prefix="weaver-adapter-") as folder:
        result = service.download_weights(artifact, folder)
        out.heading(f"exported {artifact.uri}")
        out.heading(
            f"downloaded {len(result.files)} files ({result.bytes} bytes), {checked(result)}"
        )
        for f in result.files:
            size = f.size if f.size is not None else (Path(folder) / f.name).stat().st_size
            out.line(f"{f.name} ({size} bytes)")
            out.line(f"  sha256 {f.sha256 or 'not given by the server'}")
    return matched


def checked(result: DownloadResult) -> str:
    """What a download checked its files against: a server need not give every file's size
    and sha256 (the wire allows either out), and one that gives none leaves nothing to check."""
    if result.verified:
        return "each verified against its sha256"
    count = len(result.files)
    hashed = sum(f.sha256 is not None for f in result.files)
    sized = sum(f.size is not None for f in result.files)
    if not (hashed or sized):
        return "not checked: the server gave no sizes or sha256s"
    gave = f"{hashed} of {count} sha256s, {sized} of {count} sizes"
    return f"checked against what the server gave: {gave}"


# -- output: rich when it is installed (the `cli` extra), plain text otherwise ---------------


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.0f} KiB"


def _ttl(checkpoint: Checkpoint) -> str:
    return "permanent" if checkpoint.ttl_seconds is None else f"{checkpoint.ttl_seconds} s"


class Out:
    """Prints the story, with rich tables when rich is available."""

    def __init__(self) -> None:
        try:
            from rich.console import Console
        except ImportError:
            self._console = None
        else:
            self._console = Console(highlight=False)

    def _print(self, text: str, style: str = "") -> None:
        if self._console is None:
            print(text)
        else:
            self._console.print(text, style=style or None, markup=False)

    def line(self, text: str) -> None:
        self._print(text)

    def heading(self, text: str) -> None:
        self._print(text, "bold")

    def losses(self, what: str, first_step: int, losses: Sequence[float]) -> None:
        shown = ", ".join(f"{loss:.4f}" for loss in losses)
        last = first_step + len(losses) - 1
        self._print(f"  {what} steps {first_step}-{last}: loss {shown}")

    def saved(self, checkpoint: Checkpoint) -> None:
        self._print(f"  saved {checkpoint.path} ({checkpoint.type.value})")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if self._console is None:
            # One iterable, so that a table without rows (a listing that lags) has widths too.
            widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
            print(title)
            for row in (columns, *rows):
                print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
            return
        from rich.table import Table

        table = Table(title=title, title_justify="left", title_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self._console.print(table)

    def checkpoints(self, model_id: str, checkpoints: Sequence[Checkpoint]) -> None:
        rows = [
            (
                c.name,
                c.type.value,
                c.status.value,
                "yes" if c.has_optimizer_state else "no",
                _size(c.size_bytes),
                _ttl(c),
            )
            for c in checkpoints
        ]
        columns = ("name", "type", "status", "resumable", "size", "ttl")
        self.table(f"checkpoints of {model_id}", columns, rows)

    def comparison(
        self, first_step: int, original: Sequence[float], resumed: Sequence[float]
    ) -> bool:
        same = [a == b for a, b in zip(original, resumed, strict=True)]
        rows = [
            (str(first_step + i), repr(a), repr(b), "yes" if ok else "NO")
            for i, (a, b, ok) in enumerate(zip(original, resumed, same, strict=True))
        ]
        self.table("loss (sum over the batch)", ("step", "original", "resumed", "equal"), rows)
        if all(same):
            self._print("the resumed losses match the original continuation exactly", "green")
        else:
            self._print("MISMATCH: the resumed losses differ from the original run", "bold red")
        return all(same)


def said(message: str, exc: BaseException, skip: str | None = None) -> str:
    """``message`` and the facade's notes on ``exc`` (what the server may have done, how to
    pick an operation up again), on one line."""
    notes = [note for note in getattr(exc, "__notes__", ()) if note != skip]
    return "; ".join([message, *notes])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the story, and return the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base-model",
        # An empty variable is unset, as WEAVER_BASE_URL and WEAVER_API_KEY are.
        default=os.environ.get("WEAVER_BASE_MODEL", "").strip() or "weaver-tiny",
        help="default: $WEAVER_BASE_MODEL, else weaver-tiny",
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="steps before and after the save (default: 3)"
    )
    parser.add_argument("--learning-rate", type=float, default=0.05, help="default: %(default)s")
    parser.add_argument(
        "--timeout",
        type=float,
        default=PollSettings().timeout,
        metavar="SECONDS",
        help="seconds to wait for each operation, such as the resume's load (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.steps <= 100:
        parser.error("--steps must be between 1 and 100")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        parser.error("--timeout must be a number of seconds above 0")
    if not os.environ.get("WEAVER_BASE_URL", "").strip():
        # The library's own message says "pass base_url=", which this script's user cannot.
        print(
            "error: no Weaver server given: set WEAVER_BASE_URL "
            "(the server root, such as http://127.0.0.1:8080)",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    out = Out()
    service: ServiceClient | None = None
    try:
        adam = AdamParams(learning_rate=args.learning_rate)
        # WEAVER_BASE_URL and WEAVER_API_KEY; the poll settings bound every wait, the
        # resume's load too (create_training_client_from_state takes no timeout).
        with ServiceClient(poll=PollSettings(timeout=args.timeout)) as service:
            matched = run(service, args.base_model, args.steps, adam, out)
    except InvalidInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except APIConnectionError as exc:
        where = service.base_url if service is not None else "the server"
        # As the command line words it: a server that took the request may have acted on it.
        never_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        if isinstance(exc.__cause__, never_sent):
            what = f"cannot reach {where}"
        elif isinstance(exc, APITimeoutError):
            what = f"no reply in time from {where}"
        else:
            what = f"lost the reply from {where}"
        print(said(f"error: {what}: {exc}", exc), file=sys.stderr)
        return 1
    except WeaverError as exc:
        # With the facade's notes (a 401 without a key says that none was given).
        print(said(f"error: {exc}", exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        # Its notes name the operation a wait was cut from, which keeps running.
        notes = getattr(exc, "__notes__", [])
        first = notes[0] if notes and notes[0].startswith("interrupted") else "interrupted"
        print(said(first, exc, skip=first), file=sys.stderr)
        return 130
    out.heading(f"done in {time.monotonic() - started:.1f} s")
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
