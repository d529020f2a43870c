"""Asynchronous operations: a sans-IO polling policy and thin sync/async handles.

Training steps, saves, loads and exports answer at once with an Operation that
is polled until its status is terminal. ``PollPolicy`` makes a ``Poller`` for
each wait, which decides its every step (``Poll``, ``Sleep``, ``GiveUp``), and
both handles follow it. What a wait promises (long-poll first, retried polls,
one deadline, watching) is the README's "Deadlines, live status and retries";
without long-poll, ``_durations`` and a queue's countdown
(``Poller.on_reply``) say when to poll.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import math
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from typing import Any, ClassVar, Generic, NamedTuple, NoReturn, TypeAlias, TypeVar

import attrs
from weaver_client import limits
from weaver_client.types import Unset

from . import _retry as rules
from ._args import bounded, call_plain, check_seconds
from ._durations import Bracket, Durations, next_poll
from ._errors import (
    RESUME_ADVICE,
    STATE_LOST_NOTE,
    APIError,
    ClientClosedError,
    OperationFailedError,
    OperationTimeoutError,
    add_goes_on_note,
    pick_up_again,
    says_how_to_resume,
    server_says,
)
from ._lazy import asyncio, asyncio_sleep, in_own_thread, wire
from ._logs import logger, note_naming_calls
from ._plans import Plan
from ._schema import field_at
from ._watched import name_watched, watched
from ._wire import (
    WireFields,
    WireValues,
    as_float,
    expect,
    field_error,
    large,
    nested,
    optional,
)

T = TypeVar("T")
# A handle only gives its result out: a handle of a ``Checkpoint`` is one of an ``object``.
T_co = TypeVar("T_co", covariant=True)

#: The time a poll may take past the deadline: the last look at the deadline
#: itself, and a long-poll the server ends exactly at it.
DEADLINE_GRACE = 0.5
#: How many times a failed operation is looked at for its words when the look fails.
_WORDS_LOOKS = 3
#: A wait this long, in seconds, is said once, in a WARNING (``Poller.long_wait``).
LONG_WAIT = 300.0


class OperationStatus(enum.StrEnum):
    """An operation's status. Only ``DONE`` and ``ERROR`` are terminal (as the spec marks them)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"

    @property
    def is_terminal(self) -> bool:
        """Whether the operation has finished (successfully or not)."""
        return self.value in limits.OPERATION_STATUS_TERMINAL


class _OperationKind(enum.StrEnum):
    FORWARD_BACKWARD = "forward_backward"
    FORWARD = "forward"
    OPTIM_STEP = "optim_step"
    SAVE_CHECKPOINT = "save_checkpoint"
    LOAD_CHECKPOINT = "load_checkpoint"
    EXPORT_CHECKPOINT = "export_checkpoint"
    EXPORT_MODEL_WEIGHTS = "export_model_weights"


# A kind stays the spec's plain string, but picks a re-attached operation's result parser
# and keys its durations: the kinds the facade knows are declared, so that the coverage
# lists one the spec adds, for a maintainer to decide on.
OPERATION_VALUES = (
    WireValues("OperationStatus", OperationStatus),
    WireValues("OperationKind", _OperationKind),
)
_STATUSES: dict[str, OperationStatus] = OPERATION_VALUES[0].table()


@attrs.frozen(kw_only=True)
class PendingInfo:
    """Why an operation is still pending, as the server explains it.

    Attributes:
        code: Such as ``waiting_for_scheduling``, ``waiting_for_resources``, ``trainer_starting``.
        message: A human-readable explanation (empty when the server gives none).
        wait_seconds: The server's ``wait_seconds``, if any: the wire does not say
            whether it is the time left before the operation starts or the time it
            has already waited (as the official SDK reads it).
        resources: The resources it waits for (``nodes``, ``gpus_per_node``...), if any;
            other properties the server adds are kept when they are numbers. A whole
            number is an ``int`` (a count), any other a ``float``.
    """

    code: str
    message: str = ""
    wait_seconds: float | None = None
    resources: Mapping[str, int | float] | None = None


@attrs.frozen(kw_only=True)
class ConversionProgress:
    """How far an export operation has converted its files (``metadata.conversion_progress``).

    ``shards_total`` and ``bytes_total`` come from servers that say (an extension).
    """

    shards_done: int
    bytes_done: int
    shards_total: int | None = None
    bytes_total: int | None = None


@attrs.frozen(kw_only=True)
class OperationProgress:
    """One change of a waited-for operation, from ``watch()`` and ``on_progress``.

    A change is a new status, new pending info (a new ``wait_seconds`` alone is not a
    change: a server may send a new one at every read), new conversion progress, polls
    starting to fail (an outage) or succeeding again.

    Attributes:
        operation_id: The operation's id.
        status: Its last status seen.
        pending_info: Why it is pending, as of the last status seen.
        poll_error: While polls fail (they are retried), why, in a few words
            such as ``connection refused`` or ``HTTP 503``; else ``None``.
        recovered: Polls succeed again after failing.
        conversion: An export's conversion progress, as of the last status seen.
    """

    operation_id: str
    status: OperationStatus
    pending_info: PendingInfo | None
    conversion: ConversionProgress | None = None
    poll_error: str | None = None
    recovered: bool = False


@attrs.frozen(kw_only=True)
class OperationSnapshot:
    """One observation of an operation, checked against the spec."""

    id: str
    status: OperationStatus
    kind: str | None = None
    response: Mapping[str, Any] | None = None
    pending_info: PendingInfo | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: Mapping[str, Any] | None = None
    retryable: bool | None = None
    model_id: str | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    conversion: ConversionProgress | None = None
    revision: str | None = None


def _pending_info(operation: str, info: object) -> PendingInfo | None:
    value = nested(operation, wire.PendingInfo, info, "pending_info")
    if value is None:
        return None
    schema = "Operation.pending_info"
    resources = None
    if not isinstance(value.resources, Unset):
        # PendingResources allows other properties of any type (a GPU's model, say):
        # those that are numbers are kept beside the spec's own, the others left out.
        extra = value.resources.additional_properties
        resources = {
            k: _number(expect(operation, schema, field_at("resources", k), v, (int, float)))
            for k, v in value.resources.to_dict().items()
            if k not in extra or (isinstance(v, int | float) and not isinstance(v, bool))
        }
    wait = optional(operation, schema, "wait_seconds", value.wait_seconds, (int, float))
    return PendingInfo(
        code=expect(operation, schema, "code", value.code, str),
        message=optional(operation, schema, "message", value.message, str, nullable=False) or "",
        wait_seconds=None if wait is None else as_float(wait),
        resources=resources,
    )


def _number(value: float) -> float:
    """A whole number as an ``int``: most resources are counts (``nodes: 1``, not ``1.0``)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


OPERATION_FIELDS = (
    WireFields(
        "Operation",
        OperationSnapshot,
        # `error` is the real service's name for error_code.
        mapped={"error": "error_code", "metadata": "conversion"},
    ),
    WireFields(
        "OperationMetadata", OperationSnapshot, mapped={"conversion_progress": "conversion"}
    ),
    WireFields("PendingInfo", PendingInfo),
    WireFields("ConversionProgress", ConversionProgress),
)


def snapshot_from_wire(operation: str, gen: wire.Operation) -> OperationSnapshot:
    """Check a generated Operation and keep what the handles need."""

    def field(name: str, value: object, kind: type[T]) -> T | None:
        return optional(operation, "Operation", name, value, kind)

    code = field("error_code", gen.error_code, str) or field("error", gen.error, str)
    response = nested(operation, wire.OperationResult, gen.response, "response")
    details = nested(operation, wire.OperationErrorDetails, gen.error_details, "error_details")
    return OperationSnapshot(
        id=expect(operation, "Operation", "id", gen.id, str),
        status=_STATUSES[gen.status],
        kind=None if isinstance(gen.kind, Unset) else gen.kind.value,
        response=None if response is None else response.to_dict(),
        pending_info=_pending_info(operation, gen.pending_info),
        error_code=code,
        error_message=field("error_message", gen.error_message, str),
        error_details=None if details is None else details.to_dict(),
        retryable=field("retryable", gen.retryable, bool),
        revision=field("revision", gen.revision, str),
        model_id=field("model_id", gen.model_id, str),
        created_at=field("created_at", gen.created_at, datetime.datetime),
        updated_at=field("updated_at", gen.updated_at, datetime.datetime),
        conversion=_conversion(operation, gen.metadata),
    )


def started_snapshot(
    operation: str, gen: wire.Operation, model_id: str | None
) -> OperationSnapshot:
    """The first snapshot of an operation this client started with the request
    ``operation`` on ``model_id``. The request tells the kind and model, which key the
    durations that time the polls, so that one slow save does not make every later step
    wait as long."""
    return _with_known(snapshot_from_wire(operation, gen), operation, model_id)


def _with_known(
    snap: OperationSnapshot, kind: str | None, model_id: str | None
) -> OperationSnapshot:
    """``snap``, with the kind and model already known where it leaves them out (a server
    without ``operation-details``): they never change."""
    return attrs.evolve(snap, kind=snap.kind or kind, model_id=snap.model_id or model_id)


def _conversion(operation: str, metadata: object) -> ConversionProgress | None:
    known = nested(operation, wire.OperationMetadata, metadata, "metadata")
    if known is None:
        return None
    field = "metadata.conversion_progress"
    value = nested(operation, wire.ConversionProgress, known.conversion_progress, field)
    if value is None:
        return None
    schema = f"Operation.{field}"

    def total(name: str, v: object) -> int | None:
        return optional(operation, schema, name, v, int, nullable=False)

    return ConversionProgress(
        shards_done=expect(operation, schema, "shards_done", value.shards_done, int),
        bytes_done=expect(operation, schema, "bytes_done", value.bytes_done, int),
        shards_total=total("shards_total", value.shards_total),
        bytes_total=total("bytes_total", value.bytes_total),
    )


# An export of a saved checkpoint needs no model's training state: it is only started again.
_EXPORT_AGAIN = "the checkpoint is kept: export it again, trainer.export_weights(checkpoint)"


def _advice(snap: OperationSnapshot, kind: str | None) -> str | None:
    """The facade's own advice for a failed operation of ``kind`` that a restart cut off
    (``interrupted``), or whose model lost its training state, when the server's words
    (its message, its details' diagnostic) do not give it already."""
    code = snap.error_code
    if code not in ("interrupted", "model_state_lost"):
        return None
    said = (snap.error_message, (snap.error_details or {}).get("diagnostic_message"))
    if kind == _OperationKind.EXPORT_CHECKPOINT and code == "interrupted":
        if server_says(said, "export", "again"):
            return None
        return f"the server cut the export off before it finished (a restart, say); {_EXPORT_AGAIN}"
    if says_how_to_resume(*said):
        return None
    if code == "model_state_lost":
        return STATE_LOST_NOTE
    advice = (
        "the server cut the operation off before it finished (a restart, say), and the "
        "model's training state may be lost with it: once the model refuses to train "
        f"(ModelStateLostError), {RESUME_ADVICE}"
    )
    # Without its kind, it may have been an export of a saved checkpoint too.
    return (
        advice if kind is not None else f"{advice}; for an export of a checkpoint, {_EXPORT_AGAIN}"
    )


# -- the polling policy -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PollSettings:
    """How operations are waited for (separate from HTTP retry settings).

    Attributes:
        timeout: The default deadline of ``result()``, in seconds.
        long_poll: The ``wait`` sent with each poll, in seconds (the spec bounds it).
        initial_backoff: The first backoff cap when long-poll is not supported, and
            after a failed poll; also the first pause between the looks for a path
            a checkpoint listing lacks (it may lag behind a save), doubling.
        max_backoff: The largest backoff cap.
        immediate: A non-terminal reply faster than ``min(immediate, wait / 2)``
            means the server did not hold the long-poll.
        min_interval: The least time between two polls answered at once, whatever
            the jitter draws, so that no draw can make a busy loop.
        backoff_ratio: Without long-poll, a sleep is at most this fraction of the
            time waited so far (but at least ``min_interval``, and while pending at
            least until the end of the queue the server announced in
            ``pending_info.wait_seconds`` once it counts down, up to ``max_backoff``:
            an estimate may be pessimistic, and none is trusted once one proved so:
            ``PollPolicy.countdowns_pessimistic``), so the end of an operation is seen
            at most this fraction of its duration late. With recent operations of
            the same model and kind to go on, it bounds the sleeps between their
            ends too (from the quickest one's on); with one alone, a first look comes
            at this fraction of its duration, if before its end (a loop may begin with
            its longest).
            Exponential backoff alone can sleep 8 s past the end of a 5 s
            operation; a large ratio restores it.
        expected_end_tolerance: Without long-poll, once recent operations of the
            same model and kind pin an end down to this fraction of their
            duration (at least ``min_interval``), a wait polls once, at that end;
            before, it polls in the middle of what is known, to learn more.
    """

    timeout: float = bounded(3600.0, 0, above=True)
    long_poll: float = bounded(
        min(20.0, limits.GET_OPERATION_WAIT_MAXIMUM),
        limits.GET_OPERATION_WAIT_MINIMUM,
        most=limits.GET_OPERATION_WAIT_MAXIMUM,
    )
    initial_backoff: float = bounded(0.25, 0, above=True)
    max_backoff: float = bounded(10.0, 0, above=True)
    immediate: float = bounded(1.0, 0)
    min_interval: float = bounded(0.05, 0)
    backoff_ratio: float = bounded(0.2, 0, above=True)
    expected_end_tolerance: float = bounded(0.05, 0)


class Poll(NamedTuple):
    """Send one poll with this long-poll ``wait``, all of it within ``budget`` (seconds)."""

    wait: float
    budget: float


class Sleep(NamedTuple):
    """Sleep this many seconds, then ask again."""

    seconds: float


class GiveUp(NamedTuple):
    """The deadline has passed: raise ``OperationTimeoutError``."""

    waited: float


class PollPolicy:
    """Makes ``Poller``s: the sans-IO decision-maker shared by sync and async handles.

    Args:
        settings: The limits.
        clock: A monotonic clock in seconds (injectable for tests).
        rng: A ``random.random``-like source in [0, 1) (injectable for tests).
    """

    def __init__(
        self,
        settings: PollSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings: PollSettings = settings or PollSettings()
        self.clock = clock
        self.rng = rng
        #: Whether the server holds long-polls, once a wait has found out.
        self.long_poll_supported: bool | None = None
        #: Whether the server has ``GET /checkpoints/{id}`` (the ``checkpoint-by-id``
        #: extension), once a wait's look at a checkpoint has found out
        #: (``_lookup.by_id``, which counts its ``checkpoint_by_id_misses``): without it,
        #: later looks read the model's list at once.
        self.checkpoint_by_id_supported: bool | None = None
        self.checkpoint_by_id_misses = 0
        #: Whether a countdown of ``pending_info.wait_seconds`` proved pessimistic (an
        #: operation was done by the start it announced): later waits trust none, and time
        #: their polls by recent durations counted from when each operation was first seen.
        self.countdowns_pessimistic = False
        #: How long recent operations took, per (model id, kind): see ``_durations``.
        self.durations: Durations = Durations()

    def start(
        self,
        timeout: float | None = None,
        *,
        key: tuple[str | None, str | None] | None = None,
        origin: float | None = None,
        queued: float | None = None,
    ) -> Poller:
        """A poller for one wait of ``timeout`` seconds (default ``settings.timeout``).

        Args:
            key: The operation's (model id, kind), whose recent durations plan the
                polls when the server does not hold long-polls.
            origin: When the operation was first seen unfinished (default: now).
            queued: Its ``pending_info.wait_seconds`` then, if any (see
                ``Poller.on_reply``).
        """
        if timeout is None:
            timeout = self.settings.timeout
        return Poller(self, timeout, key=key, origin=origin, queued=queued)

    def backoff(self, attempt: int) -> float:
        """The wait after poll ``attempt`` (0 after the first): full jitter, uniform in
        [0, min(``max_backoff``, ``initial_backoff`` * 2**attempt)) of the settings."""
        s = self.settings
        return rules.full_jitter(attempt, s.initial_backoff, s.max_backoff, self.rng)


class Poller:
    """The state of one wait. Ask ``next_step()``, then report with ``on_reply``/``on_failure``."""

    def __init__(
        self,
        policy: PollPolicy,
        timeout: float,
        *,
        key: tuple[str | None, str | None] | None = None,
        origin: float | None = None,
        queued: float | None = None,
    ) -> None:
        timeout = check_seconds("timeout", timeout, zero=True, otherwise=", or None")
        self._policy = policy
        self._clock = policy.clock
        self.started: float = self._clock()
        self.deadline: float = self.started + timeout
        self._key = key
        # Times below are seconds since the operation started on the server, as well as
        # we know: since it was first seen, or the end of the queue the server announced.
        self._start = self.started if origin is None else origin
        self._seen = self._start  # when it was first seen unfinished
        self._queued_until = self._start  # pending until then, by the server's last word
        # The last (time, ``wait_seconds``) seen, which the next one is checked against.
        self._said = None if queued is None else (self._start, queued)
        self._unfinished_at = self._start  # the last time it was seen unfinished
        self._attempt = 0
        self._delay: float | None = None
        self._final_poll_owed = True  # one look at the deadline, even for timeout=0
        self._poll_started = self.started
        self._wait = 0.0
        self._quick_change = False  # the last reply was a change, answered at once
        self.long_poll_supported: bool | None = policy.long_poll_supported
        #: The sleep before the next poll, after a failure ``on_failure`` retries.
        self.retry_delay: float = 0.0
        self._final_5xx = 0  # polls in a row refused with a 5xx the server calls final
        self._long_wait_said = False
        if policy.long_poll_supported is False:
            # Known not to hold: no poll at once, a sleep to the expected end instead.
            self._delay = self._planned_delay(self.started)

    def look_at_once(self) -> None:
        """Poll first at once, not at the expected end: the operation is over, and only
        its result is still to be fetched."""
        self._delay = None

    @property
    def waited(self) -> float:
        return self._clock() - self.started

    def long_wait(self) -> float | None:
        """The seconds waited, once the wait has lasted ``LONG_WAIT`` (once per wait), so
        that it is said; else ``None``, also at the deadline: its last look, whose timeout
        says the rest."""
        now = self._clock()
        waited = now - self.started
        if self._long_wait_said or waited < LONG_WAIT or now >= self.deadline:
            return None
        self._long_wait_said = True
        return waited

    def next_step(self, hold: bool = True) -> Poll | Sleep | GiveUp:
        """What to do now. ``hold=False``: the fetch reads a resource (a
        ``ResourceWatch``), not the operation, and holds nothing: its poll asks for no
        wait, and its quick answer says nothing of the server's long-poll."""
        now = self._clock()
        remaining = self.deadline - now
        if self._delay is not None:
            delay, self._delay = self._delay, None
            if remaining > 0:
                if delay >= remaining:
                    self._final_poll_owed = True
                return Sleep(min(delay, remaining))
        if remaining <= 0:
            if not self._final_poll_owed:
                return GiveUp(waited=now - self.started)
            remaining = 0.0
        self._final_poll_owed = False
        self._wait = min(remaining, self._policy.settings.long_poll) if hold else 0.0
        self._poll_started = now
        return Poll(wait=self._wait, budget=remaining + DEADLINE_GRACE)

    def on_reply(
        self,
        *,
        terminal: bool,
        changed: bool = False,
        succeeded: bool = True,
        queued: float | None = None,
    ) -> None:
        """Report a successful poll.

        Args:
            terminal: The operation is over.
            changed: The server said the operation changed since the poll's
                ``seen_revision`` (so a quick answer does not mean no long-poll).
            succeeded: It ended ``done`` (its duration then joins the history).
            queued: While pending, its ``pending_info.wait_seconds``, if any: the wire
                does not say whether it is the time left before the start or the time
                already waited (as the official SDK reads it). It is taken for the time
                left only when it went down since the last one by the time passed, give
                or take a second (a server may round) and a quarter (it may revise):
                read the other way, it would make each sleep as long as the wait so far.
        """
        now = self._clock()
        self._final_5xx = 0
        if terminal:
            # Only what this wait saw (the ``_durations`` docstring says why).
            if succeeded and self._key is not None:
                start, announced = self._start, self._queued_until
                slack = self._policy.settings.min_interval  # a sleep may land that late
                if announced > self._unfinished_at and self._poll_started <= announced + slack:
                    # Done by the start its countdown announced: the countdown was
                    # pessimistic, and would delay every wait of a loop as much. Its
                    # duration counts from when it was first seen, as every later one's,
                    # not from a start a countdown moved, as the ones before may.
                    if not self._policy.countdowns_pessimistic:
                        self._policy.countdowns_pessimistic = True
                        self._policy.durations.clear()
                    start = self._seen
                if start <= now:
                    lo = max(self._unfinished_at - start, 0.0)
                    self._policy.durations.record(self._key, Bracket(lo, now - start))
            return
        left = self._time_left(now, queued)
        # Not counted down now (running, say): it may have started, by now at the latest.
        self._start = max(self._start, now + left) if left > 0 else min(self._start, now)
        self._queued_until = now + left
        self._unfinished_at = now
        elapsed = now - self._poll_started
        held = self._wait > 0 and elapsed >= min(self._policy.settings.immediate, self._wait / 2)
        quick_change, self._quick_change = self._quick_change, changed and not held
        if changed and self.long_poll_supported is not False:
            # A quick answer because something changed says nothing about long-poll
            # support: ask for the next change at once (a server that holds will hold),
            # unless the last answer was one too: a server that changes at every look
            # (or does not hold) is polled as one that answers at once.
            if quick_change and not held:
                self._delay = self._planned_delay(now)
            return
        if held:
            self.long_poll_supported = self._policy.long_poll_supported = True
            self._attempt = 0
            return
        if self._wait > 0 and self.long_poll_supported is None:
            self.long_poll_supported = False
            if self._policy.long_poll_supported is None:
                self._policy.long_poll_supported = False
        self._delay = self._planned_delay(now)

    def _time_left(self, now: float, said: float | None) -> float:
        """The seconds before the start that ``said`` tells (see ``on_reply``), or 0."""
        last, self._said = self._said, None if said is None else (now, said)
        if said is None or last is None or self._policy.countdowns_pessimistic:
            return 0.0
        drop, passed = last[1] - said, now - last[0]
        return said if drop > 0 and abs(drop - passed) <= 1.0 + passed / 4 else 0.0

    def _planned_delay(self, now: float) -> float:
        """The sleep before the next poll of a server that answers at once."""
        s = self._policy.settings
        ends = () if self._key is None else self._policy.durations.expected(self._key)
        if ends:
            # Before the start the server announced: at most max_backoff of its estimate.
            since = max(now - self._start, -s.max_backoff)
            unfinished = max(self._unfinished_at - self._start, 0.0)
            # One operation alone may be a loop's long first one (``next_poll``'s probe);
            # not in a queue, which would hold that look, and times the wait.
            queued = self._said is not None and self._said[1] > 0
            at = next_poll(
                max(since, unfinished),
                ends,
                tolerance=s.expected_end_tolerance,
                least=s.min_interval,
                ratio=s.backoff_ratio,
                probe=self._policy.durations.count(self._key) == 1 and not queued,
            )
            if at is not None:
                return max(at - since, 0.0)
        # Nothing to go on: back off, as ``PollSettings.backoff_ratio`` says.
        backoff = min(self._policy.backoff(self._attempt), s.backoff_ratio * (now - self.started))
        self._attempt += 1
        queue = min(self._queued_until - now, s.max_backoff)
        return max(s.min_interval, backoff, queue)

    def repeatable(self, error: Exception) -> bool:
        """Whether a failed poll is worth sending again, the deadline aside
        (``_retry.poll_is_repeatable``: also a 5xx the server calls final, a few in a row)."""
        return rules.poll_is_repeatable(error, self._final_5xx)

    def on_failure(self, error: Exception) -> bool:
        """Report a failed poll; ``True`` means try again after ``retry_delay`` seconds."""
        remaining = self.deadline - self._clock()
        if not self.repeatable(error) or remaining <= 0:
            return False
        retry_after = error.retry_after if isinstance(error, APIError) else None
        if retry_after is not None and retry_after > remaining:
            return False
        # A Retry-After of 0 (or in the past, or shorter than the least time between two
        # polls) says nothing about when: back off as without one, or every poll of the
        # wait would be sent again at once (a busy loop).
        if retry_after is not None and retry_after >= self._policy.settings.min_interval:
            self.retry_delay = retry_after
        else:
            self.retry_delay = self._policy.backoff(self._attempt)
        self._delay = self.retry_delay
        self._attempt += 1
        if not rules.error_is_retryable(error):
            self._final_5xx += 1
        elif isinstance(error, APIError) and error.status_code is not None:
            # A reply between (a 503 asking again): no longer in a row. Not a lost one (an
            # APIConnectionError, an APIError too), which is no reply.
            self._final_5xx = 0
        return True


# -- handles ------------------------------------------------------------------------------


def _queued(snapshot: OperationSnapshot) -> float | None:
    """A pending operation's ``pending_info.wait_seconds``, if any."""
    info = snapshot.pending_info
    if snapshot.status is not OperationStatus.PENDING or info is None:
        return None
    return info.wait_seconds


ProgressCallback: TypeAlias = Callable[[OperationProgress], None]
#: What a change is a change of: the status, the pending info less its wait_seconds, the
#: conversion progress, and whether polls succeed.
_Reported: TypeAlias = tuple[OperationStatus, PendingInfo | None, ConversionProgress | None, bool]
ResultParser: TypeAlias = Callable[[OperationSnapshot], T]
#: What a handle's fetch gives: an ``OperationSnapshot`` (sync), or an awaitable one.
SnapshotT = TypeVar("SnapshotT")
#: ``fetch(wait, budget, seen_revision)``: get a fresh snapshot, long-polling
#: up to ``wait`` seconds (``None``: at once) or until its revision differs from
#: ``seen_revision``, the whole request within ``budget`` seconds.
Fetch: TypeAlias = Callable[[float | None, float | None, str | None], SnapshotT]


@attrs.define
class _Watch:
    """One pass over a handle's changes: its poller, and the state it last reported."""

    poller: Poller
    reported: _Reported


SleepT = TypeVar("SleepT")


#: ``look()``: a plan that reads a watched resource again; a shell's handle makes it its
#: ``Fetch``.
Look: TypeAlias = Callable[[], Plan[OperationSnapshot]]


class Followed(NamedTuple, Generic[T]):
    """What the wait for a done operation goes on with, when its result is not yet final
    (``_HandleState._follow``): the resource it made.

    Attributes:
        snapshot: The resource, as a snapshot under the operation's id.
        parse: Its result's parser.
        look: The plan that reads it again.
    """

    snapshot: OperationSnapshot
    parse: ResultParser[T]
    look: Look


class Settler(NamedTuple, Generic[T]):
    """A handle's ``settle`` (``_HandleState._follow``): ``watch`` takes the done operation
    and the handle's policy (which remembers what the looks learn) and gives the resource
    to follow, or ``None`` when its result is final; ``result_type`` names the type a
    re-attach needs to wait so too (``service.operation(id, result_type)``), which the
    hints name."""

    watch: Callable[[OperationSnapshot, PollPolicy], Followed[T] | None]
    result_type: str


class _HandleState(Generic[T_co, SnapshotT, SleepT]):
    """What both handles share: the last snapshot, the changes seen, the outcome.

    Each step of a wait is decided here (``_next_step``, ``_failed``,
    ``_polled``); the two handles only fetch (``Fetch``) and sleep (``SleepT``, by
    default their ``_default_sleep``).
    """

    _default_sleep: ClassVar[Any]

    def __init__(
        self,
        snapshot: OperationSnapshot,
        *,
        fetch: Fetch[SnapshotT],
        parse_result: ResultParser[T_co],
        policy: PollPolicy | None = None,
        sleep: SleepT | None = None,
        on_progress: ProgressCallback | None = None,
        closing: Callable[[], bool] | None = None,
        result_in_response: bool = True,
        long_poll: bool = True,
        settle: Settler[T_co] | None = None,
        fetch_of: Callable[[Look], Fetch[SnapshotT]] | None = None,
        reattach_as: str | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._fetch: Fetch[SnapshotT] = fetch
        # Whether ``fetch`` long-polls (see ``Poller.next_step``).
        self._long_poll = long_poll
        self._settle = settle
        self._fetch_of = fetch_of  # a ``Followed.look`` as this handle's fetch
        self._following = False  # the operation is done; what it made is watched
        # The result type a re-attach needs, named in the hints (see ``pick_up_again``).
        self._reattach_as = reattach_as
        self._sleep: SleepT = sleep or self._default_sleep
        self._parse_result = parse_result
        self._closing = closing
        policy = policy or PollPolicy()
        self._policy = policy
        self._first_seen = policy.clock()
        self._queued = _queued(snapshot)
        self._result: tuple[T_co] | None = None
        # One parse of the result, however many await it: an async one runs in a thread.
        self._parsing = threading.Lock()
        self._poll_error: str | None = None
        self._last_failure: APIError | None = None
        self._reported: _Reported | None = None
        # One poll for a done POST reply without `response` (a failed one without its
        # error); none for a resource seen in place of an operation, whose result is not
        # its `response`, nor for an operation its own GET gave (a re-attach).
        self._look_owed = result_in_response
        self._words_looks = 0  # failed looks for a failed operation's words
        #: Called with an ``OperationProgress`` on every change (see ``watch()``).
        self.on_progress = on_progress
        self._observe(snapshot)

    @property
    def id(self) -> str:
        """The operation's id; ``service.operation(id)`` re-attaches to it. For a save or
        an export answered without an operation, watched through what it makes, the
        checkpoint's ``weaver://`` path (``get_checkpoint`` shows it) or, for an export
        answered with its artifact, the artifact's ``uri`` (``list_artifacts`` of its
        checkpoint shows it)."""
        return self._snapshot.id

    def __reduce__(self) -> NoReturn:
        # Else pickle named a closure of the client's IO, which said nothing of what to send.
        raise TypeError(
            f"{type(self).__name__} cannot be pickled: it polls through its client's "
            f"connections; send its id and, in the other process, "
            f"{pick_up_again(self.id, self._reattach_as)}"
        )

    @property
    def status(self) -> OperationStatus:
        """The last status seen."""
        return self._snapshot.status

    @property
    def pending_info(self) -> PendingInfo | None:
        """Why the operation is pending, as of the last status seen."""
        return self._snapshot.pending_info

    @property
    def kind(self) -> str | None:
        """What the operation does (``save_checkpoint``, ``forward_backward``...), when
        the server says or this client started it."""
        return self._snapshot.kind

    @property
    def model_id(self) -> str | None:
        """The model the operation works on, when the server says or this client started
        it on a model."""
        return self._snapshot.model_id

    @property
    def created_at(self) -> datetime.datetime | None:
        """When the operation was created, when the server says."""
        return self._snapshot.created_at

    @property
    def updated_at(self) -> datetime.datetime | None:
        """When the operation last changed, as of the last status seen, when the server says."""
        return self._snapshot.updated_at

    @property
    def progress(self) -> OperationProgress:
        """The operation as last seen, as ``watch()`` reports it."""
        return OperationProgress(
            operation_id=self.id,
            status=self.status,
            pending_info=self.pending_info,
            poll_error=self._poll_error,
            conversion=self._snapshot.conversion,
        )

    def done(self) -> bool:
        """Whether the last status seen is terminal (no I/O; ``refresh()`` updates it)."""
        return self._snapshot.status.is_terminal

    def _observe(self, snapshot: OperationSnapshot) -> bool:
        """Take in a fresh snapshot; ``True`` when the wait just turned to watching what
        the operation made (``_follow``)."""
        if snapshot.id != self._snapshot.id:
            said = f"field `id` is {snapshot.id!r}, expected {self._snapshot.id!r}"
            raise field_error("get_operation", "Operation", "id", said)
        self._snapshot = _with_known(snapshot, self.kind, self.model_id)
        followed = self._follow()
        self._report()
        return followed

    def _follow(self) -> bool:
        """Where a result not yet final is watched instead: an operation can be done before
        its result is what it promises (a save whose checkpoint still says ``pending``,
        which a load meets as 409 ``checkpoint_not_ready``). Once it is done with its
        result in hand, ``settle`` is asked, once, what to watch; the wait then goes on
        with that snapshot, parser and look as its fetch (which reads a resource: a
        ``_recovery.ResourceWatch``), under the operation's id, within the same deadline
        and polling policy, until the resource is final or has failed. ``True`` when it
        turns to that now."""
        if self._settle is None or self.status is not OperationStatus.DONE:
            return False
        if self._look_owed_now():
            return False  # its result is still to be fetched
        then, self._settle = self._settle.watch(self._snapshot, self._policy), None
        if then is None:
            return False
        assert self._fetch_of is not None  # given with ``settle`` (``_io``)
        self._parse_result, self._fetch = then.parse, self._fetch_of(then.look)
        self._snapshot = _with_known(then.snapshot, self.kind, self.model_id)
        self._long_poll = self._look_owed = False
        self._following = True
        return True

    def _state(self) -> _Reported:
        info = self.pending_info
        return (
            self.status,
            # A new wait_seconds alone is not a change: a server may send one at every read.
            info and attrs.evolve(info, wait_seconds=None),
            self._snapshot.conversion,
            self._poll_error is None,
        )

    def _since(self, last: _Reported, state: _Reported) -> OperationProgress | None:
        """The change from ``last``, as reported, to ``state``, the current one, if any."""
        if state == last:
            return None
        return attrs.evolve(self.progress, recovered=not last[3] and state[3])

    def _report(self) -> None:
        """Tell ``on_progress`` of the change since it was last told, if any."""
        last, self._reported = self._reported, self._state()
        progress = self.progress if last is None else self._since(last, self._reported)
        if progress is None or self.on_progress is None:
            return
        # It ends the wait, not the operation: say which one to pick up again. The first
        # status is told as the handle is made, before any wait (``wait=False`` too).
        when = "at the first status of" if last is None else "while waiting for"
        with self._ending(Exception, "raised by on_progress", when):
            call_plain("on_progress", self.on_progress, progress)

    @contextlib.contextmanager
    def _ending(
        self, cut: type[BaseException], why: str, when: str = "while waiting for"
    ) -> Iterator[None]:
        """Notes for what ends a wait: a ``cut`` (``why``) leaves the operation running,
        and says how to pick it up again; the client's close ends the wait, or refuses it
        (closed before it began), and may have terminated the operation's model (a model
        the client made is, unless kept), or not."""
        try:
            yield
        except cut as exc:
            add_goes_on_note(
                exc,
                f"{why} {when} {name_watched(self.id)}, which keeps running on the "
                f"server: {pick_up_again(self.id, self._reattach_as)}",
            )
            raise
        except ClientClosedError as exc:
            exc.add_note(
                f"the client is closed, which ends any wait for {name_watched(self.id)}; "
                "unless the close terminated its model, it keeps running on the server: "
                f"{pick_up_again(self.id, self._reattach_as)} from a new client"
            )
            raise

    def _outcome(self) -> T_co:
        snap = self._snapshot
        # Any end but `done` is a failure: a terminal status the spec may add is no success.
        if snap.status is not OperationStatus.DONE:
            status = None if snap.status is OperationStatus.ERROR else snap.status.value
            failed = OperationFailedError(
                operation_id=snap.id,
                code=snap.error_code or status,
                message=snap.error_message or None,
                details=snap.error_details,
                retryable=snap.retryable,
            )
            advice = _advice(snap, snap.kind or self.kind)
            if advice is not None:
                note_naming_calls(failed, advice)
            # The client's close terminated the model under it: the close is what ended it.
            if snap.error_code == "model_terminated" and self._closing and self._closing():
                raise ClientClosedError(
                    f"{name_watched(snap.id)}: its model was terminated by the client's close"
                ) from failed
            raise failed
        if self._result is None:
            with self._parsing:
                if self._result is None:
                    self._result = (self._parse_result(snap),)
        return self._result[0]

    def _watch(self, timeout: float | None) -> _Watch:
        snap = self._snapshot
        owed = self._look_owed_now()
        poller = self._policy.start(
            timeout,
            # Without a kind, no history: all such operations would share one. Nor for a
            # look at one already over, which says nothing of how long it took.
            key=None if snap.kind is None or owed else (snap.model_id, snap.kind),
            origin=self._first_seen,
            queued=self._queued,
        )
        if owed:
            poller.look_at_once()
        return _Watch(poller, self._state())

    def _next(self, watch: _Watch) -> OperationProgress | Poll | Sleep | None:
        """A watch's next step: the change it has not reported (another look at the
        handle, ``refresh()``, ``result()`` or another watcher, may have seen it first,
        the end too), else a sleep or a poll while the operation runs; ``None`` after."""
        last, watch.reported = watch.reported, self._state()
        if (change := self._since(last, watch.reported)) is not None:
            return change
        return None if self.done() and not self._look_owed_now() else self._next_step(watch.poller)

    def _look_owed_now(self) -> bool:
        """Whether the operation is asked once more although it is over: it came back done
        without its result, or failed without a word of why (the wire's POST reply is
        ``{"id", "status", "response"?}``), and that look is still owed (``_look_owed``)."""
        snap = self._snapshot
        missing = snap.status is OperationStatus.DONE and snap.response is None
        unsaid = snap.status is OperationStatus.ERROR and not (
            snap.error_code or snap.error_message or snap.error_details
        )
        return (unsaid or (missing and self._result is None)) and self._look_owed

    def _next_step(self, poller: Poller) -> Poll | Sleep:
        """The poller's next step; when it gives up, the timeout is raised."""
        step = poller.next_step(hold=self._long_poll)
        if isinstance(step, GiveUp):
            # The last poll may have failed, and the sleep after it overrun the deadline.
            error = self._last_failure
            raise self._timed_out(step.waited, error, self._poll_error) from error
        self._say_long_wait(poller)
        return step

    def _say_long_wait(self, poller: Poller) -> None:
        """A WARNING once the wait is long (``Poller.long_wait``). As a download waiting
        for another into its folder says so: a script that looks hung (a resume's load
        kept pending) tells what it waits for, and how long it may still wait. Its timeout
        is named in neither the library's words nor the command line's (``--timeout``):
        the record goes to both."""
        waited = poller.long_wait()
        if waited is None:
            return
        status = "done, its result pending" if self._following else self.status.value
        timeout = poller.deadline - poller.started
        logger.warning(
            "waiting for %s (%s) for %.0f s so far; %s, and the %s keeps running on the server",
            name_watched(self.id),
            status if self.kind is None else f"{self.kind}, {status}",
            waited,
            f"the wait ends after {timeout:.0f} s, its timeout; a Ctrl-C ends it sooner"
            if math.isfinite(timeout)  # timeout=inf: not "after inf s"
            else "the wait has no timeout; a Ctrl-C ends it",
            watched(self.id),
        )

    def _timed_out(
        self, waited: float, error: APIError | None, why: str | None
    ) -> OperationTimeoutError:
        return OperationTimeoutError(
            operation_id=self.id,
            status=OperationStatus.DONE.value if self._following else self.status.value,
            waited=waited,
            last_error=error,
            poll_error=why,
            result_type=self._reattach_as,
            result_pending=self._following,
        )

    def _failed(self, poller: Poller, error: APIError) -> None:
        why = rules.describe_failure(error)
        if self._snapshot.status is OperationStatus.ERROR:
            # A look for a failure's words only: without them it is still the failure,
            # not this poll's error (a 404), nor a timeout while it "keeps running". A
            # look the server asks to repeat (a 503) is, a few times, within the deadline.
            self._words_looks += 1
            if self._words_looks >= _WORDS_LOOKS or not poller.on_failure(error):
                self._look_owed = False
                return
        elif not poller.on_failure(error):
            if poller.repeatable(error):
                # Retryable, but not within the deadline: a timeout, as at any deadline.
                raise self._timed_out(poller.waited, error, why) from error
            raise error
        self._last_failure = error
        logger.warning(
            "poll of %s: %s; retrying in %.1f s", name_watched(self.id), why, poller.retry_delay
        )
        self._poll_error = why
        self._report()

    def _seen(self, live: bool) -> str | None:
        """The ``seen_revision`` to send: only a watcher needs each change; a wait for the
        end alone lets the server hold each long-poll until the end or its whole wait."""
        return self._snapshot.revision if live or self.on_progress is not None else None

    def _polled(self, poller: Poller, snapshot: OperationSnapshot, seen: str | None) -> None:
        self._poll_error = None
        self._last_failure = None
        self._look_owed = False
        # Just followed (``_follow``): answered at once because the operation ended.
        followed = self._observe(snapshot)
        revised = seen is not None and snapshot.revision not in (None, seen)
        poller.on_reply(
            terminal=self.done(),
            changed=revised or followed,
            succeeded=self.status is OperationStatus.DONE,
            queued=_queued(snapshot),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.status.value}>"


class OperationHandle(_HandleState[T_co, OperationSnapshot, Callable[[float], None]]):
    """A running operation and, when it ends, its result (google api-core style).

    Made by the facade. ``result()`` waits for the end, ``watch()`` reports
    each change on the way, ``refresh()`` looks once.
    """

    _default_sleep = staticmethod(time.sleep)

    def refresh(self) -> OperationStatus:
        """Fetch the current status once (no waiting) and return it."""
        if not self.done():
            self._observe(self._fetch(None, None, None))
        return self.status

    def watch(self, timeout: float | None = None) -> Iterator[OperationProgress]:
        """Wait for the operation, yielding the current state, then each change (see
        ``OperationProgress``). The iterator ends once the operation is over (then
        ``result()`` returns at once), with the end as its last item, also when another
        look at the handle (``refresh()``, ``result()``, another watcher) saw it first.

        Args:
            timeout: Seconds to wait; ``None`` means ``PollSettings.timeout``.
                The watch ends within this plus one second, as ``result``'s wait does.

        Raises:
            OperationTimeoutError: It did not finish in time; it keeps running.
        """
        return self._changes(timeout, live=True)

    def _changes(self, timeout: float | None, *, live: bool) -> Iterator[OperationProgress]:
        watch = self._watch(timeout)
        yield self.progress
        with self._ending(KeyboardInterrupt, "interrupted"):
            while (step := self._next(watch)) is not None:
                if isinstance(step, OperationProgress):
                    yield step
                elif isinstance(step, Sleep):
                    self._sleep(step.seconds)
                else:
                    seen = self._seen(live)
                    try:
                        snapshot = self._fetch(step.wait, step.budget, seen)
                    except APIError as exc:
                        self._failed(watch.poller, exc)
                    else:
                        self._polled(watch.poller, snapshot, seen)

    def result(self, timeout: float | None = None) -> T_co:
        """Wait for the operation and return its result.

        Args:
            timeout: Seconds to wait; ``None`` means ``PollSettings.timeout``.
                The wait ends within this plus one second (a last poll at the
                deadline may take half of it), whatever the server does; with a
                sync ``http_client`` of your own, httpx's timeouts are per wait
                for bytes, so a reply trickled a byte at a time can outlast it.

        Raises:
            OperationFailedError: The operation ended in ``error``.
            OperationTimeoutError: It did not finish in time (or the server could not
                be reached until the deadline); it keeps running.
        """
        for _ in self._changes(timeout, live=False):
            pass
        return self._outcome()


class AsyncOperationHandle(
    _HandleState[T_co, Awaitable[OperationSnapshot], Callable[[float], Awaitable[None]]]
):
    """The async twin of ``OperationHandle``; ``await handle`` is ``await handle.result()``."""

    _default_sleep = staticmethod(asyncio_sleep)

    async def refresh(self) -> OperationStatus:
        """Fetch the current status once (no waiting) and return it."""
        if not self.done():
            self._observe(await self._fetch(None, None, None))
        return self.status

    # A deadline of our own, not asyncio.timeout: it must end in an
    # OperationTimeoutError that carries the operation id for re-attaching.
    def watch(self, timeout: float | None = None) -> AsyncIterator[OperationProgress]:
        """``async for`` each change (see ``OperationHandle.watch``)."""
        return self._changes(timeout, live=True)

    async def _changes(
        self,
        timeout: float | None,  # noqa: ASYNC109
        *,
        live: bool,
    ) -> AsyncIterator[OperationProgress]:
        watch = self._watch(timeout)
        yield self.progress
        # A cancel (asyncio.wait_for, a TaskGroup) as a Ctrl-C.
        with self._ending(asyncio.CancelledError, "cancelled"):
            while (step := self._next(watch)) is not None:
                if isinstance(step, OperationProgress):
                    yield step
                elif isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                else:
                    seen = self._seen(live)
                    try:
                        snapshot = await self._fetch(step.wait, step.budget, seen)
                    except APIError as exc:
                        self._failed(watch.poller, exc)
                    else:
                        self._polled(watch.poller, snapshot, seen)

    async def result(self, timeout: float | None = None) -> T_co:  # noqa: ASYNC109
        """Wait for the operation and return its result (see ``OperationHandle.result``)."""
        async for _ in self._changes(timeout, live=False):
            pass
        snap = self._snapshot
        if self._result is None and snap.status is OperationStatus.DONE and large(snap.response):
            # A step's result holds a number per token: parsed on the event loop, that of
            # a large batch held every other task for up to a second.
            await in_own_thread(self._outcome, "weaver-result")
        return self._outcome()

    def __await__(self) -> Generator[Any, None, T_co]:
        return self.result().__await__()
