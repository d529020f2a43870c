"""How many processes ``scripts/test`` runs at once: pytest's workers, and mypy's.

pytest gets one worker more than the cores it may use, at most 4: much of the suite waits
on timers, servers and subprocesses, so on two cores two workers kept them 72 % busy and
three 88 % (pytest took 549 s, not 664 s). One core keeps one worker. mypy gets one worker
per core, at most 4 (none of its own on one core: it then checks in its own process).

A container can see more cores than its CPU quota lets it use; workers beyond the quota
only slow each other down, and the timing tests with them.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

MAX_WORKERS = 4
CGROUP = Path("/sys/fs/cgroup")


def quota_cores(cgroup: Path = CGROUP) -> int | None:
    """The cores a cgroup CPU quota allows (v2, then v1), or None without a quota."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()  # "max 100000" or "200000 100000"
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()  # -1: none
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        if quota in ("max", "-1"):
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except ValueError:
        return None


def cores(cgroup: Path = CGROUP) -> int:
    """The cores this process may use: those it may run on, fewer under a CPU quota."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, quota_cores(cgroup) or usable or 1))


def workers(cgroup: Path = CGROUP) -> int:
    """pytest's workers."""
    usable = cores(cgroup)
    return min(usable + 1 if usable > 1 else 1, MAX_WORKERS)


def mypy_workers(cgroup: Path = CGROUP) -> int:
    """mypy's ``--num-workers``."""
    usable = cores(cgroup)
    return min(usable, MAX_WORKERS) if usable > 1 else 0


if __name__ == "__main__":
    print(mypy_workers() if sys.argv[1:] == ["mypy"] else workers())
