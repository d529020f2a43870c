"""The checked-in openapi.yaml, which the emulator serves and validates against."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

__all__ = ["spec_bytes", "spec_document", "spec_path"]


def spec_path() -> Path:
    """The wheel ships the spec inside this package; a source checkout has it at the root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "openapi.yaml", here.parents[1] / "openapi.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml is missing from this installation")


@functools.cache
def spec_bytes() -> bytes:
    return spec_path().read_bytes()


@functools.cache
def spec_document() -> dict[str, Any]:
    doc = yaml.safe_load(spec_bytes())
    assert isinstance(doc, dict)
    return doc
