"""Shared leaf of the facade and the CLI: what a wait is for, named in their words.

A save or an export recovered without its operation is watched through what it makes;
its handle's id is then that resource's ``weaver://`` path, not an operation's id.
"""

from __future__ import annotations


def watched(operation_id: str) -> str:
    """What a wait is for: ``operation``, or, for a save or an export watched through
    what it makes, ``save`` or ``export``."""
    if not operation_id.startswith("weaver://"):
        return "operation"
    return "export" if "/artifacts/" in operation_id else "save"


def name_watched(operation_id: str) -> str:
    """``operation ID``, or ``the save of PATH``, ``the export of URI`` (``watched``)."""
    what = watched(operation_id)
    return f"operation {operation_id}" if what == "operation" else f"the {what} of {operation_id}"
