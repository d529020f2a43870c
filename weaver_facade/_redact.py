"""The API key out of a text: one rule for the facade's messages and the kit's reports; a
URL's user info out of what they show of it (``shown_url``).

A key at least ``ANYWHERE`` characters long is replaced wherever it appears; a shorter
(toy) key only where it stands alone, so that the key ``k`` leaves ``checkpoint``
intact, and a ``.`` after it ends a sentence (``unknown key k.``) unless a word goes
on (``k.json``).

A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import re

import httpx

ANYWHERE = 8


def replace_key(text: str, key: str, placeholder: str) -> str:
    """``text`` with ``key`` replaced by ``placeholder``, by the rule above."""
    if len(key) >= ANYWHERE:
        return text.replace(key, placeholder)
    alone = rf"(?<![A-Za-z0-9_.-]){re.escape(key)}(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_-])"
    return re.sub(alone, lambda _: placeholder, text)


def shown_url(url: str | httpx.URL) -> str:
    """``url`` for reprs, messages and logs, its user info (``user:password@``) shown as
    ``***@``: httpx sends it as Basic auth, and either half may be the secret (a lone
    ``http://TOKEN@proxy``, GitHub's ``TOKEN:x-oauth-basic``, GitLab's ``oauth2:TOKEN``)."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username="***", password=None))
    return str(url)
