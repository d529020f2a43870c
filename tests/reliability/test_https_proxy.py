"""An https:// API behind a CONNECT proxy, over real sockets: a CA made at test time,
the emulator served with TLS, and a tunnelling proxy that records what it was asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import API_KEY, invoke
from tests.support.connect_proxy import ConnectProxy
from tests.support.emulator import serve_in_thread
from tests.support.ports import free_port
from tests.support.tls import make_ca, make_server_cert
from weaver_facade import (
    APIConnectionError,
    Artifact,
    AsyncServiceClient,
    Datum,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    StorageError,
    datum_from_tokens,
)
from weaver_facade.emulator import FaultConfig, FaultRule

pytest.importorskip("uvicorn")

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@contextlib.contextmanager
def https_emulator(
    data_dir: Path, cert: tuple[Path, Path], faults: FaultConfig | None = None
) -> Iterator[str]:
    """The emulator's app, served by uvicorn with TLS on a free port (with ``faults``); its
    base URL, on 127.0.0.1. Its storage URLs name ``localhost`` instead, so that a proxy
    tells the storage GETs from the API calls."""
    from weaver_facade.emulator import EmulatorConfig, create_app

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(
        EmulatorConfig(
            data_dir=data_dir,
            api_keys=(API_KEY,),
            storage_url=f"https://localhost:{port}",
            faults=faults,
        )
    )
    with serve_in_thread(
        app,
        app,
        name="https-emulator",
        listener=listener,
        ssl_certfile=str(cert[0]),
        ssl_keyfile=str(cert[1]),
    ) as url:
        yield url


def _storage(server: str) -> str:
    """The ``host:port`` of the storage URLs of ``https_emulator`` at ``server``."""
    return "localhost:" + server.rsplit(":", 1)[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder, "corp")
    cert, key = make_server_cert(folder, ca)
    other, _ = make_ca(folder / "other", "other")
    return {"ca": ca[0], "cert": cert, "key": key, "other_ca": other}


@pytest.fixture(scope="module")
def server(pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with https_emulator(tmp_path_factory.mktemp("data"), (pki["cert"], pki["key"])) as url:
        yield url


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]) -> Iterator[ConnectProxy]:
    for name in (*PROXY_VARIABLES, "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with ConnectProxy() as running:
        monkeypatch.setenv("HTTPS_PROXY", running.url)
        monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
        yield running


@pytest.fixture
def artifact(server: str, proxy: ConnectProxy) -> Artifact:
    """A checkpoint's export, made through ``proxy`` before a test gives it faults."""
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        return _train_and_export(svc)


def _batch() -> list[Datum]:
    return [datum_from_tokens([(5 * i + j) % 256 for j in range(10)]) for i in range(3)]


def test_api_calls_and_the_download_tunnel_through_the_proxy(
    server: str, proxy: ConnectProxy, tmp_path: Path
) -> None:
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
        result = svc.download_weights(artifact, tmp_path / "out")
    assert result.verified
    assert result.bytes == artifact.size_bytes
    # README: "API calls and downloads alike go through the proxy": the presigned
    # https:// storage URLs too, one tunnel per GET (at least one per file).
    assert proxy.tunnels_to(server) >= 1
    assert proxy.tunnels_to(_storage(server)) >= len(artifact.files)
    assert set(proxy.targets) == {server.split("://", 1)[1], _storage(server)}
    assert proxy.refused == []


async def _failure(
    kind: type[ServiceClient | AsyncServiceClient], url: str
) -> tuple[APIConnectionError, list[float]]:
    """The error of one ``get_model`` on ``url``, and the sleeps of its retries."""
    sleeps: list[float] = []
    if kind is ServiceClient:
        with (
            ServiceClient(url, API_KEY, heartbeat_interval=0, sleep=sleeps.append) as svc,
            pytest.raises(APIConnectionError) as failed,
        ):
            svc.get_model("m-1")
        return failed.value, sleeps

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncServiceClient(url, API_KEY, heartbeat_interval=0, sleep=asleep) as asvc:
        with pytest.raises(APIConnectionError) as failed:
            await asvc.get_model("m-1")
    return failed.value, sleeps


def _train_and_export(svc: ServiceClient) -> Artifact:
    training = svc.create_training_client("weaver-tiny", seed=3)
    training.forward_backward(_batch())
    training.optim_step()
    return training.export_weights(training.save_state("tls"))


async def test_the_async_client_tunnels_through_the_proxy_too(
    server: str, proxy: ConnectProxy, tmp_path: Path
) -> None:
    async with AsyncServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        training = await svc.create_training_client("weaver-tiny", seed=3)
        await training.forward_backward(_batch())
        await training.optim_step()
        artifact = await training.export_weights(await training.save_state("tls-async"))
        result = await svc.download_weights(artifact, tmp_path / "out")
    assert result.verified
    assert result.bytes == artifact.size_bytes
    assert proxy.tunnels_to(server) >= 1
    assert proxy.tunnels_to(_storage(server)) >= len(artifact.files)
    assert set(proxy.targets) == {server.split("://", 1)[1], _storage(server)}


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_the_server_s_certificate_is_verified_through_the_tunnel(
    server: str,
    proxy: ConnectProxy,
    pki: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # Another CA: the tunnel opens, and TLS, end to end with the server, refuses it.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["other_ca"]))
    refused, sleeps = await _failure(kind, server)
    said = str(refused)
    assert "CERTIFICATE_VERIFY_FAILED" in said
    # The proxy did its part: the way out is the trusted CAs, not the proxy settings,
    # though the proxy is named (a TLS-inspecting one stands in for the server).
    assert said.endswith(
        f"(through the tunnel of the proxy {proxy.url} the environment names; see SSL_CERT_FILE)"
    )
    assert refused.retryable is False
    assert sleeps == []
    assert proxy.targets == [server.split("://", 1)[1]]  # once: not retried
    assert API_KEY not in said + "".join(refused.__notes__)


def test_no_proxy_exempts_the_api_and_storage(
    server: str, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
        result = svc.download_weights(artifact, tmp_path / "out")
    assert result.verified  # TLS verified with SSL_CERT_FILE's CA, directly
    assert proxy.targets == []


def test_the_command_line_tunnels_through_the_proxy(
    server: str, proxy: ConnectProxy, artifact: Artifact, tmp_path: Path
) -> None:
    before = proxy.tunnels_to(_storage(server))
    env: dict[str, str | None] = {"WEAVER_API_KEY": API_KEY, "WEAVER_BASE_URL": None}
    shown = invoke(
        [
            "--base-url",
            server,
            "checkpoints",
            "artifacts",
            artifact.uri[: artifact.uri.rindex("/artifacts/")],
            "--json",
        ],
        env,
    )
    assert shown.exit_code == 0, shown.stderr
    assert [a["uri"] for a in shown.json()["artifacts"]] == [artifact.uri]
    got = invoke(
        [
            "--base-url",
            server,
            "checkpoints",
            "download",
            artifact.uri,
            "-o",
            str(tmp_path / "out"),
            "--json",
        ],
        env,
    )
    assert got.exit_code == 0, got.stderr
    assert got.json()["verified"] is True
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f.name for f in artifact.files
    )
    assert proxy.tunnels_to(_storage(server)) >= before + len(artifact.files)
    assert set(proxy.targets) == {server.split("://", 1)[1], _storage(server)}


def test_the_command_line_names_a_certificate_it_does_not_trust(
    server: str, proxy: ConnectProxy, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["other_ca"]))
    run = invoke(["--base-url", server, "models", "show", "m-1"], {"WEAVER_API_KEY": API_KEY})
    assert run.exit_code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in run.stderr
    assert "see SSL_CERT_FILE" in run.stderr
    assert "*_PROXY" not in run.stderr
    assert proxy.targets == [server.split("://", 1)[1]]


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_an_https_proxy_url_of_a_plain_proxy_blames_the_proxy_url(
    server: str,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # HTTPS_PROXY=https://... for a proxy that speaks plain HTTP, as most do: the error
    # said to "try an http:// base URL", which would send the API key in the clear.
    https_proxy = proxy.url.replace("http://", "https://")
    monkeypatch.setenv("HTTPS_PROXY", https_proxy)
    refused, sleeps = await _failure(kind, server)
    said = str(refused)
    assert "try an http:// base URL" not in said
    assert said.endswith(
        f"(through the proxy {https_proxy} the environment names; see *_PROXY)"
        " (the proxy may speak plain HTTP: try an http:// proxy URL)"
    )
    assert (refused.retryable, sleeps) == (False, [])
    assert proxy.refused == ["TLS"]
    assert proxy.targets == []


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_proxy_that_refuses_the_storage_host_ends_the_download_at_once(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # A corporate proxy's allow-list without the storage host: its 403 to the CONNECT was
    # retried as a dropped connection, 9 attempts per file (some 11 s, a WARNING each),
    # then "run it again to resume", which never helps; the API takes it as final.
    proxy.refuse_host, proxy.refusals = "localhost", 1000
    said = str(await _download_failure(kind, server, artifact, tmp_path / "out"))
    assert said.endswith(
        f"ProxyError: 403 Forbidden, from storage at https://{_storage(server)} (the proxy "
        f"{proxy.url} the environment names refused the tunnel; see *_PROXY and NO_PROXY)"
    )
    assert len(proxy.refused) == 1  # not retried
    assert "sig=" not in said


def test_an_https_proxy_url_of_a_plain_proxy_for_storage_blames_the_proxy_url(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The API exempt (an intranet host), storage through HTTPS_PROXY=https://... of a
    # proxy that speaks plain HTTP: "storage speaks plain HTTP at this https:// URL" sent
    # the user to storage, whose URL is not theirs to change, not to the proxy URL.
    https_proxy = proxy.url.replace("http://", "https://")
    monkeypatch.setenv("HTTPS_PROXY", https_proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with (
        ServiceClient(server, API_KEY, heartbeat_interval=0) as svc,
        pytest.raises(StorageError) as refused,
    ):
        svc.download_weights(artifact, tmp_path / "out", max_concurrency=1, timeout=60)
    said = str(refused.value)
    assert said.endswith(
        f"(through the proxy {https_proxy} the environment names; see *_PROXY)"
        " (the proxy may speak plain HTTP: try an http:// proxy URL)"
    ), said
    assert "storage speaks plain HTTP" not in said
    assert proxy.refused == ["TLS"]  # once: no retry changes it


def test_a_proxy_s_5xx_to_the_storage_connect_is_still_retried(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A gateway's failure to reach storage may pass, as a refused connection may. Its
    # retries named no proxy, where an API call's error says what the proxy did.
    proxy.refuse_host, proxy.refusal, proxy.refusals = "127.0.0.1", "502 Bad Gateway", 1000
    api, _ = asyncio.run(_failure(ServiceClient, server))
    named = _proxy_words(api)
    proxy.refused.clear()
    proxy.refuse_host, proxy.refusals = "localhost", 2
    with (
        ServiceClient(server, API_KEY, heartbeat_interval=0) as svc,
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
    ):
        result = svc.download_weights(artifact, tmp_path / "out", max_concurrency=1)
    assert result.verified
    assert len(proxy.refused) == 2
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("storage GET")]
    assert len(retries) == 2
    assert all(f"{_storage(server)}{named}; retrying in" in line for line in retries), retries


@pytest.mark.parametrize(
    ("refusal", "why"),
    [
        ("403 Forbidden", "refused the tunnel; see *_PROXY and NO_PROXY"),
        ("407 Proxy Authentication Required", "refused the tunnel; see *_PROXY and NO_PROXY"),
        ("502 Bad Gateway", "could not open the tunnel to the server"),
        # The proxy's own load, not the server's: it reached nothing, nor failed to.
        ("429 Too Many Requests", "put off opening the tunnel; try again later"),
    ],
)
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_proxy_that_refuses_the_api_s_tunnel_is_named(
    server: str,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    kind: type[ServiceClient | AsyncServiceClient],
    refusal: str,
    why: str,
) -> None:
    # "ProxyError: 403 Forbidden" named no proxy, and said retryable, which no retry of
    # a refusal by the proxy's rules or of its credentials changes.
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("://", "://alice:PW-9z@"))
    proxy.refuse_host, proxy.refusal, proxy.refusals = "127.0.0.1", refusal, 1000
    failed, sleeps = await _failure(kind, server)
    said = str(failed)
    shown = proxy.url.replace("://", "://***@")
    assert said.endswith(f"ProxyError: {refusal} (the proxy {shown} the environment names {why})")
    assert failed.retryable is not why.startswith("refused")
    assert (len(proxy.refused), sleeps) == (1, [])  # never retried, as before
    assert "PW-9z" not in said


async def _download_failure(
    kind: type[ServiceClient | AsyncServiceClient], server: str, artifact: Artifact, dest: Path
) -> StorageError:
    """The error of a download of ``artifact`` that every storage GET fails, its waits a
    hundredth of their caps."""
    quick = RetryPolicy(rng=lambda: 0.01)
    if kind is ServiceClient:
        with (
            ServiceClient(server, API_KEY, heartbeat_interval=0, retry=quick) as svc,
            pytest.raises(StorageError) as failed,
        ):
            svc.download_weights(artifact, dest, max_concurrency=1, timeout=60)
        return failed.value
    async with AsyncServiceClient(server, API_KEY, heartbeat_interval=0, retry=quick) as asvc:
        with pytest.raises(StorageError) as failed:
            await asvc.download_weights(artifact, dest, max_concurrency=1, timeout=60)
    return failed.value


def _proxy_words(error: APIConnectionError) -> str:
    """What an API call's error says of the proxy: the bracket after the transport's words."""
    said = str(error)
    return said[said.index(" (") :]


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_proxy_that_refuses_the_storage_connection_is_named_as_for_the_api(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # An API call through a proxy that refuses connections names it; a download's storage
    # GETs through it said "Connection refused, from storage at https://localhost:PORT",
    # which sent the user to storage, reached by no connection at all.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
    api, _ = await _failure(ServiceClient, server)
    named = _proxy_words(api)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the API reached directly, storage not
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        failed = await _download_failure(kind, server, artifact, tmp_path / "out")
    said = str(failed)
    assert f"Connection refused, from storage at https://{_storage(server)}{named})" in said, said
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("storage GET")]
    assert retries
    assert all(f"{_storage(server)}{named}; retrying in" in line for line in retries), retries


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_storage_handshake_reset_in_the_tunnel_names_the_tunnel_as_for_the_api(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # The proxy opened its tunnel, and the TLS handshake through it was reset: the proxy
    # did its part (no "see *_PROXY"), which only the API's error said.
    proxy.reset_host, proxy.reset_at = "127.0.0.1", "tunnel"
    api, _ = await _failure(ServiceClient, server)
    named = _proxy_words(api)
    proxy.reset_host = "localhost"  # the API reached through the proxy, storage reset
    failed = await _download_failure(kind, server, artifact, tmp_path / "out")
    assert f"from storage at https://{_storage(server)}{named})" in str(failed), failed


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_connection_the_proxy_resets_names_the_proxy_for_the_api_and_storage(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # The proxy took the connection, then reset it at the CONNECT: "ReadError: [Errno 104]
    # Connection reset by peer" named no proxy, nor did the download's error.
    proxy.reset_host = "127.0.0.1"
    api, _ = await _failure(kind, server)
    assert f"{proxy.url} " in str(api), api
    named = _proxy_words(api)
    proxy.reset_host = "localhost"  # the API reached through the proxy, storage reset
    failed = await _download_failure(kind, server, artifact, tmp_path / "out")
    assert f"from storage at https://{_storage(server)}{named})" in str(failed), failed
    assert len(proxy.reset) > 1  # the API's attempts, and storage's


def test_the_command_line_names_a_proxy_that_resets_the_connection(
    server: str, proxy: ConnectProxy, artifact: Artifact, tmp_path: Path
) -> None:
    env: dict[str, str | None] = {"WEAVER_API_KEY": API_KEY, "WEAVER_BASE_URL": None}
    proxy.reset_host = "127.0.0.1"
    api = invoke(["--base-url", server, "--max-retries", "0", "models", "show", "m-1"], env)
    assert api.exit_code == 1, api.stderr
    assert f"{proxy.url} " in api.stderr, api.stderr
    [error] = [line for line in api.stderr.splitlines() if line.startswith("error: ")]
    named = error[error.index(" (through ") :]
    proxy.reset_host = "localhost"
    download = ["checkpoints", "download", artifact.uri, "-o", str(tmp_path / "out")]
    run = invoke(["--base-url", server, *download, "--max-concurrency", "1", "--timeout", "2"], env)
    assert run.exit_code == 1, run.stderr
    [error] = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert f"from storage at https://{_storage(server)}{named})" in error, error
    retries = [line for line in run.stderr.splitlines() if line.startswith("storage GET")]
    assert retries, run.stderr
    assert all(f"{_storage(server)}{named}; retrying in" in line for line in retries), retries


@pytest.mark.parametrize(
    "args", [["models", "show", "m-1"], ["models", "create", "weaver-tiny"]], ids=["get", "create"]
)
def test_the_command_line_says_a_request_reset_at_the_connect_never_reached_the_server(
    server: str, proxy: ConnectProxy, args: list[str]
) -> None:
    # It said "lost the reply from URL", of a create "(the server may have acted)", when the
    # proxy reset the connection at the CONNECT: no tunnel had opened, nothing had left.
    proxy.reset_host = "127.0.0.1"
    env: dict[str, str | None] = {"WEAVER_API_KEY": API_KEY, "WEAVER_BASE_URL": None}
    run = invoke(["--base-url", server, "--max-retries", "0", *args], env)
    assert run.exit_code == 1, run.stderr
    assert run.stderr.startswith(f"error: cannot reach {server}: "), run.stderr
    assert f"(through the proxy {proxy.url} the environment names)" in run.stderr
    assert len(proxy.reset) == 1


def test_the_command_line_says_a_reply_lost_through_the_open_tunnel_is_lost(
    pki: dict[str, Path], proxy: ConnectProxy, tmp_path: Path
) -> None:
    # Once the tunnel is open, a dropped connection may follow the server's act on the
    # request: a create whose reply the server dropped keeps "lost the reply". (Its
    # tunnel, the session's, kept: the next test opens one for the create.)
    drop = FaultRule("drop", 1.0, "after", "POST", "/api/v1/sessions/{session_id}/models")
    env: dict[str, str | None] = {"WEAVER_API_KEY": API_KEY, "WEAVER_BASE_URL": None}
    with https_emulator(tmp_path, (pki["cert"], pki["key"]), FaultConfig((drop,))) as url:
        args = ["--base-url", url, "--max-retries", "0", "models", "create", "weaver-tiny"]
        run = invoke(args, env)
    assert run.exit_code == 1, run.stderr
    said = f"error: lost the reply from {url} (the server may have acted): create_model: "
    assert run.stderr.startswith(said), run.stderr
    assert proxy.tunnels_to(url) >= 1


def test_a_reply_lost_through_a_tunnel_opened_for_it_is_lost(
    pki: dict[str, Path], proxy: ConnectProxy, tmp_path: Path
) -> None:
    # The retry of a create whose reply the server dropped opens a tunnel of its own (the
    # drop closed the connection): dropped once that is open, it may have made a model too.
    drop = FaultRule("drop", 1.0, "after", "POST", "/api/v1/sessions/{session_id}/models")
    twice = RetryPolicy(RetrySettings(max_retries=1))
    with https_emulator(tmp_path, (pki["cert"], pki["key"]), FaultConfig((drop,))) as url:
        svc = ServiceClient(url, API_KEY, heartbeat_interval=0, retry=twice, sleep=lambda _: None)
        with svc, pytest.raises(APIConnectionError) as failed:
            svc.create_training_client("weaver-tiny", seed=3)
    assert proxy.tunnels_to(url) == 2, proxy.targets  # the session's, and the retry's
    said = "no reply came to 2 attempts while the request to create a model was on its way: "
    assert any(note.startswith(said) for note in failed.value.__notes__), failed.value.__notes__


def test_a_create_retried_after_a_reset_at_the_connect_warns_of_no_lost_reply(
    server: str, proxy: ConnectProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # The attempt reset at the CONNECT counted as one whose reply was lost: "model M was
    # made after an earlier attempt's reply was lost: ... may have made another model too".
    def reset_no_more(_seconds: float) -> None:
        proxy.reset_host = None

    with ServiceClient(server, API_KEY, heartbeat_interval=0, sleep=reset_no_more) as svc:
        svc.create_training_client("weaver-tiny", seed=3)  # its session's tunnel, kept
        proxy.reset_host = "127.0.0.1"
        proxy.close_tunnels()  # the create's attempt needs a new one
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            svc.create_training_client("weaver-tiny", seed=3)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said  # the retry's line alone
    through = re.escape(f" (through the proxy {proxy.url} the environment names)")
    assert re.match(
        rf"POST /api/v1/sessions/\S+/models: connection dropped{through}; retrying", said[0]
    )
    assert len(proxy.reset) == 1


class _SendsAgain(httpx.BaseTransport):
    """A transport of a user's, through ``proxy``, that sends a request again on a new
    connection when the first send fails, after which the proxy resets every CONNECT."""

    def __init__(self, proxy: ConnectProxy) -> None:
        self._inner = httpx.HTTPTransport(proxy=proxy.url)
        self._proxy = proxy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._inner.handle_request(request)
        except httpx.TransportError:
            self._proxy.reset_host = "127.0.0.1"
            return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_a_request_sent_again_by_your_transport_and_reset_at_the_connect_may_have_acted(
    pki: dict[str, Path], proxy: ConnectProxy, tmp_path: Path
) -> None:
    # The create went out through the tunnel and the server made the model, then dropped
    # the reply; the user's transport sent it again, and the proxy reset that CONNECT. The
    # error took it for a request that never reached the server: no note of the model.
    drop = FaultRule("drop", 1.0, "after", "POST", "/api/v1/sessions/{session_id}/models")
    once = RetryPolicy(RetrySettings(max_retries=0))
    with (
        https_emulator(tmp_path, (pki["cert"], pki["key"]), FaultConfig((drop,))) as url,
        httpx.Client(transport=_SendsAgain(proxy)) as client,
    ):
        svc = ServiceClient(url, API_KEY, heartbeat_interval=0, http_client=client, retry=once)
        with svc, pytest.raises(APIConnectionError) as failed:
            svc.create_training_client("weaver-tiny", seed=3)
        proxy.reset_host = None
        with ServiceClient(url, API_KEY, heartbeat_interval=0) as other:
            made = other.list_models()
    assert len(proxy.reset) == len(made) == 1
    assert any(
        note.startswith("no reply came while the request to create a model was on its way: ")
        for note in failed.value.__notes__
    ), failed.value.__notes__


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_delete_reset_at_the_connect_is_sent_again(
    server: str, proxy: ConnectProxy, kind: type[ServiceClient | AsyncServiceClient]
) -> None:
    # README, "What is retried": a request that got no reply "is sent again if it never
    # left". A DELETE, not safe to repeat, that the proxy reset at its CONNECT was not.
    sleeps: list[float] = []

    def reset_no_more(seconds: float) -> None:
        sleeps.append(seconds)
        proxy.reset_host = None

    async def areset_no_more(seconds: float) -> None:
        reset_no_more(seconds)

    if kind is ServiceClient:
        with ServiceClient(server, API_KEY, heartbeat_interval=0, sleep=reset_no_more) as svc:
            training = svc.create_training_client("weaver-tiny", seed=3)
            saved = training.save_state("reset-delete")
            proxy.reset_host = "127.0.0.1"
            proxy.close_tunnels()  # the DELETE needs a new one
            deleted = training.delete_checkpoint(saved)
    else:
        async with AsyncServiceClient(
            server, API_KEY, heartbeat_interval=0, sleep=areset_no_more
        ) as asvc:
            atraining = await asvc.create_training_client("weaver-tiny", seed=3)
            saved = await atraining.save_state("reset-delete")
            proxy.reset_host = "127.0.0.1"
            proxy.close_tunnels()
            deleted = await atraining.delete_checkpoint(saved)
    assert (deleted.id, deleted.status) == (saved.id, "deleted")
    assert len(proxy.reset) == len(sleeps) == 1


def test_the_command_line_names_a_proxy_that_refuses_the_storage_connection(
    server: str,
    proxy: ConnectProxy,
    artifact: Artifact,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    api, _ = asyncio.run(_failure(ServiceClient, server))
    named = _proxy_words(api)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    out = tmp_path / "out"
    download = ["checkpoints", "download", artifact.uri, "-o", str(out), "--timeout", "2"]
    run = invoke(
        ["--base-url", server, *download, "--max-concurrency", "1"],
        {"WEAVER_API_KEY": API_KEY, "WEAVER_BASE_URL": None},
    )
    assert run.exit_code == 1, run.stderr
    [error] = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert f"Connection refused, from storage at https://{_storage(server)}{named})" in error
    retries = [line for line in run.stderr.splitlines() if line.startswith("storage GET")]
    assert retries, run.stderr
    assert all(f"{_storage(server)}{named}; retrying in" in line for line in retries), retries


@pytest.mark.parametrize("where", ["refused", "tunnel"])
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_an_api_call_s_retry_names_the_proxy_as_its_error_does(
    server: str,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: type[ServiceClient | AsyncServiceClient],
    where: str,
) -> None:
    # Storage's retries named the proxy (its connection refused, or the server's handshake
    # reset in its tunnel); an API call's named none, its error alone did.
    if where == "refused":
        # Nothing listens; its password is never shown.
        monkeypatch.setenv("HTTPS_PROXY", f"http://alice:PW-9z@127.0.0.1:{free_port()}")
    else:
        proxy.reset_host, proxy.reset_at = "127.0.0.1", "tunnel"
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        failed, sleeps = await _failure(kind, server)
    # The async transport's error says "All connection attempts failed", its bracket
    # "connection refused" first, which the retry line says before it.
    named = _proxy_words(failed).replace(" (connection refused, ", " (")
    assert ("tunnel of" in named) is (where == "tunnel"), named
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET ")]
    assert len(retries) == len(sleeps) > 0
    assert all(f"{named}; retrying in" in line for line in retries), retries
    assert "PW-9z" not in "".join(retries)


@pytest.mark.parametrize("fresh", [False, True], ids=["reused", "fresh"])
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_reply_dropped_in_a_reused_tunnel_names_the_tunnel(
    pki: dict[str, Path],
    proxy: ConnectProxy,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
    fresh: bool,
) -> None:
    # A reply dropped in the tunnel an earlier request had opened said "(through the proxy
    # URL ...)", as a connection the proxy reset at its CONNECT does: the request's trace
    # held no CONNECT. One dropped in a tunnel opened for it said "the tunnel of".
    drop = FaultRule("drop", 1.0, "after", "GET", "/api/v1/models/{model_id}")
    once = RetryPolicy(RetrySettings(max_retries=0))
    with https_emulator(tmp_path, (pki["cert"], pki["key"]), FaultConfig((drop,))) as url:
        if kind is ServiceClient:
            with ServiceClient(url, API_KEY, heartbeat_interval=0, retry=once) as svc:
                svc.list_models()  # opens the tunnel, kept
                if fresh:
                    proxy.close_tunnels()
                with pytest.raises(APIConnectionError) as failed:
                    svc.get_model("m-1")
        else:
            async with AsyncServiceClient(url, API_KEY, heartbeat_interval=0, retry=once) as asvc:
                await asvc.list_models()
                if fresh:
                    proxy.close_tunnels()
                with pytest.raises(APIConnectionError) as failed:
                    await asvc.get_model("m-1")
    assert proxy.tunnels_to(url) == 1 + fresh, proxy.targets
    said = str(failed.value)
    assert said.endswith(f"(through the tunnel of the proxy {proxy.url} the environment names)")


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_a_storage_certificate_refused_in_the_tunnel_names_it_as_for_the_api(
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # A certificate TLS refuses at the tunnel's far end (a TLS-inspecting proxy's, say):
    # the download said "(see SSL_CERT_FILE)" alone, where an API call's error names the
    # proxy too. Its storage host, localhost, is not one its certificate names.
    ca = make_ca(tmp_path, "own")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca[0]))
    cert = make_server_cert(tmp_path, ca, names="IP:127.0.0.1")
    with https_emulator(tmp_path / "data", cert) as url:
        with ServiceClient(url, API_KEY, heartbeat_interval=0) as svc:
            artifact = _train_and_export(svc)
        failed = await _download_failure(kind, url, artifact, tmp_path / "out")
    said = str(failed)
    assert "CERTIFICATE_VERIFY_FAILED" in said
    assert said.endswith(
        f"from storage at https://{_storage(url)} (through the tunnel of the proxy "
        f"{proxy.url} the environment names; see SSL_CERT_FILE)"
    ), said
