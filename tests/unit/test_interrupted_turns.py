"""A Ctrl-C at any point of taking or giving back a lock the core holds (a model's turn,
the session's) leaves it free: the next call takes it at once."""

from __future__ import annotations

import _imp
import contextlib
import cProfile
import importlib
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.support.ctrl_c_points import ainterrupted_at, every_point, interrupted_at
from tests.support.fakeserver import FakeWeaver, async_service, service
from weaver_facade import datum_from_tokens
from weaver_facade._plans import Exclusive, Plan


def _nothing() -> Plan[None]:
    """A turn's plan: the taking and giving back of the turn are what is interrupted."""
    yield from ()


def _late(waited: float | None) -> Exception:
    return AssertionError(f"the lock was not free after {waited} s")


def test_the_first_point_is_the_calls_also_under_another_profiler() -> None:
    # With another profiler on (cProfile), the return of the harness's own sys.setprofile
    # was a point: the first Ctrl-C came before the call had begun.
    outer = cProfile.Profile()
    with contextlib.suppress(ValueError):  # the run's own is on: 3.12 takes one at a time
        outer.enable()
    try:
        where = interrupted_at(0, lambda: None, [])
    finally:
        outer.disable()
    assert where.startswith("call in <lambda>"), where


def _last() -> None:
    pass


def test_every_point_is_the_calls_own_also_when_it_first_imports_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call whose first run imports a module (a download's, ThreadPoolExecutor's): its
    # first points were the import system's, one of which left its global lock held (every
    # other thread's import then waited for good), and the runs after the import, shorter,
    # ended the count before the call's own last points.
    (tmp_path / "first_use.py").write_text("")
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.delitem(sys.modules, "first_use", raising=False)
    wheres: list[str] = []

    def call() -> None:
        importlib.import_module("first_use")
        _last()

    def interrupted(at: int, kept: list[BaseException]) -> str:
        wheres.append(interrupted_at(at, call, kept))
        return wheres[-1]

    every_point(interrupted, lambda: not _imp.lock_held())
    assert any(where.startswith("call in _last") for where in wheres), wheres


def test_a_ctrl_c_anywhere_in_a_models_turn_leaves_it_free() -> None:
    # The turn was taken, then a Ctrl-C came before the block that gives it back: the
    # model's next call waited for it for its whole timeout, then failed as late.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny").with_options(timeout=60)
        io, lock = trainer._io, trainer._steps.lock
        points = every_point(
            lambda at, kept: interrupted_at(
                at, lambda: io.perform(Exclusive(lock, _nothing(), _late)), kept
            ),
            lambda: not lock.locked(),
        )
        assert points > 10  # the run went through the turn, not past it
        trainer.forward_backward([datum_from_tokens([1, 2, 3])], wait=False)


def test_a_ctrl_c_anywhere_in_the_sessions_lock_leaves_it_free() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny")  # the session is open
        io = svc._io.with_options(timeout=60, max_retries=None)
        every_point(
            lambda at, kept: interrupted_at(at, lambda: svc._ensure_session(io), kept),
            lambda: not svc._lock.locked(),
        )
        svc.with_options(timeout=60).create_training_client("weaver-tiny")


async def test_a_ctrl_c_anywhere_in_an_async_models_turn_leaves_it_free() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        io, lock = trainer._io, trainer._steps.lock

        def turn() -> Coroutine[Any, Any, object]:
            return io.perform(Exclusive(lock, _nothing(), _late))

        points = every_point(
            lambda at, kept: ainterrupted_at(at, turn, kept), lambda: not lock.locked()
        )
        assert points > 10
        await trainer.forward_backward([datum_from_tokens([1, 2, 3])], wait=False)


async def test_a_ctrl_c_anywhere_in_the_async_sessions_lock_leaves_it_free() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        await svc.create_training_client("weaver-tiny")

        def ensure() -> Coroutine[Any, Any, object]:
            return svc._ensure_session(svc._io)

        every_point(
            lambda at, kept: ainterrupted_at(at, ensure, kept), lambda: not svc._lock.locked()
        )
        await svc.create_training_client("weaver-tiny")
