"""Operations: FIFO queues, status and pending_info, event-driven long-poll, de-duplication."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.support.emulator import KEY_A, Api, AppFactory, FakeClock, Json, assert_error, batch


def _api(app: Starlette, key: str = KEY_A) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=60
    )
    return client, Api(client, key)


async def _until_status(api: Api, op_id: str, status: str) -> Json:
    """Poll (bounded) until the worker has moved the operation to ``status``."""
    for _ in range(400):
        current = await api.ok("GET", f"/operations/{op_id}")
        if current["status"] == status:
            return current
        await asyncio.sleep(0.005)
    raise AssertionError(f"operation {op_id} never became {status}")


async def test_lifecycle_and_pending_info(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 0.4}))
    async with client:
        model_id = await api.model()
        first = await api.submit_fb(model_id, batch(0))
        second = await api.submit_fb(model_id, batch(1))
        assert first["status"] == "pending"
        assert second["status"] == "pending"
        assert first["kind"] == "forward_backward"
        assert first["model_id"] == model_id
        assert first["id"].startswith("op-")
        # Nothing ahead of the first: no scheduling wait to report (the official SDK
        # logs a warning for each one). The second waits behind it.
        assert "pending_info" not in first
        assert "queued behind 1 operation" in second["pending_info"]["message"]

        running = await _until_status(api, first["id"], "running")
        assert running.get("pending_info") is None
        assert running.get("response") is None

        queued = await api.ok("GET", f"/operations/{second['id']}")
        assert queued["status"] == "pending"
        info = queued["pending_info"]
        # Not a scheduling wait, which the official SDK logs as a warning at once: a
        # script that overlaps its own steps would warn on every one.
        assert info["code"] == "queued"
        assert "queued behind 1 operation" in info["message"]
        assert info["wait_seconds"] > 0

        done = await api.wait(second)
        assert done["status"] == "done"
        assert done.get("pending_info") is None
        assert done["created_at"] <= done["updated_at"]
        assert done["response"]["metrics"]["loss:sum"] > 0


async def test_the_announced_wait_is_the_time_left_until_the_start(
    make_app: AppFactory, clock: FakeClock
) -> None:
    # The running pass is 1.2 s into its 2 s when the queued one is read: the announced
    # start must count what is left of it, not its whole latency.
    client, api = _api(make_app(latency={"forward_backward": 2.0}))
    async with client:
        model_id = await api.model()
        first = await api.submit_fb(model_id, batch(0))
        second = await api.submit_fb(model_id, batch(1))
        await _until_status(api, first["id"], "running")
        early = await api.ok("GET", f"/operations/{second['id']}")
        clock.advance(1.2)
        late = await api.ok("GET", f"/operations/{second['id']}")
        assert early["pending_info"]["wait_seconds"] == 2.0
        assert late["pending_info"]["wait_seconds"] == 0.8
        # Time passing is no change: a long-poll with seen_revision is not woken by it.
        assert late["revision"] == early["revision"]


async def test_an_announced_wait_of_30_s_or_more_is_left_out(
    make_app: AppFactory, clock: FakeClock
) -> None:
    # The official SDK reads `wait_seconds` as the time already waited: it logs the larger
    # of it and its own count ("pending for 39s"), for a `queued` operation from 30 s on.
    # A countdown of 30 s or more would be logged at once as a wait that never happened.
    client, api = _api(make_app(latency={"forward_backward": 20.0}))
    async with client:
        model_id = await api.model()
        first, second, third = [await api.submit_fb(model_id, batch(i)) for i in range(3)]
        await _until_status(api, first["id"], "running")
        near = await api.ok("GET", f"/operations/{second['id']}")
        far = await api.ok("GET", f"/operations/{third['id']}")
        assert near["pending_info"]["wait_seconds"] == 20.0
        assert far["pending_info"]["code"] == "queued"
        assert "queued behind 2 operations" in far["pending_info"]["message"]
        assert "wait_seconds" not in far["pending_info"]  # 40 s
        clock.advance(10.5)
        closer = await api.ok("GET", f"/operations/{third['id']}")
        assert closer["pending_info"]["wait_seconds"] == 29.5
        # Only the estimate came: no change for a long-poll with seen_revision.
        assert closer["revision"] == far["revision"]


async def test_posts_answer_at_once_while_work_is_slow(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 30, "save_checkpoint": 30}))
    async with client:
        model_id = await api.model()
        started = time.monotonic()
        fb = await api.submit_fb(model_id, batch())
        save = await api.submit_save(model_id, "weight", name="slow")
        assert time.monotonic() - started < 1.0
        assert fb["status"] == "pending"
        assert save["status"] == "pending"
        listed = await api.checkpoints(model_id)
        assert [c["status"] for c in listed["items"]] == ["pending"]


async def test_long_poll_answers_as_soon_as_the_operation_is_terminal(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 0.3}))
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        started = time.monotonic()
        polled = await api.ok("GET", f"/operations/{op['id']}", params={"wait": 30})
        elapsed = time.monotonic() - started
        assert polled["status"] == "done"
        assert elapsed < 10, elapsed  # woken by the worker, not by the 30 s timeout


async def test_long_poll_returns_the_current_state_when_time_is_up(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 30}))
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        started = time.monotonic()
        polled = await api.ok("GET", f"/operations/{op['id']}", params={"wait": 0.3})
        elapsed = time.monotonic() - started
        assert polled["status"] in ("pending", "running")
        assert 0.25 <= elapsed < 5, elapsed


async def test_without_long_poll_the_server_answers_at_once(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 30}, honor_long_poll=False))
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        started = time.monotonic()
        polled = await api.ok("GET", f"/operations/{op['id']}", params={"wait": 20})
        assert time.monotonic() - started < 1.0
        assert polled["status"] in ("pending", "running")


async def test_a_thousand_long_polls_cost_no_threads(make_app: AppFactory) -> None:
    # Long enough that a thousand polls park before it ends, even on a loaded machine.
    app = make_app(latency={"forward_backward": 5.0})
    client, api = _api(app)
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        threads_before = threading.active_count()
        polls = [
            asyncio.ensure_future(api.ok("GET", f"/operations/{op['id']}", params={"wait": 30}))
            for _ in range(1000)
        ]
        waiters = app.state.emulator.waiters
        for _ in range(4000):
            if waiters.count() >= 1000:
                break
            await asyncio.sleep(0.001)
        parked = waiters.count()
        threads_during = threading.active_count()
        results = await asyncio.gather(*polls)
        assert all(r["status"] == "done" for r in results)
        # Every poll parked on a future of this event loop; none holds a thread.
        assert parked == 1000
        assert threads_during <= threads_before + 2
        assert waiters.count() == 0


async def test_operations_of_a_model_run_in_submission_order(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"forward_backward": 0.02, "optim_step": 0.02}))
    async with client:
        # Reference: the same steps, waiting for each before the next.
        reference_model = await api.model(seed=3)
        expected = [await api.step(reference_model, batch(i)) for i in range(3)]

        model_id = await api.model(seed=3)
        submitted: list[tuple[Json, Json]] = []
        for i in range(3):
            fb = await api.submit_fb(model_id, batch(i))
            opt = await api.submit_optim(model_id)
            submitted.append((fb, opt))
        losses = []
        finished_at: list[str] = []
        for fb, opt in submitted:
            fb_done = await api.wait(fb)
            opt_done = await api.wait(opt)
            losses.append(fb_done["response"]["metrics"]["loss:sum"])
            finished_at += [fb_done["updated_at"], opt_done["updated_at"]]
        assert losses == expected
        assert finished_at == sorted(finished_at)


async def test_seq_id_repeats_return_the_operation_or_conflict(api: Api) -> None:
    model_id = await api.model()
    body = api.fb_body(model_id, batch())
    first = await api.ok("POST", f"/models/{model_id}/forward-backward-passes", 202, json=body)
    again = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert again.status_code in (200, 202)
    assert again.json()["id"] == first["id"]
    await api.wait(first)
    replay = await api.ok("POST", f"/models/{model_id}/forward-backward-passes", 200, json=body)
    assert replay["id"] == first["id"]
    assert replay["status"] == "done"

    changed = api.fb_body(model_id, batch(5), seq_id=body["payload"]["seq_id"])
    assert_error(
        await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=changed),
        409,
        "seq_id_conflict",
        "seq_id",
    )
    # The counter is shared with optimizer steps.
    optim = api.optim_body(model_id)
    optim["payload"]["seq_id"] = body["payload"]["seq_id"]
    assert_error(
        await api.request("POST", f"/models/{model_id}/optimizer-steps", json=optim),
        409,
        "seq_id_conflict",
    )


async def test_idempotency_key_replays_and_refuses_other_bodies(api: Api, api_b: Api) -> None:
    model_id = await api.model()
    key = {"Idempotency-Key": "save-once-1"}
    path = f"/models/{model_id}/checkpoints"
    first = await api.ok("POST", path, 202, json={"type": "weight", "name": "once"}, headers=key)
    again = await api.ok("POST", path, 202, json={"type": "weight", "name": "once"}, headers=key)
    assert again["id"] == first["id"]
    await api.wait(first)
    replay = await api.ok("POST", path, 202, json={"type": "weight", "name": "once"}, headers=key)
    assert replay["id"] == first["id"]
    assert replay["status"] == "done"  # the current state of the original operation
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["once"]

    assert_error(
        await api.request("POST", path, json={"type": "weight", "name": "twice"}, headers=key),
        422,
        "idempotency_mismatch",
    )
    assert_error(
        await api.request("POST", "/sessions", json={}, headers=key),
        422,
        "idempotency_mismatch",
    )

    # Keys are scoped per tenant: B's identical key is B's own.
    session_key = {"Idempotency-Key": "session-1"}
    a_session = await api.ok("POST", "/sessions", 201, json={"tags": ["x"]}, headers=session_key)
    a_again = await api.ok("POST", "/sessions", 201, json={"tags": ["x"]}, headers=session_key)
    b_session = await api_b.ok("POST", "/sessions", 201, json={"tags": ["x"]}, headers=session_key)
    assert a_again["id"] == a_session["id"]
    assert b_session["id"] != a_session["id"]


async def test_idempotency_key_on_training_and_models(api: Api) -> None:
    session_id = await api.session()
    key = {"Idempotency-Key": "model-1"}
    body: dict[str, Any] = {"model_seq_id": 9, "base_model": "weaver-tiny"}
    first = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body, headers=key)
    again = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body, headers=key)
    assert first["id"] == again["id"]

    model_id = first["id"]
    fb_key = {"Idempotency-Key": "fb-1"}
    fb_body = api.fb_body(model_id, batch())
    op = await api.ok(
        "POST", f"/models/{model_id}/forward-backward-passes", 202, json=fb_body, headers=fb_key
    )
    op_again = await api.request(
        "POST", f"/models/{model_id}/forward-backward-passes", json=fb_body, headers=fb_key
    )
    assert op_again.status_code in (200, 202)
    assert op_again.json()["id"] == op["id"]


async def test_a_failed_operation_reports_code_message_and_details(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"load_checkpoint": 0.3}))
    async with client:
        model_id = await api.model()
        saved = await api.save(model_id, "weight", name="short-lived")
        load = await api.ok(
            "POST",
            f"/models/{model_id}/load",
            202,
            json={"path": saved["path"], "include_optimizer": False},
        )
        # Deleted while the load waits in the queue: the load fails, visibly.
        await api.ok("DELETE", f"/checkpoints/{saved['id']}")
        failed = await api.wait(load)
        assert failed["status"] == "error"
        assert failed["error_code"]
        assert failed["error"] == failed["error_code"]
        assert "short-lived" in failed["error_message"]
        assert failed["error_details"]["stage"] == "load"
        assert isinstance(failed["retryable"], bool)
        assert failed.get("response") is None


async def test_long_poll_with_seen_revision_answers_on_the_next_change(
    make_app: AppFactory,
) -> None:
    client, api = _api(make_app(latency={"forward_backward": 1.0}))
    async with client:
        model_id = await api.model()
        await api.submit_fb(model_id, batch())
        queued = await api.submit_fb(model_id, batch())
        seen = await api.ok("GET", f"/operations/{queued['id']}")
        assert seen["status"] == "pending"
        # The same state: the server holds the poll until something changes.
        started = time.monotonic()
        changed = await api.ok(
            "GET",
            f"/operations/{queued['id']}",
            params={"wait": 30, "seen_revision": seen["revision"]},
        )
        took = time.monotonic() - started
        assert changed["status"] == "running"  # the pass ahead of it ended
        assert changed["revision"] != seen["revision"]
        assert 0.3 < took < 10, took  # woken by the change, not the end or the 30 s
        # A revision the caller never saw (or an old one) answers at once.
        started = time.monotonic()
        again = await api.ok(
            "GET",
            f"/operations/{queued['id']}",
            params={"wait": 30, "seen_revision": seen["revision"]},
        )
        assert again["revision"] != seen["revision"]
        assert time.monotonic() - started < 1.0
        # Without seen_revision the long-poll keeps its old meaning: until the end.
        done = await api.ok("GET", f"/operations/{queued['id']}", params={"wait": 30})
        assert done["status"] == "done"
        assert done["revision"] not in (seen["revision"], changed["revision"])


async def test_an_empty_seen_revision_is_refused(make_app: AppFactory) -> None:
    client, api = _api(make_app())
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        reply = await api.request(
            "GET", f"/operations/{op['id']}", params={"wait": 1, "seen_revision": ""}
        )
        assert_error(reply, 400, "invalid_request")


async def test_a_training_result_is_sent_as_stored_not_parsed_again(
    app: Starlette, api: Api
) -> None:
    """A large batch's result is tens of MB of JSON: parsing and serializing it again for each
    reply held the event loop (0.6 s for 256 x 4096 tokens). The stored text goes out as it is,
    for a poll and for a re-sent request alike."""
    model_id = await api.model()
    body = api.fb_body(model_id, batch())
    op = await api.ok("POST", f"/models/{model_id}/forward-backward-passes", 202, json=body)
    result = await api.done(op)
    # The same result written another way: only a reply that splices the text shows it.
    stored = json.dumps(result, indent=1)
    app.state.emulator.store.execute(
        "UPDATE operations SET response=? WHERE id=?", (stored, op["id"])
    )
    for params in ({}, {"wait": 5}):
        reply = await api.request("GET", f"/operations/{op['id']}", params=params)
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/json"
        assert b'"response":' + stored.encode() in reply.content
        assert reply.json()["response"] == result
        assert reply.json()["status"] == "done"
    again = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert again.status_code == 200
    assert stored.encode() in again.content
    assert again.json()["id"] == op["id"]


def test_a_result_serialized_in_pieces_is_json_dumps() -> None:
    from weaver_facade.emulator._service import canonical

    result = {
        "loss_fn_outputs": [{"logprobs": {"data": [-1.5, -2.25e-7], "dtype": "float32"}}] * 3,
        "metrics": {"loss:sum": 1.0, "tokens": 3.0},
        "empty": [],
    }
    values: list[Any] = [result, {"metrics": {}}, [1, 2], None, "x"]
    for value in values:
        assert canonical(value) == json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
