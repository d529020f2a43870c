"""The limits of openapi.yaml: made by scripts/regenerate, never edited by hand.

One constant per limiting keyword (pattern, lengths, bounds, item and entry
counts, default) of every named schema, parameter and header, and of each
operation's own parameters, named ``SCHEMA[_PROPERTY...]_KEYWORD`` (``ITEMS``
for array items, ``VALUES`` for map values), plus ``SCHEMA_DEFAULTS`` for the
schemas whose example holds the service's defaults (marked `x-weaver-example-is-default`) and
``SCHEMA_TERMINAL`` for the enums whose final values are marked `x-weaver-terminal`,
``SCHEMA_PROPERTY_CODES`` for the status of each code a string lists in `x-weaver-codes`, and
``SCHEMA_PATTERN_WORDS`` for the rule of each pattern in words (`x-weaver-pattern-words`).
"""

from typing import Any, Final, TypedDict

RESOURCE_ID_PATTERN: Final = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
RESOURCE_ID_MAX_LENGTH: Final = 128
RESOURCE_ID_PATTERN_WORDS: Final = (
    "1 to 128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
)
CHECKPOINT_NAME_PATTERN: Final = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"
CHECKPOINT_NAME_MAX_LENGTH: Final = 128
CHECKPOINT_NAME_PATTERN_WORDS: Final = (
    "1 to 128 ASCII letters, digits, '.', '_' or '-', not starting with '.'"
)
STORED_CHECKPOINT_NAME_PATTERN: Final = "^(?!\\.\\.?$)[^/\\x00-\\x1f\\x7f]+$"
STORED_CHECKPOINT_NAME_PATTERN_WORDS: Final = (
    "any non-empty text without '/' or control characters, other than '.' and '..'"
)
CHECKPOINT_PATH_PATTERN: Final = "^weaver://[A-Za-z0-9][A-Za-z0-9._-]{0,127}/checkpoints/(?!\\.\\.?$)[^/\\x00-\\x1f\\x7f]+$"
CHECKPOINT_PATH_PATTERN_WORDS: Final = "weaver://{model_id}/checkpoints/{name}"
CURSOR_MIN_LENGTH: Final = 1
TTL_SECONDS_MINIMUM: Final = 1
TTL_SECONDS_MAXIMUM: Final = 315360000
METADATA_MAX_PROPERTIES: Final = 64
METADATA_VALUES_MAX_LENGTH: Final = 1024


class ErrorErrorCodes(TypedDict):
    invalid_request: int
    unauthorized: int
    not_found: int
    method_not_allowed: int
    checkpoint_exists: int
    checkpoint_not_ready: int
    artifact_not_ready: int
    export_in_progress: int
    model_terminated: int
    model_state_lost: int
    seq_id_conflict: int
    payload_too_large: int
    idempotency_mismatch: int
    unknown_base_model: int
    optimizer_state_unavailable: int
    incompatible_checkpoint: int
    merge_not_supported: int
    rate_limited: int
    internal: int
    unavailable: int


ERROR_ERROR_CODES: Final[ErrorErrorCodes] = {
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
}
CREATE_SESSION_REQUEST_TAGS_MAX_ITEMS: Final = 64
CREATE_SESSION_REQUEST_TAGS_ITEMS_MIN_LENGTH: Final = 1
CREATE_SESSION_REQUEST_TAGS_ITEMS_MAX_LENGTH: Final = 128
CREATE_SESSION_REQUEST_SDK_VERSION_MAX_LENGTH: Final = 64
CREATE_SESSION_REQUEST_NAME_MAX_LENGTH: Final = 256
CREATE_SESSION_REQUEST_ORGANIZATION_ID_MAX_LENGTH: Final = 128
CREATE_SESSION_REQUEST_PROJECT_ID_MAX_LENGTH: Final = 128
LORA_CONFIG_RANK_MINIMUM: Final = 1
LORA_CONFIG_RANK_MAXIMUM: Final = 256
LORA_CONFIG_TRAIN_UNEMBED_DEFAULT: Final = True
LORA_CONFIG_TRAIN_MLP_DEFAULT: Final = True
LORA_CONFIG_TRAIN_ATTN_DEFAULT: Final = True
LORA_CONFIG_SEED_MINIMUM: Final = 0
LORA_CONFIG_SEED_MAXIMUM: Final = 4294967295
CREATE_MODEL_REQUEST_MODEL_SEQ_ID_MINIMUM: Final = 1
CREATE_MODEL_REQUEST_BASE_MODEL_MIN_LENGTH: Final = 1
CREATE_MODEL_REQUEST_BASE_MODEL_MAX_LENGTH: Final = 256
CREATE_MODEL_REQUEST_TRAINING_MAX_SEQUENCE_LENGTH_MINIMUM: Final = 2
MODEL_MODEL_SEQ_ID_MINIMUM: Final = 1
MODEL_NEXT_SEQ_ID_MINIMUM: Final = 1
PAGINATION_TOTAL_COUNT_MINIMUM: Final = 0
ENCODED_TEXT_CHUNK_TOKENS_MIN_ITEMS: Final = 1
ENCODED_TEXT_CHUNK_TOKENS_ITEMS_MINIMUM: Final = 0
ENCODED_TEXT_CHUNK_TOKENS_ITEMS_MAXIMUM: Final = 9223372036854775807
MODEL_INPUT_CHUNKS_MIN_ITEMS: Final = 1
DATUM_DATUM_ID_MAX_LENGTH: Final = 255
FORWARD_BACKWARD_INPUT_DATA_MIN_ITEMS: Final = 1
FORWARD_BACKWARD_PAYLOAD_SEQ_ID_MINIMUM: Final = 1
FORWARD_PAYLOAD_SEQ_ID_MINIMUM: Final = 1
ADAM_PARAMS_LEARNING_RATE_MINIMUM: Final = 0
ADAM_PARAMS_LEARNING_RATE_MAXIMUM: Final = 10
ADAM_PARAMS_BETA1_MINIMUM: Final = 0
ADAM_PARAMS_BETA1_EXCLUSIVE_MAXIMUM: Final = 1
ADAM_PARAMS_BETA2_MINIMUM: Final = 0
ADAM_PARAMS_BETA2_EXCLUSIVE_MAXIMUM: Final = 1
ADAM_PARAMS_EPS_EXCLUSIVE_MINIMUM: Final = 0
ADAM_PARAMS_EPS_MAXIMUM: Final = 1
ADAM_PARAMS_WEIGHT_DECAY_MINIMUM: Final = 0
ADAM_PARAMS_WEIGHT_DECAY_MAXIMUM: Final = 1
ADAM_PARAMS_GRAD_CLIP_NORM_MINIMUM: Final = 0


class AdamParamsDefaults(TypedDict):
    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    grad_clip_norm: float


ADAM_PARAMS_DEFAULTS: Final[AdamParamsDefaults] = {
    "learning_rate": 0.0001,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-08,
    "weight_decay": 0.01,
    "grad_clip_norm": 1.0,
}
OPTIM_STEP_PAYLOAD_SEQ_ID_MINIMUM: Final = 1
CHECKPOINT_SIZE_BYTES_MINIMUM: Final = 0
CHECKPOINT_SHA256_PATTERN: Final = "^[0-9a-f]{64}$"
CHECKPOINT_SHA256_PATTERN_WORDS: Final = "64 lowercase hex digits"
LOAD_RESULT_OPTIMIZER_STEP_MINIMUM: Final = 0
ARTIFACT_TTL_SECONDS_MINIMUM: Final = 1
ARTIFACT_TTL_SECONDS_MAXIMUM: Final = 315360000
ARTIFACT_PATH_PATTERN: Final = "^weaver://[A-Za-z0-9][A-Za-z0-9._-]{0,127}/checkpoints/(?!\\.\\.?/)[^/\\x00-\\x1f\\x7f]+/artifacts/(hf_model|hf_adapter)$"
ARTIFACT_PATH_PATTERN_WORDS: Final = "weaver://{model_id}/checkpoints/{name}/artifacts/{kind}, the kind hf_model or hf_adapter"
ARTIFACT_FILE_NAME_PATTERN: Final = "^[^/\\\\:\\x00-\\x1f\\x7f]*[^/\\\\:\\x00-\\x1f\\x7f. ](/[^/\\\\:\\x00-\\x1f\\x7f]*[^/\\\\:\\x00-\\x1f\\x7f. ])*$"
ARTIFACT_FILE_NAME_MAX_LENGTH: Final = 255
ARTIFACT_FILE_NAME_PATTERN_WORDS: Final = "a relative path without '\\', ':' or control characters, whose segments are neither empty, '.' nor '..', nor end with '.' or a space"
SHA256_PATTERN: Final = "^[0-9a-f]{64}$"
SHA256_PATTERN_WORDS: Final = "64 lowercase hex digits"
EXPORT_REQUEST_MERGE_ADAPTER_DEFAULT: Final = False
EXPORT_REQUEST_FORCE_DEFAULT: Final = False


class ExportRequestDefaults(TypedDict):
    format: str
    merge_adapter: bool
    ttl_seconds: int
    force: bool


EXPORT_REQUEST_DEFAULTS: Final[ExportRequestDefaults] = {
    "format": "huggingface",
    "merge_adapter": False,
    "ttl_seconds": 604800,
    "force": False,
}
EXPORT_MODEL_REQUEST_MERGE_ADAPTER_DEFAULT: Final = False
MANIFEST_FILE_SIZE_MINIMUM: Final = 0
ARTIFACT_SIZE_BYTES_MINIMUM: Final = 0
DOWNLOAD_FILE_SIZE_MINIMUM: Final = 0
DOWNLOAD_DESCRIPTOR_TOTAL_BYTES_MINIMUM: Final = 0
CONVERSION_PROGRESS_SHARDS_DONE_MINIMUM: Final = 0
CONVERSION_PROGRESS_BYTES_DONE_MINIMUM: Final = 0
CONVERSION_PROGRESS_SHARDS_TOTAL_MINIMUM: Final = 0
CONVERSION_PROGRESS_BYTES_TOTAL_MINIMUM: Final = 0
OPERATION_STATUS_TERMINAL: Final = ("done", "error")
PENDING_RESOURCES_NODES_MINIMUM: Final = 0
PENDING_RESOURCES_GPUS_PER_NODE_MINIMUM: Final = 0
PENDING_RESOURCES_TRAINER_MEMORY_GIB_PER_NODE_MINIMUM: Final = 0
PENDING_INFO_WAIT_SECONDS_MINIMUM: Final = 0
OPERATION_REVISION_MIN_LENGTH: Final = 1
OPERATION_REVISION_MAX_LENGTH: Final = 128
IDEMPOTENCY_KEY_PATTERN: Final = "^[A-Za-z0-9._:-]{1,255}$"
IDEMPOTENCY_KEY_PATTERN_WORDS: Final = (
    "1 to 255 ASCII letters, digits, '.', '_', ':' or '-'"
)
X_REQUEST_ID_MIN_LENGTH: Final = 1
X_REQUEST_ID_MAX_LENGTH: Final = 128
RETRY_AFTER_MINIMUM: Final = 0
RETRY_AFTER_MAXIMUM: Final = 3600
LIST_SUPPORTED_MODELS_LIMIT_MINIMUM: Final = 1
LIST_SUPPORTED_MODELS_LIMIT_MAXIMUM: Final = 1000
LIST_SUPPORTED_MODELS_LIMIT_DEFAULT: Final = 100
LIST_SUPPORTED_MODELS_OFFSET_MINIMUM: Final = 0
LIST_SUPPORTED_MODELS_OFFSET_DEFAULT: Final = 0
LIST_MODELS_LIMIT_MINIMUM: Final = 1
LIST_MODELS_LIMIT_MAXIMUM: Final = 1000
LIST_MODELS_LIMIT_DEFAULT: Final = 100
LIST_MODELS_OFFSET_MINIMUM: Final = 0
LIST_MODELS_OFFSET_DEFAULT: Final = 0
LIST_CHECKPOINTS_LIMIT_MINIMUM: Final = 1
LIST_CHECKPOINTS_LIMIT_MAXIMUM: Final = 1000
GET_OPERATION_WAIT_MINIMUM: Final = 0
GET_OPERATION_WAIT_MAXIMUM: Final = 60
GET_OPERATION_SEEN_REVISION_MIN_LENGTH: Final = 1
GET_OPERATION_SEEN_REVISION_MAX_LENGTH: Final = 128
