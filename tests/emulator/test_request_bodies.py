"""Request bodies: the size limit (413 ``payload_too_large``), refused without buffering,
and a large body taken while other requests are answered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.emulator import API, KEY_A, AppFactory, assert_error, datum, spawn_emulator
from weaver_facade.cli import main
from weaver_facade.emulator import EmulatorConfig, run_emulator
from weaver_facade.emulator import _cli as emulator_cli
from weaver_facade.emulator._service import canonical
from weaver_facade.emulator._validation import loads_in_pieces

LIMIT = 4096


async def _call(
    app: Any, body_chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any], int]:
    """Send a POST straight to the ASGI app; its status, its JSON body and how many body
    messages the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        chunk = next(body_chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/sessions",
        "raw_path": f"{API}/sessions".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"emulator"), (b"x-weaver-api-key", KEY_A.encode()), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(content), pulled


def _endless() -> Iterator[bytes]:
    """A body without end: the app may read a little of it, never all (that would fail)."""
    for _ in range(1000):
        yield b" " * 1000
    raise AssertionError("read 1 MB of the body")


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read(
    make_app: AppFactory,
) -> None:
    app = make_app(max_body_size=LIMIT)
    status, body, pulled = await _call(app, _endless(), [(b"content-length", b"4097")])
    assert status == 413
    assert body["error"] == "payload_too_large"
    assert body["retryable"] is False
    assert f"larger than {LIMIT} bytes" in body["message"]
    assert pulled == 0


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(make_app: AppFactory) -> None:
    # No Content-Length: an endless body is read only until it passes the limit.
    status, body, pulled = await _call(make_app(max_body_size=LIMIT), _endless(), [])
    assert status == 413
    assert body["error"] == "payload_too_large"
    assert pulled == LIMIT // 1000 + 1


async def test_a_body_of_the_limit_is_taken(make_app: AppFactory) -> None:
    chunks = iter([b" " * LIMIT])
    status, body, _ = await _call(
        make_app(max_body_size=LIMIT), chunks, [(b"content-length", str(LIMIT).encode())]
    )
    # Read and parsed: blank, so refused as a missing body, not as too large.
    assert (status, body["error"]) == (400, "invalid_request")


def test_the_limit_over_real_http(tmp_path: Path) -> None:
    with run_emulator(tmp_path, api_keys=(KEY_A,), max_body_size=2**20) as emu:
        headers = {"X-WEAVER-API-KEY": KEY_A, "Content-Type": "application/json"}
        with httpx.Client(base_url=emu.base_url + API, headers=headers, timeout=30) as client:
            declared = client.post("/sessions", content=b" " * (32 * 2**20))
            error = assert_error(declared, 413, "payload_too_large", f"larger than {2**20} bytes")
            assert error["request_id"] == declared.headers["X-Request-ID"]
            streamed = client.post("/sessions", content=iter([b" " * 65536] * 512))
            assert_error(streamed, 413, "payload_too_large")
            # The connection stays usable, and a body within the limit is served.
            assert client.post("/sessions", json={"tags": ["x" * 100]}).status_code == 201


def test_the_command_line_sets_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[EmulatorConfig] = []
    monkeypatch.setattr(emulator_cli, "serve_forever", lambda config, *a, **k: seen.append(config))
    for args, limit in (([], 64 * 2**20), (["--max-body-size", "2MB"], 2_000_000)):
        result = CliRunner().invoke(main, ["emulator", "--port", "0", *args])
        assert result.exit_code == 0, result.output
        assert seen.pop().max_body_size == limit


def _largest_batch(model_id: str) -> bytes:
    """A forward-backward request of the emulator's largest batch: 256 x 4,096 tokens, 15 MB."""
    tokens = [i % 256 for i in range(4096)]
    data = [datum(tokens, tokens) for _ in range(256)]
    body = {
        "payload": {
            "model_id": model_id,
            "seq_id": 1,
            "forward_backward_input": {"loss_fn": "cross_entropy", "data": data},
        }
    }
    return json.dumps(body).encode()


def test_a_large_body_leaves_other_requests_answered_at_once() -> None:
    # A large body is parsed, checked and fingerprinted on a worker thread, but one C call
    # (json.loads, json.dumps, a repr) holds the GIL, so the event loop, for its whole
    # length: a small request waited 0.3 s to 1.3 s behind a 15 MB one. The emulator is a
    # process of its own here, so that this test's threads do not share its GIL.
    emulator = spawn_emulator("--api-key", KEY_A, "--no-access-log")
    try:
        headers = {"X-WEAVER-API-KEY": KEY_A, "Content-Type": "application/json"}
        url = emulator.base_url + API
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            session = client.post("/sessions", json={}).json()["id"]
            model = client.post(
                f"/sessions/{session}/models",
                json={"model_seq_id": 1, "base_model": "weaver-tiny"},
            ).json()["id"]
            # Terminated: each body goes all the way to the refusal, and trains nothing.
            client.post(f"/models/{model}/terminate")
            bodies = {
                "the largest batch": (_largest_batch(model), 409),
                "invalid JSON": (b"[" + b"1," * 8_000_000 + b"x]", 400),
                "a large value of the wrong type": (
                    json.dumps({"payload": [1] * 5_000_000}).encode(),
                    400,
                ),
            }
            slow: dict[str, str] = {}
            for name, (raw, status) in bodies.items():
                # A wait held by the body comes back at every look; one of a busy machine
                # (201 ms, and 276 ms twice running, in full suites on two cores) seldom
                # does, and shows in the GETs alone too: each look also times them without
                # the body, for as long, and sees a wait only beyond those.
                for _ in range(3):
                    beside, reply, lasted = _slowest_reply_beside(
                        client,
                        raw,
                        f"/models/{model}/forward-backward-passes",
                        f"/sessions/{session}",
                    )
                    assert reply.status_code == status, (name, reply.text)
                    alone = _slowest_get(client, f"/sessions/{session}", lasted)
                    # 0.2 s: measured 20 to 50 ms idle and up to 0.11 s on a loaded machine,
                    # against 0.3 s to 1.3 s before the body was taken in pieces.
                    if beside < 0.2 or beside < alone + 0.1:
                        slow.pop(name, None)
                        break
                    slow[name] = f"{beside * 1000:.0f} ms (alone: {alone * 1000:.0f} ms)"
    finally:
        emulator.process.kill()
        emulator.process.wait()
    assert not slow, f"a small GET waited this long beside a large body: {slow}"


def _gets_until(probe: httpx.Client, cheap: str, done: Callable[[], bool]) -> float:
    """The longest a GET of ``cheap`` took, GET after GET until ``done()``."""
    worst = 0.0
    while not done():
        started = time.perf_counter()
        assert probe.get(cheap).status_code == 200
        worst = max(worst, time.perf_counter() - started)
        time.sleep(0.005)
    return worst


def _slowest_reply_beside(
    client: httpx.Client, raw: bytes, path: str, cheap: str
) -> tuple[float, httpx.Response, float]:
    """The longest a GET of ``cheap`` took while ``raw`` was posted to ``path``, the
    post's reply, and how long it took."""
    replies: list[httpx.Response] = []
    poster = threading.Thread(target=lambda: replies.append(client.post(path, content=raw)))
    with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=60) as probe:
        probe.get(cheap)  # connected
        started = time.perf_counter()
        poster.start()
        worst = _gets_until(probe, cheap, lambda: not poster.is_alive())
    poster.join()
    return worst, replies[0], time.perf_counter() - started


def _slowest_get(client: httpx.Client, cheap: str, seconds: float) -> float:
    """The longest a GET of ``cheap`` took, GET after GET for ``seconds``."""
    with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=60) as probe:
        probe.get(cheap)  # connected
        end = time.perf_counter() + seconds
        return _gets_until(probe, cheap, lambda: time.perf_counter() >= end)


# -- a large body in pieces: the same values as one call ------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=40,
)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse)


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _same_outcome(text: str) -> None:
    try:
        expected = _loads(text)
    except (ValueError, RecursionError):
        with pytest.raises((ValueError, RecursionError)):
            loads_in_pieces(text)
        return
    assert loads_in_pieces(text) == expected


@given(_JSON, st.sampled_from([None, 0, 2]), st.sampled_from([(",", ":"), (" , ", " : ")]))
@settings(max_examples=300, deadline=None)
def test_a_body_parsed_in_pieces_is_the_body_parsed_at_once(
    value: Any, indent: int | None, separators: tuple[str, str]
) -> None:
    _same_outcome(json.dumps(value, indent=indent, separators=separators, ensure_ascii=False))


@given(_JSON, st.data())
@settings(max_examples=300, deadline=None)
def test_a_broken_body_is_refused_in_pieces_as_at_once(value: Any, data: st.DataObject) -> None:
    text = json.dumps(value)
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 2))
    extra = data.draw(st.sampled_from(["", ",", "]", "}", "x", "NaN", "-", "1", '"', " "]))
    _same_outcome(text[:at] + extra + text[at + cut :])


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([list(range(20_000)), [1.5, True, None, False] * 5_000, "a,b"]),
        json.dumps({"n": [-(10**30), 1e-7, 2.5e300] * 3_000}, indent=1),
        "[" + "1," * 20_000 + "x]",
        "[" + "1," * 20_000 + "NaN]",
        "[" + "1," * 20_000 + "]",
        "[" + "1 , " * 20_000 + "01]",
        "[" + "true," * 20_000 + "truex]",
        "[" + "[" * 100_000 + "]" * 100_000 + "]",
    ],
)
def test_long_arrays_in_pieces(text: str) -> None:
    _same_outcome(text)


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_canonical_text_in_pieces_is_one_json_dumps(value: Any) -> None:
    assert canonical(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def test_canonical_text_of_long_lists_and_deep_values() -> None:
    deep: Any = [1]
    for _ in range(300):  # 600 levels: deeper than the pieces go, within json.dumps' reach
        deep = {"m": [deep, 2]}
    value = {"b": list(range(5_000)), "a": [{"y": [1.5] * 3_000, "x": None}, 7] * 3, "c": deep}
    assert canonical(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
