"""Regenerate `generated/weaver_client` from `openapi.yaml`; the body of scripts/regenerate.

Generation always happens in a temporary directory first, so a failed run never
leaves a half-written tree behind, and `--check` can compare without touching
the checked-in client.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import pprint
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
CONFIG = ROOT / "openapi-client-config.yaml"
TARGET = ROOT / "generated" / "weaver_client"
GENERATOR_VERSION = "0.29.1"
MAX_DIFF_LINES = 400


class RegenerateError(Exception):
    """A failure that is reported as one line, without a traceback."""


def check_generator_version() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("openapi-python-client")
    except PackageNotFoundError:
        raise RegenerateError(
            f"openapi-python-client is not installed; run scripts/test once to bootstrap "
            f"(it pins {GENERATOR_VERSION})"
        ) from None
    if found != GENERATOR_VERSION:
        raise RegenerateError(
            f"openapi-python-client {found} is installed, but regeneration is pinned to "
            f"{GENERATOR_VERSION}; output would not be byte-identical"
        )


def generate(spec: Path, out_parent: Path) -> Path:
    """Generate the client for `spec` into `out_parent/weaver_client`."""
    check_generator_version()
    document = load_document(spec)
    # Before the generator, whose report of either is a page of its internals (and a bad
    # pattern would otherwise surface only as a `re.error` on importing the facade).
    broken = [
        *dangling_refs(document),
        *bad_patterns(document),
        *split_defaults(document),
        *shared_operation_ids(document),
    ]
    if not broken:  # a reference that names nothing, or a bad pattern, stops the validators
        broken = list(broken_defaults(document))
    if not broken:  # the rest of what `openapi-spec-validator` in scripts/test would refuse
        broken = list(invalid_openapi(document, spec.resolve().as_uri()))
    if broken:
        raise RegenerateError("\n".join(f"{spec.name}: {line}" for line in broken))
    out = out_parent / "weaver_client"
    env = dict(os.environ)
    # The post-hooks call `ruff`: make sure it is the pinned one from this venv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(spec),
        "--config",
        str(CONFIG),
        "--meta",
        "none",
        "--output-path",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=out_parent, env=env, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    # The generator exits 0 even when it drops a schema it cannot handle;
    # a silently missing model is worse than a failed run.
    noisy = [
        line for line in output.splitlines() if line.strip() and not line.startswith("Generating ")
    ]
    if proc.returncode != 0 or noisy:
        raise RegenerateError(f"openapi-python-client reported problems:\n{output}")
    if not (out / "__init__.py").is_file():
        raise RegenerateError(f"openapi-python-client produced no package at {out}")
    # With `--meta none` the generator writes no PEP 561 marker; the wheel needs one.
    (out / "py.typed").write_text("", encoding="utf-8")
    (out / "limits.py").write_text(limits_module(document), encoding="utf-8")
    (out / "schemas.py").write_text(schemas_module(document), encoding="utf-8")
    subprocess.run(  # the generator's own formatting, for the two modules it does not write
        ["ruff", "format", "--isolated", "--no-cache", "-q", "limits.py", "schemas.py"],
        cwd=out,
        env=env,
        check=True,
    )
    return out


# --- the spec's limits and schemas as Python modules --------------------------------------

# Every keyword that limits a value, in the order the constants are emitted.
LIMIT_KEYWORDS = (
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
)
# A schema marked so has the service's defaults as its example (AdamParams).
EXAMPLE_DEFAULTS = "x-weaver-example-is-default"
# An enum's values after which nothing changes (OperationStatus), emitted as a tuple.
TERMINAL = "x-weaver-terminal"
# The status of each error code (Error.error), emitted as a dict.
CODES = "x-weaver-codes"
# A pattern's rule in words, which every pattern needs: the facade says it in a refusal.
WORDS = "x-weaver-pattern-words"
# The schema of a done operation's result, per kind (OperationResult).
RESULT_SCHEMAS = "x-weaver-result-schemas"
LIMITS_DOC = '''"""The limits of openapi.yaml: made by scripts/regenerate, never edited by hand.

One constant per limiting keyword (pattern, lengths, bounds, item and entry
counts, default) of every named schema, parameter and header, and of each
operation's own parameters, named ``SCHEMA[_PROPERTY...]_KEYWORD`` (``ITEMS``
for array items, ``VALUES`` for map values), plus ``SCHEMA_DEFAULTS`` for the
schemas whose example holds the service's defaults (marked `{marker}`) and
``SCHEMA_TERMINAL`` for the enums whose final values are marked `{terminal}`,
``SCHEMA_PROPERTY_CODES`` for the status of each code a string lists in `{codes}`, and
``SCHEMA_PATTERN_WORDS`` for the rule of each pattern in words (`{words}`).
"""
'''


def load_document(spec: Path) -> dict[str, Any]:
    import yaml

    # libyaml's loader, where PyYAML has it: the pure-Python one took half a second to read the
    # spec, in each regeneration and in each pytest worker's collection.
    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(spec.read_bytes(), Loader=safe)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:  # one line that says where, not the parser's traceback
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RegenerateError(f"{spec.name} is not valid YAML: {where}{problem}") from None
    if not isinstance(document, dict):
        raise RegenerateError(f"{spec} is not an OpenAPI document")
    return document


def _document_in(text: str) -> dict[str, Any]:
    """The document of a spec's text (one of git's), or an empty one where it is none."""
    import yaml

    try:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def dangling_refs(node: Any, where: tuple[str, ...] = (), root: Any = None) -> Iterator[str]:
    """Each ``$ref`` of the document that names nothing in it, with where it stands: one
    that is not local (``#/...``) too, since the spec is one file (as the wheel ships it)."""
    root = node if root is None else root
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from dangling_refs(item, (*where, str(index)), root)
        return
    if not isinstance(node, Mapping):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        if target is None:
            yield f"$ref {ref!r} names nothing (at {'.'.join(where)})"
    elif isinstance(ref, str):
        yield (
            f"$ref {ref!r} names nothing: the spec is one file, whose references start with "
            f"`#/` (at {'.'.join(where)})"
        )
    for key, value in node.items():
        yield from dangling_refs(value, (*where, str(key)), root)


def bad_patterns(node: Any, where: tuple[str, ...] = ()) -> Iterator[str]:
    """Each ``pattern`` of the document that is not a regular expression, or has no rule in
    words, with where it stands (a property named ``pattern`` is a field, not a keyword)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from bad_patterns(item, (*where, str(index)))
        return
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str) and where[-1:] != ("properties",):
            try:
                re.compile(value)
            except re.error as exc:
                yield f"pattern {value!r} is not a regular expression: {exc} (at {'.'.join(where)})"
            words = node.get(WORDS)
            if not isinstance(words, str) or not words.strip():
                yield f"pattern {value!r} has no rule in words, `{WORDS}` (at {'.'.join(where)})"
        else:
            yield from bad_patterns(value, (*where, str(key)))


def split_defaults(document: Mapping[str, Any]) -> Iterator[str]:
    """Each property's ``example`` or ``default`` that its schema's example, the defaults of a
    schema marked ``x-weaver-example-is-default``, contradicts: a new default written in one
    place only would leave the other, the one read, as it was."""
    for name, schema in ((document.get("components") or {}).get("schemas") or {}).items():
        example = schema.get("example") if isinstance(schema, Mapping) else None
        if not isinstance(example, Mapping) or not schema.get(EXAMPLE_DEFAULTS):
            continue
        for prop, spec in (schema.get("properties") or {}).items():
            # Beside a `$ref` too: its own keywords (3.1), not the example of the schema named.
            if not isinstance(spec, Mapping) or prop not in example:
                continue
            for keyword in ("example", "default"):
                if keyword in spec and spec[keyword] != example[prop]:
                    yield (
                        f"the {keyword} of property `{prop}` is {spec[keyword]!r}, but the "
                        f"schema's example, which `{EXAMPLE_DEFAULTS}` makes the defaults, "
                        f"says {example[prop]!r}: make them agree (at components.schemas.{name})"
                    )


def route_modules(document: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each route (``GET /path``) with its ``operationId`` and the module the generator writes
    for it (``api/TAG/NAME.py``), named by the generator's own rule: an id it makes snake
    case (``listModels``, ``list-models``: ``list_models``), or one it makes of the route."""
    from openapi_python_client.config import ConfigFile
    from openapi_python_client.parser.openapi import generate_operation_id
    from openapi_python_client.schema.untrusted_string import UntrustedString
    from openapi_python_client.strings import PythonIdentifier

    config = ConfigFile.load_from_path(CONFIG)
    prefix = config.field_prefix
    modules: dict[str, tuple[str, str]] = {}
    for key, op in _operations(document).items():
        method, _, path = key.partition(" ")
        operation_id = op.get("operationId")
        if isinstance(operation_id, str):
            name = PythonIdentifier(operation_id, prefix=prefix)
        else:
            name = generate_operation_id(
                path=UntrustedString(path), method=method.lower(), prefix=prefix
            )
        # As the generator writes it: the name made an identifier again, in the folder of its
        # first tag (the config leaves `generate_all_tags` off).
        module = PythonIdentifier(name, prefix)
        tags = [str(tag) for tag in op.get("tags") or ["default"]]
        tag = PythonIdentifier(tags[0], prefix="tag")
        modules[key] = (str(operation_id or ""), f"api/{tag}/{module}.py")
    return modules


def shared_operation_ids(document: Mapping[str, Any]) -> Iterator[str]:
    """Each module name that more than one route's ``operationId`` makes (``getModel`` and
    ``get_model`` make ``get_model``): the generator writes one module for all of them and
    drops the others without a word, or, under another tag, writes a module of the same name
    that the coverage of the routes the facade calls cannot tell apart."""
    by_name: dict[str, list[str]] = {}
    modules = route_modules(document)
    for key, (_, module) in modules.items():
        by_name.setdefault(module.rpartition("/")[2], []).append(key)
    for keys in by_name.values():
        if len(keys) < 2:
            continue
        ids = [modules[key][0] for key in keys]
        paths = sorted({modules[key][1] for key in keys})
        if len(set(ids)) == 1:
            routes = f"operationId `{ids[0]}` names {len(keys)} routes, {_and(keys)}"
        else:
            named = [f"`{modules[k][0]}` ({k})" if modules[k][0] else f"none ({k})" for k in keys]
            routes = f"operationIds {_and(named)}"
        if len(paths) > 1:
            yield (
                f"{routes}, whose modules, {_and(paths)}, share a name the coverage of the "
                "routes the facade calls cannot tell apart"
            )
        elif len(set(ids)) == 1:
            yield f"{routes}: the generator keeps one alone"
        else:
            yield f"{routes} make one route module, {paths[0]}: the generator keeps one alone"


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


# The faults of openapi-spec-validator listed before the rest are left out.
MAX_FAULTS = 10


def invalid_openapi(document: Mapping[str, Any], base_uri: str = "") -> Iterator[str]:
    """Each fault openapi-spec-validator finds in the document (the check scripts/test runs on
    the spec), with its rule and where it stands: the generator takes some (a bound written
    as a string reaches ``limits.py`` as one, a `mypy` error far from its cause) and names
    others in a page of its internals."""
    from openapi_spec_validator.shortcuts import get_validator_cls
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    version = document.get("openapi")
    try:
        base = get_validator_cls(document)
    except Exception:
        if version is None:
            yield "the document names no OpenAPI version (`openapi: 3.1.0`, say)"
        else:
            yield f"`openapi: {version}` is no OpenAPI version openapi-spec-validator knows"
        return

    class Located(OpenAPIValidationError):
        """A fault whose path starts at the document's root."""

    # Its schema checks say where a fault stands within the schema alone: each error is given
    # the schema's own place (a default's, for the check of a default) by the innermost call.
    def located(keyword: Any, *suffix: str) -> Any:
        class Locating(keyword):  # type: ignore[misc]
            def __call__(self, schema: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
                for error in super().__call__(schema, *args, **kwargs):
                    if not isinstance(error, Located):
                        error = Located.create_from(error)
                        error.path.extendleft(reversed((*schema.parts, *suffix)))
                    yield error

        return Locating

    keywords = dict(base.keyword_validators)
    keywords["schema"] = located(keywords["schema"])
    keywords["default"] = located(keywords["default"], "default")
    validator = type("LocatingValidator", (base,), {"keyword_validators": keywords})
    faults = []
    try:
        for error in validator(document, base_uri=base_uri).iter_errors():
            faults.append(_fault(error, version))
    except Exception as exc:  # a reference it cannot follow, say: one line, not its page
        reason = (str(exc).strip().splitlines() or [""])[0]
        faults.append(f"openapi-spec-validator could not read it: {type(exc).__name__}: {reason}")
    yield from faults[:MAX_FAULTS]
    if len(faults) > MAX_FAULTS:
        yield f"... and {len(faults) - MAX_FAULTS} more (`openapi-spec-validator` lists them)"


def _fault(error: Any, version: object) -> str:
    """One fault of openapi-spec-validator in one line: what, by which rule, where."""

    def said(error: Any) -> str:
        # jsonschema-rs (which the validator prefers) adds the schema and the instance.
        line = (error.message.strip().splitlines() or [""])[0]
        return line if len(line) <= 200 else f"{line[:200]}..."

    what = said(error)
    # `anyOf`, `oneOf`: why each alternative refused it (`type: integr`).
    alternatives = list(dict.fromkeys(said(each) for each in error.context or ()))
    if alternatives:
        what = f"{what} ({'; '.join(alternatives)})"
    # jsonschema-rs's errors name the keyword only at the end of their schema path.
    keyword = error.validator if isinstance(error.validator, str) else None
    if keyword is None and error.schema_path:
        keyword = error.schema_path[-1]
    rule = ""
    if isinstance(keyword, str):
        value = error.validator_value
        shown = f": {value}" if isinstance(value, str | int | float) else ""
        rule = f" (rule `{keyword}{shown}`)"
    where = ".".join(str(part) for part in error.absolute_path)
    return f"not valid OpenAPI {version}{rule}: {what}" + (f" (at {where})" if where else "")


# Keys of OpenAPI and JSON Schema objects whose value is a value, not a schema: its keys
# may be `default`; and those whose value maps names to objects (a property, a response,
# a discriminator's value), any of which may be named `default`, `pattern` or `type`.
_VALUES = frozenset({"default", "example", "examples", "enum", "const", "security"})
_NAMES = frozenset(
    {
        "properties",
        "patternProperties",
        "dependentSchemas",
        "$defs",
        "definitions",
        "paths",
        "webhooks",
        "schemas",
        "responses",
        "parameters",
        "requestBodies",
        "headers",
        "securitySchemes",
        "links",
        "callbacks",
        "pathItems",
        "content",
        "encoding",
        "mapping",
        "variables",
    }
)


def _generator_validator() -> Any:
    """JSON Schema 2020-12, with the OpenAPI 3.0 words the generator also takes in a 3.1
    document: ``nullable: true`` (a null passes the whole schema, as the generator adds a
    null type) and a boolean ``exclusiveMinimum``/``exclusiveMaximum`` (``true`` excludes
    ``minimum``/``maximum`` itself, ``false`` adds nothing)."""
    from jsonschema import Draft202012Validator, validators

    Keyword = Callable[[Any, Any, Any, Any], Iterator[Any]]

    def exclusive(check: Keyword, bound: str) -> Keyword:
        def keyword(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
            if not isinstance(value, bool):
                yield from check(validator, value, instance, schema)
            elif value and bound in schema:
                yield from check(validator, schema[bound], instance, schema)

        return keyword

    def nullable(check: Keyword) -> Keyword:
        def keyword(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
            if instance is not None or schema.get("nullable") is not True:
                yield from check(validator, value, instance, schema)

        return keyword

    keywords: dict[str, Keyword] = dict(Draft202012Validator.VALIDATORS)
    for name, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        keywords[name] = exclusive(keywords[name], bound)
    return validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {name: nullable(check) for name, check in keywords.items()}
    )


def broken_defaults(document: Mapping[str, Any]) -> Iterator[str]:
    """Each ``default``, and each example of a schema marked ``x-weaver-example-is-default``,
    that its own schema refuses: `weaver_client.limits` carries it as it is, and the facade,
    the command line and the emulator use it when the caller gives nothing, so a call without
    a page size would be refused for a page size its caller never gave, or the facade would
    not import (its ``AdamParams()`` raises)."""
    from jsonschema.exceptions import best_match

    validator = _generator_validator()

    def refusal(value: object, where: tuple[str, ...]) -> str | None:
        # The whole document is the root, so that its `#/components/...` references resolve.
        pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in where)
        try:
            error = best_match(validator({**document, "$ref": f"#/{pointer}"}).iter_errors(value))
        except Exception:
            # A schema the validator cannot read (a misspelt `type`, a reference to another
            # file): the generator names its fault in one line, where this raised a page.
            return None
        if error is None:
            return None
        field = ".".join(str(part) for part in error.absolute_path)
        return f"{field}: {error.message}" if field else error.message

    def walk(node: Any, where: tuple[str, ...], names: bool = False) -> Iterator[str]:
        """``names``: ``node`` maps names to objects (``_NAMES``), none of them a default."""
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, (*where, str(index)))
            return
        if not isinstance(node, Mapping):
            return
        if not names and "default" in node and (why := refusal(node["default"], where)):
            yield (
                f"the default {node['default']!r} breaks its own schema: {why} "
                f"(at {'.'.join(where)})"
            )
        if (
            not names
            and node.get(EXAMPLE_DEFAULTS)
            and "example" in node
            and (why := refusal(node["example"], where))
        ):
            yield (
                f"the example of {where[-1]}, which `{EXAMPLE_DEFAULTS}` makes the "
                f"defaults, breaks its own schema: {why} (at {'.'.join(where)})"
            )
        for key, value in node.items():
            if str(key).startswith("x-"):  # an extension's keys may be `default`
                continue
            if names:  # a property named `default` or `enum` is a schema like any other
                yield from walk(value, (*where, str(key)))
            elif key not in _VALUES:
                yield from walk(value, (*where, str(key)), key in _NAMES)

    yield from walk(document, ())


def constant_name(*parts: str) -> str:
    words = [re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", p) for p in parts]
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(words)).strip("_").upper()


def _limits_of(
    prefix: tuple[str, ...], schema: Any, owners: set[str] | None = None
) -> Iterator[tuple[str, object]]:
    if not isinstance(schema, Mapping) or "$ref" in schema:
        return  # a reference's limits are the named schema's
    if owners is not None:
        owners.add(constant_name(*prefix))
    for keyword in LIMIT_KEYWORDS:
        if keyword in schema:
            yield constant_name(*prefix, keyword), schema[keyword]
    if WORDS in schema:
        yield constant_name(*prefix, "pattern_words"), schema[WORDS]
    for name, prop in (schema.get("properties") or {}).items():
        yield from _limits_of((*prefix, name), prop, owners)
    yield from _limits_of((*prefix, "items"), schema.get("items"), owners)
    yield from _limits_of((*prefix, "values"), schema.get("additionalProperties"), owners)
    if schema.get(EXAMPLE_DEFAULTS) and isinstance(schema.get("example"), Mapping):
        yield constant_name(*prefix, "defaults"), dict(schema["example"])
    if TERMINAL in schema:
        yield constant_name(*prefix, "terminal"), tuple(schema[TERMINAL])
    if CODES in schema:
        yield constant_name(*prefix, "codes"), dict(schema[CODES])


def spec_limits(document: Mapping[str, Any], owners: set[str] | None = None) -> dict[str, object]:
    """Every limit of the spec by constant name; a name made twice is an error. ``owners``
    collects the name of each schema, field or parameter they were looked for in."""
    components = document.get("components") or {}
    found: list[tuple[str, object]] = []
    for name, schema in (components.get("schemas") or {}).items():
        found.extend(_limits_of((name,), schema, owners))
    for kind in ("parameters", "headers"):
        for name, item in (components.get(kind) or {}).items():
            found.extend(_limits_of((name,), item.get("schema"), owners))
    # An operation's own, by the name of its module: a valid name whatever its operationId,
    # or with none (`GET_API_V1_MODELS_LIMIT_MAXIMUM`, `FIELD_2LIST_...`).
    modules = route_modules(document)
    for key, op in _operations(document).items():
        module = modules[key][1].rpartition("/")[2].removesuffix(".py")
        for param in op.get("parameters") or []:
            if "name" in param:
                where = (module, param["name"])
                found.extend(_limits_of(where, param.get("schema"), owners))
    limits: dict[str, object] = {}
    for key, value in found:
        if key in limits:
            raise RegenerateError(f"two limits of openapi.yaml would both be named {key}")
        limits[key] = value
    return limits


def limits_module(document: Mapping[str, Any]) -> str:
    doc = LIMITS_DOC.format(marker=EXAMPLE_DEFAULTS, terminal=TERMINAL, codes=CODES, words=WORDS)
    lines = [doc, ""]
    lines.append("from typing import Any, Final, TypedDict")
    lines.append("")
    for key, value in spec_limits(document).items():
        if not isinstance(value, dict):
            lines.append(f"{key}: Final = {value!r}")
            continue
        # A TypedDict, so that mypy names every use of a key the spec no longer has.
        typed = "".join(word.capitalize() for word in key.split("_"))
        lines += ["", "", f"class {typed}(TypedDict):"]
        lines += [f"    {name}: {_python_type(item)}" for name, item in value.items()]
        lines += ["", "", f"{key}: Final[{typed}] = {value!r}"]
    return "\n".join(lines) + "\n"


def _python_type(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool | int | float | str):
        return type(value).__name__
    return "Any"


def _bare(node: Any, *, names: bool = False) -> Any:
    """``node`` without the words (descriptions, examples) that no validation reads."""
    if isinstance(node, list):
        return [_bare(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _bare(value, names=key == "properties" and not names)
        for key, value in node.items()
        if names or key not in {"description", "example", "examples", "summary", WORDS}
    }


def schemas_module(document: Mapping[str, Any]) -> str:
    schemas = (document.get("components") or {}).get("schemas") or {}
    schemas = _bare(json.loads(json.dumps(schemas, default=str)))  # YAML dates become strings
    text = pprint.pformat(schemas, width=100, sort_dicts=False)
    names = ", ".join(json.dumps(name) for name in schemas)
    return (
        '"""The component schemas of openapi.yaml: made by scripts/regenerate, never edited '
        'by hand."""\n\n'
        "from typing import Any, Final, Literal, TypeAlias\n\n"
        f"SCHEMAS: Final[dict[str, Any]] = {text}\n\n"
        f"SchemaName: TypeAlias = Literal[{names}]\n"
        '"""The name of a component schema, which the facade\'s WireFields and WireValues\n'
        'declare: a schema renamed in the spec is a mypy error where they name it."""\n'
    )


def tree_files(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or ".ruff_cache" in rel.parts or not path.is_file():
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """A readable diff from `actual` (checked in) to `expected` (fresh)."""
    want, have = tree_files(expected), tree_files(actual)
    lines: list[str] = []
    for name in sorted(set(want) | set(have)):
        if name not in have:
            lines.append(f"missing from generated/weaver_client: {name}")
        elif name not in want:
            lines.append(f"not produced by the spec, but present: {name}")
        elif want[name] != have[name]:
            lines.extend(
                difflib.unified_diff(
                    have[name].decode("utf-8", "replace").splitlines(),
                    want[name].decode("utf-8", "replace").splitlines(),
                    fromfile=f"generated/weaver_client/{name} (checked in)",
                    tofile=f"generated/weaver_client/{name} (from openapi.yaml)",
                    lineterm="",
                )
            )
    return lines


def committed(path: Path) -> str | None:
    """The text of ``path`` at the HEAD commit of the git repository it is in; None where
    there is none (no repository, no commit, or not in it)."""
    where = path.parent
    while not where.is_dir() and where != where.parent:
        where = where.parent
    try:
        relative = path.resolve().relative_to(where.resolve())
        shown = subprocess.run(
            ["git", "-C", str(where), "show", f"HEAD:./{relative.as_posix()}"],
            capture_output=True,
            check=False,
        )
    except (OSError, ValueError):
        return None
    return shown.stdout.decode("utf-8") if shown.returncode == 0 else None


def cmd_regenerate() -> int:
    # What the spec changed is told against the committed client, so that a second run
    # (the tree already up to date) tells it again, until the change is committed; outside
    # git, against the client this run replaces.
    baseline = committed(TARGET / "limits.py")
    since = " since the last commit" if baseline is not None else ""
    spec = committed(SPEC)
    replied = [] if spec is None else reply_changes(_document_in(spec), load_document(SPEC))
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="weaver-regen-", dir=TARGET.parent) as tmp:
        fresh = generate(SPEC, Path(tmp))
        before = _constants(TARGET / "limits.py") if baseline is None else _constants_in(baseline)
        changed = limit_changes(before, _constants(fresh / "limits.py"))
        current = TARGET.exists() and not diff_trees(fresh, TARGET)
        if not current:
            if TARGET.exists():
                TARGET.rename(Path(tmp) / "old")
            fresh.rename(TARGET)
    if current:
        print("generated/weaver_client is already up to date")
    else:
        print("regenerated generated/weaver_client from openapi.yaml")
    if changed:
        print(
            f"limits the spec changed{since}, which the facade, the command line, the "
            "emulator and the contract kit take from weaver_client.limits (a doc that states "
            "one is held to it by tests/unit/test_limits_in_docs.py; one gone is a mypy error "
            "where it is read):"
        )
        for line in changed:
            print(f"  - {line}")
    if replied:
        print(
            "success replies the spec changed since the last commit, which the facade reads "
            "as one schema per route (its `Call` in weaver_facade/_calls.py), the emulator "
            "sends (`ROUTES` in weaver_facade/emulator/_app.py) and the contract kit checks "
            "(mypy passes; the coverage below names a route the facade reads otherwise):"
        )
        for line in replied:
            print(f"  - {line}")
    status = report_coverage()
    if current and not changed and not replied:
        return status
    # All of scripts/test's mypy targets: the benchmarks and scripts call the facade too.
    print(
        "next: run `scripts/test`: its `mypy --strict` shows each place that must follow a "
        "name or signature, and tests/unit/test_field_coverage.py each field whose type changed"
    )
    return status


def _constants(limits: Path) -> dict[str, object]:
    """The constants of a ``limits.py`` that scripts/regenerate wrote, by name (all literals)."""
    return _constants_in(limits.read_text("utf-8")) if limits.is_file() else {}


def _constants_in(source: str) -> dict[str, object]:
    """The constants of the text of a ``limits.py``, by name."""
    import ast

    return {
        node.target.id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    }


def limit_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """``NAME: old -> new`` for each constant of ``old`` (those of a ``limits.py``) that
    ``new`` gives another value or lacks (``none``), a mapping's entries one by one. A new
    one is not listed: nothing reads it yet. The error codes are not either: the coverage
    lists each code the facade must follow."""
    absent = object()

    def shown(value: object) -> str:
        return "none" if value is absent else repr(value)

    lines: list[str] = []
    for name, was in old.items():
        now = new.get(name, absent)
        if was == now or name.endswith("_CODES"):
            continue
        if isinstance(was, dict) and isinstance(now, dict):
            lines.extend(
                f"{name}[{key!r}]: {shown(was.get(key, absent))} -> {shown(now.get(key, absent))}"
                for key in sorted(set(was) | set(now), key=str)
                if was.get(key, absent) != now.get(key, absent)
            )
        else:
            lines.append(f"{name}: {shown(was)} -> {shown(now)}")
    return sorted(lines)


def report_coverage() -> int:
    """Print the coverage list (``--coverage``, in a fresh interpreter, so that it reads
    the client just written); 1 if it names anything."""
    done = subprocess.run([sys.executable, __file__, "--coverage"], cwd=ROOT, check=False)
    return 0 if done.returncode == 0 else 1


# --- field coverage ------------------------------------------------------------------------


def core_modules() -> list[str]:
    """The names of the facade's core modules (``weaver_facade/_*.py``)."""
    import pkgutil

    import weaver_facade

    return [
        info.name
        for info in pkgutil.iter_modules(weaver_facade.__path__)
        if info.name.startswith("_") and not info.ispkg
    ]


def declarations(kind: str = "WireFields") -> list[tuple[str, Any]]:
    """Every ``WireFields`` (or ``WireValues``) declared in the facade's core modules,
    next to its converter (or its enum), with the file that declares it."""
    import importlib

    from weaver_facade import _wire

    declaration = getattr(_wire, kind)
    found: list[tuple[str, Any]] = []
    for name in core_modules():
        module = importlib.import_module(f"weaver_facade.{name}")
        where = f"weaver_facade/{name}.py"
        for value in vars(module).values():
            values = value if isinstance(value, tuple) else (value,)
            found.extend(
                (where, v)
                for v in values
                if isinstance(v, declaration) and all(v is not d for _, d in found)
            )
    return found


def wire_fields(kind: str = "WireFields") -> list[Any]:
    """Every ``WireFields`` (or ``WireValues``) declared in the facade's core modules."""
    return [declared for _, declared in declarations(kind)]


def facade_attributes(facade: type[Any]) -> dict[str, Any]:
    """A facade type's attributes with their defaults (``attrs.NOTHING``: none): its attrs
    fields, or for another class (``APIError``) its constructor's keyword arguments."""
    import inspect

    import attrs

    if attrs.has(facade):
        return {a.name: a.default for a in attrs.fields(facade)}
    return {
        p.name: attrs.NOTHING if p.default is p.empty else p.default
        for p in inspect.signature(facade).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def facade_annotations(facade: type[Any]) -> dict[str, Any]:
    """A facade type's attributes with their annotations, as written."""
    import inspect

    import attrs

    if attrs.has(facade):
        return {a.name: a.type for a in attrs.fields(facade)}
    return {p.name: p.annotation for p in inspect.signature(facade).parameters.values()}


def union_members(annotation: Any) -> set[str]:
    """The members of an annotation's top-level union, as source text (``None``,
    ``Unset``, ``int``...); a string annotation (``from __future__ import annotations``,
    which both the generated client and the facade use) is parsed, not evaluated, so that
    names imported only for type checking need not resolve."""
    import ast
    import typing

    if annotation is None or annotation is type(None):
        return {"None"}
    if not isinstance(annotation, str):
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, type(int | None)):
            return set().union(*(union_members(a) for a in args))
        return {getattr(annotation, "__name__", repr(annotation))}
    node = ast.parse(annotation, mode="eval").body
    members: set[str] = set()

    def walk(part: ast.expr) -> None:
        if isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr):
            walk(part.left)
            walk(part.right)
        elif isinstance(part, ast.Subscript) and ast.unparse(part.value).endswith("Optional"):
            members.add("None")
            walk(part.slice)
        elif isinstance(part, ast.Subscript) and ast.unparse(part.value).endswith("Union"):
            for each in part.slice.elts if isinstance(part.slice, ast.Tuple) else [part.slice]:
                walk(each)
        elif isinstance(part, ast.Constant) and part.value is None:
            members.add("None")
        else:
            members.add(ast.unparse(part))

    walk(node)
    return members


def requiredness(fields: Any, model: type[Any]) -> list[str]:
    """``Schema.field: ...`` for each mapped field the spec lets be absent (its generated
    attribute admits ``Unset``) or null (admits ``None``) whose facade attribute has no
    default (for a null: nor admits ``None``), unless ``required`` gives the reason.

    The spec's side is the generated model's annotation, the facade's its declared
    attribute: a facade attribute with no default makes the converter refuse, or fill
    in, a field the reply may leave out.
    """
    import attrs

    defaults = facade_attributes(fields.facade)
    annotations = facade_annotations(fields.facade)
    problems = []
    for field in attrs.fields(model):
        name = field.name.rstrip("_")
        ours = fields.mapped.get(name, name)
        spec = union_members(field.type) if field.type is not None else set()
        if name in fields.required and not {"Unset", "None"} & spec:
            problems.append(f"{fields.schema}.{name} (in `required`, but the spec requires it)")
        if name in fields.left_out or name in fields.required or ours not in defaults:
            continue
        if defaults[ours] is not attrs.NOTHING:
            continue  # the facade's value for a field the reply leaves out, or null
        where = f"the facade's {fields.facade.__name__}.{ours}"
        if "Unset" in spec:
            problems.append(f"{fields.schema}.{name}: optional in the spec, required by {where}")
        elif "None" in spec and not {"None", "Any", "typing.Any"} & union_members(
            annotations[ours]
        ):
            problems.append(f"{fields.schema}.{name}: nullable in the spec, never None in {where}")
    return problems


def uncovered_fields(models: Any = None, schemas: Mapping[str, Any] | None = None) -> list[str]:
    """``Schema.field`` for each spec field without a facade attribute or a reason, and
    ``Schema.field: ...`` for each the spec lets be absent or null and the facade does not.

    ``models`` is the generated ``models`` package to read (default: the installed one),
    ``schemas`` the spec's component schemas (default: the installed ``SCHEMAS``).
    Also listed: a declaration naming a field the spec no longer has, or a schema, and a
    field the facade reads whose object the spec defines in place (`in_place_objects`).
    """
    import attrs

    if models is None:
        from weaver_client import models
    problems: list[str] = []
    problems.extend(in_place_objects(schemas))
    problems.extend(undeclared_replies())
    for where, fields in declarations():
        model = getattr(models, fields.schema, None)
        if model is None:
            problems.append(_no_schema(where, fields))
            continue
        # The spec's names: the generator appends `_` to names such as `type`.
        names = [
            f.name.rstrip("_") for f in attrs.fields(model) if f.name != "additional_properties"
        ]
        attributes = facade_attributes(fields.facade)
        for name in names:
            if name not in fields.left_out and fields.mapped.get(name, name) not in attributes:
                problems.append(f"{fields.schema}.{name}")
        problems.extend(requiredness(fields, model))
        problems.extend(
            f"{fields.schema}.{name} (declared, but not in the spec)"
            for name in [*fields.mapped, *fields.left_out, *fields.required]
            if name not in names
        )
    problems.extend(unsourced_attributes(models))
    problems.extend(uncovered_codes())
    for where, values in declarations("WireValues"):
        enum = getattr(models, values.schema, None)
        if enum is None:
            problems.append(_no_schema(where, values))
            continue
        spec_values = [member.value for member in enum]
        ours = {member.value for member in values.facade}
        problems.extend(
            f"{values.schema} value {value!r}"
            for value in spec_values
            if value not in ours and value not in values.mapped
        )
        problems.extend(
            f"{values.schema} value {value!r} (declared, but not in the spec)"
            for value in values.mapped
            if value not in spec_values
        )
        # A value renamed or dropped: its member stays, and code that decides on it too.
        problems.extend(
            f"{values.schema} value {member.value!r} ({values.facade.__name__}.{member.name}, "
            "but not in the spec)"
            for member in values.facade
            if member.value not in spec_values and member.value not in values.mapped.values()
        )
    return problems


def _objects_in_place(node: Any) -> bool:
    """Whether ``node`` (a property's schema) is, or has as an alternative, as its items or
    as the values of a map (``additionalProperties``), an object with properties of its own
    rather than a ``$ref`` to a named schema."""
    if not isinstance(node, Mapping) or "$ref" in node:
        return False
    if node.get("properties"):
        return True
    alternatives = [*node.get("anyOf", ()), *node.get("oneOf", ()), *node.get("allOf", ())]
    inner = [node.get("items"), node.get("additionalProperties")]
    return any(_objects_in_place(n) for n in [*alternatives, *inner])


def in_place_objects(schemas: Mapping[str, Any] | None = None) -> list[str]:
    """Each field a declaration does not leave out whose object the spec defines in place:
    no WireFields can name such an object (its name is no ``SchemaName``), so a field the
    spec adds to it would be dropped in silence."""
    if schemas is None:
        from weaver_client.schemas import SCHEMAS

        schemas = SCHEMAS
    problems: list[str] = []
    for _, fields in declarations():
        properties = (schemas.get(fields.schema) or {}).get("properties") or {}
        for name, node in properties.items():
            problem = (
                f"{fields.schema}.{name} (an object defined in place, whose fields no "
                "WireFields can name: make it a schema of components/schemas and declare "
                "it, or leave the field out)"
            )
            if name not in fields.left_out and _objects_in_place(node) and problem not in problems:
                problems.append(problem)
    return problems


# Reply objects the facade carries whole (a new field goes with them) or reads one field of.
NOT_DECLARED = {
    "Session": "only its `id` is read; the facade has no session type",
    "PendingResources": "carried whole, as PendingInfo.resources",
    "OperationErrorDetails": "carried whole, as OperationSnapshot.error_details",
}


def reply_objects(document: Mapping[str, Any]) -> set[str]:
    """Every named object schema with properties that a reply of the spec can carry."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.split("/")[-1] not in found:
                found.add(ref.split("/")[-1])
                walk(schemas[ref.split("/")[-1]])
            elif ref.startswith("#/components/responses/"):
                walk(document["components"]["responses"][ref.split("/")[-1]])
            # A done operation's result is named here, not referenced: its objects too.
            for name in (node.get(RESULT_SCHEMAS) or {}).values():
                walk({"$ref": f"#/components/schemas/{name}"})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                walk(op.get("responses"))
    return {name for name in found if schemas[name].get("properties")}


def undeclared_replies(document: Mapping[str, Any] | None = None) -> list[str]:
    """Each object a reply of the spec can carry that no WireFields declares and that
    ``NOT_DECLARED`` does not name: every field of it would be dropped in silence. Also
    each name of ``NOT_DECLARED`` that no reply carries (the spec renamed or dropped it)."""
    document = load_document(SPEC) if document is None else document
    declared = {fields.schema for _, fields in declarations()}
    replies = reply_objects(document)
    return (
        [
            f"{name} (a reply object no WireFields declares)"
            for name in sorted(replies - declared - set(NOT_DECLARED))
        ]
        + [
            f"{name} (named in NOT_DECLARED of scripts/_regenerate.py, but it is no reply "
            "object of the spec: no reply carries it, or it has no properties)"
            for name in sorted(set(NOT_DECLARED) - replies)
        ]
        + in_place_replies(document)
    )


def in_place_replies(document: Mapping[str, Any]) -> list[str]:
    """Each reply whose object the spec defines in place, in the route's responses rather
    than under ``components/schemas``: no WireFields can name it, so its fields would be
    dropped in silence."""
    problems: list[str] = []
    for route, item in document["paths"].items():
        for method, op in item.items():
            if not isinstance(op, Mapping):
                continue
            for status, response in (op.get("responses") or {}).items():
                ref = str(response.get("$ref", ""))
                if ref.startswith("#/components/responses/"):
                    response = document["components"]["responses"][ref.rsplit("/", 1)[-1]]
                for media in (response.get("content") or {}).values():
                    if _objects_in_place((media or {}).get("schema")):
                        problems.append(
                            f"{method.upper()} {route} {status} (a reply object defined in "
                            "place, which no WireFields can name: make it a schema of "
                            "components/schemas and declare it)"
                        )
    return problems


def unsourced_attributes(models: Any) -> list[str]:
    """Attributes of a facade type that no field of a schema declared for it maps to, nor
    its declarations' ``derived``: left behind by a field the spec removed."""
    import attrs

    sourced: dict[type, set[str]] = {}
    unknown = set()  # a facade type with a schema the spec lost: that is listed already
    for _, fields in declarations():
        model = getattr(models, fields.schema, None)
        if model is None:
            unknown.add(fields.facade)
            continue
        names = [f.name.rstrip("_") for f in attrs.fields(model)]  # `type_` is `type`
        got = sourced.setdefault(fields.facade, set())
        got.update(fields.mapped.get(name, name) for name in names)
        got.update(fields.derived)
    return [
        f"{facade.__name__}.{name} (no spec field maps to it, nor is it `derived`)"
        for facade, got in sourced.items()
        if facade not in unknown
        for name in facade_attributes(facade)
        if name not in got
    ]


def _sent(tree: Any) -> Iterator[tuple[str, str, set[str] | None, int, Any]]:
    """``("model", Name, keywords, line, None)`` for each generated model a module's
    ``tree`` builds (``wire.Name(...)``), and ``("call", alias, keywords, line, model)`` for
    each generated ``alias._get_kwargs`` it passes first to a call; ``None``: keywords given
    with ``**``. A call's ``model`` is the expression of its ``Call.model``, the second
    argument of ``_calls._call``, which makes every ``Call`` (``None`` through another). In
    the order of the source, which names the first place each is built or sent."""
    import ast

    found = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]  # breadth first
    for node in sorted(found, key=lambda node: (node.lineno, node.col_offset)):
        keywords = {k.arg for k in node.keywords if k.arg is not None}
        given = None if any(k.arg is None for k in node.keywords) else keywords
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "wire"
        ):
            yield "model", func.attr, given, node.lineno, None
        first = node.args[0] if node.args else None
        if (
            isinstance(first, ast.Attribute)
            and first.attr == "_get_kwargs"
            and isinstance(first.value, ast.Name)
        ):
            model = None
            # `_call`, or `calls._call` from another module; its model by place or name
            if getattr(func, "id", getattr(func, "attr", None)) == "_call":
                given_as = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "model")]
                model = given_as[0] if given_as else None
            yield "call", first.value.id, given, first.lineno, model


def unsent_fields(package: Any = None) -> list[str]:
    """``Schema.field (a request field, built at FILE:LINE)`` for each field of a generated
    model the facade builds, and ``operation?parameter`` for each keyword of a generated
    request it sends (at the first place it does), that the facade never gives and
    ``UNSENT`` of ``weaver_facade/_calls.py`` does not list with its reason; and each
    ``UNSENT`` entry the spec does not have, or requires.
    Read from the core's source; ``package`` is the generated package (default: the
    installed one)."""
    import ast
    import importlib
    import inspect

    import attrs

    import weaver_facade
    from weaver_facade._calls import UNSENT

    if package is None:
        import weaver_client as package
    models = importlib.import_module(f"{package.__name__}.models")
    given: dict[str, set[str] | None] = {}
    unpacked: dict[str, str] = {}  # where a model or call is given keywords with `**`
    # Where each is first built or sent: where a field goes, which may not be _calls.py.
    first: dict[str, str] = {}
    aliases: dict[str, str] = {}  # `_list_checkpoints`: `api.checkpoints.list_checkpoints`
    for module_name in core_modules():
        tree = ast.parse(Path(weaver_facade.__path__[0], f"{module_name}.py").read_text("utf-8"))
        for node in ast.walk(tree):
            # `import weaver_client.api.checkpoints.list_checkpoints as _list_checkpoints`
            if isinstance(node, ast.Import):
                aliases.update(
                    (a.asname, a.name.removeprefix("weaver_client."))
                    for a in node.names
                    if a.asname and a.name.startswith("weaver_client.api.")
                )
        for kind, name, keywords, line, _ in _sent(tree):
            key = f"{kind}:{name}"
            known = given.setdefault(key, set())
            given[key] = None if known is None or keywords is None else known | keywords
            first.setdefault(key, f"weaver_facade/{module_name}.py:{line}")
            if keywords is None:
                unpacked.setdefault(key, f"weaver_facade/{module_name}.py:{line}")
    fields: dict[str, list[str]] = {}  # by schema or operationId: what the spec has
    required: dict[str, set[str]] = {}  # of those, what it requires
    problems: list[str] = []
    for key, keywords in sorted(given.items()):
        kind, name = key.split(":", 1)
        if kind == "model":
            model = getattr(models, name, None)
            if model is None or not attrs.has(model):
                continue  # an enum, or a schema the spec lost (mypy names it)
            spec = [f.name for f in attrs.fields(model) if f.name != "additional_properties"]
            needed = {f.name for f in attrs.fields(model) if f.default is attrs.NOTHING}
            what, where = name, "{}.{} (a request field, built at {})"
        else:
            full = f"{package.__name__}.{aliases[name]}"
            try:
                route = importlib.import_module(full)
            except ModuleNotFoundError as exc:
                if exc.name is None or not f"{full}.".startswith(f"{exc.name}."):
                    raise
                continue  # a route the spec dropped (its tag too), which `uncalled_routes` names
            build = route._get_kwargs
            params = inspect.signature(build).parameters.values()
            # The Idempotency-Key: ``_calls._call`` gives one to every request that takes it.
            spec = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
            spec = [n for n in spec if n not in ("body", "idempotency_key")]
            needed = {p.name for p in params if p.default is p.empty}
            what = aliases[name].rpartition(".")[2]
            where = "{}?{} (a request parameter, sent at {})"
        names = [n.rstrip("_") for n in spec]  # the generator's `type_` is `type`
        fields.setdefault(what, []).extend(names)
        required.setdefault(what, set()).update(n.rstrip("_") for n in spec if n in needed)
        if keywords is None:  # not taken as sending every field: one the spec adds is not
            problems.append(
                f"{what} (built with `**` in {unpacked[key]}, whose fields the coverage "
                "cannot read: name each field it sends)"
            )
            continue
        unsent = UNSENT.get(what, {})
        problems.extend(
            where.format(what, n, first[key])
            for n, raw in zip(names, spec, strict=True)
            if raw not in keywords and n not in unsent
        )
    problems.extend(
        f"{what}.{name} (in UNSENT of weaver_facade/_calls.py, but not in the spec)"
        for what, unsent in UNSENT.items()
        for name in unsent
        if name not in fields.get(what, ())
    )
    # Its reason is for a field the facade may leave out: the server refuses a request
    # without a required one.
    problems.extend(
        f"{what}.{name} (in UNSENT of weaver_facade/_calls.py, but the spec requires it)"
        for what, unsent in UNSENT.items()
        for name in unsent
        if name in required.get(what, ())
    )
    return problems


# Routes of the spec the facade never calls, by their module's name (`route_modules`), and
# why (a new route is listed until it is called or named here).
NOT_CALLED = {
    "forward": "the facade offers no forward-only pass (the README's table of the official "
    "SDK's features); the emulator serves it for that SDK",
    "get_artifact": "an artifact is reached through its checkpoint's list and its download "
    "descriptor, both core (the route is the `artifact-by-id` extension)",
    "delete_artifact": "the facade deletes no artifact (the route is the `artifact-by-id` "
    "extension)",
}


class Called(NamedTuple):
    """A route the core calls: where it imports the route's module (``FILE:LINE``), and
    each place it calls it: with the schema the core reads its 2xx reply as (``read_as``),
    and the source of its ``Call.model`` (``None``: not through ``_calls._call``)."""

    imported: str
    reads: list[tuple[str, str | None, str | None]]


def called_routes() -> dict[str, Called]:
    """The routes whose generated module's ``_get_kwargs`` the facade's core passes to a
    call, by operationId, read from its source: so also where the facade no longer imports."""
    import ast

    trees = {
        path.stem: ast.parse(path.read_text("utf-8"))
        for path in sorted((ROOT / "weaver_facade").glob("_*.py"))
        if path.name != "__init__.py"
    }
    replies = reply_types(trees)
    called: dict[str, Called] = {}
    for stem, tree in trees.items():
        aliases = {
            alias.asname: (alias.name, f"weaver_facade/{stem}.py:{node.lineno}")
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.asname and alias.name.startswith("weaver_client.api.")
        }
        for kind, name, _, line, model in _sent(tree):
            if kind == "call" and name in aliases:
                module, where = aliases[name]
                route = called.setdefault(module.rpartition(".")[2], Called(where, []))
                given = None if model is None else ast.unparse(model)
                read = read_as(model, replies[stem])
                route.reads.append((f"weaver_facade/{stem}.py:{line}", read, given))
    return called


def reply_types(trees: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The schema each reply type of the core names (a ``_wire.MaybeResource``'s
    ``RESOURCE``), by the source that names the type in each module of ``trees`` (by
    name): where it is defined, or imported (``Reply``, ``Mine``), or as an attribute of
    a core module it imports (``_wire.Reply``)."""
    import ast

    scopes: dict[str, dict[str, str]] = {}
    # (module, name, local name) of each `from ._wire import Reply as Mine`; the module is
    # None for `from . import _wire`, whose name is the module.
    imports: dict[str, list[tuple[str | None, str, str]]] = {}
    for stem, tree in trees.items():
        scopes[stem], imports[stem] = {}, []
        for node in ast.walk(tree):  # once: the core is long
            if isinstance(node, ast.ClassDef):
                # ``RESOURCE = "Model"``, or annotated: ``RESOURCE: ClassVar[str] = "Model"``
                scopes[stem].update(
                    (node.name, stmt.value.value)
                    for stmt in node.body
                    if isinstance(stmt, ast.Assign | ast.AnnAssign)
                    and [
                        ast.unparse(target)
                        for target in (
                            stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                        )
                    ]
                    == ["RESOURCE"]
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                )
            elif isinstance(node, ast.ImportFrom) and (
                node.level == 1 or (node.module or "").partition(".")[0] == "weaver_facade"
            ):
                module = node.module
                module = None if module in (None, "weaver_facade") else module.rpartition(".")[2]
                imports[stem].extend((module, a.name, a.asname or a.name) for a in node.names)
    grown = True
    while grown:  # a type imported from a module that imports it in turn
        grown = False
        for stem, names in imports.items():
            for module, name, local in names:
                found = scopes.get(module or "", {}).get(name)
                if found is not None and local not in scopes[stem]:
                    scopes[stem][local] = found
                    grown = True
    return {  # and each type of a module imported whole, by its attribute (`_wire.Reply`)
        stem: {
            **scopes[stem],
            **{
                f"{local}.{type_}": resource
                for module, name, local in names
                if module is None
                for type_, resource in scopes.get(name, {}).items()
            },
        }
        for stem, names in imports.items()
    }


def read_as(model: Any, resources: Mapping[str, str]) -> str | None:
    """The schema a ``Call.model`` expression reads a 2xx reply as, in the words of
    ``success_replies``: ``Model`` (``wire.Model``), ``anything`` (``NoBody``, whose body is
    not read), ``Model or anything`` (a reply type whose ``RESOURCE`` is Model, named as
    in ``resources``: any other reply is done all the same); ``None`` when it cannot tell."""
    import ast

    if (
        isinstance(model, ast.Attribute)
        and isinstance(model.value, ast.Name)
        and model.value.id == "wire"
    ):
        return model.attr
    if isinstance(model, ast.Name) and model.id == "NoBody":
        return "anything"
    if model is not None and ast.unparse(model) in resources:
        return f"{resources[ast.unparse(model)]} or anything"
    return None


def uncalled_routes(document: Mapping[str, Any] | None = None) -> list[str]:
    """``METHOD /path (operationId: ...)`` for each route of the spec that the facade
    never calls and ``NOT_CALLED`` does not give a reason for, each route the facade calls
    that the spec does not have, and each ``NOT_CALLED`` entry the spec does not have. A
    route is known by its module's name (``listModels``: ``list_models``), as it is called."""
    document = load_document(SPEC) if document is None else document
    called = called_routes()
    problems = []
    in_spec = set()
    for key, (operation_id, module) in route_modules(document).items():
        name = module.rpartition("/")[2].removesuffix(".py")
        in_spec.add(name)
        if name not in called and name not in NOT_CALLED:
            named = f"{operation_id}: " if operation_id else ""
            problems.append(f"{key} ({named}a route the facade does not call)")
    # Its generated module is gone with it: the facade's call fails (mypy names it).
    problems.extend(
        f"{name} (a route the facade calls, imported at {route.imported}, but the spec no "
        "longer has it)"
        for name, route in called.items()
        if name not in in_spec
    )
    return problems + _not_in_spec("NOT_CALLED", NOT_CALLED, in_spec)


# Routes the facade calls whose success replies are of more than one schema: the schema of
# each status it tells apart, and how (the rest it reads as the one schema of their 2xx replies).
_BY_KIND = (
    "`_calls.ExportReply` tells the Artifact from the Operation by `kind`, and one whose "
    "`kind` says neither by its status (200: the Artifact's)"
)
READ_BY_SHAPE = {
    "export_checkpoint": ({"200": "Artifact", "202": "Operation"}, _BY_KIND),
    "export_model_weights": ({"200": "Artifact", "202": "Operation"}, _BY_KIND),
}


def success_replies(document: Mapping[str, Any], key: str) -> dict[str, str]:
    """The schema of each 2xx reply of the route ``key`` (``METHOD /path``) by its status:
    a component's name, ``no body``, ``Model or anything`` (an ``anyOf`` of a component and
    a schema that holds anything), or ``an object in place``; ``... or null`` where it may
    also be null (a branch of ``type: 'null'``, OpenAPI 3.0's ``nullable``)."""
    method, _, path = key.partition(" ")
    responses = document.get("components", {}).get("responses", {})
    replies = {}
    for status, reply in document["paths"][path][method.lower()]["responses"].items():
        if not str(status).startswith("2"):
            continue
        ref = reply.get("$ref", "") if isinstance(reply, Mapping) else ""
        reply = responses.get(ref.rpartition("/")[2], reply) if ref else reply
        schema = (reply.get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            replies[str(status)] = "no body"
        else:
            replies[str(status)] = _schema_words(schema)
    return dict(sorted(replies.items()))


def _schema_words(schema: Mapping[str, Any]) -> str:
    """A reply's schema as ``success_replies`` says it."""
    if schema.get("nullable") is True:
        rest = {k: v for k, v in schema.items() if k != "nullable"}
        return _or_null([_schema_words(rest), "null"])
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2]
    if schema.get("type") == "null" and not set(schema) - {"type", "description", "title"}:
        return "null"
    # OpenAPI 3.0 wraps a $ref to make it nullable: `allOf: [$ref]` with `nullable`.
    if set(schema) - {"description"} == {"allOf"} and len(schema["allOf"]) == 1:
        return _schema_words(schema["allOf"][0])
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not branches or set(schema) - {"anyOf", "oneOf", "description"}:
        return "an object in place"
    # A branch of nothing but words takes any reply (a terminate's body, optional).
    words = [
        "anything" if not set(branch) - {"description", "title"} else _schema_words(branch)
        for branch in branches
    ]
    return "an object in place" if "an object in place" in words else _or_null(words)


def _or_null(words: list[str]) -> str:
    """``words`` joined by ``or``, null last (``Model or null``), once."""
    null = "null" in words or any(w.endswith(" or null") for w in words)
    words = [w.removesuffix(" or null") for w in words if w != "null"]
    return " or ".join([*words, "null"] if null else words) or "null"


def mixed_replies(document: Mapping[str, Any] | None = None) -> list[str]:
    """``METHOD /path (operationId: its success replies are ...)`` for each route the facade
    calls whose 2xx replies are not all of one schema (or all without a body), unless
    ``READ_BY_SHAPE`` says how it tells exactly those schemas, at those statuses, apart: the
    facade reads each of a route's success replies as one schema, and the generated parser,
    which a new one goes to, passes mypy (``_calls.Call.model``). Also each ``READ_BY_SHAPE``
    entry whose route the spec does not have, or gives one schema, or other replies."""
    document = load_document(SPEC) if document is None else document
    called = called_routes()
    problems = []
    in_spec = set()
    for key, (operation_id, module) in route_modules(document).items():
        name = module.rpartition("/")[2].removesuffix(".py")
        in_spec.add(name)
        if name not in called and name not in READ_BY_SHAPE:
            continue
        replies = success_replies(document, key)
        schemas = set(replies.values())
        said = _and([f"{status} {schema}" for status, schema in replies.items()])
        named = f"{operation_id}: " if operation_id else ""
        if name in READ_BY_SHAPE:
            told = READ_BY_SHAPE[name][0]
            told_said = _and([f"{status} {schema}" for status, schema in told.items()])
            if len(schemas) <= 1:
                has = f"its success replies are {said} alone" if said else "it has no success reply"
                problems.append(
                    f"{key} ({named}in READ_BY_SHAPE of scripts/_regenerate.py, but {has})"
                )
            elif replies != told:  # a schema at another status too: its reply type may ask it
                problems.append(
                    f"{key} ({named}its success replies are {said}, but READ_BY_SHAPE of "
                    f"scripts/_regenerate.py tells {told_said} apart)"
                )
        elif len(schemas) > 1:
            problems.append(
                f"{key} ({named}its success replies are {said}, which the facade reads as one)"
            )
    return problems + _not_in_spec("READ_BY_SHAPE", READ_BY_SHAPE, in_spec)


def misread_replies(document: Mapping[str, Any] | None = None) -> list[str]:
    """``METHOD /path (operationId: its success reply is ..., but the core reads it as ...
    at FILE:LINE)`` for each call of a route whose 2xx reply the core reads (its
    ``Call.model``) as another schema than the spec's: the generated parser reads a
    swapped schema unchecked, and mypy passes. Also each call whose ``Call.model`` the
    source does not tell. Routes of several schemas are ``mixed_replies``'."""
    document = load_document(SPEC) if document is None else document
    called = called_routes()
    problems = []
    for key, (operation_id, module) in route_modules(document).items():
        name = module.rpartition("/")[2].removesuffix(".py")
        replies = success_replies(document, key)
        schemas = set(replies.values())
        if name not in called or name in READ_BY_SHAPE or len(schemas) > 1:
            continue
        said = _and([f"{status} {schema}" for status, schema in replies.items()]) or "none"
        its = f"its success {'reply is' if len(replies) == 1 else 'replies are'} {said}"
        named = f"{operation_id}: " if operation_id else ""
        for where, read, given in called[name].reads:
            if given is None:
                problems.append(
                    f"{key} ({named}called at {where}, but not through `_calls._call`, whose "
                    "second argument is the schema the coverage reads its reply as)"
                )
            elif read is None:
                problems.append(
                    f"{key} ({named}called through `_calls._call` at {where}, but its second "
                    f"argument, `{given}`, names no schema the coverage can read: `wire.Model`, "
                    "`NoBody`, or a reply type of the core with its `RESOURCE`)"
                )
            elif not _read_fits(read, schemas):
                problems.append(f"{key} ({named}{its}, but the core reads it as {read} at {where})")
    return problems


def _read_fits(read: str, schemas: set[str]) -> bool:
    """Whether the core, reading a reply as ``read`` (``read_as``), reads each of the
    spec's success reply ``schemas`` as what it is."""
    if read == "anything":
        return True
    resource = read.removesuffix(" or anything")
    if resource != read:  # the resource, or any other reply taken as done
        return schemas <= {resource, read, "no body"}
    return schemas == {read}


def _not_in_spec(table: str, entries: Collection[str], in_spec: set[str]) -> list[str]:
    """A line for each of ``entries`` (routes by their module's name) of this module's
    ``table`` that the spec does not have."""
    return [
        f"{name} (in {table} of scripts/_regenerate.py, but the spec has no such route)"
        for name in entries
        if name not in in_spec
    ]


def reply_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """``METHOD /path (operationId): old -> new`` for each route of both specs whose success
    replies (their statuses and schemas) ``after`` changes: one schema swapped for another
    is no line of the coverage, and mypy passes, but the facade, the emulator and the
    contract kit each read or send the old one."""
    was = route_modules(before)
    lines = []
    for key, (operation_id, _) in route_modules(after).items():
        if key not in was:
            continue
        old, new = success_replies(before, key), success_replies(after, key)
        if old != new:
            said = [
                _and([f"{status} {schema}" for status, schema in replies.items()]) or "none"
                for replies in (old, new)
            ]
            named = f" ({operation_id})" if operation_id else ""
            lines.append(f"{key}{named}: {said[0]} -> {said[1]}")
    return lines


def kinds_without_results(document: Mapping[str, Any] | None = None) -> list[str]:
    """Each value of ``OperationKind`` for which ``x-weaver-result-schemas`` of
    ``OperationResult`` names no schema: a done operation of that kind has a result no one
    can read (the facade, the kit and the emulator all take it from there). Also each kind
    it names that ``OperationKind`` lacks, and each schema it names that the spec lacks."""
    document = load_document(SPEC) if document is None else document
    schemas = _schemas(document)
    kinds = (schemas.get("OperationKind") or {}).get("enum") or []
    results = (schemas.get("OperationResult") or {}).get(RESULT_SCHEMAS) or {}
    problems = [
        f"OperationKind value {kind!r} (no result schema: `{RESULT_SCHEMAS}` of "
        "OperationResult names none for it)"
        for kind in kinds
        if kind not in results
    ]
    problems.extend(
        f"OperationResult kind {kind!r} (its result schema `{name}` in `{RESULT_SCHEMAS}` is "
        "no schema of components/schemas)"
        for kind, name in results.items()
        if name not in schemas
    )
    problems.extend(
        f"OperationResult kind {kind!r} (in `{RESULT_SCHEMAS}`, but OperationKind has no "
        "such value)"
        for kind in results
        if kind not in kinds
    )
    return problems


def _literals(hint: object) -> Iterator[object]:
    import typing

    if typing.get_origin(hint) is typing.Literal:
        yield hint
    for arg in typing.get_args(hint):
        yield from _literals(arg)


def literal_gaps(enums: Mapping[str, Collection[str]] | None = None) -> list[str]:
    """Each parameter of a public class's method typed as a ``Literal`` of some values of a
    spec enum but not all (or of more): the call would send a value the spec adds, and
    mypy refuses it. ``enums``: each enum's values, by schema (the client's by default)."""
    import inspect
    import typing

    import weaver_facade

    if enums is None:
        from weaver_client.schemas import SCHEMAS

        enums = {name: schema["enum"] for name, schema in SCHEMAS.items() if "enum" in schema}
    gaps: set[str] = set()
    for public in vars(weaver_facade).values():
        if not inspect.isclass(public) or public.__module__.split(".")[0] != "weaver_facade":
            continue
        for name, method in inspect.getmembers(public, inspect.isfunction):
            for parameter, hint in typing.get_type_hints(method).items():
                for literal in _literals(hint):
                    said = {v for v in typing.get_args(literal) if isinstance(v, str)}
                    gaps.update(
                        f"{public.__name__}.{name}({parameter}=): its Literal holds "
                        f"{sorted(said)}, the spec's {enum} {sorted(values)}"
                        for enum, values in enums.items()
                        if said & set(values) and said != set(values)
                    )
    return sorted(gaps)


def uncovered_codes(spec: Mapping[str, int] | None = None) -> list[str]:
    """The spec's error codes (``spec``: its status by code) without their class in
    ``weaver_facade/_errors.py`` (nor in its ``TOLD_BY_STATUS``), and the codes it maps
    that the spec does not have, or with another status."""
    from weaver_facade import _errors

    if spec is None:
        from weaver_client import limits

        spec = dict(getattr(limits, "ERROR_ERROR_CODES", {}))
    ours = {**_errors._BY_CODE, **dict.fromkeys(_errors.TOLD_BY_STATUS)}
    problems = [
        f"error code {code!r} ({status})" for code, status in spec.items() if code not in ours
    ]
    for code, cls in ours.items():
        if code not in spec:
            problems.append(f"error code {code!r} (in weaver_facade/_errors.py, not in the spec)")
            continue
        if cls is None:
            continue
        base = _errors.error_class(spec[code], None)
        # APIError, the class of a status `_BY_STATUS` lacks, takes any code's class: one of
        # a status of its own still stands for that one.
        if not issubclass(cls, base) or (base is _errors.APIError and _statuses_of(cls)):
            theirs = " ".join([f"{cls.__name__}'s", *_statuses_of(cls)])
            problems.append(f"error code {code!r}: the spec's status is {spec[code]}, not {theirs}")
    return problems


def _statuses_of(cls: type[Exception]) -> list[str]:
    """The status whose replies ``weaver_facade/_errors.py`` raises as ``cls`` (with its
    code): that of its base in ``_BY_STATUS`` (``5xx`` for a server error), if any."""
    from weaver_facade import _errors

    if issubclass(cls, _errors.InternalServerError):
        return ["5xx"]
    return [str(status) for status, base in _errors._BY_STATUS.items() if issubclass(cls, base)]


def _no_schema(where: str, declared: Any) -> str:
    kind = type(declared).__name__
    return (
        f"{declared.schema} (declared in {where} as {kind}({declared.schema!r}, "
        f"{declared.facade.__name__}, ...), but the generated client has no such schema)"
    )


def _declared_where(problem: str, places: Mapping[str, str]) -> str:
    """``problem`` with the file that declares its schema's ``WireFields`` (or
    ``WireValues``), where the fix goes, when one does and the problem does not say."""
    schema = problem.split(".", 1)[0].split(" ", 1)[0]
    if schema not in places or "declared in" in problem:
        return problem
    return f"{problem} ({places[schema]})"


# What each kind of line of the coverage is, in its heading, only for the kinds it lists.
HEADINGS = {
    "field": "spec fields it neither maps nor leaves out, and what it declares or keeps "
    "that the spec no longer has",
    "required": "fields it requires although the spec lets them be absent or null",
    "value": "enum values it has no member for, and members the spec no longer has",
    "code": "error codes it has no class for, or maps to another status",
    "literal": "method parameters whose `Literal` lacks a spec enum's values or has more",
    "reply": "reply objects it neither declares nor carries whole",
    "request": "request fields and parameters it neither sends nor lists as unsent",
    "route": "routes it neither calls nor lists as not called",
    "dropped": "routes it calls that the spec no longer has",
    "replies": "routes it calls whose success replies differ, which it reads as one",
    "read": "routes it calls whose success reply it reads as another schema than the spec's",
    "result": "operation kinds without a result schema in the spec",
}
# What to do for each kind of line of the coverage, said only for the kinds it lists.
ADVICE = {
    "field": "map each field in the facade type, or add it to `left_out` of its WireFields, "
    "next to its converter; an attribute or a declaration whose field the spec no longer has "
    "follows it (removed, renamed, or its source given in `derived`); a field mapped reaches "
    "the command line's `--json` too (its renderer in weaver_facade/_cli/, which "
    "tests/cli/test_json_fields.py holds to every attribute)",
    "required": "a field the spec lets be absent or null needs a default in the facade type "
    "(which its converter gives an absent field), or its reason in `required` of its "
    "WireFields",
    "value": "give each value a member of the facade's enum, or a `mapped` one in its "
    "WireValues (`grep -rn 'Wire[FV]' weaver_facade` lists them), and a member whose value "
    "the spec no longer has its new value (the code that uses it follows); a `mapped` value "
    "is read in replies only: a member the facade sends (a save's CheckpointType) is sent "
    "as its own value, which must be the spec's",
    "code": "an error code needs its class in `_BY_CODE` of weaver_facade/_errors.py "
    "(exported by weaver_facade and named in the README's list of errors), or a place in "
    "its `TOLD_BY_STATUS`",
    "literal": "a parameter typed as a `Literal` of a spec enum's values holds them all: "
    "add each value the spec added to it (`LossFnName` in weaver_facade/_training.py, and "
    "the like), and remove each it dropped",
    "reply": "a reply object needs a WireFields of its own, or a place in `NOT_DECLARED` of "
    "scripts/_regenerate.py",
    "request": "a request field or parameter is sent where the facade builds its request "
    "(the place its entry names), or listed in `UNSENT` of weaver_facade/_calls.py with the "
    "reason",
    "route": "a route is called where the facade builds its requests "
    "(weaver_facade/_calls.py, and a method that needs it), or given its reason in "
    "`NOT_CALLED` of scripts/_regenerate.py; the emulator serves it (`ROUTES` in "
    "weaver_facade/emulator/_app.py), and the wire sheet's route list in tests/spec and "
    "the cases of tests/generated/test_roundtrip.py name it too",
    "dropped": "a route the facade calls that the spec dropped: remove its call from "
    "weaver_facade/_calls.py and what uses it (`mypy --strict` names each place), or put "
    "the route back in openapi.yaml",
    "replies": "a route whose success replies are of more than one schema needs a reply "
    "type in weaver_facade/_calls.py that tells them apart (as `ExportReply` does), and its "
    "reason in `READ_BY_SHAPE` of scripts/_regenerate.py, with the schema of each status it "
    "tells apart; or the spec gives them one schema; an entry there follows its route "
    "(renamed, its schemas or their statuses changed, which its reply type follows too, or "
    "removed with the reply type when one schema is left)",
    "read": "the core reads a route's success reply as its `Call.model`, the second "
    "argument of `_call` in weaver_facade/_calls.py (the line named): make it the spec's "
    "schema there, and what reads the result follows (`mypy --strict` names each place), or "
    "put the spec's reply back; a reply type of several schemas goes in `READ_BY_SHAPE` of "
    "scripts/_regenerate.py",
    "result": "give each operation kind its result schema (one of components/schemas) in "
    "`x-weaver-result-schemas` of OperationResult in openapi.yaml, and make each kind named "
    "there a value of OperationKind; the facade, the contract kit and the emulator read a "
    "done operation's result by it",
}


def _kind(problem: str) -> str:
    """Which ``ADVICE`` a line of the coverage needs."""
    if problem.startswith("error code "):
        return "code"
    if "=): its Literal holds " in problem:
        return "literal"
    if "(a route the facade calls, " in problem:
        return "dropped"
    if "which the facade reads as one)" in problem or "READ_BY_SHAPE of " in problem:
        return "replies"
    if ", but the core reads it as " in problem or "through `_calls._call`" in problem:
        return "read"
    if re.search(r"a route the facade does not call\)|\(in NOT_CALLED of ", problem):
        return "route"
    if RESULT_SCHEMAS in problem:
        return "result"
    request = r"\(a request (field|parameter)[,)]|\(in UNSENT of |\(built with `\*\*` "
    if re.search(request, problem):
        return "request"
    if re.match(r"\w+ value ", problem):
        return "value"
    if "(a reply object" in problem or "NOT_DECLARED" in problem:
        return "reply"
    if re.search(r": (optional|nullable) in the spec, |\(in `required`", problem):
        return "required"
    return "field"


def _facade_problems() -> list[str]:
    """The lines of the coverage that need the facade imported: its declarations, its error
    classes, its methods' ``Literal`` parameters, what it sends."""
    places = {
        declared.schema: f"its {kind}: {where}"
        for kind in ("WireValues", "WireFields")
        for where, declared in declarations(kind)
    }
    # An attribute no field maps to is named by its facade type (`ModelInfo`, of `Model`).
    for where, declared in declarations():
        places.setdefault(declared.facade.__name__, f"its WireFields: {where}")
    # A request field's place is _calls.py, which its line and the advice name.
    return [
        *(_declared_where(p, places) for p in uncovered_fields()),
        *literal_gaps(),
        *unsent_fields(),
    ]


def _facade_file(filename: str) -> str | None:
    """``weaver_facade/NAME.py`` for a file of the facade, else None."""
    parts = Path(filename).parts
    if "weaver_facade" not in parts:
        return None
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("weaver_facade") :])


def _unreadable(exc: BaseException) -> list[str]:
    """Why the facade's lines could not be read. One that no longer imports against the new
    client names the line of the facade that asks for what the client no longer has (its
    exception names the module and the name)."""
    import traceback

    error = f"{type(exc).__name__}: {exc}"
    # Raised as a facade module was imported: its line at its own top level, whatever raised
    # beneath it (a KeyError of a default the spec dropped, `AdamParams()` out of its bounds).
    imported = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if _facade_file(frame.filename) and frame.name == "<module>"
    ]
    if imported:
        where = f"{_facade_file(imported[-1].filename)}:{imported[-1].lineno}"
        # mypy names each use of a name or key the client lost, and nothing else.
        how = (
            "`mypy --strict weaver_facade` names every place that must follow"
            if isinstance(exc, ImportError | AttributeError | LookupError)
            else "the line above raises as its module is imported"
        )
        return [
            f"the facade does not import against the new client: {where}: {error}",
            "so its spec fields, enum values, error codes and request fields could not be "
            f"checked: make it import ({how}), then run `scripts/regenerate --coverage`",
        ]
    return [
        f"the field coverage could not be read: {error}",
        "the facade does not import against the new client; run `mypy --strict` on it",
    ]


def cmd_coverage() -> int:
    unreadable: list[str] = []
    try:
        problems = _facade_problems()
    except RegenerateError:  # openapi.yaml itself (read for the reply objects): main says
        raise
    except Exception as exc:  # the facade no longer imports against this client
        problems, unreadable = [], _unreadable(exc)
    # These read only the spec and the facade's source: listed however the facade imports.
    problems += [
        *uncalled_routes(),
        *mixed_replies(),
        *misread_replies(),
        *kinds_without_results(),
    ]
    for line in unreadable:
        print(line)
    if not problems:
        if not unreadable:
            print(
                "every spec field the facade converts is mapped or left out with a reason, "
                "every request field and parameter is sent or unsent with one, every route "
                "is called or not called with one, and each one called is read as the "
                "spec's reply"
            )
        return 1 if unreadable else 0
    kinds = {_kind(problem) for problem in problems}
    held = "; ".join(what for kind, what in HEADINGS.items() if kind in kinds)
    print(f"the facade does not follow openapi.yaml here ({held}):")
    for problem in problems:
        print(f"  - {problem}")
    print("what to do:")
    for kind, advice in ADVICE.items():
        if kind in kinds:
            print(f"  * {advice}")
    return 1


def cmd_check() -> int:
    with tempfile.TemporaryDirectory(prefix="weaver-regen-check-") as tmp:
        fresh = generate(SPEC, Path(tmp))
        if not TARGET.exists():
            print("generated/weaver_client is missing; run scripts/regenerate", file=sys.stderr)
            return 1
        lines = diff_trees(fresh, TARGET)
    if not lines:
        print("generated/weaver_client matches openapi.yaml")
        return 0
    print(
        "generated/weaver_client has drifted from openapi.yaml; "
        "run scripts/regenerate and commit the result:",
        file=sys.stderr,
    )
    for line in lines[:MAX_DIFF_LINES]:
        print(line, file=sys.stderr)
    if len(lines) > MAX_DIFF_LINES:
        print(f"... {len(lines) - MAX_DIFF_LINES} more diff lines", file=sys.stderr)
    return 1


# --- live spec -----------------------------------------------------------------------------


API_KEY_HEADER = "X-WEAVER-API-KEY"


def _origin(url: Any) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def fetch_spec(url: str, api_key: str | None) -> tuple[str, dict[str, Any]]:
    import httpx
    import yaml

    candidates = [url]
    if not url.rstrip("/").endswith((".yaml", ".yml", ".json")):
        candidates = [url.rstrip("/") + "/openapi.yaml", url.rstrip("/") + "/openapi.json", url]
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    origin = _origin(httpx.URL(url))

    def key_stays_at_origin(request: httpx.Request) -> None:
        # httpx drops only `Authorization` on a redirect to another host; the key too.
        if _origin(request.url) != origin:
            request.headers.pop(API_KEY_HEADER, None)

    problems: list[str] = []
    with httpx.Client(
        timeout=30.0, follow_redirects=True, event_hooks={"request": [key_stays_at_origin]}
    ) as http:
        for candidate in candidates:
            try:
                response = http.get(candidate, headers=headers)
            except httpx.HTTPError as exc:
                problems.append(f"{candidate}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                problems.append(f"{candidate}: HTTP {response.status_code}")
                continue
            try:
                doc = yaml.safe_load(response.text)
            except yaml.YAMLError as exc:
                problems.append(f"{candidate}: not YAML or JSON ({exc})")
                continue
            if isinstance(doc, dict) and "openapi" in doc:
                return candidate, doc
            problems.append(f"{candidate}: not an OpenAPI document")
    raise RegenerateError("could not fetch a spec:\n  " + "\n  ".join(problems))


def _operations(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    ops: dict[str, Mapping[str, Any]] = {}
    for path, item in (doc.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if method in {"get", "put", "post", "patch", "delete", "head", "options"}:
                ops[f"{method.upper()} {path}"] = op or {}
    return ops


def _schemas(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return dict((doc.get("components") or {}).get("schemas") or {})


def _parameters(doc: Mapping[str, Any], key: str) -> set[str]:
    """``query parameter `wait` `` for each parameter of the operation ``key`` (``GET
    /path``), its path's own too, a reference to a named one followed."""
    method, path = key.split(" ", 1)
    item = (doc.get("paths") or {}).get(path) or {}
    named = (doc.get("components") or {}).get("parameters") or {}
    found = set()
    for param in [
        *(item.get("parameters") or []),
        *((item.get(method.lower()) or {}).get("parameters") or []),
    ]:
        if isinstance(param, Mapping) and isinstance(param.get("$ref"), str):
            param = named.get(param["$ref"].rsplit("/", 1)[-1])
        if isinstance(param, Mapping) and "name" in param:
            found.add(f"{param.get('in', 'unplaced')} parameter `{param['name']}`")
    return found


def _walk_summary(local: Mapping[str, Any], live: Mapping[str, Any]) -> Iterator[str]:
    lops, rops = _operations(local), _operations(live)
    for key in sorted(set(lops) - set(rops)):
        yield f"operation missing on the server: {key}"
    for key in sorted(set(rops) - set(lops)):
        yield f"operation only on the server: {key}"
    for key in sorted(set(lops) & set(rops)):
        lcodes = set((lops[key].get("responses") or {}).keys())
        rcodes = set((rops[key].get("responses") or {}).keys())
        for code in sorted(lcodes - rcodes):
            yield f"{key}: response {code} no longer documented by the server"
        for code in sorted(rcodes - lcodes):
            yield f"{key}: server documents a new response {code}"
        lparams, rparams = _parameters(local, key), _parameters(live, key)
        for param in sorted(lparams - rparams):
            yield f"{key}: {param} missing on the server"
        for param in sorted(rparams - lparams):
            yield f"{key}: server adds {param}"
    lsch, rsch = _schemas(local), _schemas(live)
    for name in sorted(set(lsch) - set(rsch)):
        yield f"schema missing on the server: {name}"
    for name in sorted(set(rsch) - set(lsch)):
        yield f"schema only on the server: {name}"
    for name in sorted(set(lsch) & set(rsch)):
        lprops = set((lsch[name].get("properties") or {}).keys())
        rprops = set((rsch[name].get("properties") or {}).keys())
        for prop in sorted(lprops - rprops):
            yield f"{name}: field `{prop}` missing on the server"
        for prop in sorted(rprops - lprops):
            yield f"{name}: server adds field `{prop}`"
        lreq = set(lsch[name].get("required") or [])
        rreq = set(rsch[name].get("required") or [])
        for prop in sorted(lreq - rreq):
            yield f"{name}: field `{prop}` is no longer required by the server"
        for prop in sorted(rreq - lreq):
            yield f"{name}: server now requires field `{prop}`"
        if lsch[name].get("enum") != rsch[name].get("enum"):
            yield f"{name}: enum {lsch[name].get('enum')} -> {rsch[name].get('enum')}"
        lfields, rfields = lsch[name].get("properties") or {}, rsch[name].get("properties") or {}
        for prop in sorted(set(lfields) & set(rfields)):
            if _definition(lfields[prop]) != _definition(rfields[prop]):
                yield f"{name}: field `{prop}` differs on the server"
    yield from _limit_changes(local, live)


# What a field's definition says besides its words and its limits (which have lines of
# their own): its type, format, nullability, reference, enum, extension.
_NOT_DEFINITION = {"description", "example", "examples", *LIMIT_KEYWORDS, WORDS, CODES, TERMINAL}


def _definition(schema: Any) -> Any:
    if not isinstance(schema, Mapping):
        return schema
    return {k: v for k, v in schema.items() if k not in _NOT_DEFINITION}


def _limit_changes(local: Mapping[str, Any], live: Mapping[str, Any]) -> Iterator[str]:
    """Each limit of ``weaver_client.limits`` the live spec gives another value: the facade,
    the command line and the emulator follow them."""
    had: set[str] = set()
    has: set[str] = set()
    try:
        before, after = spec_limits(local, had), spec_limits(live, has)
    except (RegenerateError, LookupError, TypeError, AttributeError) as exc:
        yield f"the limits could not be compared: {type(exc).__name__}: {exc}"
        return
    absent = object()

    def on_both_sides(key: str) -> bool:
        """Whether the schema, field or parameter of a limit only one side has is on both:
        one that is gone (or new) takes its limits along, and has a line of its own."""
        owner = max((o for o in had | has if key.startswith(f"{o}_")), key=len, default="")
        return owner in had and owner in has

    def shown(value: object) -> str:
        return "none" if value is absent else repr(value)

    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, absent), after.get(key, absent)
        if old == new or ((old is absent or new is absent) and not on_both_sides(key)):
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            for item in sorted(set(old) | set(new), key=str):
                was, now = old.get(item, absent), new.get(item, absent)
                if was != now:
                    yield f"limit {key}[{item!r}]: {shown(was)} -> {shown(now)}"
            continue
        yield f"limit {key}: {shown(old)} -> {shown(new)}"


def _canonical(doc: Mapping[str, Any]) -> list[str]:
    return json.dumps(doc, indent=2, sort_keys=True, default=str).splitlines()


def cmd_from(url: str, api_key: str | None, output: Path | None) -> int:
    import yaml

    if output is not None and output.resolve() == SPEC.resolve():
        # A dump of the live spec has none of openapi.yaml's comments: the extension list
        # and the design notes would go. Adopting a server's change is a hand edit.
        print(
            "error: --output must not be openapi.yaml, which would lose its comments; "
            "save elsewhere and carry the differences over by hand",
            file=sys.stderr,
        )
        return 2
    local = load_document(SPEC)  # a mistake in it is one line, before the server is asked
    source, live = fetch_spec(url, api_key)
    if output is not None:
        output.write_text(yaml.safe_dump(live, sort_keys=False), encoding="utf-8")
        print(f"wrote the live spec to {output}")
    if _canonical(local) == _canonical(live):
        print(f"the spec at {source} matches openapi.yaml")
        return 0
    print(f"the spec at {source} differs from openapi.yaml")
    summary = list(_walk_summary(local, live))
    if summary:
        print("\nsummary:")
        for line in summary:
            print(f"  - {line}")
    print("\ndiff (openapi.yaml -> live, canonical JSON):")
    diff = list(
        difflib.unified_diff(
            _canonical(local), _canonical(live), "openapi.yaml", source, lineterm="", n=2
        )
    )
    for line in diff[:MAX_DIFF_LINES]:
        print(line)
    if len(diff) > MAX_DIFF_LINES:
        print(f"... {len(diff) - MAX_DIFF_LINES} more diff lines")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/regenerate", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="fail with a diff if generated/ is stale"
    )
    mode.add_argument("--from", dest="from_url", metavar="URL", help="diff a live server's spec")
    parser.add_argument(
        "--api-key", default=os.environ.get("WEAVER_API_KEY"), help=argparse.SUPPRESS
    )
    mode.add_argument(
        "--coverage",
        action="store_true",
        help="print the coverage list alone, without regenerating: what of the spec the "
        "facade neither follows nor excuses (fields, values, codes, routes; DEVELOPERS.md)",
    )
    parser.add_argument("--output", type=Path, help="with --from: also save the live spec here")
    args = parser.parse_args(argv)
    if args.output is not None and not args.from_url:
        parser.error("--output saves the spec that --from URL fetches; give --from too")
    try:
        if args.coverage:
            return cmd_coverage()
        if args.check:
            return cmd_check()
        if args.from_url:
            return cmd_from(args.from_url, args.api_key, args.output)
        return cmd_regenerate()
    except RegenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
