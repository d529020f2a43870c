"""The component schemas of openapi.yaml: made by scripts/regenerate, never edited by hand."""

from typing import Any, Final, Literal, TypeAlias

SCHEMAS: Final[dict[str, Any]] = {
    "ResourceId": {
        "type": "string",
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        "maxLength": 128,
    },
    "CheckpointName": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$",
        "maxLength": 128,
    },
    "StoredCheckpointName": {
        "type": "string",
        "pattern": "^(?!\\.\\.?$)[^/\\x00-\\x1f\\x7f]+$",
    },
    "CheckpointPath": {
        "type": "string",
        "pattern": "^weaver://[A-Za-z0-9][A-Za-z0-9._-]{0,127}/checkpoints/(?!\\.\\.?$)[^/\\x00-\\x1f\\x7f]+$",
        "x-weaver-wire-rules": ["pattern"],
    },
    "Cursor": {"type": "string", "minLength": 1},
    "TtlSeconds": {"type": ["integer", "null"], "minimum": 1, "maximum": 315360000},
    "Metadata": {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 1024},
        "maxProperties": 64,
    },
    "Error": {
        "type": "object",
        "required": ["error", "message", "retryable"],
        "properties": {
            "error": {
                "type": "string",
                "x-weaver-codes": {
                    "invalid_request": 400,
                    "unauthorized": 401,
                    "not_found": 404,
                    "method_not_allowed": 405,
                    "checkpoint_exists": 409,
                    "checkpoint_not_ready": 409,
                    "artifact_not_ready": 409,
                    "export_in_progress": 409,
                    "model_terminated": 409,
                    "model_state_lost": 409,
                    "seq_id_conflict": 409,
                    "payload_too_large": 413,
                    "idempotency_mismatch": 422,
                    "unknown_base_model": 422,
                    "optimizer_state_unavailable": 422,
                    "incompatible_checkpoint": 422,
                    "merge_not_supported": 422,
                    "rate_limited": 429,
                    "internal": 500,
                    "unavailable": 503,
                },
            },
            "message": {"type": "string"},
            "retryable": {"type": "boolean"},
            "details": {"type": "object", "additionalProperties": True},
            "request_id": {"type": "string"},
        },
    },
    "CreateSessionRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tags": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 128},
                "maxItems": 64,
            },
            "user_metadata": {"$ref": "#/components/schemas/Metadata"},
            "sdk_version": {"type": "string", "maxLength": 64},
            "name": {"type": "string", "maxLength": 256},
            "labels": {"$ref": "#/components/schemas/Metadata"},
            "organization_id": {"type": "string", "maxLength": 128},
            "project_id": {"type": "string", "maxLength": 128},
        },
    },
    "Session": {
        "x-weaver-promised": ["id"],
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"$ref": "#/components/schemas/ResourceId"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "user_metadata": {"$ref": "#/components/schemas/Metadata"},
            "sdk_version": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "Heartbeat": {
        "type": "object",
        "properties": {
            "session_id": {"$ref": "#/components/schemas/ResourceId"},
            "last_heartbeat_at": {"type": "string", "format": "date-time"},
        },
    },
    "TrainingMode": {"type": "string", "enum": ["lora", "full_ft"]},
    "LoraConfig": {
        "type": "object",
        "additionalProperties": False,
        "required": ["rank"],
        "properties": {
            "rank": {"type": "integer", "minimum": 1, "maximum": 256},
            "train_unembed": {"type": "boolean", "default": True},
            "train_mlp": {"type": "boolean", "default": True},
            "train_attn": {"type": "boolean", "default": True},
            "seed": {"type": "integer", "minimum": 0, "maximum": 4294967295},
        },
    },
    "CreateModelRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_seq_id", "base_model"],
        "properties": {
            "model_seq_id": {"type": "integer", "minimum": 1},
            "base_model": {"type": "string", "minLength": 1, "maxLength": 256},
            "training_mode": {"$ref": "#/components/schemas/TrainingMode"},
            "lora_config": {"$ref": "#/components/schemas/LoraConfig"},
            "user_metadata": {"$ref": "#/components/schemas/Metadata"},
            "performance_tier": {
                "x-weaver-ignorable": True,
                "type": "string",
                "enum": ["normal", "fast", "flash"],
            },
            "training_max_sequence_length": {
                "x-weaver-ignorable": True,
                "type": "integer",
                "minimum": 2,
            },
        },
    },
    "ModelStatus": {
        "x-weaver-extension": "model-status",
        "type": "string",
        "enum": ["active", "terminated", "state_lost"],
    },
    "Model": {
        "x-weaver-promised": ["id", "base_model", "tokenizer_path"],
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"$ref": "#/components/schemas/ResourceId"},
            "session_id": {"$ref": "#/components/schemas/ResourceId"},
            "model_seq_id": {"type": "integer", "minimum": 1},
            "base_model": {"type": "string"},
            "tokenizer_path": {"type": ["string", "null"]},
            "training_mode": {"$ref": "#/components/schemas/TrainingMode"},
            "lora_config": {
                "anyOf": [{"$ref": "#/components/schemas/LoraConfig"}, {"type": "null"}]
            },
            "user_metadata": {"$ref": "#/components/schemas/Metadata"},
            "status": {"$ref": "#/components/schemas/ModelStatus"},
            "next_seq_id": {
                "x-weaver-extension": "next-seq-id",
                "type": "integer",
                "minimum": 1,
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "SupportedModel": {
        "type": "object",
        "required": ["name", "status"],
        "properties": {
            "name": {"type": "string"},
            "status": {"type": "string"},
            "config": {"type": "object", "additionalProperties": True},
        },
    },
    "Pagination": {
        "type": "object",
        "required": ["total_count"],
        "properties": {"total_count": {"type": "integer", "minimum": 0}},
    },
    "SupportedModelList": {
        "type": "object",
        "required": ["items", "pagination"],
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/SupportedModel"},
            },
            "pagination": {"$ref": "#/components/schemas/Pagination"},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["items", "pagination"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
            "pagination": {"$ref": "#/components/schemas/Pagination"},
        },
    },
    "TensorDType": {"type": "string", "enum": ["int64", "int32", "float32", "float64"]},
    "TensorData": {
        "type": "object",
        "additionalProperties": False,
        "required": ["data", "dtype"],
        "properties": {
            "data": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "number"},
                        {"type": "array", "items": {"type": "number"}},
                    ]
                },
            },
            "dtype": {"$ref": "#/components/schemas/TensorDType"},
        },
    },
    "EncodedTextChunk": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "tokens"],
        "properties": {
            "type": {"type": "string", "const": "encoded_text"},
            "tokens": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0,
                    "maximum": 9223372036854775807,
                    "x-weaver-wire-rules": ["minimum"],
                },
            },
        },
    },
    "ModelInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["chunks"],
        "properties": {
            "chunks": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/components/schemas/EncodedTextChunk"},
            }
        },
    },
    "LossFnInputs": {
        "type": "object",
        "additionalProperties": False,
        "required": ["target_tokens", "weights"],
        "properties": {
            "target_tokens": {"$ref": "#/components/schemas/TensorData"},
            "weights": {"$ref": "#/components/schemas/TensorData"},
        },
    },
    "Datum": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_input", "loss_fn_inputs"],
        "properties": {
            "model_input": {"$ref": "#/components/schemas/ModelInput"},
            "loss_fn_inputs": {"$ref": "#/components/schemas/LossFnInputs"},
            "datum_id": {"type": "string", "maxLength": 255},
            "metadata": {
                "x-weaver-ignorable": True,
                "$ref": "#/components/schemas/RequestMetadata",
            },
        },
    },
    "LossFn": {"type": "string", "enum": ["cross_entropy"]},
    "ForwardBackwardInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["loss_fn", "data"],
        "properties": {
            "loss_fn": {"$ref": "#/components/schemas/LossFn"},
            "data": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/components/schemas/Datum"},
            },
            "loss_fn_config": {"type": "object", "additionalProperties": True},
        },
    },
    "ForwardBackwardPayload": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_id", "seq_id", "forward_backward_input"],
        "properties": {
            "model_id": {"$ref": "#/components/schemas/ResourceId"},
            "seq_id": {"type": "integer", "minimum": 1},
            "forward_backward_input": {
                "$ref": "#/components/schemas/ForwardBackwardInput"
            },
            "tensor_transport": {"x-weaver-ignorable": True, "type": "string"},
            "metadata": {
                "x-weaver-ignorable": True,
                "$ref": "#/components/schemas/RequestMetadata",
            },
        },
    },
    "ForwardBackwardRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["payload"],
        "properties": {
            "payload": {"$ref": "#/components/schemas/ForwardBackwardPayload"}
        },
    },
    "ForwardPayload": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_id", "seq_id", "forward_input"],
        "properties": {
            "model_id": {"$ref": "#/components/schemas/ResourceId"},
            "seq_id": {"type": "integer", "minimum": 1},
            "forward_input": {"$ref": "#/components/schemas/ForwardBackwardInput"},
            "tensor_transport": {"x-weaver-ignorable": True, "type": "string"},
            "metadata": {
                "x-weaver-ignorable": True,
                "$ref": "#/components/schemas/RequestMetadata",
            },
        },
    },
    "ForwardRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["payload"],
        "properties": {"payload": {"$ref": "#/components/schemas/ForwardPayload"}},
    },
    "RequestMetadata": {"type": "object", "additionalProperties": True},
    "Metrics": {"type": "object", "additionalProperties": {"type": "number"}},
    "LossFnOutput": {
        "type": "object",
        "required": ["logprobs"],
        "properties": {
            "logprobs": {"$ref": "#/components/schemas/TensorData"},
            "datum_id": {"type": "string"},
        },
    },
    "ForwardBackwardResult": {
        "type": "object",
        "required": ["loss_fn_outputs", "metrics"],
        "properties": {
            "loss_fn_outputs": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/LossFnOutput"},
            },
            "metrics": {"$ref": "#/components/schemas/Metrics"},
        },
    },
    "AdamParams": {
        "x-weaver-example-is-default": True,
        "type": "object",
        "additionalProperties": False,
        "required": [
            "learning_rate",
            "beta1",
            "beta2",
            "eps",
            "weight_decay",
            "grad_clip_norm",
        ],
        "properties": {
            "learning_rate": {"type": "number", "minimum": 0, "maximum": 10},
            "beta1": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "beta2": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
            "eps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "weight_decay": {"type": "number", "minimum": 0, "maximum": 1},
            "grad_clip_norm": {"type": "number", "minimum": 0},
        },
    },
    "OptimStepPayload": {
        "type": "object",
        "additionalProperties": False,
        "required": ["model_id", "seq_id", "adam_params"],
        "properties": {
            "model_id": {"$ref": "#/components/schemas/ResourceId"},
            "seq_id": {"type": "integer", "minimum": 1},
            "adam_params": {"$ref": "#/components/schemas/AdamParams"},
        },
    },
    "OptimStepRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["payload"],
        "properties": {"payload": {"$ref": "#/components/schemas/OptimStepPayload"}},
    },
    "OptimStepResult": {
        "type": "object",
        "required": ["metrics"],
        "properties": {"metrics": {"$ref": "#/components/schemas/Metrics"}},
    },
    "CheckpointType": {
        "type": "string",
        "enum": ["weight", "weight_and_optimizer", "sampling"],
    },
    "CheckpointStatus": {
        "type": "string",
        "enum": ["pending", "completed", "failed", "error", "deleted"],
    },
    "SaveCheckpointRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "properties": {
            "type": {"$ref": "#/components/schemas/CheckpointType"},
            "name": {"$ref": "#/components/schemas/CheckpointName"},
            "ttl_seconds": {"$ref": "#/components/schemas/TtlSeconds"},
        },
    },
    "Checkpoint": {
        "type": "object",
        "required": [
            "id",
            "name",
            "type",
            "path",
            "status",
            "ttl_seconds",
            "created_at",
            "expires_at",
            "train_unembed",
            "train_mlp",
            "train_attn",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"$ref": "#/components/schemas/StoredCheckpointName"},
            "type": {"$ref": "#/components/schemas/CheckpointType"},
            "path": {"$ref": "#/components/schemas/CheckpointPath"},
            "status": {"$ref": "#/components/schemas/CheckpointStatus"},
            "ttl_seconds": {"$ref": "#/components/schemas/TtlSeconds"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "train_unembed": {"type": "boolean"},
            "train_mlp": {"type": "boolean"},
            "train_attn": {"type": "boolean"},
            "model_id": {
                "x-weaver-extension": "checkpoint-details",
                "$ref": "#/components/schemas/ResourceId",
            },
            "size_bytes": {
                "x-weaver-extension": "checkpoint-details",
                "type": "integer",
                "minimum": 0,
            },
            "sha256": {
                "x-weaver-extension": "checkpoint-details",
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
            },
        },
    },
    "CheckpointList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Checkpoint"},
            },
            "next_cursor": {
                "x-weaver-extension": "cursor-paging",
                "anyOf": [{"$ref": "#/components/schemas/Cursor"}, {"type": "null"}],
            },
        },
    },
    "SetCheckpointTtlRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "ttl_seconds"],
        "properties": {
            "path": {"$ref": "#/components/schemas/CheckpointPath"},
            "ttl_seconds": {"$ref": "#/components/schemas/TtlSeconds"},
        },
    },
    "LoadCheckpointRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "include_optimizer"],
        "properties": {
            "path": {"$ref": "#/components/schemas/CheckpointPath"},
            "include_optimizer": {"type": "boolean"},
        },
    },
    "LoadResult": {
        "type": "object",
        "properties": {
            "path": {"$ref": "#/components/schemas/CheckpointPath"},
            "include_optimizer": {"type": "boolean"},
            "checkpoint_id": {
                "x-weaver-extension": "load-details",
                "type": "string",
                "format": "uuid",
            },
            "optimizer_step": {
                "x-weaver-extension": "load-details",
                "type": ["integer", "null"],
                "minimum": 0,
            },
            "model_id": {
                "x-weaver-extension": "load-result-model-id",
                "$ref": "#/components/schemas/ResourceId",
            },
        },
    },
    "ArtifactKind": {"type": "string", "enum": ["hf_model", "hf_adapter"]},
    "ArtifactStatus": {
        "type": "string",
        "enum": ["pending", "completed", "error", "deleted"],
    },
    "ArtifactFormat": {"type": "string", "enum": ["huggingface"]},
    "ArtifactTtlSeconds": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": 315360000,
    },
    "ArtifactPath": {
        "type": "string",
        "pattern": "^weaver://[A-Za-z0-9][A-Za-z0-9._-]{0,127}/checkpoints/(?!\\.\\.?/)[^/\\x00-\\x1f\\x7f]+/artifacts/(hf_model|hf_adapter)$",
        "x-weaver-wire-rules": ["pattern"],
    },
    "ArtifactFileName": {
        "type": "string",
        "maxLength": 255,
        "pattern": "^[^/\\\\:\\x00-\\x1f\\x7f]*[^/\\\\:\\x00-\\x1f\\x7f. "
        "](/[^/\\\\:\\x00-\\x1f\\x7f]*[^/\\\\:\\x00-\\x1f\\x7f. ])*$",
    },
    "Sha256": {
        "type": "string",
        "pattern": "^[0-9a-f]{64}$",
        "x-weaver-wire-rules": ["pattern"],
    },
    "ExportRequest": {
        "x-weaver-example-is-default": True,
        "type": "object",
        "additionalProperties": False,
        "required": ["format"],
        "properties": {
            "format": {"$ref": "#/components/schemas/ArtifactFormat"},
            "merge_adapter": {"type": "boolean", "default": False},
            "ttl_seconds": {"$ref": "#/components/schemas/ArtifactTtlSeconds"},
            "force": {"type": "boolean", "default": False},
        },
    },
    "ExportModelRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["format"],
        "properties": {
            "format": {"$ref": "#/components/schemas/ArtifactFormat"},
            "merge_adapter": {"type": "boolean", "default": False},
            "ttl_seconds": {"$ref": "#/components/schemas/ArtifactTtlSeconds"},
        },
    },
    "ManifestFile": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"$ref": "#/components/schemas/ArtifactFileName"},
            "size": {"type": "integer", "minimum": 0},
            "sha256": {"$ref": "#/components/schemas/Sha256"},
        },
    },
    "ArtifactManifest": {
        "type": "object",
        "required": ["format_version", "files"],
        "properties": {
            "format_version": {"type": "integer", "const": 1},
            "files": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ManifestFile"},
            },
        },
    },
    "Artifact": {
        "type": "object",
        "required": ["id", "checkpoint_id", "model_id", "kind", "uri"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "checkpoint_id": {"type": "string", "format": "uuid"},
            "model_id": {"$ref": "#/components/schemas/ResourceId"},
            "kind": {"$ref": "#/components/schemas/ArtifactKind"},
            "status": {"$ref": "#/components/schemas/ArtifactStatus"},
            "uri": {"$ref": "#/components/schemas/ArtifactPath"},
            "size_bytes": {"type": ["integer", "null"], "minimum": 0},
            "manifest": {
                "anyOf": [
                    {"$ref": "#/components/schemas/ArtifactManifest"},
                    {"type": "null"},
                ]
            },
            "error": {"type": ["string", "null"]},
            "ttl_seconds": {"$ref": "#/components/schemas/ArtifactTtlSeconds"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ArtifactList": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Artifact"},
            }
        },
    },
    "DownloadFile": {
        "type": "object",
        "required": ["name", "url"],
        "properties": {
            "name": {"$ref": "#/components/schemas/ArtifactFileName"},
            "size": {"type": "integer", "minimum": 0},
            "sha256": {"$ref": "#/components/schemas/Sha256"},
            "url": {"type": "string", "format": "uri"},
            "url_expires_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "DownloadDescriptor": {
        "type": "object",
        "required": ["artifact_id", "kind", "files"],
        "properties": {
            "artifact_id": {"type": "string", "format": "uuid"},
            "kind": {"$ref": "#/components/schemas/ArtifactKind"},
            "total_bytes": {"type": ["integer", "null"], "minimum": 0},
            "files": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/DownloadFile"},
            },
        },
    },
    "ConversionProgress": {
        "type": "object",
        "required": ["shards_done", "bytes_done"],
        "properties": {
            "shards_done": {"type": "integer", "minimum": 0},
            "bytes_done": {"type": "integer", "minimum": 0},
            "shards_total": {
                "x-weaver-extension": "conversion-totals",
                "type": "integer",
                "minimum": 0,
            },
            "bytes_total": {
                "x-weaver-extension": "conversion-totals",
                "type": "integer",
                "minimum": 0,
            },
        },
    },
    "OperationMetadata": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "conversion_progress": {
                "anyOf": [
                    {"$ref": "#/components/schemas/ConversionProgress"},
                    {"type": "null"},
                ]
            }
        },
    },
    "OperationStatus": {
        "x-weaver-terminal": ["done", "error"],
        "type": "string",
        "enum": ["pending", "running", "done", "error"],
    },
    "OperationKind": {
        "x-weaver-extension": "operation-details",
        "type": "string",
        "enum": [
            "forward_backward",
            "forward",
            "optim_step",
            "save_checkpoint",
            "load_checkpoint",
            "export_checkpoint",
            "export_model_weights",
        ],
    },
    "PendingResources": {
        "type": "object",
        "properties": {
            "nodes": {"type": "integer", "minimum": 0},
            "gpus_per_node": {"type": "integer", "minimum": 0},
            "trainer_memory_gib_per_node": {"type": "number", "minimum": 0},
        },
    },
    "PendingInfo": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "wait_seconds": {"type": ["number", "null"], "minimum": 0},
            "resources": {"$ref": "#/components/schemas/PendingResources"},
        },
    },
    "OperationErrorDetails": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "diagnostic_message": {"type": "string"},
            "stage": {"type": "string"},
        },
    },
    "OperationResult": {
        "x-weaver-result-schemas": {
            "forward_backward": "ForwardBackwardResult",
            "forward": "ForwardBackwardResult",
            "optim_step": "OptimStepResult",
            "save_checkpoint": "Checkpoint",
            "load_checkpoint": "LoadResult",
            "export_checkpoint": "Artifact",
            "export_model_weights": "Artifact",
        },
        "type": "object",
        "additionalProperties": True,
    },
    "Operation": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"$ref": "#/components/schemas/ResourceId"},
            "status": {"$ref": "#/components/schemas/OperationStatus"},
            "response": {
                "anyOf": [
                    {"$ref": "#/components/schemas/OperationResult"},
                    {"type": "null"},
                ]
            },
            "error": {"type": ["string", "null"]},
            "error_code": {"type": ["string", "null"]},
            "error_message": {"type": ["string", "null"]},
            "error_details": {
                "anyOf": [
                    {"$ref": "#/components/schemas/OperationErrorDetails"},
                    {"type": "null"},
                ]
            },
            "retryable": {"type": ["boolean", "null"]},
            "pending_info": {
                "anyOf": [
                    {"$ref": "#/components/schemas/PendingInfo"},
                    {"type": "null"},
                ]
            },
            "kind": {
                "$ref": "#/components/schemas/OperationKind",
                "x-weaver-without-extension": {
                    "not": {"enum": ["hf_model", "hf_adapter"]}
                },
            },
            "metadata": {
                "anyOf": [
                    {"$ref": "#/components/schemas/OperationMetadata"},
                    {"type": "null"},
                ]
            },
            "model_id": {
                "x-weaver-extension": "operation-details",
                "$ref": "#/components/schemas/ResourceId",
            },
            "created_at": {
                "x-weaver-extension": "operation-details",
                "type": "string",
                "format": "date-time",
            },
            "updated_at": {
                "x-weaver-extension": "operation-details",
                "type": "string",
                "format": "date-time",
            },
            "revision": {
                "x-weaver-extension": "long-poll",
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
            },
        },
    },
}

SchemaName: TypeAlias = Literal[
    "ResourceId",
    "CheckpointName",
    "StoredCheckpointName",
    "CheckpointPath",
    "Cursor",
    "TtlSeconds",
    "Metadata",
    "Error",
    "CreateSessionRequest",
    "Session",
    "Heartbeat",
    "TrainingMode",
    "LoraConfig",
    "CreateModelRequest",
    "ModelStatus",
    "Model",
    "SupportedModel",
    "Pagination",
    "SupportedModelList",
    "ModelList",
    "TensorDType",
    "TensorData",
    "EncodedTextChunk",
    "ModelInput",
    "LossFnInputs",
    "Datum",
    "LossFn",
    "ForwardBackwardInput",
    "ForwardBackwardPayload",
    "ForwardBackwardRequest",
    "ForwardPayload",
    "ForwardRequest",
    "RequestMetadata",
    "Metrics",
    "LossFnOutput",
    "ForwardBackwardResult",
    "AdamParams",
    "OptimStepPayload",
    "OptimStepRequest",
    "OptimStepResult",
    "CheckpointType",
    "CheckpointStatus",
    "SaveCheckpointRequest",
    "Checkpoint",
    "CheckpointList",
    "SetCheckpointTtlRequest",
    "LoadCheckpointRequest",
    "LoadResult",
    "ArtifactKind",
    "ArtifactStatus",
    "ArtifactFormat",
    "ArtifactTtlSeconds",
    "ArtifactPath",
    "ArtifactFileName",
    "Sha256",
    "ExportRequest",
    "ExportModelRequest",
    "ManifestFile",
    "ArtifactManifest",
    "Artifact",
    "ArtifactList",
    "DownloadFile",
    "DownloadDescriptor",
    "ConversionProgress",
    "OperationMetadata",
    "OperationStatus",
    "OperationKind",
    "PendingResources",
    "PendingInfo",
    "OperationErrorDetails",
    "OperationResult",
    "Operation",
]
"""The name of a component schema, which the facade's WireFields and WireValues
declare: a schema renamed in the spec is a mypy error where they name it."""
