"""The options of the command lines (``weaver-facade``'s, the emulator's, the kit's): help
text wrapped at spaces only, numbers in ASCII digits alone with their range in words, a
folder left to the command to check, and a ``Context`` whose usage errors name their command.
A shared leaf: it imports nothing of the facade.

click wraps with ``textwrap``, which also breaks a word after a hyphen: ``weaver-facade
supported-`` / ``models``, ``cursor-`` / ``paging``, commands and names that a reader copies
whole. click passes no ``break_on_hyphens``; while it wraps, each hyphen is a character that
``textwrap`` does not break at, and it is a hyphen again once written.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import click

_HYPHEN = "\ue000"  # of the private use area: in no help text, and one column, as "-"


def _held(text: str) -> str:
    return text.replace("-", _HYPHEN)


class HelpFormatter(click.HelpFormatter):
    """click's formatter, which breaks no word at its hyphens."""

    def write(self, string: str) -> None:
        super().write(string.replace(_HYPHEN, "-"))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(_held(prog), _held(args), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(_held(text))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(_held(a), _held(b)) for a, b in rows], col_max, col_spacing)


class Context(click.Context):
    """click's context, whose help breaks no word at its hyphens, and whose usage error
    raised while parsing names the command, so that its line can point to the command's
    ``--help``: click's parser raises an option's missing value (``--model`` last)
    without it, and the pointer was left out."""

    formatter_class = HelpFormatter

    @contextlib.contextmanager
    def scope(self, cleanup: bool = True) -> Iterator[click.Context]:
        try:
            with super().scope(cleanup) as ctx:
                yield ctx
        except click.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = self
            raise


def range_words(kind: click.IntRange | click.FloatRange) -> str:
    """``kind``'s range in words (``from 1 to 64``, ``greater than 0``), after a space;
    click's own were ``is not in the range 1<=x<=64.``."""
    low, high = kind.min, kind.max
    if low is not None and high is not None and not (kind.min_open or kind.max_open):
        return f" from {low} to {high}"
    words = []
    if low is not None:
        words.append(f"{'greater than' if kind.min_open else 'at least'} {low}")
    if high is not None:
        words.append(f"{'less than' if kind.max_open else 'at most'} {high}")
    return f" {' and '.join(words)}" if words else ""


# An option given as "" (`--api-key "$UNSET"`): no value and no fallback to the variable,
# which it stands in for; the commands refuse it in these words.
EMPTY_BASE_URL = (
    "--base-url is empty: give the server root, such as http://127.0.0.1:8080, "
    "or leave the option out to use WEAVER_BASE_URL"
)
EMPTY_API_KEY = (
    "--api-key is empty: give the API key, or leave the option out to use WEAVER_API_KEY"
)
# A folder given as "" (`-o "$UNSET"`), which every command refuses, not taking it for here.
EMPTY_FOLDER = "an empty path is no folder; give . for this one"


def in_digits(value: object) -> bool:
    """Whether ``value``, a number as given, is one the options take: Python's ``int()``
    and ``float()`` also read ``6_0`` and other scripts' digits (``\u0666\u0660``) as 60."""
    return not isinstance(value, str) or (value.isascii() and "_" not in value)


def not_in_digits(value: object, number: str) -> str:
    """The refusal of ``value``, not ``in_digits``, as ``number`` (``"a whole number"``)."""
    return f"{value!r} is not {number} in digits 0-9"


class WholeNumber(click.IntRange):
    """``click.IntRange``, in ASCII digits only (``in_digits``), refused and shown in
    ``--help`` in words."""

    def _describe_range(self) -> str:  # click's `[1<=x<=64]`, and `[x<=None]` unbounded
        return range_words(self).strip()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not in_digits(value):
            self.fail(not_in_digits(value, "a whole number"), param, ctx)
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a whole number{range_words(self)}", param, ctx)


# The longest time in seconds an option takes: a socket's timeout or a timer refuses one
# of some 9.2e9 s (a platform's time_t, in nanoseconds), and a run adds to it.
MOST_SECONDS = 365 * 24 * 3600


def seconds_limit(seconds: float) -> str | None:
    """What an option's ``seconds`` must be that they are not (words after "must be"), or
    ``None``: finite, and at most ``MOST_SECONDS``; no socket timeout or timer takes more."""
    if isinstance(seconds, float) and not math.isfinite(seconds):  # an int is finite
        return "a finite number of seconds"
    if seconds > MOST_SECONDS:
        return f"at most {MOST_SECONDS} seconds (a year)"
    return None


class Seconds(click.FloatRange):
    """``click.FloatRange`` of seconds, in ASCII digits only, refused and shown in ``--help``
    in words; NaN, which passes every range check, is refused too, and so are seconds past
    ``seconds_limit``."""

    def _range(self) -> str:
        """``range_words``, and the longest time taken, which --help states as well."""
        if self.max is not None:
            return range_words(self)
        return f"{range_words(self)}{' and' if self.min is not None else ''} at most " + (
            f"{MOST_SECONDS} (a year)"
        )

    def _describe_range(self) -> str:  # click's `[x>0]`
        return self._range().strip()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not in_digits(value):
            self.fail(not_in_digits(value, "a number of seconds"), param, ctx)
        try:
            seconds = super().convert(value, param, ctx)
            if seconds != seconds:  # a wait of NaN seconds ended at once
                raise ValueError(value)
        except (TypeError, ValueError, click.BadParameter):  # click's: "not a valid float range"
            self.fail(f"{value!r} is not a number of seconds{self._range()}", param, ctx)
        limit = seconds_limit(seconds)
        if limit is not None:
            self.fail(f"{value!r} must be {limit}", param, ctx)
        return seconds


class Folder(click.Path):
    """A folder option's type: a folder to the shell's completion, checked by the command in
    its own words (click's said ``Directory 'X' is a file.``); an empty path is refused."""

    def __init__(self, path_type: type[Any] | None = None) -> None:
        super().__init__(file_okay=False, path_type=path_type)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        # An unset variable (`-o "$OUT"`, `--data-dir "$DIR"`) is no folder; taken as the
        # current one, a download's files replaced the user's of the same names
        # (config.json, ...), and the emulator kept its state there after exit.
        if value == "":
            self.fail(EMPTY_FOLDER, param, ctx)
        return self.coerce_path_result(value)
