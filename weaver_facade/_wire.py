"""From generated request to facade value, without I/O.

A ``Call`` is one request of the spec, built by the generated client
(``weaver_client.api.<tag>.<operation>._get_kwargs``) and paired with the
generated parser of its reply. The sync and async shells only send
``call.request`` with their httpx client and hand the reply to ``finish``,
which either returns the generated model or raises the right exception:

* an HTTP error reply becomes an ``APIError`` subclass (``error_from_response``);
* a reply that does not match the spec (missing field, unknown enum value,
  non-JSON body, undocumented status) becomes a ``ResponseValidationError``
  naming the operation and the field, never a bare ``KeyError``/``ValueError``
  from generated code.

We call the generated module's ``_get_kwargs``/``_parse_response`` rather than
its ``sync_detailed``, because ``sync_detailed`` parses inside the call: a
non-JSON 503 page would then raise a ``JSONDecodeError`` before we could see
the status. The generator is pinned exactly, so these names are stable.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, cast

import attrs
import httpx
from weaver_client.client import AuthenticatedClient, Client
from weaver_client.types import Unset

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseValidationError,
    api_error,
)
from ._lazy import LazyModule
from ._retry import RETRYABLE_STATUSES, parse_retry_after

if TYPE_CHECKING:
    from weaver_client import models as wire
else:
    wire = LazyModule("weaver_client.models")

__all__ = [
    "API_KEY_HEADER",
    "Call",
    "GeneratedClient",
    "WireModel",
    "connection_error",
    "error_from_response",
    "expect",
    "finish",
    "parse_model",
    "parse_retry_after",
    "scrub",
]

API_KEY_HEADER = "X-WEAVER-API-KEY"
REDACTED = "[redacted]"
_SNIPPET = 200

GeneratedClient = AuthenticatedClient | Client


class WireModel(Protocol):
    """What every generated model offers: ``from_dict``."""

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self: ...


M = TypeVar("M", bound=WireModel)


@attrs.frozen
class Call(Generic[M]):
    """One request of the spec and how to read its successful reply.

    Attributes:
        operation: The spec's operationId, used in every error message.
        request: ``httpx.Client.request`` keyword arguments from the generated client.
        parse: The generated module's ``_parse_response``.
        model: The generated model a success reply must parse into.
    """

    operation: str
    request: Mapping[str, Any]
    parse: Callable[..., object]
    model: type[M]


def finish(call: Call[M], client: GeneratedClient, response: httpx.Response) -> M:
    """Turn a reply into the expected generated model, or raise the right error."""
    if response.status_code >= 400:
        raise error_from_response(call.operation, response)
    try:
        parsed = call.parse(client=client, response=response)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise _diagnose(call, response, exc) from None
    if isinstance(parsed, call.model):
        return parsed
    raise ResponseValidationError(
        f"{call.operation}: unexpected HTTP status {response.status_code} "
        f"(the spec documents another success status)",
        operation=call.operation,
        status_code=response.status_code,
        request_id=response.headers.get("X-Request-ID"),
    )


def _diagnose(call: Call[Any], response: httpx.Response, exc: Exception) -> Exception:
    data = _json_or_error(call.operation, response)
    if isinstance(data, ResponseValidationError):
        return data
    try:
        parse_model(
            call.operation,
            call.model,
            data,
            status_code=response.status_code,
            request_id=response.headers.get("X-Request-ID"),
        )
    except ResponseValidationError as described:
        return described
    return ResponseValidationError(  # pragma: no cover - parse_model re-raises above
        f"{call.operation}: {call.model.__name__}: malformed reply ({type(exc).__name__})",
        operation=call.operation,
        status_code=response.status_code,
    )


def _json_or_error(operation: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return ResponseValidationError(
            f"{operation}: the reply is not JSON (HTTP {response.status_code}, "
            f"content-type {response.headers.get('content-type', 'none')!r}): "
            f"{_snippet(response)!r}",
            operation=operation,
            status_code=response.status_code,
            request_id=response.headers.get("X-Request-ID"),
        )


def _snippet(response: httpx.Response) -> str:
    text = response.content.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


# -- parsing generated models with named failures -------------------------------------

_ENUM_FAILURE = re.compile(r"^'?(?P<value>.*?)'? is not a valid (?P<enum>\w+)$")


def _known_fields(model: type[Any]) -> set[str]:
    if not attrs.has(model):
        return set()
    return {f.name.rstrip("_") for f in attrs.fields(model) if f.name != "additional_properties"}


def _label(operation: str, model: type[Any], where: str | None) -> str:
    return f"{operation}: {model.__name__}" + (f" {where}" if where else "")


def parse_model(
    operation: str,
    model: type[M],
    data: object,
    *,
    where: str | None = None,
    status_code: int | None = None,
    request_id: str | None = None,
) -> M:
    """``model.from_dict(data)``, with any failure described as a ResponseValidationError."""
    label = _label(operation, model, where)

    def fail(message: str, field: str | None = None) -> ResponseValidationError:
        return ResponseValidationError(
            f"{label}: {message}",
            operation=operation,
            field=field,
            status_code=status_code,
            request_id=request_id,
        )

    if not isinstance(data, Mapping):
        raise fail(f"expected a JSON object, got {_json_type(data)}")
    try:
        return model.from_dict(data)
    except KeyError as exc:
        raise _describe_missing(fail, model, data, str(exc.args[0]) if exc.args else "?") from None
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise _describe_value_error(fail, data, exc) from None


Fail = Callable[[str, "str | None"], ResponseValidationError]


def _describe_missing(
    fail: Fail, model: type[Any], data: Mapping[str, Any], field: str
) -> ResponseValidationError:
    known = _known_fields(model)
    if field in known and field not in data:
        extra = sorted(k for k in data if k not in known)
        return fail(f"required field `{field}` missing{_got(extra)}", field)
    found = _find_missing(data, field, "")
    if found is None:
        return fail(f"required field `{field}` missing in a nested object", field)
    path, obj = found
    similar = sorted(k for k in obj if field in k or k in field)
    return fail(f"{path}: required field `{field}` missing{_got(similar)}", f"{path}.{field}")


def _got(keys: list[str]) -> str:
    return f" (got {', '.join(f'`{k}`' for k in keys)})" if keys else ""


def _find_missing(data: object, key: str, path: str) -> tuple[str, Mapping[str, Any]] | None:
    """The first object inside a list (such as ``items[3]``) that lacks ``key``."""
    children: list[tuple[str, object]] = []
    if isinstance(data, Mapping):
        children = [(f"{path}.{k}" if path else str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        for i, item in enumerate(data):
            if isinstance(item, Mapping) and key not in item:
                return f"{path}[{i}]", item
            children.append((f"{path}[{i}]", item))
    for child_path, child in children:
        found = _find_missing(child, key, child_path)
        if found is not None:
            return found
    return None


def _strings(data: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string value in a JSON document, with its path."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, Mapping):
        for k, v in data.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, f"{path}[{i}]")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _find_value(data: object, text: str) -> str | None:
    """The path of the value refused in ``text`` (an error message from generated code)."""
    for path, value in _strings(data):
        if value == text or repr(value) in text:
            return path
    if "UUID" in text:  # uuid.UUID does not quote what it refuses
        for path, value in _strings(data):
            if path.rsplit(".", 1)[-1].endswith("id") and not _is_uuid(value):
                return path
    return None


def _describe_value_error(
    fail: Fail, data: Mapping[str, Any], exc: Exception
) -> ResponseValidationError:
    text = str(exc)
    match = _ENUM_FAILURE.match(text)
    if match:
        value, enum_name = match["value"], match["enum"]
        field = _find_value(data, value)
        allowed = _enum_values(enum_name)
        expected = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        where = f"field `{field}`: " if field else ""
        return fail(f"{where}{value!r} is not a valid {enum_name}{expected}", field)
    # Date-times and UUIDs: the refused value is quoted in the message.
    field = _find_value(data, text)
    if field is not None and field:
        return fail(f"field `{field}`: {text}", field)
    return fail(f"malformed reply ({type(exc).__name__}: {text})", None)


def _enum_values(name: str) -> list[str]:
    enum_cls = getattr(wire, name, None)
    if isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum):
        return [str(member.value) for member in enum_cls]
    return []


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


T = TypeVar("T")


def expect(
    operation: str,
    schema: str,
    field: str,
    value: object,
    kind: type[T] | tuple[type[Any], ...],
    *,
    nullable: bool = False,
) -> T:
    """Check a value taken from a generated model (which does not check types)."""
    if value is None and nullable:
        return cast(T, value)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true is not a number, although Python's bool is an int.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        name = " or ".join(k.__name__ for k in kinds)
        shown = "missing" if isinstance(value, Unset) else f"got {_json_type(value)}"
        raise ResponseValidationError(
            f"{operation}: {schema}: field `{field}`: expected {name}, {shown}",
            operation=operation,
            field=field,
        )
    return cast(T, value)


# -- error replies ------------------------------------------------------------------------


def error_from_response(operation: str, response: httpx.Response) -> APIError:
    """The exception for a 4xx/5xx reply, from its Error body when it has a usable one."""
    status = response.status_code
    secret = _request_secret(response)
    request_id = response.headers.get("X-Request-ID")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    body: wire.Error | None = None
    try:
        data = response.json()
        if isinstance(data, Mapping):
            body = wire.Error.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        body = None
    if body is not None and isinstance(body.error, str) and isinstance(body.message, str):
        details = {} if isinstance(body.details, Unset) else body.details.additional_properties
        return api_error(
            status,
            scrub(f"{operation}: {body.message}", secret),
            code=body.error,
            retryable=body.retryable if isinstance(body.retryable, bool) else False,
            request_id=body.request_id if isinstance(body.request_id, str) else request_id,
            details=scrub(details, secret),
            retry_after=retry_after,
        )
    # No Error body: a proxy's HTML page, an empty reply, or a server off the spec.
    reason = response.reason_phrase or "error"
    text = _snippet(response)
    message = f"{operation}: HTTP {status} {reason}" + (
        f"; the reply is not a Weaver error: {text!r}" if text else ""
    )
    return api_error(
        status,
        scrub(message, secret),
        retryable=status in RETRYABLE_STATUSES,
        request_id=request_id,
        retry_after=retry_after,
    )


def connection_error(operation: str, exc: httpx.TransportError) -> APIConnectionError:
    """The exception for a request that got no reply."""
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    detail = str(exc) or type(exc).__name__
    return cls(f"{operation}: {type(exc).__name__}: {detail}", retryable=True)


def _request_secret(response: httpx.Response) -> str | None:
    try:
        secret: str | None = response.request.headers.get(API_KEY_HEADER)
    except RuntimeError:  # a Response built without its request
        return None
    return secret


# A key at least this long is replaced wherever it appears; a shorter (toy)
# key only where it stands alone, so that the key "k" leaves "checkpoint" intact.
_SCRUB_ANYWHERE = 8


def scrub(value: T, secret: str | None) -> T:
    """Replace the API key in a string or JSON-like structure."""
    if not secret:
        return value
    if isinstance(value, str):
        if len(secret) >= _SCRUB_ANYWHERE:
            return value.replace(secret, REDACTED)  # type: ignore[return-value]
        alone = rf"(?<![A-Za-z0-9_.-]){re.escape(secret)}(?![A-Za-z0-9_.-])"
        return re.sub(alone, REDACTED, value)  # type: ignore[return-value]
    if isinstance(value, Mapping):
        return {k: scrub(v, secret) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [scrub(v, secret) for v in value]  # type: ignore[return-value]
    return value
