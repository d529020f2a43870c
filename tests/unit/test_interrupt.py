"""``interrupt_held``: which SIGINTs it holds, and what it leaves alone (the holding of a
model's create over real HTTP is in tests/integration/test_interrupt.py); ``interrupted``."""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import httpx
import pytest

from tests.support.ctrl_c_points import every_point, interrupted_at
from tests.support.fakeserver import BASE, KEY, FakeWeaver, service
from weaver_facade import ServiceClient
from weaver_facade._interrupt import between_requests, interrupt_held
from weaver_facade._io import _CLOSER
from weaver_facade._redact import SENDING
from weaver_facade._sigterm import interrupted, terminate_as_interrupt
from weaver_facade._socket_deadline import _ENDS, current_end, ends


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


def test_where_sigint_is_ignored_a_sigterm_taken_as_ctrl_c_is_held() -> None:
    # A script's background job (`weaver-facade models create ... &`, nohup) starts with
    # SIGINT ignored: the command line's SIGTERM then raised at once, losing the reply.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    notices: list[str] = []
    reached: list[str] = []

    def once() -> None:
        with interrupt_held(lambda: notices.append("held")) as came:
            signal.raise_signal(signal.SIGINT)  # still ignored
            assert not came()
            signal.raise_signal(signal.SIGTERM)
            reached.append("after the SIGTERM")
            assert came()  # held: the block goes on

    def twice() -> None:
        with interrupt_held(lambda: notices.append("held again")):
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)  # a second one: at once
            reached.append("after the second SIGTERM")

    with terminate_as_interrupt():
        sigterm = signal.getsignal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt) as caught:
            once()
        assert reached == ["after the SIGTERM"]
        assert caught.value.__context__ is None
        assert signal.getsignal(signal.SIGTERM) is sigterm
        with pytest.raises(KeyboardInterrupt):
            twice()
        assert signal.getsignal(signal.SIGTERM) is sigterm
    assert notices == ["held", "held again"]
    assert reached == ["after the SIGTERM"]
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_where_sigint_is_ignored_a_plain_sigterm_is_left_alone() -> None:
    # Outside the command line and the kit, SIGTERM is the program's to decide.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    before = signal.getsignal(signal.SIGTERM)
    with interrupt_held(lambda: pytest.fail("held")) as came:
        assert signal.getsignal(signal.SIGTERM) is before
        assert not came()


def _in_a_weakref_callback(sig: signal.Signals) -> None:
    """``sig`` raised while a weakref callback runs (an import's module lock, say)."""

    class Lock:
        pass

    lock = Lock()
    ref = weakref.ref(lock, lambda _: signal.raise_signal(sig))
    del lock
    assert ref() is None


@pytest.mark.parametrize(
    ("sig", "sigint"),
    [
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_IGN),
    ],
    ids=["ctrl-c", "sigterm", "sigterm-to-a-background-job"],
)
def test_an_interrupt_python_drops_is_still_noted(
    monkeypatch: pytest.MonkeyPatch, sig: signal.Signals, sigint: Any
) -> None:
    # Its KeyboardInterrupt, raised in a weakref callback, is printed and dropped: the kit
    # then ran on to "contract: PASS".
    dropped: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: dropped.append(raised.exc_type))
    signal.signal(signal.SIGINT, sigint)
    with terminate_as_interrupt():
        assert not interrupted()
        _in_a_weakref_callback(sig)  # nothing raised here
        assert dropped == [KeyboardInterrupt]
        assert interrupted()
    assert not interrupted()
    assert signal.getsignal(signal.SIGINT) is sigint


def test_a_held_ctrl_c_outside_the_block_is_not_taken_for_one_within() -> None:
    # A script that caught a held Ctrl-C, then ran the kit in the same process.
    with pytest.raises(KeyboardInterrupt), interrupt_held(lambda: None):
        signal.raise_signal(signal.SIGINT)
    with terminate_as_interrupt():
        assert not interrupted()
        with interrupt_held(lambda: None), pytest.raises(KeyboardInterrupt), between_requests():
            signal.raise_signal(signal.SIGINT)  # raised at once: no request on its way
        assert interrupted()


def _first_ctrl_c_held() -> bool:
    """Whether a create's first Ctrl-C is held (it is raised as the block ends)."""
    held: list[str] = []
    with contextlib.suppress(KeyboardInterrupt), interrupt_held(lambda: held.append("held")):
        signal.raise_signal(signal.SIGINT)
    return held == ["held"]


def test_a_ctrl_c_anywhere_between_requests_leaves_a_later_create_holding_one() -> None:
    # A Ctrl-C as a retry's backoff began or ended left it marked a wait with no request
    # on its way (kept alive by its traceback, in a REPL): a later create's first Ctrl-C
    # was raised at once, losing the reply that names the model the server made.

    def wait() -> None:
        with between_requests():
            pass

    assert every_point(lambda at, kept: interrupted_at(at, wait, kept), _first_ctrl_c_held) > 2


def _nothing_left_on_the_thread() -> bool:
    def clean() -> bool:
        return current_end() is None and SENDING.get() is None and _CLOSER.get() is None

    # What a cut-short block holds may be in a cycle with its traceback: collected first.
    return clean() or (gc.collect() >= 0 and clean())


def test_a_ctrl_c_anywhere_in_a_call_or_close_leaves_nothing_on_the_thread() -> None:
    # A Ctrl-C as a C call that set a context variable returned lost the token its reset
    # needed: the attempt's socket cap stayed on the thread, and every later call in it (a
    # REPL's, a test's after) failed at once, "the attempt's time is up". A Ctrl-C kept
    # (sys.last_value) keeps a block it cut short, and what it set: the check is made once
    # it is dropped, as by a REPL's next error, and collected.
    with service(FakeWeaver()) as svc:
        svc.create_training_client("weaver-tiny", keep=True)
        points = every_point(
            lambda at, _kept: interrupted_at(at, lambda: svc.get_model("m-1"), []),
            _nothing_left_on_the_thread,
        )
        assert points > 10

    def to_close() -> Callable[[], None]:
        http = httpx.Client(transport=httpx.MockTransport(FakeWeaver()))
        made = ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0)
        made.create_training_client("weaver-tiny")  # for the close to terminate
        return made.close

    every_point(lambda at, _kept: interrupted_at(at, to_close(), []), _nothing_left_on_the_thread)


def test_a_ctrl_c_as_a_nested_cap_begins_or_ends_leaves_no_cap_once_collected() -> None:
    # A Ctrl-C as the inner block was entered or left skipped its exit: its generator,
    # closed once the traceback was collected (after the outer block had restored no cap),
    # restored the outer's cap for good, which failed every later call of the thread.
    def nested() -> None:
        with ends(time.monotonic() + 1000), ends(time.monotonic() + 2000):
            pass

    def no_cap_once_collected() -> bool:
        gc.collect()  # the cut-short block is in a cycle with its traceback
        return current_end() is None

    try:
        every_point(lambda at, _kept: interrupted_at(at, nested, []), no_cap_once_collected)
    finally:
        _ENDS.set(None)  # for the tests after a failure
