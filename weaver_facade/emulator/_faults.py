"""Fault injection: a seeded fraction of requests fails the way networks and servers do.

The outermost layer of the app, so that it sees the server's own ``send``
and can close the real connection. Variants:

- ``unavailable`` / ``rate_limited``: a 503 / 429 Error with ``Retry-After``;
- ``drop``: the connection is closed without an answer, or (``mid``) after
  the headers and part of the body;
- ``ignore_range``: the request is served without its ``Range`` header, as by
  a storage server that answers 200 with the whole file;

each either ``before`` the server acts on the request, or ``after`` it acted
(then the real reply is discarded: the case idempotency exists for). Storage
URLs (``/storage/...``) are disturbed as well as the API.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import re
import secrets
import threading
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import FAULT_PREFIXES, FaultConfig, FaultRule

__all__ = ["FaultMiddleware", "new_request_id"]

API_PREFIX = "/api/v1/"
_DISTURBED = FAULT_PREFIXES


def new_request_id() -> str:
    return f"req-{secrets.token_hex(8)}"


def _route_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


class FaultMiddleware:
    def __init__(self, app: ASGIApp, config: FaultConfig | None) -> None:
        self.app = app
        self.rules: list[tuple[FaultRule, re.Pattern[str] | None]] = [
            (rule, _route_regex(rule.route) if rule.route else None)
            for rule in (config.rules if config else ())
        ]
        # Reproducible, not secret: the same seed gives the same fault sequence.
        self._rng = random.Random(config.seed if config else 0)  # noqa: S311
        self._lock = threading.Lock()
        # What fired, so that a test or benchmark can check the faults it asked for happened.
        self._fired: collections.Counter[tuple[str, str]] = collections.Counter()
        self._seen = 0

    def stats(self) -> tuple[int, dict[tuple[str, str], int]]:
        """(API requests seen, faults fired by (kind, when)) since the app started."""
        with self._lock:
            return self._seen, dict(self._fired)

    def _pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            self._seen += 1
        for rule, route in self.rules:
            if rule.method is not None and rule.method.upper() != method:
                continue
            if route is not None and route.fullmatch(path) is None:
                continue
            with self._lock:
                fires = self._rng.random() < rule.rate
                if fires:
                    self._fired[rule.kind, rule.when] += 1
            if fires:
                return rule
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.rules or not scope["path"].startswith(_DISTURBED):
            await self.app(scope, receive, send)
            return
        rule = self._pick(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.kind == "ignore_range":
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"range"]
            await self.app({**scope, "headers": headers}, receive, send)
            return
        if rule.when == "mid":
            with self._lock:
                fraction = self._rng.uniform(0.1, 0.9)
            await self.app(scope, receive, _cut_mid_body(send, fraction))
            return
        if rule.when == "after":

            async def discard(message: Message) -> None:
                pass

            await self.app(scope, receive, discard)
        if rule.kind == "drop":
            await _drop(send)
        else:
            await _send_fault(send, rule)


def _cut_mid_body(send: Send, fraction: float) -> Send:
    """A ``send`` that passes the start and ``fraction`` of the body, then drops the connection."""
    state = {"budget": -1, "dropped": False}

    async def cut(message: Message) -> None:
        if state["dropped"]:
            return
        if message["type"] == "http.response.start":
            length = dict(message.get("headers", [])).get(b"content-length", b"0")
            state["budget"] = max(1, int(int(length) * fraction)) if length.isdigit() else 1
            await send(message)
            return
        body: bytes = message.get("body", b"")
        if len(body) < state["budget"]:
            state["budget"] -= len(body)
            await send({**message, "more_body": True})
            return
        head = body[: state["budget"]]
        await send({"type": "http.response.body", "body": head, "more_body": True})
        state["dropped"] = True
        await _drop(send)

    return cut


async def _send_fault(send: Send, rule: FaultRule) -> None:
    status, code, message = (
        (503, "unavailable", "the service is temporarily unavailable (injected fault)")
        if rule.kind == "unavailable"
        else (429, "rate_limited", "too many requests (injected fault)")
    )
    request_id = new_request_id()
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "retryable": True,
        "request_id": request_id,
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", str(rule.retry_after).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _drop(send: Send) -> None:
    """Close the connection without an answer.

    Under uvicorn the server's ``send`` belongs to the connection's request
    cycle, whose transport we abort. In-process (httpx's ASGITransport,
    starlette's TestClient) there is no connection, so the client gets the
    error it would see on a dropped connection.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise httpx.RemoteProtocolError("connection dropped (injected fault)")
    transport.abort()
    # Let the server notice the lost connection before the app returns, so it
    # does not try to answer on it.
    for _ in range(3):
        await asyncio.sleep(0)
