"""The exact request of every facade method: method, path, query, headers, JSON body."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import attrs
import httpx
import pytest
from weaver_client import models as wire

from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeWeaver,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.spec_values import SCHEMAS, every_field, flipped
from weaver_facade import (
    AdamParams,
    APIConnectionError,
    Checkpoint,
    CheckpointPath,
    CheckpointRef,
    CheckpointStatus,
    CheckpointType,
    ConflictError,
    InvalidArgumentError,
    ModelTerminatedError,
    NotFoundError,
    ServiceClient,
    TrainingClient,
    UnsupportedByServerError,
    __version__,
    _wire,
    datum_from_tokens,
)
from weaver_facade._calls import create_model
from weaver_facade._models import _lora

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def assert_common_headers(request: httpx.Request) -> None:
    assert request.headers["X-WEAVER-API-KEY"] == KEY
    assert request.headers["User-Agent"] == f"weaver-facade/{__version__}"


def assert_post(request: httpx.Request, path: str) -> dict[str, Any]:
    assert request.method == "POST"
    assert request.url.path == path
    assert str(request.url).startswith(BASE + "/api/v1/")
    assert_common_headers(request)
    assert request.headers["Content-Type"] == "application/json"
    assert re.match(UUID_RE, request.headers["Idempotency-Key"])
    body: dict[str, Any] = FakeWeaver().body(request)
    return body


def test_session_opens_lazily_then_model_is_created(fake: FakeWeaver, svc: ServiceClient) -> None:
    assert fake.requests == []
    before = svc.session_id
    assert before is None
    svc.create_training_client("weaver-tiny", lora_rank=8, seed=7)
    session_req, model_req = fake.requests
    assert assert_post(session_req, "/api/v1/sessions") == {
        "tags": [],
        "user_metadata": {},
        "sdk_version": f"weaver-facade/{__version__}",
    }
    assert svc.session_id == "s-1"
    assert assert_post(model_req, "/api/v1/sessions/s-1/models") == {
        "model_seq_id": 1,
        "base_model": "weaver-tiny",
        "training_mode": "lora",
        "lora_config": {
            "rank": 8,
            "train_unembed": True,
            "train_mlp": True,
            "train_attn": True,
            "seed": 7,
        },
    }


def test_session_tags_and_metadata_are_sent(fake: FakeWeaver) -> None:
    with service(fake, tags=["demo"], user_metadata={"run": "7"}) as svc:
        svc.create_training_client("weaver-tiny")
    body = fake.body(fake.sent("POST", "/api/v1/sessions")[0])
    assert body["tags"] == ["demo"]
    assert body["user_metadata"] == {"run": "7"}


def test_model_seq_id_counts_per_client_and_full_ft_sends_no_lora_config(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    svc.create_training_client("weaver-tiny")
    svc.create_training_client("weaver-tiny", training_mode="full_ft")
    first, second = (fake.body(r) for r in fake.sent("POST", "/api/v1/sessions/s-1/models"))
    assert first["model_seq_id"] == 1
    assert first["lora_config"] == {
        "rank": 32,
        "train_unembed": True,
        "train_mlp": True,
        "train_attn": True,
    }
    assert second == {"model_seq_id": 2, "base_model": "weaver-tiny", "training_mode": "full_ft"}
    # One session for both models.
    assert len(fake.sent("POST", "/api/v1/sessions")) == 1


def test_forward_backward_request(fake: FakeWeaver, trainer: TrainingClient) -> None:
    result = trainer.forward_backward(
        [datum_from_tokens([5, 6, 7], datum_id="d-0"), datum_from_tokens([1, 2])]
    )
    body = assert_post(fake.sent("POST")[-1], "/api/v1/models/m-1/forward-backward-passes")
    assert body == {
        "payload": {
            "model_id": "m-1",
            "seq_id": 1,
            "forward_backward_input": {
                "loss_fn": "cross_entropy",
                "data": [
                    {
                        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [5, 6]}]},
                        "loss_fn_inputs": {
                            "target_tokens": {"data": [6, 7], "dtype": "int64"},
                            "weights": {"data": [1.0, 1.0], "dtype": "float32"},
                        },
                        "datum_id": "d-0",
                    },
                    {
                        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [1]}]},
                        "loss_fn_inputs": {
                            "target_tokens": {"data": [2], "dtype": "int64"},
                            "weights": {"data": [1.0], "dtype": "float32"},
                        },
                    },
                ],
            },
        }
    }
    assert result.loss == 3.0
    assert result.logprobs == ((-1.5, -1.5), (-1.5,))


def test_poll_request_long_polls(fake: FakeWeaver, trainer: TrainingClient) -> None:
    trainer.forward_backward([datum_from_tokens([1, 2])])
    (poll,) = fake.sent("GET")
    assert poll.url.path == "/api/v1/operations/op-1"
    assert float(poll.url.params["wait"]) == 20.0
    assert_common_headers(poll)
    assert "Idempotency-Key" not in poll.headers
    # The read timeout leaves room for the server to hold the long-poll.
    assert poll.extensions["timeout"]["read"] >= 60.0 + 20.0


def test_optim_step_request_and_shared_seq_id(fake: FakeWeaver, trainer: TrainingClient) -> None:
    trainer.forward_backward([datum_from_tokens([1, 2])])
    result = trainer.optim_step()
    trainer.forward_backward([datum_from_tokens([1, 2])])
    trainer.optim_step(AdamParams(learning_rate=0.5, beta1=0.0, grad_clip_norm=0.0))
    posts = [r for r in fake.sent("POST") if "/models/m-1/" in r.url.path]
    assert [fake.body(r)["payload"]["seq_id"] for r in posts] == [1, 2, 3, 4]
    assert assert_post(posts[1], "/api/v1/models/m-1/optimizer-steps") == {
        "payload": {
            "model_id": "m-1",
            "seq_id": 2,
            "adam_params": {
                "learning_rate": 1e-4,
                "beta1": 0.9,
                "beta2": 0.95,
                "eps": 1e-8,
                "weight_decay": 0.01,
                "grad_clip_norm": 1.0,
            },
        }
    }
    assert fake.body(posts[3])["payload"]["adam_params"] == {
        "learning_rate": 0.5,
        "beta1": 0.0,
        "beta2": 0.95,
        "eps": 1e-8,
        "weight_decay": 0.01,
        "grad_clip_norm": 0.0,
    }
    assert result.metrics == {"optim:step": 2.0}


def test_each_post_has_its_own_idempotency_key(fake: FakeWeaver, trainer: TrainingClient) -> None:
    trainer.forward_backward([datum_from_tokens([1, 2])])
    trainer.optim_step()
    trainer.save_state("a")
    keys = [r.headers["Idempotency-Key"] for r in fake.sent("POST")]
    assert len(keys) == len(set(keys)) == 3


def test_save_state_defaults_to_weight_and_optimizer_and_omits_ttl(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    checkpoint = trainer.save_state("after-3-steps")
    body = assert_post(fake.sent("POST")[-1], "/api/v1/models/m-1/checkpoints")
    assert body == {"type": "weight_and_optimizer", "name": "after-3-steps"}
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.type is CheckpointType.WEIGHT_AND_OPTIMIZER
    assert checkpoint.path == CheckpointPath("m-1", "after-3-steps")
    # No listing before a save.
    assert fake.sent("GET", "/api/v1/models/m-1/checkpoints") == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"include_optimizer": False}, {"type": "weight", "name": "c"}),
        ({"ttl_seconds": None}, {"type": "weight_and_optimizer", "name": "c", "ttl_seconds": None}),
        ({"ttl_seconds": 3600}, {"type": "weight_and_optimizer", "name": "c", "ttl_seconds": 3600}),
    ],
)
def test_save_state_type_and_ttl(
    fake: FakeWeaver, trainer: TrainingClient, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    trainer.save_state("c", **kwargs)
    assert fake.body(fake.sent("POST")[-1]) == expected


@pytest.mark.parametrize("as_", ["checkpoint", "path", "string"])
@pytest.mark.parametrize("include_optimizer", [False, True])
def test_load_requests(
    fake: FakeWeaver, trainer: TrainingClient, as_: str, include_optimizer: bool
) -> None:
    saved = trainer.save_state("c")
    refs: dict[str, Checkpoint | CheckpointPath | str] = {
        "checkpoint": saved,
        "path": saved.path,
        "string": "weaver://m-1/checkpoints/c",
    }
    ref = refs[as_]
    if include_optimizer:
        result = trainer.load_state_with_optimizer(ref)
    else:
        result = trainer.load_state(ref)
    body = assert_post(fake.sent("POST")[-1], "/api/v1/models/m-1/load")
    assert body == {"path": "weaver://m-1/checkpoints/c", "include_optimizer": include_optimizer}
    assert result.path == saved.path
    assert result.include_optimizer is include_optimizer


def test_load_result_is_filled_from_the_request_when_the_server_omits_it(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("c")
    fake.script(
        "POST",
        "/api/v1/models/m-1/load",
        json_reply(202, {"id": "op-9", "status": "done", "response": {}}),
    )
    result = trainer.load_state_with_optimizer(saved.path)
    assert result.path == saved.path
    assert result.include_optimizer is True
    assert result.checkpoint_id is None


def test_list_checkpoints_follows_cursors_with_limit(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.checkpoints["m-1"] = [checkpoint_json("m-1", f"c{i}") for i in range(5)]
    found = trainer.list_checkpoints(page_size=2)
    assert [c.name for c in found] == ["c0", "c1", "c2", "c3", "c4"]
    pages = fake.sent("GET", "/api/v1/models/m-1/checkpoints")
    assert [dict(r.url.params) for r in pages] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "c2"},
        {"limit": "2", "cursor": "c4"},
    ]
    for r in pages:
        assert_common_headers(r)


def test_a_padded_base64_cursor_is_sent_back_as_given(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # Base64 with its `=` padding is a common cursor, beyond the spec's Cursor pattern.
    first, second = checkpoint_json("m-1", "c0"), checkpoint_json("m-1", "c1")
    fake.script(
        "GET",
        "/api/v1/models/m-1/checkpoints",
        json_reply(200, {"items": [first], "next_cursor": "MQ=="}),
        json_reply(200, {"items": [second]}),
    )
    assert [c.name for c in trainer.list_checkpoints(page_size=1)] == ["c0", "c1"]
    pages = fake.sent("GET", "/api/v1/models/m-1/checkpoints")
    assert [r.url.params.get("cursor") for r in pages] == [None, "MQ=="]


def test_iter_checkpoints_is_lazy(fake: FakeWeaver, trainer: TrainingClient) -> None:
    fake.checkpoints["m-1"] = [checkpoint_json("m-1", f"c{i}") for i in range(5)]
    it = trainer.iter_checkpoints(page_size=2)
    assert fake.sent("GET") == []
    assert next(it).name == "c0"
    assert len(fake.sent("GET")) == 1
    assert [c.name for c in it] == ["c1", "c2", "c3", "c4"]
    assert len(fake.sent("GET")) == 3


def test_list_checkpoints_works_without_paging_support(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    items = [checkpoint_json("m-1", f"c{i}") for i in range(3)]
    # A server without the paging extension ignores `limit` and sends everything.
    fake.script("GET", "/api/v1/models/m-1/checkpoints", json_reply(200, {"items": items}))
    assert [c.name for c in trainer.list_checkpoints(page_size=1)] == ["c0", "c1", "c2"]


def test_get_checkpoint_by_each_kind_of_ref(fake: FakeWeaver, trainer: TrainingClient) -> None:
    saved = trainer.save_state("c")
    for ref in (saved, saved.id, str(saved.id)):
        assert trainer.get_checkpoint(ref) == saved
        request = fake.requests[-1]
        assert request.method == "GET"
        assert request.url.path == f"/api/v1/checkpoints/{saved.id}"
        assert_common_headers(request)
    before = len(fake.requests)
    assert trainer.get_checkpoint("weaver://m-1/checkpoints/c") == saved
    (listing,) = fake.requests[before:]
    assert listing.url.path == "/api/v1/models/m-1/checkpoints"


def test_delete_checkpoint_by_path(fake: FakeWeaver, trainer: TrainingClient) -> None:
    saved = trainer.save_state("c")
    deleted = trainer.delete_checkpoint(CheckpointPath("m-1", "c"))
    request = fake.requests[-1]
    assert request.method == "DELETE"
    assert request.url.path == f"/api/v1/checkpoints/{saved.id}"
    assert_common_headers(request)
    assert deleted.status.value == "deleted"


async def test_async_delete_checkpoint_takes_each_kind_of_ref() -> None:
    # TrainingClient.delete_checkpoint's docstring: "ref as for get_checkpoint"; returns the
    # checkpoint in status `deleted`. The async twin had no test.
    fake = FakeWeaver()
    names = ["by-path", "by-id", "by-text-id", "by-checkpoint"]
    stored = [checkpoint_json("m-1", n) for n in names]
    fake.checkpoints["m-1"].extend(stored)
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        listed = {c.name: c for c in await trainer.list_checkpoints()}
        refs: list[CheckpointRef] = [
            CheckpointPath("m-1", "by-path"),
            listed["by-id"].id,
            str(listed["by-text-id"].id),
            listed["by-checkpoint"],
        ]
        for name, ref in zip(names, refs, strict=True):
            fake.requests.clear()
            deleted = await trainer.delete_checkpoint(ref)
            assert (deleted.name, deleted.status.value) == (name, "deleted")
            request = fake.requests[-1]
            assert (request.method, request.url.path) == (
                "DELETE",
                f"/api/v1/checkpoints/{listed[name].id}",
            )
            assert_common_headers(request)
    assert fake.checkpoints["m-1"] == []


async def test_async_delete_without_the_by_id_route_is_unsupported_by_the_server() -> None:
    # As the sync docstring says: a server without `checkpoint-by-id` cannot delete; a
    # checkpoint its list does not have is not found, not "unsupported".
    fake = FakeWeaver()
    kept = checkpoint_json("m-1", "kept")
    fake.checkpoints["m-1"].append(kept)
    no_route = json_reply(404, {"error": "not_found", "message": "no route", "retryable": False})
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        fake.script("DELETE", f"/api/v1/checkpoints/{kept['id']}", no_route)
        with pytest.raises(UnsupportedByServerError) as refused:
            await trainer.delete_checkpoint(kept["id"])
        assert refused.value.extension == "checkpoint-by-id"
        assert "weaver://m-1/checkpoints/kept was not deleted" in str(refused.value)
        unknown = uuid.uuid4()
        fake.script("DELETE", f"/api/v1/checkpoints/{unknown}", no_route)
        with pytest.raises(NotFoundError) as missing:
            await trainer.delete_checkpoint(unknown)
        assert not isinstance(missing.value, UnsupportedByServerError)
    assert fake.checkpoints["m-1"] == [kept]


def test_a_delete_not_found_of_a_checkpoint_the_list_leaves_out_says_what_it_may_mean(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # A 404 `not_found` answers an unknown route and an unknown checkpoint alike: with a
    # list that does not show the checkpoint (yet), it was raised bare.
    saved = trainer.save_state("c")
    fake.checkpoints["m-1"].clear()  # a list that lags behind the save
    no_route = json_reply(404, {"error": "not_found", "message": "no route", "retryable": False})
    fake.script("DELETE", f"/api/v1/checkpoints/{saved.id}", no_route)
    with pytest.raises(NotFoundError) as missing:
        trainer.delete_checkpoint(saved)
    assert not isinstance(missing.value, UnsupportedByServerError)
    assert missing.value.__notes__ == [
        "model m-1 does not list it either: it was deleted or has expired; or this "
        "server lacks the checkpoint-by-id extension, without which it cannot delete "
        "checkpoints, and its list does not show this one yet"
    ]


@pytest.mark.parametrize(
    "no_route",
    [httpx.Response(405), httpx.Response(404, text="Not Found")],
    ids=["405", "404-without-error-body"],
)
def test_a_delete_whose_route_is_unknown_is_unsupported_whatever_the_list_says(
    fake: FakeWeaver, trainer: TrainingClient, no_route: httpx.Response
) -> None:
    # A 405, or a 404 that is a framework's page, says the route is missing for any id: a
    # checkpoint the list did not show (yet) got that bare 404, not the server's lack.
    saved = trainer.save_state("c")
    fake.checkpoints["m-1"].clear()  # a list that lags behind the save
    fake.script("DELETE", f"/api/v1/checkpoints/{saved.id}", no_route)
    fake.requests.clear()
    with pytest.raises(UnsupportedByServerError) as refused:
        trainer.delete_checkpoint(saved)
    assert refused.value.extension == "checkpoint-by-id"
    assert refused.value.status_code == no_route.status_code
    assert f"{saved.path} was not deleted" in str(refused.value)
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("DELETE", f"/api/v1/checkpoints/{saved.id}")
    ]


@pytest.mark.parametrize("kind", ["checkpoint", "path", "id", "text id"])
def test_a_delete_answered_204_returns_the_checkpoint_deleted(
    fake: FakeWeaver, trainer: TrainingClient, kind: str
) -> None:
    # A server answered the delete with 204 No Content: the checkpoint was gone, yet the
    # facade raised ResponseValidationError, and the retry it invited was a 404.
    saved = trainer.save_state("c")
    refs: dict[str, CheckpointRef] = {
        "checkpoint": saved,
        "path": saved.path,
        "id": saved.id,
        "text id": str(saved.id),
    }
    path = f"/api/v1/checkpoints/{saved.id}"
    gone = error_json("not_found", "no such checkpoint")
    fake.script("DELETE", path, httpx.Response(204), json_reply(404, gone))
    deleted = trainer.delete_checkpoint(refs[kind])
    assert deleted == attrs.evolve(saved, status=CheckpointStatus.DELETED)
    assert len(fake.sent("DELETE", path)) == 1


def test_a_delete_refused_for_another_reason_is_that_refusal(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # Only a 404 or 405 may mean a server without the route; any other refusal is the
    # server's word on this checkpoint, raised as it is, with no listing to tell.
    saved = trainer.save_state("busy")
    busy = {"error": "checkpoint_in_use", "message": "being loaded", "retryable": False}
    fake.script("DELETE", f"/api/v1/checkpoints/{saved.id}", json_reply(409, busy))
    fake.requests.clear()
    with pytest.raises(ConflictError) as refused:
        trainer.delete_checkpoint(saved)
    assert not isinstance(refused.value, UnsupportedByServerError)
    assert (refused.value.status_code, refused.value.code) == (409, "checkpoint_in_use")
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("DELETE", f"/api/v1/checkpoints/{saved.id}")
    ]


@pytest.mark.parametrize("ttl", [None, 86400])
def test_set_checkpoint_ttl_request(
    fake: FakeWeaver, trainer: TrainingClient, ttl: int | None
) -> None:
    saved = trainer.save_state("c")
    updated = trainer.set_checkpoint_ttl(saved, ttl)
    request = fake.requests[-1]
    assert request.method == "PATCH"
    assert request.url.path == "/api/v1/models/m-1/checkpoints/ttl"
    assert_common_headers(request)
    assert fake.body(request) == {"path": "weaver://m-1/checkpoints/c", "ttl_seconds": ttl}
    assert updated.ttl_seconds == ttl


def test_set_checkpoint_ttl_by_id_looks_up_the_path(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    saved = trainer.save_state("c")
    trainer.set_checkpoint_ttl(str(saved.id), 60)
    get, patch = fake.requests[-2:]
    assert (get.method, get.url.path) == ("GET", f"/api/v1/checkpoints/{saved.id}")
    assert fake.body(patch)["path"] == str(saved.path)


def test_training_client_attaches_with_get_model(fake: FakeWeaver, svc: ServiceClient) -> None:
    trainer = svc.training_client("m-7")
    (request,) = fake.requests
    assert (request.method, request.url.path) == ("GET", "/api/v1/models/m-7")
    assert trainer.model_id == "m-7"
    # Attaching does not need a session.
    assert fake.sent("POST", "/api/v1/sessions") == []
    # Checkpoint methods work at once.
    assert trainer.list_checkpoints() == []


def test_an_attached_client_trains_only_with_an_explicit_next_seq_id(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    blind = svc.training_client("m-7")
    fake.requests.clear()
    # Counting from 1 again would get the model's old operations back, silently.
    with pytest.raises(InvalidArgumentError, match="next_seq_id"):
        blind.optim_step()
    with pytest.raises(InvalidArgumentError, match="next_seq_id"):
        blind.forward_backward([datum_from_tokens([1, 2])])
    assert fake.requests == []
    resumed = svc.training_client("m-7", next_seq_id=7)
    resumed.forward_backward([datum_from_tokens([1, 2])])
    resumed.optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")] == [7, 8]
    with pytest.raises(InvalidArgumentError, match="next_seq_id must be an int >= 1"):
        svc.training_client("m-7", next_seq_id=0)


def test_an_attached_client_continues_from_the_servers_next_seq_id(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    model = {"id": "m-7", "base_model": "weaver-tiny", "training_mode": "lora", "next_seq_id": 12}
    fake.script("GET", "/api/v1/models/m-7", httpx.Response(200, json=model))
    trainer = svc.training_client("m-7")
    assert trainer.model.next_seq_id == 12
    trainer.forward_backward([datum_from_tokens([1, 2])])
    trainer.optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")] == [12, 13]


def test_training_clients_of_one_model_share_its_step_counter(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    # Two that counted apart sent one seq_id twice: a server answers the second with the
    # first one's operation, and the step is lost without a word.
    made = svc.create_training_client("weaver-tiny")
    made.forward_backward([datum_from_tokens([1, 2])])
    # The server's count lags behind a step on its way: this client's own count wins.
    model = {"id": made.model_id, "base_model": "weaver-tiny", "next_seq_id": 1}
    fake.script("GET", f"/api/v1/models/{made.model_id}", httpx.Response(200, json=model))
    attached = svc.training_client(made.model_id)
    attached.forward_backward([datum_from_tokens([1, 2])])
    made.optim_step()
    svc.with_options(timeout=30).training_client(made.model_id).optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")[2:]] == [1, 2, 3, 4]
    # An explicit next_seq_id is the caller's word, for every client of the model: here
    # the re-send of step 4 (whose reply, say, was lost) with its own seq_id.
    svc.training_client(made.model_id, next_seq_id=4).optim_step()
    made.optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")[-2:]] == [4, 5]
    # Ahead, the server's count wins: another process sent steps 6 to 8 meanwhile. Kept,
    # this client's would send 6 again, which a server answers with that step's operation.
    model["next_seq_id"] = 9
    fake.script("GET", f"/api/v1/models/{made.model_id}", httpx.Response(200, json=model))
    svc.training_client(made.model_id).optim_step()
    made.optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")[-2:]] == [9, 10]


def test_next_seq_id_overrides_the_server_s_for_every_client_of_the_model(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    # An attach that only listed checkpoints read the server's next_seq_id; an explicit
    # one, documented to override the server's, was then refused. (Found in review.)
    model = {"id": "m-7", "base_model": "weaver-tiny", "next_seq_id": 40}
    fake.script("GET", "/api/v1/models/m-7", *[httpx.Response(200, json=model)] * 2)
    looked = svc.training_client("m-7")
    looked.list_checkpoints()
    svc.training_client("m-7", next_seq_id=12).forward_backward([datum_from_tokens([1, 2])])
    looked.optim_step()  # the count is the model's, whichever client set it
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")] == [12, 13]


async def test_async_training_clients_of_one_model_share_its_step_counter() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        made = await svc.create_training_client("weaver-tiny")
        await made.forward_backward([datum_from_tokens([1, 2])])
        attached = await svc.training_client(made.model_id)  # the server says no next_seq_id
        await attached.optim_step()
        await made.optim_step()
    assert [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST")[2:-1]] == [1, 2, 3]


LIVE_CALLS = {
    "forward_backward": lambda t: t.forward_backward([datum_from_tokens([1, 2])]),
    "optim_step": lambda t: t.optim_step(),
    "save_state": lambda t: t.save_state("s"),
    "load_state": lambda t: t.load_state("weaver://m-1/checkpoints/s"),
    "load_state_with_optimizer": lambda t: t.load_state_with_optimizer(
        "weaver://m-1/checkpoints/s"
    ),
    "export_weights": lambda t: t.export_weights(),
}


@pytest.mark.parametrize("call", LIVE_CALLS)
def test_a_model_this_client_terminated_is_refused_before_any_request(
    fake: FakeWeaver, svc: ServiceClient, call: str
) -> None:
    # A server need not say `model_terminated` (one written from the wire sheet answers a
    # plain 409): the client that terminated the model knows, and says it the same way.
    trainer = svc.create_training_client("weaver-tiny")
    kept = trainer.save_state("kept")
    svc.terminate_model(trainer.model_id)
    fake.requests.clear()
    refused = rf"^\[model_terminated\] {call}: model m-1 was terminated by this client"
    for client in (trainer, svc.training_client(trainer.model_id)):
        with pytest.raises(ModelTerminatedError, match=refused) as info:
            LIVE_CALLS[call](client)
        assert info.value.status_code is None
    assert [r.method for r in fake.requests] == ["GET"]  # the attach's, and nothing else
    # Its checkpoints stay within reach.
    assert trainer.list_checkpoints() == [kept]
    with pytest.raises(NotFoundError, match="no route"):  # sent: this fake makes no exports
        trainer.export_weights(kept)
    assert fake.sent("POST", f"/api/v1/checkpoints/{kept.id}/export")


def test_a_model_terminated_before_it_was_attached_is_refused_before_any_request(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    # The client knew only the models it had a training client of: one terminated by id
    # first, then attached (for its checkpoints, or by mistake), sent its steps.
    svc.terminate_model("m-1")
    trainer = svc.training_client("m-1", next_seq_id=7)
    fake.requests.clear()
    with pytest.raises(ModelTerminatedError, match="terminated by this client"):
        trainer.forward_backward([datum_from_tokens([1, 2])])
    assert fake.requests == []


async def test_an_async_model_this_client_terminated_is_refused_before_any_request() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await svc.terminate_model(trainer.model_id)
        fake.requests.clear()
        with pytest.raises(ModelTerminatedError, match="terminated by this client"):
            await trainer.save_state("s")
    assert fake.requests == []


@pytest.mark.parametrize("value", ["x", 0, -4])
def test_a_malformed_next_seq_id_from_the_server_is_left_out(
    fake: FakeWeaver,
    svc: ServiceClient,
    value: object,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An extension, which a server may send with a meaning of its own: the attach works
    # for checkpoints, and training is refused as without it, not numbered from the value.
    monkeypatch.setattr(_wire, "_warned", set())  # each field is warned about once
    model = {"id": "m-7", "base_model": "weaver-tiny", "next_seq_id": value}
    fake.script("GET", "/api/v1/models/m-7", httpx.Response(200, json=model))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        trainer = svc.training_client("m-7")
    assert "`next_seq_id` is left out" in caplog.text
    fake.requests.clear()
    with pytest.raises(InvalidArgumentError, match="without next_seq_id"):
        trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    assert fake.requests == []


def test_unknown_checkpoint_id_is_not_found(trainer: TrainingClient) -> None:
    with pytest.raises(NotFoundError) as info:
        trainer.get_checkpoint(uuid.uuid4())
    assert info.value.status_code == 404
    with pytest.raises(NotFoundError) as by_path:
        trainer.get_checkpoint("weaver://m-1/checkpoints/nope")
    assert by_path.value.status_code is None
    assert "nope" in str(by_path.value)


@pytest.mark.parametrize("flip", [False, True], ids=["example", "flipped"])
def test_every_lora_setting_a_model_reports_is_sent_when_one_is_made_like_it(flip: bool) -> None:
    # The coverage holds the read side: a field added to LoraConfig must reach
    # LoraSettings. Nothing held the request: a resume read `alpha` from the source
    # model and re-created it without, in silence (create_model names each field).
    reported = every_field(SCHEMAS["LoraConfig"])
    reported = flipped(reported) if flip else reported
    settings = _lora("get_model", "Model", wire.LoraConfig.from_dict(reported))
    call = create_model(
        "s-1", model_seq_id=1, base_model="weaver-tiny", training_mode="lora", lora=settings
    )
    assert call.request["json"]["lora_config"] == reported


@pytest.mark.parametrize("acted", [True, False], ids=["deleted", "not-deleted"])
def test_a_delete_whose_reply_was_lost_asks_the_list_whether_it_was_done(
    fake: FakeWeaver, trainer: TrainingClient, acted: bool
) -> None:
    # A DELETE is not sent again (a second would meet a 404): its reply lost after the
    # server deleted the checkpoint raised APIConnectionError, and a retry by the user got
    # NotFoundError; neither said that the delete was done.
    saved = trainer.save_state("c")
    path = f"/api/v1/checkpoints/{saved.id}"

    def lost(request: httpx.Request) -> httpx.Response:
        if acted:
            fake.checkpoints["m-1"].clear()
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    fake.script("DELETE", path, lost)
    if acted:
        assert trainer.delete_checkpoint(saved) == attrs.evolve(
            saved, status=CheckpointStatus.DELETED
        )
    else:
        with pytest.raises(APIConnectionError):
            trainer.delete_checkpoint(saved)
    assert len(fake.sent("DELETE", path)) == 1


def test_a_lost_delete_of_a_checkpoint_the_list_leaves_out_is_not_reported_done(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # The list leaves failed checkpoints out (the spec's list_checkpoints): a failed one's
    # DELETE that lost its reply before the server acted was returned in status deleted.
    saved = trainer.save_state("c")
    fake.checkpoints["m-1"][0]["status"] = "failed"
    failed = attrs.evolve(saved, status=CheckpointStatus.FAILED)
    path = f"/api/v1/checkpoints/{saved.id}"

    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    fake.script("DELETE", path, lost)
    fake.script("GET", "/api/v1/models/m-1/checkpoints", httpx.Response(200, json={"items": []}))
    with pytest.raises(APIConnectionError):
        trainer.delete_checkpoint(failed)
    assert len(fake.sent("DELETE", path)) == 1
