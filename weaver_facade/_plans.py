"""Plans: the I/O-free generators behind a call of more than one request
(DEVELOPERS.md, "Conventions").

A ``Plan`` yields steps and receives their outcomes: a ``Call`` (one request of the spec),
a ``Pause`` of the poll backoff, a ``Build`` of a request too large to build on an event
loop, an ``Exclusive`` plan, run holding a lock, or an operation to start and wait for
(``_io.Submission``). ``drive`` and ``adrive`` run a plan, handing each step to a shell's
``perform`` (``_io.SyncIO``, ``AsyncIO``), the only code that does the I/O; a step's error
is thrown into the plan at its ``yield``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, NamedTuple, Protocol, Self, TypeAlias, TypeVar, cast


class WireModel(Protocol):
    """What every generated model offers: ``from_dict``."""

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self: ...


M = TypeVar("M", bound=WireModel)
T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


Plan: TypeAlias = Generator[Any, Any, T]


class Call(NamedTuple, Generic[M]):
    """One request of the spec and how to read its successful reply.

    Attributes:
        op_id: The spec's operationId, used in every error message.
        request: ``httpx.Client.request`` keyword arguments from the generated client.
        parse: The generated module's ``_parse_response``.
        model: The generated model a success reply must parse into.
        on_its_way: For a request that changes something, what a Ctrl-C, a cancel or a
            close that cuts it, or the loss of every reply, tells (``_io._sending``):
            ``"the request ... was on its way: the server may ..."``.
        after_lost_reply: For a request that a server may not de-duplicate (a create),
            told of its success (``_io``): what it made, and how many of its attempts lost
            their reply (``EarlierAttempt.replies_lost``; 0 too, as the caller may know of
            others), for a WARNING of what those attempts may have made.
        lost_replies: For such a request, the note of a refusal after ``n`` attempts whose
            reply was lost (``None``), or of one that ended so (``"no reply came"``,
            ``"interrupted"``, ``"cancelled"``, ``"closed"``; a proxy's 502 or 504,
            ``"HTTP 502 came"``) after ``n`` lost replies, its last one's too (``_io``):
            what they may have made.
        retried: ``False`` for a look that only adds a hint to an error in hand: one
            attempt, whatever the client's retries, so that the error is not held up.
    """

    op_id: str
    request: Mapping[str, Any]
    parse: Callable[..., object]
    model: type[M]
    on_its_way: str | None = None
    after_lost_reply: Callable[[M, int], None] | None = None
    lost_replies: Callable[[int, str | None], str] | None = None
    retried: bool = True


class Pause(NamedTuple):
    """A plan's step: sleep the client's poll backoff after ``attempt`` looks
    (``PollPolicy.backoff``). Its outcome is ``False``, and nothing is slept, when the
    call's deadline leaves no time for the pause and a look after it."""

    attempt: int


class Build(NamedTuple, Generic[T]):
    """A plan's step: ``make()``, which builds a request too large to build on an event
    loop (``_wire.large``); the async shell runs it in a thread of its own. Its outcome is
    ``make()``'s."""

    make: Callable[[], T]


class Exclusive(NamedTuple, Generic[T]):
    """A plan's step: run ``plan`` holding ``lock`` (the shell's kind), one caller at a
    time; its outcome is the plan's result. A lock not taken within the call's deadline
    raises ``late(the seconds waited)``."""

    lock: Any
    plan: Plan[T]
    late: Callable[[float | None], Exception]


def drive(plan: Generator[S, Any, R], perform: Callable[[S], Any]) -> R:
    """Run a plan: give each step it yields to ``perform`` and send the outcome back, or
    throw the step's error into the plan at its ``yield`` (DEVELOPERS.md, "Conventions")."""
    try:
        step = next(plan)
        while True:
            try:
                outcome = [perform(step)]
            except Exception as exc:
                step = plan.throw(exc)
            else:
                # Handed on, not kept in a local: a traceback through here (-l, rich) showed
                # the reply the plan failed on, a download descriptor's presigned URLs too.
                step = plan.send(outcome.pop())
    except StopIteration as stop:
        return cast(R, stop.value)


async def adrive(plan: Generator[S, Any, R], perform: Callable[[S], Awaitable[Any]]) -> R:
    """``drive`` with an async ``perform``."""
    try:
        step = next(plan)
        while True:
            try:
                outcome = [await perform(step)]
            except Exception as exc:
                step = plan.throw(exc)
            else:
                step = plan.send(outcome.pop())  # as ``drive``
    except StopIteration as stop:
        return cast(R, stop.value)
