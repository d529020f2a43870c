"""The ``weaver-facade`` command line (needs the ``cli`` extra).

Subcommands are imported only when they run, so importing this module (or
asking for ``--help``) does not pull the emulator's numpy and uvicorn.
To add a subcommand, register it in ``_LAZY_COMMANDS`` as ``"module:attribute"``
or attach it with ``main.add_command(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["main"]

_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("weaver_facade.emulator._cli", "Run the local Weaver emulator (extra: emulator)."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in _LAZY_COMMANDS:
            return command
        module_name, _ = _LAZY_COMMANDS[cmd_name]
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"`{cmd_name}` needs an optional dependency that is not installed ({exc.name}); "
                "install weaver-facade[emulator]"
            ) from exc
        loaded = getattr(module, cmd_name)
        assert isinstance(loaded, click.Command)
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Show lazy commands' help without importing them.
        rows = []
        for name in self.list_commands(ctx):
            if name in _LAZY_COMMANDS and name not in self.commands:
                rows.append((name, _LAZY_COMMANDS[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str()))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="weaver-facade")
def main() -> None:
    """weaver-facade: Weaver's checkpoint workflow from the command line."""
