"""Limits that public docstrings and CLI help state in words agree with openapi.yaml.

The docs say "1 to 256 (LoRA only)" so that a reader needs no spec; ``weaver_client.limits``
is the spec's own figure, so a changed bound fails here until the words follow it. A
pattern's rule is quoted from its words in the spec (``..._PATTERN_WORDS``). The async
twins' docstrings point to the sync ones, so only those are read.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import click
import pytest
from weaver_client import limits

from tests.support.openapi import openapi
from weaver_facade import (
    CheckpointPath,
    Datum,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    OperationHandle,
    ServiceClient,
    TrainingClient,
    validate_checkpoint_name,
)
from weaver_facade._cli.artifacts import export
from weaver_facade._cli.checkpoints import _in_words, save

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

_DAY = 24 * 3600
_RANK = f"1 to {limits.LORA_CONFIG_RANK_MAXIMUM} (LoRA only)"
_DATA = f"At least {limits.FORWARD_BACKWARD_INPUT_DATA_MIN_ITEMS} ``Datum``"
_NAME = limits.CHECKPOINT_NAME_PATTERN_WORDS
_TOKENS = (
    f"at least {limits.ENCODED_TEXT_CHUNK_TOKENS_MIN_ITEMS}, "
    f"each >= {limits.ENCODED_TEXT_CHUNK_TOKENS_ITEMS_MINIMUM}"
)
_EXPORT_TTL = f"({limits.EXPORT_REQUEST_DEFAULTS['ttl_seconds'] // _DAY} days)"

CLAIMS: list[tuple[Any, str]] = [
    (ServiceClient.create_training_client, _RANK),
    (TrainingClient.forward_backward, _DATA),
    (TrainingClient.save_state, _NAME),
    (validate_checkpoint_name, _NAME),
    (TrainingClient.export_weights, _EXPORT_TTL),
    (Datum, _TOKENS),
    (InvalidCheckpointName, f"``{limits.CHECKPOINT_NAME_PATTERN}``"),
    (InvalidCheckpointPath, f"``{limits.CHECKPOINT_PATH_PATTERN_WORDS}``"),
    (CheckpointPath, f"``{limits.CHECKPOINT_PATH_PATTERN_WORDS}``"),
]


def test_the_export_default_is_whole_days() -> None:
    assert limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"] % _DAY == 0


@pytest.mark.parametrize(("owner", "words"), CLAIMS, ids=[o.__qualname__ for o, _ in CLAIMS])
def test_a_docstring_states_the_spec_limit(owner: object, words: str) -> None:
    assert words in " ".join((inspect.getdoc(owner) or "").split())


def test_server_default_states_the_export_default() -> None:
    # A module attribute's docstring, which the API docs show, is no `__doc__`: it stayed
    # at "7 days" when the spec's default changed, as `export_weights`' did not.
    tree = ast.parse(Path(inspect.getfile(TrainingClient)).read_text(encoding="utf-8"))
    after = {
        node.target.id: tree.body[index + 1]
        for index, node in enumerate(tree.body)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }["SERVER_DEFAULT"]
    assert isinstance(after, ast.Expr)
    assert isinstance(after.value, ast.Constant)
    days = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"] // _DAY
    assert f"sent as {days} days in an export" in " ".join(str(after.value.value).split())


@pytest.mark.parametrize("schema", ["ExportRequest", "ExportModelRequest"])
def test_the_spec_states_the_export_default_it_holds(schema: str) -> None:
    # The words of each export body's `ttl_seconds` in openapi.yaml (and so in the
    # generated client's docstrings) stayed at 604800 when its example's default changed.
    seconds = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]
    words = openapi()["components"]["schemas"][schema]["properties"]["ttl_seconds"]
    assert words["description"].startswith(f"Omitted means {seconds} ({seconds // _DAY} days);")


def test_the_cli_states_the_export_default() -> None:
    option = next(p for p in export.params if isinstance(p, click.Option) and p.name == "ttl")
    assert _EXPORT_TTL in (option.help or "")


def test_the_readme_states_the_export_default() -> None:
    seconds = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]
    assert f"by default {seconds // _DAY} days ({seconds}, sent" in README


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(315_360_000, " (10 years)"), (31_536_000, " (1 year)"), (2_592_000, " (30 days)"),
     (400 * _DAY, " (400 days)"), (1000, "")],
)  # fmt: skip
def test_a_ttl_bound_is_put_in_words_only_when_whole(seconds: int, words: str) -> None:
    # A 30-day maximum read "(0 years)", and 400 days "(1 years)".
    assert _in_words(seconds) == words


def test_the_cli_states_the_ttl_range_of_the_spec() -> None:
    maximum = limits.TTL_SECONDS_MAXIMUM
    option = next(p for p in save.params if isinstance(p, click.Option) and p.name == "ttl")
    record = option.get_help_record(click.Context(save))
    assert record is not None
    assert f"[from {limits.TTL_SECONDS_MINIMUM} to {maximum}{_in_words(maximum)}]" in record[1]


def test_the_readme_states_the_ttl_range_of_the_spec() -> None:
    maximum = limits.TTL_SECONDS_MAXIMUM
    assert f"from {limits.TTL_SECONDS_MINIMUM} to {maximum}{_in_words(maximum)}" in README
    # Every range of seconds it states, `set_checkpoint_ttl`'s too, which stayed at the
    # old maximum when only the one above was held to the spec.
    stated = set(re.findall(r"\b(\d+) to (\d{4,})\b", README))
    assert stated == {(str(limits.TTL_SECONDS_MINIMUM), str(maximum))}


def test_the_readme_and_the_cli_state_the_name_rules_of_the_spec() -> None:
    # Hand-written ("letters, digits, `.`, `_`, `-`"), they stayed when the pattern changed.
    assert f"A save's name is {_NAME}" in README
    assert f"a server reports may be {limits.STORED_CHECKPOINT_NAME_PATTERN_WORDS}" in README
    assert f"NAME is {_NAME}" in " ".join((save.help or "").split())


def test_result_states_the_deadline_the_readme_promises() -> None:
    # result() promised "this plus half a second": its last poll's grace alone; a wait
    # that a hung server holds to its end overran it by the time to give up (the README,
    # and the deadline tests, say one second).
    said = re.search(r"ends within T plus (\w+) seconds?, whatever the server does", README)
    assert said is not None
    doc = " ".join((inspect.getdoc(OperationHandle.result) or "").split())
    assert f"The wait ends within this plus {said[1]} second" in doc, doc
    assert "http_client" in doc  # the README's exception to "whatever the server does"
