"""The optional extensions of the wire, named by ``x-weaver-extension`` in openapi.yaml (how
they are marked and used: DEVELOPERS.md, "Conventions"): their names, and the spec without
some of them. The facade itself only needs the names its ``UnsupportedByServerError`` gives.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

MARKER = "x-weaver-extension"
# The schema of an extension's field where the extension is off: the wire sheet's rules
# on a server's own field of that name.
WITHOUT = "x-weaver-without-extension"
CHECKPOINT_BY_ID = "checkpoint-by-id"
MODEL_LISTING = "model-listing"

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def extension_markers(document: object, where: str = "") -> Iterator[tuple[str, object]]:
    """Every ``x-weaver-extension`` value in a spec document, with its JSON-pointer-ish place."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            if key == MARKER:
                yield where or "/", value
            else:
                yield from extension_markers(value, f"{where}/{key}")
    elif isinstance(document, list):
        for i, item in enumerate(document):
            yield from extension_markers(item, f"{where}/{i}")


def extension_names(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The sorted extension names a spec marks; a marker that is not a name is an error."""
    names: set[str] = set()
    for where, value in extension_markers(document):
        if not isinstance(value, str) or not NAME.fullmatch(value):
            raise ValueError(f"{MARKER} at {where} must be a kebab-case name, not {value!r}")
        names.add(value)
    return tuple(sorted(names))


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAMETER_REF = "#/components/parameters/"
_SCHEMA_REF = "#/components/schemas/"


def restrict_spec(document: Mapping[str, Any], without: frozenset[str]) -> dict[str, Any]:
    """A copy of the spec without the routes, operations, parameters and fields of
    ``without`` (and without the links to operations it removed). A server that lacks an
    extension may send a field of the same name with a meaning of its own, which is then
    held only to the rules the wire sheet has for it (``WITHOUT``), if any."""
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    if not without:
        return doc
    shared = doc.get("components", {}).get("parameters", {})

    def resolved(node: Mapping[str, Any]) -> Mapping[str, Any]:
        """A parameter, or the shared one its ``$ref`` names."""
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_PARAMETER_REF):
            found: Mapping[str, Any] = shared.get(ref[len(_PARAMETER_REF) :], {})
            return found
        return node

    def dropped(node: Any) -> bool:
        return isinstance(node, Mapping) and resolved(node).get(MARKER) in without

    # What each remaining operation takes, so that links to removed parameters go too.
    takes: dict[str, set[str]] = {}
    paths: dict[str, Any] = doc.get("paths", {})
    for path in list(paths):
        item = paths[path]
        if dropped(item):
            del paths[path]
            continue
        if "parameters" in item:
            item["parameters"] = [p for p in item["parameters"] if not dropped(p)]
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if dropped(operation):
                del item[method]
                continue
            if "parameters" in operation:
                operation["parameters"] = [p for p in operation["parameters"] if not dropped(p)]
            names = takes.setdefault(str(operation.get("operationId")), set())
            for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
                names.add(str(resolved(param).get("name")))
    _drop_links(doc, takes)
    for name in [n for n, v in shared.items() if v.get(MARKER) in without]:
        del shared[name]  # taken out of every route above
    _drop_fields(doc.get("components", {}), without)
    return doc


def restrict_fields(document: Mapping[str, Any], without: frozenset[str]) -> dict[str, Any]:
    """A copy of the spec without the fields of ``without``, its routes and parameters
    kept (for a client that calls a route whatever the server offers, and reads a 404)."""
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    _drop_fields(doc.get("components", {}), without)
    return doc


def _drop_fields(components: dict[str, Any], without: frozenset[str]) -> None:
    """Drop the schema fields of ``without`` (marked on the field, or on the schema it
    refers to; one with a ``WITHOUT`` schema takes that one instead), then the schemas
    marked whole, which only such fields refer to."""
    schemas: dict[str, Any] = components.get("schemas", {})
    for schema in schemas.values():
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict):
            continue
        off = [name for name, prop in props.items() if field_marker(prop, schemas) in without]
        for name in off:
            otherwise = props.pop(name).get(WITHOUT)
            if otherwise is not None:
                props[name] = otherwise
        if off and "required" in schema:
            schema["required"] = [f for f in schema["required"] if f not in off or f in props]
    for name in [n for n, v in schemas.items() if field_marker(v, schemas) in without]:
        del schemas[name]


def field_marker(prop: Any, schemas: Mapping[str, Any]) -> object:
    """The extension of a schema field: its own marker, or that of the schema it refers to,
    also through schemas that are only a ``$ref`` to another (which the generator takes)."""
    seen: set[str] = set()
    while isinstance(prop, Mapping) and MARKER not in prop:
        ref = prop.get("$ref")
        if not isinstance(ref, str) or not ref.startswith(_SCHEMA_REF) or ref in seen:
            return None
        seen.add(ref)
        prop = schemas.get(ref[len(_SCHEMA_REF) :])
    return prop.get(MARKER) if isinstance(prop, Mapping) else None


def _link_broken(link: Mapping[str, Any], takes: Mapping[str, set[str]]) -> bool:
    names = takes.get(str(link.get("operationId")))
    if names is None:
        return True
    return any(key.rsplit(".", 1)[-1] not in names for key in link.get("parameters", {}))


def _drop_links(node: Any, takes: Mapping[str, set[str]]) -> None:
    if isinstance(node, dict):
        links = node.get("links")
        if isinstance(links, dict):
            for name in list(links):
                if isinstance(links[name], Mapping) and _link_broken(links[name], takes):
                    del links[name]
        for value in node.values():
            _drop_links(value, takes)
    elif isinstance(node, list):
        for value in node:
            _drop_links(value, takes)
