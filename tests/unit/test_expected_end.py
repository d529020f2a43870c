"""Polling a server without long-poll near the expected end, on a fake clock.

A loop of 10 operations of one duration D on a server that answers every poll
at once, compared with the official SDK's schedule (polls 0.5, 1, 2, 4, 8 s
apart, then every 10 s), computed from those intervals. The targets: on
average at most one GET more per operation, a median lag at most a quarter of
the schedule's, and a first operation (nothing to go on) within today's bound
of a fifth of its duration.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import (
    FakeClock,
    FakeWeaver,
    error_json,
    json_reply,
    service,
    wait_out,
)
from weaver_facade import PollPolicy, PollSettings
from weaver_facade._durations import HISTORY, Bracket, Durations, next_poll
from weaver_facade._operations import Sleep

OFFICIAL_INTERVALS = (0.5, 1.0, 2.0, 4.0, 8.0)


def official(duration: float) -> tuple[int, float]:
    """(GETs, lag) of the official schedule for an operation of ``duration`` seconds."""
    at = 0.0
    intervals = itertools.chain(OFFICIAL_INTERVALS, itertools.repeat(10.0))
    for gets, interval in enumerate(intervals, start=1):
        at += interval
        if at >= duration:
            return gets, at - duration
    raise AssertionError("unreachable")


class TimedWeaver(FakeWeaver):
    """Operations end ``duration`` seconds (of the fake clock) after they are submitted;
    polls are answered at once (no long-poll)."""

    def __init__(self, clock: FakeClock, duration: float) -> None:
        super().__init__()
        self.clock = clock
        self.duration = duration
        self.ends: dict[str, float] = {}

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        reply = super()._start(kind, model_id, result)
        op_id = reply.json()["id"]
        # A few milliseconds of jitter, as a real server's durations have.
        self.ends[op_id] = self.clock.now + self.duration * random.uniform(0.99, 1.01)
        body = {**reply.json(), "status": "pending"}
        body["pending_info"] = {"code": "waiting_for_scheduling", "message": "q", "wait_seconds": 0}
        return json_reply(202, body)

    def _get_operation(self, op_id: str) -> httpx.Response:
        op = self.operations[op_id]
        body: dict[str, Any] = {"id": op_id, "kind": op["kind"], "model_id": op["model_id"]}
        if self.clock.now >= self.ends[op_id]:
            body.update(status="done", response=op["result"])
        else:
            body["status"] = "running"
        return json_reply(200, body)


def _stepped(
    fake: TimedWeaver, clock: FakeClock, poll: PollPolicy, steps: int
) -> tuple[list[int], list[float]]:
    """The GETs of each of ``steps`` optimizer steps waited for in turn, and how long after
    its end each was seen done."""
    gets: list[int] = []
    lags: list[float] = []
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        for _ in range(steps):
            fake.requests.clear()
            handle = trainer.optim_step(wait=False)
            handle.result(timeout=600)
            gets.append(len(fake.sent("GET")))
            lags.append(clock.now - fake.ends[handle.id])
    return gets, lags


@pytest.mark.parametrize("duration", [0.2, 1.0, 5.0])
def test_a_loop_without_long_poll_beats_the_official_schedule(duration: float) -> None:
    random.seed(7)
    clock = FakeClock()
    fake = TimedWeaver(clock, duration)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    gets, lags = _stepped(fake, clock, poll, 10)
    official_gets, official_lag = official(duration)
    assert statistics.mean(gets) <= official_gets + 1, gets
    assert statistics.median(lags) <= official_lag / 4, lags
    assert lags[0] <= 0.2 * duration + PollSettings().min_interval, lags  # today's bound


@pytest.mark.parametrize("duration", [0.2, 1.0, 5.0, 20.0])
def test_a_loop_of_one_step_is_polled_once_or_twice_for_most_steps(duration: float) -> None:
    # The README's figures for a loop that repeats one operation, once its history is full:
    # its jitter can set recent ends apart, each then polled on its own.
    gets: list[int] = []
    for seed in range(10):
        random.seed(seed)
        clock = FakeClock()
        fake = TimedWeaver(clock, duration)
        poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
        gets += _stepped(fake, clock, poll, 20)[0][HISTORY + 1 :]
    assert sum(n <= 2 for n in gets) / len(gets) >= 0.85, gets
    assert statistics.mean(gets) <= 1.8, gets


class VaryingWeaver(TimedWeaver):
    """Operations take the durations of ``durations``, in turn (``took`` lists them, as
    jittered)."""

    def __init__(self, clock: FakeClock, durations: list[float]) -> None:
        super().__init__(clock, 0.0)
        self.durations = iter(durations)
        self.took: list[float] = []

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        self.duration = next(self.durations)
        reply = super()._start(kind, model_id, result)
        self.took.append(self.ends[reply.json()["id"]] - self.clock.now)
        return reply


def test_a_loop_whose_steps_vary_sees_each_end_within_a_fifth() -> None:
    # Polled at the latest step's end, a 0.5 s step after a 4 s one was seen 2.5 to 3.7 s
    # late, and a 1 s step after a 6 s evaluation 5 s late.
    random.seed(7)
    clock = FakeClock()
    steps = [0.5, 4.0] * 6 + ([1.0] * 4 + [6.0]) * 3
    fake = VaryingWeaver(clock, steps)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    gets, lags = _stepped(fake, clock, poll, len(steps))
    for took, lag in zip(fake.took, lags, strict=True):
        assert lag <= 0.2 * took + PollSettings().min_interval, (took, lags)
    # The shortest step, known, is still polled once or twice, near its end; the others pay
    # in polls (the README's figure: 12 to 15 for a 4 s step, 12 seen on the emulator, where
    # the official schedule takes 4 and sees it 3.5 s late).
    assert max(gets[2:12:2]) <= 2, gets
    assert all(12 <= n <= 15 for n in gets[3:12:2]), gets
    assert official(4.0) == pytest.approx((4, 3.5))


@pytest.mark.parametrize(
    "steps",
    [[4.0, 0.5] * 6, [6.0] + [0.5] * 8],
    ids=["long-first", "warm-up"],
)
def test_a_loop_that_starts_with_its_long_step_soon_sees_its_short_ones_in_time(
    steps: list[float],
) -> None:
    # The second step, first polled at the first one's end, was done by then: its bracket
    # fitted the first one's, and short steps were seen 3.5 to 5 s late for six to ten
    # steps, until the long one was forgotten.
    random.seed(7)
    clock = FakeClock()
    fake = VaryingWeaver(clock, steps)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    gets, lags = _stepped(fake, clock, poll, len(steps))
    shorts = [i for i, took in enumerate(steps) if took == 0.5]
    for i in shorts[2:]:  # the third on
        assert lags[i] <= 0.2 * fake.took[i] + PollSettings().min_interval, (i, lags)
        assert gets[i] <= 2, gets


def test_a_second_step_over_a_fifth_of_the_first_still_hides_the_quick_ones() -> None:
    # The README's limit: after a 6 s warm-up, a 4 s step is not done at a fifth of it, and
    # its bracket fits the warm-up's; the 0.5 s steps in turn with it are seen late, within
    # the quickest of the last five, for about ten steps. Should the polls learn otherwise,
    # the README is to say so.
    random.seed(7)
    clock = FakeClock()
    steps = [6.0] + [4.0, 0.5] * 6
    fake = VaryingWeaver(clock, steps)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    _, lags = _stepped(fake, clock, poll, len(steps))
    seen = [took + lag for took, lag in zip(fake.took, lags, strict=True)]
    least = PollSettings().min_interval
    for i, (took, lag) in enumerate(zip(fake.took, lags, strict=True)):
        quickest = min(seen[max(i - HISTORY, 0) : i], default=0.0)
        assert lag <= max(0.2 * took, quickest - took) + least, (i, lags)
    assert all(lags[i] > 0.2 * 0.5 + least for i in (2, 4, 6)), lags


def test_a_large_backoff_ratio_sees_a_loops_second_step_by_the_first_ones_end() -> None:
    # A large `backoff_ratio` restores the backoff alone (its docstring), but for the look at
    # that ratio of the first step's duration, which came long past its end: the second 4 s
    # step of the loop slept until the deadline, seen 596 s late.
    random.seed(7)
    clock = FakeClock()
    fake = VaryingWeaver(clock, [4.0, 4.0])
    poll = PollPolicy(PollSettings(backoff_ratio=1e9), clock=clock, rng=random.random)
    _, lags = _stepped(fake, clock, poll, 2)
    # Polled first at the end of the quickest recent one (the README): seen done no later
    # after its start than the first one was.
    seen = [took + lag for took, lag in zip(fake.took, lags, strict=True)]
    assert seen[1] <= seen[0] + PollSettings().min_interval, (fake.took, lags)


def test_a_loop_of_random_steps_sees_each_end_within_a_fifth_or_the_quickest_end() -> None:
    # A step no shorter than the last few is seen at most a fifth of its duration late; a
    # shorter one, by the time the quickest of them was seen done.
    random.seed(7)
    clock = FakeClock()
    fake = VaryingWeaver(clock, [random.uniform(0.3, 5.0) for _ in range(60)])
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    _, lags = _stepped(fake, clock, poll, 60)
    seen = [took + lag for took, lag in zip(fake.took, lags, strict=True)]
    for i, (took, lag) in enumerate(zip(fake.took, lags, strict=True)):
        quickest = min(seen[max(i - HISTORY, 0) : i], default=0.0)
        bound = max(0.2 * took, quickest - took) + PollSettings().min_interval
        assert lag <= bound, (i, took, lag, quickest)


class RetryAfterWeaver(VaryingWeaver):
    """As ``VaryingWeaver``, but the first poll of operation ``busy`` (1-based) 1 s or more
    after its start is refused: 503, ``Retry-After: 3``."""

    def __init__(self, clock: FakeClock, durations: list[float], busy: int) -> None:
        super().__init__(clock, durations)
        self.busy = f"op-{busy}"
        self.started: dict[str, float] = {}

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        reply = super()._start(kind, model_id, result)
        self.started[reply.json()["id"]] = self.clock.now
        return reply

    def _get_operation(self, op_id: str) -> httpx.Response:
        if op_id == self.busy and self.clock.now - self.started[op_id] >= 1.0:
            self.busy = ""
            busy = error_json("unavailable", "busy", retryable=True)
            return json_reply(503, busy, {"Retry-After": "3"})
        return super()._get_operation(op_id)


def test_a_later_end_that_a_retry_after_widened_still_sees_each_end_within_a_fifth() -> None:
    # A Retry-After (or a sleep that landed late) leaves a wide bracket, an end of its own
    # apart from the quicker steps': the next 3 s step, polled in its middle and then at
    # its end, was seen 1 s late (a third of its duration).
    random.seed(7)
    clock = FakeClock()
    steps = [0.5, 0.5, 3.0, 0.5, 3.0, 0.5]
    fake = RetryAfterWeaver(clock, steps, busy=3)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    _, lags = _stepped(fake, clock, poll, len(steps))
    assert lags[2] > 1.0, lags  # the server asked for that one
    for took, lag in list(zip(fake.took, lags, strict=True))[3:]:
        assert lag <= 0.2 * took + PollSettings().min_interval, (took, lags)


class QueuedWeaver(TimedWeaver):
    """Operations wait ``queue`` seconds, pending, then run ``duration`` seconds; while
    pending, ``wait_seconds`` is the time left (``counts="down"``) or the time already
    waited (``"up"``, as the official SDK reads it): the wire does not say which."""

    def __init__(self, clock: FakeClock, queue: float, duration: float, counts: str) -> None:
        super().__init__(clock, queue + duration)
        self.queue, self.counts = queue, counts
        self.submitted: dict[str, float] = {}

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        reply = super()._start(kind, model_id, result)
        op_id = reply.json()["id"]
        self.ends[op_id] = self.clock.now + self.duration  # no jitter: a worst case found
        self.submitted[op_id] = self.clock.now
        return self._get_operation(op_id)

    def _get_operation(self, op_id: str) -> httpx.Response:
        waited = self.clock.now - self.submitted[op_id]
        if waited >= self.queue:
            return super()._get_operation(op_id)
        info = {"code": "waiting_for_resources", "wait_seconds": round(self.said(waited), 3)}
        op = self.operations[op_id]
        body = {"id": op_id, "status": "pending", "pending_info": info, "kind": op["kind"]}
        return json_reply(200, {**body, "model_id": op["model_id"]})

    def said(self, waited: float) -> float:
        return self.queue - waited if self.counts == "down" else waited


class PessimisticWeaver(QueuedWeaver):
    """Counts ``estimate`` seconds down while pending, but starts after ``queue``."""

    estimate = 30.0

    def said(self, waited: float) -> float:
        return self.estimate - waited


@pytest.mark.parametrize("counts", ["down", "up"])
@pytest.mark.parametrize(("queue", "duration"), [(7.0, 0.3), (6.3, 0.3), (2.0, 0.5), (20.0, 5.0)])
def test_a_queued_operation_is_seen_ending_in_time_whatever_wait_seconds_means(
    counts: str, queue: float, duration: float
) -> None:
    # Read as the time left, a `wait_seconds` that counts the time already waited (as the
    # official SDK reads it) slept a poll as long as the wait so far (the end of a 7.3 s
    # queued operation was seen 5.5 s late), and moved its start past its end: its
    # duration was recorded as 0, so the next ones of the loop backed off from scratch.
    clock = FakeClock()
    fake = QueuedWeaver(clock, queue, duration, counts)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.Random(7).random)
    gets, lags = _stepped(fake, clock, poll, 4)
    took = queue + duration
    assert lags[0] <= 0.2 * took + PollSettings().min_interval, lags  # backoff_ratio
    # Near the expected end; while the queue counts down, also once to see it do so, and
    # once each max_backoff of it (an estimate may be pessimistic). The second, with no
    # countdown, also at a fifth of the first (which may have been a loop's long one).
    queue_polls = math.ceil(queue / PollSettings().max_backoff) if counts == "down" else 0
    assert gets[1] <= 2 + queue_polls + (counts == "up"), gets
    assert max(gets[2:]) <= 2 + queue_polls, gets
    assert max(lags[1:]) <= 0.1 * took, lags


def test_the_official_schedule_as_published() -> None:
    # Polls at 0.5, 1.5, 3.5, 7.5, 15.5, 25.5 s after the submit.
    for duration, gets, lag in [(0.2, 1, 0.3), (1.0, 2, 0.5), (5.0, 4, 2.5), (20.0, 6, 5.5)]:
        assert official(duration)[0] == gets
        assert official(duration)[1] == pytest.approx(lag)


def test_brackets_narrow_to_the_end() -> None:
    durations = Durations()
    assert durations.expected(("m", "optim_step")) == ()
    durations.record(("m", "optim_step"), Bracket(0.8, 1.2))
    durations.record(("m", "optim_step"), Bracket(0.0, 1.05))
    assert durations.expected(("m", "optim_step")) == (Bracket(0.8, 1.05),)
    # Brackets apart (operations of another duration): an end of their own, shortest first.
    durations.record(("m", "optim_step"), Bracket(2.0, 2.2))
    durations.record(("m", "optim_step"), Bracket(0.3, 0.4))
    durations.record(("m", "optim_step"), Bracket(2.1, 2.3))
    ends = (Bracket(0.3, 0.4), Bracket(0.8, 1.2), Bracket(2.1, 2.2))  # (0, 1.05) fits 0.3
    assert durations.expected(("m", "optim_step")) == ends
    # Done at the first poll, at the shortest end: that end, narrowed.
    durations.record(("m", "optim_step"), Bracket(0.0, 0.38))
    assert durations.expected(("m", "optim_step"))[0] == Bracket(0.3, 0.38)
    assert durations.expected(("m", "save_checkpoint")) == ()


def _next(since: float, *ends: Bracket, probe: bool = False) -> float | None:
    return next_poll(since, ends, tolerance=0.05, least=0.05, ratio=0.2, probe=probe)


def test_next_poll_bisects_a_wide_bracket_then_aims_at_its_end() -> None:
    wide = Bracket(0.8, 1.2)
    assert _next(0.0, wide) == pytest.approx(1.0)
    assert _next(1.0, wide) == pytest.approx(1.2)
    assert _next(1.2, wide) is None  # past it: back to backoff
    narrow = Bracket(0.99, 1.01)
    assert _next(0.0, narrow) == pytest.approx(1.01)


def test_next_poll_probes_the_ends_of_one_operation_at_a_fifth_first() -> None:
    long = Bracket(3.9, 4.0)
    assert _next(0.0, long, probe=True) == pytest.approx(0.78)  # a fifth of its lo
    assert _next(0.78, long, probe=True) == pytest.approx(4.0)  # then as without
    assert _next(0.0, Bracket(0.6, 1.0), probe=True) == pytest.approx(0.12)  # before `middle`
    # A fifth of `lo` under `least`: no probe (its end is near anyway).
    assert _next(0.0, Bracket(0.19, 0.2), probe=True) == pytest.approx(0.2)
    # Only before the poll it would make anyway: not at a large ratio of `lo`.
    assert next_poll(
        0.0, [long], tolerance=0.05, least=0.05, ratio=1e9, probe=True
    ) == pytest.approx(4.0)


def test_next_poll_steps_a_fifth_of_the_time_between_two_ends() -> None:
    short, long = Bracket(0.49, 0.5), Bracket(3.99, 4.0)
    assert _next(0.0, short, long) == pytest.approx(0.5)  # the shortest end first
    assert _next(0.5, short, long) == pytest.approx(0.6)
    assert _next(3.5, short, long) == pytest.approx(4.0)  # the next end, within a fifth
    assert _next(4.0, short, long) is None
    assert _next(0.1, Bracket(0.01, 0.02), long) == pytest.approx(0.15)  # at least `least`
    # Inside a wide end past the first (a Retry-After left it): a fifth, not its middle.
    assert _next(1.0, short, Bracket(0.9, 5.0)) == pytest.approx(1.2)


def test_a_queued_operation_is_expected_after_its_queue() -> None:
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock)
    policy.long_poll_supported = False
    policy.durations.record(("m", "save_checkpoint"), Bracket(0.98, 1.0))
    poller = policy.start(60, key=("m", "save_checkpoint"), queued=3.0)
    # One reading may be the time already waited: the end as if not queued, first.
    step = poller.next_step()
    assert isinstance(step, Sleep)
    clock.sleep(step.seconds)
    assert clock.sleeps == [pytest.approx(1.0)]
    poller.next_step()  # the poll
    poller.on_reply(terminal=False, queued=2.0)  # 1 s less after 1 s: the time left
    step = poller.next_step()
    assert isinstance(step, Sleep)
    assert step.seconds == pytest.approx(3.0)  # 2 s more in the queue, then 1 s of work


def test_a_queued_first_operation_is_polled_sparingly_before_its_queue() -> None:
    # Nothing to go on but the server's word (`pending_info.wait_seconds`): an operation
    # queued for 30 s should not end before then, so few polls are spent before it
    # could start: one every max_backoff, since the wire does not promise the estimate.
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock)
    starts = clock.now + 30.0
    poller = policy.start(120, key=("m", "save_checkpoint"), queued=30.0)
    polls_before_start = 0
    while clock.now < starts:
        step = poller.next_step()
        if isinstance(step, Sleep):
            clock.sleep(step.seconds)
            continue
        polls_before_start += 1
        clock.now += 0.01  # answered at once, still queued for the rest of the 30 s
        poller.on_reply(terminal=False, queued=max(0.0, starts - clock.now))
    # The first look (long-poll unknown), then one each max_backoff (10 s) of the 30 s.
    assert polls_before_start <= 4, polls_before_start


@pytest.mark.parametrize("history", [False, True], ids=["first", "known"])
def test_a_pessimistic_queue_estimate_delays_the_end_by_at_most_max_backoff(
    history: bool,
) -> None:
    # The server counted 30 s down and started the operation at once: it was done after
    # 2 s and seen done after 31 s, the estimate slept out in full, when recent durations
    # of its model and kind gave its end (from the estimated start).
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock)
    if history:
        policy.long_poll_supported = False
        policy.durations.record(("m", "save_checkpoint"), Bracket(0.98, 1.0))
    poller = policy.start(120, key=("m", "save_checkpoint"), queued=30.0)
    seen = wait_out(poller, clock, 2.0, queued=lambda waited: 30.0 - waited)  # trusted
    assert seen - 2.0 <= PollSettings().max_backoff + 0.1, clock.sleeps


def test_an_operation_seen_running_is_no_longer_held_by_its_countdown() -> None:
    # Counted down from 30 s, it started after 12 s and took 5 s, as the recent ones of
    # its model and kind: seen running after 15 s, it was slept on as if still queued,
    # and seen done 13 s late, past max_backoff.
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock)
    policy.durations.record(("m", "save_checkpoint"), Bracket(4.9, 5.0))
    poller = policy.start(120, key=("m", "save_checkpoint"), queued=30.0)
    seen = wait_out(poller, clock, 17.0, queued=lambda w: None if w >= 12 else 30 - w)
    assert seen - 17.0 <= PollSettings().max_backoff, clock.sleeps


@pytest.mark.parametrize(("queue", "duration"), [(1.0, 14.0), (8.0, 10.0), (5.0, 20.0)])
def test_a_pessimistic_countdown_leaves_the_next_operations_known(
    queue: float, duration: float
) -> None:
    # Counted down from 30 s, the start was kept past the time the operation was seen
    # running, and past its end: each duration was recorded as 0, so every operation of
    # a loop backed off from scratch (6 to 13 polls each).
    clock = FakeClock()
    fake = PessimisticWeaver(clock, queue, duration, "down")
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.Random(7).random)
    gets, lags = _stepped(fake, clock, poll, HISTORY + 3)
    # Near the expected end once the history knows them, as any loop's, each at most
    # max_backoff late (how long the estimate is trusted). The first, timed from when it
    # was seen running, is an end of its own (a shorter one) until the history forgets it.
    assert max(gets[HISTORY + 1 :]) <= 2, gets
    assert max(lags) <= PollSettings().max_backoff + PollSettings().min_interval, lags


def test_operations_that_got_faster_are_polled_sooner() -> None:
    # A slow first operation (a trainer starting, say) kept every later one of its model
    # and kind waiting as long: polls aimed at its old end were answered `done`, and the
    # history's low side was kept, for ever (0.1 s steps took 9.8 s each).
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock)
    policy.long_poll_supported = False
    took: list[float] = []
    for duration in [10.0] + [0.1] * 15:
        poller = policy.start(600, key=("m", "forward_backward"))
        took.append(wait_out(poller, clock, duration))
    # The history forgets the slow one within HISTORY operations, then halves its guess.
    assert max(took[-4:]) < 0.5, took


def test_a_server_that_advances_by_polls_is_polled_later_and_later() -> None:
    # The README's known limit: an operation pending for its first GET and done at the
    # second, whatever the time, is seen ending later at each wait (each polls first at the
    # last one's end and finds it pending), so the waits of a loop grow step after step.
    clock = FakeClock()
    policy = PollPolicy(PollSettings(), clock=clock, rng=random.Random(7).random)
    took: list[float] = []
    for _ in range(100):
        poller = policy.start(600, key=("m", "forward_backward"))
        started, gets = clock.now, 0
        while True:
            step = poller.next_step()
            if isinstance(step, Sleep):
                clock.sleep(step.seconds)
                continue
            clock.now += 0.005
            gets += 1
            poller.on_reply(terminal=gets == 2)
            if gets == 2:
                break
        took.append(clock.now - started)
    assert took[0] < took[33] < took[66] < took[99], took
    assert took[99] > 10 * took[0], took


class DoneAtSecondGet(FakeWeaver):
    """Operations that advance when polled rather than with time: pending at their first
    GET, done at their second, whatever the time."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: dict[str, int] = {}

    def _start(self, kind: str, model_id: str, result: dict[str, Any]) -> httpx.Response:
        return json_reply(
            202, {**super()._start(kind, model_id, result).json(), "status": "pending"}
        )

    def _get_operation(self, op_id: str) -> httpx.Response:
        op = self.operations[op_id]
        self.gets[op_id] = self.gets.get(op_id, 0) + 1
        body: dict[str, Any] = {"id": op_id, "kind": op["kind"], "model_id": op["model_id"]}
        if self.gets[op_id] >= 2:
            body.update(status="done", response=op["result"])
        else:
            body["status"] = "pending"
        return json_reply(200, body)


def test_on_a_server_whose_operations_advance_when_polled_the_waits_grow() -> None:
    # The README's one limit without long-poll: "each done at its second GET, the 100th
    # waits over ten times as long as the first". Should the polls learn otherwise, the
    # README is to say so.
    random.seed(7)
    clock = FakeClock()
    fake = DoneAtSecondGet()
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.random)
    waits: list[float] = []
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        for _ in range(100):
            handle = trainer.optim_step(wait=False)
            begin = clock.now
            handle.result(timeout=3600)
            waits.append(clock.now - begin)
    assert set(fake.gets.values()) == {2}  # each seen at its second GET
    assert waits[-1] > 10 * waits[0], waits


class OverestimatingWeaver(QueuedWeaver):
    """Announces ``factor`` times the real queue: three times the time left
    (``counts="scaled"``), or three times the whole queue, counted down as time passes
    (``counts="fixed"``), so that the operation is done before the start it announced."""

    factor = 3.0

    def said(self, waited: float) -> float:
        if self.counts == "scaled":
            return self.factor * (self.queue - waited)
        return self.factor * self.queue - waited


@pytest.mark.parametrize("counts", ["scaled", "fixed"])
@pytest.mark.parametrize("queue", [2.0, 6.0])
def test_a_countdown_that_proved_pessimistic_no_longer_delays_a_loop(
    counts: str, queue: float
) -> None:
    # Each operation, done before the start its countdown announced, recorded no duration,
    # so the next ones had nothing but the countdown to go on: each slept it out, up to
    # max_backoff, and was seen seconds late (2.3 s operations 4 to 8 s late), step after
    # step, where the official SDK's schedule is at most 1.2 s late.
    clock = FakeClock()
    fake = OverestimatingWeaver(clock, queue, 0.3, counts)
    poll = PollPolicy(PollSettings(), clock=clock, rng=random.Random(7).random)
    gets, lags = _stepped(fake, clock, poll, 6)
    took = queue + 0.3
    # The first is late by the estimate, up to max_backoff (the README's bound); once the
    # countdown proved pessimistic, the loop's own durations time the polls, as any loop's,
    # narrowing down the wide bracket of the first (polled before and after the estimate
    # alone): soon once or twice, and seen no later than the official schedule sees them.
    assert max(lags) <= PollSettings().max_backoff, lags
    assert max(gets[2:]) <= 2, gets
    assert max(lags[3:]) <= official(took)[1], lags
