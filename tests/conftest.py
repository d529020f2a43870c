"""Hooks for the whole suite."""

from __future__ import annotations

import collections
import os

import pytest

# What the programs the tests run (the CLI, rich, mypy) read of the runner's terminal, set
# as every run of the suite has it: tests read their output as plain text, 80 columns
# wide. A CI job's FORCE_COLOR (or rich's TTY_COMPATIBLE) put colour codes in it, and its
# COLUMNS, which xdist's workers take from the terminal running them, wrapped its lines.
TERMINAL = {
    "COLUMNS": "80",
    "FORCE_COLOR": None,
    "MYPY_FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}


def runners_own(name: str) -> bool:
    """Whether the runner's variable ``name`` is kept from the tests, which set what they
    need of it themselves:

    - the package's own (``WEAVER_*``): a CI job's ``WEAVER_LOG=debug`` put request lines
      among the output tests read, its ``WEAVER_EMULATOR_API_KEYS`` locked the tests'
      emulators, its ``WEAVER_BASE_URL`` stood in for an option a test left out;
    - proxy settings, which the facade and the kit follow to the tests' loopback servers
      too: a test's own ``HTTP_PROXY`` lost to a job's ``http_proxy``, and any proxy hands
      storage's GETs to httpx, off the path a download test was written for;
    - ``PYTEST_ADDOPTS``, which a pytest that a test starts took too (a job's ``-v`` undid
      the ``-q`` of a test's ``--collect-only``); the run itself has read it by now, and
      xdist's workers take their options from the run, not from it.
    """
    return name.startswith("WEAVER_") or name.lower().endswith("_proxy") or name == "PYTEST_ADDOPTS"


# Before any other conftest or test module imports the package.
for _name in [name for name in os.environ if runners_own(name)]:
    del os.environ[_name]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin("terminalreporter"):
        writer = config.get_terminal_writer()
        writer.fullwidth = writer.fullwidth  # pytest's own report keeps the runner's width
    for name, value in TERMINAL.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
