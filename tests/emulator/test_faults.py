"""Fault injection: seeded 503/429 answers and dropped connections, before or after acting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.emulator import API, KEY_A, Api, AppFactory, assert_error
from weaver_facade.emulator import FaultConfig, FaultRule, run_emulator
from weaver_facade.emulator._config import parse_latency

SAVE_ROUTE = "/api/v1/models/{model_id}/checkpoints"
SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


def in_process(app: object) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e")  # type: ignore[arg-type]
    return client, Api(client, KEY_A)


async def test_unavailable_and_rate_limited_carry_retry_after(make_app: AppFactory) -> None:
    faults = FaultConfig(
        rules=(
            FaultRule(
                kind="unavailable", rate=1.0, method="POST", route="/api/v1/sessions", retry_after=3
            ),
            FaultRule(
                kind="rate_limited",
                rate=1.0,
                method="GET",
                route="/api/v1/supported-models",
                retry_after=7,
            ),
        )
    )
    client, api = in_process(make_app(faults=faults))
    async with client:
        unavailable = await api.request("POST", "/sessions", json={})
        body = assert_error(unavailable, 503, "unavailable")
        assert body["retryable"] is True
        assert unavailable.headers["retry-after"] == "3"
        limited = await api.request("GET", "/supported-models")
        assert_error(limited, 429, "rate_limited")
        assert limited.headers["retry-after"] == "7"
        # Other routes and methods are untouched.
        assert (await api.request("GET", "/sessions/s-nope")).status_code == 404


async def test_drop_before_the_server_acts(make_app: AppFactory) -> None:
    faults = FaultConfig(rules=(FaultRule(kind="drop", rate=1.0, method="POST", route=SAVE_ROUTE),))
    client, api = in_process(make_app(faults=faults))
    async with client:
        model_id = await api.model()
        with pytest.raises(httpx.TransportError):
            await api.request(
                "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": "lost"}
            )
        assert (await api.checkpoints(model_id))["items"] == []


@pytest.mark.parametrize("kind", ["drop", "unavailable"])
async def test_faults_after_the_server_acted(make_app: AppFactory, kind: str) -> None:
    faults = FaultConfig(
        rules=(FaultRule(kind=kind, rate=1.0, when="after", method="POST", route=SAVE_ROUTE),)  # type: ignore[arg-type]
    )
    client, api = in_process(make_app(faults=faults))
    async with client:
        model_id = await api.model()
        if kind == "drop":
            with pytest.raises(httpx.TransportError):
                await api.request(
                    "POST",
                    f"/models/{model_id}/checkpoints",
                    json={"type": "weight", "name": "acted"},
                )
        else:
            reply = await api.request(
                "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": "acted"}
            )
            assert_error(reply, 503, "unavailable")
        # The client saw a failure, yet the save exists: what idempotency keys are for.
        names = [c["name"] for c in (await api.checkpoints(model_id))["items"]]
        assert names == ["acted"]


async def test_a_seeded_fraction_is_reproducible(
    make_app: AppFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    def rules(seed: int) -> FaultConfig:
        return FaultConfig(
            rules=(FaultRule(kind="unavailable", rate=0.3, method="GET"),), seed=seed
        )

    patterns = []
    for seed in (11, 11, 12):
        app = make_app(faults=rules(seed), data_dir=tmp_path_factory.mktemp("faults"))
        client, api = in_process(app)
        async with client:
            statuses = [
                (await api.request("GET", "/supported-models")).status_code for _ in range(200)
            ]
        assert set(statuses) <= {200, 503}
        patterns.append(statuses)
    failures = patterns[0].count(503)
    assert 30 <= failures <= 90, failures  # about 30 % of 200
    assert patterns[0] == patterns[1], "the same seed injects the same faults"
    assert patterns[0] != patterns[2]


def test_parse_command_line_rules() -> None:
    rule = FaultRule.parse(
        "kind=drop,rate=0.25,when=after,method=post,route=/api/v1/sessions,retry_after=2"
    )
    assert rule == FaultRule(
        kind="drop", rate=0.25, when="after", method="POST", route="/api/v1/sessions", retry_after=2
    )
    assert FaultRule.parse("kind=unavailable,rate=1") == FaultRule(kind="unavailable", rate=1.0)
    for bad in (
        "kind=drop",
        "rate=0.1",
        "kind=boom,rate=0.1",
        "kind=drop,rate=1.5",
        "kind=drop,rate=x",
        "oops",
    ):
        with pytest.raises(ValueError, match="fault"):
            FaultRule.parse(bad)


@pytest.mark.parametrize(
    ("make", "unknown"),
    [
        (lambda: FaultRule.parse("kind=drop,rate=0.1,wen=after"), "unknown key wen;"),
        (
            lambda: FaultRule.parse("kind=drop,rate=0.1,wen=after,rout=/x"),
            "unknown keys rout, wen;",
        ),
        (lambda: FaultRule.from_data({"kind": "drop", "rate": 0.1, "wen": 1}), "unknown key wen;"),
        (
            lambda: FaultRule.from_data({"kind": "drop", "rate": 0.1, "wen": 1, "rout": 2}),
            "unknown keys rout, wen;",
        ),
        (lambda: FaultConfig.from_data({"rule": []}), "faults: unknown key rule;"),
        (lambda: FaultConfig.from_data({"rule": [], "sed": 1}), "faults: unknown keys rule, sed;"),
    ],
)
def test_unknown_keys_are_named_in_a_noun_that_agrees(
    make: Callable[[], object], unknown: str
) -> None:
    # It said "unknown key(s)" for one key and for many.
    with pytest.raises(ValueError, match="unknown") as refused:
        make()
    assert unknown in str(refused.value)


@pytest.mark.parametrize("written", ["rate=\u0661", "rate=1,retry_after=1_0"])
def test_a_rule_takes_ascii_digits_only(written: str) -> None:
    # float("\u0661") is 1.0 and int("1_0") is 10, as Python reads them; the emulator's
    # number options refuse both.
    with pytest.raises(ValueError, match="in ASCII digits"):
        FaultRule.parse(f"kind=unavailable,{written}")


@pytest.mark.parametrize("seconds", ["\u0661", "1_0"])
def test_a_latency_takes_ascii_digits_only(seconds: str) -> None:
    assert parse_latency(["save_checkpoint=1.5"]) == {"save_checkpoint": 1.5}
    with pytest.raises(ValueError, match="in ASCII digits"):
        parse_latency([f"save_checkpoint={seconds}"])


@pytest.mark.parametrize(
    "route",
    [
        # Without the /api/v1 prefix no request has it.
        "/models/{model_id}/checkpoints",
        "/nope",
        "/api/v1",
        # Typos within the prefixes matched nothing either, silently.
        "/api/v1/supported_models",
        "/api/v1/models/{id}/checkpoints",
        "/api/v1/models/m-1/checkpoints",
        "/storage/artifacts/{id}/{name}",
    ],
)
def test_a_route_that_no_request_can_have_is_refused(route: str) -> None:
    with pytest.raises(ValueError, match=r"fault route must be a path template of openapi"):
        FaultRule(kind="drop", rate=1.0, route=route)


@pytest.mark.parametrize(
    ("route", "meant"),
    [
        (
            "/api/v1/models/{model_id}/forward-backward",
            "/api/v1/models/{model_id}/forward-backward-passes",
        ),
        ("/api/v1/supported_models", "/api/v1/supported-models"),
        ("/models/{model_id}/checkpoints", "/api/v1/models/{model_id}/checkpoints"),
        # A path a request had, with its ids: the template it fills.
        ("/api/v1/operations/op-1", "/api/v1/operations/{operation_id}"),
        ("/storage/artifacts/a-1/model.safetensors", "/storage/artifacts/{artifact_id}/{name}"),
    ],
)
def test_a_refused_route_names_the_one_meant(route: str, meant: str) -> None:
    # The refusal named no route: the spec has dozens, spelt alike.
    assert meant in [
        *yaml.safe_load(SPEC.read_text())["paths"],
        "/storage/artifacts/{artifact_id}/{name}",
    ]
    with pytest.raises(ValueError, match="fault route must be") as refused:
        FaultRule(kind="drop", rate=1.0, route=route)
    assert str(refused.value).endswith(f"not {route!r} (did you mean {meant!r}?)")


def test_a_refused_route_like_none_names_none() -> None:
    with pytest.raises(ValueError, match="fault route must be") as refused:
        FaultRule(kind="drop", rate=1.0, route="/nope")
    assert str(refused.value).endswith("not '/nope'")


def test_every_route_of_the_spec_and_storage_can_be_disturbed() -> None:
    paths = yaml.safe_load(SPEC.read_text())["paths"]
    assert len(paths) > 20
    for route in [*paths, "/storage/artifacts/{artifact_id}/{name}"]:
        assert FaultRule(kind="drop", rate=1.0, route=route).route == route


def test_real_connections_are_dropped_and_the_server_carries_on() -> None:
    faults = FaultConfig(
        rules=(
            FaultRule(
                kind="drop",
                rate=1.0,
                method="POST",
                route="/api/v1/sessions/{session_id}/heartbeat",
            ),
            FaultRule(kind="drop", rate=1.0, when="after", method="POST", route=SAVE_ROUTE),
        )
    )
    with run_emulator(faults=faults) as emu:
        headers = {"X-WEAVER-API-KEY": str(emu.api_key)}
        with httpx.Client(base_url=emu.base_url + API, headers=headers, timeout=10) as client:
            session_id = client.post("/sessions", json={}).json()["id"]
            with pytest.raises(httpx.TransportError):
                client.post(f"/sessions/{session_id}/heartbeat")
            model = client.post(
                f"/sessions/{session_id}/models",
                json={"model_seq_id": 1, "base_model": "weaver-tiny"},
            )
            assert model.status_code == 201
            model_id = model.json()["id"]
            with pytest.raises(httpx.TransportError):
                client.post(
                    f"/models/{model_id}/checkpoints", json={"type": "weight", "name": "dropped"}
                )
            # The connection was cut after the server acted: the save is there.
            listed = client.get(f"/models/{model_id}/checkpoints").json()["items"]
            assert [c["name"] for c in listed] == ["dropped"]
