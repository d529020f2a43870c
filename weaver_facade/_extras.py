"""The optional extras, and the one-line error when an entry point's extra is missing.

``pip install weaver-facade`` gives the client alone; the command line, the
emulator and the contract kit need their extras. Each entry point checks its
extra before importing anything from it, so a plain install prints
``error: ... needs the 'cli' extra: pip install 'weaver-facade[cli]'`` and
exits 2 instead of a ``ModuleNotFoundError`` traceback; an import from a script
gets a ``ModuleNotFoundError`` that names the extra.
"""

from __future__ import annotations

import importlib.util
import sys

# The top-level modules each extra brings, with the extras it includes (see pyproject.toml).
_MODULES: dict[str, tuple[str, ...]] = {
    "cli": ("click", "rich"),
    "emulator": ("starlette", "uvicorn", "numpy", "yaml", "jsonschema"),
    "contract": ("schemathesis",),
}
_INCLUDES: dict[str, tuple[str, ...]] = {"emulator": ("cli",), "contract": ("emulator",)}


def _modules(extra: str) -> tuple[str, ...]:
    included = (m for inner in _INCLUDES.get(extra, ()) for m in _modules(inner))
    return (*included, *_MODULES[extra])


def missing_module(extra: str) -> str | None:
    """The first module of ``extra`` (or of an extra it includes) that cannot be found."""
    for name in _modules(extra):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return name
    return None


def missing_extra_message(extra: str, what: str) -> str:
    """``WHAT needs the 'EXTRA' extra: pip install 'weaver-facade[EXTRA]'``."""
    return f"{what} needs the '{extra}' extra: pip install 'weaver-facade[{extra}]'"


def check_extra(extra: str, what: str) -> None:
    """Raise ``ModuleNotFoundError`` naming ``extra`` when it is not installed (for an
    import or call from a script, where ``require``'s exit would not do)."""
    missing = missing_module(extra)
    if missing is not None:
        message = f"{missing_extra_message(extra, what)} (cannot import {missing})"
        raise ModuleNotFoundError(message, name=missing)


def require(extra: str, what: str) -> None:
    """Exit 2 with one line on stderr when ``extra`` is not installed (no import is made)."""
    if missing_module(extra) is not None:
        print(f"error: {missing_extra_message(extra, what)}", file=sys.stderr)
        raise SystemExit(2)
