"""Run the benchmarks and write ``benchmarks/RESULTS.md`` (``scripts/bench --help``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    b1_overhead,
    b2_completion,
    b3_fanout,
    b4_import,
    b5_listing,
    b6_download,
    b7_first_call,
)
from benchmarks.common import ROOT, Section, render

BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "B1": b1_overhead.run,
    "B2": b2_completion.run,
    "B3": b3_fanout.run,
    "B4": b4_import.run,
    "B5": b5_listing.run,
    "B6": b6_download.run,
    "B7": b7_first_call.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and few samples: a smoke run (~1 min)"
    )
    parser.add_argument("--only", default="", help="comma-separated subset, such as B1,B4")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the markdown (default benchmarks/RESULTS.md; "
        "a --quick run writes nothing unless given one; --only needs one)",
    )
    args = parser.parse_args(argv)
    chosen = [b.strip().upper() for b in args.only.split(",") if b.strip()] or list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    output = args.output
    if output is None and not args.quick:
        if args.only:
            # RESULTS.md holds every benchmark, some merged by hand from other runs:
            # a subset written over it would drop the rest.
            parser.error(
                "--only writes a subset: give --output FILE and merge its sections into "
                "benchmarks/RESULTS.md by hand (only a full run writes RESULTS.md)"
            )
        output = ROOT / "benchmarks" / "RESULTS.md"

    started = time.monotonic()
    sections = []
    for name in chosen:
        print(f"== {name}", file=sys.stderr, flush=True)
        section = BENCHMARKS[name](args.quick)
        for result in section.results:
            print(
                f"   {result.metric}: {result.value}  {result.target} {result.verdict}",
                file=sys.stderr,
            )
        sections.append(section)
    command = "scripts/bench" + (" --quick" if args.quick else "")
    if args.only:
        command += f" --only {args.only}"
    text = render(sections, command=command, seconds=time.monotonic() - started)
    if output is not None:
        output.write_text(text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
