"""Security at both ends: traversal, tenants, keys, and the key's secrecy.

``tests/emulator/test_security.py`` checks the emulator in-process over raw
ASGI. Here a real uvicorn server is attacked with request targets no client
library would normalise, the facade's client-side refusals are checked to send
nothing, tenants are attacked through the facade itself, and the API key is
looked for everywhere a script could leak it: debug logs, stderr, reprs,
exception texts and tracebacks with their locals, through retries, timeouts
and failed operations.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import traceback
import types
import weakref
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from functools import partial
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.scripted_http import QuietServer, ScriptedServer
from weaver_facade import (
    APIConnectionError,
    APITimeoutError,
    AsyncServiceClient,
    AuthenticationError,
    Checkpoint,
    CheckpointPath,
    ClientClosedError,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    StorageError,
    TrainingClient,
    WeaverError,
    datum_from_tokens,
)
from weaver_facade._causes import causes
from weaver_facade._download import (
    Descriptor,
    Downloads,
    DownloadSettings,
    StorageFile,
    download_sync,
)
from weaver_facade._models import ModelInfo
from weaver_facade.emulator import FaultConfig, FaultRule, RunningEmulator, run_emulator

KEY_A = "sk-tenant-a-4d9b0e17c2a85f36"
KEY_B = "sk-tenant-b-7e21f0c9ab3d4e58"
WRONG_KEY = "sk-not-a-tenant-0b8a6d2f91c3"
BACKSLASH_KEY = "sk-back\\slash-4d9b0e17c2a85f36"
SLASH_KEY = "sk-live/0123456789+abcdef"
PASSWORD_E = "cl\u00e9-secr\u00e8te-123"
PASSWORD = "pw-1f8e3c5a9d7b"
BASIC = base64.b64encode(f"weaver:{PASSWORD}".encode()).decode()  # as Authorization sends it
# A reply that echoes them as PHP's json_encode writes them: / as \/, é as \u00e9.
_ECHO = {"error": 400, "detail": f"who is {SLASH_KEY} ({PASSWORD_E})?"}
ESCAPED_ECHO = json.dumps(_ECHO).replace("/", "\\/").encode()
FAST = RetryPolicy(RetrySettings(max_retries=6, initial_backoff=0.002, max_backoff=0.01))
BATCH = [datum_from_tokens([3, 1, 4, 1, 5, 9, 2, 6])]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` and a digest of its bytes (the SQLite files excepted)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("weaver.db")
    }


class World:
    """Tenant A's model with a checkpoint and an operation, and tenant B's own model."""

    def __init__(self, emu: RunningEmulator, recorder: Recorder) -> None:
        self.http = httpx.Client(event_hooks={"request": [recorder]})
        self.a = ServiceClient(emu.base_url, KEY_A, heartbeat_interval=0, retry=FAST)
        self.b = ServiceClient(
            emu.base_url, KEY_B, heartbeat_interval=0, retry=FAST, http_client=self.http
        )
        self.a_trainer = self.a.create_training_client("weaver-tiny", seed=2)
        self.a_operation = self.a_trainer.forward_backward(BATCH, wait=False)
        self.a_operation.result()
        self.a_trainer.optim_step()
        self.a_checkpoint = self.a_trainer.save_state("secret")
        self.b_trainer = self.b.create_training_client("weaver-tiny", seed=2)

    def close(self) -> None:
        self.a.close()
        self.b.close()
        self.http.close()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    data_dir = tmp_path_factory.mktemp("security") / "data"
    with run_emulator(data_dir, api_keys=(KEY_A, KEY_B)) as running:
        yield running


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def world(emu: RunningEmulator, recorder: Recorder) -> Iterator[World]:
    made = World(emu, recorder)
    yield made
    made.close()


# -- traversal, refused by the facade before any request ----------------------------------------

HOSTILE_NAMES = [
    "..",
    ".",
    "../x",
    "../../etc/passwd",
    "a/b",
    "/abs",
    "a\\b",
    "%2e%2e",
    "%2e%2e%2fx",
    "..%2f",
    "a\x00b",
    "\x00",
    ".hidden",
    "\u2024\u2024",  # one-dot leaders that look like '..'
    "a\n",
    "",
]
MODEL = "m-0123456789abcdef"
# A path's name is any a server may report (StoredCheckpointName), so `%2e%2e` (literal
# text in a JSON body) is a path; `/`, a dot segment or a control character is not.
HOSTILE_PATHS = [
    f"weaver://{MODEL}/checkpoints/..",
    f"weaver://{MODEL}/checkpoints/../x",
    f"weaver://{MODEL}/checkpoints/a/../../b",
    f"weaver://{MODEL}/checkpoints/a\x00",
    f"weaver://{MODEL}%2f..%2f/checkpoints/a",
    f"weaver://{MODEL}/../../checkpoints/a",
    "weaver://../checkpoints/a",
    "weaver://./checkpoints/a",
    "weaver:///checkpoints/a",
    "file:///etc/passwd",
    "weaver://m\x00/checkpoints/a",
]
HOSTILE_IDS = ["..", "../m-1", "m-1/../x", "m%2f..", "m\x00", "/etc/passwd", ".", ""]


def client_side_attempts(world: World) -> list[tuple[str, Callable[[], object]]]:
    trainer, service = world.b_trainer, world.b
    out: list[tuple[str, Callable[[], object]]] = []
    for name in HOSTILE_NAMES:
        out.append((f"save_state({name!r})", partial(trainer.save_state, name)))
    for path in HOSTILE_PATHS:
        out += [
            (f"load_state({path!r})", partial(trainer.load_state, path)),
            (f"load_with_optimizer({path!r})", partial(trainer.load_state_with_optimizer, path)),
            (f"get_checkpoint({path!r})", partial(trainer.get_checkpoint, path)),
            (f"delete_checkpoint({path!r})", partial(trainer.delete_checkpoint, path)),
            (f"set_checkpoint_ttl({path!r})", partial(trainer.set_checkpoint_ttl, path, 60)),
        ]
    for ref in ["../../weaver.db", "..", "%2e%2e", "a\x00", "/etc/passwd"]:
        out.append((f"get_checkpoint({ref!r})", partial(trainer.get_checkpoint, ref)))
        out.append((f"delete_checkpoint({ref!r})", partial(trainer.delete_checkpoint, ref)))
    for model_id in HOSTILE_IDS:
        out.append((f"training_client({model_id!r})", partial(service.training_client, model_id)))
        out.append((f"operation({model_id!r})", partial(service.operation, model_id)))
    return out


def test_traversal_is_refused_client_side_with_typed_errors_and_nothing_sent(
    world: World, recorder: Recorder, emu: RunningEmulator
) -> None:
    before = tree(emu.data_dir.parent)
    recorder.requests.clear()
    attempts = client_side_attempts(world)
    for label, attempt in attempts:
        with pytest.raises(InvalidInputError) as refused:
            attempt()
        assert isinstance(refused.value, ValueError), label
        assert str(refused.value), label
    assert recorder.requests == [], [r.url for r in recorder.requests]
    assert len(attempts) > 90
    # Literal text a server might use as a name: sent as is, and not found there.
    with pytest.raises(NotFoundError):
        world.b_trainer.load_state(f"weaver://{world.b_trainer.model_id}/checkpoints/%2e%2e")
    # The model read back after the 404 (it is there: the 404 was the checkpoint's).
    assert [r.url.path for r in recorder.requests] == [
        f"/api/v1/models/{world.b_trainer.model_id}/load",
        f"/api/v1/models/{world.b_trainer.model_id}",
    ]
    assert tree(emu.data_dir.parent) == before


# -- traversal, sent raw to the server ----------------------------------------------------------


def raw_request(
    emu: RunningEmulator, method: str, target: str, body: Any = None
) -> tuple[int, bytes]:
    """Send ``target`` exactly as written: http.client neither normalises nor re-encodes it."""
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"X-WEAVER-API-KEY": KEY_A, "Content-Type": "application/json"}
        conn.request(method, target, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


RAW_TARGETS = [
    ("GET", "/api/v1/checkpoints/../../../etc/passwd"),
    ("GET", "/api/v1/checkpoints/..%2f..%2f..%2fetc%2fpasswd"),
    ("GET", "/api/v1/checkpoints/%2e%2e%2f%2e%2e%2fweaver.db"),
    ("GET", "/api/v1/checkpoints/%252e%252e%252fweaver.db"),
    ("DELETE", "/api/v1/checkpoints/..%2f..%2fweaver.db"),
    ("GET", "/api/v1/models/..%2F..%2Fweaver.db/checkpoints"),
    ("GET", "/api/v1/models/%2e%2e/checkpoints"),
    ("GET", "/api/v1/models/../../weaver.db"),
    ("GET", "/api/v1/operations/..%00"),
    ("GET", "/api/v1/operations/%00"),
    ("GET", "/api/v1/operations/op%2f..%2f..%2fweaver.db"),
    ("GET", "/api/v1/../../weaver.db"),
    ("GET", "/api/v1/%2e%2e/%2e%2e/weaver.db"),
    ("GET", "/openapi.yaml/../weaver.db"),
    ("GET", "/../../../etc/passwd"),
    ("GET", "/checkpoints/"),
    ("GET", "/weaver.db"),
]


def test_traversal_sent_raw_to_the_server_is_refused(world: World, emu: RunningEmulator) -> None:
    model_id = world.a_trainer.model_id
    before = tree(emu.data_dir.parent)
    secret_bytes = (
        emu.data_dir / "checkpoints" / f"{world.a_checkpoint.id}.safetensors"
    ).read_bytes()
    for method, target in RAW_TARGETS:
        status, body = raw_request(emu, method, target)
        assert status in (400, 404, 405), (target, status, body)
        assert b"SQLite format" not in body
        assert b"root:" not in body
        assert secret_bytes[:64] not in body
        if target.startswith("/api/v1/"):
            assert json.loads(body)["error"] in ("invalid_request", "not_found"), (target, body)
    hostile = ["../x", "..", "a/b", "%2e%2e", "a\x00b", "/abs", "..\\x"]
    for name in hostile:
        status, body = raw_request(
            emu, "POST", f"/api/v1/models/{model_id}/checkpoints", {"type": "weight", "name": name}
        )
        assert (status, json.loads(body)["error"]) == (400, "invalid_request"), (name, body)
        assert b"body.name" in body
        path = f"weaver://{model_id}/checkpoints/{name}"
        for method, route, payload in (
            ("POST", f"/api/v1/models/{model_id}/load", {"path": path, "include_optimizer": False}),
            (
                "PATCH",
                f"/api/v1/models/{model_id}/checkpoints/ttl",
                {"path": path, "ttl_seconds": 1},
            ),
        ):
            status, body = raw_request(emu, method, route, payload)
            if name in ("%2e%2e", "..\\x"):  # literal text: a path of a checkpoint never made
                assert (status, json.loads(body)["error"]) == (404, "not_found"), (route, body)
                continue
            assert (status, json.loads(body)["error"]) == (400, "invalid_request"), (route, body)
            assert b"body.path" in body
    # A literal NUL in the request line never reaches the app; the server carries on.
    with closing(socket.create_connection((emu.host, emu.port), timeout=10)) as sock:
        sock.sendall(b"GET /api/v1/operations/op\x00x HTTP/1.1\r\nHost: e\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 400")
    assert tree(emu.data_dir.parent) == before
    assert world.a_trainer.get_checkpoint(world.a_checkpoint.path).sha256 == (
        world.a_checkpoint.sha256
    )


# -- tenants --------------------------------------------------------------------------------------


def test_another_tenant_can_neither_read_nor_write_nor_load(world: World) -> None:
    a_ckpt, a_model = world.a_checkpoint, world.a_trainer.model_id
    b, b_trainer = world.b, world.b_trainer
    # A client that forged A's model id, as if attaching had not been refused.
    forged = TrainingClient(
        b._io, ModelInfo(id=a_model, base_model="weaver-tiny", training_mode="lora")
    )
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("attach to A's model", lambda: b.training_client(a_model)),
        ("attach with next_seq_id", lambda: b.training_client(a_model, next_seq_id=9)),
        ("re-attach to A's operation", lambda: b.operation(world.a_operation.id)),
        ("get by path", lambda: b_trainer.get_checkpoint(a_ckpt.path)),
        ("get by id", lambda: b_trainer.get_checkpoint(a_ckpt.id)),
        ("get by Checkpoint", lambda: b_trainer.get_checkpoint(a_ckpt)),
        ("delete by id", lambda: b_trainer.delete_checkpoint(a_ckpt.id)),
        ("delete by path", lambda: b_trainer.delete_checkpoint(str(a_ckpt.path))),
        ("ttl by path", lambda: b_trainer.set_checkpoint_ttl(a_ckpt.path, 1)),
        ("ttl by id", lambda: b_trainer.set_checkpoint_ttl(a_ckpt.id, 1)),
        ("load", lambda: b_trainer.load_state(a_ckpt.path)),
        ("load with optimizer", lambda: b_trainer.load_state_with_optimizer(a_ckpt)),
        ("forged: list", forged.list_checkpoints),
        ("forged: forward_backward", lambda: forged.forward_backward(BATCH)),
        ("forged: optim_step", forged.optim_step),
        ("forged: save", lambda: forged.save_state("planted")),
        ("forged: load", lambda: forged.load_state(a_ckpt)),
    ]
    for label, attempt in attempts:
        with pytest.raises(NotFoundError) as refused:
            attempt()
        assert refused.value.status_code == 404, label
        text = str(refused.value)
        assert KEY_A not in text
        assert KEY_B not in text

    # Nothing of A's moved: the checkpoint, the listing, the training sequence.
    again = world.a_trainer.get_checkpoint(a_ckpt.id)
    assert (again.status, again.ttl_seconds, again.sha256) == (
        a_ckpt.status,
        a_ckpt.ttl_seconds,
        a_ckpt.sha256,
    )
    assert world.a_trainer.list_checkpoints() == [again]
    world.a_trainer.forward_backward(BATCH)  # A's seq_ids were not used up by B's attempts
    # B's own model is untouched by A's checkpoint: loading it was refused, listing is empty.
    assert b_trainer.list_checkpoints() == []


@pytest.mark.parametrize("key", [None, WRONG_KEY, KEY_A.upper(), KEY_A + " x"])
def test_a_missing_or_wrong_key_is_refused_once_and_not_retried(
    emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    recorder = Recorder()
    with (
        httpx.Client(event_hooks={"request": [recorder]}) as http,
        ServiceClient(emu.base_url, key, http_client=http, heartbeat_interval=0) as service,
        pytest.raises(AuthenticationError) as refused,
    ):
        service.create_training_client("weaver-tiny")
    assert refused.value.code == "unauthorized"
    assert refused.value.retryable is False
    assert len(recorder.requests) == 1
    if key is not None:
        assert key not in str(refused.value)
        assert key not in repr(refused.value)
        assert recorder.requests[0].headers["X-WEAVER-API-KEY"] == key.strip()
    else:
        assert "X-WEAVER-API-KEY" not in recorder.requests[0].headers


# -- the key never leaks --------------------------------------------------------------------------


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [s for s in secrets if s in text]


def exception_texts(exc: BaseException) -> str:
    """Everything a script or a test runner may print about ``exc``: messages, reprs, the
    whole chain, and tracebacks with the repr of every local of every frame."""
    parts = [str(exc), repr(exc), *map(repr, exc.args)]
    parts += traceback.format_exception(exc)
    with_locals = traceback.TracebackException.from_exception(exc, capture_locals=True)
    parts += with_locals.format()
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        parts.append(exception_texts(cause))
    return "\n".join(parts)


@pytest.fixture
def debug_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``WEAVER_LOG=debug`` as a user sets it; the handler it installs is removed afterwards."""
    logger = logging.getLogger("weaver_facade")

    def drop_env_handlers() -> None:
        for handler in list(logger.handlers):
            if getattr(handler, "_weaver_env_handler", False):
                logger.removeHandler(handler)

    drop_env_handlers()
    monkeypatch.setenv("WEAVER_LOG", "debug")
    yield
    logger.setLevel(logging.NOTSET)
    drop_env_handlers()


def blackhole() -> socket.socket:
    """A loopback socket that accepts connections (in the backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_the_key_never_appears_in_logs_reprs_or_errors(
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = (KEY_A, WRONG_KEY)
    # GETs and POSTs only: a DELETE whose connection drops is not repeated, by design.
    faults = FaultConfig(
        rules=tuple(
            rule
            for method in ("GET", "POST")
            for rule in (
                FaultRule("unavailable", 0.1, method=method, retry_after=0),
                FaultRule("rate_limited", 0.1, method=method, retry_after=0),
                FaultRule("drop", 0.1, method=method),
                FaultRule("drop", 0.1, when="after", method=method),
            )
        ),
        seed=5,
    )
    errors: list[BaseException] = []
    shown: list[object] = []

    def expect(error: type[BaseException], action: Callable[[], object]) -> None:
        with pytest.raises(error) as info:
            action()
        errors.append(info.value)

    caplog.set_level(logging.DEBUG)
    latency = {"forward_backward": 0.3, "load_checkpoint": 0.3}
    with run_emulator(api_keys=(KEY_A,), faults=faults, latency=latency) as emu:
        with ServiceClient(emu.base_url, KEY_A, retry=FAST, heartbeat_interval=0) as service:
            trainer = service.create_training_client("weaver-tiny")  # retried through faults
            trainer.forward_backward(BATCH)
            trainer.optim_step()
            checkpoint = trainer.save_state("k")
            # A failed operation: the checkpoint is deleted while its load is queued.
            loading = trainer.load_state(checkpoint, wait=False)
            trainer.delete_checkpoint(checkpoint)
            expect(OperationFailedError, loading.result)
            # A wait that times out.
            slow = trainer.forward_backward(BATCH, wait=False)
            expect(OperationTimeoutError, lambda: slow.result(timeout=0.05))
            expect(NotFoundError, lambda: trainer.get_checkpoint(checkpoint.id))
            shown += [service, trainer, loading, slow, checkpoint, service._io.generated]
        with ServiceClient(emu.base_url, WRONG_KEY, retry=FAST, heartbeat_interval=0) as wrong:
            expect(AuthenticationError, lambda: wrong.create_training_client("weaver-tiny"))
            shown.append(wrong)
    # An HTTP timeout (a server that never answers) and a refused connection, both retried.
    with closing(blackhole()) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        quick = RetryPolicy(RetrySettings(max_retries=1, initial_backoff=0.01))
        with ServiceClient(url, KEY_A, timeout=0.2, retry=quick, heartbeat_interval=0) as hung:
            expect(APITimeoutError, lambda: hung.create_training_client("weaver-tiny"))
    with ServiceClient(
        f"http://127.0.0.1:{free_port()}", KEY_A, retry=FAST, heartbeat_interval=0
    ) as refused:
        expect(APIConnectionError, lambda: refused.create_training_client("weaver-tiny"))

    assert len(errors) == 6
    assert all(isinstance(e, WeaverError) for e in errors)
    logged = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    captured = capsys.readouterr()
    # The paths that could leak were taken: retries were logged with redacted headers.
    assert re.search(r"POST \S+: .+; retrying in", logged)
    assert "'x-weaver-api-key': '[redacted]'" in logged
    # WEAVER_LOG's own stderr handler: pytest's on the root logger writes elsewhere.
    assert "[redacted]" in captured.err
    assert leaks(logged, secrets) == []
    assert leaks(captured.out + captured.err, secrets) == []
    for error in errors:
        assert leaks(exception_texts(error), secrets) == [], repr(error)
    for obj in shown:
        assert leaks(repr(obj) + str(obj), secrets) == [], type(obj)
    assert isinstance(checkpoint, Checkpoint)
    assert isinstance(checkpoint.path, CheckpointPath)


def with_user(url: str) -> str:
    return url.replace("://", f"://weaver:{PASSWORD}@")


_FUNCTIONS = types.FunctionType | types.MethodType | types.BuiltinFunctionType


def introspected(root: object) -> Iterator[tuple[str, str]]:
    """What introspection may print of ``root``, with the way to each: the repr of every
    object reached through attributes (``vars()`` and slots, as a debugger, ``rich.inspect``
    or ``attrs.asdict`` read them), items, weak references and what a method is bound to,
    and every text among them."""
    seen: set[int] = set()
    todo: list[tuple[str, object]] = [("root", root)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str | bytes):
            yield path, value if isinstance(value, str) else value.decode("latin-1")
            continue
        if isinstance(value, types.MethodType):  # a debugger shows its __self__
            todo.append((f"{path}.__self__", value.__self__))
            continue
        if id(value) in seen or isinstance(value, type | types.ModuleType | _FUNCTIONS):
            continue  # shown by its name
        seen.add(id(value))
        yield f"repr({path})", repr(value)
        if isinstance(value, dict):
            todo += [(f"{path}[{k!r}]", v) for k, v in value.items()]
            todo += [(f"{path}.keys()", k) for k in value]
        elif isinstance(value, list | tuple | set | frozenset):
            todo += [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, weakref.ref):
            todo.append((f"{path}()", value()))
        todo += [(f"{path}.{k}", v) for k, v in getattr(value, "__dict__", {}).items()]
        for cls in type(value).__mro__:
            slots = cls.__dict__.get("__slots__", ())
            for slot in [slots] if isinstance(slots, str) else slots:
                if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                    todo.append((f"{path}.{slot}", getattr(value, slot)))


def secrets_shown(objects: dict[str, object]) -> list[str]:
    return [
        f"{name}: {path}"
        for name, root in objects.items()
        for path, text in introspected(root)
        for secret in (KEY_A, PASSWORD, BASIC)
        if secret in text
    ]


def test_no_attribute_of_a_client_holds_the_key_or_the_password(emu: RunningEmulator) -> None:
    # vars(client), a debugger's view of it, rich.inspect or pprint showed the key: it was
    # an attribute of the client, and of the generated client inside (its token, headers,
    # and its httpx client's headers, whose repr hides Authorization alone).
    url = with_user(emu.base_url)
    objects: dict[str, object] = {}
    with ServiceClient(url, KEY_A, heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny")
        handle = trainer.forward_backward(BATCH, wait=False)
        handle.result()
        fast = service.with_options(timeout=5)
        fast.list_models()
        with pytest.raises(NotFoundError) as refused:
            fast.operation("op-unknown")
        objects |= {"service": service, "trainer": trainer, "handle": handle, "fast": fast}
        objects |= {"refused": refused.value, "attached": service.training_client(trainer.model_id)}
        assert secrets_shown(objects) == []

    async def async_objects() -> dict[str, object]:
        async with AsyncServiceClient(url, KEY_A, heartbeat_interval=0) as service:
            trainer = await service.create_training_client("weaver-tiny")
            handle = await trainer.forward_backward(BATCH, wait=False)
            await handle.result()
            made = {"async service": service, "async trainer": trainer, "async handle": handle}
            assert secrets_shown(made) == []
            return made

    objects |= asyncio.run(async_objects())
    assert secrets_shown(objects) == []  # closed
    # What the walk saw: it reaches the generated client's headers and its httpx client.
    shown = dict(introspected(service))
    assert any(path.endswith("generated._headers['User-Agent']") for path in shown)
    assert any(text.startswith("<httpx.Client") for text in shown.values())


def _connection_error(
    client: type[ServiceClient | AsyncServiceClient], url: str
) -> APIConnectionError:
    if client is ServiceClient:
        with (
            ServiceClient(url, KEY_A, max_retries=0, heartbeat_interval=0) as svc,
            pytest.raises(APIConnectionError) as info,
        ):
            svc.supported_models()
        return info.value

    async def attempt() -> None:
        async with AsyncServiceClient(url, KEY_A, max_retries=0, heartbeat_interval=0) as svc:
            await svc.supported_models()

    with pytest.raises(APIConnectionError) as info:
        asyncio.run(attempt())
    return info.value


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
@pytest.mark.parametrize("server", ["refused", "no-reply", "proxy-refused"])
def test_no_failure_behind_a_connection_error_holds_the_key_in_its_request(
    client: type[ServiceClient | AsyncServiceClient], server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The transport's error behind an APIConnectionError keeps the request it failed,
    # whose headers held the key (their repr hides Authorization alone) and the URL's
    # Basic credentials, and whose extensions those sent (once sent) and the proxy URL,
    # and hooks bound to the retry loop and the client, which hold the request as sent:
    # a debugger's or rich.inspect's view of err.__cause__.request showed them.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with contextlib.ExitStack() as stack:
        if server == "no-reply":  # the request is sent, and the connection closed unanswered
            url = stack.enter_context(_answering(""))
        else:
            url = f"http://127.0.0.1:{free_port()}"
        if server == "proxy-refused":
            monkeypatch.setenv("HTTP_PROXY", with_user(f"http://127.0.0.1:{free_port()}"))
            url = "http://weaver.invalid"
        error = _connection_error(client, with_user(url))
    behind: dict[str, object] = {f"cause {i}": cause for i, cause in enumerate(causes(error))}
    assert secrets_shown(behind) == []
    # What the walk saw: the request of the transport's error, and its headers.
    assert any("._request.headers" in path for path, _ in introspected(behind)), behind


def test_no_failure_behind_a_download_s_error_holds_the_proxy_s_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A storage GET through the environment's proxy keeps, in its request's extensions,
    # how it went, for the words of its failure: the proxy's URL as the environment gave
    # it, which a debugger's or rich.inspect's view of the StorageError's
    # __context__.request showed with its password.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", with_user(f"http://127.0.0.1:{free_port()}"))  # refuses
    file = StorageFile(name="a.bin", size=1, sha256=None, url="http://storage.test/a.bin")
    state = Downloads(
        Descriptor(artifact_id="a-1", kind="hf_adapter", files=(file,)),
        DownloadSettings(max_failures=1),
    )

    def no_refresh() -> Descriptor:
        raise AssertionError("no refresh expected")

    with pytest.raises(StorageError, match=r"through the proxy http://\*\*\*@") as info:
        download_sync(state, tmp_path / "out", refresh=no_refresh, sleep=lambda _: None)
    behind: dict[str, object] = {f"cause {i}": c for i, c in enumerate(causes(info.value))}
    assert secrets_shown(behind) == []
    # What the walk saw: the request of the storage GET's error, and its extensions.
    assert any("._request.extensions" in path for path, _ in introspected(behind)), behind


def test_the_request_behind_a_connection_error_still_reads_its_body() -> None:
    # The failure's request is a copy without the secrets (the test above); its body, which
    # holds none, still reads as the request's as sent did.
    sent: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [sent.append]}) as mine,
        ServiceClient(
            f"http://127.0.0.1:{free_port()}",
            KEY_A,
            http_client=mine,
            max_retries=0,
            heartbeat_interval=0,
        ) as svc,
        pytest.raises(APIConnectionError) as info,
    ):
        svc.create_training_client("weaver-tiny")
    failed = info.value.__cause__
    assert isinstance(failed, httpx.ConnectError)
    assert failed.request is not sent[0]
    assert failed.request.content == sent[0].content
    assert sent[0].content.startswith(b"{")  # a body: the session's JSON


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
@pytest.mark.parametrize(
    "option",
    [{"timeout": -1}, {"tags": "run-1"}, {"max_retries": -1}, {"http_client": 1}, {"tmeout": 1}],
    ids=["timeout", "tags", "max_retries", "http_client", "mistyped"],
)
def test_a_refused_option_leaves_the_key_in_no_frame_of_its_traceback(
    client: type[ServiceClient | AsyncServiceClient], option: dict[str, Any]
) -> None:
    # `python -m unittest --locals`, pytest -l and rich show every frame's locals: those of
    # the client's __init__ held the key and the URL as given.
    with pytest.raises((InvalidArgumentError, TypeError)) as refused:
        client(with_user("http://127.0.0.1:9"), KEY_A, **option)
    shown = traceback.TracebackException.from_exception(refused.value, capture_locals=True)
    text = "".join(shown.format())
    assert ", in __init__\n" in text  # the client's own frames are there, with their locals
    assert "self = " in text
    assert "key = <redacted>" in text
    assert "url = 'http://***@127.0.0.1:9'" in text
    assert leaks(text, (KEY_A, PASSWORD, BASIC)) == []


def test_pytest_showlocals_of_a_failing_test_that_holds_a_client_never_shows_the_key(
    emu: RunningEmulator, tmp_path: Path
) -> None:
    user_tests = f"""
        from weaver_facade import ServiceClient, datum_from_tokens

        URL, KEY = {with_user(emu.base_url)!r}, {KEY_A!r}  # globals: -l shows locals

        def test_a_check_that_fails():
            with ServiceClient(URL, KEY, heartbeat_interval=0) as service:
                trainer = service.create_training_client("weaver-tiny")
                fast = service.with_options(timeout=5)
                trainer.forward_backward([datum_from_tokens([1, 2, 3])])
                assert fast.session_id is None

        def test_a_refused_option():
            ServiceClient(URL, KEY, timeout=-1)
    """
    (tmp_path / "test_user.py").write_text(textwrap.dedent(user_tests))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-l", "-p", "no:cacheprovider", "-p", "no:asyncio"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "2 failed" in run.stdout, run.stdout + run.stderr
    assert "fast       = ServiceClient(" in run.stdout  # the locals are shown
    assert "timeout    = -1" in run.stdout  # ... those of the refusing frames too
    assert leaks(run.stdout + run.stderr, (KEY_A, PASSWORD, BASIC)) == []


@pytest.mark.parametrize(
    ("key", "from_env"),
    [
        (KEY_A[:9] + "\n" + KEY_A[9:], False),
        (KEY_A[:9] + "\n" + KEY_A[9:], True),
        (KEY_A + "\x00", False),  # an environment variable cannot hold it
        (KEY_A + "é", False),
        (KEY_A + "é", True),
    ],
)
def test_a_key_no_header_can_carry_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, key: str, from_env: bool
) -> None:
    # httpx and h11 refuse such a header when the first request is built, with the key (or
    # the part that broke) in their message: "Illegal header value b'sk-tenant\n-a-...'".
    if from_env:
        monkeypatch.setenv("WEAVER_API_KEY", key)
    for client in (ServiceClient, AsyncServiceClient):
        with pytest.raises(InvalidInputError) as refused:
            client("http://127.0.0.1:9", None if from_env else key)  # before any request
        assert "api_key" in str(refused.value)
        # What a script prints (the frames' locals hold the argument itself).
        error = refused.value
        shown = [str(error), repr(error), *traceback.format_exception(error)]
        assert leaks("\n".join(shown), (KEY_A[:9], KEY_A[9:])) == []


def _echoing_server() -> ScriptedServer:
    """Every reply echoes the key in headers, as a server that builds its request id from
    the request's headers would (and a redirect's ``Location``)."""
    echo = {"X-Request-ID": f"req-{KEY_A}", "Retry-After": KEY_A}
    body = {"error": "unavailable", "message": "overloaded", "retryable": False}
    return ScriptedServer(lambda method, path: (503, body, echo))


def test_httpcore_debug_records_of_reply_headers_never_show_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # httpcore logs every reply's headers at DEBUG ("receive_response_headers.complete").
    caplog.set_level(logging.DEBUG)
    with (
        _echoing_server() as server,
        ServiceClient(server.base_url, KEY_A, max_retries=1) as svc,
        pytest.raises(WeaverError),
    ):
        svc.supported_models()
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert headers, "httpcore logged no reply headers"
    assert any("req-[redacted]" in message for message in headers)
    assert leaks(caplog.text, (KEY_A,)) == []


async def test_httpcore_debug_records_of_reply_headers_never_show_the_key_async(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with _echoing_server() as server:
        async with AsyncServiceClient(server.base_url, KEY_A, max_retries=1) as svc:
            with pytest.raises(WeaverError):
                await svc.supported_models()
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert headers, "httpcore logged no reply headers"
    assert leaks(caplog.text, (KEY_A,)) == []


@contextlib.contextmanager
def _answering(reply: str | Callable[[str], str]) -> Iterator[str]:
    """The base URL of a server that answers every request with the raw ``reply`` (or
    what it makes of the request's head), which h11 may find malformed (no HTTP server
    library sends such a reply)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)

        def answer() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = sock.accept()
                    with conn:
                        head = conn.recv(65536).decode("latin-1")
                        conn.sendall((reply if isinstance(reply, str) else reply(head)).encode())

        threading.Thread(target=answer, daemon=True).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    "reply",
    [
        "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\nbad header echo {key}\r\n\r\n",
        "HTTP/1.1 503 {key}\x00\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["header-line", "status-line"],
)
def test_a_malformed_reply_that_quotes_the_key_is_scrubbed(reply: str) -> None:
    # h11 quotes a malformed line ("illegal header line: bytearray(b'... KEY')"), and the
    # APIConnectionError quoted h11, with h11's exception behind it in the traceback.
    with (
        _answering(reply.format(key=KEY_A)) as url,
        ServiceClient(url, KEY_A, max_retries=0, heartbeat_interval=0) as service,
        pytest.raises(APIConnectionError) as info,
    ):
        service.supported_models()
    assert "illegal" in str(info.value)
    assert "[redacted]" in str(info.value)
    assert leaks(exception_texts(info.value), (KEY_A,)) == []


@pytest.mark.parametrize("own_client", [True, False], ids=["own-client", "user-client"])
def test_httpx_records_of_a_reason_phrase_that_echoes_the_key_never_show_it(
    caplog: pytest.LogCaptureFixture, own_client: bool
) -> None:
    # httpx logs each reply at INFO ('HTTP Request: GET ... "HTTP/1.1 503 REASON"'): the
    # facade's own client for the last attempt, a user's client for every one.
    caplog.set_level(logging.DEBUG)
    reply = "HTTP/1.1 503 Busy {key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with (
        _answering(reply.format(key=KEY_A)) as url,
        httpx.Client() as http,
        ServiceClient(
            url,
            KEY_A,
            retry=FAST,
            heartbeat_interval=0,
            http_client=None if own_client else http,
        ) as service,
        pytest.raises(WeaverError) as info,
    ):
        service.supported_models()
    logged = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(logged) == (1 if own_client else 8), logged
    assert all("503 Busy [redacted]" in message for message in logged), logged
    assert leaks(caplog.text, (KEY_A,)) == []
    assert leaks(exception_texts(info.value), (KEY_A,)) == []


def test_httpcore_debug_records_never_show_a_key_with_a_backslash_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # httpcore's record shows the reply's headers as bytes reprs, which double a backslash:
    # b'req-sk-back\\\\slash-...' is the key all the same.
    body = {"error": "unavailable", "message": "overloaded", "retryable": False}
    caplog.set_level(logging.DEBUG)
    with (
        ScriptedServer(lambda _m, _p: (503, body, {"X-Request-ID": f"req-{BACKSLASH_KEY}"})) as s,
        ServiceClient(s.base_url, BACKSLASH_KEY, max_retries=0) as svc,
        pytest.raises(WeaverError) as info,
    ):
        svc.supported_models()
    # Before any local holds the key: the frames' locals are shown too (this one's).
    shown = exception_texts(info.value)
    secrets = (BACKSLASH_KEY, BACKSLASH_KEY.replace("\\", "\\\\"))
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert any("req-[redacted]" in message for message in headers), headers
    assert leaks(caplog.text, secrets) == []
    assert leaks(shown, secrets) == []


BASIC_USER, BASIC_PASSWORD = "weaver-user", "pw-9c41e7b20d5f"


class _EchoingCredentials(BaseHTTPRequestHandler):
    """Answers 401, echoing the request's ``Authorization`` and the credentials in it."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        header = self.headers.get("Authorization", "")
        pair = base64.b64decode(header.partition(" ")[2]).decode()
        user, _, password = pair.partition(":")
        message = f"bad credentials {header} ({pair}): user {user}, password {password}"
        body = json.dumps({"error": "unauthorized", "message": message, "retryable": False})
        self.send_response(401, f"No {pair}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", f"req-{pair}")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


# user, password, and the half that is the secret; read inline, so as to be in no local.
BASIC_CREDENTIALS = {
    "password": (BASIC_USER, BASIC_PASSWORD, BASIC_PASSWORD),
    # The token as the user (GitHub's TOKEN:x-oauth-basic) was echoed whole.
    "token-as-user": ("tok-9c41e7b20d5f", "x-oauth-basic", "tok-9c41e7b20d5f"),
    # httpx sends the user info as UTF-8, which was read back as Latin-1.
    "non-ascii": (BASIC_USER, "pässwörd-9c41e7", "pässwörd-9c41e7"),
}


@pytest.mark.parametrize("case", list(BASIC_CREDENTIALS))
def test_a_reply_that_echoes_the_base_urls_credentials_never_shows_them(
    caplog: pytest.LogCaptureFixture, case: str
) -> None:
    # The base URL's user info goes as Basic credentials, which a server may echo as it
    # may echo the key: in its message, its reason phrase, its X-Request-ID.
    caplog.set_level(logging.DEBUG)
    server = QuietServer(("127.0.0.1", 0), _EchoingCredentials)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        with (
            ServiceClient(
                "http://{}:{}@127.0.0.1:{}".format(*map(quote, BASIC_CREDENTIALS[case][:2]), port),
                KEY_A,
                max_retries=0,
                heartbeat_interval=0,
            ) as service,
            pytest.raises(AuthenticationError) as info,
        ):
            service.supported_models()
    finally:
        server.shutdown()
        server.server_close()
    shown = exception_texts(info.value)
    user, password, secret = BASIC_CREDENTIALS[case]
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert "bad credentials" in str(info.value)
    in_bytes = str(secret.encode("latin-1"))[2:-1]  # httpcore's record of the headers
    assert leaks(shown + caplog.text, (secret, basic, in_bytes)) == []


@pytest.mark.parametrize("password", ["", ":pw-0d5f9c41e7b2"], ids=["alone", "with-password"])
def test_a_reply_naming_things_after_the_base_urls_user_keeps_their_names(password: str) -> None:
    # A server may name its resources after the account of the base URL's user info: the
    # user name was taken out of the ids (as a key is), so the model got `[redacted]-m1`,
    # a model no one has.
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "acme-team-prod-m1"})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    with ServiceClient(
        f"http://acme-team-prod{password}@weaver.test",
        KEY_A,
        http_client=http,
        heartbeat_interval=0,
    ) as service:
        assert service.get_model("acme-team-prod-m1").id == "acme-team-prod-m1"


@pytest.mark.parametrize("status", [200, 201])
def test_a_reply_not_json_that_echoes_the_key_leaves_it_in_no_exception_behind(
    status: int,
) -> None:
    # The error quoted the reply scrubbed, but the JSON parser's error it was raised from
    # (not shown, yet held: __context__, which error reporters may walk) kept the reply
    # whole in its ``doc`` and its frames' locals.
    body = f'{{"items": [], "echo": "{KEY_A}", oops'
    reply = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
    reply += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)

        def answer(sent: bytes) -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = sock.accept()
                    with conn:
                        conn.recv(65536)
                        conn.sendall(sent)

        threading.Thread(target=answer, args=(reply.encode(),), daemon=True).start()
        del body, reply  # the frames' locals are shown too: none of this one's holds it
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with (
            ServiceClient(url, KEY_A, max_retries=0, heartbeat_interval=0) as service,
            pytest.raises(WeaverError) as info,
        ):
            service.supported_models()
    assert "not JSON" in str(info.value)
    assert leaks(exception_texts(info.value), (KEY_A,)) == []


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_reply_that_does_not_decode_leaves_no_secret_in_the_frames(
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # A body that is not the gzip its Content-Encoding says: httpx's decoder raised with
    # the body in its locals (`data = b'... KEY'`), behind the ResponseValidationError.
    def echoed(head: str) -> str:
        body = head.replace("\r\n", " ")
        return (
            f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n{body}"
        )

    options: dict[str, Any] = {"max_retries": 0, "heartbeat_interval": 0}
    with _answering(echoed) as url:
        if kind is ServiceClient:
            with (
                ServiceClient(url, KEY_A, **options) as service,
                pytest.raises(WeaverError) as info,
            ):
                service.supported_models()
        else:
            async with AsyncServiceClient(url, KEY_A, **options) as aservice:
                with pytest.raises(WeaverError) as info:
                    await aservice.supported_models()
    shown = exception_texts(info.value)
    assert "does not decode" in str(info.value)
    assert "DecodingError" in shown  # its cause is there
    assert leaks(shown, (KEY_A,)) == []


def test_a_text_that_cannot_be_sent_leaves_no_key_in_the_error_behind() -> None:
    # A lone surrogate is refused as httpx builds the request, from None: the
    # UnicodeEncodeError behind it, not shown but held (__context__, which error reporters
    # may walk), kept httpx's frames, whose `headers` hold the key.
    url = f"http://127.0.0.1:{free_port()}"
    options: dict[str, Any] = {"max_retries": 0, "heartbeat_interval": 0}
    with (
        ServiceClient(url, KEY_A, user_metadata={"note": "\ud800"}, **options) as service,
        pytest.raises(InvalidArgumentError, match="lone surrogate") as info,
    ):
        service.create_training_client("base-model")
    assert isinstance(info.value.__context__, UnicodeEncodeError)  # held
    assert leaks(exception_texts(info.value), (KEY_A,)) == []


def test_a_retry_the_close_stopped_leaves_no_key_in_the_error_behind() -> None:
    # Closed while a retry waited, from None: the transport's ClientClosedError behind the
    # call's (held, as above) kept the transport's frames, whose `outcome`, the attempt's
    # error, quoted the key a malformed reply echoed (h11's "illegal header line").
    closing: list[ServiceClient] = []
    with _answering(f"HTTP/1.1 503 No\r\nContent-Length: 0\r\necho {KEY_A}\r\n\r\n") as url:
        service = ServiceClient(
            url, KEY_A, heartbeat_interval=0, sleep=lambda _s: closing[0].close()
        )
        closing.append(service)
        with pytest.raises(ClientClosedError, match="not retried") as info:
            service.supported_models()
    assert isinstance(info.value.__context__, ClientClosedError)  # held
    assert leaks(exception_texts(info.value), (KEY_A,)) == []


def test_an_error_quoting_a_reply_that_echoes_secrets_json_escaped_never_shows_them() -> None:
    # A reply that is no Weaver error is quoted in the error. Its JSON wrote the secrets as
    # PHP's json_encode does, the key's / as \/ and the URL password's é as \u00e9: the
    # scrub looked for them as written, and URL-quoted, alone.
    with ScriptedServer(lambda _m, _p: (400, ESCAPED_ECHO, {})) as server:
        url = server.base_url.replace("http://", f"http://u:{quote(PASSWORD_E)}@")
        with (
            ServiceClient(url, SLASH_KEY, max_retries=0, heartbeat_interval=0) as service,
            pytest.raises(WeaverError) as info,
        ):
            service.supported_models()
        del url  # the frames' locals are shown too (this one's)
    shown = exception_texts(info.value)
    assert "who is [redacted] ([redacted])?" in str(info.value), str(info.value)
    assert leaks(shown, (SLASH_KEY, PASSWORD_E, "0123456789", "te-123")) == []


def _php_json(value: object) -> str:
    return json.dumps(value).replace("/", "\\/")


@pytest.mark.parametrize("secret", [SLASH_KEY, 'sk-quote"d-0123456789'])
def test_an_error_quoting_a_json_text_within_json_that_echoes_the_key_never_shows_it(
    secret: str,
) -> None:
    # A gateway's reply that quotes its upstream's JSON error in a string of its own: JSON
    # escapes the escapes again, the key's / written \\\/ (PHP's \/, escaped) and its "
    # \\\" (three backslashes). The scrub looked for one escape, or one doubled by a repr.
    reply = _php_json({"message": "upstream: " + _php_json({"error": f"bad key {secret}"})})
    with (
        ScriptedServer(lambda _m, _p: (400, reply.encode(), {})) as server,
        ServiceClient(server.base_url, secret, max_retries=0, heartbeat_interval=0) as svc,
        pytest.raises(WeaverError) as info,
    ):
        svc.supported_models()
    assert "upstream" in str(info.value)  # the reply is quoted
    assert "bad key [redacted]" in str(info.value).replace("\\", ""), str(info.value)
    shown = [repr(info.value), *traceback.format_exception(info.value)]  # the test's locals hold it
    assert [text for text in shown if "0123456789" in text] == []


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda found: found[0].lower(), text)


# How a server may echo a secret in a success's field (`{}` the secret's place), with the
# secret (the key, the base URL's password) written so.
ECHOED_2XX: dict[str, tuple[str, Callable[[str], str]]] = {
    # UTF-8 read as Latin-1, as a server may decode Basic credentials: é as Ã©.
    "latin-1": ("who is {}?", lambda secret: secret.encode().decode("latin-1")),
    # Percent-encoded in lower case: %2f, %c3%a9.
    "percent": ("GET /m?k={}", lambda secret: _lower_escapes(quote(secret, safe=""))),
    # A field whose value is itself JSON text, which wrote / as \/ and é as \u00e9.
    "json-text": ('{{"echo": "{}"}}', lambda secret: json.dumps(secret).replace("/", "\\/")[1:-1]),
}


@pytest.mark.parametrize("secret", ["key", "password"])
@pytest.mark.parametrize("spelling", list(ECHOED_2XX))
def test_a_success_that_echoes_a_secret_however_spelled_never_shows_it(
    secret: str, spelling: str
) -> None:
    # A 2xx reply is cleaned of the secrets before it is parsed, but only when one of a
    # few spellings of them was in it: these stayed in the model returned, and its repr.
    template, spell = ECHOED_2XX[spelling]
    echoed = spell(SLASH_KEY if secret == "key" else PASSWORD_E)
    model = {"id": "m-1", "base_model": "weaver-tiny", "tokenizer_path": template.format(echoed)}
    http = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=model)))
    with ServiceClient(
        f"http://acct:{quote(PASSWORD_E)}@weaver.test",
        SLASH_KEY,
        http_client=http,
        heartbeat_interval=0,
    ) as service:
        got = service.get_model("m-1")
    assert got.tokenizer_path == template.format("[redacted]")
    assert leaks(repr(got), ("0123456789", "secr", "te-123")) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32-le"])
def test_a_success_in_another_unicode_encoding_never_shows_the_key(encoding: str) -> None:
    # A JSON reply may come in UTF-16 or UTF-32, which the parser reads (by its first
    # bytes): it was looked at for the key as UTF-8, where the key is not.
    model = {"id": "m-1", "base_model": "weaver-tiny", "tokenizer_path": f"who is {SLASH_KEY}?"}
    body = json.dumps(model).encode(encoding)
    reply = httpx.MockTransport(lambda _r: httpx.Response(200, content=body))
    with ServiceClient(
        "http://weaver.test",
        SLASH_KEY,
        http_client=httpx.Client(transport=reply),
        heartbeat_interval=0,
    ) as service:
        got = service.get_model("m-1")
    assert got.tokenizer_path == "who is [redacted]?"
    assert leaks(repr(got), ("0123456789", "secr")) == []


TOKEN = "bearer-tok-5f3a9c1e7d2b"


class _EchoingAuthorization(BaseHTTPRequestHandler):
    """Answers 401, echoing the request's ``Authorization`` (or ``X-Api-Key``) in its
    reason phrase, its ``X-Request-ID`` and its message."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        header = self.headers.get("Authorization") or self.headers.get("X-Api-Key", "")
        body = json.dumps({"error": "unauthorized", "message": f"bad {header}", "retryable": False})
        self.send_response(401, f"No {header}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", f"req-{header}")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


# The header a user's client adds, and its value.
BEARER = ("Authorization", f"Bearer {TOKEN}")


class _BearerAuth(httpx.Auth):
    def __init__(self, header: tuple[str, str] = BEARER) -> None:
        self._header = header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header[0]] = self._header[1]
        yield request


class _BearerTransport(httpx.BaseTransport):
    """Sends a copy of each request with the token added: the request the facade gave
    the client never holds it."""

    def __init__(self, header: tuple[str, str]) -> None:
        self._inner = httpx.HTTPTransport()
        self._header = header

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {**request.headers, self._header[0]: self._header[1]}
        copy = httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=request.content,
            extensions=request.extensions,
        )
        return self._inner.handle_request(copy)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize(
    "header",
    # The value's template, filled in inline: a local holding the token would be shown
    # with the traceback's.
    [("Authorization", "Bearer {}"), ("Authorization", "{}"), ("X-Api-Key", "{}")],
    ids=["bearer", "no-scheme", "api-key"],
)
@pytest.mark.parametrize("adds", ["auth", "transport"])
def test_a_token_a_users_client_adds_never_shows_when_echoed(
    caplog: pytest.LogCaptureFixture, adds: str, header: tuple[str, str]
) -> None:
    # The key is the facade's; a token that the user's client adds as it sends (its auth,
    # a transport of its own) was in no list of secrets: httpcore's DEBUG record of the
    # reply's headers and the client's INFO record of its reason phrase showed it, and,
    # added to a copy of the request, so did the error.
    caplog.set_level(logging.DEBUG)
    server = QuietServer(("127.0.0.1", 0), _EchoingAuthorization)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http = (
        httpx.Client(auth=_BearerAuth((header[0], header[1].format(TOKEN))))
        if adds == "auth"
        else httpx.Client(transport=_BearerTransport((header[0], header[1].format(TOKEN))))
    )
    try:
        with (
            http,
            ServiceClient(
                f"http://127.0.0.1:{server.server_address[1]}",
                KEY_A,
                http_client=http,
                max_retries=0,
                heartbeat_interval=0,
            ) as service,
            pytest.raises(AuthenticationError) as info,
        ):
            service.supported_models()
    finally:
        server.shutdown()
        server.server_close()
    # The server saw the token: what it echoed is what must not show, the rest is.
    echoed = header[1].format("[redacted]")
    assert f"bad {echoed}" in str(info.value)
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert any(f"req-{echoed}" in m for m in headers), headers
    replies = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(f'401 No {echoed}"' in m for m in replies), replies
    assert leaks(caplog.text + exception_texts(info.value), (TOKEN,)) == []


async def test_a_token_a_users_async_client_adds_never_shows_when_echoed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = QuietServer(("127.0.0.1", 0), _EchoingAuthorization)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with (
            httpx.AsyncClient(auth=_BearerAuth()) as http,
            AsyncServiceClient(
                f"http://127.0.0.1:{server.server_address[1]}",
                KEY_A,
                http_client=http,
                max_retries=0,
                heartbeat_interval=0,
            ) as service,
        ):
            with pytest.raises(AuthenticationError) as info:
                await service.supported_models()
    finally:
        server.shutdown()
        server.server_close()
    assert "bad Bearer [redacted]" in str(info.value)
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert any(b"req-Bearer [redacted]" in m.encode() for m in headers), headers
    assert leaks(caplog.text + exception_texts(info.value), (TOKEN,)) == []


PROXY_USER, PROXY_PASSWORD = "proxy-user", "proxy-pw-8e1c4b7a2f9d"


def _echoing_refusal(head: str) -> str:
    """A 407 that echoes the request's ``Proxy-Authorization`` and the credentials in it:
    in its reason phrase, a header and its body."""
    header = re.search(r"(?im)^proxy-authorization: *(.*?)\r$", head)
    sent = header[1] if header else ""
    pair = base64.b64decode(sent.partition(" ")[2]).decode()
    echo = f"{sent} ({pair})"
    body = f"denied: {echo}"
    reply = f"HTTP/1.1 407 No {echo}\r\nX-Echo: {echo}\r\n"
    return reply + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"


@contextlib.contextmanager
def _refusing_proxy() -> Iterator[str]:
    """The URL (with user info) of a proxy that refuses every request (``_echoing_refusal``)."""
    with _answering(_echoing_refusal) as url:
        yield url.replace("http://", f"http://{PROXY_USER}:{PROXY_PASSWORD}@")


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("given", ["environment", "user-client"])
def test_a_proxy_that_echoes_its_credentials_never_has_them_shown(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, scheme: str, given: str
) -> None:
    # The proxy URL's user info goes as Proxy-Authorization: on the CONNECT of an https
    # request, whose refusal httpcore raises as ProxyError("407 REASON"), and on a plain
    # http request, whose 407 is the reply. Either echoed them into the error and the logs.
    caplog.set_level(logging.DEBUG)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _refusing_proxy() as proxy:
        if given == "environment":
            monkeypatch.setenv("HTTPS_PROXY", proxy)
            monkeypatch.setenv("HTTP_PROXY", proxy)
        with (
            httpx.Client(proxy=proxy if given == "user-client" else None) as http,
            ServiceClient(
                f"{scheme}://weaver.test",
                KEY_A,
                http_client=http if given == "user-client" else None,
                max_retries=0,
                heartbeat_interval=0,
            ) as service,
            pytest.raises(WeaverError) as info,
        ):
            service.supported_models()
        del proxy  # the frames' locals are shown too: none of this one's holds it
    shown = exception_texts(info.value)
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert "407 No Basic [redacted]" in str(info.value)
    headers = [r.getMessage() for r in caplog.records if "receive_response_headers" in r.msg]
    assert any("b'Basic [redacted] ([redacted])'" in m for m in headers), headers
    assert leaks(caplog.text + shown, (PROXY_PASSWORD, basic)) == []


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("given", ["environment", "user-client"])
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_proxy_that_cannot_be_reached_leaves_no_secret_in_the_frames(
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
    given: str,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # httpcore's proxy connections hold what they send in their locals: a plain http
    # request's headers (the key and Proxy-Authorization), an https one's CONNECT headers.
    # The frames behind an APIConnectionError are its cause's: pytest -l, rich and error
    # trackers showed them, with the key read from WEAVER_API_KEY, held by no frame of ours.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEAVER_API_KEY", KEY_A)
    proxy = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{free_port()}"
    if given == "environment":
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("HTTP_PROXY", proxy)
    options: dict[str, Any] = {"max_retries": 0, "heartbeat_interval": 0}
    if kind is ServiceClient:
        if given == "user-client":
            options["http_client"] = httpx.Client(proxy=proxy)
        with (
            ServiceClient(f"{scheme}://weaver.test", **options) as service,
            pytest.raises(APIConnectionError) as info,
        ):
            service.supported_models()
    else:
        if given == "user-client":
            options["http_client"] = httpx.AsyncClient(proxy=proxy)
        async with AsyncServiceClient(f"{scheme}://weaver.test", **options) as aservice:
            with pytest.raises(APIConnectionError) as info:
                await aservice.supported_models()
    del proxy, options
    shown = exception_texts(info.value)
    assert "ConnectError" in shown
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    assert leaks(shown, (KEY_A, PROXY_PASSWORD, basic)) == []


@pytest.mark.parametrize("stop", ["cancel", "ctrl-c"])
async def test_a_request_stopped_in_a_proxy_leaves_no_secret_in_the_frames(
    monkeypatch: pytest.MonkeyPatch, stop: str
) -> None:
    # The CancelledError behind wait_for's TimeoutError, and a Ctrl-C's KeyboardInterrupt,
    # carry the frames they ended, httpcore's proxy connection among them, whose `headers`
    # held the key.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEAVER_API_KEY", KEY_A)
    info: pytest.ExceptionInfo[BaseException]
    with closing(blackhole()) as silent:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{silent.getsockname()[1]}")
        if stop == "cancel":
            async with AsyncServiceClient("http://weaver.test", heartbeat_interval=0) as aservice:
                with pytest.raises(TimeoutError) as info:
                    await asyncio.wait_for(aservice.supported_models(), 0.5)
        else:
            previous = signal.signal(signal.SIGINT, signal.default_int_handler)
            main = threading.main_thread().ident
            assert main is not None
            ctrl_c = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
            try:
                with ServiceClient("http://weaver.test", heartbeat_interval=0) as service:
                    ctrl_c.start()
                    with pytest.raises(KeyboardInterrupt) as info:
                        service.supported_models()
            finally:
                ctrl_c.join()
                signal.signal(signal.SIGINT, previous)
    shown = exception_texts(info.value)
    assert "supported_models" in shown  # the frames of the call are there
    assert leaks(shown, (KEY_A,)) == []
