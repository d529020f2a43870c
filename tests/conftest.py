"""Hooks for the whole suite."""

from __future__ import annotations

import collections

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test an id of its own. pytest builds an item's id from its
    ``originalname``, which schemathesis sets to the function's name for every operation;
    pytest-xdist's ``--dist loadfile`` keys a file's tests by id, and so ran the first
    operation alone, and said nothing of the rest."""
    counts = collections.Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and isinstance(item, pytest.Function):
            # The name is ``originalname[params]``, as for pytest's own parametrize.
            item._id = item._id.with_params(item.name[len(item.originalname) + 1 : -1])
    shared = sorted(i for i, n in collections.Counter(t.nodeid for t in items).items() if n > 1)
    if shared:
        raise pytest.UsageError(f"tests share an id, so xdist would run one of each: {shared}")
