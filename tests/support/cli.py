"""Helpers of the CLI tests: run ``weaver-facade`` in-process and check every invocation;
fixtures are in tests/cli/conftest.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner

from weaver_facade import OperationHandle, OperationProgress, ServiceClient, datum_from_tokens
from weaver_facade.cli import main
from weaver_facade.emulator._config import FaultRule

API_KEY = "cli-secret-key-5b2e77"
# Half of a download's storage GETs answered 503 (with a seed, the same ones each run).
STORAGE_503 = FaultRule(
    kind="unavailable",
    rate=0.5,
    method="GET",
    route="/storage/artifacts/{artifact_id}/{name}",
    retry_after=0,
)
# The keys of an operation in --json (operations show and wait, a --no-wait start).
OPERATION_KEYS = {
    "id",
    "status",
    "kind",
    "model_id",
    "created_at",
    "updated_at",
    "pending_info",
    "result",
    "error",
}


@attrs.frozen
class Run:
    """One invocation: exit status and the two streams."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., Run]


def invoke(args: list[str], env: dict[str, str | None]) -> Run:
    runner = CliRunner(env=env)
    result = runner.invoke(main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}")
    run = Run(result.exit_code, result.stdout, result.stderr)
    both = run.stdout + run.stderr
    assert "Traceback" not in both, both
    assert API_KEY not in both, both
    return run


def train_model(service: ServiceClient, steps: int = 2) -> str:
    """A new weaver-tiny model after ``steps`` training steps; its id."""
    trainer = service.create_training_client("weaver-tiny", seed=3)
    batch = [datum_from_tokens([(5 * i + j) % 256 for j in range(10)]) for i in range(3)]
    for _ in range(steps):
        trainer.forward_backward(batch)
        trainer.optim_step()
    return trainer.model_id


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group below ``group``, as the words that name it."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    """The command that ``path``'s words name."""
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, path
        command = found
    return command


def shown_whole(value: str, output: str) -> bool:
    """Whether ``value`` stands whole on one line of ``output`` (not cut, not broken)."""
    word = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
    return any(re.search(word, line) for line in output.splitlines())


def ctrl_c_after_the_first_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C once a wait has seen its operation, still running."""
    waiting = OperationHandle.watch

    def interrupted(
        self: OperationHandle[Any], timeout: float | None = None
    ) -> Iterator[OperationProgress]:
        for change in waiting(self, timeout):
            yield change
            raise KeyboardInterrupt

    monkeypatch.setattr(OperationHandle, "watch", interrupted)
