"""What a storage host's error reply says: its own error code, and whether the presigned
URL has expired. S3, GCS and Azure all answer ``<Error><Code>...</Code>`` in XML. And a
presigned URL's signature taken out of a failure that quotes storage's reply.

A shared leaf: it imports nothing of the facade (the downloads and the contract kit).
"""

from __future__ import annotations

import re

from ._causes import causes

SIGNATURE_HIDDEN = "[signature hidden]"
# A query's values this long are taken for its credentials (a signature, a token); a
# shorter one (an expiry) is left in the words it may stand in.
_SIGNATURE_LENGTH = 16

_CODE = re.compile(rb"<Code>\s*([A-Za-z][A-Za-z0-9._-]{0,63})\s*</Code>")
# Codes of a 400 that mean the URL's credential expired: GCS answers an expired signed
# URL so, and S3 one whose signing session (STS) ended, maybe before the URL's expiry.
_EXPIRED_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired"})


def error_code(body: bytes) -> str | None:
    """Storage's error code in the start of an error reply's ``body``, if it names one.
    Only the code: other fields (S3's ``StringToSign``, say) may quote the credential."""
    found = _CODE.search(body)
    return found[1].decode() if found else None


def url_expired(status: int, code: str | None) -> bool:
    """Whether a reply says its URL expired: 401 or 403 (the wire sheet's "once expired"),
    or a 400 with one of the codes above."""
    return status in (401, 403) or (status == 400 and code in _EXPIRED_CODES)


def hide_signature(error: BaseException, url: str) -> None:
    """Take ``url``'s query, and each long value in it, out of the words of ``error`` and
    the exceptions behind it, in place: storage may echo them where no ``?`` marks them as
    a URL's (http.client and h11 quote a malformed status line whole)."""
    query = url.partition("?")[2].partition("#")[0]  # a URL urlsplit refuses too
    if not query:
        return
    values = (part.partition("=")[2] for part in query.split("&"))
    words = [query, *(value for value in values if len(value) >= _SIGNATURE_LENGTH)]
    for each in causes(error):
        each.args = tuple(_hidden(arg, words) if isinstance(arg, str) else arg for arg in each.args)


def _hidden(text: str, words: list[str]) -> str:
    for word in words:
        text = text.replace(word, SIGNATURE_HIDDEN)
    return text
