"""The facade against a server without the spec's extensions (``extensions="none"``).

Every POST the facade retries is checked with its first reply lost after the
server acted (a client-side transport that forwards the request, reads the
reply and then drops it), so the retry meets whatever the first attempt did;
without ``Idempotency-Key`` the server does not recognise it. The server's
own records (its SQLite store) are the independent witness of what happened.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.integration import API_KEY, BASE_MODEL, FAST_RETRY, batch
from weaver_facade import (
    ArtifactStatus,
    AsyncServiceClient,
    Checkpoint,
    CheckpointExistsError,
    CheckpointRef,
    CheckpointStatus,
    ExportInProgressError,
    InvalidArgumentError,
    LoadResult,
    NotFoundError,
    OperationProgress,
    PollSettings,
    ServiceClient,
    TrainingClient,
    UnsupportedByServerError,
)
from weaver_facade.emulator import RunningEmulator, run_emulator


class DropAfterActing(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Lose the reply of the first ``count`` requests whose path ends with a suffix."""

    def __init__(self, base_url: str) -> None:
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()
        self.rules: dict[tuple[str, str], int] = {}
        self.dropped: list[str] = []
        # Checkpoint listings to answer empty, as a server whose listings lag may.
        self.lagging_listings = 0
        # Error codes to give under another name, as another server may.
        self.codes: dict[str, str] = {}

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()

    def drop(self, method: str, suffix: str, count: int = 1) -> None:
        self.rules[(method, suffix)] = count

    def _hit(self, request: httpx.Request) -> bool:
        for (method, suffix), left in self.rules.items():
            if left and request.method == method and request.url.path.endswith(suffix):
                self.rules[(method, suffix)] = left - 1
                self.dropped.append(request.url.path)
                return True
        return False

    def _lagging(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not (self.lagging_listings and request.url.path.endswith("/checkpoints")):
            return response
        if request.method != "GET":
            return response
        self.lagging_listings -= 1
        return httpx.Response(200, json={"items": []})

    def _recoded(self, response: httpx.Response) -> httpx.Response:
        body = response.json() if response.is_error else {}
        if body.get("error") not in self.codes:
            return response
        body["error"] = self.codes[body["error"]]
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, json=body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._sync.handle_request(request)
        response.read()
        response.close()
        if self._hit(request):
            raise httpx.ReadError("connection reset after the server acted", request=request)
        return self._recoded(self._lagging(request, response))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._async.handle_async_request(request)
        await response.aread()
        await response.aclose()
        if self._hit(request):
            raise httpx.ReadError("connection reset after the server acted", request=request)
        return self._recoded(self._lagging(request, response))


Clock = Callable[[], float]


class ServerClock:
    """The emulator's clock, which a test may set back to make a checkpoint look old."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def server_clock() -> ServerClock:
    return ServerClock()


@pytest.fixture
def emulator_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def emu(server_clock: ServerClock, emulator_config: dict[str, Any]) -> Iterator[RunningEmulator]:
    config = {"extensions": "none", "clock": server_clock, **emulator_config}
    with run_emulator(api_keys=(API_KEY,), **config) as running:
        yield running


@pytest.fixture
def lossy(emu: RunningEmulator) -> Iterator[tuple[DropAfterActing, ServiceClient]]:
    transport = DropAfterActing(emu.base_url)
    http = httpx.Client(transport=transport)
    with ServiceClient(emu.base_url, API_KEY, http_client=http, retry=FAST_RETRY) as service:
        yield transport, service
    http.close()


def rows(emu: RunningEmulator, sql: str, *params: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(Path(emu.data_dir) / "weaver.db") as db:
        return list(db.execute(sql, params).fetchall())


def test_a_save_whose_reply_was_lost_returns_its_own_checkpoint_once(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    transport.drop("POST", "/checkpoints")
    saved = trainer.save_state("lost-reply")
    assert transport.dropped == [f"/api/v1/models/{trainer.model_id}/checkpoints"]
    assert saved.status is CheckpointStatus.COMPLETED
    assert rows(emu, "SELECT id, name FROM checkpoints") == [(str(saved.id), "lost-reply")]
    assert trainer.list_checkpoints() == [saved]


def test_a_lost_reply_whose_checkpoint_the_list_does_not_show_yet_says_it_may_be_ours(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    transport.drop("POST", "/checkpoints")
    transport.lagging_listings = 1
    with pytest.raises(CheckpointExistsError) as exists:
        trainer.save_state("lagging")
    assert transport.dropped
    assert transport.lagging_listings == 0
    # The server did make it: the 409 was this save's own first attempt.
    assert [name for (name,) in rows(emu, "SELECT name FROM checkpoints")] == ["lagging"]
    (note,) = exists.value.__notes__
    assert "may have made it" in note
    assert "list_checkpoints()" in note
    # A save that lost no reply meets a real conflict, with no such note.
    with pytest.raises(CheckpointExistsError) as real:
        trainer.save_state("lagging")
    assert not getattr(real.value, "__notes__", None)


def test_a_path_just_saved_is_found_though_the_list_lags(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient], tmp_path: Path
) -> None:
    # Each lookup of the path read the list once, which did not show the checkpoint yet:
    # NotFoundError, for a checkpoint the call before had saved.
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    saved = trainer.save_state("lagging")
    path = str(saved.path)
    transport.lagging_listings = 1
    assert trainer.get_checkpoint(path) == saved
    transport.lagging_listings = 1
    assert trainer.latest_checkpoint() == saved  # was None: the one listing was empty
    transport.lagging_listings = 1
    artifact = trainer.export_weights(path)
    transport.lagging_listings = 1
    downloaded = service.download_weights(path, tmp_path / "weights")
    assert transport.lagging_listings == 0
    # The server's own records: the export and the download are of the saved checkpoint.
    exported = rows(emu, "SELECT id, checkpoint_id FROM artifacts")
    assert exported == [(str(artifact.id), str(saved.id))]
    assert downloaded.artifact_id == artifact.id
    # An export of the current weights saves them as a checkpoint first.
    trainer.export_weights()
    transport.lagging_listings = 1
    latest = trainer.latest_checkpoint()
    newest = "SELECT id FROM checkpoints WHERE model_id = ? ORDER BY seq DESC LIMIT 1"
    assert latest is not None
    assert [(str(latest.id),)] == rows(emu, newest, trainer.model_id)
    assert latest.id != saved.id


@pytest.mark.parametrize(
    ("code", "export_code"),
    [("checkpoint_exists", "export_in_progress"), ("already_exists", "conflict")],
)
@pytest.mark.parametrize("emulator_config", [{"latency": {"export_checkpoint": 1.0}}])
def test_a_lost_reply_is_recovered_whatever_the_409s_code(
    emu: RunningEmulator,
    lossy: tuple[DropAfterActing, ServiceClient],
    code: str,
    export_code: str,
) -> None:
    # The wire sheet names no code for these conflicts: a server that says "already_exists"
    # made the retried save a ConflictError for its own checkpoint.
    transport, service = lossy
    transport.codes = {"checkpoint_exists": code, "export_in_progress": export_code}
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    transport.drop("POST", "/checkpoints")
    saved = trainer.save_state("lost-reply")
    assert transport.dropped
    assert rows(emu, "SELECT id FROM checkpoints") == [(str(saved.id),)]
    first = trainer.export_weights(saved)
    transport.drop("POST", "/export")
    replaced = trainer.export_weights(saved, force=True)
    assert replaced.id != first.id
    live = rows(emu, "SELECT id FROM artifacts WHERE status = 'completed'")
    assert live == [(str(replaced.id),)]
    # Without a lost reply, the same 409 is still a real conflict: the name is taken,
    # whatever the code says.
    with pytest.raises(CheckpointExistsError) as conflict:
        trainer.save_state("lost-reply")
    assert conflict.value.code == code
    assert not getattr(conflict.value, "__notes__", None)


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 0.6}}])
def test_a_recovered_save_still_pending_is_waited_for(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    transport.drop("POST", "/checkpoints")
    handle = trainer.save_state("slow", wait=False)
    assert handle.id == f"weaver://{trainer.model_id}/checkpoints/slow"
    assert handle.status.value == "pending"
    saved = handle.result(timeout=30)
    assert saved.status is CheckpointStatus.COMPLETED
    assert rows(emu, "SELECT id, status FROM checkpoints") == [(str(saved.id), "completed")]
    # The weights and optimizer state really are the saved ones: resume from them.
    other = service.create_training_client(BASE_MODEL, seed=2)
    assert other.load_state_with_optimizer(saved).path == saved.path


async def test_async_recovery(emu: RunningEmulator) -> None:
    transport = DropAfterActing(emu.base_url)
    http = httpx.AsyncClient(transport=transport)
    async with AsyncServiceClient(
        emu.base_url, API_KEY, http_client=http, retry=FAST_RETRY
    ) as service:
        trainer = await service.create_training_client(BASE_MODEL, seed=1)
        transport.drop("POST", "/checkpoints")
        saved = await trainer.save_state("async-lost")
        assert await trainer.list_checkpoints() == [saved]
    await http.aclose()
    assert transport.dropped


def test_a_checkpoint_that_existed_before_the_call_still_conflicts(
    emu: RunningEmulator,
    lossy: tuple[DropAfterActing, ServiceClient],
    server_clock: ServerClock,
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    server_clock.offset = -30.0  # this one is made "30 s ago" in server time
    old = trainer.save_state("taken")
    server_clock.offset = 0.0
    transport.drop("POST", "/checkpoints")  # the retry is no proof of anything
    with pytest.raises(CheckpointExistsError):
        trainer.save_state("taken")
    assert transport.dropped
    # Another type, however recent, is not ours either.
    trainer.save_state("weights", include_optimizer=False)
    transport.drop("POST", "/checkpoints")
    with pytest.raises(CheckpointExistsError):
        trainer.save_state("weights", include_optimizer=True)
    # And without a lost reply, a duplicate name is the plain 409.
    with pytest.raises(CheckpointExistsError):
        trainer.save_state("weights", include_optimizer=False)
    assert [c.name for c in trainer.list_checkpoints()] == ["taken", "weights"]
    assert trainer.get_checkpoint(old.path) == old


def test_every_other_retried_post_is_exactly_once_or_harmless(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    data = batch()
    # Session and model: a lost session reply leaves an unused session; a lost model
    # reply is answered with the same model (the server de-duplicates model_seq_id).
    transport.drop("POST", "/sessions")
    transport.drop("POST", "/models")
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    assert len(rows(emu, "SELECT id FROM sessions")) == 2
    assert rows(emu, "SELECT id FROM models") == [(trainer.model_id,)]
    reference = service.create_training_client(BASE_MODEL, seed=1)
    # Training steps: the server de-duplicates (model_id, seq_id).
    transport.drop("POST", "/forward-backward-passes")
    transport.drop("POST", "/optimizer-steps")
    losses = []
    for _ in range(2):
        losses.append(trainer.forward_backward(data).loss)
        trainer.optim_step()
    expected = []
    for _ in range(2):
        expected.append(reference.forward_backward(data).loss)
        reference.optim_step()
    assert losses == expected
    ops = rows(emu, "SELECT kind FROM operations WHERE model_id=?", trainer.model_id)
    assert sorted(k for (k,) in ops) == ["forward_backward"] * 2 + ["optim_step"] * 2
    # Loads: the load runs twice, to the same state: the resume stays exact.
    saved = trainer.save_state("resume-here")
    after = [trainer.forward_backward(data).loss]
    resumed = service.create_training_client(BASE_MODEL, seed=5)
    transport.drop("POST", "/load")
    resumed.load_state_with_optimizer(saved)
    assert [resumed.forward_backward(data).loss] == after
    loads = rows(
        emu,
        "SELECT status FROM operations WHERE model_id=? AND kind='load_checkpoint'",
        resumed.model_id,
    )
    assert loads == [("done",), ("done",)]
    assert len(transport.dropped) == 5


def test_a_retried_export_is_once_and_a_retried_save_and_export_saves_twice(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    saved = trainer.save_state("to-export")
    # Exporting a checkpoint: the retry is an identical export, answered with the first.
    transport.drop("POST", "/export")
    artifact = trainer.export_weights(saved)
    assert rows(emu, "SELECT id FROM artifacts") == [(str(artifact.id),)]
    # Saving and exporting in one step: the retry saves and exports again; the call
    # returns the second, and the first checkpoint and artifact stay on the server.
    transport.drop("POST", "/export-hf")
    again = trainer.export_weights()
    assert transport.dropped[-1].endswith("/export-hf")
    made = rows(emu, "SELECT id FROM artifacts WHERE id != ? ORDER BY seq", str(artifact.id))
    assert len(made) == 2
    assert (str(again.id),) == made[-1]
    assert len(trainer.list_checkpoints()) == 3


@pytest.mark.parametrize("emulator_config", [{"latency": {"export_checkpoint": 1.0}}])
def test_a_forced_export_whose_reply_was_lost_waits_for_its_own_export(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    transport, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    saved = trainer.save_state("to-export")
    first = trainer.export_weights(saved)
    # The retry of the lost forced export meets that export still running: ours.
    transport.drop("POST", "/export")
    replaced = trainer.export_weights(saved, force=True)
    assert transport.dropped
    assert replaced.id != first.id
    assert replaced.status is ArtifactStatus.COMPLETED
    live = rows(emu, "SELECT id FROM artifacts WHERE status = 'completed'")
    assert live == [(str(replaced.id),)]
    # Without a lost reply, forcing an export that is still running is a real conflict.
    trainer.export_weights(saved, force=True, wait=False)
    with pytest.raises(ExportInProgressError):
        trainer.export_weights(saved, force=True)


def test_get_by_id_falls_back_to_the_models_list_and_delete_is_unsupported(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    _, service = lossy
    trainer: TrainingClient = service.create_training_client(BASE_MODEL, seed=1)
    saved = trainer.save_state("by-id", ttl_seconds=600)
    by_id: tuple[CheckpointRef, ...] = (saved.id, str(saved.id), saved)
    for ref in by_id:
        assert trainer.get_checkpoint(ref) == saved
    assert trainer.set_checkpoint_ttl(saved.id, None).ttl_seconds is None
    for ref in (saved.id, saved.path, saved):
        with pytest.raises(UnsupportedByServerError) as refused:
            trainer.delete_checkpoint(ref)
        assert refused.value.extension == "checkpoint-by-id"
        assert str(refused.value).startswith("delete_checkpoint: this server cannot delete")
    assert rows(emu, "SELECT status FROM checkpoints") == [("completed",)]
    unknown = "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09"
    with pytest.raises(NotFoundError):
        trainer.get_checkpoint(unknown)
    with pytest.raises(NotFoundError) as missing:
        trainer.delete_checkpoint(unknown)
    assert not isinstance(missing.value, UnsupportedByServerError)


def test_by_id_only_the_clients_own_model_is_searched_and_a_checkpoint_names_its_own(
    emu: RunningEmulator,
) -> None:
    # The README: by id, get_checkpoint and set_checkpoint_ttl look in "the client's own
    # model for a bare id, the checkpoint's model for a `Checkpoint`; an id of another
    # model is then "not found"". (Short pauses between the looks at a list that lacks it.)
    quick = PollSettings(initial_backoff=0.01, max_backoff=0.01)
    with ServiceClient(emu.base_url, API_KEY, poll=quick) as service:
        _by_id_in_own_model(emu, service)


def _by_id_in_own_model(emu: RunningEmulator, service: ServiceClient) -> None:
    owner = service.create_training_client(BASE_MODEL, seed=1)
    other = service.create_training_client(BASE_MODEL, seed=2)
    saved = owner.save_state("owned", ttl_seconds=600)
    assert other.get_checkpoint(saved) == saved
    assert other.set_checkpoint_ttl(saved, 60).ttl_seconds == 60
    assert rows(emu, "SELECT ttl_seconds FROM checkpoints") == [(60,)]
    for ref in (saved.id, str(saved.id)):
        with pytest.raises(NotFoundError, match=f"checkpoints of model {other.model_id}"):
            other.get_checkpoint(ref)
        with pytest.raises(NotFoundError, match=f"checkpoints of model {other.model_id}"):
            other.set_checkpoint_ttl(ref, None)
    assert rows(emu, "SELECT ttl_seconds FROM checkpoints") == [(60,)]  # left as it was


def test_resuming_a_bare_id_names_the_missing_extension(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    _, service = lossy
    trainer: TrainingClient = service.create_training_client(BASE_MODEL, seed=1)
    saved = trainer.save_state("resume-by-id")
    models_before = rows(emu, "SELECT id FROM models")
    with pytest.raises(UnsupportedByServerError) as refused:
        service.create_training_client_from_state(saved.id)
    assert refused.value.extension == "checkpoint-by-id"
    assert "weaver:// path" in str(refused.value)
    assert rows(emu, "SELECT id FROM models") == models_before
    resumed = service.create_training_client_from_state(saved.path)
    assert resumed.resumed_from is not None
    assert resumed.resumed_from.path == saved.path


def test_without_the_detail_extensions_their_fields_are_none(emu: RunningEmulator) -> None:
    # The README, of `checkpoint-details`, `load-details`, `load-result-model-id` and
    # `conversion-totals`: `Checkpoint.size_bytes` and `.sha256`, `LoadResult.checkpoint_id`
    # and `.optimizer_step` are None, `Checkpoint.model_id` comes from its path,
    # `LoadResult.model_id` from the request (None for a load re-attached), and an
    # export's progress has no totals.
    heard: list[OperationProgress] = []
    with ServiceClient(emu.base_url, API_KEY, on_progress=heard.append) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        trainer.forward_backward(batch())
        trainer.optim_step()
        saved = trainer.save_state("details")
        assert (saved.size_bytes, saved.sha256) == (None, None)
        assert saved.model_id == trainer.model_id
        handle = trainer.load_state_with_optimizer(saved, wait=False)
        loaded = handle.result(timeout=30)
        assert (loaded.checkpoint_id, loaded.optimizer_step) == (None, None)
        assert loaded.model_id == trainer.model_id
        with ServiceClient(emu.base_url, API_KEY) as elsewhere:
            again = elsewhere.operation(handle.id, LoadResult).result(timeout=30)
        assert (again.path, again.model_id) == (loaded.path, None)
        trainer.export_weights(saved)
    conversions = [p.conversion for p in heard if p.conversion is not None]
    assert conversions, "no conversion progress was heard"
    assert {(c.shards_total, c.bytes_total) for c in conversions} == {(None, None)}


def test_without_cursor_paging_a_listing_is_one_reply_and_works_unchanged(
    emu: RunningEmulator,
) -> None:
    # The README, of `cursor-paging`: "a list comes in one reply with every checkpoint;
    # `iter_checkpoints` and `list_checkpoints` work unchanged".
    listings: list[httpx.Request] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/checkpoints") and request.method == "GET":
            listings.append(request)

    http = httpx.Client(event_hooks={"request": [record]})
    with ServiceClient(emu.base_url, API_KEY, http_client=http) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        saved = [trainer.save_state(f"c{i}", wait=False) for i in range(5)]
        names = {handle.result(timeout=30).name for handle in saved}
        listings.clear()
        assert {c.name for c in trainer.list_checkpoints()} == names
        assert len(listings) == 1
        listings.clear()
        assert {c.name for c in trainer.iter_checkpoints(page_size=2)} == names
        assert len(listings) == 1  # the server sends every item, and no next_cursor
    http.close()


def test_attached_without_next_seq_id_the_checkpoint_methods_work(emu: RunningEmulator) -> None:
    # The README: `training_client(model_id)` "needs `next_seq_id=` to train (checkpoint
    # methods work without it)".
    with ServiceClient(emu.base_url, API_KEY) as service:
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        trainer.forward_backward(batch())
        first = trainer.save_state("first")
        with ServiceClient(emu.base_url, API_KEY) as elsewhere:
            attached = elsewhere.training_client(trainer.model_id)
            assert attached.model.next_seq_id is None
            saved = attached.save_state("second")
            assert {c.name for c in attached.list_checkpoints()} == {"first", "second"}
            assert attached.get_checkpoint(first.path) == first
            assert attached.set_checkpoint_ttl(saved.path, 600).ttl_seconds == 600
            assert attached.load_state(first.path).path == first.path
            with pytest.raises(InvalidArgumentError, match="next_seq_id"):
                attached.forward_backward(batch())
    assert rows(emu, "SELECT name, ttl_seconds FROM checkpoints ORDER BY name") == [
        ("first", None),
        ("second", 600),
    ]


def test_attaching_needs_next_seq_id_and_reattaching_gives_the_raw_result(
    emu: RunningEmulator, lossy: tuple[DropAfterActing, ServiceClient]
) -> None:
    _, service = lossy
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    trainer.forward_backward(batch())
    with ServiceClient(emu.base_url, API_KEY) as elsewhere:  # another process, say
        attached = elsewhere.training_client(trainer.model_id)
        assert attached.model.next_seq_id is None  # the server does not say
        with pytest.raises(InvalidArgumentError, match="next_seq_id"):
            attached.optim_step()
        told = elsewhere.training_client(trainer.model_id, next_seq_id=2)
        assert told.optim_step().metrics
    saved = trainer.save_state("raw", wait=False).result(timeout=30)
    handle = trainer.save_state("raw-2", wait=False)
    # Without the operation's kind, a re-attached operation gives its raw response...
    raw = service.operation(handle.id).result(timeout=30)
    assert isinstance(raw, dict)
    assert raw["path"] == f"weaver://{trainer.model_id}/checkpoints/raw-2"
    # ...and the parsed result when the caller names its type.
    assert service.operation(handle.id, Checkpoint).result(timeout=30) == handle.result()
    assert saved.name == "raw"
