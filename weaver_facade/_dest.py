"""Shared leaf of the facade, the CLI and the emulator: what stands in the way of a folder
(a download's, the emulator's data dir)."""

from __future__ import annotations

import os
from pathlib import Path


def in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that exists, when it is no folder (a
    file, say): the folder cannot be made there. ``None`` otherwise. A path the system
    cannot hold raises its ``OSError`` (``ENAMETOOLONG``)."""
    # A broken symlink counts: nothing can be made there (a link to a disk not mounted).
    there = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()), None)
    return there if there is not None and not there.is_dir() else None


def what_is_there(there: Path) -> str:
    """What ``in_the_way`` found, in the words of a command's refusal."""
    if there.is_symlink() and not there.exists():
        return f"a broken symlink (to {os.readlink(there)})"
    return "a file" if there.is_file() else "not a folder"
