"""Shared leaf of the facade and the CLI: what stands in the way of a download's folder."""

from __future__ import annotations

from pathlib import Path


def in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that exists, when it is no folder (a
    file, say): the folder cannot be made there. ``None`` otherwise. A path the system
    cannot hold raises its ``OSError`` (``ENAMETOOLONG``)."""
    there = next((p for p in (folder, *folder.parents) if p.exists()), None)
    return there if there is not None and not there.is_dir() else None
