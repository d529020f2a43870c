"""What a storage host's error reply says: its own error code, and whether the presigned
URL has expired. S3, GCS and Azure all answer ``<Error><Code>...</Code>`` in XML.

A shared leaf: it imports nothing of the facade (the downloads and the contract kit).
"""

from __future__ import annotations

import re

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
