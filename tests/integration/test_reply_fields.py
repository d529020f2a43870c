"""The emulator sends no field the spec does not name.

The spec leaves reply objects open (a server may add fields), so no validator
catches an emulator that still sends a field the spec has renamed: the facade
ignores the old name and a new name stays unset. Here every reply of a whole
workflow is checked against a closed copy of the spec, where each object takes
only the properties it names.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.integration import BASE_MODEL, FAST_RETRY, batch
from weaver_facade import ServiceClient
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._spec import OperationResults, Problem, Spec
from weaver_facade.emulator import RunningEmulator

Reply = tuple[str, str, int, dict[str, str], bytes]


def closed(node: Any) -> Any:
    """``node`` with ``additionalProperties: false`` on every object that does not say."""
    if isinstance(node, dict):
        out = {k: closed(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [closed(v) for v in node]
    return node


CLOSED = Spec(closed(copy.deepcopy(spec_document())))


def problems(replies: list[Reply]) -> Iterator[tuple[str, Problem]]:
    results = OperationResults(CLOSED)
    for method, path, status, headers, body in replies:
        op = CLOSED.match(method, path)
        assert op is not None, f"{method} {path} is no operation of the spec"
        for problem in [
            *CLOSED.check_reply(op, status, headers, body),
            *results.check(op, status, body),
        ]:
            yield f"{method} {path} {status}", problem


@pytest.fixture
def replies(emu: RunningEmulator, tmp_path: Path) -> list[Reply]:
    """Every API reply of a workflow that reaches each kind of reply object."""
    seen: list[Reply] = []

    def hook(response: httpx.Response) -> None:
        if response.request.url.path.startswith("/api/v1/"):
            response.read()
            request = response.request
            seen.append(
                (
                    request.method,
                    request.url.path,
                    response.status_code,
                    dict(response.headers),
                    response.content,
                )
            )

    with (
        httpx.Client(event_hooks={"response": [hook]}) as http,
        ServiceClient(emu.base_url, emu.api_key, http_client=http, retry=FAST_RETRY) as svc,
    ):
        svc.supported_models()
        trainer = svc.create_training_client(BASE_MODEL, seed=1)
        trainer.forward_backward(batch())
        trainer.optim_step()
        saved = trainer.save_state("first")
        trainer.list_checkpoints()
        trainer.get_checkpoint(saved)
        trainer.set_checkpoint_ttl(saved, 3600)
        trainer.load_state_with_optimizer(saved)
        artifact = trainer.export_weights(saved)
        svc.list_artifacts(saved)
        svc.download_weights(artifact, tmp_path / "weights")
        svc.list_models()
        svc.get_model(trainer.model_id)
        trainer.delete_checkpoint(trainer.save_state("second", include_optimizer=False))
    return seen


def test_no_reply_of_a_workflow_has_a_field_the_spec_does_not_name(replies: list[Reply]) -> None:
    reached = {CLOSED.match(m, p).operation_id for m, p, *_ in replies}  # type: ignore[union-attr]
    assert {
        "create_model",
        "forward_backward",
        "save_checkpoint",
        "list_checkpoints",
        "load_checkpoint",
        "export_checkpoint",
        "get_artifact_download",
        "list_models",
        "get_operation",
    } <= reached
    assert list(problems(replies)) == []


def test_a_field_the_spec_does_not_name_is_found(replies: list[Reply]) -> None:
    # The history's `checkpoint_type` beside the spec's `type`, in a listing.
    listing = next(r for r in replies if r[1].endswith("/checkpoints") and r[0] == "GET")
    method, path, status, headers, body = listing
    grown = body.replace(b'"type":', b'"checkpoint_type":"weight","type":', 1)
    assert grown != body
    found = [p.message for _, p in problems([(method, path, status, headers, grown)])]
    assert len(found) == 1
    assert "checkpoint_type" in found[0]
