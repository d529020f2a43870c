"""The emulator's behaviour: every route's semantics, independent of HTTP.

Request handlers call these methods on the event loop; they only read and
write the store and enqueue jobs. The jobs run on worker threads (see
``_worker``) and wake long-polls through ``_longpoll``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import logging
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from weaver_client import limits

from .._plural import counted
from . import _tensorfile as tensorfile
from ._artifacts import EXPORT_INTERRUPTED, EXPORT_KINDS, Artifacts
from ._auth import Tenants
from ._base_models import BASE_MODELS
from ._config import EmulatorConfig
from ._errors import ApiError, conflict, invalid, not_found, unprocessable
from ._extensions import Extensions
from ._inputs import adam_params, datums
from ._longpoll import Waiters, revision
from ._render import checkpoint_path, render_checkpoint, render_model, render_session, timestamp
from ._storage import UrlSigner, load_secret
from ._store import NOT_DELETED, Row, Store, write_atomically
from ._tokenizer import write_byte_tokenizer
from ._trainer import TRAINED_PARTS, Datum, NonFiniteError, Trainer
from ._worker import Job, Scheduler

__all__ = ["Emulator"]

log = logging.getLogger("weaver_facade.emulator")

Reply = tuple[int, dict[str, Any]]

_PATH = re.compile(r"weaver://(?P<model>[^/]+)/checkpoints/(?P<name>[^/]+)")
_CURSOR = re.compile(r"after:(?P<seq>[0-9]{1,18})")
# The official SDK's rank, for a LoRA model created without lora_config.
_DEFAULT_LORA_RANK = min(32, limits.LORA_CONFIG_RANK_MAXIMUM)
# Where a training pass's batch is, per kind.
_INPUT_KEYS = {"forward_backward": "forward_backward_input", "forward": "forward_input"}
# What to do once a model's training state went with the server's process.
_RELOAD = "create a new model and load a checkpoint into it"
_INTERRUPTED = (
    "the operation was interrupted by a restart of the server before it finished; "
    f"the model's in-memory training state was lost: {_RELOAD}"
)
_SHUTDOWN = (
    f"the server is shutting down; the model's in-memory training state is lost with it: {_RELOAD}"
)
# The wire leaves `pending_info.wait_seconds` open. The emulator's is the time left until
# the start; the official SDK reads the time already waited, logs the larger of it and its
# own count, and a `queued` operation only from 30 s on. An estimate under that it never
# shows; a longer one it would log at once as a wait that never happened: left out.
_SDK_QUIET_SECONDS = 30.0


_dumps = functools.partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces, in pieces: each list of numbers
    1,024 at a time, down to the depth of a batch's tokens (deeper, whole).

    One ``json.dumps`` of a large batch holds the GIL, so the event loop, for its whole
    length (0.4 s for 256 x 4,096 tokens), even on a worker thread; between pieces, other
    threads run.
    """
    return _canonical(value, 12)


def _canonical(value: Any, depth: int) -> str:
    if depth == 0 or not isinstance(value, dict | list):
        return _dumps(value)
    if isinstance(value, dict):
        items = (f"{_dumps(k)}:{_canonical(value[k], depth - 1)}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if value and not isinstance(value[0], dict | list):  # a guess: only the speed rests on it
        pieces = (_dumps(value[i : i + 1024])[1:-1] for i in range(0, len(value), 1024))
        return "[" + ",".join(pieces) + "]"
    return "[" + ",".join(_canonical(item, depth - 1) for item in value) + "]"


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class RawJson(str):
    """JSON text stored as it is to be sent (a training pass's result): a reply splices it in
    instead of parsing and serializing again tens of MB on the event loop."""


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


class OperationFailure(Exception):
    def __init__(self, code: str, message: str, stage: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.stage, self.retryable = code, message, stage, retryable


@dataclass(frozen=True)
class Batch:
    """A forward-backward request's fingerprint and data, or why the data is refused."""

    fingerprint: str
    datums: list[Datum]
    refusal: ApiError | None


@dataclass(frozen=True)
class Outcome:
    """What a job produced: a response, or a function run in the completing transaction."""

    response: dict[str, Any] | None = None
    finalize: Callable[[], dict[str, Any]] | None = None


class Emulator:
    """One emulator instance: store, trainers, queues and waiters."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.tenants = Tenants(config.api_keys)
        self.extensions = Extensions(config.extensions)
        self.waiters = Waiters()
        self._trainers: dict[str, Trainer] = {}
        # Taken after the store's lock, never before it.
        self._trainers_lock = threading.Lock()
        self._generation = 0
        # Wakes the artificial work (``latency``) of operations: a shutdown or a reset
        # (``_interrupted``), or the terminate of their model (in ``_ended``), whose work
        # then fails at once. Both are read and written under ``_cut``.
        self._cut = threading.Condition()
        self._interrupted = False
        self._ended: set[str] = set()
        self._closed = False
        self.store = Store(config.data_dir)
        try:
            self.scheduler = Scheduler(config.workers, config.latency_of, config.clock)
        except BaseException:
            self.store.close()
            raise
        # A start that fails from here on (a data dir it cannot write into) closes what it
        # opened: the store's claim on the data dir, and the worker threads.
        try:
            self.signer = UrlSigner(load_secret(self.store.data_dir), config.url_ttl, config.clock)
            self.artifacts = Artifacts(self)
            self.tokenizer_path = str(
                write_byte_tokenizer(self.store.data_dir / "tokenizers" / "byte")
            )
            self._recover()
        except BaseException:
            self.close()
            raise

    def now(self) -> float:
        return self.config.clock()

    # -- lifecycle ----------------------------------------------------------

    def _recover(self) -> None:
        """Make a restart honest: nothing that lived only in memory survives."""
        now = self.now()
        with self.store.transaction():
            for message, export in ((EXPORT_INTERRUPTED, True), (_INTERRUPTED, False)):
                details = json.dumps({"diagnostic_message": message, "stage": "restart"})
                self.store.execute(
                    "UPDATE operations SET status='error', error_code='interrupted', "
                    "error_message=?, error_details=?, retryable=0, updated_at=? "
                    "WHERE status IN ('pending', 'running') AND (kind = 'export_checkpoint') = ?",
                    (message, details, now, export),
                )
            self.store.execute("UPDATE checkpoints SET status='failed' WHERE status='pending'")
            self.store.execute("UPDATE models SET status='state_lost' WHERE status='active'")
            # A delete whose record a full disk refused left only its files' absence.
            present = {p.name for p in self.store.checkpoint_dir.iterdir()}
            for r in self.store.all(
                "SELECT id, file_name FROM checkpoints WHERE status='completed'"
            ):
                if r["file_name"] not in present:
                    self.store.execute(
                        "UPDATE checkpoints SET status='deleted' WHERE id=?", (r["id"],)
                    )
        self._sweep_expired()
        keep = {
            r["file_name"]
            for r in self.store.all("SELECT file_name FROM checkpoints WHERE status='completed'")
        }
        self.store.remove_stray_files(keep)
        self.artifacts.recover()
        self.artifacts.sweep()

    def reset(self) -> None:
        """Forget everything: records, files, queues, trainers (for test isolation)."""
        with self.store.lock:
            self._generation += 1
        self._cut_work()
        self.scheduler.clear()
        with self._cut:
            self._interrupted = False
            self._ended.clear()
        with self._trainers_lock:
            self._trainers.clear()
        self.store.wipe()
        self.waiters.notify_all()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cut_work()
        self.scheduler.close()
        self.waiters.notify_all()
        self.store.close()

    # -- idempotency --------------------------------------------------------

    def idempotent(
        self,
        tenant: str,
        key: str | None,
        request_fingerprint: str,
        handler: Callable[[], Reply],
        *,
        returns_operation: bool = False,
    ) -> Reply:
        """Run ``handler`` once per (tenant, Idempotency-Key); replay its 2xx on a repeat.

        Without the ``idempotency-key`` extension the key is ignored.
        """
        if key is None or not self.extensions.offers("idempotency-key"):
            return handler()
        with self.store.transaction():
            record = self.store.one(
                "SELECT * FROM idempotency WHERE tenant=? AND key=?", (tenant, key)
            )
            if record is not None:
                if record["fingerprint"] != request_fingerprint:
                    raise unprocessable(
                        "idempotency_mismatch",
                        "Idempotency-Key was already used with a different request",
                    )
                if record["resource_kind"] == "operation":
                    op = self._operation_row(tenant, record["resource_id"])
                    if op is not None:
                        return record["status_code"], self.render_operation(op)
                return record["status_code"], json.loads(record["body"])
            status, body = handler()
            if 200 <= status < 300:
                self.store.insert(
                    "idempotency",
                    {
                        "tenant": tenant,
                        "key": key,
                        "fingerprint": request_fingerprint,
                        "status_code": status,
                        "body": json.dumps(body),
                        "resource_kind": "operation" if returns_operation else None,
                        "resource_id": body.get("id"),
                        "created_at": self.now(),
                    },
                )
            return status, body

    # -- sessions -----------------------------------------------------------

    def create_session(self, tenant: str, body: Mapping[str, Any]) -> Reply:
        now = self.now()
        row = {
            "id": _new_id("s"),
            "tenant": tenant,
            "body": json.dumps(dict(body)),
            "created_at": now,
            "updated_at": now,
            "last_heartbeat_at": None,
        }
        self.store.insert("sessions", row)
        return 201, render_session(row)

    def _session_row(self, tenant: str, session_id: str) -> Row:
        row = self.store.one("SELECT * FROM sessions WHERE id=? AND tenant=?", (session_id, tenant))
        if row is None:
            raise not_found(f"session {session_id}")
        return row

    def get_session(self, tenant: str, session_id: str) -> Reply:
        return 200, render_session(self._session_row(tenant, session_id))

    def heartbeat(self, tenant: str, session_id: str) -> Reply:
        with self.store.transaction():
            self._session_row(tenant, session_id)
            now = self.now()
            self.store.execute(
                "UPDATE sessions SET last_heartbeat_at=?, updated_at=? WHERE id=?",
                (now, now, session_id),
            )
        return 200, {"session_id": session_id, "last_heartbeat_at": timestamp(now)}

    # -- models -------------------------------------------------------------

    def create_model(self, tenant: str, session_id: str, body: Mapping[str, Any]) -> Reply:
        base_model = body["base_model"]
        spec = BASE_MODELS.get(base_model)
        if spec is None:
            raise unprocessable(
                "unknown_base_model",
                f"base_model {json.dumps(base_model)[:300]} is not supported; "
                f"see GET /api/v1/supported-models ({', '.join(sorted(BASE_MODELS))})",
                field="body.base_model",
            )
        mode = body.get("training_mode", "lora")
        lora: dict[str, Any] | None = None
        if mode == "lora":
            raw = body.get("lora_config") or {}
            lora = {
                "rank": int(raw.get("rank", _DEFAULT_LORA_RANK)),
                "train_unembed": raw.get("train_unembed", limits.LORA_CONFIG_TRAIN_UNEMBED_DEFAULT),
                "train_mlp": raw.get("train_mlp", limits.LORA_CONFIG_TRAIN_MLP_DEFAULT),
                "train_attn": raw.get("train_attn", limits.LORA_CONFIG_TRAIN_ATTN_DEFAULT),
                "seed": int(raw.get("seed", 0)),
            }
            if lora["rank"] > spec.max_lora_rank:
                raise invalid(
                    "body.lora_config.rank",
                    f"must be <= {spec.max_lora_rank} for base model {spec.name}",
                )
        elif "lora_config" in body:
            # Contradictory rather than ignorable: the caller believes it gets adapters.
            raise invalid("body.lora_config", "is only allowed with training_mode lora")
        seq = str(int(body["model_seq_id"]))
        fp = fingerprint(canonical(body))
        with self.store.transaction():
            self._session_row(tenant, session_id)
            existing = self.store.one(
                "SELECT * FROM models WHERE session_id=? AND model_seq_id=? AND status='active'",
                (session_id, seq),
            )
            if existing is not None:
                if existing["fingerprint"] != fp:
                    raise conflict(
                        "seq_id_conflict",
                        f"model_seq_id {seq} of session {session_id} was already used "
                        "with a different request",
                        field="body.model_seq_id",
                    )
                return 201, self._model_reply(existing)
            row = {
                "id": _new_id("m"),
                "tenant": tenant,
                "session_id": session_id,
                "model_seq_id": seq,
                "fingerprint": fp,
                "base_model": base_model,
                "training_mode": mode,
                "lora_config": json.dumps(lora) if lora is not None else None,
                "user_metadata": json.dumps(body.get("user_metadata", {})),
                "status": "active",
                "created_at": self.now(),
            }
            self.store.insert("models", row)
        return 201, self._model_reply(row)

    def _model_reply(self, row: Row) -> dict[str, Any]:
        return render_model(row, self._next_seq_id(row["id"]), self.tokenizer_path)

    def _next_seq_id(self, model_id: str) -> int:
        # seq_ids are stored as text (JSON integers are unbounded), so take the max in Python.
        rows = self.store.all(
            "SELECT seq_id FROM operations WHERE model_id=? AND seq_id IS NOT NULL", (model_id,)
        )
        return max((int(row["seq_id"]) for row in rows), default=0) + 1

    def _model_row(self, tenant: str, model_id: str) -> Row:
        row = self.store.one("SELECT * FROM models WHERE id=? AND tenant=?", (model_id, tenant))
        if row is None:
            raise not_found(f"model {model_id}")
        return row

    @staticmethod
    def _require_trainable(model: Row) -> None:
        if model["status"] == "terminated":
            raise conflict("model_terminated", f"model {model['id']} was terminated")
        if model["status"] == "state_lost":
            raise conflict(
                "model_state_lost",
                f"model {model['id']} lost its training state (the server restarted); {_RELOAD}",
            )

    def get_model(self, tenant: str, model_id: str) -> Reply:
        return 200, self._model_reply(self._model_row(tenant, model_id))

    def terminate_model(self, tenant: str, model_id: str) -> Reply:
        with self.store.transaction():
            self._model_row(tenant, model_id)
            self.store.execute("UPDATE models SET status='terminated' WHERE id=?", (model_id,))
            row = self._model_row(tenant, model_id)
        with self._trainers_lock:
            self._trainers.pop(model_id, None)
        with self._cut:
            self._ended.add(model_id)
            self._cut.notify_all()
        return 200, self._model_reply(row)

    def list_models(self, tenant: str, limit: int, offset: int) -> Reply:
        """The tenant's models, oldest first (rowid is the insertion order)."""
        with self.store.transaction():
            found = self.store.one("SELECT COUNT(*) AS n FROM models WHERE tenant=?", (tenant,))
            total = int(found["n"]) if found is not None else 0
            rows = []
            if offset < total:  # and never past SQLite's integers: offset is unbounded
                rows = self.store.all(
                    "SELECT * FROM models WHERE tenant=? ORDER BY rowid LIMIT ? OFFSET ?",
                    (tenant, limit, offset),
                )
            items = [self._model_reply(row) for row in rows]
        return 200, {"items": items, "pagination": {"total_count": total}}

    def list_supported_models(self, limit: int, offset: int) -> Reply:
        items = [
            {"name": spec.name, "status": "available", "config": spec.config_json()}
            for spec in sorted(BASE_MODELS.values(), key=lambda s: s.name)
        ]
        return 200, {
            "items": items[offset : offset + limit],
            "pagination": {"total_count": len(items)},
        }

    # -- operations ---------------------------------------------------------

    def _operation_row(self, tenant: str, op_id: str) -> Row | None:
        return self.store.one("SELECT * FROM operations WHERE id=? AND tenant=?", (op_id, tenant))

    def render_operation(self, row: Row) -> dict[str, Any]:
        out: dict[str, Any] = {"id": row["id"], "status": row["status"]}
        if row["status"] == "done":
            out["response"] = json.loads(row["response"])
        elif row["status"] == "error":
            out["error"] = row["error_code"]
            out["error_code"] = row["error_code"]
            out["error_message"] = row["error_message"]
            out["error_details"] = json.loads(row["error_details"] or "{}")
            out["retryable"] = bool(row["retryable"])
        elif row["status"] == "pending":
            ahead, seconds = self.scheduler.queue_position(row["model_id"], row["id"]) or (0, 0.0)
            # Nothing ahead: it is about to start. Behind the model's own operations it is
            # `queued`, not a scheduling wait, which the official SDK logs at once as a
            # warning: overlapping a script's own steps would warn on every one.
            if ahead:
                behind = counted(ahead, "operation")
                info: dict[str, Any] = {
                    "code": "queued",
                    "message": f"queued behind {behind} of model {row['model_id']}",
                }
                estimate = round(seconds, 3)
                if estimate < _SDK_QUIET_SECONDS:
                    info["wait_seconds"] = estimate
                out["pending_info"] = info
        if row["status"] in ("pending", "running") and row["kind"] in EXPORT_KINDS:
            progress = self.artifacts.progress(row["id"]) or {"shards_done": 0, "bytes_done": 0}
            out["metadata"] = {"conversion_progress": progress}
        out["kind"] = row["kind"]
        out["model_id"] = row["model_id"]
        out["created_at"] = timestamp(row["created_at"])
        out["updated_at"] = timestamp(row["updated_at"])
        out["revision"] = revision(out["status"], out.get("pending_info"))
        return out

    def render_operation_raw(self, row: Row) -> dict[str, Any]:
        """``render_operation`` whose training-pass result stays the stored text (``RawJson``)."""
        stored = row["response"]
        if (
            row["status"] != "done"
            or row["kind"] not in _INPUT_KEYS
            or "NaN" in stored  # not JSON (nor in a datum_id: then the slow way is as good)
            or "Infinity" in stored
        ):
            return self.render_operation(row)
        out = self.render_operation({**row, "response": "null"})
        out["response"] = RawJson(stored)
        return out

    def get_operation(self, tenant: str, op_id: str) -> Reply:
        row = self._operation_row(tenant, op_id)
        if row is None:
            raise not_found(f"operation {op_id}")
        return 200, self.render_operation_raw(row)

    async def wait_operation(
        self, tenant: str, op_id: str, wait: float, seen: str | None = None
    ) -> Reply:
        """Answer once the operation is terminal, its revision differs from ``seen``
        (when given), or ``wait`` seconds passed.

        Waiters are woken when an operation ends and whenever one of the same
        model starts (which changes that model's queue, so the ``pending_info``
        of those behind it); each wakes, looks, and waits again if nothing it
        cares about changed.
        """
        long_poll = self.config.honor_long_poll and self.extensions.offers("long-poll")
        if not long_poll or wait <= 0:
            return self.get_operation(tenant, op_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait, self.config.max_long_poll)
        # Its model's queue is what can change its pending_info.
        row = None if seen is None else self._operation_row(tenant, op_id)
        changes_of = None if row is None else str(row["model_id"])
        while True:
            future = self.waiters.register(op_id, changes_of=changes_of)
            try:
                status, body = self.get_operation(tenant, op_id)
                remaining = deadline - loop.time()
                changed = seen is not None and body["revision"] != seen
                if body["status"] in limits.OPERATION_STATUS_TERMINAL or changed or remaining <= 0:
                    return status, body
                await asyncio.wait([future], timeout=remaining)
                if future.done() and future.result():
                    # Ended, or the server is stopping: answer with the current state.
                    return self.get_operation(tenant, op_id)
            finally:
                self.waiters.unregister(op_id, future)

    def _new_operation(
        self,
        tenant: str,
        model_id: str,
        kind: str,
        *,
        seq_id: str | None = None,
        request_fingerprint: str | None = None,
        checkpoint_id: str | None = None,
    ) -> Row:
        now = self.now()
        row: Row = {
            "id": _new_id("op"),
            "tenant": tenant,
            "model_id": model_id,
            "kind": kind,
            "seq_id": seq_id,
            "fingerprint": request_fingerprint,
            "status": "pending",
            "response": None,
            "error_code": None,
            "error_message": None,
            "error_details": None,
            "retryable": None,
            "checkpoint_id": checkpoint_id,
            "created_at": now,
            "updated_at": now,
        }
        self.store.insert("operations", row)
        return row

    def _submit(
        self,
        op: Row,
        work: Callable[[Trainer], Outcome],
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        """Run ``work`` with the model's trainer, in the model's queue."""
        model_id = op["model_id"]

        def body() -> Outcome:
            model = self.store.one("SELECT * FROM models WHERE id=?", (model_id,))
            if model is None:
                raise OperationFailure("not_found", f"model {model_id} is gone", "schedule")
            if model["status"] != "active":
                terminated = model["status"] == "terminated"
                code = "model_terminated" if terminated else "model_state_lost"
                raise OperationFailure(code, f"model {model_id} is {model['status']}", "schedule")
            return work(self._trainer(model))

        self._submit_job(op, body, on_failure, queue=model_id, live=model_id)

    def _submit_job(
        self,
        op: Row,
        work: Callable[[], Outcome],
        on_failure: Callable[[str], None] | None = None,
        *,
        queue: str,
        live: str | None = None,
    ) -> None:
        """Run ``work`` on a worker in ``queue``; record its outcome on the operation.

        ``on_failure`` gets the failure's message, in the failing transaction.
        An export spreads its latency over its files, to show its progress. The latency
        of work that needs model ``live`` ends when that model is terminated.
        """
        generation = self._generation
        op_id, kind = op["id"], op["kind"]

        def run() -> None:
            with self.store.transaction():
                if generation != self._generation:
                    return
                started = self.store.execute(
                    "UPDATE operations SET status='running', updated_at=? "
                    "WHERE id=? AND status='pending'",
                    (self.now(), op_id),
                )
            if not started:
                # The job was queued inside a transaction that did not commit (a full disk
                # at COMMIT answered the request 500): its operation does not exist, and its
                # work must not happen, or a retry of the request would do it twice.
                return
            # It runs, and every operation of its model queued behind it moved up.
            self.waiters.notify_changes(op["model_id"])
            try:
                latency = 0.0 if kind in EXPORT_KINDS else self.config.latency_of(kind)
                if latency > 0 and self._worked(latency, live):
                    raise OperationFailure("interrupted", _SHUTDOWN, "schedule")
                # Its completion inside the try: one that cannot commit (a full disk) fails
                # the operation, which else stayed `running` for ever.
                self._complete(op_id, generation, work())
            except OperationFailure as failure:
                self._fail(op_id, generation, failure, on_failure)
            except NonFiniteError as exc:
                self._fail(
                    op_id, generation, OperationFailure("non_finite", str(exc), kind), on_failure
                )
            except Exception as exc:
                log.exception("operation %s failed unexpectedly", op_id)
                internal = OperationFailure(
                    "internal", f"internal error: {type(exc).__name__}", kind
                )
                self._fail(op_id, generation, internal, on_failure)

        self.scheduler.submit(queue, Job(op_id, kind, run))

    def _worked(self, seconds: float, live: str | None) -> bool:
        """Wait out ``seconds`` of artificial work, or until model ``live`` is terminated;
        ``True`` if a shutdown or a reset cut it."""
        with self._cut:
            self._cut.wait_for(
                lambda: self._interrupted or live in self._ended,
                min(seconds, threading.TIMEOUT_MAX),
            )
            return self._interrupted

    def _cut_work(self) -> None:
        with self._cut:
            self._interrupted = True
            self._cut.notify_all()

    def _complete(self, op_id: str, generation: int, outcome: Outcome) -> None:
        # Serialized in pieces (``canonical``) before the store's lock, which the event loop
        # waits for, is taken.
        text = None if outcome.finalize is not None else canonical(outcome.response)
        with self.store.transaction():
            if generation != self._generation:
                return
            if outcome.finalize is not None:
                text = json.dumps(outcome.finalize())
            self.store.execute(
                "UPDATE operations SET status='done', response=?, updated_at=? WHERE id=?",
                (text, self.now(), op_id),
            )
        self.waiters.notify(op_id)

    def _fail(
        self,
        op_id: str,
        generation: int,
        failure: OperationFailure,
        on_failure: Callable[[str], None] | None,
    ) -> None:
        try:
            self._record_failure(op_id, generation, failure, on_failure)
        except sqlite3.OperationalError:
            # A full disk: the files ``on_failure`` discarded (a failed save's) make room.
            self.store.removed()
            self._record_failure(op_id, generation, failure, on_failure)

    def _record_failure(
        self,
        op_id: str,
        generation: int,
        failure: OperationFailure,
        on_failure: Callable[[str], None] | None,
    ) -> None:
        with self.store.transaction():
            if generation != self._generation:
                return
            if on_failure is not None:
                on_failure(failure.message)
            details = {"diagnostic_message": failure.message, "stage": failure.stage}
            self.store.execute(
                "UPDATE operations SET status='error', error_code=?, error_message=?, "
                "error_details=?, retryable=?, updated_at=? WHERE id=?",
                (
                    failure.code,
                    failure.message,
                    json.dumps(details),
                    int(failure.retryable),
                    self.now(),
                    op_id,
                ),
            )
        self.waiters.notify(op_id)

    def _trainer(self, model: Row) -> Trainer:
        model_id = model["id"]
        with self._trainers_lock:
            trainer = self._trainers.get(model_id)
        if trainer is not None:
            return trainer
        # Built outside the lock, which terminate takes on the event loop: weaver-large's
        # weights take seconds. A model's jobs run one at a time, so none builds it twice.
        lora = json.loads(model["lora_config"]) if model["lora_config"] else None
        trainer = Trainer(
            BASE_MODELS[model["base_model"]],
            model["training_mode"],
            lora["rank"] if lora else None,
            lora["seed"] if lora else 0,
        )
        # The store's lock first, as terminate holds it (inside an idempotent request's
        # transaction) when it takes the trainers' lock: the other order deadlocked.
        with self.store.lock, self._trainers_lock:
            # Terminate (or reset) marks the model before it drops its trainer: one that
            # ended meanwhile keeps none.
            current = self.store.one("SELECT status FROM models WHERE id=?", (model_id,))
            if current is not None and current["status"] == "active":
                self._trainers[model_id] = trainer
        return trainer

    # -- training -----------------------------------------------------------

    def _training_op(
        self, tenant: str, model_id: str, body: Mapping[str, Any], fp: str
    ) -> tuple[Row, Row | None]:
        """(model, existing operation for this seq_id or None); ``fp`` is the request's
        fingerprint."""
        model = self._model_row(tenant, model_id)
        payload = body["payload"]
        if payload["model_id"] != model_id:
            raise invalid(
                "body.payload.model_id", f"must equal the model id of the path ({model_id})"
            )
        seq = str(int(payload["seq_id"]))
        existing = self.store.one(
            "SELECT * FROM operations WHERE model_id=? AND seq_id=?", (model_id, seq)
        )
        if existing is not None and existing["fingerprint"] != fp:
            raise conflict(
                "seq_id_conflict",
                f"seq_id {seq} of model {model_id} was already used with a different request",
                field="body.payload.seq_id",
            )
        return model, existing

    def prepare_batch(
        self, tenant: str, model_id: str, body: Mapping[str, Any], kind: str, text: str
    ) -> Batch:
        """Fingerprint and convert a training pass's request (``kind`` ``forward_backward``
        or ``forward``; ``text``: its ``canonical`` JSON), most of a large batch's cost,
        without the store's lock."""
        fp = fingerprint(kind, text)
        key = _INPUT_KEYS[kind]
        try:
            spec = BASE_MODELS[self._model_row(tenant, model_id)["base_model"]]
            data = body["payload"][key]["data"]
            return Batch(fp, datums(data, spec, key), None)
        except ApiError as exc:
            return Batch(fp, [], exc)

    def training_pass(
        self, kind: str, tenant: str, model_id: str, body: Mapping[str, Any], prepared: Batch
    ) -> Reply:
        """Start a forward-backward pass, or a forward pass (the same loss and logprobs,
        no gradients), on the batch ``prepare_batch`` made of ``body``."""
        batch = prepared.datums
        with self.store.transaction():
            model, existing = self._training_op(tenant, model_id, body, prepared.fingerprint)
            if existing is not None:
                return 200, self.render_operation_raw(existing)
            self._require_trainable(model)
            if prepared.refusal is not None:  # refused after the checks that came first
                raise prepared.refusal
            fp = prepared.fingerprint
            ids = [d.get("datum_id") for d in body["payload"][_INPUT_KEYS[kind]]["data"]]
            seq = str(int(body["payload"]["seq_id"]))
            op = self._new_operation(tenant, model_id, kind, seq_id=seq, request_fingerprint=fp)

            def work(trainer: Trainer) -> Outcome:
                run = trainer.forward if kind == "forward" else trainer.forward_backward
                out = run(batch)
                outputs: list[dict[str, Any]] = []
                for logprobs, datum_id in zip(out.logprobs, ids, strict=True):
                    item: dict[str, Any] = {
                        "logprobs": {"data": logprobs.tolist(), "dtype": "float32"}
                    }
                    if datum_id is not None:
                        item["datum_id"] = datum_id
                    outputs.append(item)
                metrics: dict[str, float] = {
                    "loss:sum": out.loss_sum,
                    "tokens": float(out.tokens),
                    "weights:sum": out.weight_sum,
                }
                if out.weight_sum > 0:
                    mean = out.loss_sum / out.weight_sum
                    if abs(mean) < float("inf"):
                        metrics["loss:mean"] = mean
                return Outcome(response={"loss_fn_outputs": outputs, "metrics": metrics})

            self._submit(op, work)
        return 202, self.render_operation(op)

    def optim_step(self, tenant: str, model_id: str, body: Mapping[str, Any]) -> Reply:
        fp = fingerprint("optim_step", canonical(body))
        with self.store.transaction():
            model, existing = self._training_op(tenant, model_id, body, fp)
            if existing is not None:
                return 200, self.render_operation(existing)
            self._require_trainable(model)
            params = adam_params(body["payload"]["adam_params"])
            seq = str(int(body["payload"]["seq_id"]))
            op = self._new_operation(
                tenant, model_id, "optim_step", seq_id=seq, request_fingerprint=fp
            )

            def work(trainer: Trainer) -> Outcome:
                return Outcome(response={"metrics": trainer.optim_step(params)})

            self._submit(op, work)
        return 202, self.render_operation(op)

    # -- checkpoints --------------------------------------------------------

    def _sweep_expired(self) -> None:
        """Expire checkpoints whose TTL ran out and remove their files."""
        now = self.now()
        with self.store.transaction():
            rows = self.store.all(
                "SELECT id, file_name FROM checkpoints WHERE status='completed' "
                "AND expires_at IS NOT NULL AND expires_at <= ?",
                (now,),
            )
            for row in rows:
                self.store.execute(
                    "UPDATE checkpoints SET status='expired' WHERE id=?", (row["id"],)
                )
        for row in rows:
            self.store.remove_checkpoint_file(row["file_name"])

    def _live_checkpoint(self, model_id: str, name: str) -> Row | None:
        return self.store.one(
            "SELECT * FROM checkpoints WHERE model_id=? AND name=? "  # noqa: S608
            f"AND status IN ('pending', 'completed') AND {NOT_DELETED} ORDER BY seq DESC LIMIT 1",
            (model_id, name),
        )

    def _checkpoint_by_path(self, tenant: str, path: str) -> Row:
        match = _PATH.fullmatch(path)
        if match is None:  # the schema pattern makes this unreachable; keep it safe anyway
            raise invalid("body.path", f"must be {limits.CHECKPOINT_PATH_PATTERN_WORDS}")
        owner = self.store.one(
            "SELECT id FROM models WHERE id=? AND tenant=?", (match["model"], tenant)
        )
        row = self._live_checkpoint(match["model"], match["name"]) if owner else None
        if row is None:
            raise not_found(f"checkpoint {path}")
        return row

    def save_checkpoint(self, tenant: str, model_id: str, body: Mapping[str, Any]) -> Reply:
        self._sweep_expired()
        ckpt_type = body["type"]
        with self.store.transaction():
            model = self._model_row(tenant, model_id)
            self._require_trainable(model)
            if "ttl_seconds" in body:
                ttl = body["ttl_seconds"]
            else:
                ttl = self.config.default_sampling_ttl if ckpt_type == "sampling" else None
            ckpt = self._new_checkpoint(tenant, model, ckpt_type, body.get("name"), ttl)
            ckpt_id = ckpt["id"]
            op = self._new_operation(tenant, model_id, "save_checkpoint", checkpoint_id=ckpt_id)

            def work(trainer: Trainer) -> Outcome:
                tensors = trainer.state_tensors(include_optimizer=bool(ckpt["has_optimizer"]))
                size, sha = self._write_checkpoint(ckpt, tensors, trainer.step)

                def finalize() -> dict[str, Any]:
                    # The file is durable; only now does the checkpoint count as completed.
                    return self._complete_checkpoint(ckpt_id, size, sha)

                return Outcome(finalize=finalize)

            self._submit(op, work, lambda _message: self._fail_checkpoint(ckpt))
        return 202, self.render_operation(op)

    def _new_checkpoint(
        self, tenant: str, model: Row, ckpt_type: str, name: str | None, ttl: int | None
    ) -> Row:
        """Insert a pending checkpoint of ``model`` (in the caller's transaction)."""
        model_id = model["id"]
        if name is None:
            name = f"ckpt-{secrets.token_hex(6)}"
        if self._live_checkpoint(model_id, name) is not None:
            raise conflict(
                "checkpoint_exists",
                f"model {model_id} already has a checkpoint named {name}",
                path=checkpoint_path(model_id, name),
            )
        now = self.now()
        lora = json.loads(model["lora_config"]) if model["lora_config"] else None
        ckpt_id = str(uuid.uuid4())
        ckpt: Row = {
            "id": ckpt_id,
            "tenant": tenant,
            "model_id": model_id,
            "name": name,
            "type": ckpt_type,
            "status": "pending",
            "ttl_seconds": ttl,
            "created_at": now,
            "expires_at": now + ttl if ttl is not None else None,
            # What the trainer really trains, whatever lora_config asked for.
            "train_unembed": int(TRAINED_PARTS.unembed),
            "train_mlp": int(TRAINED_PARTS.mlp),
            "train_attn": int(TRAINED_PARTS.attn),
            "base_model": model["base_model"],
            "training_mode": model["training_mode"],
            "lora_rank": lora["rank"] if lora else None,
            "has_optimizer": int(ckpt_type == "weight_and_optimizer"),
            "file_name": f"{ckpt_id}.safetensors",
            "size_bytes": None,
            "sha256": None,
        }
        self.store.insert("checkpoints", ckpt)
        return ckpt

    def _write_checkpoint(self, ckpt: Row, tensors: dict[str, Any], step: int) -> tuple[int, str]:
        """Write a checkpoint's file durably (on a worker); (size, sha256)."""
        metadata = {
            "format": "weaver-emulator-checkpoint/1",
            "checkpoint_id": ckpt["id"],
            "model_id": ckpt["model_id"],
            "type": ckpt["type"],
            "base_model": ckpt["base_model"],
            "training_mode": ckpt["training_mode"],
            "lora_rank": str(ckpt["lora_rank"]),
            "optimizer_step": str(step),
        }
        return write_atomically(
            self.store.checkpoint_file(ckpt["file_name"]),
            lambda f: tensorfile.save(f, tensors, metadata),
        )

    def _complete_checkpoint(self, ckpt_id: str, size: int, sha: str) -> dict[str, Any]:
        self.store.execute(
            "UPDATE checkpoints SET status='completed', size_bytes=?, sha256=? "
            "WHERE id=? AND status='pending'",
            (size, sha, ckpt_id),
        )
        row = self.store.one("SELECT * FROM checkpoints WHERE id=?", (ckpt_id,))
        assert row is not None
        return render_checkpoint(row)

    def _fail_checkpoint(self, ckpt: Row) -> None:
        self.store.execute(
            "UPDATE checkpoints SET status='failed' WHERE id=? AND status='pending'", (ckpt["id"],)
        )
        self.store.remove_checkpoint_file(ckpt["file_name"])

    def list_checkpoints(
        self, tenant: str, model_id: str, limit: int | None, cursor: str | None
    ) -> Reply:
        self._sweep_expired()
        self._model_row(tenant, model_id)
        after = _decode_cursor(cursor) if cursor is not None else 0
        sql = (
            "SELECT * FROM checkpoints WHERE model_id=? AND status IN ('pending', 'completed') "  # noqa: S608
            f"AND {NOT_DELETED} AND seq > ? ORDER BY seq"
        )
        params: list[Any] = [model_id, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit + 1)
        rows = self.store.all(sql, params)
        next_cursor = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            next_cursor = _encode_cursor(rows[-1]["seq"])
        return 200, {"items": [render_checkpoint(r) for r in rows], "next_cursor": next_cursor}

    def set_checkpoint_ttl(self, tenant: str, model_id: str, body: Mapping[str, Any]) -> Reply:
        self._sweep_expired()
        with self.store.transaction():
            self._model_row(tenant, model_id)
            match = _PATH.fullmatch(body["path"])
            if match is not None and match["model"] != model_id:
                raise invalid("body.path", f"must name a checkpoint of model {model_id}")
            row = self._checkpoint_by_path(tenant, body["path"])
            ttl = body["ttl_seconds"]
            expires = self.now() + ttl if ttl is not None else None
            self.store.execute(
                "UPDATE checkpoints SET ttl_seconds=?, expires_at=? WHERE id=?",
                (ttl, expires, row["id"]),
            )
            updated = self.store.one("SELECT * FROM checkpoints WHERE id=?", (row["id"],))
        assert updated is not None
        return 200, render_checkpoint(updated)

    def load_checkpoint(self, tenant: str, model_id: str, body: Mapping[str, Any]) -> Reply:
        self._sweep_expired()
        path = body["path"]
        include_optimizer = bool(body["include_optimizer"])
        with self.store.transaction():
            model = self._model_row(tenant, model_id)
            self._require_trainable(model)
            ckpt = self._checkpoint_by_path(tenant, path)
            if ckpt["status"] == "pending":
                raise conflict("checkpoint_not_ready", f"checkpoint {path} is still being saved")
            lora = json.loads(model["lora_config"]) if model["lora_config"] else None
            mine = {
                "base_model": model["base_model"],
                "training_mode": model["training_mode"],
                "lora_rank": lora["rank"] if lora else None,
            }
            for key, value in mine.items():
                if ckpt[key] != value:
                    what = key.replace("_", " ")
                    raise unprocessable(
                        "incompatible_checkpoint",
                        f"checkpoint {path} has {what} {ckpt[key]}, "
                        f"but model {model_id} has {what} {value}",
                        mismatch=key,
                        checkpoint=ckpt[key],
                        model=value,
                    )
            if include_optimizer and not ckpt["has_optimizer"]:
                raise unprocessable(
                    "optimizer_state_unavailable",
                    f"checkpoint {path} is of type {ckpt['type']} and has no optimizer state; "
                    "load it with include_optimizer false or save weight_and_optimizer",
                )
            op = self._new_operation(tenant, model_id, "load_checkpoint", checkpoint_id=ckpt["id"])
            ckpt_id, file_name, sha = ckpt["id"], ckpt["file_name"], ckpt["sha256"]

            def work(trainer: Trainer) -> Outcome:
                current = self.store.one(
                    "SELECT status, expires_at FROM checkpoints WHERE id=?", (ckpt_id,)
                )
                gone = (
                    current is None
                    or current["status"] != "completed"
                    or (current["expires_at"] is not None and current["expires_at"] <= self.now())
                )
                try:
                    if gone:
                        raise FileNotFoundError(file_name)
                    tensors = tensorfile.load_checked(self.store.checkpoint_file(file_name), sha)
                except FileNotFoundError as exc:
                    raise OperationFailure(
                        "checkpoint_unavailable",
                        f"checkpoint {path} was deleted or expired before it could be loaded",
                        "load",
                    ) from exc
                except ValueError as exc:
                    raise OperationFailure("checkpoint_corrupt", str(exc), "load") from exc
                try:
                    trainer.load_tensors(tensors, include_optimizer)
                except ValueError as exc:
                    raise OperationFailure("incompatible_checkpoint", str(exc), "load") from exc
                return Outcome(
                    response={
                        "path": path,
                        "include_optimizer": include_optimizer,
                        "checkpoint_id": ckpt_id,
                        "optimizer_step": trainer.step if include_optimizer else None,
                        "model_id": model_id,
                    }
                )

            self._submit(op, work)
        return 202, self.render_operation(op)

    def _checkpoint_row(self, tenant: str, checkpoint_id: str) -> Row:
        self._sweep_expired()
        row = self.store.one(
            "SELECT * FROM checkpoints WHERE id=? AND tenant=? "  # noqa: S608
            f"AND status IN ('pending', 'completed', 'failed') AND {NOT_DELETED}",
            (checkpoint_id, tenant),
        )
        if row is None:
            raise not_found(f"checkpoint {checkpoint_id}")
        return row

    def get_checkpoint(self, tenant: str, checkpoint_id: str) -> Reply:
        return 200, render_checkpoint(self._checkpoint_row(tenant, checkpoint_id))

    def delete_checkpoint(self, tenant: str, checkpoint_id: str) -> Reply:
        """Off the event loop: on a full disk it waits for its file's removal."""

        def mark() -> Row:
            row = self._checkpoint_row(tenant, checkpoint_id)
            if row["status"] == "pending":
                raise conflict(
                    "checkpoint_not_ready",
                    f"checkpoint {checkpoint_id} is still being saved; delete it once completed",
                )
            self.store.execute("UPDATE checkpoints SET status='deleted' WHERE id=?", (row["id"],))
            return row

        row = self.store.delete(
            mark, lambda row: self.store.remove_checkpoint_file(row["file_name"])
        )
        return 200, render_checkpoint(row, status="deleted")


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _CURSOR.fullmatch(raw)
    if match is None:
        raise invalid("query.cursor", "is not a cursor this server issued")
    return int(match["seq"])
