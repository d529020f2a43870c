"""Replies trimmed to what the wire sheet (``weaver-wire.md``) promises a real server sends.

The real Weaver service has none of our extensions and may send no more than the wire
sheet promises. ``TrimmingTransport`` wraps the facade's httpx transport and cuts every
JSON reply of the API down to the fields the sheet promises for its route. The table is
written from the sheet alone, each entry quoting it; what the facade happens to need plays
no part in it. A route the sheet promises nothing of (the TTL change, a terminate, a
heartbeat) answers ``{}``.

Fields the sheet says "may be missing" (a download file's ``size`` and ``sha256``) or
does not call required where it calls another one so (a model's ``base_model`` and
``tokenizer_path``), and one it lets a server leave out (an artifact list item's
``status``, which then "counts as completed") are ``Maybe``: kept normally, dropped with
``sparse=True``.

Storage downloads (presigned URLs) do not pass through here: they are not the API.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "GROUPS",
    "ROUTES",
    "Each",
    "Maybe",
    "Route",
    "TrimmingTransport",
    "trim",
]


# -- shapes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Each:
    """A list: every item trimmed to ``shape``."""

    shape: Shape


@dataclass(frozen=True)
class Maybe:
    """A field the sheet allows a server to leave out; dropped under ``sparse`` unless
    ``kept_if(value)`` (an omission must not change the reply's meaning)."""

    shape: Shape = None
    kept_if: Callable[[Any], bool] = lambda _: False


# ``None``: the value is kept whole (free-form per the sheet, such as ``metrics``).
# A mapping: an object, of which only these fields are kept, each trimmed to its shape.
Shape = None | Mapping[str, "Shape | Maybe"] | Each

KEEP = None


def fields(*names: str) -> dict[str, Shape | Maybe]:
    """An object whose listed fields are kept whole."""
    return dict.fromkeys(names, KEEP)


def trim(value: Any, shape: Shape | Maybe, *, sparse: bool = False) -> Any:
    """``value`` cut down to ``shape``."""
    if isinstance(shape, Maybe):
        shape = shape.shape
    if shape is None or value is None:
        return value
    if isinstance(shape, Each):
        return [trim(item, shape.shape, sparse=sparse) for item in value]
    if not isinstance(value, dict):
        return value  # a wrong type is the facade's to report, not ours to hide
    out = {}
    for name, sub in shape.items():
        if name not in value:
            continue
        if sparse and isinstance(sub, Maybe) and not sub.kept_if(value[name]):
            continue
        out[name] = trim(value[name], sub, sparse=sparse)
    return out


# -- what the wire sheet promises -----------------------------------------------------------

# "Error body on every 4xx/5xx: {"error": "<code>", "message": "<text>", "retryable": <bool>,
#  "details"?: {...}, "request_id"?: "<id>"}"
ERROR = fields("error", "message", "retryable", "details", "request_id")

# "Reply: 201 {"id", "tags", "user_metadata", "sdk_version", "created_at", "updated_at"}.
#  Clients need only `id`."  /  "GET /sessions/{session_id}: the same object."
SESSION = fields("id", "tags", "user_metadata", "sdk_version", "created_at", "updated_at")

# "Reply fields read by clients: `id` (required), `base_model`, `tokenizer_path`. When
#  `tokenizer_path` is missing, the real SDK calls `GET /supported-models`": only `id` is
#  said to be required.
MODEL: Shape = {"id": KEEP, "base_model": Maybe(), "tokenizer_path": Maybe()}

# "{"items": [{"name", "status": "available"|"healthy"|..., "config": {...}}],
#  "pagination": {"total_count": int}}"
SUPPORTED_MODELS: Shape = {
    "items": Each(fields("name", "status", "config")),
    "pagination": fields("total_count"),
}

# "`TensorData` is `{"data": [numbers or nested lists], "dtype":
#  "int64"|"int32"|"float32"|"float64"}`; it has no shape field."
TENSOR = fields("data", "dtype")

# "forward_backward result (the operation's `response`): {"loss_fn_outputs":
#  [{"logprobs": TensorData, "datum_id"?}], "metrics": {"loss:sum": float, ...}}"
FORWARD_BACKWARD_RESULT: Shape = {
    "loss_fn_outputs": Each({"logprobs": TENSOR, "datum_id": KEEP}),
    "metrics": KEEP,
}

# "optim_step result: {"metrics": {...}}."
OPTIM_STEP_RESULT = fields("metrics")

# The sheet's "Checkpoint JSON:" list: "`id` (server uuid); `name`; `type`", "`path`",
#  "`status`", "`ttl_seconds`; `created_at`, `expires_at` (RFC 3339); `train_unembed`,
#  `train_mlp`, `train_attn`".
CHECKPOINT = fields(
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
)

# "List: GET /models/{model_id}/checkpoints returns {"items": [Checkpoint]}."
CHECKPOINT_LIST: Shape = {"items": Each(CHECKPOINT)}

# "Load: POST /models/{model_id}/load ... Returns an Operation." The sheet says nothing of
# the done operation's `response`.
LOAD_RESULT: Shape = {}

# "`manifest` (`{"format_version": 1, "files": [{"name", ...}]}`)"
MANIFEST: Shape = {"format_version": KEEP, "files": Each(fields("name"))}

# "Artifact JSON: `id` (a UUID ...), `checkpoint_id`, `model_id`, `kind`, `status`
#  (`pending` | `completed` | `error` | `deleted`), `uri` (...), `size_bytes`, `manifest`
#  (...), `error`, `ttl_seconds`, `expires_at`, `created_at`, `updated_at`."
ARTIFACT: dict[str, Shape | Maybe] = {
    **fields("id", "checkpoint_id", "model_id", "kind", "status", "uri", "size_bytes"),
    "manifest": MANIFEST,
    **fields("error", "ttl_seconds", "expires_at", "created_at", "updated_at"),
}

# "GET /checkpoints/{checkpoint_id}/artifacts → {"items": [artifact]}; an item without
#  `status` counts as completed."
ARTIFACT_LIST: Shape = {
    "items": Each({**ARTIFACT, "status": Maybe(kept_if=lambda status: status != "completed")})
}

# "GET /artifacts/{artifact_id}/download → {"artifact_id", "kind", "total_bytes", "files":
#  [{"name", "size", "sha256", "url", "url_expires_at"}]}" ... "`size` and `sha256` may be
#  missing; then nothing can be verified or skipped."
DOWNLOAD_DESCRIPTOR: Shape = {
    **fields("artifact_id", "kind", "total_bytes"),
    "files": Each(
        {"name": KEEP, "size": Maybe(), "sha256": Maybe(), "url": KEEP, "url_expires_at": KEEP}
    ),
}

# "An export operation may show `metadata.conversion_progress: {shards_done, bytes_done}`
#  while running."
EXPORT_METADATA: Shape = {"conversion_progress": fields("shards_done", "bytes_done")}

# Each operation kind's done `response`, by the route that started it.
RESULTS: dict[str, Shape] = {
    "forward_backward": FORWARD_BACKWARD_RESULT,
    "optim_step": OPTIM_STEP_RESULT,
    # "Returns an Operation whose `response` on `done` is the Checkpoint."
    "save_checkpoint": CHECKPOINT,
    "load_checkpoint": LOAD_RESULT,
    # "202 with an Operation whose `response` on `done` is the artifact"
    "export": ARTIFACT,
}


def operation_posted(kind: str) -> Shape:
    """What a POST that starts an operation answers. The sheet: "The POST answers 2xx
    with {"id", "status", "response"?}." """
    shape: dict[str, Shape | Maybe] = {"id": KEEP, "status": KEEP, "response": RESULTS[kind]}
    if kind == "export":
        shape["metadata"] = EXPORT_METADATA
    return shape


def operation_polled(kind: str) -> Shape:
    """What a poll answers. The sheet: "GET /operations/{operation_id} returns: `id`,
    `status`, `response` (the result, once done), `error`, `error_code`, `error_message`,
    `error_details`: {diagnostic_message, stage, ...}, `retryable`, `pending_info`: {code,
    message, wait_seconds, resources: {nodes, gpus_per_node, trainer_memory_gib_per_node}}"
    """
    shape: dict[str, Shape | Maybe] = {
        **fields("id", "status"),
        "response": RESULTS[kind],
        **fields("error", "error_code", "error_message", "error_details", "retryable"),
        "pending_info": {
            **fields("code", "message", "wait_seconds"),
            "resources": fields("nodes", "gpus_per_node", "trainer_memory_gib_per_node"),
        },
    }
    if kind == "export":
        shape["metadata"] = EXPORT_METADATA
    return shape


# -- the routes -----------------------------------------------------------------------------

GROUPS = (
    "sessions",
    "heartbeat",
    "models",
    "terminate",
    "supported-models",
    "training",
    "checkpoints",
    "checkpoint-ttl",
    "artifacts",
)
"""Route groups: a test trims one group's replies at a time (errors are a group of their own)."""


@dataclass(frozen=True)
class Route:
    """A route of the wire sheet and what it promises of a success reply.

    ``reply`` is the shape of the body, or ``None`` for an Operation (its shape follows the
    operation's kind, ``starts``). Under ``/api/v1``; ``{}`` in ``path`` is one path segment.
    ``wire`` is the sheet's words for the route, verbatim but for its Markdown marks.
    """

    group: str
    method: str
    path: str
    reply: Shape | None
    wire: str
    starts: str | None = None

    def matches(self, method: str, path: str) -> bool:
        pattern = "/api/v1" + re.escape(self.path).replace(r"\{\}", "[^/]+")
        return method == self.method and re.fullmatch(pattern, path) is not None


ROUTES = (
    Route(
        "sessions",
        "POST",
        "/sessions",
        SESSION,
        'Reply: 201 {"id", "tags", "user_metadata", "sdk_version", "created_at", "updated_at"}.',
    ),
    Route(
        "sessions", "GET", "/sessions/{}", SESSION, "GET /sessions/{session_id}: the same object."
    ),
    Route(
        "heartbeat",
        "POST",
        "/sessions/{}/heartbeat",
        {},
        "The real SDK sends it every 30 s and ignores the reply.",
    ),
    Route(
        "models",
        "POST",
        "/sessions/{}/models",
        MODEL,
        "Reply fields read by clients: id (required), base_model, tokenizer_path.",
    ),
    Route("models", "GET", "/models/{}", MODEL, "GET /models/{model_id}: the model."),
    Route(
        "terminate",
        "POST",
        "/models/{}/terminate",
        {},
        "POST /models/{model_id}/terminate: the real SDK calls it on close and ignores errors.",
    ),
    Route(
        "supported-models",
        "GET",
        "/supported-models",
        SUPPORTED_MODELS,
        'GET /supported-models?limit=&offset= returns {"items": [{"name", "status": '
        '"available"|"healthy"|..., "config": {...}}], "pagination": {"total_count": int}}.',
    ),
    Route(
        "training",
        "POST",
        "/models/{}/forward-backward-passes",
        None,
        "Training operations (each returns an Operation)",
        starts="forward_backward",
    ),
    Route(
        "training",
        "POST",
        "/models/{}/optimizer-steps",
        None,
        "Training operations (each returns an Operation)",
        starts="optim_step",
    ),
    Route(
        "checkpoints",
        "POST",
        "/models/{}/checkpoints",
        None,
        "Returns an Operation whose response on done is the Checkpoint.",
        starts="save_checkpoint",
    ),
    Route(
        "checkpoints",
        "GET",
        "/models/{}/checkpoints",
        CHECKPOINT_LIST,
        'List: GET /models/{model_id}/checkpoints returns {"items": [Checkpoint]}.',
    ),
    Route(
        "checkpoint-ttl",
        "PATCH",
        "/models/{}/checkpoints/ttl",
        {},
        'TTL: PATCH /models/{model_id}/checkpoints/ttl, body {"path", "ttl_seconds": int|null}, '
        "synchronous.",
    ),
    Route(
        "checkpoints",
        "POST",
        "/models/{}/load",
        None,
        'body {"path": "weaver://...", "include_optimizer": bool}. Returns an Operation.',
        starts="load_checkpoint",
    ),
    Route(
        "artifacts",
        "POST",
        "/checkpoints/{}/export",
        None,
        "Reply: 202 with an Operation whose response on done is the artifact; or 200 with the "
        "artifact itself when an identical export already exists",
        starts="export",
    ),
    Route(
        "artifacts",
        "POST",
        "/models/{}/export-hf",
        None,
        "Save the current weights and export them in one step: POST /models/{model_id}/export-hf, "
        "the same body without force.",
        starts="export",
    ),
    Route(
        "artifacts",
        "GET",
        "/checkpoints/{}/artifacts",
        ARTIFACT_LIST,
        'GET /checkpoints/{checkpoint_id}/artifacts → {"items": [artifact]}; an item without '
        "status counts as completed.",
    ),
    Route(
        "artifacts",
        "GET",
        "/artifacts/{}/download",
        DOWNLOAD_DESCRIPTOR,
        'Download descriptor: GET /artifacts/{artifact_id}/download → {"artifact_id", "kind", '
        '"total_bytes", "files": [{"name", "size", "sha256", "url", "url_expires_at"}]}.',
    ),
)

GROUP_OF_KIND = {
    route.starts: route.group for route in ROUTES if route.starts is not None
}  # an operation's polls belong to the group of the route that started it


# -- the transport --------------------------------------------------------------------------

# Headers a reply keeps: the sheet's `X-Request-ID` and `Retry-After`, plus what any HTTP
# server sends (`Date` is mandatory for an origin server with a clock, RFC 9110).
KEPT_HEADERS = ("content-type", "date", "x-request-id", "retry-after")


class TrimmingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forward each request, then trim the reply of every route in ``groups`` to the table.

    ``groups`` names route groups (``GROUPS``) and ``"errors"`` (every 4xx/5xx body).
    The success replies of the groups in ``no_body`` (routes the sheet promises nothing
    of) come with no body at all. With ``sparse``, fields the sheet lets a server leave
    out (``Maybe``) are left out. ``operation_status`` replaces the status of the replies
    that start a training step, save or load in a trimmed group: "The POST answers 2xx"
    (the export routes name theirs, 200 and 202). With ``only_wire_routes``, a route the
    sheet does not name is answered as the sheet's server would: 404 with an Error body,
    without asking the emulator.
    Every reply it changed is counted in ``trimmed`` (route group -> count), so a test
    can show that the trimming really happened.
    """

    def __init__(
        self,
        groups: Iterable[str],
        *,
        sparse: bool = False,
        no_body: Iterable[str] = (),
        operation_status: int | None = None,
        only_wire_routes: bool = False,
    ) -> None:
        self.groups = frozenset(groups)
        self.only_wire_routes = only_wire_routes
        self.operation_status = operation_status
        self.no_body = frozenset(no_body)
        unknown = (self.groups | self.no_body) - {*GROUPS, "errors"}
        assert not unknown, f"unknown route groups: {sorted(unknown)}"
        self.sparse = sparse
        self.replied = threading.Condition()
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()
        self.kinds: dict[str, str] = {}  # operation id -> the kind that started it
        self.trimmed: dict[str, int] = {}
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status) of each reply

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._off_the_wire(request):
            return self._not_found(request)
        response = self._sync.handle_request(request)
        if not request.url.path.startswith("/api/v1/"):
            return response
        response.read()
        response.close()
        return self._rewrite(request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._off_the_wire(request):
            return self._not_found(request)
        response = await self._async.handle_async_request(request)
        if not request.url.path.startswith("/api/v1/"):
            return response
        await response.aread()
        await response.aclose()
        return self._rewrite(request, response)

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()

    def wait_for(self, route: Route, timeout: float = 10.0) -> bool:
        """Whether ``route`` was answered within ``timeout`` seconds (say, a heartbeat)."""
        with self.replied:
            return self.replied.wait_for(
                lambda: any(route.matches(m, p) for m, p, _ in self.seen), timeout
            )

    # -- deciding ----------------------------------------------------------------------------

    def _off_the_wire(self, request: httpx.Request) -> bool:
        method, path = request.method, request.url.path
        if not self.only_wire_routes or not path.startswith("/api/v1/"):
            return False
        if method == "GET" and re.fullmatch(r"/api/v1/operations/[^/]+", path):
            return False  # "GET /operations/{operation_id}"
        return not any(route.matches(method, path) for route in ROUTES)

    def _not_found(self, request: httpx.Request) -> httpx.Response:
        with self.replied:
            self.seen.append((request.method, request.url.path, 404))
            self.replied.notify_all()
        body = {"error": "not_found", "message": "no such route", "retryable": False}
        return httpx.Response(404, json=body, headers={"X-Request-ID": "req-off-the-wire"})

    def _rewrite(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        method, path, status = request.method, request.url.path, response.status_code
        with self.replied:
            self.seen.append((method, path, status))
            self.replied.notify_all()
        body = json.loads(response.content) if response.content else None
        group, shape = self._shape(method, path, status, body)
        if group in self.no_body and status < 400:
            kept = [(k, v) for k, v in response.headers.items() if k.lower() in KEPT_HEADERS]
            headers = [(k, v) for k, v in kept if k.lower() != "content-type"]
            return httpx.Response(status, headers=headers, content=b"")
        # A fresh reply either way: the read one's stream is spent.
        if group is None or group not in self.groups or body is None:
            headers = [(k, v) for k, v in response.headers.items() if k != "content-encoding"]
            return httpx.Response(status, headers=headers, content=response.content)
        trimmed = trim(body, shape, sparse=self.sparse)
        if trimmed != body:
            self.trimmed[group] = self.trimmed.get(group, 0) + 1
        headers = [(k, v) for k, v in response.headers.items() if k.lower() in KEPT_HEADERS]
        if self.operation_status is not None and self._starts(method, path) not in (None, "export"):
            status = self.operation_status
        return httpx.Response(status, headers=headers, content=json.dumps(trimmed).encode())

    @staticmethod
    def _starts(method: str, path: str) -> str | None:
        return next((r.starts for r in ROUTES if r.matches(method, path)), None)

    def _shape(self, method: str, path: str, status: int, body: Any) -> tuple[str | None, Shape]:
        if status >= 400:
            return "errors", ERROR
        if method == "GET" and re.fullmatch(r"/api/v1/operations/[^/]+", path):
            kind = self.kinds.get(path.rsplit("/", 1)[1])
            assert kind is not None, f"an operation this transport did not see start: {path}"
            return GROUP_OF_KIND[kind], operation_polled(kind)
        for route in ROUTES:
            if route.matches(method, path):
                if route.starts is None:
                    return route.group, route.reply
                if route.starts == "export" and status == 200:
                    return route.group, ARTIFACT  # "200 with the artifact itself"
                assert isinstance(body, dict), (method, path, body)
                self.kinds[body["id"]] = route.starts
                return route.group, operation_posted(route.starts)
        return None, None  # not on the wire sheet (an extension): left alone
