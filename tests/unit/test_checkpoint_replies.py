"""What the facade accepts of checkpoint replies: what the wire promises, no more.

The wire says of a TTL change only "synchronous", so any 2xx is done and the checkpoint
is read back from the model's list when the reply carries none; and of a checkpoint's
name only ``"name"?: str``, so a name outside the spec's CheckpointName (which binds
the names a save sends) must not break a listing, nor the use of that checkpoint.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import (
    FakeClock,
    FakeWeaver,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.spec_values import SCHEMAS
from weaver_facade import (
    Checkpoint,
    CheckpointNotReadyError,
    CheckpointPath,
    CheckpointStatus,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    NotFoundError,
    OperationFailedError,
    OperationStatus,
    OperationTimeoutError,
    PollPolicy,
    PollSettings,
    ResponseValidationError,
    ServiceClient,
    TrainingClient,
)
from weaver_facade._operations import DEADLINE_GRACE

TTL = "/api/v1/models/m-1/checkpoints/ttl"
LIST = "/api/v1/models/m-1/checkpoints"

NAME_MAX: int = SCHEMAS["CheckpointName"]["maxLength"]
STORED_NAME: str = SCHEMAS["StoredCheckpointName"]["x-weaver-pattern-words"]
RULE = f"it must be {STORED_NAME}"  # a path's name refused, in the spec's words


def applied_then(reply: Callable[[dict[str, Any]], httpx.Response]) -> Callable[..., Any]:
    """A scripted TTL reply: the fake applies the change, then answers ``reply(record)``."""

    def answer(request: httpx.Request, fake: FakeWeaver) -> httpx.Response:
        applied = fake.route(request)
        assert applied.status_code == 200
        return reply(applied.json())

    return answer


# Replies the wire allows to a TTL change: any 2xx, with a body that is not a Checkpoint.
NOT_A_CHECKPOINT = {
    "200-empty-object": lambda _: json_reply(200, {}),
    "200-broken-checkpoint": lambda record: json_reply(200, {**record, "status": "kaput"}),
    "204-no-body": lambda _: httpx.Response(204),
    "200-no-body": lambda _: httpx.Response(200),
    "201-other-object": lambda _: json_reply(201, {"ok": True}),
    "200-not-json": lambda _: httpx.Response(200, text="OK"),
    "200-a-path-of-a-number": lambda record: json_reply(200, {**record, "path": 5}),
    "200-nested-too-deep": lambda _: httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000),
}


def script_ttl(fake: FakeWeaver, reply: Callable[[dict[str, Any]], httpx.Response]) -> None:
    answer = applied_then(reply)
    fake.script("PATCH", TTL, lambda request: answer(request, fake))


@pytest.mark.parametrize("reply", NOT_A_CHECKPOINT.values(), ids=NOT_A_CHECKPOINT.keys())
@pytest.mark.parametrize("ttl", [3600, None])
def test_a_ttl_reply_without_a_checkpoint_reads_it_back_from_the_list(
    fake: FakeWeaver,
    trainer: TrainingClient,
    reply: Callable[[dict[str, Any]], httpx.Response],
    ttl: int | None,
) -> None:
    saved = trainer.save_state("c", ttl_seconds=60)
    script_ttl(fake, reply)
    changed = trainer.set_checkpoint_ttl(saved, ttl)
    # The fake's own record after the change, against what the facade returned.
    (record,) = fake.checkpoints["m-1"]
    assert record["ttl_seconds"] == ttl
    assert (str(changed.id), changed.ttl_seconds) == (record["id"], ttl)
    assert changed.expires_at is None if ttl is None else changed.expires_at is not None
    patch, listing = fake.requests[-2:]
    assert (patch.method, patch.url.path) == ("PATCH", TTL)
    assert (listing.method, listing.url.path) == ("GET", LIST)


def test_a_ttl_reply_with_the_checkpoint_is_used_without_a_listing(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("c")
    changed = trainer.set_checkpoint_ttl(saved, 3600)
    assert changed.ttl_seconds == 3600 == fake.checkpoints["m-1"][0]["ttl_seconds"]
    assert fake.sent("GET", LIST) == []


def test_a_ttl_change_whose_checkpoint_is_not_listed_is_not_found(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("c")

    def gone(request: httpx.Request) -> httpx.Response:
        fake.checkpoints["m-1"].clear()
        return httpx.Response(204)

    fake.script("PATCH", TTL, gone)
    with pytest.raises(NotFoundError, match="no checkpoint named 'c'"):
        trainer.set_checkpoint_ttl(saved, 3600)


async def test_async_ttl_reply_without_a_checkpoint_reads_it_back() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as service:
        trainer = await service.create_training_client("weaver-tiny", seed=7)
        saved = await trainer.save_state("c")
        script_ttl(fake, NOT_A_CHECKPOINT["204-no-body"])
        changed = await trainer.set_checkpoint_ttl(saved, 3600)
    assert (str(changed.id), changed.ttl_seconds) == (fake.checkpoints["m-1"][0]["id"], 3600)
    assert fake.sent("GET", LIST)


# -- names the wire allows in replies ---------------------------------------------------------

# Outside CheckpointName, inside the wire's `"name"?: str`.
ODD_NAMES = ["epoch 2", ".hidden", "a" * 300, "naïve", "step:3", "...", "%2e"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_listed_checkpoint_with_any_name_can_be_used(
    fake: FakeWeaver, trainer: TrainingClient, name: str
) -> None:
    fake.checkpoints["m-1"] += [checkpoint_json("m-1", "step-1"), checkpoint_json("m-1", name)]
    listed = trainer.list_checkpoints()
    assert [c.name for c in listed] == ["step-1", name]
    odd = listed[1]
    assert (odd.path.model_id, odd.path.name) == ("m-1", name)
    assert str(odd.path) == fake.checkpoints["m-1"][1]["path"]
    # Given back, as the Checkpoint, its path or the path's text, it is sent verbatim.
    for ref in (odd, odd.path, str(odd.path)):
        assert trainer.get_checkpoint(ref) == odd
        assert trainer.load_state(ref).path == odd.path
        assert fake.body(fake.sent("POST")[-1])["path"] == f"weaver://m-1/checkpoints/{name}"
    assert trainer.set_checkpoint_ttl(str(odd.path), 60).ttl_seconds == 60
    assert fake.body(fake.sent("PATCH")[-1])["path"] == str(odd.path)


@pytest.mark.parametrize("name", ["epoch 2", ".hidden", "a" * (NAME_MAX + 1)])
def test_a_save_still_asks_for_a_name_the_spec_allows(
    fake: FakeWeaver, trainer: TrainingClient, name: str
) -> None:
    with pytest.raises(InvalidCheckpointName):
        trainer.save_state(name)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("weaver://m-1/checkpoints/", STORED_NAME),
        ("weaver://m-1/checkpoints/a/b", "expected"),
        ("weaver://m-1/checkpoints/..", STORED_NAME),
        ("weaver://m-1/checkpoints/.", STORED_NAME),
        ("weaver://m-1/checkpoints/a\x00", STORED_NAME),
        ("weaver://m-1/checkpoints/a\n", STORED_NAME),
        ("weaver://-m/checkpoints/epoch 2", "model id"),
    ],
)
def test_a_path_still_needs_a_model_id_and_a_name_fit_for_a_path(text: str, problem: str) -> None:
    with pytest.raises(InvalidCheckpointPath, match=re.escape(problem)):
        CheckpointPath.parse(text)


def test_a_path_built_from_parts_refuses_a_slash_in_the_name() -> None:
    with pytest.raises(InvalidCheckpointPath, match=re.escape(f"'a/b' is not valid: {RULE}")):
        CheckpointPath("m-1", "a/b")
    assert str(CheckpointPath("m-1", "epoch 2")) == "weaver://m-1/checkpoints/epoch 2"


def test_a_path_built_from_a_str_subclass_is_the_same_path() -> None:
    # The quick check took only exact str; a subclass fell through to "contains a control
    # character" for a name with none.
    class Name(str):
        pass

    assert CheckpointPath(Name("m-1"), Name("epoch 2")) == CheckpointPath("m-1", "epoch 2")
    with pytest.raises(InvalidCheckpointPath, match=re.escape(f"'a/b' is not valid: {RULE}")):
        CheckpointPath("m-1", Name("a/b"))


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a/b", "path": "weaver://m-1/checkpoints/a/b"},
        {"name": "", "path": "weaver://m-1/checkpoints/"},
        {"name": "..", "path": "weaver://m-1/checkpoints/.."},
        {"name": "tab\there", "path": "weaver://m-1/checkpoints/tab\there"},
        {"name": "epoch 2", "path": "weaver://m-1/checkpoints/epoch-2"},
    ],
    ids=["slash", "empty", "dot-segment", "control", "name-and-path-differ"],
)
def test_a_listed_name_no_path_can_hold_still_fails_the_list(
    fake: FakeWeaver, trainer: TrainingClient, fields: dict[str, str]
) -> None:
    fake.script(
        "GET", LIST, json_reply(200, {"items": [{**checkpoint_json("m-1", "x"), **fields}]})
    )
    with pytest.raises(ResponseValidationError, match="list_checkpoints"):
        trainer.list_checkpoints()


def test_an_id_lookup_finds_a_checkpoint_with_any_name(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "epoch 2"))
    found = trainer.get_checkpoint(uuid.UUID(fake.checkpoints["m-1"][0]["id"]))
    assert found.name == "epoch 2"


def test_a_checkpoint_a_server_calls_error_is_failed(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # The wire sheet says `failed`; the official SDK also treats `error` as a failed save.
    fake.checkpoints["m-1"] += [
        {**checkpoint_json("m-1", "a"), "status": "error"},
        {**checkpoint_json("m-1", "b"), "status": "failed"},
    ]
    assert [c.status for c in trainer.list_checkpoints()] == ["failed", "failed"]
    broken = {**checkpoint_json("m-1", "c"), "status": "broken"}
    fake.script("GET", LIST, json_reply(200, {"items": [*fake.checkpoints["m-1"], broken]}))
    with pytest.raises(ResponseValidationError, match="status"):
        trainer.list_checkpoints()


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
def test_the_latest_checkpoint_is_the_newest_in_any_listing_order(newest_first: bool) -> None:
    # The wire sheet gives the list no order: a server listing newest first got its
    # oldest checkpoint as the latest. A server that writes whole seconds gives two quick
    # saves one `created_at` (c2, then c2b): the order the other times show tells.
    made = [
        {**checkpoint_json("m-1", f"c{i}"), "created_at": f"2026-11-29T10:0{i}:00Z"}
        for i in range(3)
    ]
    made.append({**checkpoint_json("m-1", "c2b"), "created_at": made[-1]["created_at"]})
    failed = {**checkpoint_json("m-1", "c3"), "created_at": "2026-11-29T10:09:00Z"}
    items = [*made, {**failed, "status": "failed"}]
    fake = FakeWeaver()
    fake.script("GET", LIST, json_reply(200, {"items": items[::-1] if newest_first else items}))
    with service(fake) as svc:
        latest = svc.training_client("m-1").latest_checkpoint()
    assert latest is not None
    assert latest.name == "c2b"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
async def test_a_pending_checkpoint_s_time_shows_the_listing_s_order_too(
    newest_first: bool, is_async: bool
) -> None:
    # Two quick saves within one second, then a third still being saved: the completed
    # ones tie, and the order was read from them alone, which tell none, so a server
    # listing newest first gave the earlier save. The pending one's time shows it.
    times = {"c1": "10:02:00", "c2": "10:02:00", "c3": "10:03:00"}
    items = [
        {**checkpoint_json("m-1", name), "created_at": f"2026-11-29T{t}Z"}
        for name, t in times.items()
    ]
    items[-1]["status"] = "pending"
    fake = FakeWeaver()
    fake.script("GET", LIST, json_reply(200, {"items": items[::-1] if newest_first else items}))
    if is_async:
        async with async_service(fake) as asvc:
            latest = await (await asvc.training_client("m-1")).latest_checkpoint()
    else:
        with service(fake) as svc:
            latest = svc.training_client("m-1").latest_checkpoint()
    assert latest is not None
    assert latest.name == "c2"


def test_of_checkpoints_that_all_tie_the_last_listed_is_the_latest() -> None:
    # Nothing in such a listing shows its order: the spec's holds (oldest first). A
    # server that lists newest first and writes whole seconds gives the earlier of two
    # quick saves here, and no client can tell (README).
    items = [
        {**checkpoint_json("m-1", name), "created_at": "2026-11-29T10:02:00Z"}
        for name in ("c1", "c2")
    ]
    fake = FakeWeaver()
    fake.script("GET", LIST, json_reply(200, {"items": items}))
    with service(fake) as svc:
        latest = svc.training_client("m-1").latest_checkpoint()
    assert latest is not None
    assert latest.name == "c2"


def test_a_time_without_an_offset_is_taken_as_utc() -> None:
    # RFC 3339 times carry an offset; a reply without one was kept naive: shown as local
    # time labelled `Z`, and compared with no aware time (a TypeError).
    fake = FakeWeaver()
    naive = {
        **checkpoint_json("m-1", "a"),
        "created_at": "2026-12-02T10:36:23",
        "expires_at": "2026-12-03T10:36:23",
    }
    fake.script("GET", LIST, json_reply(200, {"items": [naive]}))
    operation = {
        "id": "op-1",
        "status": "done",
        "response": {"metrics": {}},
        "created_at": "2026-12-02T10:36:23",
        "updated_at": "2026-12-02T10:36:24+01:00",
    }
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, operation))
    with service(fake) as svc:
        (listed,) = svc.training_client("m-1", next_seq_id=1).list_checkpoints()
        handle = svc.operation("op-1")
    utc = datetime.UTC
    assert listed.created_at == datetime.datetime(2026, 12, 2, 10, 36, 23, tzinfo=utc)
    assert listed.expires_at == datetime.datetime(2026, 12, 3, 10, 36, 23, tzinfo=utc)
    assert handle.created_at == datetime.datetime(2026, 12, 2, 10, 36, 23, tzinfo=utc)
    assert handle.updated_at is not None
    assert handle.updated_at.utcoffset() == datetime.timedelta(hours=1)  # kept as given


# -- a save done before its checkpoint is ------------------------------------------------------


def saved_pending(fake: FakeWeaver, *statuses: str) -> str:
    """Make the next save's operation end while its checkpoint still says ``pending`` (the
    wire's Checkpoint has that status); the checkpoint's GETs then show ``statuses`` in
    turn, the last one for ever. The GET's path."""
    checkpoint = f"/api/v1/checkpoints/{checkpoint_json('m-1', 'a')['id']}"

    def saved(request: httpx.Request) -> httpx.Response:
        reply = fake.route(request)
        fake.checkpoints["m-1"][-1]["status"] = "pending"
        return reply

    shown = list(statuses)

    def look(request: httpx.Request) -> httpx.Response:
        fake.checkpoints["m-1"][-1]["status"] = shown.pop(0) if len(shown) > 1 else shown[0]
        return fake.route(request)

    fake.script("POST", LIST, saved)
    fake.script("GET", checkpoint, *[look] * 50)
    return checkpoint


def test_a_save_done_before_its_checkpoint_waits_for_the_checkpoint(
    fake: FakeWeaver, svc: ServiceClient, trainer: TrainingClient
) -> None:
    # It returned the pending checkpoint, which a load right after met as 409
    # checkpoint_not_ready: wait=True promises the saved checkpoint.
    checkpoint = saved_pending(fake, "pending", "pending", "completed")
    saved = trainer.save_state("a")
    assert saved.status is CheckpointStatus.COMPLETED
    assert len(fake.sent("GET", checkpoint)) == 3
    # Its reads, answered at once, asked for no long-poll, and told nothing of it.
    assert all("wait" not in r.url.params for r in fake.sent("GET", checkpoint))
    assert svc._io.poll.long_poll_supported is None
    handle = trainer.save_state("b", wait=False)
    assert handle.result().status is CheckpointStatus.COMPLETED  # no pending look there


def test_a_save_whose_checkpoint_fails_after_its_operation_is_a_failed_save(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    saved_pending(fake, "pending", "failed")
    handle = trainer.save_state("a", wait=False)
    with pytest.raises(OperationFailedError) as info:
        handle.result()
    assert info.value.code == "save_failed"
    assert handle.id.startswith("op-")  # still the operation, for service.operation(id)


async def test_an_async_save_done_before_its_checkpoint_waits_for_the_checkpoint() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as service:
        trainer = await service.create_training_client("weaver-tiny", seed=7)
        checkpoint = saved_pending(fake, "pending", "completed")
        saved = await trainer.save_state("a")
    assert saved.status is CheckpointStatus.COMPLETED
    assert len(fake.sent("GET", checkpoint)) == 2


def test_a_checkpoint_pending_for_ever_ends_at_the_wait_s_deadline() -> None:
    # One deadline for the operation and its checkpoint, on the same polling policy; the
    # operation keeps its id, and re-attaching to it waits for the checkpoint too.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        checkpoint = saved_pending(fake, "pending")
        handle = trainer.save_state("a", wait=False)
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
        assert clock.now - begin <= 5 + DEADLINE_GRACE
        assert info.value.operation_id == handle.id == "op-1"
        # The operation is done: only its checkpoint is not, which the progress showed too.
        assert info.value.status == "done"
        assert info.value.result_pending
        assert "operation op-1 is done, but its Checkpoint still says pending after" in str(
            info.value
        )
        assert "keeps running" not in str(info.value)  # done: not running
        # Backed off, as any wait without long-poll: not a look per millisecond.
        assert 3 <= len(fake.sent("GET", checkpoint)) <= 30
        again = svc.operation(handle.id, Checkpoint)
        assert again.status is OperationStatus.RUNNING
        fake.checkpoints["m-1"][-1]["status"] = "completed"
        fake.scripts.clear()
        assert again.result(timeout=5).status is CheckpointStatus.COMPLETED


def test_a_save_whose_pending_checkpoint_is_gone_is_a_failed_save(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # Deleted (or expired) while pending, the save gave no checkpoint: it raised
    # get_checkpoint's NotFoundError, which named neither the save nor its operation.
    checkpoint = saved_pending(fake, "pending")
    handle = trainer.save_state("a", wait=False)
    fake.scripts.clear()

    def seen_then_deleted(request: httpx.Request) -> httpx.Response:
        reply = fake.route(request)
        fake.checkpoints["m-1"].clear()
        return reply

    fake.script("GET", checkpoint, seen_then_deleted)
    with pytest.raises(OperationFailedError) as info:
        handle.result()
    assert info.value.code == "save_failed"
    assert info.value.operation_id == handle.id == "op-1"
    assert "checkpoint weaver://m-1/checkpoints/a is no longer found" in str(info.value)
    assert len(fake.sent("GET", checkpoint)) == 3  # seen pending; one absence waited out


def test_a_done_save_whose_checkpoint_the_list_shows_only_later_is_waited_for() -> None:
    # The real service has no GET /checkpoints/{id}: a checkpoint its save's operation
    # answered pending is read through the model's list, which may show a save only later.
    # Two looks that missed it (a few seconds, less with the poll's jitter) made the save a
    # `save_failed`, though the server's operation was done: a checkpoint not listed yet is
    # no more gone than a pending one, and is waited for within the same deadline.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    route = fake.route
    hidden = 12  # listings that leave it out: three looks' worth, and more
    listings: list[httpx.Request] = []

    def saved(request: httpx.Request) -> httpx.Response:
        reply = route(request)
        fake.checkpoints["m-1"][-1]["status"] = "pending"
        return reply

    def listed(request: httpx.Request) -> httpx.Response:
        listings.append(request)
        if len(listings) <= hidden:
            return json_reply(200, {"items": [], "next_cursor": None})
        fake.checkpoints["m-1"][-1]["status"] = "completed"
        return route(request)

    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        by_id = f"/api/v1/checkpoints/{checkpoint_json('m-1', 'a')['id']}"
        no_route = [json_reply(404, {"detail": "Not Found"}) for _ in range(40)]
        fake.script("GET", by_id, *no_route)  # the real service has no such route
        fake.script("POST", LIST, saved)
        fake.script("GET", LIST, *[listed] * 40)
        begin = clock.now
        checkpoint = trainer.save_state("a")
        assert clock.now - begin < 60  # backed off, not the hour's deadline
    assert checkpoint.status is CheckpointStatus.COMPLETED
    assert len(listings) == hidden + 1


def saved_then_deleted(fake: FakeWeaver) -> None:
    """The next save's operation ends with its checkpoint ``pending``, which another client
    deletes before any read of it: every later read finds none."""

    def saved(request: httpx.Request) -> httpx.Response:
        reply = fake.route(request)
        record = fake.checkpoints["m-1"].pop()
        return json_reply(
            reply.status_code, {**reply.json(), "response": {**record, "status": "pending"}}
        )

    fake.done_at_once = True
    fake.script("POST", LIST, saved)


def test_a_done_save_whose_checkpoint_was_deleted_unseen_ends_at_once() -> None:
    # Deleted (by another client) before any read showed it, after its save's operation
    # was done: the save waited out the whole deadline (an hour by default) for a
    # checkpoint that the server had said, by id, it no longer had, since one not yet
    # found may be one that a list does not show yet.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        saved_pending(fake, "pending", "completed")
        trainer.save_state("a")  # read by id: the server has the route
        assert svc._io.poll.checkpoint_by_id_supported is True
        fake.scripts.clear()
        saved_then_deleted(fake)
        begin = clock.now
        with pytest.raises(OperationFailedError) as info:
            trainer.save_state("b")
        assert clock.now - begin < 60
    assert info.value.code == "save_failed"
    assert "checkpoint weaver://m-1/checkpoints/b" in str(info.value)
    assert "is no longer found, and was never completed (deleted or expired?)" in str(info.value)


def test_a_done_save_whose_listed_checkpoint_says_deleted_ends_at_once() -> None:
    # The core wire has no GET /checkpoints/{id}; its Checkpoint has the status `deleted`,
    # which a listing that shows the checkpoint says: the server's word that it is gone.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        by_id = f"/api/v1/checkpoints/{checkpoint_json('m-1', 'a')['id']}"
        fake.script("GET", by_id, *[json_reply(404, {"detail": "Not Found"}) for _ in range(9)])
        saved_then_deleted(fake)
        deleted = {**checkpoint_json("m-1", "a"), "status": "deleted"}
        lagging = [json_reply(200, {"items": []}) for _ in range(2)]
        fake.script(
            "GET", LIST, *lagging, *[json_reply(200, {"items": [deleted]}) for _ in range(9)]
        )
        begin = clock.now
        with pytest.raises(OperationFailedError) as info:
            trainer.save_state("a")
        assert clock.now - begin < 60
    assert info.value.code == "save_failed"
    assert "checkpoint weaver://m-1/checkpoints/a is deleted" in str(info.value)


def test_a_pending_checkpoint_missed_once_is_looked_for_again(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A server may not find at once what it has just made (a listing that lags).
    checkpoint = saved_pending(fake, "completed")
    missing = json_reply(404, error_json("not_found", "no such checkpoint"))
    fake.scripts[("GET", checkpoint)].appendleft(missing)
    fake.script("GET", LIST, json_reply(200, {"items": [], "next_cursor": None}))
    assert trainer.save_state("a").status is CheckpointStatus.COMPLETED
    assert len(fake.sent("GET", checkpoint)) == 2


# A server's answers to ``GET /checkpoints/{id}`` without the route, and how many of a
# pending checkpoint's six looks (two saves, three each) still ask by id: a framework's own
# 404 (no Error body) or a 405 says the route is unknown at once; the spec's 404
# `not_found` is its answer to an unknown checkpoint too (a read that lags), so it takes two.
NO_BY_ID_ROUTE: dict[str, tuple[Callable[[], httpx.Response], int]] = {
    "404-framework": (lambda: json_reply(404, {"detail": "Not Found"}), 1),
    "404-plain-text": (lambda: httpx.Response(404, text="404 page not found"), 1),
    "405": (lambda: json_reply(405, error_json("method_not_allowed", "GET not allowed")), 1),
    "404-not_found": (lambda: json_reply(404, error_json("not_found", "no route")), 2),
}


@pytest.mark.parametrize("answer", NO_BY_ID_ROUTE, ids=list(NO_BY_ID_ROUTE))
def test_a_server_without_checkpoint_by_id_is_asked_by_id_once(
    fake: FakeWeaver, svc: ServiceClient, trainer: TrainingClient, answer: str
) -> None:
    # Without the route (the real service), each look at a pending checkpoint cost a GET
    # by id that 404s, then the model's list: an answer that says the route is unknown is
    # remembered.
    route = fake.route
    missing, asked = NO_BY_ID_ROUTE[answer]
    for name in ("a", "b"):
        by_id_path = f"/api/v1/checkpoints/{checkpoint_json('m-1', name)['id']}"
        fake.script("GET", by_id_path, *[missing() for _ in range(3)])
    shown = iter(["pending", "pending", "completed"] * 2)

    def saved(request: httpx.Request) -> httpx.Response:
        reply = route(request)
        fake.checkpoints["m-1"][-1]["status"] = "pending"
        return reply

    def listed(request: httpx.Request) -> httpx.Response:
        fake.checkpoints["m-1"][-1]["status"] = next(shown)
        return route(request)

    fake.script("POST", LIST, saved, saved)
    fake.script("GET", LIST, *[listed] * 6)
    assert trainer.save_state("a").status is CheckpointStatus.COMPLETED
    assert trainer.save_state("b").status is CheckpointStatus.COMPLETED
    by_id = [r for r in fake.sent("GET") if r.url.path.startswith("/api/v1/checkpoints/")]
    assert len(by_id) == asked
    assert len(fake.sent("GET", LIST)) == 6
    assert svc._io.poll.checkpoint_by_id_supported is False


def test_a_read_by_id_that_lags_behind_the_list_keeps_the_route() -> None:
    # A server with GET /checkpoints/{id} whose read lags behind its list answered a
    # checkpoint just saved 404 `not_found`, the spec's answer to an unknown checkpoint
    # (and to an unknown route alike): the client took it for a server without the route,
    # and its later looks read the list alone, which here said pending until the deadline.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        checkpoint = saved_pending(fake, "completed")
        lagging = json_reply(404, error_json("not_found", "checkpoint not found"))
        fake.scripts[("GET", checkpoint)].appendleft(lagging)
        assert trainer.save_state("a").status is CheckpointStatus.COMPLETED
        assert len(fake.sent("GET", checkpoint)) == 2
        assert svc._io.poll.checkpoint_by_id_supported is True


def test_a_save_s_timeout_names_the_re_attach_that_waits_for_its_checkpoint() -> None:
    # The hint named service.operation('op-1'), which on the wire (no kind) returns the
    # raw result at once, pending checkpoint and all; only the typed re-attach waits.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    hint = "re-attach with service.operation('op-1', Checkpoint)"
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.pending_polls = 1000  # the operation itself still runs
        handle = trainer.save_state("a", wait=False)
        with pytest.raises(OperationTimeoutError) as running:
            handle.result(timeout=1)
        assert hint in str(running.value)
        fake.pending_polls = 0
        saved_pending(fake, "pending")  # done, its checkpoint still pending
        handle = trainer.save_state("b", wait=False)
        with pytest.raises(OperationTimeoutError) as pending:
            handle.result(timeout=1)
        assert hint.replace("op-1", handle.id) in str(pending.value)
        again = svc.operation(handle.id, Checkpoint)
        with pytest.raises(OperationTimeoutError) as reattached:
            again.result(timeout=1)
        assert hint.replace("op-1", handle.id) in str(reattached.value)
        # Other operations' re-attach needs no wait of its own, but names the type, which
        # a server without operation-details (the wire: no kind) gives no other way.
        fake.scripts.clear()
        fake.pending_polls = 1000
        step = trainer.optim_step(wait=False)
        with pytest.raises(OperationTimeoutError) as stepping:
            step.result(timeout=1)
        hint = f"re-attach with service.operation('{step.id}', OptimStepResult)"
        assert hint in str(stepping.value)


def test_a_servers_checkpoint_not_ready_says_how_to_wait_for_the_checkpoint(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A load (or export) of a checkpoint another process still saves, or right after a
    # save with wait=False, was a bare `[409 checkpoint_not_ready] ... not completed`.
    refused = json_reply(409, error_json("checkpoint_not_ready", "checkpoint is not completed"))
    fake.script("POST", "/api/v1/models/m-1/load", refused)
    with pytest.raises(CheckpointNotReadyError) as raised:
        trainer.load_state("weaver://m-0/checkpoints/slow")
    assert raised.value.__notes__ == [
        "a checkpoint is pending until its save ends: wait for the save (its OperationHandle's "
        "result(), or service.operation(OPERATION_ID, Checkpoint).result() from another "
        "process), or look again with get_checkpoint, and try again once it is completed"
    ]
