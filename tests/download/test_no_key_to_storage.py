"""The API key never reaches a storage host, also not after a redirect; URLs are
refreshed through the API after a 403."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from tests.download.storage import DATA, StorageServer, descriptor
from tests.support.fakeserver import KEY, FakeWeaver, service


def test_storage_never_sees_the_api_key(tmp_path: Path) -> None:
    artifact_id = uuid.uuid4()
    fake = FakeWeaver()
    with StorageServer(DATA).running() as storage:
        path = f"/api/v1/artifacts/{artifact_id}/download"
        # The second descriptor answers the refresh after the 403.
        fake.script("GET", path, descriptor(storage, artifact_id), descriptor(storage, artifact_id))
        storage.script("adapter_model.safetensors", "redirect", "403")
        with service(fake) as svc:
            result = svc.download_weights(artifact_id, tmp_path / "out")
        for name, data in DATA.items():
            assert (tmp_path / "out" / name).read_bytes() == data
        assert result.bytes_fetched == sum(len(d) for d in DATA.values())
        # The API did get the key; storage (both hosts) never did, in any header.
        assert all(r.headers.get("X-WEAVER-API-KEY") == KEY for r in fake.sent("GET", path))
        assert len(fake.sent("GET", path)) == 2
        assert {r.port for r in storage.requests} == {storage.port, storage.other_port}
        for request in storage.requests:
            assert "x-weaver-api-key" not in request.headers
            assert all(KEY not in v for v in request.headers.values())
            assert KEY not in request.path


@pytest.mark.parametrize("name", ["caf\u00e9.json", "a b.json"])
def test_a_url_with_a_space_or_a_non_ascii_character_is_fetched_percent_encoded(
    tmp_path: Path, name: str
) -> None:
    # A presigned URL "on any host", as httpx sends it (the facade behind a proxy): UTF-8,
    # percent-encoded. http.client raised UnicodeEncodeError, outside the error tree, or
    # for a space InvalidURL, retried until the deadline.
    key, data = httpx.URL(f"http://h/{name}").raw_path.decode()[1:], b'{"r": 8}'
    artifact_id, fake = uuid.uuid4(), FakeWeaver()
    with StorageServer({key: data}).running() as storage:
        url = storage.url(key).replace(f"/o/{key}?", f"/o/{name}?")
        file = {"name": "config.json", "size": len(data), "url": url}
        file["sha256"] = hashlib.sha256(data).hexdigest()
        body = {"artifact_id": str(artifact_id), "kind": "hf_model", "files": [file]}
        path = f"/api/v1/artifacts/{artifact_id}/download"
        fake.script("GET", path, httpx.Response(200, json=body))
        with service(fake) as svc:
            svc.download_weights(artifact_id, tmp_path / "out", timeout=5)
        fetched = storage.keys_fetched()
    assert fetched == [key]  # the signature the server checks is of the encoded key
    assert (tmp_path / "out" / "config.json").read_bytes() == data
