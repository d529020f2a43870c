"""An operation's result where the Operation that starts it belongs, told by its shape.

The wire's history had a save that answered at once with the Checkpoint instead of an
Operation (a synchronous 201), and the spec documents every 2xx of an operation POST as
an Operation, so only the body's shape can tell (``shaped_as``; a done operation's result
too plain for that, by its fields alone: ``only_fields_of``). Beside it: which schema each
kind's result has (``result_schemas``), the unknown fields that may stand for a missing one
(``stand_ins``), and whether an export's reply of an unlisted ``kind`` is the Artifact
(``artifact_shaped``). The facade (on the generated schemas), the contract kit (on the spec
it checks), the emulator and the command line share these rules. A shared leaf: it
imports nothing of the facade.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

# The words of a field name: snake_case, kebab-case and camelCase alike.
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# How alike two names (their words run together) are to be taken for each other: a typo.
_ALIKE = 0.8


def result_schemas(schemas: Mapping[str, Any]) -> dict[str, str]:
    """The schema of a done operation's ``response`` per kind (an operationId), as the
    spec's ``OperationResult`` says in ``x-weaver-result-schemas`` (none when it does not).

    ``schemas``: the spec's component schemas.
    """
    marked = (schemas.get("OperationResult") or {}).get("x-weaver-result-schemas") or {}
    return {str(kind): str(name) for kind, name in marked.items()}


def shaped_as(value: object, schema: str, instead_of: str, schemas: Mapping[str, Any]) -> bool:
    """Whether ``value`` is a ``schema`` where an ``instead_of`` belongs: it has every
    required field of ``schema`` that ``instead_of`` does not define, at least two (one
    alone, such as an optimizer step's ``metrics``, could be a field an Operation grew:
    replies may grow)."""
    own = set((schemas.get(instead_of) or {}).get("properties") or ())
    telling = [f for f in (schemas.get(schema) or {}).get("required") or () if f not in own]
    return isinstance(value, Mapping) and len(telling) >= 2 and all(f in value for f in telling)


def only_fields_of(value: object, schema: str, schemas: Mapping[str, Any]) -> bool:
    """Whether ``value`` has fields, every required field of ``schema`` and none it does not
    define: a done operation's result too plain for ``shaped_as`` (an optimizer step's lone
    ``metrics``, a load's, which requires none). No two result schemas fit one value so."""
    spec = schemas.get(schema) or {}
    fields, required = set(spec.get("properties") or ()), set(spec.get("required") or ())
    return isinstance(value, Mapping) and bool(value) and required <= set(value) <= fields


def misplaced(reply: str, result: str) -> str:
    """Says that ``reply`` (such as ``"HTTP 201"``) is a ``result`` where an Operation belongs."""
    return (
        f"the {reply} reply is a {result} where an Operation belongs: the server finished "
        "the work synchronously instead of starting an operation"
    )


def stand_ins(missing: Iterable[str], value: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """The fields of ``value`` outside ``known`` (its schema's) that may stand for a field
    in ``missing``: one whose name has all its words or whose words it has
    (``checkpoint_type`` for ``type``), one of nearly its name (a typo, another case), or
    an object that holds it (a wrapper). Another unknown field is no clue: replies may
    grow, and a field of the server's own beside a missing one says nothing of it."""
    wanted, own = list(missing), set(known)
    return [
        key
        for key, item in value.items()
        if key not in own and any(_may_stand_for(key, item, name) for name in wanted)
    ]


def _may_stand_for(key: str, item: object, name: str) -> bool:
    ours, theirs = _words(name), _words(key)
    if ours and theirs and (set(ours) <= set(theirs) or set(theirs) <= set(ours)):
        return True
    alike = difflib.SequenceMatcher(None, "".join(ours), "".join(theirs)).ratio() >= _ALIKE
    return alike or (isinstance(item, Mapping) and name in item)


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


# Fields an Artifact has and an Operation has not. The wire sheet tells an export's two
# replies apart by an artifact `kind`, and names no operation kinds: a reply whose `kind`
# the spec lists for neither is told by these.
_ARTIFACT_ONLY = frozenset({"uri", "checkpoint_id"})


def artifact_shaped(value: Mapping[str, Any]) -> bool:
    """Whether an export's reply of an unlisted ``kind`` is the Artifact (it carries a field
    only an Artifact has), not an Operation of the server's own kind (``export``)."""
    return not _ARTIFACT_ONLY.isdisjoint(value)
