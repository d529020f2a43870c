"""``scripts/regenerate --from URL``: a live server's spec, diffed against openapi.yaml."""

from __future__ import annotations

import http.server
import subprocess
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tests.contract.drift import Drift
from tests.contract.support import KEY, serve_emulator
from tests.support.scripted_http import QuietServer

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"


def regenerate_from(url: str, *extra: str) -> tuple[int, str]:
    done = subprocess.run(
        [str(ROOT / "scripts" / "regenerate"), "--from", url, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    return done.returncode, done.stdout + done.stderr


def drifted_spec() -> bytes:
    """openapi.yaml as a server would serve it after the historical drifts."""
    doc: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    checkpoint = doc["components"]["schemas"]["Checkpoint"]
    checkpoint["properties"]["checkpoint_type"] = checkpoint["properties"].pop("type")
    checkpoint["required"] = [
        "checkpoint_type" if name == "type" else name for name in checkpoint["required"]
    ]
    # The synchronous save: only 201, with the Checkpoint (201 is otherwise an Operation).
    save = doc["paths"]["/api/v1/models/{model_id}/checkpoints"]["post"]
    for code in ("200", "202"):
        del save["responses"][code]
    save["responses"]["201"] = {
        "description": "The checkpoint, saved.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Checkpoint"}}},
    }
    del doc["paths"]["/api/v1/models/{model_id}/checkpoints/ttl"]
    return yaml.safe_dump(doc, sort_keys=False).encode()


def test_the_emulators_own_spec_matches() -> None:
    with serve_emulator() as served:
        code, output = regenerate_from(served.base_url, "--api-key", KEY)
    assert code == 0, output
    assert f"the spec at {served.base_url}/openapi.yaml matches openapi.yaml" in output


def test_the_live_spec_is_never_written_over_openapi_yaml() -> None:
    # A dump has none of the spec's comments: the extension list and design notes went.
    before = SPEC.read_bytes()
    code, output = regenerate_from("http://127.0.0.1:9", "--output", "openapi.yaml")
    assert code == 2, output
    assert output.startswith("error: --output must not be openapi.yaml"), output
    assert SPEC.read_bytes() == before


@pytest.mark.parametrize("mode", [["--check"], ["--coverage"]])
def test_output_without_from_is_a_usage_error(tmp_path: Path, mode: list[str]) -> None:
    # It was ignored: the run did something else, wrote no file, and exited 0.
    saved = tmp_path / "live.yaml"
    done = subprocess.run(
        [str(ROOT / "scripts" / "regenerate"), *mode, "--output", str(saved)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--output saves the spec that --from URL fetches" in done.stderr
    assert not saved.exists()


def test_a_drifted_spec_is_summarised_then_diffed(tmp_path: Path) -> None:
    saved = tmp_path / "live.yaml"
    with serve_emulator(Drift.NONE, served_spec=drifted_spec()) as served:
        code, output = regenerate_from(served.base_url, "--output", str(saved))
    assert code == 1, output
    summary = output.split("summary:", 1)[1].split("diff (openapi.yaml -> live", 1)[0]
    assert [line.strip() for line in summary.strip().splitlines()] == [
        "- operation missing on the server: PATCH /api/v1/models/{model_id}/checkpoints/ttl",
        "- POST /api/v1/models/{model_id}/checkpoints: response 200 no longer documented "
        "by the server",
        "- POST /api/v1/models/{model_id}/checkpoints: response 202 no longer documented "
        "by the server",
        "- Checkpoint: field `type` missing on the server",
        "- Checkpoint: server adds field `checkpoint_type`",
        "- Checkpoint: field `type` is no longer required by the server",
        "- Checkpoint: server now requires field `checkpoint_type`",
    ]
    assert "--- openapi.yaml" in output
    assert f"+++ {served.base_url}/openapi.yaml" in output
    diff = output.split("diff (openapi.yaml -> live, canonical JSON):", 1)[1].splitlines()
    assert any(line.startswith("+") and '"checkpoint_type"' in line for line in diff)
    assert any(line.startswith("-") and '"type"' in line for line in diff)
    assert any(line.startswith("+") and '"The checkpoint, saved."' in line for line in diff)
    assert any(line.startswith("@@ ") for line in diff)
    assert yaml.safe_load(saved.read_text(encoding="utf-8")) == yaml.safe_load(drifted_spec())


def test_no_spec_at_the_url_is_an_error_naming_each_place_tried() -> None:
    code, output = regenerate_from("http://127.0.0.1:9")
    assert code == 2, output
    assert "could not fetch a spec" in output
    for tried in ("/openapi.yaml", "/openapi.json"):
        assert f"http://127.0.0.1:9{tried}: ConnectError" in output


class _Recording(http.server.BaseHTTPRequestHandler):
    """Records each request's key; the redirecting one sends it elsewhere."""

    keys: ClassVar[list[tuple[str, str | None]]] = []
    redirect_to: ClassVar[str | None] = None

    def do_GET(self) -> None:
        self.keys.append((self.server_name_label(), self.headers.get("X-WEAVER-API-KEY")))
        if self.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = SPEC.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def server_name_label(self) -> str:
        return "origin" if self.redirect_to is not None else "elsewhere"

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_key_never_follows_a_redirect_to_another_host() -> None:
    # httpx drops only `Authorization` on a redirect to another origin; the spec may live
    # behind a redirect (to storage, a CDN), which must not receive the key.
    class Elsewhere(_Recording):
        pass

    _Recording.keys.clear()
    elsewhere = QuietServer(("127.0.0.1", 0), Elsewhere)

    class Origin(_Recording):
        redirect_to = f"http://127.0.0.1:{elsewhere.server_port}"

    origin = QuietServer(("127.0.0.1", 0), Origin)
    for server in (elsewhere, origin):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, output = regenerate_from(f"http://127.0.0.1:{origin.server_port}", "--api-key", KEY)
    finally:
        for server in (elsewhere, origin):
            server.shutdown()
            server.server_close()
    assert code == 0, output
    assert _Recording.keys == [("origin", KEY), ("elsewhere", None)]
