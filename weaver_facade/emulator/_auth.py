"""API keys and tenants. A key is never stored or logged: only a hash of it."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["OPEN_TENANT", "Tenants"]

# The tenant of every request when auth is off.
OPEN_TENANT = "open"


def _digest(key: str) -> str:
    return hashlib.sha256(b"weaver-emulator-tenant\0" + key.encode()).hexdigest()


class Tenants:
    def __init__(self, api_keys: tuple[str, ...]) -> None:
        self._digests = frozenset(_digest(k) for k in api_keys)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def tenant_of(self, key: str | None) -> str | None:
        """The tenant of a presented key, or None when it is missing or unknown."""
        if not self.enabled:
            return OPEN_TENANT
        if not key:
            return None
        digest = _digest(key)
        for known in self._digests:
            if hmac.compare_digest(known, digest):
                return digest
        return None
