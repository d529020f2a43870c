"""One quick conformance run against a clean emulator whose saves last 2.2 s, read by two
tests: the long-poll it shows, and the spec it checks replies with, left as it was.

The spec: found with the independent wire server's `--drift sync_save` (the history's save
that answered 201 with the Checkpoint), schemathesis inlined the `$ref` of that 201
(`OperationAccepted`) in the document it was given, a shallow copy of the one the kit's
``Spec`` reads, so the reply's schema pointer named `paths/.../201/content/...`, which the
sheet-only copy made before did not have, and the kit crashed with `PointerToNowhere`
instead of naming the drift.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from tests.contract.support import KEY, quick
from tests.support.emulator import serve_in_thread
from weaver_facade._extensions import restrict_spec
from weaver_facade.contract import ContractReport, _kit, run_contract_test
from weaver_facade.emulator import EmulatorConfig, create_app

SAVE = "/api/v1/models/{model_id}/checkpoints"

# Both tests read one run of the kit, about 30 s: under `--slow`.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Run:
    report: ContractReport
    #: Each poll's query parameters.
    polls: list[dict[str, list[str]]]
    #: Each document the kit gave schemathesis, as it was after the run.
    tested: list[dict[str, Any]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    polls: list[dict[str, list[str]]] = []
    tested: list[dict[str, Any]] = []

    def keep(document: Any, without: frozenset[str]) -> dict[str, Any]:
        tested.append(restrict_spec(document, without))
        return tested[-1]

    app = create_app(
        EmulatorConfig(
            data_dir=tmp_path_factory.mktemp("data"),
            api_keys=(KEY,),
            latency={"save_checkpoint": 2.2},
        )
    )

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/operations/"):
            polls.append(urllib.parse.parse_qs(scope["query_string"].decode()))
        await app(scope, receive, send)

    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        serve_in_thread(recording, app, name="contract-emulator") as base_url,
    ):
        monkeypatch.setattr(_kit, "restrict_spec", keep)
        report = run_contract_test(quick(base_url, parts=("conformance",)))
    return Run(report, polls, tested)


def test_a_long_poll_held_until_the_operation_ended_is_evidence(run: Run) -> None:
    # A poll held 2 s and answered `done` was taken for no evidence: "undetermined".
    # The one run of the kit against the emulator whose saves last long enough for the
    # probe to see a poll held: the only one whose conformance part holds it to long-poll
    # (the other runs leave `wait` and `seen_revision` out of the spec).
    report = run.report
    assert report.passed, [f.line() for f in report.findings]
    assert report.extensions is not None
    assert "long-poll" in report.extensions.offered, report.extensions

    def beyond(value: str) -> bool:
        try:
            return not 0 <= float(value) <= 60
        except ValueError:
            return True

    # The conformance cases of the extension ran: `wait` beyond the sheet's 0..60, and
    # `seen_revision`.
    assert any(beyond(w) for poll in run.polls for w in poll.get("wait", ())), run.polls
    assert any("seen_revision" in poll for poll in run.polls), run.polls


def test_conformance_leaves_the_spec_it_checks_replies_with_as_it_was(run: Run) -> None:
    (document,) = run.tested
    assert document["paths"][SAVE]["post"]["responses"]["201"] == {
        "$ref": "#/components/responses/OperationAccepted"
    }
