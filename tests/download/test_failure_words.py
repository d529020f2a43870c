"""A storage GET's retry says its failure in the words an API call's retry has for the same
fault (README: "Retries are visible"), over real sockets on loopback: a port nobody
listens on, and a server that cuts every reply's body short."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from weaver_facade import AsyncServiceClient, ServiceClient, StorageError, WeaverError
from weaver_facade._download import (
    Descriptor,
    Downloads,
    DownloadSettings,
    StorageFile,
    download_sync,
)

KEY = "failure-words-key-3d9a"
SIZE = 100
SENT = 40  # bytes of each body before the cut


@contextlib.contextmanager
def cutting_server() -> Iterator[str]:
    """A server on a free loopback port that answers every request 200 with a body of
    ``SIZE`` bytes announced and ``SENT`` sent, then closes the connection; its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            with client, contextlib.suppress(OSError):
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                head = b""
                while b"\r\n\r\n" not in head and (chunk := client.recv(4096)):
                    head += chunk
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {SIZE}\r\n\r\n".encode()
                    + b"{" * SENT
                )

    thread = threading.Thread(target=serve, name="cutting-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(OSError):  # wakes the accept
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=10)


def _retry_words(message: str) -> str:
    """What a retry's WARNING says of the failure: after the request, before the wait."""
    return message.split(": ", 1)[1].split("; retrying in ", 1)[0]


async def api_retry_words(
    kind: type[ServiceClient | AsyncServiceClient], url: str, caplog: pytest.LogCaptureFixture
) -> str:
    """The failure's words in the WARNING of a ``get_model``'s one retry on ``url``."""

    async def asleep(_: float) -> None:
        pass

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        if kind is ServiceClient:
            with (
                ServiceClient(
                    url, KEY, heartbeat_interval=0, max_retries=1, sleep=lambda _: None
                ) as svc,
                pytest.raises(WeaverError),
            ):
                svc.get_model("m-1")
        else:
            async with AsyncServiceClient(
                url, KEY, heartbeat_interval=0, max_retries=1, sleep=asleep
            ) as asvc:
                with pytest.raises(WeaverError):
                    await asvc.get_model("m-1")
    [line] = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert line.startswith("GET /api/v1/models/m-1: "), line
    return _retry_words(line)


def storage_retry_words(url: str, dest: Path, caplog: pytest.LogCaptureFixture) -> str:
    """The failure's words in the WARNING of a storage GET's one retry of ``url``, without
    the storage host it names."""
    file = StorageFile(name="w.bin", size=SIZE, url=f"{url}/o/w.bin?X-Signature=SIG-secret")
    state = Downloads(
        Descriptor(artifact_id="a-1", kind="hf_model", files=(file,)),
        DownloadSettings(max_failures=1),
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), pytest.raises(StorageError):
        download_sync(state, dest, refresh=_no_refresh, sleep=lambda _: None)
    [line] = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert line.startswith("storage GET w.bin of artifact a-1: "), line
    words, _, host = _retry_words(line).partition(", from storage at ")
    assert host == url, line
    return words


def _no_refresh() -> Descriptor:
    raise AssertionError("no refresh expected")


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_refused_connection_is_retried_in_the_api_s_words(
    kind: type[ServiceClient | AsyncServiceClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It said "ConnectionRefusedError: [Errno 111] Connection refused", where an API
    # call's retry says "connection refused".
    url = f"http://127.0.0.1:{free_port()}"
    api = await api_retry_words(kind, url, caplog)
    storage = storage_retry_words(url, tmp_path / "out", caplog)
    assert storage == api


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_body_cut_short_is_retried_in_the_api_s_words(
    kind: type[ServiceClient | AsyncServiceClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It said "IncompleteRead: IncompleteRead(40 bytes read, 60 more expected)", the
    # type twice, where an API call's retry says "connection dropped".
    with cutting_server() as url:
        api = await api_retry_words(kind, url, caplog)
        storage = storage_retry_words(url, tmp_path / "out", caplog)
    assert storage == api
