"""The optional extensions of the wire, named by ``x-weaver-extension`` in openapi.yaml.

Each extension the real Weaver service lacks is marked in the spec with a
short kebab-case name (the spec's header comment lists them). The emulator's
``--extensions`` and the contract kit's report derive the known names from the
spec with ``extension_names``; the facade itself only needs the names that its
``UnsupportedByServerError`` gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "CHECKPOINT_BY_ID",
    "MARKER",
    "MODEL_LISTING",
    "extension_markers",
    "extension_names",
]

MARKER = "x-weaver-extension"
CHECKPOINT_BY_ID = "checkpoint-by-id"
MODEL_LISTING = "model-listing"

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def extension_markers(document: object, where: str = "") -> Iterator[tuple[str, object]]:
    """Every ``x-weaver-extension`` value in a spec document, with its JSON-pointer-ish place."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            if key == MARKER:
                yield where or "/", value
            else:
                yield from extension_markers(value, f"{where}/{key}")
    elif isinstance(document, list):
        for i, item in enumerate(document):
            yield from extension_markers(item, f"{where}/{i}")


def extension_names(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The sorted extension names a spec marks; a marker that is not a name is an error."""
    names: set[str] = set()
    for where, value in extension_markers(document):
        if not isinstance(value, str) or not NAME.fullmatch(value):
            raise ValueError(f"{MARKER} at {where} must be a kebab-case name, not {value!r}")
        names.add(value)
    return tuple(sorted(names))
