"""Helpers of the integration tests (the facade against the emulator); fixtures are in
tests/integration/conftest.py."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from weaver_facade import (
    AsyncServiceClient,
    Datum,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    datum_from_tokens,
)

API_KEY = "test-key-integration-7d1e"
BASE_MODEL = "weaver-tiny"

# Fast retries: integration tests must not sit out real backoff.
FAST_RETRY = RetryPolicy(RetrySettings(max_retries=6, initial_backoff=0.01, max_backoff=0.05))


def batch() -> list[Datum]:
    """The fixed training batch of every flow: four next-token sequences over vocab 256."""
    return [datum_from_tokens([(7 * i + 3 * j) % 256 for j in range(16)]) for i in range(4)]


class Recorder:
    """Every request attempt the facade sent: (method, path, headers)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def sync_hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def async_hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def sent(self, method: str | None = None, path_suffix: str = "") -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and r.url.path.endswith(path_suffix)
        ]


ServiceFactory = Callable[..., ServiceClient]
AsyncServiceFactory = Callable[..., AsyncServiceClient]
