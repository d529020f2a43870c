"""JSON shapes of the spec's objects, built from store rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ._store import Row

__all__ = [
    "checkpoint_path",
    "render_artifact",
    "render_checkpoint",
    "render_model",
    "render_session",
    "timestamp",
]


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-29T10:01:00.123Z``."""
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def checkpoint_path(model_id: str, name: str) -> str:
    return f"weaver://{model_id}/checkpoints/{name}"


def render_session(row: Row) -> dict[str, Any]:
    body = json.loads(row["body"])
    return {
        "id": row["id"],
        "tags": body.get("tags", []),
        "user_metadata": body.get("user_metadata", {}),
        "sdk_version": body.get("sdk_version"),
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


def render_model(row: Row, next_seq_id: int, tokenizer_path: str) -> dict[str, Any]:
    lora = json.loads(row["lora_config"]) if row["lora_config"] else None
    return {
        "id": row["id"],
        "session_id": row["session_id"],
        "model_seq_id": int(row["model_seq_id"]),
        "base_model": row["base_model"],
        "tokenizer_path": tokenizer_path,
        "training_mode": row["training_mode"],
        "lora_config": lora,
        "user_metadata": json.loads(row["user_metadata"]),
        "status": row["status"],
        "next_seq_id": next_seq_id,
        "created_at": timestamp(row["created_at"]),
    }


def render_checkpoint(row: Row, *, status: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "path": checkpoint_path(row["model_id"], row["name"]),
        "status": status or row["status"],
        "ttl_seconds": row["ttl_seconds"],
        "created_at": timestamp(row["created_at"]),
        "expires_at": timestamp(row["expires_at"]) if row["expires_at"] is not None else None,
        "train_unembed": bool(row["train_unembed"]),
        "train_mlp": bool(row["train_mlp"]),
        "train_attn": bool(row["train_attn"]),
        "model_id": row["model_id"],
    }
    if row["size_bytes"] is not None:
        out["size_bytes"] = row["size_bytes"]
    if row["sha256"] is not None:
        out["sha256"] = row["sha256"]
    return out


def render_artifact(row: Row, *, status: str | None = None) -> dict[str, Any]:
    kind = row["kind"]
    return {
        "id": row["id"],
        "checkpoint_id": row["checkpoint_id"],
        "model_id": row["model_id"],
        "kind": kind,
        "status": status or row["status"],
        "uri": f"{checkpoint_path(row['model_id'], row['checkpoint_name'])}/artifacts/{kind}",
        "size_bytes": row["size_bytes"],
        "manifest": json.loads(row["manifest"]) if row["manifest"] is not None else None,
        "error": row["error"],
        "ttl_seconds": row["ttl_seconds"],
        "expires_at": timestamp(row["expires_at"]) if row["expires_at"] is not None else None,
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }
