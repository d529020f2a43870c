"""A kind of artifact the spec adds reaches every place that names the kinds.

The field coverage lists an ArtifactKind value the facade's enum lacks; once the enum
has it, `download_weights(kind=...)` (a `Literal`, which cannot be derived) and the
CLI's `--kind` must take it too, or a user can download such an artifact only when
the checkpoint has no other kind.
"""

from __future__ import annotations

import typing

import click
import pytest

from weaver_facade import ArtifactKind, AsyncServiceClient, ServiceClient
from weaver_facade._cli.artifacts import download as download_command

KINDS = {kind.value for kind in ArtifactKind}


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
def test_download_weights_takes_every_kind(client: type[object]) -> None:
    hint = typing.get_type_hints(client.download_weights)["kind"]  # type: ignore[attr-defined]
    literal = next(a for a in typing.get_args(hint) if typing.get_origin(a) is typing.Literal)
    assert set(typing.get_args(literal)) == KINDS, (
        f"{client.__name__}.download_weights: its `kind` Literal (weaver_facade/_client.py) "
        "is not ArtifactKind's values"
    )


def test_the_cli_takes_every_kind() -> None:
    option = next(p for p in download_command.params if p.name == "kind")
    assert isinstance(option.type, click.Choice)
    assert set(option.type.choices) == KINDS, "--kind of `checkpoints download`"
