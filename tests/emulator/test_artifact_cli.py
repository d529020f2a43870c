"""The emulator command's artifact options: shard size, URL lifetime and host, storage faults."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.artifact_support import exported, trained_checkpoint
from tests.support.emulator import Api, spawn_emulator
from weaver_facade.emulator import FaultRule
from weaver_facade.emulator._config import parse_size

KEY = "artifact-cli-key-77e1"
STORAGE_ROUTE = "/storage/artifacts/{artifact_id}/{name}"


async def test_the_artifact_options_of_the_command() -> None:
    process = spawn_emulator(
        "--api-key", KEY, "--shard-size", "20KB", "--url-ttl", "60",
        "--fault", f"kind=ignore_range,rate=1,route={STORAGE_ROUTE}",
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as client:
            api = Api(client, KEY)
            ckpt = await trained_checkpoint(api)
            artifact = await exported(api, ckpt["id"], merge_adapter=True)
            names = [f["name"] for f in artifact["manifest"]["files"]]
            assert "model-00002-of-00002.safetensors" in names
            descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
            item = descriptor["files"][1]
            assert item["url"].startswith(process.base_url + "/storage/artifacts/")
            created = dt.datetime.fromisoformat(artifact["updated_at"]).timestamp()
            expires = dt.datetime.fromisoformat(item["url_expires_at"]).timestamp()
            assert 55 <= expires - created <= 70
            ranged = await client.get(item["url"], headers={"Range": "bytes=10-"})
            assert ranged.status_code == 200
            assert len(ranged.content) == item["size"]
    finally:
        code = process.stop()
    assert code == 128 + signal.SIGTERM, code  # after a graceful shutdown
    output = process.output()
    assert KEY not in output
    # A URL's signature is a credential until it expires: the access log leaves it out.
    signed = urlsplit(item["url"])
    assert f'"GET {signed.path}?[signature hidden] HTTP/1.1" 200' in output, output
    assert signed.query not in output


async def test_storage_url_names_another_host() -> None:
    process = spawn_emulator("--api-key", KEY, "--storage-url", "http://files.test:9000")
    try:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as client:
            api = Api(client, KEY)
            artifact = await exported(api, (await trained_checkpoint(api))["id"])
            descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
        assert all(
            f["url"].startswith("http://files.test:9000/storage/") for f in descriptor["files"]
        )
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard-size", "5 parsecs"], "size '5 parsecs'"),
        (["--storage-url", "ftp://x/y"], "--storage-url must be"),
        (["--storage-url", "http://a..b"], "host 'a..b' is not a valid host name"),
        (["--fault", "kind=unavailable,rate=1,when=mid"], "when=mid"),
        (["--url-ttl", "0"], "--url-ttl"),
    ],
)
def test_bad_artifact_options_are_usage_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "weaver_facade.emulator", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    ("text", "size"),
    [("5GB", 5_000_000_000), ("20KB", 20_000), ("100MiB", 100 * 2**20), ("1234", 1234)],
)
def test_sizes_read_like_hugging_face_max_shard_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_mid_body_drop_rule_parses() -> None:
    rule = FaultRule.parse(f"kind=drop,rate=0.2,when=mid,route={STORAGE_ROUTE}")
    assert (rule.kind, rule.when, rule.route) == ("drop", "mid", STORAGE_ROUTE)
