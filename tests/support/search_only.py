"""A folder the user may only search (``chmod 100``, ``d--x``): neither read nor write; or
another the user may not read (``unread``: ``d-w-``, ``d-wx``)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def search_only(folder: Path) -> contextlib.AbstractContextManager[None]:
    """``folder``, made with search permission alone (``unread``)."""
    return unread(folder, 0o100)


@contextlib.contextmanager
def unread(folder: Path, mode: int) -> Iterator[None]:
    """``folder``, made with ``mode``, which does not let its owner read it. Where the
    process may read and write it all the same (root, as in CI), opening the folder itself
    fails as the system's would (``EACCES``), and ``os.access`` answers by the owner's
    bits of ``mode``, as the system does for its owner."""
    assert not mode & 0o400, f"{mode:o} lets its owner read the folder"
    folder.mkdir()
    folder.chmod(mode)
    try:
        with pytest.MonkeyPatch.context() as patch:
            try:
                os.close(os.open(folder, os.O_RDONLY))
            except PermissionError:
                pass  # the system refuses it itself
            else:
                patch.setattr(os, "open", _refused(folder, os.open))
                patch.setattr(os, "access", _owners(folder, mode, os.access))
            yield
    finally:
        folder.chmod(0o700)


def _refused(folder: Path, real: Any) -> Any:
    def open_(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(path, int) and Path(os.fsdecode(path)) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real(path, *args, **kwargs)

    return open_


def _owners(folder: Path, mode: int, real: Any) -> Any:
    allowed = mode >> 6  # the owner's rwx: 4, 2, 1, as os.R_OK, W_OK and X_OK are

    def access(path: Any, wanted: int, *args: Any, **kwargs: Any) -> bool:
        if Path(os.fsdecode(path)) == folder:
            return not wanted & ~allowed
        return bool(real(path, wanted, *args, **kwargs))

    return access
