"""The API key out of a text: one rule for the facade's messages and the kit's reports,
whose spellings of it (``spelled``) the pytest plugin hides too; a URL's user info out of
what they show of it (``shown_url``); a credential kept out of what introspection shows
(``Secret``); a request's secrets (``secrets_of``) out of a value (``scrub``), a reply's
JSON body (``json_without_secrets``) and a traceback's frames (``sent_frames_dropped``).

A key at least ``ANYWHERE`` characters long is replaced wherever it appears; a shorter
(toy) key only where it stands alone, so that the key ``k`` leaves ``checkpoint``
intact, and a ``.`` after it ends a sentence (``unknown key k.``) unless a word goes
on (``k.json``).

A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast, final

import httpx

ANYWHERE = 8

T = TypeVar("T")


# A backslash that begins an escape, or such a one escaped again: doubled by a repr of a
# JSON text, tripled by a JSON text that quotes one (``\\\"``), up to seven (three deep).
_DEEPEST = 3
_ESCAPE = rf"\\{{1,{2**_DEEPEST - 1}}}"
# What follows it for the characters a JSON text or a repr escapes by name.
_NAMED = {
    '"': '"',
    "'": "'",
    "/": "/",
    "\b": "b",
    "\f": "f",
    "\n": "n",
    "\r": "r",
    "\t": "t",
}


def _forms(char: str) -> tuple[list[str], list[str]]:
    """Regexes of ``char`` in a text: those that begin as they are (``char``, percent-encoded
    as ``%C3%A9``, ``+`` for a blank, its UTF-8 read as Latin-1: ``Ã©``, as a server may
    decode Basic credentials), and what follows an escape's backslash in the others, as a
    JSON text or a repr writes them (``u00e9`` or ``u00E9``, ``xe9``, the UTF-8 bytes
    ``xc3\\xa9``, ``/`` of ``\\/``)."""
    code = ord(char)
    utf8 = char.encode("utf-8", "surrogatepass")
    units = [code] if code < 0x10000 else [0xD7C0 + (code >> 10), 0xDC00 + (code & 0x3FF)]
    plain = ["".join(f"%(?i:{byte:02x})" for byte in utf8)]
    escaped = [
        _ESCAPE.join(f"u(?i:{unit:04x})" for unit in units),
        _ESCAPE.join(f"x(?i:{byte:02x})" for byte in utf8),
    ]
    if not char.isascii():  # each byte read as Latin-1, as is or escaped (a repr's \xa0)
        rest = "".join(
            f"(?:{re.escape(chr(b))}|{_ESCAPE}(?:u(?i:{b:04x})|x(?i:{b:02x})))" for b in utf8[1:]
        )
        plain.append(re.escape(chr(utf8[0])) + rest)
        # First: Â and Ã are their own first byte, whose \u00c3 alone would end the place
        # before the rest (\u0083), shown after it.
        escaped.insert(0, f"u(?i:{utf8[0]:04x}){rest}")
    if code < 0x100:
        escaped.append(f"x(?i:{code:02x})")
    elif code >= 0x10000:
        escaped.append(f"U(?i:{code:08x})")
    if char in _NAMED:
        escaped.append(_NAMED[char])
    if char == " ":
        plain.append(r"\+")
    # As is last: a secret's last character in a form that begins with it (% as %25) must
    # be taken whole, or what follows it is shown (the 25).
    plain.append(re.escape(char))
    return plain, escaped


def _either(forms: list[str]) -> str:
    return f"(?:{'|'.join(dict.fromkeys(forms))})"


def _spellings(char: str) -> str:
    """A regex of ``char`` in any of its forms (``_forms``)."""
    plain, escaped = _forms(char)
    return _either([*plain, _ESCAPE + _either(escaped)])


def _backslashes(part: str) -> str:
    """A regex of a run of backslashes and the character after it, if any (``part``).

    The run as is, or doubled as often as escapes nest (a JSON text's or a repr's, a repr of
    such a text, a JSON text quoted in JSON: ``_ESCAPE``), the longest first so that the
    whole run is hidden; or each by its code. The run alike: each backslash looked for
    apart, in every count, tried every split of a text's run, exponential in its length.
    With the character after it, whose escape begins with a backslash too, a text's
    backslashes are counted once: the run and the escape looked for apart tried each split
    of them between the two in turn, for each run of the key, exponential in their number
    (2 s for a text of 22 runs of ``\\/`` short of the key at its end)."""
    run = len(part) - len(part.lstrip("\\"))
    coded_plain, coded_escaped = _forms("\\")
    coded = _either([*coded_plain[:-1], _ESCAPE + _either(coded_escaped)]) + f"{{{run}}}"
    counts = [run << depth for depth in range(_DEEPEST, -1, -1)]
    if run == len(part):
        return _either([*(rf"\\{{{n}}}" for n in counts), coded])
    plain, escaped = _forms(part[run:])
    after: dict[int, list[str]] = {}
    for n in counts:
        after.setdefault(n, []).extend(plain)
        for more in range(1, 2**_DEEPEST):  # the character's escape, as ``_ESCAPE``
            after.setdefault(n + more, []).extend(escaped)
    found = [rf"\\{{{n}}}{_either(after[n])}" for n in sorted(after, reverse=True)]
    return _either([*found, coded + _spellings(part[run:])])


@functools.lru_cache(maxsize=8)
def spelled(key: str) -> re.Pattern[str]:
    """The key in any spelling a text may carry it in: each of its characters as is, or
    as a JSON text (``ensure_ascii``, PHP's ``\\/``, Go's and .NET's escapes of ``&``,
    ``+``), a repr (of such a text too) or a URL writes it (``_spellings``); each run of
    its backslashes as one, with the character after it (``_backslashes``)."""
    parts = re.findall(r"\\+[^\\]?|[^\\]", key)
    return re.compile("".join(_backslashes(p) if p[0] == "\\" else _spellings(p) for p in parts))


def holds(text: str, secrets: Sequence[str]) -> bool:
    """Whether ``text`` holds one of ``secrets`` in any spelling (``spelled``). Without a
    backslash or a percent sign, with which every escape begins, a text spells a secret of
    ASCII characters but the blank (``+``) only as it is: looked for so, in a tenth of the
    regex's time (300 us for a page of 100 checkpoints: ``_wire`` asks of each reply)."""
    plain = "\\" not in text and "%" not in text
    return any(
        secret in text
        if plain and secret.isascii() and " " not in secret
        else spelled(secret).search(text) is not None
        for secret in secrets
    )


def places(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    """Where ``pattern`` is found in ``text``, its places that overlap (a key whose start
    repeats at its end: ``abcXabc`` in ``abcXabcXabc``) as one: ``re.sub`` and
    ``finditer`` go on from a place's end, and skip a place begun before it."""
    start = end = 0
    found = pattern.search(text)
    while found:
        at, stop = found.span()
        if at >= end:  # a new run of places
            if end:
                yield start, end
            start = at
        if stop > end:
            end = stop
        found = pattern.search(text, at + 1)
    if end:
        yield start, end


def hide(text: str, pattern: re.Pattern[str], placeholder: str) -> str:
    """``text`` with every place of ``pattern`` (``places``) as ``placeholder``."""
    shown: list[str] = []
    at = 0
    for start, end in places(pattern, text):
        shown += (text[at:start], placeholder)
        at = end
    return "".join(shown) + text[at:]


def replace_key(text: str, key: str, placeholder: str) -> str:
    """``text`` with ``key``, in each of its spellings (``spelled``), replaced by
    ``placeholder``, by the rule above."""
    if not holds(text, [key]):  # a text without an escape is looked at by `in`, at once
        return text
    found = spelled(key)
    if len(key) < ANYWHERE:
        alone = rf"(?<![A-Za-z0-9_.-])(?:{found.pattern})(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_-])"
        found = re.compile(alone)
    return hide(text, found, placeholder)


def credentials(authorization: str | None) -> list[str]:
    """The secrets of an ``Authorization`` header's value, which a server may echo: its
    token, and for Basic (a URL's user info, as httpx sends it: UTF-8) ``user:password``
    and each half, either of which may be the secret (``shown_url``)."""
    token = (authorization or "").partition(" ")[2].strip()
    if not token:
        return []
    found = [token]
    if authorization and authorization.lower().startswith("basic "):
        try:
            sent = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return found
        try:
            pair = sent.decode("utf-8")
        except UnicodeDecodeError:  # another client's Basic, in Latin-1
            pair = sent.decode("latin-1")
        user, _, password = pair.partition(":")
        found += [pair, *filter(None, [user, password])]
    return found


def basic(url: httpx.URL) -> str | None:
    """The ``Authorization`` value of ``url``'s user info, as httpx makes it (UTF-8), or
    None: an empty one (``http://:@host``) is none. Sent so, not in the URL, which httpx
    logs (``HTTP Request: GET http://user:password@host/...``) and shows."""
    if not (url.username or url.password):
        return None
    return "Basic " + base64.b64encode(f"{url.username}:{url.password}".encode()).decode()


def shown_url(url: str | httpx.URL) -> str:
    """``url`` for reprs, messages and logs, its user info (``user:password@``) shown as
    ``***@``: httpx sends it as Basic auth, and either half may be the secret (a lone
    ``http://TOKEN@proxy``, GitHub's ``TOKEN:x-oauth-basic``, GitLab's ``oauth2:TOKEN``)."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username="***", password=None))
    return str(url)


@final
class Secret:
    """A credential (the API key, a base URL with user info), shown as ``shown`` by
    ``repr`` and ``str``. Its value is not an attribute but kept in ``_REVEALED``, so that
    ``vars()``, a debugger, ``rich.inspect`` or ``attrs.asdict``, walking down from the
    object that holds it, never come to it."""

    __slots__ = ("__weakref__", "shown")

    def __init__(self, value: str, shown: str = "<redacted>") -> None:
        self.shown = shown
        _REVEALED[self] = value

    def reveal(self) -> str:
        return _REVEALED[self]

    def __repr__(self) -> str:
        return self.shown

    __str__ = __repr__


_REVEALED: weakref.WeakKeyDictionary[Secret, str] = weakref.WeakKeyDictionary()


# -- a request's secrets, out of the values and tracebacks that may show them ----------

API_KEY_HEADER = "X-WEAVER-API-KEY"
REDACTED = "[redacted]"
# Set on a request by the retry transport as httpcore sends it (its trace): the secret
# headers (``secret_headers``) that went out for it but that it may not hold, which a
# reply or a failure may echo all the same: the auth of a user's client, or a copy of
# the request that a transport of the user's sent.
SENT_SECRETS = "weaver_facade.sent_secrets"

# The headers whose values are secrets: an API key's, and those whose credentials
# ``credentials`` takes apart (a proxy URL's user info goes as Proxy-Authorization, on a
# CONNECT or a plain http request, and a proxy may echo it as a server may).
_KEY_HEADERS = frozenset({API_KEY_HEADER.lower(), "api-key", "x-api-key"})
_AUTHORIZATIONS = frozenset({"authorization", "proxy-authorization"})
SECRET_HEADER_NAMES = _KEY_HEADERS | _AUTHORIZATIONS


def secret_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    """Those of ``headers`` (httpcore's, as sent) whose values are secrets, for
    ``SENT_SECRETS``."""
    found = []
    for name, value in headers:
        lowered = name.decode("latin-1").lower()
        if lowered in SECRET_HEADER_NAMES:
            try:
                found.append((lowered, value.decode("utf-8")))
            except UnicodeDecodeError:
                found.append((lowered, value.decode("latin-1")))
    return tuple(found)


def _secret_values(request: httpx.Request) -> Iterator[tuple[str, str]]:
    """The secret headers of ``request``, and those sent for it (``SENT_SECRETS``)."""
    for name, value in request.headers.multi_items():
        if name.lower() in SECRET_HEADER_NAMES:
            yield name.lower(), value
    sent = request.extensions.get(SENT_SECRETS)
    yield from sent if isinstance(sent, tuple) else ()


def _authorization_secrets(value: str) -> list[str]:
    # A value with no scheme (``Authorization: TOKEN``) is the token itself.
    return credentials(value) or ([value.strip()] if value.strip() else [])


def secrets_of(request: httpx.Request | None) -> tuple[str, ...]:
    """What ``request`` carried that its reply or error may echo: the API key, and the
    credentials of its ``Authorization`` (a base URL's user info, sent as Basic) and
    ``Proxy-Authorization``; and so of the headers sent for it that it does not hold
    (``SENT_SECRETS``)."""
    if request is None:
        return ()
    found: list[str] = []
    for name, value in _secret_values(request):
        found += _authorization_secrets(value) if name in _AUTHORIZATIONS else [value]
    return tuple(dict.fromkeys(filter(None, found)))


# The request this thread or task is sending, and what stands for its secrets
# (``secrets_of``, read as each record comes: what httpcore sends for it is added as it
# goes) in httpx's and httpcore's records of it, set for the block that sends it (with
# ``_interrupt.context_set``). httpcore logs each reply's headers at DEBUG
# ("receive_response_headers.complete"), where a server may echo the key or credentials
# (an ``X-Request-ID`` built from the request's headers, a ``Location``), and a user's
# httpx client each reply's reason phrase at INFO.
SENDING: contextvars.ContextVar[tuple[httpx.Request, str] | None] = contextvars.ContextVar(
    "weaver_facade_sending", default=None
)
HTTPCORE_LOGGERS = ("httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.connection")


def _scrub_record(record: logging.LogRecord) -> bool:
    if (sent := SENDING.get()) is not None and (secrets := secrets_of(sent[0])):
        message = shown = record.getMessage()
        for secret in sorted(secrets, key=len, reverse=True):  # one inside another: it first
            shown = replace_key(shown, secret, sent[1])
        if shown != message:
            record.msg, record.args = shown, ()
    return True


for _name in (*HTTPCORE_LOGGERS, "httpx"):
    logging.getLogger(_name).addFilter(_scrub_record)  # filters are a set: added once


def json_without_secrets(response: httpx.Response, request: httpx.Request) -> Any:
    """``response``'s JSON body without ``request``'s API key (an operation's error message
    may echo it), nor its other credentials (``secrets_of``); ``None`` for a body that does
    not contain them (or is not JSON), which stays as it is."""
    secrets = secrets_of(request)
    content = response.content
    # JSON may escape any character of a string (``\"``, ``\/``, ``\u0073``), and escape
    # the escapes of a string that is JSON text itself: a body with an escape is parsed.
    # Read as the parser reads it: UTF-8, or UTF-16 or UTF-32 by its first bytes.
    if not secrets or (
        b"\\" not in content
        and not holds(content.decode(json.detect_encoding(content), "replace"), secrets)
    ):
        return None
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return None  # not JSON: the parser's error quotes it scrubbed
    # Parsed for an escape, it mostly holds none of them either: kept so, not rebuilt
    # string by string (milliseconds for a page of 100, each reply).
    if not holds("\0".join(_strings(data)), secrets):
        return None
    # A short (toy) key may be a word of the data itself, such as a checkpoint named
    # `secret`, and so may the base URL's user name or password, which a server may name
    # things after (its account): ids, names and paths keep them (rewritten, they would
    # name nothing).
    user_info = [
        half
        for name, value in _secret_values(request)
        if name in _AUTHORIZATIONS
        for half in credentials(value)[1:]  # a Basic credential's halves
    ]
    anywhere = [s for s in secrets if len(s) >= ANYWHERE and s not in user_info]
    named = [secret for secret in secrets if secret not in anywhere]
    scrubbed = scrub(data, anywhere)
    scrubbed = _scrub_text(scrubbed, named) if named else scrubbed
    return None if scrubbed == data else scrubbed


def _scrub_text(value: Any, secrets: Sequence[str]) -> Any:
    """``scrub`` but for the strings of the fields that name something (see
    ``json_without_secrets``)."""

    def text(found: str, field: str) -> str:
        named = field in ("id", "name", "path", "uri", "base_model") or field.endswith("_id")
        return found if named else scrub(found, secrets)

    return _rebuilt(value, text, lambda key: key)


def _strings(value: Any) -> Iterator[str]:
    """Every string of ``value`` (JSON-like), mapping keys too; a loop, as ``_rebuilt``."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            todo += item


def _rebuilt(value: Any, text: Callable[[str, str], str], key: Callable[[Any], Any]) -> Any:
    """``value`` (JSON-like) with each string ``s`` replaced by ``text(s, field)``, ``field``
    the mapping key it is under, and each mapping key ``k`` by ``key(k)``. A loop, not a
    recursion: a reply may nest deeper than the stack goes (JSON parses it in C), and each
    frame of a recursion held the key, which a traceback's locals show."""

    def fresh(item: Any, field: str) -> Any:
        if isinstance(item, str):
            return text(item, field)
        if isinstance(item, Mapping | list):
            made: dict[Any, Any] | list[Any] = {} if isinstance(item, Mapping) else []
            todo.append((item, made, field))
            return made
        return item

    todo: list[tuple[Mapping[Any, Any] | list[Any], dict[Any, Any] | list[Any], str]] = []
    result = fresh(value, "")
    while todo:
        source, made, field = todo.pop()
        if isinstance(made, dict):
            for k, v in cast("Mapping[Any, Any]", source).items():
                made[key(k)] = fresh(v, str(k))
        else:
            made.extend(fresh(v, field) for v in source)
    return result


def sent_frames_dropped(exc: BaseException) -> None:
    """``exc`` without the frames it came through below the facade's own: httpx's and
    httpcore's hold the request's headers in their locals (a proxy's connection: the key and
    ``Proxy-Authorization``, or a CONNECT's), which pytest -l, rich and error trackers show.
    Cut in place, as a ``with`` block gives the traceback back to what it re-raises."""
    tb = exc.__traceback__
    if tb is None or not _facade_frame(tb):
        exc.__traceback__ = None
        return
    while tb.tb_next is not None and _facade_frame(tb.tb_next):
        tb = tb.tb_next
    tb.tb_next = None


def _facade_frame(tb: TracebackType) -> bool:
    return str(tb.tb_frame.f_globals.get("__name__")).startswith(f"{__package__}.")


def scrub(value: T, secret: str | Sequence[str] | None) -> T:
    """Replace the API key (or each of ``secret``'s, ``secrets_of``) in a string or
    JSON-like structure (its mapping keys too)."""
    secrets = [secret] if isinstance(secret, str) else [s for s in secret or () if s]
    if not any(secrets):
        return value

    def text(found: str, field: str = "") -> str:
        for each in secrets:
            found = replace_key(found, each, REDACTED)
        return found

    return cast(T, _rebuilt(value, text, lambda key: text(key) if isinstance(key, str) else key))
