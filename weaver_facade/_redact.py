"""The API key out of a text: one rule for the facade's messages and the kit's reports; a
URL's user info out of what they show of it (``shown_url``).

A key at least ``ANYWHERE`` characters long is replaced wherever it appears; a shorter
(toy) key only where it stands alone, so that the key ``k`` leaves ``checkpoint``
intact, and a ``.`` after it ends a sentence (``unknown key k.``) unless a word goes
on (``k.json``).

A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import re
from urllib.parse import quote, quote_plus

import httpx

ANYWHERE = 8


@functools.lru_cache(maxsize=8)
def forms(key: str) -> tuple[str, ...]:
    """The key as a text may carry it: as is, quoted in a URL or a query string, and with
    its backslashes (and double quotes) escaped, as a repr (httpcore's records of a reply's
    headers) or a JSON string writes them."""
    escaped = key.replace("\\", "\\\\")
    found = [key, quote(key, safe=""), quote_plus(key), escaped, escaped.replace('"', '\\"')]
    if not key.isascii():  # a bytes repr writes its other characters as \x escapes
        for codec in ("utf-8", "latin-1"):
            with contextlib.suppress(UnicodeEncodeError):
                found.append(str(key.encode(codec))[2:-1])
    return tuple(dict.fromkeys(found))


def replace_key(text: str, key: str, placeholder: str) -> str:
    """``text`` with ``key``, in each of its ``forms``, replaced by ``placeholder``, by
    the rule above."""
    for form in forms(key):
        if len(key) >= ANYWHERE:
            text = text.replace(form, placeholder)
        else:
            alone = rf"(?<![A-Za-z0-9_.-]){re.escape(form)}(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_-])"
            text = re.sub(alone, lambda _: placeholder, text)
    return text


def credentials(authorization: str | None) -> list[str]:
    """The secrets of an ``Authorization`` header's value, which a server may echo: its
    token, and for Basic (a URL's user info, as httpx sends it: UTF-8) ``user:password``
    and each half, either of which may be the secret (``shown_url``)."""
    token = (authorization or "").partition(" ")[2].strip()
    if not token:
        return []
    found = [token]
    if authorization and authorization.lower().startswith("basic "):
        try:
            sent = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return found
        try:
            pair = sent.decode("utf-8")
        except UnicodeDecodeError:  # another client's Basic, in Latin-1
            pair = sent.decode("latin-1")
        user, _, password = pair.partition(":")
        found += [pair, *filter(None, [user, password])]
    return found


def shown_url(url: str | httpx.URL) -> str:
    """``url`` for reprs, messages and logs, its user info (``user:password@``) shown as
    ``***@``: httpx sends it as Basic auth, and either half may be the secret (a lone
    ``http://TOKEN@proxy``, GitHub's ``TOKEN:x-oauth-basic``, GitLab's ``oauth2:TOKEN``)."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username="***", password=None))
    return str(url)
