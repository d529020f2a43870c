"""Every request the facade sends, built by the generated client. No I/O.

Each function returns a ``Call``: the generated module's request arguments
and its reply parser. Every request that takes an ``Idempotency-Key`` (every
POST) gets a fresh one per logical call (a uuid4). A large request's JSON is encoded
in pieces (``with_json_encoded``).
"""

from __future__ import annotations

import functools
import inspect
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

import httpx
from weaver_client.types import UNSET, Unset

from ._checkpoints import CheckpointPath, CheckpointType
from ._lazy import LazyModule, wire
from ._plans import Call, WireModel
from ._result_shape import artifact_shaped
from ._types import AdamParams, Datum
from ._wire import MaybeResource, NoBody, ignore_body, large, maybe_resource, on_success

# The generated request modules import every generated model: loaded on first use.
if TYPE_CHECKING:
    import weaver_client.api.artifacts.export_checkpoint as _export_checkpoint
    import weaver_client.api.artifacts.export_model_weights as _export_model_weights
    import weaver_client.api.artifacts.get_artifact_download as _get_artifact_download
    import weaver_client.api.artifacts.list_artifacts as _list_artifacts
    import weaver_client.api.checkpoints.delete_checkpoint as _delete_checkpoint
    import weaver_client.api.checkpoints.get_checkpoint as _get_checkpoint
    import weaver_client.api.checkpoints.list_checkpoints as _list_checkpoints
    import weaver_client.api.checkpoints.load_checkpoint as _load_checkpoint
    import weaver_client.api.checkpoints.save_checkpoint as _save_checkpoint
    import weaver_client.api.checkpoints.set_checkpoint_ttl as _set_checkpoint_ttl
    import weaver_client.api.models.create_model as _create_model
    import weaver_client.api.models.get_model as _get_model
    import weaver_client.api.models.list_models as _list_models
    import weaver_client.api.models.list_supported_models as _list_supported_models
    import weaver_client.api.models.terminate_model as _terminate_model
    import weaver_client.api.operations.get_operation as _get_operation
    import weaver_client.api.sessions.create_session as _create_session
    import weaver_client.api.sessions.get_session as _get_session
    import weaver_client.api.sessions.send_heartbeat as _send_heartbeat
    import weaver_client.api.training.forward_backward as _forward_backward
    import weaver_client.api.training.optim_step as _optim_step

    from ._models import LoraSettings
else:
    _export_checkpoint = LazyModule("weaver_client.api.artifacts.export_checkpoint")
    _export_model_weights = LazyModule("weaver_client.api.artifacts.export_model_weights")
    _get_artifact_download = LazyModule("weaver_client.api.artifacts.get_artifact_download")
    _list_artifacts = LazyModule("weaver_client.api.artifacts.list_artifacts")
    _delete_checkpoint = LazyModule("weaver_client.api.checkpoints.delete_checkpoint")
    _get_checkpoint = LazyModule("weaver_client.api.checkpoints.get_checkpoint")
    _list_checkpoints = LazyModule("weaver_client.api.checkpoints.list_checkpoints")
    _load_checkpoint = LazyModule("weaver_client.api.checkpoints.load_checkpoint")
    _save_checkpoint = LazyModule("weaver_client.api.checkpoints.save_checkpoint")
    _set_checkpoint_ttl = LazyModule("weaver_client.api.checkpoints.set_checkpoint_ttl")
    _create_model = LazyModule("weaver_client.api.models.create_model")
    _get_model = LazyModule("weaver_client.api.models.get_model")
    _list_models = LazyModule("weaver_client.api.models.list_models")
    _list_supported_models = LazyModule("weaver_client.api.models.list_supported_models")
    _terminate_model = LazyModule("weaver_client.api.models.terminate_model")
    _get_operation = LazyModule("weaver_client.api.operations.get_operation")
    _create_session = LazyModule("weaver_client.api.sessions.create_session")
    _get_session = LazyModule("weaver_client.api.sessions.get_session")
    _send_heartbeat = LazyModule("weaver_client.api.sessions.send_heartbeat")
    _forward_backward = LazyModule("weaver_client.api.training.forward_backward")
    _optim_step = LazyModule("weaver_client.api.training.optim_step")

# The request fields (by schema) and optional parameters (by operationId) of the spec that
# the facade never sends, each with its reason. `scripts/regenerate --coverage` names any
# other the facade does not send: an optional one the spec adds passes mypy unseen.
_NO_MEANING = "optional, and the wire sheet gives it no meaning a client relies on"
_TUNING = "the official SDK's tuning, which the wire sheet does not name"
_ANNOTATION = "the official SDK's annotation, which a server ignores"
UNSENT: Mapping[str, Mapping[str, str]] = {
    "CreateSessionRequest": dict.fromkeys(
        ("name", "labels", "organization_id", "project_id"), _NO_MEANING
    ),
    "CreateModelRequest": {
        "user_metadata": "optional; the user's metadata goes with the session",
        "performance_tier": _TUNING,
        "training_max_sequence_length": _TUNING,
    },
    "ForwardBackwardInput": {"loss_fn_config": "cross_entropy, the one loss, takes none"},
    "ForwardBackwardPayload": {
        "metadata": _ANNOTATION,
        "tensor_transport": "the official SDK's, which a server accepts and ignores",
    },
    "Datum": {"metadata": _ANNOTATION},
}

M = TypeVar("M", bound=WireModel)
P = ParamSpec("P")

# Added to the read timeout of a long-poll, which the server may hold for `wait` seconds.
LONG_POLL_MARGIN = 10.0


@functools.cache
def _takes_key(build: Callable[..., object]) -> bool:
    return "idempotency_key" in inspect.signature(build).parameters


def _call(
    build: Callable[P, dict[str, Any]], model: type[M], *args: P.args, **kwargs: P.kwargs
) -> Call[M]:
    """The ``Call`` that ``build``, a generated module's ``_get_kwargs``, makes of the
    arguments (and a fresh ``Idempotency-Key`` where it takes one), read by that module's
    ``_parse_response``; the module's name is the spec's operationId."""
    if _takes_key(build):
        kwargs["idempotency_key"] = str(uuid.uuid4())
    # The module's own namespace, not ``sys.modules``, which a test runner may have reset.
    parse = build.__globals__["_parse_response"]
    name = build.__module__.rpartition(".")[2]
    return Call(name, build(*args, **kwargs), parse, model)


def create_session(
    *, tags: Sequence[str], user_metadata: Mapping[str, str], sdk_version: str
) -> Call[wire.Session]:
    metadata = wire.Metadata()
    metadata.additional_properties = dict(user_metadata)
    body = wire.CreateSessionRequest(
        tags=list(tags), user_metadata=metadata, sdk_version=sdk_version
    )
    return _call(_create_session._get_kwargs, wire.Session, body=body)


def get_session(session_id: str) -> Call[NoBody]:
    """Whether the session is there: any 2xx (its body is not needed)."""
    return ignore_body(_call(_get_session._get_kwargs, NoBody, session_id))


def send_heartbeat(session_id: str) -> Call[NoBody]:
    """Any 2xx, with or without a body: the wire promises no reply to read."""
    return ignore_body(_call(_send_heartbeat._get_kwargs, NoBody, session_id))


def create_model(
    session_id: str,
    *,
    model_seq_id: int,
    base_model: str,
    training_mode: str,
    lora: LoraSettings | None,
) -> Call[wire.Model]:
    mode = wire.TrainingMode(training_mode)
    config: wire.LoraConfig | Unset = UNSET
    if mode is wire.TrainingMode.LORA and lora is not None:
        config = wire.LoraConfig(
            rank=lora.rank,
            train_unembed=lora.train_unembed,
            train_mlp=lora.train_mlp,
            train_attn=lora.train_attn,
            seed=UNSET if lora.seed is None else lora.seed,
        )
    body = wire.CreateModelRequest(
        model_seq_id=model_seq_id, base_model=base_model, training_mode=mode, lora_config=config
    )
    return _call(_create_model._get_kwargs, wire.Model, session_id, body=body)


def get_model(model_id: str) -> Call[wire.Model]:
    return _call(_get_model._get_kwargs, wire.Model, model_id)


def list_models(*, limit: int, offset: int) -> Call[wire.ModelList]:
    return _call(_list_models._get_kwargs, wire.ModelList, limit=limit, offset=offset)


def list_supported_models(*, limit: int, offset: int) -> Call[wire.SupportedModelList]:
    return _call(
        _list_supported_models._get_kwargs, wire.SupportedModelList, limit=limit, offset=offset
    )


class TerminateReply(MaybeResource["wire.Model"]):
    """A terminate's reply: ``resource`` is the terminated Model when the server sent one."""

    RESOURCE = "Model"


def terminate_model(model_id: str) -> Call[TerminateReply]:
    return maybe_resource(_call(_terminate_model._get_kwargs, TerminateReply, model_id))


def forward_backward(
    model_id: str, *, seq_id: int, data: Sequence[Datum], loss_fn: str
) -> Call[wire.Operation]:
    body = wire.ForwardBackwardRequest(
        payload=wire.ForwardBackwardPayload(
            model_id=model_id,
            seq_id=seq_id,
            forward_backward_input=wire.ForwardBackwardInput(
                loss_fn=wire.LossFn(loss_fn), data=[d.to_wire() for d in data]
            ),
        )
    )
    return _call(_forward_backward._get_kwargs, wire.Operation, model_id, body=body)


def optim_step(model_id: str, *, seq_id: int, adam_params: AdamParams) -> Call[wire.Operation]:
    body = wire.OptimStepRequest(
        payload=wire.OptimStepPayload(
            model_id=model_id, seq_id=seq_id, adam_params=adam_params.to_wire()
        )
    )
    return _call(_optim_step._get_kwargs, wire.Operation, model_id, body=body)


def save_checkpoint(
    model_id: str,
    *,
    checkpoint_type: CheckpointType,
    name: str,
    ttl_seconds: int | Unset | None,
) -> Call[wire.Operation]:
    body = wire.SaveCheckpointRequest(
        type_=wire.CheckpointType(checkpoint_type.value), name=name, ttl_seconds=ttl_seconds
    )
    return _call(_save_checkpoint._get_kwargs, wire.Operation, model_id, body=body)


def load_checkpoint(
    model_id: str, *, path: CheckpointPath, include_optimizer: bool
) -> Call[wire.Operation]:
    body = wire.LoadCheckpointRequest(path=str(path), include_optimizer=include_optimizer)
    return _call(_load_checkpoint._get_kwargs, wire.Operation, model_id, body=body)


def list_checkpoints(model_id: str, *, limit: int, cursor: str | None) -> Call[wire.CheckpointList]:
    return _call(
        _list_checkpoints._get_kwargs,
        wire.CheckpointList,
        model_id,
        limit=limit,
        cursor=UNSET if cursor is None else cursor,
    )


def get_checkpoint(checkpoint_id: uuid.UUID) -> Call[wire.Checkpoint]:
    return _call(_get_checkpoint._get_kwargs, wire.Checkpoint, checkpoint_id)


class CheckpointReply(MaybeResource["wire.Checkpoint"]):
    """A delete's or a TTL change's reply: ``resource`` is the deleted or changed Checkpoint
    when the server sent one (a server may answer a delete 204 No Content, done all the same)."""

    RESOURCE = "Checkpoint"


def delete_checkpoint(checkpoint_id: uuid.UUID) -> Call[CheckpointReply]:
    return maybe_resource(_call(_delete_checkpoint._get_kwargs, CheckpointReply, checkpoint_id))


def set_checkpoint_ttl(path: CheckpointPath, ttl_seconds: int | None) -> Call[CheckpointReply]:
    body = wire.SetCheckpointTtlRequest(path=str(path), ttl_seconds=ttl_seconds)
    return maybe_resource(
        _call(_set_checkpoint_ttl._get_kwargs, CheckpointReply, path.model_id, body=body)
    )


def get_operation(
    operation_id: str,
    *,
    wait: float | None,
    timeout: httpx.Timeout,
    seen_revision: str | None,
) -> Call[wire.Operation]:
    call = _call(
        _get_operation._get_kwargs,
        wire.Operation,
        operation_id,
        wait=UNSET if wait is None else round(wait, 3),
        seen_revision=UNSET if seen_revision is None or not wait else seen_revision,
    )
    if wait and timeout.read is not None:
        read = timeout.read + wait + LONG_POLL_MARGIN
        longer = httpx.Timeout(
            connect=timeout.connect, read=read, write=timeout.write, pool=timeout.pool
        )
        call = call._replace(request={**call.request, "timeout": longer})
    return call


# -- artifacts ---------------------------------------------------------------------------


class ExportReply(NamedTuple):
    """An export's reply: the existing ``artifact`` or a new ``operation``."""

    artifact: wire.Artifact | None = None
    operation: wire.Operation | None = None

    @staticmethod
    def schema_of(data: object, status: int | None = None) -> str:
        """The spec's schema of a 2xx reply, told by its ``kind`` as the wire sheet says
        clients tell them apart: an Artifact's is hf_model/hf_adapter, values an
        Operation's kind never takes. Not by the status: "2xx" is all the wire promises
        of a POST that starts an operation (200 and 202 are the spec's). A ``kind`` of
        neither (an artifact kind added to the spec, or a server's own operation kind) is
        told by ``artifact_shaped``; without a ``kind``, the spec's ``status`` explains it."""
        kind = _kind(data)
        if kind in {k.value for k in wire.ArtifactKind}:
            return "Artifact"
        if kind in {k.value for k in wire.OperationKind} or status != 200:
            return "Operation"
        if kind is not None and isinstance(data, Mapping) and not artifact_shaped(data):
            return "Operation"
        return "Artifact"

    @staticmethod
    def drift(data: object) -> str | None:
        """Why a reply the generated parser refused is no Artifact though its ``kind`` says
        so: it has no field only an Artifact has, nor a status only an Artifact has. Else
        ``None``: its schema explains it."""
        kind = _kind(data)
        artifact_kind = kind in {k.value for k in wire.ArtifactKind}
        if not artifact_kind or not isinstance(data, Mapping) or artifact_shaped(data):
            return None
        status = data.get("status")
        artifact_only = {s.value for s in wire.ArtifactStatus} - {
            s.value for s in wire.OperationStatus
        }
        if isinstance(status, str) and status in artifact_only:
            return None  # completed or deleted: an Artifact missing its fields
        return (
            f"the reply's kind {kind!r} is an Artifact's, but it has neither `uri` nor "
            "`checkpoint_id`: an Operation given an artifact's kind, which an Operation's "
            "kind never is (clients tell the two replies apart by it)"
        )

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> ExportReply:
        if cls.schema_of(src_dict) == "Artifact":
            return cls(artifact=wire.Artifact.from_dict(src_dict))
        return cls(operation=wire.Operation.from_dict(src_dict))


def _kind(data: object) -> str | None:
    kind = data.get("kind") if isinstance(data, Mapping) else None
    return kind if isinstance(kind, str) else None  # a list is no set member


def _export(
    build: Callable[P, dict[str, Any]], *args: P.args, **kwargs: P.kwargs
) -> Call[ExportReply]:
    """``_call`` of an export route, whose 2xx reply is an ``ExportReply``; errors parse
    as usual."""
    call = _call(build, ExportReply, *args, **kwargs)
    return on_success(call, lambda response: ExportReply.from_dict(response.json()))


def export_checkpoint(
    checkpoint_id: uuid.UUID, *, merge_adapter: bool, ttl_seconds: int | Unset | None, force: bool
) -> Call[ExportReply]:
    body = wire.ExportRequest(
        format_=wire.ArtifactFormat.HUGGINGFACE,
        merge_adapter=merge_adapter,
        ttl_seconds=ttl_seconds,
        force=force,
    )
    return _export(_export_checkpoint._get_kwargs, checkpoint_id, body=body)


def export_model_weights(
    model_id: str, *, merge_adapter: bool, ttl_seconds: int | Unset | None
) -> Call[ExportReply]:
    body = wire.ExportModelRequest(
        format_=wire.ArtifactFormat.HUGGINGFACE,
        merge_adapter=merge_adapter,
        ttl_seconds=ttl_seconds,
    )
    return _export(_export_model_weights._get_kwargs, model_id, body=body)


def list_artifacts(checkpoint_id: uuid.UUID) -> Call[wire.ArtifactList]:
    return _call(_list_artifacts._get_kwargs, wire.ArtifactList, checkpoint_id)


def get_artifact_download(artifact_id: uuid.UUID) -> Call[wire.DownloadDescriptor]:
    return _call(_get_artifact_download._get_kwargs, wire.DownloadDescriptor, artifact_id)


def with_json_encoded(call: Call[M]) -> Call[M]:
    """``call``, its ``json`` body encoded as httpx encodes it, byte for byte, so that
    httpx does not encode it on the event loop, and in pieces of ``_wire.VALUES_ON_LOOP``
    values or so: json's C encoder holds the GIL for a whole dump (0.15 s for a large
    step), which a thread of its own would not spare the event loop."""
    request = dict(call.request)
    body = "".join(_json_pieces(request.pop("json"))).encode()
    headers = {**request.pop("headers", {}), "Content-Type": "application/json"}
    return call._replace(request={**request, "content": body, "headers": headers})


def _json_pieces(value: object) -> Iterator[str]:
    if type(value) is dict and large(value):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield f"{',' if i else ''}{_dumps(key)}:"
            yield from _json_pieces(item)
        yield "}"
    elif type(value) is list and value and type(value[0]) in (dict, list) and large(value):
        yield "["
        for i, item in enumerate(value):
            yield "," if i else ""
            yield from _json_pieces(item)
        yield "]"
    else:
        yield _dumps(value)


def _dumps(value: object) -> str:
    # httpx's own settings (``httpx._content.encode_json``).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
