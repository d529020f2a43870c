"""The emulator's configuration: plain frozen dataclasses, validated on construction."""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import httpx
from weaver_client import limits

from .._causes import bad_host
from .._help import seconds_limit
from .._plural import plural
from .._spec_schema import spec_document

OperationKind = Literal[
    "forward_backward",
    "forward",
    "optim_step",
    "save_checkpoint",
    "load_checkpoint",
    "export_checkpoint",
    "export_model_weights",
]
OPERATION_KINDS: tuple[str, ...] = get_args(OperationKind)

FaultKind = Literal["unavailable", "rate_limited", "drop", "ignore_range"]
FaultWhen = Literal["before", "after", "mid"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FAULT_WHENS: tuple[str, ...] = get_args(FaultWhen)
_METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS")
_RULE_KEYS = ("kind", "rate", "when", "method", "route", "retry_after")
#: The requests faults reach: the API's and storage's.
FAULT_PREFIXES = ("/api/v1/", "/storage/")
#: Where the emulator serves artifact files, outside the API.
STORAGE_ROUTE = "/storage/artifacts/{artifact_id}/{name}"


def _fault_routes() -> set[str]:
    return {*spec_document()["paths"], STORAGE_ROUTE}


def _route_meant(route: str) -> str | None:
    """The path template a refused route was meant as: the one a path with ids fills,
    else the nearest in spelling, if any is near."""
    routes = sorted(_fault_routes())
    parts = route.split("/")
    for template in routes:
        slots = template.split("/")
        if len(slots) == len(parts) and all(
            slot == part or (slot.startswith("{") and part != "")
            for slot, part in zip(slots, parts, strict=True)
        ):
            return template
    close = difflib.get_close_matches(route, routes, n=1)
    return close[0] if close else None


@dataclass(frozen=True)
class FaultRule:
    """One kind of injected fault.

    ``kind``: ``unavailable`` answers 503, ``rate_limited`` answers 429 (both with
    ``Retry-After``), ``drop`` closes the connection without an answer,
    ``ignore_range`` serves the request as if it had no ``Range`` header (a
    storage server answering 200 with the whole file).
    ``when``: ``before`` fails the request before the server acts on it; ``after``
    lets the server act (create, enqueue, ...) and then fails the reply, which is
    what makes retries without idempotency dangerous; ``mid`` (``drop`` only)
    sends the status, the headers and part of the body, then closes the connection.
    ``method``/``route`` restrict the rule to one method and/or one path template
    of openapi.yaml (for example ``/api/v1/models/{model_id}/checkpoints``) or the
    storage route ``/storage/artifacts/{artifact_id}/{name}``; ``None`` matches any.
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
            raise ValueError(
                f"fault 'when' must be one of {', '.join(FAULT_WHENS)}, not {self.when!r}"
            )
        if self.when == "mid" and self.kind != "drop":
            raise ValueError("fault 'when=mid' is only for kind=drop")
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
        if self.route is not None and self.route not in _fault_routes():
            # A typo would match nothing, and a test of the faults would pass without any.
            meant = _route_meant(self.route)
            raise ValueError(
                "fault route must be a path template of openapi.yaml (/api/v1/...) or "
                f"{STORAGE_ROUTE}, not {self.route!r}"
                + (f" (did you mean {meant!r}?)" if meant else "")
            )

    def matches(self, method: str, route: str) -> bool:
        """Whether the rule applies to a request with ``method`` on the path template ``route``."""
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
        unknown = set(values) - set(_RULE_KEYS)
        if unknown:
            raise ValueError(
                f"fault {text!r}: {_unknown_keys(sorted(unknown))}; "
                f"the keys are {', '.join(_RULE_KEYS)}"
            )
        if "kind" not in values:
            kinds = f"{', '.join(FAULT_KINDS[:-1])} or {FAULT_KINDS[-1]}"
            raise ValueError(f"fault {text!r}: 'kind' ({kinds}) is required")
        kind = values["kind"]
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"fault {text!r}: kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}"
            )
        if "rate" not in values:
            raise ValueError(f"fault {text!r}: 'rate' (from 0 to 1) is required")
        when = values.get("when", "before")
        if when not in FAULT_WHENS:
            raise ValueError(f"fault 'when' must be one of {', '.join(FAULT_WHENS)}, not {when!r}")
        try:
            rate = float(in_ascii(values["rate"]))
            retry_after = int(in_ascii(values.get("retry_after", "1")))
        except ValueError:
            raise ValueError(
                f"fault {text!r}: rate must be a number and retry_after an integer, in ASCII digits"
            ) from None
        return cls(
            kind=kind,  # type: ignore[arg-type]  # checked against FAULT_KINDS above
            rate=rate,
            when=when,  # type: ignore[arg-type]  # checked against FAULT_WHENS above
            method=values.get("method") or None,
            route=values.get("route") or None,
            retry_after=retry_after,
        )

    @classmethod
    def from_data(cls, data: object) -> FaultRule:
        """A rule from plain data, ``{"kind": "unavailable", "rate": 0.2, ...}``, or as text."""
        if isinstance(data, FaultRule):
            return data
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, Mapping):
            raise ValueError(f"a fault rule must be a dict such as {_RULE_EXAMPLE}, not {data!r}")
        unknown = sorted(str(k) for k in data if k not in _RULE_KEYS)
        if unknown:
            raise ValueError(
                f"fault rule {dict(data)!r}: {_unknown_keys(unknown)}; "
                f"the keys are {', '.join(_RULE_KEYS)}"
            )
        if "kind" not in data or "rate" not in data:
            raise ValueError(f"fault rule {dict(data)!r}: 'kind' and 'rate' are required")
        _check_number(data["rate"], "fault rate")
        if "retry_after" in data and (
            isinstance(data["retry_after"], bool) or not isinstance(data["retry_after"], int)
        ):
            raise ValueError(f"fault retry_after must be an int, not {data['retry_after']!r}")
        for key in ("kind", "when", "method", "route"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                raise ValueError(f"fault {key} must be a string, not {data[key]!r}")
        return cls(**data)


_RULE_EXAMPLE = '{"kind": "unavailable", "rate": 0.2}'


def _unknown_keys(unknown: list[str]) -> str:
    return f"unknown {plural(len(unknown), 'key')} {', '.join(unknown)}"


def in_ascii(text: str) -> str:
    """``text``, refused (``ValueError``) unless it is ASCII without ``_``: Python's
    ``int()`` and ``float()`` also read ``8_650`` and other scripts' digits
    (``\u0668\u0666\u0665\u0660``) as 8650. The rule of ``weaver-facade``'s options
    (``_cli._state``), which the emulator may not import."""
    if not (text.isascii() and "_" not in text):
        raise ValueError(f"{text!r} is not in ASCII digits")
    return text


def _check_number(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}")


def _check_int(value: object, what: str, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of {unit} >= 1, not {value!r}")


@dataclass(frozen=True)
class FaultConfig:
    """Injected faults; the first matching rule whose seeded draw fires wins."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    @classmethod
    def from_data(cls, data: object) -> FaultConfig:
        """Faults from plain data: a list of rules (see ``FaultRule.from_data``), or
        ``{"rules": [...], "seed": N}``; a ``FaultConfig`` is returned as it is."""
        if isinstance(data, FaultConfig):
            return data
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in ("rules", "seed"))
            if unknown:
                raise ValueError(
                    f"faults: {_unknown_keys(unknown)}; give a list of rules, "
                    'or {"rules": [...], "seed": N}'
                )
            seed = data.get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"faults seed must be an int, not {seed!r}")
            return cls(rules=cls.from_data(data.get("rules", ())).rules, seed=seed)
        if isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise ValueError(
                f"faults must be a list of rules such as [{_RULE_EXAMPLE}], not {data!r}"
            )
        return cls(rules=tuple(FaultRule.from_data(rule) for rule in data))


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything an emulator instance needs.

    ``api_keys``: each key is a tenant; empty turns authentication off.
    ``latency``: seconds of artificial work per operation kind.
    ``faults``: a ``FaultConfig``, or the same as plain data (``FaultConfig.from_data``).
    ``extensions``: ``"all"`` (default), ``"none"``, or the names (a comma-separated
    string or an iterable) of the openapi.yaml extensions to offer; after
    construction, the frozenset of names offered.
    ``honor_long_poll=False`` ignores ``?wait=`` like a server without the extension
    (the same as leaving ``long-poll`` out of ``extensions``).
    ``clock``: seconds since the epoch; tests inject a fake one to expire TTLs (and to
    count down a queued operation's announced wait).
    ``url_ttl``: seconds a signed storage URL stays valid.
    ``shard_size``: an ``hf_model`` export whose tensors exceed it is sharded.
    ``storage_url``: the base of storage URLs (scheme, host and port); ``None``
    uses the host the API request came to.
    ``max_body_size``: bytes of the largest request body taken; a larger one gets 413
    ``payload_too_large``, refused before it is read when its ``Content-Length`` says so.
    """

    data_dir: Path
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    latency: dict[str, float] = field(default_factory=dict)
    faults: FaultConfig | None = None
    honor_long_poll: bool = True
    extensions: Any = "all"
    default_sampling_ttl: int = 3600
    max_long_poll: float = float(limits.GET_OPERATION_WAIT_MAXIMUM)
    workers: int = 4
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    url_ttl: float = 3600.0
    shard_size: int = 5_000_000_000
    storage_url: str | None = None
    max_body_size: int = 64 * 2**20

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        # A lone string would otherwise become a tuple of one-character keys.
        raw: Any = self.api_keys
        keys = (raw,) if isinstance(raw, str) else tuple(raw)
        if any(not isinstance(k, str) or not k for k in keys):
            raise ValueError("api_keys must be non-empty strings")
        # A key a header cannot carry as it is was taken, and every request refused (401):
        # a header holds printable ASCII, and blanks at either end are not part of its value.
        if any(not re.fullmatch(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?", k) for k in keys):
            raise ValueError(
                "api_keys must be printable ASCII without blanks at either end, as an HTTP "
                "header carries them; the key is not shown"
            )
        object.__setattr__(self, "api_keys", keys)
        raw_latency: Any = self.latency
        if not isinstance(raw_latency, Mapping):
            raise ValueError(
                f"latency must be a mapping of operation kind to seconds, such as "
                f'{{"save_checkpoint": 0.5}}, not {raw_latency!r}'
            )
        latency = dict(raw_latency)
        for kind, seconds in latency.items():
            if kind not in OPERATION_KINDS:
                raise ValueError(
                    f"latency kind must be one of {', '.join(OPERATION_KINDS)}, not {kind!r}"
                )
            _check_number(seconds, f"latency for {kind}")
            if not 0 <= seconds < math.inf:
                # Infinity overflowed the clock, and every such operation failed instead.
                raise ValueError(
                    f"latency for {kind} must be a finite number of seconds >= 0 (a long one, "
                    f"such as 1e6, for an operation that seems never to end), not {seconds!r}"
                )
        object.__setattr__(self, "latency", latency)
        raw_faults: Any = self.faults
        if raw_faults is not None:
            object.__setattr__(self, "faults", FaultConfig.from_data(raw_faults))
        from ._extensions import parse_extensions  # reads openapi.yaml

        object.__setattr__(self, "extensions", parse_extensions(self.extensions))
        # Each named, as the pytest plugin passes them on from plain data.
        _check_int(self.default_sampling_ttl, "default_sampling_ttl", "seconds")
        _check_int(self.workers, "workers", "threads")
        _check_int(self.shard_size, "shard_size", "bytes")
        _check_int(self.max_body_size, "max_body_size", "bytes")
        low, high = limits.GET_OPERATION_WAIT_MINIMUM, limits.GET_OPERATION_WAIT_MAXIMUM
        _check_number(self.max_long_poll, "max_long_poll")
        if not low <= self.max_long_poll <= high:
            raise ValueError(f"max_long_poll must be between {low} and {high}")
        _check_number(self.url_ttl, "url_ttl")
        if not 0 < self.url_ttl < math.inf:
            raise ValueError("url_ttl must be a finite number of seconds > 0")
        # `--url-ttl`'s bound: a URL whose expiry has 13 digits is refused as not signed, and
        # one past the year 9999 failed each download descriptor.
        limit = seconds_limit(self.url_ttl)
        if limit is not None:
            raise ValueError(f"url_ttl must be {limit}")
        if not isinstance(self.honor_long_poll, bool):
            raise ValueError(f"honor_long_poll must be True or False, not {self.honor_long_poll!r}")
        if not callable(self.clock):
            raise ValueError("clock must be a function giving seconds since the epoch")
        if self.storage_url is not None:
            if not isinstance(self.storage_url, str):
                raise ValueError(f"storage_url must be a str, not {self.storage_url!r}")
            shape = "storage_url must be scheme://host[:port], like http://127.0.0.1:8080"
            if not re.fullmatch(r"https?://[^/?#\s]+", self.storage_url.rstrip("/")):
                raise ValueError(shape)
            try:
                url = httpx.URL(self.storage_url)
            except httpx.InvalidURL as exc:  # `http://a:b`
                raise ValueError(f"{shape} ({exc})") from None
            # The facade's check of a base URL's host (a shared leaf): a host no name lookup
            # can encode was served, and each client's download of it failed.
            bad = bad_host(url)
            if bad is not None:
                raise ValueError(f"storage_url's {bad}")
            port = url.port  # None: the scheme's own
            if not url.host or (port is not None and not 0 < port < 65536):  # `http://a:0`
                raise ValueError(shape)
            object.__setattr__(self, "storage_url", self.storage_url.rstrip("/"))

    def latency_of(self, kind: str) -> float:
        """Seconds of artificial work for an operation of ``kind`` (0 when none was set)."""
        return float(self.latency.get(kind, 0.0))


def parse_latency(items: Iterable[str]) -> dict[str, float]:
    """Parse ``kind=seconds`` strings from the command line."""
    latency: dict[str, float] = {}
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"latency {item!r}: expected kind=seconds")
        try:
            latency[kind.strip()] = float(in_ascii(value))
        except ValueError:
            raise ValueError(
                f"latency {item!r}: seconds must be a number in ASCII digits"
            ) from None
    return latency


def merge_latency(base: Mapping[str, float], extra: Mapping[str, float]) -> dict[str, float]:
    merged = dict(base)
    merged.update(extra)
    return merged


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20,
               "GIB": 2**30}  # fmt: skip


def parse_size(text: str) -> int:
    """``5GB``, ``100MiB`` or a number of bytes, as Hugging Face's ``max_shard_size``."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([A-Za-z]*)\s*", text)
    unit = match[2].upper() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(
            f"size {text!r}: expected bytes, or a number with KB, MB, GB, KiB, MiB or GiB"
        )
    return int(match[1]) * _SIZE_UNITS[unit]
