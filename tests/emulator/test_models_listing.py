"""Listing models, the parts checkpoints say were trained, and the load result's model."""

from __future__ import annotations

from tests.support.emulator import Api, assert_error, batch


async def test_models_are_listed_oldest_first_per_tenant_with_offset_paging(
    api: Api, api_b: Api
) -> None:
    session_id = await api.session()
    mine = [await api.model(session_id, seed=i) for i in range(3)]
    other = await api_b.model()
    await api.ok("POST", f"/models/{mine[1]}/terminate")

    listing = await api.ok("GET", "/models")
    assert [m["id"] for m in listing["items"]] == mine
    assert listing["pagination"]["total_count"] == 3
    assert other not in {m["id"] for m in listing["items"]}
    # Each item is the model as GET /models/{id} shows it, terminated ones included.
    for item in listing["items"]:
        assert item == await api.ok("GET", f"/models/{item['id']}")
    assert listing["items"][1]["status"] == "terminated"

    pages = [
        await api.ok("GET", "/models", params={"limit": 2, "offset": offset}) for offset in (0, 2)
    ]
    assert [m["id"] for page in pages for m in page["items"]] == mine
    assert [len(page["items"]) for page in pages] == [2, 1]
    assert all(page["pagination"]["total_count"] == 3 for page in pages)
    assert (await api.ok("GET", "/models", params={"offset": 3}))["items"] == []
    huge = await api.ok("GET", "/models", params={"offset": 2**90})  # past SQLite's integers
    assert huge == {"items": [], "pagination": {"total_count": 3}}
    assert (await api_b.ok("GET", "/models"))["pagination"]["total_count"] == 1

    assert_error(
        await api.request("GET", "/models", params={"limit": 0}), 400, "invalid_request", "limit"
    )
    assert_error(
        await api.request("GET", "/models", params={"offset": -1}),
        400,
        "invalid_request",
        "offset",
    )


async def test_checkpoints_report_the_parts_the_tiny_model_really_trains(api: Api) -> None:
    # The model has an embedding and an output projection, no MLP and no attention:
    # whatever lora_config asks for, only the projection (unembedding) is trained.
    session_id = await api.session()
    lora = await api.model(session_id)
    full = await api.model(session_id, mode="full_ft")
    asked = await api.ok("GET", f"/models/{lora}")
    assert asked["lora_config"]["train_mlp"]
    assert asked["lora_config"]["train_attn"]
    for model_id in (lora, full):
        await api.step(model_id, batch())
        saved = await api.save(model_id, "weight_and_optimizer")
        listed = (await api.checkpoints(model_id))["items"][0]
        for checkpoint in (saved, listed):
            assert checkpoint["train_unembed"] is True
            assert checkpoint["train_mlp"] is False
            assert checkpoint["train_attn"] is False


async def test_a_load_result_names_the_model_loaded_into(api: Api) -> None:
    source = await api.model()
    await api.step(source, batch())
    path = (await api.save(source, "weight_and_optimizer", name="s1"))["path"]
    target = await api.model()
    op = await api.ok(
        "POST", f"/models/{target}/load", 202, json={"path": path, "include_optimizer": True}
    )
    done = await api.wait(op)
    assert done["model_id"] == target
    assert done["response"]["model_id"] == target
    assert done["response"]["path"] == path
