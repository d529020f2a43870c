"""Shared leaf of the facade and the contract kit: a web page where a JSON reply belongs (a
proxy's ``502 Bad Gateway``, a web framework's ``404 Not Found``), named in the same words."""

from __future__ import annotations

import re

_HTML = ("text/html", "application/xhtml+xml")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TITLE_WITHIN = 4096  # a page's title is in its head
_SHOWN = 60


def html_page(text: str, content_type: str) -> str | None:
    """``an HTML page titled '502 Bad Gateway'`` (``an HTML page``: one without a title),
    for a reply's ``text`` that is a page by its content type or its start; ``None``: no
    HTML page."""
    media = content_type.split(";")[0].strip().lower()
    start = text.lstrip()[:15].lower()
    if media not in _HTML and not start.startswith(("<!doctype html", "<html")):
        return None
    found = _TITLE.search(text[:_TITLE_WITHIN])
    title = " ".join(found[1].split())[:_SHOWN] if found else ""
    return f"an HTML page titled {title!r}" if title else "an HTML page"
