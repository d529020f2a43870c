"""Lifecycle steps for artifacts: export the saved checkpoint, download it, probe the storage.

The API calls go through the scenario's watched client, so every reply is checked against
the spec. Storage URLs are not part of the API: they are fetched with a client of their own
that never carries the API key (a request hook refuses to send it, also after a redirect).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import httpx
from weaver_client import limits

from .. import Checkpoint, PollSettings
from .._plural import counted
from .._storage_errors import error_code, hide_signature, url_expired
from ._findings import API_KEY_HEADER, IDEMPOTENCY_HEADER, Finding, plain_seconds
from ._ownership import Sweep, is_export_operation
from ._patience import RESENT, patient_client

if TYPE_CHECKING:
    from ._lifecycle import Scenario, StepResult

__all__ = ["ARTIFACT_STEPS", "EXPORT_BODY", "STORAGE_TIMEOUT", "STORAGE_TRIES", "ArtifactSteps"]

# The kit's exports (this step, the extension probe's): the sheet's whole body, as the real
# SDK sends it, since it marks none of it optional.
EXPORT_BODY: Mapping[str, Any] = {
    "format": "huggingface",
    "merge_adapter": False,
    "ttl_seconds": 3600,
    "force": False,
}

STEP_EXPORT = "export the saved checkpoint; the artifact completes and is listed"
STEP_DOWNLOAD = "download every file; sizes and sha256 match the descriptor"
STEP_STORAGE = "storage URLs work without the key and honour Range"
ARTIFACT_STEPS = (STEP_EXPORT, STEP_DOWNLOAD, STEP_STORAGE)
EXPORT = "POST /api/v1/checkpoints/{checkpoint_id}/export"
DOWNLOAD = "GET /api/v1/artifacts/{artifact_id}/download"
STORAGE = "storage URL"
# The kit's long-poll wait: the facade's own (which the spec's bound caps).
LONG_POLL = PollSettings().long_poll
# Files up to this size are kept in memory to check a ranged reply byte for byte.
_KEPT = 64 * 1024 * 1024
# A storage URL that expires within this many seconds is asked for again before it is used.
_FRESH_FOR = 2.0
# Storage is not the server under test: a GET cut by the network is sent again, as the
# facade's downloads do, and only this many cuts in a row are reported.
STORAGE_TRIES = 3
# Each wait for storage's bytes (connect, send, read), and within `--deadline` its tries'
# waits in all (``_from_storage``): not the download's whole time, since a large file's may
# rightly take longer than any API request.
STORAGE_TIMEOUT = 60.0
_T = TypeVar("_T")
# An artifact's statuses on its way to completed (a listed item without one counts as it).
_MADE = ("pending", "completed")


@dataclass
class _Url:
    """A file's presigned URL and when it expires (``time.time()``; None: not said)."""

    name: str
    url: str
    expires: float | None

    def expiring(self) -> bool:
        return self.expires is not None and self.expires - time.time() < _FRESH_FOR


@dataclass
class _Fetched:
    name: str
    url: _Url
    size: int
    content: bytes | None


class _KeyLeak(Exception):
    """The kit was about to send the API key to a storage host."""


def _never_the_key(request: httpx.Request) -> None:
    if API_KEY_HEADER.lower() in (k.lower() for k in request.headers):
        raise _KeyLeak(f"refusing to send {API_KEY_HEADER} to {request.url.host}")


class ArtifactSteps:
    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.artifact_ids: list[str] = []
        self._artifact_id = ""
        # Storage that asks to try later waits no longer than storage that is silent.
        self.storage = patient_client(
            waits=min(STORAGE_TIMEOUT, scenario.s.deadline),
            timeout=httpx.Timeout(STORAGE_TIMEOUT),
            follow_redirects=True,
            event_hooks={"request": [_never_the_key]},
        )

    def run(self, checkpoint: Checkpoint | None, missing: str) -> None:
        """Export ``checkpoint`` and fetch its files; without one, each step is skipped
        for the reason ``missing``."""
        sc = self.sc
        if checkpoint is None:
            for name in ARTIFACT_STEPS:
                sc.skip(name, missing)
            return
        artifact: dict[str, Any] | None = None
        with sc.step(STEP_EXPORT, "export_checkpoint") as r:
            artifact = self._export(r, checkpoint)
        if artifact is None:
            for name in ARTIFACT_STEPS[1:]:
                sc.skip(name, "the export did not complete")
            return
        fetched: list[_Fetched] = []
        with sc.step(STEP_DOWNLOAD, "get_artifact_download") as r:
            fetched = self._download(r, str(artifact["id"]))
        if not fetched:
            sc.skip(STEP_STORAGE, "no file could be downloaded")
            return
        with sc.step(STEP_STORAGE, "get_artifact_download") as r:
            self._ranges(r, fetched)

    def cleanup(self, sweep: Sweep) -> None:
        """Best effort (the artifact-by-id extension), within ``sweep``'s budget; not
        checked."""
        for artifact_id in self.artifact_ids:
            sweep.send("DELETE", f"/api/v1/artifacts/{artifact_id}")
        self.storage.close()

    # -- export ---------------------------------------------------------------------------------

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.sc.raw.request(
            method, f"{self.sc.s.base_url}/api/v1{path}", headers=self.sc._key_header(), **kwargs
        )

    def _refused(self, r: StepResult, operation_id: str, response: httpx.Response) -> None:
        sc = self.sc
        exchange = sc.watcher.last(operation_id)
        from ._lifecycle import still_later

        later = still_later(sc, exchange)
        if later is not None:
            r.findings.append(later)
        elif exchange is not None and exchange.op is not None:
            problem = sc.spec.describe_refusal(
                exchange.op, None, response.status_code, response.content
            )
            r.findings.append(
                sc.finding(
                    exchange.label,
                    problem.check,
                    problem.message,
                    problem.expected,
                    problem.got,
                    exchange,
                )
            )
        raise _step_failed()

    def _export(self, r: StepResult, checkpoint: Checkpoint) -> dict[str, Any] | None:
        sc = self.sc
        # Keyed, as the facade's POSTs are: a reply lost on the way is asked for again.
        keyed = {**sc._key_header(), IDEMPOTENCY_HEADER: str(uuid.uuid4())}
        reply = sc.raw.post(
            f"{sc.s.base_url}/api/v1/checkpoints/{checkpoint.id}/export",
            json=dict(EXPORT_BODY),
            headers=keyed,
        )
        if reply.status_code == 409 and reply.request.extensions.get(RESENT):
            own = self._own_export(checkpoint)
            # A finding even once its artifact completes: the spec answers a repeat 202 or
            # 200, with an Idempotency-Key or without.
            r.findings.append(self._repeat_refused(reply, completed=own is not None))
            if own is None:
                raise _step_failed()
            reply = httpx.Response(200, json=own)
        if not 200 <= reply.status_code < 300:
            self._refused(r, "export_checkpoint", reply)
        data = _json(reply)
        # An Operation answered 200 (or another 2xx than 202) is waited for too (the watcher
        # names the status and shape the spec expects; an Operation that carries an artifact
        # kind, the same way).
        is_operation = is_export_operation(reply.status_code, data)
        artifact = self._wait(r, data) if is_operation else data
        if not isinstance(artifact, dict) or not isinstance(artifact.get("id"), str):
            raise _step_failed()
        self.artifact_ids.append(artifact["id"])
        exchange = sc.watcher.last("export_checkpoint")
        got = (
            f"checkpoint_id `{artifact.get('checkpoint_id')}`, "
            f"status `{artifact.get('status', 'completed')}`"
        )
        sc.expect(
            r,
            artifact.get("checkpoint_id") == str(checkpoint.id)
            and artifact.get("status", "completed") == "completed",
            sc.finding(
                EXPORT,
                "artifact_fields",
                f"the export of checkpoint `{checkpoint.id}` reports {got}",
                f"checkpoint_id `{checkpoint.id}`, status `completed`",
                got,
                exchange,
            ),
        )
        listing = self._api("GET", f"/checkpoints/{checkpoint.id}/artifacts")
        items = _json(listing).get("items") if listing.status_code == 200 else None
        ids = [i.get("id") for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        sc.expect(
            r,
            artifact["id"] in ids,
            sc.finding(
                "GET /api/v1/checkpoints/{checkpoint_id}/artifacts",
                "artifact_listed",
                f"the checkpoint's artifacts do not list the exported `{artifact['id']}`",
                f"`{artifact['id']}` listed",
                f"{listing.status_code}: {', '.join(map(str, ids)) or 'nothing'}",
                sc.watcher.last("list_artifacts"),
            ),
        )
        return artifact

    def _repeat_refused(self, reply: httpx.Response, *, completed: bool) -> Finding:
        """The export sent again after its reply was lost got a 409: the spec answers a
        repeat of a running export 202 with its Operation, and of a done one 200 with its
        Artifact. ``completed``: the export of its first attempt then completed."""
        sc = self.sc
        code = _json(reply).get("error")
        got = f"409 {code}" if isinstance(code, str) else "409"
        then = (
            "though its artifact then completed"
            if completed
            else "and no export of the checkpoint completed within "
            f"{plain_seconds(sc.s.deadline)} s"
        )
        return sc.finding(
            EXPORT,
            "repeated_export",
            f"the export, sent again after its reply was lost (a dropped connection), "
            f"was refused with {got}, {then}: a repeat of a running export is answered 202 "
            "with its Operation, of a done one 200 with its Artifact",
            "202 with the running export's Operation, or 200 with its Artifact",
            got,
            sc.watcher.last("export_checkpoint"),
        )

    def _own_export(self, checkpoint: Checkpoint) -> dict[str, Any] | None:
        """The export that a retried export's own lost first attempt started, which the
        retry met as a 409 (a server without ``Idempotency-Key``), once completed: the
        checkpoint's one artifact (the kit exports its checkpoint once), from its listing,
        as the facade recovers it. ``None``: not one, or not completed in time."""
        ends = time.monotonic() + self.sc.s.deadline
        while True:
            listing = self._api("GET", f"/checkpoints/{checkpoint.id}/artifacts")
            items = _json(listing).get("items") if listing.status_code == 200 else None
            made = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
            if len(made) != 1 or made[0].get("status", "completed") not in _MADE:
                return None
            if made[0].get("status", "completed") == "completed":
                return made[0]
            if time.monotonic() > ends:
                return None
            time.sleep(0.2)

    def _wait(self, r: StepResult, operation: dict[str, Any]) -> dict[str, Any] | None:
        """Poll the export operation (long-poll where the server has it) until it ends."""
        sc = self.sc
        op_id = operation.get("id")
        if not isinstance(op_id, str):
            raise _step_failed()
        current = operation
        started = time.monotonic()
        pause = 0.1
        while current.get("status") not in limits.OPERATION_STATUS_TERMINAL:
            left = sc.s.deadline - (time.monotonic() - started)
            if left <= 0:
                status = current.get("status")
                r.findings.append(
                    sc.finding(
                        EXPORT,
                        "operation_completes",
                        f"the export operation `{op_id}` is still `{status}` after "
                        f"{time.monotonic() - started:.1f} s (last status seen: `{status}`)",
                        sc.s.within(),
                        f"`{status}`",
                        sc._poll_exchange(op_id),
                    )
                )
                raise _step_failed()
            asked = min(LONG_POLL, left)
            polled_at = time.monotonic()
            reply = self._api("GET", f"/operations/{op_id}", params={"wait": asked})
            current = _json(reply) if reply.status_code == 200 else current
            if time.monotonic() - polled_at < asked / 2:
                # A server without long-poll answers at once: back off instead of spinning.
                time.sleep(min(pause, max(left, 0.0)))
                pause = min(pause * 2, 2.0)
        if current.get("status") == "error":
            r.findings.append(
                sc.finding(
                    EXPORT,
                    "operation_completes",
                    f"the export operation `{op_id}` ended in `error` "
                    f"[{current.get('error_code')}]: {current.get('error_message')}",
                    "`done`",
                    f"`error` {current.get('error_code')}",
                    sc._poll_exchange(op_id),
                )
            )
            raise _step_failed()
        if "response" not in current:
            # A POST answered `done` without its result (the sheet's `response` is
            # optional): the operation's own GET gives it, as the facade asks for it.
            reply = self._api("GET", f"/operations/{op_id}")
            current = _json(reply) if reply.status_code == 200 else current
        response = current.get("response")
        if not isinstance(response, dict):
            r.findings.append(
                sc.finding(
                    EXPORT,
                    "operation_completes",
                    f"the export operation `{op_id}` is `done` without its artifact "
                    "(`response`), also when fetched",
                    "the Artifact as `response`",
                    "no `response`" if response is None else f"`response`: {response!r}",
                    sc._poll_exchange(op_id),
                )
            )
            raise _step_failed()
        return response

    # -- download -------------------------------------------------------------------------------

    def _download(self, r: StepResult, artifact_id: str) -> list[_Fetched]:
        self._artifact_id = artifact_id
        reply = self._api("GET", f"/artifacts/{artifact_id}/download")
        if reply.status_code != 200:
            self._refused(r, "get_artifact_download", reply)
        files = _json(reply).get("files")
        if not isinstance(files, list) or not files:
            # The watcher names a reply without `files`; an empty list is named here.
            if isinstance(files, list):
                r.findings.append(
                    self.sc.finding(
                        DOWNLOAD,
                        "artifact_files",
                        f"the download descriptor of `{artifact_id}` lists no files",
                        "at least one file",
                        "none",
                        self.sc.watcher.last("get_artifact_download"),
                    )
                )
            raise _step_failed()
        items = [item for item in files if isinstance(item, dict)]
        # The sheet lets both be missing, and then the step's check has nothing to compare.
        blind = [
            f"`{item.get('name')}`"
            for item in items
            if not _is_count(item.get("size")) and not isinstance(item.get("sha256"), str)
        ]
        if blind:
            self.sc.watcher.notes.append(
                f"the download descriptor of `{artifact_id}` gives neither `size` nor "
                f"`sha256` for {', '.join(blind)}: fetched, but not verified (the wire "
                "sheet allows it)"
            )
        return [self._fetch(r, item) for item in items]

    # -- storage --------------------------------------------------------------------------------

    def _renew(self, url: _Url) -> None:
        """Ask for the download descriptor again and take ``url``'s file's fresh URL: the
        wire's URLs expire ("a client then fetches the descriptor again for fresh URLs").
        ``url`` is left as it was when the descriptor does not name the file any more."""
        reply = self._api("GET", f"/artifacts/{self._artifact_id}/download")
        files = _json(reply).get("files") if reply.status_code == 200 else None
        for item in files if isinstance(files, list) else []:
            if isinstance(item, dict) and str(item.get("name")) == url.name:
                fresh = _url(item)
                url.url, url.expires = fresh.url, fresh.expires
                return

    def _get(self, url: _Url, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET ``url`` (the whole body read) with a URL that has not expired: renewed before
        when it expires now, and once after a reply that says it expired (``_expired``),
        which an expired URL may get whatever the descriptor said of its expiry."""
        if url.expiring():
            self._renew(url)
        response = self._storage_get(url.url, headers)
        if _expired(response):
            self._renew(url)
            response = self._storage_get(url.url, headers)
        return response

    def _storage_get(self, url: str, headers: dict[str, str] | None) -> httpx.Response:
        return _from_storage(
            lambda wait: self.storage.get(url, headers=headers, timeout=wait),
            url,
            self.sc.s.deadline,
        )

    def _fetch(self, r: StepResult, item: dict[str, Any]) -> _Fetched:
        sc = self.sc
        url = _url(item)
        name = url.name
        if url.expiring():
            self._renew(url)
        renewed = False
        while True:
            request = self.storage.build_request("GET", url.url)
            read = _from_storage(
                functools.partial(self._read, r, url, may_renew=not renewed),
                url.url,
                sc.s.deadline,
            )
            if read is not None:
                break
            # Expired on the way (a long download before it, say): a fresh URL, asked of
            # the server under test, whose cut connection is its own (not retried).
            renewed = True
            self._renew(url)
        got_sha, size, kept = read
        want_size, want_sha = item.get("size"), item.get("sha256")
        # The descriptor's case is the watcher's to name; here only the bytes count.
        sha_ok = not isinstance(want_sha, str) or want_sha.lower() == got_sha
        sc.expect(
            r,
            (not _is_count(want_size) or want_size == size) and sha_ok,
            sc.finding(
                STORAGE,
                "download_integrity",
                f"`{name}`: the storage served {_bytes(size)} with sha256 {got_sha}; "
                f"the descriptor says {_bytes(want_size)}, sha256 {want_sha}",
                f"{_bytes(want_size)}, sha256 {want_sha}",
                f"{_bytes(size)}, sha256 {got_sha}",
                _exchange(sc, request),
            ),
        )
        return _Fetched(name, url, size, kept)

    def _read(
        self, r: StepResult, url: _Url, wait: float, *, may_renew: bool
    ) -> tuple[str, int, bytes | None] | None:
        """One GET of ``url``'s file, ``wait`` s for each of its bytes at most: its sha256,
        its size and its bytes (up to ``_KEPT``); ``None`` when ``may_renew`` and the URL
        answered as an expired one."""
        with self.storage.stream("GET", url.url, timeout=wait) as response:
            expired = _expired(response)
            if expired and may_renew:
                return None
            if response.status_code != 200:
                status = str(response.status_code)
                message = f"the storage URL of `{url.name}` answered {status}"
                if expired and response.status_code == 400:
                    # Storage's own code says expired (GCS' `ExpiredToken`): not the key's
                    # doing, but a URL renewed (``may_renew`` was spent) and still expired.
                    status = f"{status} {error_code(response.read())}"
                    message = (
                        f"the storage URL of `{url.name}` was renewed and still refused as "
                        f"expired: {status}"
                    )
                elif expired:
                    message += " without the API key"
                r.findings.append(
                    self.sc.finding(
                        STORAGE,
                        "storage_no_key",
                        message,
                        "200 with the file, without the API key",
                        status,
                    )
                )
                raise _step_failed()
            digest = hashlib.sha256()
            kept = bytearray()
            size = 0
            for chunk in response.iter_raw():
                digest.update(chunk)
                size += len(chunk)
                if size <= _KEPT:
                    kept += chunk
        return digest.hexdigest(), size, bytes(kept) if size <= _KEPT else None

    def _ranges(self, r: StepResult, fetched: list[_Fetched]) -> None:
        sc = self.sc
        target = max(fetched, key=lambda f: f.size)
        if target.size < 2:
            return
        offset = target.size // 2
        headers = {"Range": f"bytes={offset}-"}
        ranged = self._get(target.url, headers)
        right = ranged.status_code == 206 and (
            target.content is None or ranged.content == target.content[offset:]
        )
        sc.expect(
            r,
            right,
            sc.finding(
                STORAGE,
                "storage_range",
                f"`{target.name}`: `Range: bytes={offset}-` got {ranged.status_code} with "
                f"{_bytes(len(ranged.content))}, not 206 with the last "
                f"{_bytes(target.size - offset)}",
                f"206 with bytes {offset}-{target.size - 1}",
                f"{ranged.status_code}, {_bytes(len(ranged.content))}",
                _exchange(sc, self.storage.build_request("GET", target.url.url, headers=headers)),
            ),
        )
        end = {"Range": f"bytes={target.size}-"}
        past = self._get(target.url, end)
        sc.expect(
            r,
            past.status_code == 416,
            sc.finding(
                STORAGE,
                "storage_range",
                f"`{target.name}`: `Range: bytes={target.size}-` (the end of the file) got "
                f"{past.status_code}, not 416",
                "416",
                str(past.status_code),
                _exchange(sc, self.storage.build_request("GET", target.url.url, headers=end)),
            ),
        )


def _from_storage(get: Callable[[float], _T], url: str, deadline: float) -> _T:
    """``get(wait)``, a request to storage for ``url`` that waits at most ``wait`` s for
    each of its bytes, sent again while the network cuts it, at most ``STORAGE_TRIES``
    times in all; the last failure without its signature (the report quotes it, and
    storage may echo the query in a reply h11 quotes whole).

    Storage silent for ``deadline`` s (or ``STORAGE_TIMEOUT``, if less) ends it: such a
    try is not sent again (a silent host held the run for ``STORAGE_TRIES`` times
    ``STORAGE_TIMEOUT``); bytes that keep coming are not cut, however long they take."""
    wait = min(STORAGE_TIMEOUT, deadline)
    for tries in range(1, STORAGE_TRIES + 1):
        try:
            return get(wait)
        except httpx.TransportError as exc:
            if tries == STORAGE_TRIES or isinstance(exc, httpx.TimeoutException):
                hide_signature(exc, url)
                raise
    raise AssertionError("unreachable")


def _expired(response: httpx.Response) -> bool:
    """Whether storage says the URL expired: 401/403 ("once expired"; the wire sheet), or
    the 400 by which GCS says so (``_storage_errors``), whose body is read for its code."""
    code = error_code(response.read()) if response.status_code == 400 else None
    return url_expired(response.status_code, code)


def _url(item: dict[str, Any]) -> _Url:
    """A descriptor item's URL, and its ``url_expires_at`` (RFC 3339) when it has one."""
    expires: float | None = None
    stamp = item.get("url_expires_at")
    if isinstance(stamp, str):
        try:
            expires = datetime.fromisoformat(stamp.upper()).timestamp()  # RFC 3339: t, z too
        except ValueError:
            expires = None  # the watcher names a malformed one
    return _Url(str(item.get("name")), str(item.get("url")), expires)


def _is_count(size: object) -> TypeGuard[int]:
    # A bool is an int in Python: a descriptor's size `true` is no count of 1 byte.
    return isinstance(size, int) and not isinstance(size, bool)


def _bytes(size: object) -> str:
    """A size in words: "1 byte", "2 bytes"; a descriptor's size that is no number as its
    JSON reads (``size true``)."""
    if _is_count(size):
        return counted(size, "byte")
    if isinstance(size, float):
        return f"{size} bytes"
    return f"size {json.dumps(size, default=str)}"


def _json(response: httpx.Response) -> Any:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _step_failed() -> Exception:
    from ._lifecycle import StepFailed

    return StepFailed()


def _exchange(sc: Scenario, request: httpx.Request) -> Any:
    """The storage request, for a curl reproduction. It carries no key, but its URL's
    query is a credential (reports go to CI artifacts): it is left out."""
    from ._lifecycle import Exchange

    shown = httpx.Request(
        request.method, request.url.copy_with(query=b"signature-hidden"), headers=request.headers
    )
    return Exchange(shown, httpx.Response(0, request=shown), None)
