"""A kind of artifact the spec adds reaches every place that names the kinds.

The field coverage lists an ArtifactKind value the facade's enum lacks, or that the
`Literal` of `download_weights(kind=...)` lacks (tests/unit/test_field_coverage.py); the
CLI's `--kind` must take it too, or a user can download such an artifact only when the
checkpoint has no other kind.
"""

from __future__ import annotations

import click

from weaver_facade import ArtifactKind
from weaver_facade._cli.artifacts import download as download_command

KINDS = {kind.value for kind in ArtifactKind}


def test_the_cli_takes_every_kind() -> None:
    option = next(p for p in download_command.params if p.name == "kind")
    assert isinstance(option.type, click.Choice)
    assert set(option.type.choices) == KINDS, "--kind of `checkpoints download`"
