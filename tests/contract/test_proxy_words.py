"""The kit's "cannot reach" names the environment's proxy where the failure is the proxy's.

Behind `HTTPS_PROXY=https://...` to a proxy that speaks plain HTTP (as most do), the TLS
handshake with the proxy failed, and the kit said `(the server may speak plain HTTP: try
an http:// base URL)`: it blamed the server, and its advice would send the key in the
clear; with an http:// base URL it gave the same advice. The facade says the proxy's words.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import pytest

from tests.support.connect_proxy import ConnectProxy
from tests.support.ports import free_port
from tests.support.scripted_http import Reply, ScriptedServer
from weaver_facade.contract._kit import ServerUnreachable, _probe

BASE_HINT = "try an http:// base URL"
PROXY_HINT = "(the proxy may speak plain HTTP: try an http:// proxy URL)"


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for scheme in ("HTTP", "HTTPS", "ALL", "NO"):
        monkeypatch.delenv(f"{scheme}_PROXY", raising=False)
        monkeypatch.delenv(f"{scheme.lower()}_proxy", raising=False)
    return monkeypatch


def _unreachable(base_url: str) -> str:
    with pytest.raises(ServerUnreachable) as caught:
        _probe(base_url, "sk-proxy-words-key-7c1f")
    return str(caught.value)


@pytest.mark.parametrize("base_url", ["https://weaver.invalid", "http://weaver.invalid"])
def test_an_https_proxy_url_of_a_plain_proxy_is_named_not_the_server(
    no_proxy_settings: pytest.MonkeyPatch, base_url: str
) -> None:
    with ConnectProxy() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        proxy_url = f"https://proxy-user:proxy-pass@127.0.0.1:{port}"
        for scheme in ("HTTP", "HTTPS"):
            no_proxy_settings.setenv(f"{scheme}_PROXY", proxy_url)
        said = _unreachable(base_url)
    assert proxy.refused == ["TLS"], proxy.refused  # the handshake was the proxy's
    assert BASE_HINT not in said, said
    assert said.endswith(
        f"(through the proxy https://***@127.0.0.1:{port} the environment names; see "
        f"*_PROXY) {PROXY_HINT}"
    ), said
    assert "proxy-pass" not in said
    assert "proxy-user" not in said


def test_a_plain_server_through_a_proxys_tunnel_is_still_the_servers(
    no_proxy_settings: pytest.MonkeyPatch,
) -> None:
    def plain(method: str, path: str) -> Reply:
        return 200, {"items": []}, {}

    with ScriptedServer(plain) as server, ConnectProxy() as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        said = _unreachable(server.base_url.replace("http://", "https://"))
    assert proxy.targets == [server.base_url.removeprefix("http://")], proxy.targets
    assert said.endswith(
        f"(through the tunnel of the proxy {proxy.url} the environment names) (the server "
        f"may speak plain HTTP: {BASE_HINT})"
    ), said


def test_a_tunnel_the_proxy_refuses_is_named_so(no_proxy_settings: pytest.MonkeyPatch) -> None:
    with ConnectProxy() as proxy:
        proxy.refuse_host = "weaver.invalid"
        proxy.refusals = 10
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        said = _unreachable("https://weaver.invalid")
    assert said.endswith(
        f"(the proxy {proxy.url} the environment names refused the tunnel; see *_PROXY "
        "and NO_PROXY)"
    ), said


@pytest.mark.parametrize("base_url", ["http://weaver.invalid", "https://weaver.invalid"])
def test_no_reply_from_a_proxy_is_the_proxy_s_not_the_server_s(
    no_proxy_settings: pytest.MonkeyPatch, base_url: str
) -> None:
    # A proxy that took the request (or the CONNECT) and held it, as one does while it
    # cannot reach the server, read "no reply from URL": the words of a server that took
    # the connection, which no one had reached.
    with socket.create_server(("127.0.0.1", 0)) as silent:  # taken by the kernel, unanswered
        proxy = f"http://127.0.0.1:{silent.getsockname()[1]}"
        for scheme in ("HTTP", "HTTPS"):
            no_proxy_settings.setenv(f"{scheme}_PROXY", proxy)
        with pytest.raises(ServerUnreachable) as caught:
            _probe(base_url, "sk-proxy-words-key-7c1f", deadline=1.0)
    said = str(caught.value)
    assert said.startswith(f"no reply from {base_url} within 1 s"), said
    assert said.endswith(
        f"(through the proxy {proxy} the environment names, which took the request: it "
        "may not reach the server; see *_PROXY and NO_PROXY)"
    ), said


@pytest.mark.parametrize(
    ("exempt", "base_url", "proxied"),
    [
        ("127.0.0.1:{port}", "http://127.0.0.1:{port}", False),
        ("https://127.0.0.1", "https://127.0.0.1:{port}", False),
        (".localhost", "https://localhost:{port}", True),
    ],
    ids=["port", "scheme", "subdomains"],
)
def test_the_proxy_is_named_where_httpx_went_through_it(
    no_proxy_settings: pytest.MonkeyPatch, exempt: str, base_url: str, proxied: bool
) -> None:
    # The kit named the proxy by urllib's reading of NO_PROXY, where httpx's differs: an
    # entry's port or scheme (honoured by httpx alone) left "(through the proxy URL the
    # environment names; see *_PROXY)" on a connection httpx had made directly, and
    # ".localhost" (which spares localhost itself for urllib alone) no proxy on the 502 of
    # the proxy httpx went through. The proxy's record says where the request went.
    port = free_port()
    with ConnectProxy() as proxy:
        for scheme in ("HTTP", "HTTPS"):
            no_proxy_settings.setenv(f"{scheme}_PROXY", proxy.url)
        no_proxy_settings.setenv("NO_PROXY", exempt.format(port=port))
        said = _unreachable(base_url.format(port=port))
    went = proxy.targets + proxy.refused
    assert went == ([f"localhost:{port}"] if proxied else []), went
    if proxied:
        assert said.endswith(
            f"(the proxy {proxy.url} the environment names could not open the tunnel to the server)"
        ), said
    else:
        assert "proxy" not in said, said


@pytest.mark.parametrize("changed", [False, True], ids=["kept", "changed"])
def test_the_proxy_named_is_the_one_the_probe_went_through(
    no_proxy_settings: pytest.MonkeyPatch, changed: bool
) -> None:
    # The probe's client read the environment's proxies as it was made; its error read them
    # again, as they were by then: a script's os.environ changed meanwhile named no proxy.
    def drop(listener: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                if changed:
                    for scheme in ("HTTP", "HTTPS"):
                        os.environ.pop(f"{scheme}_PROXY", None)
                connection.close()  # the request forwarded, no reply

    with socket.create_server(("127.0.0.1", 0)) as listener:  # a port the kernel chose
        proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
        for scheme in ("HTTP", "HTTPS"):
            no_proxy_settings.setenv(f"{scheme}_PROXY", proxy)
        dropping = threading.Thread(target=drop, args=(listener,), daemon=True)
        dropping.start()
        said = _unreachable("http://weaver.invalid")
        listener.shutdown(socket.SHUT_RDWR)
    dropping.join(5)
    assert f"(through the proxy {proxy} the environment names" in said, said
