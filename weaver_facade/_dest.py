"""What stands in the way of a folder (a download's, the emulator's data dir), and how a
message shows a path. A shared leaf: it imports nothing of the facade."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that exists, when it is no folder (a
    file, say): the folder cannot be made there. ``None`` otherwise. A path the system
    cannot hold raises its ``OSError`` (``ENAMETOOLONG``)."""
    # A broken symlink counts: nothing can be made there (a link to a disk not mounted).
    there = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()), None)
    return there if there is not None and not there.is_dir() else None


def what_is_there(there: Path) -> str:
    """What ``in_the_way`` found, in the words of a command's refusal (a symlink to a file
    is that file)."""
    if there.is_symlink() and not there.exists():
        return f"a broken symlink (to {shown_path(os.readlink(there))})"
    return what_it_is(there, os.stat(there).st_mode)


def what_it_is(path: Path, mode: int) -> str:
    """What the file ``path`` of ``mode`` (its ``stat``) is, in a refusal's words: a
    symlink (``lstat``'s) with where it leads."""
    if stat.S_ISLNK(mode):
        return f"a symlink (to {shown_path(os.readlink(path))})"
    kinds = (
        (stat.S_ISREG, "a file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((words for test, words in kinds if test(mode)), "not a regular file")


#: Every control character (C0, DEL, C1), line or paragraph separator (U+2028, U+2029: a
#: terminal breaks the line there) and lone surrogate (a byte of an argument not in the
#: locale's encoding), as ``repr()`` writes it: ``\n``, ``\x1b``, ``\u2028``, ``\udce9``. The
#: command line's escape of a server's words shares it, but for tab and newline.
CONTROL_ESCAPES = {
    c: repr(chr(c))[1:-1]
    for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000))
}


def shown_path(path: object) -> str:
    """``path`` (a folder the user gave, or a file in it) as a message shows it: its control
    characters escaped as ``repr()`` does, tab and newline too, the rest as it is. A path
    from a variable or a glob may hold any of them: its newline broke a message's one line
    (or became a space in it), and its escape sequence rewrote the terminal."""
    return str(path).translate(CONTROL_ESCAPES)


# What a download was doing where a local ``OSError`` ended it (``mark_doing``).
_DOING = "_weaver_doing"


def mark_doing(exc: OSError, path: object, doing: str) -> None:
    """Say on ``exc``, a download's local failure at ``path``, what it was doing there
    (``"read"``, ``"write to"``), and name ``path`` where the system named no file (an
    ``os.read``'s ``EIO``): for the command line's words (``doing``)."""
    if exc.filename is None:
        exc.filename = str(path)
    setattr(exc, _DOING, doing)


def doing(exc: OSError) -> str:
    """What ``mark_doing`` said of ``exc``; else ``"write to"``: a download's other local
    failures are of writing (a full disk, say)."""
    return str(getattr(exc, _DOING, "write to"))
