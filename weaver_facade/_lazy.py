"""Modules imported on first use, to keep ``import weaver_facade`` fast.

``weaver_client.models`` defines some sixty attrs classes (about a third of
the facade's import time) and asyncio is only needed by the async clients.
Neither is needed before the first request: a script that imports the facade
and then fails on a bad argument, or a tool that only reads ``--help``,
never pays for them. ``benchmarks/b4_import.py`` measures the effect.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__all__ = ["LazyModule"]


class LazyModule(types.ModuleType):
    """Stands for module ``name`` and imports it at the first attribute access.

    The import system's own per-module lock makes a first access from two
    threads at once import the module once. Each attribute found is kept on
    this object, so later accesses cost an ordinary attribute lookup.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__name__), attr)
        setattr(self, attr, value)
        return value
