"""200 saves through the facade while a fifth of all requests is disturbed, over real connections.

The emulator runs under uvicorn (``run_emulator``), so a ``drop`` is a real
connection reset. Faults hit every API request (session, model, saves, polls,
listings), spread evenly over five kinds: 503 and 429 with ``Retry-After``
before the server acts, and dropped connections and 503s after it acted (the
replies that idempotency keys exist for), plus drops before it acted.

Each test runs against an emulator with every extension and against one with none
(``extensions="none"``), which is the maintainer's report on issue 11: without
``Idempotency-Key`` a save whose first attempt acted is re-sent and meets its own
checkpoint (409), which the facade must recognise and return rather than raise.

The facade's own retry policy is used, with a short backoff and a recording
``sleep`` that does not really wait, so ``Retry-After`` is checked to be
honoured without sitting it out.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from weaver_facade import (
    AsyncServiceClient,
    Checkpoint,
    CheckpointStatus,
    PollSettings,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
)
from weaver_facade.emulator import (
    EmulatorApp,
    FaultConfig,
    FaultRule,
    RunningEmulator,
    run_emulator,
)

KEY = "reliability-faults-key-5b1e0c"
SAVES = 200
DISTURBED = 0.20
RETRY_AFTER = 1  # seconds announced by every injected 503/429 (never really waited out)
KINDS: tuple[tuple[str, str], ...] = (
    ("unavailable", "before"),
    ("rate_limited", "before"),
    ("drop", "before"),
    ("drop", "after"),
    ("unavailable", "after"),
)


def even_rules(total: float, kinds: tuple[tuple[str, str], ...]) -> tuple[FaultRule, ...]:
    """Rules whose first-match-wins draws disturb ``total`` of requests, split evenly by kind.

    Rule i fires with probability ``share / (1 - i * share)``, given that the
    rules before it did not, so every kind gets the same unconditional share.
    """
    share = total / len(kinds)
    return tuple(
        FaultRule(
            kind=kind,  # type: ignore[arg-type]
            rate=share / (1 - i * share),
            when=when,  # type: ignore[arg-type]
            retry_after=RETRY_AFTER,
        )
        for i, (kind, when) in enumerate(kinds)
    )


class Sleeps:
    """The facade's ``sleep``: records each wait and waits at most a millisecond."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.seconds.append(seconds)
        time.sleep(min(seconds, 0.001))

    async def asleep(self, seconds: float) -> None:
        with self._lock:
            self.seconds.append(seconds)
        await asyncio.sleep(min(seconds, 0.001))


class Replies:
    """Statuses of every reply the facade received (one per attempt that got an answer)."""

    def __init__(self) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        self.requests = 0

    def on_request(self, request: httpx.Request) -> None:
        self.requests += 1

    def on_response(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1

    async def aon_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx.Response) -> None:
        self.on_response(response)


# Enough retries that 20 % faults never exhaust them (0.2**13 per request), with no real backoff.
RETRY = RetryPolicy(
    RetrySettings(max_retries=12, initial_backoff=0.002, max_backoff=0.01, max_retry_after=5)
)
POLL = PollSettings(timeout=60, long_poll=5, initial_backoff=0.002, max_backoff=0.01)


@pytest.fixture(params=["all", "none"], ids=["extensions-all", "extensions-none"])
def emu(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    """With every extension, and as today's Weaver: no Idempotency-Key (a retried save
    that acted meets its own checkpoint, 409), no long-poll, no paging."""
    faults = FaultConfig(rules=even_rules(DISTURBED, KINDS), seed=20261129)
    with run_emulator(api_keys=(KEY,), faults=faults, extensions=request.param) as running:
        yield running


def stored_checkpoints(data_dir: Path) -> list[tuple[str, str, str]]:
    """Every checkpoint record the server holds, whatever its status: (model, name, status)."""
    with sqlite3.connect(data_dir / "weaver.db") as db:
        rows = db.execute("SELECT model_id, name, status FROM checkpoints").fetchall()
    return [(str(m), str(n), str(s)) for m, n, s in rows]


def check_disturbed(emu: RunningEmulator, replies: Replies, sleeps: Sleeps) -> None:
    """The faults asked for happened, at about the rate asked for, and were survived."""
    assert isinstance(emu.app, EmulatorApp)
    assert emu.app.faults is not None
    seen, fired = emu.app.faults.stats()
    for kind in KINDS:
        assert fired.get(kind, 0) >= 5, (kind, fired)
    assert 0.14 <= sum(fired.values()) / seen <= 0.26, (seen, fired)
    # Every 503/429 the facade received was waited out for exactly its Retry-After.
    announced = replies.statuses[503] + replies.statuses[429]
    assert announced == (
        fired[("unavailable", "before")]
        + fired[("unavailable", "after")]
        + fired[("rate_limited", "before")]
    )
    assert sleeps.seconds.count(float(RETRY_AFTER)) == announced
    # Drops got no reply at all: requests the server saw = replies received + connections
    # it dropped. The facade may have sent more: a request on a kept-alive connection the
    # server was closing at that moment never reaches it (and is retried).
    drops = fired[("drop", "before")] + fired[("drop", "after")]
    assert seen == sum(replies.statuses.values()) + drops
    assert replies.requests >= seen


def check_saved_once(emu: RunningEmulator, model_id: str, saved: list[Checkpoint]) -> None:
    names = [f"save-{i:03d}" for i in range(SAVES)]
    assert [c.name for c in saved] == names
    assert all(c.status is CheckpointStatus.COMPLETED for c in saved)
    assert len({c.id for c in saved}) == SAVES
    # Exactly 200 checkpoint records exist on the server, none failed, none twice.
    records = stored_checkpoints(emu.data_dir)
    assert sorted(records) == [(model_id, name, "completed") for name in names]
    files = list((emu.data_dir / "checkpoints").iterdir())
    assert sorted(p.name for p in files) == sorted(f"{c.id}.safetensors" for c in saved)


def test_200_saves_under_20_percent_faults_lose_nothing_and_duplicate_nothing(
    emu: RunningEmulator,
) -> None:
    sleeps, replies = Sleeps(), Replies()
    http = httpx.Client(
        event_hooks={"request": [replies.on_request], "response": [replies.on_response]}
    )
    with ServiceClient(
        emu.base_url,
        KEY,
        http_client=http,
        retry=RETRY,
        poll=POLL,
        sleep=sleeps,
        heartbeat_interval=0,
    ) as service:
        trainer = service.create_training_client("weaver-tiny", seed=3)
        # No try/except: any exception reaching the caller fails the test.
        saved = [trainer.save_state(f"save-{i:03d}") for i in range(SAVES)]
        listed = trainer.list_checkpoints(page_size=64)
    http.close()

    check_saved_once(emu, trainer.model_id, saved)
    assert listed == saved
    check_disturbed(emu, replies, sleeps)


async def test_200_concurrent_async_saves_under_20_percent_faults(emu: RunningEmulator) -> None:
    sleeps, replies = Sleeps(), Replies()
    http = httpx.AsyncClient(
        event_hooks={"request": [replies.aon_request], "response": [replies.aon_response]},
        limits=httpx.Limits(max_connections=50),
    )
    async with AsyncServiceClient(
        emu.base_url,
        KEY,
        http_client=http,
        retry=RETRY,
        poll=POLL,
        sleep=sleeps.asleep,
        heartbeat_interval=0,
    ) as service:
        trainer = await service.create_training_client("weaver-tiny", seed=3)
        semaphore = asyncio.Semaphore(40)

        async def save(i: int) -> Checkpoint:
            async with semaphore:
                return await trainer.save_state(f"save-{i:03d}")

        saved = await asyncio.gather(*(save(i) for i in range(SAVES)))
        listed = await trainer.list_checkpoints(page_size=64)
    await http.aclose()

    check_saved_once(emu, trainer.model_id, list(saved))
    assert sorted(listed, key=lambda c: c.name) == list(saved)
    check_disturbed(emu, replies, sleeps)


@pytest.mark.slow
def test_slow_saves_under_faults_without_extensions_wait_for_their_own_checkpoints() -> None:
    """Saves that take 0.3 s, so that a retry meets its own checkpoint still pending."""
    faults = FaultConfig(rules=even_rules(DISTURBED, KINDS), seed=7)
    with run_emulator(
        api_keys=(KEY,),
        faults=faults,
        extensions="none",
        latency={"save_checkpoint": 0.3},
    ) as emu:
        sleeps, replies = Sleeps(), Replies()
        http = httpx.Client(
            event_hooks={"request": [replies.on_request], "response": [replies.on_response]}
        )
        with ServiceClient(
            emu.base_url,
            KEY,
            http_client=http,
            retry=RETRY,
            poll=POLL,
            sleep=sleeps,
            heartbeat_interval=0,
        ) as service:
            trainer = service.create_training_client("weaver-tiny", seed=3)
            names = [f"slow-{i:02d}" for i in range(60)]
            saved = [trainer.save_state(name) for name in names]
        http.close()
        assert [c.name for c in saved] == names
        assert all(c.status is CheckpointStatus.COMPLETED for c in saved)
        records = stored_checkpoints(emu.data_dir)
        assert sorted(records) == [(trainer.model_id, n, "completed") for n in names]
