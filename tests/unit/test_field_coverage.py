"""Every field of every generated model the facade converts is mapped, or left out with a reason."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import attrs
import yaml
from weaver_client import models as wire

ROOT = Path(__file__).resolve().parents[2]


def _load_regenerate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_regenerate", ROOT / "scripts" / "_regenerate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regen = _load_regenerate()
uncovered_fields = regen.uncovered_fields
WIRE_FIELDS = regen.wire_fields()


def declared_models() -> ModuleType:
    """A stand-in for the generated ``models`` holding each schema the facade declares."""
    models = ModuleType("models")
    for declared in [*WIRE_FIELDS, *regen.wire_fields("WireValues")]:
        setattr(models, declared.schema, getattr(wire, declared.schema))
    return models


def test_every_converter_declares_its_fields() -> None:
    assert {f.schema for f in WIRE_FIELDS} >= {
        "Checkpoint",
        "Model",
        "Operation",
        "PendingInfo",
        "ForwardBackwardResult",
        "OptimStepResult",
        "LoadResult",
        # Nested and secondary replies: a new LoRA setting was lost to resume in silence.
        "LoraConfig",
        "ArtifactManifest",
        "DownloadDescriptor",
        "DownloadFile",
    }


def test_every_spec_field_is_mapped_or_left_out() -> None:
    assert uncovered_fields() == []


def test_declarations_name_real_attributes_and_give_reasons() -> None:
    for fields in WIRE_FIELDS:
        attributes = {a.name for a in attrs.fields(fields.facade)}
        assert set(fields.mapped.values()) <= attributes, fields.schema
        assert all(reason.strip() for reason in fields.left_out.values()), fields.schema
        assert not set(fields.mapped) & set(fields.left_out), fields.schema


def test_a_field_in_the_spec_that_the_facade_lacks_is_named() -> None:
    # A synthesized generated model with one more field than the spec's Checkpoint.
    base = wire.Checkpoint
    grown = attrs.make_class("Checkpoint", {"user_metadata": attrs.field(default=None)}, (base,))
    models = declared_models()
    models.Checkpoint = grown  # type: ignore[attr-defined]
    assert uncovered_fields(models) == ["Checkpoint.user_metadata"]


def test_every_enum_the_facade_converts_declares_its_values() -> None:
    declared = {v.schema for v in regen.wire_fields("WireValues")}
    assert declared == {
        "CheckpointType",
        "CheckpointStatus",
        "OperationStatus",
        "ArtifactKind",
        "ArtifactStatus",
    }


def test_a_value_in_the_spec_that_the_facade_lacks_is_named() -> None:
    # A new value passed mypy and the tests, then failed in a reply with a KeyError.
    models = declared_models()
    values = [SimpleNamespace(value=m.value) for m in wire.CheckpointStatus]
    models.CheckpointStatus = [*values, SimpleNamespace(value="archived")]  # type: ignore[attr-defined]
    assert uncovered_fields(models) == ["CheckpointStatus value 'archived'"]
    models.CheckpointStatus = [v for v in values if v.value != "error"]  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        "CheckpointStatus value 'error' (declared, but not in the spec)"
    ]


def test_the_issue_trial_regenerated_fails_naming_the_field(tmp_path: Path) -> None:
    """Add an optional `user_metadata` object to Checkpoint, regenerate into a temporary
    directory, and read that client: the new field is reported by name."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    document["components"]["schemas"]["Checkpoint"]["properties"]["user_metadata"] = {
        "$ref": "#/components/schemas/Metadata"
    }
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    package = regen.generate(spec, tmp_path)
    name = "weaver_client_trial"
    init = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert init is not None
    assert init.loader is not None
    module = importlib.util.module_from_spec(init)
    sys.modules[name] = module
    try:
        init.loader.exec_module(module)
        trial_models = importlib.import_module(f"{name}.models")
        assert uncovered_fields(trial_models) == ["Checkpoint.user_metadata"]
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]
