"""Retries through the transport wrappers: same request, same Idempotency-Key, honest waits."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.support.fakeserver import (
    KEY,
    FakeClock,
    FakeWeaver,
    async_service,
    error_json,
    json_reply,
    service,
)
from weaver_facade import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncRetryTransport,
    ClientClosedError,
    InternalServerError,
    PollPolicy,
    PollSettings,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    RetrySettings,
    RetryTransport,
    ServiceClient,
)
from weaver_facade._retry import (
    EXTENSION,
    REACH,
    BodyTimeout,
    CallOptions,
    Reach,
    describe_failure,
)
from weaver_facade._transport import ClientTransport

SAVE = "/api/v1/models/m-1/checkpoints"


def unavailable(retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else None
    return json_reply(503, error_json("unavailable", "try again", True), headers)


def test_a_retried_save_keeps_its_idempotency_key_and_body() -> None:
    fake = FakeWeaver()
    sleeps: list[float] = []
    with service(fake, sleep=sleeps.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")

        def dropped(request: httpx.Request) -> httpx.Response:
            # The server saved, but the reply was lost on the way back.
            fake.route(request)
            raise httpx.ReadError("connection reset", request=request)

        fake.script("POST", SAVE, unavailable(), dropped)
        # The server recognises the key and answers with the original operation.
        fake.script("POST", SAVE, lambda r: json_reply(202, {"id": "op-1", "status": "pending"}))
        checkpoint = trainer.save_state("after-3-steps")
    attempts = fake.sent("POST", SAVE)
    assert len(attempts) == 3
    assert len({r.headers["Idempotency-Key"] for r in attempts}) == 1
    assert len({r.content for r in attempts}) == 1
    assert checkpoint.name == "after-3-steps"
    assert len(sleeps) == 2


def test_retry_after_is_waited_exactly() -> None:
    fake = FakeWeaver()
    sleeps: list[float] = []
    with service(fake, sleep=sleeps.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script(
            "POST",
            SAVE,
            json_reply(429, error_json("rate_limited", "slow", True), {"Retry-After": "7"}),
        )
        trainer.save_state("a")
    assert sleeps == [7.0]


def test_retry_after_beyond_the_cap_surfaces_at_once() -> None:
    fake = FakeWeaver()
    sleeps: list[float] = []
    with service(fake, sleep=sleeps.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script(
            "POST",
            SAVE,
            json_reply(429, error_json("rate_limited", "slow", True), {"Retry-After": "3600"}),
        )
        with pytest.raises(RateLimitError) as info:
            trainer.save_state("a")
    assert info.value.retry_after == 3600
    assert sleeps == []


@pytest.mark.parametrize("max_retries", [0, 2])
def test_max_retries_bounds_the_attempts(max_retries: int) -> None:
    fake = FakeWeaver()
    sleeps: list[float] = []
    with service(fake, sleep=sleeps.append, max_retries=max_retries) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script("POST", SAVE, *[unavailable() for _ in range(5)])
        with pytest.raises(InternalServerError) as info:
            trainer.save_state("a")
    assert info.value.status_code == 503
    assert len(fake.sent("POST", SAVE)) == max_retries + 1
    assert len(sleeps) == max_retries


def test_connection_refused_is_retried_then_surfaces() -> None:
    fake = FakeWeaver()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with service(fake, max_retries=1) as svc:
        fake.script("POST", "/api/v1/sessions", refuse, refuse)
        with pytest.raises(APIConnectionError):
            svc.create_training_client("weaver-tiny")
    assert len(fake.sent("POST", "/api/v1/sessions")) == 2


def test_a_poll_failure_is_retried_within_the_deadline() -> None:
    fake = FakeWeaver()
    with service(fake, max_retries=0) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script("GET", "/api/v1/operations/op-1", unavailable("1"), unavailable())
        assert trainer.save_state("a").name == "a"
    assert len(fake.sent("GET")) == 3


def test_transports_can_be_used_directly() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        return httpx.Response(503 if len(seen) < 3 else 200)

    transport = RetryTransport(
        httpx.MockTransport(handler),
        policy=RetryPolicy(RetrySettings(max_retries=5), rng=lambda: 0.0),
        sleep=lambda _s: None,
    )
    with httpx.Client(transport=transport) as client:
        response = client.post("http://w.test/x", headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 200
    assert seen == ["k-1", "k-1", "k-1"]


async def test_async_retry_keeps_the_key() -> None:
    fake = FakeWeaver()
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with async_service(fake, sleep=record) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        fake.script("POST", SAVE, unavailable("2"))
        await trainer.save_state("a")
    attempts = fake.sent("POST", SAVE)
    assert len(attempts) == 2
    assert attempts[0].headers["Idempotency-Key"] == attempts[1].headers["Idempotency-Key"]
    assert sleeps == [2.0]


async def test_async_transport_directly() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    async def no_sleep(_s: float) -> None:
        return None

    transport = AsyncRetryTransport(httpx.MockTransport(handler), sleep=no_sleep)
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("http://w.test/x")).status_code == 200
    assert calls == 2


def _replies(*outcomes: httpx.Response | Exception) -> httpx.MockTransport:
    queue = list(outcomes)

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return httpx.MockTransport(handler)


def _final_reply(*outcomes: httpx.Response | Exception) -> httpx.Response:
    transport = RetryTransport(
        _replies(*outcomes), policy=RetryPolicy(RetrySettings(max_retries=3)), sleep=lambda _: None
    )
    request = httpx.Request("POST", f"http://weaver{SAVE}", headers={"Idempotency-Key": "k"})
    return transport.handle_request(request)


@pytest.mark.parametrize(
    "first",
    [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), "503", "504", "server-504"],
    ids=["dropped", "read-timeout", "503", "proxy-504", "server-504"],
)
def test_a_reply_after_an_attempt_that_may_have_acted_says_so(first: object) -> None:
    from weaver_facade._wire import EARLIER_ATTEMPT, EarlierAttempt

    replies = {
        "503": unavailable(),
        "504": httpx.Response(504, text="gateway timeout"),
        "server-504": json_reply(504, error_json("upstream_timeout", "try again", True)),
    }
    outcome = replies.get(first, first) if isinstance(first, str) else first
    assert isinstance(outcome, httpx.Response | Exception)
    reply = _final_reply(outcome, json_reply(409, error_json("checkpoint_exists", "exists")))
    earlier = reply.extensions[EARLIER_ATTEMPT]
    assert isinstance(earlier, EarlierAttempt)
    assert earlier.received >= earlier.sent
    # A 503 says the server did not act (the save's recovery looks all the same); a lost
    # reply is what a create warns of, not the server's own 504 (its Error body), a 500's like.
    assert earlier.replies_lost == (0 if first in ("503", "server-504") else 1)


def test_a_reply_after_two_lost_replies_counts_them() -> None:
    # Each attempt whose reply was lost may have made a model: a create warns of each.
    from weaver_facade._wire import EARLIER_ATTEMPT, EarlierAttempt

    failed: list[httpx.Response | Exception] = [
        httpx.ReadError("reset"),
        unavailable(),
        httpx.Response(502, text="bad gateway"),
    ]
    earlier = _final_reply(*failed, json_reply(200, {})).extensions[EARLIER_ATTEMPT]
    assert isinstance(earlier, EarlierAttempt)
    assert earlier.replies_lost == 2


@pytest.mark.parametrize(
    "first", [None, httpx.ConnectError("refused")], ids=["first-attempt", "never-sent"]
)
def test_a_reply_without_an_attempt_that_may_have_acted_says_nothing(
    first: Exception | None,
) -> None:
    from weaver_facade._wire import EARLIER_ATTEMPT

    conflict = json_reply(409, error_json("checkpoint_exists", "exists"))
    reply = _final_reply(conflict) if first is None else _final_reply(first, conflict)
    assert EARLIER_ATTEMPT not in reply.extensions


class _Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives in pieces, as from a socket: nothing is read before it is asked."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def _streamed_error(status: int, retryable: bool) -> httpx.Response:
    body = gzip.compress(json.dumps(error_json("e", f"{status} said so", retryable)).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    return httpx.Response(status, headers=headers, stream=_Chunks(body[:5], body[5:]))


@pytest.mark.parametrize(
    ("first", "sent"),
    [((500, True), 2), ((503, False), 1), ((429, False), 1)],
    ids=["500-retryable", "503-final", "429-final"],
)
def test_the_error_bodys_retryable_decides(first: tuple[int, bool], sent: int) -> None:
    fake = FakeWeaver()
    with service(fake, sleep=lambda _s: None) as svc:
        fake.script("GET", "/api/v1/models/m-9", _streamed_error(*first))
        if sent == 1:
            with pytest.raises(APIError, match=f"{first[0]} said so") as raised:
                svc.get_model("m-9")
            assert raised.value.retryable is False
        else:
            assert svc.get_model("m-9").id == "m-9"
    assert len(fake.sent("GET", "/api/v1/models/m-9")) == sent


async def test_the_error_bodys_retryable_decides_for_async_clients_too() -> None:
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/models/m-9", _streamed_error(500, True))
    fake.script("GET", "/api/v1/models/m-8", _streamed_error(503, False))
    async with async_service(fake) as svc:
        assert (await svc.get_model("m-9")).id == "m-9"
        with pytest.raises(InternalServerError, match="503 said so"):
            await svc.get_model("m-8")
    assert len(fake.sent("GET", "/api/v1/models/m-9")) == 2
    assert len(fake.sent("GET", "/api/v1/models/m-8")) == 1


class _CutBody(_Chunks):
    """A body whose connection drops after its first piece (``_end``)."""

    def _end(self) -> httpx.TransportError:
        return httpx.RemoteProtocolError("peer closed connection")

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"id": '
        raise self._end()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in iter(self):
            yield chunk


def _cut_then_whole() -> httpx.MockTransport:
    replies = [httpx.Response(200, stream=_CutBody()), httpx.Response(200, json={"id": "m-1"})]
    return httpx.MockTransport(lambda _request: replies.pop(0))


def test_a_body_cut_short_is_a_failed_attempt() -> None:
    transport = RetryTransport(_cut_then_whole(), sleep=lambda _s: None)
    with httpx.Client(transport=transport) as client:
        assert client.get("http://w.test/api/v1/models/m-1").json() == {"id": "m-1"}


async def test_a_body_cut_short_is_a_failed_attempt_for_async_clients_too() -> None:
    async def no_sleep(_s: float) -> None:
        return None

    transport = AsyncRetryTransport(_cut_then_whole(), sleep=no_sleep)
    async with httpx.AsyncClient(transport=transport) as client:
        reply = await client.get("http://w.test/api/v1/models/m-1")
    assert reply.json() == {"id": "m-1"}


class _SlowBody(_Chunks):
    """``{"id": "m-1"}`` a piece at a time, each ``every`` seconds after the last on
    ``clock`` (no time passes for real)."""

    def __init__(self, clock: FakeClock, every: float) -> None:
        super().__init__(b'{"id"', b': "m', b"-1", b'"}')
        self._clock = clock
        self._every = every

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._clock.now += self._every
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in iter(self):
            yield chunk


class _StalledBody(_CutBody):
    """A body whose wait for its second piece ends in httpx's read timeout."""

    def _end(self) -> httpx.TransportError:
        return httpx.ReadTimeout("timed out")


def _get_model_once(body: Callable[[FakeClock], httpx.SyncByteStream], via: str) -> FakeClock:
    """``get_model`` within a call timeout of 5 s and no retry, its reply's body ``body``;
    the fake clock it ran on."""
    clock = FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock)

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=body(clock))

    fake = FakeWeaver()
    fake.script("GET", "/api/v1/models/m-1", reply)
    if via == "sync":
        with service(fake, poll=poll, sleep=clock.sleep) as svc:
            svc.with_options(timeout=5, max_retries=0).get_model("m-1")
        return clock

    async def main() -> None:
        async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
            await svc.with_options(timeout=5, max_retries=0).get_model("m-1")

    asyncio.run(main())
    return clock


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_body_still_arriving_at_the_calls_deadline_ends_the_call(via: str) -> None:
    # README: every call of a with_options(timeout=...) copy "ends within `timeout`
    # seconds"; its body is part of it: four pieces 2 s apart end past 5 s, 1 s apart not.
    with pytest.raises(APITimeoutError, match="the reply's body was still arriving") as info:
        _get_model_once(lambda clock: _SlowBody(clock, every=2.0), via)
    assert isinstance(info.value.__cause__, BodyTimeout)
    clock = _get_model_once(lambda clock: _SlowBody(clock, every=1.0), via)
    assert clock.now == FakeClock().now + 4.0  # read whole, within its 5 s


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_read_timeout_in_the_middle_of_a_body_says_it_was_still_arriving(via: str) -> None:
    # BodyTimeout: "a reply's body still arriving when its call's deadline (or one read
    # timeout) ends", named so in the error and in retry and outage messages.
    with pytest.raises(APITimeoutError, match="the reply's body was still arriving") as info:
        _get_model_once(lambda clock: _StalledBody(), via)
    assert isinstance(info.value.__cause__, BodyTimeout)


class _SilentBody(_Chunks):
    """A body whose wait for its first piece ends in httpx's read timeout: its headers came
    in time, and the deadline passed before any of it."""

    def __iter__(self) -> Iterator[bytes]:
        yield from ()  # a generator, as a socket's body is
        raise httpx.ReadTimeout("the attempt's time is up")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in iter(self):
            yield chunk


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_body_of_which_nothing_came_in_time_is_not_said_to_be_arriving(via: str) -> None:
    # `checkpoints download --timeout 1e-6` said "list_checkpoints: BodyTimeout: the reply's
    # body was still arriving" of a body no byte of which was read before the deadline.
    with pytest.raises(APITimeoutError) as info:
        _get_model_once(lambda clock: _SilentBody(), via)
    assert isinstance(info.value.__cause__, BodyTimeout)
    assert "none of the reply's body came in time" in str(info.value), str(info.value)
    assert "still arriving" not in str(info.value)
    assert describe_failure(info.value) == "none of the reply's body came in time"


def _compressed(body: object) -> httpx.Response:
    data = gzip.compress(json.dumps(body).encode())
    return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=_Chunks(data))


def test_a_reply_read_within_its_attempt_is_handed_on_decoded_once_not_copied() -> None:
    # A copy of every reply was a twentieth of the facade's own time in B1.
    sent = _compressed({"id": "m-1"})
    transport = RetryTransport(httpx.MockTransport(lambda _request: sent))
    with httpx.Client(transport=transport) as client:
        reply = client.get("http://w.test/api/v1/models/m-1")
    assert reply is sent
    assert reply.json() == {"id": "m-1"}


async def test_an_async_reply_read_within_its_attempt_is_not_copied_either() -> None:
    sent = _compressed({"id": "m-1"})
    transport = AsyncRetryTransport(httpx.MockTransport(lambda _request: sent))
    async with httpx.AsyncClient(transport=transport) as client:
        reply = await client.get("http://w.test/api/v1/models/m-1")
    assert reply is sent
    assert reply.json() == {"id": "m-1"}


def test_a_body_a_users_hook_read_is_handed_on_decoded_with_its_headers() -> None:
    # The hook spent the stream: the decoded body goes on, the other headers as they came.
    def handler(_request: httpx.Request) -> httpx.Response:
        headers = [(b"Content-Encoding", b"gzip"), (b"X-Note", "café".encode("latin-1"))]
        return httpx.Response(200, headers=headers, content=gzip.compress(b'{"id": "m-1"}'))

    def read(reply: httpx.Response) -> None:
        reply.read()

    user = httpx.Client(transport=httpx.MockTransport(handler), event_hooks={"response": [read]})
    with httpx.Client(transport=ClientTransport(user)) as client:
        reply = client.get("http://w.test/api/v1/models/m-1")
    assert reply.json() == {"id": "m-1"}
    assert "content-encoding" not in reply.headers
    assert dict(reply.headers.raw)[b"X-Note"] == "café".encode("latin-1")


def test_the_debug_log_hides_url_passwords_and_authorization(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The request line showed the base URL's password, and its headers the Basic auth
    # httpx makes of it (or a user client's own Authorization).
    fake = FakeWeaver()
    user = httpx.Client(
        transport=httpx.MockTransport(fake), headers={"Authorization": "Bearer TOK-user-1"}
    )
    caplog.set_level(logging.DEBUG, logger="weaver_facade")
    with ServiceClient(
        "http://u:pw-secret-42@weaver.test", KEY, http_client=user, heartbeat_interval=0
    ) as svc:
        assert svc.get_model("m-9").id == "m-9"
    user.close()
    logged = caplog.text
    assert "request GET http://weaver.test/api/v1/models/m-9" in logged
    for secret in ("pw-secret-42", base64.b64encode(b"u:pw-secret-42").decode(), "TOK-user-1", KEY):
        assert secret not in logged


def test_a_body_that_does_not_decode_is_a_typed_error() -> None:
    # Content-Encoding: gzip on a plain body raised httpx.DecodingError, outside the tree.
    fake = FakeWeaver()
    plain = httpx.Response(200, headers={"content-encoding": "gzip"}, stream=_Chunks(b"{}"))
    fake.script("GET", "/api/v1/models/m-9", plain)
    with service(fake) as svc, pytest.raises(ResponseValidationError, match="does not decode"):
        svc.get_model("m-9")


@pytest.mark.parametrize(
    ("body", "attempts"),
    [
        ({"error": "e", "message": "m", "retryable": "true"}, 5),  # not a bool: the status
        ({"retryable": True}, 5),  # no Error body, but the server's word all the same
        ({"error": "e", "message": "m", "retryable": False}, 1),
    ],
)
def test_the_error_says_retryable_as_the_transport_decided(
    body: dict[str, object], attempts: int
) -> None:
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/models/m-9", *[json_reply(503, body)] * 5)
    with service(fake, sleep=lambda _s: None) as svc, pytest.raises(APIError) as info:
        svc.get_model("m-9")
    assert len(fake.sent("GET", "/api/v1/models/m-9")) == attempts
    assert info.value.retryable is (attempts > 1)


def test_a_body_nested_past_the_recursion_limit_is_no_crash() -> None:
    # Such an error body raised a bare RecursionError from the retry decision.
    fake = FakeWeaver()
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = httpx.Response(503, headers={"content-type": "application/json"}, content=deep)
    fake.script("GET", "/api/v1/models/m-9", *[reply] * 5)
    with service(fake, sleep=lambda _s: None) as svc, pytest.raises(APIError) as info:
        svc.get_model("m-9")
    assert info.value.status_code == 503
    assert len(fake.sent("GET", "/api/v1/models/m-9")) == 5


def test_a_reply_nested_past_the_recursion_limit_is_a_typed_error() -> None:
    fake = FakeWeaver()
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = httpx.Response(200, headers={"content-type": "application/json"}, content=deep)
    fake.script("GET", "/api/v1/models/m-9", reply)
    with service(fake) as svc, pytest.raises(ResponseValidationError):
        svc.get_model("m-9")


@pytest.mark.parametrize("proxy", [None, "http://127.0.0.1:9"], ids=["direct", "proxy"])
def test_the_own_sync_transport_keeps_each_attempts_end_at_the_socket(
    monkeypatch: pytest.MonkeyPatch, proxy: str | None
) -> None:
    # Its connection pools' network backend is wrapped in place (httpx takes none), so a
    # pinned httpx that moved it would leave reads bounded per wait only, in silence.
    from weaver_facade._socket_deadline import bound_by_deadline
    from weaver_facade._transport import ClientTransport, own_transport

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    if proxy is not None:
        monkeypatch.setenv("HTTP_PROXY", proxy)
    transport = own_transport("http://weaver.test")
    if proxy is None:
        sending = [transport]
    else:
        assert isinstance(transport, ClientTransport)
        client = vars(transport)["_client"]
        sending = [client._transport, *filter(None, client._mounts.values())]
    backends = [vars(vars(t)["_pool"])["_network_backend"] for t in sending]
    assert backends
    assert {type(b).__name__ for b in backends} == {"_Backend"}
    bound_by_deadline([transport, *sending])  # twice is once
    assert {type(vars(b)["_backend"]).__name__ for b in backends} == {"SyncBackend"}
    transport.close()


class _SocketStream:
    """The part of an httpcore network stream that ``_socket_deadline`` closes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, info: str) -> object:
        return self.sock if info == "socket" else None

    def close(self) -> None:
        self.sock.close()


def _peer_sees_end(forked: bool, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the peer of a connection sees its end once the wrapper closes it while
    another descriptor of the socket (a forked process's copy) stays open."""
    from weaver_facade import _socket_deadline

    ours, peer = socket.socketpair()
    other_copy = ours.dup()
    try:
        stream = _socket_deadline._Stream(_SocketStream(ours))  # type: ignore[arg-type]
        if forked:
            monkeypatch.setattr(os, "getpid", lambda: -1)
        stream.close()
        peer.settimeout(0.5)
        try:
            return peer.recv(1) == b""
        except TimeoutError:
            return False
    finally:
        other_copy.close()
        peer.close()


def test_closing_a_connection_shuts_its_socket_down_but_not_in_a_forked_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The shutdown wakes a thread of the client's own process blocked reading the socket;
    # in a forked child, which shares the socket, it would end the parent's connection.
    assert _peer_sees_end(forked=False, monkeypatch=monkeypatch)
    assert not _peer_sees_end(forked=True, monkeypatch=monkeypatch)


class _CutByClose(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A connection that the close of the transport above it drops mid-request."""

    def __init__(self) -> None:
        self.above: RetryTransport | AsyncRetryTransport | None = None
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        assert isinstance(self.above, RetryTransport)
        self.above.close()
        raise httpx.ReadError("connection dropped", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        assert isinstance(self.above, AsyncRetryTransport)
        await self.above.aclose()
        raise httpx.ReadError("connection dropped", request=request)


def test_a_request_the_close_cuts_announces_no_retry(caplog: pytest.LogCaptureFixture) -> None:
    # It logged "connection dropped; retrying in 0.1 s (retry 1)", and no retry came.
    cut = _CutByClose()
    slept: list[float] = []
    cut.above = RetryTransport(cut, sleep=slept.append)
    quiet = caplog.at_level(logging.WARNING, logger="weaver_facade")
    with quiet, pytest.raises(ClientClosedError, match="not retried"):
        cut.above.handle_request(httpx.Request("GET", "http://weaver.test/api/v1/models"))
    assert (cut.sent, slept, caplog.records) == (1, [], [])


class _RefusedMeanwhile(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A connect refused while the transport above was closed (from another thread)."""

    def __init__(self) -> None:
        self.above: RetryTransport | AsyncRetryTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.above, RetryTransport)
        self.above.close()
        raise httpx.ConnectError("connection refused", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.above, AsyncRetryTransport)
        await self.above.aclose()
        raise httpx.ConnectError("connection refused", request=request)


def _create(reach: Reach) -> httpx.Request:
    return httpx.Request(
        "POST", "http://weaver.test/api/v1/sessions/s-1/models", extensions={REACH: reach}
    )


def test_a_request_the_close_stops_after_a_refused_connect_reached_nothing() -> None:
    # The close stopped the retry of a connect that was refused: no attempt reached the
    # server, but Reach still said one may have, so the ClientClosedError noted that the
    # server may have made the model.
    refused, reach = _RefusedMeanwhile(), Reach()
    refused.above = RetryTransport(refused, sleep=lambda _s: None)
    with pytest.raises(ClientClosedError, match="not retried"):
        refused.above.handle_request(_create(reach))
    assert not reach.maybe


async def test_an_async_request_stopped_by_close_after_a_refused_connect_reached_nothing() -> None:
    refused, reach = _RefusedMeanwhile(), Reach()

    async def sleep(_seconds: float) -> None:
        return None

    refused.above = AsyncRetryTransport(refused, sleep=sleep)
    with pytest.raises(ClientClosedError, match="not retried"):
        await refused.above.handle_async_request(_create(reach))
    assert not reach.maybe


class _Lost(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A server that gets every request, whose every reply is lost on the way back."""

    def __init__(self) -> None:
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        raise httpx.ReadError("connection dropped", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


def _stopped_create(reach: Reach, stop: Callable[[], bool]) -> httpx.Request:
    request = _create(reach)
    request.headers["Idempotency-Key"] = KEY  # retried after a lost reply
    request.extensions[EXTENSION] = CallOptions(stop=stop)
    return request


def test_a_request_stopped_while_its_retry_waited_counts_each_lost_reply_once() -> None:
    # The stop (a create's Ctrl-C) came during the wait: the attempt whose reply was lost
    # was counted before the wait and again as the last one, 2 of 1 request sent.
    lost, reach, stopped = _Lost(), Reach(), [False]
    transport = RetryTransport(lost, sleep=lambda _s: stopped.append(True))
    with pytest.raises(httpx.ReadError):
        transport.handle_request(_stopped_create(reach, lambda: stopped[-1]))
    assert (lost.sent, reach.replies_lost, stopped) == (1, 1, [False, True])


async def test_an_async_request_stopped_while_its_retry_waited_counts_it_once() -> None:
    # An async create cancelled while its retry waits goes on to the end of the wait.
    lost, reach, stopped = _Lost(), Reach(), [False]

    async def sleep(_seconds: float) -> None:
        stopped.append(True)

    transport = AsyncRetryTransport(lost, sleep=sleep)
    with pytest.raises(httpx.ReadError):
        await transport.handle_async_request(_stopped_create(reach, lambda: stopped[-1]))
    assert (lost.sent, reach.replies_lost, stopped) == (1, 1, [False, True])


class _Gateway(_Lost):
    """A proxy that passes every request on and answers each with a 502."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return httpx.Response(502, text="bad gateway")


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_reply_stopped_while_its_retry_waited_counts_only_the_attempts_before_it(
    attempts: int,
) -> None:
    # A 502 whose retry was stopped after its wait: counted before the wait, it was its
    # own "earlier attempt" too, which a create's note named "an earlier attempt's reply".
    from weaver_facade._wire import EARLIER_ATTEMPT, EarlierAttempt

    gateway, reach, slept = _Gateway(), Reach(), list[float]()
    transport = RetryTransport(gateway, sleep=slept.append)
    reply = transport.handle_request(_stopped_create(reach, lambda: len(slept) == attempts))
    assert (reply.status_code, gateway.sent, reach.replies_lost) == (502, attempts, attempts)
    earlier = reply.extensions.get(EARLIER_ATTEMPT)
    if attempts == 1:
        assert earlier is None
    else:
        assert isinstance(earlier, EarlierAttempt)
        assert earlier.replies_lost == 1


async def test_an_async_reply_stopped_while_its_retry_waited_is_no_earlier_attempt() -> None:
    from weaver_facade._wire import EARLIER_ATTEMPT

    gateway, reach, stopped = _Gateway(), Reach(), [False]

    async def sleep(_seconds: float) -> None:
        stopped.append(True)

    transport = AsyncRetryTransport(gateway, sleep=sleep)
    reply = await transport.handle_async_request(_stopped_create(reach, lambda: stopped[-1]))
    assert (reply.status_code, gateway.sent, reach.replies_lost) == (502, 1, 1)
    assert EARLIER_ATTEMPT not in reply.extensions


class _SameLoss(_Lost):
    """A transport of the user's that raises one error object for every lost reply."""

    def __init__(self) -> None:
        super().__init__()
        self.error: httpx.ReadError | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        self.error = self.error or httpx.ReadError("connection dropped", request=request)
        raise self.error


def test_each_attempt_whose_reply_was_lost_counts_though_its_error_is_one_object() -> None:
    # Counting an outcome once was told by its identity: the second attempt's error, the
    # first's object again, went uncounted, "up to 1 model" of 3 requests the server got.
    lost, reach = _SameLoss(), Reach()
    transport = RetryTransport(
        lost, policy=RetryPolicy(RetrySettings(max_retries=2)), sleep=lambda _s: None
    )
    with pytest.raises(httpx.ReadError):
        transport.handle_request(_stopped_create(reach, lambda: False))
    assert (lost.sent, reach.replies_lost) == (3, 3)


async def test_an_async_request_the_close_cuts_announces_no_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cut = _CutByClose()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    cut.above = AsyncRetryTransport(cut, sleep=sleep)
    request = httpx.Request("GET", "http://weaver.test/api/v1/models")
    quiet = caplog.at_level(logging.WARNING, logger="weaver_facade")
    with quiet, pytest.raises(ClientClosedError, match="not retried"):
        await cut.above.handle_async_request(request)
    assert (cut.sent, slept, caplog.records) == (1, [], [])
