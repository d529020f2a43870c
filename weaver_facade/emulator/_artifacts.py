"""Artifacts: exporting checkpoints to Hugging Face layout, listing, downloading.

An artifact is a row in ``artifacts`` and, once completed, a directory of
files under ``artifacts/{id}``. An export stages its files in ``{id}.tmp``,
fsyncs them, renames the directory into place and only then marks the row
``completed``; a restart turns a ``pending`` row into ``error`` and removes
every directory no completed artifact owns, so a half-written artifact is
never served.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weaver_client import limits

from . import _tensorfile as tensorfile
from ._errors import conflict, not_found, unprocessable
from ._export import ExportSource, export_plan
from ._render import render_artifact, timestamp
from ._storage import STORAGE_ROUTE
from ._store import NOT_DELETED, Row

if TYPE_CHECKING:
    from ._service import Emulator, Outcome, Reply
    from ._trainer import Trainer

__all__ = ["DEFAULT_ARTIFACT_TTL", "EXPORT_INTERRUPTED", "EXPORT_KINDS", "Artifacts"]

DEFAULT_ARTIFACT_TTL: int = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]
EXPORT_KINDS = ("export_checkpoint", "export_model_weights")
_INTERRUPTED = "the export was interrupted by a restart of the server before it finished"
# An export of a saved checkpoint needs no model state: the checkpoint is as it was.
_AGAIN = "the checkpoint is kept: export the checkpoint again"
_SHUTDOWN = f"the server is shutting down; {_AGAIN}"
#: An export operation's error after a restart.
EXPORT_INTERRUPTED = f"{_INTERRUPTED}; {_AGAIN}"
_LIVE = f"status IN ('pending', 'completed', 'error') AND {NOT_DELETED}"


def artifact_kind(training_mode: str, merge_adapter: bool, where: str) -> str:
    if training_mode == "full_ft":
        if merge_adapter:
            raise unprocessable(
                "merge_not_supported",
                f"{where} was trained with full_ft and has no adapter to merge; "
                "export it with merge_adapter false",
                field="body.merge_adapter",
            )
        return "hf_model"
    return "hf_model" if merge_adapter else "hf_adapter"


class Artifacts:
    """The artifact routes' semantics, on the emulator's store and scheduler."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.store = emulator.store
        self._progress: dict[str, dict[str, int]] = {}
        self._progress_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------

    def recover(self) -> None:
        """After a restart: unfinished exports are errors, unowned files go."""
        now = self.emu.now()
        self.store.execute(
            "UPDATE artifacts SET status='error', error=?, updated_at=? WHERE status='pending'",
            (_INTERRUPTED, now),
        )
        completed = self.store.all("SELECT id FROM artifacts WHERE status='completed'")
        # A delete whose record a full disk refused left only its files' absence.
        present = {p.name for p in self.store.artifact_dir.iterdir()}
        for row in completed:
            if row["id"] not in present:
                self.store.execute("UPDATE artifacts SET status='deleted' WHERE id=?", (row["id"],))
        keep = {r["id"] for r in completed if r["id"] in present}
        self.store.remove_stray_artifacts(keep)

    def sweep(self) -> None:
        """Expire artifacts whose TTL ran out and remove their files."""
        with self.store.transaction():
            rows = self.store.all(
                "SELECT id FROM artifacts WHERE status IN ('completed', 'error') "
                "AND expires_at IS NOT NULL AND expires_at <= ?",
                (self.emu.now(),),
            )
            for row in rows:
                self.store.execute("UPDATE artifacts SET status='expired' WHERE id=?", (row["id"],))
        for row in rows:
            self.store.remove_artifact_files(row["id"])

    # -- progress -----------------------------------------------------------

    def progress(self, op_id: str) -> dict[str, int] | None:
        with self._progress_lock:
            found = self._progress.get(op_id)
            return dict(found) if found is not None else None

    def _set_progress(self, op_id: str, **values: int) -> None:
        with self._progress_lock:
            self._progress.setdefault(op_id, {}).update(values)

    def _clear_progress(self, op_id: str) -> None:
        with self._progress_lock:
            self._progress.pop(op_id, None)

    # -- rows ---------------------------------------------------------------

    def _row(self, tenant: str, artifact_id: str) -> Row:
        self.sweep()
        row = self.store.one(
            f"SELECT * FROM artifacts WHERE id=? AND tenant=? AND {_LIVE}",  # noqa: S608
            (artifact_id, tenant),
        )
        if row is None:
            raise not_found(f"artifact {artifact_id}")
        return row

    def _new_artifact(self, ckpt: Row, kind: str, body: Mapping[str, Any], op_id: str) -> Row:
        now = self.emu.now()
        ttl = body.get("ttl_seconds", DEFAULT_ARTIFACT_TTL)
        # null follows the checkpoint's retention, as it stands at export.
        expires = now + ttl if ttl is not None else ckpt["expires_at"]
        row: Row = {
            "id": str(uuid.uuid4()),
            "tenant": ckpt["tenant"],
            "checkpoint_id": ckpt["id"],
            "model_id": ckpt["model_id"],
            "checkpoint_name": ckpt["name"],
            "kind": kind,
            "status": "pending",
            "ttl_seconds": ttl,
            "expires_at": expires,
            "size_bytes": None,
            "manifest": None,
            "error": None,
            "operation_id": op_id,
            "created_at": now,
            "updated_at": now,
        }
        self.store.insert("artifacts", row)
        return row

    # -- the conversion -----------------------------------------------------

    def _convert(
        self, op_id: str, artifact: Row, source: ExportSource, kind: str, latency: float
    ) -> Outcome:
        """Write the files, publish them, and complete the artifact in the op's transaction."""
        from ._service import OperationFailure, Outcome

        artifact_id = artifact["id"]
        plan = export_plan(source, kind, self.emu.config.shard_size)
        self._set_progress(
            op_id,
            shards_done=0,
            bytes_done=0,
            shards_total=len(plan.shards),
            bytes_total=plan.shard_bytes,
        )

        def pause(seconds: float) -> None:
            if self.emu._worked(seconds, None):  # an export needs no live model
                raise OperationFailure("interrupted", _SHUTDOWN, "export")

        staging = self.store.artifact_staging(artifact_id)
        written = plan.write(
            staging,
            progress=lambda shards, done: self._set_progress(
                op_id, shards_done=shards, bytes_done=done
            ),
            pause=pause,
            latency=latency,
        )
        self.store.publish_artifact(artifact_id, staging)
        manifest = {
            "format_version": 1,
            "files": [{"name": w.name, "size": w.size, "sha256": w.sha256} for w in written],
        }
        size = sum(w.size for w in written)

        def finalize() -> dict[str, Any]:
            self.store.execute(
                "UPDATE artifacts SET status='completed', size_bytes=?, manifest=?, updated_at=? "
                "WHERE id=? AND status='pending'",
                (size, json.dumps(manifest), self.emu.now(), artifact_id),
            )
            row = self.store.one("SELECT * FROM artifacts WHERE id=?", (artifact_id,))
            assert row is not None
            self._clear_progress(op_id)
            return render_artifact(row)

        return Outcome(finalize=finalize)

    def _on_failure(self, op_id: str, artifact_id: str) -> Callable[[str], None]:
        def fail(message: str) -> None:
            self.store.execute(
                "UPDATE artifacts SET status='error', error=?, updated_at=? "
                "WHERE id=? AND status='pending'",
                (message, self.emu.now(), artifact_id),
            )
            self.store.remove_artifact_files(artifact_id)
            self._clear_progress(op_id)

        return fail

    # -- routes -------------------------------------------------------------

    def export_checkpoint(self, tenant: str, checkpoint_id: str, body: Mapping[str, Any]) -> Reply:
        from ._service import OperationFailure

        self.sweep()
        replaced: str | None = None
        with self.store.transaction():
            ckpt = self.emu._checkpoint_row(tenant, checkpoint_id)
            where = f"checkpoint {checkpoint_id}"
            if ckpt["status"] != "completed":
                state = "is still being saved" if ckpt["status"] == "pending" else "failed to save"
                raise conflict("checkpoint_not_ready", f"{where} {state}; it cannot be exported")
            merge = body.get("merge_adapter", limits.EXPORT_REQUEST_MERGE_ADAPTER_DEFAULT)
            kind = artifact_kind(ckpt["training_mode"], merge, where)
            existing = self.store.one(
                "SELECT * FROM artifacts WHERE checkpoint_id=? AND kind=? "  # noqa: S608
                f"AND status IN ('pending', 'completed') AND {NOT_DELETED} "
                "ORDER BY seq DESC LIMIT 1",
                (checkpoint_id, kind),
            )
            force = body.get("force", limits.EXPORT_REQUEST_FORCE_DEFAULT)
            if existing is not None and existing["status"] == "pending":
                if force:
                    raise conflict(
                        "export_in_progress",
                        f"the {kind} export of {where} is still running; force it once it is done",
                        artifact_id=existing["id"],
                    )
                op = self.store.one(
                    "SELECT * FROM operations WHERE id=?", (existing["operation_id"],)
                )
                assert op is not None
                return 202, self.emu.render_operation(op)
            if existing is not None:
                if not force:
                    return 200, render_artifact(existing)
                replaced = existing["id"]
                self.store.execute(
                    "UPDATE artifacts SET status='deleted', updated_at=? WHERE id=?",
                    (self.emu.now(), replaced),
                )
            op = self.emu._new_operation(
                tenant, ckpt["model_id"], "export_checkpoint", checkpoint_id=checkpoint_id
            )
            artifact = self._new_artifact(ckpt, kind, body, op["id"])
            file_name, sha = ckpt["file_name"], ckpt["sha256"]

            def work() -> Outcome:
                current = self.store.one(
                    "SELECT status FROM checkpoints WHERE id=?", (checkpoint_id,)
                )
                path = self.store.checkpoint_file(file_name)
                try:
                    if current is None or current["status"] != "completed":
                        raise FileNotFoundError(file_name)
                    tensors = tensorfile.load_checked(path, sha)
                except FileNotFoundError as exc:
                    raise OperationFailure(
                        "checkpoint_unavailable",
                        f"{where} was deleted or expired before it could be exported",
                        "export",
                    ) from exc
                except ValueError as exc:
                    raise OperationFailure("checkpoint_corrupt", str(exc), "export") from exc
                source = ExportSource(
                    ckpt["base_model"], ckpt["training_mode"], ckpt["lora_rank"], tensors
                )
                latency = self.emu.config.latency_of("export_checkpoint")
                return self._convert(op["id"], artifact, source, kind, latency)

            # Its own queue: an export of a saved checkpoint does not hold up training.
            queue = f"export:{op['model_id']}"
            on_failure = self._on_failure(op["id"], artifact["id"])
            self.emu._submit_job(op, work, on_failure, queue=queue)
        if replaced is not None:
            self.store.remove_artifact_files(replaced)
        return 202, self.emu.render_operation(op)

    def export_model_weights(self, tenant: str, model_id: str, body: Mapping[str, Any]) -> Reply:
        with self.store.transaction():
            model = self.emu._model_row(tenant, model_id)
            self.emu._require_trainable(model)
            merge = body.get("merge_adapter", limits.EXPORT_MODEL_REQUEST_MERGE_ADAPTER_DEFAULT)
            kind = artifact_kind(model["training_mode"], merge, f"model {model_id}")
            ckpt = self.emu._new_checkpoint(tenant, model, "weight", None, None)
            op = self.emu._new_operation(
                tenant, model_id, "export_model_weights", checkpoint_id=ckpt["id"]
            )
            artifact = self._new_artifact(ckpt, kind, body, op["id"])

            def work(trainer: Trainer) -> Outcome:
                tensors = trainer.state_tensors(include_optimizer=False)
                size, sha = self.emu._write_checkpoint(ckpt, tensors, trainer.step)
                # The checkpoint stands on its own, whatever becomes of the export.
                with self.store.transaction():
                    self.emu._complete_checkpoint(ckpt["id"], size, sha)
                source = ExportSource(
                    ckpt["base_model"], ckpt["training_mode"], ckpt["lora_rank"], tensors
                )
                latency = self.emu.config.latency_of("export_model_weights")
                return self._convert(op["id"], artifact, source, kind, latency)

            fail_artifact = self._on_failure(op["id"], artifact["id"])

            def on_failure(message: str) -> None:
                self.emu._fail_checkpoint(ckpt)
                fail_artifact(message)

            self.emu._submit(op, work, on_failure)
        return 202, self.emu.render_operation(op)

    def list_artifacts(self, tenant: str, checkpoint_id: str) -> Reply:
        self.sweep()
        # A deleted checkpoint's collection is gone (404, as after any DELETE); its artifacts
        # outlive it and stay reachable by id.
        self.emu._checkpoint_row(tenant, checkpoint_id)
        rows = self.store.all(
            f"SELECT * FROM artifacts WHERE checkpoint_id=? AND tenant=? AND {_LIVE} "  # noqa: S608
            "ORDER BY seq",
            (checkpoint_id, tenant),
        )
        return 200, {"items": [render_artifact(r) for r in rows]}

    def get_artifact(self, tenant: str, artifact_id: str) -> Reply:
        return 200, render_artifact(self._row(tenant, artifact_id))

    def delete_artifact(self, tenant: str, artifact_id: str) -> Reply:
        """Off the event loop: on a full disk it waits for its files' removal."""

        def mark() -> Row:
            row = self._row(tenant, artifact_id)
            if row["status"] == "pending":
                raise conflict(
                    "artifact_not_ready",
                    f"artifact {artifact_id} is still being exported; delete it once it is done",
                )
            self.store.execute(
                "UPDATE artifacts SET status='deleted', updated_at=? WHERE id=?",
                (self.emu.now(), artifact_id),
            )
            return row

        row = self.store.delete(mark, lambda _: self.store.remove_artifact_files(artifact_id))
        return 200, render_artifact(row, status="deleted")

    def download(self, tenant: str, artifact_id: str, storage_base: str) -> Reply:
        row = self._row(tenant, artifact_id)
        if row["status"] != "completed":
            reason = "is still being exported" if row["status"] == "pending" else "failed"
            raise conflict("artifact_not_ready", f"artifact {artifact_id} {reason}")
        files = []
        for item in json.loads(row["manifest"])["files"]:
            path = STORAGE_ROUTE.format(artifact_id=artifact_id, name=item["name"])
            signed, expires = self.emu.signer.sign(path)
            url = storage_base + signed
            files.append({**item, "url": url, "url_expires_at": timestamp(expires)})
        return 200, {
            "artifact_id": artifact_id,
            "kind": row["kind"],
            "total_bytes": row["size_bytes"],
            "files": files,
        }

    def stored_file(self, artifact_id: str, name: str) -> Path | None:
        """The file ``name`` of a completed, unexpired artifact, or None."""
        self.sweep()
        row = self.store.one(
            "SELECT manifest FROM artifacts WHERE id=? AND status='completed'", (artifact_id,)
        )
        if row is None or name not in {f["name"] for f in json.loads(row["manifest"])["files"]}:
            return None
        path = self.store.artifact_files(artifact_id) / name
        return path if path.is_file() else None
