"""A descriptor without ``size`` and ``sha256``: the wire allows it ("then nothing can be
verified or skipped"), and the result, the progress and the log must say no more than
is known."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.download.storage import StorageServer
from tests.support.fakeserver import FakeWeaver, service
from weaver_facade import ArtifactIntegrityError, DownloadProgress, ServiceClient

DATA = {"model.safetensors": bytes(range(256)) * 2000, "config.json": b'{"r": 8}'}
TOTAL = sum(len(d) for d in DATA.values())


def descriptor(
    storage: StorageServer,
    artifact_id: uuid.UUID,
    *,
    sized: Collection[str] = (),
    hashed: Collection[str] = (),
) -> httpx.Response:
    """Files without ``size`` and ``sha256``, but for those named in ``sized`` (both) and
    ``hashed`` (a sha256 alone)."""
    files: list[dict[str, Any]] = []
    for name, data in DATA.items():
        f: dict[str, Any] = {"name": name, "url": storage.url(name)}
        if name in sized:
            f.update(size=len(data))
        if name in sized or name in hashed:
            f.update(sha256=hashlib.sha256(data).hexdigest())
        f["url_expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        files.append(f)
    return httpx.Response(
        200, json={"artifact_id": str(artifact_id), "kind": "hf_model", "files": files}
    )


@contextlib.contextmanager
def served(
    runs: int, *, sized: Collection[str] = (), hashed: Collection[str] = ()
) -> Iterator[tuple[ServiceClient, StorageServer, uuid.UUID]]:
    """A service whose artifact's descriptor (as ``descriptor`` makes it) is given ``runs``
    times, and the storage it points at."""
    artifact_id, fake = uuid.uuid4(), FakeWeaver()
    with StorageServer(DATA).running() as storage:
        reply = descriptor(storage, artifact_id, sized=sized, hashed=hashed)
        fake.script("GET", f"/api/v1/artifacts/{artifact_id}/download", *[reply] * runs)
        with service(fake) as svc:
            yield svc, storage, artifact_id


@pytest.mark.parametrize("sized", [set(), {"config.json"}], ids=["none", "one"])
def test_a_result_says_no_more_than_was_checked(tmp_path: Path, sized: set[str]) -> None:
    seen: list[DownloadProgress] = []
    with served(1, sized=sized) as (svc, _, artifact_id):
        result = svc.download_weights(artifact_id, tmp_path / "out", progress=seen.append)
    for name, data in DATA.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    # It said verified, and bytes 0: the total of sizes the server did not give.
    assert result.verified is False
    assert result.bytes == result.bytes_fetched == TOTAL
    # The total is not known until every file of unknown size is in place.
    assert seen[0].bytes_total is None
    assert {p.bytes_total for p in seen} == {None, TOTAL}
    assert (seen[-1].bytes_done, seen[-1].bytes_total) == (TOTAL, TOTAL)


def test_a_result_with_every_sha256_checked_says_verified(tmp_path: Path) -> None:
    with served(2, sized=set(DATA)) as (svc, _, artifact_id):
        result = svc.download_weights(artifact_id, tmp_path / "out")
        unchecked = svc.download_weights(artifact_id, tmp_path / "out", verify=False)
    assert (result.verified, result.bytes) == (True, TOTAL)
    assert (unchecked.verified, unchecked.bytes, unchecked.files_skipped) == (False, TOTAL, 2)


def test_a_file_that_cannot_be_recognised_is_fetched_again_without_a_false_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    with served(2) as (svc, storage, artifact_id):
        svc.download_weights(artifact_id, out)
        storage.requests.clear()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="weaver_facade"):
            again = svc.download_weights(artifact_id, out)
        # "nothing can be verified or skipped": each file is fetched again.
        assert sorted(storage.keys_fetched()) == sorted(DATA)
    assert (again.files_skipped, again.bytes_fetched) == (0, TOTAL)
    # It said "(its size or sha256 differs)", at WARNING, of files where nothing differs.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert sorted(
        r.getMessage() for r in caplog.records if "fetching it again" in r.getMessage()
    ) == [
        f"{out / name}: fetching it again, replacing the file there: the server gives "
        "no size or sha256 to recognise it by"
        for name in sorted(DATA)
    ]


def test_a_file_with_a_sha256_and_no_size_is_recognised_by_its_hash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Such a file was fetched again on every run, though its hash tells it is complete.
    out = tmp_path / "out"
    with served(3, hashed=set(DATA)) as (svc, storage, artifact_id):
        first = svc.download_weights(artifact_id, out)
        storage.requests.clear()
        # Without a size only the hash can tell, so it is checked even when not asked.
        again = svc.download_weights(artifact_id, out, verify=False)
        assert storage.keys_fetched() == []
        # The same length, other bytes: not this artifact's file.
        model = out / "model.safetensors"
        model.write_bytes(bytes(reversed(DATA["model.safetensors"])))
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            mended = svc.download_weights(artifact_id, out, verify=False)
        assert storage.keys_fetched() == ["model.safetensors"]
    assert (first.verified, first.files_skipped, first.bytes_fetched) == (True, 0, TOTAL)
    assert (again.files_skipped, again.bytes_fetched, again.bytes) == (2, 0, TOTAL)
    assert mended.files_skipped == 1
    assert model.read_bytes() == DATA["model.safetensors"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{model}: replacing the file there, which is not this artifact's "
        "(its size or sha256 differs)"
    ]


def test_a_part_of_a_file_without_a_sha256_is_not_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A .part that a killed download of an earlier export left: nothing can tell it is
    # this artifact's, and it was resumed, published as a file of both exports' bytes.
    out = tmp_path / "out"
    out.mkdir()
    for name, data in DATA.items():
        (out / f"{name}.part").write_bytes(bytes(reversed(data))[: len(data) // 2])
    with served(1, hashed=set()) as (svc, storage, artifact_id):
        with caplog.at_level(logging.INFO, logger="weaver_facade"):
            svc.download_weights(artifact_id, out)
        assert [r.headers.get("range") for r in storage.requests] == [None] * len(DATA)
    for name, data in DATA.items():
        assert (out / name).read_bytes() == data
    # The README: "whatever .part is there (an INFO record, not a warning, says so)". A
    # rerun after a kill started over in silence, where the README promises a resume.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert sorted(r.getMessage() for r in caplog.records if "not resuming" in r.getMessage()) == [
        f"{out / name}: fetching it from its first byte, not resuming {name}.part: the "
        "server gives no sha256 to tell its bytes are this artifact's"
        for name in sorted(DATA)
    ]


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
def test_a_part_longer_than_a_file_of_unknown_size_is_fetched_again(
    tmp_path: Path, verify: bool
) -> None:
    # A `.part` left by an earlier artifact's file of the same name, longer than this one:
    # storage's 416 says how long the file is (`Content-Range: bytes */N`), and the
    # `.part` was taken as the whole file, its extra bytes and all. Only a file with a
    # sha256 is resumed, so it has one here: without, the `.part` is never asked about.
    out = tmp_path / "out"
    out.mkdir()
    for name, data in DATA.items():
        (out / f"{name}.part").write_bytes(data + b"from an earlier export")
    with served(1, hashed=set(DATA)) as (svc, storage, artifact_id):
        svc.download_weights(artifact_id, out, timeout=10, verify=verify)
        ranges = [(r.key, r.headers.get("range")) for r in storage.requests]
    for name, data in DATA.items():
        assert (out / name).read_bytes() == data
        assert (name, f"bytes={len(data) + 22}-") in ranges  # the 416 was met


def test_a_body_of_no_given_length_cut_by_a_clean_close_is_resumed(tmp_path: Path) -> None:
    # Without a size nor a Content-Length, only the close ends a body, and a clean close
    # that cut it looks the same: the file failed its sha256 (ArtifactIntegrityError,
    # its .part deleted). A sha256 that does not match yet now means "resume it".
    name = "model.safetensors"
    with served(1, hashed={name}) as (svc, storage, artifact_id):
        storage.script(name, "eof:100000", "eof:50000")
        svc.download_weights(artifact_id, tmp_path / "out", timeout=10)
        ranges = [r.headers.get("range") for r in storage.requests if r.key == name]
    assert (tmp_path / "out" / name).read_bytes() == DATA[name]
    assert ranges == [None, "bytes=100000-", "bytes=150000-"]


@pytest.mark.parametrize("cut", ["gzip+eof:1000", "deflate+eof:1"], ids=["gzip", "deflate-1"])
def test_an_encoded_body_of_no_given_length_cut_by_a_clean_close_is_fetched_again(
    tmp_path: Path, cut: str
) -> None:
    # Without a size, a sha256 or a Content-Length, a clean close that cuts an encoded body
    # looks like its end: only the encoded stream's own end tells, also of a deflate body
    # of one byte (its first two say which deflate it is). A decoded body is not resumed.
    name = "model.safetensors"
    with served(1) as (svc, storage, artifact_id):
        storage.script(name, cut, cut.partition("+")[0])
        svc.download_weights(artifact_id, tmp_path / "out", timeout=10)
        ranges = [r.headers.get("range") for r in storage.requests if r.key == name]
    assert (tmp_path / "out" / name).read_bytes() == DATA[name]
    assert ranges == [None, None]


def test_a_whole_body_of_no_given_length_that_fails_its_sha256_is_an_integrity_error(
    tmp_path: Path,
) -> None:
    # Resumed at its end, where storage's 416 says how long the file is: not a cut.
    name = "model.safetensors"
    with served(1, hashed={name}) as (svc, storage, artifact_id):
        storage.files[name] = other = bytes(reversed(DATA[name]))
        storage.script(name, f"eof:{len(other)}")
        with pytest.raises(ArtifactIntegrityError) as info:
            svc.download_weights(artifact_id, tmp_path / "out", timeout=10)
        ranges = [r.headers.get("range") for r in storage.requests if r.key == name]
    assert info.value.received == hashlib.sha256(other).hexdigest()
    assert ranges == [None, f"bytes={len(other)}-"]


def test_a_part_longer_than_a_file_of_unknown_size_leaves_later_drops_resumable(
    tmp_path: Path,
) -> None:
    # Storage's 416 to the stale .part made the file start over, and ignore Range from
    # then on: a dropped connection after it started the whole file over again.
    name = "model.safetensors"
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{name}.part").write_bytes(DATA[name] + b"from an earlier export")
    with served(1, hashed={name}) as (svc, storage, artifact_id):
        storage.script(name, "none", "drop:100000")
        svc.download_weights(artifact_id, out, timeout=10)
        ranges = [r.headers.get("range") for r in storage.requests if r.key == name]
    assert (out / name).read_bytes() == DATA[name]
    assert ranges == [f"bytes={len(DATA[name]) + 22}-", None, "bytes=100000-"]


def test_a_whole_body_of_no_given_length_served_again_for_a_range_is_no_cut(
    tmp_path: Path,
) -> None:
    # Storage that ignores Range serves the whole file again, as long as the first time:
    # that is the file, not a cut to resume. It failed its sha256: fetched twice, not
    # once per allowed failure, and an integrity error, not a StorageError.
    name = "model.safetensors"
    with served(1, hashed={name}) as (svc, storage, artifact_id):
        storage.files[name] = other = bytes(reversed(DATA[name]))
        storage.script(name, *["eof-full"] * 20)
        with pytest.raises(ArtifactIntegrityError) as info:
            svc.download_weights(artifact_id, tmp_path / "out", timeout=30)
        ranges = [r.headers.get("range") for r in storage.requests if r.key == name]
    assert info.value.received == hashlib.sha256(other).hexdigest()
    assert ranges == [None, f"bytes={len(other)}-"]
