"""An exception's chain of causes, the TLS failures in it that no retry changes, and the
transport failures before a request could leave; the proxy the environment names, and how
a failure names it.

A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import contextlib
import re
import ssl
import urllib.request
from collections.abc import Iterator, Mapping

import httpx
from httpx._utils import URLPattern, get_environment_proxies

from ._redact import shown_url

PLAIN_HTTP_HINT = " (the server may speak plain HTTP: try an http:// base URL)"
# An https:// proxy URL (HTTPS_PROXY=https://...) of a proxy that, as most, speaks plain HTTP.
PROXY_PLAIN_HTTP_HINT = " (the proxy may speak plain HTTP: try an http:// proxy URL)"

# Failures before a request could reach the server: no connection was made for it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Those, and a proxy's refusal to open a tunnel to the server (its reply to our CONNECT),
# which is never retried: nothing reached the server either.
NEVER_REACHED = (*NOT_SENT, httpx.ProxyError)
# A request's extension, from httpcore's trace of the attempt being sent: False once it
# asked the proxy for a tunnel (its CONNECT went out) before its headers ever went out,
# True once the proxy opened it (``proxy.start_tls``), or the request's headers went out
# through one (a tunnel an earlier request opened, reused). A failure between is the proxy's,
# before anything reached the server (``never_reached``); a TLS failure after it is with
# the server, at its far end.
TUNNELLED = "weaver_facade.tunnelled"


def tunnel_step(event: str, info: Mapping[str, object]) -> bool | None:
    """What httpcore's trace ``event`` (``info``) says of a proxy's tunnel: ``False`` as
    its CONNECT goes out, ``True`` as the proxy has opened it (TLS through it starts),
    ``None`` for any other event."""
    if event == "proxy.start_tls.started":
        return True
    connect = getattr(info.get("request"), "method", None) == b"CONNECT"
    return False if connect and event.endswith(".send_request_headers.started") else None


def never_reached(error: object) -> bool:
    """Whether ``error`` ended a request before it could reach the server: no connection
    was made for it, or the proxy refused or dropped it before opening its tunnel (a reset
    at the CONNECT)."""
    if isinstance(error, NEVER_REACHED):
        return True
    if isinstance(error, httpx.RequestError):
        with contextlib.suppress(RuntimeError):  # built without its request
            return error.request.extensions.get(TUNNELLED) is False
    return False


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions behind it, the first eight (a cycle of causes is
    possible in principle)."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def os_reason(error: BaseException) -> str:
    """The words of the first OS error behind ``error`` that has some, as the sync transport
    says them (``[Errno 104] Connection reset by peer``); the async transport's errors
    hold none (anyio's ``BrokenResourceError`` stands between). Empty when none has."""
    return next((str(e) for e in causes(error) if isinstance(e, OSError) and str(e)), "")


def proxy_refusal(error: BaseException) -> int | None:
    """The status of a proxy's refusal to open a tunnel (its reply to our CONNECT, which
    httpcore raises as ``ProxyError("403 Forbidden")``), if ``error`` is one."""
    for e in causes(error):
        if isinstance(e, httpx.ProxyError):
            found = re.match(r"(\d{3}) ", str(e))
            return int(found[1]) if found else None
    return None


def certificate_refused(error: BaseException) -> bool:
    """Whether TLS refused the server's certificate, which no retry can change."""
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in causes(error))


# How OpenSSL names a reply in plain HTTP ("HTTP/1.1 400 ...") to a TLS ClientHello,
# by its reason and in its words. Up to 3.1 the record's version ("TT") is checked first;
# from 3.2 its length ("P/", 20527 bytes) fails first and "record layer failure" is put
# on top, which Python reports (the last error). Python names the reason only when its
# own table of OpenSSL's reasons has it: else the words alone, as "[SSL] record layer
# failure". ("http request" is the other side's: a TLS server read "GET ", "POST ", ...)
_PLAIN_HTTP_REASONS = {
    "WRONG_VERSION_NUMBER": "wrong version number",
    "PACKET_LENGTH_TOO_LONG": "packet length too long",
    "RECORD_LAYER_FAILURE": "record layer failure",
}


def _says_plain_http(error: BaseException) -> bool:
    reason = getattr(error, "reason", None)
    if reason in _PLAIN_HTTP_REASONS:
        return True
    said = str(error).lower()
    return (
        isinstance(error, ssl.SSLError)
        and reason is None
        and any(words in said for words in _PLAIN_HTTP_REASONS.values())
    )


def plain_http(error: BaseException) -> bool:
    """Whether TLS met a server speaking plain HTTP (``_PLAIN_HTTP_REASONS``), which no
    retry changes either: ``PLAIN_HTTP_HINT`` says what to do. Such a server fails the
    handshake; from OpenSSL 3.2 on, a record broken on a connection already made (a bad
    MAC) is a "record layer failure" too, and a read or a write that meets one is not it:
    it is retried (a storage GET resumes)."""
    chain = list(causes(error))
    if any(isinstance(e, (httpx.ReadError, httpx.WriteError)) for e in chain):
        return False
    return any(_says_plain_http(e) for e in chain)


def no_retry_helps(error: BaseException) -> bool:
    """Whether TLS refused the server's certificate, or met plain HTTP: no retry changes
    either, of a request or of a poll."""
    return certificate_refused(error) or plain_http(error)


def environment_proxy() -> str | None:
    """A proxy the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, or
    the system's settings), if any: whether one is to be reckoned with. Which one a
    request goes through, if any, is httpx's to say (``proxy_taken``)."""
    proxies = urllib.request.getproxies()
    found = next(filter(None, (proxies.get(s) for s in ("http", "https", "all"))), None)
    if not found:
        return None
    return found if "://" in found else f"http://{found}"


# The proxies the environment names as httpx mounts them for a client with ``trust_env``:
# each pattern's proxy (``None``: a ``NO_PROXY`` entry's, direct), most specific first.
ProxyMounts = tuple[tuple[URLPattern, str | None], ...]


def environment_mounts() -> ProxyMounts:
    """The environment's ``ProxyMounts``, read now: none when it names no proxy
    (``NO_PROXY`` is then not read)."""
    proxies = get_environment_proxies()
    if not any(proxies.values()):
        return ()
    return tuple(
        sorted(
            ((URLPattern(key), proxy) for key, proxy in proxies.items()),
            key=lambda mount: mount[0],  # most specific first, as httpx's client keeps them
        )
    )


def proxy_taken(
    url: httpx.URL | str,
    mounts: ProxyMounts | None = None,
    client: httpx.Client | httpx.AsyncClient | None = None,
) -> str | None:
    """The proxy the environment names that a request for ``url`` goes through, as httpx
    decides (``None``: it connects directly), by its own reading of ``NO_PROXY``, not
    urllib's: httpx honours an entry's port or scheme (``127.0.0.1:8080``,
    ``https://host``), and ``.example.com`` spares ``example.com``'s subdomains alone.
    ``mounts`` (``environment_mounts``, else the environment's as it is now) name it.
    ``client``, made with ``trust_env`` and no proxy of its own as ``mounts`` were read
    (its requests keep those proxies, whatever the environment says since), decides
    whether it goes through one, by the transport it mounts for ``url``."""
    url = httpx.URL(url)
    if client is not None and client._transport_for_url(url) is client._transport:
        return None
    mounts = environment_mounts() if mounts is None else mounts
    return next((proxy for pattern, proxy in mounts if pattern.matches(url)), None)


def bad_host(url: httpx.URL) -> str | None:
    """Why a name lookup or httpx cannot take ``url``'s host, in words naming the host
    alone (a lookup raised a UnicodeError traceback, httpx idna's error); ``None`` if both
    can."""
    host = url.raw_host.decode("ascii")
    invalid = f"host {host!r} is not a valid host name"
    try:
        host.encode("idna")  # as the name lookup encodes it
    except UnicodeError:
        return f"{invalid}: each part between dots must have 1 to 63 characters"
    try:
        _ = url.host  # httpx decodes an xn-- label, by IDNA 2008, only when asked
    except UnicodeError as exc:  # idna's own words, naming the label's fault
        try:
            host.encode("idna").decode("idna")  # the name lookup's IDNA 2003
        except UnicodeError:
            return f"{invalid}: a part starting with xn-- must be punycode of a valid name ({exc})"
        # An emoji's xn--ls8h.la, say: it resolves, and storage's direct fetch takes it.
        return f"host {host!r} is not a host name httpx accepts (IDNA 2008): {exc}"
    return None


def named_proxy(proxy: str | None) -> str:
    """The environment's proxy as an error names it, its user info hidden."""
    return f"the proxy {shown_url(proxy) + ' ' if proxy else ''}the environment names"


def refused_tunnel(proxy: str | None) -> str:
    """What a proxy's refusal to open a tunnel (a 4xx to the CONNECT) adds to an error."""
    return f" ({named_proxy(proxy)} refused the tunnel; see *_PROXY and NO_PROXY)"


def proxy_words(
    exc: BaseException,
    proxy: str | None,
    *,
    tunnelled: bool,
    refused: bool,
    plain_hint: str = PLAIN_HTTP_HINT,
) -> str:
    """What a failure to reach the server (``exc``) owes to ``proxy``, the one the request
    went through (``None``: none), to add to its words: whose connection failed or dropped
    (the proxy's, or the server's through its tunnel: ``tunnelled``), whom a handshake that met
    plain HTTP speaks of (``plain_hint`` for the server's; an ``http://`` base URL would send
    the key in the clear when it was the proxy's), and the proxy's answer to the CONNECT:
    ``refused`` (its rules or its credentials, which no retry changes), a gateway's 5xx, or
    its own load."""
    named = named_proxy(proxy) if proxy else ""
    words, at_proxy = "", False
    if named and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        # A TLS-inspecting proxy shows its own certificate, as an https:// proxy URL's does.
        cert = certificate_refused(exc)
        if tunnelled:  # the proxy did its part
            words += f" (through the tunnel of {named}{'; see SSL_CERT_FILE' if cert else ''})"
        else:  # the connection that failed was the proxy's, not the server's
            at_proxy = True
            words += f" (through {named}; see *_PROXY{' and SSL_CERT_FILE' if cert else ''})"
    elif named and isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        # Dropped past the connect: by the proxy, or at either end of its tunnel.
        words += f" (through the tunnel of {named})" if tunnelled else f" (through {named})"
    if plain_http(exc):
        words += PROXY_PLAIN_HTTP_HINT if at_proxy else plain_hint
    status = proxy_refusal(exc)
    if named and status is not None:
        if refused:
            words += refused_tunnel(proxy)
        elif status >= 500:  # a gateway that could not reach the server
            words += f" ({named} could not open the tunnel to the server)"
        else:  # a 408 or 429: the proxy's own load, which says nothing of the server
            words += f" ({named} put off opening the tunnel; try again later)"
    return words
