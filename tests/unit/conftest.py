"""Fixtures shared by the unit tests: a fake Weaver, a client on it, a training client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fakeserver import FakeWeaver, service
from weaver_facade import ServiceClient, TrainingClient


@pytest.fixture
def fake() -> FakeWeaver:
    return FakeWeaver()


@pytest.fixture
def svc(fake: FakeWeaver) -> Iterator[ServiceClient]:
    with service(fake) as client:
        yield client


@pytest.fixture
def trainer(svc: ServiceClient, fake: FakeWeaver) -> TrainingClient:
    """A training client on model m-1; the requests that made it are forgotten."""
    client = svc.create_training_client("weaver-tiny", seed=7)
    fake.requests.clear()
    return client
