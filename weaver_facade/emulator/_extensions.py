"""Which extensions of openapi.yaml this emulator offers, and replies without the others.

``--extensions`` keeps ``all`` (the default), ``none``, or a comma-separated
list of the names the spec marks with ``x-weaver-extension``. With an
extension off the emulator behaves as a server that never had it: it ignores
the extension's parameters and headers (the handlers ask ``offers``), its
routes are not registered (an unknown route's 404), and ``strip`` removes its
fields from every reply, following the spec's reply schema of the route (looked
up once, when the emulator starts: ``strip`` runs on the event loop). The spec it
serves at ``/openapi.yaml`` is that server's: without the routes, parameters and
fields of the extensions that are off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .._extensions import MARKER, extension_names, field_marker, restrict_spec
from .._result_shape import result_schemas
from .._spec_schema import spec_bytes, spec_document

__all__ = ["Extensions", "known_extensions", "parse_extensions"]

_REF = "#/components/schemas/"
_RESPONSE_REF = "#/components/responses/"


def known_extensions() -> tuple[str, ...]:
    """The extension names openapi.yaml marks."""
    return extension_names(spec_document())


def parse_extensions(value: str | Iterable[str]) -> frozenset[str]:
    """``all``, ``none`` or a comma-separated list (or an iterable) of names to keep."""
    known = known_extensions()
    if isinstance(value, str):
        text = value.strip()
        if text == "all":
            return frozenset(known)
        if text in ("none", ""):
            return frozenset()
        names = [part.strip() for part in text.split(",")]
    else:
        names = [str(part).strip() for part in value]
    unknown = [n for n in names if n not in known]
    if unknown or not all(names):
        bad = ", ".join(repr(n) for n in unknown) or "an empty name"
        raise ValueError(
            f"unknown extension {bad}: use all, none, or a comma-separated list of "
            f"{', '.join(known)}"
        )
    return frozenset(names)


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None


def _reply_schema(reply: Any, responses: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON body schema of one documented reply (which may be a shared response)."""
    try:
        ref = reply.get("$ref", "")
        if ref.startswith(_RESPONSE_REF):
            reply = responses[ref[len(_RESPONSE_REF) :]]
        schema = reply["content"]["application/json"]["schema"]
    except (KeyError, TypeError, AttributeError):
        return None
    return schema if isinstance(schema, Mapping) else None


class Extensions:
    """The extensions one emulator offers, and how its replies leave the others out."""

    def __init__(self, offered: frozenset[str]) -> None:
        doc = spec_document()
        self.known = extension_names(doc)
        self.offered = frozenset(offered)
        self._schemas: Mapping[str, Any] = doc["components"]["schemas"]
        self._paths: Mapping[str, Any] = doc["paths"]
        self._results = result_schemas(self._schemas)
        self._all = self.offered >= set(self.known)
        # Per route and status: the schema of the reply's JSON body.
        responses: Mapping[str, Any] = doc["components"].get("responses", {})
        self._replies: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for path, item in self._paths.items():
            for method, op in item.items():
                if not isinstance(op, Mapping):  # the path's parameters or marker
                    continue
                for status, reply in op.get("responses", {}).items():
                    schema = _reply_schema(reply, responses)
                    if schema is not None:
                        self._replies[method.upper(), path, str(status)] = schema
        # Per schema: the properties that belong to an extension that is off.
        self._off: dict[str, frozenset[str]] = {}
        for name, schema in self._schemas.items():
            props = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
            self._off[name] = frozenset(
                field for field, prop in props.items() if not self._prop_offered(prop)
            )
        self.spec = spec_bytes() if self._all else self._restricted_spec(doc)

    def _restricted_spec(self, doc: Mapping[str, Any]) -> bytes:
        restricted = restrict_spec(doc, frozenset(self.known) - self.offered)
        return yaml.safe_dump(restricted, sort_keys=False, allow_unicode=True).encode()

    def offers(self, name: str) -> bool:
        assert name in self.known, name  # a typo here would silently turn an extension off
        return name in self.offered

    def offers_route(self, method: str, path: str) -> bool:
        """Whether the route of ``openapi.yaml``'s ``path`` answers ``method``: a route the spec
        marks as an extension is not registered without it (it answers as unknown routes do)."""
        marker = self._paths.get(path, {}).get(method.lower(), {}).get(MARKER)
        return marker is None or marker in self.offered

    def _prop_offered(self, prop: Mapping[str, Any]) -> bool:
        marker = field_marker(prop, self._schemas)
        return marker is None or marker in self.offered

    def strip(self, method: str, path: str, status: int, body: Any) -> Any:
        """``body`` without the fields of extensions that are off, per the route's reply schema."""
        if self._all:
            return body
        # The reply documented for the status itself, else for its range (`2XX`).
        key = (method.upper(), path)
        schema = self._replies.get((*key, str(status))) or self._replies.get(
            (*key, f"{str(status)[0]}XX")
        )
        return body if schema is None else self._strip(schema, body)

    def _strip(self, schema: Mapping[str, Any], body: Any) -> Any:
        name = _ref_name(schema)
        if name is None:
            items = schema.get("items")
            if isinstance(items, Mapping) and isinstance(body, list):
                return [self._strip(items, item) for item in body]
            for option in schema.get("anyOf", ()):
                if _ref_name(option) is not None and isinstance(body, dict):
                    return self._strip(option, body)
            return body
        if not isinstance(body, dict):
            return body
        target = self._schemas.get(name, {})
        off = self._off.get(name, frozenset())
        out = {k: v for k, v in body.items() if k not in off}
        for field, prop in target.get("properties", {}).items():
            if field in out and isinstance(prop, Mapping):
                out[field] = self._strip(prop, out[field])
        if name == "Operation" and isinstance(out.get("response"), dict):
            result = self._results.get(str(body.get("kind")))
            if result is not None:
                out["response"] = self._strip({"$ref": _REF + result}, out["response"])
        return out
