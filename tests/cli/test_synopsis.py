"""The README's synopsis of the command line against the commands themselves."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import click

from tests.support.cli import command_at, command_paths
from weaver_facade.cli import main
from weaver_facade.contract._cli import parser as contract_parser

PATHS = list(command_paths(main))


README = Path(__file__).resolve().parents[2] / "README.md"


def options_of(path: tuple[str, ...]) -> list[set[str]]:
    """The spellings of each option of the command at ``path`` (but --json and --help)."""
    if path == ("contract-test",):  # the kit's own parser reads its options
        actions = contract_parser("contract-test")._actions
        return [set(a.option_strings) for a in actions if "--help" not in a.option_strings]
    return [
        set(p.opts)
        for p in command_at(path).params
        if isinstance(p, click.Option) and not p.hidden and "--json" not in p.opts
        and "--help" not in p.opts
    ]  # fmt: skip


def readme_synopsis() -> dict[tuple[str, ...], str]:
    """The README's command-line block: each command's words and the rest of its line."""
    text = README.read_text()
    block = text.split("## The command line\n\n```\n", 1)[1].split("```", 1)[0]
    found = {}
    for line in block.splitlines():
        words = line.split()[1:]  # after `weaver-facade`
        path = tuple(w for w in words[:2] if w.islower() and w.replace("-", "").isalpha())
        if path not in PATHS:
            path = path[:1]
        found[path] = line
    return found


def test_the_readme_synopsis_names_each_commands_options() -> None:
    # Written by hand, the synopsis had lost `export --timeout` and three `--model`s.
    synopsis = readme_synopsis()
    leaves = [p for p in PATHS if not isinstance(command_at(p), click.Group)]
    assert set(synopsis) == set(leaves)
    for path, line in synopsis.items():
        shown = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", line))
        options = options_of(path)
        unknown = shown - set().union(*options)
        assert not unknown, (path, unknown)
        if not line.rstrip().endswith("..."):  # else the rest is in the command's section
            missing = [sorted(opts) for opts in options if not opts & shown]
            assert not missing, (path, missing)


# Where the README gives the options a synopsis line leaves to `...`.
SECTIONS: dict[tuple[str, ...], str] = {
    ("emulator",): "## The emulator",
    ("contract-test",): "## Contract-testing",
}


def test_the_options_a_synopsis_leaves_out_are_in_the_commands_section() -> None:
    # `emulator ...` left `--fault-seed`, `--log-level` and `--no-access-log` to a
    # section that never named them.
    text = README.read_text()
    for path, line in readme_synopsis().items():
        if not line.rstrip().endswith("..."):
            continue
        section = text.split(SECTIONS[path], 1)[1].split("\n## ", 1)[0]
        named = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", line + section))
        missing = [sorted(opts) for opts in options_of(path) if not opts & named]
        assert not missing, (path, missing)


def test_the_readme_synopsis_names_each_commands_arguments_as_its_help() -> None:
    # `operations show OP_ID` in the README (and in `--no-wait`'s hint) was
    # `OPERATION_ID` in `--help`: two names for one argument.
    for path, line in readme_synopsis().items():
        command = command_at(path)
        if path in {("emulator",), ("contract-test",)}:  # no arguments of their own
            continue
        words = line.split()[1 + len(path) :]
        shown = list(itertools.takewhile(lambda w: w[0] not in "[(-", words))
        ctx = click.Context(command, info_name=" ".join(path))
        usage = [p for p in command.collect_usage_pieces(ctx) if p != "[OPTIONS]"]
        assert shown == usage, (path, shown, usage)


def test_the_readme_synopsis_names_each_options_value_as_its_help() -> None:
    # `--max-concurrency N`, `-o DIR`, `emulator --port N` and `contract-test
    # --max-examples N` were `INTEGER RANGE`, `DIRECTORY` and `MAX_EXAMPLES` in `--help`.
    differ: list[str] = []
    kit = README.read_text().split("## Contract-testing", 1)[1].split("```\n", 2)[1]
    lines = [*readme_synopsis().items(), (("contract-test",), kit.splitlines()[0])]
    for path, line in lines:
        shown = dict(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*) ([A-Z][A-Z_]*)\b", line))
        if path == ("contract-test",):
            actions = contract_parser("contract-test")._actions
            helps = {
                o: a.metavar or a.dest.upper() for a in actions for o in a.option_strings
            }  # fmt: skip
        else:
            command = command_at(path)
            ctx = click.Context(command, info_name=" ".join(path))
            helps = {
                o: p.make_metavar(ctx)
                for p in command.params
                if isinstance(p, click.Option) and not isinstance(p.type, click.Choice)
                for o in p.opts
            }
        differ += [
            f"{' '.join(path)} {option}: {value} in the README, {helps[option]} in --help"
            for option, value in shown.items()
            if option in helps and helps[option] != value  # a choice lists its values instead
        ]
    assert differ == [], "\n".join(differ)
