"""Conformance's look-up of a model's checkpoint (for the TTL change it aims) ends within
`--deadline` (15 s at most) and by the part's time limit, however slowly its reply comes.

It waited 15 s for each of its reply's bytes whatever `--deadline` said: a server that
held the listing made a run under `--deadline 0.5` wait 15 s more, and one that sent it a
byte at a time held the run as long as it liked, past `--time-limit` too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.contract.support import KEY
from tests.support.scripted_http import TRICKLE, Reply, ScriptedServer
from weaver_facade.contract import ContractSettings, _kit, run_contract_test
from weaver_facade.contract._conformance import ConformanceOutcome, by_part_end

LISTING = {"items": [{"name": "weaver-tiny", "status": "ready", "config": {"vocab_size": 256}}]}


def _answer(method: str, path: str) -> Reply | str:
    path = path.partition("?")[0]
    if path == "/api/v1/supported-models":
        return 200, LISTING, {}
    if path == "/api/v1/models/m-1/checkpoints":
        return TRICKLE  # a byte every 0.3 s: no wait for one byte is long
    return 404, {"error": "not_found", "message": "no", "retryable": False}, {}


def test_the_look_up_ends_within_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[tuple[str | None, float]] = []

    def conformance(**kwargs: Any) -> ConformanceOutcome:
        started = time.monotonic()
        looked.append((kwargs["checkpoint_path"]("m-1"), time.monotonic() - started))
        return ConformanceOutcome()

    monkeypatch.setattr(_kit, "run_conformance", conformance)
    with ScriptedServer(_answer) as server:
        settings = ContractSettings(
            base_url=server.base_url, api_key=KEY, parts=("conformance",), deadline=0.5
        )
        run_contract_test(settings)
    [(path, took)] = looked
    assert path is None
    assert took < 0.5 + 2.5, took  # a margin for a busy machine; it took 15 s and more


def test_the_look_up_ends_by_the_part_s_end() -> None:
    with ScriptedServer(_answer) as server:
        lookup = _kit._listed_checkpoint(server.base_url, KEY, within=15.0)
        started = time.monotonic()
        path = by_part_end(lookup, started + 0.5)("m-1")
        took = time.monotonic() - started
    assert path is None
    assert took < 0.5 + 2.5, took  # a margin for a busy machine; it took 15 s and more
