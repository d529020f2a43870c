"""Shared leaf of every layer: a noun that agrees with its count ("1 reply", "2 replies")."""

from __future__ import annotations

__all__ = ["counted", "plural"]


def plural(count: int, one: str, many: str | None = None) -> str:
    """``one`` for a count of one, else ``many`` (by default ``one`` with an ``s``)."""
    return one if count == 1 else f"{one}s" if many is None else many


def counted(count: int, one: str, many: str | None = None) -> str:
    """``count`` and the noun that agrees with it (``plural``): "1 file", "2 files"."""
    return f"{count} {plural(count, one, many)}"
