"""A checkpoint's path against a server whose checkpoint list lags behind its saves.

The wire has no lookup by path: a path is found in its model's list, which a server may
not update at once ("a server may not find at once what it has just made"). A path the
list lacks is looked for again, a few times, after the client's poll backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NamedTuple

import httpx
import pytest

from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeClock,
    FakeWeaver,
    artifact_json,
    async_service,
    checkpoint_json,
    json_reply,
    service,
)
from weaver_facade import (
    AsyncServiceClient,
    AsyncTrainingClient,
    Checkpoint,
    NotFoundError,
    PollPolicy,
    PollSettings,
    ServiceClient,
    TrainingClient,
)
from weaver_facade._checkpoints import CheckpointPath
from weaver_facade._steps import DeletedHere, ModelSteps

LIST = "/api/v1/models/m-1/checkpoints"
SETTINGS = PollSettings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def svc(fake: FakeWeaver, clock: FakeClock) -> Iterator[ServiceClient]:
    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as client:
        yield client


@pytest.fixture
def trainer(svc: ServiceClient) -> TrainingClient:
    return svc.create_training_client("weaver-tiny")


def untyped(value: object) -> Any:
    return value


def lag(fake: FakeWeaver, listings: int) -> None:
    """The model's next ``listings`` listings leave out every checkpoint, as a list that
    lags behind the saves does."""
    fake.script("GET", LIST, *[json_reply(200, {"items": []}) for _ in range(listings)])


def _get(svc: ServiceClient, trainer: TrainingClient, saved: Checkpoint) -> str:
    return str(trainer.get_checkpoint(str(saved.path)).id)


def _export(svc: ServiceClient, trainer: TrainingClient, saved: Checkpoint) -> str:
    return str(trainer.export_weights(saved.path).checkpoint_id)


def _artifacts(svc: ServiceClient, trainer: TrainingClient, saved: Checkpoint) -> str:
    (artifact,) = svc.list_artifacts(str(saved.path))
    return str(artifact.checkpoint_id)


USES: dict[str, Callable[[ServiceClient, TrainingClient, Checkpoint], str]] = {
    "get_checkpoint": _get,
    "export_weights": _export,
    "list_artifacts": _artifacts,
}


@pytest.mark.parametrize("use", USES.values(), ids=list(USES))
def test_a_path_just_saved_is_found_in_a_list_that_lags(
    fake: FakeWeaver,
    clock: FakeClock,
    svc: ServiceClient,
    trainer: TrainingClient,
    use: Callable[[ServiceClient, TrainingClient, Checkpoint], str],
) -> None:
    # It raised NotFoundError: the list was read once, before it showed the checkpoint.
    saved = trainer.save_state("c")
    (record,) = fake.checkpoints["m-1"]
    artifact = artifact_json(checkpoint_id=record["id"])
    fake.script("POST", f"/api/v1/checkpoints/{record['id']}/export", json_reply(200, artifact))
    fake.script(
        "GET",
        f"/api/v1/checkpoints/{record['id']}/artifacts",
        json_reply(200, {"items": [artifact]}),
    )
    lag(fake, 2)
    assert use(svc, trainer, saved) == record["id"]
    assert len(fake.sent("GET", LIST)) == 3
    assert len(clock.sleeps) == 2


def test_a_missing_path_is_not_found_after_a_few_short_looks(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    trainer.save_state("c")
    with pytest.raises(NotFoundError) as missing:
        trainer.get_checkpoint("weaver://m-1/checkpoints/never")
    listings = len(fake.sent("GET", LIST))
    assert listings == 4  # the README's "looked for 3 times more"
    assert f"listed {listings} times" in str(missing.value)
    assert "may list a checkpoint it has just saved only later" in str(missing.value)
    # Each pause is the poll backoff of its look, at least min_interval.
    assert len(clock.sleeps) == listings - 1
    for attempt, slept in enumerate(clock.sleeps):
        cap = SETTINGS.initial_backoff * 2**attempt
        assert SETTINGS.min_interval <= slept <= cap


def test_the_looks_end_at_the_call_s_deadline_as_not_found(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # A pause the deadline leaves no time for, and a look after it, is not taken: the
    # path is not found, rather than the call timing out.
    timeout = SETTINGS.initial_backoff
    with pytest.raises(NotFoundError, match="listed 2 times"):
        trainer.with_options(timeout=timeout).get_checkpoint("weaver://m-1/checkpoints/never")
    assert len(fake.sent("GET", LIST)) == 2
    assert sum(clock.sleeps) < timeout


def test_a_listing_that_refuses_the_model_is_not_looked_at_again(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # A 404 of the listing says its model is not there: waiting changes nothing.
    refused: dict[str, Any] = {"error": "not_found", "message": "no model", "retryable": False}
    fake.script("GET", LIST, json_reply(404, refused))
    with pytest.raises(NotFoundError, match="no model"):
        trainer.get_checkpoint("weaver://m-1/checkpoints/c")
    assert len(fake.sent("GET", LIST)) == 1
    assert clock.sleeps == []


async def test_async_a_path_just_saved_is_found_in_a_list_that_lags() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        saved = await trainer.save_state("c")
        lag(fake, 2)
        found = await trainer.get_checkpoint(saved.path)
    assert str(found.id) == fake.checkpoints["m-1"][0]["id"]
    assert len(fake.sent("GET", LIST)) == 3
    assert len(clock.sleeps) == 2


def test_an_id_just_saved_is_found_in_a_list_that_lags(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # Without GET /checkpoints/{id} (the real service), an id is looked up in the list too.
    saved = trainer.save_state("c")
    by_id = f"/api/v1/checkpoints/{saved.id}"
    refused = {"error": "method_not_allowed", "message": "no route", "retryable": False}
    fake.script("GET", by_id, json_reply(405, refused))
    lag(fake, 2)
    assert str(trainer.get_checkpoint(saved.id).id) == fake.checkpoints["m-1"][0]["id"]
    assert len(fake.sent("GET", by_id)) == 1
    assert len(fake.sent("GET", LIST)) == 3
    assert len(clock.sleeps) == 2


def listing(fake: FakeWeaver, *records: dict[str, Any], times: int) -> None:
    """The model's next ``times`` listings show ``records`` alone."""
    fake.script("GET", LIST, *[json_reply(200, {"items": list(records)})] * times)


def latest_id(trainer: TrainingClient) -> str:
    latest = trainer.latest_checkpoint()
    assert latest is not None
    return str(latest.id)


def test_the_latest_checkpoint_just_saved_is_found_in_a_list_that_lags(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # It was the save before: the list, read once, did not show the newest one yet.
    trainer.save_state("a")
    trainer.save_state("b")
    first, second = fake.checkpoints["m-1"]
    listing(fake, first, times=2)
    assert latest_id(trainer) == second["id"]
    assert (len(fake.sent("GET", LIST)), len(clock.sleeps)) == (3, 2)
    # Looked for once: a later call takes the listing as it is.
    listing(fake, first, times=1)
    assert latest_id(trainer) == first["id"]
    assert (len(fake.sent("GET", LIST)), len(clock.sleeps)) == (4, 2)


def test_a_save_gone_from_the_list_is_looked_for_a_few_times_once(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # Deleted by another process, or expired: the list is right, and after a few looks
    # its newest is the answer; the next call does not look again.
    trainer.save_state("a")
    trainer.save_state("b")
    first = fake.checkpoints["m-1"][0]
    listing(fake, first, times=5)
    assert [latest_id(trainer), latest_id(trainer)] == [first["id"]] * 2
    assert (len(fake.sent("GET", LIST)), len(clock.sleeps)) == (5, 3)


def test_a_save_this_client_deleted_is_not_looked_for(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    trainer.save_state("a")
    trainer.delete_checkpoint(trainer.save_state("b"))
    (first,) = fake.checkpoints["m-1"]
    listings = len(fake.sent("GET", LIST))
    assert latest_id(trainer) == first["id"]
    assert (len(fake.sent("GET", LIST)), clock.sleeps) == (listings + 1, [])


DELETED_REFS: dict[str, Callable[[Checkpoint], object]] = {
    "path": lambda c: str(c.path),
    "CheckpointPath": lambda c: c.path,
    "id": lambda c: c.id,
    "Checkpoint": lambda c: c,
}


@pytest.mark.parametrize("by_id_route", [True, False], ids=["by-id-route", "no-by-id-route"])
@pytest.mark.parametrize("ref", DELETED_REFS.values(), ids=list(DELETED_REFS))
def test_a_checkpoint_this_client_deleted_is_said_deleted_without_looking_again(
    fake: FakeWeaver,
    clock: FakeClock,
    trainer: TrainingClient,
    ref: Callable[[Checkpoint], object],
    by_id_route: bool,
) -> None:
    # It was looked for 3 times more, after pauses, and the error blamed a list that may
    # lag behind a save: this client knows that it deleted it.
    deleted = trainer.delete_checkpoint(trainer.save_state("c"))
    by_id = f"/api/v1/checkpoints/{deleted.id}"
    if not by_id_route:
        refused = {"error": "method_not_allowed", "message": "no route", "retryable": False}
        fake.script("GET", by_id, json_reply(405, refused))
    listings = len(fake.sent("GET", LIST))
    with pytest.raises(NotFoundError) as missing:
        trainer.get_checkpoint(untyped(ref(deleted)))
    assert "this client deleted it" in str(missing.value)
    assert "may list" not in str(missing.value)
    assert len(fake.sent("GET", LIST)) == listings + 1
    with pytest.raises(NotFoundError):
        trainer.delete_checkpoint(untyped(ref(deleted)))
    assert len(fake.sent("GET", LIST)) == listings + 2
    assert clock.sleeps == []


def test_a_save_deleted_before_its_result_was_read_is_not_looked_for(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # Its result, read after the delete, noted it saved: the latest was looked for 3
    # times more, after pauses, for a checkpoint this client had deleted.
    first = trainer.save_state("a")
    handle = trainer.save_state("b", wait=False)
    trainer.delete_checkpoint("weaver://m-1/checkpoints/b")
    handle.result()
    listings, sleeps = len(fake.sent("GET", LIST)), len(clock.sleeps)
    assert latest_id(trainer) == str(first.id)
    assert (len(fake.sent("GET", LIST)), len(clock.sleeps)) == (listings + 1, sleeps)


@contextlib.contextmanager
def deleting_in_a_pause(
    fake: FakeWeaver, clock: FakeClock
) -> Iterator[tuple[TrainingClient, list[Checkpoint]]]:
    """A trainer whose first pause between looks lets another thread delete the
    checkpoints put in the list it yields, and waits for those deletes to end."""
    to_delete: list[Checkpoint] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        for checkpoint in to_delete:
            deleter = threading.Thread(target=client.delete_checkpoint, args=(checkpoint,))
            deleter.start()
            deleter.join()
        to_delete.clear()

    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=sleep) as svc:
        client = svc.create_training_client("weaver-tiny")
        yield client, to_delete


def test_a_checkpoint_another_thread_deletes_while_it_is_looked_for_is_said_deleted(
    fake: FakeWeaver, clock: FakeClock
) -> None:
    # A get that began before this client's own delete (in another thread) ended went
    # on looking, 3 times, and blamed a list that may lag behind a save.
    with deleting_in_a_pause(fake, clock) as (trainer, to_delete):
        saved = trainer.save_state("c")
        lag(fake, 1)
        sleeps = len(clock.sleeps)
        to_delete.append(saved)
        with pytest.raises(NotFoundError) as missing:
            trainer.get_checkpoint(str(saved.path))
        assert len(fake.sent("DELETE", f"/api/v1/checkpoints/{saved.id}")) == 1
    assert "this client deleted it" in str(missing.value)
    assert "may list" not in str(missing.value)
    assert len(clock.sleeps) == sleeps + 1


def test_a_save_another_thread_deletes_while_the_latest_is_looked_for_is_not_waited_for(
    fake: FakeWeaver, clock: FakeClock
) -> None:
    with deleting_in_a_pause(fake, clock) as (trainer, to_delete):
        first = trainer.save_state("a")
        second = trainer.save_state("b")
        lag(fake, 1)
        listings, sleeps = len(fake.sent("GET", LIST)), len(clock.sleeps)
        to_delete.append(second)
        assert latest_id(trainer) == str(first.id)
    assert (len(fake.sent("GET", LIST)), len(clock.sleeps)) == (listings + 2, sleeps + 1)


def test_a_save_another_latest_found_is_still_looked_for_by_a_latest_under_way(
    fake: FakeWeaver, clock: FakeClock
) -> None:
    # Only a delete stops a latest's looks for a save: another thread's latest_checkpoint,
    # whose list showed the save and which then forgot it, says nothing of this one's list.
    others: list[TrainingClient] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        while others:
            other = threading.Thread(target=latest_id, args=(others.pop(),))
            other.start()
            other.join()
            lag(fake, 1)  # this listing again lags behind the save the other one saw

    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        trainer.save_state("a")
        saved = trainer.save_state("b")
        lag(fake, 1)
        others.append(trainer)
        assert latest_id(trainer) == str(saved.id)


def _download(svc: ServiceClient, trainer: TrainingClient, ref: object) -> object:
    return svc.download_weights(untyped(ref), "/nonexistent/never-written")


def _resume(svc: ServiceClient, trainer: TrainingClient, ref: object) -> object:
    return svc.create_training_client_from_state(untyped(ref))


# Each call that finds a checkpoint by its path in its model's list, with the refs it takes.
FINDING: dict[str, tuple[Callable[[ServiceClient, TrainingClient, object], object], str]] = {
    "export_weights-path": (lambda svc, t, ref: t.export_weights(untyped(ref)), "path"),
    "export_weights-CheckpointPath": (
        lambda svc, t, ref: t.export_weights(untyped(ref)),
        "CheckpointPath",
    ),
    "list_artifacts-path": (lambda svc, t, ref: svc.list_artifacts(untyped(ref)), "path"),
    "download_weights-path": (_download, "path"),
    "resume-path": (_resume, "path"),
    "resume-CheckpointPath": (_resume, "CheckpointPath"),
    "resume-Checkpoint": (_resume, "Checkpoint"),  # its status `deleted`: read again
    "set_checkpoint_ttl-id": (lambda svc, t, ref: t.set_checkpoint_ttl(untyped(ref), 60), "id"),
}


@pytest.mark.parametrize("use", FINDING.values(), ids=list(FINDING))
def test_every_call_that_finds_a_checkpoint_this_client_deleted_says_so_at_once(
    fake: FakeWeaver,
    clock: FakeClock,
    svc: ServiceClient,
    trainer: TrainingClient,
    use: tuple[Callable[[ServiceClient, TrainingClient, object], object], str],
) -> None:
    # Only get_checkpoint said so: these looked for it 3 times more, after pauses, and
    # blamed a list that may lag behind a save.
    call, ref = use
    deleted = trainer.delete_checkpoint(trainer.save_state("c"))
    listings, models = len(fake.sent("GET", LIST)), len(fake.sent("POST", "/api/v1/models"))
    with pytest.raises(NotFoundError) as missing:
        call(svc, trainer, DELETED_REFS[ref](deleted))
    assert "this client deleted it" in str(missing.value)
    assert "may list" not in str(missing.value)
    assert len(fake.sent("GET", LIST)) == listings + 1
    assert clock.sleeps == []
    assert len(fake.sent("POST", "/api/v1/models")) == models  # no model made to resume it


def test_a_resume_of_an_id_this_client_deleted_is_not_found_not_unsupported(
    fake: FakeWeaver, clock: FakeClock, svc: ServiceClient, trainer: TrainingClient
) -> None:
    # A server whose DELETE by id worked has the checkpoint-by-id routes: its 404 of the
    # id says the checkpoint is gone, not that an id alone names no model to look in.
    deleted = trainer.delete_checkpoint(trainer.save_state("c"))
    with pytest.raises(NotFoundError) as missing:
        svc.create_training_client_from_state(deleted.id)
    assert type(missing.value) is NotFoundError
    assert "this client deleted it" in str(missing.value)
    assert missing.value.status_code == 404
    assert clock.sleeps == []


# The calls that send a checkpoint's path itself, and the request that carries it.
SENDING: dict[str, tuple[Callable[[TrainingClient, object], object], str]] = {
    "load_state": (lambda t, ref: t.load_state(untyped(ref)), "POST /api/v1/models/m-1/load"),
    "load_state_with_optimizer": (
        lambda t, ref: t.load_state_with_optimizer(untyped(ref)),
        "POST /api/v1/models/m-1/load",
    ),
    "set_checkpoint_ttl": (
        lambda t, ref: t.set_checkpoint_ttl(untyped(ref), 60),
        "PATCH /api/v1/models/m-1/checkpoints/ttl",
    ),
}


@pytest.mark.parametrize("ref", ["path", "CheckpointPath", "Checkpoint"])  # none takes an id
@pytest.mark.parametrize("use", SENDING.values(), ids=list(SENDING))
def test_a_path_this_client_deleted_is_said_deleted_in_the_server_s_404(
    fake: FakeWeaver,
    clock: FakeClock,
    trainer: TrainingClient,
    use: tuple[Callable[[TrainingClient, object], object], str],
    ref: str,
) -> None:
    # Sent at once, and the server's 404 came at once; but it did not say that this
    # client had deleted the checkpoint, as a lookup of it does.
    call, request = use
    deleted = trainer.delete_checkpoint(trainer.save_state("c"))
    listings = len(fake.sent("GET", LIST))
    with pytest.raises(NotFoundError) as missing:
        call(trainer, DELETED_REFS[ref](deleted))
    assert missing.value.status_code == 404  # the server's own refusal
    assert missing.value.__notes__ == [f"this client deleted checkpoint {deleted.path}"]
    assert len(fake.sent(*request.split())) == 1
    assert (len(fake.sent("GET", LIST)), clock.sleeps) == (listings, [])


def test_a_load_of_a_path_another_process_saved_since_is_sent_all_the_same(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    deleted = trainer.delete_checkpoint(trainer.save_state("c"))
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "c"))  # saved by another process
    assert trainer.load_state(str(deleted.path)).path == deleted.path


async def test_async_the_service_s_calls_say_a_path_this_client_deleted_at_once() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        path = str((await trainer.delete_checkpoint(await trainer.save_state("c"))).path)
        listings = len(fake.sent("GET", LIST))
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: trainer.export_weights(path),
            lambda: svc.list_artifacts(path),
            lambda: svc.download_weights(path, "/nonexistent/never-written"),
            lambda: svc.create_training_client_from_state(path),
        ]
        for call in calls:
            with pytest.raises(NotFoundError, match="this client deleted it"):
                await call()
    assert len(fake.sent("GET", LIST)) == listings + len(calls)
    assert clock.sleeps == []


def test_a_name_saved_again_after_its_delete_is_looked_for_in_a_list_that_lags(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    trainer.delete_checkpoint(trainer.save_state("c"))
    again = trainer.save_state("c")
    lag(fake, 2)
    assert trainer.get_checkpoint(str(again.path)).id == again.id
    assert len(clock.sleeps) == 2


async def test_async_the_latest_checkpoint_just_saved_is_found_in_a_list_that_lags() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await trainer.save_state("a")
        await trainer.save_state("b")
        first, second = fake.checkpoints["m-1"]
        listing(fake, first, times=2)
        latest = await trainer.latest_checkpoint()
    assert latest is not None
    assert str(latest.id) == second["id"]
    assert len(fake.sent("GET", LIST)) == 3
    assert len(clock.sleeps) == 2


class Gate:
    """One request's way through ``GatedTransport``: ``arrived`` once it is there, sent on
    to the server once ``go`` is set, ``acted`` once the server has answered it, and that
    reply returned once ``reply`` is set."""

    def __init__(self, *, go: bool = True) -> None:
        self.arrived = asyncio.Event()
        self.go = asyncio.Event()
        self.acted = asyncio.Event()
        self.reply = asyncio.Event()
        if go:
            self.go.set()


class GatedTransport(httpx.AsyncBaseTransport):
    """``fake`` behind an async transport that takes the next request to each gated
    ``(method, path)`` through its ``Gate``."""

    def __init__(self, fake: FakeWeaver) -> None:
        self._fake = fake
        self.gates: dict[tuple[str, str], Gate] = {}

    def gate(self, method: str, path: str, *, go: bool = True) -> Gate:
        gate = self.gates[(method, path)] = Gate(go=go)
        return gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        gate = self.gates.pop((request.method, request.url.path), None)
        if gate is None:
            return self._fake(request)
        gate.arrived.set()
        await gate.go.wait()
        reply = self._fake(request)
        gate.acted.set()
        await gate.reply.wait()
        return reply


class Gated(NamedTuple):
    """An async client's model with a checkpoint ``c`` (``old``), through a ``GatedTransport``."""

    fake: FakeWeaver
    clock: FakeClock
    transport: GatedTransport
    trainer: AsyncTrainingClient
    old: Checkpoint


@contextlib.asynccontextmanager
async def gated() -> AsyncIterator[Gated]:
    fake, clock = FakeWeaver(), FakeClock()
    transport = GatedTransport(fake)
    poll = PollPolicy(SETTINGS, clock=clock, rng=lambda: 0.5)
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncServiceClient(
            BASE, KEY, http_client=http, poll=poll, sleep=clock.asleep, heartbeat_interval=0
        ) as svc,
    ):
        trainer = await svc.create_training_client("weaver-tiny")
        yield Gated(fake, clock, transport, trainer, await trainer.save_state("c"))


SAVE = "/api/v1/models/m-1/checkpoints"


async def _save_answered_first(
    transport: GatedTransport, trainer: AsyncTrainingClient, deleting: asyncio.Task[Checkpoint]
) -> Checkpoint:
    # The server deleted it and made it anew; the save's reply came, then the delete's.
    deleted = transport.gates[("DELETE", DELETE)]
    await deleted.acted.wait()
    again = await trainer.save_state("c")
    deleted.reply.set()
    await deleting
    return again


async def _save_answered_last(
    transport: GatedTransport, trainer: AsyncTrainingClient, deleting: asyncio.Task[Checkpoint]
) -> Checkpoint:
    # The server deleted it and made it anew; the delete's reply came, then the save's.
    deleted, saved = transport.gates[("DELETE", DELETE)], transport.gate("POST", SAVE)
    await deleted.acted.wait()
    saving = asyncio.create_task(trainer.save_state("c"))
    await saved.acted.wait()
    deleted.reply.set()
    await deleting
    saved.reply.set()
    return await saving


async def _save_sent_first(
    transport: GatedTransport, trainer: AsyncTrainingClient, deleting: asyncio.Task[Checkpoint]
) -> Checkpoint:
    # The save was sent before the delete, but reached the server after it.
    deleted, saved = transport.gates[("DELETE", DELETE)], transport.gate("POST", SAVE, go=False)
    deleted.go.clear()
    saving = asyncio.create_task(trainer.save_state("c"))
    await saved.arrived.wait()
    deleted.go.set()
    await deleted.acted.wait()
    saved.go.set()
    saved.reply.set()
    again = await saving
    deleted.reply.set()
    await deleting
    return again


async def _save_sent_first_answered_last(
    transport: GatedTransport, trainer: AsyncTrainingClient, deleting: asyncio.Task[Checkpoint]
) -> Checkpoint:
    # The save was sent before the delete, and reached the server after the delete's
    # reply came.
    deleted, saved = transport.gates[("DELETE", DELETE)], transport.gate("POST", SAVE, go=False)
    deleted.go.clear()
    saving = asyncio.create_task(trainer.save_state("c"))
    await saved.arrived.wait()
    deleted.go.set()
    deleted.reply.set()
    await deleting
    saved.go.set()
    saved.reply.set()
    return await saving


# The delete of checkpoint c (an id of the fake's, by its name) and a save of c again.
DELETE = f"/api/v1/checkpoints/{checkpoint_json('m-1', 'c')['id']}"
RACES = {
    "save-answered-first": _save_answered_first,
    "save-answered-last": _save_answered_last,
    "save-sent-first": _save_sent_first,
    "save-sent-first-answered-last": _save_sent_first_answered_last,
}


@pytest.mark.parametrize("race", RACES.values(), ids=list(RACES))
async def test_a_save_of_the_name_while_its_delete_is_on_its_way_is_looked_for_again(
    race: Callable[
        [GatedTransport, AsyncTrainingClient, asyncio.Task[Checkpoint]], Awaitable[Checkpoint]
    ],
) -> None:
    # The delete's reply, come after the save began, recorded the path as deleted: a
    # lookup of the checkpoint the save made, in a list that lags, said "this client
    # deleted it" after one listing.
    async with gated() as (fake, clock, transport, trainer, old):
        transport.gate("DELETE", DELETE)
        deleting = asyncio.create_task(trainer.delete_checkpoint(old))
        again = await race(transport, trainer, deleting)
        assert [c["name"] for c in fake.checkpoints["m-1"]] == ["c"]  # made after the delete
        lag(fake, 2)
        found = await trainer.get_checkpoint(again.path)
    assert found.path == again.path
    assert len(clock.sleeps) == 2


async def test_a_save_of_another_name_while_a_delete_is_on_its_way_leaves_it_deleted() -> None:
    async with gated() as (_, clock, transport, trainer, old):
        deleted = transport.gate("DELETE", DELETE)
        deleting = asyncio.create_task(trainer.delete_checkpoint(old))
        await deleted.acted.wait()
        await trainer.save_state("d")
        deleted.reply.set()
        await deleting
        with pytest.raises(NotFoundError, match="this client deleted it"):
            await trainer.get_checkpoint(old.path)
    assert clock.sleeps == []


def test_a_list_behind_a_delete_that_still_shows_it_leaves_it_deleted(
    fake: FakeWeaver, clock: FakeClock, trainer: TrainingClient
) -> None:
    # The checkpoint found is the one deleted (its id): no sign that the name is back.
    saved = trainer.save_state("c")
    record = dict(fake.checkpoints["m-1"][0])
    trainer.delete_checkpoint(saved)
    listing(fake, record, times=1)
    assert trainer.get_checkpoint(saved.path).id == saved.id
    with pytest.raises(NotFoundError, match="this client deleted it"):
        trainer.get_checkpoint(saved.path)
    assert clock.sleeps == []


async def test_a_delete_begun_while_a_save_of_the_name_is_on_its_way_is_not_said_deleted() -> None:
    # Until the save is answered, the server may make the name after the delete: a lookup
    # meanwhile does not say "this client deleted it".
    async with gated() as (_, clock, transport, trainer, old):
        saved = transport.gate("POST", SAVE, go=False)
        saving = asyncio.create_task(trainer.save_state("c"))
        await saved.arrived.wait()
        transport.gate("DELETE", DELETE).reply.set()
        await trainer.delete_checkpoint(old)
        with pytest.raises(NotFoundError) as missing:
            await trainer.get_checkpoint(old.path)
        saved.go.set()
        saved.reply.set()
        again = await saving
    assert "this client deleted it" not in str(missing.value)
    assert len(clock.sleeps) == 3  # looked for as any path the list lacks
    assert again.path == old.path


def test_a_save_of_a_new_name_each_step_keeps_no_record_of_it() -> None:
    # The record of deletes counted every name ever saved, for good: some 300 bytes a save
    # in a loop that saves a new name each step. Only a name being deleted needs a count.
    deleted = DeletedHere()
    paths = [CheckpointPath(model_id="m-1", name=f"step-{i}") for i in range(20_000)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for path in paths:
            with deleted.saving(path):
                pass
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 16 * len(paths), f"{grown / len(paths):.0f} bytes a name"


def test_a_save_costs_no_more_after_many_saves() -> None:
    # The ids of saves not yet looked for were a frozenset, copied whole by each save: some
    # 10 s of copying for 20,000 saves between two latest_checkpoint() calls, 1 ms a save.
    steps = ModelSteps(threading.Lock(), DeletedHere())
    ids = [uuid.uuid4() for _ in range(20_000)]
    started = time.perf_counter()
    for checkpoint_id in ids:
        steps.note_saved(checkpoint_id)
    assert time.perf_counter() - started < 2.0
