"""The official Weaver SDK (nex-weaver) against the emulator, and the facade beside it.

The SDK runs in a venv of its own (``.venv-official-sdk``, built once from
``requirements.txt``) through ``sdk_workflow.py``, with authentication on, against
an emulator without extensions, as the real service is, and with its defaults. Each check holds
what one client did against what the other, or the server's files, shows:
checkpoints saved by either resume in the other to the same losses, bit for bit,
and both download the same artifact bytes. The SDK's ``forward()`` scores as a
forward-backward pass and leaves no gradient; its optional ``performance_tier``
and request ``metadata`` are accepted; its ``http-binary`` tensor transport, not
served, is refused by name; a step queued behind long work is not logged as a wait
that never happened. The SDK also runs its own CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.training_support import reference_loss
from tests.support.emulator import datum
from weaver_facade import AdamParams, Datum, ServiceClient, TrainingClient
from weaver_facade.emulator import FaultConfig, FaultRule, RunningEmulator, run_emulator
from weaver_facade.emulator._base_models import base_weights

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV = ROOT / ".venv-official-sdk"
KEY = "official-sdk-test-key-5e1a"
BASE_MODEL = "weaver-tiny"
RATE = 0.05
TEXT = "the cat sat on the mat. Été ✓"


def rows(step: int) -> list[dict[str, Any]]:
    """Two deterministic next-token rows per step, the same for both clients."""
    out = []
    for row in range(2):
        seq = [(7 * step + 13 * row + 5 * i) % 256 for i in range(13)]
        out.append({"tokens": seq[:-1], "targets": seq[1:], "weights": [1.0] * 12})
    return out


BEFORE = [rows(step) for step in range(3)]
AFTER = [rows(step) for step in range(3, 6)]
EXTRA = [rows(step) for step in range(6, 8)]


def train(trainer: TrainingClient, batches: list[list[dict[str, Any]]]) -> list[float]:
    losses = []
    for batch in batches:
        data = [
            Datum(tokens=r["tokens"], target_tokens=r["targets"], weights=r["weights"])
            for r in batch
        ]
        losses.append(trainer.forward_backward(data).loss)
        trainer.optim_step(AdamParams(learning_rate=RATE))
    return losses


def digests(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    """The venv's python, (re)built when the requirements or this Python change."""
    requirements = HERE / "requirements.txt"
    stamp = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()
    python = VENV / "bin" / "python"
    if not (VENV / "stamp").is_file() or (VENV / "stamp").read_text() != stamp:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(requirements)],
            check=True,
        )
        (VENV / "stamp").write_text(stamp)
    return python


@pytest.fixture(scope="module", params=["none", "all"], ids=["without-extensions", "default"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    """Today's wire, and the emulator as it starts by default (the SDK ignores the rest)."""
    with run_emulator(api_keys=(KEY,), extensions=request.param) as running:
        yield running


@pytest.fixture(scope="module")
def facade(server: RunningEmulator) -> Iterator[ServiceClient]:
    with ServiceClient(server.base_url, api_key=KEY) as service:
        yield service


@pytest.fixture(scope="module")
def env(server: RunningEmulator) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    return {**clean, "WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": KEY}


@pytest.fixture(scope="module")
def facade_run(facade: ServiceClient) -> dict[str, Any]:
    """The facade trains, saves, and trains on: the continuation a resume must repeat."""
    trainer = facade.create_training_client(BASE_MODEL, lora_rank=8)
    train(trainer, BEFORE)
    checkpoint = trainer.save_state("facade-saved")
    return {"path": str(checkpoint.path), "losses_after": train(trainer, AFTER)}


@pytest.fixture(scope="module")
def sdk(
    sdk_python: Path, env: dict[str, str], facade_run: dict[str, Any], tmp_path_factory: Any
) -> dict[str, Any]:
    plan = {
        "base_model": BASE_MODEL,
        "text": TEXT,
        "learning_rate": RATE,
        "before": BEFORE,
        "after": AFTER,
        "facade_checkpoint": facade_run["path"],
        "download_dir": str(tmp_path_factory.mktemp("sdk-download")),
    }
    done = subprocess.run(
        [str(sdk_python), str(HERE / "sdk_workflow.py")],
        input=json.dumps(plan),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_sdk_resumes_its_own_checkpoint_exactly(sdk: dict[str, Any]) -> None:
    assert BASE_MODEL in sdk["supported"]
    assert len(sdk["losses_after"]) == 3
    assert sdk["losses_resumed"] == sdk["losses_after"]
    assert sdk["load"]["include_optimizer"] is True
    assert sdk["weights_only_load"]["include_optimizer"] is False
    assert sdk["checkpoint"]["path"] in sdk["listed"]
    assert sdk["ttl_reply"]["ttl_seconds"] == 7200


def test_the_async_sdk_resumes_saves_exports_and_downloads(
    sdk: dict[str, Any], facade_run: dict[str, Any], facade: ServiceClient, tmp_path: Path
) -> None:
    run = sdk["async"]
    assert run["losses_from_facade_checkpoint"] == facade_run["losses_after"]
    assert run["checkpoint"]["path"] in run["listed"]
    # Its checkpoint holds what it trained: continuing from it equals the facade's own
    # run of the same steps from the same start.
    own = facade.create_training_client_from_state(facade_run["path"])
    train(own, AFTER)
    resumed = facade.create_training_client_from_state(run["checkpoint"]["path"])
    assert train(resumed, EXTRA) == train(own, EXTRA)
    result = facade.download_weights(run["artifact_id"], tmp_path)
    assert {f.name: f.sha256 for f in result.files} == run["downloaded"]


def test_the_sdk_tokenizer_reads_text_as_bytes(sdk: dict[str, Any]) -> None:
    # get_tokenizer() loads the Model reply's tokenizer_path with transformers; the
    # emulator's models read UTF-8 bytes, as datum_from_tokens(list(b"...")) does.
    assert sdk["tokenized"] == list(TEXT.encode("utf-8"))
    assert sdk["detokenized"] == TEXT


def test_the_sdk_resumes_a_facade_checkpoint_to_the_facade_losses(
    sdk: dict[str, Any], facade_run: dict[str, Any]
) -> None:
    assert sdk["losses_from_facade_checkpoint"] == facade_run["losses_after"]


def test_the_facade_resumes_an_sdk_checkpoint_to_the_sdk_losses(
    sdk: dict[str, Any], facade: ServiceClient
) -> None:
    checkpoint = facade.training_client(sdk["model_id"]).get_checkpoint(sdk["checkpoint"]["path"])
    assert str(checkpoint.id) == sdk["checkpoint"]["id"]
    assert checkpoint.type == sdk["checkpoint"]["type"] == "weight_and_optimizer"
    assert checkpoint.ttl_seconds == 7200  # the SDK's TTL change, read back by the facade
    resumed = facade.create_training_client_from_state(checkpoint.path)
    assert train(resumed, AFTER) == sdk["losses_after"]


def test_the_sdks_forward_pass_scores_as_forward_backward_and_leaves_no_gradient(
    sdk: dict[str, Any], facade: ServiceClient
) -> None:
    forward = sdk["forward"]
    probe = [datum(r["tokens"], r["targets"], r["weights"]) for r in BEFORE[0]]
    # Independent of the emulator's trainer: the base weights scored by numpy in float64 (a
    # new LoRA model's update is zero), and the facade's forward-backward on a new model.
    expected = reference_loss(probe, *base_weights(BASE_MODEL))
    assert forward["loss"] == pytest.approx(expected, rel=1e-4)
    fresh = facade.create_training_client(BASE_MODEL, lora_rank=8)
    rows = [Datum(tokens=r["tokens"], target_tokens=r["targets"], weights=r["weights"])
            for r in BEFORE[0]]  # fmt: skip
    assert fresh.forward_backward(rows).loss == forward["loss"]
    # On the same weights, forward and forward-backward (sent with metadata) agree exactly.
    assert forward["loss"] == forward["fb_loss"] == forward["twin_fb_loss"]
    assert forward["logprobs"] == forward["fb_logprobs"]
    # The optimizer step after it saw the forward-backward's gradients alone.
    assert forward["next_loss"] == forward["twin_next_loss"]
    assert forward["next_loss"] != reference_loss(
        [datum(r["tokens"], r["targets"], r["weights"]) for r in AFTER[0]],
        *base_weights(BASE_MODEL),
    ), "the step changed the weights"


def test_both_download_the_same_artifact(
    sdk: dict[str, Any], facade: ServiceClient, tmp_path: Path
) -> None:
    assert sdk["artifact"]["kind"] == "hf_adapter"
    assert sdk["export_again_id"] == sdk["artifact"]["id"]  # an identical export is a hit
    assert sdk["one_step_artifact"]["id"] != sdk["artifact"]["id"]
    result = facade.download_weights(sdk["artifact"]["id"], tmp_path)
    assert {f.name: f.sha256 for f in result.files} == sdk["downloaded"] == digests(tmp_path)
    assert set(sdk["downloaded"]) == {"adapter_config.json", "adapter_model.safetensors"}


def test_the_sdk_logs_no_warning(sdk: dict[str, Any]) -> None:
    # Every operation started at once: no scheduling wait, no retry, nothing to warn about.
    assert sdk["warnings"] == []


def test_the_sdk_cli_exports_and_downloads(
    sdk_python: Path, env: dict[str, str], sdk: dict[str, Any], tmp_path: Path
) -> None:
    weaver = [str(sdk_python.parent / "weaver"), "checkpoint"]
    uri = sdk["checkpoint"]["path"]
    exported = subprocess.run(
        [*weaver, "export", uri], env=env, capture_output=True, text=True, timeout=120
    )
    assert exported.returncode == 0, exported.stderr
    assert sdk["artifact"]["id"] in exported.stdout
    downloaded = subprocess.run(
        [*weaver, "download", uri, "-o", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert downloaded.returncode == 0, downloaded.stderr
    assert digests(tmp_path) == sdk["downloaded"]


HTTP_BINARY = """
import json
from weaver import ServiceClient, WeaverAPIError
from weaver.types import Datum, LoraConfig, ModelInput, TensorData

with ServiceClient() as service:
    trainer = service.create_model(base_model="weaver-tiny", lora_config=LoraConfig(rank=8))
    row = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": TensorData(data=[2, 3, 4], dtype="int64"),
            "weights": TensorData(data=[1.0, 1.0, 1.0], dtype="float32"),
        },
    )
    try:
        trainer.forward_backward([row], "cross_entropy")
    except WeaverAPIError as exc:
        print(json.dumps({"status": exc.status_code, "code": exc.code, "message": exc.message}))
"""


def test_the_sdks_http_binary_transport_is_refused_by_name(
    sdk_python: Path, env: dict[str, str]
) -> None:
    # The SDK's multipart transport is not served; its refusal says what was sent.
    error = _sdk_json(sdk_python, HTTP_BINARY, {**env, "WEAVER_TENSOR_TRANSPORT": "http-binary"})
    assert (error["status"], error["code"]) == (400, "invalid_request")
    assert "multipart/form-data" in error["message"]
    assert "http-binary" in error["message"]


LONG_QUEUE = """
import json, logging, threading
from weaver import ServiceClient
from weaver.types import Datum, LoraConfig, ModelInput, TensorData

logged = []
handler = logging.Handler()
handler.emit = lambda record: logged.append(record.getMessage())
logging.getLogger("weaver").addHandler(handler)
with ServiceClient() as service:
    trainer = service.create_model(base_model="weaver-tiny", lora_config=LoraConfig(rank=8))
    row = Datum(
        model_input=ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={
            "target_tokens": TensorData(data=[2, 3, 4], dtype="int64"),
            "weights": TensorData(data=[1.0, 1.0, 1.0], dtype="float32"),
        },
    )
    last = [trainer.forward_backward([row], "cross_entropy", wait=False) for _ in range(3)][-1]
    pending = last.refresh()["pending_info"]

    def wait():
        try:
            last.wait()
        except Exception:
            pass  # the close terminates the model, which fails the steps still queued

    # wait() reports a pending operation before its first poll, then polls on.
    waiting = threading.Thread(target=wait, daemon=True)
    waiting.start()
    waiting.join(2.0)
    print(json.dumps({"pending_info": pending, "logged": logged}))
"""


def test_the_sdk_logs_no_wait_that_has_not_happened(sdk_python: Path) -> None:
    # The SDK reads `pending_info.wait_seconds` as the time already waited, and logs a
    # `queued` operation from 30 s on: a step queued behind 40 s of work, just submitted,
    # must not be logged as pending for 39 s.
    with run_emulator(
        api_keys=(KEY,), extensions="none", latency={"forward_backward": 20.0}
    ) as server:
        seen = _sdk_json(sdk_python, LONG_QUEUE, _sdk_env(server.base_url))
    assert seen["pending_info"]["code"] == "queued"
    assert "queued behind 2 operations" in seen["pending_info"]["message"]
    assert seen["logged"] == []


RESENT_SAVES = """
import json
from weaver import ServiceClient, WeaverAPIError
from weaver.types import LoraConfig

calls = []
with ServiceClient() as service:
    trainer = service.create_model(base_model="weaver-tiny", lora_config=LoraConfig(rank=8))
    for name in [None] * 4 + [f"named-{i}" for i in range(4)]:
        try:
            calls.append({"name": name, "saved": trainer.save_state(name=name).name})
        except WeaverAPIError as exc:
            calls.append({"name": name, "error": [exc.status_code, exc.code]})
    listed = [c.name for c in trainer.list_checkpoints()]
print(json.dumps({"calls": calls, "listed": listed}))
"""


def test_the_sdks_resent_save_is_saved_again_as_on_the_real_service(sdk_python: Path) -> None:
    # The SDK re-sends a save whose reply was lost, with no Idempotency-Key (which the
    # emulator honours) and no seq_id (saves have none): nothing on the wire tells the
    # second attempt from a new save, so an unnamed one is saved again, and a named one
    # meets its own checkpoint as a 409, as the README's comparison with the SDK says.
    lost = FaultRule("drop", 0.5, "after", "POST", "/api/v1/models/{model_id}/checkpoints")
    with run_emulator(
        api_keys=(KEY,), extensions="none", faults=FaultConfig(rules=(lost,), seed=3)
    ) as server:
        seen = _sdk_json(sdk_python, RESENT_SAVES, _sdk_env(server.base_url))
    unnamed = [c for c in seen["calls"] if c["name"] is None]
    named = [c for c in seen["calls"] if c["name"] is not None]
    assert all("saved" in c for c in unnamed)
    # Each name once, however many attempts reached the server; the rest are unnamed.
    assert sorted(n for n in seen["listed"] if n.startswith("named-")) == [c["name"] for c in named]
    extra = len(seen["listed"]) - len(named) - len(unnamed)
    assert extra > 0, "an unnamed save re-sent made a checkpoint of its own"
    assert {c["saved"] for c in unnamed} <= set(seen["listed"])
    refused = [c for c in named if "error" in c]
    assert refused, "a named save re-sent met its own checkpoint"
    assert all(c["error"] == [409, "checkpoint_exists"] for c in refused)


def _sdk_env(base_url: str) -> dict[str, str]:
    return {**os.environ, "WEAVER_BASE_URL": base_url, "WEAVER_API_KEY": KEY}


def _sdk_json(sdk_python: Path, script: str, env: dict[str, str]) -> Any:
    """What ``script``, run by the SDK's python, printed as JSON."""
    done = subprocess.run(
        [str(sdk_python), "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)
