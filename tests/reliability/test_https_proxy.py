"""An https:// API behind a CONNECT proxy, over real sockets: a CA made at test time,
the emulator served with TLS, and a tunnelling proxy that records what it was asked."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from tests.support.cli import API_KEY, invoke
from tests.support.emulator import serve_in_thread
from weaver_facade import (
    APIConnectionError,
    Artifact,
    AsyncServiceClient,
    Datum,
    ServiceClient,
    StorageError,
    datum_from_tokens,
)

pytest.importorskip("uvicorn")

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A CA's ``(cert, key)``, with the extensions a strict verifier asks of a CA."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}-ca.pem", folder / f"{name}-ca.key"
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
        *("-subj", f"/CN={name} test CA", "-keyout", str(key), "-out", str(cert)),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    return cert, key


def make_server_cert(folder: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A server ``(cert, key)`` for 127.0.0.1 and localhost, signed by ``ca``."""
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl(
        *("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"),
        *("-keyout", str(key), "-out", str(csr)),
    )
    _openssl(
        *("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1])),
        *("-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(extensions)),
    )
    return cert, key


class ConnectProxy:
    """A CONNECT-only proxy on a free loopback port: each tunnel in threads of its own;
    ``targets`` are the CONNECT targets it opened, in the order asked, ``refused`` the
    request lines it refused: any but a CONNECT (a proxy that only tunnels, as many
    corporate ones do for HTTPS), and those to ``refuse_host`` (one it does not allow)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.targets: list[str] = []
        self.refused: list[str] = []
        # CONNECTs to this host get ``refusal`` (a status line's rest), ``refusals`` times.
        self.refuse_host: str | None = None
        self.refusal = "403 Forbidden"
        self.refusals = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="connect-proxy", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):  # wakes the accept (a close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(timeout=10)

    def _keep(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._keep(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):  # a client gone, or the proxy closing
            self._handle(client)

    def _handle(self, client: socket.socket) -> None:
        head = client.recv(4096)
        if head.startswith(b"\x16"):  # a TLS ClientHello: a plain proxy says 400, as Squid
            with self._lock:
                self.refused.append("TLS")
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            with self._lock:
                self.refused.append(line)
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, port = target.rsplit(":", 1)
        with self._lock:
            refuse = host == self.refuse_host and self.refusals > 0
            if refuse:
                self.refusals -= 1
                self.refused.append(line)
            else:
                self.targets.append(target)
        if refuse:
            client.sendall(f"HTTP/1.1 {self.refusal}\r\nContent-Length: 0\r\n\r\n".encode())
            client.close()
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        upstream.settimeout(None)
        self._keep(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        early = head.split(b"\r\n\r\n", 1)[1]
        if early:
            upstream.sendall(early)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def tunnels_to(self, target: str) -> int:
        """How many tunnels were asked to ``target``, a URL or ``host:port``."""
        with self._lock:
            return self.targets.count(target.split("://", 1)[-1])


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def https_emulator(data_dir: Path, cert: tuple[Path, Path]) -> Iterator[str]:
    """The emulator's app, served by uvicorn with TLS on a free port; its base URL, on
    127.0.0.1. Its storage URLs name ``localhost`` instead, so that a proxy tells the
    storage GETs from the API calls."""
    from weaver_facade.emulator import EmulatorConfig, create_app

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = create_app(
        EmulatorConfig(
            data_dir=data_dir, api_keys=(API_KEY,), storage_url=f"https://localhost:{port}"
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
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
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
    server: str, proxy: ConnectProxy, tmp_path: Path
) -> None:
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
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
    tmp_path: Path,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # A corporate proxy's allow-list without the storage host: its 403 to the CONNECT was
    # retried as a dropped connection, 9 attempts per file (some 11 s, a WARNING each),
    # then "run it again to resume", which never helps; the API takes it as final.
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
    proxy.refuse_host, proxy.refusals = "localhost", 1000
    if kind is ServiceClient:
        with (
            ServiceClient(server, API_KEY, heartbeat_interval=0) as svc,
            pytest.raises(StorageError) as refused,
        ):
            svc.download_weights(artifact, tmp_path / "out", max_concurrency=1, timeout=60)
    else:
        async with AsyncServiceClient(server, API_KEY, heartbeat_interval=0) as asvc:
            with pytest.raises(StorageError) as refused:
                await asvc.download_weights(
                    artifact, tmp_path / "out", max_concurrency=1, timeout=60
                )
    said = str(refused.value)
    assert said.endswith(
        f"ProxyError: 403 Forbidden, from storage at https://{_storage(server)} (the proxy "
        f"{proxy.url} the environment names refused the tunnel; see *_PROXY and NO_PROXY)"
    )
    assert len(proxy.refused) == 1  # not retried
    assert "sig=" not in said


def test_an_https_proxy_url_of_a_plain_proxy_for_storage_blames_the_proxy_url(
    server: str, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The API exempt (an intranet host), storage through HTTPS_PROXY=https://... of a
    # proxy that speaks plain HTTP: "storage speaks plain HTTP at this https:// URL" sent
    # the user to storage, whose URL is not theirs to change, not to the proxy URL.
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
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
        f"(the proxy {https_proxy} the environment names may speak plain HTTP: try an "
        "http:// proxy URL)"
    ), said
    assert "storage speaks plain HTTP" not in said
    assert proxy.refused == ["TLS"]  # once: no retry changes it


def test_a_proxy_s_5xx_to_the_storage_connect_is_still_retried(
    server: str, proxy: ConnectProxy, tmp_path: Path
) -> None:
    # A gateway's failure to reach storage may pass, as a refused connection may.
    with ServiceClient(server, API_KEY, heartbeat_interval=0) as svc:
        artifact = _train_and_export(svc)
        proxy.refuse_host, proxy.refusal, proxy.refusals = "localhost", "502 Bad Gateway", 2
        result = svc.download_weights(artifact, tmp_path / "out", max_concurrency=1)
    assert result.verified
    assert len(proxy.refused) == 2


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
