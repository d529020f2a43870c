"""The kit's httpx clients, all made here (``kit_client``), which send a URL's user info (the
base URL's password) as Basic credentials, out of the URL: httpx logs each request's URL
at INFO (``HTTP Request: GET http://user:password@host/...``), and shows it in its errors,
as it holds it. The facade's own client never puts it in a URL."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx

from .._redact import basic

__all__ = ["kit_client"]


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
        yield request


_USER_INFO = _UserInfo()


def kit_client(**kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` (``kwargs`` as for it, but ``auth``) for the kit's requests."""
    return httpx.Client(auth=_USER_INFO, **kwargs)
