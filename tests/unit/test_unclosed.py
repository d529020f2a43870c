"""A client never closed: it terminates nothing, and says which models it leaves running."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeWeaver,
    HeldTransport,
    async_service,
    close_waiting_for_a_cancelled_create,
    json_reply,
    turns_until,
)
from weaver_facade import AsyncServiceClient, ClientClosedError, ServiceClient

# A script that forgot `with` (or `close()`) left its models running on the server, holding
# training resources, and nothing said so: Python warns of an unclosed file, aiohttp of an
# unclosed session.


def numbered() -> FakeWeaver:
    """A fake whose creates make models m-1, m-2 and m-3 (the fake's own are all m-1)."""
    fake = FakeWeaver()
    made = [
        {"id": f"m-{n}", "base_model": "weaver-tiny", "training_mode": "lora"} for n in (1, 2, 3)
    ]
    fake.script("POST", "/api/v1/sessions/s-1/models", *[json_reply(201, m) for m in made])
    return fake


def unheld(**options: Any) -> tuple[ServiceClient, list[str]]:
    """A client on a fake that nothing of the test holds (its requests hold the client's
    IO), and the fake's record of the models terminated."""
    fake = numbered()
    http = httpx.Client(transport=httpx.MockTransport(fake))
    options.setdefault("heartbeat_interval", 0)
    return ServiceClient(BASE, KEY, http_client=http, **options), fake.terminated


class Messages(logging.Filter):
    """Keeps the messages of the records, and drops the records: pytest's handlers keep
    them, and a record of a failure (a close's) holds its traceback, and so the client."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
        return False


@pytest.fixture
def said() -> Iterator[Callable[[], list[tuple[str, str]]]]:
    """What ``collected()`` said: the WARNING records of ``weaver_facade`` and the
    ResourceWarnings, as ("log", message) and ("warning", message)."""
    gc.collect()  # earlier tests' garbage, which is not this test's to judge
    logger = logging.getLogger("weaver_facade")
    kept = Messages()
    logger.addFilter(kept)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            def collected() -> list[tuple[str, str]]:
                gc.collect()
                told = [str(w.message) for w in caught if w.category is ResourceWarning]
                return [("log", m) for m in kept.messages] + [("warning", m) for m in told]

            yield collected
    finally:
        logger.removeFilter(kept)


def test_a_client_collected_unclosed_names_the_models_it_leaves_running(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    svc, terminated = unheld()
    left = svc.create_training_client("weaver-tiny").model_id
    svc.create_training_client("weaver-tiny", keep=True)
    gone = svc.create_training_client("weaver-tiny").model_id
    svc.terminate_model(gone)
    del svc
    message = (
        f"a ServiceClient never closed leaves model {left} running on the server: close "
        "the client (`with`, or `close()`) to terminate the models it created (`keep=True` "
        "keeps one)"
    )
    assert said() == [("log", message), ("warning", message)]
    assert terminated == [gone]  # nothing sent: it terminates nothing
    assert said() == [("log", message), ("warning", message)]  # said once


def test_a_client_is_not_said_unclosed_while_a_training_client_of_it_may_train(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    svc, _ = unheld()
    trainer = svc.create_training_client("weaver-tiny")
    trainer_too = svc.create_training_client("weaver-tiny")
    del svc
    assert said() == []
    trainer.optim_step()  # its session still beats: the models are in use
    del trainer, trainer_too
    assert [kind for kind, text in said() if "leaves models m-1, m-2 running" in text] == [
        "log",
        "warning",
    ]


@pytest.mark.parametrize(
    ("options", "keep", "close"),
    [
        ({}, False, True),  # closed
        ({}, True, False),  # kept
        ({"terminate_models_on_close": False}, False, False),
        ({}, None, False),  # no model created
    ],
    ids=["closed", "kept", "terminate_models_on_close=False", "none-created"],
)
def test_nothing_is_said_of_a_client_that_leaves_nothing_running_by_mistake(
    said: Callable[[], list[tuple[str, str]]],
    options: dict[str, Any],
    keep: bool | None,
    close: bool,
) -> None:
    svc, terminated = unheld(**options)
    if keep is not None:
        svc.create_training_client("weaver-tiny", keep=keep)
    if close:
        svc.close()
    del svc
    assert said() == []
    assert terminated == (["m-1"] if close else [])


def test_a_closed_client_whose_close_left_models_running_is_not_said_unclosed(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    fake = numbered()

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fake.script("POST", "/api/v1/models/m-1/terminate", unreachable)
    http = httpx.Client(transport=httpx.MockTransport(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    del fake, http
    svc.create_training_client("weaver-tiny")
    svc.close()
    del svc
    told = said()
    assert ("log", "models left running: m-1 (end it with terminate_model())") in told
    assert [text for _, text in told if "never closed" in text] == []


def _terminate_interrupted(fake: FakeWeaver) -> httpx.MockTransport:
    """``fake``, but for its terminates, which raise KeyboardInterrupt (a Ctrl-C)."""

    def interrupted(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/terminate"):
            raise KeyboardInterrupt
        return fake(request)

    return httpx.MockTransport(interrupted)


def test_a_client_whose_close_a_ctrl_c_cut_short_is_not_said_never_closed(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    # A Ctrl-C during the close's terminates (the second of a `with` block's): once
    # collected, or at exit, the client was said "never closed", and told to close.
    fake = numbered()
    http = httpx.Client(transport=_terminate_interrupted(fake))
    svc = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
    terminated = fake.terminated
    del fake, http  # its requests hold the client's IO
    svc.create_training_client("weaver-tiny")
    with pytest.raises(KeyboardInterrupt):
        svc.close()
    del svc
    # The close named the model it left: it is not named again once collected.
    left = "models left running: m-1 (end it with terminate_model())"
    assert said() == [("log", f"the close was interrupted: {left}")]
    assert terminated == []


def test_an_async_client_whose_close_was_cancelled_is_not_said_never_closed(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    fake = numbered()

    async def main(fake: FakeWeaver) -> None:  # all of it gone with its loop
        held = HeldTransport(fake, "/api/v1/models/m-1/terminate")
        http = httpx.AsyncClient(transport=held)
        svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        await svc.create_training_client("weaver-tiny")
        closing = asyncio.create_task(svc.aclose())
        await held.reached.wait()
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing

    asyncio.run(main(fake))
    terminated = fake.terminated
    del fake  # its requests hold the client's IO
    left = "models left running: m-1 (end it with terminate_model())"
    assert said() == [("log", f"the close was cancelled (close again): {left}")]
    assert terminated == []


def test_a_close_cancelled_as_it_waits_for_its_heartbeat_is_said_once(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    # An aclose() cancelled as it waited for its heartbeat's end names the models it
    # leaves, and refuses creates from then on (one made then was named by nothing but the
    # exit's words): once the client is collected, nothing more is said.
    fake = numbered()

    async def main(fake: FakeWeaver) -> None:  # all of it gone with its loop
        svc = async_service(fake, heartbeat_interval=3600)
        await svc.create_training_client("weaver-tiny")
        closing = asyncio.create_task(svc.aclose())
        await asyncio.sleep(0)  # the close waits for its heartbeat's end
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        with pytest.raises(ClientClosedError, match="close it again"):
            await svc.create_training_client("weaver-tiny")

    asyncio.run(main(fake))
    terminated = fake.terminated
    del fake  # its requests hold the client's IO
    cancelled = (
        "the close was cancelled (close again): models left running: m-1 (end it with "
        "terminate_model())"
    )
    assert said() == [("log", cancelled)]
    assert terminated == []


@pytest.mark.parametrize("broken", [False, True], ids=["model", "reply-breaking-a-field"])
def test_a_model_a_cut_short_close_could_not_name_is_named_once_its_reply_comes(
    said: Callable[[], list[tuple[str, str]]], broken: bool
) -> None:
    # The close, cancelled as it waited for a create's reply, named no id: the model that
    # reply then made is named as it comes, and how to end it, and not again once the
    # client is collected. Also when the reply breaks a field the spec promises (the
    # create's error, which its cancelled caller never sees, said it "left running" alone,
    # with no WARNING: nothing named it).
    fake = FakeWeaver() if broken else numbered()
    if broken:
        made = {"id": "m-1", "base_model": 5, "training_mode": "lora"}
        fake.script("POST", "/api/v1/sessions/s-1/models", json_reply(201, made))

    async def main(fake: FakeWeaver) -> None:  # all of it gone with its loop
        held = HeldTransport(fake, "/api/v1/sessions/s-1/models")
        http = httpx.AsyncClient(transport=held)
        svc = AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        closing = await close_waiting_for_a_cancelled_create(svc, held)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        held.release.set()
        await turns_until(svc._created.pending)  # the reply, after the cancel

    asyncio.run(main(fake))
    terminated = fake.terminated
    del fake  # its requests hold the client's IO
    on_its_way = (
        "the close was cancelled (close again): models left running: the model of a create "
        "on its way (a server with the model-listing extension shows the id this client "
        "never got in service.list_models(); end it with terminate_model())"
    )
    left = "models left running: m-1 (end it with terminate_model())"
    assert said() == [("log", on_its_way), ("log", left)]
    assert terminated == []


async def test_an_async_client_collected_unclosed_names_the_models_it_leaves_running(
    said: Callable[[], list[tuple[str, str]]],
) -> None:
    svc = async_service(numbered())
    left = (await svc.create_training_client("weaver-tiny")).model_id
    await svc.create_training_client("weaver-tiny", keep=True)
    closed = async_service(FakeWeaver())
    await closed.create_training_client("weaver-tiny")
    await closed.aclose()
    del svc, closed
    message = (
        f"an AsyncServiceClient never closed leaves model {left} running on the server: "
        "close the client (`async with`, or `await aclose()`) to terminate the models it "
        "created (`keep=True` keeps one)"
    )
    assert said() == [("log", message), ("warning", message)]


# At exit: a client still held (a global) is never collected before the interpreter ends.

_SCRIPT = """
import logging, os, sys
import httpx
from tests.support.fakeserver import BASE, KEY, FakeWeaver
from weaver_facade import ServiceClient

logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
svc = ServiceClient(BASE, KEY, http_client=httpx.Client(transport=httpx.MockTransport(
    FakeWeaver())), heartbeat_interval=float(sys.argv[1]))
model = svc.create_training_client("weaver-tiny").model_id
print("made", model, flush=True)
"""


def run(end: str, heartbeat: float = 0) -> subprocess.CompletedProcess[str]:
    script = _SCRIPT + textwrap.dedent(end)
    return subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", script, str(heartbeat)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_client_unclosed_at_exit_names_the_models_it_leaves_running() -> None:
    done = run("", heartbeat=30)  # its thread still waits to beat
    assert done.stdout == "made m-1\n"
    message = (
        "a ServiceClient never closed leaves model m-1 running on the server: close the "
        "client (`with`, or `close()`) to terminate the models it created (`keep=True` "
        "keeps one)"
    )
    assert done.stderr.startswith(f"WARNING weaver_facade: {message}\n"), done.stderr
    assert f"ResourceWarning: {message}\n" in done.stderr, done.stderr
    assert done.stderr.count("never closed") == 2, done.stderr
    assert KEY not in done.stderr


def test_a_client_closed_before_exit_says_nothing_then() -> None:
    done = run("svc.close()")
    assert (done.stdout, done.stderr) == ("made m-1\n", "")


def test_a_forked_child_says_nothing_of_its_maker_s_client() -> None:
    # Its models are the maker's, whose close terminates them: the child, collecting its
    # copy or ending with it held, leaves nothing running.
    done = run(
        """
        import gc
        for collect in (True, False):
            child = os.fork()
            if child == 0:
                if collect:
                    del svc
                    gc.collect()
                sys.exit(0)
            os.waitpid(child, 0)
        svc.close()
        """
    )
    assert (done.stdout, done.stderr) == ("made m-1\n", "")
