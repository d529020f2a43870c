"""Checkpoints: save, list and page, get, delete, TTL, and the rules of loading."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette

from tests.emulator.artifact_support import exported
from tests.emulator.full_disk import FullDisk, used
from tests.support.emulator import KEY_A, Api, AppFactory, FakeClock, assert_error, batch
from weaver_facade.emulator._store import Store

CURSOR = re.compile(r"[A-Za-z0-9_-]{1,256}")


def checkpoint_files(data_dir: Path, checkpoint_id: str) -> list[Path]:
    """The files the emulator keeps for one checkpoint (named by its server-made id)."""
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and checkpoint_id in str(p))


async def removed(data_dir: Path, checkpoint_id: str) -> list[Path]:
    """One checkpoint's files once removed: renamed aside at once (its name free), then
    deleted off the event loop, within 5 s."""
    assert [p for p in checkpoint_files(data_dir, checkpoint_id) if ".removed-" not in p.name] == []
    for _ in range(500):
        if not (left := checkpoint_files(data_dir, checkpoint_id)):
            break
        await asyncio.sleep(0.01)
    return left


def digest(files: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in files:
        sha.update(path.read_bytes())
    return sha.hexdigest()


async def test_save_returns_a_flat_operation_whose_response_is_the_checkpoint(
    api: Api, data_dir: Path
) -> None:
    model_id = await api.model()
    await api.step(model_id, batch())
    op = await api.submit_save(model_id, "weight_and_optimizer", name="after-1")
    assert set(op) >= {"id", "status"}
    assert "checkpoint" not in op
    assert "operation" not in op
    assert op["kind"] == "save_checkpoint"
    ckpt = await api.done(op)
    assert uuid.UUID(ckpt["id"]).version == 4
    assert ckpt["name"] == "after-1"
    assert ckpt["type"] == "weight_and_optimizer"
    assert ckpt["path"] == f"weaver://{model_id}/checkpoints/after-1"
    assert ckpt["status"] == "completed"
    assert ckpt["ttl_seconds"] is None
    assert ckpt["expires_at"] is None
    assert ckpt["model_id"] == model_id
    files = checkpoint_files(data_dir, ckpt["id"])
    assert files, "the checkpoint has files under the data dir"
    assert ckpt["size_bytes"] == sum(p.stat().st_size for p in files)
    assert ckpt["sha256"] == digest(files)
    assert not [p for p in files if p.suffix == ".tmp"]
    assert await api.ok("GET", f"/checkpoints/{ckpt['id']}") == ckpt


async def test_names_are_unique_per_model_and_default_to_server_chosen(api: Api) -> None:
    model_id = await api.model()
    named = await api.save(model_id, "weight", name="dup")
    assert_error(
        await api.request(
            "POST", f"/models/{model_id}/checkpoints", json={"type": "sampling", "name": "dup"}
        ),
        409,
        "checkpoint_exists",
        "dup",
    )
    # Another model may use the same name.
    other = await api.model()
    assert (await api.save(other, "weight", name="dup"))["name"] == "dup"

    auto = [await api.save(model_id, "weight") for _ in range(3)]
    names = {c["name"] for c in auto}
    assert len(names) == 3
    assert named["name"] not in names
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}", name)


async def test_a_pending_name_is_taken_and_a_pending_checkpoint_cannot_be_deleted_or_loaded(
    make_app: AppFactory,
) -> None:
    app = make_app(latency={"save_checkpoint": 30})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e"
    ) as client:
        api = Api(client, KEY_A)
        model_id = await api.model()
        op = await api.submit_save(model_id, "weight", name="slow")
        assert_error(
            await api.request(
                "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": "slow"}
            ),
            409,
            "checkpoint_exists",
        )
        listed = (await api.checkpoints(model_id))["items"]
        assert [(c["name"], c["status"]) for c in listed] == [("slow", "pending")]
        pending_id = listed[0]["id"]
        assert "sha256" not in listed[0]
        assert "size_bytes" not in listed[0]
        assert_error(
            await api.request("DELETE", f"/checkpoints/{pending_id}"), 409, "checkpoint_not_ready"
        )
        assert_error(
            await api.request(
                "POST",
                f"/models/{model_id}/load",
                json={"path": f"weaver://{model_id}/checkpoints/slow", "include_optimizer": False},
            ),
            409,
            "checkpoint_not_ready",
        )
        assert (await api.ok("GET", f"/operations/{op['id']}"))["status"] in ("pending", "running")


async def test_list_is_oldest_first_and_pages_with_a_cursor(api: Api) -> None:
    model_id = await api.model()
    saved = [await api.save(model_id, "weight", name=f"c{i}") for i in range(5)]
    everything = await api.checkpoints(model_id)
    assert [c["name"] for c in everything["items"]] == [c["name"] for c in saved]
    assert everything.get("next_cursor") is None

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, object] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await api.checkpoints(model_id, **params)
        assert len(page["items"]) <= 2
        seen += [c["name"] for c in page["items"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
        assert CURSOR.fullmatch(cursor)
    assert seen == [c["name"] for c in saved]

    # One it never issued, in any form (padded base64 too, which the spec allows).
    for never_issued in ("bm90LWEtY3Vyc29y", "MQ==", ""):
        assert_error(
            await api.request(
                "GET", f"/models/{model_id}/checkpoints", params={"cursor": never_issued}
            ),
            400,
            "invalid_request",
            "query.cursor",
        )


async def test_delete_removes_files_and_hides_the_checkpoint(api: Api, data_dir: Path) -> None:
    model_id = await api.model()
    keep = await api.save(model_id, "weight", name="keep")
    gone = await api.save(model_id, "weight_and_optimizer", name="gone")
    assert checkpoint_files(data_dir, gone["id"])
    deleted = await api.ok("DELETE", f"/checkpoints/{gone['id']}")
    assert deleted["status"] == "deleted"
    assert deleted["id"] == gone["id"]
    assert await removed(data_dir, gone["id"]) == []
    assert checkpoint_files(data_dir, keep["id"])
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["keep"]
    assert_error(await api.request("GET", f"/checkpoints/{gone['id']}"), 404, "not_found")
    assert_error(await api.request("DELETE", f"/checkpoints/{gone['id']}"), 404, "not_found")
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/load",
            json={"path": gone["path"], "include_optimizer": False},
        ),
        404,
        "not_found",
    )
    # The name is free again.
    assert (await api.save(model_id, "weight", name="gone"))["status"] == "completed"
    assert_error(await api.request("GET", f"/checkpoints/{uuid.uuid4()}"), 404, "not_found")


async def test_a_delete_makes_room_on_a_full_disk(app: Starlette, api: Api, data_dir: Path) -> None:
    """On a full disk every write was answered 500, a delete too, whose record could not
    commit: no checkpoint could be deleted through the API to free space. The file that
    the delete removes anyway makes room for its record."""
    model_id = await api.model()
    keep = await api.save(model_id, "weight", name="keep")
    gone = await api.save(model_id, "weight_and_optimizer", name="gone")
    store = app.state.emulator.store
    full = FullDisk(store._conn, data_dir, room=used(data_dir) - 1)
    store._conn = full
    try:
        ttl = {"path": keep["path"], "ttl_seconds": 3600}
        refused = await api.request("PATCH", f"/models/{model_id}/checkpoints/ttl", json=ttl)
        # The disk is full indeed, and the refusal says so (it said "internal error").
        assert_error(refused, 500, "internal", "the server's disk is full")
        deleted = await api.request("DELETE", f"/checkpoints/{gone['id']}")
        assert deleted.status_code == 200, deleted.text
    finally:
        store._conn = full.conn
    assert full.refused == 2, "the TTL's record and the delete's first"
    assert deleted.json()["status"] == "deleted"
    assert deleted.json()["id"] == gone["id"]
    assert await removed(data_dir, gone["id"]) == []
    assert checkpoint_files(data_dir, keep["id"])
    assert_error(await api.request("GET", f"/checkpoints/{gone['id']}"), 404, "not_found")
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["keep"]
    assert (await api.ok("GET", f"/checkpoints/{keep['id']}"))["ttl_seconds"] is None


async def test_a_delete_on_a_disk_still_full_leaves_the_checkpoint_unlisted(
    make_app: AppFactory, app: Starlette, api: Api, data_dir: Path
) -> None:
    """A disk still full once the delete removed the files refused its record again: the
    delete answered 500 with the files gone and the checkpoint still listed, whose load
    then failed. The files' removal is the delete: the record follows once there is room,
    and a restart before then reads it from the missing file."""
    model_id = await api.model()
    keep = await api.save(model_id, "weight", name="keep")
    gone = await api.save(model_id, "weight_and_optimizer", name="gone")
    later = await api.save(model_id, "weight", name="later")
    store = app.state.emulator.store
    full = FullDisk(store._conn, data_dir, room=0)
    store._conn = full
    try:
        deleted = await api.request("DELETE", f"/checkpoints/{gone['id']}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["status"] == "deleted"
        assert await removed(data_dir, gone["id"]) == []
        listed = [c["name"] for c in (await api.checkpoints(model_id))["items"]]
        assert listed == ["keep", "later"]
        assert_error(await api.request("GET", f"/checkpoints/{gone['id']}"), 404, "not_found")
        assert_error(await api.request("DELETE", f"/checkpoints/{gone['id']}"), 404, "not_found")
        load = {"path": gone["path"], "include_optimizer": False}
        assert_error(
            await api.request("POST", f"/models/{model_id}/load", json=load), 404, "not_found"
        )
        # A second one while the first is still unrecorded.
        again = await api.request("DELETE", f"/checkpoints/{later['id']}")
        assert again.status_code == 200, again.text
    finally:
        store._conn = full.conn
    assert full.refused == 4, "each delete's record, before and after its files went"
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["keep"]
    # With room again, the next write records them; the name is free meanwhile.
    assert (await api.save(model_id, "weight", name="gone"))["status"] == "completed"
    statuses = {r["id"]: r["status"] for r in store.all("SELECT id, status FROM checkpoints")}
    assert statuses[gone["id"]] == statuses[later["id"]] == "deleted"
    assert statuses[keep["id"]] == "completed"


async def test_a_restart_reads_a_delete_the_full_disk_refused_from_its_missing_files(
    make_app: AppFactory, app: Starlette, api: Api, data_dir: Path
) -> None:
    model_id = await api.model()
    keep = await api.save(model_id, "weight", name="keep")
    gone = await api.save(model_id, "weight", name="gone")
    artifact = await exported(api, keep["id"])
    store = app.state.emulator.store
    store._conn = full = FullDisk(store._conn, data_dir, room=0)
    try:
        for path in (f"/checkpoints/{gone['id']}", f"/artifacts/{artifact['id']}"):
            deleted = await api.request("DELETE", path)
            assert deleted.status_code == 200, deleted.text
    finally:
        store._conn = full.conn
    app.state.emulator.close()
    again = make_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=again), base_url="http://emulator", timeout=30
    ) as client:
        after = Api(client, KEY_A)
        assert_error(await after.request("GET", f"/checkpoints/{gone['id']}"), 404, "not_found")
        assert_error(await after.request("GET", f"/artifacts/{artifact['id']}"), 404, "not_found")
        assert (await after.ok("GET", f"/checkpoints/{keep['id']}"))["status"] == "completed"
    store = again.state.emulator.store
    statuses = {
        r["id"]: r["status"]
        for table in ("checkpoints", "artifacts")
        for r in store.all(f"SELECT id, status FROM {table}")  # noqa: S608
    }
    assert statuses == {
        keep["id"]: "completed",
        gone["id"]: "deleted",
        artifact["id"]: "deleted",
    }


async def test_ttl_expiry_hides_the_checkpoint_and_removes_its_files(
    api: Api, clock: FakeClock, data_dir: Path
) -> None:
    model_id = await api.model()
    sampling = await api.save(model_id, "sampling", name="sampler")
    assert sampling["ttl_seconds"] == 3600
    assert sampling["expires_at"] is not None
    short = await api.save(model_id, "weight", name="short", ttl_seconds=60)
    permanent = await api.save(model_id, "weight", name="forever", ttl_seconds=None)
    assert short["ttl_seconds"] == 60
    assert permanent["ttl_seconds"] is None

    clock.advance(61)
    names = [c["name"] for c in (await api.checkpoints(model_id))["items"]]
    assert names == ["sampler", "forever"]
    assert await removed(data_dir, short["id"]) == []
    assert_error(await api.request("GET", f"/checkpoints/{short['id']}"), 404, "not_found")
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/load",
            json={"path": short["path"], "include_optimizer": False},
        ),
        404,
        "not_found",
    )

    clock.advance(3600)
    names = [c["name"] for c in (await api.checkpoints(model_id))["items"]]
    assert names == ["forever"]
    assert await removed(data_dir, sampling["id"]) == []
    assert checkpoint_files(data_dir, permanent["id"])


async def test_ttl_patch_counts_from_now_and_null_makes_permanent(
    api: Api, clock: FakeClock
) -> None:
    model_id = await api.model()
    ckpt = await api.save(model_id, "weight", name="patched", ttl_seconds=100)
    clock.advance(90)
    patched = await api.ok(
        "PATCH",
        f"/models/{model_id}/checkpoints/ttl",
        json={"path": ckpt["path"], "ttl_seconds": 100},
    )
    assert patched["id"] == ckpt["id"]
    assert patched["ttl_seconds"] == 100
    assert patched["expires_at"] > ckpt["expires_at"]
    clock.advance(50)  # 140 s after saving: only alive because the patch counted from t=90
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["patched"]

    permanent = await api.ok(
        "PATCH",
        f"/models/{model_id}/checkpoints/ttl",
        json={"path": ckpt["path"], "ttl_seconds": None},
    )
    assert permanent["ttl_seconds"] is None
    assert permanent["expires_at"] is None
    clock.advance(10**6)
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["patched"]

    assert_error(
        await api.request(
            "PATCH",
            f"/models/{model_id}/checkpoints/ttl",
            json={"path": f"weaver://{model_id}/checkpoints/missing", "ttl_seconds": 5},
        ),
        404,
        "not_found",
    )


async def test_load_rules(api: Api) -> None:
    session_id = await api.session()
    model_id = await api.model(session_id, rank=4)
    weight_only = await api.save(model_id, "weight", name="w")
    sampling = await api.save(model_id, "sampling", name="s")
    full = await api.save(model_id, "weight_and_optimizer", name="wo")

    for ckpt in (weight_only, sampling):
        assert_error(
            await api.request(
                "POST",
                f"/models/{model_id}/load",
                json={"path": ckpt["path"], "include_optimizer": True},
            ),
            422,
            "optimizer_state_unavailable",
            ckpt["path"],
        )

    result = await api.load(model_id, full["path"], include_optimizer=True)
    assert result["path"] == full["path"]
    assert result["include_optimizer"] is True
    assert result["checkpoint_id"] == full["id"]
    assert result["optimizer_step"] == 0
    weights_only = await api.load(model_id, full["path"], include_optimizer=False)
    assert weights_only["include_optimizer"] is False
    assert weights_only["optimizer_step"] is None

    # Another model of the same tenant loads it when it is compatible...
    sibling = await api.model(session_id, rank=4, seed=9)
    assert (await api.load(sibling, full["path"], include_optimizer=True))["checkpoint_id"] == full[
        "id"
    ]

    # ...and gets a 422 naming the mismatch when it is not.
    mismatches = {
        "rank": await api.model(session_id, rank=8),
        "training_mode": await api.model(session_id, mode="full_ft"),
        "base_model": await api.model(session_id, base_model="weaver-large-vocab", rank=4),
    }
    for what, other in mismatches.items():
        body = assert_error(
            await api.request(
                "POST",
                f"/models/{other}/load",
                json={"path": full["path"], "include_optimizer": False},
            ),
            422,
            "incompatible_checkpoint",
        )
        # The message names what differs ("training_mode" or "training mode").
        assert what.replace("_", " ") in body["message"].replace("_", " "), body["message"]

    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/load",
            json={"path": f"weaver://{model_id}/checkpoints/nope", "include_optimizer": False},
        ),
        404,
        "not_found",
    )
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/load",
            json={"path": "weaver://m-unknown/checkpoints/w", "include_optimizer": False},
        ),
        404,
        "not_found",
    )


def test_a_removal_after_the_store_closed_is_left_to_the_next_start(tmp_path: Path) -> None:
    store = Store(tmp_path)
    name = f"{uuid.uuid4()}.safetensors"
    store.checkpoint_file(name).write_bytes(b"weights")
    store.close()
    store.remove_checkpoint_file(name)  # a request that outlived shutdown: no error
    assert not store.checkpoint_file(name).exists()  # its name is free at once
    (aside,) = store.checkpoint_dir.iterdir()  # renamed aside, left to the next start
    assert aside.name.startswith(f"{name}.removed-")
    again = Store(tmp_path)
    again.remove_stray_files(keep=set())
    assert list(again.checkpoint_dir.iterdir()) == []
    again.close()


async def test_a_delete_that_frees_nothing_on_a_full_disk_says_so(
    make_app: AppFactory, data_dir: Path
) -> None:
    """A failed save left no file: its delete on a full disk freed nothing, and was kept
    only in memory, so that a restart, which reads a delete from missing files, brought
    the checkpoint back after a 200. Such a delete is refused, as any write there is."""

    @contextlib.asynccontextmanager
    async def on(app: Starlette) -> AsyncIterator[Api]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=30
        ) as client:
            yield Api(client, KEY_A)

    first = make_app(latency={"save_checkpoint": 60.0})
    async with on(first) as api:
        model_id = await api.model()
        await api.submit_save(model_id, "weight", name="cut")
        [cut] = (await api.checkpoints(model_id))["items"]
    first.state.emulator.close()  # the save is cut: failed, without a file
    second = make_app()
    async with on(second) as api:
        model_id = await api.model()
        await api.save(model_id, "weight", name="full")  # a file that keeps the disk full
        assert (await api.ok("GET", f"/checkpoints/{cut['id']}"))["status"] == "failed"
        store = second.state.emulator.store
        store._conn = full = FullDisk(store._conn, data_dir, room=0)
        try:
            deleted = await api.request("DELETE", f"/checkpoints/{cut['id']}")
        finally:
            store._conn = full.conn
        assert_error(deleted, 500, "internal")
        assert "disk is full" in deleted.json()["message"]
    second.state.emulator.close()
    async with on(make_app()) as api:
        assert (await api.ok("GET", f"/checkpoints/{cut['id']}"))["status"] == "failed"
