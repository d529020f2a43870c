"""The public classes' annotations resolve at run time, as ``typing.get_type_hints`` reads
them (and ``attrs.resolve_types``, cattrs, a user's own introspection): a type imported
for type checkers alone is a ``NameError`` there."""

from __future__ import annotations

import importlib
import inspect
import typing

import pytest

MODULES = (
    "weaver_facade",
    "weaver_facade.emulator",
    "weaver_facade.contract",
    "weaver_facade.pytest_plugin",
)


@pytest.mark.parametrize("module", MODULES)
def test_every_public_class_s_annotations_resolve(module: str) -> None:
    public = importlib.import_module(module)
    classes = [getattr(public, n) for n in public.__all__ if inspect.isclass(getattr(public, n))]
    assert classes
    unresolved = {}
    for cls in classes:
        try:
            typing.get_type_hints(cls)
        except NameError as exc:
            unresolved[cls.__name__] = str(exc)
    assert unresolved == {}
