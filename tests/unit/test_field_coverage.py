"""Every field of every generated model the facade converts is mapped, or left out with a reason."""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import json
import sys
import typing
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import attrs
import pytest
import yaml
from weaver_client import limits
from weaver_client import models as wire
from weaver_client.schemas import SCHEMAS as SPEC_SCHEMAS
from weaver_client.schemas import SchemaName

import weaver_facade
from tests.support.facade_values import CONVERTERS, OP
from tests.support.openapi import openapi
from tests.support.spec_values import OF_TYPE, SCHEMAS, every_field, flipped, types
from weaver_facade import APIError, Checkpoint, ResponseValidationError, _errors
from weaver_facade._calls import UNSENT, ExportReply
from weaver_facade._checkpoints import checkpoint_from_wire
from weaver_facade._retry import PARSE_ERRORS
from weaver_facade._schema import unpromised

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
WIRE_FIELDS = regen.wire_fields()
# What the coverage lists for the spec and the facade as they are: a spec change the
# facade has yet to follow, which test_every_spec_field_is_mapped_or_left_out names.
TODAY = frozenset(regen.uncovered_fields())


def uncovered_fields(models: Any = None) -> list[str]:
    """The coverage's list less what it lists today: the tests of the coverage itself
    fake a change under a name no spec has, and must not fail again, each naming the
    maintainer's real change in a diff of lists, while that change is being followed."""
    return [problem for problem in regen.uncovered_fields(models) if problem not in TODAY]


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


def test_an_object_only_an_operations_result_carries_is_a_reply_object() -> None:
    # Results are named in `x-weaver-result-schemas`, not by `$ref`: the objects inside
    # them (TensorData of a forward-backward pass's logprobs) were no reply objects, so a
    # field added to one (a `shape`, say) was dropped in silence.
    document = openapi()
    assert {"ForwardBackwardResult", "LossFnOutput", "TensorData"} <= regen.reply_objects(document)
    grown = copy.deepcopy(document)
    schemas = grown["components"]["schemas"]
    new = _absent_name(schemas)
    schemas[new] = {"type": "object", "properties": {"a": {"type": "integer"}}}
    kind = _absent_name(schemas["OperationResult"]["x-weaver-result-schemas"])
    schemas["OperationResult"]["x-weaver-result-schemas"][kind] = new
    assert [p for p in regen.undeclared_replies(grown) if p not in TODAY] == [
        f"{new} (a reply object no WireFields declares)"
    ]


def test_every_spec_field_is_mapped_or_left_out() -> None:
    assert regen.uncovered_fields() == []


def test_every_reply_object_is_declared_or_carried_whole() -> None:
    # The Error body, the pages and the Operation's metadata had no declaration, so a
    # field added to them was dropped in silence.
    document = openapi()
    declared = {f.schema for f in WIRE_FIELDS}
    assert regen.reply_objects(document) - declared == set(regen.NOT_DECLARED)
    assert [p for p in regen.undeclared_replies(document) if p not in TODAY] == []
    grown = copy.deepcopy(document)
    new = _absent_name(grown["components"]["schemas"])
    grown["components"]["schemas"][new] = {"type": "object", "properties": {"a": {}}}
    path = next(iter(grown["paths"].values()))
    reply = next(iter(next(o for o in path.values() if isinstance(o, dict))["responses"].values()))
    reply["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{new}"}}}
    assert [p for p in regen.undeclared_replies(grown) if p not in TODAY] == [
        f"{new} (a reply object no WireFields declares)"
    ]
    # A reply whose object the route defines in place has no name to declare either.
    inline = copy.deepcopy(document)
    route = _absent_name(inline["paths"])
    schema = {"type": "object", "properties": {"used": {"type": "integer"}}}
    content = {"application/json": {"schema": schema}}
    inline["paths"][route] = {"get": {"responses": {"200": {"content": content}}}}
    assert [p for p in regen.undeclared_replies(inline) if p not in TODAY] == [
        f"GET {route} 200 (a reply object defined in place, which no WireFields can name: "
        "make it a schema of components/schemas and declare it)"
    ]
    assert {"Error", "CheckpointList", "Pagination", "OperationMetadata"} <= declared
    # A schema NOT_DECLARED names that the spec renamed: only a test of ours said so.
    renamed = json.loads(
        json.dumps(document).replace(
            '"#/components/schemas/Session"', '"#/components/schemas/SessionInfo"'
        )
    )
    renamed["components"]["schemas"]["SessionInfo"] = renamed["components"]["schemas"].pop(
        "Session"
    )
    assert [p for p in regen.undeclared_replies(renamed) if p not in TODAY] == [
        "SessionInfo (a reply object no WireFields declares)",
        "Session (named in NOT_DECLARED of scripts/_regenerate.py, but it is no reply "
        "object of the spec: no reply carries it, or it has no properties)",
    ]


def test_declarations_name_real_attributes_and_give_reasons() -> None:
    for fields in WIRE_FIELDS:
        attributes = regen.facade_attributes(fields.facade)
        assert set(fields.mapped.values()) <= set(attributes), fields.schema
        assert all(reason.strip() for reason in fields.left_out.values()), fields.schema
        assert not set(fields.mapped) & set(fields.left_out), fields.schema
        assert all(reason.strip() for reason in fields.required.values()), fields.schema
        assert not set(fields.required) & set(fields.left_out), fields.schema
        assert set(fields.derived) <= set(attributes), fields.schema
        assert all(source.strip() for source in fields.derived.values()), fields.schema


def _absent_name(taken: Collection[str]) -> str:
    """A field or value name that is not in ``taken`` and that no real change of the spec
    will add (a maintainer adding `user_metadata` made a fixed name fail for ever)."""
    name = "probe_" + uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    assert name not in taken
    return name


def test_a_field_in_the_spec_that_the_facade_lacks_is_named() -> None:
    # A synthesized generated model with one more field than the spec's Checkpoint.
    new = _absent_name(SCHEMAS["Checkpoint"]["properties"])
    grown = attrs.make_class("Checkpoint", {new: attrs.field(default=None)}, (wire.Checkpoint,))
    models = declared_models()
    models.Checkpoint = grown  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [f"Checkpoint.{new}"]


def test_a_field_whose_object_the_spec_defines_in_place_is_named() -> None:
    # `Artifact.provenance: {type: object, properties: {converter, ...}}`, read by the
    # facade, passed every check: its object has no name a WireFields could declare, so
    # the fields the spec added to it later were dropped in silence.
    new = _absent_name(SCHEMAS["Artifact"]["properties"])
    inner = {"type": "object", "properties": {"converter": {"type": "string"}}}
    nodes = (
        inner,
        {"anyOf": [inner, {"type": "null"}]},
        {"type": "array", "items": inner},
        {"type": "object", "additionalProperties": inner},  # a map of such objects
    )
    for node in nodes:
        grown = {**SPEC_SCHEMAS, "Artifact": copy.deepcopy(SPEC_SCHEMAS["Artifact"])}
        grown["Artifact"]["properties"][new] = node
        assert [p for p in regen.in_place_objects(grown) if p not in TODAY] == [
            f"Artifact.{new} (an object defined in place, whose fields no WireFields can "
            "name: make it a schema of components/schemas and declare it, or leave the "
            "field out)"
        ]
        assert f"Artifact.{new}" in regen.uncovered_fields(declared_models(), grown)[0]
    # A named schema is declared on its own; a field left out is not read at all.
    named = {**SPEC_SCHEMAS, "Artifact": copy.deepcopy(SPEC_SCHEMAS["Artifact"])}
    named["Artifact"]["properties"][new] = {"$ref": "#/components/schemas/ArtifactManifest"}
    named["Artifact"]["properties"]["updated_at"] = inner  # left out by the facade
    assert [p for p in regen.in_place_objects(named) if p not in TODAY] == []


def test_an_attribute_whose_spec_field_was_removed_is_named() -> None:
    # The converter followed mypy when `sha256` left the spec; the attribute stayed, always
    # None, and the command line kept printing it.
    kept = [f for f in attrs.fields(wire.Checkpoint) if f.name != "sha256"]
    shrunk = attrs.make_class("Checkpoint", {f.name: attrs.field(default=f.default) for f in kept})
    models = declared_models()
    models.Checkpoint = shrunk  # type: ignore[attr-defined]
    assert "Checkpoint.sha256 (no spec field maps to it, nor is it `derived`)" in (
        uncovered_fields(models)
    )


def test_scripts_regenerate_names_the_file_of_an_attribute_left_behind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # ModelInfo is declared for the schema Model: the file was looked up by the facade
    # type's name, which names no schema, so the line came without it.
    kept = [f for f in attrs.fields(wire.Model) if f.name != "tokenizer_path"]
    shrunk = attrs.make_class("Model", {f.name: attrs.field(default=f.default) for f in kept})
    models = declared_models()
    models.Model = shrunk  # type: ignore[attr-defined]
    listed = uncovered_fields(models)
    assert listed == ["ModelInfo.tokenizer_path (no spec field maps to it, nor is it `derived`)"]
    monkeypatch.setattr(regen, "uncovered_fields", lambda: listed)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    assert f"  - {listed[0]} (its WireFields: weaver_facade/_models.py)\n" in out


def test_every_enum_the_facade_converts_declares_its_values() -> None:
    declared = {v.schema for v in regen.wire_fields("WireValues")}
    assert declared == {
        "CheckpointType",
        "CheckpointStatus",
        "OperationStatus",
        "ArtifactKind",
        "ArtifactStatus",
        *(enum_name for _, _, enum_name in PLAIN_FIELDS),
    }


def test_a_value_in_the_spec_that_the_facade_lacks_is_named() -> None:
    # A new value passed mypy and the tests, then failed in a reply with a KeyError.
    models = declared_models()
    values = [SimpleNamespace(value=m.value) for m in wire.CheckpointStatus]
    new = _absent_name([v.value for v in values])
    models.CheckpointStatus = [*values, SimpleNamespace(value=new)]  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [f"CheckpointStatus value {new!r}"]
    declared = next(v for v in regen.wire_fields("WireValues") if v.schema == "CheckpointStatus")
    mapped = next(iter(declared.mapped))  # `error`, read as `failed`
    models.CheckpointStatus = [v for v in values if v.value != mapped]  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        f"CheckpointStatus value {mapped!r} (declared, but not in the spec)"
    ]


def test_a_value_the_spec_renames_or_drops_names_the_facade_member_left() -> None:
    # `done` renamed `succeeded`: the new value was listed, the facade was given a member
    # for it, and DONE stayed, on which the poller decides success; every finished
    # operation then ended as a failure, and no list named DONE.
    models = declared_models()
    kept = [SimpleNamespace(value=m.value) for m in wire.OperationStatus if m.value != "done"]
    models.OperationStatus = kept  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        "OperationStatus value 'done' (OperationStatus.DONE, but not in the spec)"
    ]


# Spec enums the facade keeps as plain strings, with the values it knows declared.
PLAIN_FIELDS = [
    ("Model", "training_mode", "TrainingMode"),
    ("Model", "status", "ModelStatus"),
    ("Operation", "kind", "OperationKind"),
]


@pytest.mark.parametrize("enum_name", [name for _, _, name in PLAIN_FIELDS])
def test_a_value_the_spec_adds_to_a_plain_string_enum_is_named(enum_name: str) -> None:
    # A new model status or operation kind went through as a string nobody had decided
    # on: the facade gives some values a meaning (a terminated model, the kind that picks
    # a result's parser), and the coverage listed none of them.
    models = declared_models()
    values = [SimpleNamespace(value=m.value) for m in getattr(wire, enum_name)]
    new = _absent_name([v.value for v in values])
    setattr(models, enum_name, [*values, SimpleNamespace(value=new)])
    assert uncovered_fields(models) == [f"{enum_name} value {new!r}"]


def test_a_plain_string_enum_passes_each_value_through() -> None:
    for schema, field, enum_name in PLAIN_FIELDS:
        for member in getattr(wire, enum_name):
            value = {**every_field(SCHEMAS[schema]), field: member.value}
            converted = getattr(CONVERTERS[schema](value), field)
            assert type(converted) is str, (schema, member)
            assert converted == member.value


SPEC_ENUMS = {name: schema["enum"] for name, schema in SCHEMAS.items() if "enum" in schema}


def test_every_literal_of_a_spec_enum_has_all_its_values() -> None:
    # A loss function or training mode the spec added was sent when given, and listed
    # nowhere; only the Literal of the parameter, which no list reads, kept it out.
    assert regen.literal_gaps(SPEC_ENUMS) == [], "its Literal (weaver_facade) lacks or has more"


@pytest.mark.parametrize(
    ("enum_name", "places"),
    [
        ("LossFn", {"AsyncTrainingClient.forward_backward", "TrainingClient.forward_backward"}),
        (
            "TrainingMode",
            {"AsyncServiceClient.create_training_client", "ServiceClient.create_training_client"},
        ),
        ("ArtifactKind", {"AsyncServiceClient.download_weights", "ServiceClient.download_weights"}),
    ],
)
def test_a_value_the_spec_adds_to_an_enum_a_literal_names_is_named(
    enum_name: str, places: set[str]
) -> None:
    values = [*SPEC_ENUMS[enum_name], _absent_name(SPEC_ENUMS[enum_name])]
    assert {gap.split("(")[0] for gap in regen.literal_gaps({enum_name: values})} == places


def test_scripts_regenerate_lists_a_spec_enum_value_a_literal_lacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A loss function the spec added was named by this test file alone: scripts/regenerate
    # printed a clean coverage, and the maintainer learnt of it from the suite, later.
    lossfn = SPEC_SCHEMAS["LossFn"]
    new = _absent_name(lossfn["enum"])
    monkeypatch.setitem(SPEC_SCHEMAS, "LossFn", {**lossfn, "enum": [*lossfn["enum"], new]})
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    held, spec = sorted(SPEC_ENUMS["LossFn"]), sorted([*SPEC_ENUMS["LossFn"], new])
    for place in ("AsyncTrainingClient", "TrainingClient"):
        assert (
            f"  - {place}.forward_backward(loss_fn=): its Literal holds {held}, "
            f"the spec's LossFn {spec}\n"
        ) in out
    heading, advice = out.split("what to do:", 1)
    assert "parameters whose `Literal`" in heading
    assert "`LossFnName`" in advice


def test_every_error_code_of_the_spec_has_its_class_or_is_told_by_its_status() -> None:
    assert regen.uncovered_codes() == []


def test_an_error_code_the_spec_adds_renames_or_moves_is_named() -> None:
    # A renamed `checkpoint_exists` passed every check, and a retried save then met a
    # plain ConflictError, which its recovery does not look at.
    codes = dict(limits.ERROR_ERROR_CODES)
    assert codes["checkpoint_exists"] == 409  # the code this test renames and moves
    new = _absent_name(codes)
    assert regen.uncovered_codes({**codes, new: 409}) == [f"error code {new!r} (409)"]
    renamed = {(new if code == "checkpoint_exists" else code): s for code, s in codes.items()}
    assert regen.uncovered_codes(renamed) == [
        f"error code {new!r} (409)",
        "error code 'checkpoint_exists' (in weaver_facade/_errors.py, not in the spec)",
    ]
    # Moved, it named the class but not its status, which the reader then looked up.
    assert codes["unknown_base_model"] == 422
    moved = {**codes, "checkpoint_exists": 422, "unknown_base_model": 409}
    assert regen.uncovered_codes(moved) == [
        "error code 'checkpoint_exists': the spec's status is 422, not CheckpointExistsError's 409",
        "error code 'unknown_base_model': the spec's status is 409, not "
        "UnknownBaseModelError's 422",
    ]


def test_a_moved_error_codes_class_is_named_with_the_status_it_stands_for() -> None:
    # The status named is the one the facade maps to the class: a reply of that status
    # with that code is raised as that class, and one of the spec's status is not.
    codes = dict(limits.ERROR_ERROR_CODES)
    for code, cls in _errors._BY_CODE.items():
        other = next(s for s in (400, 404) if not issubclass(cls, _errors.error_class(s, None)))
        (line,) = regen.uncovered_codes({**codes, code: other})
        status = int(line.rpartition(" ")[2])
        assert line.endswith(f", not {cls.__name__}'s {status}")
        assert _errors.error_class(status, code) is cls
        assert _errors.error_class(other, code) is not cls


def test_an_error_code_moved_to_a_status_without_a_class_is_named() -> None:
    # Moved to 410, which `_BY_STATUS` has no class for, `model_terminated` passed: a 410
    # with that code is still raised as ModelTerminatedError (APIError, the class of such a
    # status, takes any code's), which stands for a 409 the spec no longer says.
    codes = dict(limits.ERROR_ERROR_CODES)
    assert _errors.error_class(410, None) is APIError
    for code, cls in _errors._BY_CODE.items():
        assert _errors.error_class(410, code) is cls
        assert regen.uncovered_codes({**codes, code: 410}) == [
            f"error code {code!r}: the spec's status is 410, not {cls.__name__}'s {codes[code]}"
        ]


@contextlib.contextmanager
def _trial(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Iterator[ModuleType]:
    """The package regenerated from the spec as ``edit`` changes it, in a temporary
    directory, imported as ``weaver_client_trial``."""
    document = openapi()
    edit(document)
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
        yield module
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]


def test_a_schema_renamed_in_the_spec_names_the_declaration_that_names_it() -> None:
    # Renaming CheckpointStatus read as "the facade does not import against the new
    # client", while it did, and mypy was clean: the name is a string in a WireValues.
    models = declared_models()
    del models.CheckpointStatus
    del models.Checkpoint
    assert uncovered_fields(models) == [
        "Checkpoint (declared in weaver_facade/_checkpoints.py as WireFields('Checkpoint', "
        "Checkpoint, ...), but the generated client has no such schema)",
        "CheckpointStatus (declared in weaver_facade/_checkpoints.py as "
        "WireValues('CheckpointStatus', CheckpointStatus, ...), but the generated client has "
        "no such schema)",
    ]


def strict_mypy(folder: Path) -> tuple[str, int]:
    """``mypy --strict`` of ``folder``'s files, uncached: its report and exit status."""
    from mypy import api

    cache = str(folder / "cache")
    out, _, status = api.run(["--strict", "--no-incremental", "--cache-dir", cache, str(folder)])
    return out, status


def test_a_schema_name_the_spec_lacks_is_a_mypy_error(tmp_path: Path) -> None:
    # `WireValues("CheckpointStatus", ...)` was a plain string: after a rename in the spec
    # mypy passed, and only the coverage failed, blaming the import of the facade.
    assert typing.get_args(SchemaName) == tuple(SPEC_SCHEMAS)
    (tmp_path / "use.py").write_text(
        "import enum\n"
        "from weaver_facade._wire import WireFields, WireValues\n"
        "class E(enum.Enum):\n"
        "    A = 'a'\n"
        "WireValues('CheckpointStatus', E)\n"
        "WireValues('CheckpointState', E)\n"
        "WireFields('Checkpoints', E)\n",
        encoding="utf-8",
    )
    out, status = strict_mypy(tmp_path)
    assert status == 1
    errors = [line.split("use.py:")[1] for line in out.splitlines() if ": error: " in line]
    assert [e.split(" expected ")[0] for e in errors] == [
        '6: error: Argument 1 to "WireValues" has incompatible type '
        "\"Literal['CheckpointState']\";",
        '7: error: Argument 1 to "WireFields" has incompatible type "Literal[\'Checkpoints\']";',
    ], out


def test_the_issue_trial_regenerated_fails_naming_the_field(tmp_path: Path) -> None:
    """Add an optional object to Checkpoint, regenerate into a temporary directory, and
    read that client: the new field is reported by name."""
    new = _absent_name(SCHEMAS["Checkpoint"]["properties"])

    def grow(document: dict[str, Any]) -> None:
        checkpoint = document["components"]["schemas"]["Checkpoint"]
        checkpoint["properties"][new] = {"$ref": "#/components/schemas/Metadata"}

    with _trial(tmp_path, grow) as trial:
        models = importlib.import_module(f"{trial.__name__}.models")
        assert uncovered_fields(models) == [f"Checkpoint.{new}"]


def test_a_required_field_made_optional_is_named_and_its_reply_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`expires_at` no longer required: the coverage passed, and the converter refused a
    reply the spec allows as a `malformed reply`, naming no field."""

    def loosen(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["Checkpoint"]["required"].remove("expires_at")

    with _trial(tmp_path, loosen) as trial:
        models = importlib.import_module(f"{trial.__name__}.models")
        assert uncovered_fields(models) == [
            "Checkpoint.expires_at: optional in the spec, required by the facade's "
            "Checkpoint.expires_at"
        ]
        schemas = importlib.import_module(f"{trial.__name__}.schemas")
        monkeypatch.setitem(SPEC_SCHEMAS, "Checkpoint", schemas.SCHEMAS["Checkpoint"])
        value = every_field(SCHEMAS["Checkpoint"])
        del value["expires_at"]
        with pytest.raises(ResponseValidationError) as caught:
            checkpoint_from_wire(OP, models.Checkpoint.from_dict(value))
    assert caught.value.field == "expires_at"
    assert "field `expires_at`: missing; the spec lets it be absent" in str(caught.value)


def _loosened(name: str, annotation: str) -> type[Any]:
    """The generated Checkpoint with ``name``'s annotation replaced (a string, as the
    generated modules' postponed annotations are)."""
    field = attrs.field(default=None, type=cast("type[Any]", annotation))
    return attrs.make_class("Checkpoint", {name: field}, (wire.Checkpoint,))


def test_a_field_the_spec_lets_be_absent_or_null_and_the_facade_needs_is_named() -> None:
    models = declared_models()
    models.Checkpoint = _loosened("train_mlp", "bool | Unset")  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        "Checkpoint.train_mlp: optional in the spec, required by the facade's Checkpoint.train_mlp"
    ]
    models.Checkpoint = _loosened("name", "str | None")  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        "Checkpoint.name: nullable in the spec, never None in the facade's Checkpoint.name"
    ]
    # Null where the facade admits None (or has a default) is no problem.
    models.Checkpoint = _loosened("created_at", "datetime.datetime | None")  # type: ignore[attr-defined]
    assert uncovered_fields(models) == [
        "Checkpoint.created_at: nullable in the spec, never None in the facade's "
        "Checkpoint.created_at"
    ]
    models.Checkpoint = _loosened("expires_at", "datetime.datetime | None")  # type: ignore[attr-defined]
    assert uncovered_fields(models) == []


def test_a_field_required_by_the_facade_needs_its_reason_and_the_spec_must_allow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = regen.declarations()
    values = regen.declarations("WireValues")
    checkpoint = next(d for _, d in declared if d.schema == "Checkpoint")
    assert "model_id" in checkpoint.required  # filled in from its path

    def declare(required: dict[str, str]) -> None:
        replaced = attrs.evolve(checkpoint, required=required)
        fields = [(w, replaced if d is checkpoint else d) for w, d in declared]
        monkeypatch.setattr(
            regen,
            "declarations",
            lambda kind="WireFields": fields if kind == "WireFields" else values,
        )

    declare({})
    assert uncovered_fields() == [
        "Checkpoint.model_id: optional in the spec, required by the facade's Checkpoint.model_id"
    ]
    declare({**checkpoint.required, "name": "a reason"})
    assert uncovered_fields() == ["Checkpoint.name (in `required`, but the spec requires it)"]
    gone = _absent_name(SCHEMAS["Checkpoint"]["properties"])
    declare({**checkpoint.required, gone: "a reason"})
    assert uncovered_fields() == [f"Checkpoint.{gone} (declared, but not in the spec)"]


# -- every mapped field is filled by its converter --------------------------------------------
# A field added to the facade type under the spec's name passes the coverage above even
# if its converter never sets it. Each converter gets the spec's example of its schema
# with every optional field filled in; each declared attribute must then differ from
# its default, in at least one converted instance of its type.


def _instances(value: object) -> Iterator[object]:
    """``value`` and every attrs instance inside it."""
    if isinstance(value, APIError):
        yield value
    if attrs.has(type(value)):
        yield value
        for a in attrs.fields(cast("type[attrs.AttrsInstance]", type(value))):
            yield from _instances(getattr(value, a.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _instances(item)


def _converted() -> list[object]:
    """Every instance the converters make of each schema's value, and of its value with
    every boolean inverted (an example's boolean may be the attribute's default)."""
    found: list[object] = []
    for name, convert in CONVERTERS.items():
        value = every_field(SCHEMAS[name])
        for each in (value, flipped(value)):
            found += _instances(convert(each))
    return found


def _unfilled(converted: list[object]) -> list[str]:
    # A field's type changed in the spec (an integer made a string) lands here too: its
    # converter refuses the example's value and keeps the default, and mypy passes.
    where = {id(fields): file for file, fields in regen.declarations()}
    found = []
    for fields in WIRE_FIELDS:
        names = [
            n for n in SCHEMAS[fields.schema].get("properties", {}) if n not in fields.left_out
        ]
        if not names:
            continue
        of_type = [i for i in converted if isinstance(i, fields.facade)]
        assert of_type, f"no converter in CONVERTERS makes a {fields.facade.__name__}"
        defaults = regen.facade_attributes(fields.facade)
        for name in names:
            ours = fields.mapped.get(name, name)
            if ours not in defaults:
                continue  # an attribute it lacks: test_every_spec_field_is_mapped_or_left_out
            default = defaults[ours]
            if default is attrs.NOTHING:
                continue  # the constructor cannot be called without it
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            if all(getattr(i, ours) == default for i in of_type):
                example = every_field(SCHEMAS[fields.schema]).get(name)
                facade = f"{fields.facade.__name__}.{ours}"
                found.append(
                    f"{fields.schema}.{name} (its example {example!r} leaves {facade} at its "
                    f"default {default!r}: its converter, next to its WireFields in "
                    f"{where[id(fields)]}, never sets it, or refuses the example's type, which "
                    "the spec may have changed)"
                )
    return found


def test_every_mapped_field_is_filled_from_the_spec_example() -> None:
    unfilled = _unfilled(_converted())
    assert unfilled == [], "\n".join(unfilled)  # in full: pytest cuts a long item short


def test_every_converter_takes_a_reply_with_only_what_the_spec_and_facade_require() -> None:
    # The declared types are what the coverage compares with the spec: each converter
    # must then take a reply without every field the spec lets be absent, except those
    # its declaration says the facade requires.
    declared = {f.schema: f for f in WIRE_FIELDS}
    for name, convert in CONVERTERS.items():
        schema = SCHEMAS[name]
        keep = {*schema.get("required", []), *declared[name].required}
        value = {k: v for k, v in every_field(schema).items() if k in keep}
        convert(value)  # raises ResponseValidationError naming a field it needs


def test_a_mapped_field_left_unfilled_is_named() -> None:
    converted = _converted()
    # A converter that forgot Checkpoint.sha256 leaves the attribute at its default.
    forgot = [attrs.evolve(i, sha256=None) if isinstance(i, Checkpoint) else i for i in converted]
    example = every_field(SCHEMAS["Checkpoint"])["sha256"]
    assert _unfilled(forgot) == [
        f"Checkpoint.sha256 (its example {example!r} leaves Checkpoint.sha256 at its default "
        "None: its converter, next to its WireFields in weaver_facade/_checkpoints.py, never "
        "sets it, or refuses the example's type, which the spec may have changed)"
    ]


ENUM_FIELDS = [
    ("Checkpoint", "type", "CheckpointType"),
    ("Checkpoint", "status", "CheckpointStatus"),
    ("Artifact", "kind", "ArtifactKind"),
    ("Artifact", "status", "ArtifactStatus"),
    ("Operation", "status", "OperationStatus"),
]


def test_every_enum_value_converts_through_its_declaration() -> None:
    # A converter that built the facade enum from the wire value itself ignored the
    # declaration's `mapped` values, and raised a bare ValueError for them.
    declarations = {v.schema: v for v in regen.wire_fields("WireValues")}
    for schema, field, enum_name in ENUM_FIELDS:
        table = declarations[enum_name].table()
        for member in getattr(wire, enum_name):
            value = {**every_field(SCHEMAS[schema]), field: member.value}
            converted = CONVERTERS[schema](value)
            assert getattr(converted, field) is table[member.value], (schema, member)
    assert declarations["CheckpointStatus"].table()["error"].value == "failed"


def test_a_renamed_default_is_a_mypy_error(tmp_path: Path) -> None:
    # `ADAM_PARAMS_DEFAULTS["grad_clip_norm"]` was read from a plain dict: after a rename
    # in the spec, mypy passed and `import weaver_facade` raised a KeyError.
    document = openapi()
    example = document["components"]["schemas"]["AdamParams"]["example"]
    example["max_grad_norm"] = example.pop("grad_clip_norm")
    (tmp_path / "trial_limits.py").write_text(regen.limits_module(document), encoding="utf-8")
    (tmp_path / "use.py").write_text(
        "from trial_limits import ADAM_PARAMS_DEFAULTS\n"
        'clip: float = ADAM_PARAMS_DEFAULTS["grad_clip_norm"]\n',
        encoding="utf-8",
    )
    out, status = strict_mypy(tmp_path)
    assert status == 1
    assert 'has no key "grad_clip_norm"' in out, out


def test_a_facade_that_no_longer_imports_is_reported_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> list[str]:
        raise KeyError("grad_clip_norm")

    monkeypatch.setattr(regen, "uncovered_fields", broken)
    assert regen.cmd_coverage() == 1
    assert "could not be read: KeyError: 'grad_clip_norm'" in capsys.readouterr().out


def test_a_spec_that_does_not_load_is_not_blamed_on_the_facade(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--coverage` reads openapi.yaml for the reply objects: a YAML error there was
    # reported as "the facade does not import against the new client; run mypy".
    broken = tmp_path / "openapi.yaml"
    broken.write_text("paths: [\n", encoding="utf-8")
    monkeypatch.setattr(regen, "SPEC", broken)
    assert regen.main(["--coverage"]) == 2
    out, err = capsys.readouterr()
    assert "is not valid YAML" in err
    assert "does not import" not in out + err


# Converters that read a field of the wrong JSON type on purpose, and why.
LENIENT = {
    "Error": "an error reply is mapped by its status, whatever its body holds",
    "Operation.error": "the legacy code, read only where `error_code` is missing",
}


def test_every_read_field_of_the_wrong_type_is_refused_or_left_out() -> None:
    # from_dict passes scalars through unchecked, so each converter checks each field it
    # reads: `Checkpoint.storage_region`, added by the book, took a server's 5 as its str.
    # A field the real service does not promise is left out instead, as if not sent: a
    # server may send one with a meaning of its own (`Checkpoint.size_bytes` in words).
    taken = []
    for schema, convert in CONVERTERS.items():
        left_out = {n for f in WIRE_FIELDS if f.schema == schema for n in f.left_out}
        value = every_field(SCHEMAS[schema])
        for name, prop in SCHEMAS[schema].get("properties", {}).items():
            allowed = types(prop)
            if schema in LENIENT or f"{schema}.{name}" in LENIENT or name in left_out:
                continue
            if not allowed:
                continue
            wrong = next(v for t, v in OF_TYPE.items() if t not in allowed | {"null"})
            try:
                got = convert({**value, name: wrong})
            except (ResponseValidationError, *PARSE_ERRORS):  # from_dict's: parse_model's
                continue
            without = {k: v for k, v in value.items() if k != name}
            if name in unpromised(schema) and got == convert(without):
                continue
            taken.append(f"{schema}.{name}: {wrong!r}")
    assert taken == [], "read without a check of its type (by its converter)"


def _json_type(value: object) -> str:
    kinds = [(bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")]
    kinds += [(list, "array"), (dict, "object")]
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def _other_types_refused(schemas: Mapping[str, Any]) -> list[str]:
    """Each field a converter reads that it refuses (or leaves out, if unpromised) when it
    comes as another JSON type the spec allows than its example's: a fraction where an
    `integer` became a `number`, say, whose example is still a valid number."""
    refused = []
    for schema, convert in CONVERTERS.items():
        left_out = {n for f in WIRE_FIELDS if f.schema == schema for n in f.left_out}
        value = every_field(schemas[schema])
        for name, prop in schemas[schema].get("properties", {}).items():
            if schema in LENIENT or f"{schema}.{name}" in LENIENT or name in left_out:
                continue
            given = _json_type(value.get(name))
            others = types(prop) - {"null", given, *(["integer"] if given == "number" else [])}
            for other in (OF_TYPE[t] for t in sorted(others)):
                try:
                    got = convert({**value, name: other})
                except (ResponseValidationError, *PARSE_ERRORS):
                    refused.append(f"{schema}.{name}: {other!r}")
                    continue
                without = {k: v for k, v in value.items() if k != name}
                if name in unpromised(schema) and got == convert(without):
                    refused.append(f"{schema}.{name}: {other!r} (left out)")
    return refused


def test_every_read_field_takes_each_json_type_the_spec_allows() -> None:
    # The spec's example fills each field with one type: a field whose type the spec widened
    # (`integer` to `number`) passed the tests above and mypy, and a server's 1.5 was refused.
    assert _other_types_refused(SCHEMAS) == []


def test_a_field_the_spec_widens_to_a_number_is_named() -> None:
    widened = copy.deepcopy(dict(SCHEMAS))
    widened["Checkpoint"]["properties"]["size_bytes"]["type"] = "number"
    assert _other_types_refused(widened) == ["Checkpoint.size_bytes: 1.5 (left out)"]


# -- the request side -----------------------------------------------------------------------

UNSENT_TODAY = frozenset(regen.unsent_fields())


def test_every_request_field_and_parameter_is_sent_or_unsent_with_a_reason() -> None:
    assert regen.unsent_fields() == []
    assert all(r.strip() for unsent in UNSENT.values() for r in unsent.values())


def test_an_optional_request_field_or_parameter_the_spec_adds_is_named(tmp_path: Path) -> None:
    # An optional one passes mypy: nothing told the maintainer the facade never sends it.
    field = _absent_name(SCHEMAS["SaveCheckpointRequest"]["properties"])
    parameter = _absent_name([])

    def grow(document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        schemas["SaveCheckpointRequest"]["properties"][field] = {"type": "string"}
        listing = document["paths"]["/api/v1/models/{model_id}/checkpoints"]["get"]
        listing["parameters"].append(
            {"name": parameter, "in": "query", "required": False, "schema": {"type": "string"}}
        )

    with _trial(tmp_path, grow) as trial:
        found = [p for p in regen.unsent_fields(trial) if p not in UNSENT_TODAY]
    assert found == [
        f"list_checkpoints?{parameter} (a request parameter, sent at "
        f"{_first_line('_calls', '_list_checkpoints._get_kwargs')})",
        f"SaveCheckpointRequest.{field} (a request field, built at "
        f"{_first_line('_calls', 'wire.SaveCheckpointRequest(')})",
    ]


def test_where_a_field_goes_is_the_first_place_in_the_source() -> None:
    # ast.walk goes breadth first: a model built within another call (line 2) came after
    # one built at the top of a statement (line 3), whose line the entry named as the first.
    import ast

    source = "import wire\nx = f(g(wire.Datum(a=1)))\ny = wire.Datum(b=2)\n"
    assert [line for _, _, _, line, _ in regen._sent(ast.parse(source))] == [2, 3]


def _first_line(module: str, text: str) -> str:
    """Where ``text`` first stands in a core module, read as text: the place to send a field."""
    lines = (Path(weaver_facade.__path__[0]) / f"{module}.py").read_text("utf-8").splitlines()
    return f"weaver_facade/{module}.py:{next(i for i, s in enumerate(lines, 1) if text in s)}"


def test_an_optional_field_the_spec_adds_to_adam_params_is_named(tmp_path: Path) -> None:
    # AdamParams was built with `**` over its rules: the coverage could not read what it
    # sent, and said nothing of a field the spec added, which was never sent.
    field = _absent_name(SCHEMAS["AdamParams"]["properties"])

    def grow(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["AdamParams"]["properties"][field] = {"type": "boolean"}

    with _trial(tmp_path, grow) as trial:
        found = [p for p in regen.unsent_fields(trial) if p not in UNSENT_TODAY]
    # Built in _types.py, not _calls.py, which the advice names for UNSENT: the entry says where.
    assert found == [
        f"AdamParams.{field} (a request field, built at "
        f"{_first_line('_types', 'wire.AdamParams(')})"
    ]


def test_a_request_model_built_with_unpacked_keywords_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Its fields cannot be read from the source: it is named, not taken as sending them all.
    (tmp_path / "_built.py").write_text("wire.Datum(**given)\n", encoding="utf-8")
    monkeypatch.setattr(weaver_facade, "__path__", [str(tmp_path)])
    monkeypatch.setattr(regen, "core_modules", lambda: ["_built"])
    (listed,) = [p for p in regen.unsent_fields() if p.startswith("Datum")]
    assert listed == (
        "Datum (built with `**` in weaver_facade/_built.py:1, whose fields the coverage "
        "cannot read: name each field it sends)"
    )
    assert regen._kind(listed) == "request"  # its heading and advice are the request side's


def test_an_unsent_entry_the_spec_does_not_have_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = _absent_name(SCHEMAS["CreateModelRequest"]["properties"])
    grown = {**UNSENT, "CreateModelRequest": {**UNSENT["CreateModelRequest"], stale: "gone"}}
    monkeypatch.setattr("weaver_facade._calls.UNSENT", grown)
    assert [p for p in regen.unsent_fields() if p not in UNSENT_TODAY] == [
        f"CreateModelRequest.{stale} (in UNSENT of weaver_facade/_calls.py, but not in the spec)"
    ]


def test_an_unsent_field_or_parameter_the_spec_makes_required_is_named(tmp_path: Path) -> None:
    # Its reason (the service gives it no meaning) went on passing the coverage, while the
    # server refused every request without it.
    field, reason = next(iter(UNSENT["CreateSessionRequest"].items()))
    assert reason

    def require(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["CreateSessionRequest"]["required"] = [field]

    with _trial(tmp_path, require) as trial:
        found = [p for p in regen.unsent_fields(trial) if p not in UNSENT_TODAY]
    assert found == [
        f"CreateSessionRequest.{field} (in UNSENT of weaver_facade/_calls.py, but the spec "
        "requires it)"
    ]


def test_scripts_regenerate_lists_a_request_field_the_facade_does_not_send(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fewer = {**UNSENT, "Datum": {}}
    monkeypatch.setattr("weaver_facade._calls.UNSENT", fewer)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    built = _first_line("_types", "wire.Datum(")
    assert f"  - Datum.metadata (a request field, built at {built})\n" in out
    assert "listed in `UNSENT` of weaver_facade/_calls.py with the reason" in out


@pytest.mark.parametrize(
    ("listed", "said", "unsaid"),
    [
        ("error code 'quota_exceeded' (403)", "`_BY_CODE`", ["`left_out`", "`UNSENT`"]),
        ("Datum.shape (a request field)", "`UNSENT`", ["`left_out`", "`_BY_CODE`"]),
        ("Checkpoint.note", "`left_out`", ["`UNSENT`", "`_BY_CODE`", "WireValues"]),
        # A field mapped as the advice said still failed scripts/test: the command line's
        # `--json` renders each attribute by hand.
        ("Checkpoint.note", "tests/cli/test_json_fields.py", ["`UNSENT`"]),
        ("CheckpointType value 'merged'", "WireValues", ["`left_out`", "`UNSENT`"]),
    ],
)
def test_scripts_regenerate_says_what_to_do_for_what_it_lists(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    listed: str,
    said: str,
    unsaid: list[str],
) -> None:
    # After one new error code came a paragraph of what to do for fields, enum values,
    # required fields, reply objects and request fields as well, the code's words amid.
    monkeypatch.setattr(regen, "uncovered_fields", lambda: [listed])
    monkeypatch.setattr(regen, "unsent_fields", list)
    assert regen.cmd_coverage() == 1
    advice = capsys.readouterr().out.split(f"  - {listed}", 1)[1]
    assert said in advice
    for other in unsaid:
        assert other not in advice


def test_scripts_regenerate_names_the_file_of_each_listed_fields_declaration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A maintainer who added a field to Checkpoint read "  - Checkpoint.<field>" and a
    # paragraph of what to do "next to its converter", with a grep to find where that is.
    new = _absent_name(SCHEMAS["Checkpoint"]["properties"])
    value = _absent_name(SCHEMAS["CheckpointStatus"]["enum"])
    listed = [f"Checkpoint.{new}", f"CheckpointStatus value {value!r}", "Quota (a reply object)"]
    monkeypatch.setattr(regen, "uncovered_fields", lambda: listed)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    assert f"  - Checkpoint.{new} (its WireFields: weaver_facade/_checkpoints.py)\n" in out
    assert (
        f"  - CheckpointStatus value {value!r} (its WireValues: weaver_facade/_checkpoints.py)\n"
    ) in out
    assert "  - Quota (a reply object)\n" in out


# -- the routes ------------------------------------------------------------------------------


def _spec_with_route(tmp_path: Path) -> tuple[Path, str]:
    """openapi.yaml with a GET route of an operationId no spec has, its reply a Session
    (an object the coverage already knows), written to ``tmp_path``, and that operationId,
    also the route's path under /api/v1."""
    document = openapi()
    taken = {
        str(op.get("operationId"))
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
    }
    new = _absent_name(taken)
    reply = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}
    document["paths"][f"/api/v1/{new}"] = {
        "get": {
            "tags": ["sessions"],
            "operationId": new,
            "summary": "A route the facade has yet to call",
            "responses": {"200": {"description": "The session.", **reply}},
        }
    }
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return spec, new


def test_every_route_is_called_or_not_called_with_a_reason() -> None:
    assert regen.uncalled_routes() == []
    assert all(reason.strip() for reason in regen.NOT_CALLED.values())


def test_scripts_regenerate_lists_a_route_the_facade_does_not_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A route added to the spec left the coverage clean and its exit status 0: only the
    # tests that hold the spec to the wire's route list, run later, said anything.
    spec, new = _spec_with_route(tmp_path)
    monkeypatch.setattr(regen, "SPEC", spec)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    assert f"  - GET /api/v1/{new} ({new}: a route the facade does not call)\n" in out
    advice = out.split("what to do:", 1)[1]
    assert "`NOT_CALLED` of scripts/_regenerate.py" in advice
    # The emulator serves each route by hand: a route it lacks answered 404 to the
    # emulator's schemathesis tests and the contract kit, far from its cause.
    assert "`ROUTES` in weaver_facade/emulator/_app.py" in advice
    assert "`left_out`" not in advice


def test_scripts_regenerate_says_a_mapped_enum_value_is_read_in_replies_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A renamed CheckpointType value given its old member by `mapped`, as the advice said,
    # passed the coverage and mypy, and every save then raised a ValueError: the facade
    # sends the member's own value.
    monkeypatch.setattr(regen, "uncovered_fields", lambda: ["CheckpointType value 'merged'"])
    monkeypatch.setattr(regen, "unsent_fields", list)
    assert regen.cmd_coverage() == 1
    advice = capsys.readouterr().out.split("what to do:", 1)[1]
    assert "`mapped` value is read in replies only" in advice


def test_every_called_route_has_one_reply_schema_or_tells_them_apart() -> None:
    assert regen.mixed_replies() == []


def test_a_called_route_whose_success_replies_differ_is_named() -> None:
    # A 202 Operation added to the model's create passed the coverage and mypy: the facade
    # reads a Model whatever the 2xx, and refused the 202 as "not in the spec".
    document = openapi()
    create = document["paths"]["/api/v1/sessions/{session_id}/models"]["post"]
    create["responses"]["202"] = {"$ref": "#/components/responses/OperationAccepted"}
    listed = regen.mixed_replies(document)
    assert listed == [
        "POST /api/v1/sessions/{session_id}/models (create_model: its success replies are "
        "201 Model and 202 Operation, which the facade reads as one)"
    ]
    assert regen._kind(listed[0]) == "replies"


def _route_of(document: dict[str, Any], module: str) -> tuple[str, dict[str, Any]]:
    """The route of the module ``module`` (``METHOD /path``) and its operation."""
    (key,) = (
        k for k, (_, m) in regen.route_modules(document).items() if m.endswith(f"/{module}.py")
    )
    method, _, path = key.partition(" ")
    return key, document["paths"][path][method.lower()]


def test_a_success_reply_changed_between_two_specs_is_named() -> None:
    before = openapi()
    after = copy.deepcopy(before)
    create = after["paths"]["/api/v1/sessions/{session_id}/models"]["post"]
    create["responses"]["202"] = {"$ref": "#/components/responses/OperationAccepted"}
    del after["paths"]["/api/v1/models"]  # a route dropped is the coverage's to name
    assert regen.reply_changes(before, after) == [
        "POST /api/v1/sessions/{session_id}/models (create_model): 201 Model -> "
        "201 Model and 202 Operation"
    ]
    assert regen.reply_changes(before, copy.deepcopy(before)) == []


def test_a_read_by_shape_entry_the_spec_does_not_have_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An entry left behind by a route the spec dropped or renamed said nothing: the next
    # route of that name would be read by a shape no one checked.
    stale = _absent_name(regen.READ_BY_SHAPE)
    entry = ({"200": "Artifact", "202": "Operation"}, "gone")
    monkeypatch.setattr(regen, "READ_BY_SHAPE", {**regen.READ_BY_SHAPE, stale: entry})
    listed = regen.mixed_replies()
    assert listed == [
        f"{stale} (in READ_BY_SHAPE of scripts/_regenerate.py, but the spec has no such route)"
    ]
    assert regen._kind(listed[0]) == "replies"


def test_a_read_by_shape_route_left_with_one_reply_schema_is_named() -> None:
    # The export's 202 dropped from the spec left its entry, and the facade's reply type
    # that tells an Operation from an Artifact, in place without a word.
    document = openapi()
    key, export = _route_of(document, "export_checkpoint")
    del export["responses"]["202"]
    listed = regen.mixed_replies(document)
    assert listed == [
        f"{key} (export_checkpoint: in READ_BY_SHAPE of scripts/_regenerate.py, but its "
        "success replies are 200 Artifact alone)"
    ]
    assert regen._kind(listed[0]) == "replies"


def test_a_read_by_shape_route_given_another_reply_schema_is_named() -> None:
    # A 201 Checkpoint added to the export passed: its entry was read as "any mix is told
    # apart", while the facade's reply type knows an Artifact and an Operation only.
    document = openapi()
    key, export = _route_of(document, "export_checkpoint")
    export["responses"]["201"] = {
        "description": "A checkpoint.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Checkpoint"}}},
    }
    listed = regen.mixed_replies(document)
    assert listed == [
        f"{key} (export_checkpoint: its success replies are 200 Artifact, 201 Checkpoint and "
        "202 Operation, but READ_BY_SHAPE of scripts/_regenerate.py tells 200 Artifact and "
        "202 Operation apart)"
    ]
    assert regen._kind(listed[0]) == "replies"


def test_a_read_by_shape_route_whose_schemas_change_status_is_named() -> None:
    # The export's Artifact moved from 200 to 201, or swapped with the Operation's 202,
    # passed: its schemas were still the two its entry names, but `ExportReply` tells a reply
    # whose `kind` says neither by its status, 200 the Artifact's.
    assert ExportReply.schema_of({}, 200) == "Artifact"
    assert ExportReply.schema_of({}, 201) == "Operation"
    told = "but READ_BY_SHAPE of scripts/_regenerate.py tells 200 Artifact and 202 Operation apart"
    document = openapi()
    key, export = _route_of(document, "export_checkpoint")
    export["responses"]["201"] = export["responses"].pop("200")
    listed = regen.mixed_replies(document)
    assert listed == [
        f"{key} (export_checkpoint: its success replies are 201 Artifact and 202 Operation, {told})"
    ]
    assert regen._kind(listed[0]) == "replies"
    responses = export["responses"]
    responses["200"], responses["202"] = responses.pop("202"), responses.pop("201")
    assert regen.mixed_replies(document) == [
        f"{key} (export_checkpoint: its success replies are 200 Operation and 202 Artifact, {told})"
    ]
    # Left without a success reply, it says so in words.
    del responses["200"], responses["202"]
    assert regen.mixed_replies(document) == [
        f"{key} (export_checkpoint: in READ_BY_SHAPE of scripts/_regenerate.py, but it has no "
        "success reply)"
    ]


def test_every_called_route_is_read_as_its_spec_reply() -> None:
    assert regen.misread_replies() == []


def _new_schema(document: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A schema of a name no spec has, added to ``document``, and a ``$ref`` to it."""
    new = _absent_name(document["components"]["schemas"])
    document["components"]["schemas"][new] = {"type": "object", "properties": {}}
    return new, {"$ref": f"#/components/schemas/{new}"}


def _swapped(document: dict[str, Any], module: str, schema: Mapping[str, Any]) -> str:
    """The route of ``module``, whose success replies ``document`` now makes one: 200, of
    ``schema``."""
    key, operation = _route_of(document, module)
    responses = operation["responses"]
    for status in [s for s in responses if str(s).startswith("2")]:
        del responses[status]
    responses["200"] = {
        "description": "A swapped reply.",
        "content": {"application/json": {"schema": schema}},
    }
    return key


def test_a_success_reply_swapped_for_another_schema_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The model's create changed from `201 Model` to `202 Operation` passed the coverage and
    # mypy: only scripts/regenerate's comparison with the last commit said so, once, and the
    # facade would have read an Operation as a Model.
    document = openapi()
    new, ref = _new_schema(document)
    # What the core reads today is the spec's reply (the test above): the one swapped away.
    create, terminate = "create_model", "terminate_model"
    was = {
        module: set(regen.success_replies(document, _route_of(document, module)[0]).values())
        for module in (create, terminate)
    }
    keys = {
        create: _swapped(document, create, ref),
        # A terminate's reply may be anything besides its Model: the Model swapped too.
        terminate: _swapped(document, terminate, {"anyOf": [ref, {"description": "Other."}]}),
    }
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(regen, "SPEC", spec)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    expected = []
    for module, said in ((create, new), (terminate, f"{new} or anything")):
        (read,) = was[module]
        where = _first_line("_calls", f"_{module}._get_kwargs")
        expected.append(
            f"{keys[module]} ({module}: its success reply is 200 {said}, but the core reads "
            f"it as {read} at {where})"
        )
    assert [line for line in out.splitlines() if "but the core reads" in line] == [
        f"  - {line}" for line in expected
    ]
    assert "the second argument of `_call`" in out.split("what to do:", 1)[1]
    assert {regen._kind(line) for line in regen.misread_replies(document)} == {"read"}


def test_a_reply_the_core_reads_as_another_schema_or_cannot_be_told_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other side of a swap: each route of the spec gives one schema of a name no spec
    # has, and a core of its own reads each as its source says.
    document = openapi()
    new, ref = _new_schema(document)
    keys = {m: _swapped(document, m, ref) for m in ("get_model", "list_models", "get_checkpoint")}
    keys["terminate_model"] = _swapped(
        document, "terminate_model", {"anyOf": [ref, {"description": "Other."}]}
    )
    core = tmp_path / "weaver_facade"
    core.mkdir()
    lines = [
        "import weaver_client.api.checkpoints.get_checkpoint as _get_checkpoint",
        "import weaver_client.api.models.get_model as _get_model",
        "import weaver_client.api.models.list_models as _list_models",
        "import weaver_client.api.models.terminate_model as _terminate_model",
        "import weaver_client.api.sessions.send_heartbeat as _send_heartbeat",
        "class Reply(MaybeResource):",
        f"    RESOURCE = {new!r}",
        f"_call(_get_model._get_kwargs, wire.{new}, 'm')",
        "_call(_terminate_model._get_kwargs, Reply, 'm')",
        "ignore_body(_call(_send_heartbeat._get_kwargs, NoBody, 's'))",
        "_call(_list_models._get_kwargs, wire.Checkpoint, limit=1, offset=0)",
        "_wrapped(_get_checkpoint._get_kwargs, 'c')",
    ]
    (core / "_core.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    listed = regen.misread_replies(document)
    assert sorted(listed) == sorted(
        [
            f"{keys['list_models']} (list_models: its success reply is 200 {new}, but the core "
            "reads it as Checkpoint at weaver_facade/_core.py:11)",
            f"{keys['get_checkpoint']} (get_checkpoint: called at weaver_facade/_core.py:12, but "
            "not through `_calls._call`, whose second argument is the schema the coverage reads "
            "its reply as)",
        ]
    )
    assert {regen._kind(line) for line in listed} == {"read"}


def test_a_reply_read_as_the_spec_says_is_told_however_the_source_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `_call`'s model given by keyword, and a reply type's `RESOURCE` annotated (as mypy
    # may want it), were each listed as a call not through `_calls._call`.
    document = openapi()
    new, ref = _new_schema(document)
    _swapped(document, "get_model", ref)
    _swapped(document, "terminate_model", {"anyOf": [ref, {"description": "Other."}]})
    core = tmp_path / "weaver_facade"
    core.mkdir()
    lines = [
        "import weaver_client.api.models.get_model as _get_model",
        "import weaver_client.api.models.terminate_model as _terminate_model",
        "class Reply(MaybeResource):",
        f"    RESOURCE: ClassVar[str] = {new!r}",
        f"_call(_get_model._get_kwargs, model=wire.{new}, model_id='m')",
        "_call(_terminate_model._get_kwargs, Reply, 'm')",
    ]
    (core / "_core.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    assert regen.misread_replies(document) == []
    # And read as what they say: the spec's reply swapped again, each is listed.
    other = _absent_name({**document["components"]["schemas"], new: {}})
    document["components"]["schemas"][other] = {"type": "object", "properties": {}}
    _swapped(document, "get_model", {"$ref": f"#/components/schemas/{other}"})
    _swapped(document, "terminate_model", {"$ref": f"#/components/schemas/{other}"})
    listed = regen.misread_replies(document)
    assert len(listed) == 2
    assert all(", but the core reads it as " in line for line in listed)
    assert sorted(line.rpartition(" at ")[2] for line in listed) == [
        "weaver_facade/_core.py:5)",
        "weaver_facade/_core.py:6)",
    ]


def test_a_reply_type_of_another_core_module_is_read_as_its_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A `MaybeResource` reply type moved out of the module that calls `_call` (into _wire.py,
    # beside its base) was read as no schema: its call was listed as "not through
    # `_calls._call`", which it was, and what it reads went unchecked.
    document = openapi()
    new, ref = _new_schema(document)
    modules = ("terminate_model", "delete_checkpoint", "set_checkpoint_ttl", "get_model")
    for module in modules:
        _swapped(document, module, {"anyOf": [ref, {"description": "Other."}]})
    core = tmp_path / "weaver_facade"
    core.mkdir()
    (core / "_replies.py").write_text(
        f"class Reply(MaybeResource):\n    RESOURCE = {new!r}\n", encoding="utf-8"
    )
    # Imported on, under another name, and as an attribute of its module (or of another's).
    (core / "_again.py").write_text("from ._replies import Reply\n", encoding="utf-8")
    lines = [
        "import weaver_client.api.checkpoints.delete_checkpoint as _delete_checkpoint",
        "import weaver_client.api.checkpoints.set_checkpoint_ttl as _set_checkpoint_ttl",
        "import weaver_client.api.models.get_model as _get_model",
        "import weaver_client.api.models.terminate_model as _terminate_model",
        "from . import _again as again, _replies",
        "from ._again import Reply as Mine",
        "_call(_terminate_model._get_kwargs, Mine, 'm')",
        "_call(_delete_checkpoint._get_kwargs, _replies.Reply, 'c')",
        "_call(_set_checkpoint_ttl._get_kwargs, again.Reply, 'm')",
        "calls._call(_get_model._get_kwargs, Mine, 'm')",
    ]
    (core / "_core.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    assert regen.misread_replies(document) == []
    # And read as its `RESOURCE`: the spec's reply swapped again, each call is listed.
    other = _absent_name({**document["components"]["schemas"], new: {}})
    document["components"]["schemas"][other] = {"type": "object", "properties": {}}
    keys = [_swapped(document, m, {"$ref": f"#/components/schemas/{other}"}) for m in modules]
    assert sorted(regen.misread_replies(document)) == sorted(
        f"{key} ({module}: its success reply is 200 {other}, but the core reads it as {new} "
        f"or anything at weaver_facade/_core.py:{line})"
        for line, (key, module) in enumerate(zip(keys, modules, strict=True), start=7)
    )


def test_a_call_through_call_of_a_model_the_source_does_not_tell_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A `_call` whose second argument names no schema (a variable) was said to be "not
    # through `_calls._call`", which sent the maintainer looking for another function.
    document = openapi()
    key, _ = _route_of(document, "get_model")
    core = tmp_path / "weaver_facade"
    core.mkdir()
    lines = [
        "import weaver_client.api.models.get_model as _get_model",
        "_call(_get_model._get_kwargs, model, 'm')",
    ]
    (core / "_core.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    listed = regen.misread_replies(document)
    assert listed == [
        f"{key} (get_model: called through `_calls._call` at weaver_facade/_core.py:2, but its "
        "second argument, `model`, names no schema the coverage can read: `wire.Model`, "
        "`NoBody`, or a reply type of the core with its `RESOURCE`)"
    ]
    assert regen._kind(listed[0]) == "read"


# A reply's schema that may also be null, as OpenAPI 3.1 writes it and as 3.0 did.
NULLABLE: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "anyOf": lambda ref: {"anyOf": [ref, {"type": "null"}]},
    "oneOf": lambda ref: {"oneOf": [{"type": "null", "description": "None yet."}, ref]},
    "nullable": lambda ref: {"allOf": [ref], "nullable": True},
}


@pytest.mark.parametrize("wrapper", NULLABLE)
def test_a_reply_of_the_cores_schema_or_null_is_named_as_such(wrapper: str) -> None:
    # `anyOf: [Model, null]` was said `an object in place`. It is the model or null, which
    # the core, reading the model alone, must not be said to read: the generated parser
    # hands it a null (or a body that breaks Model) unchecked, refused as "unexpected HTTP
    # status 200 (not in the spec, ...)" though the spec has it.
    document = openapi()
    nullable = NULLABLE[wrapper]
    key = _swapped(document, "get_model", nullable({"$ref": "#/components/schemas/Model"}))
    where = _first_line("_calls", "_get_model._get_kwargs")
    assert regen.misread_replies(document) == [
        f"{key} (get_model: its success reply is 200 Model or null, but the core reads it as "
        f"Model at {where})"
    ]
    # Beside a reply of the model alone, it is another schema of the route.
    operation = _route_of(document, "get_model")[1]
    operation["responses"]["201"] = {
        "description": "The model alone.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}},
    }
    assert regen.misread_replies(document) == []
    assert regen.mixed_replies(document) == [
        f"{key} (get_model: its success replies are 200 Model or null and 201 Model, which "
        "the facade reads as one)"
    ]
    # Another schema, nullable, is named so too.
    new, ref = _new_schema(document)
    key = _swapped(document, "get_model", nullable(ref))
    assert regen.misread_replies(document) == [
        f"{key} (get_model: its success reply is 200 {new} or null, but the core reads it as "
        f"Model at {where})"
    ]


def test_a_reply_of_the_cores_schema_alone_in_all_of_is_read_as_it() -> None:
    # OpenAPI 3.0 wraps a $ref so (to give it a description, say): the generator reads the
    # model, as the core does.
    document = openapi()
    _swapped(document, "get_model", {"allOf": [{"$ref": "#/components/schemas/Model"}]})
    assert regen.misread_replies(document) == []


def test_a_not_called_entry_the_spec_does_not_have_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = _absent_name(regen.NOT_CALLED)
    monkeypatch.setattr(regen, "NOT_CALLED", {**regen.NOT_CALLED, stale: "gone"})
    assert regen.uncalled_routes() == [
        f"{stale} (in NOT_CALLED of scripts/_regenerate.py, but the spec has no such route)"
    ]


def test_a_route_is_known_by_the_module_the_generator_makes_of_its_operation_id() -> None:
    # `listModels` is the facade's list_models module, whose route the coverage said the
    # facade does not call, and that the spec no longer has.
    document = openapi()
    forward = document["paths"]["/api/v1/models/{model_id}/forward-passes"]["post"]
    document["paths"]["/api/v1/models"]["get"]["operationId"] = "listModels"
    forward["operationId"] = "Forward"
    assert regen.uncalled_routes(document) == []
    forward["operationId"] = "forwardPass"
    assert regen.uncalled_routes(document) == [
        "POST /api/v1/models/{model_id}/forward-passes (forwardPass: a route the facade does "
        "not call)",
        "forward (in NOT_CALLED of scripts/_regenerate.py, but the spec has no such route)",
    ]


# -- the operation kinds' results ------------------------------------------------------------


def test_every_operation_kind_has_its_result_schema() -> None:
    assert regen.kinds_without_results(openapi()) == []


def test_scripts_regenerate_lists_an_operation_kind_without_a_result_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A kind added to OperationKind was listed as a value the facade has no member for, and
    # not as one whose done operation has no result schema: the tests said so, later.
    document = openapi()
    kinds = document["components"]["schemas"]["OperationKind"]["enum"]
    new = _absent_name(kinds)
    kinds.append(new)
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(regen, "SPEC", spec)
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    assert (
        f"  - OperationKind value {new!r} (no result schema: `x-weaver-result-schemas` of "
        "OperationResult names none for it)\n"
    ) in out
    advice = out.split("what to do:", 1)[1]
    assert "openapi.yaml" in advice
    assert "`left_out`" not in advice


def test_a_result_schema_of_no_kind_or_of_no_schema_is_named() -> None:
    document = openapi()
    results = document["components"]["schemas"]["OperationResult"]["x-weaver-result-schemas"]
    stale = _absent_name(results)
    missing = _absent_name(document["components"]["schemas"])
    results[stale] = "Checkpoint"
    results["optim_step"] = missing
    assert regen.kinds_without_results(document) == [
        f"OperationResult kind 'optim_step' (its result schema `{missing}` in "
        "`x-weaver-result-schemas` is no schema of components/schemas)",
        f"OperationResult kind {stale!r} (in `x-weaver-result-schemas`, but OperationKind "
        "has no such value)",
    ]


# -- a facade that no longer follows the new client ------------------------------------------


def _line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` that holds ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _without_list_artifacts(document: dict[str, Any]) -> None:
    del document["paths"]["/api/v1/checkpoints/{checkpoint_id}/artifacts"]


def test_a_route_the_facade_calls_that_the_spec_dropped_is_named() -> None:
    document = openapi()
    _without_list_artifacts(document)
    calls = ROOT / "weaver_facade" / "_calls.py"
    line = _line_of(calls, "import weaver_client.api.artifacts.list_artifacts as ")
    assert regen.uncalled_routes(document) == [
        f"list_artifacts (a route the facade calls, imported at weaver_facade/_calls.py:{line}, "
        "but the spec no longer has it)"
    ]


def test_scripts_regenerate_says_what_to_do_for_a_route_the_spec_dropped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = openapi()
    _without_list_artifacts(document)
    monkeypatch.setattr(regen, "load_document", lambda _: document)
    monkeypatch.setattr(regen, "_facade_problems", list)
    assert regen.cmd_coverage() == 1
    advice = capsys.readouterr().out.split("what to do:", 1)[1]
    assert "remove its call from weaver_facade/_calls.py" in advice
    assert "`NOT_CALLED`" not in advice


def test_the_request_side_is_read_without_a_route_the_spec_dropped(tmp_path: Path) -> None:
    # The route's module is gone from the new client: reading which keywords its request
    # takes stopped the whole list at that ModuleNotFoundError.
    with _trial(tmp_path, _without_list_artifacts) as trial:
        assert [p for p in regen.unsent_fields(trial) if p not in UNSENT_TODAY] == []


def test_a_facade_that_does_not_import_names_where_and_the_rest_is_still_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bound the spec dropped: the facade reads it as it imports. The list stopped at the
    # AttributeError, without the file that reads it, and without a route added too.
    spec, new = _spec_with_route(tmp_path)
    monkeypatch.setattr(regen, "SPEC", spec)
    monkeypatch.delattr(limits, "LORA_CONFIG_RANK_MAXIMUM")
    monkeypatch.delitem(sys.modules, "weaver_facade._models")  # imported again, and fails
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    line = _line_of(ROOT / "weaver_facade" / "_models.py", "limits.LORA_CONFIG_RANK_MAXIMUM")
    assert (
        f"the facade does not import against the new client: weaver_facade/_models.py:{line}: "
        "AttributeError: module 'weaver_client.limits' has no attribute "
        "'LORA_CONFIG_RANK_MAXIMUM'\n"
    ) in out
    assert f"  - GET /api/v1/{new} ({new}: a route the facade does not call)\n" in out


def test_a_facade_that_fails_on_import_otherwise_names_where_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A default the spec dropped, read by key as the facade imports: a KeyError, told as
    # "the field coverage could not be read: KeyError: 'ttl_seconds'", with no file.
    defaults = {k: v for k, v in limits.EXPORT_REQUEST_DEFAULTS.items() if k != "ttl_seconds"}
    monkeypatch.setattr(limits, "EXPORT_REQUEST_DEFAULTS", defaults)
    monkeypatch.delitem(sys.modules, "weaver_facade._training")  # imported again, and fails
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    training = ROOT / "weaver_facade" / "_training.py"
    line = _line_of(training, 'limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]')
    assert (
        f"the facade does not import against the new client: weaver_facade/_training.py:{line}: "
        "KeyError: 'ttl_seconds'\n"
    ) in out
    assert "`mypy --strict weaver_facade` names every place" in out


def test_a_facade_whose_import_raises_deeper_names_its_line_without_sending_to_mypy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bound the facade's own defaults break: `AdamParams()` raises in `_types.py` as
    # `_training.py` imports. It was told as "the field coverage could not be read: ...;
    # run `mypy --strict` on it", which found nothing.
    monkeypatch.setattr(limits, "ADAM_PARAMS_LEARNING_RATE_MAXIMUM", 1e-05)
    monkeypatch.delitem(sys.modules, "weaver_facade._types")
    monkeypatch.delitem(sys.modules, "weaver_facade._training")
    assert regen.cmd_coverage() == 1
    out = capsys.readouterr().out
    line = _line_of(ROOT / "weaver_facade" / "_training.py", "= AdamParams()")
    assert (
        f"the facade does not import against the new client: weaver_facade/_training.py:{line}: "
        "InvalidArgumentError: AdamParams: 0 <= learning_rate <= 1e-05 is required, "
        "got 0.0001\n"
    ) in out
    assert "mypy" not in out


def test_scripts_regenerate_heads_its_list_with_what_it_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A list of one route came under a heading of spec fields, enum values, error codes and
    # request fields, which were not even checked when the facade did not import.
    monkeypatch.setattr(regen, "_facade_problems", list)
    monkeypatch.setattr(regen, "kinds_without_results", list)
    route = "DELETE /api/v1/sessions/{session_id} (close_session: a route the facade does not call)"
    monkeypatch.setattr(regen, "uncalled_routes", lambda: [route])
    assert regen.cmd_coverage() == 1
    heading = capsys.readouterr().out.split(f"  - {route}", 1)[0]
    assert "routes it neither calls nor lists as not called" in heading
    for unlisted in ("spec fields", "enum values", "error codes", "request fields"):
        assert unlisted not in heading
    assert set(regen.HEADINGS) == set(regen.ADVICE)
