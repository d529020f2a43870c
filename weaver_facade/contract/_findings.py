"""Findings: one precise difference between a server and openapi.yaml, with a reproduction."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from .._plural import counted
from .._redact import replace_key
from .._watched import seconds as waited

__all__ = [
    "API_KEY_HEADER",
    "AVAILABILITY",
    "DATE_TIME_EXPECTED",
    "IDEMPOTENCY_HEADER",
    "KEY_PLACEHOLDER",
    "PYTHON_NAMES",
    "RETRIES",
    "Finding",
    "SettingNames",
    "clip",
    "curl_for_request",
    "dedupe",
    "fold_server_wide",
    "plain_seconds",
    "redact",
    "redact_curl",
    "waited_words",
]

API_KEY_HEADER = "X-WEAVER-API-KEY"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A 429 or 503 that asks to try again later is sent again this many times, in both parts;
# one still answered so is an availability problem (this check), not a contract finding.
RETRIES = 3
AVAILABILITY = "availability"
# What a reply's `format: date-time` field must be: one serializer writes every time, so
# the defect is the server's, however many replies show it (``fold_server_wide``).
DATE_TIME_EXPECTED = "an RFC 3339 date-time with its time zone, such as 2026-01-01T00:00:00Z"
# Reproductions read the key from the environment, so reports can be shared as they are.
KEY_PLACEHOLDER = "$WEAVER_API_KEY"
_KEY_ARG = f'"{API_KEY_HEADER}: {KEY_PLACEHOLDER}"'
# Headers a reproduction does without: transport details, and a fresh Idempotency-Key per
# attempt would only make the server answer with the recorded operation.
_SKIPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
        "traceparent",
        "idempotency-key",
    }
)


def plain_seconds(seconds: float) -> str:
    """A time set (``--deadline``, ``--time-limit``, a bound made of them) as ``:g`` gives
    it (``0.5``, ``60``), but never in exponent form, which ``:g`` takes from a million
    seconds up (``1e+06``), as written instead (``1000000``, ``1234567.5``)."""
    shown = f"{seconds:g}"
    if "e" not in shown:
        return shown
    plain = format(Decimal(repr(float(seconds))), "f")  # the shortest that reads back
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def waited_words(seconds: float) -> str:
    """A time waited, in the kit's words: under 10 s as the facade gives one (``_watched``:
    in tenths, in milliseconds below 0.05 s; in whole seconds a short ``--deadline``'s wait
    read ``0 s``), else in whole seconds."""
    return waited(seconds) if seconds < 10 else f"{seconds:.0f}"


@dataclass(frozen=True)
class SettingNames:
    """What the kit's words call each setting: as its user gives it, a ``ContractSettings``
    field from Python, an option (or a variable) on the command line."""

    base_url: str
    api_key: str
    base_model: str
    time_limit: str
    max_examples: str
    deadline: str


PYTHON_NAMES = SettingNames(
    base_url="ContractSettings.base_url",
    api_key="ContractSettings.api_key",
    base_model="ContractSettings.base_model",
    time_limit="ContractSettings.time_limit",
    max_examples="ContractSettings.max_examples",
    deadline="ContractSettings.deadline",
)
_CURL_KEY_HEADER = re.compile(
    r"""-H\s+(?:'(?i:x-weaver-api-key):[^']*'|"(?i:x-weaver-api-key):[^"]*")"""
)


@dataclass(frozen=True)
class Finding:
    """One way the server differs from the spec.

    Attributes:
        part: ``conformance`` (schemathesis) or ``lifecycle`` (the facade's scenario).
        operation: ``METHOD /path/template`` of the request, or a scenario step.
        check: What was checked, such as ``status_code_conformance`` or ``load_completes``.
        message: One sentence naming the problem precisely.
        expected: What the spec asks for.
        got: What the server did.
        curl: A command that reproduces it (the key comes from ``$WEAVER_API_KEY``).
    """

    part: str
    operation: str
    check: str
    message: str
    expected: str
    got: str
    curl: str | None = None
    also_in: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.operation, self.check, self.message)

    def line(self) -> str:
        """The report's one line for this finding."""
        text = (
            f"{self.operation}: {self.message} [{self.check}; expected {self.expected}; "
            f"got {self.got}]"
        )
        if self.curl:
            text += f" reproduce: {' && '.join(self.curl.splitlines())}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The finding as plain JSON data, as in ``contract-report.json``."""
        data = asdict(self)
        data["also_in"] = list(self.also_in)
        return data


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (operation, check, message); later duplicates only add their part."""
    kept: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        first = kept.get(finding.key)
        if first is None:
            kept[finding.key] = finding
        elif finding.part != first.part and finding.part not in first.also_in:
            kept[finding.key] = Finding(
                **{**asdict(first), "also_in": (*first.also_in, finding.part)}
            )
    return list(kept.values())


def _server_wide(finding: Finding) -> tuple[str, str] | None:
    """The key of a defect the server has everywhere, or ``None``: a required header it
    leaves out, the shape of its error bodies, its times, its answer to an undeclared
    method, and being unavailable."""
    if finding.check == AVAILABILITY:
        return ("availability", "")
    if finding.check == "response_headers_conformance":
        return ("header", finding.expected)
    if finding.check == "response_schema_conformance" and finding.message.startswith("Error:"):
        return ("error body", finding.message)
    if finding.check == "response_schema_conformance" and finding.expected == DATE_TIME_EXPECTED:
        return ("date-time", "")
    if finding.check == "unsupported_method":  # 405 without `Allow`, say, on every route
        # Whatever each reply was (a 405 without `Allow`, an HTML 501), one answer.
        return ("unsupported method", "")
    return None


def fold_server_wide(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per server-wide defect, however many replies show it.

    A server that never sends ``X-Request-ID``, shapes every error body its own way, or
    keeps asking to try again later, has one thing to fix, not one per operation and
    status; the finding keeps the first reply's reproduction and counts the others.
    """
    kept: list[Finding] = []
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        key = _server_wide(finding)
        if key is None:
            kept.append(finding)
        elif key in groups:
            groups[key].append(finding)
        else:
            groups[key] = [finding]
            kept.append(finding)
    folded = []
    for finding in kept:
        key = _server_wide(finding)
        group = groups.get(key) if key is not None else None
        if not group or len(group) == 1:
            folded.append(finding)
            continue
        others = list(dict.fromkeys(f.operation for f in group if f.operation != finding.operation))
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        parts = {p for f in group for p in (f.part, *f.also_in)} - {finding.part}
        more = counted(len(group) - 1, "more reply", "more replies")
        if key and key[0] == "header":
            more += " lacks it too" if len(group) == 2 else " lack it too"
        else:
            more += " too"
        folded.append(
            Finding(
                **{
                    **asdict(finding),
                    "message": f"{finding.message}; {more}" + (f" ({shown})" if others else ""),
                    "also_in": tuple(sorted(parts)),
                }
            )
        )
    return folded


def redact(text: str, secret: str | None) -> str:
    """Replace the API key, by the facade's rule (``_redact.replace_key``)."""
    return replace_key(text, secret, KEY_PLACEHOLDER) if secret else text


def clip(text: str, most: int, secret: str | None) -> str:
    """``text`` cut to ``most`` characters, ending ``...``, its key hidden (``redact``)
    first: hidden after the cut, a key across it was not whole, and its start stayed."""
    text = redact(text, secret)
    return text if len(text) <= most else text[: most - 3] + "..."


def redact_curl(command: str, secret: str | None, *, wrong_key: bool = False) -> str:
    """A schemathesis code sample with the key header reading ``$WEAVER_API_KEY``; for a
    finding about a wrong key (``wrong_key``), a key that cannot be the right one."""
    arg = f'"{API_KEY_HEADER}: {KEY_PLACEHOLDER}-not-valid"' if wrong_key else _KEY_ARG
    return redact(_CURL_KEY_HEADER.sub(f"-H {arg}", command), secret)


def curl_for_request(request: httpx.Request, secret: str | None = None) -> str:
    """A curl command for an httpx request, with the key taken from the environment."""
    parts = ["curl", "-X", request.method, shlex.quote(str(request.url))]
    for name, value in _headers(request.headers):
        if name.lower() in _SKIPPED_HEADERS:
            continue
        if name.lower() == API_KEY_HEADER.lower():
            parts += ["-H", _KEY_ARG]
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.content:
        parts += ["--data-raw", shlex.quote(request.content.decode("utf-8", "replace"))]
    return redact(" ".join(parts), secret)


def _headers(headers: Mapping[str, str] | httpx.Headers) -> list[tuple[str, str]]:
    return list(headers.items())
