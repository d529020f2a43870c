"""Shared leaf of the facade and the contract kit: a web page where a JSON reply belongs (a
proxy's ``502 Bad Gateway``, a web framework's ``404 Not Found``), named in the same words."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_HTML = ("text/html", "application/xhtml+xml")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
# A page's title is in its head: only these first bytes are read, however long the body
# (an error's, on the event loop for an async client).
_TITLE_WITHIN = 4096
_SHOWN = 60


def html_page(
    body: bytes, content_type: str, hide: Callable[[str], str] = lambda text: text
) -> str | None:
    """``an HTML page titled '502 Bad Gateway'`` (``an HTML page``: one without a title),
    for a reply's ``body`` that is a page by its start, or by its content type and a tag
    first; ``None``: no HTML page (a blank body, or text such as JSON cut short, sent as
    ``text/html``). ``hide`` takes the secrets out of the title, as it is
    written and as it reads (its entities decoded), before it is cut."""
    head = body[:_TITLE_WITHIN]
    media = content_type.split(";")[0].strip().lower()
    start = head.lstrip()[:15].lower()
    if not start.startswith((b"<!doctype html", b"<html")) and not (
        media in _HTML and start.startswith(b"<")
    ):
        return None  # a blank body, or text (JSON cut short) whatever the content type says
    found = _TITLE.search(head)
    written = hide(found[1].decode("utf-8", "replace")) if found else ""
    title = " ".join(hide(html.unescape(written)).split())
    if not title:
        return "an HTML page"
    shown = title[:_SHOWN] + ("..." if len(title) > _SHOWN else "")
    return f"an HTML page titled {shown!r}"
