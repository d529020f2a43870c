"""Checks of plain arguments (flags, counts, seconds, choices, ids, keys, types, callables,
keywords), worded once.

Each returns the value it accepted or raises ``InvalidArgumentError`` before
any request (``check_keywords`` a ``TypeError``, as Python's own). ``bool`` is
refused where a number is expected: Python's ``True`` is an int, but
``page_size=True`` is a mistake.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import attrs
from weaver_client import limits

from ._errors import InvalidArgumentError
from ._lazy import asyncio

T = TypeVar("T")
N = TypeVar("N", int, float)

_RESOURCE_ID = re.compile(limits.RESOURCE_ID_PATTERN)
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def check_api_key(key: object) -> str:
    """A key an HTTP header can carry, without surrounding blanks. httpx and h11 refuse
    any other when the first request is built, quoting the key in their message; this
    one never shows it."""
    if not isinstance(key, str):
        message = (
            "api_key must be a str, or None for WEAVER_API_KEY; got a value of type "
            f"{type(key).__name__} (not shown)"
        )
    elif _PRINTABLE_ASCII.fullmatch(key := key.strip()) is None:
        message = (
            "api_key (or WEAVER_API_KEY) must be printable ASCII characters, as an HTTP "
            "header carries them; the key is not shown"
        )
    else:
        return key
    # Raised from a frame without the key: pytest's default traceback shows the arguments
    # of the frame that raised (``key = '...'``), and ``-l`` every frame's locals, in
    # which a key from WEAVER_API_KEY is then nowhere (a key given is in the callers').
    del key
    raise InvalidArgumentError(message)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return value


def check_callable(name: str, value: object, *, awaited: bool = False) -> None:
    """A function or ``None``: an async one when ``awaited``, else a plain one, since an
    async function only called would never run."""
    if value is None:
        return
    if not callable(value):
        raise InvalidArgumentError(f"{name} must be a function, or None; got {value!r}")
    if _is_async(value) != awaited:
        wanted = (
            "an async function: it is awaited"
            if awaited
            else "a plain function, not an async one: it is called, never awaited"
        )
        raise InvalidArgumentError(f"{name} must be {wanted}; got {value!r}")


def call_plain(name: str, function: Callable[[T], object], arg: T) -> None:
    """Call ``function``, a plain one as ``check_callable`` wants: one that returns a
    coroutine or another awaitable (a lambda around an async function, an HTTP library's
    ``session.post(...)``, or one set where no check ran) is refused, a coroutine closed,
    since nothing here would ever await it. A task or future it returns is work it
    scheduled itself (``asyncio.create_task(show(p))``)."""
    returned = function(arg)
    if inspect.isawaitable(returned) and not asyncio.isfuture(returned):
        if isinstance(returned, Coroutine):
            returned.close()  # else a "never awaited" warning too
        raise InvalidArgumentError(
            f"{name} must be a plain function, not an async one: it is called, never "
            f"awaited; it returned {returned!r}"
        )


def _is_async(value: Callable[..., object]) -> bool:
    # An object whose ``__call__`` is ``async def`` is one too, alone or in a partial;
    # ``iscoroutinefunction`` tells only of functions (and partials of them). A metaclass
    # may hide ``__call__`` from a lookup (the call itself takes the type's slot): such an
    # object is a plain one.
    if inspect.iscoroutinefunction(value):
        return True
    while isinstance(value, functools.partial):
        value = value.func
    try:
        call = type(value).__call__
    except AttributeError:
        return False
    return inspect.iscoroutinefunction(call)


def check_choice(name: str, value: object, allowed: Sequence[str], *, otherwise: str = "") -> str:
    """One of the strings ``allowed``; ``otherwise`` as for ``check_int``."""
    if value not in allowed:
        choices = ", ".join(map(repr, allowed))
        raise InvalidArgumentError(f"{name} must be one of {choices}{otherwise}; got {value!r}")
    return str(value)


def check_id(what: str, value: object, error: type[ValueError] = InvalidArgumentError) -> str:
    """A model or operation id (the spec's resource id pattern and length, which the
    spec states apart: either may change alone)."""
    most = limits.RESOURCE_ID_MAX_LENGTH
    if not isinstance(value, str):
        # A TrainingClient, a ModelInfo or a handle passed whole: name the attribute
        # that holds the id, rather than the rule of a text it cannot meet.
        held = ("model_id", "id") if what == "model_id" else ("id",)
        hint = next(
            (
                f": pass its .{a} ({v!r})"
                for a in held
                if isinstance(v := getattr(value, a, None), str)
            ),
            "",
        )
        raise error(f"{what} must be a str, got {type(value).__name__}{hint}")
    if len(value) > most:
        raise error(f"{what} is {len(value)} characters long; at most {most} are allowed")
    if not _RESOURCE_ID.fullmatch(value):
        raise error(f"{what} {value!r} is not valid: it must be {limits.RESOURCE_ID_PATTERN_WORDS}")
    return value


def plain_number(value: object) -> object:
    """A number of another library (numpy's int64 or float32, say) as the ``int`` or
    ``float`` it stands for, which JSON can carry; anything else as it is, to be judged."""
    if isinstance(value, bool):
        return value  # refused as it is
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def check_int(
    name: str, value: object, low: int, high: int | None = None, *, otherwise: str = ""
) -> int:
    """An int from ``low`` to ``high`` (``None``: no upper bound); ``otherwise`` completes
    the message with what else the argument takes, such as ``", or None"``."""
    given, value = value, plain_number(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise InvalidArgumentError(f"{name} must be an int {bounds}{otherwise}; got {given!r}")
    return value


def check_seconds(
    name: str, value: object, *, otherwise: str = "", zero: bool = False, finite: bool = False
) -> float:
    """A number of seconds > 0 (>= 0 with ``zero``; not infinite with ``finite``, for
    what a socket or a thread waits: they refuse infinity)."""
    given, value = value, plain_number(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (value >= 0 if zero else value > 0)
        or (finite and not math.isfinite(value))
    ):
        number = "a finite number" if finite else "a number"
        least = ">= 0" if zero else "> 0"
        raise InvalidArgumentError(
            f"{name} must be {number} of seconds {least}{otherwise}; got {given!r}"
        )
    return float(value)


def check_keywords(call: str, given: Iterable[str], known: Sequence[str]) -> None:
    """Refuse a keyword argument ``call`` does not take with Python's ``TypeError``, but under
    the name the user wrote (not a private base class's) and with the one meant, if close."""
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"it takes {', '.join(known)}"
            raise TypeError(f"{call}() got an unexpected keyword argument {name!r}; {hint}")


def check_type(name: str, value: object, kinds: type | tuple[type, ...], what: str) -> None:
    """A value of one of ``kinds``; ``what`` names them for the message."""
    if not isinstance(value, kinds):
        raise InvalidArgumentError(f"{name} must be {what}; got {value!r}")


def bounded(
    default: N,
    least: float,
    *,
    above: bool = False,
    most: float | None = None,
    integer: bool = False,
) -> N:
    """An attrs field for a settings object's number: ``>= least`` (``> least`` with
    ``above``), ``<= most``, an int with ``integer``; the error names class and field.
    A number of another library is taken as the one it stands for, as ``check_int`` and
    ``check_seconds`` take it, and kept so (a plain repr and equality)."""

    def validate(instance: object, attribute: Any, value: object) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int if integer else int | float)
            or not (value > least if above else value >= least)
            or (most is not None and value > most)
        ):
            bound = f"{'>' if above else '>='} {least:g}" + (
                "" if most is None else f" and <= {most:g}"
            )
            raise InvalidArgumentError(
                f"{type(instance).__name__}: {attribute.name} must be "
                f"{'an int' if integer else 'a number'} {bound}; got {value!r}"
            )

    # Typed as the default, not as the converter's argument: __init__ keeps int or float.
    field: N = attrs.field(default=default, converter=plain_number, validator=validate)
    return field
