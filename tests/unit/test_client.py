"""ServiceClient configuration, the API-key header, heartbeats, logging and closing."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import contextvars
import functools
import gc
import gzip
import inspect
import json
import logging
import multiprocessing
import queue
import re
import signal
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ctrl_c_points import every_point, interrupted_at
from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeWeaver,
    HeldTransport,
    Reply,
    async_service,
    error_json,
    json_reply,
    service,
)
from tests.support.held_creates import HOLD_NOTICE, ctrl_c, default_sigint
from tests.support.logs import logged
from weaver_facade import (
    APIError,
    APITimeoutError,
    AsyncOperationHandle,
    AsyncServiceClient,
    AsyncTrainingClient,
    Checkpoint,
    ClientClosedError,
    ClientOptions,
    EventLoopError,
    InvalidArgumentError,
    NotFoundError,
    ResponseValidationError,
    ServiceClient,
    datum_from_tokens,
)
from weaver_facade._io import Wakeup

HEARTBEAT = "/api/v1/sessions/s-1/heartbeat"


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVER_BASE_URL", "http://env.test:8080/")
    monkeypatch.setenv("WEAVER_API_KEY", "env-key")
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with ServiceClient(http_client=http, heartbeat_interval=0) as svc:
        assert svc.base_url == "http://env.test:8080"
        svc.create_training_client("weaver-tiny")
    request = fake.requests[0]
    assert str(request.url) == "http://env.test:8080/api/v1/sessions"
    assert request.headers["X-WEAVER-API-KEY"] == "env-key"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVER_BASE_URL", "http://env.test")
    monkeypatch.setenv("WEAVER_API_KEY", "env-key")
    fake = FakeWeaver()
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert str(fake.requests[0].url).startswith(BASE)
    assert fake.requests[0].headers["X-WEAVER-API-KEY"] == KEY


def test_without_a_key_no_header_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with ServiceClient(BASE, http_client=http, heartbeat_interval=0) as svc:
        svc.create_training_client("weaver-tiny")
    assert "X-WEAVER-API-KEY" not in fake.requests[0].headers


def test_the_key_is_sent_through_a_user_http_client_with_its_own_headers() -> None:
    # set_httpx_client() would drop the key; the facade wraps the user's client instead.
    fake = FakeWeaver()
    hooks: list[str] = []
    http = httpx.Client(
        transport=httpx.MockTransport(fake),
        headers={"X-Proxy-Token": "p"},
        event_hooks={"request": [lambda r: hooks.append(r.url.path)]},
    )
    with ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        svc.create_training_client("weaver-tiny")
    assert not http.is_closed  # the owner closes it
    http.close()
    for request in fake.requests:
        assert request.headers["X-WEAVER-API-KEY"] == KEY
        assert request.headers["X-Proxy-Token"] == "p"
        assert request.headers["User-Agent"].startswith("weaver-facade/")
    # Closing terminates the model it created, through the same client.
    assert hooks == [
        "/api/v1/sessions",
        "/api/v1/sessions/s-1/models",
        "/api/v1/models/m-1/terminate",
    ]


def _redirecting_to_another_host(sent: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.host == "elsewhere.test":
            return httpx.Response(200, json={"items": [], "pagination": {"total_count": 0}})
        return httpx.Response(307, headers={"Location": f"http://elsewhere.test{request.url.path}"})

    return httpx.MockTransport(answer)


def test_a_user_client_that_follows_redirects_never_takes_the_key_elsewhere() -> None:
    # httpx drops Authorization on a redirect to another host, not X-WEAVER-API-KEY.
    sent: list[httpx.Request] = []
    http = httpx.Client(transport=_redirecting_to_another_host(sent), follow_redirects=True)
    with (
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, max_retries=0) as svc,
        pytest.raises(ResponseValidationError, match="307"),
    ):
        svc.supported_models()
    http.close()
    assert [r.url.host for r in sent] == [httpx.URL(BASE).host]


async def test_a_user_async_client_that_follows_redirects_never_takes_the_key_elsewhere() -> None:
    sent: list[httpx.Request] = []
    transport = _redirecting_to_another_host(sent)
    async with (
        httpx.AsyncClient(transport=transport, follow_redirects=True) as http,
        AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, max_retries=0) as svc,
    ):
        with pytest.raises(ResponseValidationError, match="307"):
            await svc.supported_models()
    assert [r.url.host for r in sent] == [httpx.URL(BASE).host]


def test_a_compressed_reply_read_by_a_user_hook_is_decoded_once() -> None:
    # The hook's read spends the stream; the facade gets the decoded body, without the
    # Content-Encoding that would have it decoded twice.
    fake = FakeWeaver()
    models = {
        "items": [{"name": "weaver-tiny", "status": "available"}],
        "pagination": {"total_count": 1},
    }
    body = gzip.compress(json.dumps(models).encode())
    fake.script(
        "GET",
        "/api/v1/supported-models",
        httpx.Response(200, content=body, headers={"content-encoding": "gzip"}),
    )
    read: list[int] = []
    http = httpx.Client(
        transport=httpx.MockTransport(fake),
        event_hooks={"response": [lambda r: read.append(len(r.read()))]},
    )
    with ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        assert [m.name for m in svc.supported_models()] == ["weaver-tiny"]
    http.close()
    assert read == [len(json.dumps(models))]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "no Weaver server"),
        ("weaver.test", "http:// or https://"),
        ("http://weaver.test/api/v1", "drop the trailing '/api/v1'"),
        ("http://weaver.test/api/v1/", "drop the trailing '/api/v1'"),
        # httpx refused these only at the first request, with its own exception.
        ("http://weaver.test:abc", "not a valid URL: Invalid port: 'abc'"),
        ("http://[::1", "not a valid URL"),
        ("http://weaver.test:70000", "port 70000 is not in 1..65535"),
        ("http://weaver.test/?region=eu", "takes no query or fragment"),
        ("http://weaver.test#top", "takes no query or fragment"),
        # Stripped of its slashes first, it was said not to start with http://.
        ("http://", "names no host"),
        ("https:///", "names no host"),
        # A host name lookup cannot encode these: a traceback at the first request.
        ("http://weaver..test", "host 'weaver..test' is not a valid host name"),
        (f"http://{'a' * 64}.test", "is not a valid host name"),
        ("http://xn--zz.test", "host 'xn--zz.test' is not a valid host name"),
    ],
)
def test_bad_base_urls(monkeypatch: pytest.MonkeyPatch, url: str, problem: str) -> None:
    monkeypatch.delenv("WEAVER_BASE_URL", raising=False)
    with pytest.raises(InvalidArgumentError, match=problem):
        ServiceClient(url)


# Each reason a host is refused, in words of its own: an xn-- label that is no punycode,
# one that is punycode of a character no host name holds, one that only IDNA 2003 (the
# name lookup's) reads, which httpx's IDNA 2008 refuses, and an empty part.
BAD_HOSTS = [
    ("xn--zz.test", "not a valid host name: a part starting with xn-- must be punycode"),
    ("xn--a.example", "not a valid host name: a part starting with xn-- must be punycode"),
    ("xn--ls8h.la", "not a host name httpx accepts (IDNA 2008): Codepoint U+1F4A9"),
    ("weaver..test", "not a valid host name: each part between dots must have 1 to 63"),
]
BAD_HOST_IDS = ["bad-punycode", "invalid-character", "idna-2003-only", "empty-label"]


@pytest.mark.parametrize(("host", "words"), BAD_HOSTS, ids=BAD_HOST_IDS)
def test_a_base_url_s_bad_host_is_refused_in_exact_words(host: str, words: str) -> None:
    # xn--ls8h.la was said not to be valid punycode, which it is.
    with pytest.raises(InvalidArgumentError) as info:
        ServiceClient(f"http://u:TOKEN-9q@{host}:8080", KEY)
    said = str(info.value)
    assert said.startswith(f"base_url's host {host!r} is {words}"), said
    assert "TOKEN-9q" not in said
    if "IDNA 2008" not in words:
        assert "httpx" not in said


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("weaver.test", "WEAVER_BASE_URL must start with http:// or https://"),
        ("http://weaver.test/api/v1", "WEAVER_BASE_URL is the server root; drop the trailing"),
        ("http://weaver.test:abc", "WEAVER_BASE_URL is not a valid URL"),
        ("http://", "WEAVER_BASE_URL names no host"),
        ("http://weaver.test:70000", "WEAVER_BASE_URL's port 70000"),
        ("http://weaver.test/?region=eu", "WEAVER_BASE_URL is the server root; it takes no"),
    ],
)
def test_a_bad_base_url_from_the_environment_is_named_so(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    # It said "base_url must start with ...", a parameter that a script reading
    # WEAVER_BASE_URL (the examples, the README's quick start) never passed.
    monkeypatch.setenv("WEAVER_BASE_URL", url)
    with pytest.raises(InvalidArgumentError, match=f"^{re.escape(problem)}"):
        ServiceClient()


@pytest.mark.parametrize("scheme", ["HTTP", "Https"])
def test_a_base_url_s_scheme_may_be_upper_case(scheme: str) -> None:
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    with ServiceClient(
        f"{scheme}://weaver.test", KEY, http_client=http, heartbeat_interval=0
    ) as svc:
        assert svc.base_url == f"{scheme.lower()}://weaver.test"
        svc.create_training_client("weaver-tiny")
    assert str(fake.requests[0].url) == f"{scheme.lower()}://weaver.test/api/v1/sessions"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw5ecret/x@weaver.test",  # unencoded: httpx read "pw5ecret" as a port
        "http://user:pw5ecret#x@weaver.test",
        "htps://user:pw5ecret/x@weaver.test",  # a mistyped scheme
        "weaver.test:pw5ecret/x@weaver.test",
    ],
)
def test_a_bad_base_url_never_shows_a_password_in_it(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.delenv("WEAVER_BASE_URL", raising=False)
    with pytest.raises(InvalidArgumentError) as info:
        ServiceClient(url)
    assert "pw5ecret" not in str(info.value)


def test_bad_max_retries() -> None:
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        ServiceClient(BASE, max_retries=-1)


async def _async_callback(_progress: object) -> None:
    return None


class _AsyncCall:
    """A callable object whose ``__call__`` is async: a coroutine function all the same."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, arg: Any) -> None:
        self.calls.append(arg)


# The audit: timeout=-1 and heartbeat_interval=-1 were accepted; wrong types raised
# TypeError or AttributeError (api_key=<non-str>: AttributeError) from deep inside.
BAD_OPTIONS = [
    ("timeout", -1),
    ("timeout", 0),
    ("timeout", "5"),
    ("timeout", True),
    ("timeout", None),
    ("timeout", float("nan")),
    ("timeout", float("inf")),
    ("timeout", httpx.Timeout(-1)),
    ("timeout", httpx.Timeout(5, read=0)),
    ("heartbeat_interval", -1),
    ("heartbeat_interval", "30"),
    ("heartbeat_interval", None),
    ("heartbeat_interval", float("inf")),
    ("max_retries", "4"),
    ("poll", 5),
    ("retry", {"max_retries": 1}),
    ("tags", "run-1"),
    ("tags", 5),
    ("tags", ["ok", 5]),
    ("user_metadata", ["a"]),
    ("user_metadata", {"a": 1}),
    ("on_progress", "print"),
    ("on_progress", _async_callback),  # called, never awaited: it never ran
    ("on_progress", _AsyncCall()),  # so is an object whose __call__ is async
    ("terminate_models_on_close", "no"),
    ("http_client", object()),
    ("sleep", 5),
    ("base_url", 8080),
]


@pytest.mark.parametrize(
    ("name", "value"),
    BAD_OPTIONS,
    ids=[f"{n}={v!r}".split(" at 0x")[0] for n, v in BAD_OPTIONS],  # stable across processes
)
@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
def test_bad_constructor_arguments_are_named(
    client: type[ServiceClient | AsyncServiceClient], name: str, value: object
) -> None:
    options: dict[str, object] = {"base_url": BASE, "api_key": KEY, name: value}
    with pytest.raises(InvalidArgumentError, match=f"^{name}"):
        client(**options)  # type: ignore[arg-type]


async def _async_sleep(_seconds: float) -> None:
    return None


def test_each_client_takes_a_sleep_of_its_own_kind() -> None:
    # AsyncServiceClient(sleep=time.sleep) failed at the first poll with a TypeError.
    with pytest.raises(InvalidArgumentError, match=r"^sleep must be an async function"):
        AsyncServiceClient(BASE, KEY, sleep=time.sleep)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^sleep must be a plain function"):
        ServiceClient(BASE, KEY, sleep=_async_sleep)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^sleep must be a plain function"):
        ServiceClient(BASE, KEY, sleep=_AsyncCall())  # type: ignore[arg-type]


class _Hiding(type):
    """A metaclass whose attribute lookup hides ``__call__``, as some proxies' do: its
    instances are callable all the same (the call takes the type's slot, not a lookup)."""

    def __getattribute__(cls, name: str) -> Any:
        if name == "__call__":
            raise AttributeError(name)
        return super().__getattribute__(name)


class _PlainCallHidden(metaclass=_Hiding):
    def __init__(self) -> None:
        self.calls: list[object] = []

    def __call__(self, arg: object) -> None:
        self.calls.append(arg)


def test_a_callable_whose_type_hides_its_call_is_taken_as_a_plain_one() -> None:
    # Looking up `type(value).__call__` raised that AttributeError out of the constructor.
    display = _PlainCallHidden()
    with ServiceClient(BASE, KEY, on_progress=display, sleep=_PlainCallHidden()):
        pass
    with pytest.raises(InvalidArgumentError, match=r"^sleep must be an async function"):
        AsyncServiceClient(BASE, KEY, sleep=_PlainCallHidden())  # type: ignore[arg-type]


async def test_an_async_client_awaits_a_sleep_object_whose_call_is_async() -> None:
    # A fake sleep as a class with `async def __call__` (what the signature's
    # Callable[[float], Awaitable[None]] allows) was refused as "not an async function".
    fake = FakeWeaver()
    fake.pending_polls = 2
    sleep = _AsyncCall()
    async with async_service(fake, sleep=sleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await trainer.optim_step()
    assert sleep.calls, "the sleep object was never awaited between polls"


async def test_a_partial_of_an_object_whose_call_is_async_is_an_async_sleep() -> None:
    # functools.partial(FakeSleep()) was refused as "not an async function", where a
    # partial of an async def function was taken: the object's __call__ was not read.
    fake = FakeWeaver()
    fake.pending_polls = 2
    sleep = _AsyncCall()
    async with async_service(fake, sleep=functools.partial(sleep)) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await trainer.optim_step()
    assert sleep.calls, "the sleep object was never awaited between polls"
    with pytest.raises(InvalidArgumentError, match=r"^on_progress must be a plain function"):
        ServiceClient(BASE, KEY, on_progress=functools.partial(_AsyncCall()))  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"sk-bytes-key-7e1", ["sk-list-key-7e1"], 12345678901])
@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
def test_a_key_of_the_wrong_type_is_named_and_not_shown(
    client: type[ServiceClient | AsyncServiceClient], key: object
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^api_key") as info:
        client(BASE, key)  # type: ignore[arg-type]
    assert "7e1" not in str(info.value)
    assert "12345678901" not in str(info.value)


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
def test_good_constructor_arguments_are_kept(
    client: type[ServiceClient | AsyncServiceClient],
) -> None:
    svc = client(
        BASE,
        f" {KEY}\n",
        timeout=httpx.Timeout(None, connect=2),
        heartbeat_interval=0,
        tags=("a",),
        user_metadata={"k": "v"},
    )
    assert svc._timeout == httpx.Timeout(None, connect=2)
    assert (svc._tags, svc._user_metadata) == (["a"], {"k": "v"})


def test_a_closed_client_refuses_to_send() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
    sent = len(fake.requests)
    with pytest.raises(ClientClosedError, match="closed") as caught:
        trainer.optim_step()
    assert isinstance(caught.value, RuntimeError)  # what it raised before it had a name
    assert len(fake.requests) == sent
    svc.close()  # closing twice is fine


def test_entering_a_closed_client_refuses_at_once() -> None:
    # `with` on a closed client used to enter; only its first call then failed.
    fake = FakeWeaver()
    with service(fake) as svc:
        pass
    for client in (svc, svc.with_options(timeout=5)):
        with pytest.raises(ClientClosedError, match=r"^the Weaver client is closed$"), client:
            pytest.fail("entered a closed client")
    assert fake.requests == []


async def test_entering_a_closed_async_client_refuses_at_once() -> None:
    fake = FakeWeaver()
    svc = async_service(fake)
    await svc.aclose()
    for client in (svc, svc.with_options(timeout=5)):
        with pytest.raises(ClientClosedError, match=r"^the Weaver client is closed$"):
            async with client:
                pytest.fail("entered a closed client")
    assert fake.requests == []


UNAVAILABLE = {"error": "unavailable", "message": "busy", "retryable": True}


def closed_while_sleeping(fake: FakeWeaver) -> ServiceClient:
    """A client of ``fake`` that its first sleep (a retry's, a wait's) closes."""
    holder: list[ServiceClient] = []
    svc = ServiceClient(
        BASE,
        KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        heartbeat_interval=0,
        terminate_models_on_close=False,
        sleep=lambda _s: holder[0].close(),
    )
    holder.append(svc)
    return svc


def async_closed_while_sleeping(fake: FakeWeaver) -> AsyncServiceClient:
    """``closed_while_sleeping``'s async twin."""
    holder: list[AsyncServiceClient] = []

    async def close_meanwhile(_seconds: float) -> None:
        await holder[0].aclose()

    svc = async_service(fake, terminate_models_on_close=False, sleep=close_meanwhile)
    holder.append(svc)
    return svc


def test_a_retry_waiting_when_the_client_closes_is_not_sent() -> None:
    # A save met a 503 and waited to retry; the client was closed meanwhile. The retry
    # used to be sent (the save was made) and the call then failed saying "closed".
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", json_reply(503, UNAVAILABLE))
    trainer = closed_while_sleeping(fake).create_training_client("weaver-tiny")
    closed = r"^save_checkpoint: POST /api/v1/models/m-1/checkpoints: not retried, the Weaver"
    with pytest.raises(ClientClosedError, match=closed):
        trainer.save_state("after-close")
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 1


SAVE_OP = {"id": "op-s", "status": "pending", "kind": "save_checkpoint", "model_id": "m-1"}


def test_a_save_s_wait_ended_by_the_close_names_its_operation() -> None:
    # It said only "the Weaver client is closed": which save, and whether it went on,
    # the user could not tell.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", json_reply(202, SAVE_OP))
    fake.script("GET", "/api/v1/operations/op-s", json_reply(200, SAVE_OP))
    trainer = closed_while_sleeping(fake).create_training_client("weaver-tiny")
    with pytest.raises(ClientClosedError) as closed:
        trainer.save_state("cut")
    assert closed.value.__notes__ == [
        "the client is closed, which ends any wait for operation op-s; unless the close "
        "terminated its model, it keeps running on the server: re-attach with "
        "service.operation('op-s', Checkpoint) from a new client"
    ]


def test_a_wait_begun_after_the_close_is_not_said_to_have_been_cut() -> None:
    # Its note said "closed while waiting", of a wait that began after the close.
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/operations/op-s", json_reply(200, SAVE_OP))
    with service(fake, terminate_models_on_close=False) as svc:
        handle = svc.operation("op-s", Checkpoint)
    polls = len(fake.sent("GET", "/api/v1/operations/op-s"))
    with pytest.raises(ClientClosedError) as closed:
        handle.result()
    assert len(fake.sent("GET", "/api/v1/operations/op-s")) == polls  # no wait began
    (note,) = closed.value.__notes__
    assert "while waiting" not in note
    assert "operation op-s" in note
    assert note.endswith("re-attach with service.operation('op-s', Checkpoint) from a new client")


async def test_an_async_save_s_wait_ended_by_the_close_names_its_operation() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", json_reply(202, SAVE_OP))
    fake.script("GET", "/api/v1/operations/op-s", json_reply(200, SAVE_OP))
    trainer = await async_closed_while_sleeping(fake).create_training_client("weaver-tiny")
    with pytest.raises(ClientClosedError) as closed:
        await trainer.save_state("cut")
    assert (
        "re-attach with service.operation('op-s', Checkpoint) from a new client"
        in (closed.value.__notes__[-1])
    )


async def test_an_async_retry_waiting_when_the_client_closes_is_not_sent() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", json_reply(503, UNAVAILABLE))
    trainer = await async_closed_while_sleeping(fake).create_training_client("weaver-tiny")
    with pytest.raises(ClientClosedError, match=r"^save_checkpoint: POST .* not retried"):
        await trainer.save_state("after-close")
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 1


def _answered_503(fake: FakeWeaver, path: str) -> tuple[threading.Event, httpx.MockTransport]:
    """``fake``, whose first POST to ``path`` is a 503 asking to retry in 20 s; the event
    is set once that reply is made."""
    answered = threading.Event()
    fake.script("POST", path, json_reply(503, UNAVAILABLE, {"Retry-After": "20"}))

    def handler(request: httpx.Request) -> httpx.Response:
        reply = fake(request)
        if request.url.path == path and reply.status_code == 503:
            answered.set()
        return reply

    return answered, httpx.MockTransport(handler)


def test_close_wakes_a_call_asleep_before_its_retry() -> None:
    # The call slept out the server's 20 s after close() had returned, and only then
    # said the client was closed.
    fake = FakeWeaver()
    answered, transport = _answered_503(fake, "/api/v1/models/m-1/checkpoints")
    http = httpx.Client(transport=transport)
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    trainer = svc.create_training_client("weaver-tiny")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        saving = pool.submit(trainer.save_state, "asleep")
        assert answered.wait(10)
        svc.close()
        with pytest.raises(ClientClosedError):
            saving.result(timeout=10)  # a TimeoutError: the retry's sleep outlived the close
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 1


async def test_aclose_wakes_a_call_asleep_before_its_retry() -> None:
    fake = FakeWeaver()
    answered, transport = _answered_503(fake, "/api/v1/models/m-1/checkpoints")
    http = httpx.AsyncClient(transport=transport)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    trainer = await svc.create_training_client("weaver-tiny")
    saving = asyncio.create_task(trainer.save_state("asleep"))
    assert await asyncio.to_thread(answered.wait, 10)
    await svc.aclose()
    done, _ = await asyncio.wait({saving}, timeout=10)
    assert done, "the retry's sleep outlived the close"
    assert isinstance(saving.exception(), ClientClosedError)
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 1


def test_a_close_cuts_short_every_sleep_but_its_own() -> None:
    # The close's own terminates may wait out a Retry-After; every other sleep ends.
    wakeup = Wakeup()
    before = threading.Thread(target=wakeup.sleep, args=(30,))
    before.start()
    with wakeup.closer():
        begun = time.monotonic()
        wakeup.sleep(0.2)
        assert time.monotonic() - begun >= 0.2
        before.join(5)
        assert not before.is_alive()
        after = threading.Thread(target=wakeup.sleep, args=(30,))
        after.start()
        after.join(5)
        assert not after.is_alive()


async def test_an_async_close_cuts_short_every_sleep_but_its_own() -> None:
    wakeup = Wakeup()
    before = asyncio.create_task(wakeup.asleep(30))
    await asyncio.sleep(0)
    elsewhere = contextvars.copy_context()  # another task's, not the close's
    with wakeup.closer():
        begun = time.monotonic()
        await wakeup.asleep(0.2)
        assert time.monotonic() - begun >= 0.2
        after = asyncio.create_task(wakeup.asleep(30), context=elsewhere)
        done, _ = await asyncio.wait({before, after}, timeout=5)
        assert done == {before, after}


async def test_an_async_close_during_session_set_up_starts_no_heartbeat() -> None:
    # aclose() while the session was being opened used to start a heartbeat task that
    # nothing cancelled, warning "client is closed" every interval for ever.
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/sessions")
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0.01)
    create = asyncio.create_task(svc.create_training_client("weaver-tiny"))
    await held.reached.wait()
    await svc.aclose()
    held.release.set()
    with pytest.raises(ClientClosedError, match="while opening a session"):
        await create
    await http.aclose()
    assert svc._heartbeat is None
    assert [t for t in asyncio.all_tasks() if t.get_name() == "weaver-heartbeat"] == []


# -- heartbeats -------------------------------------------------------------------------------


def _beats_then_waits_for_close(svc: ServiceClient, beats: int) -> list[float]:
    """Replace the wait between heartbeats: no time passes for the first ``beats``, then
    it returns only when the client closes. Returns the intervals asked for."""
    asked: list[float] = []

    def wait(seconds: float) -> bool:
        asked.append(seconds)
        return svc._stop.is_set() if len(asked) <= beats else svc._stop.wait()

    svc._wait_beat = wait
    return asked


def test_heartbeat_thread_beats_while_open_and_stops_on_close() -> None:
    fake = FakeWeaver()
    beats = threading.Event()

    def beat(request: httpx.Request) -> httpx.Response:
        if len(fake.sent("POST", HEARTBEAT)) >= 3:
            beats.set()
        return json_reply(200, {"session_id": "s-1"})

    fake.script("POST", HEARTBEAT, *[beat] * 3)
    with service(fake, heartbeat_interval=12.5) as svc:
        asked = _beats_then_waits_for_close(svc, 3)
        assert fake.sent("POST", HEARTBEAT) == []  # no session, no heartbeat
        svc.create_training_client("weaver-tiny")
        thread = svc._heartbeat
        assert thread is not None
        assert thread.daemon
        assert beats.wait(timeout=10)
    # close() does not wait for the thread (a heartbeat in flight is abandoned), but it ends.
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert asked == [12.5] * 4  # three beats, then the wait that close() ended
    assert len(fake.sent("POST", HEARTBEAT)) == 3
    for request in fake.sent("POST", HEARTBEAT):
        assert request.headers["X-WEAVER-API-KEY"] == KEY
        assert "Idempotency-Key" in request.headers


def _refuses_or_beats(svc: ServiceClient | AsyncServiceClient, call: Callable[[], object]) -> bool:
    """Whether ``svc``, whose close may have been cut short, refuses ``call`` (saying to
    close again, unless its close ran to the end), or else beats its session still."""
    try:
        call()
    except ClientClosedError as refused:
        return svc._io.closed or str(refused).endswith("cut it short: close it again)")
    if isinstance(svc, ServiceClient):
        beat = svc._heartbeat
        return beat is not None and beat.is_alive() and not svc._stop.is_set()
    return svc._heartbeat is not None and not svc._heartbeat.done()


def test_a_close_a_ctrl_c_cut_short_refuses_calls_or_beats_on() -> None:
    # A Ctrl-C in close() after it stopped the heartbeat, before it began refusing calls,
    # left a client whose calls and creates worked with its session never beaten again,
    # which the server then ended, unsaid. The README: once close() has begun, it sends
    # only its own terminates.
    made: list[ServiceClient] = []

    def close() -> Callable[[], None]:
        if made:
            made[0].close()  # ends what the Ctrl-C left: closing again finishes the job
            assert made[0]._io.closed
        fake = FakeWeaver()
        http = httpx.Client(transport=httpx.MockTransport(fake))
        made[:] = [ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=3600)]
        made[0].create_training_client("weaver-tiny", keep=True)  # opens the session
        return made[0].close

    try:
        every_point(
            lambda at, kept: interrupted_at(at, close(), kept),
            lambda: _refuses_or_beats(made[0], lambda: made[0].get_model("m-1")),
        )
    finally:
        made[0].close()


def test_a_heartbeat_interval_beyond_the_longest_wait_waits_for_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Event.wait refuses a timeout over threading.TIMEOUT_MAX (an OverflowError), which
    # ended the heartbeat thread at its first wait, with a traceback.
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    fake = FakeWeaver()
    with service(fake, heartbeat_interval=threading.TIMEOUT_MAX * 2) as svc:
        svc.create_training_client("weaver-tiny")
        thread = svc._heartbeat
        assert thread is not None
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert died == []
    assert fake.sent("POST", HEARTBEAT) == []  # closed before its first beat was due


def test_a_failing_heartbeat_is_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeaver()
    failed = threading.Event()

    def fail(request: httpx.Request) -> httpx.Response:
        if len(fake.sent("POST", HEARTBEAT)) >= 2:
            failed.set()
        return json_reply(
            404, {"error": "not_found", "message": f"no session for {KEY}", "retryable": False}
        )

    fake.script("POST", HEARTBEAT, *[fail] * 2)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
    ):
        svc._heartbeat_interval = 30.0
        _beats_then_waits_for_close(svc, 2)
        svc.create_training_client("weaver-tiny")
        # The thread survives the first failure and beats again.
        assert failed.wait(timeout=10)
    assert len(fake.sent("POST", HEARTBEAT)) == 2
    said = [r for r in caplog.records if "heartbeat of session s-1 failed" in r.getMessage()]
    assert len(said) == 1  # the session is gone: said once
    assert KEY not in caplog.text


def test_a_heartbeat_reply_body_is_not_read(caplog: pytest.LogCaptureFixture) -> None:
    # weaver-wire.md: "empty body, 200. The real SDK ... ignores the reply": any 2xx, with a
    # body or none, is a heartbeat that worked.
    fake = FakeWeaver()
    replies = [
        httpx.Response(200),
        httpx.Response(204),
        httpx.Response(200, text="<html>ok</html>", headers={"content-type": "text/html"}),
        json_reply(200, {}),
        json_reply(201, {"session_id": 7}),
    ]
    fake.script("POST", HEARTBEAT, *replies)
    handled = threading.Event()  # every reply was read: the thread waits for the next beat
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
    ):
        svc._heartbeat_interval = 30.0
        asked: list[float] = []

        def wait(seconds: float) -> bool:
            asked.append(seconds)
            if len(asked) <= len(replies):
                return False
            handled.set()
            return svc._stop.wait()

        svc._wait_beat = wait
        svc.create_training_client("weaver-tiny")
        assert handled.wait(timeout=10)
    assert len(fake.sent("POST", HEARTBEAT)) == len(replies)
    assert [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()] == []


def test_a_failed_heartbeat_is_not_retried_the_next_beat_is() -> None:
    # weaver-wire.md: the real SDK sends a heartbeat every 30 s and ignores the reply. A
    # retried one could outlive close(), which abandons a heartbeat in flight.
    fake = FakeWeaver()
    beaten = threading.Event()

    def unavailable(request: httpx.Request) -> httpx.Response:
        beaten.set()
        body = {"error": "unavailable", "message": "busy", "retryable": True}
        return json_reply(503, body, {"Retry-After": "0"})

    fake.script("POST", HEARTBEAT, *[unavailable] * 5)
    with service(fake) as svc:
        svc._heartbeat_interval = 30.0
        _beats_then_waits_for_close(svc, 1)
        svc.create_training_client("weaver-tiny")
        assert beaten.wait(timeout=10)
    assert len(fake.sent("POST", HEARTBEAT)) == 1


def _parking_wait(
    beats: int,
) -> tuple[Callable[[float], Awaitable[None]], list[float], asyncio.Event]:
    """A heartbeat task's wait that returns at once ``beats`` times, then parks (``parked``
    is set) until the close cancels the task; ``asked``: the intervals it was given."""
    asked: list[float] = []
    parked = asyncio.Event()

    async def wait(seconds: float) -> None:
        asked.append(seconds)
        if len(asked) > beats:
            parked.set()
            await asyncio.Event().wait()

    return wait, asked, parked


async def test_async_heartbeat_task_beats_and_is_cancelled_on_close() -> None:
    fake = FakeWeaver()
    wait, asked, parked = _parking_wait(2)
    async with async_service(fake, heartbeat_interval=7.0) as svc:
        svc._wait_beat = wait
        await svc.create_training_client("weaver-tiny")
        task = svc._heartbeat
        assert task is not None
        await asyncio.wait_for(parked.wait(), timeout=10)  # no time passes between beats
    assert task.done()
    assert asked == [7.0] * 3
    assert len(fake.sent("POST", HEARTBEAT)) == 2


async def test_an_aclose_cancelled_as_it_ends_the_heartbeat_refuses_calls() -> None:
    # An aclose() cancelled while it waited for its heartbeat task to end left a client
    # whose calls and creates worked with that task cancelled for good.
    fake = FakeWeaver()
    svc = async_service(fake, heartbeat_interval=3600.0)
    await svc.create_training_client("weaver-tiny", keep=True)  # opens the session
    closing = asyncio.create_task(svc.aclose())
    await asyncio.sleep(0)  # it cancelled the task, and waits for it to end
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    sent = len(fake.requests)
    with pytest.raises(ClientClosedError) as refused:
        await svc.get_model("m-1")
    assert len(fake.requests) == sent
    assert _refuses_or_beats(svc, lambda: (_ for _ in ()).throw(refused.value))
    await svc.aclose()  # closing again ends it
    assert svc._io.closed


def _readme_heartbeat_seconds() -> float:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    said = re.search(r"a heartbeat every `heartbeat_interval` seconds \((\d+) by default\)", readme)
    assert said is not None
    return float(said[1])


async def test_the_heartbeat_beats_as_often_as_the_readme_says_by_default() -> None:
    # The README: "a heartbeat every `heartbeat_interval` seconds (30 by default)".
    seconds = _readme_heartbeat_seconds()
    fake = FakeWeaver()
    wait, asked, parked = _parking_wait(1)
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    async with AsyncServiceClient(BASE, KEY, http_client=http) as svc:
        svc._wait_beat = wait
        await svc.create_training_client("weaver-tiny")
        await asyncio.wait_for(parked.wait(), timeout=10)
    assert asked == [seconds] * 2
    assert len(fake.sent("POST", HEARTBEAT)) == 1


async def test_a_failing_async_heartbeat_is_logged_without_the_key_and_beats_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As the sync thread (test_a_failing_heartbeat_is_logged_without_the_key): a failed
    # heartbeat is a warning, and the task lives on to send the next one.
    fake = FakeWeaver()
    refused = json_reply(
        404, {"error": "not_found", "message": f"no session for {KEY}", "retryable": False}
    )
    fake.script("POST", HEARTBEAT, refused, refused)
    wait, _, parked = _parking_wait(2)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        async with async_service(fake, heartbeat_interval=30.0) as svc:
            svc._wait_beat = wait
            await svc.create_training_client("weaver-tiny")
            await asyncio.wait_for(parked.wait(), timeout=10)
    assert len(fake.sent("POST", HEARTBEAT)) == 2
    failed = [r for r in caplog.records if "heartbeat of session s-1 failed" in r.getMessage()]
    # A 404 says the session is gone: every beat of it fails until a create opens a new
    # one, so it is said once, with what comes next.
    assert len(failed) == 1
    assert "the next model create opens a new one" in failed[0].getMessage()
    assert KEY not in caplog.text


@pytest.mark.parametrize("status", [500, 503])
async def test_a_heartbeat_failing_otherwise_is_logged_at_each_beat(
    caplog: pytest.LogCaptureFixture, status: int
) -> None:
    fake = FakeWeaver()
    refused = json_reply(status, {"error": "internal", "message": "down", "retryable": False})
    fake.script("POST", HEARTBEAT, refused, refused)
    wait, _, parked = _parking_wait(2)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        async with async_service(fake, heartbeat_interval=30.0) as svc:
            svc._wait_beat = wait
            await svc.create_training_client("weaver-tiny")
            await asyncio.wait_for(parked.wait(), timeout=10)
    failed = [r for r in caplog.records if "heartbeat of session s-1 failed" in r.getMessage()]
    assert len(failed) == 2
    assert "opens a new one" not in caplog.text


def test_aclose_on_another_loop_while_its_own_is_stopped_ends_the_heartbeat_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aclose() on another loop while the client's own is stopped runs the close on that
    # loop (README): the heartbeat task waiting there is cancelled, and that loop run
    # again sends nothing and warns of no heartbeat.
    fake = FakeWeaver()
    svc = async_service(fake, heartbeat_interval=7.0)
    own = asyncio.new_event_loop()
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.Event().wait()  # until the close cancels it

    svc._wait_beat = wait
    try:
        model_id = own.run_until_complete(svc.create_training_client("weaver-tiny")).model_id
        heartbeat = svc._heartbeat
        assert heartbeat is not None
        own.run_until_complete(asyncio.sleep(0))  # the task waits for its first beat
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            asyncio.run(asyncio.wait_for(svc.aclose(), timeout=10))  # `own` is stopped
            sent = len(fake.requests)
            own.run_until_complete(asyncio.sleep(0))
    finally:
        own.close()
    assert heartbeat.cancelled()
    assert waits == [7.0]
    assert fake.terminated == [model_id]
    assert len(fake.requests) == sent
    assert not [r for r in caplog.records if "heartbeat" in r.getMessage()]


# -- logging ------------------------------------------------------------------------------------


def test_debug_logging_redacts_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WEAVER_LOG", "debug")
    logger = logging.getLogger("weaver_facade")
    fake = FakeWeaver()
    try:
        with caplog.at_level(logging.DEBUG, logger="weaver_facade"):
            fake.script(
                "POST",
                "/api/v1/sessions",
                json_reply(503, {"error": "unavailable", "message": "x", "retryable": True}),
            )
            with service(fake) as svc:
                trainer = svc.create_training_client("weaver-tiny")
                trainer.forward_backward([datum_from_tokens([1, 2])])
                assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(logging.NOTSET)
        for handler in list(logger.handlers):
            if getattr(handler, "_weaver_env_handler", False):
                logger.removeHandler(handler)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("request POST http://weaver.test/api/v1/sessions") for m in messages)
    assert any(
        m.startswith("POST /api/v1/sessions: HTTP 503 (unavailable); retrying in") for m in messages
    )
    assert any("'x-weaver-api-key': '[redacted]'" in m for m in messages)
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in str(record.args)


def test_without_weaver_log_requests_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeaver()
    with caplog.at_level(logging.INFO, logger="weaver_facade"), service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert not any(r.getMessage().startswith("request ") for r in caplog.records)


async def test_async_client_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVER_BASE_URL", "http://env.test/")
    async with AsyncServiceClient(api_key=KEY) as svc:
        assert svc.base_url == "http://env.test"
        assert KEY not in repr(svc)


def test_a_password_in_the_base_url_is_used_but_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeWeaver()
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    caplog.set_level(logging.DEBUG)  # httpx's own log too, which names each request's URL
    url = "http://user:hunter2@weaver.test"
    with ServiceClient(url, KEY, heartbeat_interval=0) as svc:
        assert svc.base_url == "http://***@weaver.test"
        svc.create_training_client("weaver-tiny")
        shown = repr(svc) + repr(svc._io.generated)
    assert "hunter2" not in shown
    assert "***@weaver.test" in shown
    for wrong in (f"{url}/api/v1", "htp://user:hunter2@weaver.test"):  # a typo'd scheme too
        with pytest.raises(InvalidArgumentError) as refused:
            ServiceClient(wrong, KEY)
        assert "hunter2" not in str(refused.value)
        assert "***@weaver.test" in str(refused.value)
    sent = fake.requests[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"user:hunter2").decode()
    assert "HTTP Request: POST http://weaver.test/api/v1/sessions" in caplog.text
    assert "hunter2" not in caplog.text
    assert "hunter2" not in repr(fake.requests[0])  # pytest --showlocals shows it


def test_a_lone_user_name_in_the_base_url_is_never_shown() -> None:
    # A user name without a password may be the credential (httpx sends it as Basic auth).
    with ServiceClient("http://TOKEN@weaver.test", KEY, heartbeat_interval=0) as svc:
        assert svc.base_url == "http://***@weaver.test"
        assert "TOKEN" not in repr(svc) + repr(svc._io.generated)


@pytest.mark.parametrize("userinfo", ["user:pw", "user", "user:", ":pw", ":", ""])
def test_the_base_url_s_user_info_is_sent_as_httpx_sends_it(
    monkeypatch: pytest.MonkeyPatch, userinfo: str
) -> None:
    # `http://:@host` names no credentials: httpx sends none, and neither did the facade,
    # until its own auth sent an empty `Basic Og==`, which wins over the Authorization of
    # a user's http_client (a gateway's token) and which a server may refuse.
    url = f"http://{userinfo}@weaver.test"
    by_httpx: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        by_httpx.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(record)) as raw:
        raw.get(f"{url}/api/v1/base-models")
    fake = FakeWeaver()
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    with ServiceClient(url, KEY, heartbeat_interval=0) as svc:
        svc.create_training_client("weaver-tiny")
    assert fake.requests[0].headers.get("Authorization") == by_httpx[0].headers.get("Authorization")


@pytest.mark.parametrize(
    "userinfo",
    ["ghp_TOKEN7f3:x-oauth-basic", "TOKEN7f3:x", "oauth2:TOKEN7f3", "TOKEN7f3"],
    ids=["token-then-word", "token-then-x", "word-then-token", "token-alone"],
)
def test_no_part_of_the_base_url_s_user_info_is_ever_shown(userinfo: str) -> None:
    # Which half of `user:password` is the secret is the server's to decide: GitHub-style
    # `TOKEN:x-oauth-basic` puts it in the user name, which was shown beside `***`.
    url = f"http://{userinfo}@weaver.test"
    with ServiceClient(url, KEY, heartbeat_interval=0) as svc:
        assert svc.base_url == "http://***@weaver.test"
        assert "TOKEN7f3" not in repr(svc) + repr(svc._io.generated)
    # A base URL refused before httpx reads it too (no scheme, a typo'd one, /api/v1).
    for wrong in (f"{userinfo}@weaver.test", f"htp://{userinfo}@weaver.test", f"{url}/api/v1"):
        with pytest.raises(InvalidArgumentError) as refused:
            ServiceClient(wrong, KEY)
        assert "TOKEN7f3" not in str(refused.value)
        assert "***@weaver.test" in str(refused.value)


def test_without_http_client_the_default_transport_carries_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The path most scripts take: the facade builds its own httpx client around
    # RetryTransport(HTTPTransport()). Only the socket layer is replaced.
    fake = FakeWeaver()
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", lambda _self, r: fake(r))
    with ServiceClient(BASE, KEY, heartbeat_interval=0, sleep=lambda _s: None) as svc:
        fake.script(
            "POST",
            "/api/v1/sessions",
            json_reply(503, {"error": "unavailable", "message": "x", "retryable": True}),
        )
        svc.create_training_client("weaver-tiny").optim_step()
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2  # retried by the default stack
    for request in fake.requests:
        assert request.headers["X-WEAVER-API-KEY"] == KEY
        assert request.headers["User-Agent"].startswith("weaver-facade/")


async def test_async_without_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeWeaver()

    async def handle(_self: object, request: httpx.Request) -> httpx.Response:
        return fake(request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    async with AsyncServiceClient(BASE, KEY, heartbeat_interval=0) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await trainer.optim_step()
    for request in fake.requests:
        assert request.headers["X-WEAVER-API-KEY"] == KEY


def test_both_clients_take_every_client_option_and_nothing_else() -> None:
    # The options are declared once, in ClientOptions; what the shared constructor
    # really takes is the other source.
    taken = {
        name
        for name, p in inspect.signature(ServiceClient.__mro__[1]).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(ClientOptions.__annotations__) == taken
    options: ClientOptions = {"tags": ["t"], "heartbeat_interval": 0, "max_retries": 1}
    with ServiceClient(BASE, KEY, **options) as svc:
        assert svc.base_url == BASE
    asyncio.run(AsyncServiceClient(BASE, KEY, **options).aclose())
    with pytest.raises(TypeError, match="hearbeat_interval"):
        ServiceClient(BASE, KEY, hearbeat_interval=0)  # type: ignore[call-arg]


def test_a_with_options_copy_shows_the_session_its_original_opened() -> None:
    # The copy shares its original's session; made before the session opened, its
    # repr must still show the id the original got later.
    fake = FakeWeaver()
    with service(fake) as svc:
        copy = svc.with_options(timeout=5)
        svc.create_training_client("weaver-tiny")
        assert svc.session_id is not None
        assert copy.session_id == svc.session_id
        assert f"session_id={svc.session_id!r}" in repr(copy)


def test_a_closed_clients_repr_says_so() -> None:
    # Printed in a debugger after close(), it looked like a client still usable.
    fake = FakeWeaver()
    with service(fake) as svc:
        assert "closed" not in repr(svc)
    assert repr(svc) == (
        f"ServiceClient(base_url='{BASE}', api_key=<set>, session_id=None, closed=True)"
    )


def test_a_session_reply_with_only_its_id_is_enough() -> None:
    # weaver-wire.md: "Clients need only `id`". A reply without `tags` and the rest was a
    # ResponseValidationError, and nothing could be done after it.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions", json_reply(201, {"id": "s-1"}))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
    assert trainer.model_id == "m-1"
    assert fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])["base_model"] == (
        "weaver-tiny"
    )


def test_a_client_nothing_uses_any_more_ends_its_heartbeat() -> None:
    # The heartbeat thread held the client: never collected, it beat for ever (with its
    # socket and session) after the script had dropped every reference to it.
    waiting = queue.SimpleQueue[None]()  # one item each time the thread begins a wait
    go = threading.Semaphore(0)  # one beat each time the test lets it go

    def wait(_seconds: float) -> bool:
        waiting.put(None)
        return not go.acquire(timeout=10)

    # Nothing of the test may hold the fake: its requests hold the client's IO.
    http = httpx.Client(transport=httpx.MockTransport(FakeWeaver()))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=7.0)
    svc._wait_beat = wait
    del http
    trainer = svc.create_training_client("weaver-tiny")
    heartbeat = svc._heartbeat
    assert heartbeat is not None
    del svc
    waiting.get(timeout=10)
    gc.collect()  # the training client may still train: the thread beats, then waits again
    go.release()
    waiting.get(timeout=10)
    trainer.optim_step()
    del trainer
    gc.collect()  # while the thread waits, holding nothing: no beat in flight to race
    go.release()
    heartbeat.join(10)
    assert not heartbeat.is_alive()


async def test_an_async_client_nothing_uses_any_more_ends_its_heartbeat() -> None:
    svc = async_service(FakeWeaver(), heartbeat_interval=7.0)  # as above, not held
    go = asyncio.Event()

    async def wait(_seconds: float) -> None:  # until the test lets it go, once
        await go.wait()
        go.clear()

    svc._wait_beat = wait
    await svc.create_training_client("weaver-tiny")
    heartbeat = svc._heartbeat
    assert heartbeat is not None
    del svc
    gc.collect()
    go.set()
    await asyncio.wait({heartbeat}, timeout=10)
    assert heartbeat.done()


def test_a_close_within_a_close_on_one_thread_returns() -> None:
    # A signal handler that closes the client while this thread is closing it: the lock
    # was not reentrant, and the process hung.
    fake = FakeWeaver()
    nested: list[None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/terminate") and not nested:
            nested.append(None)
            svc.close()  # as a signal handler would, on this thread
        return fake(request)

    svc = ServiceClient(
        BASE,
        KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        heartbeat_interval=0,
    )
    svc.create_training_client("weaver-tiny")
    closing = threading.Thread(target=svc.close, daemon=True)
    closing.start()
    closing.join(10)
    assert not closing.is_alive(), "the nested close waited for itself"
    assert fake.terminated == ["m-1"]


def test_a_close_wakes_no_sleeper_of_a_closed_loop() -> None:
    # A sleeper left on an event loop since closed made every close raise "Event loop is
    # closed" before it terminated anything.
    wakeup = Wakeup()
    loop = asyncio.new_event_loop()
    sleeper = loop.create_task(wakeup.asleep(100))
    loop.run_until_complete(asyncio.sleep(0))
    sleeper._log_destroy_pending = False  # type: ignore[attr-defined]  # it is, on purpose
    loop.close()
    with wakeup.closer():
        pass


# -- event loops ---------------------------------------------------------------------------------


def test_an_async_client_used_on_another_event_loop_sends_nothing_there() -> None:
    # Its connections and heartbeat belong to its first loop: on another, a call is refused
    # before anything is sent, and aclose() ends at once, raising to name the models left
    # running (that loop is closed, so nothing can be sent to terminate them).
    fake = FakeWeaver()
    svc = async_service(fake, heartbeat_interval=7.0)

    async def first() -> str:
        trainer = await svc.create_training_client("weaver-tiny")
        return trainer.model_id

    async def wait(_seconds: float) -> None:
        await asyncio.Event().wait()  # the beat waits on the first loop for ever

    svc._wait_beat = wait
    model_id = asyncio.run(first())
    sent = len(fake.requests)

    async def second() -> None:
        with pytest.raises(EventLoopError, match=r"another event loop, .*; nothing was sent"):
            await svc.training_client(model_id)
        with pytest.raises(EventLoopError, match=f"so model {model_id} is left running"):
            await asyncio.wait_for(svc.aclose(), timeout=10)
        with pytest.raises(ClientClosedError):
            await svc.supported_models()

    asyncio.run(second())
    assert len(fake.requests) == sent
    assert fake.terminated == []


def test_a_training_client_or_handle_used_on_another_event_loop_sends_nothing() -> None:
    # The README: EventLoopError for an async service client, "or a training client or
    # handle of it"; only the service client was tried.
    fake = FakeWeaver()
    fake.done_at_once = False  # the save's handle is pending: its result needs a poll
    svc = async_service(fake, heartbeat_interval=0)

    async def first() -> tuple[AsyncTrainingClient, AsyncOperationHandle[Checkpoint]]:
        trainer = await svc.create_training_client("weaver-tiny")
        return trainer, await trainer.save_state("s", wait=False)

    trainer, handle = asyncio.run(first())
    sent = len(fake.requests)

    async def second() -> None:
        with pytest.raises(EventLoopError, match="nothing was sent"):
            await trainer.list_checkpoints()
        with pytest.raises(EventLoopError, match="nothing was sent"):
            await handle.result(timeout=5)
        with pytest.raises(EventLoopError, match="nothing was sent"):
            await asyncio.wait_for(svc.aclose(), timeout=10)

    asyncio.run(second())
    assert len(fake.requests) == sent


def test_aclose_on_another_loop_closes_on_the_client_s_loop_while_it_runs() -> None:
    fake = FakeWeaver()
    svc = async_service(fake, heartbeat_interval=7.0)

    async def wait(_seconds: float) -> None:
        await asyncio.Event().wait()  # until the close cancels the beat, on its own loop

    svc._wait_beat = wait
    own = asyncio.new_event_loop()
    thread = threading.Thread(target=own.run_forever, daemon=True)
    thread.start()
    try:
        created = asyncio.run_coroutine_threadsafe(svc.create_training_client("weaver-tiny"), own)
        model_id = created.result(timeout=10).model_id
        asyncio.run(asyncio.wait_for(svc.aclose(), timeout=10))
    finally:
        own.call_soon_threadsafe(own.stop)
        thread.join(timeout=10)
        own.close()
    assert fake.terminated == [model_id]


# The wire sheet gives a session no lifetime, but a server may end one that missed its
# heartbeats (a laptop asleep): every later create then got 404, for as long as the
# client lived. A create whose session is gone opens a new one, once.
def _expired_session(fake: FakeWeaver, first_create: Reply | None = None) -> None:
    """s-1, whose first create is ``first_create`` (default: made) and the second a 404."""
    first = {"id": "s-1", "tags": [], "user_metadata": {}, "sdk_version": "x"}
    stamps = {"created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    fake.script(
        "POST",
        "/api/v1/sessions",
        json_reply(201, {**first, **stamps}),
        json_reply(201, {**first, **stamps, "id": "s-2"}),
    )
    made = first_create or fake.route
    fake.script("POST", "/api/v1/sessions/s-1/models", made, _gone(fake, "s-1"))


def _made_then_lost(fake: FakeWeaver) -> Reply:
    """A create the server makes and whose reply is then lost."""

    def made_then_lost(request: httpx.Request) -> httpx.Response:
        fake.route(request)
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    return made_then_lost


# The note of a create refused or cut after an earlier attempt's reply was lost.
_LOST_CREATE_NOTE = (
    "an earlier attempt's reply was lost while the request to create a model was on "
    "its way: the server may have made it, which this client cannot terminate, not "
    "knowing its id; a server with the model-listing extension shows it in "
    "service.list_models() (end it with terminate_model())"
)
# The same after two attempts whose reply was lost, in the success WARNING's words.
_TWO_LOST_CREATES_NOTE = (
    "2 earlier attempts' replies were lost while the request to create a model was on "
    "its way: the server may have made up to 2 models, which this client cannot "
    "terminate, not knowing their ids; a server with the model-listing extension shows "
    "them in service.list_models() (end them with terminate_model())"
)


# The POSTs of two creates, the second of which found its session gone.
_REOPENED = [
    "/api/v1/sessions",
    "/api/v1/sessions/s-1/models",
    "/api/v1/sessions/s-1/models",
    "/api/v1/sessions",
    "/api/v1/sessions/s-2/models",
]


def _created_on(fake: FakeWeaver) -> list[str]:
    return [r.url.path for r in fake.sent("POST") if "heartbeat" not in r.url.path]


def test_a_create_whose_session_expired_opens_a_new_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeWeaver()
    _expired_session(fake)
    waiting = queue.SimpleQueue[None]()  # one item each time the heartbeat begins a wait
    go = threading.Semaphore(0)  # the one beat, when the test lets it go
    waits = 0

    def wait(_seconds: float) -> bool:
        nonlocal waits
        waits += 1
        waiting.put(None)
        return not go.acquire(timeout=10) if waits == 1 else svc._stop.wait()

    with service(fake, heartbeat_interval=30.0) as svc:
        svc._wait_beat = wait
        svc.create_training_client("weaver-tiny")  # s-1, before it expired
        waiting.get(timeout=10)
        svc.create_training_client("weaver-tiny")
        assert svc.session_id == "s-2"
        assert "session s-1 is gone" in caplog.text
        go.release()  # the one heartbeat beats the new session
        waiting.get(timeout=10)
        assert [r.url.path for r in fake.sent("POST") if "heartbeat" in r.url.path] == [
            "/api/v1/sessions/s-2/heartbeat"
        ]
    assert _created_on(fake)[:5] == _REOPENED


@pytest.mark.parametrize("asked", ["answered", "failed"])
def test_a_create_whose_404_is_its_own_keeps_the_session(
    asked: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A server may answer an unknown base model with 404 (`unsupported_model`): the
    # create took it for its session's end, opened a new one, moved the heartbeat to it,
    # and left the session of the models it had made without beats. A GET of the session
    # that fails (a 503 through every retry) says nothing of its end either.
    fake = FakeWeaver()
    unknown = error_json("unsupported_model", "base model weaver-tnyi not found")
    fake.script("POST", "/api/v1/sessions/s-1/models", fake.route, json_reply(404, unknown))
    if asked == "failed":
        fake.script("GET", "/api/v1/sessions/s-1", *[json_reply(503, UNAVAILABLE)] * 10)
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
        with pytest.raises(NotFoundError) as raised:
            svc.create_training_client("weaver-tnyi")
        assert svc.session_id == "s-1"
    assert raised.value.code == "unsupported_model"
    assert not getattr(raised.value, "__notes__", None)
    assert "is gone" not in caplog.text
    assert [r.url.path for r in fake.sent("POST", "/api/v1/sessions")] == ["/api/v1/sessions"]
    assert {r.url.path for r in fake.sent("GET")} == {"/api/v1/sessions/s-1"}


def test_a_create_on_a_server_without_the_session_s_get_takes_its_404_as_the_end() -> None:
    # Its GET /sessions/{id} is a 405: only the create's 404 can tell the session's end.
    fake = FakeWeaver()
    _expired_session(fake)
    refused = {"error": "method_not_allowed", "message": "GET not allowed", "retryable": False}
    fake.script("GET", "/api/v1/sessions/s-1", json_reply(405, refused))
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
        svc.create_training_client("weaver-tiny")
        assert svc.session_id == "s-2"
    assert _created_on(fake)[:5] == _REOPENED


def test_a_create_whose_lost_reply_met_an_expired_session_warns_of_a_model_left_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first attempt made a model in s-1 and its reply was lost; the retry found s-1
    # gone, and the model made in s-2 was returned without a word of the first.
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    _expired_session(fake, made_then_lost)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        assert svc.session_id == "s-2"
    warned = [r.getMessage() for r in caplog.records if "reply was lost" in r.getMessage()]
    assert len(warned) == 1, warned
    assert f"model {trainer.model_id} was made after" in warned[0]


@pytest.mark.parametrize("lost_again", [False, True], ids=["refused", "lost-then-refused"])
def test_a_create_whose_lost_reply_met_an_expired_session_then_a_refusal_says_so(
    lost_again: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The first attempt's reply was lost in s-1, whose retry found it gone; the create
    # in s-2 was refused (after a reply lost there too, which left its own note to the
    # 404's path, that warns only of a model returned): the error named no model.
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    _expired_session(fake, made_then_lost)
    refused = json_reply(500, error_json("internal", "no"))
    fake.script("POST", "/api/v1/sessions/s-2/models", *[made_then_lost] * lost_again, refused)
    with service(fake) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code == 500
    # A reply lost in each session: each may have made a model (it said "it").
    assert raised.value.__notes__ == [_TWO_LOST_CREATES_NOTE if lost_again else _LOST_CREATE_NOTE]
    assert "reply was lost" not in caplog.text  # no model was returned to warn of


def test_a_create_whose_lost_reply_met_an_expired_session_then_a_close_says_so() -> None:
    # As a refusal: the client closed while the new session's open waited to retry a
    # 503 (a ClientClosedError, no APIError), and the model the lost attempt in s-1 may
    # have made was named nowhere, where a close in one session names it.
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    first = {"id": "s-1", "tags": [], "user_metadata": {}, "sdk_version": "x"}
    stamps = {"created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    down = json_reply(503, UNAVAILABLE)
    fake.script("POST", "/api/v1/sessions", json_reply(201, {**first, **stamps}), down)
    fake.script("POST", "/api/v1/sessions/s-1/models", made_then_lost, _gone(fake, "s-1"))
    holder: list[ServiceClient] = []
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the second: before the new session's retry
        sleeps.append(seconds)
        if len(sleeps) == 2:
            holder[0].close()

    svc = ServiceClient(
        BASE,
        KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        heartbeat_interval=0,
        sleep=sleep,
    )
    holder.append(svc)
    with pytest.raises(ClientClosedError) as raised:
        svc.create_training_client("weaver-tiny")
    assert str(raised.value).startswith("create_session: POST /api/v1/sessions: not retried")
    assert raised.value.__notes__ == [_LOST_CREATE_NOTE]


@pytest.mark.parametrize("moment", ["waiting-to-retry", "on-its-way"])
def test_a_create_whose_lost_reply_met_an_expired_session_then_a_ctrl_c_says_so(
    moment: str,
) -> None:
    # A Ctrl-C while the new session was opened (its retry waited after a 503, or its
    # request was on its way: a second Ctrl-C) raised KeyboardInterrupt without the note
    # that the attempt whose reply was lost in s-1 may have made a model, which a Ctrl-C
    # while that attempt's retry waited has.
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    first = {"id": "s-1", "tags": [], "user_metadata": {}, "sdk_version": "x"}
    stamps = {"created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}

    def ctrl_c(_request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    reopen = json_reply(503, UNAVAILABLE) if moment == "waiting-to-retry" else ctrl_c
    fake.script("POST", "/api/v1/sessions", json_reply(201, {**first, **stamps}), reopen)
    fake.script("POST", "/api/v1/sessions/s-1/models", made_then_lost, _gone(fake, "s-1"))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the second: before the new session's retry
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as raised, service(fake, sleep=sleep) as svc:
        svc.create_training_client("weaver-tiny")
    assert fake.sent("POST")[-1].url.path == "/api/v1/sessions"
    assert raised.value.__notes__ == [
        _LOST_CREATE_NOTE.replace("an earlier attempt's reply was lost", "interrupted")
    ]


def _held_ctrl_c_then(reply: httpx.Response) -> Reply:
    """A Ctrl-C while the request is on its way, which the create holds, then ``reply``."""

    def held(_request: httpx.Request) -> httpx.Response:
        signal.raise_signal(signal.SIGINT)
        return reply

    return held


_INTERRUPTED_CREATE_NOTE = _LOST_CREATE_NOTE.replace(
    "an earlier attempt's reply was lost", "interrupted"
)


def test_a_create_whose_lost_reply_met_an_expired_session_then_a_held_ctrl_c_sends_no_create(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A Ctrl-C held while the new session was opened: the create was sent in it all the
    # same, and the model the server made there was one more its caller never got.
    fake = FakeWeaver()
    first = {"id": "s-1", "tags": [], "user_metadata": {}, "sdk_version": "x"}
    stamps = {"created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    opened = json_reply(201, {**first, **stamps, "id": "s-2"})
    fake.script(
        "POST",
        "/api/v1/sessions",
        json_reply(201, {**first, **stamps}),
        _held_ctrl_c_then(opened),
    )
    fake.script("POST", "/api/v1/sessions/s-1/models", _made_then_lost(fake), _gone(fake, "s-1"))
    with default_sigint(), service(fake) as svc, pytest.raises(KeyboardInterrupt) as raised:
        svc.create_training_client("weaver-tiny")
    assert HOLD_NOTICE in caplog.text  # held, not raised at once
    assert _created_on(fake) == _REOPENED[:-1]
    assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]


async def test_a_create_cancelled_while_its_new_session_opens_sends_no_create() -> None:
    # Cancelled while the session replacing the ended one was opened: the create went on
    # in the background and was sent in it, making a model its caller never got.
    fake = FakeWeaver()
    _expired_session(fake)
    held = HeldTransport(fake, "/api/v1/sessions")
    held.release.set()
    svc = AsyncServiceClient(
        BASE, KEY, http_client=httpx.AsyncClient(transport=held), heartbeat_interval=0
    )
    await svc.create_training_client("weaver-tiny")  # in s-1
    held.release.clear()
    create = asyncio.create_task(svc.create_training_client("weaver-tiny"))
    await held.reached.wait()  # s-1 is gone; the open of s-2 is held
    create.cancel()
    with pytest.raises(asyncio.CancelledError):
        await create
    held.release.set()
    await svc.aclose()  # waits for the create still on its way
    assert [r.url.path for r in fake.sent("POST", "/api/v1/sessions")] == [_REOPENED[0]] * 2
    assert fake.sent("POST", "/api/v1/sessions/s-2/models") == []


@pytest.mark.parametrize("expired", [False, True], ids=["one-session", "expired-session"])
def test_a_create_refused_after_a_lost_reply_under_a_held_ctrl_c_says_a_model_may_be_made(
    expired: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The retry after a lost reply was on its way when a Ctrl-C came, held until its
    # refusal: the KeyboardInterrupt raised then said nothing of the model the lost
    # attempt may have made (the refusal it was raised over, its __context__, did).
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    refused = _held_ctrl_c_then(json_reply(500, error_json("internal", "no")))
    if expired:  # the reply lost in s-1, which the retry found gone; refused in s-2
        _expired_session(fake, made_then_lost)
        fake.script("POST", "/api/v1/sessions/s-2/models", refused)
    else:
        fake.script("POST", "/api/v1/sessions/s-1/models", made_then_lost, refused)
    with default_sigint(), service(fake) as svc, pytest.raises(KeyboardInterrupt) as raised:
        svc.create_training_client("weaver-tiny")
    assert HOLD_NOTICE in caplog.text
    assert isinstance(raised.value.__context__, APIError)
    assert raised.value.__context__.status_code == 500
    assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]


def test_a_create_whose_reply_is_lost_under_a_held_ctrl_c_says_a_model_may_be_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Held while the create was on its way, whose reply was then lost (no retry follows a
    # Ctrl-C): the KeyboardInterrupt had no note, the APIConnectionError under it had.
    fake = FakeWeaver()

    def held_then_lost(request: httpx.Request) -> httpx.Response:
        signal.raise_signal(signal.SIGINT)
        fake.route(request)
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    fake.script("POST", "/api/v1/sessions/s-1/models", held_then_lost)
    with default_sigint(), service(fake) as svc, pytest.raises(KeyboardInterrupt) as raised:
        svc.create_training_client("weaver-tiny")
    assert HOLD_NOTICE in caplog.text
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 1
    assert isinstance(raised.value.__context__, APIError)
    assert raised.value.__context__.status_code is None  # an APIConnectionError
    assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]


@pytest.mark.parametrize(
    "refusal",
    [(500, "internal", False), (503, "unavailable", True)],
    ids=["500", "503-to-the-end"],
)
def test_a_create_refused_after_a_lost_reply_says_a_model_may_be_made(
    refusal: tuple[int, str, bool], caplog: pytest.LogCaptureFixture
) -> None:
    # The first attempt's reply was lost, the retries were refused: the error said
    # nothing of the model the first attempt may have made, which runs on unknown.
    status, code, retryable = refusal
    fake = FakeWeaver()

    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset", request=request)

    refused = json_reply(status, error_json(code, "no", retryable), {"Retry-After": "0"})
    fake.script("POST", "/api/v1/sessions/s-1/models", lost, *[refused] * 5)
    with service(fake) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code == status
    assert raised.value.__notes__ == [_LOST_CREATE_NOTE]
    assert "reply was lost" not in caplog.text  # no model was returned to warn of


def test_a_create_refused_after_two_lost_replies_counts_the_models_it_may_have_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two attempts lost their reply, the third was refused: a server that does not
    # de-duplicate model_seq_id may have made a model for each, and the note said "an
    # earlier attempt's reply was lost ... the server may have made it".
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    refused = json_reply(500, error_json("internal", "no"))
    fake.script("POST", "/api/v1/sessions/s-1/models", made_then_lost, made_then_lost, refused)
    with service(fake) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code == 500
    assert raised.value.__notes__ == [_TWO_LOST_CREATES_NOTE]
    assert "reply was lost" not in caplog.text  # no model was returned to warn of


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_create_whose_replies_were_all_lost_counts_the_models_it_may_have_made(
    attempts: int,
) -> None:
    # Every attempt's reply was lost: each may have made a model, and the note said "no
    # reply came ... the server may have made it" of three as of one.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", *[_made_then_lost(fake)] * attempts)
    with service(fake, max_retries=attempts - 1) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code is None  # an APIConnectionError
    if attempts == 1:  # as it was (after the note naming the request)
        assert raised.value.__notes__[1:] == [
            _LOST_CREATE_NOTE.replace("an earlier attempt's reply was lost", "no reply came")
        ]
        return
    assert raised.value.__notes__[1:] == [
        "no reply came to 3 attempts while the request to create a model was on its way: "
        "the server may have made up to 3 models, which this client cannot terminate, not "
        "knowing their ids; a server with the model-listing extension shows them in "
        "service.list_models() (end them with terminate_model())"
    ]


def test_a_create_interrupted_after_two_lost_replies_counts_the_models_it_may_have_made() -> None:
    # A Ctrl-C while the retry after two lost replies waited: each may have made a model,
    # and the note said "interrupted while ... the server may have made it" of two as of one.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", *[_made_then_lost(fake)] * 2)
    sleeps = [0]

    def sleep(_seconds: float) -> None:
        sleeps[0] += 1
        if sleeps[0] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as raised, service(fake, sleep=sleep) as svc:
        svc.create_training_client("weaver-tiny")
    assert raised.value.__notes__ == [
        "interrupted after 2 attempts' replies were lost while the request to create a model "
        "was on its way: the server may have made up to 2 models, which this client cannot "
        "terminate, not knowing their ids; a server with the model-listing extension shows "
        "them in service.list_models() (end them with terminate_model())"
    ]


class _CtrlCOnRetrying(logging.Handler):
    """A Ctrl-C as the ``at``-th retry's WARNING is written: after the policy allowed the
    retry, before its wait, so the create holds it and the retry is stopped after the wait."""

    def __init__(self, at: int = 1) -> None:
        super().__init__()
        self._left = at

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self._left -= 1
            if self._left == 0:
                signal.raise_signal(signal.SIGINT)


def _created_until_ctrl_c(fake: FakeWeaver, at: int = 1) -> pytest.ExceptionInfo[KeyboardInterrupt]:
    """A create whose Ctrl-C, held as its retry number ``at`` is announced, stops it."""
    handler = _CtrlCOnRetrying(at=at)
    logging.getLogger("weaver_facade").addHandler(handler)
    try:
        with default_sigint(), service(fake) as svc, pytest.raises(KeyboardInterrupt) as raised:
            svc.create_training_client("weaver-tiny")
    finally:
        logging.getLogger("weaver_facade").removeHandler(handler)
    return raised


def test_a_create_stopped_after_its_retry_waited_counts_each_lost_reply_once() -> None:
    # One attempt's reply was lost; a Ctrl-C held as its retry was announced stopped the
    # retry after the wait. The note counted that attempt twice ("after 2 attempts'
    # replies were lost ... up to 2 models") of one request the server got.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", _made_then_lost(fake))
    raised = _created_until_ctrl_c(fake)
    sent = fake.sent("POST", "/api/v1/sessions/s-1/models")
    assert len(sent) == 1  # the retry was not sent
    assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]  # of len(sent) models


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_create_stopped_after_its_retry_waited_names_its_last_reply_a_502(
    attempts: int,
) -> None:
    # A proxy's 502, whose retry a Ctrl-C held as it was announced stopped after the wait:
    # the 502's own note said "an earlier attempt's reply was lost" of that very reply
    # (counted before the wait), and "2 earlier attempts'" after one earlier attempt.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", *[_made_then(fake, "502")] * attempts)
    raised = _created_until_ctrl_c(fake, at=attempts)
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == attempts
    refused = raised.value.__context__
    assert isinstance(refused, APIError)
    assert refused.status_code == 502
    if attempts == 1:
        assert refused.__notes__ == [
            _LOST_CREATE_NOTE.replace("an earlier attempt's reply was lost", "HTTP 502 came")
        ]
        assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]
        return
    made = (
        " while the request to create a model was on its way: the server may have made up to "
        "2 models, which this client cannot terminate, not knowing their ids; a server with "
        "the model-listing extension shows them in service.list_models() (end them with "
        "terminate_model())"
    )
    assert refused.__notes__ == ["HTTP 502 came after an earlier attempt's reply was lost" + made]
    assert raised.value.__notes__ == ["interrupted after 2 attempts' replies were lost" + made]


def test_a_create_whose_lost_replies_met_an_expired_session_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A reply lost in s-1 and another in s-2: one create, one model returned, and one
    # WARNING of it, not one per session.
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    _expired_session(fake, made_then_lost)
    fake.script("POST", "/api/v1/sessions/s-2/models", made_then_lost)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        assert svc.session_id == "s-2"
    warned = [r.getMessage() for r in caplog.records if "was made after" in r.getMessage()]
    assert len(warned) == 1, warned
    assert f"model {trainer.model_id} was made after" in warned[0]
    # Each lost reply may have made a model: the one in s-1, which a server that
    # de-duplicates model_seq_id also keeps (s-2's create has a seq id of its own), and
    # the one in s-2. It said "another model", "not knowing its id".
    assert "after 2 earlier attempts' replies were lost: the server may have" in warned[0]
    assert "made up to 2 other models too" in warned[0]
    assert "not knowing their ids" in warned[0]


def test_a_create_after_two_lost_replies_warns_of_two_models_left_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two attempts lost their reply: a server that does not de-duplicate model_seq_id may
    # have made a model for each, and the WARNING said "another model".
    fake = FakeWeaver()
    made_then_lost = _made_then_lost(fake)
    fake.script("POST", "/api/v1/sessions/s-1/models", made_then_lost, made_then_lost)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
    warned = [r.getMessage() for r in caplog.records if "was made after" in r.getMessage()]
    assert len(warned) == 1, warned
    assert warned[0].startswith(
        f"create_model: model {trainer.model_id} was made after 2 earlier attempts' replies "
        "were lost: a server that does not de-duplicate model_seq_id may have made up to 2 "
        "other models too, which this client cannot terminate, not knowing their ids"
    ), warned[0]
    # The library's calls; the command line shows its own words (``cli_message``).
    assert warned[0].endswith(
        "shows them in service.list_models() (end them with terminate_model())"
    ), warned[0]
    [record] = [r for r in caplog.records if "was made after" in r.getMessage()]
    assert getattr(record, "cli_message", "").endswith(
        "shows them in `weaver-facade models list` (end them with `weaver-facade models terminate`)"
    )


def _made_then(fake: FakeWeaver, lost: str) -> Callable[[httpx.Request], httpx.Response]:
    """A create the server makes, whose reply is then lost as ``lost`` says."""

    def made_then(request: httpx.Request) -> httpx.Response:
        fake.route(request)
        if lost == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(int(lost), text="<html>bad gateway</html>")  # a proxy's page

    return made_then


@pytest.mark.parametrize("lost", ["timeout", "502", "504"])
def test_a_create_answered_after_a_timeout_or_a_proxy_s_5xx_warns_of_another_model(
    lost: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The README: "a create answered after a lost reply (a dropped connection, a timeout,
    # a proxy's 502 or 504; not a 429 or 503) logs a WARNING".
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", _made_then(fake, lost))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 2
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "was made after" in r.getMessage()
    ]
    assert len(warned) == 1, caplog.text
    assert warned[0].startswith(
        f"create_model: model {trainer.model_id} was made after an earlier attempt's reply "
        "was lost: a server that does not de-duplicate model_seq_id may have made another "
        "model too"
    ), warned[0]


@pytest.mark.parametrize("lost", ["timeout", "502", "504"])
def test_a_create_whose_last_reply_is_lost_under_a_held_ctrl_c_says_a_model_may_be_made(
    lost: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Held while the create was on its way, whose one reply was a proxy's 502 or 504 (no
    # retry follows a Ctrl-C): neither the KeyboardInterrupt nor the error under it said
    # the server may have made a model, as they do after a timeout.
    fake = FakeWeaver()
    made_then = _made_then(fake, lost)

    def held(request: httpx.Request) -> httpx.Response:
        signal.raise_signal(signal.SIGINT)
        return made_then(request)

    fake.script("POST", "/api/v1/sessions/s-1/models", held)
    with default_sigint(), service(fake) as svc, pytest.raises(KeyboardInterrupt) as raised:
        svc.create_training_client("weaver-tiny")
    assert HOLD_NOTICE in caplog.text
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 1
    assert raised.value.__notes__ == [_INTERRUPTED_CREATE_NOTE]
    refused = raised.value.__context__
    assert isinstance(refused, APIError)
    how = "no reply came" if lost == "timeout" else f"HTTP {lost} came"
    assert refused.__notes__[-1] == _LOST_CREATE_NOTE.replace(
        "an earlier attempt's reply was lost", how
    )


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_create_whose_every_reply_is_a_proxy_s_502_counts_the_last(attempts: int) -> None:
    # Each attempt a proxy answered with a 502 may have made a model: the note counted
    # the earlier ones only ("2 earlier attempts' replies were lost ... up to 2 models" of
    # 3 the server got), and said nothing of one attempt alone.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", *[_made_then(fake, "502")] * attempts)
    with service(fake, max_retries=attempts - 1) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code == 502
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == attempts
    if attempts == 1:
        assert raised.value.__notes__ == [
            _LOST_CREATE_NOTE.replace("an earlier attempt's reply was lost", "HTTP 502 came")
        ]
        return
    assert raised.value.__notes__ == [
        "HTTP 502 came after 2 earlier attempts' replies were lost while the request to "
        "create a model was on its way: the server may have made up to 3 models, which this "
        "client cannot terminate, not knowing their ids; a server with the model-listing "
        "extension shows them in service.list_models() (end them with terminate_model())"
    ]


# The server's own 502 and 504 carry the spec's Error body, as its 500 does; a proxy's
# page does not (the README's "What is retried").
_SERVER_5XX = [(500, "internal"), (502, "upstream_unavailable"), (504, "upstream_timeout")]


@pytest.mark.parametrize(("status", "code"), _SERVER_5XX, ids=["500", "502", "504"])
def test_a_create_retried_after_the_server_s_own_5xx_warns_of_no_other_model(
    status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A 502 or 504 with an Error body is the server's answer, not a proxy's: no reply was
    # lost, as after its 500, but the WARNING said "an earlier attempt's reply was lost".
    fake = FakeWeaver()
    refused = json_reply(status, error_json(code, "try again", True))
    fake.script("POST", "/api/v1/sessions/s-1/models", refused)
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 2
    assert "retrying" in caplog.text
    assert "was made after" not in caplog.text


@pytest.mark.parametrize(("status", "code"), _SERVER_5XX, ids=["500", "502", "504"])
def test_a_create_refused_by_the_server_s_own_5xx_says_no_model_may_be_made(
    status: int, code: str
) -> None:
    # The note "HTTP 502 came while ...: the server may have made it" counted the server's
    # own refusal as a proxy's reply, though its 500 has no note.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(status, error_json(code, "no")))
    with service(fake) as svc, pytest.raises(APIError) as raised:
        svc.create_training_client("weaver-tiny")
    assert raised.value.status_code == status
    assert not getattr(raised.value, "__notes__", None)


@pytest.mark.parametrize(
    ("status", "code"), [(429, "rate_limited"), (503, "unavailable"), (408, "timeout")]
)
def test_a_create_retried_after_a_refusal_warns_of_no_other_model(
    status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    # 408, 429 and 503 say the server did not act: no model can have been left behind.
    fake = FakeWeaver()
    refused = json_reply(status, error_json(code, "try again", True), {"Retry-After": "0"})
    fake.script("POST", "/api/v1/sessions/s-1/models", refused)
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 2
    assert "retrying" in caplog.text
    assert "reply was lost" not in caplog.text


async def test_an_async_create_whose_session_expired_opens_a_new_session() -> None:
    fake = FakeWeaver()
    _expired_session(fake)
    async with async_service(fake) as svc:
        await svc.create_training_client("weaver-tiny")
        await svc.create_training_client("weaver-tiny")
        assert svc.session_id == "s-2"
    assert _created_on(fake)[:5] == _REOPENED


async def test_a_cancelled_create_whose_session_expired_opens_no_new_session() -> None:
    # The caller gave up while the create was on its way: its 404 is not followed by a
    # new session and a model nobody asked for any more.
    fake = FakeWeaver()
    _expired_session(fake)
    held = HeldTransport(fake, "/api/v1/sessions/s-1/models")
    http = httpx.AsyncClient(transport=held)
    async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        held.release.set()
        await svc.create_training_client("weaver-tiny")
        held.release.clear()
        creating = asyncio.create_task(svc.create_training_client("weaver-tiny"))
        await held.reached.wait()
        creating.cancel()
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await creating
    sessions = [p for p in _created_on(fake) if p.startswith("/api/v1/sessions")]
    assert sessions == ["/api/v1/sessions", *["/api/v1/sessions/s-1/models"] * 2]


def test_a_mistyped_with_options_is_named_with_the_class_and_the_option_meant() -> None:
    # `trainer.with_options(timout=3)` said "HasOptions.with_options() got an unexpected
    # keyword argument 'timout'": a private class, and no word of the option meant.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        for client in (svc, trainer):
            name = type(client).__name__
            with pytest.raises(TypeError) as typo:
                client.with_options(timout=3)  # type: ignore[call-arg]
            assert str(typo.value) == (
                f"{name}.with_options() got an unexpected keyword argument 'timout'; "
                "did you mean 'timeout'?"
            )
            with pytest.raises(TypeError) as unknown:
                client.with_options(verbose=True)  # type: ignore[call-arg]
            assert str(unknown.value) == (
                f"{name}.with_options() got an unexpected keyword argument 'verbose'; "
                "it takes timeout, max_retries"
            )
    for cls in (AsyncServiceClient, AsyncTrainingClient):
        with pytest.raises(TypeError, match=rf"^{cls.__name__}\.with_options\(\) got"):
            cls.with_options(object.__new__(cls), max_retry=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", [ServiceClient, AsyncServiceClient])
def test_a_mistyped_option_is_named_with_the_class_and_the_option_meant(cls: type) -> None:
    # `ServiceClient(timout=10)` said "_ServiceBase.__init__() got an unexpected keyword
    # argument 'timout'": a private class, and no word of the option meant.
    with pytest.raises(TypeError) as typo:
        cls("http://weaver.test", timout=10)
    assert str(typo.value) == (
        f"{cls.__name__}() got an unexpected keyword argument 'timout'; did you mean 'timeout'?"
    )
    with pytest.raises(TypeError) as unknown:
        cls("http://weaver.test", verbose=True)
    assert str(unknown.value).startswith(
        f"{cls.__name__}() got an unexpected keyword argument 'verbose'; it takes base_url, "
        "api_key, http_client, sleep, timeout, max_retries, "
    )


@pytest.mark.parametrize("key", ["sécret-9f", "sec\nret-9f", b"secret-9f"])
def test_a_refused_key_is_not_in_the_frame_that_raises(key: object) -> None:
    # pytest shows the arguments of the frame that raised: `key = 'sécret-9f'` printed
    # above "the key is not shown", in a user's test of a client given a bad key.
    with pytest.raises(InvalidArgumentError, match="not shown") as raised:
        ServiceClient(BASE, key)  # type: ignore[arg-type]
    assert "9f" not in repr(raised.traceback[-1].frame.f_locals)


@pytest.mark.parametrize(
    "url", ["http://u:pw-9f@h:1/api/v1", "u:pw-9f@h:1", "http://u:pw-9f@h:99999", "http://u:pw-9f@"]
)
def test_a_refused_base_url_is_not_in_the_frame_that_raises(url: str) -> None:
    # As a key: `base_url = 'http://u:pw-9f@h:1/api/v1'` above a message that hides it.
    with pytest.raises(InvalidArgumentError) as raised:
        ServiceClient(url, KEY)
    assert "9f" not in str(raised.value)
    assert "9f" not in repr(raised.traceback[-1].frame.f_locals)


def _session_reply(session_id: str) -> httpx.Response:
    stamps = {"tags": [], "user_metadata": {}, "sdk_version": "x"}
    stamps |= {"created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"}
    return json_reply(201, {**stamps, "id": session_id})


def _gone(fake: FakeWeaver, session_id: str) -> httpx.Response:
    """The 404 of a session the server ended, whose ``GET`` is then a 404 too."""
    fake.ended.add(session_id)
    body = {"error": "not_found", "message": f"session {session_id} not found"}
    return json_reply(404, {**body, "retryable": False})


def test_a_beat_of_a_session_replaced_meanwhile_is_not_said_of_the_new_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A create replaced s-1 (gone) by s-2 while a beat of s-1 was on its way: its 404
    # was said of s-2 ("heartbeat of session s-2 failed: ... session s-1 not found"), and
    # s-2 taken as said, so that s-2's own end went unsaid.
    fake = FakeWeaver()

    def replaced(request: httpx.Request) -> httpx.Response:
        svc._root._session.id = "s-2"  # type: ignore[union-attr]  # as _reopen does
        return _gone(fake, "s-1")

    fake.script("POST", HEARTBEAT, replaced)
    fake.script("POST", "/api/v1/sessions/s-2/heartbeat", _gone(fake, "s-2"))
    # The second beat's WARNING, not its request, ends the wait: a close before the
    # WARNING silences it, as it silences every beat that fails while the client closes.
    with (
        logged("heartbeat of session s-2") as second,
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
    ):
        svc._heartbeat_interval = 30.0
        _beats_then_waits_for_close(svc, 2)
        svc.create_training_client("weaver-tiny")
        assert second.wait(timeout=10)
        thread = svc._heartbeat
    assert thread is not None
    thread.join(timeout=10)
    said = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert [m.split(" (request id")[0] for m in said] == [
        "heartbeat of session s-2 failed: [404 not_found] send_heartbeat: session s-2 not found"
    ]


async def test_an_async_beat_of_a_session_replaced_meanwhile_is_not_said_of_the_new_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As the thread's (test_a_beat_of_a_session_replaced_meanwhile_...).
    fake = FakeWeaver()

    def replaced(request: httpx.Request) -> httpx.Response:
        svc._root._session.id = "s-2"  # type: ignore[union-attr]  # as _reopen does
        return _gone(fake, "s-1")

    fake.script("POST", HEARTBEAT, replaced)
    fake.script("POST", "/api/v1/sessions/s-2/heartbeat", _gone(fake, "s-2"))
    wait, _, parked = _parking_wait(2)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        async with async_service(fake, heartbeat_interval=30.0) as svc:
            svc._wait_beat = wait
            await svc.create_training_client("weaver-tiny")
            await asyncio.wait_for(parked.wait(), timeout=10)
    said = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert [m.split(" (request id")[0] for m in said] == [
        "heartbeat of session s-2 failed: [404 not_found] send_heartbeat: session s-2 not found"
    ]


@pytest.mark.parametrize("cls", [ServiceClient, AsyncServiceClient])
@pytest.mark.parametrize(
    "args",
    [("http://u:pw-9f@h:1/api/v1", KEY), (BASE, "sécret-9f"), (BASE, KEY, {"timeout": -1})],
)
def test_a_client_refused_halfway_shows_in_a_traceback_with_locals(
    cls: type[ServiceClient | AsyncServiceClient], args: tuple[Any, ...]
) -> None:
    # `python -m unittest --locals` (traceback's capture_locals) takes the repr of the
    # frames' `self`, the half-made client, whose repr raised AttributeError: the runner
    # itself crashed instead of reporting the refusal.
    with pytest.raises(InvalidArgumentError) as raised:
        cls(*args[:2], **(args[2] if len(args) > 2 else {}))
    shown = traceback.TracebackException.from_exception(raised.value, capture_locals=True)
    assert f"{cls.__name__}(<not set up>)" in "".join(shown.format())


class _RenewalAfterTwoCreates(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """``fake``, where s-1 ends and two creates meet its end in turn: the first one's 404
    once the second is on its way (both past the client's session, then), the second's
    once the first one's open of s-2 is, which is held, as every later open, until
    ``release``. ``waiting`` is set once the second waits for that open (``_Observed``)
    or opens one of its own."""

    def __init__(self, fake: FakeWeaver) -> None:
        self.fake = fake
        opens = [_session_reply(f"s-{number}") for number in (1, 2, 3)]
        fake.script("POST", "/api/v1/sessions", *opens)
        fake.script("POST", "/api/v1/sessions/s-1/models", *[_gone(fake, "s-1")] * 2)
        self.first_in, self.second_in = threading.Event(), threading.Event()
        self.opening, self.release, self.waiting = (threading.Event() for _ in range(3))

    def _until(self, request: httpx.Request) -> threading.Event | None:
        if request.url.path == "/api/v1/sessions/s-1/models":
            if not self.first_in.is_set():
                self.first_in.set()
                return self.second_in
            self.second_in.set()
            return self.opening
        if request.url.path == "/api/v1/sessions" and self.first_in.is_set():
            if self.opening.is_set():
                self.waiting.set()
            self.opening.set()
            return self.release
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if (until := self._until(request)) is not None:
            until.wait(timeout=10)
        return self.fake(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if (until := self._until(request)) is not None:
            await asyncio.to_thread(until.wait, 10)
        return self.fake(request)


class _Observed:
    """A client's lock that sets ``waiting`` when a call has to wait for it."""

    def __init__(self, waiting: threading.Event) -> None:
        self._lock = threading.Lock()
        self._waiting = waiting

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self._waiting.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()


class _ObservedInSlices(_Observed):
    """``_Observed``, waiting in slices: a signal that comes just before a wait begins,
    which wakes no wait, has its handler run at the slice's end, not the wait's."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking or timeout == 0:
            return super().acquire(blocking=False)
        end = None if timeout < 0 else time.monotonic() + timeout
        while not super().acquire(timeout=0.05 if end is None else min(0.05, timeout)):
            if end is not None and (timeout := end - time.monotonic()) <= 0:
                return False
        return True


@contextlib.contextmanager
def _two_creates_meet_the_end(
    fake: FakeWeaver,
) -> Iterator[tuple[ServiceClient, list[BaseException | None]]]:
    """A client whose session s-1 two creates meet the end of at once (see
    ``_RenewalAfterTwoCreates``), and what each of them raised (``None``: made)."""
    renewal = _RenewalAfterTwoCreates(fake)
    with (
        httpx.Client(transport=renewal) as http,
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc,
    ):
        svc._ensure_session(svc._io)  # s-1, which then expires
        svc._lock = _Observed(renewal.waiting)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            made = [pool.submit(svc.create_training_client, "weaver-tiny")]
            assert renewal.first_in.wait(timeout=10)
            made.append(pool.submit(svc.create_training_client, "weaver-tiny"))
            assert renewal.waiting.wait(timeout=10)
            renewal.release.set()
            yield svc, [future.exception(timeout=10) for future in made]


def test_creates_that_meet_one_gone_session_at_once_share_the_new_one() -> None:
    # Two threads whose creates met s-1 gone each opened a session of their own: the
    # second waits for the first one's instead, as for the client's first session.
    fake = FakeWeaver()
    with _two_creates_meet_the_end(fake) as (svc, raised):
        assert raised == [None, None]
        assert svc.session_id == "s-2"
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2
    assert len(fake.sent("POST", "/api/v1/sessions/s-2/models")) == 2


def test_a_create_whose_shared_new_session_ends_too_opens_one_again() -> None:
    # Two creates met s-1 gone, and one took the new session the other opened; the
    # server ended that one too: the create that took it opens one again (s-3), and the
    # one that opened s-2, which met its end in its own new session, fails.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-2/models", *[_gone(fake, "s-2")] * 2)
    with _two_creates_meet_the_end(fake) as (svc, raised):
        assert [type(e).__name__ for e in raised] == ["NotFoundError", "NoneType"]
        assert svc.session_id == "s-3"
    assert len(fake.sent("POST", "/api/v1/sessions/s-3/models")) == 1


# A create's timeout while another opened the session that replaces its own.
_RENEWAL_TIMEOUT = (
    r"create_model: another call was still opening the client's session after [\d.]+ s, "
    r"what the call's timeout left; the create was not sent again$"
)


def test_a_create_waiting_for_another_s_new_session_stops_at_its_timeout() -> None:
    # Its session gone, a create waits for the new one another create opens, within its
    # own timeout, as it does for the client's first session.
    fake = FakeWeaver()
    renewal = _RenewalAfterTwoCreates(fake)
    with (
        httpx.Client(transport=renewal) as http,
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc,
    ):
        svc._ensure_session(svc._io)  # s-1, which then expires
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(svc.create_training_client, "weaver-tiny")
            assert renewal.first_in.wait(timeout=10)
            try:
                with pytest.raises(APITimeoutError, match=_RENEWAL_TIMEOUT):
                    svc.with_options(timeout=1).create_training_client("weaver-tiny")
            finally:
                renewal.release.set()
            first.result(timeout=10)
        assert svc.session_id == "s-2"
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2
    assert len(fake.sent("POST", "/api/v1/sessions/s-2/models")) == 1


def test_a_ctrl_c_while_a_create_waits_for_another_s_new_session_is_raised_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No create of its own is on its way while it waits for the lock: a first Ctrl-C was
    # held, with the notice of a create to wait for, until the other's open ended.
    fake = FakeWeaver()
    renewal = _RenewalAfterTwoCreates(fake)
    unheld = threading.Timer(5, renewal.release.set)  # the open, if the Ctrl-C is held
    with (
        default_sigint(),
        httpx.Client(transport=renewal) as http,
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc,
    ):
        svc._ensure_session(svc._io)  # s-1, which then expires
        svc._lock = _ObservedInSlices(renewal.waiting)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(svc.create_training_client, "weaver-tiny")
            assert renewal.first_in.wait(timeout=10)

            def interrupt_the_wait() -> None:
                assert renewal.waiting.wait(timeout=10)
                ctrl_c()

            interrupt = pool.submit(interrupt_the_wait)
            unheld.start()
            try:
                with pytest.raises(KeyboardInterrupt):
                    svc.create_training_client("weaver-tiny")
                assert not renewal.release.is_set(), "raised once the other's open ended"
            finally:
                unheld.cancel()
                renewal.release.set()
            interrupt.result(timeout=10)
            first.result(timeout=10)
        assert svc.session_id == "s-2"
    assert HOLD_NOTICE not in caplog.text
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2


async def test_an_async_create_waiting_for_another_s_new_session_stops_at_its_timeout() -> None:
    fake = FakeWeaver()
    renewal = _RenewalAfterTwoCreates(fake)
    async with (
        httpx.AsyncClient(transport=renewal) as http,
        AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc,
    ):
        await svc._ensure_session(svc._io)  # s-1, which then expires
        first = asyncio.create_task(svc.create_training_client("weaver-tiny"))
        assert await asyncio.to_thread(renewal.first_in.wait, 10)
        try:
            with pytest.raises(APITimeoutError, match=_RENEWAL_TIMEOUT):
                await svc.with_options(timeout=1).create_training_client("weaver-tiny")
        finally:
            renewal.release.set()
        await asyncio.wait_for(first, 10)
        assert svc.session_id == "s-2"
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2
    assert len(fake.sent("POST", "/api/v1/sessions/s-2/models")) == 1


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("sk-env-key-9f", {"timeout": -1}),
        ("sk-env-key-9f", {"max_retries": -1}),
        ("sk-env-key-9f", {"heartbeat_interval": -1}),
        ("sk-env-key-9f", {"tags": 1}),
        ("sk-env\n-key-9f", {}),  # the key itself refused
        ("sk-env-key-9fé", {}),
    ],
)
def test_a_key_from_the_environment_is_in_no_frame_of_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
    client: type[ServiceClient],
    key: str,
    refused: dict[str, Any],
) -> None:
    # pytest --showlocals (and rich's tracebacks) print every frame's locals: a refused
    # timeout showed `key = '...'`, the key the user's own frames never held.
    monkeypatch.setenv("WEAVER_API_KEY", key)
    with pytest.raises(InvalidArgumentError) as raised:
        client(BASE, **refused)
    shown = [repr(entry.frame.f_locals) for entry in raised.traceback[1:]]  # not the test's
    assert len(shown) > 1  # the frames of the client's own code are there
    assert [frame for frame in shown if "9f" in frame] == []


# -- a process forked from the one that made the client ----------------------------------


def _in_a_forked_child(
    fake: FakeWeaver, svc: ServiceClient, model_id: str
) -> tuple[str, list[str]]:
    """What ``svc.get_model`` said in a forked child, and the models its close terminated
    there (the child's copy of ``fake``'s record)."""
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)

    def child() -> None:
        try:
            said = f"sent: {svc.get_model(model_id).id}"
        except ClientClosedError as exc:
            said = str(exc)
        svc.close()
        writer.send((said, list(fake.terminated)))

    process = ctx.Process(target=child)
    process.start()
    if not reader.poll(30):  # a child stuck on a lock another thread held at the fork
        process.kill()
        pytest.fail("the forked child gave no answer in 30 s")
    got: tuple[str, list[str]] = reader.recv()
    process.join(timeout=30)
    return got


# Python 3.12 warns of any fork of a process with threads; this child takes no lock.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_client_used_in_a_forked_process_sends_nothing_there() -> None:
    # A pool worker forked with a client (a global, say) shared its connections with the
    # parent: each process could read the other's replies (another model's description, a
    # step's operation). Nothing is sent from the child, and its close terminates nothing.
    fake = FakeWeaver()
    with service(fake) as svc:
        model_id = svc.create_training_client("weaver-tiny").model_id
        said, terminated = _in_a_forked_child(fake, svc, model_id)
        assert svc.get_model(model_id).id == model_id  # the parent's client works on
    assert "was made in process" in said
    assert "make a ServiceClient in this process" in said
    assert terminated == []  # the child's close left the parent's model alone
    assert fake.terminated == [model_id]  # the parent's close terminated it
