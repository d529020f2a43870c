"""An exception's chain of causes, and the TLS failures in it that no retry changes.

A shared leaf: the facade's retries and messages, and the contract kit's, read them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

PLAIN_HTTP_HINT = " (the server may speak plain HTTP: try an http:// base URL)"


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions behind it, the first eight (a cycle of causes is
    possible in principle)."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def certificate_refused(error: BaseException) -> bool:
    """Whether TLS refused the server's certificate, which no retry can change."""
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in causes(error))


def plain_http(error: BaseException) -> bool:
    """Whether TLS met a server speaking plain HTTP (OpenSSL's ``WRONG_VERSION_NUMBER``),
    which no retry changes either: ``PLAIN_HTTP_HINT`` says what to do."""
    return any(getattr(e, "reason", None) == "WRONG_VERSION_NUMBER" for e in causes(error))


def no_retry_helps(error: BaseException) -> bool:
    """Whether TLS refused the server's certificate, or met plain HTTP: no retry changes
    either, of a request or of a poll."""
    return certificate_refused(error) or plain_http(error)
