"""The ASGI app: routes of openapi.yaml, request ids, auth, error bodies."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from weaver_client import limits

from ._auth import Tenants
from ._config import EmulatorConfig
from ._errors import ApiError, invalid
from ._faults import API_PREFIX, FaultMiddleware, new_request_id
from ._service import Emulator, RawJson, Reply, canonical, fingerprint
from ._storage import PathSend, Transfers, serve_storage
from ._store import disk_full
from ._validation import (
    body_is_valid,
    check_body,
    check_checkpoint_id,
    check_idempotency_key,
    check_resource_id,
    parse_json,
    query_int,
    query_number,
)

__all__ = ["EmulatorApp", "create_app"]

log = logging.getLogger("weaver_facade.emulator")

Handler = Callable[[Request, Emulator, str], Awaitable[Reply]]


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def _error_response(exc: ApiError, scope: Scope) -> JSONResponse:
    request_id = _state(scope).get("request_id")
    return JSONResponse(exc.body(request_id), exc.status, headers=exc.headers)


class RequestIdMiddleware:
    """Give every reply, errors and 401s included, an ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _state(scope).setdefault("request_id", new_request_id())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuse a request body larger than ``limit`` bytes with 413, without buffering it:
    at once when its ``Content-Length`` says so, else (chunked) as soon as what arrived
    passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            413, "payload_too_large", f"the request body is larger than {self.limit} bytes"
        )
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await _error_response(too_large, scope)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise too_large  # the endpoint answers it, as any ApiError
            return message

        await self.app(scope, counted, send)


class EncodedSlashMiddleware:
    """Keep ``%2F`` inside a path segment instead of letting it split the segment.

    Servers decode the path before routing, so ``/models/m%2F1`` would become
    ``/models/m/1`` and miss every route (404). Ids never contain ``/``; keeping
    the escape lets the path parameter reach validation and get a 400 that
    names it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: bytes | None = scope.get("raw_path") if scope["type"] == "http" else None
        if raw is not None and b"%2f" in raw.lower():
            segments = raw.split(b"?", 1)[0].split(b"/")
            path = "/".join(
                unquote_to_bytes(seg.replace(b"%2F", b"%252F").replace(b"%2f", b"%252f")).decode(
                    "utf-8", "replace"
                )
                for seg in segments
            )
            scope = {**scope, "path": path}
        await self.app(scope, receive, send)


class AuthMiddleware:
    """Map ``X-WEAVER-API-KEY`` to a tenant; refuse /api/v1 requests without a valid key."""

    def __init__(self, app: ASGIApp, tenants: Tenants) -> None:
        self.app = app
        self.tenants = tenants

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        key = None
        for name, value in scope.get("headers", []):
            if name == b"x-weaver-api-key":
                key = value.decode("latin-1")
                break
        tenant = self.tenants.tenant_of(key)
        if tenant is None:
            exc = ApiError(401, "unauthorized", "missing or invalid X-WEAVER-API-KEY")
            await _error_response(exc, scope)(scope, receive, send)
            return
        _state(scope)["tenant"] = tenant
        await self.app(scope, receive, send)


class EmulatorApp(Starlette):
    """Starlette with request ids and faults outside its error middleware.

    Starlette's ServerErrorMiddleware is always outermost; wrapping the
    built stack puts an ``X-Request-ID`` on every reply and lets the fault
    layer reach the server's connection.
    """

    emulator: Emulator
    faults: FaultMiddleware | None = None
    transfers: Transfers

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack inside encoded slashes, the body limit, request ids, then
        zero-copy file replies, all inside the faults."""
        stack = PathSend(
            RequestIdMiddleware(
                BodyLimitMiddleware(
                    EncodedSlashMiddleware(super().build_middleware_stack()),
                    self.emulator.config.max_body_size,
                )
            ),
            self.transfers,
        )
        if self.faults is not None:
            self.faults.app = stack
            return self.faults
        return stack


# -- request helpers ----------------------------------------------------------


# The event loop serves every other request, long-polls included, so it only asks the
# compiled validator whether a body of up to this size is valid (about a millisecond).
# Larger bodies, and every refused one, are checked on a worker thread: explaining a
# refusal walks every token in pure Python (0.4 s for 64 KiB of small integers).
INLINE_CHECK_BYTES = 64 * 1024


def _parse_and_check(raw: bytes, schema: str) -> Any:
    body = parse_json(raw, required=True)
    check_body(schema, body)
    return body


def _refuse_multipart(request: Request) -> None:
    """The official SDK's ``http-binary`` tensor transport posts training passes as
    multipart (a JSON manifest and a binary tensor pack), which is not on the wire this
    server speaks: say so, rather than that the body is not JSON."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type.startswith("multipart/"):
        raise invalid(
            "body",
            f"is {media_type}, which this server does not take: it reads JSON only. The "
            "official SDK sends multipart with its http-binary tensor transport; its default "
            "one sends JSON (leave WEAVER_TENSOR_TRANSPORT unset, or pass "
            "tensor_transport='default')",
        )


async def _body(request: Request, schema: str) -> Any:
    raw = await request.body()
    _refuse_multipart(request)
    if len(raw) > INLINE_CHECK_BYTES:
        return await run_in_threadpool(_parse_and_check, raw, schema)
    body = parse_json(raw, required=True)
    if not body_is_valid(schema, body):
        await run_in_threadpool(check_body, schema, body)
    return body


def _idempotency_key(request: Request) -> str | None:
    emulator: Emulator = request.app.state.emulator
    if not emulator.extensions.offers("idempotency-key"):
        return None  # a server without the extension never looks at the header
    return check_idempotency_key(request.headers.get("idempotency-key"))


def _fingerprint(request: Request, body: Any) -> str:
    return fingerprint(request.method, request.url.path, canonical(body))


def _path_id(request: Request, name: str) -> str:
    return check_resource_id(f"path.{name}", request.path_params[name])


def _uuid_param(request: Request, name: str) -> str:
    return check_checkpoint_id(f"path.{name}", request.path_params[name])


def endpoint(handler: Handler, path: str) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` as a Starlette endpoint of the spec's ``path``."""

    async def wrapped(request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        tenant: str = _state(request.scope)["tenant"]
        try:
            status, body = await handler(request, emulator, tenant)
        except ApiError as exc:
            return _error_response(exc, request.scope)
        except Exception as exc:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            message = "internal error"
            if isinstance(exc, sqlite3.Error) and disk_full(exc):  # which a client can relieve
                message += (
                    ": the server's disk is full; deleting checkpoints or artifacts frees space"
                )
            internal = ApiError(500, "internal", message, retryable=True)
            return _error_response(internal, request.scope)
        reply = emulator.extensions.strip(request.method, path, status, body)
        if isinstance(reply, dict) and isinstance(reply.get("response"), RawJson):
            return _spliced(reply, reply["response"], status)
        return JSONResponse(reply, status)

    return wrapped


def _spliced(reply: dict[str, Any], result: RawJson, status: int) -> Response:
    """``reply`` as JSON, with its stored ``response`` text spliced in as it is."""
    envelope = bytes(JSONResponse({**reply, "response": None}).body)  # a few hundred bytes
    content = envelope.replace(b'"response":null', b'"response":' + result.encode(), 1)
    return Response(content, status, media_type="application/json")


# -- routes -------------------------------------------------------------------


async def create_session(request: Request, emu: Emulator, tenant: str) -> Reply:
    key = _idempotency_key(request)
    body = await _body(request, "CreateSessionRequest")
    return emu.idempotent(
        tenant, key, _fingerprint(request, body), lambda: emu.create_session(tenant, body)
    )


async def get_session(request: Request, emu: Emulator, tenant: str) -> Reply:
    return emu.get_session(tenant, _path_id(request, "session_id"))


async def send_heartbeat(request: Request, emu: Emulator, tenant: str) -> Reply:
    session_id = _path_id(request, "session_id")
    key = _idempotency_key(request)
    # The real SDK sends an empty body; anything sent is ignored.
    return emu.idempotent(
        tenant, key, _fingerprint(request, None), lambda: emu.heartbeat(tenant, session_id)
    )


async def create_model(request: Request, emu: Emulator, tenant: str) -> Reply:
    session_id = _path_id(request, "session_id")
    key = _idempotency_key(request)
    body = await _body(request, "CreateModelRequest")
    return emu.idempotent(
        tenant,
        key,
        _fingerprint(request, body),
        lambda: emu.create_model(tenant, session_id, body),
    )


async def list_supported_models(request: Request, emu: Emulator, tenant: str) -> Reply:
    params = request.query_params
    limit = query_int(
        params,
        "limit",
        minimum=limits.LIST_SUPPORTED_MODELS_LIMIT_MINIMUM,
        maximum=limits.LIST_SUPPORTED_MODELS_LIMIT_MAXIMUM,
    )
    offset = query_int(params, "offset", minimum=limits.LIST_SUPPORTED_MODELS_OFFSET_MINIMUM)
    return emu.list_supported_models(
        limits.LIST_SUPPORTED_MODELS_LIMIT_DEFAULT if limit is None else limit,
        limits.LIST_SUPPORTED_MODELS_OFFSET_DEFAULT if offset is None else offset,
    )


async def list_models(request: Request, emu: Emulator, tenant: str) -> Reply:
    params = request.query_params
    limit = query_int(
        params,
        "limit",
        minimum=limits.LIST_MODELS_LIMIT_MINIMUM,
        maximum=limits.LIST_MODELS_LIMIT_MAXIMUM,
    )
    offset = query_int(params, "offset", minimum=limits.LIST_MODELS_OFFSET_MINIMUM)
    return emu.list_models(
        tenant,
        limits.LIST_MODELS_LIMIT_DEFAULT if limit is None else limit,
        limits.LIST_MODELS_OFFSET_DEFAULT if offset is None else offset,
    )


async def get_model(request: Request, emu: Emulator, tenant: str) -> Reply:
    return emu.get_model(tenant, _path_id(request, "model_id"))


async def terminate_model(request: Request, emu: Emulator, tenant: str) -> Reply:
    model_id = _path_id(request, "model_id")
    key = _idempotency_key(request)
    return emu.idempotent(
        tenant, key, _fingerprint(request, None), lambda: emu.terminate_model(tenant, model_id)
    )


def _operation_post(
    schema: str,
    action: Callable[[Emulator, str, str, Any], Reply],
    name: str = "model_id",
    read_id: Callable[[Request, str], str] = _path_id,
) -> Handler:
    """A POST that starts an operation on the resource its path's ``name`` names (an id
    that ``read_id`` checks)."""

    async def handler(request: Request, emu: Emulator, tenant: str) -> Reply:
        resource_id = read_id(request, name)
        key = _idempotency_key(request)
        body = await _body(request, schema)
        return emu.idempotent(
            tenant,
            key,
            _fingerprint(request, body),
            lambda: action(emu, tenant, resource_id, body),
            returns_operation=True,
        )

    return handler


def _training_pass(schema: str, kind: str) -> Handler:
    """A forward-backward (or forward) pass: its batch is converted before the store's
    lock is taken, and a large one on a worker thread."""

    async def handler(request: Request, emu: Emulator, tenant: str) -> Reply:
        model_id = _path_id(request, "model_id")
        key = _idempotency_key(request)
        body = await _body(request, schema)

        def submit() -> Reply:
            # Fingerprinting and converting every token come first: the store's lock, which
            # the event loop waits for, is not held meanwhile.
            text = canonical(body)  # once: tens of MB for a large batch
            batch = emu.prepare_batch(tenant, model_id, body, kind, text)
            request_fingerprint = fingerprint(request.method, request.url.path, text)
            return emu.idempotent(
                tenant,
                key,
                request_fingerprint,
                lambda: emu.training_pass(kind, tenant, model_id, body, batch),
                returns_operation=True,
            )

        if len(await request.body()) > INLINE_CHECK_BYTES:
            return await run_in_threadpool(submit)  # a large batch takes long to prepare
        return submit()

    return handler


forward_backward = _training_pass("ForwardBackwardRequest", "forward_backward")
forward = _training_pass("ForwardRequest", "forward")
optim_step = _operation_post("OptimStepRequest", Emulator.optim_step)
save_checkpoint = _operation_post("SaveCheckpointRequest", Emulator.save_checkpoint)
load_checkpoint = _operation_post("LoadCheckpointRequest", Emulator.load_checkpoint)


async def list_checkpoints(request: Request, emu: Emulator, tenant: str) -> Reply:
    model_id = _path_id(request, "model_id")
    if not emu.extensions.offers("cursor-paging"):
        # A server without paging ignores the parameters and lists everything.
        return emu.list_checkpoints(tenant, model_id, None, None)
    params = request.query_params
    limit = query_int(
        params,
        "limit",
        minimum=limits.LIST_CHECKPOINTS_LIMIT_MINIMUM,
        maximum=limits.LIST_CHECKPOINTS_LIMIT_MAXIMUM,
    )
    cursor = params.get("cursor")  # of any form: only one this emulator issued is taken
    return emu.list_checkpoints(tenant, model_id, limit, cursor)


async def set_checkpoint_ttl(request: Request, emu: Emulator, tenant: str) -> Reply:
    model_id = _path_id(request, "model_id")
    body = await _body(request, "SetCheckpointTtlRequest")
    return emu.set_checkpoint_ttl(tenant, model_id, body)


async def get_checkpoint(request: Request, emu: Emulator, tenant: str) -> Reply:
    return emu.get_checkpoint(tenant, _uuid_param(request, "checkpoint_id"))


async def delete_checkpoint(request: Request, emu: Emulator, tenant: str) -> Reply:
    # In a thread: on a full disk a delete waits for its files' removal (``Store.delete``).
    return await run_in_threadpool(
        emu.delete_checkpoint, tenant, _uuid_param(request, "checkpoint_id")
    )


export_checkpoint = _operation_post(
    "ExportRequest",
    lambda emu, tenant, checkpoint_id, body: emu.artifacts.export_checkpoint(
        tenant, checkpoint_id, body
    ),
    "checkpoint_id",
    _uuid_param,
)
export_model_weights = _operation_post(
    "ExportModelRequest",
    lambda emu, tenant, model_id, body: emu.artifacts.export_model_weights(tenant, model_id, body),
)


async def list_artifacts(request: Request, emu: Emulator, tenant: str) -> Reply:
    return emu.artifacts.list_artifacts(tenant, _uuid_param(request, "checkpoint_id"))


async def get_artifact(request: Request, emu: Emulator, tenant: str) -> Reply:
    return emu.artifacts.get_artifact(tenant, _uuid_param(request, "artifact_id"))


async def delete_artifact(request: Request, emu: Emulator, tenant: str) -> Reply:
    return await run_in_threadpool(  # as a checkpoint's delete
        emu.artifacts.delete_artifact, tenant, _uuid_param(request, "artifact_id")
    )


async def get_artifact_download(request: Request, emu: Emulator, tenant: str) -> Reply:
    artifact_id = _uuid_param(request, "artifact_id")
    base = emu.config.storage_url or str(request.base_url).rstrip("/")
    return emu.artifacts.download(tenant, artifact_id, base)


async def get_operation(request: Request, emu: Emulator, tenant: str) -> Reply:
    op_id = _path_id(request, "operation_id")
    if not emu.extensions.offers("long-poll"):
        return emu.get_operation(tenant, op_id)  # `wait` is not looked at, as a server without it
    wait = query_number(
        request.query_params,
        "wait",
        minimum=limits.GET_OPERATION_WAIT_MINIMUM,
        maximum=limits.GET_OPERATION_WAIT_MAXIMUM,
    )
    seen = request.query_params.get("seen_revision")
    shortest = limits.GET_OPERATION_SEEN_REVISION_MIN_LENGTH
    longest = limits.GET_OPERATION_SEEN_REVISION_MAX_LENGTH
    if seen is not None and not shortest <= len(seen) <= longest:
        raise invalid("query.seen_revision", f"must be {shortest} to {longest} characters")
    return await emu.wait_operation(tenant, op_id, wait or 0.0, seen)


async def openapi_yaml(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    return Response(emulator.extensions.spec, media_type="application/yaml")


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    message = {
        404: f"no route {request.url.path}",
        405: f"method {request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    error = ApiError(exc.status_code, code, message, headers=exc.headers)
    return _error_response(error, request.scope)


V1 = "/api/v1"


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/sessions", create_session),
    ("GET", "/sessions/{session_id}", get_session),
    ("POST", "/sessions/{session_id}/heartbeat", send_heartbeat),
    ("POST", "/sessions/{session_id}/models", create_model),
    ("GET", "/supported-models", list_supported_models),
    ("GET", "/models", list_models),
    ("GET", "/models/{model_id}", get_model),
    ("POST", "/models/{model_id}/terminate", terminate_model),
    ("POST", "/models/{model_id}/forward-backward-passes", forward_backward),
    ("POST", "/models/{model_id}/forward-passes", forward),
    ("POST", "/models/{model_id}/optimizer-steps", optim_step),
    ("POST", "/models/{model_id}/checkpoints", save_checkpoint),
    ("GET", "/models/{model_id}/checkpoints", list_checkpoints),
    ("PATCH", "/models/{model_id}/checkpoints/ttl", set_checkpoint_ttl),
    ("POST", "/models/{model_id}/load", load_checkpoint),
    ("GET", "/checkpoints/{checkpoint_id}", get_checkpoint),
    ("DELETE", "/checkpoints/{checkpoint_id}", delete_checkpoint),
    ("POST", "/checkpoints/{checkpoint_id}/export", export_checkpoint),
    ("POST", "/models/{model_id}/export-hf", export_model_weights),
    ("GET", "/checkpoints/{checkpoint_id}/artifacts", list_artifacts),
    ("GET", "/artifacts/{artifact_id}/download", get_artifact_download),
    ("GET", "/artifacts/{artifact_id}", get_artifact),
    ("DELETE", "/artifacts/{artifact_id}", delete_artifact),
    ("GET", "/operations/{operation_id}", get_operation),
]


def _routes(emulator: Emulator) -> list[Route]:
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in ROUTES:
        if emulator.extensions.offers_route(method, V1 + path):
            by_path.setdefault(path, {})[method] = handler
    routes = [
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        # Storage is not part of the API: no API key, signed URLs instead.
        Route("/storage/artifacts/{artifact_id}/{name:path}", serve_storage, methods=["GET"]),
    ]
    for path, handlers in by_path.items():
        # One route per path, so a 405 lists every allowed method in `Allow`.
        wrapped = {method: endpoint(handler, V1 + path) for method, handler in handlers.items()}
        if "GET" in wrapped:
            wrapped["HEAD"] = wrapped["GET"]

        async def dispatch(
            request: Request, wrapped: dict[str, Callable[[Request], Awaitable[Response]]] = wrapped
        ) -> Response:
            return await wrapped[request.method](request)

        routes.append(Route(V1 + path, dispatch, methods=list(handlers)))
    return routes


def create_app(config: EmulatorConfig) -> EmulatorApp:
    """The emulator as an ASGI app; its state lives in ``config.data_dir``.

    ``app.state.emulator`` is the running ``Emulator``: ``reset()`` wipes all
    state, ``close()`` stops its workers and closes the store.
    """
    emulator = Emulator(config)
    if not emulator.tenants.enabled:
        log.warning("auth is off: no API keys are configured, so every request is one tenant")
    app = EmulatorApp(routes=_routes(emulator), exception_handlers={HTTPException: _http_exception})
    app.router.redirect_slashes = False
    app.state.emulator = emulator
    app.emulator = emulator
    app.transfers = Transfers()
    app.faults = FaultMiddleware(app, config.faults) if config.faults is not None else None
    app.user_middleware = [_auth_middleware(emulator.tenants)]
    return app


def _auth_middleware(tenants: Tenants) -> Any:
    from starlette.middleware import Middleware

    return Middleware(AuthMiddleware, tenants=tenants)
