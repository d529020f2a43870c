"""The I/O-free decisions of a download: ``plan_local`` and ``Transfer``."""

from __future__ import annotations

import ssl

import attrs
import httpx
import pytest

from weaver_facade import ArtifactIntegrityError, DownloadTimeoutError, StorageError
from weaver_facade._download import (
    Descriptor,
    Downloads,
    DownloadSettings,
    Fetch,
    Publish,
    Read,
    Refresh,
    Resume,
    Skip,
    StorageFile,
    Transfer,
    Wait,
    plan_local,
)
from weaver_facade._storage_http import UnfetchableURLError

FILE = StorageFile(name="w.bin", size=100, sha256="a" * 64, url="http://s/w?sig=1")


def kind(step: object) -> tuple[type, object]:
    """``step`` beside its class, to compare: two kinds of step with equal fields are
    equal tuples (``Wait(1.0) == Refresh(1)``, ``Skip(check=False) == Resume(0)``)."""
    return type(step), step


def transfer(file: StorageFile = FILE, *, wall: list[float], offset: int = 0) -> Transfer:
    return Transfer(
        file,
        0,
        offset,
        DownloadSettings(),
        deadline=None,
        clock=lambda: 0.0,
        wall_clock=lambda: wall[0],
        rng=lambda: 0.5,
    )


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
def test_plan_local(verify: bool) -> None:
    def plan(file: StorageFile, final_size: int | None, part_size: int | None) -> Skip | Resume:
        return plan_local(file, final_size, part_size, verify=verify)

    assert kind(plan(FILE, 100, None)) == kind(Skip(check=verify))
    assert kind(plan(FILE, 99, 40)) == kind(Resume(40))
    assert kind(plan(FILE, None, 101)) == kind(Resume(0))  # a .part longer than the file
    assert kind(plan(FILE, None, None)) == kind(Resume(0))
    unhashed = StorageFile(name="x", size=100, sha256=None, url="u")
    assert kind(plan(unhashed, 100, None)) == kind(Resume(0))  # cannot tell it is complete
    assert kind(plan(unhashed, None, 40)) == kind(Resume(0))  # nor that the .part is its own
    unsized = StorageFile(name="x", size=None, sha256=FILE.sha256, url="u")
    assert kind(plan(unsized, 7, 3)) == kind(Skip(check=True))  # only its hash can tell
    assert kind(plan(unsized, None, 3)) == kind(Resume(3))


def test_urls_are_refreshed_before_they_expire() -> None:
    wall = [1000.0]
    t = transfer(
        StorageFile(name="w", size=1, sha256=None, url="u1", url_expires_at=1100.0), wall=wall
    )
    assert isinstance(t.next_step(), Fetch)
    wall[0] = 1070.0  # 30 s left of a 100 s URL: less than the margin (30 s or a quarter: 25 s)?
    assert isinstance(t.next_step(), Fetch)
    wall[0] = 1080.0  # 20 s left: refresh first
    step = t.next_step()
    assert kind(step) == kind(Refresh(0))
    t.on_refreshed(StorageFile(name="w", size=1, sha256=None, url="u2", url_expires_at=1180.0), 1)
    step = t.next_step()
    assert isinstance(step, Fetch)
    assert step.url == "u2"


def test_a_url_expired_on_arrival_is_tried_rather_than_refreshed_for_ever() -> None:
    wall = [2000.0]  # our clock is ahead of the server's
    t = transfer(
        StorageFile(name="w", size=1, sha256=None, url="u", url_expires_at=1990.0), wall=wall
    )
    assert isinstance(t.next_step(), Fetch)


def test_a_url_that_expired_before_its_transfer_started_is_refreshed_first() -> None:
    # A file queued behind others starts after its URL came: it was fetched as it was,
    # 1.4 s after its expiry, taken for clock skew since the URL's age counted from the
    # transfer's start.
    wall = [1003.4]
    file = StorageFile(name="w", size=1, sha256=None, url="u1", url_expires_at=1002.0)
    t = Transfer(
        file,
        0,
        0,
        DownloadSettings(),
        deadline=None,
        wall_clock=lambda: wall[0],
        url_arrived=1000.0,
    )
    assert kind(t.next_step()) == kind(Refresh(0))
    t.on_refreshed(attrs.evolve(file, url="u2", url_expires_at=1005.4), 1, 1003.4)
    step = t.next_step()
    assert isinstance(step, Fetch)
    assert step.url == "u2"


def test_a_urls_arrival_is_its_descriptors() -> None:
    wall = [1000.0]
    first = Descriptor(artifact_id="a", kind="hf_model", files=(FILE,))
    state = Downloads(first, DownloadSettings(), wall_clock=lambda: wall[0])
    wall[0] = 1050.0  # a transfer starting later gets the URL's arrival, not its start
    assert state.current("w.bin") == (FILE, 0, 1000.0)
    fresh = attrs.evolve(FILE, url="http://s/w?sig=2")
    state.refreshed(attrs.evolve(first, files=(fresh,)))
    assert state.current("w.bin") == (fresh, 1, 1050.0)


def test_a_refresh_that_changes_any_file_is_refused() -> None:
    # Only the transfers in flight compared their file with the refreshed descriptor: a
    # file already in place kept its old bytes, one not started yet was fetched in its new
    # version, and the download ended complete and verified, a mix of two versions whose
    # result named the new sha256 of the old file.
    other = StorageFile(name="x.bin", size=3, sha256="b" * 64, url="http://s/x?sig=1")
    first = Descriptor(artifact_id="a", kind="hf_model", files=(FILE, other))
    state = Downloads(first, DownloadSettings())
    for changed in (attrs.evolve(other, sha256="c" * 64), attrs.evolve(other, size=4)):
        with pytest.raises(ArtifactIntegrityError, match=r"x\.bin: the artifact changed") as info:
            state.refreshed(attrs.evolve(first, files=(FILE, changed)))
        assert info.value.name == "x.bin"
    assert (state.descriptor, state.generation) == (first, 0)  # nothing of them taken


@pytest.mark.parametrize("files", ["one-more", "one-less", "renamed"])
def test_a_refresh_with_another_file_list_is_refused(files: str) -> None:
    # Downloads.refreshed: "the files must be the same (names, sizes and sha256s)"; a
    # refresh naming other files is another version of the artifact, not fresh URLs.
    other = StorageFile(name="x.bin", size=3, sha256="b" * 64, url="http://s/x?sig=1")
    first = Descriptor(artifact_id="a", kind="hf_model", files=(FILE, other))
    state = Downloads(first, DownloadSettings())
    listed = {
        "one-more": (FILE, other, attrs.evolve(other, name="y.bin")),
        "one-less": (FILE,),
        "renamed": (FILE, attrs.evolve(other, name="y.bin")),
    }[files]
    with pytest.raises(ArtifactIntegrityError, match="changed while downloading: its file list"):
        state.refreshed(attrs.evolve(first, files=listed))
    assert (state.descriptor, state.generation, state.changed) == (first, 0, set())


def test_a_refreshed_url_is_tried_before_it_is_refreshed_again() -> None:
    # URLs that live no longer than a refresh takes: one refresh per attempt, not a loop
    # of refreshes that never fetches.
    wall = [1000.0]
    file = StorageFile(name="w", size=1, sha256=None, url="u1", url_expires_at=1002.0)
    t = transfer(file, wall=wall)
    wall[0] = 1001.9  # within the margin (a quarter of 2 s)
    assert kind(t.next_step()) == kind(Refresh(0))
    t.on_refreshed(attrs.evolve(file, url="u2", url_expires_at=1003.9), 1)
    wall[0] = 1003.8  # the refresh was slow: the new URL is within the margin already
    step = t.next_step()
    assert isinstance(step, Fetch)
    assert step.url == "u2"
    t.on_reply(503, httpx.Headers({"Retry-After": "1"}))
    assert kind(t.next_step()) == kind(Wait(1.0))
    assert kind(t.next_step()) == kind(Refresh(1))  # tried once: now it is refreshed again


def test_refreshes_ahead_of_expiry_are_no_failures() -> None:
    # Short-lived URLs and storage asking to wait: each retry refreshes the URL first.
    # Those refreshes counted as refreshes after a 401/403, and the fourth ended the
    # download with "3 URL refreshes in a row without progress", not the retries' limit.
    wall = [1000.0]
    settings = DownloadSettings()
    file = StorageFile(name="w", size=1, sha256=None, url="u", url_expires_at=1002.0)
    t = transfer(file, wall=wall)
    for attempt in range(settings.max_failures):
        assert isinstance(t.next_step(), Fetch)
        t.on_reply(503, httpx.Headers({"Retry-After": "5"}))
        assert kind(t.next_step()) == kind(Wait(5.0))
        wall[0] += 5.0
        assert kind(t.next_step()) == kind(Refresh(attempt))
        t.on_refreshed(attrs.evolve(file, url_expires_at=wall[0] + 2.0), attempt + 1)
    assert isinstance(t.next_step(), Fetch)
    # Nine fetches failed, the last of them after max_failures (8) retries: the message
    # said "after 8 failed attempts".
    with pytest.raises(StorageError, match="giving up after 9 failed attempts"):
        t.on_reply(503, httpx.Headers({"Retry-After": "5"}))


def test_retry_after_replaces_the_backoff() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    t.on_reply(503, httpx.Headers({"Retry-After": "7"}))
    assert kind(t.next_step()) == kind(Wait(7.0))
    assert isinstance(t.next_step(), Fetch)
    t.on_reply(500, httpx.Headers())
    # Full jitter under the second cap (0.25 * 2).
    assert kind(t.next_step()) == kind(Wait(0.5 * 0.5))


@pytest.mark.parametrize("retry_after", ["0", "-5", "0.001", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_a_retry_after_shorter_than_the_backoff_does_not_cut_it_short(retry_after: str) -> None:
    # ``Retry-After: 0`` (or a negative number or a past date, which parse as 0) made
    # every retry of a file follow its failure at once, up to ``max_failures``.
    t = transfer(wall=[0.0])
    waits = []
    for _ in range(3):
        assert isinstance(t.next_step(), Fetch)
        t.on_reply(503, httpx.Headers({"Retry-After": retry_after}))
        step = t.next_step()
        assert isinstance(step, Wait)
        waits.append(step.seconds)
    assert waits == [0.125, 0.25, 0.5]  # full jitter at 0.5 under caps 0.25, 0.5, 1


def test_a_retry_after_longer_than_allowed_fails_at_once() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError, match=r"wait 600 s .*; run it again then to resume"):
        t.on_reply(429, httpx.Headers({"Retry-After": "600"}))


def test_a_resumed_transfer_asks_for_the_rest() -> None:
    t = transfer(wall=[0.0], offset=40)
    step = t.next_step()
    assert isinstance(step, Fetch)
    assert step.headers["Range"] == "bytes=40-"
    assert t.on_reply(206, httpx.Headers({"Content-Range": "bytes 40-99/100"})) == Read()
    assert t.on_reply(200, httpx.Headers({"Content-Length": "100"})) == Read(restart=True)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Range": "bytes 0-99/100"}],
    ids=["200-without-length", "206-of-the-whole-file"],
)
def test_a_body_that_ends_before_the_file_does_resumes_where_it_stopped(
    headers: dict[str, str],
) -> None:
    # README: "dropped connections resume where they stopped". A body that simply ends
    # (no Content-Length to tell it was cut, or a 206 shorter than its range) is such a
    # drop: a retry after a wait, for the rest, never a publish of 40 bytes of 100.
    t = transfer(wall=[0.0])
    t.next_step()
    t.on_reply(206 if headers else 200, httpx.Headers(headers))
    t.accept(b"x" * 40)
    t.on_end()
    wait = t.next_step()
    assert isinstance(wait, Wait)
    step = t.next_step()
    assert isinstance(step, Fetch)
    assert step.headers["Range"] == "bytes=40-"


def test_a_206_of_a_slice_of_the_rest_asks_for_the_next_at_once() -> None:
    # Storage (a CDN, say) may serve an open range in slices: a 206 that ends where its
    # Content-Range says, before the file does, is whole, no failure: no wait, no retry
    # counted, no WARNING, the next slice asked for at once.
    t = transfer(attrs.evolve(FILE, sha256=None), wall=[0.0], offset=10)
    for start in (10, 40, 70):
        step = t.next_step()
        assert isinstance(step, Fetch)
        assert step.headers["Range"] == f"bytes={start}-"
        end = min(start + 29, 99)
        t.on_reply(206, httpx.Headers({"Content-Range": f"bytes {start}-{end}/100"}))
        t.accept(b"x" * (end + 1 - start))
        t.on_end()
    assert isinstance(t.next_step(), Publish)
    # One without a byte is a failure, as ever: a storage serving it for ever ends.
    t = transfer(wall=[0.0], offset=40)
    t.next_step()
    t.on_reply(206, httpx.Headers({"Content-Range": "bytes 40-39/100"}))
    t.on_end()
    assert isinstance(t.next_step(), Wait)


def test_a_body_that_keeps_ending_without_progress_gives_up_naming_where() -> None:
    # As any failure without progress: max_failures in a row, then a StorageError that
    # says why and where ("run it again to resume").
    t = transfer(wall=[0.0])
    t.next_step()
    t.on_reply(200, httpx.Headers())
    t.accept(b"x" * 40)
    t.on_end()
    for _ in range(DownloadSettings().max_failures - 1):
        assert isinstance(t.next_step(), Wait)
        assert isinstance(t.next_step(), Fetch)
        t.on_reply(206, httpx.Headers({"Content-Range": "bytes 40-99/100"}))
        t.on_end()  # not a byte more
    t.next_step()
    t.next_step()
    t.on_reply(206, httpx.Headers({"Content-Range": "bytes 40-99/100"}))
    with pytest.raises(StorageError, match=r"\(the body ended at byte 40 of 100\); run it again"):
        t.on_end()


@pytest.mark.parametrize("unit", ["Bytes", "BYTES"])
def test_a_range_unit_in_any_case_resumes(unit: str) -> None:
    # RFC 9110 (section 14.1) compares range units case-insensitively; "Bytes 40-99/100"
    # was taken for no range, and the file started again from zero.
    t = transfer(wall=[0.0], offset=40)
    t.next_step()
    assert t.on_reply(206, httpx.Headers({"Content-Range": f"{unit} 40-99/100"})) == Read()


def test_a_url_no_retry_can_fetch_is_final() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError, match="cannot fetch a ftp URL") as info:
        t.on_failure(UnfetchableURLError("cannot fetch a ftp URL"))
    assert info.value.status_code is None


def _record_layer_failure() -> ssl.SSLError:
    tls = ssl.SSLError(1, "[SSL: RECORD_LAYER_FAILURE] record layer failure (_ssl.c:2580)")
    tls.reason = "RECORD_LAYER_FAILURE"  # as OpenSSL 3.2 and later set it
    return tls


def test_a_record_broken_mid_body_resumes_and_is_no_plain_http() -> None:
    # From OpenSSL 3.2 a bad MAC on a connection already made is a "record layer failure",
    # as plain HTTP's reply to the handshake is: a download cut so was given up at once,
    # "storage speaks plain HTTP", though storage had answered 200 over TLS.
    t = transfer(wall=[0.0])
    t.next_step()
    t.on_reply(200, httpx.Headers({"Content-Length": "100"}))
    t.accept(b"x" * 40)
    t.on_failure(_record_layer_failure())
    assert isinstance(t.next_step(), Wait)


def test_a_record_layer_failure_before_a_reply_is_plain_http() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError, match="storage speaks plain HTTP"):
        t.on_failure(_record_layer_failure())


def test_other_client_errors_are_final() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError) as info:
        t.on_reply(404, httpx.Headers())
    assert info.value.status_code == 404


def test_the_deadline_also_bounds_a_stream_in_progress() -> None:
    now = [0.0]
    t = Transfer(FILE, 0, 0, DownloadSettings(timeout=10), deadline=10.0, clock=lambda: now[0])
    t.next_step()
    t.on_reply(200, httpx.Headers({"Content-Length": "100"}))
    t.accept(b"x" * 10)
    now[0] = 11.0
    with pytest.raises(DownloadTimeoutError, match="byte 10 of 100"):
        t.accept(b"x" * 10)


def test_a_retry_the_deadline_would_cut_off_is_neither_logged_nor_called_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # `checkpoints download --timeout 8` against storage answering 503 logged "retrying in
    # 3.9 s (retry 5)" at 5 s, then ended at once in "the download's deadline passed":
    # no retry came, and 3 s of the deadline were left.
    now = [5.0]
    t = Transfer(FILE, 0, 0, DownloadSettings(timeout=8), deadline=8.0, clock=lambda: now[0])
    t.next_step()
    with (
        caplog.at_level("WARNING", logger="weaver_facade"),
        pytest.raises(DownloadTimeoutError) as info,
    ):
        t.on_reply(503, httpx.Headers({"Retry-After": "4"}))
    assert caplog.records == []
    assert str(info.value) == (
        "w.bin: the download's deadline comes before the next attempt, in 4.0 s, "
        "at byte 0 of 100 (HTTP 503); run it again to resume"
    )


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 507])
def test_storage_retries_timeouts_throttling_and_every_5xx(status: int) -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    t.on_reply(status, httpx.Headers({"Retry-After": "3"}))
    assert kind(t.next_step()) == kind(Wait(3.0))


@pytest.mark.parametrize("status", [400, 404, 410, 425])
def test_other_storage_statuses_are_final(status: int) -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError, match=f"HTTP {status}"):
        t.on_reply(status, httpx.Headers({"Retry-After": "3"}))


@pytest.mark.parametrize("code", ["ExpiredToken", "TokenRefreshRequired"])
def test_a_400_saying_the_token_expired_refreshes_the_url(code: str) -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>m</Message></Error>"
    t.on_reply(400, httpx.Headers(), body.encode())
    assert kind(t.next_step()) == kind(Refresh(0))


def test_a_400_of_another_code_stays_final_and_says_it() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    body = b"<Error><Code>InvalidArgument</Code><Message>m</Message></Error>"
    with pytest.raises(StorageError, match=r"HTTP 400 \(InvalidArgument\)$"):
        t.on_reply(400, httpx.Headers(), body)


def test_an_encoded_body_is_decoded_and_never_resumed_with_range() -> None:
    t = transfer(wall=[0.0], offset=40)
    t.next_step()
    gzipped = {"Content-Encoding": "gzip", "Content-Range": "bytes 40-69/70"}
    t.on_reply(206, httpx.Headers(gzipped))  # the encoded bytes from 40: no use
    step = t.next_step()
    step = t.next_step() if isinstance(step, Wait) else step
    assert isinstance(step, Fetch)
    assert "Range" not in step.headers
    reply = t.on_reply(200, httpx.Headers({"Content-Encoding": "GZIP", "Content-Length": "7"}))
    assert reply == Read(restart=True, decode="gzip")


def test_an_encoding_that_cannot_be_decoded_is_a_storage_error() -> None:
    t = transfer(wall=[0.0])
    t.next_step()
    with pytest.raises(StorageError, match="Content-Encoding: br"):
        t.on_reply(200, httpx.Headers({"Content-Encoding": "br"}))


def test_a_206_from_byte_0_to_a_request_without_range_starts_the_file_again() -> None:
    # After a 206 from the wrong byte, Range is no longer sent; a storage that still
    # answers 206 from byte 0 sends the whole file, which must not be appended to the
    # bytes already kept.
    t = transfer(wall=[0.0], offset=40)
    t.next_step()
    t.on_reply(206, httpx.Headers({"Content-Range": "bytes 0-99/100"}))  # not byte 40
    step = t.next_step()
    step = t.next_step() if isinstance(step, Wait) else step
    assert isinstance(step, Fetch)
    assert "Range" not in step.headers
    reply = t.on_reply(206, httpx.Headers({"Content-Range": "bytes 0-99/100"}))
    assert reply == Read(restart=True)
