"""The kit's httpx clients, all made here (``kit_client``), which send a URL's user info (the
base URL's password) as Basic credentials, out of the URL: httpx logs each request's URL
at INFO (``HTTP Request: GET http://user:password@host/...``), and shows it in its errors,
as it holds it. The facade's own client never puts it in a URL. schemathesis' requests
get the same credentials (``schemathesis_target``).

httpcore logs each reply's headers at DEBUG (``receive_response_headers.complete``), where
a server may echo the key or the credentials (an ``X-Request-ID`` made of the request's
headers): the records of a request being sent through a kit client hide its secrets."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import requests

from .._interrupt import context_set
from .._redact import SENDING, Secret, basic

__all__ = ["kit_client", "schemathesis_target"]


class _UserInfo(httpx.Auth):
    """A request URL's user info as Basic credentials, as httpx sends it itself, taken out
    of the URL before httpx logs it; a request without any is sent as it is (the facade's,
    through a client of the kit's, carries its own)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.url.userinfo:
            authorization = basic(request.url)
            if authorization is not None:
                request.headers["Authorization"] = authorization
            request.url = request.url.copy_with(username=None, password=None)
        # Sent on this thread, in this context, between the yield and the reply's return.
        with context_set(SENDING, (request, "***")):
            yield request


_USER_INFO = _UserInfo()


def kit_client(**kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` (``kwargs`` as for it, but ``auth``) for the kit's requests."""
    return httpx.Client(auth=_USER_INFO, **kwargs)


class _Basic(requests.auth.AuthBase):
    """Basic credentials (an ``Authorization`` value) for a request of requests."""

    def __init__(self, authorization: str) -> None:
        self._authorization = Secret(authorization, "Basic ***")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._authorization.reveal()
        return request


def schemathesis_target(base_url: str) -> tuple[str, requests.auth.AuthBase | None]:
    """``base_url`` without its user info, and the Basic credentials of that (None without
    any) as the kit's httpx clients send them, for schemathesis, which sends with requests:
    requests makes them of a URL's user info in Latin-1, and raises for a character beyond
    it an error that holds the password."""
    url = httpx.URL(base_url)
    if not url.userinfo:
        return base_url, None
    authorization = basic(url)
    plain = str(url.copy_with(username=None, password=None))
    return plain, None if authorization is None else _Basic(authorization)
