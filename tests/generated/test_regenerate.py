"""Regeneration is pinned, deterministic, and notices any drift."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]

regen = load_script("_regenerate")


def test_two_runs_give_identical_trees(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = regen.generate(regen.SPEC, tmp_path / "a")
    second = regen.generate(regen.SPEC, tmp_path / "b")
    files = regen.tree_files(first)
    assert files == regen.tree_files(second)
    assert "py.typed" in files
    assert "api/checkpoints/save_checkpoint.py" in files
    # Nothing from the tools leaks into the tree.
    assert not any(name.startswith(".") or "/." in name for name in files)


def test_checked_in_client_matches_the_spec(tmp_path: Path) -> None:
    fresh = regen.generate(regen.SPEC, tmp_path)
    assert regen.diff_trees(fresh, regen.TARGET) == []


def test_a_one_character_schema_change_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = regen.SPEC.read_text(encoding="utf-8")
    before = "description: Seconds from now until the checkpoint expires"
    assert before in text
    changed = tmp_path / "openapi.yaml"
    changed.write_text(text.replace(before, before.replace("Seconds", "seconds")), "utf-8")
    monkeypatch.setattr(regen, "SPEC", changed)

    assert regen.cmd_check() == 1
    err = capsys.readouterr().err
    assert "has drifted from openapi.yaml" in err
    assert "(checked in)" in err
    assert "+        ttl_seconds (int | None | Unset): seconds from now" in err


def test_a_wrong_generator_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regen, "GENERATOR_VERSION", "0.0.1")
    with pytest.raises(regen.RegenerateError, match=r"pinned to 0\.0\.1"):
        regen.check_generator_version()


def test_a_schema_the_generator_cannot_handle_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two schemas that would both generate a model named ErrorDetails: the
    # generator drops one and still exits 0; regeneration must not.
    text = regen.SPEC.read_text(encoding="utf-8")
    broken = text.replace("    OperationErrorDetails:\n", "    ErrorDetails:\n", 1).replace(
        "'#/components/schemas/OperationErrorDetails'", "'#/components/schemas/ErrorDetails'"
    )
    assert broken != text
    spec = tmp_path / "openapi.yaml"
    spec.write_text(broken, "utf-8")
    (tmp_path / "out").mkdir()
    with pytest.raises(regen.RegenerateError, match="duplicate models"):
        regen.generate(spec, tmp_path / "out")


def _spec_with(tmp_path: Path, changes: dict[str, str]) -> Path:
    """``tmp_path/openapi.yaml``: the spec with each text of ``changes``, found once in it,
    made its value, in order."""
    text = regen.SPEC.read_text(encoding="utf-8")
    for good, bad in changes.items():
        assert text.count(good) == 1, good
        text = text.replace(good, bad)
    spec = tmp_path / "openapi.yaml"
    spec.write_text(text, "utf-8")
    return spec


def _refused(tmp_path: Path, good: str, bad: str) -> Exception:
    """Why the spec is refused with its one ``good`` text made ``bad``; nothing generated."""
    spec = _spec_with(tmp_path, {good: bad})
    (tmp_path / "out").mkdir()
    with pytest.raises(regen.RegenerateError) as refused:
        regen.generate(spec, tmp_path / "out")
    assert not (tmp_path / "out" / "weaver_client").exists()
    error: Exception = refused.value
    return error


def test_a_misspelt_reference_is_named_in_one_line(tmp_path: Path) -> None:
    good = "        lora_config:\n          $ref: '#/components/schemas/LoraConfig'"
    refused = _refused(tmp_path, good, good.replace("Config'", "Confg'"))
    assert str(refused) == (
        "openapi.yaml: $ref '#/components/schemas/LoraConfg' names nothing "
        "(at components.schemas.CreateModelRequest.properties.lora_config)"
    )


@pytest.mark.parametrize("ref", ["LoraConfig", "#components/schemas/LoraConfig", "lora.yaml"])
def test_a_reference_outside_the_file_is_named_in_one_line(tmp_path: Path, ref: str) -> None:
    # openapi-spec-validator said `Unresolvable: LoraConfig`, and not where it stood.
    good = "        lora_config:\n          $ref: '#/components/schemas/LoraConfig'"
    refused = _refused(tmp_path, good, good.replace("#/components/schemas/LoraConfig", ref))
    assert str(refused) == (
        f"openapi.yaml: $ref {ref!r} names nothing: the spec is one file, whose references "
        "start with `#/` (at components.schemas.CreateModelRequest.properties.lora_config)"
    )


# LoraConfig's
RANK = "        rank:\n          type: integer\n          minimum: 1\n          maximum: 256\n"


def _refused_by_spec_validator(spec: Path) -> bool:
    """Whether `openapi-spec-validator`, as scripts/test runs it, refuses ``spec``."""
    from openapi_spec_validator.__main__ import main

    try:
        main([str(spec)])
    except SystemExit as ended:
        return ended.code != 0
    return False


def test_a_bound_written_as_a_string_is_refused_before_generating(tmp_path: Path) -> None:
    # `minimum: '1'` generated cleanly: limits.py got the string '1', and the maintainer
    # learnt of it from mypy, in the facade, far from the spec.
    refused = _refused(tmp_path, RANK, RANK.replace("minimum: 1", "minimum: '1'"))
    assert str(refused) == (
        "openapi.yaml: not valid OpenAPI 3.1.0 (rule `type: number`): '1' is not of type "
        "'number' (at components.schemas.LoraConfig.properties.rank.minimum)"
    )
    assert _refused_by_spec_validator(tmp_path / "openapi.yaml")


@pytest.mark.parametrize(
    ("good", "bad", "said"),
    [
        (  # the generator's report of it was a page of pydantic's
            RANK,
            RANK.replace("type: integer", "type: integr"),
            "(rule `anyOf`): 'integr' is not valid under any of the given schemas ('integr' "
            "is not one of ['array', 'boolean', 'integer', 'null', 'number', 'object', "
            "'string']; 'integr' is not of type 'array') "
            "(at components.schemas.LoraConfig.properties.rank.type)",
        ),
        (  # OpenAPI 3.0's way, in a 3.1 document
            RANK,
            RANK + "          required: true\n",
            "(rule `type: array`): True is not of type 'array' "
            "(at components.schemas.LoraConfig.properties.rank.required)",
        ),
        (  # the generator took it, and dropped it
            "      operationId: list_supported_models\n",
            "      operationId: list_supported_models\n      sumary: typo\n",
            "(rule `unevaluatedProperties`): Unevaluated properties are not allowed ('sumary' "
            "was unexpected) (at paths./api/v1/supported-models.get)",
        ),
    ],
    ids=["misspelt type", "required as a flag", "unknown key"],
)
def test_what_the_spec_validator_refuses_is_named_with_its_rule_and_place(
    tmp_path: Path, good: str, bad: str, said: str
) -> None:
    refused = _refused(tmp_path, good, bad)
    assert str(refused) == f"openapi.yaml: not valid OpenAPI 3.1.0 {said}"
    assert _refused_by_spec_validator(tmp_path / "openapi.yaml")


def test_the_faults_listed_are_the_first_ten() -> None:
    schemas = {f"S{n:02}": {"type": "integer", "minimum": str(n)} for n in range(12)}
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    faults = list(regen.invalid_openapi({**document, "components": {"schemas": schemas}}))
    assert faults[-1] == "... and 2 more (`openapi-spec-validator` lists them)"
    assert [fault.rpartition(" (at ")[2] for fault in faults[:-1]] == [
        f"components.schemas.S{n:02}.minimum)" for n in range(10)
    ]


def test_a_spec_the_validator_cannot_read_is_named_in_one_line() -> None:
    document: dict[str, object] = {"info": {"title": "t", "version": "1"}, "paths": {}}
    assert list(regen.invalid_openapi(document)) == [
        "the document names no OpenAPI version (`openapi: 3.1.0`, say)"
    ]
    assert list(regen.invalid_openapi({**document, "openapi": "2.5"})) == [
        "`openapi: 2.5` is no OpenAPI version openapi-spec-validator knows"
    ]
    # Another file, which the validator looks for beside the spec: its exception was a page.
    elsewhere = {"schemas": {"A": {"$ref": "other.yaml#/components/schemas/S"}}}
    uri = (ROOT / "openapi.yaml").as_uri()
    document = {**document, "openapi": "3.1.0", "components": elsewhere}
    assert list(regen.invalid_openapi(document, uri)) == [
        "openapi-spec-validator could not read it: Unresolvable: other.yaml#/components/schemas/S"
    ]


def test_a_spec_the_validator_refuses_leaves_generated_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "generated" / "weaver_client"
    target.parent.mkdir()
    regen.generate(regen.SPEC, target.parent)
    before = regen.tree_files(target)
    spec = tmp_path / "openapi.yaml"
    text = regen.SPEC.read_text(encoding="utf-8")
    spec.write_text(text.replace(RANK, RANK.replace("maximum: 256", "maximum: '256'")), "utf-8")
    monkeypatch.setattr(regen, "SPEC", spec)
    monkeypatch.setattr(regen, "TARGET", target)

    assert regen.main([]) == 2
    assert regen.tree_files(target) == before
    assert capsys.readouterr().err == (
        "error: openapi.yaml: not valid OpenAPI 3.1.0 (rule `type: number`): '256' is not of "
        "type 'number' (at components.schemas.LoraConfig.properties.rank.maximum)\n"
    )


def test_a_yaml_mistake_is_named_in_one_line(tmp_path: Path) -> None:
    # A missing `]` was a page of PyYAML's traceback out of scripts/regenerate.
    good = "x-weaver-terminal: [done, error]"
    refused = _refused(tmp_path, good, good.rstrip("]"))
    text = regen.SPEC.read_text(encoding="utf-8")
    line = text[: text.index(good)].count("\n") + 2  # the parser notices on the next line
    assert str(refused).startswith(f"openapi.yaml is not valid YAML: line {line}, ")
    assert "\n" not in str(refused)


def test_from_with_a_yaml_mistake_in_openapi_yaml_names_it_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--from` read the local spec with a plain `yaml.safe_load`: a page of PyYAML's
    # traceback, after the server had been asked.
    good = "x-weaver-terminal: [done, error]"
    text = regen.SPEC.read_text(encoding="utf-8")
    spec = tmp_path / "openapi.yaml"
    spec.write_text(text.replace(good, good.rstrip("]")), encoding="utf-8")
    monkeypatch.setattr(regen, "SPEC", spec)
    asked: list[str] = []

    def fetch(url: str, api_key: str | None) -> tuple[str, dict[str, object]]:
        asked.append(url)
        return url, {"openapi": "3.1.0"}

    monkeypatch.setattr(regen, "fetch_spec", fetch)
    assert regen.main(["--from", "http://127.0.0.1:9/openapi.yaml"]) == 2
    err = capsys.readouterr().err
    line = text[: text.index(good)].count("\n") + 2
    assert err.startswith(f"error: openapi.yaml is not valid YAML: line {line}, "), err
    assert err.count("\n") == 1, err
    assert asked == []


def test_from_summarises_changed_bounds_and_field_definitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The summary named added and removed fields only: a server's tighter name length, a
    # shorter TTL or a field of another type were in the diff alone, which stops after
    # MAX_DIFF_LINES, although the facade, the CLI and the emulator follow each bound.
    local = regen.load_document(regen.SPEC)
    live = copy.deepcopy(local)
    schemas = live["components"]["schemas"]
    schemas["CheckpointName"]["maxLength"] = 64
    del schemas["TtlSeconds"]["maximum"]
    schemas["Error"]["properties"]["error"]["x-weaver-codes"]["quota_exceeded"] = 403
    size = schemas["Checkpoint"]["properties"]["size_bytes"]
    size["type"], size["description"] = "string", "Now a decimal string."
    del size["minimum"]
    # A field gone takes its limits along: its own line says so.
    del schemas["Model"]["properties"]["next_seq_id"]
    get_operation = live["paths"]["/api/v1/operations/{operation_id}"]["get"]
    get_operation["parameters"] = [
        p for p in get_operation["parameters"] if p.get("name") != "wait"
    ]
    save = live["paths"]["/api/v1/models/{model_id}/checkpoints"]["post"]
    save["parameters"] = [*save.get("parameters", []), {"name": "dry_run", "in": "query"}]
    monkeypatch.setattr(regen, "fetch_spec", lambda url, key: (url, live))
    monkeypatch.setattr(regen, "MAX_DIFF_LINES", 0)
    assert regen.main(["--from", "http://127.0.0.1:9/openapi.yaml"]) == 1
    out = capsys.readouterr().out
    summary = out.split("summary:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert summary == [
        "  - GET /api/v1/operations/{operation_id}: query parameter `wait` missing on the server",
        "  - POST /api/v1/models/{model_id}/checkpoints: server adds query parameter `dry_run`",
        "  - Checkpoint: field `size_bytes` differs on the server",
        "  - Model: field `next_seq_id` missing on the server",
        "  - limit CHECKPOINT_NAME_MAX_LENGTH: 128 -> 64",
        "  - limit CHECKPOINT_SIZE_BYTES_MINIMUM: 0 -> none",
        "  - limit ERROR_ERROR_CODES['quota_exceeded']: none -> 403",
        "  - limit TTL_SECONDS_MAXIMUM: 315360000 -> none",
    ]


def test_a_spec_that_is_not_utf_8_is_named_in_one_line(tmp_path: Path) -> None:
    # A Latin-1 `é`, as an editor may save one: read as text, it was a UnicodeDecodeError
    # and its traceback.
    text = regen.SPEC.read_bytes()
    spec = tmp_path / "openapi.yaml"
    spec.write_bytes(text.replace(b"\ninfo:", b"\n# caf\xe9\ninfo:", 1))
    assert spec.read_bytes() != text
    (tmp_path / "out").mkdir()
    with pytest.raises(regen.RegenerateError) as refused:
        regen.generate(spec, tmp_path / "out")
    said = str(refused.value)
    assert said.startswith("openapi.yaml is not valid YAML: "), said
    assert "UTF-8" in said
    assert "\n" not in said


def test_a_pattern_that_is_no_regular_expression_is_named(tmp_path: Path) -> None:
    # A `pattern` Python cannot compile was written into limits.py; the coverage then
    # said only "unterminated character set at position 14" and sent one to mypy,
    # which passed.
    good = "pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$'"  # CheckpointName's
    refused = _refused(tmp_path, good, good.replace("._-]", "._-"))
    assert str(refused) == (
        "openapi.yaml: pattern '^[A-Za-z0-9_-][A-Za-z0-9._-{0,127}$' is not a regular "
        "expression: unterminated character set at position 14 "
        "(at components.schemas.CheckpointName)"
    )
    # A field named `pattern` is no keyword.
    field = {"type": "object", "properties": {"pattern": {"type": "string"}}}
    assert list(regen.bad_patterns({"components": {"schemas": {"Glob": field}}})) == []


def test_a_pattern_without_its_words_is_named(tmp_path: Path) -> None:
    # The facade's refusals stated each pattern's rule in words of their own, which stayed
    # when the pattern changed: every pattern has its words in the spec, or no client.
    # Checkpoint.sha256's:
    good = "pattern: '^[0-9a-f]{64}$'\n          x-weaver-pattern-words: 64 lowercase hex digits\n"
    refused = _refused(tmp_path, good, good.split("\n")[0] + "\n")
    assert str(refused) == (
        "openapi.yaml: pattern '^[0-9a-f]{64}$' has no rule in words, "
        "`x-weaver-pattern-words` (at components.schemas.Checkpoint.properties.sha256)"
    )
    blank = {"type": "string", "pattern": "^a$", "x-weaver-pattern-words": " "}
    assert len(list(regen.bad_patterns({"components": {"schemas": {"A": blank}}}))) == 1


def test_a_default_changed_in_one_example_only_is_named(tmp_path: Path) -> None:
    # The defaults are read from the schema's example: a new default written in the
    # property's own example alone left the facade's default as it was, and said nothing.
    good = "maximum: 10\n          example: 0.0001\n"  # AdamParams.learning_rate's
    refused = _refused(tmp_path, good, good.replace("0.0001", "0.0002"))
    assert str(refused) == (
        "openapi.yaml: the example of property `learning_rate` is 0.0002, but the "
        "schema's example, which `x-weaver-example-is-default` makes the defaults, "
        "says 0.0001: make them agree (at components.schemas.AdamParams)"
    )
    # A property's `default` is held to it too, one beside a `$ref` as well (OpenAPI 3.1
    # allows it: `ExportRequest.ttl_seconds` given `default: 86400` regenerated cleanly);
    # the example of the schema a `$ref` names is that schema's.
    schema = {
        "x-weaver-example-is-default": True,
        "properties": {
            "force": {"default": True},
            "ttl": {"$ref": "#/x"},
            "keep": {"$ref": "#/x", "default": 86400},
        },
        "example": {"force": False, "ttl": 5, "keep": 604800},
    }
    found = list(regen.split_defaults({"components": {"schemas": {"E": schema}}}))
    assert found == [
        "the default of property `force` is True, but the schema's example, which "
        "`x-weaver-example-is-default` makes the defaults, says False: make them agree "
        "(at components.schemas.E)",
        "the default of property `keep` is 86400, but the schema's example, which "
        "`x-weaver-example-is-default` makes the defaults, says 604800: make them agree "
        "(at components.schemas.E)",
    ]
    # A boolean schema (3.1) has no example: nothing to hold, and no AttributeError.
    assert list(regen.split_defaults({"components": {"schemas": {"B": True}}})) == []


def test_a_default_its_own_schema_refuses_is_named_in_one_line(tmp_path: Path) -> None:
    # A page size's maximum lowered below its default regenerated cleanly: `list_models()`
    # with no page size was then refused, in words about a page size of 100 its caller
    # never gave ("page_size must be an int from 1 to 50; got 100").
    text = regen.SPEC.read_text(encoding="utf-8")
    at = text.index("maximum: 1000", text.index("operationId: list_models"))
    spec = tmp_path / "openapi.yaml"
    spec.write_text(text[:at] + "maximum: 50" + text[at + len("maximum: 1000") :], "utf-8")
    (tmp_path / "out").mkdir()
    with pytest.raises(regen.RegenerateError) as refused:
        regen.generate(spec, tmp_path / "out")
    assert not (tmp_path / "out" / "weaver_client").exists()
    assert str(refused.value) == (
        "openapi.yaml: the default 100 breaks its own schema: 100 is greater than the "
        "maximum of 50 (at paths./api/v1/models.get.parameters.0.schema)"
    )


def test_defaults_in_an_example_its_schema_refuses_are_named_in_one_line(
    tmp_path: Path,
) -> None:
    # AdamParams' learning rate, 20 in both its examples, beyond its maximum of 10:
    # regenerated cleanly, and then the facade did not import (its `AdamParams()` raised),
    # which the coverage sent to `mypy --strict` to find, where nothing was wrong.
    prop = "maximum: 10\n          example: 0.0001\n"
    example = "      example:\n        learning_rate: 0.0001\n"
    spec = _spec_with(
        tmp_path, {prop: prop.replace("0.0001", "20"), example: example.replace("0.0001", "20")}
    )
    (tmp_path / "out").mkdir()
    with pytest.raises(regen.RegenerateError) as refused:
        regen.generate(spec, tmp_path / "out")
    assert not (tmp_path / "out" / "weaver_client").exists()
    assert str(refused.value) == (
        "openapi.yaml: the example of AdamParams, which `x-weaver-example-is-default` "
        "makes the defaults, breaks its own schema: learning_rate: 20 is greater than the "
        "maximum of 10 (at components.schemas.AdamParams)"
    )
    # The spec as it is has none, and a response named `default` is no default value.
    assert list(regen.broken_defaults(regen.load_document(regen.SPEC))) == []
    document = {"paths": {"/x": {"get": {"responses": {"default": {"description": "x"}}}}}}
    assert list(regen.broken_defaults(document)) == []
    # A property named `default` is a schema like any other.
    field = {"type": "integer", "maximum": 1, "default": 2}
    named = {"components": {"schemas": {"A": {"properties": {"default": field}}}}}
    assert list(regen.broken_defaults(named)) == [
        "the default 2 breaks its own schema: 2 is greater than the maximum of 1 "
        "(at components.schemas.A.properties.default)"
    ]


def _component(schema: dict[str, object]) -> dict[str, object]:
    return {"openapi": "3.1.0", "components": {"schemas": {"S": schema}}}


def test_a_map_of_names_holds_no_default_but_its_entries_are_checked() -> None:
    # A discriminator's value `default` next to one named as a keyword (`pattern`) was read
    # as a schema: its target was refused as "does not match '#/components/schemas/B'".
    mapping = {"default": "#/components/schemas/A", "pattern": "#/components/schemas/B"}
    document = {
        "components": {
            "schemas": {
                "A": {"type": "object"},
                "B": {"type": "object"},
                "K": {"oneOf": [], "discriminator": {"propertyName": "k", "mapping": mapping}},
            }
        }
    }
    assert list(regen.broken_defaults(document)) == []
    # An entry named as a keyword or `default` is a schema like any other, and was skipped.
    bad = {"type": "integer", "maximum": 1, "default": 2}
    for name, schemas in [
        ("default", {"default": bad}),
        ("A.properties.example", {"A": {"properties": {"example": bad}}}),
        ("A.properties.enum", {"A": {"properties": {"enum": bad}}}),
    ]:
        (refused,) = regen.broken_defaults({"components": {"schemas": schemas}})
        assert refused.endswith(f"(at components.schemas.{name})"), refused


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "numbr", "default": 1},  # a misspelt type
        {"$ref": "other.yaml#/components/schemas/S", "default": 1},  # another file
        {"type": "integer", "maximum": "10", "default": 1},  # a bound as a string
    ],
)
def test_a_schema_the_default_check_cannot_read_is_left_to_the_generator(
    schema: dict[str, object],
) -> None:
    # The check of defaults raised its validator's own exception (`UnknownType`, a page of
    # its internals) where the generator names the schema's fault in one line.
    assert list(regen.broken_defaults(_component(schema))) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "nullable": True, "default": None},
        {"allOf": [{"type": "string", "enum": ["a"]}], "nullable": True, "default": None},
        {"type": "number", "minimum": 0, "exclusiveMinimum": True, "default": 0.5},
        {"type": "number", "maximum": 1, "exclusiveMaximum": False, "default": 1},
    ],
)
def test_openapi_3_0_words_the_generator_takes_break_no_default(
    schema: dict[str, object],
) -> None:
    # openapi-python-client reads `nullable: true` as a null type, and a boolean
    # `exclusiveMinimum` as excluding `minimum`, in a 3.1 document too; the check read
    # them as JSON Schema 2020-12 and refused such a spec, which the generator takes.
    assert list(regen.broken_defaults(_component(schema))) == []


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        (
            {"type": "integer", "nullable": True, "maximum": 1, "default": 2},
            "than the maximum of 1",
        ),
        (
            {"type": "number", "minimum": 0, "exclusiveMinimum": True, "default": 0},
            "equal to the minimum of 0",
        ),
        (
            {"type": "number", "maximum": 1, "exclusiveMaximum": True, "default": 1},
            "equal to the maximum of 1",
        ),
    ],
)
def test_openapi_3_0_words_still_hold_a_default_to_its_bounds(
    schema: dict[str, object], why: str
) -> None:
    (refused,) = regen.broken_defaults(_component(schema))
    assert why in refused, refused


def test_an_operation_id_given_twice_is_named_in_one_line(tmp_path: Path) -> None:
    # The generator wrote one module for both routes and dropped the other in silence;
    # the coverage then said the facade calls a route "the spec no longer has".
    refused = _refused(tmp_path, "operationId: list_models", "operationId: get_model")
    assert str(refused) == (
        "openapi.yaml: operationId `get_model` names 2 routes, GET /api/v1/models and "
        "GET /api/v1/models/{model_id}: the generator keeps one alone"
    )


@pytest.mark.parametrize("written", ["getModel", "get-model", "GetModel"])
def test_operation_ids_that_make_one_module_are_named_in_one_line(
    tmp_path: Path, written: str
) -> None:
    # Two operationIds, but one module to the generator, which wrote get_model.py for
    # both and dropped a route in silence; the spec's own validator sees two ids.
    refused = _refused(tmp_path, "operationId: list_models", f"operationId: {written}")
    assert str(refused) == (
        f"openapi.yaml: operationIds `{written}` (GET /api/v1/models) and `get_model` "
        "(GET /api/v1/models/{model_id}) make one route module, api/models/get_model.py: "
        "the generator keeps one alone"
    )
    assert not _refused_by_spec_validator(tmp_path / "openapi.yaml")


def test_operation_ids_of_one_module_name_under_two_tags_are_named(tmp_path: Path) -> None:
    # Both modules are written, but the coverage knows a route's module by its name alone.
    document = regen.load_document(regen.SPEC)
    document["paths"]["/api/v1/models"]["get"].update(tags=["listings"], operationId="getModel")
    assert list(regen.shared_operation_ids(document)) == [
        "operationIds `getModel` (GET /api/v1/models) and `get_model` "
        "(GET /api/v1/models/{model_id}), whose modules, api/listings/get_model.py and "
        "api/models/get_model.py, share a name the coverage of the routes the facade calls "
        "cannot tell apart"
    ]


def test_a_route_without_an_operation_id_is_named_by_the_module_made_for_it() -> None:
    # The generator names its module after the method and the path: `get_a_b`.
    paths = {"/a/b": {"get": {}}, "/c": {"get": {"operationId": "get_a_b"}}}
    assert list(regen.shared_operation_ids({"paths": paths})) == [
        "operationIds none (GET /a/b) and `get_a_b` (GET /c) make one route module, "
        "api/default/get_a_b.py: the generator keeps one alone"
    ]


def test_the_module_of_each_route_is_the_one_the_generator_writes(tmp_path: Path) -> None:
    # Ids the generator rewrites: camelCase, hyphens, capitals, a Python keyword.
    renamed = {
        "list_models": "listModels",
        "get_model": "get-model",
        "list_checkpoints": "List-Checkpoints",
        "get_checkpoint": "import",
    }
    spec = _spec_with(  # a route's, not a link's
        tmp_path,
        {
            f"\n      operationId: {old}\n": f"\n      operationId: '{new}'\n"
            for old, new in renamed.items()
        },
    )
    (tmp_path / "out").mkdir()
    package = regen.generate(spec, tmp_path / "out")
    written = {
        path.relative_to(package).as_posix()
        for path in (package / "api").glob("*/*.py")
        if path.name != "__init__.py"
    }
    modules = regen.route_modules(regen.load_document(spec))
    assert sorted(module for _, module in modules.values()) == sorted(written)
    assert modules["GET /api/v1/models"] == ("listModels", "api/models/list_models.py")
    assert modules["GET /api/v1/checkpoints/{checkpoint_id}"][1].endswith("/import_.py")


@pytest.mark.parametrize(
    ("written", "name"),
    [("", "GET_API_V1_MODELS"), ("'2list'", "FIELD_2LIST"), ("listModels", "LIST_MODELS")],
    ids=["none", "a leading digit", "camelCase"],
)
def test_the_limits_of_a_route_are_named_after_its_module(
    tmp_path: Path, written: str, name: str
) -> None:
    # A route without an operationId stopped regeneration with a KeyError's traceback, and
    # one that starts with a digit with ruff's refusal of limits.py (`2LIST_LIMIT_MAXIMUM`).
    operation_id = f"\n      operationId: {written}\n" if written else "\n"
    spec = _spec_with(tmp_path, {"\n      operationId: list_models\n": operation_id})
    package = regen.generate(spec, tmp_path)
    (module,) = (package / "api" / "models").glob(f"{name.lower()}.py")
    limits = regen._constants(package / "limits.py")
    assert limits[f"{module.stem.upper()}_LIMIT_MAXIMUM"] == 1000
    assert limits[f"{name}_LIMIT_DEFAULT"] == 100


def test_coverage_is_listed_and_never_silently_replaces_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `--check --coverage` ran the coverage report alone and exited 0 on a drifted tree.
    with pytest.raises(SystemExit) as refused:
        regen.main(["--check", "--coverage"])
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        regen.main(["--help"])
    assert "--coverage" in capsys.readouterr().out


def _regenerating(monkeypatch: pytest.MonkeyPatch, spec: Path, target: Path) -> None:
    """scripts/regenerate from ``spec`` into ``target``, its coverage report (which reads
    the installed client) left out."""
    monkeypatch.setattr(regen, "SPEC", spec)
    monkeypatch.setattr(regen, "TARGET", target)
    monkeypatch.setattr(regen, "report_coverage", lambda: 0)


def _regenerated(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    """A run of scripts/regenerate that succeeds: what it printed, and the lines it lists."""
    assert regen.cmd_regenerate() == 0
    out = capsys.readouterr().out
    return out, [line for line in out.splitlines() if line.startswith("  - ")]


def test_regenerating_lists_the_limits_the_spec_changed_or_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bound changed or dropped in the spec came out of scripts/regenerate without a word:
    # the maintainer had to read the diff of limits.py to know what the facade now follows.
    rank = "        rank:\n          type: integer\n          minimum: 1\n          maximum: 256\n"
    wait = "            minimum: 0\n            maximum: 60\n            x-weaver-wire-rules"
    spec = _spec_with(
        tmp_path,
        {
            rank: rank.replace("          minimum: 1\n", "").replace("256", "512"),
            wait: wait.replace("60", "90"),
        },
    )
    target = tmp_path / "generated" / "weaver_client"
    target.parent.mkdir()
    fresh = regen.generate(regen.SPEC, target.parent)
    assert fresh == target
    _regenerating(monkeypatch, spec, target)

    out, listed = _regenerated(capsys)
    assert listed == [
        "  - GET_OPERATION_WAIT_MAXIMUM: 60 -> 90",
        "  - LORA_CONFIG_RANK_MAXIMUM: 256 -> 512",
        "  - LORA_CONFIG_RANK_MINIMUM: 1 -> none",
    ]
    assert "tests/unit/test_limits_in_docs.py" in out
    # mypy shows no field whose type changed (the generated parser does not check one):
    # the next step names the test that does.
    assert "tests/unit/test_field_coverage.py" in out.splitlines()[-1]


def test_a_second_run_still_lists_the_limits_changed_since_the_last_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run again, scripts/regenerate said "already up to date" and no more: the limits the
    # spec changed, listed once against the tree the first run replaced, were lost.
    wait = "            minimum: 0\n            maximum: 60\n            x-weaver-wire-rules"
    spec = _spec_with(tmp_path, {wait: wait.replace("60", "90")})
    target = tmp_path / "generated" / "weaver_client"
    target.parent.mkdir()
    regen.generate(regen.SPEC, target.parent)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]

    def commit() -> None:
        subprocess.run([*git, "add", "generated"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "generated"], check=True)

    subprocess.run([*git, "init", "-q"], check=True)
    commit()
    _regenerating(monkeypatch, spec, target)

    runs = [_regenerated(capsys) for _ in range(2)]
    assert "already up to date" in runs[1][0]
    for out, listed in runs:
        assert listed == ["  - GET_OPERATION_WAIT_MAXIMUM: 60 -> 90"], out
        assert "since the last commit" in out
    # Committed with the spec, the change is no longer news.
    commit()
    out, listed = _regenerated(capsys)
    assert "already up to date" in out
    assert not listed


def test_a_route_whose_success_reply_changed_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The model's create made to answer a 202 Operation instead of a 201 Model kept one
    # success schema: no line of the coverage, mypy passed, and only the emulator's and the
    # contract kit's tests, later, said the facade reads an Operation as a Model.
    spec = tmp_path / "openapi.yaml"
    spec.write_text(regen.SPEC.read_text("utf-8"), "utf-8")
    target = tmp_path / "generated" / "weaver_client"
    target.parent.mkdir()
    regen.generate(spec, target.parent)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "openapi.yaml", "generated"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "spec"], check=True)
    reply = "                $ref: '#/components/schemas/Model'\n          links:\n"
    _spec_with(
        tmp_path,
        {
            "        '201':\n          description: The new model.\n": (
                "        '202':\n          description: The new model.\n"
            ),
            reply: reply.replace("Model'", "Operation'"),
        },
    )
    _regenerating(monkeypatch, spec, target)

    out, listed = _regenerated(capsys)
    assert listed == [
        "  - POST /api/v1/sessions/{session_id}/models (create_model): 201 Model -> 202 Operation"
    ]
    assert "success replies the spec changed since the last commit" in out
    assert "weaver_facade/_calls.py" in out
