"""The environment's proxy and TLS settings, as httpx reads them, for the API too."""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import httpx
import pytest

from tests.download.storage import StorageServer
from tests.support.cli import invoke
from tests.support.connect_proxy import ConnectProxy
from tests.support.ports import free_port
from tests.support.scripted_http import Reply, ScriptedServer
from tests.support.tls import self_signed
from weaver_facade import (
    APIConnectionError,
    AsyncServiceClient,
    InvalidArgumentError,
    NotFoundError,
    ServiceClient,
)

# Resolves nowhere: only a proxy can reach it.
UNRESOLVABLE = "http://weaver.invalid"


def as_proxy(method: str, path: str) -> Reply:
    """A proxy that answers for the API itself."""
    return 200, {"id": path.rsplit("/", 1)[-1], "base_model": "weaver-tiny"}, {}


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with ScriptedServer(as_proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.base_url)
        yield server


def test_api_calls_go_through_the_proxy_the_environment_names(proxy: ScriptedServer) -> None:
    # Given its own transport, httpx ignores the environment's proxies: every API call
    # went around the proxy (and failed where only the proxy reaches the server).
    with ServiceClient(UNRESOLVABLE, "k", heartbeat_interval=0, max_retries=0) as svc:
        assert svc.get_model("m-7").id == "m-7"
    assert proxy.requests == [("GET", f"{UNRESOLVABLE}/api/v1/models/m-7")]


async def test_async_api_calls_go_through_the_proxy_too(proxy: ScriptedServer) -> None:
    async with AsyncServiceClient(UNRESOLVABLE, "k", heartbeat_interval=0, max_retries=0) as svc:
        assert (await svc.get_model("m-7")).id == "m-7"
    assert proxy.requests == [("GET", f"{UNRESOLVABLE}/api/v1/models/m-7")]


@pytest.mark.parametrize("name", ["ALL_PROXY", "all_proxy"])
def test_api_calls_go_through_the_proxy_all_proxy_names(
    proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # The README: API calls go through the proxy that `HTTPS_PROXY`, `HTTP_PROXY` or
    # `ALL_PROXY` names.
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv(name, proxy.base_url)
    with ServiceClient(UNRESOLVABLE, "k", heartbeat_interval=0, max_retries=0) as svc:
        assert svc.get_model("m-7").id == "m-7"
    assert proxy.requests == [("GET", f"{UNRESOLVABLE}/api/v1/models/m-7")]


def test_loopback_is_no_exception_to_the_proxy(
    proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README: "Loopback addresses are no exception, as for httpx and curl: behind a
    # proxy, ... the local emulator need `NO_PROXY=127.0.0.1,localhost`."
    with ScriptedServer(as_proxy) as server:
        path = "/api/v1/models/m-7"
        with ServiceClient(server.base_url, "k", heartbeat_interval=0, max_retries=0) as svc:
            svc.get_model("m-7")
        assert proxy.requests == [("GET", f"{server.base_url}{path}")]
        assert server.requests == []
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        with ServiceClient(server.base_url, "k", heartbeat_interval=0, max_retries=0) as svc:
            svc.get_model("m-7")
        assert server.requests == [("GET", path)]
        assert len(proxy.requests) == 1


def test_no_proxy_is_honoured(proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "weaver.invalid")
    with (
        ServiceClient(UNRESOLVABLE, "k", heartbeat_interval=0, max_retries=0) as svc,
        pytest.raises(APIConnectionError, match="ConnectError"),
    ):
        svc.get_model("m-7")
    assert proxy.requests == []


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("SSL_CERT_FILE", "/nonexistent/ca.pem", "SSL_CERT_FILE='/nonexistent/ca.pem': No such"),
        ("HTTP_PROXY", "ftp://127.0.0.1:1", "Unknown scheme for proxy URL"),
        # A lone user name may be the proxy's key, as shown_url hides it.
        ("HTTP_PROXY", "ftp://TOKEN-9q@127.0.0.1:1", "ftp://***@127.0.0.1:1"),
        ("HTTP_PROXY", "ftp://u:TOKEN-9q@127.0.0.1:1", "ftp://***@127.0.0.1:1"),
        # No name lookup can encode these hosts: a UnicodeError traceback at the first request.
        ("HTTP_PROXY", "http://proxy..test:3128", "the proxy's host 'proxy..test' is not a valid"),
        ("HTTP_PROXY", "http://u:TOKEN-9q@xn--zz.test:1", "the proxy's host 'xn--zz.test' is not"),
        # Punycode only IDNA 2003 reads (an emoji's, which resolves): it was said not to be.
        ("HTTP_PROXY", "http://xn--ls8h.la:1", "host 'xn--ls8h.la' is not a host name httpx"),
        # A "/" ends the host part: httpx read the password's start as a port, and quoted it.
        ("HTTP_PROXY", "http://u:TOKEN/9q@127.0.0.1:1", "percent-encode"),
        ("HTTP_PROXY", "u:TOKEN#9q@127.0.0.1:1", "percent-encode"),
    ],
    ids=[
        "missing-ca-file",
        "proxy-scheme",
        "proxy-user-name",
        "proxy-password",
        "proxy-empty-label",
        "proxy-bad-punycode",
        "proxy-idna-2003-only",
        "proxy-password-slash",
        "proxy-password-hash",
    ],
)
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
def test_an_unusable_setting_is_a_typed_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    said: str,
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # A traceback (FileNotFoundError, ValueError) from the client's constructor, and from
    # every command of the command line.
    for exempt in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(exempt, raising=False)
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("WEAVER_BASE_URL", "http://u:TOKEN-url@127.0.0.1:9")
    with pytest.raises(InvalidArgumentError, match="environment's TLS or proxy") as refused:
        kind(api_key="k")
    assert said in str(refused.value)
    assert "TOKEN" not in str(refused.value)
    # Nor the proxy's or the base URL's credentials in a frame's locals (pytest -l, rich),
    # the error's or those of the errors behind it (``__context__``: error reporters walk
    # it), nor in those errors' words.
    shown: list[object] = [entry.frame.f_locals for entry in refused.traceback[1:]]  # not ours
    behind = refused.value.__context__
    while behind is not None:
        shown.append(behind.args)
        tb = behind.__traceback__
        while tb is not None:
            shown.append(tb.tb_frame.f_locals)
            tb = tb.tb_next
        behind = behind.__cause__ or behind.__context__
    assert len(shown) > 1  # the frames of the client's own code are there
    assert [each for each in shown if "TOKEN" in _repr(each)] == []


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a half-made object's (httpx's Proxy)
        return f"<repr failed: {exc!r}>"


def test_the_command_line_says_which_setting_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    run = invoke(["supported-models"], {"WEAVER_BASE_URL": "http://127.0.0.1:9"})
    assert run.exit_code == 2
    assert run.stderr.startswith("error: the environment's TLS or proxy settings cannot be used")
    assert "SSL_CERT_FILE" in run.stderr


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
async def test_clients_load_the_ca_bundle_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    # Each construction loaded it anew, some 0.1 s (a blocked event loop, for the
    # async client), even for an http:// base URL; through a proxy, once per transport.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    if proxied:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # never reached here
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(certifi.where(), bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    loaded: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loaded.append(args[0] if args else kwargs.get("cafile"))
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    for _ in range(2):
        ServiceClient("http://127.0.0.1:9", "k", heartbeat_interval=0).close()
        await AsyncServiceClient("http://127.0.0.1:9", "k", heartbeat_interval=0).aclose()
    assert loaded == [str(bundle)]


def test_a_replaced_ssl_cert_file_is_read_by_the_next_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its CA bundle shared between clients, a bundle updated meanwhile still counts.
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    (tmp_path / "server").mkdir()
    (tmp_path / "other").mkdir()
    server_cert, other = self_signed(tmp_path / "server"), self_signed(tmp_path / "other")
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(other[0], bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with StorageServer({}, tls=server_cert).running() as server:
        url = f"https://127.0.0.1:{server.port}"
        with (
            ServiceClient(url, "k", heartbeat_interval=0, max_retries=0) as svc,
            pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            svc.get_model("m-1")
        shutil.copyfile(server_cert[0], tmp_path / "new.pem")
        os.replace(tmp_path / "new.pem", bundle)  # as a package update replaces it
        with (
            ServiceClient(url, "k", heartbeat_interval=0, max_retries=0) as svc,
            pytest.raises(NotFoundError),  # the server's own reply: TLS was trusted
        ):
            svc.get_model("m-1")


@pytest.mark.parametrize(
    ("tls", "said"),
    [(True, "CERTIFICATE_VERIFY_FAILED"), (False, "plain HTTP")],
    ids=["untrusted-certificate", "plain-http"],
)
def test_a_tls_failure_no_retry_changes_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: bool, said: str
) -> None:
    # Retried four times, and said retryable: no retry makes a certificate trusted, nor
    # a server of plain HTTP (behind an https:// URL) speak TLS.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    sleeps: list[float] = []
    with StorageServer({}, tls=self_signed(tmp_path) if tls else None).running() as server:
        url = f"https://127.0.0.1:{server.port}"
        with (
            ServiceClient(url, "k", heartbeat_interval=0, sleep=sleeps.append) as svc,
            pytest.raises(APIConnectionError, match=said) as refused,
        ):
            svc.get_model("m-1")
    assert refused.value.retryable is False
    assert sleeps == []


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_an_https_base_url_of_a_plain_http_server_says_so(
    kind: type[ServiceClient | AsyncServiceClient],
) -> None:
    # Only OpenSSL's "[SSL: WRONG_VERSION_NUMBER] wrong version number", with no hint.
    with StorageServer({}).running() as server:  # plain HTTP
        said = await _get_model(kind, f"https://127.0.0.1:{server.port}")
    assert "[SSL" in said  # OpenSSL's own words, whichever its version
    assert said.endswith("(the server may speak plain HTTP: try an http:// base URL)")


def test_a_proxy_the_base_url_is_exempt_from_is_not_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy setting the client cannot use (a SOCKS proxy without socksio, here an
    # unknown scheme) refused every client, also one for a host in NO_PROXY.
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "ftp://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    ServiceClient("http://127.0.0.1:9", "k").close()
    AsyncServiceClient("http://127.0.0.1:9", "k")


def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


async def _get_model(kind: type[ServiceClient | AsyncServiceClient], url: str) -> str:
    """The message of the APIConnectionError of one ``get_model`` on ``url``."""
    if kind is ServiceClient:
        with (
            ServiceClient(url, "k", heartbeat_interval=0, max_retries=0) as svc,
            pytest.raises(APIConnectionError) as failed,
        ):
            svc.get_model("m-7")
    else:
        async with AsyncServiceClient(url, "k", heartbeat_interval=0, max_retries=0) as asvc:
            with pytest.raises(APIConnectionError) as failed:
                await asvc.get_model("m-7")
    return str(failed.value)


def test_a_connection_error_names_the_request_it_ended() -> None:
    # "list_models: ConnectError: [Errno 111] Connection refused" named no server: a
    # notebook's user with a wrong WEAVER_BASE_URL could not tell which one was tried.
    with (
        ServiceClient(
            "http://user:pw@127.0.0.1:9", "k", heartbeat_interval=0, max_retries=0
        ) as svc,
        pytest.raises(APIConnectionError) as failed,
    ):
        svc.get_model("m-7")
    assert failed.value.__notes__ == [
        "the request: GET http://127.0.0.1:9/api/v1/models/m-7"  # no password
    ]


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_an_unreachable_proxy_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, kind: type[ServiceClient | AsyncServiceClient]
) -> None:
    # The server is up, the proxy the environment names for it is not: the error said
    # only "ConnectError", and the command line "cannot reach SERVER", the wrong host.
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://user:pw@127.0.0.1:9")  # nothing listens on 9
    with ScriptedServer(as_proxy) as server:
        said = await _get_model(kind, server.base_url)
        assert server.requests == []
    assert "ConnectError" in said
    assert "through the proxy http://***@127.0.0.1:9 " in said
    assert "pw@" not in said
    assert "user" not in said


@pytest.mark.parametrize("userinfo", ["TOKEN:@", "TOKEN@"])
async def test_a_proxy_s_user_name_alone_is_hidden_too(
    monkeypatch: pytest.MonkeyPatch, userinfo: str
) -> None:
    # Some proxies take their key as the user name, without a password; httpx sends it
    # as Basic auth all the same. The error showed it.
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://{userinfo}127.0.0.1:9")
    said = await _get_model(ServiceClient, UNRESOLVABLE)
    assert "through the proxy http://***@127.0.0.1:9 " in said
    assert "TOKEN" not in said


@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient])
async def test_an_unreachable_server_names_no_proxy(
    monkeypatch: pytest.MonkeyPatch, kind: type[ServiceClient | AsyncServiceClient]
) -> None:
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # exempt: reached directly, and refused
    said = await _get_model(kind, "http://127.0.0.1:9")
    assert "ConnectError" in said
    assert "proxy" not in said


def test_the_command_line_names_the_proxy_it_cannot_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    run = invoke(["--max-retries", "0", "models", "show", "m-7"], {"WEAVER_BASE_URL": UNRESOLVABLE})
    assert run.exit_code == 1
    assert run.stderr.startswith(f"error: cannot reach {UNRESOLVABLE}: ")
    assert "through the proxy http://127.0.0.1:9 " in run.stderr


async def test_a_user_client_that_ignores_the_environment_names_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A user's client has its own proxy settings: the environment's proxy, which it
    # does not use, must not be blamed for its failed connection.
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with (
        ServiceClient(
            "http://127.0.0.1:9",
            "k",
            http_client=httpx.Client(trust_env=False),
            heartbeat_interval=0,
            max_retries=0,
        ) as svc,
        pytest.raises(APIConnectionError) as failed,
    ):
        svc.get_model("m-7")
    assert "ConnectError" in str(failed.value)
    assert "proxy" not in str(failed.value)


# NO_PROXY entries that httpx reads otherwise than urllib, and a base URL of the port
# each test refuses (nothing listens on it): httpx connects directly where an entry has a
# port or a scheme, which urllib does not honour; ".localhost" spares subdomains of
# localhost alone for httpx, and localhost itself too for urllib.
NO_PROXY_READINGS = {
    "port": ("127.0.0.1:{port}", "http://127.0.0.1:{port}", False),
    "scheme": ("https://127.0.0.1", "https://127.0.0.1:{port}", False),
    "subdomains": (".localhost", "https://localhost:{port}", True),
}


@pytest.mark.parametrize("reading", list(NO_PROXY_READINGS))
@pytest.mark.parametrize(
    "sender", ["sync", "async", "command-line", "user-client", "user-client-without-env"]
)
async def test_a_failed_connection_names_the_proxy_where_httpx_went_through_it(
    monkeypatch: pytest.MonkeyPatch, reading: str, sender: str
) -> None:
    # The facade named the proxy when urllib's reading of NO_PROXY said so: a connect that
    # httpx had made directly, and that was refused, said "(through the proxy URL the
    # environment names; see *_PROXY)"; and where httpx goes through the proxy but urllib
    # exempts the host, the facade's own client went around it. What the proxy received
    # says where each request went; a user's client names no proxy (its own settings).
    _no_proxies(monkeypatch)
    exempt, base, proxied = NO_PROXY_READINGS[reading]
    port = free_port()
    base = base.format(port=port)
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", exempt.format(port=port))
        if sender == "command-line":
            run = invoke(
                ["--max-retries", "0", "models", "show", "m-7"],
                {"WEAVER_BASE_URL": base, "WEAVER_API_KEY": "k"},
            )
            assert run.exit_code == 1, run.stderr
            said = run.stderr
        elif sender.startswith("user-client"):
            said = _through_a_user_client(base, trust_env=sender == "user-client")
        else:
            said = await _get_model(ServiceClient if sender == "sync" else AsyncServiceClient, base)
    # Where the request went: the proxy's record of what it received.
    went = proxy.targets + proxy.refused
    through = went == [f"localhost:{port}"]
    assert went in ([], [f"localhost:{port}"]), went
    assert through == (proxied and sender != "user-client-without-env"), went
    named = f"the proxy {proxy.url} the environment names" in said
    assert named == (through and not sender.startswith("user-client")), said
    if not named:
        assert "through the" not in said, said


def _through_a_user_client(url: str, *, trust_env: bool) -> str:
    """The message of the APIConnectionError of one ``get_model`` on ``url``, sent with a
    client of the user's."""
    with (
        httpx.Client(trust_env=trust_env) as user,
        ServiceClient(url, "k", http_client=user, heartbeat_interval=0, max_retries=0) as svc,
        pytest.raises(APIConnectionError) as failed,
    ):
        svc.get_model("m-7")
    return str(failed.value)


@pytest.mark.parametrize("change", ["unset", "another", "exempting", "unreadable"])
@pytest.mark.parametrize("kind", [ServiceClient, AsyncServiceClient], ids=["sync", "async"])
async def test_the_proxy_named_is_the_one_the_client_goes_through(
    monkeypatch: pytest.MonkeyPatch, kind: type[ServiceClient | AsyncServiceClient], change: str
) -> None:
    # Each request named its proxy by the environment as it read then, not as the client's
    # httpx had read it when it was made: once a script changed os.environ, the proxy the
    # request went through was named as another, or not at all, and a NO_PROXY entry that
    # httpx cannot read failed every call with httpx's own InvalidURL, no request sent.
    _no_proxies(monkeypatch)
    port = free_port()
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        changes = {
            "unset": ("HTTPS_PROXY", None),
            "another": ("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}"),
            "exempting": ("NO_PROXY", "localhost"),
            "unreadable": ("NO_PROXY", "[::1"),
        }
        name, value = changes[change]
        base = f"https://localhost:{port}"
        if kind is ServiceClient:
            with ServiceClient(base, "k", heartbeat_interval=0, max_retries=0) as svc:
                _change(monkeypatch, name, value)
                with pytest.raises(APIConnectionError) as failed:
                    svc.get_model("m-7")
        else:
            async with AsyncServiceClient(base, "k", heartbeat_interval=0, max_retries=0) as asvc:
                _change(monkeypatch, name, value)
                with pytest.raises(APIConnectionError) as failed:
                    await asvc.get_model("m-7")
    assert proxy.targets == [f"localhost:{port}"], proxy.targets
    assert str(failed.value).endswith(
        f"(the proxy {proxy.url} the environment names could not open the tunnel to the server)"
    ), failed.value


def _change(monkeypatch: pytest.MonkeyPatch, name: str, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
