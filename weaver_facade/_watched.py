"""What a wait is for, and how long it took, in words. A shared leaf: it imports nothing of
the facade.

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


def seconds(waited: float) -> str:
    """``12.3``: a time waited, in tenths, but in milliseconds below 0.05 s (a short
    timeout's), where tenths would say ``0.0``: ``0.012``."""
    return f"{waited:.1f}" if waited >= 0.05 or waited <= 0 else f"{waited:.3f}"
