"""Downloading an artifact's files from presigned storage URLs: verified, resumable, fast.

The decisions (``check_names``, ``plan_local``, ``Transfer``, ``Downloads``) are free
of I/O; ``_Shell`` only sends (storage's GETs through ``_storage_http``, refreshes through
its ``refresh``), reads, writes and sleeps, for ``download_sync`` and ``download_async``
alike. What a user sees of it: README.md, ``download_weights``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import enum
import errno
import hashlib
import os
import queue
import random
import re
import stat
import sys
import threading
import time
import unicodedata
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import attrs
from weaver_client import limits

if sys.platform != "win32":
    import fcntl

from ._args import bounded, call_plain, plain_number
from ._causes import (
    causes,
    certificate_refused,
    plain_http,
    proxy_refusal,
    proxy_words,
    refused_tunnel,
)
from ._dest import mark_doing, shown_path, what_it_is
from ._errors import (
    ArtifactIntegrityError,
    DownloadTimeoutError,
    StorageError,
    UnsafeArtifactPathError,
    WeaverError,
    note_cli_words,
    running_loop,
)
from ._lazy import asyncio, in_own_thread
from ._logs import logger
from ._plural import counted
from ._retry import (
    describe_failure,
    full_jitter,
    parse_retry_after,
    storage_status_is_retryable,
    tunnel_refusal_is_retryable,
    wait_before_retry,
)
from ._storage_errors import SIGNATURE_HIDDEN, error_code, hide_signature, url_expired
from ._storage_http import FAILURES, Reply, StorageHTTP, UnfetchableURLError, route
from ._version import USER_AGENT

PART_SUFFIX = ".part"
# Bytes hashed at a time: of an existing prefix or finished file, and of written
# reads (four threads hashing each 64 KiB read hand the GIL over twice per read,
# a fifth more CPU in B6).
HASH_BLOCK = 1 << 20
# Bytes read from the network at a time, into one buffer per file and written
# before the next read: all that a crash can lose.
NETWORK_READ = 64 * 1024
_SHA256 = re.compile(limits.SHA256_PATTERN)
# A URL's query, which for storage holds the signature; up to a quote or the end.
_QUERY = re.compile(r"\?[^'\"]*")
_HIDDEN = f"?{SIGNATURE_HIDDEN}"


def _origin(url: str) -> str | None:
    """Where a presigned URL is fetched from (scheme, host, port), without its user info,
    path or query, which may carry its signature; ``None`` if it names no host."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + ("" if port is None else f":{port}")


# And every C0 control character: the spec's pattern refuses these, DEL among them.
_FORBIDDEN_CHARS = frozenset("\\:\0\x7f")
# What the spec allows but Windows cannot hold: these characters, and a device's name
# as a segment's, with or without an extension (``aux.txt`` is the device AUX).
_WINDOWS_FORBIDDEN_CHARS = frozenset('<>"|?*')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"}
)
_WINDOWS = sys.platform == "win32"
# Bytes in a name's segment that ext4, APFS and NTFS all hold (NAME_MAX on Linux).
_SEGMENT_BYTES = 255
# Bytes of an error reply read for storage's own error code (``_storage_errors``).
ERROR_BODY = 4096
# Seconds waited for each read of it: storage sends it with the headers, and a reply
# whose body does not come is acted on without it (a refresh, a retry), not held.
ERROR_BODY_WAIT = 2.0
# The content codings decoded (as httpx does), by zlib's wbits.
# ``identity`` is asked for, but an object stored encoded comes so from S3 and Azure.
_DECODED = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_OPEN_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
# How often a download waiting for another one into its folder looks again, in seconds.
_LOCK_POLL = 0.2
# flock's errors on a file system that has no locks (NFS without its lock daemon, Lustre
# mounted without ``flock``): a download goes on there unguarded, as on Windows.
_NO_LOCKS = frozenset({errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})
# The file systems (``st_dev``) said to take no locks: once in a process, not per download.
_SAID_NO_LOCKS: set[int] = set()


@attrs.frozen(kw_only=True)
class StorageFile:
    """One file of a download descriptor: where to fetch it and what it must be."""

    name: str
    size: int | None = None
    sha256: str | None = None
    url: str = attrs.field(repr=False)  # presigned: a credential until it expires
    url_expires_at: float | None = None  # seconds since the epoch


@attrs.frozen(kw_only=True)
class Descriptor:
    """What ``GET /artifacts/{id}/download`` says: the files and their URLs."""

    artifact_id: str
    kind: str
    files: tuple[StorageFile, ...]


class ArtifactKind(enum.StrEnum):
    """``HF_ADAPTER``: a LoRA adapter in PEFT layout; ``HF_MODEL``: full weights (for LoRA,
    the adapter merged into the base weights)."""

    HF_MODEL = "hf_model"
    HF_ADAPTER = "hf_adapter"


@attrs.frozen(kw_only=True)
class DownloadProgress:
    """What a download's ``progress`` callback receives, after every write: a new one each
    time, counting that download alone, and naming its artifact, so that two downloads at
    once may share one callback.

    Attributes:
        bytes_done: Bytes on disk so far (resumed prefixes and skipped files included).
        bytes_total: The sum of the files' sizes; ``None`` while a file whose size the
            server did not give is not yet in place (its size is then what was written).
        files_done: Files verified and in place (or skipped as already there).
        files_total: Files in the artifact.
        artifact_id: The artifact downloaded, as ``DownloadResult.artifact_id``; ``None``
            only in one made without it (a display's own test, say).
        kind: Its kind, as ``DownloadResult.kind``; ``None`` as ``artifact_id`` is.
    """

    bytes_done: int
    bytes_total: int | None
    files_done: int
    files_total: int
    artifact_id: uuid.UUID | None = None
    kind: ArtifactKind | None = None


@attrs.frozen(kw_only=True)
class DownloadSettings:
    """How a download behaves.

    Attributes:
        max_concurrency: Files fetched at once.
        verify: Check every file's sha256 (its size is always checked); a resumed
            ``.part``, and a file in place of a size not given, are checked all the same.
        timeout: The overall deadline in seconds, retries and waits included; ``None``: none.
        max_failures: Failed attempts since a file last received a byte (the attempt
            that received it counts, if it then fails) before the file is given up. The
            client's retry settings raise this, ``max_backoff`` and ``max_retry_after``
            where they are larger (``_artifacts.storage_retries``).
        initial_backoff: The cap of the first wait after a failure; it doubles per failure.
        max_backoff: The largest cap of a wait.
        max_retry_after: The longest ``Retry-After`` waited out; a longer one fails at once.
        refresh_margin: URLs expiring within this many seconds are refreshed before use.
        max_refreshes: Refreshes in a row, without progress, after which a 401/403 (or a
            400 saying the URL's token expired) is final.
        read_timeout: Seconds without a byte before a connection counts as dropped.
    """

    max_concurrency: int = bounded(4, 1, integer=True)
    verify: bool = True
    # A number of another library (numpy's) as the plain one, as ``bounded`` takes it.
    timeout: float | None = attrs.field(default=None, converter=plain_number)
    max_failures: int = bounded(8, 1, integer=True)
    initial_backoff: float = attrs.field(default=0.25, converter=plain_number)
    max_backoff: float = attrs.field(default=8.0, converter=plain_number)
    max_retry_after: float = attrs.field(default=120.0, converter=plain_number)
    refresh_margin: float = attrs.field(default=30.0, converter=plain_number)
    max_refreshes: int = attrs.field(default=3, converter=plain_number)
    read_timeout: float = attrs.field(default=60.0, converter=plain_number)


# -- names ---------------------------------------------------------------------------------


def _name_problem(name: str, windows: bool) -> str | None:
    if not name:
        return "is empty"
    if name.startswith("/"):
        return "is absolute"
    bad = sorted({c for c in name if c in _FORBIDDEN_CHARS or ord(c) < 0x20})
    if bad:
        return f"contains {', '.join(repr(c) for c in bad)}"
    if windows and (bad := sorted(set(name) & _WINDOWS_FORBIDDEN_CHARS)):
        return f"contains {', '.join(repr(c) for c in bad)}, which Windows refuses in a name"
    segments = name.split("/")
    for i, segment in enumerate(segments, 1):
        if segment == "":
            return "has an empty segment"
        if segment in (".", ".."):
            return f"has a {segment!r} segment"
        if segment[-1] in ". ":
            return f"has a segment ending in {'a dot' if segment[-1] == '.' else 'a space'}"
        if windows and segment.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
            return "is a device's name on Windows"
        size = len(segment.encode())
        part = PART_SUFFIX if i == len(segments) else ""  # the file's: its download's name
        if size + len(part) > _SEGMENT_BYTES:
            with_part = f" with the {part!r} it is downloaded to" if part else ""
            return (
                f"has a segment of {size} bytes, more{with_part} than the "
                f"{_SEGMENT_BYTES} a file system holds"
            )
    return None


def _same_file_key(name: str) -> str:
    """``name`` as a file system that ignores case (macOS, Windows) or Unicode
    normalization (macOS: the NFC and NFD spellings of "café" are one file) sees it."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def check_names(names: Sequence[str], *, windows: bool = _WINDOWS) -> list[PurePosixPath]:
    """The descriptor's names as relative paths, or ``UnsafeArtifactPathError``.

    Refuses absolute names, ``..``/``.``/empty segments, ``\\``, ``:``, C0 control
    characters and DEL, segments ending in a dot or a space, on Windows (``windows``)
    ``<>"|?*`` and devices' names (``CON``, ``aux.txt``), segments longer than a file
    system holds (255 bytes, 250 for the file's own: its ``.part``), duplicates (also
    by case and Unicode normalization, for the file systems that ignore them), a name
    that is another's directory, and a name that is, or lies inside, another's ``.part``.
    """
    seen: dict[str, str] = {}  # by case-folded, normalized name
    for name in names:
        problem = _name_problem(name, windows)
        if problem is not None:
            raise UnsafeArtifactPathError(f"file name {name!r} {problem}", name=name)
        key = _same_file_key(name)
        if key in seen:
            other = seen[key]
            as_other = "" if other == name else f" (as {other!r})"
            if other != name and unicodedata.normalize("NFC", other) == unicodedata.normalize(
                "NFC", name
            ):  # they look the same: the code points tell
                as_other = f" (as {other!a}, {name!a} in another Unicode normalization)"
            raise UnsafeArtifactPathError(
                f"file name {name!r} appears twice in the artifact{as_other}", name=name
            )
        seen[key] = name
    for name in seen:
        for parent in PurePosixPath(name).parents:
            if str(parent) in seen:  # the keys' parents are keys
                raise UnsafeArtifactPathError(
                    f"file name {seen[name]!r} lies inside {str(parent)!r}, another file",
                    name=seen[name],
                )
        # The name itself, or a folder of it (made before the other file's turn).
        for there in (name, *map(str, PurePosixPath(name).parents)):
            if there.endswith(PART_SUFFIX) and there[: -len(PART_SUFFIX)] in seen:
                where = "is" if there == name else f"lies inside {there!r},"
                raise UnsafeArtifactPathError(
                    f"file name {seen[name]!r} {where} where another file's partial download goes",
                    name=seen[name],
                )
    return [PurePosixPath(name) for name in seen.values()]


def sha256_problem(value: str | None) -> str | None:
    """Why ``value`` is no sha256 as the spec writes one (a wire rule), or ``None``."""
    if value is not None and not _SHA256.fullmatch(value):
        return f"{value!r} is not {limits.SHA256_PATTERN_WORDS}"
    return None


# -- what to do with a file, from what is on disk -------------------------------------------


class Skip(NamedTuple):
    """The final file is there with the right size, or one not given: skip it, once its
    hash matches if ``check``."""

    check: bool


class Resume(NamedTuple):
    """Continue ``<name>.part`` from ``offset`` (0: start it afresh)."""

    offset: int


def plan_local(
    file: StorageFile, final_size: int | None, part_size: int | None, *, verify: bool
) -> Skip | Resume:
    """Skip a finished file, resume a partial one, or start again.

    Sizes are ``None`` for a missing file. A file without a sha256 is never
    skipped nor resumed: nothing could tell it is complete, nor that a ``.part``
    (of an earlier export, say) holds its bytes. A file in place is hashed if
    ``verify``, and also without it when no size tells it is complete.
    """
    if file.sha256 is not None and final_size is not None and file.size in (None, final_size):
        return Skip(check=verify or file.size is None)
    if (
        file.sha256 is None
        or part_size is None
        or (file.size is not None and part_size > file.size)
    ):
        return Resume(0)
    return Resume(part_size)


# -- one file's transfer ---------------------------------------------------------------------


@attrs.frozen
class Fetch:
    url: str = attrs.field(repr=False)
    headers: dict[str, str]


class Wait(NamedTuple):
    seconds: float


class Refresh(NamedTuple):
    """Get fresh URLs; ``generation`` is that of the URL found stale."""

    generation: int


class Publish:
    """The file is complete and verified: move it into place."""


class Read(NamedTuple):
    """Read the body; truncate the ``.part`` first when ``restart``; decode it from
    ``decode`` (a content coding of ``_DECODED``) if given."""

    restart: bool = False
    decode: str | None = None


class Discard:
    """Close the reply unread and ask for the next step."""


class Transfer:
    """One file's download, without I/O.

    The shell asks ``next_step()``, performs it, and reports back: the status
    of each reply (``on_reply``), each chunk before it is written (``accept``),
    the written bytes to hash (``digest``, in order, all of them before
    ``on_end`` or ``on_failure``), the end of a body (``on_end``), a transport
    failure (``on_failure``) and a refreshed descriptor (``on_refreshed``).
    """

    def __init__(
        self,
        file: StorageFile,
        generation: int,
        offset: int,
        settings: DownloadSettings,
        *,
        deadline: float | None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        url_arrived: float | None = None,
        artifact_id: str | None = None,
    ) -> None:
        """``url_arrived``: when the descriptor holding ``file.url`` came (by
        ``wall_clock``); ``None``: now. ``artifact_id``: the artifact the file is of,
        which its log records name (downloads of several may run at once)."""
        self.file = file
        self._logged_as = (
            file.name if artifact_id is None else f"{file.name} of artifact {artifact_id}"
        )
        self.generation = generation
        self.settings = settings
        self.offset = offset
        self._kept = offset  # bytes of a .part an earlier run left, resumed
        # A resumed .part is checked even without ``verify``: only its hash can tell
        # that its bytes are this artifact's.
        checked = settings.verify or offset > 0
        self._hasher: Any = hashlib.sha256() if checked and file.sha256 else None
        self._deadline = deadline
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng
        self._failures = 0
        self._refreshes = 0  # after a 401/403
        self._pending_wait: float | None = None
        self._stale = False
        self._untried = False  # a URL just refreshed, not yet fetched
        self._complete = False
        self._ignore_range = False
        self._afresh = False  # the .part an earlier run left is not this file's: from 0
        self._requested = 0
        self._best = offset  # the furthest byte reached: only going past it is progress
        self._server_total: int | None = None
        self._range_end: int | None = None  # the byte after a 206's range
        self._last_problem = "no attempt had failed"
        self._last_status: int | None = None  # of the last reply; None after a failed one
        self._url_arrived = self._wall() if url_arrived is None else url_arrived

    # -- the prefix of a resumed file, hashed once -------------------------------------------
    @property
    def wants_prefix(self) -> bool:
        """Whether the bytes already in the ``.part`` must be fed to ``digest``."""
        return self._hasher is not None and self.offset > 0

    def digest(self, block: bytes | memoryview) -> None:
        """Hash bytes of the file, in order: its existing prefix, then what was written."""
        if self._hasher is not None:
            self._hasher.update(block)

    # -- steps ---------------------------------------------------------------------------------
    def next_step(self) -> Fetch | Wait | Refresh | Publish:
        if self._complete:
            return Publish()
        if self._pending_wait is not None:
            seconds, self._pending_wait = self._pending_wait, None
            self._check_time(seconds)
            return Wait(seconds)
        self._check_time(0.0)
        # A refreshed URL is tried before another refresh for expiry: with URLs that
        # live no longer than a refresh takes, that is one refresh per attempt, which
        # ``max_failures`` and the deadline bound.
        if self._stale or (self._expiring() and not self._untried):
            return Refresh(self.generation)
        self._untried = False
        ranged = self.offset > 0 and not (self._ignore_range or self._afresh)
        self._requested = self.offset if ranged else 0
        headers = {"Accept-Encoding": "identity"}
        if ranged:
            headers["Range"] = f"bytes={self.offset}-"
        return Fetch(self.file.url, headers)

    def _expiring(self) -> bool:
        # Refresh ahead of expiry, by the margin or a quarter of the URL's
        # lifetime if that is shorter; a URL that looked expired on arrival
        # (clock skew) is tried as it is: a 401/403 would refresh it. Arrival is
        # the descriptor's, not this transfer's start: a file queued behind others
        # may start after its URL expired.
        expires = self.file.url_expires_at
        if expires is None or expires <= self._url_arrived:
            return False
        margin = min(self.settings.refresh_margin, (expires - self._url_arrived) / 4)
        return expires - self._wall() < margin

    def on_refreshed(
        self, file: StorageFile, generation: int, arrived: float | None = None
    ) -> None:
        """Fresh URLs came (``arrived``: when, by the wall clock; ``None``: now), for the
        same file (``Downloads.refreshed`` refuses any other)."""
        if self._stale:  # a refresh ahead of expiry is no failure
            self._refreshes += 1
            if self._refreshes > self.settings.max_refreshes:
                raise self._storage_error(
                    f"{self.settings.max_refreshes} URL refreshes in a row without progress "
                    f"({self._last_problem})"
                )
        self.file = file
        self.generation = generation
        self._stale = False
        self._untried = True
        self._url_arrived = self._wall() if arrived is None else arrived

    def on_reply(
        self, status: int, headers: Mapping[str, str], error_body: bytes = b""
    ) -> Read | Discard:
        """Decide what to do with a reply's body from its status line and headers
        (``headers.get`` of lowercase names); of an error reply (400 and above), the
        start of its body (``ERROR_BODY`` bytes at most), which may name storage's code."""
        asked = self._requested
        self._last_status = status
        start, end, total = _content_range(headers.get("content-range"))
        self._server_total = total
        self._range_end = None
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        if status in (200, 206) and encoding not in ("identity", *_DECODED):
            raise self._storage_error(
                f"storage sent the file encoded (Content-Encoding: {encoding}), "
                "which this client cannot decode"
            )
        encoded = status in (200, 206) and encoding != "identity"
        if encoded:
            # A Range counts the encoded bytes, of which those on disk say nothing: every
            # attempt fetches the whole file, whose lengths are the encoded ones too.
            self._ignore_range = True
            self._server_total = None
        if status == 200:
            if not encoded:
                self._server_total = _int_or_none(headers.get("content-length"))
            # From byte 0: a server that ignored Range makes us start again.
            return Read(restart=self.offset > 0, decode=encoding if encoded else None)
        if status == 206:
            if encoded:
                return self._fail(f"HTTP 206 of the file encoded ({encoding})")
            if start == asked:  # a 206 to a request without Range starts a file over too
                self._range_end = None if end is None else end + 1
                return Read(restart=self.offset > asked)
            self._ignore_range = True
            return self._fail(f"HTTP 206 from byte {start}, not {asked}")
        if status == 416 and asked > 0:
            # Every byte is here already (or a size mismatch); of a file of unknown size,
            # unless storage names a shorter one (a `.part` of another artifact's file).
            if asked in (self.file.size, total) or (self.file.size is None and total is None):
                self._finish()
                return Discard()
            self._afresh = True  # from byte 0, and Range again after it
            return self._fail(f"HTTP 416 at byte {asked} of {self.file.size or total}")
        code = error_code(error_body)
        what = f"HTTP {status}" + (f" ({code})" if code else "")
        if url_expired(status, code):
            self._last_problem = what
            self._stale = True
            logger.warning(
                "storage GET %s: %s, the URL has expired; retrying with a fresh one",
                self._logged_as,
                what,
            )
            return Discard()
        if storage_status_is_retryable(status):
            return self._fail(what, parse_retry_after(headers.get("retry-after")))
        raise self._storage_error(f"storage answered {what}")

    def restart(self) -> None:
        """The shell truncated the ``.part``: count from zero. Nothing of an earlier
        run's ``.part`` is left, so the file is checked only if ``verify``, as one
        fetched afresh."""
        self.offset = 0
        self._kept = 0
        self._afresh = False
        if self._hasher is not None:
            self._hasher = hashlib.sha256() if self.settings.verify else None

    def accept(self, chunk: bytes | memoryview) -> None:
        """A chunk is about to be written: count it, or refuse bytes past the size."""
        size = self.file.size
        if size is not None and self.offset + len(chunk) > size:
            raise self._size_mismatch("more", f"more than {size}")
        self._check_time(0.0)  # a stream making progress is bounded too
        self.offset += len(chunk)
        if self.offset > self._best:  # progress: the failure streak is over
            self._best = self.offset
            self._failures = 0
            self._refreshes = 0

    def on_end(self) -> None:
        """The body ended normally (or a clean close cut one whose length was not given:
        of a file of unknown size, then only a sha256 not matching yet can tell, and the
        rest is asked for; a coded body's own end tells, and a whole one is fetched)."""
        size = self.file.size
        hasher = None if self._ignore_range else self._hasher  # else no Range could resume
        # A 200 to a Range, as long as the body before it: storage served the file again.
        again = self._last_status == 200 and self.offset == self._requested > 0
        cut = hasher is not None and not again and hasher.hexdigest() != self.file.sha256
        if self.offset in (size, self._server_total) or (size is None and not cut):
            self._finish()  # complete, or storage holds another size: an integrity error
            return
        if self.offset == self._range_end and self.offset > self._requested:
            # A 206 of a slice of the rest (storage may serve an open range so), all of
            # it: no failure. Each has bytes (else a failure), so this ends.
            return
        of = "before its sha256 matched" if size is None else f"of {size}"
        self._fail(f"the body ended at byte {self.offset} {of}")

    def on_failure(self, error: Exception) -> None:
        """The connection failed or dropped: resume from ``offset`` after a wait."""
        hide_signature(error, self.file.url)
        text = _QUERY.sub(_HIDDEN, str(error))  # it may quote a presigned URL
        problem = f"{type(error).__name__}: {text}" if text else type(error).__name__
        # The API answered: say which host did not.
        where = f", from storage at {origin}" if (origin := _origin(self.file.url)) else ""
        problem += where
        # A reply came before (a body cut): its TLS had passed the handshake, which a
        # plain-HTTP server fails; a record broken since (a bad MAC) is retried.
        replied, self._last_status = self._last_status is not None, None
        if isinstance(error, UnfetchableURLError):  # no retry can change it
            raise self._storage_error(problem)
        way = route(error)  # the proxy httpx went through, if any
        proxy = None if way is None else way.proxy
        status = proxy_refusal(error)
        if status is not None and not tunnel_refusal_is_retryable(status):  # nor this (a 403)
            raise self._storage_error(problem + refused_tunnel(proxy))
        # Whose connection failed, the proxy's or storage's, as an API call's error says. Not
        # the facade's hint for plain HTTP: the URL is the API's, not the user's to change.
        through = proxy_words(
            error,
            proxy,
            tunnelled=way is not None and way.tunnelled,
            refused=False,
            plain_hint="" if replied else " (storage speaks plain HTTP at this https:// URL)",
        )
        if certificate_refused(error):  # nor this
            raise self._storage_error(problem + (through or " (see SSL_CERT_FILE)"))
        if plain_http(error) and not replied:  # nor this
            raise self._storage_error(problem + through)
        # Its retry is logged in an API call's retry's words.
        said = _QUERY.sub(_HIDDEN, describe_failure(error))
        self._fail(problem + through, said=said + where + through)

    # -- internals -----------------------------------------------------------------------------
    def _finish(self) -> None:
        if self.file.size not in (None, self.offset):
            raise self._size_mismatch(str(self.offset))
        if self._hasher is not None:
            got = self._hasher.hexdigest()
            if got != self.file.sha256 and self._kept:
                # A .part an earlier download left (of another export, say): start over.
                logger.warning(
                    "storage GET %s: sha256 mismatch: the first %d bytes, of the %s an "
                    "earlier download left, are not this file's; fetching it afresh",
                    self._logged_as,
                    self._kept,
                    PART_SUFFIX,
                )
                self._afresh = True
                return
            if got != self.file.sha256:
                raise ArtifactIntegrityError(
                    f"{self.file.name}: sha256 mismatch: expected {self.file.sha256}, "
                    f"received {got}",
                    name=self.file.name,
                    expected=str(self.file.sha256),
                    received=got,
                )
        self._complete = True

    def _size_mismatch(self, words: str, received: str | None = None) -> ArtifactIntegrityError:
        return ArtifactIntegrityError(
            f"{self.file.name}: size mismatch: expected {self.file.size} bytes, received {words}",
            name=self.file.name,
            expected=str(self.file.size),
            received=words if received is None else received,
        )

    def _fail(
        self, problem: str, retry_after: float | None = None, *, said: str | None = None
    ) -> Discard:
        """A failed attempt, for ``problem``: retried after a wait, or given up. ``said``:
        the retry's words of it, when shorter."""
        s = self.settings
        self._last_problem = problem
        self._failures += 1
        if self._failures > s.max_failures:
            raise self._storage_error(
                f"giving up after {self._failures} failed attempts in a row "
                f"({problem}); run it again to resume"
            )
        if retry_after is not None and retry_after > s.max_retry_after:
            raise self._storage_error(
                f"storage asks to wait {retry_after:.0f} s ({problem}); run it again then to resume"
            )
        backoff = full_jitter(self._failures - 1, s.initial_backoff, s.max_backoff, self._rng)
        wait = wait_before_retry(backoff, retry_after)
        self._check_time(wait)  # a retry the deadline cuts off is none: neither logged
        # One WARNING per retry, as for API requests; the name, never the presigned URL.
        logger.warning(
            "storage GET %s: %s; retrying in %.1f s (retry %d)",
            self._logged_as,
            problem if said is None else said,
            wait,
            self._failures,
        )
        self._pending_wait = wait
        return Discard()

    def _storage_error(self, problem: str) -> StorageError:
        return StorageError(
            f"{self.file.name}: {problem}",
            name=self.file.name,
            status_code=self._last_status,
        )

    def _check_time(self, wait: float) -> None:
        now = self._clock()
        if self._deadline is not None and now + wait > self._deadline:
            ends = (
                f"comes before the next attempt, in {wait:.1f} s,"
                if now < self._deadline and wait > 0
                else "passed"
            )
            raise DownloadTimeoutError(
                f"{self.file.name}: the download's deadline {ends} at byte {self.offset}"
                + ("" if self.file.size is None else f" of {self.file.size}")
                + f" ({self._last_problem}); run it again to resume",
                name=self.file.name,
            )


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """First byte, last byte and total of ``bytes 100-199/200`` (or ``bytes */200``; the
    unit in any case, RFC 9110 section 14.1)."""
    if not value or value[:6].lower() != "bytes ":
        return None, None, None
    span, _, total = value[6:].partition("/")
    first, _, last = span.partition("-")
    return _int_or_none(first), _int_or_none(last or None), _int_or_none(total)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- the whole download ----------------------------------------------------------------------


class Downloads:
    """The I/O-free state shared by a download's transfers.

    Holds the current descriptor (a refresh replaces it for every file; a
    URL found stale by several files is refreshed once), when its URLs came,
    the size of each file in place, and the progress.
    """

    def __init__(
        self,
        descriptor: Descriptor,
        settings: DownloadSettings,
        *,
        progress: Callable[[DownloadProgress], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,  # what ``url_expires_at`` is compared with
        rng: Callable[[], float] = random.random,  # the jitter of the transfers' waits
        artifact: tuple[uuid.UUID, ArtifactKind] | None = None,
    ) -> None:
        """``artifact``: the descriptor's id and kind as the caller types them, which each
        ``DownloadProgress`` names."""
        self.paths = check_names([f.name for f in descriptor.files])
        for f in descriptor.files:
            if (problem := sha256_problem(f.sha256)) is not None:
                raise ArtifactIntegrityError(
                    f"{f.name}: the descriptor's sha256 {problem}",
                    name=f.name,
                    expected=f.sha256,
                    received=None,
                )
        self.descriptor = descriptor
        self._files = {f.name: f for f in descriptor.files}  # of ``descriptor``, by name
        self.generation = 0
        self.settings = settings
        self._progress = progress
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng
        named: tuple[uuid.UUID | None, ArtifactKind | None] = artifact or (None, None)
        self._artifact_id, self._kind = named
        # When the descriptor's URLs came: it was fetched just before.
        self.urls_arrived = wall_clock()
        self.started = clock()
        self.deadline = None if settings.timeout is None else self.started + settings.timeout
        self.bytes_done = 0
        self.files_done = 0
        self.fetched = 0
        self.skipped = 0
        self.sizes: dict[str, int] = {}  # of the files in place, by name
        #: The files a refused refresh named in another version: their ``.part`` is stale.
        self.changed: set[str] = set()
        self._bytes_total = self._total()  # what progress reports, kept up to date
        self._lock = threading.Lock()

    def refreshed(self, descriptor: Descriptor) -> None:
        """Take fresh URLs for every file; the files must be the same (names, sizes and
        sha256s), those in place and those still to fetch alike."""
        if {f.name for f in descriptor.files} != self._files.keys():
            raise ArtifactIntegrityError(
                f"artifact {self.descriptor.artifact_id} changed while downloading: "
                "its file list differs",
                name="",
                expected=", ".join(sorted(self._files)),
                received=", ".join(sorted(f.name for f in descriptor.files)),
            )
        pairs = [(self._files[new.name], new) for new in descriptor.files]
        changed = [
            (old, new) for old, new in pairs if (old.size, old.sha256) != (new.size, new.sha256)
        ]
        if changed:
            with self._lock:
                self.changed.update(old.name for old, _ in changed)
            old, new = changed[0]
            raise ArtifactIntegrityError(
                f"{old.name}: the artifact changed while downloading (size {old.size} -> "
                f"{new.size}, sha256 {old.sha256} -> {new.sha256})",
                name=old.name,
                expected=str(old.sha256 or old.size),
                received=str(new.sha256 or new.size),
            )
        arrived = self.wall_clock()
        with self._lock:
            self.descriptor = descriptor
            self._files = {f.name: f for f in descriptor.files}
            self.generation += 1
            self.urls_arrived = arrived
            self._bytes_total = self._total()

    def current(self, name: str) -> tuple[StorageFile, int, float]:
        """The file ``name`` of the current descriptor, its generation, and when its
        URL came (by the wall clock)."""
        with self._lock:
            return self._files[name], self.generation, self.urls_arrived

    @property
    def complete(self) -> bool:
        """Every file verified and in place."""
        return self.files_done == len(self.descriptor.files)

    @property
    def verified(self) -> bool:
        return self.settings.verify and all(f.sha256 is not None for f in self.descriptor.files)

    def add(self, nbytes: int, *, fetched: int = 0) -> None:
        """Count bytes on disk (negative after a restart)."""
        with self._lock:
            self.bytes_done += nbytes
            self.fetched += fetched
            self._report()

    def placed(self, name: str, size: int, *, skipped: bool = False) -> None:
        """The file ``name`` is in place, ``size`` bytes: verified, or ``skipped`` (already
        there, its bytes not counted yet)."""
        with self._lock:
            self.sizes[name] = size
            self.files_done += 1
            if skipped:
                self.bytes_done += size
                self.skipped += 1
            if self._files[name].size != size:  # else the total counted it already
                self._bytes_total = self._total()
            self._report()

    def _total(self) -> int | None:
        # A file the server gave no size counts once it is in place, with its size on disk.
        sizes = [self.sizes.get(f.name, f.size) for f in self.descriptor.files]
        return None if None in sizes else sum(n or 0 for n in sizes)

    def _report(self) -> None:
        if self._progress is not None:
            try:
                call_plain(
                    "progress",
                    self._progress,
                    DownloadProgress(
                        bytes_done=self.bytes_done,
                        bytes_total=self._bytes_total,
                        files_done=self.files_done,
                        files_total=len(self.descriptor.files),
                        artifact_id=self._artifact_id,
                        kind=self._kind,
                    ),
                )
            except Exception as exc:
                # Its own error, not the download's: say what it stopped and what stays.
                exc.add_note(
                    "raised by progress: the download stopped; its finished files and "
                    ".part files stay: run it again to resume"
                )
                raise


# -- local files (the shell's blocking I/O) ---------------------------------------------------


def _lsize(path: Path, of: PurePosixPath | None = None) -> int | None:
    """The size of a regular file at ``path``, or with ``of``, of a folder of the file
    ``of``; ``None`` if absent. Anything else there (a symlink, say) is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not (stat.S_ISREG if of is None else stat.S_ISDIR)(st.st_mode):
        way = "the way" if of is None else f"the way of {of}"
        raise UnsafeArtifactPathError(
            f"{shown_path(path)} is in {way}: it is {what_it_is(path, st.st_mode)}",
            name=str(of or path),
        )
    return st.st_size


def prepare_dest(dest: Path, paths: Sequence[PurePosixPath]) -> list[Path]:
    """Create ``dest`` and return the folders made for it, parents first (the files'
    folders are made in the download's turn: ``_Shell``).
    A path with its ``.part`` longer than the system holds, a symlink, or anything but a
    folder, in the way of a folder, or anything but a regular file in the way of a file or
    its ``.part``, is refused first, before anything is made or written; so is a ``dest``
    that cannot be made or looked in."""
    # A folder without search permission, ``dest`` or one above it, hides what is in it.
    with _permitted(dest, dest):
        if sys.platform != "win32":  # PATH_MAX counts the NUL; Windows has no pathconf
            limit = os.pathconf(next(p for p in (dest, *dest.parents) if p.exists()), "PC_PATH_MAX")
            for rel in paths:
                size = len(os.fsencode(dest.joinpath(*rel.parts))) + len(PART_SUFFIX)
                if 0 < limit <= size:
                    raise UnsafeArtifactPathError(
                        f"file name {str(rel)!r} makes a path of {size} bytes with its "
                        f"{PART_SUFFIX!r}, more than the {limit - 1} the system holds",
                        name=str(rel),
                    )
        made = [p for p in (*reversed(dest.parents), dest) if not os.path.lexists(p)]
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            pass  # refused just below
        except OSError as exc:  # no permission, a read-only or pseudo file system (/proc)
            raise unwritable(exc.filename or dest, exc, str(dest)) from exc
        if not dest.is_dir():
            raise UnsafeArtifactPathError(f"{shown_path(dest)} is not a directory", name=str(dest))
        for rel in paths:
            here = dest
            for part in rel.parts[:-1]:
                here = here / part
                if _lsize(here, rel) is None:
                    break  # nothing below a missing folder exists
            else:
                final = dest.joinpath(*rel.parts)
                _lsize(final)
                _lsize(final.with_name(final.name + PART_SUFFIX))
    return made


def _same_folder(fd: int, path: Path) -> bool:
    """Whether the folder open as ``fd`` is still the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def unwritable(
    path: object, exc: OSError, name: str, *, doing: str = "write to"
) -> UnsafeArtifactPathError:
    """The error of a destination the system will not write in (``exc``), or do with as
    ``doing`` says (``read``)."""
    return UnsafeArtifactPathError(
        f"cannot {doing} {shown_path(path)}: {exc.strerror or exc}", name=name
    )


@contextlib.contextmanager
def _permitted(path: Path, name: Path, *, doing: str = "write to") -> Iterator[None]:
    """A folder that takes no files (no permission, a read-only mount) is the user's to
    fix, as one that cannot be made (``prepare_dest``); so is a file or a folder in it that
    cannot be read (``doing="read"``), said so. Another failure (a disk's ``EIO``) is
    raised as it is, marked with what failed (``mark_doing``)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            mark_doing(exc, path, doing)
            raise
        raise unwritable(path, exc, str(name), doing=doing) from exc


class _PartFile:
    """``<name>.part``: opened without following symlinks, appended to, published."""

    def __init__(self, final: Path, cancel: threading.Event) -> None:
        self.final = final
        self._cancel = cancel  # read_blocks stops for it: hashing takes about 1 s per GiB
        self.path = final.with_name(final.name + PART_SUFFIX)
        self._fd: int | None = None
        # Created or cut to nothing by this download: empty, it holds none of a user's
        # bytes, nor an earlier run's.
        self._ours = False

    def open(self, offset: int) -> int:
        """Open it at ``offset``; return the offset it is open at: 0 for one replaced."""
        with _permitted(self.path, self.final):
            try:
                self._fd = self._created()
            except FileExistsError:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | _OPEN_FLAGS, 0o644)
                # A hard link to a file elsewhere (a `cp -al` snapshot, one planted):
                # writing would change that file, whose bytes need not be this one's.
                if os.fstat(self._fd).st_nlink > 1:
                    logger.warning(
                        "%s: replacing it, a hard link to a file elsewhere, which writing "
                        "would change; fetching the file from its first byte",
                        shown_path(self.path),
                    )
                    self.close()
                    os.unlink(self.path)
                    try:
                        self._fd = self._created()
                    except FileExistsError:  # made again meanwhile: not by this download
                        raise UnsafeArtifactPathError(
                            f"{shown_path(self.path)} is in the way: another file took its place",
                            name=str(self.path),
                        ) from None
                    offset = 0
        # Only when there is something to cut: ext4 writes a file truncated to
        # 0 back to disk when it is closed (auto_da_alloc), ~0.3 s per 500 MB.
        if os.fstat(self._fd).st_size != offset:
            os.ftruncate(self._fd, offset)
            self._ours = self._ours or offset == 0
        os.lseek(self._fd, offset, os.SEEK_SET)
        return offset

    def _created(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o644)
        self._ours = True
        return fd

    def restart(self) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._ours = True

    def write(self, chunk: bytes | memoryview) -> None:
        # An unbuffered descriptor: what arrived is in the OS's hands at once.
        assert self._fd is not None
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:  # a full disk's names no file: this one
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc

    def read_blocks(self, path: Path) -> Iterable[bytes]:
        with _permitted(path, self.final, doing="read"):  # its reads too: an EIO
            fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
            try:
                while block := os.read(fd, HASH_BLOCK):
                    if self._cancel.is_set():
                        raise Cancelled
                    yield block
            finally:
                os.close(fd)

    def publish(self) -> None:
        # No fsync: a file that a crash left short or empty after the rename is
        # caught by the next run, which hashes a finished file before skipping it.
        self.close()
        os.replace(self.path, self.final)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def guard(self, name: str) -> Iterator[None]:
        """Close on the way out; a ``.part`` that failed verification (an integrity error
        of its file, ``name``) is deleted, so that a rerun fetches it afresh instead of
        resuming bad bytes, and so is an empty one this download created or emptied (a
        failure or a stop before its first byte), which holds nothing to resume."""
        try:
            yield
        except BaseException as exc:
            # Not another file's integrity error, nor the file list's.
            bad = isinstance(exc, ArtifactIntegrityError) and exc.name == name
            if bad or (self._ours and self._fd is not None and os.fstat(self._fd).st_size == 0):
                self.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            raise
        finally:
            self.close()


def _hash_file(part: _PartFile, path: Path) -> str:
    hasher = hashlib.sha256()
    for block in part.read_blocks(path):
        hasher.update(block)
    return hasher.hexdigest()


def _start(state: Downloads, name: str, part: _PartFile) -> Transfer | None:
    """Skip a finished file (``None``) or open its ``.part`` and make its transfer."""
    file, generation, url_arrived = state.current(name)
    final_size = _lsize(part.final)
    part_size = _lsize(part.path)
    action = plan_local(file, final_size, part_size, verify=state.settings.verify)
    if isinstance(action, Skip) and (
        not action.check or _hash_file(part, part.final) == file.sha256
    ):
        assert final_size is not None  # plan_local skips only a file in place
        state.placed(name, final_size, skipped=True)
        return None
    # Why a file in place is fetched again: it is not the artifact's (a Skip here: its
    # sha256 differs; else only a size given can tell), or nothing could tell (no size
    # or sha256 given, which every run of such a download meets: no warning).
    if final_size is not None and (isinstance(action, Skip) or file.size not in (None, final_size)):
        logger.warning(
            "%s: replacing the file there, which is not this artifact's "
            "(its size or sha256 differs)",
            part.final,
        )
    elif final_size is not None:
        missing = " or ".join(
            what for what, v in (("size", file.size), ("sha256", file.sha256)) if v is None
        )
        logger.info(
            "%s: fetching it again, replacing the file there: the server gives no %s "
            "to recognise it by",
            part.final,
            missing,
        )
    elif part_size and file.sha256 is None:
        # A rerun after an interruption resumes, as the README says, but not this .part.
        logger.info(
            "%s: fetching it from its first byte, not resuming %s: the server gives no "
            "sha256 to tell its bytes are this artifact's",
            part.final,
            part.path.name,
        )
    offset = part.open(action.offset if isinstance(action, Resume) else 0)
    transfer = Transfer(
        file,
        generation,
        offset,
        state.settings,
        deadline=state.deadline,
        clock=state.clock,
        wall_clock=state.wall_clock,
        rng=state.rng,
        url_arrived=url_arrived,
        artifact_id=state.descriptor.artifact_id,
    )
    if transfer.wants_prefix:
        for block in part.read_blocks(part.path):
            transfer.digest(block)
    state.add(offset)
    return transfer


class Cancelled(Exception):
    """Another transfer failed (or the user interrupted): stop this one."""


def _raise_first_error(futures: Iterable[concurrent.futures.Future[None]]) -> None:
    for future in futures:
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is not None and not isinstance(error, Cancelled):
                raise shown(error)


def shown(error: BaseException) -> BaseException:
    """A download's error as the caller's traceback shows it. The frames behind one of ours
    read a download descriptor (its URLs in the parsed JSON, the generated model), fetched
    a presigned URL or read storage's error reply (which may echo it): they hold it in their
    arguments, which pytest shows, and locals, which ``-l`` and rich show. None is kept,
    and the exceptions behind it lose a URL's query from their words (http.client's
    ``InvalidURL`` quotes it). Any other (a progress callback's) stays whole."""
    if isinstance(error, WeaverError):
        for each in causes(error):
            each.__traceback__ = None
            if each is not error:
                each.args = tuple(
                    _QUERY.sub(_HIDDEN, arg) if isinstance(arg, str) else arg for arg in each.args
                )
    return error


# -- the shell: one thread per file, blocking I/O ---------------------------------------------


class _Shell:
    """Threads, not tasks, also for ``download_async``: hashing, reading and writing
    release the GIL, so files stream on several cores, where one event-loop thread would
    do every byte itself, about twice as slow on two cores (B6)."""

    def __init__(
        self,
        state: Downloads,
        dest: Path,
        *,
        refresh: Callable[[], Descriptor],
        pause: Callable[[float], None] | None,
    ) -> None:
        #: The folders made for ``dest`` (``prepare_dest``), removed as the files' are.
        self._made = prepare_dest(dest, state.paths)
        self.state = state
        self.dest = dest
        self._refresh = refresh
        self._refresh_lock = threading.Lock()
        # Refreshes on their way (those the files' threads ask ``run``'s thread for, and
        # those ``download_async`` runs on the loop), which a stop or a Ctrl-C cancels:
        # else one held the stop back until the API answered (its read timeout). And the
        # futures of the files' threads as they end.
        self._asked: set[concurrent.futures.Future[Descriptor]] = set()
        self._events: queue.SimpleQueue[concurrent.futures.Future[Any]] = queue.SimpleQueue()
        self.cancel = threading.Event()
        self._pause: Callable[[float], object] = pause or self.cancel.wait
        self._http = StorageHTTP(user_agent=USER_AGENT, read_timeout=state.settings.read_timeout)
        #: Whether a download ended short left any of its files, or their ``.part``, in
        #: ``dest``: else a stop's note has nothing to say stays.
        self.left_files = False
        self._refresh_failure: Exception | None = None

    def run(self) -> None:
        """Fetch every file; the deadline stops them all, also when storage has gone
        silent: the transfers check it between reads, but a read may wait for the whole
        read timeout."""
        try:
            # Let go in this ``finally`` alone, which calls nothing before: a Ctrl-C as a
            # context manager's ``__exit__`` began kept it (see ``SyncIO.holding``).
            fd = self._alone_in_dest()
            try:
                with self._own_folders():
                    self._run()
            finally:
                if fd is not None:
                    os.close(fd)  # and with it the lock
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a full disk, or the user's quota
                exc.add_note(self._space_note())
            raise
        finally:
            self._http.close()
            if not self.state.complete:  # looked at in this thread: not on the event loop
                self.left_files = any(
                    os.path.lexists(p)
                    for f in self.state.descriptor.files
                    for p in (self.dest / f.name, self.dest / (f.name + PART_SUFFIX))
                )
                self._note_refresh_failure()

    def _note_refresh_failure(self) -> None:
        """Say on a refresh's failure that it stopped the download, and what stays."""
        failure = self._refresh_failure
        if failure is None:
            return
        said = "raised while refreshing the download's storage URLs: "
        if not self.left_files:
            failure.add_note(f"{said}the download stopped")
            return
        note = said + _stopped_note(self.dest)
        failure.add_note(note)
        note_cli_words(failure, note, said + _stopped_note(self.dest, "the same command"))

    def _space_note(self) -> str:
        """How much more the artifact needs in ``dest``, from what is on disk now that
        every transfer has stopped (a write cut short left bytes no count has): at least
        that while a file the server gave no size is still to come."""
        left = unsized = 0
        for f in self.state.descriptor.files:
            if f.name in self.state.sizes:  # in place
                continue
            if f.size is None:
                unsized += 1
                continue
            there = 0
            with contextlib.suppress(OSError):
                there = os.lstat(self.dest / (f.name + PART_SUFFIX)).st_size
            left += max(0, f.size - there)
        needs = (
            f"{shown_path(self.dest)}: the artifact needs {left} bytes "
            f"({left / 2**20:.1f} MiB) more there"
        )
        stay = f"its {PART_SUFFIX} files stay"
        if not unsized:
            return f"{needs}; {stay}: free that much and run it again to resume"
        return (
            f"{needs}, besides what is left of {counted(unsized, 'file')} whose size the "
            f"server did not give; {stay}: free more than that and run it again to resume"
        )

    @contextlib.contextmanager
    def _own_folders(self) -> Iterator[None]:
        """Make the files' folders, in turn: a download that waited finds them as the other
        left them. Those made here, and ``dest``'s, still empty when the download ends short
        are removed (within the folder's lock: ``_alone_in_dest``), as an empty ``.part`` of
        its own is (``_PartFile._ours``); never one that was there before, nor one that
        holds anything (a ``.part`` to resume, a file of the user's)."""
        made = list(self._made)  # parents first
        firsts: dict[PurePosixPath, PurePosixPath] = {}  # a folder's first file
        for path in self.state.paths:
            firsts.setdefault(path.parent, path)
        try:
            for parent, rel in firsts.items():
                here = self.dest
                for part in parent.parts:
                    here /= part
                    try:
                        with _permitted(here, here):
                            here.mkdir()
                    except FileExistsError:
                        _lsize(here, rel)  # again: it may have changed while this waited
                        continue
                    made.append(here)
            yield
        finally:
            if not self.state.complete:
                for folder in reversed(made):
                    with contextlib.suppress(OSError):  # not empty
                        folder.rmdir()

    def _alone_in_dest(self) -> int | None:
        """``dest`` opened with the folder's lock, which its close lets go: two downloads
        into one folder would write the same ``.part`` files. A second one waits for the
        first (and then finds its files done), within its deadline; the lock ends with the
        process, even a killed one. On a file system without locks (``_NO_LOCKS``) it goes
        on unguarded, saying so; on Windows too (``None``)."""
        if sys.platform == "win32":  # no flock: unguarded
            return None
        while True:
            fd = self._locked()
            try:
                if _same_folder(fd, self.dest):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            # The download it waited for made the folder, ended short and removed it, empty.
            os.close(fd)
            self._made = prepare_dest(self.dest, self.state.paths)

    def _locked(self) -> int:
        """``dest`` opened, with its lock: at once, or once the download holding it ends."""
        # One the user may write in (d-wx) lacks only reading; one it may only search (d--x),
        # or may not search (d-w-: no file can be made in it), lacks writing too, which the
        # download needs as much.
        doing = "read" if os.access(self.dest, os.W_OK | os.X_OK) else "read or write"
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
        opened: list[int] = []  # filled in C (see ``SyncIO.holding``): a Ctrl-C loses no fd
        waited = False
        try:
            with _permitted(self.dest, self.dest, doing=doing):
                opened.extend(map(os.open, [self.dest], [flags]))
            fd = opened[0]
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if exc.errno not in _NO_LOCKS:
                        raise
                    if (device := os.fstat(fd).st_dev) not in _SAID_NO_LOCKS:
                        _SAID_NO_LOCKS.add(device)
                        logger.warning(
                            "%s: its file system takes no locks (%s): two downloads into "
                            "one folder there at once are not kept apart",
                            shown_path(self.dest),
                            exc.strerror,
                        )
                    return fd
                if not waited:
                    logger.warning(
                        "waiting for another download into %s to end", shown_path(self.dest)
                    )
                    waited = True
                left = self._time_left()
                if left == 0.0:
                    raise DownloadTimeoutError(
                        f"{shown_path(self.dest)}: the download's deadline passed while another "
                        "download into it ran",
                        name=str(self.dest),
                    )
                if self.cancel.wait(_LOCK_POLL if left is None else min(_LOCK_POLL, left)):
                    raise Cancelled
        except BaseException:
            if opened:
                os.close(opened[0])
            raise

    def _run(self) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.state.settings.max_concurrency, thread_name_prefix="weaver-download"
        )
        try:
            names = [f.name for f in self.state.descriptor.files]
            futures = [pool.submit(self._file, name) for name in names]
            for future in futures:
                future.add_done_callback(self._events.put)
            waiting = self._wait(futures)
            _raise_first_error(futures)
            # The deadline passed, unless a stop (the client's close) ended the wait.
            if waiting and self.state.deadline is not None and not self.cancel.is_set():
                by_name = list(zip(names, futures, strict=True))
                stuck = [n for n, f in by_name if f.running()] or [
                    n for n, f in by_name if not f.done()
                ]
                self.stop()
                pool.shutdown(wait=True, cancel_futures=True)
                _raise_first_error(futures)  # a transfer's own, more precise error
                if stuck:  # else every file ended well after all
                    raise DownloadTimeoutError(
                        f"{stuck[0]}: the download's deadline passed while waiting for "
                        "storage; run it again to resume",
                        name=stuck[0],
                    )
        finally:  # also after Ctrl-C: the .part files stay
            self.stop()
            for asked in list(self._asked):  # the refresh a Ctrl-C interrupted
                if asked.running():
                    asked.set_exception(Cancelled())
            pool.shutdown(wait=True, cancel_futures=True)
            # But not those of the files that changed (a refused refresh): their bytes are
            # of the old version, which a rerun would resume only to fail its sha256.
            for name in self.state.changed:
                with contextlib.suppress(OSError):
                    os.unlink(self.dest / (name + PART_SUFFIX))

    def _wait(self, futures: list[concurrent.futures.Future[None]]) -> bool:
        """Wait for every file, or a file's error (raised), or the deadline (``True``),
        making the refreshes the files ask for meanwhile."""
        # Each file's end is looked at once: looking at every file on each end took
        # seconds of CPU (the GIL, away from the transfers) for a few thousand files.
        running = set(futures)
        while running:
            try:
                asked = self._events.get(timeout=self._time_left())
            except queue.Empty:
                return True
            if asked in running:  # a file's thread ended
                running.discard(asked)
                _raise_first_error([asked])
            elif asked.set_running_or_notify_cancel():  # else stopped meanwhile
                try:
                    asked.set_result(self._refresh())
                except Exception as exc:  # the file's thread raises it
                    asked.set_exception(exc)
        return False

    def _refreshed(self) -> Descriptor:
        """Fresh URLs, fetched by ``run``'s thread; its failure (the API's error, after its
        retries) ends the download, which its note says (``_note_refresh_failure``)."""
        asked: concurrent.futures.Future[Descriptor] = concurrent.futures.Future()
        self._asked.add(asked)  # before ``run``'s thread can begin it: its ``finally`` ends it
        self._events.put(asked)
        try:
            return self.unless_stopped(asked)
        except Cancelled:
            raise
        except Exception as exc:
            self._refresh_failure = self._refresh_failure or exc  # noted by ``run``
            raise

    def unless_stopped(self, future: concurrent.futures.Future[Descriptor]) -> Descriptor:
        """A refresh's result, or ``Cancelled`` once a stop cancelled it."""
        self._asked.add(future)
        try:
            if self.cancel.is_set():  # stopped before it was added: the stop missed it
                future.cancel()
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled from None
        finally:
            self._asked.discard(future)

    def _time_left(self) -> float | None:
        deadline = self.state.deadline
        if deadline is None:
            return None
        # Capped: a longer wait (timeout=1e12 or inf) overflows the platform's clock.
        return min(max(0.0, deadline - self.state.clock()), threading.TIMEOUT_MAX)

    def stop(self) -> None:
        """Cancel every transfer, also one waiting for a reply or bytes; ``.part`` files stay."""
        self.cancel.set()
        for asked in list(self._asked):
            asked.cancel()  # on the loop, or not yet begun; else it ends with ``run``'s thread
        self._http.abort()

    def _file(self, name: str) -> None:
        try:
            self._one_file(name)
        except BaseException:
            # Any file's error ends the download: set at once, no file waiting for a
            # worker starts before the caller's thread sees it.
            self.cancel.set()
            raise

    def _one_file(self, name: str) -> None:
        if self.cancel.is_set():
            raise Cancelled
        state = self.state
        part = _PartFile(self.dest / name, self.cancel)
        buffer = memoryview(bytearray(HASH_BLOCK))
        with part.guard(name):
            transfer = _start(state, name, part)
            while transfer is not None:
                if self.cancel.is_set():
                    raise Cancelled
                step = transfer.next_step()
                if isinstance(step, Publish):
                    part.publish()
                    state.placed(name, transfer.offset)
                    return
                if isinstance(step, Wait):
                    # A Retry-After the client's max_retry_after lets through may be longer
                    # than a thread can wait at once; the deadline or a stop ends it anyway.
                    self._pause(min(step.seconds, threading.TIMEOUT_MAX))
                elif isinstance(step, Refresh):
                    with self._refresh_lock:
                        if step.generation == state.generation:  # no other file did it since
                            state.refreshed(self._refreshed())
                        transfer.on_refreshed(*state.current(name))
                else:
                    self._fetch(transfer, part, step, buffer)

    def _fetch(self, transfer: Transfer, part: _PartFile, step: Fetch, buffer: memoryview) -> None:
        try:
            reply = self._http.get(step.url, step.headers, self._time_left())
        except FAILURES as exc:
            if self.cancel.is_set():  # stopped: the failure is ours, not storage's
                raise Cancelled from None
            transfer.on_failure(exc)
            return
        try:
            error_body = _error_body(reply) if reply.status >= 400 else b""
            if self.cancel.is_set():  # stopped after the reply came: not acted on
                raise Cancelled
            reaction = transfer.on_reply(reply.status, reply.headers, error_body)
            if isinstance(reaction, Read):
                if reaction.restart:  # storage ignored Range: start the file over
                    self.state.add(-transfer.offset)
                    part.restart()
                    transfer.restart()
                if reaction.decode is None:
                    self._stream(transfer, part, _reads(reply, buffer, transfer))
                else:
                    self._stream(transfer, part, _decoded(reply, buffer, reaction.decode, transfer))
        finally:
            reply.close()

    def _stream(
        self, transfer: Transfer, part: _PartFile, pieces: Iterator[bytes | memoryview]
    ) -> None:
        """Each piece of a body, as it arrives: checked, written and counted (``pieces``
        hashes it once written). Only reading and decoding are the transfer's failures:
        a write's ends the download."""
        add = self.state.add
        while True:
            try:
                piece = next(pieces, None)
            except (*FAILURES, zlib.error) as exc:
                if self.cancel.is_set():
                    raise Cancelled from None
                transfer.on_failure(exc)
                return
            if self.cancel.is_set():
                raise Cancelled
            if piece is None:
                transfer.on_end()
                return
            transfer.accept(piece)
            part.write(piece)
            add(len(piece), fetched=len(piece))


def _reads(reply: Reply, buffer: memoryview, transfer: Transfer) -> Iterator[memoryview]:
    """A body, a network read at a time, into ``buffer``; the reads written are hashed a
    batch later, and all of them before the body's end or failure is reported."""
    filled = 0  # bytes of ``buffer`` written but not yet hashed
    try:
        while n := reply.readinto(buffer[filled : filled + NETWORK_READ]):
            yield buffer[filled : filled + n]
            filled += n
            if filled + NETWORK_READ > len(buffer):
                transfer.digest(buffer[:filled])
                filled = 0
    finally:
        transfer.digest(buffer[:filled])


def _decoded(reply: Reply, buffer: memoryview, coding: str, transfer: Transfer) -> Iterator[bytes]:
    """A body in ``coding``, decoded a read at a time, in pieces of at most
    ``NETWORK_READ`` bytes (a small body may decode to a large file), each hashed once
    written."""
    decoder = zlib.decompressobj(_DECODED[coding])
    # ``deflate`` is zlib's format, but some servers send the bare deflate stream under
    # that name, which httpx decodes too: its first two bytes tell which.
    head = b"" if coding == "deflate" else None

    def pieces() -> Iterator[bytes]:
        nonlocal decoder, head
        while n := reply.readinto(buffer[:NETWORK_READ]):
            data: bytes | memoryview = buffer[:n]
            if head is not None:
                head += data
                if len(head) < 2:
                    continue
                if not _zlib_header(head):
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                data, head = head, None
            while data:
                yield decoder.decompress(data, NETWORK_READ)
                data = decoder.unconsumed_tail
        if head:  # a body of one byte: let zlib tell what is wrong with it
            yield decoder.decompress(head)
        yield decoder.flush()

    for piece in pieces():
        if piece:  # a read of the header, say, gives none
            yield piece
            transfer.digest(piece)
    if not decoder.eof:  # a body cut where its length was not given
        raise zlib.error(f"the {coding} stream ended early")


def _zlib_header(head: bytes) -> bool:
    """Whether a stream begins with zlib's header (RFC 1950): deflate, and a check."""
    return head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _error_body(reply: Reply) -> bytes:
    """The start of an error reply's body (``ERROR_BODY`` bytes at most): what arrived
    before a failure, which only costs storage's error code."""
    buffer = bytearray(ERROR_BODY)
    view = memoryview(buffer)
    n = 0
    with contextlib.suppress(*FAILURES):
        reply.limit_reads(ERROR_BODY_WAIT)
        while n < ERROR_BODY and (got := reply.readinto(view[n:])):
            n += got
    return bytes(buffer[:n])


StopOn = Callable[[Callable[[], None]], contextlib.AbstractContextManager[object]]


def download_sync(
    state: Downloads,
    dest: Path,
    *,
    refresh: Callable[[], Descriptor],
    sleep: Callable[[float], None] | None = None,
    stop_on: StopOn = contextlib.nullcontext,
) -> Downloads:
    """Download every file of ``state``'s descriptor into ``dest`` with threads.

    ``refresh`` fetches the descriptor again (fresh URLs), on this thread: a Ctrl-C
    ends one on its way, as it ends the transfers. The first fatal error
    stops the other transfers and is raised; ``.part`` files stay for a resume.
    ``state``'s progress is called from the download's threads, one call at a time.
    ``stop_on`` registers the download's ``stop`` while it runs (with the client's
    close); stopped so, it returns with ``complete`` false.
    """
    shell = _Shell(state, dest, refresh=refresh, pause=sleep)
    try:
        with stop_on(shell.stop), contextlib.suppress(Cancelled):
            shell.run()
    except KeyboardInterrupt as exc:
        if shell.left_files:
            exc.add_note(_stopped_note(dest))
        raise
    return state


def _stopped_note(dest: Path, rerun: str = "it") -> str:
    """What a Ctrl-C or a cancel leaves of a download, in the command line's words but for
    what to run again (``rerun``)."""
    return (
        f"the download stopped; its finished files and partial ones (*{PART_SUFFIX}) stay in "
        f"{shown_path(dest)}: run {rerun} again to resume"
    )


async def download_async(
    state: Downloads,
    dest: Path,
    *,
    refresh: Callable[[], Coroutine[Any, Any, Descriptor]],
    sleep: Callable[[float], None] | None = None,
    stop_on: StopOn = contextlib.nullcontext,
) -> Downloads:
    """``download_sync`` for asyncio: the same threads, run from a worker thread,
    with ``refresh`` run on the event loop. Cancelling the awaiting task stops
    every transfer before it ends."""
    loop = running_loop()

    def fresh() -> Descriptor:
        return shell.unless_stopped(asyncio.run_coroutine_threadsafe(refresh(), loop))

    shell = _Shell(state, dest, refresh=fresh, pause=sleep)
    # Not asyncio.to_thread: the program's own blocking jobs may hold every worker of the
    # loop's default executor, and the download would wait for them, past its deadline.
    running = asyncio.ensure_future(in_own_thread(shell.run, "weaver-fetch"))
    with stop_on(shell.stop), contextlib.suppress(Cancelled):
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError as exc:
            shell.stop()
            # The threads end (the loop stays free for their refreshes); another cancel
            # meanwhile must not end this task while they still write into ``dest``.
            while not running.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({running})
            if not running.cancelled():
                running.exception()  # retrieved: the cancel is what the caller gets
            if shell.left_files:
                exc.add_note(_stopped_note(dest))
            raise
    return state
