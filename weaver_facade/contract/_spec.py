"""openapi.yaml as the kit reads it: operations, documented replies, and a wire checker.

The checker validates one reply against the spec and names each problem in one sentence,
such as "Checkpoint: required field `type` missing (got `checkpoint_type`)". It serves both
parts of the kit: the lifecycle scenario checks every reply it receives, and schemathesis'
failures are re-checked here so that both parts name a drift in the same words.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import jsonschema.exceptions
import yaml

from .._dest import shown_path
from .._pages import html_page
from .._plural import counted, plural
from .._redact import places, spelled
from .._result_shape import artifact_shaped, misplaced, result_schemas, shaped_as, stand_ins
from .._spec_schema import (
    PATTERN_WORDS,
    SCHEMA_REF,
    Located,
    SpecSchemas,
    describe,
    field_path,
    leaves,
    missing_fields,
    read_document,
    spec_path,
    unknown_fields,
)
from ._findings import DATE_TIME_EXPECTED, KEY_PLACEHOLDER, clip, redact
from ._ownership import ARTIFACT_KINDS, is_artifact_kind

__all__ = [
    "OperationResults",
    "OperationSpec",
    "Problem",
    "Spec",
    "UnusableSpec",
    "load_spec",
]

_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
_SHOWN = 60
# The wire sheet states no bounds or patterns but those a schema lists in
# `x-weaver-wire-rules`.
_RULES = {
    "minimum": (int, float),
    "maximum": (int, float),
    "exclusiveMinimum": (int, float),
    "exclusiveMaximum": (int, float),
    "minLength": (int,),
    "maxLength": (int,),
    "minItems": (int,),
    "maxItems": (int,),
    "pattern": (str,),
}
WIRE_RULES = "x-weaver-wire-rules"
IGNORABLE = "x-weaver-ignorable"


@dataclass(frozen=True)
class BeyondRule:
    """A value beyond a bound (or pattern) of the spec's own: where, the value, and the
    rule in words."""

    where: str
    value: Any
    rule: str


#: A value a request set beyond a rule of the spec's own: its field's name, the value as
#: JSON, and the rule in words.
TakenKey = tuple[str, str, str]


def taken_keys(found: Iterable[BeyondRule]) -> set[TakenKey]:
    """Each value by its field's name (a listing shows it at another place than a save) and
    the rule it breaks: a field of the same name under another rule (a file's ``name``
    beside a checkpoint's) is another field."""
    return {
        (b.where.rpartition(".")[2], json.dumps(b.value, sort_keys=True), b.rule) for b in found
    }


def beyond_in_words(found: Sequence[BeyondRule], secret: str | None, root: str = "") -> str:
    """The first few values beyond rules, such as `ttl_seconds` 315360001 (must be <= ...)."""

    def shown(value: Any) -> str:
        return clip(json.dumps(value), 40, secret)

    where = (lambda b: f"{root}.{b.where}") if root else (lambda b: b.where)
    return "; ".join(f"`{where(b)}` {shown(b.value)} ({b.rule})" for b in found[:3])


_OPTIONAL_NULL = "optional, but must not be null"
_TAKEN = "a value a request of the run set and the server took (see above)"
NO_SUCH_RULE = "the wire sheet states no such rule"


def _sheet_rules_only(node: Any) -> Any:
    """``node`` (the spec, or part of it) without the rules the wire sheet does not state,
    with any value for the properties it has a server ignore (``IGNORABLE``), and with a
    null for each optional one (not ``required``): the sheet does not say a null for an
    optional field is refused, and a server that takes one as the field left out breaks
    no client. Nor does it say that a field it does not name is refused
    (`additionalProperties: false`): a server may ignore it, as it ignores an extension's."""
    if isinstance(node, list):
        return [_sheet_rules_only(v) for v in node]
    if not isinstance(node, Mapping):
        return node
    kept = set(node.get(WIRE_RULES, ()))
    listed = node.get("required")
    required = set(listed) if isinstance(listed, list) else set()

    def sheet_field(name: str, field: Any) -> Any:
        if isinstance(field, Mapping) and field.get(IGNORABLE):
            return {}
        own = _sheet_rules_only(field)
        return own if name in required else {"anyOf": [{"type": "null"}, own]}

    return {
        k: _sheet_rules_only(v)
        if k != "properties" or not isinstance(v, Mapping)
        else {name: sheet_field(name, field) for name, field in v.items()}
        for k, v in node.items()
        # A property named like a rule has a schema, not a number or text, as its value.
        if not (k in _RULES and k not in kept and type(v) in _RULES[k])
        and not (k == "additionalProperties" and v is False)
    }


@dataclass(frozen=True)
class Problem:
    """One way a reply or a refusal differs from the spec.

    Attributes:
        check: The check's name, shared with schemathesis where it has one.
        message: One sentence naming the schema, the field and what came instead.
        expected: What the spec asks for, in a few words.
        got: What came back, in a few words.
    """

    check: str
    message: str
    expected: str
    got: str


@dataclass(frozen=True)
class OperationSpec:
    """One operation of the spec."""

    operation_id: str
    method: str
    path: str
    responses: Mapping[str, Mapping[str, Any]]
    request_schema: str | None
    pattern: re.Pattern[str] = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def documented(self) -> list[str]:
        return sorted(self.responses)


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", path)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def _key_across(text: str, at: int, secret: str | None) -> tuple[int, int]:
    """Where the key (in any of its spellings, ``spelled``) runs across ``at`` in
    ``text``, with its places that overlap that one (``places``), else ``(at, at)``: a key
    that begins as JSON does (a hex key's first digit) breaks it there, and no part of it,
    hidden apart, is the key."""
    for start, end in places(spelled(secret), text) if secret else ():
        if start >= at:
            break
        if at < end:
            return start, end
    return at, at


def _where_json_breaks(body: bytes, error: ValueError, secret: str | None) -> str:
    """Where ``body`` stops being JSON, with what comes on either side: a stray byte
    after a long body is far from its start."""
    if isinstance(error, json.JSONDecodeError):
        start, end = _key_across(error.doc, error.pos, secret)
        before = redact(error.doc[:start], secret) + (KEY_PLACEHOLDER if end > start else "")
        after = redact(error.doc[end:], secret)
        if not before.strip():  # nothing of it is JSON: "expecting value at character 0"
            return f"it begins {after[:20]!r}"
        what = "extra data after the JSON value" if error.msg == "Extra data" else error.msg
        where = f"{what[:1].lower()}{what[1:]} at character {error.pos}"
    elif isinstance(error, UnicodeDecodeError):
        raw_before, raw_after = body[: error.start], body[error.start :]
        before = redact(raw_before.decode("utf-8", "replace"), secret)
        after = redact(raw_after.decode("utf-8", "replace"), secret)
        where = f"not UTF-8 at byte {error.start}"
    else:
        return f"{error}: {clip(repr(body), _SHOWN, secret)}"
    shown_after = repr(after[:20]) if after else "the end"
    return f"{where}: {before[-20:]!r} then {shown_after}"


def _header_value_problem(
    status: int, name: str, header: Mapping[str, Any], value: str
) -> Problem | None:
    """``value`` of the documented header ``name`` against its schema, when that is an
    integer's (`Retry-After`: seconds; an HTTP-date is not): a client waits by it."""
    schema = header.get("schema") or {}
    if schema.get("type") != "integer":
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    text = value.strip()
    if re.fullmatch(r"-?[0-9]+", text):
        seconds = int(text)
        if (low is None or seconds >= low) and (high is None or seconds <= high):
            return None
    rule = "an integer"
    if low is not None and high is not None:
        rule += f" from {low} to {high}"
    elif low is not None or high is not None:
        rule += f" >= {low}" if low is not None else f" <= {high}"
    gloss = f" ({str(header['description']).strip()})" if header.get("description") else ""
    return Problem(
        "response_headers_conformance",
        f"the {status} reply's `{name}` is {value!r}, where the spec has {rule}{gloss}",
        expected=f"header {name}: {rule}",
        got=repr(value),
    )


def _pointer(*segments: str) -> str:
    return "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)


def _short(value: Any, secret: str | None) -> str:
    return clip(json.dumps(value, sort_keys=True, default=str), _SHOWN, secret)


def _where(path: Iterable[Any]) -> str:
    return field_path("", path)


def _ticks(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


class Spec:
    """The operations and schemas of one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any], *, secret: str | None = None) -> None:
        self.document = document
        #: The API key, hidden in what a problem shows of a reply before it is cut.
        self.secret = secret
        self.schemas = SpecSchemas(document)
        self.results = result_schemas(document["components"]["schemas"])
        self.operations: dict[str, OperationSpec] = {}
        for path, item in (document.get("paths") or {}).items():
            for method in _METHODS:
                op = (item or {}).get(method)
                if not isinstance(op, Mapping):
                    continue
                responses = {
                    str(code): self._deref(reply)
                    for code, reply in (op.get("responses") or {}).items()
                }
                request = self._deref(op.get("requestBody") or {})
                req_schema = (
                    (request.get("content") or {}).get("application/json", {}).get("schema", {})
                )
                ref = req_schema.get("$ref", "") if isinstance(req_schema, Mapping) else ""
                spec = OperationSpec(
                    operation_id=str(op.get("operationId", f"{method} {path}")),
                    method=method.upper(),
                    path=path,
                    responses=responses,
                    request_schema=ref[len(SCHEMA_REF) :] if ref.startswith(SCHEMA_REF) else None,
                    pattern=_path_pattern(path),
                )
                self.operations[spec.label] = spec

    @functools.cached_property
    def _sheet_schemas(self) -> SpecSchemas:
        return SpecSchemas(_sheet_rules_only(self.document))

    def beyond_own_rules(
        self, pointer: str, value: Any, errors: list[Any] | None = None
    ) -> list[BeyondRule]:
        """What puts ``value`` outside the schema at ``pointer``, when that is only bounds
        or patterns of the spec's own, nulls for optional fields, or fields it does not
        have, which the wire sheet does not state (``_sheet_rules_only``); else ``[]``.
        Only for requests: a reply is held to the spec.
        ``errors``: ``value``'s errors against that schema, when the caller has them."""
        if errors is None:
            errors = list(self.schemas.validator(pointer).iter_errors(value))
        if not errors or next(self._sheet_schemas.validator(pointer).iter_errors(value), None):
            return []
        found = []
        for error in leaves(errors):
            parts, rule = describe(error)
            if error.validator == "type" and error.instance is None:
                rule = _OPTIONAL_NULL  # a null the sheet's view takes is an optional field's
            held = error.instance
            if isinstance(held, Mapping) and unknown_fields(error):
                # each field with its own value, not the object that holds them
                path = list(error.absolute_path)
                found += [
                    BeyondRule(field_path("", [*path, name]), held[name], rule)
                    for name in unknown_fields(error)
                ]
                continue
            found.append(BeyondRule(field_path("", parts) or "body", error.instance, rule))
        return found

    def parameter_pointer(self, label: str, location: str, name: str) -> str | None:
        """The pointer to the schema of the ``location`` (``path``, ``query``, ``header``) parameter
        ``name`` of the operation ``label`` (a header's name in any case); else ``None``."""
        method, _, path = label.partition(" ")
        item = (self.document.get("paths") or {}).get(path) or {}
        base = "#/" + _pointer("paths", path)
        op = item.get(method.lower()) or {}
        places = [
            (f"{base}/{method.lower()}/parameters", op.get("parameters") or []),
            (f"{base}/parameters", item.get("parameters") or []),
        ]
        for where, parameters in places:
            for i, parameter in enumerate(parameters):
                pointer = f"{where}/{i}"
                if isinstance(parameter, Mapping) and "$ref" in parameter:
                    pointer = str(parameter["$ref"])
                    parameter = self.schemas.resolve(pointer)
                if not isinstance(parameter, Mapping) or parameter.get("in") != location:
                    continue
                given = str(parameter.get("name", ""))
                same = given.lower() == name.lower() if location == "header" else given == name
                if same and "schema" in parameter:
                    return f"{pointer}/schema"
        return None

    def taken_apart(
        self, pointer: str, value: Any, taken: AbstractSet[TakenKey]
    ) -> tuple[list[jsonschema.exceptions.ValidationError], list[BeyondRule]]:
        """``value``'s errors against the schema at ``pointer``, less each that only shows a
        value beyond a rule of the spec's own that the server took (``taken``, see
        ``taken_keys``) from a request of the run, which come second. Told error by error,
        so that such a value is excused alike in a reply that breaks the spec otherwise."""
        kept: list[jsonschema.exceptions.ValidationError] = []
        excused: list[BeyondRule] = []
        # Formats too: a time without its zone is no RFC 3339 date-time, though the
        # facade's `datetime.fromisoformat` reads one (as a naive time).
        for error in self.schemas.validator(pointer, formats=True).iter_errors(value):
            found = self._taken_alone(error, taken) if taken else None
            if found is None:
                kept.append(error)
            else:
                excused += found
        return kept, excused

    @staticmethod
    def _taken_alone(
        error: jsonschema.exceptions.ValidationError, taken: AbstractSet[TakenKey]
    ) -> list[BeyondRule] | None:
        """What ``error`` shows, when that is only values beyond rules of the spec's own
        (not in its schema's ``x-weaver-wire-rules``), each taken; else ``None``."""
        found = []
        for leaf in leaves([error]):
            schema = leaf.schema if isinstance(leaf.schema, Mapping) else {}
            if leaf.validator not in _RULES or leaf.validator in schema.get(WIRE_RULES, ()):
                return None
            parts, rule = describe(leaf)
            found.append(BeyondRule(field_path("", parts) or "body", leaf.instance, rule))
        return found if found and taken_keys(found) <= taken else None

    def taken_again(
        self, pointer: str, value: Any, taken: AbstractSet[TakenKey], root: str = ""
    ) -> str | None:
        """In words, the values ``value`` holds beyond rules of the spec's own, each one the
        server took (``taken``) from a request of the run (``taken_apart``); else ``None``.
        What else breaks the schema at ``pointer`` is ``check_value``'s, with ``taken``."""
        found = self.taken_apart(pointer, value, taken)[1] if taken else []
        if not found:
            return None
        return f"{beyond_in_words(found, self.secret, root)}, {_TAKEN}: {NO_SUCH_RULE}"

    def reply_pointer(self, op: OperationSpec, status: int) -> str | None:
        """The pointer to the schema of ``op``'s reply with ``status``, if the spec gives one."""
        code = self._documented(op, status)
        content = (op.responses.get(code) or {}).get("content") or {}
        json_body = content.get("application/json") or {}
        return self._response_schema_pointer(op, code) if "schema" in json_body else None

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node and seen < 10:
            node = self.schemas.resolve(str(node["$ref"]))
            seen += 1
        return node

    def by_id(self, operation_id: str) -> OperationSpec:
        for op in self.operations.values():
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> OperationSpec | None:
        """The operation serving ``method path`` (a concrete path, such as /api/v1/models/m-1)."""
        found = [
            op
            for op in self.operations.values()
            if op.method == method.upper() and op.pattern.match(path)
        ]
        # A literal segment beats a parameter: /checkpoints/ttl is not /checkpoints/{id}.
        found.sort(key=lambda op: op.path.count("{"))
        return found[0] if found else None

    @staticmethod
    def _documented(op: OperationSpec, status: int) -> str:
        """The key that documents ``status``: itself, its range (`2XX`) or `default`."""
        return next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in op.responses),
            str(status),
        )

    def without_body(self, op: OperationSpec, status: int, body: bytes) -> bool:
        """Whether ``body`` is empty where the spec lets a reply have none."""
        reply = op.responses.get(self._documented(op, status)) or {}
        return bool(reply.get("x-weaver-body-optional")) and not body.strip()

    def schema_properties(self, name: str) -> set[str]:
        schema = self.document["components"]["schemas"].get(name) or {}
        return set((schema.get("properties") or {}).keys())

    # -- checking replies ---------------------------------------------------------------------

    def check_reply(
        self,
        op: OperationSpec,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        taken: AbstractSet[TakenKey] = frozenset(),
    ) -> list[Problem]:
        """Every way a reply to ``op`` differs from what the spec documents for its status,
        but values the run set beyond rules of the spec's own (``taken``, see
        ``taken_apart``)."""
        code = self._documented(op, status)
        reply = op.responses.get(code)
        if reply is None:
            documented = ", ".join(op.documented)
            return [
                Problem(
                    "status_code_conformance",
                    f"{status} is not a documented status (documented: {documented})",
                    expected=f"one of {documented}",
                    got=str(status),
                )
            ]
        problems: list[Problem] = []
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, header in (reply.get("headers") or {}).items():
            header = self._deref(header)
            if header.get("required") and name.lower() not in lowered:
                problems.append(
                    Problem(
                        "response_headers_conformance",
                        f"{status} reply lacks the required header `{name}`",
                        expected=f"header {name}",
                        got="no such header",
                    )
                )
            elif name.lower() in lowered:
                wrong = _header_value_problem(status, name, header, lowered[name.lower()])
                problems.extend([wrong] if wrong is not None else [])
        content = reply.get("content") or {}
        media = content.get("application/json")
        if media is None or "schema" not in media:
            return problems
        if self.without_body(op, status, body):
            return problems  # the real service promises no body here
        try:
            data = json.loads(body)
        except ValueError as exc:
            sent_as = lowered.get("content-type", "none")
            page = html_page(body, sent_as, lambda text: redact(text, self.secret))
            if not body.strip():  # JSON's words for it ("expecting value") hide that none came
                message = (
                    f"the {status} reply has an empty body, where the spec documents a JSON "
                    f"one (content-type {sent_as!r})"
                )
                got = "an empty body"
            elif page is not None:  # a proxy's or a framework's page, not JSON gone wrong
                message = f"the {status} reply is {page}, not JSON (content-type {sent_as!r})"
                got = f"an HTML page (content-type {sent_as})"
            else:
                where = _where_json_breaks(body, exc, self.secret)
                message = f"the {status} reply is not JSON ({where}; content-type {sent_as!r})"
                got = f"content-type {sent_as}"
            problems.append(
                Problem("response_schema_conformance", message, expected="a JSON body", got=got)
            )
            return problems
        # A JSON body under another type; one that is no JSON at all is named above, once.
        ctype = lowered.get("content-type")
        if ctype is not None and ctype.split(";")[0].strip().lower() != "application/json":
            problems.append(
                Problem(
                    "content_type_conformance",
                    f"the {status} reply's Content-Type is `{ctype}`, where the spec documents "
                    "`application/json`",
                    expected="Content-Type application/json",
                    got=ctype,
                )
            )
        instead = self._result_instead(op, media["schema"], status, data)
        if instead is not None:
            return [*problems, instead]
        pointer = _pointer("paths", op.path, op.method.lower(), "responses", code)
        pointer = self._response_schema_pointer(op, code) or pointer
        found = self.check_value(pointer, data, taken=taken)
        operation = self._operation_instead(op, code, media["schema"], data) if found else None
        problems.extend(found if operation is None else [operation])
        return problems

    def _operation_instead(
        self, op: OperationSpec, code: str, schema: Mapping[str, Any], data: Any
    ) -> Problem | None:
        """A valid Operation answered with a status that documents another reply (an
        export's 200, which is the artifact itself; its Operation is answered 202). Told
        as the wire sheet says clients tell them: an artifact's `kind` is an artifact kind."""
        ref = SCHEMA_REF + "Operation"
        if schema == {"$ref": ref}:  # this status's own reply is an Operation
            return None
        if isinstance(data, Mapping) and is_artifact_kind(data.get("kind")):
            return None
        others = [
            other
            for other, reply in op.responses.items()
            if other != code
            and other.startswith("2")
            and self._deref(reply).get("content", {}).get("application/json", {}).get("schema")
            == {"$ref": ref}
        ]
        # A server's own operation kind (`export`): an Operation's, as the facade reads it.
        if isinstance(data, Mapping) and not artifact_shaped(data):
            data = {k: v for k, v in data.items() if k != "kind"}
        if not others or self.check_schema("Operation", data):
            return None
        name = str(schema.get("$ref", "")).removeprefix(SCHEMA_REF) or "another reply"
        statuses = " or ".join(others)
        return Problem(
            "response_schema_conformance",
            f"the {code} reply is an Operation, which the spec answers with {statuses}; "
            f"{code} is for the {name} itself",
            expected=f"the {name}, or an Operation with {statuses}",
            got="an Operation",
        )

    def _result_instead(
        self, op: OperationSpec, schema: Mapping[str, Any], status: int, data: Any
    ) -> Problem | None:
        """A reply that should start an operation but is its result (the history's
        synchronous save: the Checkpoint where the Operation belongs)."""
        result = self.results.get(op.operation_id)
        if result is None or schema.get("$ref") != SCHEMA_REF + "Operation":
            return None
        if not shaped_as(data, result, "Operation", self.document["components"]["schemas"]):
            return None
        return Problem(
            "response_schema_conformance",
            misplaced(str(status), result),
            expected="an Operation",
            got=f"a {result}",
        )

    def describe_refusal(self, op: OperationSpec, body: Any, status: int, reply: bytes) -> Problem:
        """A spec-valid request refused with a 4xx, with the fields the server named.

        A server that names a field the request schema does not define (`checkpoint_id`), or
        one we sent (`path`), speaks another shape of the request; the sentence says which.
        """
        text = reply.decode("utf-8", "replace")
        code = ""
        said = clip(" ".join(text.split()), 200, self.secret)
        try:
            data = json.loads(reply)
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            code = str(data.get("error") or "")
            if isinstance(data.get("message"), str):
                said = data["message"]
        message = f"a spec-valid request was refused with {status}" + (f" {code}" if code else "")
        if said:
            message += f": {said!r}"
        schema = op.request_schema
        if schema is not None:
            detail = _field_drift(schema, self.schema_properties(schema), body, text)
            if detail:
                message += f"; {detail}"
        return Problem(
            "positive_data_acceptance",
            message,
            expected="a 2xx reply",
            got=f"{status}" + (f" {code}" if code else ""),
        )

    def _response_schema_pointer(self, op: OperationSpec, code: str) -> str | None:
        raw = self.document["paths"][op.path][op.method.lower()]["responses"].get(code)
        base: tuple[str, ...] = ("paths", op.path, op.method.lower(), "responses", code)
        if isinstance(raw, Mapping) and "$ref" in raw:
            ref = str(raw["$ref"]).removeprefix("#/")
            base = tuple(s.replace("~1", "/").replace("~0", "~") for s in ref.split("/"))
        return "#/" + _pointer(*base, "content", "application/json", "schema")

    def check_schema(self, name: str, value: Any, *, at: str = "") -> list[Problem]:
        """Problems of ``value`` against the component schema ``name``."""
        return self.check_value(f"#/components/schemas/{name}", value, at=at)

    def check_value(
        self, pointer: str, value: Any, *, at: str = "", taken: AbstractSet[TakenKey] = frozenset()
    ) -> list[Problem]:
        """Problems of ``value`` against the schema at ``pointer`` (``#/...``), but values
        the run set beyond rules of the spec's own (``taken``, see ``taken_apart``)."""
        errors = self.taken_apart(pointer, value, taken)[0]
        ordered = sorted(errors, key=lambda e: list(map(str, e.path)))
        return _describe(ordered, pointer, self.schemas, at, self.secret)


class OperationResults:
    """Checks each done operation's `response` with the schema of its kind.

    ``Operation.response`` is free-form in the spec, so no reply check can see a wrong
    Checkpoint in a save's result; the kind is learned, as the facade learns it, from
    the reply that started the operation. One instance per run of replies in order.
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.results = spec.results
        self.kinds: dict[str, str] = {}
        #: Results beyond rules of the spec's own only, with values ``taken``: notes.
        self.notes: list[tuple[str, str]] = []

    def check(
        self,
        op: OperationSpec,
        status_code: int,
        content: bytes,
        taken: AbstractSet[TakenKey] = frozenset(),
    ) -> list[Problem]:
        """Remember a started operation's kind; check a done one's result. ``taken``: the
        values beyond rules of the spec's own that the server took (``taken_keys``)."""
        if not 200 <= status_code < 300:
            return []
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):  # not JSON, or nested past what it reads
            return []
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return []
        if op.operation_id in self.results:
            self.kinds[data["id"]] = op.operation_id
        kind = self.kinds.get(data["id"])
        if (
            kind is None
            or data.get("status") != "done"
            or not isinstance(data.get("response"), dict)
        ):
            return []
        pointer = SCHEMA_REF + self.results[kind]
        problems = self.spec.check_value(pointer, data["response"], at="response", taken=taken)
        words = self.spec.taken_again(pointer, data["response"], taken, "response")
        if words:
            self.notes.append((op.label, f"{op.label}: the result of {kind} holds {words}"))
        return [
            Problem(p.check, f"{p.message} (result of {kind})", p.expected, p.got) for p in problems
        ]


# A field in plain words only with an underscore, next to "required" or "missing": a bare
# word ("a value is required") would be read as a field.
_SNAKE = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+"
_FIELD_MENTIONS = (
    re.compile(r"\bbody\.([A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"""\[\s*["']body["']\s*,\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""),
    re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`"),
    re.compile(rf"\b({_SNAKE}):? (?:field )?(?:is )?(?:required|missing)\b"),
    re.compile(rf"\b(?:missing|required) (?:field|property|parameter):? ({_SNAKE})\b"),
)


def _field_drift(schema: str, properties: set[str], body: Any, text: str) -> str | None:
    """Which fields a refusal names: ones the schema lacks, ones we sent."""
    mentioned: list[str] = []
    for pattern in _FIELD_MENTIONS:
        for name in pattern.findall(text):
            if name not in mentioned:
                mentioned.append(name)
    sent = set(body) if isinstance(body, Mapping) else set()
    unknown = [m for m in mentioned if m not in properties and m not in sent]
    rejected = [m for m in mentioned if m in sent]
    if unknown and rejected:
        return f"{schema}: the server requires {_ticks(unknown)} instead of {_ticks(rejected)}"
    if unknown:
        return f"{schema}: the server asks for {_ticks(unknown)}, which {schema} does not define"
    if rejected:
        return f"{schema}: the server rejects {_ticks(rejected)}"
    return None


# -- naming schema errors ---------------------------------------------------------------------


def _describe(
    errors: Sequence[jsonschema.exceptions.ValidationError],
    pointer: str,
    schemas: SpecSchemas,
    at: str,
    secret: str | None,
) -> list[Problem]:
    problems: list[Problem] = []
    # Missing required fields of one object are one finding, not one per field.
    missing: dict[tuple[str, str], tuple[Located, Mapping[str, Any], list[str]]] = {}
    for error in leaves(errors):
        located = schemas.locate(error, pointer)
        full = [*([at] if at else []), *error.absolute_path]
        where = _where(full)
        absent = missing_fields(error)
        if absent:
            name = located.names[-1] if located.names else "the reply"
            instance = cast(Mapping[str, Any], error.instance)
            found = missing.setdefault((name, where), (located, instance, []))
            found[2].extend(f for f in absent if f not in found[2])
            continue
        problems.append(_problem(located, error, full, secret))
    absent_first: list[Problem] = []
    for (name, where), (located, instance, fields) in missing.items():
        props = (
            set((located.node.get("properties") or {}).keys())
            if isinstance(located.node, Mapping)
            else set()
        )
        # Only the unknown fields that may stand for them: replies may grow.
        extra = sorted(stand_ins(fields, instance, props))
        got = f" (got {_ticks(extra)})" if extra else ""
        suffix = f" at `{where}`" if where else ""
        absent_first.append(
            Problem(
                "response_schema_conformance",
                f"{name}: required {plural(len(fields), 'field')} {_ticks(fields)} missing"
                f"{got}{suffix}",
                expected=f"{name} with {_ticks(fields)}",
                got=f"{_ticks(extra)} instead" if extra else "no such field",
            )
        )
    return _fold_items([*absent_first, *problems])


_INDEX = re.compile(r"\[\d+\]")


def _fold_items(problems: list[Problem]) -> list[Problem]:
    """One problem for the same defect in many items of a list (every checkpoint of a
    listing lacking `type`), naming the first and counting the others."""
    groups: dict[tuple[str, str], list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.check, _INDEX.sub("[*]", problem.message)), []).append(problem)
    folded = []
    for same in groups.values():
        first = same[0]
        if len(same) > 1:
            first = Problem(
                first.check,
                f"{first.message} (and {counted(len(same) - 1, 'more item')})",
                first.expected,
                first.got,
            )
        folded.append(first)
    return folded


def _problem(
    located: Located,
    error: jsonschema.exceptions.ValidationError,
    path: list[Any],
    secret: str | None,
) -> Problem:
    found = _schema_problem(located, error, path, secret)
    if (
        path[-1:] == ["kind"]
        and _holder(located) == "Operation"
        and is_artifact_kind(error.instance)
    ):
        # The schema says which values break it (OperationKind's enum, or without
        # operation-details the spec's `x-weaver-without-extension`), not the rule and why.
        rule = (
            f"; an Operation must never carry an artifact's kind ({_ticks(ARTIFACT_KINDS)}): "
            "clients tell an export's two replies, a 202 Operation and a 200 Artifact, "
            "apart by `kind`"
        )
        return replace(found, message=found.message + rule)
    return found


def _schema_problem(
    located: Located,
    error: jsonschema.exceptions.ValidationError,
    path: list[Any],
    secret: str | None,
) -> Problem:
    """The problem ``error`` names; ``secret``, the key, is hidden in a value before it is
    cut."""
    names = located.names
    value = error.instance
    where = _where(path)
    field_name = str(path[-1]) if path and isinstance(path[-1], str) else None
    owner = names[-1] if names else "the reply"
    own = located.own
    holder = _holder(located)
    parent = _where(path[:-1]) if field_name else where
    shown = parent if field_name else where
    at = f" at `{shown}`" if shown else ""
    subject = f"{holder}: field `{field_name}`" if field_name else holder
    if error.validator == "enum":
        allowed = list(cast(list[Any], error.validator_value))
        whose = f"{own}'s enum" if own else "the enum"
        return Problem(
            "response_schema_conformance",
            f"{subject}: `{value}` is not in {whose} ({_ticks([str(a) for a in allowed])}){at}",
            expected=f"one of {', '.join(map(str, allowed))}",
            got=_short(value, secret),
        )
    if error.validator == "pattern":
        whose = f"{own}'s pattern" if own else "the pattern"
        node = located.node if isinstance(located.node, Mapping) else {}
        meant = node.get(PATTERN_WORDS) or node.get("description")
        gloss = f" ({str(meant).strip().rstrip('.')})" if meant else ""
        return Problem(
            "response_schema_conformance",
            f"{subject}: {_short(value, secret)} does not match {whose} "
            f"`{error.validator_value}`{gloss}{at}",
            expected=f"a match of {error.validator_value}",
            got=_short(value, secret),
        )
    if error.validator == "format" and error.validator_value == "date-time":
        return Problem(
            "response_schema_conformance",
            f"{subject}: {_short(value, secret)} is no RFC 3339 date-time: it needs its time zone "
            f"(`Z` or an offset such as `+00:00`){at}",
            expected=DATE_TIME_EXPECTED,
            got=_short(value, secret),
        )
    if error.validator == "type":
        wanted = error.validator_value
        wanted_text = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return Problem(
            "response_schema_conformance",
            f"{subject}: expected {wanted_text}, got {_json_type(value)} "
            f"{_short(value, secret)}{at}",
            expected=wanted_text,
            got=_short(value, secret),
        )
    extra = unknown_fields(error)
    if extra:
        return Problem(
            "response_schema_conformance",
            f"{owner}: unexpected {plural(len(extra), 'field')} {_ticks(extra)}"
            + (f" at `{where}`" if where else ""),
            expected=f"only the fields of {owner}",
            got=_ticks(extra),
        )
    return Problem(
        "response_schema_conformance",
        f"{subject}: {_short(value, secret)} violates "
        f"`{error.validator}: {_short(error.validator_value, secret)}`{at}",
        expected=f"{error.validator} {_short(error.validator_value, secret)}",
        got=_short(value, secret),
    )


def _holder(located: Located) -> str:
    """The object that holds the failing field: for an enum schema reached through a $ref
    (CheckpointType under Checkpoint.type), the schema before it."""
    names = located.names
    if located.own is not None and len(names) >= 2:
        return names[-2]
    return names[-1] if names else "the reply"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class UnusableSpec(ValueError):
    """The spec file to test against cannot be used: not YAML, or not an OpenAPI 3
    document with paths and component schemas. A usage problem (exit 2), not a finding."""


@functools.cache
def load_spec(path: Path | None = None) -> Spec:
    """The spec at ``path`` (default: the checked-in openapi.yaml), parsed once.

    Raises:
        UnusableSpec: It cannot be read, or is no OpenAPI 3 document the kit can use.
    """
    file = spec_path() if path is None else path
    where = shown_path(file)  # a path from a variable may hold a newline, an escape sequence
    try:
        document = read_document(file)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        why = getattr(exc, "problem", None) or type(exc).__name__
        raise UnusableSpec(f"{where} is not valid YAML: {why}{at}") from None
    except OSError as exc:
        raise UnusableSpec(f"{where}: {exc.strerror or exc}") from None
    except ValueError as exc:  # read_document's words name the file
        raise UnusableSpec(str(exc)) from None
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise UnusableSpec(f"{where} is not an OpenAPI 3 document (`openapi` is {version!r})")
    for key, found in (
        ("paths", document.get("paths")),
        ("components.schemas", (document.get("components") or {}).get("schemas")),
    ):
        if not isinstance(found, Mapping) or not found:
            raise UnusableSpec(f"{where} has no {key}: the kit has nothing to hold a server to")
    return Spec(document)
