"""``interrupt_held``: which SIGINTs it holds, and what it leaves alone (the holding of a
model's create over real HTTP is in tests/integration/test_interrupt.py)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from weaver_facade._interrupt import between_requests, interrupt_held


@pytest.fixture(autouse=True)
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler, as a script has, whatever the test runner set."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_held_ctrl_c_is_raised_over_the_blocks_error() -> None:
    # The caller pressed Ctrl-C: that, not the request's failure, ends the call.
    notices: list[str] = []

    def failing() -> None:
        with interrupt_held(lambda: notices.append("held")) as came:
            signal.raise_signal(signal.SIGINT)
            assert came()  # held: the block goes on
            raise ValueError("the request failed")

    with pytest.raises(KeyboardInterrupt) as caught:
        failing()
    assert notices == ["held"]
    assert isinstance(caught.value.__context__, ValueError)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_programs_own_handler_decides() -> None:
    got: list[int] = []

    def own(signum: int, frame: FrameType | None) -> None:
        got.append(signum)

    signal.signal(signal.SIGINT, own)
    with interrupt_held(lambda: pytest.fail("held")) as came:
        signal.raise_signal(signal.SIGINT)
        assert got == [signal.SIGINT]
        assert not came()
    assert signal.getsignal(signal.SIGINT) is own


def test_another_thread_holds_nothing() -> None:
    # signal.signal() raises ValueError off the main thread; Ctrl-C is not delivered there.
    seen: list[bool] = []

    def work() -> None:
        with interrupt_held(lambda: None) as came:
            seen.append(came())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [False]


def test_a_ctrl_c_between_requests_is_raised_at_once() -> None:
    # A retry's backoff: no reply is on its way, so nothing is lost by raising now.
    notices: list[str] = []
    reached: list[str] = []

    def backoff() -> None:
        with interrupt_held(lambda: notices.append("held")), between_requests():
            signal.raise_signal(signal.SIGINT)
            reached.append("after the signal")

    with pytest.raises(KeyboardInterrupt) as caught:
        backoff()
    assert reached == []
    assert notices == []
    assert caught.value.__context__ is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
