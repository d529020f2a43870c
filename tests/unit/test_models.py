"""Models without a server: the offset pager's stopping rules, cleanup on close, resume order."""

from __future__ import annotations

import asyncio
import inspect
import logging
import selectors
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.ctrl_c_points import ainterrupted_at, every_point, interrupted_at
from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeClock,
    FakeWeaver,
    HeldTransport,
    async_service,
    checkpoint_json,
    close_waiting_for_a_cancelled_create,
    error_json,
    json_reply,
    service,
    turns_until,
)
from tests.support.held_creates import ctrl_c, default_sigint
from tests.support.logs import logged
from tests.support.openapi import openapi
from weaver_facade import (
    DEFAULT_LORA_RANK,
    AdamParams,
    AsyncServiceClient,
    ClientClosedError,
    EventLoopError,
    IncompatibleCheckpointError,
    InvalidArgumentError,
    InvalidInputError,
    ModelTerminatedError,
    NotFoundError,
    OperationFailedError,
    OperationHandle,
    OperationStatus,
    OperationTimeoutError,
    OptimizerStateUnavailableError,
    PermissionDeniedError,
    PollSettings,
    ResponseValidationError,
    ServiceClient,
    UnsupportedByServerError,
    _plans,
    _wire,
)
from weaver_facade._models import CreatedModels, NewModel
from weaver_facade._operations import OperationSnapshot, PollPolicy

MODELS = "/api/v1/models"
CREATE = "/api/v1/sessions/s-1/models"
SPEC = openapi()


def model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "base_model": "weaver-tiny", "training_mode": "lora"}


def page(ids: list[str], total: int) -> httpx.Response:
    return json_reply(200, {"items": [model(i) for i in ids], "pagination": {"total_count": total}})


def test_listing_follows_offsets_until_total_count() -> None:
    fake = FakeWeaver()
    fake.script("GET", MODELS, page(["m-1", "m-2"], 3), page(["m-3"], 3))
    with service(fake) as svc:
        assert [m.id for m in svc.iter_models(page_size=2)] == ["m-1", "m-2", "m-3"]
    sent = [dict(r.url.params) for r in fake.sent("GET", MODELS)]
    assert sent == [{"limit": "2", "offset": "0"}, {"limit": "2", "offset": "2"}]


def test_an_empty_page_ends_the_listing_whatever_the_total_says() -> None:
    fake = FakeWeaver()
    fake.script("GET", MODELS, page(["m-1"], 10), page([], 10))
    with service(fake) as svc:
        assert [m.id for m in svc.list_models(page_size=1)] == ["m-1"]
    assert len(fake.sent("GET", MODELS)) == 2


def test_a_page_longer_than_the_limit_is_a_validation_error() -> None:
    fake = FakeWeaver()
    fake.script("GET", MODELS, page(["m-1", "m-2", "m-3"], 3))
    with service(fake) as svc, pytest.raises(ResponseValidationError, match="3 items for limit 2"):
        svc.list_models(page_size=2)


def test_a_bad_listed_model_is_named_by_its_place_in_the_listing() -> None:
    # As a bad checkpoint or base model of a listing is: among a hundred, which one.
    fake = FakeWeaver()
    bad = {**model("m-3"), "base_model": 8}
    fake.script(
        "GET",
        MODELS,
        page(["m-1", "m-2"], 4),
        json_reply(200, {"items": [bad, model("m-4")], "pagination": {"total_count": 4}}),
    )
    with service(fake) as svc, pytest.raises(ResponseValidationError) as info:
        svc.list_models(page_size=2)
    assert str(info.value).startswith("list_models: Model items[2]: field `base_model`")
    assert info.value.field == "base_model"


NO_ROUTE = {
    404: error_json("not_found", "no route /api/v1/models"),
    405: error_json("method_not_allowed", "method GET is not allowed on /api/v1/models"),
}


@pytest.mark.parametrize("status", sorted(NO_ROUTE))
def test_listing_on_a_server_without_the_route_names_the_extension(status: int) -> None:
    # GET /models is the model-listing extension: the wire has no route to list a key's models.
    fake = FakeWeaver()
    fake.script("GET", MODELS, json_reply(status, NO_ROUTE[status]))
    fake.script("GET", MODELS, json_reply(status, NO_ROUTE[status]))
    with service(fake) as svc:
        with pytest.raises(UnsupportedByServerError) as info:
            svc.list_models()
        with pytest.raises(UnsupportedByServerError):
            next(svc.iter_models())
    assert info.value.extension == "model-listing"
    assert info.value.status_code == status
    assert "lacks the model-listing extension" in str(info.value)
    assert isinstance(info.value.__cause__, Exception)
    assert len(fake.sent("GET", MODELS)) == 2  # a missing route is not retried


def test_a_web_page_404_is_not_taken_for_a_missing_extension() -> None:
    # A wrong base URL, or no Weaver server at all, was said to lack model-listing.
    fake = FakeWeaver()
    page = httpx.Response(404, html="<!DOCTYPE html><title>Not Found</title>")
    fake.script("GET", MODELS, page)
    with service(fake) as svc, pytest.raises(NotFoundError) as info:
        svc.list_models()
    assert not isinstance(info.value, UnsupportedByServerError)
    assert "the reply is an HTML page titled 'Not Found', not a Weaver error" in str(info.value)


async def test_async_listing_on_a_server_without_the_route_names_the_extension() -> None:
    fake = FakeWeaver()
    fake.script("GET", MODELS, json_reply(404, NO_ROUTE[404]), json_reply(404, NO_ROUTE[404]))
    async with async_service(fake) as svc:
        with pytest.raises(UnsupportedByServerError) as info:
            await svc.list_models()
        with pytest.raises(UnsupportedByServerError):
            await anext(svc.iter_models())
    assert info.value.extension == "model-listing"


def test_other_listing_errors_are_not_taken_for_a_missing_route() -> None:
    fake = FakeWeaver()
    fake.script("GET", MODELS, json_reply(403, error_json("permission_denied", "no listing")))
    with service(fake) as svc, pytest.raises(PermissionDeniedError):
        svc.list_models()


@pytest.mark.parametrize("bad", [0, 1001, True, "10"])
def test_page_size_is_checked_before_any_request(bad: Any) -> None:
    fake = FakeWeaver()
    with service(fake) as svc, pytest.raises(InvalidArgumentError, match="page_size"):
        svc.list_models(page_size=bad)
    assert fake.requests == []


def _limit(operation_id: str) -> dict[str, Any]:
    """The ``limit`` query parameter of an operation, as openapi.yaml gives it."""
    for item in SPEC["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                found = next(p for p in op["parameters"] if p.get("name") == "limit")
                return dict(found["schema"])
    raise AssertionError(operation_id)


def test_page_sizes_follow_each_listings_limit_in_the_spec() -> None:
    # The default was a literal 100, and every listing was held to the models' bounds.
    models, base_models = _limit("list_models"), _limit("list_supported_models")
    fake = FakeWeaver()
    fake.script("GET", MODELS, page([], 0))
    none = json_reply(200, {"items": [], "pagination": {"total_count": 0}})
    fake.script("GET", "/api/v1/supported-models", none)
    with service(fake) as svc:
        svc.list_models()
        svc.supported_models()
        for bound in (models["minimum"] - 1, models["maximum"] + 1):
            with pytest.raises(InvalidArgumentError, match="page_size"):
                svc.list_models(page_size=bound)
    assert [r.url.params["limit"] for r in fake.sent("GET", MODELS)] == [str(models["default"])]
    sent = [r.url.params["limit"] for r in fake.sent("GET", "/api/v1/supported-models")]
    assert sent == [str(base_models["default"])]


def test_close_goes_on_past_a_failed_terminate() -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", json_reply(500, error_json("internal", "boom")))
    http = httpx.Client(transport=httpx.MockTransport(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, max_retries=0)
    svc.create_training_client("weaver-tiny")
    # The fake names every model m-1; a second, different id comes from the server's reply.
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    svc.create_training_client("weaver-tiny")
    svc.close()
    http.close()
    assert [r.url.path for r in fake.sent("POST") if r.url.path.endswith("/terminate")] == [
        f"{MODELS}/m-1/terminate",
        f"{MODELS}/m-2/terminate",
    ]
    assert fake.terminated == ["m-2"]


def _terminate_held(
    fake: FakeWeaver, **options: Any
) -> tuple[HeldTransport, httpx.AsyncClient, AsyncServiceClient]:
    """A client whose terminate of ``m-1`` is held until ``held.release`` is set."""
    held = HeldTransport(fake, f"{MODELS}/m-1/terminate")
    http = httpx.AsyncClient(transport=held)
    return (
        held,
        http,
        AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, **options),
    )


async def test_a_cancelled_close_leaves_its_models_for_the_next_close() -> None:
    # The plan forgot every model before sending anything: a close cancelled while the
    # first terminate was on its way (a timeout, Ctrl-C) left the second model running,
    # and a second close terminated nothing.
    fake = FakeWeaver()
    held, http, svc = _terminate_held(fake)
    await svc.create_training_client("weaver-tiny")
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    await svc.create_training_client("weaver-tiny")
    closing = asyncio.create_task(svc.aclose())
    await held.reached.wait()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    held.release.set()
    await svc.aclose()
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]


async def test_a_cancelled_close_names_the_models_it_leaves_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # ``async with asyncio.timeout(T): async with client: ...``: a timeout during the
    # terminates left models running in silence, the close never run again.
    fake = FakeWeaver()
    held, http, svc = _terminate_held(fake)
    await svc.create_training_client("weaver-tiny")
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    await svc.create_training_client("weaver-tiny")
    closing = asyncio.create_task(svc.aclose())
    await held.reached.wait()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
    held.release.set()
    assert (
        "the close was cancelled (close again): models left running: m-1, m-2 "
        "(end them with terminate_model())"
    ) in caplog.text
    await svc.aclose()  # as it says: nothing is left running (nor said when it is collected)
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]


def test_a_close_interrupted_by_ctrl_c_names_the_models_it_leaves_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A Ctrl-C while the close of a `with` block terminated its models (a second one,
    # the first having begun the close, which waits up to the read timeout on a server
    # that does not answer) left them running with nothing said, where a cancelled
    # aclose() names them.
    fake = FakeWeaver()

    raised: list[None] = []

    def interrupted(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"{MODELS}/m-1/terminate" and not raised:
            raised.append(None)  # the first close's only
            raise KeyboardInterrupt
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(interrupted))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    svc.create_training_client("weaver-tiny")
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    svc.create_training_client("weaver-tiny")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(KeyboardInterrupt):
        svc.close()
    assert fake.terminated == []
    assert (
        "the close was interrupted: models left running: m-1, m-2 (end them with terminate_model())"
    ) in caplog.text
    svc.close()  # as it says: nothing is left running (nor said when it is collected)
    http.close()
    assert fake.terminated == ["m-1", "m-2"]


def test_a_second_ctrl_c_during_the_close_keeps_what_the_first_said() -> None:
    # The first Ctrl-C ended a wait, with a note naming the operation that keeps running
    # and how to re-attach; a second one during the block's close raised a bare
    # KeyboardInterrupt, and the traceback showed that note only above "During handling of
    # the above exception, another exception occurred".
    fake = FakeWeaver()
    fake.pending_polls = 100

    raised: list[str] = []

    def interrupted(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in ("/api/v1/operations/op-1", f"{MODELS}/m-1/terminate") and path not in raised:
            raised.append(path)  # once each
            raise KeyboardInterrupt
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(interrupted))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)

    def block() -> None:
        with svc:
            trainer = svc.create_training_client("weaver-tiny")
            trainer.save_state("a")

    with pytest.raises(KeyboardInterrupt) as caught:
        block()
    first = caught.value.__context__
    assert isinstance(first, KeyboardInterrupt)
    assert first is not caught.value
    said = first.__notes__
    assert any("service.operation('op-1', Checkpoint)" in note for note in said)
    assert all(note in getattr(caught.value, "__notes__", []) for note in said)
    assert fake.terminated == []
    svc.close()  # nothing left running (nor said when it is collected)
    http.close()
    assert fake.terminated == ["m-1"]


def test_a_block_left_by_ctrl_c_says_that_its_close_terminates_the_models(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The close waits for the terminates, up to the read timeout on a server that does not
    # answer, with nothing said: the user pressed Ctrl-C again and left the models running.
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))

    def block() -> None:
        with ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, timeout=7) as svc:
            svc.create_training_client("weaver-tiny")
            raise KeyboardInterrupt

    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(KeyboardInterrupt):
        block()
    http.close()
    assert fake.terminated == ["m-1"]
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said == [
        "interrupted: terminating the models this client created (m-1) first, within 7 s; "
        "press Ctrl-C again to leave them running"
    ]


def test_a_block_left_by_ctrl_c_during_a_create_in_another_thread_says_its_close_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The close waited for the reply to a create in another thread (up to the read
    # timeout) with nothing said, where an async block's names that create's model.
    fake = FakeWeaver()
    reached, release = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/sessions/s-1/models":
            reached.set()
            release.wait(10)
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(held))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, timeout=7)
    failed: list[BaseException] = []

    def create() -> None:
        try:
            svc.create_training_client("weaver-tiny")
        except ClientClosedError as exc:
            failed.append(exc)

    creating = threading.Thread(target=create)
    creating.start()
    assert reached.wait(10)
    with (
        svc._io.wakeup.stopping(release.set),  # the reply once the close began: it waits for it
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(KeyboardInterrupt),
        svc,
    ):
        raise KeyboardInterrupt
    creating.join(10)
    http.close()
    assert [type(exc) for exc in failed] == [ClientClosedError]
    assert fake.terminated == ["m-1"]
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said == [
        "interrupted: terminating the model of a create on its way first, within 7 s; "
        "press Ctrl-C again to leave it running"
    ]


async def test_a_block_left_by_a_cancel_says_so_too(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeaver()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))

    created = asyncio.Event()

    async def block() -> None:
        async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
            await svc.create_training_client("weaver-tiny")
            created.set()
            await asyncio.Event().wait()  # until cancelled (asyncio.run's Ctrl-C, say)

    task = asyncio.create_task(block())
    await created.wait()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await http.aclose()
    assert fake.terminated == ["m-1"]
    assert "cancelled: terminating the models this client created (m-1) first" in caplog.text


def test_a_block_of_a_with_options_copy_left_by_ctrl_c_says_no_close_terminates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A copy's close closes nothing (its original owns the models): the WARNING said that
    # it terminated them first, and the models were left running.
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)

    def block() -> None:
        with svc.with_options(timeout=5) as copy:
            copy.create_training_client("weaver-tiny")
            raise KeyboardInterrupt

    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(KeyboardInterrupt):
        block()
    assert fake.terminated == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    svc.close()  # the original terminates it
    http.close()
    assert fake.terminated == ["m-1"]


async def test_a_block_of_a_with_options_copy_left_by_a_cancel_says_none_either(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeWeaver()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    created = asyncio.Event()

    async def block() -> None:
        async with svc.with_options(timeout=5) as copy:
            await copy.create_training_client("weaver-tiny")
            created.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(block())
    await created.wait()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.terminated == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    await svc.aclose()  # the original terminates it
    await http.aclose()
    assert fake.terminated == ["m-1"]


async def test_a_close_cancelled_while_it_waits_for_a_create_names_the_models_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Cancelled before its terminates, while it waited for the reply to a cancelled
    # create, the close left m-1 running with nothing said.
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/sessions/s-1/models")
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    held.release.set()
    await svc.create_training_client("weaver-tiny")
    held.release.clear()
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    closing = await close_waiting_for_a_cancelled_create(svc, held)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
    held.release.set()
    assert fake.terminated == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "the close was cancelled (close again): models left running: m-1, the model of a "
        "create on its way (a server with the model-listing extension shows the id this "
        "client never got in service.list_models(); end them with terminate_model())"
    ]
    await svc.aclose()  # as it says: nothing is left running (nor said when it is collected)
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]


async def test_a_block_left_by_a_cancel_during_a_create_says_its_close_waits_for_that_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # asyncio.run()'s first Ctrl-C during a create: the block's close waited for the
    # create's reply (up to the read timeout) with nothing said, so the user, pressing
    # Ctrl-C again, left that model running unknowingly.
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/sessions/s-1/models")
    http = httpx.AsyncClient(transport=held)

    async def block() -> None:
        async with AsyncServiceClient(
            BASE, KEY, http_client=http, heartbeat_interval=0, timeout=7
        ) as svc:
            await svc.create_training_client("weaver-tiny")

    task = asyncio.create_task(block())
    await held.reached.wait()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), logged("cancelled: ") as said:
        task.cancel()
        await asyncio.to_thread(said.wait, 5)
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    await http.aclose()
    assert fake.terminated == ["m-1"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "cancelled: terminating the model of a create on its way first, within 7 s; "
        "press Ctrl-C again to leave it running"
    ]


async def test_a_close_cancelled_while_it_waits_for_a_create_names_that_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # With no other model, the close cancelled while it waited for the create's reply
    # said nothing, though that model is left running unless a close waits again.
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/sessions/s-1/models")
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    closing = await close_waiting_for_a_cancelled_create(svc, held)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
    held.release.set()
    await svc.aclose()  # closing again terminates it
    await http.aclose()
    assert fake.terminated == ["m-1"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "the close was cancelled (close again): models left running: "
        "the model of a create on its way (a server with the model-listing extension shows "
        "the id this client never got in service.list_models(); end it with terminate_model())"
    ]


def test_an_aclose_interrupted_by_ctrl_c_names_the_models_it_leaves_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Under asyncio.run(), a second Ctrl-C raises KeyboardInterrupt wherever the program's
    # task is, here in the close's terminate: the models were left running with nothing
    # said, where a cancelled close names them.
    fake = FakeWeaver()

    def interrupted(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"{MODELS}/m-1/terminate":
            raise KeyboardInterrupt
        return fake(request)

    made: list[AsyncServiceClient] = []

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(interrupted))
        made.append(AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0))
        await made[0].create_training_client("weaver-tiny")
        await made[0].aclose()

    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    assert fake.terminated == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "the close was interrupted: models left running: m-1 (end it with terminate_model())"
    ]
    _closed_for_good(made[0], "m-1")


def test_a_ctrl_c_in_the_close_of_a_cancelled_block_keeps_what_the_cancel_said() -> None:
    # asyncio.run()'s first Ctrl-C cancelled a save's wait, whose CancelledError named the
    # operation that keeps running and how to re-attach; a second one, raised in the
    # block's close, was a bare KeyboardInterrupt, as close()'s once was.
    fake = FakeWeaver()
    fake.pending_polls = 100
    made: list[AsyncServiceClient] = []

    async def main() -> None:
        polled = asyncio.Event()

        def interrupted(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/v1/operations/op-1":
                polled.set()
            if request.url.path == f"{MODELS}/m-1/terminate":
                raise KeyboardInterrupt
            return fake(request)

        http = httpx.AsyncClient(transport=httpx.MockTransport(interrupted))

        async def block() -> None:
            async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
                made.append(svc)
                trainer = await svc.create_training_client("weaver-tiny")
                await trainer.save_state("a")

        task = asyncio.create_task(block())
        await polled.wait()
        task.cancel()
        await task

    with pytest.raises(KeyboardInterrupt) as caught:
        asyncio.run(main())
    first = caught.value.__context__
    assert isinstance(first, asyncio.CancelledError)
    said = first.__notes__
    assert any("service.operation('op-1', Checkpoint)" in note for note in said)
    assert all(note in getattr(caught.value, "__notes__", []) for note in said)
    assert fake.terminated == []
    _closed_for_good(made[0], "m-1")


def test_a_second_ctrl_c_while_the_close_waits_keeps_what_the_cancel_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Under asyncio.run(), a second Ctrl-C while the loop waited (here for the close's
    # terminate) raised KeyboardInterrupt outside the program's task, which asyncio.run()
    # then cancelled: the close advised "(close again)" as the program ended, and the
    # traceback's KeyboardInterrupt had none of the first cancel's notes.
    fake = FakeWeaver()
    fake.pending_polls = 100
    polled = threading.Event()
    terminating = threading.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/operations/op-1":
            polled.set()
        if request.url.path == f"{MODELS}/m-1/terminate":
            terminating.set()
            await asyncio.Event().wait()  # until asyncio.run() cancels what still runs
        return fake(request)

    made: list[AsyncServiceClient] = []
    first: list[asyncio.CancelledError] = []

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(held))
        async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
            made.append(svc)
            trainer = await svc.create_training_client("weaver-tiny")
            try:
                await trainer.save_state("a")
            except asyncio.CancelledError as cancel:
                first.append(cancel)  # as it leaves the block
                raise

    def press_ctrl_c_twice() -> None:
        if polled.wait(10):
            ctrl_c()  # asyncio.run() cancels the program's task
        if terminating.wait(10) and _waiting_in_select(threading.main_thread(), 10):
            ctrl_c()  # raised by asyncio.run()'s handler where the loop waits

    presser = threading.Thread(target=press_ctrl_c_twice, daemon=True)
    presser.start()
    with (
        default_sigint(),
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(KeyboardInterrupt) as caught,
    ):
        asyncio.run(main())
    presser.join(10)
    assert fake.terminated == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "cancelled: terminating the models this client created (m-1) first, within 60 s; "
        "press Ctrl-C again to leave them running",
        "the close was interrupted: models left running: m-1 (end it with terminate_model())",
    ]
    said = first[0].__notes__
    assert any("service.operation('op-1', Checkpoint)" in note for note in said)
    assert all(note in getattr(caught.value, "__notes__", []) for note in said)
    _closed_for_good(made[0], "m-1")


def _waiting_in_select(thread: threading.Thread, timeout: float) -> bool:
    """Whether ``thread``'s event loop came to wait in its selector within ``timeout``
    seconds: a signal then reaches no task's code. No event tells it, so it is looked at."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident or 0)
        if frame is not None and frame.f_code.co_filename == selectors.__file__:
            return True
        time.sleep(0.001)
    return False


def _closed_for_good(svc: AsyncServiceClient, left: str) -> None:
    """Close again, as the log advises, ``svc`` whose close a Ctrl-C ended under an
    ``asyncio.run()`` now over: on its closed loop, with connections of the test's own,
    it names the model it leaves running, and is then closed (not said again once it is
    collected, during another test)."""
    with pytest.raises(EventLoopError, match=left):
        asyncio.run(svc.aclose())


class _CtrlCAs(logging.Handler):
    """Raises KeyboardInterrupt as a record starting with ``prefix`` is written, where
    a signal's handler may raise it."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            raise KeyboardInterrupt


def test_a_ctrl_c_as_a_block_says_it_closes_names_the_models_it_leaves_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The user presses Ctrl-C again as the WARNING is written, before the close began.
    fake = FakeWeaver()

    made: list[AsyncServiceClient] = []

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
            made.append(svc)
            await svc.create_training_client("weaver-tiny")
            raise asyncio.CancelledError  # as asyncio.run()'s first Ctrl-C cancels

    handler = _CtrlCAs("cancelled: ")
    logger = logging.getLogger("weaver_facade")
    logger.addHandler(handler)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="weaver_facade"),
            pytest.raises(KeyboardInterrupt),
        ):
            asyncio.run(main())
    finally:
        logger.removeHandler(handler)
    assert fake.terminated == []
    # The WARNING the Ctrl-C came in never reached the root logger's handlers.
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "the close was interrupted: models left running: m-1 (end it with terminate_model())"
    ]
    _closed_for_good(made[0], "m-1")


async def test_nothing_but_the_close_is_sent_once_a_close_has_begun() -> None:
    # While close() waited for its terminates (up to the read timeout), other tasks' calls
    # were still sent, and one could even create a model that was then left running.
    fake = FakeWeaver()
    held, http, svc = _terminate_held(fake)
    await svc.create_training_client("weaver-tiny")
    sent = len(fake.requests)
    closing = asyncio.create_task(svc.aclose())
    await held.reached.wait()
    with pytest.raises(ClientClosedError):
        await svc.supported_models()
    with pytest.raises(ClientClosedError):
        await svc.create_training_client("weaver-tiny")
    assert len(fake.requests) == sent  # the terminate is held before it arrives
    held.release.set()
    await closing
    await http.aclose()
    assert fake.terminated == ["m-1"]


async def test_a_retry_waiting_when_a_close_begins_is_not_sent() -> None:
    # A create that met a 503 sent its retry while close() waited for its terminates;
    # the model it made was then left running.
    fake = FakeWeaver()
    closing: list[asyncio.Task[None]] = []

    async def close_meanwhile(_seconds: float) -> None:
        closing.append(asyncio.create_task(svc.aclose()))
        for _ in range(5):
            await asyncio.sleep(0)  # the close has begun, and waits for this create

    held, http, svc = _terminate_held(fake, sleep=close_meanwhile)
    await svc.create_training_client("weaver-tiny")
    busy = error_json("unavailable", "busy", retryable=True)
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(503, busy))
    with pytest.raises(ClientClosedError, match="not retried"):
        await svc.create_training_client("weaver-tiny")
    held.release.set()
    await closing[0]
    await http.aclose()
    assert len(fake.sent("POST", "/api/v1/sessions/s-1/models")) == 2  # m-1, and the 503
    assert fake.terminated == ["m-1"]


class _Late(httpx.AsyncBaseTransport):
    """``fake``, with the replies to the paths in ``gates`` (after the fake has acted)
    held until their gate is set; ``reached[path]`` is set when one is held."""

    def __init__(self, fake: FakeWeaver, *paths: str) -> None:
        self._fake = fake
        self.gates = {p: asyncio.Event() for p in paths}
        self.reached = {p: asyncio.Event() for p in paths}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        reply = self._fake(request)
        path = request.url.path
        if path in self.gates and not self.gates[path].is_set():
            self.reached[path].set()
            await self.gates[path].wait()
        return reply


@pytest.mark.parametrize("keep", [False, True])
async def test_a_model_whose_creation_ends_while_closing_is_not_lost(
    keep: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Its reply came after aclose() had begun: the create returned normally and the model
    # stayed active, unknown to the close; or came once the close had ended its
    # terminates, and the model was left running.
    fake = FakeWeaver()
    create, terminate = "/api/v1/sessions/s-1/models", f"{MODELS}/m-1/terminate"
    late = _Late(fake, create, terminate)
    late.gates[create].set()  # the first create goes through
    late.gates[terminate].set()
    http = httpx.AsyncClient(transport=late)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    await svc.create_training_client("weaver-tiny")
    late.gates[create].clear()
    fake.script("POST", create, json_reply(201, model("m-2")))
    creating = asyncio.create_task(svc.create_training_client("weaver-tiny", keep=keep))
    await late.reached[create].wait()  # the server made m-2; its reply is held
    closing = asyncio.create_task(svc.aclose())
    for _ in range(100):  # the close is under way, waiting for the reply
        await asyncio.sleep(0)
    assert not closing.done()
    assert fake.terminated == []
    late.gates[create].set()
    with pytest.raises(ClientClosedError, match="while model m-2 was being created") as info:
        await creating
    await closing
    await http.aclose()
    # Its caller never got it: terminated even when kept.
    assert "left to the close under way to terminate" in str(info.value)
    assert fake.terminated == ["m-1", "m-2"]
    assert "left running" not in caplog.text


def _closing_while_a_create_is_answered(
    fake: FakeWeaver,
) -> tuple[ServiceClient, threading.Thread, list[BaseException]]:
    """A client on ``fake`` whose create, started in a thread (on its way once this
    returns), is answered once the close began, which waits for it; its terminates raise
    KeyboardInterrupt (a second Ctrl-C). The client, the create's thread, and the error it
    ended with, once it has."""
    made: list[ServiceClient] = []
    sent = threading.Event()

    def answered_once_closing(request: httpx.Request) -> httpx.Response:
        sent.set()
        while not made[0]._io.wakeup.closing:
            time.sleep(0.001)
        return fake(request)

    def interrupted(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/terminate"):
            raise KeyboardInterrupt
        return fake(request)

    fake.script("POST", CREATE, answered_once_closing)
    http = httpx.Client(transport=httpx.MockTransport(interrupted))
    made.append(ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0))
    ended: list[BaseException] = []

    def create() -> None:
        try:
            made[0].create_training_client("weaver-tiny")
        except ClientClosedError as exc:
            ended.append(exc)

    creating = threading.Thread(target=create)
    creating.start()
    assert sent.wait(10)
    return made[0], creating, ended


def test_a_create_answered_while_the_close_runs_promises_no_terminate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The create answered while close() ran said its model "is terminated by the close";
    # a second Ctrl-C then cut the close short during its terminate, and the model ran on.
    fake = FakeWeaver()
    svc, creating, ended = _closing_while_a_create_is_answered(fake)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(KeyboardInterrupt):
        svc.close()
    creating.join(10)
    assert fake.terminated == []
    [error] = ended
    assert "while model m-1 was being created" in str(error)
    assert "terminated" not in str(error)  # said as if done: nothing terminated it
    # What it says instead: the close's WARNING names the model it left.
    assert "the close was interrupted: models left running: m-1 (" in caplog.text


async def test_a_model_said_left_running_that_a_later_close_terminates_is_said_terminated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A create answered once a cancel cut the close short said its model was left
    # running, as a WARNING did; closing again then terminated it, with nothing said.
    fake = FakeWeaver()
    held = HeldTransport(fake, CREATE)
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    creating = asyncio.create_task(svc.create_training_client("weaver-tiny"))
    await held.reached.wait()
    closing = asyncio.create_task(svc.aclose())
    await turns_until(lambda: svc._io.wakeup.closing)  # it waits for the create
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    held.release.set()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        with pytest.raises(ClientClosedError, match=r"m-1 .*left running"):
            await creating
        assert "models left running: m-1 (end it with terminate_model())" in caplog.messages
        await svc.aclose()
    await http.aclose()
    assert fake.terminated == ["m-1"]
    assert caplog.messages[-1] == (
        "model m-1, which a WARNING said was left running, is terminated by the close after all"
    )


def test_a_model_said_left_running_that_a_later_close_finds_gone_is_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A Ctrl-C cut the close short once its terminate of m-1 had reached the server, whose
    # WARNING said m-1 was left running; the next close's terminate, which a server that
    # forgets terminated models answers with 404, said so at INFO alone: the log ran on.
    fake = FakeWeaver()
    gone = json_reply(404, error_json("not_found", "model m-1 not found"))

    def forgetting(request: httpx.Request) -> httpx.Response:
        if request.url.path != f"{MODELS}/m-1/terminate":
            return fake(request)
        if fake.terminated:
            return gone
        fake(request)
        raise KeyboardInterrupt  # its reply lost, once the server acted

    http = httpx.Client(transport=httpx.MockTransport(forgetting))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    svc.create_training_client("weaver-tiny")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        with pytest.raises(KeyboardInterrupt):
            svc.close()
        assert "the close was interrupted: models left running: m-1 (" in caplog.text
        svc.close()
    http.close()
    assert fake.terminated == ["m-1"]
    assert caplog.messages[-1] == (
        "model m-1, which a WARNING said was left running, was no longer found on close: "
        "terminated already?"
    )


def _no_close_said_to_take(svc: ServiceClient | AsyncServiceClient) -> bool:
    """Whether a create of ``svc``'s answered now, with no close running, is told that no
    close takes its model (its words, and whether a WARNING names the model). Its models
    are then forgotten: nothing is said of them once it is collected, in another test."""
    closed, taken = svc._created.add(
        "m-9", _NEW, keep=False, unclaimed=True, closing=svc._io.refusing
    )
    for model_id in svc._created.pending():
        svc._created.forget(model_id)
    return not (closed and taken)


_NEW = NewModel(base_model="weaver-tiny", training_mode="lora", lora=None)


def _unreachable_on_close() -> httpx.MockTransport:
    """A server its client's close cannot reach: the close ends its walk of the models
    early, not sealed (they are left running, named)."""

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    return httpx.MockTransport(unreachable)


def test_a_ctrl_c_anywhere_in_a_close_leaves_it_running_for_no_create() -> None:
    # A Ctrl-C as the close began or ended its run left it marked running for good: a
    # create answered later said its model was left to the close under way, which none
    # was, and no WARNING named the model, left running.
    made: list[ServiceClient] = []

    def close() -> Callable[[], None]:
        http = httpx.Client(transport=_unreachable_on_close())
        made[:] = [ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)]
        made[0]._created.add("m-1", _NEW, keep=False, unclaimed=False)
        return made[0].close

    every_point(
        lambda at, kept: interrupted_at(at, close(), kept),
        lambda: _no_close_said_to_take(made[0]),
    )


async def test_a_ctrl_c_anywhere_in_an_aclose_leaves_it_running_for_no_create() -> None:
    made: list[AsyncServiceClient] = []

    def aclose() -> Coroutine[Any, Any, None]:
        http = httpx.AsyncClient(transport=_unreachable_on_close())
        made[:] = [AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)]
        made[0]._created.add("m-1", _NEW, keep=False, unclaimed=False)
        return made[0].aclose()

    every_point(
        lambda at, kept: ainterrupted_at(at, aclose, kept),
        lambda: _no_close_said_to_take(made[0]),
    )


def test_a_second_close_of_a_closed_client_leaves_no_create_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A second close() of a client whose first close ended early (the server unreachable,
    # its models not all reached) marked itself running as it looked at its closed IO: a
    # create answered then in another thread was told its model was left to the close
    # under way, which terminates nothing, and no WARNING named it.
    http = httpx.Client(transport=_unreachable_on_close())
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    svc._created.add("m-1", _NEW, keep=False, unclaimed=False)
    svc.close()
    assert not svc._created.sealed  # m-1 was left running: the close ended early
    told: list[bool] = []
    closed = type(svc._io).closed

    def looked_at(io: Any) -> bool:
        if io is svc._io and not told:  # a create answered as the second close looks
            told.append(True)
            told[0] = _no_close_said_to_take(svc)
        return bool(closed.__get__(io))

    monkeypatch.setattr(type(svc._io), "closed", property(looked_at))
    svc.close()
    monkeypatch.undo()
    assert told == [True]
    http.close()


def test_a_close_that_ended_its_terminates_early_leaves_no_create_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A close whose terminates ended early (the server unreachable) had named the models
    # it left, but was still marked running as it closed its connections: a create answered
    # then in another thread was told its model was left to the close under way, which
    # would terminate nothing more, and no WARNING named it.
    http = httpx.Client(transport=_unreachable_on_close())
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    svc._created.add("m-1", _NEW, keep=False, unclaimed=False)
    told: list[bool] = []
    close = svc._io.close

    def closing_connections() -> None:
        told.append(_no_close_said_to_take(svc))  # a create answered as they close
        close()

    monkeypatch.setattr(svc._io, "close", closing_connections)
    svc.close()
    assert told == [True]
    http.close()


async def _one_model_made_then_creates_held(
    **options: Any,
) -> tuple[FakeWeaver, _Late, httpx.AsyncClient, AsyncServiceClient]:
    """A client that made m-1, whose next creates are held at the server until released
    (``late.gates[CREATE]``)."""
    fake = FakeWeaver()
    late = _Late(fake, CREATE)
    late.gates[CREATE].set()  # the first create goes through
    http = httpx.AsyncClient(transport=late)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, **options)
    await svc.create_training_client("weaver-tiny")
    late.gates[CREATE].clear()
    return fake, late, http, svc


async def _cancel_a_held_create(
    fake: FakeWeaver, late: _Late, svc: AsyncServiceClient, *replies: Any, **options: Any
) -> None:
    """Cancel a create once the server has answered it (by default, made m-2), its reply
    still held."""
    fake.script("POST", CREATE, *(replies or [json_reply(201, model("m-2"))]))
    creating = asyncio.create_task(svc.create_training_client("weaver-tiny", **options))
    await late.reached[CREATE].wait()
    creating.cancel()
    with pytest.raises(asyncio.CancelledError):
        await creating


async def test_a_cancelled_creation_still_on_its_way_is_awaited_by_aclose() -> None:
    # ``async with client: await asyncio.wait_for(client.create_training_client(...), T)``:
    # the timeout cancelled the create while the server was making the model, and the
    # aclose() that followed at once did not wait for its reply, so the model it made
    # was never terminated (and, with the client's own transport, never even known).
    fake, late, http, svc = await _one_model_made_then_creates_held()
    await _cancel_a_held_create(fake, late, svc, keep=True)
    closing = asyncio.create_task(svc.aclose())
    for _ in range(100):  # the close is under way, waiting for the reply
        await asyncio.sleep(0)
    assert not closing.done()
    late.gates[CREATE].set()
    await closing
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]


async def test_a_create_cancelled_on_its_way_is_said_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # ``asyncio.wait_for(client.create_training_client(...), T)`` expiring while the server
    # made the model: its WARNING said `interrupted`, a Ctrl-C's word, of a cancel.
    fake, late, http, svc = await _one_model_made_then_creates_held()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        await _cancel_a_held_create(fake, late, svc)
        late.gates[CREATE].set()
        await turns_until(lambda: svc._created.settings("m-2") is not None)  # after the cancel
        await svc.aclose()
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]
    said = [r.getMessage() for r in caplog.records if "m-2 was being created" in r.getMessage()]
    assert said == [
        "create_model: cancelled while model m-2 was being created; the client's close "
        "terminates it"
    ]


async def test_a_cancelled_creation_is_not_sent_again_after_a_failure() -> None:
    # A create cancelled while the server answered 503 went on with every retry in the
    # background, and aclose() waited for them all.
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    fake, late, http, svc = await _one_model_made_then_creates_held(sleep=nap)
    busy = error_json("unavailable", "busy", retryable=True)
    await _cancel_a_held_create(fake, late, svc, *[json_reply(503, busy)] * 5)
    late.gates[CREATE].set()
    await svc.aclose()
    await http.aclose()
    assert len(fake.sent("POST", CREATE)) == 2  # m-1, and the 503
    assert naps == []


async def test_a_creation_cancelled_during_its_retrys_backoff_is_not_sent_again() -> None:
    # README: an async create cancelled on its way "still waits for that reply (without a
    # retry)"; cancelled while it sleeps before a retry, no reply is on its way: the sleep
    # ends and the retry it waited for is not sent (a model nothing would terminate).
    outer: list[asyncio.Task[Any]] = []
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        if outer:
            outer[0].cancel()  # the caller's timeout, while the retry waits
        for _ in range(10):  # time passes in a sleep: the caller takes its cancel
            await asyncio.sleep(0)

    fake, late, http, svc = await _one_model_made_then_creates_held(sleep=nap)
    late.gates[CREATE].set()  # answered at once: the cancel comes during the backoff
    busy = error_json("unavailable", "busy", retryable=True)
    fake.script("POST", CREATE, *[json_reply(503, busy)] * 5)
    outer.append(asyncio.create_task(svc.create_training_client("weaver-tiny")))
    with pytest.raises(asyncio.CancelledError):
        await outer[0]
    await svc.aclose()
    await http.aclose()
    assert len(naps) == 1
    assert len(fake.sent("POST", CREATE)) == 2  # m-1, and the 503; no retry
    assert fake.terminated == ["m-1"]


async def test_a_cancelled_aclose_is_cancelled_while_it_stops_the_heartbeat() -> None:
    # The heartbeat's CancelledError was suppressed, and with it a cancel of aclose().
    fake = FakeWeaver()
    beat = "/api/v1/sessions/s-1/heartbeat"
    held = HeldTransport(fake, beat)
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=7.0)
    waits: list[float] = []

    async def wait(seconds: float) -> None:  # no time passes for the first beat, then parks
        waits.append(seconds)
        if len(waits) > 1:
            await asyncio.Event().wait()

    svc._wait_beat = wait
    await svc.create_training_client("weaver-tiny")
    await held.reached.wait()  # a heartbeat is on its way
    closing = asyncio.create_task(svc.aclose())
    await asyncio.sleep(0)  # aclose() now waits for the heartbeat task to end
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    held.release.set()
    await svc.aclose()
    await http.aclose()


@pytest.mark.parametrize("bad", [1, None, "yes"])
def test_keep_must_be_a_bool(bad: Any) -> None:
    fake = FakeWeaver()
    with service(fake) as svc, pytest.raises(InvalidArgumentError, match="keep"):
        svc.create_training_client("weaver-tiny", keep=bad)
    with pytest.raises(InvalidArgumentError, match="terminate_models_on_close"):
        ServiceClient(BASE, KEY, terminate_models_on_close=bad)
    assert fake.requests == []


def test_resume_reads_the_source_model_before_creating_a_like_one() -> None:
    fake = FakeWeaver()
    fake.done_at_once = True
    fake.checkpoints["m-src"].append(checkpoint_json("m-src", "c1"))
    source = {
        **model("m-src"),
        "lora_config": {
            "rank": 4,
            "train_unembed": True,
            "train_mlp": False,
            "train_attn": False,
            "seed": 9,
        },
    }
    fake.script("GET", f"{MODELS}/m-src", json_reply(200, source))
    with service(fake, terminate_models_on_close=False) as svc:
        resumed = svc.create_training_client_from_state("weaver://m-src/checkpoints/c1")
    order = [(r.method, r.url.path) for r in fake.requests]
    assert order == [
        ("GET", f"{MODELS}/m-src/checkpoints"),
        ("GET", f"{MODELS}/m-src"),
        ("POST", "/api/v1/sessions"),
        ("POST", "/api/v1/sessions/s-1/models"),
        ("POST", f"{MODELS}/m-1/load"),
    ]
    created = fake.body(fake.requests[3])
    assert created["base_model"] == "weaver-tiny"
    assert created["training_mode"] == "lora"
    assert created["lora_config"] == source["lora_config"]
    assert fake.body(fake.requests[4]) == {
        "path": "weaver://m-src/checkpoints/c1",
        "include_optimizer": True,
    }
    assert resumed.model_id == "m-1"


def test_resume_refuses_a_weights_only_checkpoint_before_any_post() -> None:
    fake = FakeWeaver()
    fake.checkpoints["m-src"].append(checkpoint_json("m-src", "w", "weight"))
    with service(fake) as svc, pytest.raises(OptimizerStateUnavailableError):
        svc.create_training_client_from_state("weaver://m-src/checkpoints/w")
    assert fake.sent("POST") == []


def test_resume_by_id_passes_on_a_refusal_that_is_not_a_missing_route() -> None:
    checkpoint_id = "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09"
    fake = FakeWeaver()
    fake.script(
        "GET",
        f"/api/v1/checkpoints/{checkpoint_id}",
        json_reply(403, error_json("forbidden", "not yours", False)),
    )
    with service(fake) as svc, pytest.raises(PermissionDeniedError) as refused:
        svc.create_training_client_from_state(checkpoint_id)
    assert refused.value.__cause__ is not refused.value
    assert fake.sent("POST") == []


WIRE_ONLY = {"id": "m-w", "base_model": "weaver-tiny", "tokenizer_path": "weaver://tok/b"}
ONLY_ID = {"id": "m-w"}


@pytest.mark.parametrize(
    ("asked", "mode", "rank", "seed"),
    [
        ({"lora_rank": 8, "seed": 3}, "lora", 8, 3),
        ({"training_mode": "full_ft"}, "full_ft", None, None),
    ],
)
def test_a_created_model_the_reply_leaves_undescribed_is_described_as_asked(
    asked: dict[str, Any], mode: str, rank: int | None, seed: int | None
) -> None:
    # The real service promises only id, base_model and tokenizer_path.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, WIRE_ONLY))
    with service(fake, terminate_models_on_close=False) as svc:
        info = svc.create_training_client("weaver-tiny", **asked).model
    sent = fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])
    assert (info.id, info.training_mode, info.lora_rank) == ("m-w", sent["training_mode"], rank)
    assert info.training_mode == mode
    assert (None if info.lora is None else info.lora.seed) == seed
    assert sent.get("lora_config", {}).get("rank") == rank


def test_a_model_read_back_without_its_settings_says_so() -> None:
    fake = FakeWeaver()
    fake.script("GET", f"{MODELS}/m-w", json_reply(200, WIRE_ONLY))
    with service(fake) as svc:
        info = svc.get_model("m-w")
    assert (info.training_mode, info.lora, info.lora_rank) == (None, None, None)
    assert info.tokenizer_path == WIRE_ONLY["tokenizer_path"]


def source(described: dict[str, Any] | None, *, done_at_once: bool = False) -> FakeWeaver:
    """A server with checkpoint ``weaver://m-w/checkpoints/c1``, whose model m-w it
    describes as ``described``; ``None``: it no longer finds it (terminated: the wire
    promises no GET of a terminated model, whose checkpoints stay)."""
    fake = FakeWeaver()
    fake.done_at_once = done_at_once
    fake.checkpoints["m-w"].append(checkpoint_json("m-w", "c1"))
    fake.script("GET", f"{MODELS}/m-w", described_as(described))
    return fake


def described_as(model: dict[str, Any] | None) -> httpx.Response:
    """The reply to ``GET`` of a model: ``model``, or 404 when ``None``."""
    if model is None:
        return json_reply(404, error_json("not_found", "model not found"))
    return json_reply(200, model)


UNDESCRIBED = pytest.mark.parametrize("undescribed", [ONLY_ID, None], ids=["id-only", "forgotten"])


def test_resume_from_a_model_described_by_the_wire_fields_only_makes_a_default_lora() -> None:
    fake = source(WIRE_ONLY, done_at_once=True)
    with service(fake, terminate_models_on_close=False) as svc:
        resumed = svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    created = fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])
    # Made like a model created with create_training_client's defaults.
    defaults = inspect.signature(ServiceClient.create_training_client).parameters
    assert created["training_mode"] == defaults["training_mode"].default
    assert defaults["lora_rank"].default is None  # None: DEFAULT_LORA_RANK
    assert created["lora_config"]["rank"] == DEFAULT_LORA_RANK
    assert resumed.model.training_mode == "lora"


# -- a model described by its id alone (the one field the wire calls required) ---------------


def test_a_created_model_described_by_its_id_alone_has_the_base_model_asked_for() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, ONLY_ID))
    with service(fake, terminate_models_on_close=False) as svc:
        info = svc.create_training_client("weaver-small").model
    sent = fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])
    assert (info.id, info.base_model) == ("m-w", sent["base_model"])
    assert sent["base_model"] == "weaver-small"


def test_a_model_read_back_by_its_id_alone_has_no_base_model() -> None:
    fake = FakeWeaver()
    fake.script("GET", f"{MODELS}/m-w", json_reply(200, ONLY_ID))
    with service(fake) as svc:
        info = svc.get_model("m-w")
    assert (info.id, info.base_model, info.training_mode) == ("m-w", None, None)


@UNDESCRIBED
def test_resume_from_a_model_without_its_base_model_asks_for_it_before_any_model_exists(
    undescribed: dict[str, Any] | None,
) -> None:
    # A forgotten model raised the source's NotFoundError, though its checkpoint stays.
    fake = source(undescribed)
    with service(fake) as svc, pytest.raises(InvalidArgumentError) as refused:
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    assert "does not describe model m-w's base model" in str(refused.value)
    assert "base_model=" in str(refused.value)
    assert fake.sent("POST") == []
    # Refused after reads (the model, its checkpoints): InvalidInputError said "before any
    # request was sent"; what it does promise is that only reads were.
    assert {r.method for r in fake.sent()} == {"GET"}
    said = " ".join((inspect.getdoc(InvalidInputError) or "").split())
    assert "before any request that could change anything was sent" in said, said


@UNDESCRIBED
def test_resume_from_a_model_without_its_base_model_creates_the_one_given(
    undescribed: dict[str, Any] | None,
) -> None:
    fake = source(undescribed, done_at_once=True)
    with service(fake, terminate_models_on_close=False) as svc:
        resumed = svc.create_training_client_from_state(
            "weaver://m-w/checkpoints/c1", base_model="weaver-small"
        )
    created = fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])
    assert created["base_model"] == resumed.model.base_model == "weaver-small"
    assert resumed.resumed_from is not None
    assert str(resumed.resumed_from.path) == "weaver://m-w/checkpoints/c1"


@pytest.mark.parametrize("given", ["weaver-small", "", 7], ids=["another", "empty", "not-a-str"])
def test_a_base_model_that_is_not_the_sources_is_refused_before_any_model_exists(
    given: object,
) -> None:
    fake = source(WIRE_ONLY)
    with service(fake) as svc, pytest.raises(InvalidArgumentError, match="base_model"):
        svc.create_training_client_from_state(
            "weaver://m-w/checkpoints/c1",
            base_model=given,  # type: ignore[arg-type]
        )
    assert fake.sent("POST") == []
    assert WIRE_ONLY["base_model"] != "weaver-small"


def test_resume_of_a_checkpoint_object_whose_model_and_checkpoint_are_gone_makes_no_model() -> None:
    # A Checkpoint is used as it is, unlooked-up: once a 404 of its model was taken for a
    # terminated model, a stale one (or another key's) made a model, whose load then
    # failed, instead of NotFoundError before any model existed.
    fake = source(ONLY_ID)
    with service(fake, terminate_models_on_close=False) as svc:
        [checkpoint] = svc.training_client("m-w").list_checkpoints()
        fake.checkpoints.clear()
        fake.script("GET", f"{MODELS}/m-w", described_as(None))
        with pytest.raises(NotFoundError, match="model not found"):
            svc.create_training_client_from_state(checkpoint, base_model="weaver-tiny")
    assert fake.sent("POST") == []


@pytest.mark.parametrize("given", ["checkpoint", "path"])
def test_resume_of_a_model_forgotten_with_its_listing_says_how_to_resume_by_hand(
    given: str,
) -> None:
    # A server that forgets a terminated model may refuse its checkpoint listing too (404)
    # and still load its checkpoints by path: the resume, which cannot tell that from a
    # checkpoint gone, raised a bare 404 of `get_model` or `list_checkpoints`.
    fake = source(ONLY_ID)
    with service(fake, terminate_models_on_close=False) as svc:
        [checkpoint] = svc.training_client("m-w").list_checkpoints()
        fake.script("GET", f"{MODELS}/m-w", described_as(None))
        fake.script("GET", f"{MODELS}/m-w/checkpoints", described_as(None))
        with pytest.raises(NotFoundError) as missing:
            svc.create_training_client_from_state(
                checkpoint if given == "checkpoint" else str(checkpoint.path)
            )
    assert missing.value.status_code == 404
    assert missing.value.__notes__ == [
        "the server no longer finds model m-w and lists no checkpoint 'c1' of it; if the "
        "checkpoint is still there (a server that forgets a terminated model may still load "
        "it by its path), to resume weaver://m-w/checkpoints/c1, create a model with its "
        "settings (create_training_client) and call load_state_with_optimizer on it"
    ]
    assert fake.sent("POST") == []


def test_resume_of_a_checkpoint_object_of_a_forgotten_model_that_keeps_it() -> None:
    fake = source(ONLY_ID, done_at_once=True)
    with service(fake, terminate_models_on_close=False) as svc:
        [checkpoint] = svc.training_client("m-w").list_checkpoints()
        fake.script("GET", f"{MODELS}/m-w", described_as(None))
        resumed = svc.create_training_client_from_state(checkpoint, base_model="weaver-tiny")
    assert resumed.model.base_model == "weaver-tiny"


# -- resume: the source's settings from what this client created it with -------------------


@pytest.mark.parametrize(
    "reply", [WIRE_ONLY, ONLY_ID, None], ids=["wire-fields", "id-only", "forgotten"]
)
@pytest.mark.parametrize(
    "asked",
    [{"lora_rank": 8, "seed": 3}, {"training_mode": "full_ft"}],
    ids=["lora-rank-8", "full-ft"],
)
def test_resume_takes_the_settings_this_client_created_the_source_with(
    asked: dict[str, Any], reply: dict[str, Any] | None
) -> None:
    fake = FakeWeaver()
    fake.done_at_once = True
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, reply or ONLY_ID))
    fake.script("GET", f"{MODELS}/m-w", described_as(reply))
    with service(fake, terminate_models_on_close=False) as svc:
        svc.create_training_client("weaver-tiny", **asked)
        fake.checkpoints["m-w"].append(checkpoint_json("m-w", "c1"))
        resumed = svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    first, second = (fake.body(r) for r in fake.sent("POST", "/api/v1/sessions/s-1/models"))
    settings = ("base_model", "training_mode", "lora_config")
    assert [second.get(k) for k in settings] == [first.get(k) for k in settings]
    assert resumed.model.training_mode == first["training_mode"]


# A resume with the optimizer state or without, and the load it names.
BY_LOAD = pytest.mark.parametrize(
    ("with_optimizer", "load"), [(True, "load_state_with_optimizer"), (False, "load_state")]
)


def incompatible() -> httpx.Response:
    return json_reply(422, error_json("incompatible_checkpoint", "rank 8 does not fit rank 32"))


@BY_LOAD
def test_a_guessed_resume_that_does_not_fit_says_what_was_guessed(
    with_optimizer: bool, load: str
) -> None:
    fake = source(WIRE_ONLY)
    fake.script("POST", f"{MODELS}/m-1/load", incompatible())
    refused = failed_resume(fake, with_optimizer, IncompatibleCheckpointError)
    assert "rank 8 does not fit rank 32" in str(refused)
    assert_names_the_guess(refused.message, load)
    assert (refused.status_code, refused.code) == (422, "incompatible_checkpoint")


E = TypeVar("E", bound=Exception)


def failed_resume(fake: FakeWeaver, with_optimizer: bool, error: type[E]) -> E:
    """The error of a resume of the checkpoint `c1` of model m-w from ``fake``."""
    with service(fake) as svc, pytest.raises(error) as failed:
        svc.create_training_client_from_state(
            "weaver://m-w/checkpoints/c1", with_optimizer=with_optimizer
        )
    return failed.value


def assert_names_the_guess(message: str, load: str) -> None:
    """``message`` says what a resume guessed of m-w's settings, and what to call instead."""
    assert "the server did not describe model m-w's settings" in message
    assert "training_mode 'lora' and LoRA rank 32" in message
    assert message.endswith(f"(create_training_client) and call {load} on it")


@BY_LOAD
def test_a_guessed_resume_whose_load_operation_fails_says_what_was_guessed(
    with_optimizer: bool, load: str
) -> None:
    # The wire's load "returns an Operation" and names no refusal code: a server may
    # accept the load and fail its operation, in a code of its own, when the settings
    # do not fit. The guess must still be named in the error, not only in a log record.
    fake = source(WIRE_ONLY)
    fake.fail_load("m-1", "shape_mismatch", "rank 8 does not fit rank 32")
    failed = failed_resume(fake, with_optimizer, OperationFailedError)
    assert str(failed).startswith("operation op-9 failed [shape_mismatch]: rank 8 does not fit")
    assert_names_the_guess(str(failed), load)
    assert (failed.code, failed.message) == ("shape_mismatch", "rank 8 does not fit rank 32")


def test_a_described_resume_whose_load_operation_fails_claims_no_guess() -> None:
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    fake.fail_load("m-1", "shape_mismatch", "rank 8 does not fit rank 16")
    failed = failed_resume(fake, True, OperationFailedError)  # True: the default
    assert str(failed) == "operation op-9 failed [shape_mismatch]: rank 8 does not fit rank 16"


def test_a_guessed_resume_that_loads_says_what_it_guessed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server that does not check the settings loads into the guess: never in silence.
    fake = source(WIRE_ONLY)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    guesses = [r.getMessage() for r in caplog.records if "guesses" in r.getMessage()]
    assert guesses == [
        "the server does not describe model m-w's settings: the model resuming "
        "weaver://m-w/checkpoints/c1 guesses training_mode 'lora' and LoRA rank 32 "
        "(create_training_client's defaults)"
    ]


def test_a_described_resume_that_does_not_fit_claims_no_guess(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    fake.script("POST", f"{MODELS}/m-1/load", incompatible())
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
        pytest.raises(IncompatibleCheckpointError) as refused,
    ):
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    assert "guesses" not in caplog.text
    assert refused.value.message.endswith(": rank 8 does not fit rank 32")
    assert "did not describe" not in str(refused.value)
    created = fake.body(fake.sent("POST", "/api/v1/sessions/s-1/models")[0])
    assert created["lora_config"]["rank"] == 16


def test_a_kept_resume_whose_load_fails_is_terminated_on_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # keep=True kept the new model, which its caller never got: left running, unknown.
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    fake.script("POST", f"{MODELS}/m-1/load", incompatible())
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
        pytest.raises(IncompatibleCheckpointError),
    ):
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
    assert fake.terminated == ["m-1"]
    assert "model m-1 is terminated on close, even if kept" in caplog.text


def test_a_kept_resume_interrupted_during_its_load_is_terminated_on_close() -> None:
    # The README: the new model of a resume whose load is interrupted (Ctrl-C) is
    # terminated on close even when kept, since its caller never got it.
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})

    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    fake.script("POST", f"{MODELS}/m-1/load", interrupted)
    with service(fake) as svc, pytest.raises(KeyboardInterrupt):
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
    assert fake.terminated == ["m-1"]


async def test_a_kept_resume_cancelled_during_its_load_is_terminated_on_close() -> None:
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    held = HeldTransport(fake, f"{MODELS}/m-1/load")
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    async with svc:
        resuming = asyncio.create_task(
            svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
        )
        await held.reached.wait()
        resuming.cancel()
        with pytest.raises(asyncio.CancelledError):
            await resuming
    await http.aclose()
    assert fake.terminated == ["m-1"]


async def test_a_kept_resume_cut_by_a_finished_close_says_it_is_left_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The close had already run (and terminated nothing kept) when the load failed: the
    # log said the model "is terminated on close", which no close would do.
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    held = HeldTransport(fake, f"{MODELS}/m-1/load")
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    resuming = asyncio.create_task(
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
    )
    await held.reached.wait()
    await svc.aclose()
    held.release.set()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(ClientClosedError):
        await resuming
    await http.aclose()
    assert fake.terminated == []
    assert "terminated on close" not in caplog.text
    assert (
        "model m-1 is left running (the client is closed; end it with terminate_model())"
    ) in caplog.text


class _HeldTwice(httpx.AsyncBaseTransport):
    """``fake`` behind an async transport that holds the requests to each of ``paths``
    until its ``release`` is set; its ``reached`` is set when the first arrives."""

    def __init__(self, fake: FakeWeaver, *paths: str) -> None:
        self._fake = fake
        self.reached = {path: asyncio.Event() for path in paths}
        self.release = {path: asyncio.Event() for path in paths}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        path = request.url.path
        if path in self.release and not self.release[path].is_set():
            self.reached[path].set()
            await self.release[path].wait()
        return self._fake(request)


async def test_a_kept_resume_cut_by_a_cancelled_close_says_it_is_left_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The close, cancelled as it terminated another model, had ended when the load
    # failed: the log said the model "is terminated on close", which no close would do.
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    made = [{**WIRE_ONLY, "id": f"m-{n}", "training_mode": "lora"} for n in (1, 2)]
    fake.script("POST", "/api/v1/sessions/s-1/models", *[json_reply(201, m) for m in made])
    load, terminate = f"{MODELS}/m-2/load", f"{MODELS}/m-1/terminate"
    held = _HeldTwice(fake, load, terminate)
    http = httpx.AsyncClient(transport=held)
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    await svc.create_training_client("weaver-tiny")
    resuming = asyncio.create_task(
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
    )
    await held.reached[load].wait()
    closing = asyncio.create_task(svc.aclose())
    await held.reached[terminate].wait()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    held.release[load].set()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(ClientClosedError):
        await resuming
    assert fake.terminated == []
    assert "terminated on close" not in caplog.text
    assert (
        "model m-2 is left running (the client is closed; end it with terminate_model())"
    ) in caplog.text
    held.release[terminate].set()
    await svc.aclose()  # as the cancelled close said: close again
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]


def test_a_resume_whose_model_a_close_in_another_thread_terminated_is_not_left_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A close in another thread terminated the new model while its load was on its way;
    # the resume's failure then logged that the model "is left running", which it was not.
    fake = source({**WIRE_ONLY, "training_mode": "lora", "lora_config": {"rank": 16}})
    reached, release = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        reached.set()
        release.wait(10)
        return fake.route(request)  # the load accepted, its wait then cut by the close

    fake.script("POST", f"{MODELS}/m-1/load", held)
    failed: list[BaseException] = []
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:

        def resume() -> None:
            try:
                svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
            except BaseException as exc:
                failed.append(exc)

        resuming = threading.Thread(target=resume)
        resuming.start()
        assert reached.wait(10)
        svc.close()
        release.set()
        resuming.join(10)
    assert not resuming.is_alive()
    assert [type(exc) for exc in failed] == [ClientClosedError]
    assert fake.terminated == ["m-1"]
    assert "left running" not in caplog.text


# -- terminate: any 2xx, its body optional ----------------------------------------------------

NO_MODEL_REPLIES = {
    "no-body": lambda: httpx.Response(204),
    "empty-object": lambda: json_reply(200, {}),
    "not-a-model": lambda: json_reply(202, {"status": "terminated"}),
    "not-json": lambda: httpx.Response(200, text="ok"),
    # A field the wire promises, broken (one it does not promise is left out: a model).
    "not-quite-a-model": lambda: json_reply(200, {"id": "m-1", "base_model": 5}),
    "a-broken-model": lambda: json_reply(200, {"id": None, "status": "terminated"}),
    "a-model-of-a-numeric-id": lambda: json_reply(200, {"id": 5}),
    "nested-too-deep": lambda: httpx.Response(
        200, headers={"content-type": "application/json"}, content=b"[" * 100_000 + b"]" * 100_000
    ),
}


def read_back() -> httpx.Response:
    return json_reply(200, {**model("m-1"), "base_model": "weaver-small", "status": "terminated"})


@pytest.mark.parametrize("reply", list(NO_MODEL_REPLIES.values()), ids=list(NO_MODEL_REPLIES))
def test_terminate_model_without_a_model_in_the_reply_reads_it_back(reply: Any) -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", reply())
    fake.script("GET", f"{MODELS}/m-1", read_back())
    with service(fake) as svc:
        info = svc.terminate_model("m-1")
    assert (info.id, info.base_model, info.status) == ("m-1", "weaver-small", "terminated")
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("POST", f"{MODELS}/m-1/terminate"),
        ("GET", f"{MODELS}/m-1"),
    ]


@pytest.mark.parametrize("reply", list(NO_MODEL_REPLIES.values()), ids=list(NO_MODEL_REPLIES))
async def test_async_terminate_model_without_a_model_in_the_reply_reads_it_back(
    reply: Any,
) -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", reply())
    fake.script("GET", f"{MODELS}/m-1", read_back())
    async with async_service(fake) as svc:
        info = await svc.terminate_model("m-1")
    assert (info.id, info.base_model, info.status) == ("m-1", "weaver-small", "terminated")
    assert len(fake.sent("GET", f"{MODELS}/m-1")) == 1


def test_a_terminated_model_the_server_forgets_is_terminated_all_the_same() -> None:
    # The wire promises no reply to a terminate, nor a GET of a terminated model: a server
    # that forgets it made a successful terminate raise NotFoundError from the read back,
    # and the close sent a second terminate for a model this client created.
    fake = FakeWeaver()
    with service(fake) as svc:
        created = svc.create_training_client("weaver-tiny").model_id
        fake.script("POST", f"{MODELS}/{created}/terminate", json_reply(200, {}))
        fake.script("GET", f"{MODELS}/{created}", described_as(None))
        info = svc.terminate_model(created)
    assert (info.id, info.base_model, info.training_mode) == (created, "weaver-tiny", "lora")
    assert info.status is None  # the server did not say
    assert len(fake.sent("POST", f"{MODELS}/{created}/terminate")) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_terminating_twice_a_model_the_server_forgets_is_no_error(is_async: bool) -> None:
    # "Terminating twice is no error": a server that forgets a terminated model answers its
    # second terminate 404, as any route of it; this client terminated it, and says so.
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", json_reply(200, {}), described_as(None))
    fake.script("GET", f"{MODELS}/m-1", described_as(None))
    if is_async:
        async with async_service(fake) as asvc:
            await asvc.terminate_model("m-1")
            info = await asvc.terminate_model("m-1")
    else:
        with service(fake) as svc:
            svc.terminate_model("m-1")
            info = svc.terminate_model("m-1")
    assert info.id == "m-1"
    assert len(fake.sent("POST", f"{MODELS}/m-1/terminate")) == 2


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_terminate_whose_reply_was_lost_is_done_when_its_retry_is_not_found(
    is_async: bool,
) -> None:
    # A server that forgets terminated models answers the retry of a terminate whose
    # reply was lost with 404: terminate_model raised NotFoundError for a model its own
    # first attempt had terminated, and the model's training clients still sent steps.
    fake = FakeWeaver()

    def terminated_then_lost(request: httpx.Request) -> httpx.Response:
        fake.route(request)
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    fake.script("POST", f"{MODELS}/m-1/terminate", terminated_then_lost, described_as(None))
    if is_async:
        async with async_service(fake) as asvc:
            atrainer = await asvc.create_training_client("weaver-tiny")
            info = await asvc.terminate_model(atrainer.model_id)
            with pytest.raises(ModelTerminatedError):
                await atrainer.optim_step()
    else:
        with service(fake) as svc:
            trainer = svc.create_training_client("weaver-tiny")
            info = svc.terminate_model(trainer.model_id)
            with pytest.raises(ModelTerminatedError):
                trainer.optim_step()
    assert (info.id, info.base_model) == ("m-1", "weaver-tiny")
    assert fake.terminated == ["m-1"]
    assert len(fake.sent("POST", f"{MODELS}/m-1/terminate")) == 2  # none more on close


def test_a_model_never_terminated_that_the_server_does_not_find_is_not_found() -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", described_as(None))
    with service(fake) as svc, pytest.raises(NotFoundError):
        svc.terminate_model("m-1")


async def test_async_terminate_of_a_model_the_server_forgets() -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", httpx.Response(204))
    fake.script("GET", f"{MODELS}/m-1", described_as(None))
    async with async_service(fake) as svc:
        info = await svc.terminate_model("m-1")
    assert (info.id, info.base_model, info.status) == ("m-1", None, None)


LOST = "which the server knew when this client was made, is no longer found there"


def test_a_model_this_client_made_that_the_server_no_longer_finds_says_so() -> None:
    # A server restarted without its state (the emulator in memory) answered each call of
    # a client holding a model with a bare `model m-1 not found`.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script("POST", f"{MODELS}/m-1/checkpoints", described_as(None))
        fake.script("GET", f"{MODELS}/m-1", described_as(None))
        with pytest.raises(NotFoundError) as caught:
            trainer.save_state("after")
    assert [n for n in getattr(caught.value, "__notes__", []) if LOST in n] == [
        f"model m-1, {LOST} (its GET is a 404 too): the server may have restarted without "
        "its state, or another client terminated the model; create a new model "
        "(create_training_client_from_state, from a checkpoint the server still lists)"
    ]


def test_a_404_of_a_call_whose_model_the_server_still_finds_gets_no_such_note() -> None:
    # A load's 404 of a missing checkpoint is not the model's.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script("POST", f"{MODELS}/m-1/load", described_as(None))
        with pytest.raises(NotFoundError) as caught:
            trainer.load_state("weaver://m-1/checkpoints/nowhere")
    assert not [n for n in getattr(caught.value, "__notes__", []) if LOST in n]
    assert fake.sent("GET", f"{MODELS}/m-1")  # looked


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(404, html="<!DOCTYPE html><title>Not Found</title>"),
        httpx.Response(405, text="Method Not Allowed"),
    ],
    ids=["web-page-404", "405"],
)
def test_a_server_without_the_models_get_gets_no_note_of_a_lost_model(
    reply: httpx.Response,
) -> None:
    # A 404 that is no Weaver error (a framework's page) is a server without the route,
    # which says nothing of the model: the note said "its GET is a 404 too" and "the
    # server may have restarted" all the same.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script("POST", f"{MODELS}/m-1/checkpoints", described_as(None))
        fake.script("GET", f"{MODELS}/m-1", reply)
        with pytest.raises(NotFoundError) as caught:
            trainer.save_state("after")
    assert fake.sent("GET", f"{MODELS}/m-1")  # asked
    assert not [n for n in getattr(caught.value, "__notes__", []) if LOST in n]


async def test_async_a_model_the_server_no_longer_finds_says_so() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        fake.script("POST", f"{MODELS}/m-1/optimizer-steps", described_as(None))
        fake.script("GET", f"{MODELS}/m-1", described_as(None))
        with pytest.raises(NotFoundError) as caught:
            await trainer.optim_step(AdamParams(learning_rate=1e-3))
    assert [n for n in caught.value.__notes__ if LOST in n]


async def test_a_model_this_client_terminated_during_a_call_is_not_said_lost() -> None:
    # A save on its way while the same service client terminated the model met its 404:
    # the note blamed a restart or another client, where this client had terminated it.
    fake = FakeWeaver()
    held = HeldTransport(fake, f"{MODELS}/m-1/checkpoints")
    http = httpx.AsyncClient(transport=held)
    async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        saving = asyncio.create_task(trainer.save_state("after"))
        await held.reached.wait()
        await svc.terminate_model("m-1")
        fake.script("POST", f"{MODELS}/m-1/checkpoints", described_as(None))
        fake.script("GET", f"{MODELS}/m-1", described_as(None))
        held.release.set()
        with pytest.raises(NotFoundError) as caught:
            await saving
    notes = getattr(caught.value, "__notes__", [])
    assert not [n for n in notes if LOST in n]
    assert "model m-1 was terminated by this client (terminate_model) while this call" in (
        " ".join(notes)
    )


def test_a_model_the_server_no_longer_finds_is_attached_for_its_checkpoints() -> None:
    # `checkpoints list MODEL` of a terminated model exited 1 with `get_model ... not
    # found` on a server that forgets terminated models, whose checkpoints it keeps.
    fake = source(None)
    with service(fake) as svc:
        trainer = svc.training_client("m-w")
        assert [c.name for c in trainer.list_checkpoints()] == ["c1"]
        assert (trainer.model.id, trainer.model.base_model) == ("m-w", None)
        # It trains no more: the refusal asked for the next_seq_id the server lacks.
        with pytest.raises(InvalidArgumentError, match="no longer finds it") as refused:
            trainer.optim_step()
        assert "next_seq_id" not in str(refused.value)


@pytest.mark.parametrize("by_id", [True, False], ids=["checkpoint-by-id", "without"])
def test_what_a_model_the_server_no_longer_finds_still_allows_is_so_on_either_server(
    by_id: bool,
) -> None:
    # The refusal said its checkpoints "can still be listed, exported, downloaded and
    # deleted", where a server without checkpoint-by-id (today's Weaver) deletes none.
    fake = source(None)
    checkpoint_id = checkpoint_json("m-w", "c1")["id"]
    if not by_id:
        no_route = json_reply(404, error_json("not_found", "no route"))
        fake.script("DELETE", f"/api/v1/checkpoints/{checkpoint_id}", no_route)
    with service(fake) as svc:
        trainer = svc.training_client("m-w")
        with pytest.raises(InvalidArgumentError) as refused:
            trainer.optim_step()
        assert str(refused.value) == (
            "model m-w: the server no longer finds it (terminated?), so this client, attached "
            "for its checkpoints, cannot train it. They can still be listed, exported and "
            "downloaded, and deleted where the server has the checkpoint-by-id extension."
        )
        if by_id:
            trainer.delete_checkpoint("weaver://m-w/checkpoints/c1")
        else:
            with pytest.raises(UnsupportedByServerError):
                trainer.delete_checkpoint("weaver://m-w/checkpoints/c1")


async def test_async_attach_of_a_model_the_server_no_longer_finds() -> None:
    fake = source(None)
    async with async_service(fake) as svc:
        trainer = await svc.training_client("m-w")
        assert [c.name for c in await trainer.list_checkpoints()] == ["c1"]
        with pytest.raises(InvalidArgumentError, match="no longer finds it"):
            await trainer.optim_step()
        # Nor is it saved: the server's 404 of the model carries the same words.
        gone = json_reply(404, error_json("not_found", "model m-w not found"))
        fake.script("POST", f"{MODELS}/m-w/checkpoints", gone)
        with pytest.raises(NotFoundError) as refused_save:
            await trainer.save_state("late")
        assert [n.split(",")[0] for n in refused_save.value.__notes__] == [
            "model m-w: the server no longer finds it (terminated?)"
        ]


@pytest.mark.parametrize(
    "listing",
    [
        json_reply(200, {"items": []}),
        described_as(None),
        json_reply(400, error_json("invalid_argument", "no such model id")),
        json_reply(403, error_json("permission_denied", "not your model")),
        json_reply(200, {"items": [checkpoint_json("m-other", "c1")]}),
    ],
    ids=["empty", "404", "400", "403", "another-models-checkpoint"],
)
def test_an_unknown_model_is_still_not_found_when_attached(listing: httpx.Response) -> None:
    # A listing that refused the unknown model in another 4xx made `training_client` raise
    # that refusal, of `list_checkpoints`, instead of the model's NotFoundError; one that
    # answered with another model's checkpoint attached the unknown model.
    fake = source(None)
    fake.script("GET", f"{MODELS}/m-w/checkpoints", listing)
    with service(fake) as svc, pytest.raises(NotFoundError, match="model not found"):
        svc.training_client("m-w")
    assert fake.sent("GET", f"{MODELS}/m-w/checkpoints")  # it was asked


def test_terminate_of_an_unknown_model_is_still_not_found() -> None:
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-404/terminate", described_as(None))
    fake.script("GET", f"{MODELS}/m-404", described_as(None))
    with service(fake) as svc, pytest.raises(NotFoundError) as raised:
        svc.terminate_model("m-404")
    # A model terminated before, then forgotten, without checkpoints, looks the same: a
    # second terminate from another client said "not found" alone (the README says why).
    assert raised.value.__notes__ == [
        "model m-404 may not exist, or may have been terminated already: a server may "
        "forget a terminated model, which without a checkpoint of it listed looks like one "
        "it never had"
    ]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("listed", [False, True], ids=["none", "kept"])
async def test_get_model_of_a_model_not_found_says_it_may_be_terminated(
    is_async: bool, listed: bool
) -> None:
    # A server that forgets a terminated model answers its GET 404: `get_model` (and
    # `weaver-facade models show`) said "not found" alone, where `terminate_model` says
    # what it may mean; with a checkpoint of it listed, it was terminated.
    fake = source(None)  # its checkpoint listed
    if not listed:
        fake.checkpoints.clear()

    async def get() -> None:
        if is_async:
            async with async_service(fake) as asvc:
                await asvc.get_model("m-w")
        else:
            with service(fake) as svc:
                svc.get_model("m-w")

    with pytest.raises(NotFoundError) as raised:
        await get()
    note = (
        "model m-w is no longer found, but the server lists checkpoints of it: it was "
        "terminated, and they stay"
        if listed
        else "model m-w may not exist, or may have been terminated already: a server may "
        "forget a terminated model, which without a checkpoint of it listed looks like one "
        "it never had"
    )
    assert raised.value.__notes__ == [note]


# The 404 stands, but a 503 is no answer: its note says that the look failed, so that
# a model whose checkpoints stay is not taken for one gone (`checkpoints list M`).
_LISTING_FAILED = (
    "; its checkpoints, which would tell, could not be listed: "
    "[503 unavailable] list_checkpoints: overloaded"
)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_get_model_of_a_model_not_found_whose_listing_fails_is_still_not_found(
    is_async: bool,
) -> None:
    # The listing that the note needs is a request of its own: its 503 replaced the
    # model's 404, and `get_model` (`models show`) said the server was overloaded.
    fake = source(None)
    down = json_reply(503, error_json("unavailable", "overloaded", True))
    fake.script("GET", f"{MODELS}/m-w/checkpoints", *[down] * 2)

    async def get() -> None:
        if is_async:
            async with async_service(fake, max_retries=1) as asvc:
                await asvc.get_model("m-w")
        else:
            with service(fake, max_retries=1) as svc:
                svc.get_model("m-w")

    with pytest.raises(NotFoundError) as raised:
        await get()
    assert raised.value.status_code == 404
    assert len(fake.sent("GET", f"{MODELS}/m-w/checkpoints")) == 2
    assert raised.value.__notes__[0].startswith("model m-w may not exist")
    assert _LISTING_FAILED in raised.value.__notes__[0]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("call", ["training_client", "terminate_model"])
async def test_a_model_not_found_whose_listing_fails_is_still_not_found(
    call: str, is_async: bool
) -> None:
    # As `get_model`'s: the listing that tells a forgotten model from an unknown one
    # failed, and its 503 replaced the model's 404 (`checkpoints list M`, a terminate).
    fake = source(None)
    fake.script("POST", f"{MODELS}/m-w/terminate", described_as(None))
    down = json_reply(503, error_json("unavailable", "overloaded", True))
    fake.script("GET", f"{MODELS}/m-w/checkpoints", *[down] * 2)

    async def attempt() -> None:
        if is_async:
            async with async_service(fake, max_retries=1) as asvc:
                await getattr(asvc, call)("m-w")
        else:
            with service(fake, max_retries=1) as svc:
                getattr(svc, call)("m-w")

    with pytest.raises(NotFoundError) as raised:
        await attempt()
    assert raised.value.status_code == 404
    assert len(fake.sent("GET", f"{MODELS}/m-w/checkpoints")) == 2
    assert raised.value.__notes__[0].startswith("model m-w may not exist")
    assert _LISTING_FAILED in raised.value.__notes__[0]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_terminate_s_404_whose_look_at_the_model_fails_is_still_not_found(
    is_async: bool,
) -> None:
    # The GET that tells whether the terminate's 404 was of the model is a request of
    # its own: its 503 replaced the 404, and `models terminate` said "overloaded".
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-w/terminate", described_as(None))
    down = json_reply(503, error_json("unavailable", "overloaded", True))
    fake.script("GET", f"{MODELS}/m-w", *[down] * 2)

    async def terminate() -> None:
        if is_async:
            async with async_service(fake, max_retries=1) as asvc:
                await asvc.terminate_model("m-w")
        else:
            with service(fake, max_retries=1) as svc:
                svc.terminate_model("m-w")

    with pytest.raises(NotFoundError, match="terminate_model") as raised:
        await terminate()
    assert len(fake.sent("GET", f"{MODELS}/m-w")) == 2
    assert not hasattr(raised.value, "__notes__")  # nothing is known of the model


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_another_client_s_terminate_of_a_model_the_server_forgot_is_no_error(
    is_async: bool,
) -> None:
    # "Terminating twice is no error" held only in the client that terminated the model:
    # another one (a second process, each `models terminate` command) got the server's
    # 404. The server still lists the model's checkpoints: a model it forgot, which
    # `training_client` attaches, not one it never had.
    fake = source(None)
    fake.script("POST", f"{MODELS}/m-w/terminate", described_as(None))
    if is_async:
        async with async_service(fake) as asvc:
            info = await asvc.terminate_model("m-w")
    else:
        with service(fake) as svc:
            info = svc.terminate_model("m-w")
    assert (info.id, info.status) == ("m-w", None)


def test_a_terminate_refused_404_of_a_model_the_server_finds_is_still_not_found() -> None:
    # The model is there (its GET answers): the 404 said something else, such as a
    # server without the route, and its checkpoints tell nothing.
    fake = source(ONLY_ID)
    fake.script("POST", f"{MODELS}/m-w/terminate", described_as(None))
    with service(fake) as svc, pytest.raises(NotFoundError, match="terminate_model") as raised:
        svc.terminate_model("m-w")
    assert not hasattr(raised.value, "__notes__")  # the model is there: no "terminated?"


def test_terminate_model_takes_the_model_from_a_reply_that_is_one() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        info = svc.terminate_model("m-7")
    assert (info.id, info.status) == ("m-7", "terminated")
    assert fake.terminated == ["m-7"]
    assert fake.sent("GET") == []


@pytest.mark.parametrize("reply", list(NO_MODEL_REPLIES.values()), ids=list(NO_MODEL_REPLIES))
def test_close_takes_any_2xx_terminate_as_done(
    reply: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="weaver_facade")
    fake = FakeWeaver()
    fake.script("POST", f"{MODELS}/m-1/terminate", reply())
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert len(fake.sent("POST", f"{MODELS}/m-1/terminate")) == 1
    assert fake.sent("GET") == []  # closing needs no model back
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def close_two_models(first_terminate: Exception, caplog: pytest.LogCaptureFixture) -> FakeWeaver:
    """Create m-1 and m-2, then close, the terminate of m-1 failing with ``first_terminate``."""
    fake = FakeWeaver()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, max_retries=0)
    svc.create_training_client("weaver-tiny")
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-2")))
    svc.create_training_client("weaver-tiny")

    def fail(request: httpx.Request) -> httpx.Response:
        raise first_terminate

    fake.script("POST", f"{MODELS}/m-1/terminate", fail)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        svc.close()
    http.close()
    return fake


def test_a_close_that_cannot_reach_the_server_names_the_models_left_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It logged one line without ids: the user could not tell which models still ran.
    close_two_models(httpx.ConnectError("[Errno 111] Connection refused"), caplog)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("could not terminate model m-1 on close: ")
    assert messages[1] == "models left running: m-1, m-2 (end them with terminate_model())"
    # The command line shows its own words, even with -q.
    assert caplog.records[1].cli_message == (  # type: ignore[attr-defined]
        "models left running: m-1, m-2 (end them with `weaver-facade models terminate`)"
    )
    assert caplog.records[1].left_running is True  # type: ignore[attr-defined]


def test_a_close_that_loses_a_reply_goes_on_to_the_next_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A lost reply was taken for an unreachable server: the close gave up on every
    # model after it, although the server answered.
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    fake = close_two_models(dropped, caplog)
    assert [r.url.path for r in fake.requests if r.url.path.endswith("/terminate")] == [
        f"{MODELS}/m-1/terminate",
        f"{MODELS}/m-2/terminate",
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("could not terminate model m-1 on close: ")


async def test_two_acloses_at_once_terminate_each_model_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The second aclose() ran the same terminates while the first waited for them: each
    # was sent twice, and the second close logged a failure that was none.
    fake = FakeWeaver()
    held, http, svc = _terminate_held(fake)
    await svc.create_training_client("weaver-tiny")
    first = asyncio.create_task(svc.aclose())
    await held.reached.wait()
    second = asyncio.create_task(svc.aclose())
    await asyncio.sleep(0)  # let the second close start while the first waits
    held.release.set()
    await asyncio.gather(first, second)
    await http.aclose()
    assert fake.terminated == ["m-1"]
    assert len(fake.sent("POST", f"{MODELS}/m-1/terminate")) == 1
    assert "could not terminate" not in caplog.text


def test_two_closes_at_once_terminate_each_model_once() -> None:
    fake = FakeWeaver()
    reached, release = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"{MODELS}/m-1/terminate" and not release.is_set():
            reached.set()
            release.wait(10)
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(held))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    svc.create_training_client("weaver-tiny")
    first = threading.Thread(target=svc.close)
    first.start()
    assert reached.wait(10)
    second = threading.Thread(target=svc.close)
    second.start()
    second.join(0.2)  # it waits for the first close (before the fix: it sent its own)
    release.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive()
    assert not second.is_alive()
    assert fake.terminated == ["m-1"]
    assert len(fake.sent("POST", f"{MODELS}/m-1/terminate")) == 1


class _Walked(dict[str, None]):
    """The models a close walks, calling ``hook`` once, in the first walk that gets there:
    as it begins (its iterator made, before its first model) or past its last model."""

    def __init__(self, models: dict[str, None], hook: Callable[[], None], at_end: bool) -> None:
        super().__init__(models)
        self._hook: Callable[[], None] | None = hook
        self._at_end = at_end

    def __iter__(self) -> Iterator[str]:
        models = super().__iter__()
        if not self._at_end:
            self._call_hook()
        yield from models
        self._call_hook()

    def _call_hook(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()


class _Announced:
    """A reentrant lock that sets ``waited`` when a thread finds it held by another."""

    def __init__(self, waited: threading.Event) -> None:
        self._lock = threading.RLock()
        self._waited = waited

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self._waited.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


@pytest.mark.parametrize("at_end", [False, True], ids=["as-it-begins", "past-the-last"])
def test_a_model_added_while_the_close_walks_its_models_is_not_lost(
    monkeypatch: pytest.MonkeyPatch, at_end: bool
) -> None:
    # A create in another thread, answered while the close walked the models it had made,
    # added its model during the walk: "RuntimeError: dictionary changed size during
    # iteration" out of the close, or, once the walk had found none left, a create told
    # "terminated by the close" of a model the close never terminated.
    created = CreatedModels(terminate_on_close=True)
    new = NewModel(base_model="weaver-tiny", training_mode="lora", lora=None)
    created.add("m-1", new, keep=False, unclaimed=False)
    # The create's thread goes on once its model is added, or once it waits for the close.
    went_on = threading.Event()
    monkeypatch.setattr(created, "_lock", _Announced(went_on))
    told: list[bool] = []

    def late_create() -> None:
        told.append(created.add("m-2", new, keep=False, unclaimed=True)[1])
        went_on.set()

    creating = threading.Thread(target=late_create)

    def answered_meanwhile() -> None:
        creating.start()
        went_on.wait(10)

    created._ids = _Walked(created._ids, answered_meanwhile, at_end)
    sent: list[str] = []

    def perform(call: _plans.Call[Any]) -> None:
        sent.append(call.request["url"])

    _plans.drive(created.terminate(), perform)
    creating.join(10)
    assert went_on.is_set()
    assert sent[0] == f"{MODELS}/m-1/terminate"
    # Terminated by the close, or told it was not (its create says it is left running).
    assert told == [f"{MODELS}/m-2/terminate" in sent]
    assert len(sent) == len(set(sent))


def test_a_step_whose_model_the_close_terminated_ends_as_closed() -> None:
    # A step in flight when close() terminated its model failed "[409 model_terminated]",
    # which a worker loop took for a training failure, not for its own shutdown.
    fake = FakeWeaver()
    svc = ServiceClient(
        BASE,
        KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        heartbeat_interval=0,
    )
    trainer = svc.create_training_client("weaver-tiny")

    def closed_meanwhile(request: httpx.Request) -> httpx.Response:
        svc.close()  # terminates m-1 while the step is on its way
        return json_reply(409, error_json("model_terminated", "model m-1 is terminated"))

    fake.script("POST", f"{MODELS}/m-1/optimizer-steps", closed_meanwhile)
    with pytest.raises(ClientClosedError, match="terminated by the client's close") as closed:
        trainer.optim_step()
    assert isinstance(closed.value.__cause__, ModelTerminatedError)
    assert fake.terminated == ["m-1"]


@pytest.mark.parametrize("closing", [True, False])
def test_an_operation_whose_model_the_close_terminated_ends_as_closed(closing: bool) -> None:
    failed = OperationSnapshot(
        id="op-1",
        status=OperationStatus.ERROR,
        error_code="model_terminated",
        error_message="model m-1 is terminated",
    )
    handle: OperationHandle[object] = OperationHandle(
        failed, fetch=lambda *_: failed, parse_result=lambda s: s, closing=lambda: closing
    )
    expected = ClientClosedError if closing else OperationFailedError
    with pytest.raises(expected):
        handle.result()


@pytest.mark.parametrize(("keep", "terminate"), [(False, True), (True, True), (False, False)])
async def test_a_model_whose_creation_was_cancelled_is_terminated_on_close(
    keep: bool, terminate: bool
) -> None:
    # A create_training_client cancelled (asyncio.wait_for, a TaskGroup) after the server
    # had made the model lost its reply: the model stayed active, unknown to the close.
    # Kept (keep=True, terminate_models_on_close=False), it stayed so too: its caller
    # never got it.
    fake, late, http, svc = await _one_model_made_then_creates_held(
        terminate_models_on_close=terminate
    )
    await _cancel_a_held_create(fake, late, svc, keep=keep)
    late.gates[CREATE].set()
    await turns_until(lambda: svc._created.settings("m-2") is not None)  # after the cancel
    await svc.aclose()
    await http.aclose()
    assert fake.terminated == (["m-1", "m-2"] if terminate else ["m-2"])


@pytest.mark.parametrize("keep", [True, False])
async def test_a_create_cancelled_once_its_model_is_recorded_terminates_it_on_close(
    keep: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The cancel came after the create had recorded its model as the caller's, but before
    # the caller's task resumed with it (a wait_for expiring just then): the caller never
    # got the model, and a kept one ran on after the close.
    fake, late, http, svc = await _one_model_made_then_creates_held()
    fake.script("POST", CREATE, json_reply(201, model("m-2")))
    late.gates[CREATE].set()
    creating = asyncio.create_task(svc.create_training_client("weaver-tiny", keep=keep))
    await turns_until(lambda: svc._created.settings("m-2") is not None)
    assert not creating.done()
    creating.cancel()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        with pytest.raises(asyncio.CancelledError):
            await creating
        await svc.aclose()
    await http.aclose()
    assert fake.terminated == ["m-1", "m-2"]
    # A model not kept was terminated on close all the same: nothing to say of it.
    assert ("model m-2 is terminated on close, even if kept" in caplog.text) == keep


def test_a_create_interrupted_once_its_model_is_recorded_terminates_it_on_close(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The sync twin of the cancel above: a Ctrl-C held after the create recorded its model
    # as the caller's is raised as the create ends, and the caller never gets the model; a
    # kept one ran on after the close.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, model("m-1")))
    add = CreatedModels.add

    def interrupted_after(created: CreatedModels, *args: Any, **kwargs: Any) -> Any:
        recorded = add(created, *args, **kwargs)
        ctrl_c()
        return recorded

    monkeypatch.setattr(CreatedModels, "add", interrupted_after)
    with (
        default_sigint(),
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake) as svc,
        pytest.raises(KeyboardInterrupt),
    ):
        svc.create_training_client("weaver-tiny", keep=True)
    assert fake.terminated == ["m-1"]
    assert "model m-1 is terminated on close, even if kept" in caplog.text


def test_a_create_answered_200_gives_the_model_and_terminates_it_on_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The sheet says 201; a server that answers 200 has made the model all the same. It
    # was a ResponseValidationError, and the model, unknown to the client, ran on.
    fake = FakeWeaver()
    fake.script("POST", CREATE, json_reply(200, model("m-7")))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        assert svc.create_training_client("weaver-tiny").model.id == "m-7"
    assert fake.terminated == ["m-7"]
    assert "create_model: Model: answered HTTP 200, which the spec does not" in caplog.text


def test_an_undocumented_success_status_leaves_out_an_unpromised_field_as_a_201_does(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A status of the server's own in the model (the generated parser refuses it) was
    # left out of a 201's body, and refused in a 200's: the model ran on, unknown.
    monkeypatch.setattr(_wire, "_warned", set())  # each field is warned about once
    fake = FakeWeaver()
    fake.script("POST", CREATE, json_reply(200, model("m-7") | {"status": "warming"}))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        assert svc.create_training_client("weaver-tiny").model.status is None
    assert fake.terminated == ["m-7"]
    assert "`status` is left out" in caplog.text


def test_an_undocumented_success_status_whose_body_breaks_the_spec_names_both() -> None:
    fake = FakeWeaver()
    fake.script("POST", CREATE, json_reply(200, {"model": model("m-7")}))
    with service(fake) as svc, pytest.raises(ResponseValidationError) as broken:
        svc.create_training_client("weaver-tiny")
    assert "HTTP status 200" in str(broken.value)
    assert "`id`" in str(broken.value)


def test_a_create_answered_with_a_status_that_is_no_success_is_not_taken() -> None:
    fake = FakeWeaver()
    fake.script("POST", CREATE, json_reply(304, model("m-7")))
    with service(fake) as svc, pytest.raises(ResponseValidationError) as broken:
        svc.create_training_client("weaver-tiny")
    assert "HTTP status 304 (the spec documents another success status)" in str(broken.value)
    assert fake.terminated == []


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://weaver.example.com/api/v1/supported-models", None),
        ("/v2/supported-models", f"{BASE}/v2/supported-models"),
        # A Location that echoes the request's key does not show it.
        (f"https://sso.example/login?k={KEY}", "https://sso.example/login?k=[redacted]"),
    ],
)
def test_a_redirect_names_where_it_leads(location: str, shown: str | None) -> None:
    # A base URL the server redirects (http:// to https://, a moved service) said only
    # "unexpected HTTP status 308 (the spec documents another success status)": not
    # where it led, nor that the client does not follow it.
    fake = FakeWeaver()
    moved = httpx.Response(308, headers={"Location": location, "X-Request-ID": "req-1"})
    fake.script("GET", "/api/v1/supported-models", moved)
    with service(fake) as svc, pytest.raises(ResponseValidationError) as moved_away:
        svc.supported_models()
    said = str(moved_away.value)
    assert f"HTTP status 308 (a redirect to {shown or location}, which " in said, said
    assert KEY not in said


def test_a_servers_model_terminated_says_the_checkpoints_stay() -> None:
    # This client's own refusal of a terminated model says where to go on; the server's
    # `[409 model_terminated]` (terminated elsewhere: another process, the CLI) said nothing.
    fake = FakeWeaver()
    refused = json_reply(409, error_json("model_terminated", "model m-1 was terminated"))
    fake.script("POST", f"{MODELS}/m-1/checkpoints", refused)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(ModelTerminatedError) as raised:
            trainer.save_state("late")
    assert raised.value.__notes__ == [
        "a terminated model's checkpoints stay, to list, export, download, or resume in a "
        "new model with create_training_client_from_state"
    ]


def test_a_close_that_finds_a_model_terminated_elsewhere_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Another client (`weaver-facade models terminate`) terminated m-1, and the server
    # forgot it: the close said it "could not terminate" a model that no longer runs.
    fake = FakeWeaver()
    gone = json_reply(404, error_json("not_found", "model m-1 not found"))
    fake.script("POST", f"{MODELS}/m-1/terminate", gone)
    caplog.set_level(logging.INFO, logger="weaver_facade")
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "model m-1 was no longer found on close" in caplog.text


def test_a_resume_whose_load_times_out_says_its_model_ends_on_close() -> None:
    # Its OperationTimeoutError said only that the operation keeps running and how to
    # re-attach: not that it is the load into a model the caller never got, which the
    # close terminates, ending the load.
    fake, clock = source(WIRE_ONLY), FakeClock()
    fake.pending_polls = 10**6
    poll = PollPolicy(PollSettings(timeout=5), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        with pytest.raises(OperationTimeoutError) as timed_out:
            svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
        assert fake.terminated == []  # not before the close
    assert fake.terminated == ["m-1"]
    assert timed_out.value.__notes__[0] == (
        "it is the load into model m-1, made for this call, which the client's close "
        "terminates (its caller never got it), ending the load"
    )


def test_a_close_whose_terminate_meets_a_404_page_warns_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 404 without a Weaver error body (a proxy's page: no route of the terminate
    # there) says nothing of the model, which may run on: it was taken for a model
    # terminated elsewhere, an INFO record, instead of the WARNING of one not terminated.
    fake = FakeWeaver()
    page = httpx.Response(404, text="404 page not found", headers={"content-type": "text/plain"})
    fake.script("POST", f"{MODELS}/m-1/terminate", page)
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [m.split(":")[0] for m in warned] == ["could not terminate model m-1 on close"]
    assert "no longer found" not in caplog.text


@pytest.mark.parametrize("broken", [False, True], ids=["model", "reply-breaking-a-field"])
def test_a_create_answered_as_a_whole_close_ran_is_told_its_model_is_left_running(
    caplog: pytest.LogCaptureFixture, broken: bool
) -> None:
    # The create asked whether the client was closing, then its thread stalled while a close
    # began, waited the whole of its deadline for it, terminated the models it had and
    # ended: the model added after it was returned as if no close had run, left running
    # with no word of it. A reply breaking a field the spec promises said "left running"
    # in its error's note alone, without how to end it.
    fake = FakeWeaver()
    if broken:
        fake.script("POST", CREATE, json_reply(201, {**WIRE_ONLY, "id": "m-1", "base_model": 5}))
    http = httpx.Client(transport=httpx.MockTransport(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, timeout=0.3)
    add = svc._created.add

    def closed_first(*args: Any, **kwargs: Any) -> tuple[bool, bool]:
        closing = threading.Thread(target=svc.close)
        closing.start()
        closing.join(10)
        assert not closing.is_alive()
        return add(*args, **kwargs)

    svc._created.add = closed_first  # type: ignore[method-assign]
    left = "left running (end it with terminate_model())"
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(ClientClosedError if not broken else ResponseValidationError) as refused,
    ):
        svc.create_training_client("weaver-tiny")
    if broken:
        left = "left running: the client was closed meanwhile (end it with terminate_model())"
        assert f"the server made model m-1 all the same, {left}" in refused.value.__notes__
    else:
        assert str(refused.value).endswith(f"model m-1 was being created; it is {left}")
    assert fake.terminated == []  # nothing terminated it: the warning says so
    assert "models left running: m-1 (end it with terminate_model())" in caplog.text
    http.close()


# -- a create answered 2xx with a reply that breaks the spec ---------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "broken",
    [{"base_model": 5}, {"base_model": None}, {"tokenizer_path": ["weaver://tok/b"]}],
    ids=["base_model-number", "base_model-null", "tokenizer_path-list"],
)
async def test_a_model_made_under_a_reply_that_breaks_a_promised_field_is_terminated(
    broken: dict[str, Any], is_async: bool
) -> None:
    # The server made the model and its reply names it, but breaks a field the real
    # service promises: the error stands, and the model, which its caller never got, is
    # terminated on close (even when kept) instead of left running unknown.
    fake = FakeWeaver()
    fake.script("POST", CREATE, json_reply(201, {**WIRE_ONLY, **broken}))

    async def create_kept() -> None:
        if is_async:
            async with async_service(fake) as asvc:
                await asvc.create_training_client("weaver-tiny", keep=True)
        else:
            with service(fake) as svc:
                svc.create_training_client("weaver-tiny", keep=True)

    with pytest.raises(ResponseValidationError) as refused:
        await create_kept()
    assert fake.terminated == [WIRE_ONLY["id"]]
    notes = "\n".join(refused.value.__notes__)
    assert f"the server made model {WIRE_ONLY['id']}" in notes
    assert f"terminated {_models_named([WIRE_ONLY['id']])}" in notes  # by the close


@pytest.mark.parametrize(
    "reply",
    [json_reply(201, {"base_model": "weaver-tiny"}), json_reply(201, {"id": 7})],
    ids=["no-id", "id-number"],
)
def test_a_model_made_under_a_reply_that_does_not_name_it_is_said_to_run_on(
    reply: httpx.Response,
) -> None:
    fake = FakeWeaver()
    fake.script("POST", CREATE, reply)
    with service(fake) as svc, pytest.raises(ResponseValidationError) as refused:
        svc.create_training_client("weaver-tiny")
    assert fake.terminated == []
    notes = "\n".join(refused.value.__notes__)
    assert "the server made a model all the same" in notes
    assert "service.list_models()" in notes


def _models_named(model_ids: list[str]) -> str:
    return f"model {model_ids[0]}" if len(model_ids) == 1 else f"models {', '.join(model_ids)}"


async def test_a_resume_cancelled_in_its_load_says_its_model_ends_on_close() -> None:
    # Its CancelledError said only that the load keeps running and how to re-attach to
    # it, as the OperationTimeoutError did: not that the close terminates its model,
    # which the caller never got, ending the load.
    fake = source(WIRE_ONLY)
    fake.pending_polls = 10**6
    polled = asyncio.Event()

    def polls_seen(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/operations/" in request.url.path:
            polled.set()  # the load is being waited for
        return fake(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(polls_seen))
    svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    resuming = asyncio.create_task(
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
    )
    await polled.wait()
    resuming.cancel()
    with pytest.raises(asyncio.CancelledError) as cancelled:
        await resuming
    await svc.aclose()
    await http.aclose()
    assert fake.terminated == ["m-1"]
    assert (
        "it is the load into model m-1, made for this call, which the client's close "
        "terminates (its caller never got it), ending the load"
    ) in cancelled.value.__notes__


def test_a_resume_interrupted_in_its_load_says_its_model_ends_on_close() -> None:
    # A Ctrl-C while the load was waited for: see the cancelled one above.
    fake = source(WIRE_ONLY)
    fake.pending_polls = 10**6

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with service(fake, sleep=interrupted) as svc:
        with pytest.raises(KeyboardInterrupt) as stopped:
            svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)
        assert fake.terminated == []
    assert fake.terminated == ["m-1"]
    assert (
        "it is the load into model m-1, made for this call, which the client's close "
        "terminates (its caller never got it), ending the load"
    ) in stopped.value.__notes__
