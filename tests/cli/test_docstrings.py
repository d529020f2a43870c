"""Every public name has a docstring: the facade's ``__all__``, the CLI, the pytest plugin."""

from __future__ import annotations

import enum
import inspect
from types import ModuleType
from typing import Any

import click
import pytest

import weaver_facade
import weaver_facade.pytest_plugin
from weaver_facade._cli.checkpoints import checkpoints
from weaver_facade._cli.operations import operations
from weaver_facade.cli import main

# Constants and type aliases document themselves in the module (attribute docstrings).
NOT_DOCUMENTABLE = {"__version__", "SERVER_DEFAULT", "CheckpointLike", "CheckpointRef"}
NOT_DOCUMENTABLE |= {"DEFAULT_LORA_RANK", "OperationResult", "TtlSeconds"}


def undocumented(module: ModuleType) -> list[str]:
    missing = []
    for name in module.__all__:
        if name in NOT_DOCUMENTABLE:
            continue
        obj = getattr(module, name)
        if not inspect.getdoc(obj):
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_") or (isinstance(obj, enum.EnumMeta) and attr in obj.__members__):
                continue
            function: Any = value.fget if isinstance(value, property) else value
            function = getattr(function, "__func__", function)
            if callable(function) and not (function.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    return missing


@pytest.mark.parametrize("module", [weaver_facade, weaver_facade.pytest_plugin])
def test_public_names_have_docstrings(module: ModuleType) -> None:
    assert undocumented(module) == []


def commands(group: click.Group) -> list[click.Command]:
    found: list[click.Command] = [group]
    for command in group.commands.values():
        found += commands(command) if isinstance(command, click.Group) else [command]
    return found


def test_every_command_and_option_has_help() -> None:
    for command in [main, *commands(checkpoints), *commands(operations)]:
        assert (command.help or "").strip(), command.name
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), (command.name, param.name)
