"""The download engine (``weaver_facade._download``) against a real local storage server.

Every test runs the sync shell (threads) and the async shell (tasks), which
must behave the same.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import gc
import hashlib
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx
import pytest

from tests.download.storage import StorageServer
from tests.support.connect_proxy import ConnectProxy
from tests.support.ctrl_c_points import every_point, interrupted_at
from tests.support.loop_ticks import longest, loop_ticks
from tests.support.name_lookups import names
from tests.support.no_search import no_search
from tests.support.ports import free_port
from tests.support.search_only import search_only, unread
from tests.support.tls import self_signed
from weaver_facade import (
    APIError,
    ArtifactIntegrityError,
    DownloadTimeoutError,
    InvalidArgumentError,
    StorageError,
    UnsafeArtifactPathError,
    _download,
)
from weaver_facade._cli._state import cli_notes
from weaver_facade._download import (
    Descriptor,
    DownloadProgress,
    Downloads,
    DownloadSettings,
    StorageFile,
    check_names,
    download_async,
    download_sync,
)
from weaver_facade._spec_schema import spec_document

FILES = {
    "config.json": b'{"r": 8}',
    "sub/dir/weights.bin": os.urandom(3 * 1024 * 1024 + 17),
    "empty.txt": b"",
    "small.bin": os.urandom(70_000),
}


# A destination from a variable or a glob may hold a newline or an escape sequence: every
# message and log line that names it shows them escaped, as the library quotes a name.
FOLDERS = pytest.mark.parametrize(
    ("folder", "shown"),
    [("out", "out"), ("o\nut\x1b[2K", "o\\nut\\x1b[2K")],
    ids=["plain", "control-characters"],
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def storage() -> Iterator[StorageServer]:
    with StorageServer(FILES).running() as server:
        yield server


class Source:
    """Descriptors with fresh URLs from ``storage``, as the API would hand them out."""

    def __init__(self, storage: StorageServer, **overrides: dict[str, Any]) -> None:
        self.storage = storage
        self.overrides = overrides
        self.refreshes = 0
        self.expires_in = 3600.0
        self.artifact_id = "a-1"

    def descriptor(self) -> Descriptor:
        files = []
        for name, data in self.storage.files.items():
            fields: dict[str, Any] = {
                "name": name,
                "size": len(data),
                "sha256": sha(data),
                "url": self.storage.url(name, expires_in=self.expires_in),
                "url_expires_at": time.time() + self.expires_in,
            }
            fields.update(self.overrides.get(name, {}))
            files.append(StorageFile(**fields))
        return Descriptor(artifact_id=self.artifact_id, kind="hf_adapter", files=tuple(files))

    def refresh(self) -> Descriptor:
        self.refreshes += 1
        return self.descriptor()

    async def arefresh(self) -> Descriptor:
        return self.refresh()


Run = Callable[..., Downloads]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    """Download ``source``'s artifact into ``dest`` with one of the two shells."""

    def go(
        source: Source,
        dest: Path,
        settings: DownloadSettings | None = None,
        *,
        sleeps: list[float] | None = None,
        progress: Callable[[DownloadProgress], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> Downloads:
        naps = sleeps if sleeps is not None else []
        state = Downloads(
            source.descriptor(),
            settings or DownloadSettings(),
            progress=progress,
            clock=clock,
            wall_clock=wall_clock,
        )
        if request.param == "sync":
            return download_sync(state, dest, refresh=source.refresh, sleep=naps.append)
        return asyncio.run(download_async(state, dest, refresh=source.arefresh, sleep=naps.append))

    return go


def no_refresh() -> Descriptor:
    raise AssertionError("no refresh expected")


def assert_complete(dest: Path, files: dict[str, bytes] = FILES) -> None:
    for name, data in files.items():
        assert (dest / name).read_bytes() == data, name
    assert not list(dest.rglob("*.part"))


def test_downloads_every_file_byte_identical(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    seen: list[DownloadProgress] = []
    state = run(Source(storage), tmp_path / "out", progress=seen.append)
    assert_complete(tmp_path / "out")
    total = sum(len(d) for d in FILES.values())
    assert (state.fetched, state.files_done, state.skipped) == (total, len(FILES), 0)
    assert seen[-1] == DownloadProgress(
        bytes_done=total, bytes_total=total, files_done=4, files_total=4
    )
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)
    # Streamed in network-sized pieces, not buffered whole.
    assert len(seen) > total // (1024 * 1024)
    assert all(r.headers["accept-encoding"] == "identity" for r in storage.requests)


def test_each_file_costs_the_download_a_constant_share_of_its_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An artifact of thousands of small files: at each file's end the shell looked at
    # every file's future, and the state scanned every file for each file: 38 s of CPU
    # (holding the GIL the transfers need) for 4,000 files, 2.9 s for 1,000.
    n = 300
    files = {f"f{i:03d}.bin": bytes([i % 256]) * 3 for i in range(n)}
    looks = 0
    done = concurrent.futures.Future.done

    def counted_done(future: concurrent.futures.Future[Any]) -> bool:
        nonlocal looks
        looks += 1
        return done(future)

    class Files(tuple[StorageFile, ...]):
        def __iter__(self) -> Iterator[StorageFile]:
            nonlocal looks
            for f in super().__iter__():
                looks += 1
                yield f

    monkeypatch.setattr(concurrent.futures.Future, "done", counted_done)
    with StorageServer(files).running() as storage:
        descriptor = Source(storage).descriptor()
        descriptor = attrs.evolve(descriptor, files=Files(descriptor.files))
        state = download_sync(
            Downloads(descriptor, DownloadSettings()),
            tmp_path / "out",
            refresh=no_refresh,
        )
    assert state.complete
    assert_complete(tmp_path / "out", files)
    assert looks < 30 * n, looks


def test_progress_is_called_one_call_at_a_time(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # The README: `progress` is called from the download's threads, one call at a time.
    # The first call lingers; a call that comes in meanwhile overlaps it.
    inside, overlapped = threading.Lock(), threading.Event()
    calls: list[DownloadProgress] = []

    def progress(seen: DownloadProgress) -> None:
        if not inside.acquire(blocking=False):
            overlapped.set()
            return
        try:
            calls.append(seen)
            if len(calls) == 1:
                overlapped.wait(0.5)
        finally:
            inside.release()

    run(Source(storage), tmp_path / "out", progress=progress)
    assert_complete(tmp_path / "out")
    assert not overlapped.is_set()
    assert calls[-1].files_done == len(FILES)


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_two_downloads_at_once_report_their_own_counts_from_their_own_threads(
    storage: StorageServer, tmp_path: Path, shell: str
) -> None:
    # The README: `progress` is called from the download's threads, never the caller's
    # (for the async client, not the event loop's), one call at a time for each download;
    # two downloads at once that share one function call it, each with its own counts.
    # The two artifacts differ in their number of files, which tells their calls apart.
    with StorageServer({"only.bin": os.urandom(300_000)}).running() as other:
        sources = {len(FILES): Source(storage), 1: Source(other)}
        inside = {n: threading.Lock() for n in sources}
        seen: dict[int, list[DownloadProgress]] = {n: [] for n in sources}
        callers: set[int] = set()
        reporters: set[int] = set()
        overlapped: list[DownloadProgress] = []

        def progress(counts: DownloadProgress) -> None:
            if not inside[counts.files_total].acquire(blocking=False):
                overlapped.append(counts)
                return
            try:
                reporters.add(threading.get_ident())
                seen[counts.files_total].append(counts)
                time.sleep(0.002)  # a call of the same download meanwhile would overlap
            finally:
                inside[counts.files_total].release()

        def state(n: int) -> Downloads:
            return Downloads(sources[n].descriptor(), DownloadSettings(), progress=progress)

        if shell == "sync":

            def one(n: int) -> None:
                callers.add(threading.get_ident())
                download_sync(state(n), tmp_path / str(n), refresh=sources[n].refresh)

            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(one, sources))
        else:

            async def both() -> None:
                callers.add(threading.get_ident())
                await asyncio.gather(
                    *(
                        download_async(state(n), tmp_path / str(n), refresh=sources[n].arefresh)
                        for n in sources
                    )
                )

            asyncio.run(both())
    assert not overlapped
    assert reporters
    assert not reporters & callers
    for n, source in sources.items():
        assert_complete(tmp_path / str(n), source.storage.files)
        total = sum(len(data) for data in source.storage.files.values())
        assert {counts.bytes_total for counts in seen[n]} == {total}
        done = [counts.bytes_done for counts in seen[n]]
        assert done == sorted(done)
        assert (done[-1], seen[n][-1].files_done) == (total, n)


async def test_an_async_download_leaves_its_event_loop_free(
    storage: StorageServer, tmp_path: Path
) -> None:
    # The README: each file streams in its own thread, also for the async client, whose
    # event loop stays free. A progress call that lingers (in the download's threads)
    # must hold up no task of the loop, nor must the transfers.
    lingered: list[float] = []

    def progress(seen: DownloadProgress) -> None:
        if not lingered:
            lingered.append(time.monotonic())
            time.sleep(0.5)

    source = Source(storage)
    async with loop_ticks(0.005) as ticks:
        await download_async(
            Downloads(source.descriptor(), DownloadSettings(), progress=progress),
            tmp_path / "out",
            refresh=source.arefresh,
        )
    assert_complete(tmp_path / "out")
    assert lingered
    assert longest(ticks) < 0.25, longest(ticks)  # not the 0.5 s a progress call lingered


async def test_an_async_download_waits_for_no_job_of_the_loop_s_default_executor(
    storage: StorageServer, tmp_path: Path
) -> None:
    # A program's own blocking jobs (asyncio.to_thread) may hold every worker of the
    # loop's default executor: a download run there waited for them all, past its own
    # deadline, then said that the deadline passed "while waiting for storage".
    release = threading.Event()
    loop = asyncio.get_running_loop()
    workers = min(32, (os.cpu_count() or 1) + 4)  # the default executor's size
    jobs = [loop.run_in_executor(None, release.wait, 10.0) for _ in range(workers)]
    source = Source(storage)
    try:
        await download_async(
            Downloads(source.descriptor(), DownloadSettings()),
            tmp_path / "out",
            refresh=source.arefresh,
        )
        held = [job for job in jobs if not job.done()]
    finally:
        release.set()
        await asyncio.gather(*jobs)
    assert_complete(tmp_path / "out")
    assert len(held) == workers  # done while every job still held its worker


@pytest.mark.parametrize("most", [None, 2], ids=["default", "two"])
def test_at_most_max_concurrency_files_are_fetched_at_once(
    run: Run, tmp_path: Path, most: int | None
) -> None:
    # The README: `download_weights(..., max_concurrency=4, ...)`. Five files whose every
    # GET takes 0.15 s: as many are on their way at once as that allows, and no more.
    files = {f"shard-{i}.bin": os.urandom(1000 + i) for i in range(5)}
    with StorageServer(files).running() as storage:
        for name in files:
            storage.script(name, "pause")
        settings = DownloadSettings() if most is None else DownloadSettings(max_concurrency=most)
        run(Source(storage), tmp_path / "out", settings)
    assert_complete(tmp_path / "out", files)
    assert storage.most_at_once == (4 if most is None else most)


def test_a_progress_callback_that_raises_ends_the_download_saying_it_resumes(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # Its exception came out bare, as if the download had failed: nothing said that the
    # callback had stopped it, nor that its files stay to resume (on_progress's note says so).
    def progress(seen: DownloadProgress) -> None:
        raise ValueError("display gone")

    with pytest.raises(ValueError, match="display gone") as raised:
        run(Source(storage), tmp_path / "out", progress=progress)
    notes = " ".join(getattr(raised.value, "__notes__", []))
    assert "raised by progress" in notes, notes
    assert "run it again to resume" in notes
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")


async def _async_display(_seen: DownloadProgress) -> None:
    raise AssertionError("an async progress is never awaited")


def test_a_progress_callback_that_returns_a_coroutine_is_refused(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # progress=lambda p: display(p), display async: each report made a coroutine nothing
    # awaited (a RuntimeWarning each time), the display never ran, and the download
    # went on as if it had.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidArgumentError, match=r"^progress must be a plain") as raised:
            run(Source(storage), tmp_path / "out", progress=lambda p: _async_display(p))
        notes = " ".join(getattr(raised.value, "__notes__", []))
        del raised
        gc.collect()
    assert "raised by progress" in notes, notes
    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert not unawaited, unawaited
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")


def test_finished_files_are_skipped_and_wrong_ones_fetched_again(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "out"
    run(Source(storage), dest)
    storage.requests.clear()
    # Same size, different bytes: must be fetched again.
    (dest / "small.bin").write_bytes(b"\0" * len(FILES["small.bin"]))
    state = run(Source(storage), dest)
    assert_complete(dest)
    # empty.txt has a size and a hash too, so it is skipped as well.
    assert storage.keys_fetched() == ["small.bin"]
    assert state.skipped == 3
    # A file that is not the artifact's is replaced, and the log says so (it was silent).
    replaced = [r.getMessage() for r in caplog.records if "replacing" in r.getMessage()]
    assert replaced == [
        f"{dest / 'small.bin'}: replacing the file there, which is not "
        "this artifact's (its size or sha256 differs)"
    ]


def test_a_file_without_a_sha256_is_replaced_saying_why(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "out"
    source = Source(storage, **{"small.bin": {"sha256": None}})
    run(source, dest)
    with caplog.at_level(logging.INFO, logger="weaver_facade"):
        run(source, dest)  # the right size, but only a sha256 could tell it is the file
        (dest / "small.bin").write_bytes(b"short")
        run(source, dest)  # another size: not the file
    assert_complete(dest)
    assert [
        (r.levelname, r.getMessage()) for r in caplog.records if "replacing" in r.getMessage()
    ] == [
        (
            "INFO",
            f"{dest / 'small.bin'}: fetching it again, replacing the file there: the server "
            "gives no sha256 to recognise it by",
        ),
        (
            "WARNING",
            f"{dest / 'small.bin'}: replacing the file there, which is not this artifact's "
            "(its size or sha256 differs)",
        ),
    ]


def test_a_part_file_resumes_with_range(storage: StorageServer, run: Run, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    data = FILES["sub/dir/weights.bin"]
    (dest / "sub/dir").mkdir(parents=True)
    (dest / "sub/dir/weights.bin.part").write_bytes(data[:1_000_003])
    state = run(Source(storage), dest)
    assert_complete(dest)
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert ranges == ["bytes=1000003-"]
    assert state.fetched == sum(len(d) for d in FILES.values()) - 1_000_003


@FOLDERS
@pytest.mark.parametrize("linked", ["prefix", "other", "empty"])
def test_a_hard_linked_part_file_is_replaced_not_written_through(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    linked: str,
    folder: str,
    shown: str,
) -> None:
    # A .part that is a hard link to a file elsewhere (a snapshot made with `cp -al`,
    # or one planted in a shared folder) was resumed, cut and written through: the
    # other file took the download's bytes.
    dest = tmp_path / folder
    data = FILES["sub/dir/weights.bin"]
    (dest / "sub/dir").mkdir(parents=True)
    kept = {"prefix": data[:1_000_003], "other": b"not this file's bytes", "empty": b""}[linked]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(kept)
    os.link(elsewhere, dest / "sub/dir/weights.bin.part")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        state = run(Source(storage), dest)
    assert_complete(dest)
    assert elsewhere.read_bytes() == kept
    assert os.stat(elsewhere).st_nlink == 1
    # Fetched whole: the bytes of a file also elsewhere are not taken for this one's.
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert ranges == [None]
    assert state.fetched == sum(len(d) for d in FILES.values())
    part = f"{tmp_path}/{shown}/sub/dir/weights.bin.part"
    assert [r.getMessage() for r in caplog.records] == [
        f"{part}: replacing it, a hard link to a file elsewhere, which writing would change; "
        "fetching the file from its first byte"
    ]


@FOLDERS
def test_a_part_file_made_again_while_a_hard_link_is_replaced_is_refused(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    shown: str,
) -> None:
    # Another process makes the .part again between its unlink and this download's create:
    # whose bytes it holds is not known, so it is not written into.
    dest = tmp_path / folder
    (dest / "sub/dir").mkdir(parents=True)
    (tmp_path / "elsewhere").write_bytes(b"another file's bytes")
    part = dest / "sub/dir/weights.bin.part"
    os.link(tmp_path / "elsewhere", part)
    created = _download._PartFile._created

    def made_again(self: Any) -> int:
        if self.path == part and not part.exists():
            part.write_bytes(b"not this download's")
        return created(self)

    monkeypatch.setattr(_download._PartFile, "_created", made_again)
    with pytest.raises(UnsafeArtifactPathError) as refused:
        run(Source(storage), dest)
    assert str(refused.value) == (
        f"{tmp_path}/{shown}/sub/dir/weights.bin.part is in the way: another file took its place"
    )
    assert refused.value.name == str(part)
    assert part.read_bytes() == b"not this download's"


@pytest.mark.parametrize(
    "kept", [500_000, len(FILES["sub/dir/weights.bin"])], ids=["part", "whole"]
)
@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
def test_a_part_of_other_bytes_is_fetched_afresh_in_the_same_call(
    storage: StorageServer, run: Run, tmp_path: Path, verify: bool, kept: int
) -> None:
    # A .part an earlier run left, of another export (the same size, say: a 416): it
    # failed the sha256 and was deleted, and only a rerun completed the download. Without
    # verify it was even published: only the hash can tell a .part is this artifact's.
    dest = tmp_path / "out"
    data = FILES["sub/dir/weights.bin"]
    (dest / "sub/dir").mkdir(parents=True)
    wrong = bytes([data[0] ^ 1])  # a fixed byte was data[0] in one run in 256
    (dest / "sub/dir/weights.bin.part").write_bytes(wrong + data[1:kept])
    state = run(Source(storage), dest, DownloadSettings(verify=verify))
    assert_complete(dest)
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert ranges == [f"bytes={kept}-", None]
    assert (state.bytes_done, state.verified) == (sum(len(d) for d in FILES.values()), verify)


def test_a_part_of_other_bytes_fetched_afresh_and_still_wrong_is_an_integrity_error(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    data = FILES["sub/dir/weights.bin"]
    (dest / "sub/dir").mkdir(parents=True)
    (dest / "sub/dir/weights.bin.part").write_bytes(data[:500_000])
    other = {"sub/dir/weights.bin": {"sha256": sha(b"another file")}}
    with pytest.raises(ArtifactIntegrityError) as info:
        run(Source(storage, **other), dest)
    err = info.value
    assert (err.name, err.expected, err.received) == (
        "sub/dir/weights.bin",
        sha(b"another file"),
        sha(data),
    )
    assert "earlier download" not in str(err)  # its bytes are all this call's
    assert not (dest / "sub/dir/weights.bin").exists()
    assert not (dest / "sub/dir/weights.bin.part").exists()
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert ranges == ["bytes=500000-", None]


def test_an_artifact_changed_while_downloading_keeps_the_part_of_an_unchanged_file(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # The refresh after weights.bin's 403 finds small.bin changed: the download fails, but
    # weights.bin's .part, whose file did not change, stays for the rerun to resume.
    class Changing(Source):
        def refresh(self) -> Descriptor:
            self.overrides = {"small.bin": {"sha256": "0" * 64}}
            return super().refresh()

    dest = tmp_path / "out"
    storage.script("sub/dir/weights.bin", "drop:100000", "403")
    with pytest.raises(ArtifactIntegrityError, match="changed while downloading") as info:
        run(Changing(storage), dest, DownloadSettings(max_concurrency=1))
    assert info.value.name == "small.bin"
    assert (dest / "sub/dir/weights.bin.part").stat().st_size == 100_000


def test_an_artifact_changed_while_downloading_drops_the_part_of_a_changed_file(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # small.bin.part, left by an earlier run, holds bytes of the version the refresh after
    # weights.bin's 403 found changed: it was kept, and the rerun resumed it, fetched the
    # rest of the new version and failed its sha256; only a third run completed.
    old = FILES["small.bin"]
    new = os.urandom(len(old))

    class Changing(Source):
        def refresh(self) -> Descriptor:
            self.storage.files["small.bin"] = new
            return super().refresh()

    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(old[:40_000])
    storage.script("sub/dir/weights.bin", "drop:100000", "403")
    source = Changing(storage)
    with pytest.raises(ArtifactIntegrityError, match="changed while downloading"):
        run(source, dest, DownloadSettings(max_concurrency=1))
    assert not (dest / "small.bin.part").exists()
    assert (dest / "sub/dir/weights.bin.part").stat().st_size == 100_000
    run(source, dest)  # the rerun completes it
    assert_complete(dest, {**FILES, "small.bin": new})


def test_a_mismatch_of_a_fresh_file_names_no_earlier_download(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    data = FILES["small.bin"]
    other = {"small.bin": {"sha256": sha(bytes([data[0] ^ 1]) + data[1:])}}  # storage's differ
    with pytest.raises(ArtifactIntegrityError) as info:
        run(Source(storage, **other), tmp_path / "out")
    assert info.value.name == "small.bin"
    assert "earlier download" not in str(info.value)


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
def test_a_200_to_a_range_request_restarts_the_file(
    storage: StorageServer, run: Run, tmp_path: Path, verify: bool
) -> None:
    # Once storage ignored Range and the .part was cut to 0, no byte of it is left: the
    # file is one fetched afresh, checked only if verify. Without verify it was hashed
    # all the same (a resumed .part is), and a descriptor whose sha256 is wrong (the
    # reason to pass verify=False) failed a download that succeeds without a .part.
    dest = tmp_path / "out"
    data = FILES["small.bin"]
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(data[:30_000])
    storage.script("small.bin", "full")
    wrong = {} if verify else {"small.bin": {"sha256": sha(b"another file")}}
    state = run(Source(storage, **wrong), dest, DownloadSettings(verify=verify))
    assert_complete(dest)
    assert (state.fetched, state.verified) == (sum(len(d) for d in FILES.values()), verify)


def test_a_file_stored_gzip_encoded_is_decoded(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # An object stored with Content-Encoding: gzip (S3, Azure) comes encoded whatever
    # the request asks; its size and sha256 are of the file, as the official SDK (httpx's
    # decoding) checks them. Its Range counts encoded bytes: a resume starts over.
    storage.script("sub/dir/weights.bin", "gzip+drop:100000", "gzip")
    storage.script("config.json", "gzip")
    out = tmp_path / "out"
    out.mkdir()
    (out / "small.bin.part").write_bytes(FILES["small.bin"][:1000])
    storage.script("small.bin", "gzip", "gzip")
    run(Source(storage), out)
    assert_complete(out)


def test_a_coded_body_cut_short_is_retried_saying_it_does_not_decode(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Its retry said "error: the gzip stream ended early": zlib's exception is "error".
    storage.script("small.bin", "gzip+eof:100")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        run(Source(storage), tmp_path / "out", sleeps=[])
    assert_complete(tmp_path / "out")
    [message] = [r.getMessage() for r in caplog.records]
    said = "the body does not decode (the gzip stream ended early), from storage at "
    assert message.startswith(f"storage GET small.bin of artifact a-1: {said}"), message


@pytest.mark.parametrize("coding", ["deflate", "raw-deflate"])
def test_a_file_stored_deflate_encoded_is_decoded(
    storage: StorageServer, run: Run, tmp_path: Path, coding: str
) -> None:
    # Content-Encoding: deflate is zlib's format, but some servers send the bare deflate
    # stream under that name; httpx (the official SDK) decodes both, and so must this.
    for name in FILES.keys() - {"sub/dir/weights.bin"}:
        storage.script(name, coding)
    storage.script("sub/dir/weights.bin", f"{coding}+drop:100000", coding)
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    # Each file came encoded, at its first attempt (the cut one at its second): a body
    # that could not be decoded would have been fetched again, plainly.
    fetched = sorted(storage.keys_fetched())
    assert fetched == sorted([*FILES, "sub/dir/weights.bin"])


@pytest.mark.parametrize("action", ["full", "gzip"])
def test_a_write_that_fails_ends_the_download_with_its_error(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    # A full disk is no storage failure: retrying the transfer cannot help. A decoded
    # body took the write's OSError for a dropped connection.
    write = os.write

    def full(fd: int, data: bytes | memoryview) -> int:  # the .part files' writes alone
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
            raise OSError(errno.ENOSPC, "No space left on device")  # as the kernel's: no file
        return write(fd, data)

    monkeypatch.setattr(os, "write", full)
    for name in FILES:
        storage.script(name, action)
    sleeps: list[float] = []
    with pytest.raises(OSError, match="No space left") as failed:
        run(Source(storage), tmp_path / "out", sleeps=sleeps)
    assert failed.value.errno == errno.ENOSPC
    # Which file: the disk may be another than the destination's folder looks to be on.
    assert failed.value.filename in {str(tmp_path / "out" / f"{name}.part") for name in FILES}
    assert sleeps == []  # no retry
    fetched = [r.key for r in storage.requests]
    assert len(fetched) == len(set(fetched))


@FOLDERS
def test_a_full_disk_says_how_much_more_the_artifact_needs(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    shown: str,
) -> None:
    # It said "No space left on device" alone: how much to free, and whether the bytes
    # written stay, was the user's to guess.
    write = os.write
    room = [1_000_000]  # bytes the disk takes, over every .part
    lock = threading.Lock()

    def filling(fd: int, data: bytes | memoryview) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
            return write(fd, data)
        with lock:
            if room[0] == 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            n = write(fd, memoryview(data)[: room[0]])
            room[0] -= n
            return n

    monkeypatch.setattr(os, "write", filling)
    dest = tmp_path / folder
    with pytest.raises(OSError, match="No space left") as failed:
        run(Source(storage), dest)
    assert failed.value.errno == errno.ENOSPC
    on_disk = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    assert 0 < on_disk < sum(map(len, FILES.values()))
    more = sum(map(len, FILES.values())) - on_disk
    assert failed.value.__notes__ == [
        f"{tmp_path}/{shown}: the artifact needs {more} bytes ({more / 2**20:.1f} MiB) more "
        "there; its .part files stay: free that much and run it again to resume"
    ]


@pytest.mark.parametrize("placed", [True, False], ids=["in-place", "to-come"])
def test_a_full_disk_counts_what_it_can_of_an_artifact_with_a_file_of_no_size(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    placed: bool,
) -> None:
    # One file the server gave no size (its sha256 alone) made the note say "free space
    # there" without a number, also once that file was in place, where the bytes the
    # others still need are known.
    unsized = "config.json" if placed else "small.bin"
    dest = tmp_path / "out"
    if placed:  # recognised by its sha256, and skipped
        dest.mkdir()
        (dest / unsized).write_bytes(FILES[unsized])
    write = os.write
    room = [1_000_000]  # bytes the disk takes, over the sized files' .part files
    lock = threading.Lock()

    def filling(fd: int, data: bytes | memoryview) -> int:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if not name.endswith(".part"):
            return write(fd, data)
        with lock:
            if room[0] == 0 or name.endswith(f"{unsized}.part"):
                raise OSError(errno.ENOSPC, "No space left on device")
            n = write(fd, memoryview(data)[: room[0]])
            room[0] -= n
            return n

    monkeypatch.setattr(os, "write", filling)
    with pytest.raises(OSError, match="No space left") as failed:
        run(Source(storage, **{unsized: {"size": None}}), dest)
    sized = [name for name in FILES if name != unsized]
    on_disk = 0
    for name in sized:
        for there in (dest / name, dest / f"{name}.part"):
            on_disk += there.stat().st_size if there.exists() else 0
    more = sum(len(FILES[name]) for name in sized) - on_disk
    assert more > 0
    needs = f"{dest}: the artifact needs {more} bytes ({more / 2**20:.1f} MiB) more there"
    assert failed.value.__notes__ == [
        f"{needs}; its .part files stay: free that much and run it again to resume"
        if placed
        else f"{needs}, besides what is left of 1 file whose size the server did not give; "
        "its .part files stay: free more than that and run it again to resume"
    ]


def test_a_206_from_the_wrong_byte_is_not_appended(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(FILES["small.bin"][:30_000])
    storage.script("small.bin", "wrong-range")
    run(Source(storage), dest)
    assert_complete(dest)


def test_416_at_the_end_is_success(storage: StorageServer, run: Run, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(FILES["small.bin"])  # a crash before the rename
    state = run(Source(storage), dest)
    assert_complete(dest)
    statuses = [r.headers.get("range") for r in storage.requests if r.key == "small.bin"]
    assert statuses == [f"bytes={len(FILES['small.bin'])}-"]
    assert state.fetched == sum(len(d) for d in FILES.values()) - len(FILES["small.bin"])


def test_dropped_connections_resume_where_they_stopped(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    storage.script("sub/dir/weights.bin", "drop:1000000", "drop:5", "drop:1500000")
    state = run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert ranges == [None, "bytes=1000000-", "bytes=1000005-", "bytes=2500005-"]
    assert state.fetched == sum(len(d) for d in FILES.values())


def test_5xx_and_429_are_retried_honouring_retry_after(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage.script("small.bin", "503", "429", "503")
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        run(Source(storage), tmp_path / "out", sleeps=sleeps)
    assert_complete(tmp_path / "out")
    # The server says Retry-After: 0, which does not cut the (random) backoff short: each
    # wait is under its cap (0.25 s, doubling).
    assert len(sleeps) == 3
    assert all(0 <= wait < 0.25 * 2**i for i, wait in enumerate(sleeps))
    assert sum(sleeps) > 0
    # Each retry is one WARNING, as the README says of every retry; none names the URL.
    messages = [r.getMessage() for r in caplog.records]
    assert [re.sub(r"in \d+\.\d s", "in N s", m) for m in messages] == [
        "storage GET small.bin of artifact a-1: HTTP 503; retrying in N s (retry 1)",
        "storage GET small.bin of artifact a-1: HTTP 429; retrying in N s (retry 2)",
        "storage GET small.bin of artifact a-1: HTTP 503; retrying in N s (retry 3)",
    ]


@pytest.mark.parametrize(
    ("retry_after", "error", "ends"),
    [
        ("20", None, ""),  # waited out: it ends before the deadline
        ("40", DownloadTimeoutError, "the download's deadline comes before the next attempt"),
        ("3600", StorageError, "storage asks to wait 3600 s"),  # over max_retry_after (120)
    ],
)
def test_a_retry_after_the_download_cannot_wait_out_ends_it_at_once(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    retry_after: str,
    error: type[Exception] | None,
    ends: str,
) -> None:
    # The README: storage's Retry-After is honoured, all within `timeout`. One that ends
    # after the deadline (or asks for more than max_retry_after) ends the download at
    # once, not at its deadline nor after the wait: run it again then.
    storage.script("small.bin", f"503:{retry_after}")
    sleeps: list[float] = []
    started = time.monotonic()
    with pytest.raises(error, match=ends) if error else contextlib.nullcontext():
        run(Source(storage), tmp_path / "out", DownloadSettings(timeout=30), sleeps=sleeps)
    assert time.monotonic() - started < 10  # of the 30 s timeout
    assert sleeps == ([] if error else [float(retry_after)])
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")


def test_a_storage_retry_names_the_artifact_of_its_file(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two artifacts with a file of the same name: each retry said only
    # "storage GET small.bin: HTTP 503", whichever download it was of.
    retried = {}
    for artifact_id in (
        "3f1c0f6e-0000-4000-8000-000000000001",
        "9a2b7d40-0000-4000-8000-000000000002",
    ):
        source = Source(storage)
        source.artifact_id = artifact_id
        storage.script("small.bin", "503")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            run(source, tmp_path / artifact_id, sleeps=[])
        assert_complete(tmp_path / artifact_id)
        [retried[artifact_id]] = [r.getMessage() for r in caplog.records]
    for artifact_id, message in retried.items():
        assert message.startswith(f"storage GET small.bin of artifact {artifact_id}: HTTP 503;")


def test_a_dropped_body_is_reported_with_the_bytes_that_came(
    storage: StorageServer, tmp_path: Path
) -> None:
    # It said "IncompleteRead(0 bytes read, ...)" of a body cut after 40 bytes, which the
    # retry then resumed from: the count was of the last read alone. (Its retry says
    # "connection dropped", an API call's words; the error that ends the download counts.)
    storage.script("small.bin", "drop:40")
    settings = DownloadSettings(timeout=60, initial_backoff=120, max_backoff=120)
    state = Downloads(Source(storage).descriptor(), settings, rng=lambda: 1.0)
    with pytest.raises(DownloadTimeoutError) as info:  # the retry's wait is past the deadline
        download_sync(state, tmp_path / "out", refresh=no_refresh, sleep=lambda _: None)
    left = len(FILES["small.bin"]) - 40
    said = f"(IncompleteRead: IncompleteRead(40 bytes read, {left} more expected), from storage at "
    assert said in str(info.value), info.value


def test_an_error_quoting_a_presigned_url_is_logged_without_its_query(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # http.client refuses a URL with a control character, quoting it whole, signature
    # included (a space is sent percent-encoded, as httpx sends it).
    url = storage.url("small.bin", expires_in=3600) + "&sig=SIG-secret\x7f1"
    source = Source(storage, **{"small.bin": {"url": url}})
    # A count of attempts, not a deadline, ends it: a busy machine can spend a short
    # deadline before the first retry is logged.
    settings = DownloadSettings(max_failures=2)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(StorageError) as info,
    ):
        run(source, tmp_path / "out", settings)
    retries = [r.getMessage() for r in caplog.records if "small.bin" in r.getMessage()]
    assert retries, caplog.text
    for text in (*retries, str(info.value)):
        assert "SIG-secret" not in text
    assert "?[signature hidden]" in str(info.value)


def _unreachable(storage: StorageServer) -> Source:
    """``storage``'s files, ``small.bin``'s URL on a port nothing listens on (made here, so
    that no frame of the test holds it)."""
    url = f"http://127.0.0.1:{free_port()}/bucket/small.bin?X-Signature=SIG-secret"
    return Source(storage, **{"small.bin": {"url": url}})


def _control_character(storage: StorageServer) -> Source:
    url = storage.url("small.bin", expires_in=3600) + "&sig=SIG-secret\x7f1"
    return Source(storage, **{"small.bin": {"url": url}})


@pytest.mark.parametrize("source", [_unreachable, _control_character])
def test_a_storage_error_shows_no_presigned_url_in_its_traceback(
    storage: StorageServer, run: Run, tmp_path: Path, source: Callable[[StorageServer], Source]
) -> None:
    # The frames of the GETs hold the URL (`url = '...?X-Signature=...'`): pytest showed
    # their arguments under each exception of the chain, -l and rich their locals.
    with pytest.raises(StorageError) as info:
        run(source(storage), tmp_path / "out", DownloadSettings(max_failures=2))
    shown = [
        str(info.getrepr(funcargs=True, showlocals=True, chain=True)),
        *traceback.TracebackException.from_exception(info.value, capture_locals=True).format(),
    ]
    assert "small.bin" in shown[0]  # the error is there
    assert [text for text in shown if "SIG-secret" in text] == []


def test_a_storage_host_that_cannot_be_reached_is_named(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A presigned URL on a host this client cannot reach (a server handing out an internal
    # name, such as minio:9000) failed with "Connection refused" alone: the API answered,
    # so nothing said which host to look at. Its origin is named; its query never is.
    port = free_port()
    url = f"http://127.0.0.1:{port}/bucket/small.bin?X-Signature=SIG-secret"
    source = Source(storage, **{"small.bin": {"url": url}})
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(StorageError) as info,
    ):
        run(source, tmp_path / "out", DownloadSettings(max_failures=2))
    retries = [r.getMessage() for r in caplog.records if "small.bin" in r.getMessage()]
    assert retries, caplog.text
    for text in (*retries, str(info.value)):
        assert f"from storage at http://127.0.0.1:{port}" in text, text
        assert "SIG-secret" not in text, text
        assert "/bucket" not in text, text


@pytest.mark.parametrize("status", ["403", "401"])
def test_expired_urls_are_refreshed_after_401_or_403(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    status: str,
) -> None:
    # The README: URLs are refreshed "after a 401/403".
    source = Source(storage)
    storage.script("small.bin", status)
    storage.script("config.json", status)
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        run(source, tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert 1 <= source.refreshes <= 2
    # Each is a retry of a storage GET, and one WARNING, as the README says of every retry.
    retried = sorted(
        r.getMessage().split(":")[0] for r in caplog.records if f"HTTP {status}" in r.getMessage()
    )
    assert retried == [
        "storage GET config.json of artifact a-1",
        "storage GET small.bin of artifact a-1",
    ]


def test_a_queued_files_url_is_refreshed_before_use_once_it_expired(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # One file at a time; small.bin, the last, has a URL of 0.5 s, and the first file
    # takes longer: four 503s, each backoff a second by the wall clock. small.bin's URL
    # was fetched as it was, expired (taken for clock skew: its age counted from when its
    # transfer started), and only storage's 403 refreshed it.
    naps: list[float] = []
    start = time.time()

    def wall_clock() -> float:
        return start + len(naps)

    class ShortLived(Source):
        def descriptor(self) -> Descriptor:
            d = super().descriptor()
            files = [
                attrs.evolve(
                    f, url=f"{f.url}&g={self.refreshes}", url_expires_at=wall_clock() + 0.5
                )
                if f.name == "small.bin"
                else f
                for f in d.files
            ]
            return attrs.evolve(d, files=tuple(files))

    source = ShortLived(storage)
    storage.script("config.json", *["503"] * 4)
    settings = DownloadSettings(max_concurrency=1)
    run(source, tmp_path / "out", settings, sleeps=naps, wall_clock=wall_clock)
    assert_complete(tmp_path / "out")
    assert len(naps) == 4
    assert source.refreshes == 1
    assert [r.path.rsplit("&", 1)[1] for r in storage.requests if r.key == "small.bin"] == ["g=1"]


def test_urls_that_really_expired_are_refreshed(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    source = Source(storage)
    source.expires_in = -5  # already expired: the server answers 403
    first = source.descriptor()
    source.expires_in = 3600

    def expired_first() -> Descriptor:
        return first

    src = Source(storage)
    src.descriptor = expired_first  # type: ignore[method-assign]
    src.refresh = source.refresh  # type: ignore[method-assign]
    run(src, tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert source.refreshes >= 1


def test_a_400_expired_token_is_refreshed_like_a_403(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GCS answers an expired signed URL 400 ExpiredToken, not 403; so does S3 once the
    # session that signed a URL ends, which may be long before its own expiry.
    source = Source(storage)
    storage.script("small.bin", "drop:30000", "400-expired")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        run(source, tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert source.refreshes == 1
    assert "HTTP 400 (ExpiredToken), the URL has expired" in caplog.text


def test_a_refresh_that_fails_for_good_says_the_download_stopped(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # The API's own error ("[503 unavailable] get_artifact_download: ...") said nothing of
    # the download it ended half-way, nor of the .part files a rerun resumes.
    storage.script("small.bin", "drop:30000", "403")
    dest = tmp_path / "run it" / "out"  # the words of the command line's note, not its path

    class Unavailable(Source):
        def refresh(self) -> Descriptor:
            self.refreshes += 1
            raise APIError("get_artifact_download: down", status_code=503, code="unavailable")

    source = Unavailable(storage)
    with pytest.raises(APIError) as info:
        run(source, dest)
    assert source.refreshes == 1
    assert (dest / "small.bin.part").stat().st_size == 30000
    said = (
        "raised while refreshing the download's storage URLs: the download stopped; its "
        f"finished files and partial ones (*.part) stay in {dest}: run {{}} again to resume"
    )
    assert info.value.__notes__ == [said.format("it")]
    assert cli_notes(info.value) == [said.format("the same command")]  # its error line's


def test_a_refresh_that_fails_before_any_byte_says_only_that(run: Run, tmp_path: Path) -> None:
    # Its note said the files "stay in" a folder the download had made and, empty, removed.
    dest = tmp_path / "out"
    with StorageServer({"only.bin": b"x" * 1000}).running() as server:
        server.script("only.bin", "403")

        class Unavailable(Source):
            def refresh(self) -> Descriptor:
                raise APIError("get_artifact_download: down", status_code=503, code="unavailable")

        with pytest.raises(APIError) as info:
            run(Unavailable(server), dest)
    assert not dest.exists()
    said = "raised while refreshing the download's storage URLs: the download stopped"
    assert info.value.__notes__ == [said]


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize("stall", ["403-stall-body", "403-stall-body-close"])
def test_an_error_body_that_never_comes_holds_up_no_refresh(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stall: str,
    proxied: bool,
) -> None:
    # The body of an error reply is read only for storage's error code: one that does
    # not come is waited for briefly (ERROR_BODY_WAIT), not for the read timeout. A
    # reply saying `Connection: close` was waited for the read timeout, directly (whose
    # connection then let its socket go before the wait was set), and through a proxy
    # any reply was.
    use_proxy(monkeypatch, storage, proxied)
    source = Source(storage)
    storage.script("small.bin", stall)
    run(source, tmp_path / "out", DownloadSettings(read_timeout=30, timeout=15))
    assert_complete(tmp_path / "out")
    assert source.refreshes == 1


def test_a_final_storage_error_names_storages_error_code(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    storage.script("small.bin", "404-gone")
    with pytest.raises(StorageError, match=r"HTTP 404 \(NoSuchKey\)$") as info:
        run(Source(storage), tmp_path / "out")
    assert info.value.status_code == 404


def test_a_final_storage_error_starts_no_other_file(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With one file at a time, the worker took the next file as soon as the first failed,
    # before the download ended on that failure: it fetched it, through a proxy that had
    # refused storage a second CONNECT. The download's end is made slow here to show it.
    wait = _download._Shell._wait

    def slow_to_end(shell: Any, futures: Any) -> bool:
        try:
            return wait(shell, futures)
        except StorageError:
            time.sleep(0.3)
            raise

    monkeypatch.setattr(_download._Shell, "_wait", slow_to_end)
    storage.script("config.json", "404-gone")
    with pytest.raises(StorageError, match="NoSuchKey"):
        run(Source(storage), tmp_path / "out", DownloadSettings(max_concurrency=1))
    assert storage.keys_fetched() == ["config.json"]
    assert not (tmp_path / "out" / "sub").exists()


def test_a_url_refused_even_when_fresh_is_a_storage_error(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    storage.script("small.bin", *["403"] * 10)
    with pytest.raises(StorageError, match="refreshes") as info:
        run(Source(storage), tmp_path / "out")
    assert info.value.status_code == 403


def test_persistent_failures_give_up_with_the_last_status(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    storage.script("small.bin", *["503"] * 20)
    with pytest.raises(StorageError, match=r"HTTP 503\); run it again to resume$") as info:
        run(Source(storage), tmp_path / "out", DownloadSettings(max_failures=3))
    assert info.value.name == "small.bin"
    assert info.value.status_code == 503  # as the message says


def test_a_failed_download_removes_the_empty_part_files_it_created(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # A final storage error left a zero-byte .part of each file begun (of the one that
    # failed, of those it stopped): nothing to resume, only litter in the user's folder.
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "config.json.part").write_bytes(b"")  # not this call's: it stays
    storage.script("config.json", "stall-head")
    storage.script("sub/dir/weights.bin", "stall:100000")  # a .part with bytes: it stays
    # Failing late enough for weights.bin to have written its 100,000 bytes.
    storage.script("small.bin", *["slow503"] * 5, "404-gone")
    storage.script("empty.txt", "stall-head")
    with pytest.raises(StorageError, match="NoSuchKey"):
        run(Source(storage), dest)
    parts = {str(p.relative_to(dest)): p.stat().st_size for p in dest.rglob("*.part")}
    assert parts == {"config.json.part": 0, "sub/dir/weights.bin.part": 100_000}


def test_a_failed_download_removes_a_part_it_emptied_too(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # A .part longer than its file is fetched afresh: this call cut it to nothing, so an
    # empty one left by its failure holds none of an earlier run's bytes either.
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(b"x" * (len(FILES["small.bin"]) + 10))
    storage.script("small.bin", "404-gone")
    with pytest.raises(StorageError, match="NoSuchKey"):
        run(Source(storage), dest)
    assert not (dest / "small.bin.part").exists()


def test_a_failed_download_removes_the_empty_folders_it_made(run: Run, tmp_path: Path) -> None:
    # The folders made for the files stayed behind, empty, in the user's folder. Those
    # there before, or holding anything (a .part to resume, a file of the user's), stay.
    files = {
        "keep/x.bin": os.urandom(200_000),  # a .part with bytes: its folder stays
        "gone/deeper/y.bin": b"y" * 10,
        "was/z.bin": b"z" * 10,  # "was" is the user's
        "user/w.bin": b"w" * 10,  # the user puts a file into "user" meanwhile
        "fail.bin": b"f" * 10,
    }
    dest = tmp_path / "out"
    (dest / "was").mkdir(parents=True)

    def progress(seen: DownloadProgress) -> None:
        (dest / "user" / "notes.txt").touch()

    with StorageServer(files).running() as storage:
        storage.script("keep/x.bin", "stall:100000")
        for name in ("gone/deeper/y.bin", "was/z.bin", "user/w.bin"):
            storage.script(name, "stall-head")
        # Failing late enough for x.bin to have written its 100,000 bytes.
        storage.script("fail.bin", *["slow503"] * 5, "404-gone")
        with pytest.raises(StorageError, match="NoSuchKey"):
            run(Source(storage), dest, DownloadSettings(max_concurrency=5), progress=progress)
    left = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert left == ["keep", "keep/x.bin.part", "user", "user/notes.txt", "was"]


@pytest.mark.parametrize("there", [False, True], ids=["made", "there-before"])
def test_a_failed_download_removes_the_destination_it_made(
    storage: StorageServer, run: Run, tmp_path: Path, there: bool
) -> None:
    # The folder given as dest, and its parents made for it, stayed behind empty after a
    # download that wrote nothing; one that was there before stays, even empty.
    dest = tmp_path / "new" / "out"
    if there:
        dest.mkdir(parents=True)
    for name in FILES:
        storage.script(name, "404-gone")
    with pytest.raises(StorageError, match="NoSuchKey"):
        run(Source(storage), dest)
    assert dest.is_dir() is there
    assert (tmp_path / "new").exists() is there
    assert not there or not any(dest.iterdir())


@pytest.mark.parametrize("there", [False, True], ids=["made", "there-before"])
async def test_a_stopped_download_removes_what_it_made_that_holds_no_byte(
    storage: StorageServer, tmp_path: Path, there: bool
) -> None:
    # The README: an empty `.part` "when it fails or stops is removed ..., and so is a
    # folder the call made, `dest` or one for the files, that is then empty; any other
    # is left as it is". Stopped (cancelled) while storage has sent nothing.
    dest = tmp_path / "new" / "out"
    if there:
        dest.mkdir(parents=True)
    for name in FILES:
        storage.script(name, "stall-head")
    source = Source(storage)
    task = asyncio.create_task(
        download_async(
            Downloads(source.descriptor(), DownloadSettings()),
            dest,
            refresh=source.arefresh,
        )
    )
    held = {name for name in FILES if FILES[name]}  # empty.txt needs no GET
    for _ in range(500):
        if set(storage.keys_fetched()) >= held:
            break
        await asyncio.sleep(0.01)
    assert set(storage.keys_fetched()) >= held
    assert (dest / "sub" / "dir" / "weights.bin.part").exists()
    await seconds_to_cancel(task)
    assert dest.is_dir() is there
    assert (tmp_path / "new").exists() is there
    assert not there or not any(dest.iterdir())


def test_a_download_waiting_for_another_makes_the_folder_again_that_one_removed(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The one it waited for made dest, ended short and removed it: its turn found the
    # folder it had opened gone, and no file could be written there.
    dest = tmp_path / "out"
    with completing_behind(dest, storage, run, caplog):
        dest.rmdir()  # the other failed: it removes the folder it made


def test_a_download_waiting_for_another_makes_its_folders_once_its_turn_comes(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The folders are made in turn: a download that fails removes the empty folders it
    # made, also those that one waiting for it found there before its turn.
    dest = tmp_path / "out"
    (dest / "sub/dir").mkdir(parents=True)  # the other download's
    with completing_behind(dest, storage, run, caplog):
        shutil.rmtree(dest / "sub")  # the other failed: it removes them


def test_a_symlink_put_in_the_way_while_a_download_waits_is_refused(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The folders are checked before the download waits for its turn: a symlink put where
    # one goes meanwhile (by whoever holds the lock) was followed, out of dest.
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    raised: list[BaseException] = []

    def download() -> None:
        try:
            run(Source(storage), dest)
        except BaseException as exc:
            raised.append(exc)

    with waiting_behind(dest, download, caplog):
        (dest / "sub").symlink_to(outside)
    assert isinstance(raised[0], UnsafeArtifactPathError)
    assert str(raised[0]) == (
        f"{dest / 'sub'} is in the way of sub/dir/weights.bin: it is a symlink (to {outside})"
    )
    assert list(outside.iterdir()) == []


def test_the_overall_deadline_bounds_retries(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    storage.script("small.bin", *["503"] * 20)
    waits: list[float] = []

    def clock() -> float:
        return float(len(waits))  # every wait between retries takes a second

    # The clock moves only when small.bin's retries wait, so another file still streaming
    # may be the one that meets the deadline first: either way the deadline ends it.
    with pytest.raises(DownloadTimeoutError, match=r"the download's deadline passed") as info:
        run(
            Source(storage),
            tmp_path / "out",
            # Backoff too short to count on this clock (storage says Retry-After: 0).
            DownloadSettings(timeout=6.0, max_failures=100, max_backoff=0.01),
            sleeps=waits,
            clock=clock,
        )
    assert isinstance(info.value, TimeoutError)
    assert 5 <= len(waits) <= 7


def test_a_wrong_size_is_an_integrity_error(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    data = FILES["small.bin"]
    for size, received in ((len(data) + 10, str(len(data))), (len(data) - 10, "more than")):
        dest = tmp_path / f"out-{size}"
        source = Source(storage, **{"small.bin": {"size": size}})
        with pytest.raises(ArtifactIntegrityError) as info:
            run(source, dest)
        assert info.value.name == "small.bin"
        assert info.value.expected == str(size)
        assert received in str(info.value.received)
        assert not (dest / "small.bin").exists()


def test_the_first_fatal_error_cancels_the_other_transfers(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # weights.bin's storage answers slowly with 503s for ~10 s; small.bin fails at once.
    storage.script("sub/dir/weights.bin", *["slow503"] * 50)
    bad = Source(storage, **{"small.bin": {"sha256": "0" * 64}})
    started = time.monotonic()
    with pytest.raises(ArtifactIntegrityError):
        run(bad, tmp_path / "out", DownloadSettings(max_failures=100))
    assert time.monotonic() - started < 5.0
    tried = [r for r in storage.requests if r.key == "sub/dir/weights.bin"]
    assert len(tried) < 10
    assert not (tmp_path / "out/sub/dir/weights.bin").exists()


def test_a_transfer_stopped_by_another_files_error_logs_no_retry(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # weights.bin waits for its reply's headers when small.bin fails for good; the stop
    # broke its request, which was then logged as a storage failure "retrying in 0.2 s".
    storage.script("sub/dir/weights.bin", "stall-head")
    bad = Source(storage, **{"small.bin": {"sha256": "0" * 64}})
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(ArtifactIntegrityError),
    ):
        run(bad, tmp_path / "out", DownloadSettings(max_concurrency=4))
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []


def test_files_without_size_or_hash_download_unverified(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    source = Source(storage, **{"small.bin": {"size": None, "sha256": None}})
    run(source, tmp_path / "out")
    assert_complete(tmp_path / "out")
    storage.requests.clear()
    run(source, tmp_path / "out")
    assert storage.keys_fetched() == ["small.bin"]  # it cannot be known to be complete


def test_no_verify_skips_the_hash_but_not_the_size(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    source = Source(storage, **{"small.bin": {"sha256": "0" * 64}})
    run(source, tmp_path / "out", DownloadSettings(verify=False))
    assert_complete(tmp_path / "out")


def test_redirects_are_followed(storage: StorageServer, run: Run, tmp_path: Path) -> None:
    storage.script("small.bin", "redirect")
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert storage.other_port in [r.port for r in storage.requests]


def test_a_redirect_to_a_raw_utf8_location_is_followed_as_httpx_does() -> None:
    # http.client reads header bytes as Latin-1: the UTF-8 of "é" became "Ã©", sent as
    # %C3%83%C2%A9, a file storage does not have (httpx, behind a proxy, read it right).
    from weaver_facade._storage_http import StorageHTTP

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    lines: list[bytes] = []

    def serve() -> None:
        for reply in (b"302 Found\r\nLocation: /caf\xc3\xa9.bin", b"200 OK\r\nX-Note: caf\xe9"):
            conn = listener.accept()[0]
            lines.append(conn.recv(65536).split(b"\r\n")[0])
            conn.sendall(b"HTTP/1.1 " + reply + b"\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    http = StorageHTTP(user_agent="t", read_timeout=5)
    reply = http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/start", {})
    reply.close()
    http.close()
    server.join(5)
    listener.close()
    assert lines[1] == b"GET /caf%C3%A9.bin HTTP/1.1"
    assert reply.headers["x-note"] == "café"  # not UTF-8: Latin-1, as before


def _redirect_for_ever(asked: list[bytes], location: bytes) -> Callable[[socket.socket], None]:
    """A storage connection that answers every request with a redirect to ``location``,
    each request's first line kept in ``asked``."""

    def redirect(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while request := conn.recv(65536):
                asked.append(request.split(b"\r\n")[0])
                conn.sendall(
                    b"HTTP/1.1 302 Found\r\nLocation: "
                    + location
                    + b"\r\nContent-Length: 0\r\n\r\n"
                )

    return redirect


def test_a_redirect_loop_ends_after_as_many_redirects_as_httpx_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MAX_REDIRECTS is "as httpx" (20, its default): a storage that redirects for ever
    # is followed 20 times, 21 requests, then refused, not followed for ever.
    from weaver_facade._storage_http import MAX_REDIRECTS, StorageHTTP, StorageProtocolError

    asked: list[bytes] = []
    clear_proxies(monkeypatch)  # the direct client, not httpx's behind a proxy
    with (
        serving(_redirect_for_ever(asked, b"/again")) as (port, _),
        contextlib.closing(StorageHTTP(user_agent="t", read_timeout=5)) as http,
        pytest.raises(StorageProtocolError, match="more than 20 redirects"),
    ):
        http.get(f"http://127.0.0.1:{port}/start", {})
    with httpx.Client() as default:
        assert MAX_REDIRECTS == default.max_redirects == 20
    assert asked == [b"GET /start HTTP/1.1"] + [b"GET /again HTTP/1.1"] * 20


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
def test_a_redirect_loop_fails_the_download_at_once(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    proxied: bool,
) -> None:
    # It was retried as a storage failure, 8 times (189 requests, 11 s), then "giving
    # up after 8 failed attempts ... run it again to resume": no rerun ends a loop.
    asked: list[bytes] = []
    clear_proxies(monkeypatch)
    with serving(_redirect_for_ever(asked, b"/again?X-Amz-Signature=SIG-9q")) as (port, _):
        if proxied:  # the listener stands in for the proxy too
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        file = StorageFile(
            name="a.bin",
            size=1,
            sha256=None,
            url=f"http://127.0.0.1:{port}/a?X-Amz-Signature=SIG-9q",
        )
        with (
            caplog.at_level(logging.DEBUG),
            pytest.raises(StorageError, match="redirect loop") as failed,
        ):
            download_sync(
                Downloads(
                    Descriptor(artifact_id="a-1", kind="hf_adapter", files=(file,)),
                    DownloadSettings(),
                ),
                tmp_path / "out",
                refresh=no_refresh,
            )
    assert len(asked) == 21
    assert "SIG-9q" not in str(failed.value)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize(
    "location",
    [b"http://[::1/x", b"http://127.0.0.1:x/", b"ftp://h/x", b"http://xn--a.example/x"],
    ids=["ipv6", "port", "ftp", "punycode"],
)
def test_a_redirect_to_a_url_that_cannot_be_fetched_is_a_storage_error(
    monkeypatch: pytest.MonkeyPatch, proxied: bool, location: bytes
) -> None:
    # urljoin's ValueError (a bad IPv6 literal in storage's Location) left the error tree:
    # the download ended in a bare ValueError. Behind a proxy, httpx's redirect made such
    # a Location a RemoteProtocolError, retried until the download gave up.
    from weaver_facade._storage_http import StorageHTTP, UnfetchableURLError

    def redirect(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        )

    with serving(redirect) as (port, _):
        address = f"http://127.0.0.1:{port}"
        clear_proxies(monkeypatch)
        if proxied:  # the listener stands in for the proxy too
            monkeypatch.setenv("HTTP_PROXY", address)
        with (
            contextlib.closing(StorageHTTP(user_agent="t", read_timeout=5)) as http,
            pytest.raises(UnfetchableURLError, match="cannot fetch"),
        ):
            http.get(f"{address}/start", {})


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "a/../../evil",
        "/etc/evil",
        "a\\b",
        "c:evil",
        "a//b",
        "./a",
        "a/./b",
        "",
        "a.",
        "a ",
        "dir./x",
        "a\nb",
        "a\x7fb",  # DEL: a control character, which the spec's pattern refuses too
        # Longer than a file system's 255 bytes, with the ".part" its download goes to.
        "x" * 251,
        "d" * 256 + "/x",
        "\u00e9" * 126,  # 126 characters, 252 bytes
    ],
)
def test_unsafe_names_are_refused_before_anything_is_written(
    storage: StorageServer, tmp_path: Path, name: str
) -> None:
    storage.files[name] = b"evil"
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArtifactPathError) as info:
        download_sync(
            Downloads(Source(storage).descriptor(), DownloadSettings()),
            dest,
            refresh=no_refresh,
        )
    assert info.value.name == name
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] or not any(tmp_path.iterdir())
    assert storage.requests == []


def test_a_character_in_a_name_is_refused_as_the_spec_refuses_it() -> None:
    # DEL (0x7f), which the spec's pattern refuses, was taken; C1 characters, which the
    # spec allows, are names a server may send.
    pattern = spec_document()["components"]["schemas"]["ArtifactFileName"]["pattern"]
    differ = []
    for code in [*range(0x100), 0x2028, 0xFEFF, 0x1F600]:
        name = f"a{chr(code)}b"
        try:
            check_names([name], windows=False)
            refused = False
        except UnsafeArtifactPathError:
            refused = True
        if refused is bool(re.fullmatch(pattern, name)):
            differ.append(name)
    assert differ == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("CON", "is a device's name on Windows"),
        ("sub/aux.txt", "is a device's name on Windows"),
        ("nul.tar.gz", "is a device's name on Windows"),
        ("com1", "is a device's name on Windows"),
        ("LPT9.bin", "is a device's name on Windows"),
        ("CONIN$", "is a device's name on Windows"),
        ("a<b", "contains '<', which Windows refuses in a name"),
        ("x/a?b*c", "contains '*', '?', which Windows refuses in a name"),
        ('q"|>', "contains '\"', '>', '|', which Windows refuses in a name"),
    ],
)
def test_names_windows_cannot_hold_are_refused_there_alone(name: str, problem: str) -> None:
    # The spec allows them: on Windows, CON is the console and "a<b" no name, so that a
    # download wrote to the console or failed with a raw OSError, files in place already.
    with pytest.raises(UnsafeArtifactPathError) as info:
        check_names(["ok.json", name], windows=True)
    assert str(info.value) == f"file name {name!r} {problem}"
    assert info.value.name == name
    assert [str(p) for p in check_names(["ok.json", name], windows=False)] == ["ok.json", name]


def test_names_the_spec_allows_download_on_posix(tmp_path: Path) -> None:
    files = {"CON": b"1", "sub/aux.txt": b"2", 'a<b>?*|"': b"3", "c1\x85\x9b.txt": b"4"}
    with StorageServer(files).running() as storage:
        download_sync(
            Downloads(Source(storage).descriptor(), DownloadSettings()),
            tmp_path / "out",
            refresh=no_refresh,
        )
    assert_complete(tmp_path / "out", files)


def test_the_longest_names_a_file_system_holds_download(tmp_path: Path) -> None:
    # 255 bytes for a folder; 250 for a file, whose download goes to its name + ".part".
    files = {"d" * 255 + "/" + "x" * 250: b"1", "\u00e9" * 125: b"2"}
    with StorageServer(files).running() as storage:
        download_sync(
            Downloads(Source(storage).descriptor(), DownloadSettings()),
            tmp_path / "out",
            refresh=no_refresh,
        )
    assert_complete(tmp_path / "out", files)


def test_a_path_longer_than_the_system_holds_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    # Every segment fits, but not the whole path with its ".part" (PATH_MAX, its NUL
    # included): that gave a raw OSError (ENAMETOOLONG), once folders were made.
    dest = tmp_path / "out"
    room = os.pathconf(tmp_path, "PC_PATH_MAX") - 1 - len(os.fsencode(dest / ".part"))
    folders = (room - 1) // 201  # of 200 bytes and a "/"; the file's name has 1 to 201
    fits = "/".join(["d" * 200] * folders + ["x" * (room - 201 * folders)])
    too_long = fits + "y"
    with StorageServer({too_long: b"2"}).running() as storage:
        with pytest.raises(UnsafeArtifactPathError, match="bytes") as info:
            download_sync(
                Downloads(Source(storage).descriptor(), DownloadSettings()),
                dest,
                refresh=no_refresh,
            )
        assert info.value.name == too_long
        assert storage.requests == []
    assert not dest.exists()
    with StorageServer({fits: b"1"}).running() as storage:
        download_sync(
            Downloads(Source(storage).descriptor(), DownloadSettings()),
            dest,
            refresh=no_refresh,
        )
    assert_complete(dest, {fits: b"1"})


@pytest.mark.parametrize(
    "extra",
    [
        {"a": b"1", "A": b"2"},  # duplicates on a case-insensitive disk
        {"a": b"1", "a/b": b"2"},  # a file and a folder of the same name
        {"a": b"1", "a.part": b"2"},  # a file where another's partial download goes
        # A folder there: made, and the file in it fetched, before the other's turn failed.
        {"a.part/x": b"2", "a": b"1"},
        {"A": b"1", "a.PART/x": b"2"},  # the same, by case
        # One name on a disk that ignores Unicode normalization (macOS): NFC and NFD.
        {"caf\u00e9.json": b"1", "cafe\u0301.json": b"2"},
        {"\u00c9t\u00e9": b"1", "e\u0301te\u0301/x": b"2"},  # a file and a folder, by case too
    ],
)
def test_clashing_names_are_refused(tmp_path: Path, extra: dict[str, bytes]) -> None:
    with StorageServer(extra).running() as storage:
        with pytest.raises(UnsafeArtifactPathError):
            download_sync(  # one file at a time, in order: the first is fetched, unless refused
                Downloads(Source(storage).descriptor(), DownloadSettings(max_concurrency=1)),
                tmp_path / "out",
                refresh=no_refresh,
            )
        assert storage.requests == []
    assert not (tmp_path / "out").exists()


def test_names_differing_only_in_normalization_are_told_apart_in_the_refusal() -> None:
    files = tuple(
        StorageFile(name=name, size=1, sha256=None, url="http://127.0.0.1:1/x")
        for name in ("caf\u00e9", "cafe\u0301")
    )
    with pytest.raises(UnsafeArtifactPathError, match=r"as 'caf\\xe9', 'cafe\\u0301' in another"):
        Downloads(Descriptor(artifact_id="a", kind="hf_model", files=files), DownloadSettings())


def test_exact_duplicates_are_refused() -> None:
    dup = StorageFile(name="x", size=1, sha256=None, url="http://127.0.0.1:1/x")
    with pytest.raises(UnsafeArtifactPathError, match="twice"):
        Downloads(
            Descriptor(artifact_id="a", kind="hf_model", files=(dup, dup)), DownloadSettings()
        )


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_a_file_where_the_destination_goes_is_a_typed_error(
    storage: StorageServer, run: Run, tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_bytes(b"keep")
    with pytest.raises(UnsafeArtifactPathError, match="is not a directory"):
        run(Source(storage), tmp_path / where)
    assert (tmp_path / "file").read_bytes() == b"keep"


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(errno.EACCES, "Permission denied"),
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
    ],
)
def test_a_destination_that_cannot_be_made_is_a_typed_error(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
) -> None:
    # A folder with no write permission (or under /proc) raised the bare OSError of mkdir,
    # which is no WeaverError and was not in download_weights' Raises.
    dest = tmp_path / "out"

    def refused(self: Path, *args: Any, **kwargs: Any) -> None:
        error.filename = str(self)
        raise error

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    assert str(info.value) == f"cannot write to {dest}: {error.strerror}"
    assert info.value.name == str(dest)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "error",
    [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.EROFS, "Read-only")],
)
def test_a_destination_that_cannot_be_written_is_a_typed_error(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
) -> None:
    # A folder that exists but takes no files (no permission, a read-only mount) raised
    # the bare OSError of the first .part's open, no WeaverError.
    dest = tmp_path / "out"
    dest.mkdir()
    real_open = os.open

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            error.filename = str(path)
            raise error
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    assert str(info.value).startswith("cannot write to ")
    assert str(dest) in str(info.value)
    assert list(dest.rglob("*")) == []  # nor the folders made for the files


def test_a_destination_that_takes_no_folders_is_a_typed_error(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder that exists but takes no folder (no permission, a read-only mount) raised
    # the bare OSError of the mkdir of the first file's folder (sub/ of sub/dir/...).
    dest = tmp_path / "out"
    dest.mkdir()
    real_mkdir = Path.mkdir

    def refused(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.parent == dest:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    assert str(info.value) == f"cannot write to {dest / 'sub'}: Permission denied"
    assert storage.requests == []


def test_a_destination_that_cannot_be_read_is_a_typed_error(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder the user may write into but not read (d-wx) raised the bare PermissionError
    # of the open that takes its lock, no WeaverError.
    dest = tmp_path / "out"
    dest.mkdir()
    real_open = os.open

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == dest:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    # Said by what failed: it may be written into (it was "cannot write to DEST").
    assert str(info.value) == f"cannot read {dest}: Permission denied"
    assert info.value.name == str(dest)
    assert storage.requests == []
    assert list(dest.iterdir()) == []


def test_a_destination_it_may_only_search_says_it_can_neither_read_nor_write(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # A folder of mode --x was said "cannot read DEST": true, but half of what it lacks.
    dest = tmp_path / "out"
    with search_only(dest), pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    assert str(info.value) == f"cannot read or write {dest}: Permission denied"
    assert info.value.name == str(dest)
    assert storage.requests == []
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "lacks"), [(0o300, "read"), (0o200, "read or write")], ids=["d-wx", "d-w-"]
)
def test_a_destination_it_may_not_search_says_it_cannot_write_either(
    run: Run, tmp_path: Path, mode: int, lacks: str
) -> None:
    # A folder of mode -w- was said "cannot read DEST", as one of -wx is, though nothing
    # can be made in a folder that may not be searched. (With a file to fetch, looking for
    # it in the folder fails first, for a user who is not root: an empty artifact here.)
    dest = tmp_path / "out"
    with (
        StorageServer({}).running() as empty,
        unread(dest, mode),
        pytest.raises(UnsafeArtifactPathError) as info,
    ):
        run(Source(empty), dest)
    assert str(info.value) == f"cannot {lacks} {dest}: Permission denied"
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("which", ["small.bin", "small.bin.part"])
def test_a_file_in_place_that_cannot_be_read_says_it_cannot_read_it(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    # A finished file is hashed before it is skipped, a .part before it is resumed: one
    # without read permission raised the bare PermissionError, which the command line said
    # as "cannot write to FILE", a file it had no need to write.
    dest = tmp_path / "out"
    run(Source(storage), dest)
    if which.endswith(".part"):
        (dest / "small.bin").rename(dest / which)
    storage.requests.clear()
    unreadable = dest / which
    real_open = os.open

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == unreadable and flags & os.O_ACCMODE == os.O_RDONLY:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(UnsafeArtifactPathError) as info:
        run(Source(storage), dest)
    assert str(info.value) == f"cannot read {unreadable}: Permission denied"
    assert info.value.name == str(dest / "small.bin")
    assert unreadable.read_bytes() == FILES["small.bin"]


@pytest.mark.parametrize("where", ["locked", "locked/out"])
def test_a_destination_that_cannot_be_searched_is_a_typed_error(
    storage: StorageServer, run: Run, tmp_path: Path, where: str
) -> None:
    # A folder of mode rw- (or one below it): looking for what is in the way of its files
    # (or for the folder itself) raised the bare PermissionError, no WeaverError.
    dest = tmp_path / where
    with no_search(tmp_path / "locked"):
        with pytest.raises(UnsafeArtifactPathError) as info:
            run(Source(storage), dest)
        assert list((tmp_path / "locked").iterdir()) == []
    assert str(info.value) == f"cannot write to {dest}: Permission denied"
    assert info.value.name == str(dest)
    assert storage.requests == []


def test_a_symlink_in_the_way_is_refused(storage: StorageServer, run: Run, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    (dest / "sub").mkdir(parents=True)
    (dest / "sub" / "dir").symlink_to(outside)
    with pytest.raises(UnsafeArtifactPathError, match="symlink"):
        run(Source(storage), dest)
    assert list(outside.iterdir()) == []
    # A symlink where the file itself goes is not followed either.
    (dest / "sub" / "dir").unlink()
    target = outside / "victim"
    target.write_bytes(b"keep")
    (dest / "small.bin").symlink_to(target)
    with pytest.raises(UnsafeArtifactPathError):
        run(Source(storage), dest)
    assert target.read_bytes() == b"keep"


@pytest.mark.parametrize("where", ["small.bin", "small.bin.part"])
@pytest.mark.parametrize("what", ["symlink", "folder", "fifo"])
def test_what_is_in_the_way_of_a_file_is_refused_before_anything_is_written(
    storage: StorageServer, run: Run, tmp_path: Path, where: str, what: str
) -> None:
    # The README: refused "before anything is written". It was refused when that file's
    # turn came, after the other files had been downloaded. It is named as `ls -l` tells
    # it: each was "a symlink or a directory".
    dest = tmp_path / "out"
    dest.mkdir()
    target = tmp_path / "vic\ntim"
    target.write_bytes(b"keep")
    if what == "symlink":
        (dest / where).symlink_to(target)
        said = f"a symlink (to {tmp_path}/vic\\ntim)"
    elif what == "folder":
        (dest / where).mkdir()
        said = "a directory"
    else:
        os.mkfifo(dest / where)
        said = "a named pipe"
    with pytest.raises(UnsafeArtifactPathError) as refused:
        run(Source(storage), dest)
    assert str(refused.value) == f"{dest / where} is in the way: it is {said}"
    assert target.read_bytes() == b"keep"
    assert storage.requests == []
    assert [p.name for p in dest.iterdir()] == [where]


def test_bad_sha256_in_the_descriptor_is_refused(storage: StorageServer, tmp_path: Path) -> None:
    source = Source(storage, **{"small.bin": {"sha256": "ABC"}})
    with pytest.raises(ArtifactIntegrityError, match="64 lowercase hex"):
        download_sync(
            Downloads(source.descriptor(), DownloadSettings()),
            tmp_path / "o",
            refresh=source.refresh,
        )


def test_hashes_are_computed_while_streaming_never_by_reading_files_again(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weaver_facade import _download

    reads: list[str] = []
    original = _download._PartFile.read_blocks

    def counting(self: _download._PartFile, path: Path) -> Iterable[bytes]:
        reads.append(path.name)
        return original(self, path)

    monkeypatch.setattr(_download._PartFile, "read_blocks", counting)
    dest = tmp_path / "out"
    run(Source(storage), dest)
    assert reads == []  # a fresh download reads nothing back
    (dest / "small.bin").unlink()
    (dest / "small.bin.part").write_bytes(FILES["small.bin"][:1000])
    run(Source(storage), dest)
    assert_complete(dest)
    # The resumed prefix once, and each finished file once before it is skipped.
    assert sorted(reads) == sorted(["small.bin.part", "config.json", "weights.bin", "empty.txt"])


def test_a_part_longer_than_the_file_starts_afresh(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "small.bin.part").write_bytes(b"x" * (len(FILES["small.bin"]) + 5))
    run(Source(storage), dest)
    assert_complete(dest)
    assert [r.headers.get("range") for r in storage.requests if r.key == "small.bin"] == [None]


@pytest.mark.parametrize("stall", ["stall:100000", "stall-head"])
def test_a_stalled_connection_does_not_hold_up_a_fatal_error(
    storage: StorageServer, run: Run, tmp_path: Path, stall: str
) -> None:
    # weights.bin stops sending after 100 kB, or its GET is never answered (either would
    # wait the 60 s read timeout); small.bin fails its hash a little later.
    storage.script("sub/dir/weights.bin", stall)
    storage.script("small.bin", "slow503")
    bad = Source(storage, **{"small.bin": {"sha256": "0" * 64}})
    started = time.monotonic()
    with pytest.raises(ArtifactIntegrityError):
        run(bad, tmp_path / "out")
    assert time.monotonic() - started < 5.0
    if stall == "stall:100000":
        assert (tmp_path / "out/sub/dir/weights.bin.part").stat().st_size == 100_000


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy settings in the environment, whatever the machine's."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def use_proxy(monkeypatch: pytest.MonkeyPatch, storage: StorageServer, proxied: bool) -> None:
    """The environment's proxy settings: none, or storage's second server standing in for
    a proxy (it gets the absolute URLs)."""
    clear_proxies(monkeypatch)
    if proxied:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{storage.other_port}")


@pytest.mark.parametrize(
    ("proxied", "url"),
    # A proxy is asked for 99999 or 0, and answers.
    [
        (False, "http://127.0.0.1:99999/o/small.bin"),
        (False, "http://127.0.0.1:x/o/small.bin"),
        (False, "http://127.0.0.1:0/o/small.bin"),
        (True, "http://127.0.0.1:x/o/small.bin"),
        (False, "ftp://127.0.0.1/o/small.bin"),
        (True, "ftp://127.0.0.1/o/small.bin"),
        (False, "http://[::1/o/small.bin"),
        (False, "http://a..b/o/small.bin"),
        (False, "/o/small.bin"),
    ],
    ids=[
        "direct-range",
        "direct-number",
        "direct-zero",
        "proxy-number",
        "ftp",
        "proxy-ftp",
        "direct-ipv6",
        "direct-idna",
        "relative",
    ],
)
def test_a_url_that_cannot_be_fetched_is_a_storage_error_at_once(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    proxied: bool,
    url: str,
) -> None:
    # urlsplit's ValueError (httpx's InvalidURL behind a proxy) left the error tree, and
    # port 0 was taken for the scheme's default; so did a bad IPv6 literal's ValueError and
    # a host IDNA cannot encode (UnicodeError), directly. Then such a URL was tried max_failures
    # times, 12 s of backoff, to end in "run it again to resume", which never helps.
    use_proxy(monkeypatch, storage, proxied)
    sleeps: list[float] = []
    with pytest.raises(StorageError, match="cannot fetch") as info:
        run(Source(storage, **{"small.bin": {"url": url}}), tmp_path, sleeps=sleeps)
    assert sleeps == []
    assert "run it again" not in str(info.value)


_BAD_HOSTS = [
    (
        "bad-punycode",
        "xn--zz.test",
        "not a valid host name: a part starting with xn-- must be punycode",
    ),
    (
        "invalid-character",
        "xn--a.example",
        "not a valid host name: a part starting with xn-- must be punycode",
    ),
    (
        "idna-2003-only",
        "xn--ls8h.la",
        "not a host name httpx accepts (IDNA 2008): Codepoint U+1F4A9",
    ),
    (
        "empty-label",
        "a..example",
        "not a valid host name: each part between dots must have 1 to 63",
    ),
]


# xn--ls8h.la is fetched directly: test_a_host_of_idna_2003_punycode_is_fetched_directly.
@pytest.mark.parametrize(
    ("host", "words", "proxied"),
    [
        pytest.param(host, words, proxied, id=f"{name}-{'proxy' if proxied else 'direct'}")
        for name, host, words in _BAD_HOSTS
        for proxied in (False, True)
        if proxied or host != "xn--ls8h.la"
    ],
)
def test_a_bad_host_is_a_storage_error_naming_it(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    proxied: bool,
    host: str,
    words: str,
) -> None:
    # An xn-- label that is not punycode (of a host name): behind a proxy, httpx's
    # idna.IDNAError left the error tree, a traceback; directly, the name was looked up, and
    # each failed lookup retried to the end. No DNS name is such a label. xn--ls8h.la, which
    # only httpx refuses, was said not to be valid punycode, which it is.
    use_proxy(monkeypatch, storage, proxied)
    signature = "5e" * 16
    url = f"http://{host}/o/small.bin?X-Amz-Signature={signature}"
    sleeps: list[float] = []
    with pytest.raises(StorageError, match="cannot fetch") as info:
        run(Source(storage, **{"small.bin": {"url": url}}), tmp_path, sleeps=sleeps)
    said = str(info.value)
    assert f"host {host!r} is {words}" in said, said
    assert signature not in said
    assert sleeps == []


def test_a_host_of_idna_2003_punycode_is_fetched_directly(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # xn--ls8h.la (an emoji's name, which resolves) is punycode that httpx's IDNA 2008
    # refuses and the name lookup's IDNA 2003 takes: directly it was fetched, then refused
    # as not punycode. (Behind a proxy httpx cannot route it: refused.)
    use_proxy(monkeypatch, storage, False)
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "xn--ls8h.la" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = storage.url("small.bin").replace("127.0.0.1", "xn--ls8h.la")
    run(Source(storage, **{"small.bin": {"url": url}}), tmp_path / "out")
    assert_complete(tmp_path / "out")


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize("stall", ["stall-head", "stall:100000"])
def test_the_overall_deadline_bounds_a_stalled_connection(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stall: str,
    proxied: bool,
) -> None:
    # Storage goes silent (before its reply, or mid-body) for longer than the deadline;
    # the 60 s read timeout must not outlast it, through a proxy too.
    use_proxy(monkeypatch, storage, proxied)
    storage.script("sub/dir/weights.bin", stall)
    started = time.monotonic()
    with pytest.raises(DownloadTimeoutError, match="deadline") as info:
        run(Source(storage), tmp_path / "out", DownloadSettings(timeout=1.0))
    took = time.monotonic() - started
    assert took < 1.0 + 1.0, took  # the README: all within `timeout`
    assert info.value.name == "sub/dir/weights.bin"
    assert {r.port for r in storage.requests} == {storage.other_port if proxied else storage.port}
    run(Source(storage), tmp_path / "out")  # a rerun completes it
    assert_complete(tmp_path / "out")


@contextlib.contextmanager
def never_connects() -> Iterator[str]:
    """A URL whose host never completes a connection: a listener whose accept queue is
    full, so that the kernel drops each new SYN (as an unroutable host does)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    try:
        for _ in range(8):  # fill the queue; the kernel allows backlog + 1
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            queued.append(client)
        yield f"http://127.0.0.1:{port}/weights.bin"
    finally:
        for client in queued:
            client.close()
        listener.close()


def test_the_overall_deadline_bounds_a_connect_that_never_completes(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # The connect had its own 10 s, whatever the deadline: timeout=1 ended after 10 s.
    with never_connects() as url:
        source = Source(storage, **{"sub/dir/weights.bin": {"url": url}})
        started = time.monotonic()
        with pytest.raises(DownloadTimeoutError, match="deadline"):
            run(source, tmp_path / "out", DownloadSettings(timeout=1.0))
        took = time.monotonic() - started
    assert took < 1.0 + 1.0, took


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
def test_the_overall_deadline_bounds_a_name_lookup_no_dns_server_answers(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    # The resolver takes no timeout: a storage host's (or proxy's) name that no DNS server
    # answered held a download with timeout=1 for the resolver's own (5 s a try by default).
    clear_proxies(monkeypatch)
    source = Source(storage)
    if proxied:
        monkeypatch.setenv("HTTP_PROXY", f"http://proxy.test:{storage.other_port}")
    else:
        url = f"http://storage.test:{storage.port}/weights.bin"
        source = Source(storage, **{"sub/dir/weights.bin": {"url": url}})
    with names(monkeypatch, {"storage.test": None, "proxy.test": None}):
        started = time.monotonic()
        with pytest.raises(DownloadTimeoutError, match="deadline"):
            run(source, tmp_path / "out", DownloadSettings(timeout=1.0))
        took = time.monotonic() - started
    assert took < 1.0 + 0.5, took


def test_a_deadline_mid_transfer_does_not_say_no_attempt_was_made(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    # A download whose deadline passed 19 MB into a file's first attempt said "at byte
    # 19070976 of 38895840 (no attempt yet)".
    late = [0.0]

    def clock() -> float:
        return time.monotonic() + late[0]

    def progress(seen: DownloadProgress) -> None:
        if seen.bytes_done > 100_000:
            late[0] = 3600.0  # the deadline passes while a transfer streams

    with pytest.raises(DownloadTimeoutError, match="deadline passed") as info:
        run(
            Source(storage),
            tmp_path / "out",
            DownloadSettings(timeout=60),
            progress=progress,
            clock=clock,
        )
    assert "no attempt yet" not in str(info.value)


@pytest.mark.parametrize("timeout", [1e12, float("inf")])
def test_a_deadline_beyond_what_threads_can_wait_is_no_error(
    storage: StorageServer, run: Run, tmp_path: Path, timeout: float
) -> None:
    run(Source(storage), tmp_path / "out", DownloadSettings(timeout=timeout))
    assert_complete(tmp_path / "out")


@contextlib.contextmanager
def folder_locked(dest: Path) -> Iterator[None]:
    """Hold ``dest``'s download lock as another process's download would."""
    dest.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def waiting_behind(
    dest: Path, download: Callable[[], object], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Run ``download`` in a thread while ``dest``'s lock is held (``folder_locked``): the
    block runs once it says it waits for its turn (or after 5 s); the thread is joined
    after the lock is let go."""
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), folder_locked(dest):
        second = threading.Thread(target=download)
        second.start()
        for _ in range(500):  # until it says it waits (at most 5 s)
            if "waiting for another download" in caplog.text:
                break
            time.sleep(0.01)
        yield
    second.join(timeout=30)


@contextlib.contextmanager
def completing_behind(
    dest: Path, storage: StorageServer, run: Run, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """``waiting_behind`` with a download of ``storage``'s artifact, which must complete
    once its turn comes."""
    done: list[Downloads] = []
    with waiting_behind(dest, lambda: done.append(run(Source(storage), dest)), caplog):
        yield
    assert_complete(dest)
    assert done[0].files_done == len(FILES)


def test_a_download_waits_for_another_into_the_same_folder(
    storage: StorageServer, run: Run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two at once wrote the same .part files: a "verified" file full of zeros, or a
    # FileNotFoundError when the other renamed the .part away.
    dest = tmp_path / "out"
    with completing_behind(dest, storage, run, caplog):
        assert f"waiting for another download into {dest} to end" in caplog.text
        assert storage.requests == []
        assert list(dest.rglob("*.part")) == []


def test_two_downloads_into_one_folder_both_succeed(
    storage: StorageServer, run: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    states: list[Downloads] = []
    start = threading.Barrier(2)

    def one() -> None:
        start.wait()
        states.append(run(Source(storage), dest))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert_complete(dest)
    # One fetched every byte; the other, waiting for it, found every file done.
    total = sum(len(d) for d in FILES.values())
    assert sorted((s.fetched, s.skipped) for s in states) == [(0, len(FILES)), (total, 0)]


@FOLDERS
def test_the_deadline_bounds_the_wait_for_another_download(
    storage: StorageServer, run: Run, tmp_path: Path, folder: str, shown: str
) -> None:
    dest = tmp_path / folder
    started = time.monotonic()
    with folder_locked(dest), pytest.raises(DownloadTimeoutError) as timed_out:
        run(Source(storage), dest, DownloadSettings(timeout=0.5))
    assert str(timed_out.value) == (
        f"{tmp_path}/{shown}: the download's deadline passed while another download into it ran"
    )
    assert timed_out.value.name == str(dest)  # the path itself, for code
    took = time.monotonic() - started
    assert took < 0.5 + 1.0, took
    assert storage.requests == []


@pytest.mark.parametrize(
    "code",
    [errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP],
    ids=["nfs-without-lockd", "lustre-without-flock", "no-flock"],
)
@FOLDERS
def test_a_file_system_without_locks_downloads_unguarded_saying_so(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    folder: str,
    shown: str,
) -> None:
    # NFS without its lock daemon answers flock with ENOLCK, Lustre mounted without
    # `flock` with ENOSYS: the download failed there, before any file, saying only
    # "No locks available", and left the folder it had made.
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(_download, "_SAID_NO_LOCKS", set())  # said once in a process
    dest = tmp_path / folder
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        run(Source(storage), dest)
    assert_complete(dest)
    said = f"{tmp_path}/{shown}: its file system takes no locks ({os.strerror(code)})"
    assert said in caplog.text
    assert "two downloads into one folder there at once are not kept apart" in caplog.text


def test_a_file_system_without_locks_is_warned_of_once_in_a_process(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each download there said it again: a script that downloads each export into a folder
    # of its own on NFS logged the same warning each time.
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(_download, "_SAID_NO_LOCKS", set())
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        for name in ("one", "two", "one"):
            run(Source(storage), tmp_path / name)
    assert_complete(tmp_path / "two")
    assert caplog.text.count("takes no locks") == 1


def _folder_free(dest: Path) -> bool:
    """Whether another download could take ``dest``'s lock now, and no fd of this
    process (the lock's, or one opened to take it) is left open on ``dest``."""
    opened = []
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # listdir's own, closed since
            opened.append(os.readlink(f"/proc/self/fd/{name}"))
    if str(dest) in opened:
        return False
    fd = os.open(dest, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_ctrl_c_anywhere_in_a_download_leaves_its_folder_free(
    storage: StorageServer, tmp_path: Path
) -> None:
    # The folder's lock was taken, then the folder looked at before the block that lets it
    # go: a Ctrl-C there held it until the process ended, and the next download into the
    # folder waited for it (its whole deadline, or for good). One as the folder was opened
    # to take its lock lost the fd. The run of a download of no file: the lock's taking
    # and giving back are what is interrupted.
    dest = tmp_path / "out"

    def empty() -> Callable[[], None]:
        state = Downloads(
            Descriptor(artifact_id="a-1", kind="hf_adapter", files=()), DownloadSettings()
        )
        return _download._Shell(state, dest, refresh=no_refresh, pause=None).run

    points = every_point(
        lambda at, kept: interrupted_at(at, empty(), kept), lambda: _folder_free(dest)
    )
    assert points > 10
    download_sync(
        Downloads(Source(storage).descriptor(), DownloadSettings()), dest, refresh=no_refresh
    )
    assert_complete(dest)


async def seconds_to_cancel(task: asyncio.Task[Any]) -> float:
    """Cancel ``task``; how long it took to end, cancelled."""
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


async def stalled_download(source: Source, dest: Path, part: Path) -> asyncio.Task[Any]:
    """An async download of ``source`` into ``dest``, once ``part`` holds the 100,000 bytes
    before its file's stall (at most 5 s)."""
    return await download_once(source, dest, lambda: _holds_100_000_bytes(part))


async def download_once(source: Source, dest: Path, ready: Callable[[], bool]) -> asyncio.Task[Any]:
    """An async download of ``source`` into ``dest``, once ``ready()`` (at most 5 s)."""
    task = asyncio.create_task(
        download_async(
            Downloads(source.descriptor(), DownloadSettings()),
            dest,
            refresh=source.arefresh,
        )
    )
    for _ in range(500):
        if ready():
            break
        await asyncio.sleep(0.01)
    return task


def _holds_100_000_bytes(part: Path) -> bool:
    return part.exists() and part.stat().st_size == 100_000


def test_cancelling_an_async_download_stops_it_and_keeps_the_parts(
    storage: StorageServer, tmp_path: Path
) -> None:
    storage.script("sub/dir/weights.bin", "stall:100000")
    part = tmp_path / "out/sub/dir/weights.bin.part"
    source = Source(storage)

    async def main() -> float:
        task = await stalled_download(source, tmp_path / "out", part)
        return await seconds_to_cancel(task)

    assert asyncio.run(main()) < 5.0
    assert part.stat().st_size == 100_000  # kept for a resume
    assert not (tmp_path / "out/sub/dir/weights.bin").exists()
    run_again = download_sync(
        Downloads(source.descriptor(), DownloadSettings()),
        tmp_path / "out",
        refresh=no_refresh,
    )
    assert_complete(tmp_path / "out")
    assert run_again.fetched < sum(len(d) for d in FILES.values())


def test_cancelling_an_async_download_waiting_for_a_refresh_stops_at_once(
    storage: StorageServer, tmp_path: Path
) -> None:
    # A 403 sends a file's thread for fresh URLs, a request on the loop; a cancel waited
    # for the API's answer (its read timeout, 60 s), with every other transfer stopped.
    storage.script("small.bin", "403")
    source = Source(storage)
    asked = asyncio.Event()

    async def slow_refresh() -> Descriptor:
        asked.set()
        await asyncio.sleep(30)
        return source.descriptor()

    async def main() -> float:
        task = asyncio.create_task(
            download_async(
                Downloads(source.descriptor(), DownloadSettings()),
                tmp_path / "out",
                refresh=slow_refresh,
            )
        )
        await asyncio.wait_for(asked.wait(), 5)
        return await seconds_to_cancel(task)

    assert asyncio.run(main()) < 5.0


def test_cancelling_while_a_large_part_is_hashed_stops_at_once(tmp_path: Path) -> None:
    # A resumed .part's prefix is hashed before its GET, about 1 s per GiB: a cancel
    # must not wait for the whole of it.
    out = tmp_path / "out"
    out.mkdir()
    part = out / "big.bin.part"
    with part.open("wb") as sparse:
        sparse.truncate(512 << 20)  # sparse: no disk used, but every byte is still read and hashed
    for _ in range(2):  # the second time from the page cache, as the download reads it
        started = time.monotonic()
        with part.open("rb") as f:
            hashlib.file_digest(f, "sha256")
        whole_hash = time.monotonic() - started
    big = StorageFile(name="big.bin", size=1 << 30, sha256="0" * 64, url="http://127.0.0.1:9/")
    descriptor = Descriptor(artifact_id="a", kind="hf_model", files=(big,))

    async def refresh() -> Descriptor:
        return descriptor

    async def main() -> float:
        task = asyncio.create_task(
            download_async(Downloads(descriptor, DownloadSettings()), out, refresh=refresh)
        )
        await asyncio.sleep(whole_hash / 4)  # into the hash
        return await seconds_to_cancel(task)

    assert asyncio.run(main()) < whole_hash / 4
    assert part.stat().st_size == 512 << 20  # kept for a resume


def test_a_proxy_from_the_environment_is_used(
    storage: StorageServer, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_proxy(monkeypatch, storage, proxied=True)
    storage.script("small.bin", "drop:1000")
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert {r.port for r in storage.requests} == {storage.other_port}
    assert all(r.path.startswith(f"http://127.0.0.1:{storage.port}/o/") for r in storage.requests)
    # Through the proxy too, a dropped body resumes where it stopped.
    ranges = [r.headers.get("range") for r in storage.requests if r.key == "small.bin"]
    assert ranges == [None, "bytes=1000-"]


@pytest.mark.parametrize(
    ("variables", "proxied"),
    [
        ({"ALL_PROXY": "PROXY"}, True),
        ({"HTTP_PROXY": "PROXY", "NO_PROXY": "127.0.0.1"}, False),
        ({"ALL_PROXY": "PROXY", "no_proxy": "localhost,127.0.0.1"}, False),
    ],
    ids=["all-proxy", "no-proxy", "all-but-no-proxy"],
)
def test_downloads_follow_all_proxy_and_no_proxy(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    proxied: bool,
) -> None:
    # The README: "API calls and downloads alike go through the proxy that `HTTPS_PROXY`,
    # `HTTP_PROXY` or `ALL_PROXY` names (but for the hosts in `NO_PROXY`)".
    clear_proxies(monkeypatch)
    for name, value in variables.items():
        proxy = f"http://127.0.0.1:{storage.other_port}"
        monkeypatch.setenv(name, proxy if value == "PROXY" else value)
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    ports = {r.port for r in storage.requests}
    assert ports == ({storage.other_port} if proxied else {storage.port})


@pytest.mark.parametrize("way", ["redirect", "no-proxy-port"])
def test_a_storage_connection_httpx_made_directly_names_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    way: str,
) -> None:
    # A refused storage connect named the proxy ("(through the proxy ... the environment
    # names; see *_PROXY)") where httpx had made it directly, past the proxy: after a
    # redirect from a host the proxy serves to one NO_PROXY exempts (the proxy of the
    # first URL stood for all), and for a NO_PROXY entry with a port, which httpx honours
    # and urllib's reading of NO_PROXY did not.
    clear_proxies(monkeypatch)
    refusing = f"http://127.0.0.1:{free_port()}/a.bin"  # nothing listens
    asked: list[bytes] = []
    with serving(_redirect_for_ever(asked, refusing.encode())) as (port, _):
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")  # it answers redirects
        if way == "redirect":
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            url = "http://storage.test/a.bin"  # through the proxy, to the refusing one
        else:
            monkeypatch.setenv("NO_PROXY", refusing.split("/")[2])
            url = refusing
        file = StorageFile(name="a.bin", size=1, sha256=None, url=url)
        state = Downloads(
            Descriptor(artifact_id="a-1", kind="hf_adapter", files=(file,)),
            DownloadSettings(max_failures=1),
        )
        with (
            caplog.at_level(logging.WARNING, logger="weaver_facade"),
            pytest.raises(StorageError) as failed,
        ):
            download_sync(state, tmp_path / "out", refresh=no_refresh, sleep=lambda _: None)
    # What httpx did, from the proxy's side: asked for the first URL alone, or nothing.
    assert asked == ([b"GET http://storage.test/a.bin HTTP/1.1"] * 2 if way == "redirect" else [])
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("storage GET")]
    assert len(retries) == 1, retries
    for said in (retries[0], str(failed.value)):
        assert "onnection refused" in said, said
        assert "proxy" not in said, said


def _hang_up_on(asked: list[bytes]) -> Callable[[socket.socket], None]:
    """A proxy's connection that keeps the first line of the request it gets in ``asked``,
    then closes without a reply."""

    def hang_up(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError):
            asked.append(conn.recv(65536).split(b"\r\n")[0])
        conn.close()

    return hang_up


def _plain_http(asked: list[bytes]) -> Callable[[socket.socket], None]:
    """A server of plain HTTP that keeps the first bytes it gets (a TLS ClientHello's) in
    ``asked``, and answers them with a 400, as such a server does."""

    def answer(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(OSError):
            asked.append(conn.recv(65536)[:1])
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    return answer


@pytest.mark.parametrize("way", ["dropped", "tunnel-refused", "plain-http"])
def test_a_storage_failure_names_the_proxy_where_httpx_went_through_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, way: str
) -> None:
    # Whether a storage GET's failure named the proxy, and which, came from urllib's
    # reading of NO_PROXY, where httpx's differs. ".localhost" spares localhost itself for
    # urllib alone: a GET httpx sent through the proxy, which dropped it or refused its
    # tunnel, named no proxy URL ("connection dropped, from storage at ..." alone; "the
    # proxy the environment names refused the tunnel"). An entry's port, which httpx alone
    # honours: a plain-HTTP storage host at an https:// URL reached directly was said to be
    # the https:// proxy URL's fault. Each side's record says where the GET went.
    clear_proxies(monkeypatch)
    asked: list[bytes] = []
    storage = free_port()  # nothing listens, but for "plain-http"
    with contextlib.ExitStack() as stack:
        if way == "dropped":
            port, _ = stack.enter_context(serving(_hang_up_on(asked)))
            proxy, url = f"http://127.0.0.1:{port}", f"http://localhost:{storage}/a.bin"
        elif way == "tunnel-refused":
            tunnels = stack.enter_context(ConnectProxy())
            tunnels.refuse_host, tunnels.refusals = "localhost", 10
            proxy, url = tunnels.url, f"https://localhost:{storage}/a.bin"
        else:
            storage, _ = stack.enter_context(serving(_plain_http(asked)))
            proxy, url = f"https://127.0.0.1:{free_port()}", f"https://127.0.0.1:{storage}/a.bin"
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv(
            "NO_PROXY", f"127.0.0.1:{storage}" if way == "plain-http" else ".localhost"
        )
        file = StorageFile(name="a.bin", size=1, sha256=None, url=url)
        state = Downloads(
            Descriptor(artifact_id="a-1", kind="hf_adapter", files=(file,)),
            DownloadSettings(max_failures=1),
        )
        with pytest.raises(StorageError) as failed:
            download_sync(state, tmp_path / "out", refresh=no_refresh, sleep=lambda _: None)
    said = str(failed.value)
    if way == "dropped":  # through the proxy: it got the GET
        assert asked, asked
        assert set(asked) == {f"GET {url} HTTP/1.1".encode()}, asked
        assert f"(through the proxy {proxy} the environment names)" in said, said
    elif way == "tunnel-refused":
        assert tunnels.refused == [f"CONNECT localhost:{storage} HTTP/1.1"], tunnels.refused
        assert f"(the proxy {proxy} the environment names refused the tunnel;" in said, said
    else:  # directly: storage got the ClientHello, and the proxy, which nothing serves, none
        assert asked == [b"\x16"], asked
        assert said.endswith("(storage speaks plain HTTP at this https:// URL)"), said
        assert "proxy" not in said, said


@pytest.mark.parametrize("change", ["unset", "another", "exempting", "unreadable"])
def test_a_storage_get_names_the_proxy_its_client_goes_through(
    monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    # A storage GET's proxy was named by the environment as it read at the GET, not as the
    # download's httpx client had read it when it was made: once a script changed
    # os.environ, the proxy the GET went through was named as another, or not at all, and
    # a NO_PROXY entry that httpx cannot read failed the GET with httpx's own InvalidURL.
    from weaver_facade._storage_http import StorageHTTP, route

    clear_proxies(monkeypatch)
    port = free_port()  # nothing listens: the proxy answers 502 to the CONNECT
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with contextlib.closing(StorageHTTP(user_agent="t", read_timeout=5)) as http:
            if change == "unset":
                monkeypatch.delenv("HTTPS_PROXY")
            elif change == "another":
                monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
            else:
                monkeypatch.setenv("NO_PROXY", "localhost" if change == "exempting" else "[::1")
            with pytest.raises(httpx.ProxyError) as failed:
                http.get(f"https://localhost:{port}/a.bin", {})
    assert proxy.targets == [f"localhost:{port}"], proxy.targets
    way = route(failed.value)
    assert way is not None
    assert way.proxy == proxy.url, way


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_https_storage_is_verified(
    certificate: tuple[Path, Path], run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with StorageServer({"small.bin": FILES["small.bin"]}, tls=certificate).running() as storage:
        # A certificate nobody vouches for is refused...
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        sleeps: list[float] = []
        with pytest.raises(StorageError, match=r"CERTIFICATE_VERIFY_FAILED.*see SSL_CERT_FILE"):
            run(Source(storage), tmp_path / "refused", sleeps=sleeps)
        assert sleeps == []  # not retried: no retry changes it (it was tried 8 times)
        assert not (tmp_path / "refused/small.bin").exists()
        # ...and trusted once SSL_CERT_FILE names it, as for httpx.
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        made: list[ssl.SSLContext] = []
        default = ssl._create_default_https_context

        def counted() -> ssl.SSLContext:
            made.append(default())
            return made[-1]

        monkeypatch.setattr(ssl, "_create_default_https_context", counted)
        run(Source(storage), tmp_path / "out")
        assert_complete(tmp_path / "out", {"small.bin": FILES["small.bin"]})
        # One context for the download (it loads the CA bundle), not one more per GET.
        assert made == []


def test_an_https_url_of_plain_http_storage_is_not_retried(run: Run, tmp_path: Path) -> None:
    # As for API requests (README): no retry changes a server that answers TLS in plain
    # HTTP, yet the file was tried 9 times, with their backoff, and no hint.
    with StorageServer({"small.bin": FILES["small.bin"]}).running() as storage:
        url = storage.url("small.bin", expires_in=3600).replace("http://", "https://", 1)
        sleeps: list[float] = []
        with pytest.raises(StorageError, match=r"\[SSL.*plain HTTP"):
            run(Source(storage, **{"small.bin": {"url": url}}), tmp_path / "out", sleeps=sleeps)
    assert sleeps == []


def test_https_storage_trusts_a_certificate_of_ssl_cert_dir(
    certificate: tuple[Path, Path], run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README: storage HTTPS is verified as for httpx, SSL_CERT_FILE or SSL_CERT_DIR;
    # only SSL_CERT_FILE was tried.
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "storage.pem").write_bytes(certificate[0].read_bytes())
    subprocess.run(["openssl", "rehash", str(certs)], check=True, capture_output=True)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(certs))
    with StorageServer({"small.bin": FILES["small.bin"]}, tls=certificate).running() as storage:
        run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out", {"small.bin": FILES["small.bin"]})


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
def test_no_presigned_url_in_any_log_record(
    storage: StorageServer,
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    proxied: bool,
) -> None:
    # A presigned URL is a credential: neither httpx (INFO, the request line) nor
    # httpcore (DEBUG, a redirect's Location) may log it through the proxy.
    use_proxy(monkeypatch, storage, proxied)
    storage.script("small.bin", "redirect")
    storage.script("empty.txt", "503")
    caplog.set_level(logging.DEBUG)  # the root: every logger, every level
    run(Source(storage), tmp_path / "out")
    assert_complete(tmp_path / "out")
    assert {r.port for r in storage.requests} == (
        {storage.other_port} if proxied else {storage.port, storage.other_port}
    )
    leaked = [r.getMessage() for r in caplog.records if "sig=" in r.getMessage()]
    assert not leaked
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [m for m in retried if "small.bin" in m] == []  # the redirect was followed


def _echoing_its_query(queries: list[str]) -> Callable[[socket.socket], None]:
    """A storage host that echoes the request's query in a status line no client takes
    (each query kept in ``queries``)."""

    def echo(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            line = conn.recv(65536).split(b" ")
            if len(line) < 2:  # a transfer stopped before it asked
                return
            target = line[1].decode()
            queries.append(target.partition("?")[2])
            conn.sendall(f"HTTP/1.1 2x0 {queries[-1]}\r\n\r\n".encode())

    return echo


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxied"])
def test_a_signature_echoed_without_its_question_mark_is_hidden(
    run: Run,
    tmp_path: Path,
    storage: StorageServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    proxied: bool,
) -> None:
    # http.client and h11 quote a malformed status line whole: the query it echoed was
    # logged with each retry, and in the error, where no `?` marked it as a URL's.
    clear_proxies(monkeypatch)
    queries: list[str] = []
    with serving(_echoing_its_query(queries)) as (port, _):
        url = f"http://127.0.0.1:{port}/o/small.bin?X-Amz-Expires=9&X-Amz-Signature=SIG-secret-0123456789"
        if proxied:  # the listener stands in for the proxy too
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        source = Source(storage, **{"small.bin": {"url": url}})
        with (
            caplog.at_level(logging.WARNING, logger="weaver_facade"),
            pytest.raises(StorageError) as info,
        ):
            run(source, tmp_path / "out", DownloadSettings(max_failures=2))
    retries = [r.getMessage() for r in caplog.records if "storage GET" in r.getMessage()]
    assert retries, caplog.text
    chain = "".join(traceback.format_exception(info.value))
    assert "2x0" in chain  # the status line is quoted
    # Through the proxy, every file's GET fails so: the first to give up ends them all.
    signatures = {v for q in queries for _, v in parse_qsl(q) if len(v) >= 16}
    assert signatures
    assert [s for s in signatures if s in "".join((*retries, chain))] == []


@contextlib.contextmanager
def serving(
    handle: Callable[[socket.socket], None] | None = None,
) -> Iterator[tuple[int, list[socket.socket]]]:
    """A listener on 127.0.0.1 that accepts every connection, handed to ``handle`` on a
    thread of its own: its port, and the sockets closed at the end (the accepted ones)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                held.append(listener.accept()[0])
                if handle is not None:
                    threading.Thread(target=handle, args=(held[-1],), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], held
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("stall", ["stall-head", "stall:1000"])
def test_the_overall_deadline_bounds_a_stalled_https_connection_behind_a_proxy(
    certificate: tuple[Path, Path],
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stall: str,
) -> None:
    # Through a proxy's tunnel, TLS wraps the socket after the connect and detaches the
    # plain one, which was all a stop shut down: the read waited out its read timeout.
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with (
        StorageServer({"small.bin": FILES["small.bin"]}, tls=certificate).running() as storage,
        ConnectProxy() as proxy,
    ):
        clear_proxies(monkeypatch)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        storage.script("small.bin", stall)
        started = time.monotonic()
        with pytest.raises(DownloadTimeoutError, match="deadline"):
            run(Source(storage), tmp_path / "out", DownloadSettings(timeout=1.0, read_timeout=20))
        assert time.monotonic() - started < 10.0
        assert storage.requests  # through the tunnel


@contextlib.contextmanager
def never_handshakes() -> Iterator[str]:
    """An https URL whose host accepts connections and never says a word (no TLS hello)."""
    with serving() as (port, _):
        yield f"https://127.0.0.1:{port}/weights.bin"


@pytest.mark.parametrize("host", [never_connects, never_handshakes], ids=["connect", "tls"])
def test_a_stop_reaches_a_connect_in_progress(host: Callable[[], Any]) -> None:
    # close() or a cancelled task stopped a download only once its connect (or TLS
    # handshake) timed out, 8 s after the stop: the socket was known only once connected.
    from weaver_facade._storage_http import StorageHTTP

    http = StorageHTTP(user_agent="t", read_timeout=30)
    with host() as url:
        threading.Timer(0.5, http.abort).start()
        started = time.monotonic()
        with pytest.raises(httpx.ConnectError):  # reset, or TLS's word for it
            http.get(url, {})
        took = time.monotonic() - started
    assert took < 0.5 + 1.0, took
    http.close()


def test_a_stop_just_before_a_tls_handshake_is_a_failure_of_the_tree() -> None:
    # SSLSocket.shutdown drops the TLS state: a stop landing between the TLS socket's
    # tracking and its handshake made the handshake raise AttributeError, which left the
    # error tree (a download ended in it, not stopped, or not in its DownloadTimeoutError).
    from weaver_facade._storage_http import FAILURES, StorageHTTP

    class StoppedRightAfterTracking(StorageHTTP):
        def _track(self, sock: socket.socket) -> bool:
            stopped = super()._track(sock)
            if isinstance(sock, ssl.SSLSocket):
                self.abort()
            return stopped

    http = StoppedRightAfterTracking(user_agent="t", read_timeout=5)
    with never_handshakes() as url, pytest.raises(FAILURES):
        http.get(url, {})
    http.close()


def test_a_cancelled_download_says_what_stays(storage: StorageServer, tmp_path: Path) -> None:
    # The cancel (a TaskGroup's, a timeout's) ended with no word of the .part files.
    # Its folder is shown with its control characters escaped, as every other note's.
    storage.script("sub/dir/weights.bin", "stall:100000")
    part = tmp_path / "o\nut/sub/dir/weights.bin.part"

    async def main() -> asyncio.CancelledError:
        task = await stalled_download(Source(storage), tmp_path / "o\nut", part)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        return info.value

    cancel = asyncio.run(main())
    assert _holds_100_000_bytes(part)
    assert cancel.__notes__ == [
        f"the download stopped; its finished files and partial ones (*.part) stay in "
        f"{tmp_path}/o\\nut: run it again to resume"
    ]


def test_a_cancel_before_any_byte_says_nothing_stays(tmp_path: Path) -> None:
    # Its note said the finished files and .part files "stay in" a folder the download
    # had made and, with nothing in it, removed.
    dest = tmp_path / "out"
    with StorageServer({"only.bin": b"x" * 1000}).running() as server:
        server.script("only.bin", "stall-head")
        source = Source(server)

        async def main() -> asyncio.CancelledError:
            task = await download_once(source, dest, lambda: bool(server.requests))
            task.cancel()
            with pytest.raises(asyncio.CancelledError) as info:
                await task
            return info.value

        cancel = asyncio.run(main())
    assert server.requests
    assert not dest.exists()
    assert getattr(cancel, "__notes__", []) == []


def test_a_ctrl_c_before_any_byte_says_nothing_stays(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with StorageServer({"only.bin": b"x" * 1000}).running() as server:
        server.script("only.bin", "403")

        class Interrupted(Source):
            def refresh(self) -> Descriptor:
                raise KeyboardInterrupt

        source = Interrupted(server)
        with pytest.raises(KeyboardInterrupt) as info:
            download_sync(
                Downloads(source.descriptor(), DownloadSettings()), dest, refresh=source.refresh
            )
    assert not dest.exists()
    assert getattr(info.value, "__notes__", []) == []


def test_a_download_cancelled_twice_ends_after_its_threads(
    storage: StorageServer, tmp_path: Path
) -> None:
    # A second cancel (a TaskGroup's, then a timeout's) ended the task while its
    # threads still wrote into the folder: the caller saw it end and went on.
    storage.script("sub/dir/weights.bin", "stall:100000")
    part = tmp_path / "out/sub/dir/weights.bin.part"
    source = Source(storage)

    async def main() -> list[str]:
        task = await stalled_download(source, tmp_path / "out", part)
        task.cancel()
        await asyncio.sleep(0)  # the task now waits for its threads to stop
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [t.name for t in threading.enumerate() if t.name.startswith("weaver-download")]

    assert asyncio.run(main()) == []
