"""A full disk under the emulator's store, for the tests of what it can still do there."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def used(data_dir: Path) -> int:
    """The bytes the checkpoint and artifact files take (one set aside for removal too)."""
    return sum(
        p.stat().st_size
        for folder in ("checkpoints", "artifacts")
        for p in (data_dir / folder).rglob("*")
        if p.is_file()
    )


class FullDisk:
    """The store's connection on a disk that the data dir's files fill: while they take
    more than ``room`` bytes, a COMMIT that writes fails as SQLite's does there
    (``SQLITE_FULL``, the transaction rolled back); one that writes nothing passes."""

    def __init__(self, conn: sqlite3.Connection, data_dir: Path, room: int) -> None:
        self.conn = conn
        self.data_dir = data_dir
        self.room = room
        self.refused = 0
        self._changes = 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "BEGIN IMMEDIATE":
            self._changes = self.conn.total_changes
        elif (
            sql == "COMMIT"
            and self.conn.total_changes != self._changes
            and used(self.data_dir) > self.room
        ):
            self.refused += 1
            self.conn.execute("ROLLBACK")
            full = sqlite3.OperationalError("database or disk is full")
            full.sqlite_errorcode = sqlite3.SQLITE_FULL
            full.sqlite_errorname = "SQLITE_FULL"
            raise full
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)
