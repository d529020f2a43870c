"""Auth, tenancy, path safety and secrecy of the API key."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.support.emulator import KEY_A, KEY_B, Api, AppFactory, assert_error, batch

SPEC_BYTES = (Path(__file__).resolve().parents[2] / "openapi.yaml").read_bytes()


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("key", [None, "", "wrong-key", KEY_A + "x", KEY_A.upper()])
async def test_missing_or_unknown_key_is_401(http: httpx.AsyncClient, key: str | None) -> None:
    api = Api(http, key)
    for method, path in (
        ("POST", "/sessions"),
        ("GET", "/supported-models"),
        ("GET", "/operations/op-1"),
    ):
        response = await api.request(method, path, json={} if method == "POST" else None)
        body = assert_error(response, 401, "unauthorized")
        assert body["retryable"] is False


async def test_the_spec_is_served_without_a_key(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.content == SPEC_BYTES


async def test_other_tenants_objects_are_not_found(api: Api, api_b: Api) -> None:
    session_id = await api.session()
    model_id = await api.model(session_id)
    op = await api.submit_fb(model_id, batch())
    await api.wait(op)
    ckpt = await api.save(model_id, "weight_and_optimizer", name="mine")
    b_model = await api_b.model()

    attempts = [
        ("GET", f"/sessions/{session_id}", None),
        ("POST", f"/sessions/{session_id}/heartbeat", None),
        (
            "POST",
            f"/sessions/{session_id}/models",
            {"model_seq_id": 1, "base_model": "weaver-tiny"},
        ),
        ("GET", f"/models/{model_id}", None),
        ("POST", f"/models/{model_id}/terminate", None),
        ("POST", f"/models/{model_id}/forward-backward-passes", api_b.fb_body(model_id, batch())),
        ("POST", f"/models/{model_id}/optimizer-steps", api_b.optim_body(model_id)),
        ("POST", f"/models/{model_id}/checkpoints", {"type": "weight"}),
        ("GET", f"/models/{model_id}/checkpoints", None),
        ("PATCH", f"/models/{model_id}/checkpoints/ttl", {"path": ckpt["path"], "ttl_seconds": 1}),
        ("POST", f"/models/{model_id}/load", {"path": ckpt["path"], "include_optimizer": True}),
        ("POST", f"/models/{b_model}/load", {"path": ckpt["path"], "include_optimizer": True}),
        ("GET", f"/checkpoints/{ckpt['id']}", None),
        ("DELETE", f"/checkpoints/{ckpt['id']}", None),
        ("GET", f"/operations/{op['id']}", None),
    ]
    for method, path, body in attempts:
        response = await api_b.request(method, path, json=body)
        assert_error(response, 404, "not_found")
        assert KEY_A not in response.text

    # B's own model route with A's path: refused exactly as for a path that does not exist.
    replies = []
    for path in (ckpt["path"], ckpt["path"] + "-nonexistent"):
        response = await api_b.request(
            "PATCH", f"/models/{b_model}/checkpoints/ttl", json={"path": path, "ttl_seconds": 1}
        )
        assert response.status_code in (400, 404)
        replies.append((response.status_code, response.json()["error"]))
    assert replies[0] == replies[1]

    # Nothing of A's changed.
    assert (await api.ok("GET", f"/models/{model_id}"))["status"] == "active"
    assert (await api.ok("GET", f"/checkpoints/{ckpt['id']}"))["status"] == "completed"
    assert (await api.ok("GET", f"/checkpoints/{ckpt['id']}"))["ttl_seconds"] is None
    assert [c["name"] for c in (await api.checkpoints(model_id))["items"]] == ["mine"]


async def test_auth_off_is_one_open_tenant_and_warns(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        app = make_app(api_keys=())
    assert any(
        "auth" in r.getMessage().lower() and r.levelno >= logging.WARNING for r in caplog.records
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e"
    ) as client:
        anonymous, with_key = Api(client, None), Api(client, "any-key-at-all")
        session_id = await anonymous.session()
        assert (await with_key.ok("GET", f"/sessions/{session_id}"))["id"] == session_id


async def test_bad_names_never_touch_the_filesystem(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    model_id = await api.model()
    await api.save(model_id, "weight", name="fine")
    before = tree(tmp_path)
    hostile = [
        "../../escape",
        "..",
        "a/b",
        "%2e%2e%2fx",
        "nul\x00byte",
        "tab\tname",
        "line\n",
        "/abs",
    ]
    for name in hostile:
        response = await api.request(
            "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": name}
        )
        assert_error(response, 400, "invalid_request", "body.name")
        path = f"weaver://{model_id}/checkpoints/{name}"
        response = await api.request(
            "POST", f"/models/{model_id}/load", json={"path": path, "include_optimizer": False}
        )
        # A path takes any name a server may report, so '%2e%2e%2fx' (literal text) is a
        # path of a checkpoint never made; '/', a dot segment or a control character is not.
        if name == "%2e%2e%2fx":
            assert_error(response, 404, "not_found", path)
        else:
            assert_error(response, 400, "invalid_request", "body.path")
    for raw in (
        "/models/..%2F..%2Fescape",
        "/checkpoints/..%2f..%2fescape",
        "/models/%2e%2e/checkpoints",
    ):
        response = await api.request("GET", raw)
        assert response.status_code in (400, 404), raw
        assert response.json()["error"] in ("invalid_request", "not_found")
    assert tree(tmp_path) == before


async def test_nothing_is_written_outside_the_data_dir(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    # One look at the tree each time: the data dir's own files come and go meanwhile (a
    # deleted checkpoint's file is removed in the background).
    def outside() -> set[Path]:
        return {p for p in tree(tmp_path) if data_dir not in p.parents}

    outside_before = outside()
    model_id = await api.model()
    await api.step(model_id, batch())
    ckpt = await api.save(model_id, "weight_and_optimizer", name="x")
    await api.load(model_id, ckpt["path"], include_optimizer=True)
    await api.ok("DELETE", f"/checkpoints/{ckpt['id']}")
    assert outside() == outside_before


async def test_the_key_is_never_logged_or_stored(
    make_app: AppFactory, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        app = make_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e"
        ) as client:
            api = Api(client, KEY_A)
            model_id = await api.model()
            await api.step(model_id, batch())
            await api.save(model_id, "weight", name="k")
            await Api(client, KEY_B + "-wrong").request("GET", "/supported-models")
            await api.request("GET", "/models/m-missing")
        app.state.emulator.close()
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for key in (KEY_A, KEY_B):
        assert key not in logged
        assert key not in repr(app.state.emulator.config)
        for path in stored_files(data_dir):
            assert key.encode() not in path.read_bytes(), path


async def test_names_the_spec_allows_are_accepted_and_stay_off_the_filesystem(
    api: Api, data_dir: Path
) -> None:
    # The spec allows '.' after the first character, so 'a..b' is a valid name;
    # it is safe because file names are server-made ids, never checkpoint names.
    model_id = await api.model()
    checkpoint = await api.save(model_id, "weight", name="a..b")
    assert checkpoint["path"] == f"weaver://{model_id}/checkpoints/a..b"
    assert checkpoint["status"] == "completed"
    assert not any("a..b" in path.name for path in tree(data_dir))
