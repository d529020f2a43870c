"""openapi.yaml as data, for the tests that read the spec themselves: parsed once per
process, with libyaml (PyYAML's pure-Python parser took half a second for each read, in
each worker's collection)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@functools.cache
def _parsed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(SPEC_PATH.read_bytes(), Loader=yaml.CSafeLoader)
    return document


def openapi() -> dict[str, Any]:
    """openapi.yaml's document, a copy of its own for the caller to change."""
    return copy.deepcopy(_parsed())
