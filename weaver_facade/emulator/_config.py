"""The emulator's configuration: plain frozen dataclasses, validated on construction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from weaver_client import limits

OperationKind = Literal["forward_backward", "optim_step", "save_checkpoint", "load_checkpoint"]
OPERATION_KINDS: tuple[str, ...] = get_args(OperationKind)

FaultKind = Literal["unavailable", "rate_limited", "drop"]
FaultWhen = Literal["before", "after"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FAULT_WHENS: tuple[str, ...] = get_args(FaultWhen)
_METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class FaultRule:
    """One kind of injected fault.

    ``kind``: ``unavailable`` answers 503, ``rate_limited`` answers 429 (both with
    ``Retry-After``), ``drop`` closes the connection without an answer.
    ``when``: ``before`` fails the request before the server acts on it; ``after``
    lets the server act (create, enqueue, ...) and then fails the reply, which is
    what makes retries without idempotency dangerous.
    ``method``/``route`` restrict the rule to one method and/or one path template
    of openapi.yaml (for example ``/api/v1/models/{model_id}/checkpoints``);
    ``None`` matches any.
    """

    kind: FaultKind
    rate: float
    when: FaultWhen = "before"
    method: str | None = None
    route: str | None = None
    retry_after: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}"
            )
        if self.when not in FAULT_WHENS:
            raise ValueError(f"fault 'when' must be 'before' or 'after', not {self.when!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate!r}")
        low, high = limits.RETRY_AFTER_MINIMUM, limits.RETRY_AFTER_MAXIMUM
        if not low <= self.retry_after <= high:
            raise ValueError(f"fault retry_after must be between {low} and {high} seconds")
        if self.method is not None:
            upper = self.method.upper()
            if upper not in _METHODS:
                raise ValueError(f"fault method must be an HTTP method, not {self.method!r}")
            object.__setattr__(self, "method", upper)
        if self.route is not None and not self.route.startswith("/"):
            raise ValueError(
                f"fault route must be a path template starting with '/': {self.route!r}"
            )

    def matches(self, method: str, route: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.route is None or self.route == route
        )

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """Parse the command-line form of a rule.

        ``kind=drop,rate=0.2[,when=after][,method=POST][,route=/api/v1/...][,retry_after=2]``
        """
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise ValueError(f"fault {text!r}: expected key=value pairs separated by commas")
            values[key] = value.strip()
        unknown = set(values) - {"kind", "rate", "when", "method", "route", "retry_after"}
        if unknown:
            raise ValueError(f"fault {text!r}: unknown key(s) {', '.join(sorted(unknown))}")
        if "kind" not in values or "rate" not in values:
            raise ValueError(f"fault {text!r}: 'kind' and 'rate' are required")
        kind = values["kind"]
        when = values.get("when", "before")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
        if when not in FAULT_WHENS:
            raise ValueError(f"fault 'when' must be 'before' or 'after', not {when!r}")
        try:
            rate = float(values["rate"])
            retry_after = int(values.get("retry_after", "1"))
        except ValueError:
            raise ValueError(
                f"fault {text!r}: rate must be a number and retry_after an integer"
            ) from None
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked against FAULT_KINDS above
            rate=rate,
            when=when,  # type: ignore[arg-type]  # checked against FAULT_WHENS above
            method=values.get("method") or None,
            route=values.get("route") or None,
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class FaultConfig:
    """Injected faults; the first matching rule whose seeded draw fires wins."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything an emulator instance needs.

    ``api_keys``: each key is a tenant; empty turns authentication off.
    ``latency``: seconds of artificial work per operation kind.
    ``honor_long_poll=False`` ignores ``?wait=`` like a server without the extension.
    ``clock``: seconds since the epoch; tests inject a fake one to expire TTLs.
    """

    data_dir: Path
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    latency: dict[str, float] = field(default_factory=dict)
    faults: FaultConfig | None = None
    honor_long_poll: bool = True
    default_sampling_ttl: int = 3600
    max_long_poll: float = 60.0
    workers: int = 4
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        # A lone string would otherwise become a tuple of one-character keys.
        raw: Any = self.api_keys
        keys = (raw,) if isinstance(raw, str) else tuple(raw)
        if any(not isinstance(k, str) or not k for k in keys):
            raise ValueError("api_keys must be non-empty strings")
        object.__setattr__(self, "api_keys", keys)
        latency = dict(self.latency)
        for kind, seconds in latency.items():
            if kind not in OPERATION_KINDS:
                raise ValueError(
                    f"latency kind must be one of {', '.join(OPERATION_KINDS)}, not {kind!r}"
                )
            if not seconds >= 0:
                raise ValueError(f"latency for {kind} must be >= 0 seconds")
        object.__setattr__(self, "latency", latency)
        if self.default_sampling_ttl < 1:
            raise ValueError("default_sampling_ttl must be >= 1 second")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        low, high = limits.GET_OPERATION_WAIT_MINIMUM, limits.GET_OPERATION_WAIT_MAXIMUM
        if not low <= self.max_long_poll <= high:
            raise ValueError(f"max_long_poll must be between {low} and {high}")

    def latency_of(self, kind: str) -> float:
        return float(self.latency.get(kind, 0.0))


def parse_latency(items: Iterable[str]) -> dict[str, float]:
    """Parse ``kind=seconds`` strings from the command line."""
    latency: dict[str, float] = {}
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"latency {item!r}: expected kind=seconds")
        try:
            latency[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"latency {item!r}: seconds must be a number") from None
    return latency


def merge_latency(base: Mapping[str, float], extra: Mapping[str, float]) -> dict[str, float]:
    merged = dict(base)
    merged.update(extra)
    return merged
