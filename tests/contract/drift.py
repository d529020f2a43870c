"""A drift-injecting ASGI middleware: the emulator, speaking one of Weaver's historical shapes.

Test code only; the emulator never contains it. Each drift reproduces one entry of
"History the contract must prevent" in the wire facts, plus the load that never left
`pending`, and `served_spec` serves a modified spec at /openapi.yaml.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from weaver_client import limits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAVE = re.compile(r"^/api/v1/models/[^/]+/checkpoints$")
LIST_CHECKPOINTS = SAVE
LOAD = re.compile(r"^/api/v1/models/[^/]+/load$")
EXPORT = re.compile(r"^/api/v1/checkpoints/[^/]+/export$")
DOWNLOAD = re.compile(r"^/api/v1/artifacts/[^/]+/download$")
OLD_TYPES = {"weight": "training", "weight_and_optimizer": "training_with_optimizer"}
CHECKPOINT_TYPES = {"weight", "weight_and_optimizer", "sampling"}
OPERATIONS = "/api/v1/operations/"
SESSIONS = "/api/v1/sessions"
STORAGE = "/storage/"
MODEL = re.compile(r"^/api/v1/models/[^/]+$")
CREATE_MODEL = re.compile(r"^/api/v1/sessions/[^/]+/models$")
TERMINATE = re.compile(r"^/api/v1/models/[^/]+/terminate$")
TTL = re.compile(r"^/api/v1/models/[^/]+/checkpoints/ttl$")
CHECKPOINT = re.compile(r"^/api/v1/checkpoints/[^/]+$")
ARTIFACT = re.compile(r"^/api/v1/artifacts/[^/]+$")
LOWERCASE_TIME = re.compile(rb'"(\d{4}-\d\d-\d\d)T([0-9:.]+)(?:Z|\+00:00)"')
# The codes an independent server gave the loads it accepted and then failed.
FAILED_LOAD_CODES = {404: "checkpoint_not_found", 422: "no_optimizer_state"}
OWN_KINDS = {
    "forward_backward": "fwd_bwd",
    "optim_step": "optim",
    "save_checkpoint": "save",
    "load_checkpoint": "load",
    "export_checkpoint": "export",
    "export_model_weights": "export",
}
KNOWN_METHODS = {"GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"}


class Drift(enum.StrEnum):
    NONE = "none"
    # 1. save returned 201 synchronously, with the checkpoint.
    SYNC_SAVE = "sync_save"
    # 2. `checkpoint_type` instead of `type`.
    CHECKPOINT_TYPE = "checkpoint_type"
    # 3. the type values `training` and `training_with_optimizer`.
    OLD_TYPE_VALUES = "old_type_values"
    # 4. load addressed by `checkpoint_id` instead of `path`.
    LOAD_BY_ID = "load_by_id"
    # 5. save returned {"checkpoint": ..., "operation": ...} instead of a flat Operation.
    NESTED_SAVE = "nested_save"
    # Then: the load operation never left `pending`.
    STUCK_LOAD = "stuck_load"
    # 3. again, as the requests see it: every save refused (422), whatever its `type`.
    REFUSED_SAVES = "refused_saves"
    # Artifact shapes: a descriptor's sha256 in uppercase hex; a descriptor without `files`;
    # an export Operation whose `kind` is an artifact kind (clients take it for the artifact).
    UPPERCASE_SHA256 = "uppercase_sha256"
    # An export's Operation answered 200, not 202 (as a server that answers every
    # accepted POST 200 may): its body is still an Operation, told by its `kind`.
    EXPORT_200_OPERATION = "export_200_operation"
    # ... or 201, as a server that answers every POST that creates something 201 may.
    EXPORT_201_OPERATION = "export_201_operation"
    MISSING_FILES = "missing_files"
    # No drift: a descriptor whose files have neither `size` nor `sha256`, which the wire
    # sheet allows ("then nothing can be verified or skipped").
    UNVERIFIABLE_FILES = "unverifiable_files"
    OPERATION_ARTIFACT_KIND = "operation_artifact_kind"
    # No drift: a server without `operation-details` whose Operations carry a `kind` in
    # words of its own (`save`, `load`, `export`...), which the wire leaves open.
    OWN_OPERATION_KINDS = "own_operation_kinds"
    # No drift: a checkpoint left out of the first two listings that would show it, as a
    # server whose listing lags its saves may (the sheet does not say a list shows a save
    # at once).
    LISTING_LAG = "listing_lag"
    # Each checkpoint listed twice.
    LISTED_TWICE = "listed_twice"
    # Checkpoint listings that ignore the cursor sent and give a new one on every page.
    ENDLESS_CURSORS = "endless_cursors"
    # No drift: a request that fails the server's checks refused with 422 `invalid_request`,
    # as FastAPI refuses one (the wire states no status for it), not 400.
    INVALID_AS_422 = "invalid_as_422"
    # A server that sends no `X-Request-ID` (the wire's response header) on any reply.
    NO_REQUEST_ID = "no_request_id"
    # A done operation's result at the Operation's top level, with no `response`.
    FLAT_RESULT = "flat_result"
    # Listings that check `limit` and `offset` and then answer every item.
    IGNORED_LIMIT = "ignored_limit"
    # Error bodies without their required `retryable`.
    NO_RETRYABLE = "no_retryable"
    # A server without `GET /supported-models` (404), the one route of its kind missing.
    NO_SUPPORTED_MODELS = "no_supported_models"
    # A busy server: each save's first attempt (per Idempotency-Key) gets 503, try later.
    BUSY_SAVES = "busy_saves"
    # A busy server: the first attempt of every distinct request (by method, path, range,
    # idempotency key and body; storage included) gets 503, try later.
    BUSY = "busy"
    # A method no route of the server knows (TRACE, say): 501 with an Error body, as RFC 9110
    # has it, or 405 without the `Allow` header RFC 9110 requires with it.
    # Refusals in shapes the wire allows besides the emulator's: a load the emulator refuses
    # (an unknown checkpoint, no optimizer state) is accepted as an operation that ends in
    # `error`; a duplicate checkpoint name is 409 with another code than the emulator's.
    REFUSED_LOADS_FAIL_LATER = "refused_loads_fail_later"
    OTHER_CONFLICT_CODE = "other_conflict_code"
    # A server that opens a session without the key (the sheet's SDK omits the header when
    # it has none): schemathesis' auth checks then create sessions through requests that
    # pass no hook of the kit.
    OPEN_SESSIONS = "open_sessions"
    UNKNOWN_METHOD_501 = "unknown_method_501"
    UNKNOWN_METHOD_405_WITHOUT_ALLOW = "unknown_method_405_without_allow"
    # The same answered by the HTTP layer in HTML (http.server's 501 page): no Error body.
    UNKNOWN_METHOD_HTML_501 = "unknown_method_html_501"
    # No drift: a save's (and an export's) POST answered once it is done, `done` without its
    # `response` (the sheet's POST reply is `{"id", "status", "response"?}`); the
    # operation's own GET gives the result.
    DONE_WITHOUT_RESPONSE = "done_without_response"
    # Storage URLs that expire early (the sheet: "401/403 once expired; a client then
    # fetches the descriptor again for fresh URLs"): each URL serves one request, the next
    # with it gets 401; the descriptor gives fresh ones, and claims a far expiry.
    URLS_SERVE_ONCE = "urls_serve_once"
    # The same, answered as GCS answers an expired signed URL: 400 with the XML code
    # ``ExpiredToken``.
    URLS_SERVE_ONCE_GCS = "urls_serve_once_gcs"
    # No drift: storage on a flaky network. The first GET of each file (and of each range)
    # is cut mid-body, the connection reset; the same GET again is served whole.
    STORAGE_RESETS = "storage_resets"
    # Every read of a model with the key answers 404, as if none were the run's, and a
    # method no route knows gets 501 (as UNKNOWN_METHOD_501): the read never serves a
    # positive case, and its coverage scenario ends at the TRACE, after the request
    # without the key, so schemathesis sees mostly 401s there.
    UNREAD_MODELS = "unread_models"
    # A key refused by one operation alone (terminate: 401 with the key too), which the
    # kit's three probes of the key at the start cannot see.
    TERMINATE_REFUSES_THE_KEY = "terminate_refuses_the_key"
    # No drift: a server that no longer finds a terminated model (the real one need not,
    # README): its GET and a second terminate answer 404.
    FORGETS_TERMINATED = "forgets_terminated"
    # A server that holds to the wire sheet's letter where the spec says more or other:
    # it opens a session for a request without a body, takes any `limit` of the supported
    # models, refuses an integer written with a fraction (`255.0`: the sheet says int), and
    # takes a save's `"name": null` as no name (the sheet's `"name"?: str`).
    SHEET_TO_THE_LETTER = "sheet_to_the_letter"
    # A terminate and a TTL change, whose reply the sheet does not give, answered 204 with no
    # body, as the spec allows.
    BODILESS_REPLIES = "bodiless_replies"
    # A reply lost on the way (the connection closed mid-body, the work done): the first
    # save sent again with its Idempotency-Key, as the extension probe does.
    LOST_REPEATED_SAVE = "lost_repeated_save"
    # The same for the first save sent without an Idempotency-Key.
    LOST_SAVE = "lost_save"
    # No drift: a network that loses replies. The first request of each kind that acts
    # (a model's create, a save, a load, an export, a checkpoint's or an artifact's delete)
    # to each session, model, checkpoint and artifact is acted on, then its connection
    # closed before the reply: a transport fault, retried where that is safe.
    DROP_FIRST = "drop_first"
    # The first export of each checkpoint acted on and its reply lost, as by DROP_FIRST;
    # the export sent again then refused with 409 `export_in_progress`, where the spec
    # answers a repeat 202 with the running export's Operation (or 200 with its Artifact).
    LOST_EXPORT_REPEAT_409 = "lost_export_repeat_409"
    # A TTL change answered 204 and never applied.
    TTL_IGNORED = "ttl_ignored"
    # Checkpoints with their null `ttl_seconds` and `expires_at` left out (the spec
    # requires both): the facade reads them as null, the kit names the server.
    OMITTED_NULLS = "omitted_nulls"
    # No drift: every time of every reply in RFC 3339's lowercase form (`t`, `z`), which
    # it allows (section 5.6) and `datetime.fromisoformat` refuses.
    LOWERCASE_TIMES = "lowercase_times"
    # No drift: a body that lacks a field the sheet gives it without `?` refused with 400,
    # as a server written from the sheet may: an export's `{"format", "merge_adapter",
    # "ttl_seconds", "force"}`, a LoRA model's `lora_config` with its rank and three flags
    # (the real SDK always sends them).
    SHEET_BODIES_IN_FULL = "sheet_bodies_in_full"
    # No drift: bounds the sheet does not state not held, as a server written from it may
    # not. A TTL beyond the spec's maximum is taken and shown as sent (the app is given the
    # maximum), a session's over-long `project_id` and a model's `training_max_sequence_length`
    # below the minimum are taken.
    UNBOUNDED = "unbounded"


class Reply:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    async def send(self, send: Send, body: bytes | None = None, status: int | None = None) -> None:
        content = self.body if body is None else body
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(content)).encode()))
        await send(
            {"type": "http.response.start", "status": status or self.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": content})


async def _read(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def call(app: ASGIApp, scope: Scope, body: bytes) -> Reply:
    """The app's whole reply to one request."""
    sent = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a disconnect never comes; the reply ends the call
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Reply(status, headers, b"".join(chunks))


def _without_request_id(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
            ]
        await send(message)

    return sending


def _json_reply(status: int, body: bytes) -> Reply:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-request-id", f"req-drift-{uuid.uuid4().hex[:8]}".encode()),
    ]
    return Reply(status, headers, body)


_MAX_TTL = limits.TTL_SECONDS_MAXIMUM
_TAKEN_TTL = re.compile(rb'("ttl_seconds":\s*)%d\b' % _MAX_TTL)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` as a JSON object, or ``None`` when it is none."""
    try:
        sent = json.loads(body or b"null")
    except ValueError:
        return None
    return sent if isinstance(sent, dict) else None


def _within_bounds(body: bytes) -> tuple[bytes, int | None]:
    """``body`` brought within the spec's bounds for the app, and a TTL beyond its maximum."""
    sent = _json_object(body)
    if sent is None:
        return body, None
    ttl, project = sent.get("ttl_seconds"), sent.get("project_id")
    length = sent.get("training_max_sequence_length")
    within = dict(sent)
    if type(ttl) is int and ttl > _MAX_TTL:
        within["ttl_seconds"] = _MAX_TTL
    if isinstance(project, str):
        within["project_id"] = project[: limits.CREATE_SESSION_REQUEST_PROJECT_ID_MAX_LENGTH]
    if type(length) is int:
        minimum = limits.CREATE_MODEL_REQUEST_TRAINING_MAX_SEQUENCE_LENGTH_MINIMUM
        within["training_max_sequence_length"] = max(length, minimum)
    if within == sent:
        return body, None
    return json.dumps(within).encode(), ttl if within.get("ttl_seconds") != ttl else None


def _missing_sheet_field(path: str, body: bytes) -> str | None:
    """The first field the sheet gives a POST's body (no `?`) that ``body`` lacks."""
    sent = _json_object(body)
    if sent is None:
        return None
    if EXPORT.match(path):
        wanted, where = ("format", "merge_adapter", "ttl_seconds", "force"), sent
    elif CREATE_MODEL.match(path) and sent.get("training_mode", "lora") == "lora":
        if not isinstance(sent.get("lora_config"), dict):
            return "lora_config"
        wanted, where = ("rank", "train_unembed", "train_mlp", "train_attn"), sent["lora_config"]
    else:
        return None
    return next((f for f in wanted if f not in where), None)


def _error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"error": code, "message": message, "retryable": False}).encode()
    return _json_reply(status, body)


def _busy() -> Reply:
    """503, try again at once."""
    busy = _error(503, "unavailable", "busy, try again later")
    busy.body = busy.body.replace(b'"retryable": false', b'"retryable": true')
    busy.headers.append((b"retry-after", b"0"))
    return busy


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("-inf")


def _integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


def _replay(body: bytes) -> Receive:
    """A receive that gives ``body`` again, then waits for a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _rewrite_checkpoints(value: Any, drift: Drift) -> Any:
    """Every checkpoint-shaped object in a reply, in the drift's old shape."""
    if isinstance(value, list):
        return [_rewrite_checkpoints(v, drift) for v in value]
    if not isinstance(value, dict):
        return value
    value = {k: _rewrite_checkpoints(v, drift) for k, v in value.items()}
    is_checkpoint = (
        isinstance(value.get("path"), str)
        and value["path"].startswith("weaver://")
        and value.get("type") in CHECKPOINT_TYPES
    )
    if is_checkpoint and drift is Drift.CHECKPOINT_TYPE:
        value = {("checkpoint_type" if k == "type" else k): v for k, v in value.items()}
    elif is_checkpoint and drift is Drift.OLD_TYPE_VALUES:
        value["type"] = OLD_TYPES.get(value["type"], value["type"])
    elif is_checkpoint and drift is Drift.OMITTED_NULLS:
        nulls = ("ttl_seconds", "expires_at")
        value = {k: v for k, v in value.items() if not (k in nulls and v is None)}
    return value


LISTINGS = ("/api/v1/supported-models", "/api/v1/models")


class DriftMiddleware:
    """Wraps the emulator's app so that it speaks ``drift``.

    Args:
        app: The emulator's ASGI app.
        drift: Which historical shape to speak.
        served_spec: If given, the bytes served at GET /openapi.yaml instead of the app's.
        key: A key the app accepts, which ``Drift.OPEN_SESSIONS`` sends for every session.
    """

    def __init__(
        self,
        app: ASGIApp,
        drift: Drift,
        *,
        served_spec: bytes | None = None,
        key: str | None = None,
    ) -> None:
        self.app = app
        self.drift = drift
        self.served_spec = served_spec
        self.key = key
        #: The ids of the sessions opened, with or without a key (``Drift.OPEN_SESSIONS``).
        self.sessions: set[str] = set()
        self.loads: set[str] = set()
        self.keys: set[bytes] = set()
        self.terminated: set[str] = set()  # models terminated (FORGETS_TERMINATED)
        self.exports: set[str] = set()
        # Per checkpoint id: how many listings would have shown it (LISTING_LAG).
        self.listed: dict[str, int] = {}
        self.failed_loads: dict[str, bytes] = {}
        #: Storage URLs used (``Drift.URLS_SERVE_ONCE``), and how many were refused.
        self.used_urls: set[str] = set()
        self.expired = 0
        self.resets = 0  # storage GETs cut mid-body (STORAGE_RESETS)
        self.descriptors = 0
        self.lowercased = 0  # times written in lowercase (LOWERCASE_TIMES)
        #: Whether a reply was lost (``Drift.LOST_REPEATED_SAVE``).
        self.lost = False
        #: The kinds and paths of the requests whose first reply was lost
        #: (``Drift.DROP_FIRST``).
        self.dropped: set[tuple[str, str]] = set()
        #: Requests taken beyond the spec's bounds, the last TTL of them, and the replies
        #: that showed it (``Drift.UNBOUNDED``).
        self.taken_beyond = 0
        self.ttl_taken: int | None = None
        self.ttl_shown = 0
        self.null_names = 0  # saves whose null `name` was taken as none (SHEET_TO_THE_LETTER)
        self.pages = 0  # checkpoint listings answered (ENDLESS_CURSORS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if self.served_spec is not None and method == "GET" and path == "/openapi.yaml":
            reply = Reply(200, [(b"content-type", b"application/yaml")], self.served_spec)
            await reply.send(send)
            return
        if self.drift is Drift.NONE:
            await self.app(scope, receive, send)
            return
        if self.drift is Drift.NO_REQUEST_ID:
            await self.app(scope, receive, _without_request_id(send))
            return
        unknown_501 = (Drift.UNKNOWN_METHOD_501, Drift.UNREAD_MODELS)
        if method not in KNOWN_METHODS and self.drift in unknown_501:
            await _error(501, "not_implemented", f"no method {method}").send(send)
            return
        if method not in KNOWN_METHODS and self.drift is Drift.UNKNOWN_METHOD_HTML_501:
            page = b"<html><body><h1>Error response</h1><p>Error code: 501</p></body></html>"
            await Reply(501, [(b"content-type", b"text/html")], page).send(send)
            return
        if method not in KNOWN_METHODS and self.drift is Drift.UNKNOWN_METHOD_405_WITHOUT_ALLOW:
            await _error(405, "method_not_allowed", f"no method {method}").send(send)
            return
        if self.drift is Drift.OPEN_SESSIONS and method == "POST" and path == SESSIONS:
            keyed = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-weaver-api-key"]
            keyed.append((b"x-weaver-api-key", (self.key or "").encode()))
            reply = await call(self.app, {**scope, "headers": keyed}, await _read(receive))
            with contextlib.suppress(ValueError, AttributeError):
                self.sessions.add(reply.json()["id"])
            await reply.send(send)
            return
        serve_once = (Drift.URLS_SERVE_ONCE, Drift.URLS_SERVE_ONCE_GCS)
        if self.drift in serve_once and path.startswith(STORAGE):
            url = f"{path}?{scope.get('query_string', b'').decode()}"
            if url in self.used_urls:
                self.expired += 1
                expired = _error(401, "expired", "the storage URL expired")
                if self.drift is Drift.URLS_SERVE_ONCE_GCS:
                    page = b"<?xml version='1.0'?><Error><Code>ExpiredToken</Code></Error>"
                    expired = Reply(400, [(b"content-type", b"application/xml")], page)
                await expired.send(send)
                return
            self.used_urls.add(url)
        if self.drift is Drift.STORAGE_RESETS and path.startswith(STORAGE):
            headers = dict(scope["headers"])
            url = f"{path}?{scope.get('query_string', b'').decode()} {headers.get(b'range')!r}"
            if url not in self.used_urls:
                self.used_urls.add(url)
                self.resets += 1
                reply = await call(self.app, scope, await _read(receive))
                start = {"type": "http.response.start", "status": reply.status}
                framing = [(b"content-length", str(len(reply.body)).encode())]
                await send({**start, "headers": framing})
                await send(
                    {"type": "http.response.body", "body": reply.body[:1], "more_body": True}
                )
                raise ConnectionResetError("the connection was reset")
        if self.drift is Drift.ENDLESS_CURSORS and method == "GET" and LIST_CHECKPOINTS.match(path):
            query = parse_qsl(scope.get("query_string", b"").decode())
            without = urlencode([(k, v) for k, v in query if k != "cursor"]).encode()
            reply = await call(self.app, {**scope, "query_string": without}, b"")
            data = _json_object(reply.body)
            if reply.status == 200 and data is not None:
                self.pages += 1
                data["next_cursor"] = f"page-{self.pages}"
                await reply.send(send, json.dumps(data).encode())
            else:
                await reply.send(send)
            return
        if self.drift is Drift.REFUSED_SAVES and method == "POST" and SAVE.match(path):
            await _error(
                422, "invalid_request", "type: not training or training_with_optimizer"
            ).send(send)
            return
        if self.drift is Drift.UNREAD_MODELS and method == "GET" and MODEL.match(path):
            sent = dict(scope["headers"]).get(b"x-weaver-api-key")
            if sent is not None and sent.decode(errors="replace") == self.key:
                await _error(404, "not_found", f"no model at {path}").send(send)
                return
        if self.drift is Drift.FORGETS_TERMINATED and (
            (method == "POST" and TERMINATE.match(path)) or (method == "GET" and MODEL.match(path))
        ):
            model = path.removesuffix("/terminate")
            if model in self.terminated:
                await _error(404, "not_found", f"no model at {model}").send(send)
                return
            if method == "POST":
                self.terminated.add(model)
        if self.drift is Drift.TERMINATE_REFUSES_THE_KEY and TERMINATE.match(path):
            await _error(401, "unauthorized", "this key may not terminate models").send(send)
            return
        if self.drift is Drift.NO_SUPPORTED_MODELS and path == LISTINGS[0]:
            await _error(404, "not_found", f"no route {path}").send(send)
            return
        if self.drift is Drift.BUSY_SAVES and method == "POST" and SAVE.match(path):
            key = dict(scope["headers"]).get(b"idempotency-key")
            if key is not None and key not in self.keys:
                self.keys.add(key)
                await _busy().send(send)
                return
        body = await _read(receive)
        if self.drift is Drift.UNBOUNDED and method in ("POST", "PATCH"):
            within, ttl = _within_bounds(body)
            if within != body:
                self.taken_beyond += 1
                self.ttl_taken = ttl or self.ttl_taken
                length = (b"content-length", str(len(within)).encode())
                kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
                scope, body = {**scope, "headers": [*kept, length]}, within
        if self.drift is Drift.SHEET_BODIES_IN_FULL and method == "POST":
            missing = _missing_sheet_field(path, body)
            if missing is not None:
                await _error(400, "invalid_request", f"missing field {missing!r}").send(send)
                return
        if self.drift is Drift.SHEET_TO_THE_LETTER:
            if method == "POST" and path == SESSIONS and not body.strip():
                body = b"{}"
                typed = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                scope = {**scope, "headers": [*typed, (b"content-type", b"application/json")]}
            sent = _json_object(body) if method == "POST" and SAVE.match(path) else None
            if sent is not None and "name" in sent and sent["name"] is None:
                self.null_names += 1
                del sent["name"]
                body = json.dumps(sent).encode()
                length = (b"content-length", str(len(body)).encode())
                kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
                scope = {**scope, "headers": [*kept, length]}
            if path == LISTINGS[0]:
                query = parse_qsl(scope.get("query_string", b"").decode())
                capped = [(k, min(v, "1000", key=_number) if k == "limit" else v) for k, v in query]
                scope = {**scope, "query_string": urlencode(capped).encode()}
            with contextlib.suppress(ValueError):
                if _integral_float(json.loads(body or b"null")):
                    # After the app, so that a method the route lacks still gets its 405.
                    reply = await call(self.app, scope, body)
                    if 200 <= reply.status < 300:
                        reply = _error(400, "invalid_request", "a number must be an int")
                    await reply.send(send)
                    return
        bodiless = (method == "POST" and TERMINATE.match(path)) or (
            method == "PATCH" and TTL.match(path)
        )
        if self.drift is Drift.BODILESS_REPLIES and bodiless:
            reply = await call(self.app, scope, body)
            if 200 <= reply.status < 300:
                kept = [(k, v) for k, v in reply.headers if k.lower() != b"content-type"]
                reply = Reply(204, kept, b"")
            await reply.send(send)
            return
        if self.drift is Drift.TTL_IGNORED and method == "PATCH" and TTL.match(path):
            await Reply(204, [(b"x-request-id", b"req-ttl")], b"").send(send)
            return
        losing = (Drift.LOST_REPEATED_SAVE, Drift.LOST_SAVE)
        if self.drift in losing and method == "POST" and SAVE.match(path):
            key = dict(scope["headers"]).get(b"idempotency-key")
            if self.drift is Drift.LOST_SAVE:
                lose = key is None
            else:
                lose = key is not None and key in self.keys
            if lose and not self.lost:
                self.lost = True
                reply = await call(self.app, scope, body)
                start = {"type": "http.response.start", "status": reply.status}
                framing = [(b"content-length", str(len(reply.body)).encode())]
                await send({**start, "headers": framing})
                await send({"type": "http.response.body", "body": reply.body[:1]})
                raise ConnectionResetError("the reply is lost")
            if key is not None:
                self.keys.add(key)
        acting = {"create": CREATE_MODEL, "save": SAVE, "load": LOAD, "export": EXPORT}
        kind = next((k for k, r in acting.items() if method == "POST" and r.match(path)), None)
        if method == "DELETE" and (CHECKPOINT.match(path) or ARTIFACT.match(path)):
            kind = "delete"
        if self.drift is Drift.LOST_EXPORT_REPEAT_409 and kind == "export":
            if (kind, path) in self.dropped:
                await _error(409, "export_in_progress", "an export is running").send(send)
                return
            dropping = True
        else:
            dropping = self.drift is Drift.DROP_FIRST
        if dropping and kind is not None and (kind, path) not in self.dropped:
            reply = await call(self.app, scope, body)
            if not 200 <= reply.status < 300:
                await reply.send(send)
                return
            self.dropped.add((kind, path))
            start = {"type": "http.response.start", "status": reply.status}
            framing = [(b"content-length", str(len(reply.body)).encode())]
            await send({**start, "headers": framing})
            await send({"type": "http.response.body", "body": reply.body[:1]})
            raise ConnectionResetError("the reply is lost")
        if self.drift is Drift.BUSY:
            headers = dict(scope["headers"])
            key = b" ".join(
                [
                    method.encode(),
                    scope.get("raw_path") or path.encode(),
                    headers.get(b"range", b""),
                    headers.get(b"idempotency-key", b""),
                    body,
                ]
            )
            if key not in self.keys:
                self.keys.add(key)
                await _busy().send(send)
                return
            await self.app(scope, _replay(body), send)
            return
        if self.drift is Drift.LOAD_BY_ID and method == "POST" and LOAD.match(path):
            sent = _json_object(body)
            if sent is not None and "path" in sent:
                await _error(
                    400,
                    "invalid_request",
                    "body.checkpoint_id: field required; body.path: unexpected field",
                ).send(send)
                return
        if self.drift is Drift.IGNORED_LIMIT and method == "GET" and path in LISTINGS:
            reply = await call(self.app, scope, body)
            if reply.status == 200:  # the parameters were valid: answer as if not given
                reply = await call(self.app, {**scope, "query_string": b""}, body)
            await reply.send(send)
            return
        if self.drift is Drift.REFUSED_LOADS_FAIL_LATER and path.startswith(OPERATIONS):
            failed = self.failed_loads.get(path.removeprefix(OPERATIONS))
            if failed is not None:
                await _json_reply(200, failed).send(send)
                return
        reply = await call(self.app, scope, body)
        if self.drift is Drift.REFUSED_LOADS_FAIL_LATER and method == "POST" and LOAD.match(path):
            code = FAILED_LOAD_CODES.get(reply.status)
            if code is not None:
                operation_id = f"op-failed-{uuid.uuid4().hex}"
                self.failed_loads[operation_id] = json.dumps(
                    {
                        "id": operation_id,
                        "status": "error",
                        "error": code,
                        "error_code": code,
                        "error_message": reply.json().get("message", code),
                        "retryable": False,
                    }
                ).encode()
                accepted = {"id": operation_id, "status": "pending"}
                await reply.send(send, json.dumps(accepted).encode(), status=202)
                return
        if self.drift is Drift.OTHER_CONFLICT_CODE and reply.status == 409:
            data = reply.json()
            if data.get("error") == "checkpoint_exists":
                data["error"] = "already_exists"
                await reply.send(send, json.dumps(data).encode())
                return
        await self._rewrite(scope, body, reply, send)

    async def _rewrite(self, scope: Scope, body: bytes, reply: Reply, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        try:
            data = reply.json()
        except ValueError:
            await reply.send(send)
            return
        drift = self.drift
        if drift is Drift.NO_RETRYABLE and reply.status >= 400 and isinstance(data, dict):
            data.pop("retryable", None)
            await reply.send(send, json.dumps(data).encode())
            return
        is_save = method == "POST" and SAVE.match(path) and reply.status == 202
        if drift is Drift.SYNC_SAVE and is_save:
            done = await self._wait(scope, data["id"])
            await reply.send(send, json.dumps(done.get("response")).encode(), status=201)
            return
        is_export = method == "POST" and EXPORT.match(path) and reply.status == 202
        if drift is Drift.DONE_WITHOUT_RESPONSE and (is_save or is_export):
            done = await self._wait(scope, data["id"])
            done.pop("response", None)
            await reply.send(send, json.dumps(done).encode())
            return
        if drift is Drift.NESTED_SAVE and is_save:
            request = json.loads(body)
            pending = {
                "name": request.get("name"),
                "type": request.get("type"),
                "status": "pending",
            }
            nested = {"checkpoint": pending, "operation": data}
            await reply.send(send, json.dumps(nested).encode())
            return
        if drift is Drift.STUCK_LOAD:
            if method == "POST" and LOAD.match(path) and reply.status == 202:
                self.loads.add(data["id"])
            if self.loads and isinstance(data, dict) and data.get("id") in self.loads:
                stuck = {k: v for k, v in data.items() if k not in ("response", "error_code")}
                stuck["status"] = "pending"
                stuck["pending_info"] = {
                    "code": "waiting_for_resources",
                    "message": "waiting for a trainer",
                }
                await reply.send(send, json.dumps(stuck).encode())
                return
        is_poll = method == "GET" and path.startswith("/api/v1/operations/")
        flat = is_poll and isinstance(data, dict) and isinstance(data.get("response"), dict)
        if drift is Drift.FLAT_RESULT and flat:
            result = data.pop("response")
            await reply.send(send, json.dumps({**result, **data}).encode())
            return
        if drift in (Drift.CHECKPOINT_TYPE, Drift.OLD_TYPE_VALUES) or (
            drift is Drift.OMITTED_NULLS and not path.startswith(STORAGE)
        ):
            await reply.send(send, json.dumps(_rewrite_checkpoints(data, drift)).encode())
            return
        if drift is Drift.UNBOUNDED and self.ttl_taken is not None:
            shown, count = _TAKEN_TTL.subn(rb"\g<1>%d" % self.ttl_taken, reply.body)
            self.ttl_shown += count
            await reply.send(send, shown)
            return
        if drift is Drift.LOWERCASE_TIMES:
            lowered, count = LOWERCASE_TIME.subn(rb'"\1t\2z"', reply.body)
            self.lowercased += count
            await reply.send(send, lowered)
            return
        is_descriptor = method == "GET" and DOWNLOAD.match(path) and reply.status == 200
        if drift is Drift.UPPERCASE_SHA256 and is_descriptor:
            for item in data.get("files", []):
                item["sha256"] = item["sha256"].upper()
            await reply.send(send, json.dumps(data).encode())
            return
        if drift in (Drift.URLS_SERVE_ONCE, Drift.URLS_SERVE_ONCE_GCS) and is_descriptor:
            self.descriptors += 1
            for item in data.get("files", []):
                item["url"] += f"&fresh={self.descriptors}"
            await reply.send(send, json.dumps(data).encode())
            return
        if drift is Drift.UNVERIFIABLE_FILES and is_descriptor:
            for item in data.get("files", []):
                item.pop("size", None)
                item.pop("sha256", None)
            await reply.send(send, json.dumps(data).encode())
            return
        if drift is Drift.MISSING_FILES and is_descriptor:
            data.pop("files", None)
            await reply.send(send, json.dumps(data).encode())
            return
        is_export = method == "POST" and EXPORT.match(path) and reply.status == 202
        if drift is Drift.EXPORT_200_OPERATION and is_export:
            await reply.send(send, status=200)
            return
        if drift is Drift.EXPORT_201_OPERATION and is_export:
            await reply.send(send, status=201)
            return
        listing = method == "GET" and LIST_CHECKPOINTS.match(path) and reply.status == 200
        if drift is Drift.LISTED_TWICE and listing and isinstance(data, dict):
            data["items"] = [i for i in data.get("items", []) for _ in range(2)]
            await reply.send(send, json.dumps(data).encode())
            return
        if drift is Drift.LISTING_LAG and listing and isinstance(data, dict):
            for item in data.get("items", []):
                self.listed[item["id"]] = self.listed.get(item["id"], 0) + 1
            data["items"] = [i for i in data.get("items", []) if self.listed[i["id"]] > 2]
            await reply.send(send, json.dumps(data).encode())
            return
        if drift is Drift.INVALID_AS_422 and reply.status == 400:
            await reply.send(send, status=422)
            return
        is_operation = isinstance(data, dict) and isinstance(data.get("kind"), str)
        if drift is Drift.OWN_OPERATION_KINDS and is_operation and "status" in data:
            data["kind"] = OWN_KINDS.get(data["kind"], data["kind"])
            await reply.send(send, json.dumps(data).encode())
            return
        if drift is Drift.OPERATION_ARTIFACT_KIND:
            if method == "POST" and EXPORT.match(path) and reply.status == 202:
                self.exports.add(data["id"])
            if isinstance(data, dict) and data.get("id") in self.exports:
                data["kind"] = "hf_adapter"
                await reply.send(send, json.dumps(data).encode())
                return
        await reply.send(send)

    async def _wait(self, scope: Scope, operation_id: str) -> Any:
        """Poll the app until the operation is over (the old server answered when it was)."""
        poll = dict(scope)
        poll["headers"] = [
            (k, v)
            for k, v in scope["headers"]
            if k.lower() not in (b"content-length", b"content-type")
        ]
        poll.update(
            method="GET",
            path=f"/api/v1/operations/{operation_id}",
            raw_path=f"/api/v1/operations/{operation_id}".encode(),
            query_string=b"wait=5",
        )
        for _ in range(20):
            data = (await call(self.app, poll, b"")).json()
            if data.get("status") in ("done", "error"):
                return data
        raise RuntimeError(f"operation {operation_id} did not finish")
