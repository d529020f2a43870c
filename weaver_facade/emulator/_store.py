"""Durable state: SQLite (WAL) for records, safetensors files for checkpoint tensors,
one directory of files per exported artifact.

All filesystem paths are built from server-generated ids; nothing a client
sends ever becomes part of a path.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from .._dest import shown_path

__all__ = ["NOT_DELETED", "DataDirInUse", "Row", "Store", "disk_full", "write_atomically"]

Row = dict[str, Any]


class DataDirInUse(RuntimeError):
    """Another emulator has the data dir: one would take the other's models for leftovers
    of a crash (``state_lost``) and delete the files it is writing."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_heartbeat_at REAL
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model_seq_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    base_model TEXT NOT NULL,
    training_mode TEXT NOT NULL,
    lora_config TEXT,
    user_metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
-- A model_seq_id names one active model of a session: a client that reuses the session
-- after its models ended (the official SDK's counter starts at 1 again) gets new ones.
CREATE UNIQUE INDEX IF NOT EXISTS models_seq ON models (session_id, model_seq_id)
    WHERE status = 'active';
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq_id TEXT,
    fingerprint TEXT,
    status TEXT NOT NULL,
    response TEXT,
    error_code TEXT,
    error_message TEXT,
    error_details TEXT,
    retryable INTEGER,
    checkpoint_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS operations_seq ON operations (model_id, seq_id)
    WHERE seq_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS operations_status ON operations (status);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    model_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    ttl_seconds INTEGER,
    created_at REAL NOT NULL,
    expires_at REAL,
    train_unembed INTEGER NOT NULL,
    train_mlp INTEGER NOT NULL,
    train_attn INTEGER NOT NULL,
    base_model TEXT NOT NULL,
    training_mode TEXT NOT NULL,
    lora_rank INTEGER,
    has_optimizer INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    size_bytes INTEGER,
    sha256 TEXT
);
CREATE INDEX IF NOT EXISTS checkpoints_model ON checkpoints (model_id, status);
CREATE TABLE IF NOT EXISTS artifacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    checkpoint_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    ttl_seconds INTEGER,
    expires_at REAL,
    size_bytes INTEGER,
    manifest TEXT,
    error TEXT,
    operation_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_checkpoint ON artifacts (checkpoint_id, kind, status);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body TEXT NOT NULL,
    resource_kind TEXT,
    resource_id TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (tenant, key)
);
"""

# The checkpoints and artifacts whose files a delete removed but whose record a full disk
# refused: in memory, so that it needs no space, until a transaction that writes takes them.
_UNRECORDED = """
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE IF NOT EXISTS deleted_unrecorded (id TEXT PRIMARY KEY);
"""
#: Part of every query of live checkpoints or artifacts, beside their status.
NOT_DELETED = "id NOT IN deleted_unrecorded"

_TABLES = ("sessions", "models", "operations", "checkpoints", "artifacts", "idempotency")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Checkpoint files are named by the server: a uuid4 and a fixed suffix.
_FILE_NAME = re.compile(_UUID + r"\.safetensors")
_ARTIFACT_DIR = re.compile(_UUID)


def _unpin_model_seq_ids(conn: sqlite3.Connection) -> None:
    """Drop the UNIQUE (session_id, model_seq_id) of data dirs made by earlier versions."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type='table' AND name='models'"
    ).fetchone()
    if row is None or "UNIQUE (session_id, model_seq_id)" not in row[0]:
        return
    table = row[0].replace(",\n    UNIQUE (session_id, model_seq_id)", "")
    conn.executescript(  # the table's own text, from sqlite_master
        f"BEGIN; ALTER TABLE models RENAME TO models_old; {table};"  # noqa: S608
        " INSERT INTO models SELECT * FROM models_old; DROP TABLE models_old; COMMIT;"
    )


def _claim(data_dir: Path) -> Any:
    """An open lock file that holds ``data_dir`` for this emulator until it is closed (or
    the process ends); ``None`` where there is no ``flock``."""
    try:
        import fcntl
    except ImportError:
        return None
    claim = open(data_dir / "emulator.lock", "a+b")  # noqa: SIM115  # held until close()
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        claim.close()
        raise DataDirInUse(
            f"data dir {shown_path(data_dir)} is in use by another emulator"
        ) from None
    except BaseException:  # a file system without locks, say
        claim.close()
        raise
    return claim


class Store:
    """One SQLite connection shared by request handlers and workers under one lock.

    The statements are short; training never runs while the lock is held.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._claim = _claim(self.data_dir)
        try:
            self._open()
        except BaseException:
            # A data dir it cannot use (a folder where its database goes) left the claim
            # open until collected: the dir stayed held, and a ResourceWarning came later.
            if self._claim is not None:
                self._claim.close()
            raise
        self._depth = 0
        # Removes discarded files (``_discard``) off the request's thread, the event loop's.
        self._remover = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="emulator-remover"
        )

    def _open(self) -> None:
        self.checkpoint_dir = self.data_dir / "checkpoints"
        self.checkpoint_dir.mkdir(exist_ok=True)
        self.artifact_dir = self.data_dir / "artifacts"
        self.artifact_dir.mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.data_dir / "weaver.db", check_same_thread=False, isolation_level=None
        )
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            # A committed transaction survives a process kill in WAL mode with NORMAL.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            _unpin_model_seq_ids(self._conn)
            self._conn.executescript(_SCHEMA)
            self._conn.executescript(_UNRECORDED)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._remover.shutdown(wait=True)  # before the claim goes: they are the data dir's
        with self.lock:
            self._conn.close()
            if self._claim is not None:
                self._claim.close()  # and with it the lock

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction; nested calls join the outermost one."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            changes = self._conn.total_changes
            try:
                yield
                if self._conn.total_changes != changes:
                    self._record_deletes()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self._conn.execute("COMMIT")
                except BaseException:
                    # A COMMIT that failed (a full disk) may leave the transaction open on
                    # this shared connection; nothing of it may stay, nor block the next one.
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            finally:
                self._depth = 0

    def _record_deletes(self) -> None:
        """Record the deletes a full disk refused, in the transaction that writes now."""
        if self._conn.execute("SELECT 1 FROM deleted_unrecorded LIMIT 1").fetchone() is None:
            return
        for table in ("checkpoints", "artifacts"):
            self._conn.execute(
                f"UPDATE {table} SET status='deleted' WHERE id IN deleted_unrecorded"  # noqa: S608
            )
        self._conn.execute("DELETE FROM deleted_unrecorded")

    def delete(self, mark: Callable[[], Row], remove: Callable[[Row], None]) -> Row:
        """A resource's delete: ``mark()`` records it (in a transaction) and returns its
        row, then ``remove(row)`` discards its files. On a full disk, which refused the
        record, the files go first, waited for (so never on the event loop): they make
        room for it, else no delete could free space. A disk still full then refuses it
        again: the files are gone, and so is the resource (a completed one: the others
        have no files, and their delete fails), which every query leaves out
        (``NOT_DELETED``) until a later write records it, or a restart, which finds its
        files missing."""
        marked: list[Row] = []
        try:
            with self.transaction():
                marked.append(mark())
        except sqlite3.OperationalError as exc:
            if not marked or not disk_full(exc):
                raise
            remove(marked.pop())
            self.removed()
            with self.lock:
                try:
                    with self.transaction():
                        marked.append(mark())
                except sqlite3.OperationalError as exc:
                    # Only missing files tell a restart of the delete: one without files
                    # (a failed save, an export's error) is refused, as any write there.
                    if not marked or not disk_full(exc) or marked[0]["status"] != "completed":
                        raise
                    self._conn.execute(
                        "INSERT OR IGNORE INTO deleted_unrecorded VALUES (?)", (marked[0]["id"],)
                    )
        remove(marked[0])
        return marked[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            return self._conn.execute(sql, params).rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [dict(r) for r in rows]

    def insert(self, table: str, values: Row) -> None:
        assert table in _TABLES
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))  # noqa: S608

    def wipe(self) -> None:
        """Delete every record and every checkpoint file (the reset hook)."""
        with self.transaction():
            for table in (*_TABLES, "deleted_unrecorded"):
                self.execute(f"DELETE FROM {table}")  # noqa: S608
        for path in self.checkpoint_dir.iterdir():
            path.unlink(missing_ok=True)
        for path in self.artifact_dir.iterdir():
            shutil.rmtree(path, ignore_errors=True)

    # -- checkpoint files ---------------------------------------------------

    def checkpoint_file(self, file_name: str) -> Path:
        """The path of a checkpoint file; refuses anything but a server-made name."""
        if _FILE_NAME.fullmatch(file_name) is None:
            raise ValueError("not a checkpoint file name")
        return self.checkpoint_dir / file_name

    def remove_checkpoint_file(self, file_name: str) -> None:
        path = self.checkpoint_file(file_name)
        self._discard(path)
        self._discard(path.with_name(path.name + ".tmp"))

    def remove_stray_files(self, keep: set[str]) -> None:
        """Remove temp files and files no completed checkpoint owns (after a crash)."""
        for path in self.checkpoint_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    # -- artifact directories ---------------------------------------------------

    def artifact_files(self, artifact_id: str) -> Path:
        """The directory of a completed artifact; refuses anything but a server-made id."""
        if _ARTIFACT_DIR.fullmatch(artifact_id) is None:
            raise ValueError("not an artifact id")
        return self.artifact_dir / artifact_id

    def artifact_staging(self, artifact_id: str) -> Path:
        """An empty directory an export writes into before it is published."""
        staging = self.artifact_files(artifact_id).with_name(artifact_id + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        return staging

    def publish_artifact(self, artifact_id: str, staging: Path) -> None:
        """Rename the staged files into place (the files are already fsynced)."""
        final = self.artifact_files(artifact_id)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _fsync_dir(final.parent)

    def remove_artifact_files(self, artifact_id: str) -> None:
        final = self.artifact_files(artifact_id)
        self._discard(final)
        self._discard(final.with_name(artifact_id + ".tmp"))

    def _discard(self, path: Path) -> None:
        """Remove a file or folder: renamed aside at once, its name free, and removed on
        another thread, since freeing a large file's blocks takes about 0.8 s per GB, which
        would hold every request up (a forced export of weaver-large, say). A name left
        aside by a crash is no server-made name: the stray sweep at start removes it."""
        aside = path.with_name(f"{path.name}.removed-{uuid.uuid4().hex}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        # Closed: a request outlived shutdown; the next start's stray sweep removes it.
        with contextlib.suppress(RuntimeError):
            self._remover.submit(_remove, aside)

    def removed(self) -> None:
        """Wait until the files discarded so far are gone (on a worker, never the loop)."""
        with contextlib.suppress(RuntimeError):
            self._remover.submit(lambda: None).result()

    def remove_stray_artifacts(self, keep: set[str]) -> None:
        """Remove staging directories and files no completed artifact owns (after a crash)."""
        for path in self.artifact_dir.iterdir():
            if path.name not in keep:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def disk_full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of disk space (``ENOSPC`` is ``SQLITE_FULL``)."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomically(path: Path, write: Callable[[BinaryIO], tuple[int, str]]) -> tuple[int, str]:
    """Have ``write`` fill a file that ``path`` then holds either nothing or all of.

    Temp file, fsync, rename, fsync of the directory. Returns what ``write`` returns,
    (size, sha256).
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb", opener=lambda name, flags: os.open(name, flags, 0o600)) as f:
        written = write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return written
