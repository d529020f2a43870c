"""A download's transfers from storage follow the client's retry settings where those are
more patient than their own (README: "What is retried").

Storage here is a scripted stub on 127.0.0.1 that refuses a file a given number of times
with 503s; the client's ``RetryPolicy`` draws the jitter of the storage waits too, so a
small draw keeps their real sleeps short.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.download.storage import StorageServer, descriptor
from tests.support.fakeserver import FakeWeaver, async_service, service
from weaver_facade import (
    ClientClosedError,
    DownloadTimeoutError,
    RetryPolicy,
    RetrySettings,
    StorageError,
)
from weaver_facade._artifacts import storage_retries
from weaver_facade._download import (
    Descriptor,
    Downloads,
    DownloadSettings,
    StorageFile,
    download_sync,
)

STORED = {"w.bin": b"weights" * 1000}
README_BOUNDS = RetrySettings(max_retries=20, max_retry_wait=300)  # "raises the bounds"
# Sleeps of a hundredth of their cap: at most 0.08 s each.
SHORT = 0.01
# Of storage's own failed attempts in a row: the first and 8 retries.
OWN_ATTEMPTS = 9
# Seconds any download here may take: its sleeps sum to 2 s at most, the rest is loopback.
BOUND = 15.0


@pytest.fixture
def storage() -> Iterator[StorageServer]:
    with StorageServer(STORED).running() as server:
        yield server


def artifact(fake: FakeWeaver, storage: StorageServer, kind: str = "hf_adapter") -> uuid.UUID:
    """An artifact of ``STORED`` on ``storage`` whose descriptor the API gives every time."""
    artifact_id = uuid.uuid4()
    reply = descriptor(storage, artifact_id, STORED)
    body = {**reply.json(), "kind": kind}
    path = f"/api/v1/artifacts/{artifact_id}/download"
    fake.script("GET", path, *[httpx.Response(200, json=body)] * 3)
    return artifact_id


def policy(settings: RetrySettings | None = None) -> RetryPolicy:
    """A client's policy whose draws make every wait a hundredth of its cap."""
    return RetryPolicy(settings, rng=lambda: SHORT)


def test_the_readme_bounds_carry_a_file_over_more_refusals_than_storage_s_own(
    tmp_path: Path, storage: StorageServer
) -> None:
    # The README's script raises the bounds to ride out a restart: its download lost a file
    # to storage refusing 9 times in a row, whatever they said.
    refusals = 15
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", *["503"] * refusals)
    started = time.monotonic()
    with service(fake, retry=policy(README_BOUNDS)) as svc:
        result = svc.download_weights(artifact_id, tmp_path / "out", timeout=BOUND)
    assert time.monotonic() - started < BOUND
    assert storage.keys_fetched() == ["w.bin"] * (refusals + 1)
    assert (tmp_path / "out" / "w.bin").read_bytes() == STORED["w.bin"]
    assert result.bytes_fetched == len(STORED["w.bin"])


async def test_the_async_client_s_bounds_reach_its_transfers_too(
    tmp_path: Path, storage: StorageServer
) -> None:
    refusals = 12
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", *["503"] * refusals)
    async with async_service(fake, retry=policy(RetrySettings(max_retries=refusals))) as svc:
        await asyncio.wait_for(svc.download_weights(artifact_id, tmp_path / "out"), BOUND)
    assert storage.keys_fetched() == ["w.bin"] * (refusals + 1)
    assert (tmp_path / "out" / "w.bin").read_bytes() == STORED["w.bin"]


@pytest.mark.parametrize(
    ("max_retries", "attempts"),
    [(RetrySettings().max_retries, OWN_ATTEMPTS), (0, OWN_ATTEMPTS), (11, 12)],
    ids=["default", "none", "more"],
)
def test_a_file_gives_up_after_the_larger_of_the_two_counts_of_retries(
    tmp_path: Path, storage: StorageServer, max_retries: int, attempts: int
) -> None:
    # Fewer than storage's own (the default 4, or none) leave it its own.
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", *["503"] * 30)
    with (
        service(fake, retry=policy(RetrySettings(max_retries=max_retries))) as svc,
        pytest.raises(StorageError, match=f"giving up after {attempts} failed attempts"),
    ):
        svc.download_weights(artifact_id, tmp_path / "out", timeout=BOUND)
    assert storage.keys_fetched() == ["w.bin"] * attempts


def test_the_attempt_that_received_the_last_byte_counts_among_the_failures(
    tmp_path: Path, storage: StorageServer
) -> None:
    # README: "9 failed attempts since it last received a byte": an outage that begins by
    # cutting a transfer mid-file gives up after that cut and 8 refusals.
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", "drop:100", *["503"] * 30)
    with (
        service(fake, retry=policy()) as svc,
        pytest.raises(StorageError, match=f"giving up after {OWN_ATTEMPTS} failed attempts"),
    ):
        svc.download_weights(artifact_id, tmp_path / "out", timeout=BOUND)
    assert storage.keys_fetched() == ["w.bin"] * OWN_ATTEMPTS


def test_with_options_max_retries_reaches_the_transfers(
    tmp_path: Path, storage: StorageServer
) -> None:
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", *["503"] * 30)
    with (
        service(fake, retry=policy()) as svc,
        pytest.raises(StorageError, match="giving up after 14 failed attempts"),
    ):
        svc.with_options(max_retries=13).download_weights(
            artifact_id, tmp_path / "out", timeout=BOUND
        )
    assert storage.keys_fetched() == ["w.bin"] * 14


def draws(*values: float) -> Callable[[], float]:
    """A jitter source that gives ``values`` in turn, then the last one."""
    left = list(values)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


@pytest.mark.parametrize(("max_backoff", "cap"), [(2.0, 8.0), (8.0, 8.0), (30.0, 16.0)])
def test_a_larger_max_backoff_lengthens_the_storage_waits(
    tmp_path: Path, storage: StorageServer, max_backoff: float, cap: float
) -> None:
    # The 7th wait's cap is 0.25 s doubled six times, 16 s, where storage's own 8 s does not
    # cut it. Six waits of nothing, then one of nearly its cap, which the deadline cuts off
    # at once, saying how long it was.
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", *["503"] * 30)
    rng = draws(*[0.0] * 6, 0.999)
    settings = RetrySettings(max_retries=20, max_backoff=max_backoff)
    with (
        service(fake, retry=RetryPolicy(settings, rng=rng)) as svc,
        pytest.raises(DownloadTimeoutError, match="before the next attempt") as info,
    ):
        svc.download_weights(artifact_id, tmp_path / "out", timeout=5)
    assert f"in {0.999 * cap:.1f} s" in str(info.value)
    assert storage.keys_fetched() == ["w.bin"] * 7


@pytest.mark.parametrize(
    ("max_retry_after", "waited"), [(60.0, False), (120.0, False), (200.0, True)]
)
def test_a_larger_max_retry_after_waits_out_a_longer_retry_after(
    tmp_path: Path, storage: StorageServer, max_retry_after: float, waited: bool
) -> None:
    # Storage asks for 150 s: over its own 120 s, given up at once; under a client's 200 s,
    # waited for, which the download's deadline then cuts off at once.
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", "503:150")
    settings = RetrySettings(max_retry_after=max_retry_after)
    error, words = (
        (DownloadTimeoutError, "before the next attempt, in 150.0 s")
        if waited
        else (StorageError, "storage asks to wait 150 s")
    )
    with service(fake, retry=policy(settings)) as svc, pytest.raises(error, match=words):
        svc.download_weights(artifact_id, tmp_path / "out", timeout=5)
    assert storage.keys_fetched() == ["w.bin"]


class Retrying(logging.Handler):
    """Sets ``seen`` at a transfer's retry line, logged just before its wait."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self.seen.set()


def test_a_retry_after_longer_than_a_thread_sleeps_is_waited_until_a_close(
    tmp_path: Path, storage: StorageServer
) -> None:
    # A client that waits out any Retry-After: storage's of 10**11 s, over what a thread
    # may wait at once (threading.TIMEOUT_MAX), ended the download with an OverflowError
    # at once. It is waited for as any other, until the client's close stops it.
    fake = FakeWeaver()
    artifact_id = artifact(fake, storage)
    storage.script("w.bin", f"503:{10**11}")
    retrying = Retrying()
    logger = logging.getLogger("weaver_facade")
    logger.addHandler(retrying)
    try:
        with (
            service(fake, retry=policy(RetrySettings(max_retry_after=math.inf))) as svc,
            concurrent.futures.ThreadPoolExecutor(1) as pool,
        ):
            downloading = pool.submit(svc.download_weights, artifact_id, tmp_path / "out")
            assert retrying.seen.wait(BOUND)
            svc.close()
            with pytest.raises(ClientClosedError, match="run it again"):
                downloading.result(BOUND)
    finally:
        logger.removeHandler(retrying)
    assert storage.keys_fetched() == ["w.bin"]


@pytest.mark.parametrize("draw", [0.5, 0.999], ids=["mean", "most"])
@pytest.mark.parametrize(
    ("client", "attempts", "caps"),
    [(RetrySettings(), 9, 31.75), (README_BOUNDS, 21, 127.75)],
    ids=["default", "readme"],
)
def test_the_waits_a_file_refused_throughout_sleeps_before_it_is_given_up(
    tmp_path: Path,
    storage: StorageServer,
    client: RetrySettings,
    attempts: int,
    caps: float,
    draw: float,
) -> None:
    # The README: "given up after about 16 s of waits with the default bounds (32 s at
    # most), and after about a minute with those above (128 s at most)". Each wait is drawn
    # in [0, cap): half the caps' sum on average, nearly all of it at most. Slept into a list.
    storage.script("w.bin", *["503"] * 30)
    data = STORED["w.bin"]
    sha256 = hashlib.sha256(data).hexdigest()
    file = StorageFile(name="w.bin", size=len(data), sha256=sha256, url=storage.url("w.bin"))
    descriptor = Descriptor(artifact_id="a", kind="hf_model", files=(file,))
    settings = storage_retries(DownloadSettings(), client, None)
    slept: list[float] = []
    state = Downloads(descriptor, settings, rng=lambda: draw)
    with pytest.raises(StorageError, match=f"giving up after {attempts} failed attempts"):
        download_sync(state, tmp_path / "out", refresh=no_refresh, sleep=slept.append)
    assert len(slept) == attempts - 1
    assert sum(slept) == pytest.approx(caps * draw)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"({round(caps)} s at most)" in " ".join(readme.split())


def no_refresh() -> Descriptor:
    raise AssertionError("no refresh expected")
