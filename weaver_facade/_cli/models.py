"""``weaver-facade models ...`` and ``weaver-facade supported-models``.

``models list`` is where a MODEL_ID for the other commands comes from;
``supported-models`` names the BASE_MODELs that ``models create`` takes.
A model made by ``models create`` is kept (the command line is short-lived);
``models terminate`` frees it, and its checkpoints stay.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import click
from weaver_client import limits

from .. import (
    DEFAULT_LORA_RANK,
    BaseModelInfo,
    ModelInfo,
    NotFoundError,
    UnsupportedByServerError,
)
from .._help import WholeNumber
from . import SUMMARIES
from ._output import _iso, _when, emit_json, print_fields, print_table
from ._state import (
    EXIT_API_ERROR,
    current_state,
    handles_errors,
    json_option,
    noted,
)

__all__ = ["models", "supported_models"]

_RANK_MIN, _RANK_MAX = limits.LORA_CONFIG_RANK_MINIMUM, limits.LORA_CONFIG_RANK_MAXIMUM


def model_json(m: ModelInfo) -> dict[str, Any]:
    """A model as JSON (stable keys, ``null`` when the server does not say)."""
    lora = m.lora
    return {
        "id": m.id,
        "base_model": m.base_model,
        "training_mode": m.training_mode,
        "status": m.status,
        "lora_rank": m.lora_rank,
        "lora_seed": None if lora is None else lora.seed,
        "session_id": m.session_id,
        "tokenizer_path": m.tokenizer_path,
        "next_seq_id": m.next_seq_id,
        "created_at": _iso(m.created_at),
    }


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def print_model(m: ModelInfo, title: str | None = None) -> None:
    """One model, field by field."""
    rows = [
        ("id", m.id),
        ("base model", _or_dash(m.base_model)),
        ("training mode", _or_dash(m.training_mode)),
        ("status", _or_dash(m.status)),
        ("lora rank", _or_dash(m.lora_rank)),
        ("lora seed", _or_dash(None if m.lora is None else m.lora.seed)),
        ("session", _or_dash(m.session_id)),
        ("tokenizer", _or_dash(m.tokenizer_path)),
        ("next seq_id", _or_dash(m.next_seq_id)),
        ("created", _when(m.created_at)),
    ]
    print_fields(title or f"model {m.id}", rows)


def print_models(found: Sequence[ModelInfo]) -> None:
    """Models, one per row."""
    rows = [
        (
            m.id,
            _or_dash(m.base_model),
            _or_dash(m.training_mode),
            _or_dash(m.lora_rank),
            _or_dash(m.status),
            _when(m.created_at),
        )
        for m in found
    ]
    print_table("models", ("id", "base model", "mode", "rank", "status", "created"), rows)


@click.group(
    "models",
    help=f"{SUMMARIES['models']}\n\nA model's checkpoints: "
    "`weaver-facade checkpoints list MODEL_ID`.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def models() -> None:
    pass


@contextlib.contextmanager
def _not_found_noted() -> Iterator[None]:
    """A model not found, with the library's note, when the wire cannot tell a model
    terminated before (and forgotten) from an unknown id: the CLI's one-line error shows
    no notes of its own."""
    try:
        yield
    except NotFoundError as exc:
        message = noted(exc)
        if message is None:
            raise
        raise current_state().failure(exc, EXIT_API_ERROR, message) from None


@models.command("list")
@json_option
@handles_errors
def list_() -> None:
    """List the key's models, oldest first (terminated ones too).

    Needs the server's model-listing extension; `models show MODEL_ID` needs none.
    """
    state = current_state()
    try:
        found = state.service().list_models()
    except UnsupportedByServerError as exc:
        message = (
            f"this server cannot list models: it lacks the {exc.extension} extension "
            "(GET /api/v1/models is not a route there, unless --base-url is not the "
            "server's root); `weaver-facade models show MODEL_ID` shows one by its id"
        )
        raise state.failure(exc, EXIT_API_ERROR, message) from None
    if current_state().as_json:
        emit_json({"models": [model_json(m) for m in found]})
    else:
        print_models(found)


@models.command("show")
@click.argument("model_id")
@json_option
@handles_errors
def show(model_id: str) -> None:
    """Show one model."""
    with _not_found_noted():
        model = current_state().service().get_model(model_id)
    if current_state().as_json:
        emit_json(model_json(model))
    else:
        print_model(model)


@models.command("create")
@click.argument("base_model")
@click.option(
    "--lora-rank",
    type=WholeNumber(_RANK_MIN, _RANK_MAX),
    metavar="N",
    help=f"Train a LoRA adapter of rank N. Default: LoRA, rank {DEFAULT_LORA_RANK}.",
)
@click.option("--full", is_flag=True, help="Fine-tune all weights instead of a LoRA adapter.")
@click.option(
    "--seed",
    type=WholeNumber(limits.LORA_CONFIG_SEED_MINIMUM, limits.LORA_CONFIG_SEED_MAXIMUM),
    metavar="N",
    help="The LoRA initialisation seed (LoRA only).",
)
@json_option
@handles_errors
def create(base_model: str, lora_rank: int | None, full: bool, seed: int | None) -> None:
    """Create a training model from BASE_MODEL (see `weaver-facade supported-models`).

    The model is kept after the command ends; `models terminate` frees it.
    """
    if full and (lora_rank is not None or seed is not None):
        raise click.UsageError("--full trains all weights; it takes no --lora-rank or --seed")
    trainer = (
        current_state()
        .service()
        .create_training_client(
            base_model,
            training_mode="full_ft" if full else "lora",
            lora_rank=lora_rank,
            seed=seed,
            keep=True,
        )
    )
    if current_state().as_json:
        emit_json(model_json(trainer.model))
    else:
        print_model(trainer.model, f"created model {trainer.model_id}")


@models.command("terminate")
@click.argument("model_id")
@json_option
@handles_errors
def terminate(model_id: str) -> None:
    """Terminate a model: it stops holding training resources; its checkpoints stay."""
    with _not_found_noted():
        model = current_state().service().terminate_model(model_id)
    if current_state().as_json:
        emit_json(model_json(model))
    else:
        print_model(model, f"terminated model {model.id}")


def base_model_json(m: BaseModelInfo) -> dict[str, Any]:
    """A base model as JSON."""
    return {"name": m.name, "status": m.status, "config": dict(m.config)}


@click.command("supported-models", context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@handles_errors
def supported_models() -> None:
    """List the base models the server can train from (BASE_MODEL of `models create`)."""
    found = current_state().service().supported_models()
    if current_state().as_json:
        emit_json({"supported_models": [base_model_json(m) for m in found]})
        return
    rows = [
        (m.name, m.status, ", ".join(f"{k}={v}" for k, v in sorted(m.config.items())) or "-")
        for m in found
    ]
    print_table("supported base models", ("name", "status", "config"), rows)
