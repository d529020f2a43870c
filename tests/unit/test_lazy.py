"""``_lazy``: modules imported on first use, read as they are now where that matters."""

from __future__ import annotations

import asyncio

import pytest

from weaver_facade import _lazy


def test_a_patched_asyncio_sleep_is_seen_and_not_kept_once_undone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The async retries and polls sleep with ``_lazy.asyncio_sleep`` by default; a test
    # of the user's that patches ``asyncio.sleep`` (to run without time) must reach it,
    # and its fake must not stay behind for the tests after it.
    real = asyncio.sleep
    faked: list[float] = []

    async def fake(seconds: float) -> None:
        faked.append(seconds)
        await real(0)

    async def wait(seconds: float) -> None:
        await _lazy.asyncio_sleep(seconds)

    with monkeypatch.context() as patched:
        patched.setattr(asyncio, "sleep", fake)
        asyncio.run(wait(30))
    assert faked == [30]
    asyncio.run(wait(0.01))
    assert faked == [30]  # the real sleep, once the patch is undone
    assert _lazy.asyncio.sleep is real


def test_a_kept_module_attribute_is_looked_up_once() -> None:
    lazy = _lazy.LazyModule("json")
    assert "dumps" not in vars(lazy)
    assert lazy.dumps([1]) == "[1]"
    assert "dumps" in vars(lazy)
