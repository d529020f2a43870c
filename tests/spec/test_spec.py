"""openapi.yaml is valid, complete and precise.

These tests read the spec as data. They hold it to the rules of the
foundation issue and to the wire facts the real service is known to speak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from tests.support.openapi import openapi
from weaver_facade._extensions import extension_markers
from weaver_facade._spec_schema import read_document

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = openapi()
METHODS = ("get", "post", "put", "patch", "delete")
API = "/api/v1"


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


OPS = list(operations())
OP_IDS = [f"{m.upper()} {p}" for m, p, _ in OPS]


def deref(node: Any) -> Any:
    """Follow local `$ref`s until a non-reference node."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema(name: str) -> dict[str, Any]:
    result: dict[str, Any] = SPEC["components"]["schemas"][name]
    return result


def params_of(method: str, path: str) -> list[dict[str, Any]]:
    item = SPEC["paths"][path]
    return [deref(p) for p in item.get("parameters", []) + item[method].get("parameters", [])]


def validator_for(node: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # Resolve `#/components/...` references against the whole spec.
    root = {**node, "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(root)


def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC)


def test_operation_ids_are_unique_snake_case() -> None:
    ids = [op["operationId"] for _, _, op in OPS]
    assert len(ids) == len(set(ids))
    for op_id in ids:
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", op_id), op_id


@pytest.mark.parametrize(("method", "path", "op"), OPS, ids=OP_IDS)
def test_every_operation_has_id_tag_and_documented_errors(
    method: str, path: str, op: dict[str, Any]
) -> None:
    declared_tags = {t["name"] for t in SPEC["tags"]}
    assert op.get("operationId")
    assert len(op.get("tags", [])) == 1
    assert op["tags"][0] in declared_tags
    assert op.get("summary")
    codes = set(op["responses"])
    assert "default" not in codes, "a default response would hide undocumented statuses"
    # Every route is authenticated, can be rate limited and can be unavailable.
    assert {"400", "401", "429", "503"} <= codes
    if "{" in path:
        assert "404" in codes
    if method == "post":
        assert "422" in codes, "POSTs take an Idempotency-Key, whose misuse is a 422"
    if "requestBody" in op:
        assert "413" in codes, "a server may take bodies up to a size, refusing larger ones"
    for code, response in op["responses"].items():
        resolved = deref(response)
        headers = resolved.get("headers", {})
        assert "X-Request-ID" in headers, f"{code} lacks X-Request-ID"
        assert deref(headers["X-Request-ID"])["required"] is True
        if code.startswith(("4", "5")):
            body = resolved["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
        if code in {"429", "503"}:
            assert deref(headers["Retry-After"])["required"] is True


@pytest.mark.parametrize(("method", "path", "op"), OPS, ids=OP_IDS)
def test_every_post_takes_an_optional_idempotency_key(
    method: str, path: str, op: dict[str, Any]
) -> None:
    names = {(p["in"], p["name"]) for p in params_of(method, path)}
    if method == "post":
        key = next(p for p in params_of(method, path) if p["name"] == "Idempotency-Key")
        assert key["in"] == "header"
        assert key["required"] is False
        assert key["x-weaver-extension"] == "idempotency-key"
    else:
        assert ("header", "Idempotency-Key") not in names


def test_one_api_key_security_scheme_applies_everywhere() -> None:
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes == {
        "ApiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "X-WEAVER-API-KEY",
            "description": schemes["ApiKeyAuth"]["description"],
        }
    }
    assert SPEC["security"] == [{"ApiKeyAuth": []}]
    assert all("security" not in op for _, _, op in OPS)


def test_every_schema_has_an_example_that_validates() -> None:
    for name, node in SPEC["components"]["schemas"].items():
        assert "example" in node, f"schema {name} has no example"
        errors = [e.message for e in validator_for(node).iter_errors(node["example"])]
        assert not errors, f"schema {name}: its example is not valid: {errors}"


def test_every_parameter_has_an_example_that_validates() -> None:
    for method, path, _ in OPS:
        for param in params_of(method, path):
            assert "example" in param, f"{method} {path}: parameter {param['name']}"
            validator_for(param["schema"]).validate(param["example"])


def test_error_response_examples_validate() -> None:
    error = validator_for(schema("Error"))
    for response in SPEC["components"]["responses"].values():
        example = response["content"]["application/json"].get("example")
        if example is not None:
            error.validate(example)


def test_the_error_code_table_and_x_weaver_codes_agree() -> None:
    # The table is for readers, x-weaver-codes for tools (limits.ERROR_ERROR_CODES).
    table = {
        code: int(status)
        for status, code in re.findall(
            r"^\| (\d{3}) \| `([a-z_]+)` \|", SPEC["info"]["description"], re.M
        )
    }
    assert table == schema("Error")["properties"]["error"]["x-weaver-codes"]
    assert len(table) > 10


def _wire_routes() -> set[tuple[str, str]]:
    # Every route the wire sheet names, with its method, and those the official SDK sends.
    return {
        ("post", "/sessions"),
        ("get", "/sessions/{session_id}"),
        ("post", "/sessions/{session_id}/heartbeat"),
        ("post", "/sessions/{session_id}/models"),
        ("get", "/supported-models"),
        ("get", "/models"),
        ("get", "/models/{model_id}"),
        ("post", "/models/{model_id}/terminate"),
        ("post", "/models/{model_id}/forward-backward-passes"),
        ("post", "/models/{model_id}/forward-passes"),  # the SDK's forward()
        ("post", "/models/{model_id}/optimizer-steps"),
        ("post", "/models/{model_id}/checkpoints"),
        ("get", "/models/{model_id}/checkpoints"),
        ("patch", "/models/{model_id}/checkpoints/ttl"),
        ("post", "/models/{model_id}/load"),
        ("get", "/operations/{operation_id}"),
        ("get", "/checkpoints/{checkpoint_id}"),
        ("delete", "/checkpoints/{checkpoint_id}"),
        ("post", "/checkpoints/{checkpoint_id}/export"),
        ("post", "/models/{model_id}/export-hf"),
        ("get", "/checkpoints/{checkpoint_id}/artifacts"),
        ("get", "/artifacts/{artifact_id}/download"),
    }


def _extension_routes() -> set[tuple[str, str]]:
    # Routes the real wire lacks, each marked with its extension's name.
    return {
        ("get", "/artifacts/{artifact_id}"),
        ("delete", "/artifacts/{artifact_id}"),
    }


def test_every_wire_route_is_in_the_spec_under_api_v1() -> None:
    in_spec = {(m, p.removeprefix(API)) for m, p, _ in OPS}
    assert all(p.startswith(API + "/") for _, p, _ in OPS)
    assert in_spec == _wire_routes() | _extension_routes()
    for method, path in _extension_routes():
        assert SPEC["paths"][API + path][method]["x-weaver-extension"] == "artifact-by-id"


@pytest.mark.parametrize(
    ("schema_name", "fields"),
    [
        ("CreateSessionRequest", {"tags", "user_metadata", "sdk_version", "name", "labels",
                                  "organization_id", "project_id"}),
        ("Session", {"id", "tags", "user_metadata", "sdk_version", "created_at", "updated_at"}),
        ("CreateModelRequest", {"model_seq_id", "base_model", "training_mode", "lora_config",
                                "user_metadata", "performance_tier",
                                "training_max_sequence_length"}),
        ("LoraConfig", {"rank", "train_unembed", "train_mlp", "train_attn", "seed"}),
        ("Model", {"id", "base_model", "tokenizer_path"}),
        ("SupportedModel", {"name", "status", "config"}),
        ("SupportedModelList", {"items", "pagination"}),
        ("Pagination", {"total_count"}),
        ("ForwardBackwardRequest", {"payload"}),
        ("ForwardBackwardPayload", {"model_id", "seq_id", "forward_backward_input",
                                    "tensor_transport", "metadata"}),
        ("ForwardRequest", {"payload"}),
        ("ForwardPayload", {"model_id", "seq_id", "forward_input", "tensor_transport",
                            "metadata"}),
        ("ForwardBackwardInput", {"loss_fn", "data", "loss_fn_config"}),
        ("Datum", {"model_input", "loss_fn_inputs", "datum_id", "metadata"}),
        ("ModelInput", {"chunks"}),
        ("EncodedTextChunk", {"type", "tokens"}),
        ("LossFnInputs", {"target_tokens", "weights"}),
        ("TensorData", {"data", "dtype"}),
        ("ForwardBackwardResult", {"loss_fn_outputs", "metrics"}),
        ("LossFnOutput", {"logprobs", "datum_id"}),
        ("OptimStepRequest", {"payload"}),
        ("OptimStepPayload", {"model_id", "seq_id", "adam_params"}),
        ("AdamParams", {"learning_rate", "beta1", "beta2", "eps", "weight_decay",
                        "grad_clip_norm"}),
        ("OptimStepResult", {"metrics"}),
        ("Operation", {"id", "status", "response", "error", "error_code", "error_message",
                       "error_details", "retryable", "pending_info"}),
        ("OperationErrorDetails", {"diagnostic_message", "stage"}),
        ("PendingInfo", {"code", "message", "wait_seconds", "resources"}),
        ("PendingResources", {"nodes", "gpus_per_node", "trainer_memory_gib_per_node"}),
        ("SaveCheckpointRequest", {"type", "name", "ttl_seconds"}),
        ("Checkpoint", {"id", "name", "type", "path", "status", "ttl_seconds", "created_at",
                        "expires_at", "train_unembed", "train_mlp", "train_attn"}),
        ("CheckpointList", {"items", "next_cursor"}),
        ("SetCheckpointTtlRequest", {"path", "ttl_seconds"}),
        ("LoadCheckpointRequest", {"path", "include_optimizer"}),
        ("Error", {"error", "message", "retryable", "details", "request_id"}),
        ("ExportRequest", {"format", "merge_adapter", "ttl_seconds", "force"}),
        ("Artifact", {"id", "checkpoint_id", "model_id", "kind", "status", "uri", "size_bytes",
                      "manifest", "error", "ttl_seconds", "expires_at", "created_at",
                      "updated_at"}),
        ("ArtifactManifest", {"format_version", "files"}),
        ("ArtifactList", {"items"}),
        ("DownloadDescriptor", {"artifact_id", "kind", "total_bytes", "files"}),
        ("DownloadFile", {"name", "size", "sha256", "url", "url_expires_at"}),
        ("ConversionProgress", {"shards_done", "bytes_done"}),
        ("OperationMetadata", {"conversion_progress"}),
    ],
)  # fmt: skip
def test_every_wire_field_is_in_the_spec(schema_name: str, fields: set[str]) -> None:
    assert fields <= set(schema(schema_name)["properties"])


def test_required_fields_match_the_wire() -> None:
    assert set(schema("Checkpoint")["required"]) == {
        "id", "name", "type", "path", "status", "ttl_seconds", "created_at", "expires_at",
        "train_unembed", "train_mlp", "train_attn",
    }  # fmt: skip
    assert set(schema("Operation")["required"]) == {"id", "status"}
    assert set(schema("Error")["required"]) == {"error", "message", "retryable"}
    assert set(schema("AdamParams")["required"]) == set(schema("AdamParams")["properties"])
    assert set(schema("LoadCheckpointRequest")["required"]) == {"path", "include_optimizer"}
    assert set(schema("SaveCheckpointRequest")["required"]) == {"type"}
    assert set(schema("CreateModelRequest")["required"]) == {"model_seq_id", "base_model"}


def test_the_promised_fields_are_those_the_wire_promises() -> None:
    # weaver-wire.md: a Session's clients need only `id`; a Model's read `id`,
    # `base_model` and `tokenizer_path`.
    assert schema("Session")["x-weaver-promised"] == ["id"]
    assert schema("Model")["x-weaver-promised"] == ["id", "base_model", "tokenizer_path"]
    for name in ("Session", "Model"):
        assert set(schema(name)["required"]) <= set(schema(name)["x-weaver-promised"])


def test_a_client_holds_every_field_the_wire_promises_to_the_spec() -> None:
    # The facade may leave out an unpromised field that breaks the spec; never one of
    # these (the Operation and Checkpoint fields the wire sheet lists).
    from weaver_facade._schema import unpromised

    assert unpromised("Operation") == {"kind", "model_id", "created_at", "updated_at",
                                        "revision"}  # fmt: skip
    assert unpromised("Checkpoint") == {"model_id", "size_bytes", "sha256"}
    assert unpromised("Model") == set(schema("Model")["properties"]) - {
        "id", "base_model", "tokenizer_path"
    }  # fmt: skip


def test_enums_are_exact() -> None:
    assert schema("CheckpointType")["enum"] == ["weight", "weight_and_optimizer", "sampling"]
    # `error` too: the official SDK treats it as `failed`.
    assert schema("CheckpointStatus")["enum"] == [
        "pending",
        "completed",
        "failed",
        "error",
        "deleted",
    ]
    # Only done and error are terminal; `completed`/`succeeded` must be rejected.
    assert schema("OperationStatus")["enum"] == ["pending", "running", "done", "error"]
    assert schema("TrainingMode")["enum"] == ["lora", "full_ft"]
    assert schema("TensorDType")["enum"] == ["int64", "int32", "float32", "float64"]
    assert schema("LossFn")["enum"] == ["cross_entropy"]


def test_formats() -> None:
    checkpoint = schema("Checkpoint")["properties"]
    assert checkpoint["id"]["format"] == "uuid"
    assert checkpoint["created_at"]["format"] == "date-time"
    assert checkpoint["expires_at"]["format"] == "date-time"
    assert checkpoint["expires_at"]["type"] == ["string", "null"]
    assert schema("Session")["properties"]["created_at"]["format"] == "date-time"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("after-3-steps", True),
        ("a", True),
        ("_x.y-z", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (".hidden", False),
        ("..", False),
        ("a/b", False),
        ("a b", False),
        ("a%2e", False),
        ("a\x00b", False),
        ("naïve", False),
    ],
)
def test_checkpoint_name_pattern(name: str, ok: bool) -> None:
    assert validator_for(schema("CheckpointName")).is_valid(name) is ok


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("weaver://m-1/checkpoints/after-3-steps", True),
        ("weaver://0b6f3c4e-2d1a/checkpoints/x", True),
        # Any name a server may report (StoredCheckpointName): no `/`, control or dot segment.
        ("weaver://m-1/checkpoints/.hidden", True),
        ("weaver://m-1/checkpoints/epoch 2", True),
        ("weaver://m-1/checkpoints/a/b", False),
        ("weaver://m-1/checkpoints/..", False),
        ("weaver://m-1/checkpoints/.", False),
        ("weaver://m-1/checkpoints/...", True),
        ("weaver://m-1/checkpoints/a\x00", False),
        ("weaver://m-1/checkpoints/a\nb", False),
        ("weaver://m-1/checkpoints/", False),
        ("weaver://m-1/weights/x", False),
        ("tinker://m-1/checkpoints/x", False),
        ("weaver:///checkpoints/x", False),
        ("weaver://../checkpoints/x", False),
    ],
)
def test_checkpoint_path_pattern(path: str, ok: bool) -> None:
    assert validator_for(schema("CheckpointPath")).is_valid(path) is ok


def test_ids_never_contain_a_slash() -> None:
    ids = validator_for(schema("ResourceId"))
    assert ids.is_valid("m-1")
    assert not ids.is_valid("m/1")
    assert not ids.is_valid("..")
    assert not ids.is_valid("")


def test_bounds() -> None:
    ttl = validator_for(schema("TtlSeconds"))
    assert ttl.is_valid(None)
    assert ttl.is_valid(1)
    assert not ttl.is_valid(0)
    assert not ttl.is_valid(-5)
    wait = params_of("get", f"{API}/operations/{{operation_id}}")[1]
    assert wait["name"] == "wait"
    assert wait["schema"]["minimum"] == 0
    assert wait["schema"]["maximum"] == 60
    adam = validator_for(schema("AdamParams"))
    good = schema("AdamParams")["example"]
    assert adam.is_valid(good)
    assert adam.is_valid({**good, "learning_rate": 0})  # a schedule that decays to zero
    assert not adam.is_valid({**good, "learning_rate": -0.1})
    assert not adam.is_valid({**good, "beta1": 1.0})


def test_async_operations_answer_202_and_link_to_the_operation() -> None:
    for op_id in ("save_checkpoint", "load_checkpoint"):
        op = next(op for _, _, op in OPS if op["operationId"] == op_id)
        # The wire promises "2xx": every success status is an Operation, never the result
        # itself (the history's synchronous save answered 201 with the Checkpoint).
        successes = [code for code in op["responses"] if code.startswith("2")]
        assert sorted(successes) == ["200", "201", "202"], op_id
        for code in successes:
            schema = deref(op["responses"][code])["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Operation"}, (op_id, code)
        accepted = deref(op["responses"]["202"])
        link = accepted["links"]["GetOperation"]
        assert link == {
            "operationId": "get_operation",
            "parameters": {"operation_id": "$response.body#/id"},
        }
    for op_id in ("forward_backward", "optim_step"):
        op = next(op for _, _, op in OPS if op["operationId"] == op_id)
        accepted = deref(op["responses"]["202"])
        assert accepted["links"]["GetOperation"]["operationId"] == "get_operation"


def test_a_completed_save_links_to_get_and_delete_of_its_checkpoint() -> None:
    save = SPEC["paths"][f"{API}/models/{{model_id}}/checkpoints"]["post"]
    links = save["responses"]["202"]["links"]
    targets = {link["operationId"]: link["parameters"] for link in links.values()}
    assert targets["get_checkpoint"] == {"checkpoint_id": "$response.body#/response/id"}
    assert targets["delete_checkpoint"] == {"checkpoint_id": "$response.body#/response/id"}
    # A save is usually still pending in its 202 reply, so the done operation links too.
    get_op = SPEC["paths"][f"{API}/operations/{{operation_id}}"]["get"]
    links = get_op["responses"]["200"]["links"]
    targets = {link["operationId"]: link["parameters"] for link in links.values()}
    assert targets["get_checkpoint"] == {"checkpoint_id": "$response.body#/response/id"}
    assert targets["delete_checkpoint"] == {"checkpoint_id": "$response.body#/response/id"}


def test_links_point_at_real_operations_and_parameters() -> None:
    by_id = {op["operationId"]: (m, p) for m, p, op in OPS}

    def all_links() -> Iterator[dict[str, Any]]:
        for _, _, op in OPS:
            for response in op["responses"].values():
                yield from deref(response).get("links", {}).values()

    for link in all_links():
        method, path = by_id[link["operationId"]]
        names = {p["name"] for p in params_of(method, path)}
        assert set(link["parameters"]) <= names, link


def test_extensions_are_marked_with_their_names() -> None:
    paths = SPEC["paths"]
    by_id = paths[f"{API}/checkpoints/{{checkpoint_id}}"]
    assert by_id["x-weaver-extension"] == "checkpoint-by-id"
    assert by_id["get"]["x-weaver-extension"] == by_id["delete"]["x-weaver-extension"]
    listing = {p["name"]: p for p in params_of("get", f"{API}/models/{{model_id}}/checkpoints")}
    assert listing["limit"]["x-weaver-extension"] == "cursor-paging"
    assert listing["cursor"]["x-weaver-extension"] == "cursor-paging"
    next_cursor = schema("CheckpointList")["properties"]["next_cursor"]
    assert next_cursor["x-weaver-extension"] == "cursor-paging"
    wait = params_of("get", f"{API}/operations/{{operation_id}}")[1]
    assert wait["x-weaver-extension"] == "long-poll"
    # Every marker is a kebab-case name, and the header comment explains each one.
    header = (ROOT / "openapi.yaml").read_text(encoding="utf-8").split("\ninfo:", 1)[0]
    for where, name in extension_markers(SPEC):
        assert isinstance(name, str), where
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name), where
        assert re.search(rf"^#   {re.escape(name)} ", header, re.M), name
    # Extensions are optional for clients: none of them is a required field.
    for name, node in SPEC["components"]["schemas"].items():
        for field, prop in node.get("properties", {}).items():
            if "x-weaver-extension" in prop or "x-weaver-extension" in deref(prop):
                assert field not in node.get("required", []), f"{name}.{field}"


def test_the_operation_result_design_is_stated() -> None:
    text = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert "FREE-FORM design" in text
    result = schema("OperationResult")
    assert result["type"] == "object"
    assert result["additionalProperties"] is True


def test_each_operation_kind_names_its_result_schema() -> None:
    results = schema("OperationResult")["x-weaver-result-schemas"]
    assert list(results) == schema("OperationKind")["enum"]
    by_id = {op["operationId"]: op for _, _, op in OPS}
    at_once = 0
    for kind, name in results.items():
        assert name in SPEC["components"]["schemas"], kind
        # Each kind is the operationId of the route that starts it with a 202 Operation.
        replies = by_id[kind]["responses"]
        started = deref(replies["202"])["content"]["application/json"]["schema"]
        assert started == {"$ref": "#/components/schemas/Operation"}, kind
        # A route that may answer with its result at once (200) documents that same schema.
        done = deref(replies.get("200", replies["202"]))["content"]["application/json"]["schema"]
        assert done in (started, {"$ref": f"#/components/schemas/{name}"}), kind
        at_once += done != started
    assert at_once  # the exports


def test_a_forward_pass_is_a_forward_backward_pass_of_the_wire_without_gradients() -> None:
    fb, fwd = schema("ForwardBackwardPayload"), schema("ForwardPayload")
    # The same body but for the input's name, whose schema is shared.
    rename = {"forward_backward_input": "forward_input"}
    assert {rename.get(k, k) for k in fb["properties"]} == set(fwd["properties"])
    assert {rename.get(k, k) for k in fb["required"]} == set(fwd["required"])
    assert fwd["properties"]["forward_input"] == fb["properties"]["forward_backward_input"]
    assert fwd["additionalProperties"] is False
    assert schema("ForwardRequest")["properties"]["payload"] == {
        "$ref": "#/components/schemas/ForwardPayload"
    }
    op = SPEC["paths"][API + "/models/{model_id}/forward-passes"]["post"]
    assert op["operationId"] == "forward"
    assert "x-weaver-extension" not in op  # today's wire: the official SDK sends it
    assert "forward()" in op["description"]
    results = schema("OperationResult")["x-weaver-result-schemas"]
    assert results["forward"] == results["forward_backward"] == "ForwardBackwardResult"


def test_optional_fields_the_official_sdk_sends_are_optional_and_typed() -> None:
    create = schema("CreateModelRequest")
    assert create["properties"]["performance_tier"]["enum"] == ["normal", "fast", "flash"]
    assert create["properties"]["training_max_sequence_length"]["minimum"] == 2
    for name in ("ForwardBackwardPayload", "ForwardPayload", "Datum"):
        metadata = schema(name)["properties"]["metadata"]
        assert metadata["$ref"] == "#/components/schemas/RequestMetadata", name
        assert "metadata" not in schema(name)["required"], name
    assert schema("RequestMetadata")["additionalProperties"] is True
    for name in ("performance_tier", "training_max_sequence_length"):
        assert name not in create["required"]


def test_the_export_body_of_export_hf_is_the_export_body_without_force() -> None:
    full = schema("ExportRequest")["properties"]
    model = schema("ExportModelRequest")["properties"]
    assert set(model) == set(full) - {"force"}
    assert schema("ExportRequest")["additionalProperties"] is False
    assert schema("ExportModelRequest")["additionalProperties"] is False


@pytest.mark.parametrize("op_id", ["export_checkpoint", "export_model_weights"])
def test_an_export_answers_202_with_an_operation_or_200_with_the_artifact(op_id: str) -> None:
    op = next(op for _, _, op in OPS if op["operationId"] == op_id)
    replies = {code: deref(r)["content"]["application/json"]["schema"]
               for code, r in op["responses"].items()}  # fmt: skip
    assert replies["202"] == {"$ref": "#/components/schemas/Operation"}
    assert replies["200"] == {"$ref": "#/components/schemas/Artifact"}
    assert {"404", "409", "422"} <= set(op["responses"])


def test_an_operation_never_carries_an_artifact_kind() -> None:
    # Clients tell a 200 Artifact from a 202 Operation by `kind`.
    artifact_kinds = set(schema("ArtifactKind")["enum"])
    assert artifact_kinds == {"hf_model", "hf_adapter"}
    assert not artifact_kinds & set(schema("OperationKind")["enum"])
    operation = validator_for(schema("Operation"))
    assert operation.is_valid({"id": "op-1", "status": "running", "kind": "export_checkpoint"})
    assert not operation.is_valid({"id": "op-1", "status": "running", "kind": "hf_adapter"})


def test_artifact_enums_and_formats() -> None:
    assert schema("ArtifactStatus")["enum"] == ["pending", "completed", "error", "deleted"]
    assert schema("ArtifactFormat")["enum"] == ["huggingface"]
    assert schema("Artifact")["properties"]["id"]["format"] == "uuid"
    assert schema("DownloadFile")["properties"]["url"]["format"] == "uri"
    sha = validator_for(schema("Sha256"))
    assert sha.is_valid("ab" * 32)
    assert not sha.is_valid("AB" * 32)
    progress = validator_for(schema("OperationMetadata"))
    assert progress.is_valid({"conversion_progress": {"shards_done": 1, "bytes_done": 10}})
    assert not progress.is_valid({"conversion_progress": {"shards_done": -1, "bytes_done": 0}})


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("adapter_model.safetensors", True),
        ("model-00001-of-00003.safetensors", True),
        ("sub/x", True),
        ("../x", False),
        ("/etc/passwd", False),
        ("a\\b", False),
        ("c:x", False),
        ("./x", False),
        ("a//b", False),
        ("a/", False),
        ("x.", False),
        ("x ", False),
        ("", False),
        # The wire sheet refuses only the names above (and duplicates): any other
        # relative POSIX path is a name a server may send.
        (".gitattributes", True),
        ("sub dir/my file+1.json", True),
        ("résumé.txt", True),
        ("x./y", False),
        ("x /y", False),
        ("a\x01b", False),
    ],
)
def test_artifact_file_names(name: str, ok: bool) -> None:
    assert validator_for(schema("ArtifactFileName")).is_valid(name) is ok


def test_the_facade_reads_the_spec_as_pyyaml_s_own_parser_does() -> None:
    # The facade and the tests read it with libyaml's loader, for speed: the pure-Python
    # one must agree.
    pure = yaml.safe_load((ROOT / "openapi.yaml").read_bytes())
    assert read_document(ROOT / "openapi.yaml") == pure == SPEC
