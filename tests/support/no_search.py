"""A folder without search permission (``chmod a-x``), whose entries no one may look up."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@contextlib.contextmanager
def no_search(folder: Path) -> Iterator[None]:
    """``folder``, made and without search permission (``rw-``). Where the process may look
    inside all the same (root, as in CI), a look-up of anything below it fails as the
    system's would (``EACCES``)."""
    folder.mkdir()
    folder.chmod(0o600)
    try:
        with pytest.MonkeyPatch.context() as patch:
            try:
                os.stat(folder / "x")
            except PermissionError:
                pass  # the system refuses it itself
            except FileNotFoundError:
                for name in ("stat", "lstat"):
                    patch.setattr(os, name, _refused_below(folder, getattr(os, name)))
            yield
    finally:
        folder.chmod(0o700)


def _refused_below(folder: Path, real: Any) -> Any:
    def look(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(path, int) and folder in Path(os.fsdecode(path)).parents:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real(path, *args, **kwargs)

    return look
