"""Every operation of the generated client, through httpx.MockTransport.

For each operationId in openapi.yaml: the exact request the generated client
sends (method, path, query, API-key header, Idempotency-Key, JSON body), and
that a realistic reply (the spec's own example) parses into the right model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import weaver_client.api.artifacts.delete_artifact as delete_artifact
import weaver_client.api.artifacts.export_checkpoint as export_checkpoint
import weaver_client.api.artifacts.export_model_weights as export_model_weights
import weaver_client.api.artifacts.get_artifact as get_artifact
import weaver_client.api.artifacts.get_artifact_download as get_artifact_download
import weaver_client.api.artifacts.list_artifacts as list_artifacts
import weaver_client.api.checkpoints.delete_checkpoint as delete_checkpoint
import weaver_client.api.checkpoints.get_checkpoint as get_checkpoint
import weaver_client.api.checkpoints.list_checkpoints as list_checkpoints
import weaver_client.api.checkpoints.load_checkpoint as load_checkpoint
import weaver_client.api.checkpoints.save_checkpoint as save_checkpoint
import weaver_client.api.checkpoints.set_checkpoint_ttl as set_checkpoint_ttl
import weaver_client.api.models.create_model as create_model
import weaver_client.api.models.get_model as get_model
import weaver_client.api.models.list_models as list_models
import weaver_client.api.models.list_supported_models as list_supported_models
import weaver_client.api.models.terminate_model as terminate_model
import weaver_client.api.operations.get_operation as get_operation
import weaver_client.api.sessions.create_session as create_session
import weaver_client.api.sessions.get_session as get_session
import weaver_client.api.sessions.send_heartbeat as send_heartbeat
import weaver_client.api.training.forward as forward
import weaver_client.api.training.forward_backward as forward_backward
import weaver_client.api.training.optim_step as optim_step
from weaver_client import AuthenticatedClient, Client
from weaver_client.models import (
    Artifact,
    ArtifactKind,
    ArtifactList,
    Checkpoint,
    CheckpointList,
    CheckpointStatus,
    CheckpointType,
    CreateModelRequest,
    CreateSessionRequest,
    DownloadDescriptor,
    Error,
    ExportModelRequest,
    ExportRequest,
    ForwardBackwardRequest,
    ForwardRequest,
    LoadCheckpointRequest,
    Model,
    ModelList,
    Operation,
    OperationResult,
    OperationStatus,
    OptimStepRequest,
    SaveCheckpointRequest,
    Session,
    SetCheckpointTtlRequest,
    SupportedModelList,
)
from weaver_client.types import Response

from tests.support.openapi import openapi

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = openapi()
EXAMPLES = {name: s["example"] for name, s in SPEC["components"]["schemas"].items()}
KEY = "sk-test-0123456789"
IDEM = "3f6c1d0e-7b44-4b7e-9a57-2c1f5e0b9d11"
CKPT_ID = "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09"
ART_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

Call = Callable[[AuthenticatedClient], Response[Any]]


class Case:
    def __init__(
        self,
        operation_id: str,
        call: Call,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: str | None = None,
        idempotency: bool = False,
        status: int = 200,
        reply: str,
        parsed: type,
    ) -> None:
        self.operation_id = operation_id
        self.call = call
        self.method = method
        self.path = path
        self.query = query or {}
        self.body = body
        self.idempotency = idempotency
        self.status = status
        self.reply = reply
        self.parsed = parsed


def ex(name: str) -> Any:
    return EXAMPLES[name]


def canon(value: Any) -> Any:
    """Compare timestamps as instants: `Z` and `+00:00` are the same time."""
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value)
    return value


CASES = [
    Case(
        "create_session",
        lambda c: create_session.sync_detailed(
            client=c,
            body=CreateSessionRequest.from_dict(ex("CreateSessionRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/sessions",
        body="CreateSessionRequest", idempotency=True, status=201, reply="Session", parsed=Session,
    ),
    Case(
        "get_session",
        lambda c: get_session.sync_detailed("s-8c1f2e", client=c),
        "GET", "/api/v1/sessions/s-8c1f2e", reply="Session", parsed=Session,
    ),
    Case(
        "send_heartbeat",
        lambda c: send_heartbeat.sync_detailed("s-8c1f2e", client=c, idempotency_key=IDEM),
        "POST", "/api/v1/sessions/s-8c1f2e/heartbeat",
        # Any 2xx, its body unread: the wire promises no reply (the emulator sends a Heartbeat).
        idempotency=True, reply="Heartbeat", parsed=type(None),
    ),
    Case(
        "create_model",
        lambda c: create_model.sync_detailed(
            "s-8c1f2e",
            client=c,
            body=CreateModelRequest.from_dict(ex("CreateModelRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/sessions/s-8c1f2e/models",
        body="CreateModelRequest", idempotency=True, status=201, reply="Model", parsed=Model,
    ),
    Case(
        "list_supported_models",
        lambda c: list_supported_models.sync_detailed(client=c, limit=10, offset=20),
        "GET", "/api/v1/supported-models", query={"limit": "10", "offset": "20"},
        reply="SupportedModelList", parsed=SupportedModelList,
    ),
    Case(
        "list_models",
        lambda c: list_models.sync_detailed(client=c, limit=5, offset=10),
        "GET", "/api/v1/models", query={"limit": "5", "offset": "10"},
        reply="ModelList", parsed=ModelList,
    ),
    Case(
        "get_model",
        lambda c: get_model.sync_detailed("m-1", client=c),
        "GET", "/api/v1/models/m-1", reply="Model", parsed=Model,
    ),
    Case(
        "terminate_model",
        lambda c: terminate_model.sync_detailed("m-1", client=c, idempotency_key=IDEM),
        "POST", "/api/v1/models/m-1/terminate", idempotency=True, reply="Model", parsed=Model,
    ),
    Case(
        "forward_backward",
        lambda c: forward_backward.sync_detailed(
            "m-1",
            client=c,
            body=ForwardBackwardRequest.from_dict(ex("ForwardBackwardRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/forward-backward-passes",
        body="ForwardBackwardRequest", idempotency=True, status=202, reply="Operation",
        parsed=Operation,
    ),
    Case(
        "forward",
        lambda c: forward.sync_detailed(
            "m-1",
            client=c,
            body=ForwardRequest.from_dict(ex("ForwardRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/forward-passes",
        body="ForwardRequest", idempotency=True, status=202, reply="Operation",
        parsed=Operation,
    ),
    Case(
        "optim_step",
        lambda c: optim_step.sync_detailed(
            "m-1",
            client=c,
            body=OptimStepRequest.from_dict(ex("OptimStepRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/optimizer-steps",
        body="OptimStepRequest", idempotency=True, status=202, reply="Operation", parsed=Operation,
    ),
    Case(
        "save_checkpoint",
        lambda c: save_checkpoint.sync_detailed(
            "m-1",
            client=c,
            body=SaveCheckpointRequest.from_dict(ex("SaveCheckpointRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/checkpoints",
        body="SaveCheckpointRequest", idempotency=True, status=202, reply="Operation",
        parsed=Operation,
    ),
    Case(
        "list_checkpoints",
        lambda c: list_checkpoints.sync_detailed("m-1", client=c, limit=100, cursor="b2Zm"),
        "GET", "/api/v1/models/m-1/checkpoints", query={"limit": "100", "cursor": "b2Zm"},
        reply="CheckpointList", parsed=CheckpointList,
    ),
    Case(
        "set_checkpoint_ttl",
        lambda c: set_checkpoint_ttl.sync_detailed(
            "m-1", client=c, body=SetCheckpointTtlRequest.from_dict(ex("SetCheckpointTtlRequest"))
        ),
        "PATCH", "/api/v1/models/m-1/checkpoints/ttl",
        body="SetCheckpointTtlRequest", reply="Checkpoint", parsed=Checkpoint,
    ),
    Case(
        "load_checkpoint",
        lambda c: load_checkpoint.sync_detailed(
            "m-1",
            client=c,
            body=LoadCheckpointRequest.from_dict(ex("LoadCheckpointRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/load",
        body="LoadCheckpointRequest", idempotency=True, status=202, reply="Operation",
        parsed=Operation,
    ),
    Case(
        "get_checkpoint",
        lambda c: get_checkpoint.sync_detailed(UUID(CKPT_ID), client=c),
        "GET", f"/api/v1/checkpoints/{CKPT_ID}", reply="Checkpoint", parsed=Checkpoint,
    ),
    Case(
        "delete_checkpoint",
        lambda c: delete_checkpoint.sync_detailed(UUID(CKPT_ID), client=c),
        "DELETE", f"/api/v1/checkpoints/{CKPT_ID}", reply="Checkpoint", parsed=Checkpoint,
    ),
    Case(
        "export_checkpoint",
        lambda c: export_checkpoint.sync_detailed(
            UUID(CKPT_ID),
            client=c,
            body=ExportRequest.from_dict(ex("ExportRequest")),
            idempotency_key=IDEM,
        ),
        "POST", f"/api/v1/checkpoints/{CKPT_ID}/export",
        body="ExportRequest", idempotency=True, status=202, reply="Operation", parsed=Operation,
    ),
    Case(
        "export_model_weights",
        lambda c: export_model_weights.sync_detailed(
            "m-1",
            client=c,
            body=ExportModelRequest.from_dict(ex("ExportModelRequest")),
            idempotency_key=IDEM,
        ),
        "POST", "/api/v1/models/m-1/export-hf",
        body="ExportModelRequest", idempotency=True, status=202, reply="Operation",
        parsed=Operation,
    ),
    Case(
        "list_artifacts",
        lambda c: list_artifacts.sync_detailed(UUID(CKPT_ID), client=c),
        "GET", f"/api/v1/checkpoints/{CKPT_ID}/artifacts", reply="ArtifactList",
        parsed=ArtifactList,
    ),
    Case(
        "get_artifact_download",
        lambda c: get_artifact_download.sync_detailed(UUID(ART_ID), client=c),
        "GET", f"/api/v1/artifacts/{ART_ID}/download", reply="DownloadDescriptor",
        parsed=DownloadDescriptor,
    ),
    Case(
        "get_artifact",
        lambda c: get_artifact.sync_detailed(UUID(ART_ID), client=c),
        "GET", f"/api/v1/artifacts/{ART_ID}", reply="Artifact", parsed=Artifact,
    ),
    Case(
        "delete_artifact",
        lambda c: delete_artifact.sync_detailed(UUID(ART_ID), client=c),
        "DELETE", f"/api/v1/artifacts/{ART_ID}", reply="Artifact", parsed=Artifact,
    ),
    Case(
        "get_operation",
        lambda c: get_operation.sync_detailed("op-3a9d", client=c, wait=20.0),
        "GET", "/api/v1/operations/op-3a9d", query={"wait": "20.0"},
        reply="Operation", parsed=Operation,
    ),
]  # fmt: skip


class Recorder:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body, headers={"X-Request-ID": "req-1"})


def client_for(recorder: Recorder) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url="http://weaver.test",
        token=KEY,
        prefix="",
        auth_header_name="X-WEAVER-API-KEY",
        httpx_args={"transport": httpx.MockTransport(recorder)},
    )


def test_every_operation_in_the_spec_has_a_case() -> None:
    in_spec = {
        op["operationId"]
        for item in SPEC["paths"].values()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert {c.operation_id for c in CASES} == in_spec


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.operation_id)
def test_request_and_reply(case: Case) -> None:
    recorder = Recorder(case.status, ex(case.reply))
    response = case.call(client_for(recorder))

    (request,) = recorder.requests
    assert request.method == case.method
    assert request.url.path == case.path
    assert dict(request.url.params) == case.query
    assert request.headers["X-WEAVER-API-KEY"] == KEY
    assert "authorization" not in request.headers
    if case.idempotency:
        assert request.headers["Idempotency-Key"] == IDEM
    else:
        assert "Idempotency-Key" not in request.headers
    if case.body is None:
        assert request.content == b""
    else:
        assert request.headers["Content-Type"] == "application/json"
        # The example survives from_dict -> to_dict -> JSON exactly.
        assert json.loads(request.content) == ex(case.body)

    assert response.status_code == case.status
    parsed = response.parsed
    assert isinstance(parsed, case.parsed)
    if parsed is not None:
        assert canon(parsed.to_dict()) == canon(ex(case.reply))  # type: ignore[attr-defined]
    assert response.headers["X-Request-ID"] == "req-1"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.operation_id)
def test_error_replies_parse_into_the_error_model(case: Case) -> None:
    body = {"error": "not_found", "message": "model m-1 not found", "retryable": False}
    recorder = Recorder(404 if "{" in _spec_path(case) else 401, body)
    response = case.call(client_for(recorder))
    assert isinstance(response.parsed, Error)
    assert response.parsed.error == "not_found"
    assert response.parsed.retryable is False


def _spec_path(case: Case) -> str:
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == case.operation_id:
                return f"{method} {path}"
    raise AssertionError(case.operation_id)


def test_no_key_means_no_auth_header() -> None:
    recorder = Recorder(200, ex("Model"))
    client = Client(
        base_url="http://weaver.test", httpx_args={"transport": httpx.MockTransport(recorder)}
    )
    get_model.sync_detailed("m-1", client=client)
    assert "X-WEAVER-API-KEY" not in recorder.requests[0].headers


def test_path_parameters_are_escaped() -> None:
    recorder = Recorder(200, ex("Model"))
    get_model.sync_detailed("../x", client=client_for(recorder))
    assert recorder.requests[0].url.raw_path == b"/api/v1/models/..%2Fx"


def test_typed_fields_parse_into_real_types() -> None:
    recorder = Recorder(200, ex("Checkpoint"))
    parsed = get_checkpoint.sync_detailed(UUID(CKPT_ID), client=client_for(recorder)).parsed
    assert isinstance(parsed, Checkpoint)
    assert parsed.type_ is CheckpointType.WEIGHT_AND_OPTIMIZER
    assert parsed.status is CheckpointStatus.COMPLETED
    assert parsed.created_at.tzinfo is not None
    assert parsed.expires_at is None
    assert parsed.path == "weaver://m-1/checkpoints/after-3-steps"


def test_operation_response_is_free_form_and_reparsable() -> None:
    done = {"id": "op-1", "status": "done", "response": ex("Checkpoint")}
    recorder = Recorder(200, done)
    op = get_operation.sync_detailed("op-1", client=client_for(recorder)).parsed
    assert isinstance(op, Operation)
    assert op.status is OperationStatus.DONE
    assert isinstance(op.response, OperationResult)
    checkpoint = Checkpoint.from_dict(op.response.to_dict())
    assert checkpoint.name == "after-3-steps"


async def test_async_variant_sends_the_same_request() -> None:
    recorder = Recorder(202, ex("Operation"))
    client = client_for(recorder)
    response = await save_checkpoint.asyncio_detailed(
        "m-1",
        client=client,
        body=SaveCheckpointRequest.from_dict(ex("SaveCheckpointRequest")),
        idempotency_key=IDEM,
    )
    assert isinstance(response.parsed, Operation)
    (request,) = recorder.requests
    assert request.headers["X-WEAVER-API-KEY"] == KEY
    assert request.headers["Idempotency-Key"] == IDEM
    assert json.loads(request.content) == ex("SaveCheckpointRequest")


@pytest.mark.parametrize(
    "export",
    [
        lambda c: export_checkpoint.sync_detailed(
            UUID(CKPT_ID), client=c, body=ExportRequest.from_dict(ex("ExportRequest"))
        ),
        lambda c: export_model_weights.sync_detailed(
            "m-1", client=c, body=ExportModelRequest.from_dict(ex("ExportModelRequest"))
        ),
    ],
    ids=["export_checkpoint", "export_model_weights"],
)
def test_an_export_parses_200_as_the_artifact_and_202_as_an_operation(export: Call) -> None:
    hit = export(client_for(Recorder(200, ex("Artifact")))).parsed
    assert isinstance(hit, Artifact)
    assert hit.kind is ArtifactKind.HF_ADAPTER
    assert hit.manifest is not None
    accepted = export(client_for(Recorder(202, ex("Operation")))).parsed
    assert isinstance(accepted, Operation)
