"""Which long-poll waiters an operation's start wakes: only those of its model."""

from __future__ import annotations

import asyncio

from weaver_facade.emulator._longpoll import Waiters


async def test_a_start_wakes_the_change_waiters_of_its_model_only() -> None:
    waiters = Waiters()
    same = waiters.register("op-1", changes_of="m-1")
    other = waiters.register("op-2", changes_of="m-2")
    end_only = waiters.register("op-3")
    waiters.notify_changes("m-1")
    await asyncio.sleep(0)  # the wake-up is scheduled on this loop
    assert same.done()
    assert same.result() is False  # look again, the operation may not have ended
    assert not other.done()
    assert not end_only.done()
    assert waiters.count() == 2
    waiters.notify("op-3")
    await asyncio.sleep(0)
    assert end_only.result() is True
    assert not other.done()
