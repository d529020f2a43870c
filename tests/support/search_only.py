"""A folder the user may only search (``chmod 100``, ``d--x``): neither read nor write."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@contextlib.contextmanager
def search_only(folder: Path) -> Iterator[None]:
    """``folder``, made with search permission alone. Where the process may read and write
    it all the same (root, as in CI), opening the folder itself fails as the system's would
    (``EACCES``), and asking ``os.access`` to read or write it says no."""
    folder.mkdir()
    folder.chmod(0o100)
    try:
        with pytest.MonkeyPatch.context() as patch:
            try:
                os.close(os.open(folder, os.O_RDONLY))
            except PermissionError:
                pass  # the system refuses it itself
            else:
                patch.setattr(os, "open", _refused(folder, os.open))
                patch.setattr(os, "access", _denied(folder, os.access))
            yield
    finally:
        folder.chmod(0o700)


def _refused(folder: Path, real: Any) -> Any:
    def open_(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(path, int) and Path(os.fsdecode(path)) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real(path, *args, **kwargs)

    return open_


def _denied(folder: Path, real: Any) -> Any:
    def access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if Path(os.fsdecode(path)) == folder and mode & (os.R_OK | os.W_OK):
            return False
        return bool(real(path, mode, *args, **kwargs))

    return access
