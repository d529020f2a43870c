"""A spec whose bounds shrink still works unedited, and the facade keeps the new bounds.

The facade's defaults that are not spec values (the official SDK's LoRA rank, the
long-poll ``wait``, the checkpoint page size) are kept within the spec's bounds. Here
the bounds drop below each of them (or rise above the rank and the page size); a
subprocess then runs the checkpoint workflow, with every default, on a client whose
``limits`` module is generated from that spec, against an emulator that enforces it.
Bounds that only the facade checks before sending (a name's length apart from its
pattern, an artifact's TTL apart from a checkpoint's) shrink alone, and the facade must
refuse what they no longer allow.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import weaver_client

from tests.support.openapi import openapi

ROOT = Path(__file__).resolve().parents[2]


def _regenerate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_regenerate", ROOT / "scripts/_regenerate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _narrow(document: dict[str, Any], operation_id: str, name: str, most: int) -> None:
    """Lower the ``maximum`` of an operation's own parameter to ``most``."""
    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                for param in op.get("parameters", []):
                    if param.get("name") == name:
                        assert param["schema"]["maximum"] > most, "the trial must narrow it"
                        param["schema"]["maximum"] = most
                        return
    raise AssertionError(f"no parameter {name} of {operation_id}")


WORKFLOW = """
import weaver_client
from weaver_client import limits
from weaver_facade import Datum, ServiceClient
from weaver_facade.emulator import run_emulator

assert weaver_client.__file__.startswith({client!r}), weaver_client.__file__
assert (limits.LORA_CONFIG_RANK_MAXIMUM, limits.LIST_CHECKPOINTS_LIMIT_MAXIMUM,
        limits.GET_OPERATION_WAIT_MAXIMUM) == (16, 50, 10)
with run_emulator(api_keys=("k",)) as emu:
    with ServiceClient(emu.base_url, "k", heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny")
        datum = Datum(tokens=[1, 2, 3], target_tokens=[2, 3, 4], weights=[1.0] * 3)
        trainer.forward_backward([datum])
        trainer.optim_step()
        saved = trainer.save_state("narrow")
        assert trainer.latest_checkpoint() == saved
        assert [c.name for c in trainer.list_checkpoints()] == ["narrow"]
        print("rank", service.get_model(trainer.model_id).lora.rank)
"""


def _run(tmp_path: Path, document: dict[str, Any], script: str) -> str:
    """``script``'s output, run on a client whose ``limits`` come from ``document``."""
    client = tmp_path / "weaver_client"
    shutil.copytree(Path(weaver_client.__file__).parent, client)
    (client / "limits.py").write_text(_regenerate().limits_module(document), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script.format(client=str(client)))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _spec() -> dict[str, Any]:
    document: dict[str, Any] = openapi()
    return document


def test_defaults_follow_a_spec_with_narrower_bounds(tmp_path: Path) -> None:
    document = _spec()
    rank = document["components"]["schemas"]["LoraConfig"]["properties"]["rank"]
    assert rank["maximum"] > 16
    rank["maximum"] = 16
    _narrow(document, "list_checkpoints", "limit", 50)
    _narrow(document, "get_operation", "wait", 10)
    assert _run(tmp_path, document, WORKFLOW).split() == ["rank", "16"]


RAISED = """
import contextlib, io
import weaver_client
from weaver_client import limits
from weaver_facade import ServiceClient
from weaver_facade.cli import main
from weaver_facade.emulator import run_emulator

assert weaver_client.__file__.startswith({client!r}), weaver_client.__file__
assert (limits.LORA_CONFIG_RANK_MINIMUM, limits.LIST_CHECKPOINTS_LIMIT_MINIMUM) == (64, 200)
with run_emulator(api_keys=("k",)) as emu:
    with ServiceClient(emu.base_url, "k", heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny")
        saved = trainer.save_state("raised")
        assert [c.name for c in trainer.list_checkpoints()] == ["raised"]
        print("rank:", service.get_model(trainer.model_id).lora.rank)
help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.suppress(SystemExit):
    main(["models", "create", "--help"])
print("help:", " ".join(help.getvalue().split()))
"""


def test_defaults_follow_a_spec_with_higher_minimums(tmp_path: Path) -> None:
    # A LoRA rank's minimum raised to 64 left the facade's default at 32: a model created
    # with no rank was refused for a rank its caller never gave, and `models create
    # --help` said "Default: LoRA, rank 32. [from 64 to 256]".
    document = _spec()
    rank = document["components"]["schemas"]["LoraConfig"]["properties"]["rank"]
    assert rank["minimum"] < 64 <= rank["maximum"]
    rank["minimum"] = 64
    for item in document["paths"].values():
        op = item.get("get") or {}
        if op.get("operationId") == "list_checkpoints":
            (limit,) = [p for p in op["parameters"] if p.get("name") == "limit"]
            assert limit["schema"]["minimum"] < 200 <= limit["schema"]["maximum"]
            limit["schema"]["minimum"] = 200
    said = dict(line.split(": ", 1) for line in _run(tmp_path, document, RAISED).splitlines())
    assert said["rank"] == "64"
    assert "Default: LoRA, rank 64. [from 64 to 256]" in said["help"]


ALONE = """
import contextlib, io
import weaver_client
from weaver_client import limits
from weaver_facade import InvalidArgumentError, InvalidCheckpointName, ServiceClient
from weaver_facade.cli import main
from weaver_facade.emulator import run_emulator

assert weaver_client.__file__.startswith({client!r}), weaver_client.__file__
assert (limits.CHECKPOINT_NAME_MAX_LENGTH, limits.ARTIFACT_TTL_SECONDS_MAXIMUM) == (64, 2592000)
assert limits.TTL_SECONDS_MAXIMUM > 2592000, "a checkpoint's TTL keeps its bound"
with run_emulator(api_keys=("k",)) as emu:
    with ServiceClient(emu.base_url, "k", heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny")
        saved = trainer.save_state("a" * 64, ttl_seconds=2592001)
        try:
            trainer.save_state("a" * 65)
        except InvalidCheckpointName as exc:
            print("name:", exc)
        try:
            trainer.export_weights(saved, ttl_seconds=2592001)
        except InvalidArgumentError as exc:
            print("ttl:", exc)
        assert [c.name for c in trainer.list_checkpoints()] == [saved.name]
        assert service.list_artifacts(saved) == []
help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.suppress(SystemExit):
    main(["checkpoints", "export", "--help"])
print("help:", " ".join(help.getvalue().split()))
"""


def test_bounds_that_shrink_apart_from_their_neighbours_are_kept(tmp_path: Path) -> None:
    document = _spec()
    schemas = document["components"]["schemas"]
    name, ttl = schemas["CheckpointName"], schemas["ArtifactTtlSeconds"]
    assert name["maxLength"] > 64
    assert "127" in name["pattern"], "the pattern alone would allow 65 characters"
    assert ttl["maximum"] > 2592000
    name["maxLength"] = 64
    ttl["maximum"] = 2592000
    lines = _run(tmp_path, document, ALONE).splitlines()
    said = dict(line.split(": ", 1) for line in lines)
    assert "65 characters long; at most 64" in said["name"]
    assert "ttl_seconds" in said["ttl"]
    assert "2592000" in said["ttl"]
    assert "1 to 2592000 (30 days)" in said["help"]


WORDS = """
import contextlib, io
import weaver_client
from weaver_client import limits
from weaver_facade import (
    InvalidArgumentError, InvalidCheckpointName, ServiceClient, validate_checkpoint_name,
)
from weaver_facade.cli import main

assert weaver_client.__file__.startswith({client!r}), weaver_client.__file__
with ServiceClient("http://127.0.0.1:9", "k", heartbeat_interval=0) as service:
    try:
        service.training_client("M-1")
    except InvalidArgumentError as exc:
        print("id:", exc)
validate_checkpoint_name("lower")
try:
    validate_checkpoint_name("Upper")
except InvalidCheckpointName as exc:
    print("name:", exc)
help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.suppress(SystemExit):
    main(["checkpoints", "save", "--help"])
print("help:", " ".join(help.getvalue().split()))
"""


def test_a_changed_pattern_is_refused_and_explained_in_its_new_words(tmp_path: Path) -> None:
    # The refusals said "letters, digits, '.', '_' or '-'" in words written in the code,
    # which stayed when the spec's pattern changed.
    document = _spec()
    schemas = document["components"]["schemas"]
    narrowed = {
        "ResourceId": ("^[a-z0-9][a-z0-9-]{0,127}$", "lowercase, for the trial"),
        "CheckpointName": ("^[a-z][a-z0-9-]{0,127}$", "lowercase too, for the trial"),
    }
    for name, (pattern, words) in narrowed.items():
        assert schemas[name]["x-weaver-pattern-words"] != words
        schemas[name].update({"pattern": pattern, "x-weaver-pattern-words": words})
    said = dict(line.split(": ", 1) for line in _run(tmp_path, document, WORDS).splitlines())
    assert said["id"].endswith("'M-1' is not valid: it must be lowercase, for the trial")
    assert said["name"].startswith("checkpoint name 'Upper' is not valid: it contains 'U'; ")
    assert said["name"].endswith("it must be lowercase too, for the trial")
    assert "NAME is lowercase too, for the trial" in said["help"]
