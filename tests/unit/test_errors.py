"""Error mapping: HTTP errors, malformed replies, and the shape of the error tree."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import errno
import functools
import io
import itertools
import json
import os
import pickle
import re
import socket
import struct
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from weaver_client.client import Client

from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeWeaver,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.ports import free_port
from weaver_facade import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    Artifact,
    AsyncServiceClient,
    AuthenticationError,
    BadRequestError,
    CheckpointExistsError,
    CheckpointNotReadyError,
    ConflictError,
    IdempotencyMismatchError,
    IncompatibleCheckpointError,
    InternalServerError,
    ModelStateLostError,
    ModelTerminatedError,
    NotFoundError,
    OperationFailedError,
    OptimizerStateUnavailableError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    SeqIdConflictError,
    ServiceClient,
    TrainingClient,
    UnknownBaseModelError,
    WeaverError,
    _calls,
    _errors,
    _wire,
    datum_from_tokens,
)
from weaver_facade._errors import error_class
from weaver_facade._schema import explain
from weaver_facade._spec_schema import best_error, field_parts, field_path, spec_schemas

SAVE = "/api/v1/models/m-1/checkpoints"


@pytest.fixture
def fake() -> FakeWeaver:
    return FakeWeaver()


@pytest.fixture
def trainer(fake: FakeWeaver) -> Iterator[TrainingClient]:
    with service(fake, max_retries=0) as svc:
        yield svc.create_training_client("weaver-tiny")


# -- the tree -----------------------------------------------------------------------------


def _documented_tree() -> list[tuple[int, str, list[str]]]:
    """(depth, class name, builtins after "also") for each line of _errors' docstring tree."""
    doc = _errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in block.splitlines():
        match = re.search(r"[A-Za-z]", line)
        if match is None:
            continue  # a continuation of the note on the line above
        name = re.match(r"\w+", line[match.start() :])
        assert name is not None
        if name.group() in {"status_code", "request_id"}:
            continue
        also = re.search(r"\(also (\w+)\)", line)
        rows.append((match.start(), name.group(), [also.group(1)] if also else []))
    return rows


def test_the_documented_tree_is_the_class_tree() -> None:
    rows = _documented_tree()
    parents: list[tuple[int, str]] = []
    documented = set()
    for depth, name, also in rows:
        while parents and parents[-1][0] >= depth:
            parents.pop()
        cls = getattr(_errors, name)
        documented.add(cls)
        if parents:
            parent = getattr(_errors, parents[-1][1])
            assert [b for b in cls.__bases__ if issubclass(b, WeaverError)] == [parent], name
        else:
            assert cls is WeaverError
        if cls is not WeaverError:
            # Every other base is drawn ("(also ValueError)"): a reader catches by it.
            others = [b for b in cls.__bases__ if not issubclass(b, WeaverError)]
            assert others == [getattr(builtins, builtin) for builtin in also], name
        parents.append((depth, name))
    # Every exception class of the module is in the tree, and nothing else is.
    classes = {
        obj
        for obj in vars(_errors).values()
        if isinstance(obj, type) and issubclass(obj, WeaverError)
    }
    assert documented == classes
    assert len(rows) > 25


def test_every_exception_class_is_public_and_in_the_readme() -> None:
    # A class added for a new error code passed the coverage, mypy and the tree above,
    # while users could not import it to catch it, nor find it in the README's list.
    import weaver_facade

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name, obj in vars(_errors).items():
        if isinstance(obj, type) and issubclass(obj, WeaverError):
            assert name in weaver_facade.__all__, f"{name}: not exported by weaver_facade"
            assert getattr(weaver_facade, name) is obj, name
            assert f"`{name}`" in readme, f"{name}: not in the README's list of errors"


def _one_of_each() -> list[WeaverError]:
    """An instance of every exception class, built as the facade builds it."""
    special: dict[type[WeaverError], WeaverError] = {
        _errors.AmbiguousArtifactKindError: _errors.AmbiguousArtifactKindError(
            "both kinds", checkpoint="weaver://m-1/checkpoints/c", kinds=("hf_adapter", "hf_model")
        ),
        _errors.ResponseValidationError: _errors.ResponseValidationError(
            "bad reply", operation="get_model", field="id", status_code=200, request_id="r-1"
        ),
        _errors.UnsupportedByServerError: _errors.UnsupportedByServerError(
            "no listing", extension="model-listing", status_code=404
        ),
        _errors.OperationFailedError: _errors.OperationFailedError(
            operation_id="op-1", code="interrupted", message="stopped", retryable=None
        ),
        _errors.OperationTimeoutError: _errors.OperationTimeoutError(
            operation_id="op-1",
            status="running",
            waited=1.5,
            last_error=InternalServerError("down", status_code=503, retryable=True),
            poll_error="HTTP 503",
        ),
        _errors.ArtifactIntegrityError: _errors.ArtifactIntegrityError(
            "sha256 mismatch", name="a.bin", expected="ab", received="cd"
        ),
        _errors.StorageError: _errors.StorageError("refused", name="a.bin", status_code=403),
    }
    errors: list[WeaverError] = []
    for cls in vars(_errors).values():
        if isinstance(cls, type) and issubclass(cls, WeaverError):
            if cls in special:
                errors.append(special[cls])
            elif issubclass(cls, APIError):
                errors.append(cls("refused", status_code=409, code="c", request_id="r-2"))
            else:
                errors.append(cls("refused"))
    return errors


@pytest.mark.parametrize("error", _one_of_each(), ids=lambda error: type(error).__name__)
def test_every_error_survives_pickle_and_copy(error: WeaverError) -> None:
    # An error raised in a worker process (concurrent.futures, multiprocessing) is
    # pickled there and unpickled here: a keyword-only constructor broke the pool.
    error.add_note("a note")
    for copied in (
        pickle.loads(pickle.dumps(error)),  # noqa: S301 (our own bytes)
        copy.copy(error),
        copy.deepcopy(error),
    ):
        assert type(copied) is type(error)
        assert str(copied) == str(error)
        assert repr(copied) == repr(error)
        assert copied.args == error.args
        assert {k: repr(v) for k, v in vars(copied).items()} == {
            k: repr(v) for k, v in vars(error).items()
        }


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", BadRequestError),
        (401, "unauthorized", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "checkpoint_exists", CheckpointExistsError),
        (409, "checkpoint_not_ready", CheckpointNotReadyError),
        (409, "model_terminated", ModelTerminatedError),
        (409, "model_state_lost", ModelStateLostError),
        (409, "seq_id_conflict", SeqIdConflictError),
        (409, "something_new", ConflictError),
        (413, "payload_too_large", PayloadTooLargeError),
        (422, "idempotency_mismatch", IdempotencyMismatchError),
        (422, "unknown_base_model", UnknownBaseModelError),
        (422, "optimizer_state_unavailable", OptimizerStateUnavailableError),
        (422, "incompatible_checkpoint", IncompatibleCheckpointError),
        (429, "rate_limited", RateLimitError),
        (500, "internal", InternalServerError),
        (503, "unavailable", InternalServerError),
        # A code refines only its own status.
        (500, "checkpoint_exists", InternalServerError),
        (418, "teapot", APIError),
    ],
)
def test_api_error_class(status: int, code: str, cls: type[APIError]) -> None:
    assert error_class(status, code) is cls


# -- mapped through the client --------------------------------------------------------------


def test_conflict_reply_maps_to_subclass_with_every_field(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.script(
        "POST",
        SAVE,
        json_reply(
            409,
            {
                "error": "checkpoint_exists",
                "message": "checkpoint after-3-steps already exists for model m-1",
                "retryable": False,
                "details": {"name": "after-3-steps"},
                "request_id": "req-77",
            },
        ),
    )
    with pytest.raises(CheckpointExistsError) as info:
        trainer.save_state("after-3-steps")
    error = info.value
    assert error.status_code == 409
    assert error.code == "checkpoint_exists"
    assert error.retryable is False
    assert error.request_id == "req-77"
    assert error.details == {"name": "after-3-steps"}
    assert "save_checkpoint" in error.message
    assert str(error).startswith("[409 checkpoint_exists] save_checkpoint: checkpoint after-3")
    assert "req-77" in str(error)


@pytest.mark.parametrize("status", [400, 422])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_request_refused_as_invalid_is_a_bad_request_at_either_status(
    fake: FakeWeaver, trainer: TrainingClient, method: str, status: int
) -> None:
    # The wire states no status for a refused request: a server that answers 422, as
    # FastAPI does, raised UnprocessableEntityError where another's 400 raised
    # BadRequestError, and a GET's 422, which the spec did not document, no Error at all.
    body = {"error": "invalid_request", "message": "body.name: bad", "retryable": False}
    fake.script(method, SAVE, json_reply(status, body))
    request = (lambda: trainer.save_state("a")) if method == "POST" else trainer.list_checkpoints
    with pytest.raises(BadRequestError) as info:
        request()
    assert (info.value.status_code, info.value.code) == (status, "invalid_request")
    assert "body.name: bad" in info.value.message


def test_duplicate_save_in_the_fake_is_a_conflict(trainer: TrainingClient) -> None:
    trainer.save_state("a")
    with pytest.raises(CheckpointExistsError):
        trainer.save_state("a")


def test_request_id_falls_back_to_the_header(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script(
        "POST",
        SAVE,
        httpx.Response(
            404,
            json={"error": "not_found", "message": "model m-1 not found", "retryable": False},
            headers={"X-Request-ID": "req-from-header"},
        ),
    )
    with pytest.raises(NotFoundError) as info:
        trainer.save_state("a")
    assert info.value.request_id == "req-from-header"


def test_html_502_page_is_a_server_error_not_a_json_crash(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    fake.script("POST", SAVE, httpx.Response(502, text=page, headers={"content-type": "text/html"}))
    with pytest.raises(InternalServerError) as info:
        trainer.save_state("a")
    error = info.value
    assert error.status_code == 502
    assert error.code is None
    assert error.retryable is True
    assert "502 Bad Gateway" in str(error)
    assert "not a Weaver error" in str(error)


NGINX_502 = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad\n Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body></html>"
)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "said"),
    [
        # It quoted the page's markup: "the reply is not a Weaver error: '<!DOCTYPE html> ..."
        (
            502,
            NGINX_502,
            "text/html; charset=utf-8",
            "HTTP 502 Bad Gateway; the reply is an HTML page "
            "titled '502 Bad Gateway', not a Weaver error",
        ),
        (
            404,
            "  <!doctype html><title>Not Found</title>",
            "application/json",
            "HTTP 404 Not Found; the reply is an HTML page titled 'Not Found', not a Weaver error",
        ),
        (
            503,
            "<html>busy</html>",
            "text/html",
            "HTTP 503 Service Unavailable; the reply is an HTML page, not a Weaver error",
        ),
        (
            502,
            "bad gateway",
            "text/plain",
            "HTTP 502 Bad Gateway; the reply is not a Weaver error: 'bad gateway'",
        ),
        # A success's body is read as the reply, not as an Error.
        (
            200,
            NGINX_502,
            "text/html",
            "the reply is an HTML page titled '502 Bad Gateway', "
            "not JSON (HTTP 200, content-type 'text/html')",
        ),
        (
            200,
            "<html>ok</html>",
            "text/plain",
            "the reply is an HTML page, not JSON (HTTP 200, content-type 'text/plain')",
        ),
        # A title's entities are its characters; a long one is cut, and says so.
        (
            502,
            "<html><title>Tom &amp; Jerry &#8212; &lt;edge&gt;</title></html>",
            "text/html",
            "HTTP 502 Bad Gateway; the reply is an HTML page titled 'Tom & Jerry \u2014 <edge>', "
            "not a Weaver error",
        ),
        (
            502,
            f"<html><title>{'x' * 100}</title></html>",
            "text/html",
            f"HTTP 502 Bad Gateway; the reply is an HTML page titled '{'x' * 60}...', "
            "not a Weaver error",
        ),
    ],
    ids=[
        "nginx-502",
        "page-as-json",
        "untitled",
        "plain-text",
        "success-page",
        "success-untitled",
        "entities",
        "long-title",
    ],
)
def test_an_html_page_is_named_by_its_title_in_the_contract_kit_s_words(
    fake: FakeWeaver, status: int, body: str, content_type: str, said: str
) -> None:
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        httpx.Response(status, text=body, headers={"content-type": content_type}),
    )
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    assert info.value.message == f"get_operation: {said}"


def test_a_page_s_title_is_found_without_going_through_its_whole_body(
    fake: FakeWeaver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole body (megabytes, on the event loop for an async client) was scrubbed of
    # the key to read a title that lies in its first 4096 bytes.
    page = "<html><title>502 Bad Gateway</title>" + "<p>busy</p>" * 1_000_000 + "</html>"
    from weaver_facade import _redact

    longest = [0]
    real = _redact.replace_key

    def replace_key(text: str, key: str, placeholder: str) -> str:
        longest[0] = max(longest[0], len(text))
        return real(text, key, placeholder)

    monkeypatch.setattr(_redact, "replace_key", replace_key)
    fake.script("GET", "/api/v1/operations/op-1", httpx.Response(502, html=page))
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    assert "an HTML page titled '502 Bad Gateway'" in str(info.value)
    assert 0 < longest[0] < 10_000


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (
            502,
            '{"detail": "<title>x</title> upstream down"}',
            "get_operation: HTTP 502 Bad Gateway; the reply is not a Weaver error: "
            '\'{"detail": "<title>x</title> upstream down"}\'',
        ),
        (404, "null", "get_operation: HTTP 404 Not Found; the reply is not a Weaver error: 'null'"),
        (502, " \n", "get_operation: HTTP 502 Bad Gateway"),
        (200, "", "get_operation: the reply is not JSON (HTTP 200, content-type 'text/html'): ''"),
    ],
    ids=["json-error", "json-null", "blank-error", "empty-success"],
)
def test_json_or_nothing_sent_as_html_is_no_page(
    fake: FakeWeaver, status: int, body: str, said: str
) -> None:
    # A framework's JSON error with a text/html content type was "an HTML page titled
    # 'x'", its words lost, and an empty reply so typed "an HTML page".
    reply = httpx.Response(status, text=body, headers={"content-type": "text/html"})
    fake.script("GET", "/api/v1/operations/op-1", reply)
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    assert info.value.message == said


def test_a_proxy_s_413_page_is_payload_too_large_and_sent_once(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A server, or a proxy in front of it, may have its own limit and its own page.
    page = "<html><head><title>413 Request Entity Too Large</title></head></html>"
    fake.script("POST", SAVE, httpx.Response(413, text=page, headers={"content-type": "text/html"}))
    sent = len(fake.requests)
    with pytest.raises(PayloadTooLargeError) as info:
        trainer.save_state("a")
    assert (info.value.status_code, info.value.code, info.value.retryable) == (413, None, False)
    assert "413 Request Entity Too Large" in str(info.value)
    assert len(fake.requests) == sent + 1


def test_a_413_the_server_calls_retryable_is_still_sent_once(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # The same body is refused again, whatever the Error body says.
    too_large = error_json("payload_too_large", "too big", retryable=True)
    for _ in range(5):
        fake.script("POST", SAVE, httpx.Response(413, json=too_large))
    sent = len(fake.requests)
    with pytest.raises(PayloadTooLargeError) as info:
        trainer.save_state("a")
    assert info.value.retryable is False
    assert len(fake.requests) == sent + 1


def test_non_json_503_documented_status_is_mapped_by_status(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # 503 is documented with a JSON body; the generated parser would raise on HTML.
    fake.script("POST", SAVE, httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(InternalServerError) as info:
        trainer.save_state("a")
    assert info.value.status_code == 503


def test_error_body_missing_fields_is_still_mapped_by_status(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.script("POST", SAVE, json_reply(409, {"message": "no code here"}))
    with pytest.raises(ConflictError) as info:
        trainer.save_state("a")
    assert type(info.value) is ConflictError
    assert info.value.code is None


def test_rate_limit_carries_retry_after(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script(
        "POST",
        SAVE,
        json_reply(429, error_json("rate_limited", "slow down", True), {"Retry-After": "7"}),
    )
    with pytest.raises(RateLimitError) as info:
        trainer.save_state("a")
    assert info.value.retry_after == 7.0
    assert info.value.retryable is True


def test_connection_error_is_mapped(fake: FakeWeaver, trainer: TrainingClient) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake.script("POST", SAVE, refuse)
    with pytest.raises(APIConnectionError) as info:
        trainer.save_state("a")
    assert info.value.status_code is None
    assert "save_checkpoint" in str(info.value)


def errors_of_both_clients(
    url: str, max_retries: int = 0
) -> tuple[APIConnectionError, APIConnectionError]:
    """What a sync and an async client raise listing the supported models of ``url``."""
    with (
        ServiceClient(url, KEY, max_retries=max_retries, heartbeat_interval=0) as svc,
        pytest.raises(APIConnectionError) as sync_error,
    ):
        svc.supported_models()

    async def list_them() -> None:
        async with AsyncServiceClient(
            url, KEY, max_retries=max_retries, heartbeat_interval=0
        ) as svc:
            await svc.supported_models()

    with pytest.raises(APIConnectionError) as async_error:
        asyncio.run(list_them())
    return sync_error.value, async_error.value


@pytest.mark.parametrize("addresses", [1, 2], ids=["an-address", "a-name-of-two"])
def test_a_refused_connection_is_named_by_both_clients(
    addresses: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that restarts refuses connections: the async transport says only "All
    # connection attempts failed", its reason a few causes down, where the sync one says
    # "Connection refused"; for a name of several addresses (a localhost of ::1 and
    # 127.0.0.1, say), in the group of its connects' errors.
    port = free_port()
    host = "127.0.0.1"
    if addresses == 2:
        host, real = "twice.invalid", socket.getaddrinfo
        found = real("127.0.0.1", port, 0, socket.SOCK_STREAM) * 2

        def lookup(name: str | bytes | None, *args: Any, **kwargs: Any) -> list[Any]:
            if name in (host, host.encode()):  # anyio asks with bytes
                return found
            return real(name, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with caplog.at_level("WARNING", logger="weaver_facade"):
        errors = errors_of_both_clients(f"http://{host}:{port}", max_retries=1)
    for error in errors:
        assert str(error).startswith("list_supported_models: ConnectError: "), error
        assert "connection refused" in str(error).lower(), error
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) == 2, retried
    for line in retried:  # as the retry lines of each say
        assert "/supported-models: connection refused; retrying" in line, line


def test_a_proxy_that_refuses_the_connection_is_named_in_one_clause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The async client's error read "All connection attempts failed (connection refused)
    # (through the proxy ... the environment names; see *_PROXY)": two brackets in a row.
    proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    where = f"through the proxy {proxy} the environment names; see *_PROXY)"
    for error in errors_of_both_clients("http://weaver.invalid"):
        said = str(error)
        assert "connection refused" in said.lower(), said
        assert said.endswith(where), said
        assert said.count("(") == said.count(")") == 1, said


@contextlib.contextmanager
def resetting_server() -> Iterator[str]:
    """The URL of a loopback server that reads each request, then resets its connection
    (SO_LINGER 0: a close that sends RST), as a server or a proxy that drops it does."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept, which a close does not
        listener.close()
        thread.join(5)


def test_a_connection_reset_is_named_by_both_clients() -> None:
    # The sync client said "ReadError: [Errno 104] Connection reset by peer", the async one
    # "ReadError: connection dropped": its transport's ReadError says nothing, the OS's
    # reason a few causes down.
    with resetting_server() as url:
        sync_error, async_error = errors_of_both_clients(url)
    said = str(sync_error)
    assert said.startswith("list_supported_models: ReadError: "), said
    assert os.strerror(errno.ECONNRESET) in said, said
    assert str(async_error) == said
    assert async_error.__notes__ == sync_error.__notes__


def test_timeout_is_mapped(fake: FakeWeaver, trainer: TrainingClient) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.script("POST", SAVE, slow)
    with pytest.raises(APITimeoutError):
        trainer.save_state("a")


# -- malformed replies ------------------------------------------------------------------------

OK_CHECKPOINT = {
    "id": "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09",
    "name": "a",
    "type": "weight",
    "path": "weaver://m-1/checkpoints/a",
    "status": "completed",
    "ttl_seconds": None,
    "created_at": "2026-11-29T10:01:00Z",
    "expires_at": None,
    "train_unembed": True,
    "train_mlp": True,
    "train_attn": True,
}


def _done(response: object) -> httpx.Response:
    return json_reply(202, {"id": "op-1", "status": "done", "response": response})


@pytest.mark.parametrize(
    ("reply", "message", "field"),
    [
        (
            _done(
                {
                    **{k: v for k, v in OK_CHECKPOINT.items() if k != "type"},
                    "checkpoint_type": "weight",
                }
            ),
            "save_checkpoint: Checkpoint: required field `type` missing (got `checkpoint_type`)",
            "type",
        ),
        (
            _done({**OK_CHECKPOINT, "type": "training"}),
            "save_checkpoint: Checkpoint: field `type`: 'training' is not a valid CheckpointType "
            "(expected one of: sampling, weight, weight_and_optimizer)",
            "type",
        ),
        (
            _done({**OK_CHECKPOINT, "created_at": "yesterday"}),
            "save_checkpoint: Checkpoint: field `created_at`: 'yesterday' is not a date-time",
            "created_at",
        ),
        (
            _done({**OK_CHECKPOINT, "train_mlp": "yes"}),
            "save_checkpoint: Checkpoint: field `train_mlp`: expected a boolean, got a string",
            "train_mlp",
        ),
        (
            _done({**OK_CHECKPOINT, "path": "s3://bucket/a"}),
            "save_checkpoint: Checkpoint: field `path`: 's3://bucket/a' is not a checkpoint path",
            "path",
        ),
        (
            # A reply's path is wrong, not the caller's: no advice on what to pass instead.
            _done({**OK_CHECKPOINT, "path": "weaver://m-1/checkpoints/a/artifacts/hf_model"}),
            "save_checkpoint: Checkpoint: field `path`: "
            "'weaver://m-1/checkpoints/a/artifacts/hf_model' is not a checkpoint path: expected",
            "path",
        ),
        (
            # History: a nested {checkpoint, operation} instead of a flat Operation.
            json_reply(
                202,
                {"checkpoint": OK_CHECKPOINT, "operation": {"id": "op-1", "status": "done"}},
            ),
            "save_checkpoint: Operation: required field `id` missing "
            "(got `checkpoint`, `operation`)",
            "id",
        ),
        (
            json_reply(202, {"id": "op-1", "status": "completed"}),
            "save_checkpoint: Operation: field `status`: 'completed' is not a valid "
            "OperationStatus (expected one of: done, error, pending, running)",
            "status",
        ),
        (
            json_reply(202, ["not", "an", "object"]),
            "save_checkpoint: Operation: expected a JSON object, got an array",
            None,
        ),
        (
            # History: the save answered 201 synchronously, with the Checkpoint.
            json_reply(201, OK_CHECKPOINT),
            "save_checkpoint: the HTTP 201 reply is a Checkpoint where an Operation belongs: "
            "the server finished the work synchronously instead of starting an operation",
            None,
        ),
        (
            # The same shape under another 2xx, and with a status an Operation may have.
            json_reply(202, {**OK_CHECKPOINT, "status": "pending"}),
            "save_checkpoint: the HTTP 202 reply is a Checkpoint where an Operation belongs",
            None,
        ),
    ],
)
def test_malformed_save_replies(
    fake: FakeWeaver,
    trainer: TrainingClient,
    reply: httpx.Response,
    message: str,
    field: str | None,
) -> None:
    fake.script("POST", SAVE, reply)
    with pytest.raises(ResponseValidationError) as info:
        trainer.save_state("a")
    assert str(info.value).startswith(message), str(info.value)
    assert info.value.field == field
    assert info.value.operation == "save_checkpoint"
    # Never a bare exception from generated code underneath.
    assert not isinstance(info.value, KeyError | TypeError)


def test_non_json_success_reply(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script(
        "POST",
        SAVE,
        httpx.Response(202, text="<html>ok</html>", headers={"content-type": "text/html"}),
    )
    with pytest.raises(ResponseValidationError) as info:
        trainer.save_state("a")
    assert str(info.value).startswith(
        "save_checkpoint: the reply is an HTML page, not JSON (HTTP 202, content-type 'text/html')"
    )


def test_completed_while_polling_is_an_error_not_an_endless_poll(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        json_reply(200, {"id": "op-1", "status": "completed", "response": OK_CHECKPOINT}),
    )
    with pytest.raises(ResponseValidationError) as info:
        trainer.save_state("a")
    assert info.value.operation == "get_operation"
    assert info.value.field == "status"
    assert len(fake.sent("GET")) == 1


def test_listing_names_the_bad_item(fake: FakeWeaver, trainer: TrainingClient) -> None:
    legacy = {k: v for k, v in OK_CHECKPOINT.items() if k != "type"} | {"checkpoint_type": "weight"}
    fake.script(
        "GET",
        SAVE,
        json_reply(200, {"items": [OK_CHECKPOINT, legacy], "next_cursor": None}),
    )
    with pytest.raises(ResponseValidationError) as info:
        trainer.list_checkpoints()
    assert str(info.value) == (
        "list_checkpoints: CheckpointList: items[1]: required field `type` missing "
        "(got `checkpoint_type`) (request id req-1)"
    )


def test_a_repeated_cursor_ends_the_listing(fake: FakeWeaver, trainer: TrainingClient) -> None:
    page = json_reply(200, {"items": [OK_CHECKPOINT], "next_cursor": "same"})
    fake.script("GET", SAVE, page, json_reply(200, {"items": [], "next_cursor": "same"}))
    with pytest.raises(ResponseValidationError, match="next_cursor"):
        trainer.list_checkpoints()


def test_a_cursor_of_another_type_fails_the_listing(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # Left out with a warning, it ended the listing after its first page: the newest
    # checkpoint, on the second, went unseen and latest_checkpoint() gave an older one.
    # A listing acts on nothing, so there is no work of the server's to keep.
    older = {**OK_CHECKPOINT, "created_at": "2026-11-01T00:00:00Z"}
    for _ in range(2):
        fake.script("GET", SAVE, json_reply(200, {"items": [older], "next_cursor": 2}))
    with pytest.raises(ResponseValidationError, match="next_cursor") as info:
        trainer.latest_checkpoint()
    assert info.value.field == "next_cursor"
    with pytest.raises(ResponseValidationError, match="next_cursor"):
        trainer.list_checkpoints()


def cursor_cycle(fake: FakeWeaver) -> None:
    """Pages whose cursors go A, B, A, B, ...: a cycle that is no immediate repeat (each
    page with a checkpoint of its own, so that only the cursors tell)."""
    fake.script(
        "GET",
        SAVE,
        *[
            json_reply(
                200,
                {"items": [{**OK_CHECKPOINT, "id": str(uuid.uuid4())}], "next_cursor": "AB"[i % 2]},
            )
            for i in range(50)
        ],
    )


def test_a_cursor_cycle_ends_the_listing(fake: FakeWeaver, trainer: TrainingClient) -> None:
    # The audit: A -> B -> A listed for ever; only an immediate repeat was caught.
    cursor_cycle(fake)
    with pytest.raises(ResponseValidationError, match="next_cursor") as info:
        trainer.list_checkpoints()
    assert info.value.field == "next_cursor"
    assert len(fake.sent("GET", SAVE)) == 3
    cursor_cycle(fake)
    with pytest.raises(ResponseValidationError, match="next_cursor"):
        trainer.latest_checkpoint()  # a plan over the same pages


async def test_an_async_cursor_cycle_ends_the_listing(fake: FakeWeaver) -> None:
    cursor_cycle(fake)
    async with async_service(fake) as svc:
        trainer = await svc.training_client("m-1", next_seq_id=1)
        with pytest.raises(ResponseValidationError, match="next_cursor"):
            await trainer.list_checkpoints()
    assert len(fake.sent("GET", SAVE)) == 3


def fresh_cursors(fake: FakeWeaver, items: list[dict[str, Any]]) -> None:
    """Pages that each give a cursor never given before and list ``items`` again: a
    server that ignores the cursor sent, or one that gives a cursor on every empty page."""
    pages = [json_reply(200, {"items": [OK_CHECKPOINT], "next_cursor": "c0"})]
    pages += [json_reply(200, {"items": items, "next_cursor": f"c{i}"}) for i in range(1, 1100)]
    fake.script("GET", SAVE, *pages)


@pytest.mark.parametrize(
    ("items", "sent", "said"),
    [
        ([OK_CHECKPOINT], 2, "at cursor 'c0' listed the previous page's checkpoints again"),
        ([], 1001, "at cursor 'c999' listed nothing (1000 empty pages in a row)"),
    ],
    ids=["repeated", "empty"],
)
def test_pages_that_list_nothing_new_end_the_listing(
    fake: FakeWeaver, trainer: TrainingClient, items: list[dict[str, Any]], sent: int, said: str
) -> None:
    # Each cursor being new, the cycle check never fired: the listing went on for ever.
    fresh_cursors(fake, items)
    with pytest.raises(ResponseValidationError, match="next_cursor") as info:
        trainer.list_checkpoints()
    assert info.value.field == "next_cursor"
    assert f"{said}: the listing would never end" in str(info.value)
    assert len(fake.sent("GET", SAVE)) == sent
    fresh_cursors(fake, items)
    with pytest.raises(ResponseValidationError, match="next_cursor"):
        trainer.latest_checkpoint()


def test_empty_pages_before_more_checkpoints_are_read_through(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A server may give fewer items than the limit, even none, before the listing's end.
    later = {
        **OK_CHECKPOINT,
        "id": str(uuid.uuid4()),
        "name": "b",
        "path": "weaver://m-1/checkpoints/b",
    }
    pages = [json_reply(200, {"items": [OK_CHECKPOINT], "next_cursor": "c0"})]
    pages += [json_reply(200, {"items": [], "next_cursor": f"c{i}"}) for i in range(1, 10)]
    pages += [json_reply(200, {"items": [later], "next_cursor": None})]
    fake.script("GET", SAVE, *pages)
    assert [c.name for c in trainer.list_checkpoints()] == ["a", "b"]
    assert len(fake.sent("GET", SAVE)) == 11


def test_a_long_run_of_empty_pages_before_a_checkpoint_is_read_through(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A server that filters a page after reading it (expired checkpoints are not listed,
    # and the oldest come first) gives an empty page for each page of hidden ones: 50 in
    # a row for 5000 expired saves. The spec bounds no such run.
    pages = [json_reply(200, {"items": [], "next_cursor": f"c{i}"}) for i in range(50)]
    pages += [json_reply(200, {"items": [OK_CHECKPOINT], "next_cursor": None})]
    fake.script("GET", SAVE, *pages)
    assert [c.name for c in trainer.list_checkpoints()] == ["a"]
    assert len(fake.sent("GET", SAVE)) == 51


def test_a_page_with_one_new_checkpoint_goes_on(fake: FakeWeaver, trainer: TrainingClient) -> None:
    newer = {
        **OK_CHECKPOINT,
        "id": str(uuid.uuid4()),
        "name": "b",
        "path": "weaver://m-1/checkpoints/b",
    }
    pages = [
        json_reply(200, {"items": [OK_CHECKPOINT], "next_cursor": "c0"}),
        json_reply(200, {"items": [OK_CHECKPOINT, newer], "next_cursor": "c1"}),
        json_reply(200, {"items": [], "next_cursor": None}),
    ]
    fake.script("GET", SAVE, *pages)
    assert {c.name for c in trainer.list_checkpoints()} == {"a", "b"}
    assert len(fake.sent("GET", SAVE)) == 3


def test_forward_backward_result_missing_loss(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script(
        "POST",
        "/api/v1/models/m-1/forward-backward-passes",
        json_reply(
            202,
            {
                "id": "op-1",
                "status": "done",
                "response": {
                    "loss_fn_outputs": [{"logprobs": {"data": [-1.0], "dtype": "float32"}}],
                    "metrics": {"loss:mean": 1.0},
                },
            },
        ),
    )
    with pytest.raises(ResponseValidationError, match=r"metrics has no `loss:sum`"):
        trainer.forward_backward([datum_from_tokens([1, 2])])


@pytest.mark.parametrize("outputs", [1, 3])
def test_a_forward_backward_result_with_another_count_of_outputs_is_refused(
    fake: FakeWeaver, trainer: TrainingClient, outputs: int
) -> None:
    # ForwardBackwardResult.logprobs is "per datum": a reply with one output too few or
    # too many would pair each datum with another's logprobs.
    output = {"logprobs": {"data": [-1.0], "dtype": "float32"}}
    response = {"loss_fn_outputs": [output] * outputs, "metrics": {"loss:sum": 1.0}}
    fake.script(
        "POST",
        "/api/v1/models/m-1/forward-backward-passes",
        json_reply(202, {"id": "op-1", "status": "done", "response": response}),
    )
    with pytest.raises(ResponseValidationError) as info:
        trainer.forward_backward([datum_from_tokens([1, 2]), datum_from_tokens([3, 4])])
    assert info.value.field == "loss_fn_outputs"
    assert str(info.value).startswith(
        f"forward_backward: ForwardBackwardResult: {outputs} loss_fn_outputs for 2 data"
    )


def _fb_done(output: dict[str, object]) -> httpx.Response:
    response = {"loss_fn_outputs": [output], "metrics": {"loss:sum": 1.0}}
    return json_reply(202, {"id": "op-1", "status": "done", "response": response})


@pytest.mark.parametrize("nested", [[[-1.0, -2.5]], [[-1.0], [-2.5]]], ids=["1xN", "Nx1"])
def test_logprobs_in_a_two_level_list_are_read_row_by_row(
    fake: FakeWeaver, trainer: TrainingClient, nested: list[list[float]]
) -> None:
    # TensorData's `data` is "numbers or nested lists" (the wire sheet; it has no shape),
    # as the emulator reads one in a request; logprobs so were a ResponseValidationError.
    fake.script(
        "POST",
        "/api/v1/models/m-1/forward-backward-passes",
        _fb_done({"logprobs": {"data": [-1.0, -2.5], "dtype": "float32"}}),
        _fb_done({"logprobs": {"data": nested, "dtype": "float32"}}),
        _fb_done({"logprobs": {"data": [[[-1.0]]], "dtype": "float32"}}),
    )
    flat = trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    assert trainer.forward_backward([datum_from_tokens([1, 2, 3])]).logprobs == flat.logprobs
    with pytest.raises(ResponseValidationError) as info:
        trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    assert info.value.field == "loss_fn_outputs[0].logprobs.data[0][0]"


@pytest.mark.parametrize("datum_id", [None, 5])
def test_a_datum_id_that_is_no_string_is_refused(
    fake: FakeWeaver, trainer: TrainingClient, datum_id: object
) -> None:
    # The spec's datum_id is a string that may be absent; null or a number is a bad reply.
    logprobs = {"data": [-1.0], "dtype": "float32"}
    fake.script(
        "POST",
        "/api/v1/models/m-1/forward-backward-passes",
        _fb_done({"logprobs": logprobs, "datum_id": datum_id}),
        _fb_done({"logprobs": logprobs, "datum_id": "d-7"}),
        _fb_done({"logprobs": logprobs}),
    )
    with pytest.raises(ResponseValidationError) as info:
        trainer.forward_backward([datum_from_tokens([1, 2])])
    assert info.value.field == "loss_fn_outputs[0].datum_id"
    assert "expected a string" in str(info.value)
    assert trainer.forward_backward([datum_from_tokens([1, 2])]).datum_ids == ("d-7",)
    assert trainer.forward_backward([datum_from_tokens([1, 2])]).datum_ids == (None,)


@pytest.mark.parametrize("value", [None, "1.5", True], ids=["null", "string", "boolean"])
@pytest.mark.parametrize(
    ("route", "schema", "key"),
    [
        ("forward-backward-passes", "ForwardBackwardResult", "loss:sum"),
        ("optimizer-steps", "OptimStepResult", "optim:step"),
    ],
)
def test_a_metric_that_is_no_number_is_named_as_the_spec_names_it(
    fake: FakeWeaver, trainer: TrainingClient, route: str, schema: str, key: str, value: object
) -> None:
    # The converter named the field `metrics.loss:sum` and wanted "int or float", where the
    # spec's validators (the contract kit's too) say `metrics["loss:sum"]`, "a number".
    response: dict[str, Any] = {"metrics": {key: value}}
    if schema == "ForwardBackwardResult":
        response["loss_fn_outputs"] = [{"logprobs": {"data": [-1.0], "dtype": "float32"}}]
    done = {"id": "op-1", "status": "done", "response": response}
    fake.script("POST", f"/api/v1/models/m-1/{route}", json_reply(202, done))
    call: Callable[[], object] = trainer.optim_step
    if schema == "ForwardBackwardResult":
        call = functools.partial(trainer.forward_backward, [datum_from_tokens([1, 2])])
    with pytest.raises(ResponseValidationError) as info:
        call()
    problem = explain(schema, response)
    error = best_error(spec_schemas().component(schema).iter_errors(response))
    assert problem is not None
    assert error is not None
    assert info.value.field == problem.field == field_path("", field_parts(error))
    assert str(info.value).endswith(f"{schema}: {problem.message}"), str(info.value)


def test_failed_operation(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        json_reply(
            200,
            {
                "id": "op-1",
                "status": "error",
                "error_code": "interrupted",
                "error_message": "the server restarted",
                "error_details": {"stage": "save"},
                "retryable": True,
            },
        ),
    )
    with pytest.raises(OperationFailedError) as info:
        trainer.save_state("a")
    error = info.value
    assert (error.operation_id, error.code, error.message) == (
        "op-1",
        "interrupted",
        "the server restarted",
    )
    assert error.details == {"stage": "save"}
    assert error.retryable is True


# The real service's words for an operation a restart cut off, or a model whose training
# state it lost, need not say what to do (weaver-wire.md names neither code): the note
# points at the README's recipe (tests/demo/test_readme.py type-checks and runs it).
RESUME = """as the README's "Lost state" shows"""


def failed(code: str, message: str, **more: Any) -> httpx.Response:
    return json_reply(
        200, {"id": "op-1", "status": "error", "error_code": code, "error_message": message, **more}
    )


@pytest.mark.parametrize("code", ["interrupted", "model_state_lost"])
@pytest.mark.parametrize("step", ["forward_backward", "optim_step", "save_state"])
def test_an_operation_that_lost_the_model_s_state_says_how_to_go_on(
    fake: FakeWeaver, trainer: TrainingClient, step: str, code: str
) -> None:
    # OperationFailedError said only the server's "operation interrupted": a user did not
    # know that the model may train no more, nor that a checkpoint loaded into a new model
    # goes on.
    fake.script("GET", "/api/v1/operations/op-1", failed(code, "operation interrupted"))
    calls: dict[str, Callable[[], object]] = {
        "forward_backward": lambda: trainer.forward_backward([datum_from_tokens([1, 2])]),
        "optim_step": trainer.optim_step,
        "save_state": lambda: trainer.save_state("a"),
    }
    with pytest.raises(OperationFailedError) as info:
        calls[step]()
    assert info.value.code == code
    (note,) = info.value.__notes__
    assert "create a new model and load the last checkpoint into it" in note
    assert RESUME in note


def test_an_interrupted_export_of_a_checkpoint_says_to_export_it_again(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # An export of a saved checkpoint needs no training state: no new model to make.
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        failed("interrupted", "operation interrupted", kind="export_checkpoint"),
    )
    with service(fake) as svc, pytest.raises(OperationFailedError) as info:
        svc.operation("op-1", Artifact).result()
    (note,) = info.value.__notes__
    assert "the checkpoint is kept: export it again" in note
    assert "new model" not in note


def test_an_interrupted_export_the_server_says_to_start_again_has_no_note(
    fake: FakeWeaver,
) -> None:
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        failed(
            "interrupted", "a restart cut the Export off: start it AGAIN", kind="export_checkpoint"
        ),
    )
    with service(fake) as svc, pytest.raises(OperationFailedError) as info:
        svc.operation("op-1", Artifact).result()
    assert not getattr(info.value, "__notes__", [])


def test_an_interrupted_operation_of_unknown_kind_gives_both_advices(fake: FakeWeaver) -> None:
    # Re-attached from a server that does not say an operation's kind (the real wire's):
    # a model's operation or an export of a saved checkpoint, which needs no model state.
    fake.script("GET", "/api/v1/operations/op-1", failed("interrupted", "operation interrupted"))
    with service(fake) as svc, pytest.raises(OperationFailedError) as info:
        svc.operation("op-1").result()
    (note,) = info.value.__notes__
    assert RESUME in note
    assert "export it again" in note


@pytest.mark.parametrize(
    "said",
    [
        "the server restarted; create a new model and load a checkpoint into it",
        "interrupted by a restart",
    ],
)
def test_the_advice_is_not_given_twice(
    fake: FakeWeaver, trainer: TrainingClient, said: str
) -> None:
    # The server's message (or its diagnostic) may say it already: the emulator's does.
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        failed(
            "interrupted",
            said,
            error_details={
                "diagnostic_message": "create a new model and load a checkpoint into it"
            },
        ),
    )
    with pytest.raises(OperationFailedError) as info:
        trainer.optim_step()
    assert getattr(info.value, "__notes__", []) == []


def test_another_failure_gets_no_such_advice(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.script("GET", "/api/v1/operations/op-1", failed("non_finite", "the loss is NaN"))
    with pytest.raises(OperationFailedError) as info:
        trainer.optim_step()
    assert getattr(info.value, "__notes__", []) == []


@pytest.mark.parametrize(
    ("said", "advised"),
    [
        ("model m-1 lost its training state", True),
        ("model m-1 lost its state; create a new model and load a checkpoint into it", False),
    ],
)
def test_a_model_whose_state_was_lost_says_how_to_go_on(
    fake: FakeWeaver, trainer: TrainingClient, said: str, advised: bool
) -> None:
    fake.script(
        "POST",
        "/api/v1/models/m-1/optimizer-steps",
        json_reply(409, error_json("model_state_lost", said)),
    )
    with pytest.raises(ModelStateLostError) as info:
        trainer.optim_step()
    notes = getattr(info.value, "__notes__", [])
    assert [RESUME in note for note in notes] == ([True] if advised else [])


def test_the_lost_state_note_names_the_readme_s_recipe_and_its_calls(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # The note said `service.create_training_client_from_state(trainer.latest_checkpoint())`:
    # pasted into a script, it failed `mypy --strict` (latest_checkpoint() may be None), and
    # for a model made so that has not saved yet it was None, refused.
    fake.script(
        "POST",
        "/api/v1/models/m-1/optimizer-steps",
        json_reply(409, error_json("model_state_lost", "model m-1 lost its training state")),
    )
    with pytest.raises(ModelStateLostError) as info:
        trainer.optim_step()
    (note,) = info.value.__notes__
    section = re.search(r"""the README's "([^"]+)" shows""", note)
    assert section, note
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    after = readme.split(f"**{section[1]}.**", 1)[1].split("\n#", 1)[0]
    recipe = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert recipe, f"the README shows no recipe under {section[1]!r}"
    named = re.findall(r"\b(?:service|trainer)\.\w+", note)
    assert len(named) == 3, note
    for name in named:  # each call and attribute the note names, as the recipe uses it
        assert name in recipe[1], name


def test_failed_operation_with_the_legacy_error_field(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        json_reply(200, {"id": "op-1", "status": "error", "error": "oom"}),
    )
    with pytest.raises(OperationFailedError) as info:
        trainer.save_state("a")
    assert info.value.code == "oom"
    # Neither said: unknown (None), not a made-up message or a False `retryable`.
    assert (info.value.message, info.value.retryable) == (None, None)
    assert str(info.value).endswith("failed [oom]: the server gave no message")


# -- secrets -------------------------------------------------------------------------------------


def test_the_key_echoed_by_a_server_is_scrubbed(fake: FakeWeaver) -> None:
    with service(fake, max_retries=0) as svc:
        fake.script(
            "POST",
            "/api/v1/sessions",
            json_reply(
                401,
                {
                    "error": "unauthorized",
                    "message": f"unknown key {KEY}",
                    "retryable": False,
                    "details": {"key": KEY, "nested": [f"x{KEY}x"]},
                },
            ),
        )
        with pytest.raises(AuthenticationError) as info:
            svc.create_training_client("weaver-tiny")
    error = info.value
    for text in (str(error), repr(error), error.message, repr(error.details)):
        assert KEY not in text
    assert "[redacted]" in error.message


@pytest.mark.parametrize(
    "reply",
    [
        # A proxy's debug page that echoes the request's headers, answered with 200.
        httpx.Response(200, text=f"<html>X-WEAVER-API-KEY: {KEY}</html>"),
        # So is a page's title, which the error names.
        httpx.Response(502, html=f"<title>X-WEAVER-API-KEY: {KEY}</title>"),
        httpx.Response(200, html=f"<title>X-WEAVER-API-KEY: {KEY}</title>"),
        # Fields that break the spec, whose values the explanation quotes.
        json_reply(200, {"id": "op-1", "status": KEY}),
        json_reply(200, {"id": "op-1", "status": "pending", "pending_info": {"code": [KEY]}}),
        # The key as an error code or request id.
        json_reply(401, {"error": KEY, "message": "no", "retryable": False}),
        json_reply(401, error_json("unauthorized", "no") | {"request_id": KEY}),
    ],
    ids=["page", "error-title", "title", "status", "kind", "code", "request-id"],
)
def test_the_key_echoed_in_any_reply_is_scrubbed(fake: FakeWeaver, reply: httpx.Response) -> None:
    fake.script("GET", "/api/v1/operations/op-1", reply)
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    error = info.value
    for text in (str(error), repr(error), error.message, str(error.code), str(error.request_id)):
        assert KEY not in text


@pytest.mark.parametrize("status", [502, 200])
def test_a_key_a_title_writes_with_entities_is_hidden_before_the_title_is_cut(
    fake: FakeWeaver, status: int
) -> None:
    # The title is shown as it reads, its entities decoded: a key written so, and cut with
    # the title at its 60th character, is no longer the key that the message is scrubbed of.
    escaped = "".join(f"&#{ord(c)};" for c in KEY)
    fake.script(
        "GET",
        "/api/v1/operations/op-1",
        httpx.Response(status, html=f"<title>{'-' * 50}{escaped}</title>"),
    )
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    assert f"titled '{'-' * 50}[redacted]'" in info.value.message
    assert KEY[:8] not in str(info.value)


def test_the_key_echoed_in_a_request_id_header_is_scrubbed(fake: FakeWeaver) -> None:
    # Taken from the header when the body had none, it was shown as it came.
    echo = {"X-Request-ID": f"req-{KEY}"}
    fake.script("GET", "/api/v1/operations/op-1", json_reply(400, {"no": "body"}, echo))
    fake.script("GET", "/api/v1/operations/op-2", httpx.Response(502, text="bad", headers=echo))
    with service(fake, max_retries=0) as svc:
        for op in ("op-1", "op-2"):
            with pytest.raises(APIError) as info:
                svc.operation(op)
            for text in (str(info.value), repr(info.value), str(info.value.request_id)):
                assert KEY not in text
            assert info.value.request_id == "req-[redacted]"


def test_the_key_echoed_by_a_failed_operation_is_scrubbed(fake: FakeWeaver) -> None:
    # Only error replies were scrubbed: an operation's own error showed the key.
    failed = {
        "id": "op-1",
        "status": "error",
        "error_code": "bad_input",
        "error_message": f"rejected key {KEY}",
        "error_details": {"diagnostic_message": f"key was {KEY}", KEY: "as a key"},
    }
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, failed))
    with service(fake, max_retries=0) as svc, pytest.raises(OperationFailedError) as info:
        svc.operation("op-1").result(timeout=5)
    error = info.value
    for text in (str(error), repr(error), str(error.args), repr(error.details)):
        assert KEY not in text
    assert error.message == "rejected key [redacted]"


@pytest.mark.parametrize(
    ("key", "escape"),
    [
        # A base64 key, from a server that escapes "/" (PHP's json_encode does).
        ("wK3v/9QpZr+Xb1/Lm2Ns7A==", lambda text: text.replace("/", "\\/")),
        # A key with a quote: every JSON encoder escapes it.
        ('sk-"quoted"-5f0c2a8e', lambda text: text),
        # A server that escapes every character of it, as JSON allows.
        (KEY, lambda text: text.replace(KEY, "".join(f"\\u{ord(c):04x}" for c in KEY))),
    ],
    ids=["slash", "quote", "unicode"],
)
def test_the_key_echoed_by_a_failed_operation_is_scrubbed_however_json_escapes_it(
    key: str, escape: Callable[[str], str]
) -> None:
    # Operation replies were scrubbed only when the key's own bytes were in the body.
    failed = {
        "id": "op-1",
        "status": "error",
        "error_code": "bad_input",
        "error_message": f"rejected key {key}",
        "error_details": {"diagnostic_message": f"key was {key}"},
    }
    body = escape(json.dumps(failed))
    assert key not in body
    reply = httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})
    http = httpx.Client(transport=httpx.MockTransport(lambda _request: reply))
    with (
        ServiceClient("http://weaver.test", key, http_client=http, heartbeat_interval=0) as svc,
        pytest.raises(OperationFailedError) as info,
    ):
        svc.operation("op-1").result(timeout=5)
    error = info.value
    for text in (str(error), repr(error), str(error.args), repr(error.details)):
        assert key not in text
    assert error.message == "rejected key [redacted]"


def test_a_quoted_page_is_scrubbed_before_it_is_cut_or_its_blanks_folded(
    fake: FakeWeaver,
) -> None:
    # The quote of a page that is not an Error body stops at 200 characters and folds
    # blanks: a key across the cut, or with two blanks in a row, was shown (in part).
    cut = "x" * 190 + " " + KEY  # the first 8 characters of the key before the cut
    fake.script("GET", "/api/v1/operations/op-1", httpx.Response(502, text=cut))
    with service(fake, max_retries=0) as svc, pytest.raises(APIError) as info:
        svc.operation("op-1")
    assert KEY[:8] not in str(info.value)
    key = "sk-two  blanks-5f0c2a8e"
    page = httpx.Response(502, text=f"<p>bad key {key}</p>")
    http = httpx.Client(transport=httpx.MockTransport(lambda _request: page))
    with (
        ServiceClient("http://weaver.test", key, http_client=http, heartbeat_interval=0) as svc,
        pytest.raises(APIError) as info,
    ):
        svc.operation("op-1")
    assert " ".join(key.split()) not in str(info.value)
    assert "bad key [redacted]" in str(info.value)


def test_a_retried_transport_error_that_quotes_the_key_is_logged_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The retry's WARNING quotes a connect error's words ("cannot connect (...)"), which
    # a transport of the user's (or a proxy's reply it quotes) may build from the headers.
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"no route for key {KEY}", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with (
        caplog.at_level("WARNING", logger="weaver_facade"),
        ServiceClient(
            "http://weaver.test", KEY, http_client=http, max_retries=1, sleep=lambda _s: None
        ) as svc,
        pytest.raises(APIError) as info,
    ):
        svc.operation("op-1")
    assert KEY not in str(info.value)
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried == [retried[0]]
    assert "no route for key [redacted]" in retried[0]
    assert KEY not in caplog.text


def test_the_key_is_scrubbed_as_a_url_would_quote_it() -> None:
    from weaver_facade._redact import scrub

    key = "sk+LEAK/7f3a9c=x"
    text = "key sk%2BLEAK%2F7f3a9c%3Dx or sk%2BLEAK%2F7f3a9c%3Dx in a query"
    assert scrub(text, key) == "key [redacted] or [redacted] in a query"
    assert scrub({key: 1}, key) == {"[redacted]": 1}


@pytest.mark.parametrize(
    ("key", "text", "scrubbed"),
    [
        ("sk-4f1c-sk", "bad key sk-4f1c-sk-4f1c-sk!", "bad key [redacted]!"),
        ("sk/4f1c/sk", '{"key": "sk\\/4f1c\\/sk\\/4f1c\\/sk"}', '{"key": "[redacted]"}'),
        ("a b a", "bad key a b a b a.", "bad key [redacted]."),  # short: where alone
    ],
    ids=["long", "escaped", "short"],
)
def test_a_key_whose_places_overlap_is_scrubbed_whole(key: str, text: str, scrubbed: str) -> None:
    # A key whose start repeats at its end may overlap itself: the second place, begun
    # before the first ended, was skipped, and its tail shown after the first's [redacted].
    from weaver_facade._redact import scrub

    assert scrub(text, key) == scrubbed


def test_repr_never_shows_the_key(fake: FakeWeaver) -> None:
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        assert KEY not in repr(svc)
        assert KEY not in str(svc)
        assert KEY not in repr(trainer)
        assert "api_key=<set>" in repr(svc)
        # Not even the generated client inside, which a traceback with locals would show.
        assert KEY not in repr(svc._io.generated)
        assert KEY not in str(vars(trainer))
    assert "api_key=<none>" in repr(ServiceClient("http://x", ""))


def test_rich_never_shows_the_key_of_the_generated_client(fake: FakeWeaver) -> None:
    # rich prints an attrs object field by field, not by its repr: a rich traceback with
    # locals showed `token='...'` and the key's header in the frames of any API error
    # (`finish(call, client, response)`); the generated client now holds neither.
    from rich.console import Console
    from rich.pretty import pretty_repr
    from rich.traceback import Traceback

    fake.script("GET", "/api/v1/operations/op-1", json_reply(404, error_json("not_found", "no")))
    with service(fake, max_retries=0) as svc:
        shown = pretty_repr(svc._io.generated)
        with pytest.raises(NotFoundError) as info:
            svc.operation("op-1")
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(Traceback.from_exception(NotFoundError, info.value, info.tb, show_locals=True))
    shown += console.export_text()
    assert "client = Client(" in shown  # the frames that hold the client are there
    assert KEY not in shown


def test_a_short_key_is_scrubbed_only_where_it_stands_alone() -> None:
    from weaver_facade._redact import scrub

    assert (
        scrub("checkpoint k exists; key=k", "k") == "checkpoint [redacted] exists; key=[redacted]"
    )
    assert scrub({"a": ["k", "kk"]}, "k") == {"a": ["[redacted]", "kk"]}
    # A sentence may end with it: the "." was taken for a part of a word.
    assert scrub("unknown API key secret.", "secret") == "unknown API key [redacted]."
    assert scrub("see secret.json and k.v2", "secret") == "see secret.json and k.v2"
    long_key = "sk-0123456789"
    assert scrub(f"x{long_key}x", long_key) == "x[redacted]x"


def test_a_short_key_that_names_a_checkpoint_leaves_the_replies_data_intact() -> None:
    # A toy key such as the README's `secret` may be a word of the data: a checkpoint of
    # that name came back as `[redacted]`, and the next call named a checkpoint that is not.
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with ServiceClient(BASE, "secret", http_client=http, heartbeat_interval=0) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        saved = trainer.save_state("secret")
        assert (saved.name, str(saved.path)) == ("secret", "weaver://m-1/checkpoints/secret")
        assert [c.name for c in trainer.list_checkpoints()] == ["secret"]
        failed = {"id": "op-7", "status": "error", "error_message": "bad key secret"}
        fake.script("GET", "/api/v1/operations/op-7", json_reply(200, failed))
        with pytest.raises(OperationFailedError) as info:
            svc.operation("op-7").result()
    assert info.value.message == "bad key [redacted]"  # free text is still scrubbed


def test_an_optimizer_load_that_the_server_fails_as_an_operation_keeps_its_code(
    fake: FakeWeaver,
) -> None:
    # The wire's load "returns an Operation": a server may refuse a weight-only
    # checkpoint there, with a code of its own, rather than with the spec's 422.
    path = "weaver://m-1/checkpoints/w"
    fake.fail_load("m-1", "no_moments", "weights only")
    with service(fake) as svc, pytest.raises(OperationFailedError) as info:
        svc.create_training_client("weaver-tiny").load_state_with_optimizer(path)
    assert type(info.value) is OperationFailedError  # not OptimizerStateUnavailableError
    assert (info.value.operation_id, info.value.code) == ("op-9", "no_moments")
    assert info.value.retryable is None  # the server did not say: unknown, not False
    assert "weights only" in str(info.value)
    assert [
        fake.body(r)["include_optimizer"] for r in fake.sent("POST", "/api/v1/models/m-1/load")
    ] == [True]


# -- replies the facade rewrites before parsing ----------------------------------------------


def _checkpoint_reply(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200,
        # HTTP lets a header value hold Latin-1 bytes (obs-text).
        headers=[(b"Content-Type", b"application/json"), (b"X-Note", "café".encode("latin-1"))],
        content=json.dumps(body).encode(),
        request=httpx.Request("GET", BASE, headers={"X-WEAVER-API-KEY": KEY}),
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body | {"created_at": body["created_at"].lower()},  # RFC 3339's t, z
        lambda body: {k: v for k, v in body.items() if k != "ttl_seconds"},  # a null left out
        lambda body: body | {"name": f"c-{KEY}"},  # the key echoed
    ],
    ids=["lowercase-time", "absent-null", "echoed-key"],
)
def test_a_rewritten_reply_keeps_its_headers_as_they_came(
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    # A rewritten reply was rebuilt from decoded headers, which httpx encodes as ASCII:
    # a Latin-1 header value failed the call with a bare UnicodeEncodeError.
    body = change(checkpoint_json("m-1", "c"))
    call = _calls.get_checkpoint(uuid.UUID(body["id"]))
    reply = _checkpoint_reply(body)
    assert _wire.finish(call, Client(base_url=BASE), reply).name in ("c", "c-[redacted]")


def test_a_reply_rid_of_the_key_keeps_its_request_id() -> None:
    # The copy without the key was made with only a content type: a malformed reply that
    # echoed the key lost its X-Request-ID, which its error then lacked.
    body = {k: v for k, v in checkpoint_json("m-1", KEY).items() if k != "train_attn"}
    reply = _checkpoint_reply(body)
    reply.headers["X-Request-ID"] = "req-7"
    call = _calls.get_checkpoint(uuid.UUID(body["id"]))
    with pytest.raises(ResponseValidationError) as info:
        _wire.finish(call, Client(base_url=BASE), reply)
    assert info.value.request_id == "req-7"
    assert KEY not in str(info.value)


@pytest.mark.parametrize("key", [KEY, "secret"], ids=["key", "short-key"])
def test_a_reply_nested_deeper_than_the_stack_is_scrubbed_all_the_same(key: str) -> None:
    # Scrubbed by recursion, an error's details a few hundred levels deep (JSON parses
    # them, in C) ended the call with a RecursionError, each of its thousand frames
    # holding the key (`secret = '...'`, which -l and rich print).
    depth = sys.getrecursionlimit() * 3 // 5  # within json's limit, beyond two frames a level
    deep: Any = f"unknown key {key}"
    scrubbed: Any = "unknown key [redacted]"
    for _ in range(depth):
        deep, scrubbed = [deep], [scrubbed]
    body = error_json("invalid_argument", f"bad {key}") | {"details": {"deep": deep}}
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/operations/op-1", json_reply(400, body))
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with (
        ServiceClient(BASE, key, http_client=http, max_retries=0) as svc,
        pytest.raises(BadRequestError) as info,
    ):
        svc.operation("op-1")
    assert info.value.message == "get_operation: bad [redacted]"
    assert info.value.details == {"deep": scrubbed}


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.test/a/model.safetensors?X-Amz-Signature=SIG-secret-1&X-Amz-Expires=9",
        "https:\\/\\/bucket.test\\/a\\/model.safetensors?sig=SIG-secret-1",  # JSON's \/ escape
    ],
    ids=["plain", "escaped"],
)
def test_a_descriptor_cut_short_is_quoted_without_its_signatures(tmp_path: Path, url: str) -> None:
    # A reply that is not JSON is quoted in its error: a download descriptor cut short (a
    # proxy's timeout) showed each file's presigned URL, a credential, whole.
    artifact = "6f1c5d2e-6a55-4d43-9a6e-3f0e8f1f1a01"
    # The URL first: the error quotes the reply's first 200 characters.
    cut = f'{{"files":[{{"url":"{url}","name":"model.safetensors","size":3'
    fake = FakeWeaver()
    fake.script(
        "GET",
        f"/api/v1/artifacts/{artifact}/download",
        httpx.Response(200, content=cut.encode(), headers={"Content-Type": "application/json"}),
    )
    with service(fake, max_retries=0) as svc, pytest.raises(ResponseValidationError) as info:
        svc.download_weights(uuid.UUID(artifact), tmp_path / "out")
    assert "the reply is not JSON" in str(info.value)
    assert "bucket.test" in str(info.value)  # the reply is quoted, up to the query
    assert "SIG-secret" not in str(info.value)
    assert "?[signature hidden]" in str(info.value)


_ARTIFACT = "6f1c5d2e-6a55-4d43-9a6e-3f0e8f1f1a01"


def _descriptor_breaking_the_spec(fake: FakeWeaver, broken: str) -> None:
    """A descriptor whose file breaks the spec (made here: no frame of the test holds it)."""
    url = "https://bucket.test/a/model.safetensors?X-Amz-Signature=SIG-secret-1"
    file: dict[str, Any] = {"name": "model.safetensors", "size": 3, "sha256": "0" * 64}
    file |= {"url": [url]} if broken == "url" else {"url": url}
    if broken == "name":
        del file["name"]
    reply = {"artifact_id": _ARTIFACT, "kind": "hf_adapter", "files": [file]}
    fake.script("GET", f"/api/v1/artifacts/{_ARTIFACT}/download", json_reply(200, reply))


@pytest.mark.parametrize("broken", ["name", "url"])
def test_a_descriptor_breaking_the_spec_shows_no_presigned_url_in_its_traceback(
    tmp_path: Path, broken: str
) -> None:
    # The frames that read the reply hold it (the parsed JSON, the generated model, the
    # field's value): pytest showed the arguments of the frame that raised (`data = {...
    # 'url': 'https://...?X-Amz-Signature=...'}`), -l and rich every frame's locals.
    fake = FakeWeaver()
    _descriptor_breaking_the_spec(fake, broken)
    with service(fake, max_retries=0) as svc, pytest.raises(ResponseValidationError) as info:
        svc.download_weights(uuid.UUID(_ARTIFACT), tmp_path / "out")
    shown = [
        str(info.getrepr(funcargs=True, showlocals=True, chain=True)),
        *traceback.TracebackException.from_exception(info.value, capture_locals=True).format(),
    ]
    assert f"field `{broken}`" in shown[0]  # the error is there
    assert [text for text in shown if "SIG-secret" in text] == []


def test_a_secret_is_looked_for_as_it_is_only_where_no_escape_could_spell_it() -> None:
    # A 2xx reply with neither a backslash nor a percent sign is looked at for an ASCII
    # secret without a blank as it is, not by the regex of its every spelling: both must
    # find the same, in every text of up to three of these pieces.
    from weaver_facade._redact import holds, spelled

    chars = "a/+ \u00e9%\\"
    pieces = [*chars, "\u00c3\u00a9", "%2f", "%2F", "%61", "\\/", "\\u0061", "\\x61"]
    texts = ["".join(p) for n in range(4) for p in itertools.product(pieces, repeat=n)]
    for secret in [*chars, *map("".join, itertools.product(chars, repeat=2))]:
        regex = spelled(secret)
        for text in texts:
            assert holds(text, [secret]) == bool(regex.search(text)), (secret, text)


def test_a_reply_with_escapes_but_no_key_is_not_rewritten_string_by_string(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A JSON escape anywhere (`\/`, `\u00e9`: an ensure_ascii server) made every reply be
    # rebuilt string by string, each string tried for each form of each secret: a
    # 100-checkpoint page took milliseconds, twenty times its parse, with no key in it.
    from weaver_facade import _redact, _wire

    tried: list[str] = []
    real = _redact.replace_key

    def counted(text: str, key: str, placeholder: str) -> str:
        tried.append(text)
        return real(text, key, placeholder)

    monkeypatch.setattr(_redact, "replace_key", counted)
    page = [checkpoint_json("m-1", f"caf\u00e9-{i}") for i in range(100)]
    body = json.dumps({"checkpoints": page, "total": 100}, ensure_ascii=True).encode()
    assert b"\\u00e9" in body
    headers = {"X-WEAVER-API-KEY": KEY, "Authorization": "Basic dXNlcjpwYXNzd29yZC0xMjM="}
    request = httpx.Request("GET", f"{BASE}/api/v1/models/m-1/checkpoints", headers=headers)
    reply = httpx.Response(200, content=body, request=request)
    assert _wire._without_key(reply) is reply
    assert tried == []
    echoed = json.dumps({"checkpoints": [], "note": f"caf\u00e9 {KEY}"}).encode()
    scrubbed = _wire._without_key(httpx.Response(200, content=echoed, request=request))
    assert KEY not in scrubbed.text
    assert tried
