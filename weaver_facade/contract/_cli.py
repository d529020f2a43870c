"""The kit's command: ``weaver-facade contract-test``, ``python -m weaver_facade.contract``.

``scripts/contract-test`` runs it from a checkout.

Exit codes: 0 clean, 1 findings, 2 usage error or no server at the base URL, 3 no
findings but an incomplete run (conformance stopped at its time limit; 0 with
``--allow-incomplete``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from weaver_facade import InvalidArgumentError, ServiceClient

from .._dest import shown_path
from .._help import EMPTY_API_KEY, EMPTY_BASE_URL, EMPTY_FOLDER, Seconds, WholeNumber
from .._sigterm import interrupted, terminate_as_interrupt
from .._stdout import output_errors
from ._artifact_steps import STORAGE_TIMEOUT
from ._conformance import REQUEST_LIMIT
from ._findings import SettingNames
from ._kit import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_STATEFUL_STEPS,
    DEFAULT_TIME_LIMIT,
    PARTS,
    QUICK_MAX_EXAMPLES,
    QUICK_STATEFUL_STEPS,
    QUICK_TIME_LIMIT,
    ContractSettings,
    ServerUnreachable,
    UnknownBaseModel,
    run_named,
)
from ._spec import UnusableSpec

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["main", "run"]

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
# No finding, but not everything was checked: not a pass a CI job should take for a full one.
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130  # as a shell reports SIGINT
# What the kit's words call the settings here (from Python, ContractSettings' fields).
_OPTIONS = SettingNames(
    base_url="--base-url or WEAVER_BASE_URL",
    api_key="--api-key or WEAVER_API_KEY",
    base_model="--base-model",
    time_limit="--time-limit",
    max_examples="--max-examples",
    deadline="--deadline",
)


# Counts and seconds are refused in the words of the other commands' options, by their
# types (``_help.WholeNumber``, ``Seconds``): argparse's own named the function that read
# the value ("invalid _positive_int value: 'abc'").
def _as_click(kind: click.ParamType[Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return kind.convert(text, None, None)
        except click.BadParameter as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return convert


_count = _as_click(WholeNumber(min=1))
_seconds = _as_click(Seconds(min=0, min_open=True))


def _folder(text: str) -> Path:
    # `--report "$DIR"` with DIR unset wrote the reports into the current folder, over any
    # there of the same names, as `-o ""` and `--data-dir ""` do not.
    if not text:
        raise argparse.ArgumentTypeError(EMPTY_FOLDER)
    return Path(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every other command's usage error, not argparse's usage block.
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse drops a write that fails: --help into a full disk or a closed stdout
        # printed nothing and exited 0. On stdout it fails as any output does (the entry
        # point's ``output_errors`` says so); on stderr, as argparse has it.
        if message and file is not None and file is sys.stdout:
            print(message, end="", file=file, flush=True)
        else:
            super()._print_message(message, file)


def parser(prog: str = "contract-test") -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Hold a live Weaver server to openapi.yaml: schemathesis over every "
        "operation (all phases, all checks), then the checkpoint lifecycle through the "
        "facade. Prints one line per finding; exit 0 clean, 1 findings, 2 usage error or "
        "no server, 3 no findings but stopped at its time limit (see --allow-incomplete), "
        "130 interrupted.",
    )
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="the server root, e.g. http://127.0.0.1:8080 (default: $WEAVER_BASE_URL)",
    )
    p.add_argument(
        "--api-key",
        metavar="KEY",
        help="sent as X-WEAVER-API-KEY (default: $WEAVER_API_KEY); never printed",
    )
    p.add_argument("--report", type=_folder, metavar="DIR", help="write JSON and JUnit XML here")
    p.add_argument(
        "--max-examples",
        type=_count,
        metavar="N",
        help=f"examples per operation and phase (default {DEFAULT_MAX_EXAMPLES}; "
        f"--quick: {QUICK_MAX_EXAMPLES})",
    )
    p.add_argument(
        "--quick", action="store_true", help="a short run: fewer examples and shorter scenarios"
    )
    p.add_argument(
        "--time-limit",
        type=_seconds,
        metavar="SECONDS",
        help=f"stop schemathesis after this long (default {DEFAULT_TIME_LIMIT:.0f}; "
        f"--quick: {QUICK_TIME_LIMIT:.0f})",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0, not 3, when a run without findings stopped at its time limit",
    )
    p.add_argument(
        "--deadline",
        type=_seconds,
        default=DEFAULT_DEADLINE,
        metavar="SECONDS",
        help="how long the extension probe and the lifecycle wait for one operation (such "
        "as a load), for one API request, its retries included, and for tidying up after "
        "them, and the run for the reply to its first request "
        f"(default {DEFAULT_DEADLINE:.0f}), and storage downloads for bytes that do not "
        f"come (each wait at most {STORAGE_TIMEOUT:.0f} s; a try that times out is not sent "
        "again, and a large file is not cut while its bytes come); not conformance's "
        f"requests ({REQUEST_LIMIT:.0f} s each, within --time-limit)",
    )
    p.add_argument("--base-model", help="the base model to train (default: the smallest listed)")
    p.add_argument(
        "--only",
        choices=PARTS,
        help="run one part only (conformance: schemathesis; lifecycle: the facade's scenario)",
    )
    p.add_argument("--spec", type=Path, help="the spec to test against (default: openapi.yaml)")
    return p


def main(argv: list[str] | None = None, *, prog: str = "contract-test") -> int:
    """Run the kit with command-line arguments; returns the exit status."""
    args = parser(prog).parse_args(argv)
    # `--api-key "$UNSET"`: not the variable's key, nor none (the run then said none was given).
    for given, empty in ((args.base_url, EMPTY_BASE_URL), (args.api_key, EMPTY_API_KEY)):
        if given is not None and not given.strip():
            print(f"error: {empty}", file=sys.stderr)
            return EXIT_USAGE
    base_url: str = (args.base_url or os.environ.get("WEAVER_BASE_URL") or "").strip().rstrip("/")
    if not base_url:
        print(
            "error: no Weaver server given: pass --base-url URL or set WEAVER_BASE_URL",
            file=sys.stderr,
        )
        return EXIT_USAGE
    api_key = (args.api_key or os.environ.get("WEAVER_API_KEY") or "").strip() or None
    try:  # the facade's own checks of a base URL and a key; a client opens nothing yet
        ServiceClient(base_url, api_key or "", heartbeat_interval=0).close()
    except InvalidArgumentError as exc:  # it names base_url or api_key, or the environment's
        # The library's words, with its parameter's name as the user gave the value.
        words = str(exc)
        for prefix, option, variable, given in (
            ("base_url", "--base-url", "WEAVER_BASE_URL", args.base_url),
            ("api_key (or WEAVER_API_KEY)", "--api-key", "WEAVER_API_KEY", args.api_key),
        ):
            if words.startswith(prefix):
                words = (option if given else variable) + words.removeprefix(prefix)
                break
        print(f"error: {words}", file=sys.stderr)
        return EXIT_USAGE
    if args.spec is not None and not args.spec.is_file():
        print(f"error: --spec {shown_path(args.spec)} is not a file", file=sys.stderr)
        return EXIT_USAGE
    if args.report is not None:
        if args.report.exists() and not args.report.is_dir():  # mkdir says "File exists"
            print(
                f"error: --report {shown_path(args.report)} is a file; "
                "give a folder to write the reports into",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            args.report.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            said = f"--report {shown_path(args.report)}: {exc.strerror or exc}"
            print(f"error: {said}", file=sys.stderr)
            return EXIT_USAGE
    settings = ContractSettings(
        base_url=base_url,
        api_key=api_key,
        max_examples=args.max_examples
        or (QUICK_MAX_EXAMPLES if args.quick else DEFAULT_MAX_EXAMPLES),
        stateful_steps=QUICK_STATEFUL_STEPS if args.quick else DEFAULT_STATEFUL_STEPS,
        time_limit=args.time_limit or (QUICK_TIME_LIMIT if args.quick else DEFAULT_TIME_LIMIT),
        deadline=args.deadline,
        base_model=args.base_model,
        parts=(args.only,) if args.only else PARTS,
        spec_file=args.spec,
    )

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    try:
        with terminate_as_interrupt():  # a cancelled CI job, too, is no verdict
            report = run_named(settings, progress, _OPTIONS)
            if interrupted():  # one whose KeyboardInterrupt Python dropped
                raise KeyboardInterrupt
    except (UnusableSpec, ServerUnreachable, UnknownBaseModel) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a run cut short by the user is no verdict
        print("error: interrupted", file=sys.stderr)
        # An interrupt that once left an exec() of a string (a dataclass being made when
        # it came) makes CPython end `python -m` by SIGINT, whatever the exit status; the
        # next exec() clears that flag, so that the status is 130.
        exec("pass")  # noqa: S102
        return EXIT_INTERRUPTED
    from ._report import render_text, write_reports

    for line in render_text(report):
        print(line, flush=True)
    if args.report is not None:
        for path in write_reports(report, args.report):
            print(f"wrote {shown_path(path)}")
    if report.findings:
        return EXIT_FINDINGS
    if not report.complete and not args.allow_incomplete:
        return EXIT_INCOMPLETE
    return EXIT_CLEAN


def run(prog: str) -> NoReturn:
    """``main`` as an entry point (``python -m weaver_facade.contract``,
    ``scripts/contract-test``): its output that cannot be written is one line and exit 1."""
    with output_errors():
        sys.exit(main(prog=prog))


if __name__ == "__main__":
    run("contract-test")
