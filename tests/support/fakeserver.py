"""A small scriptable Weaver for ``httpx.MockTransport``.

It answers every route the facade uses with replies shaped like the spec's (each held
to the spec by the contract kit's own reply check, so that a spec change cannot leave
the fake's replies behind in silence), records every request, and lets
a test put specific replies in front (``fake.script(method, path, *replies)``) to
provoke errors, slow operations or malformed replies, which are not checked. It is no
emulator: no training happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from weaver_facade import AsyncServiceClient, ServiceClient
from weaver_facade._operations import Poller, Sleep
from weaver_facade.contract._spec import load_spec

KEY = "sk-unit-test-key-5f0c2a8e"
BASE = "http://weaver.test"
CREATED = "2026-11-29T10:01:00Z"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def checkpoint_json(
    model_id: str, name: str, type_: str = "weight_and_optimizer"
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model_id}/{name}")),
        "name": name,
        "type": type_,
        "path": f"weaver://{model_id}/checkpoints/{name}",
        "status": "completed",
        "ttl_seconds": None,
        "created_at": CREATED,
        "expires_at": None,
        "train_unembed": True,
        "train_mlp": True,
        "train_attn": True,
        "model_id": model_id,
        "size_bytes": 1234,
        "sha256": "0" * 64,
    }


def error_json(code: str, message: str, retryable: bool = False) -> dict[str, Any]:
    return {"error": code, "message": message, "retryable": retryable, "request_id": "req-1"}


# A checkpoint of m-1 by its id, the routes that export it and list its artifacts, and the
# artifact an export of it makes (``artifact_json``).
CHECKPOINT = uuid.UUID("0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09")
ARTIFACT = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
EXPORT = f"/api/v1/checkpoints/{CHECKPOINT}/export"
LIST = f"/api/v1/checkpoints/{CHECKPOINT}/artifacts"


def artifact_json(status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {
        "id": str(ARTIFACT),
        "checkpoint_id": str(CHECKPOINT),
        "model_id": "m-1",
        "kind": "hf_adapter",
        "status": status,
        "uri": "weaver://m-1/checkpoints/c/artifacts/hf_adapter",
        "size_bytes": 3,
        "manifest": {"format_version": 1, "files": [{"name": "a.bin", "size": 3}]},
        **extra,
    }


class FakeWeaver:
    """Callable as a MockTransport handler."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.scripts: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.operations: dict[str, dict[str, Any]] = {}
        # How many GETs an operation stays `pending` before it is done...
        self.pending_polls = 0
        # ...unless the POST already answers `done`.
        self.done_at_once = False
        # The status of an operation POST's reply: the wire promises only "2xx".
        self.accepted_status = 202
        self._polls: dict[str, int] = defaultdict(int)
        self.checkpoints: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.terminated: list[str] = []
        self.ended: set[str] = set()  # sessions the server ended: their GET is a 404
        self._ops = 0

    # -- scripting -------------------------------------------------------------------

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``method path`` with ``replies``, in order."""
        self.scripts[(method.upper(), path)].extend(replies)

    def fail_load(self, model_id: str, code: str, message: str) -> None:
        """Accept the next load of ``model_id`` as operation ``op-9``, which then fails with
        ``code`` (the wire's load "returns an Operation" and names no refusal code)."""
        started = {"id": "op-9", "status": "pending"}
        self.script("POST", f"/api/v1/models/{model_id}/load", _json(202, started))
        failed = {**started, "status": "error", "error_code": code, "error_message": message}
        self.script("GET", "/api/v1/operations/op-9", *[_json(200, failed)] * 2)

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.url.path == path)
        ]

    def body(self, request: httpx.Request) -> Any:
        return json.loads(request.content)

    # -- the handler -----------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.scripts.get((request.method, request.url.path))
        if queue:
            reply = queue.popleft()
            return reply(request) if callable(reply) else reply
        return _as_the_spec_says(request, self.route(request))

    def route(self, request: httpx.Request) -> httpx.Response:
        m, p = request.method, request.url.path
        if (m, p) == ("POST", "/api/v1/sessions"):
            return _json(201, _session())
        if m == "GET" and (match := re.fullmatch(r"/api/v1/sessions/([^/]+)", p)):
            if match[1] in self.ended:
                return _json(404, error_json("not_found", f"session {match[1]} not found"))
            return _json(200, {**_session(), "id": match[1]})
        if m == "POST" and (match := re.fullmatch(r"/api/v1/sessions/([^/]+)/heartbeat", p)):
            return _json(200, {"session_id": match[1], "last_heartbeat_at": CREATED})
        if m == "POST" and re.fullmatch(r"/api/v1/sessions/[^/]+/models", p):
            body = self.body(request)
            return _json(201, _model("m-1", body["base_model"], body.get("training_mode", "lora")))
        if m == "GET" and (match := re.fullmatch(r"/api/v1/models/([^/]+)", p)):
            return _json(200, _model(match[1], "weaver-tiny", "lora"))
        if m == "POST" and (match := re.fullmatch(r"/api/v1/models/([^/]+)/terminate", p)):
            self.terminated.append(match[1])
            return _json(200, {**_model(match[1], "weaver-tiny", "lora"), "status": "terminated"})
        if m == "POST" and (match := re.fullmatch(r"/api/v1/models/([^/]+)/(.+)", p)):
            return self._post_model(request, match[1], match[2])
        if m == "GET" and (match := re.fullmatch(r"/api/v1/models/([^/]+)/checkpoints", p)):
            return self._list(request, match[1])
        if m == "PATCH" and (match := re.fullmatch(r"/api/v1/models/([^/]+)/checkpoints/ttl", p)):
            body = self.body(request)
            found = self._find(lambda c: c["path"] == body["path"])
            if found is None:
                return _json(404, error_json("not_found", f"checkpoint {body['path']} not found"))
            found["ttl_seconds"] = body["ttl_seconds"]
            found["expires_at"] = None if body["ttl_seconds"] is None else "2026-11-30T10:01:00Z"
            return _json(200, found)
        if match := re.fullmatch(r"/api/v1/checkpoints/([^/]+)", p):
            checkpoint_id = match[1]
            found = self._find(lambda c: c["id"] == checkpoint_id)
            if found is None:
                return _json(404, error_json("not_found", f"checkpoint {checkpoint_id} not found"))
            if m == "DELETE":
                self.checkpoints[found["model_id"]].remove(found)
                return _json(200, {**found, "status": "deleted"})
            return _json(200, found)
        if m == "GET" and (match := re.fullmatch(r"/api/v1/operations/([^/]+)", p)):
            return self._get_operation(match[1])
        return _json(404, error_json("not_found", f"no route {m} {p}"))

    def _find(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for items in self.checkpoints.values():
            for c in items:
                if pred(c):
                    return c
        return None

    def _post_model(self, request: httpx.Request, model_id: str, action: str) -> httpx.Response:
        body = self.body(request)
        if action == "forward-backward-passes":
            data = body["payload"]["forward_backward_input"]["data"]
            outputs = [
                {
                    "logprobs": {
                        "data": [-1.5] * len(d["model_input"]["chunks"][0]["tokens"]),
                        "dtype": "float32",
                    }
                }
                for d in data
            ]
            result = {"loss_fn_outputs": outputs, "metrics": {"loss:sum": 1.5 * len(data)}}
            return self._start("forward_backward", model_id, result)
        if action == "optimizer-steps":
            seq = body["payload"]["seq_id"]
            return self._start("optim_step", model_id, {"metrics": {"optim:step": seq}})
        if action == "checkpoints":
            name = body.get("name") or f"ckpt-{self._ops}"
            if any(c["name"] == name for c in self.checkpoints[model_id]):
                return _json(409, error_json("checkpoint_exists", f"checkpoint {name} exists"))
            ckpt = checkpoint_json(model_id, name, body["type"])
            if "ttl_seconds" in body:
                ckpt["ttl_seconds"] = body["ttl_seconds"]
            self.checkpoints[model_id].append(ckpt)
            return self._start("save_checkpoint", model_id, ckpt)
        if action == "load":
            found = self._find(lambda c: c["path"] == body["path"])
            if found is None:
                return _json(404, error_json("not_found", f"checkpoint {body['path']} not found"))
            if body["include_optimizer"] and found["type"] != "weight_and_optimizer":
                return _json(
                    422,
                    error_json("optimizer_state_unavailable", f"{body['path']} has no optimizer"),
                )
            result = {"path": body["path"], "include_optimizer": body["include_optimizer"]}
            return self._start("load_checkpoint", model_id, result)
        return _json(404, error_json("not_found", f"no route for {action}"))

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        self._ops += 1
        op_id = f"op-{self._ops}"
        self.operations[op_id] = {"id": op_id, "kind": kind, "model_id": model_id, "result": result}
        return _json(self.accepted_status, self._operation_json(op_id, done=self.done_at_once))

    def _operation_json(self, op_id: str, *, done: bool) -> dict[str, Any]:
        op = self.operations[op_id]
        out: dict[str, Any] = {"id": op_id, "kind": op["kind"], "model_id": op["model_id"]}
        if done:
            out.update(status="done", response=op["result"])
        else:
            out.update(
                status="pending",
                pending_info={"code": "waiting_for_scheduling", "message": "queued"},
            )
        return out

    def _get_operation(self, op_id: str) -> httpx.Response:
        if op_id not in self.operations:
            return _json(404, error_json("not_found", f"operation {op_id} not found"))
        self._polls[op_id] += 1
        return _json(200, self._operation_json(op_id, done=self._polls[op_id] > self.pending_polls))

    def _list(self, request: httpx.Request, model_id: str) -> httpx.Response:
        items = self.checkpoints[model_id]
        limit = request.url.params.get("limit")
        if limit is None:
            return _json(200, {"items": items})
        start = int(request.url.params.get("cursor", "c0")[1:])
        end = start + int(limit)
        page: dict[str, Any] = {"items": items[start:end], "next_cursor": None}
        if end < len(items):
            page["next_cursor"] = f"c{end}"
        return _json(200, page)


_SPEC = load_spec()


def _as_the_spec_says(request: httpx.Request, reply: httpx.Response) -> httpx.Response:
    """``reply``, once the contract kit finds it to be what the spec gives its route and
    status."""
    op = _SPEC.match(request.method, request.url.path)
    assert op is not None, f"the fake answered {request.method} {request.url.path}, no route"
    problems = _SPEC.check_reply(op, reply.status_code, reply.headers, reply.read())
    assert not problems, f"the fake's reply to {op.label} breaks the spec: {problems[0].message}"
    return reply


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-ID": "req-1", **(headers or {})})


def _session() -> dict[str, Any]:
    return {
        "id": "s-1",
        "tags": [],
        "user_metadata": {},
        "sdk_version": "weaver-facade/0.1.0",
        "created_at": CREATED,
        "updated_at": CREATED,
    }


def _model(model_id: str, base_model: str, mode: str) -> dict[str, Any]:
    return {"id": model_id, "base_model": base_model, "training_mode": mode}


class RewritingFake(FakeWeaver):
    """The fake, each JSON reply's body passed through ``rewrite``: a server that writes
    its replies otherwise (times, nulls, fields of its own)."""

    def __init__(self, rewrite: Callable[[Any], Any]) -> None:
        super().__init__()
        self._rewrite = rewrite

    def __call__(self, request: httpx.Request) -> httpx.Response:
        reply = super().__call__(request)
        if not reply.content:
            return reply
        return json_reply(reply.status_code, self._rewrite(json.loads(reply.content)))


def each_checkpoint(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """A ``RewritingFake`` rewrite that makes ``change`` to each checkpoint of a reply, at
    any depth (a save's result, a listing's items)."""

    def rewrite(value: Any) -> Any:
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if not isinstance(value, dict):
            return value
        kept = {k: rewrite(v) for k, v in value.items()}
        return change(kept) if "path" in kept and "train_mlp" in kept else kept

    return rewrite


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON reply with an ``X-Request-ID``, as a Weaver server sends it."""
    return _json(status, body, headers)


class FakeClock:
    """A monotonic clock that only moves when the fake sleep is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def wait_out(
    poller: Poller,
    clock: FakeClock,
    duration: float,
    *,
    reply: float = 0.005,
    queued: float | Callable[[float], float | None] = 0.0,
) -> float:
    """Drive ``poller`` through an operation that ends ``duration`` s after the wait
    starts, on ``clock``; each poll is answered in ``reply`` s, pending ``queued`` s more
    by the server's word (or ``queued(seconds waited)``). The time the wait took."""
    started = clock.now
    while True:
        step = poller.next_step()
        if isinstance(step, Sleep):
            clock.sleep(step.seconds)
            continue
        clock.now += reply
        if clock.now - started >= duration:
            poller.on_reply(terminal=True)
            return clock.now - started
        waited = clock.now - started
        poller.on_reply(terminal=False, queued=queued(waited) if callable(queued) else queued)


@contextmanager
def service(fake: FakeWeaver, **kwargs: Any) -> Iterator[ServiceClient]:
    """A ServiceClient on ``fake`` that never sleeps for real."""
    http = httpx.Client(transport=httpx.MockTransport(fake))
    kwargs.setdefault("sleep", lambda _s: None)
    kwargs.setdefault("heartbeat_interval", 0)
    with ServiceClient(BASE, KEY, http_client=http, **kwargs) as client:
        yield client
        thread = client._heartbeat
    # close() does not wait for the heartbeat thread; waiting here keeps a late warning of
    # one test's thread out of the next test's caplog.
    if thread is not None:
        thread.join(timeout=10)
        assert not thread.is_alive(), "the heartbeat thread outlived close()"
    http.close()


class HeldTransport(httpx.AsyncBaseTransport):
    """``fake`` behind an async transport that holds requests to ``path`` until
    ``release`` is set; ``reached`` is set when the first of them arrives."""

    def __init__(self, fake: FakeWeaver, path: str) -> None:
        self._fake = fake
        self._path = path
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if request.url.path == self._path and not self.release.is_set():
            self.reached.set()
            await self.release.wait()
        return self._fake(request)


async def turns_until(done: Callable[[], object]) -> None:
    """A few turns of the event loop, until ``done()``: a reply on its way arrives."""
    for _ in range(1000):
        if done():
            return
        await asyncio.sleep(0)


async def close_waiting_for_a_cancelled_create(
    svc: AsyncServiceClient, held: HeldTransport
) -> asyncio.Task[None]:
    """Cancel a create of ``svc``'s once ``held`` holds it, then start its close, which
    waits for that create's reply: the close's task, a few turns of the loop in."""
    creating = asyncio.create_task(svc.create_training_client("weaver-tiny"))
    await held.reached.wait()
    creating.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await creating
    assert creating.cancelled()
    closing = asyncio.create_task(svc.aclose())
    for _ in range(5):
        await asyncio.sleep(0)  # the close waits for the create's reply
    return closing


async def _no_sleep(_seconds: float) -> None:
    return None


def async_service(fake: FakeWeaver, **kwargs: Any) -> AsyncServiceClient:
    """An AsyncServiceClient on ``fake`` that never sleeps for real."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    kwargs.setdefault("sleep", _no_sleep)
    kwargs.setdefault("heartbeat_interval", 0)
    return AsyncServiceClient(BASE, KEY, http_client=http, **kwargs)
