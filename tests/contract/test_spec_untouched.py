"""The document the kit reads replies with stays as it was through the conformance run.

Found with the independent wire server's `--drift sync_save` (the history's save that
answered 201 with the Checkpoint): schemathesis inlined the `$ref` of that 201
(`OperationAccepted`) in the document it was given, a shallow copy of the one the kit's
``Spec`` reads, so the reply's schema pointer named `paths/.../201/content/...`, which the
sheet-only copy made before did not have, and the kit crashed with `PointerToNowhere`
instead of naming the drift.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.support import quick, serve_emulator
from weaver_facade._extensions import restrict_spec
from weaver_facade.contract import _kit, run_contract_test

SAVE = "/api/v1/models/{model_id}/checkpoints"


def test_conformance_leaves_the_spec_it_checks_replies_with_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tested: list[dict[str, Any]] = []

    def keep(document: Any, without: frozenset[str]) -> dict[str, Any]:
        tested.append(restrict_spec(document, without))
        return tested[-1]

    monkeypatch.setattr(_kit, "restrict_spec", keep)
    with serve_emulator() as served:
        run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=20.0))
    (document,) = tested
    assert document["paths"][SAVE]["post"]["responses"]["201"] == {
        "$ref": "#/components/responses/OperationAccepted"
    }
