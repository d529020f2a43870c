"""From generated request to facade value, without I/O.

A ``Call`` (``_plans``) is one request of the spec, built by the generated client
(``weaver_client.api.<tag>.<operation>._get_kwargs``) and paired with the
generated parser of its reply. The sync and async shells only send
``call.request`` with their httpx client and hand the reply to ``finish``,
which either returns the generated model or raises the right exception:

* an HTTP error reply becomes an ``APIError`` subclass (``error_from_response``);
* a reply that does not match the spec (missing field, unknown enum value,
  non-JSON body, undocumented status) becomes a ``ResponseValidationError``
  naming the operation and the field, never a bare ``KeyError``/``ValueError``
  from generated code; but a 2xx the spec does not document whose body is the
  documented reply is read as that reply, with a warning (``_undocumented_success``),
  and a field the real service does not promise that breaks the spec, or a null it left
  out, is read leniently (``_leniently``).

We call the generated module's ``_get_kwargs``/``_parse_response`` rather than
its ``sync_detailed``, because ``sync_detailed`` parses inside the call: a
non-JSON 503 page would then raise a ``JSONDecodeError`` before we could see
the status. The generator is pinned exactly, so these names are stable.

It also keeps the request's secrets out of what a reply or a failure shows, by
``_redact``'s rules (DEVELOPERS.md, "Conventions").
"""

from __future__ import annotations

import datetime
import enum
import functools
import itertools
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    NamedTuple,
    Self,
    TypeAlias,
    TypeVar,
    cast,
)

import attrs
import httpx
from weaver_client.client import Client
from weaver_client.types import Unset

from ._causes import (
    TUNNELLED,
    causes,
    no_retry_helps,
    os_reason,
    proxy_refusal,
    proxy_words,
)
from ._errors import (
    NOT_READY_NOTE,
    RESUME_CALL,
    RESUME_COMMANDS,
    STATE_LOST_NOTE,
    APIConnectionError,
    APIError,
    APITimeoutError,
    CheckpointNotReadyError,
    ModelStateLostError,
    ModelTerminatedError,
    ResponseValidationError,
    error_class,
    note_cli_words,
    says_how_to_resume,
)
from ._lazy import LazyModule, wire
from ._pages import html_page
from ._plans import Call, WireModel
from ._redact import (
    API_KEY_HEADER,
    REDACTED,
    SECRET_HEADER_NAMES,
    SENT_SECRETS,
    json_without_secrets,
    scrub,
    secrets_of,
    sent_frames_dropped,
    shown_url,
)
from ._result_shape import misplaced, result_schemas, shaped_as
from ._retry import (
    PARSE_ERRORS,
    describe_failure,
    error_body,
    parse_http_date,
    parse_retry_after,
    request_of,
    response_is_retryable,
    server_says_retryable,
    tunnel_refusal_is_retryable,
)
from ._schema import (
    ARTICLES,
    AbsentNull,
    Problem,
    explain,
    json_type,
    own_meaning,
    unpromised,
    with_absent_nulls,
    with_upper_date_times,
    without_unpromised,
)
from ._storage_errors import SIGNATURE_HIDDEN

if TYPE_CHECKING:
    from weaver_client import schemas as spec
else:
    spec = LazyModule("weaver_client.schemas")

_logger = logging.getLogger("weaver_facade")
_warned: set[tuple[str, str]] = set()
_SNIPPET = 200
# A lowercase z that ends a string (``_upper_date_times``); found in a third of the time
# of `in` (which stops at every `"`): 13 us in 40 kB.
_LOWER_Z = re.compile(rb'z"')

M = TypeVar("M", bound=WireModel)
T = TypeVar("T")


class NoBody:
    """The reply of a call whose body the spec leaves unread (any 2xx, a body or none)."""

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        return cls()


def on_success(call: Call[M], read: Callable[[httpx.Response], object]) -> Call[M]:
    """``call``, whose 2xx reply ``read`` reads; an error reply parses as usual."""
    parse = call.parse

    def parse_reply(*, client: Client, response: httpx.Response) -> object:
        if response.is_success:
            return read(response)
        return parse(client=client, response=response)

    return call._replace(parse=parse_reply)


def ignore_body(call: Call[NoBody]) -> Call[NoBody]:
    """``call``, whose 2xx body is not read: any 2xx is a ``NoBody``."""
    return on_success(call, lambda _response: NoBody())


Maybe = TypeVar("Maybe", bound="MaybeResource[Any]")


@attrs.frozen
class MaybeResource(NoBody, Generic[M]):
    """The reply of a call for which the real service promises no body: any 2xx is done.

    ``resource`` is the body when it is a valid ``RESOURCE`` (named by subclasses), else
    ``None``: whatever else a server sends, the work is done and the caller reads the
    resource back if it needs it. A ``NoBody`` only for the ``from_dict`` a ``Call``'s model
    needs, never called: ``maybe_resource`` reads the reply.
    """

    RESOURCE: ClassVar[str]  # the spec's schema, a generated model's name

    resource: M | None = None

    def read(self, convert: Callable[[str, M], T], operation: str) -> T | None:
        """The resource as ``convert`` reads it, else ``None``: one the generated parser took
        but that breaks the spec (an ``id`` of null) is none either."""
        if self.resource is None:
            return None
        try:
            return convert(operation, self.resource)
        except ResponseValidationError:
            return None


def maybe_resource(call: Call[Maybe]) -> Call[Maybe]:
    """``call``, whose 2xx reply is its ``MaybeResource`` model; errors parse as usual."""
    reply = call.model

    def read(response: httpx.Response) -> object:
        try:
            body = response.json() if response.content else None
            return reply(parse_model(call.op_id, getattr(wire, reply.RESOURCE), body))
        # Not JSON (or nested past what the parser takes), or not the resource.
        except (ValueError, RecursionError, ResponseValidationError):
            return reply()

    return on_success(call, read)


EARLIER_ATTEMPT = "weaver_facade.earlier_attempt"
# A request's extension: the environment's proxy that the facade's own client sent it
# through, for the error of a connection that failed (a user's client is not described).
PROXIED = "weaver_facade.proxy"


class EarlierAttempt(NamedTuple):
    """Set by the retry transport on a reply that follows an attempt the server may
    have acted on (a failure after the request was sent).

    Attributes:
        sent: ``time.monotonic()`` when the first such attempt was sent.
        received: ``time.monotonic()`` when the final reply's headers arrived.
        replies_lost: How many such attempts got no reply, or a proxy's 502 or 504
            (``_retry.reply_lost``), rather than the server's own error replies (a 503
            says it did not act); each may have acted.
    """

    sent: float
    received: float
    replies_lost: int = 0


class Delivery(NamedTuple):
    """How an error reply was obtained; what a save needs to recognise its own checkpoint.

    Attributes:
        earlier_attempt: Set when an earlier attempt may have been acted on.
        date: The reply's ``Date`` header (server time, whole seconds), if any.
    """

    earlier_attempt: EarlierAttempt | None
    date: datetime.datetime | None


def finish(call: Call[M], client: Client, response: httpx.Response) -> M:
    """Turn a reply into the expected generated model, or raise the right error."""
    if response.status_code >= 400:
        error = error_from_response(call.op_id, response)
        earlier = response.extensions.get(EARLIER_ATTEMPT)
        date = parse_http_date(response.headers.get("Date"))
        error.delivery = Delivery(earlier if isinstance(earlier, EarlierAttempt) else None, date)
        raise error
    _refuse_result_shape(call, response)
    response = _without_key(response)
    if _LOWER_Z.search(response.content):
        response = _upper_date_times(call, response)
    try:
        parsed = call.parse(client=client, response=response)
    except PARSE_ERRORS:
        try:
            return _reread(call, response)
        except ResponseValidationError as error:
            # The explanation quotes the reply, which may echo the request's headers; the
            # parsers' errors behind it hold it whole (a JSON error's ``doc``, its frames).
            error.message = scrub(error.message, _secrets(response))
            error.args = (error.message,)
            error.__context__ = None
            raise error from None
    if isinstance(parsed, call.model):
        return parsed
    return _undocumented_success(call, response)


def _undocumented_success(call: Call[M], response: httpx.Response) -> M:
    """A status the spec does not document for ``call``. A 2xx (200 for a create's 201)
    did the work all the same: a body of the documented reply is taken, with a warning,
    rather than lose what the server made."""
    status = response.status_code
    why = "the spec documents another success status"
    if response.has_redirect_location:  # an http:// base URL of an https:// service, say
        why = (
            f"a redirect to {_led_to(response)}, which the client does not follow, so "
            "that the API key goes to the base URL alone; if the service moved there, make "
            "its root the base URL"
        )
    if response.is_success:
        try:
            data = response.json()
            schema = _schema_name(call, data, status)
            parsed = parse_model(call.op_id, call.model, data, schema=schema)
        except (ValueError, RecursionError):
            why = "not in the spec, and its body is not JSON"
        except ResponseValidationError as exc:
            reason = exc.message.removeprefix(f"{call.op_id}: ")
            why = f"not in the spec, and its body breaks it: {reason}"
        else:
            read = "its body is read as the documented reply"
            text = f"answered HTTP {status}, which the spec does not document; {read}"
            _warn_once(call.op_id, [(schema, f"HTTP {status}", text)])
            return parsed
    raise _refused(call, response, f"unexpected HTTP status {status} ({why})")


def _led_to(response: httpx.Response) -> str:
    """Where a redirect leads, resolved against the request's URL, as it may be shown."""
    location = response.headers["location"]
    try:
        led_to = shown_url(response.request.url.join(location))
    except (RuntimeError, httpx.InvalidURL):  # no request, or a Location httpx cannot read
        led_to = repr(location)
    return scrub(led_to, _secrets(response))


def _refused(call: Call[Any], response: httpx.Response, text: str) -> ResponseValidationError:
    """The error for ``call``'s ``response``, which ``text`` says breaks the spec."""
    return ResponseValidationError(
        f"{call.op_id}: {text}",
        operation=call.op_id,
        status_code=response.status_code,
        request_id=_request_id(response),
    )


@functools.cache
def kind_schemas() -> dict[str, str]:
    """The schema of each operation kind's result, as the spec says (``result_schemas``)."""
    return result_schemas(spec.SCHEMAS)


def _refuse_result_shape(call: Call[Any], response: httpx.Response) -> None:
    """A call that starts an operation answered with the operation's result instead (the
    history's synchronous save: the Checkpoint where the Operation belongs)."""
    expected = call.model.__name__
    if expected != "Operation":
        return
    result = kind_schemas().get(call.op_id)
    if result is None:
        return
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return  # the parser names a body that is not JSON
    if shaped_as(data, result, expected, spec.SCHEMAS):
        raise _refused(call, response, misplaced(f"HTTP {response.status_code}", result))


def _reread(call: Call[M], response: httpx.Response) -> M:
    """A reply the generated parser refused, read again by ``parse_model`` (leniently:
    every documented success status parses into ``call.model``); else why it breaks the spec."""
    status = response.status_code
    try:
        data = response.json()
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError: ValueErrors
        sent = f"HTTP {status}, content-type {response.headers.get('content-type', 'none')!r}"
        page = _page(response)
        raise _refused(
            call,
            response,
            f"the reply is not JSON ({sent}): {scrub(_snippet(response), _secrets(response))!r}"
            if page is None
            else f"the reply is {page}, not JSON ({sent})",
        ) from None
    drift = getattr(call.model, "drift", None)  # a reply of two schemas (ExportReply)
    if callable(drift) and (why := drift(data)) is not None:
        raise _refused(call, response, why)
    return parse_model(
        call.op_id,
        call.model,
        data,
        schema=_schema_name(call, data, status),
        status_code=status,
        request_id=_request_id(response),
    )


def _schema_name(call: Call[Any], data: object, status: int) -> str:
    # A reply of more than one schema says which this one is (see ExportReply).
    schema_of = getattr(call.model, "schema_of", None)
    return schema_of(data, status) if callable(schema_of) else call.model.__name__


def _upper_date_times(call: Call[Any], response: httpx.Response) -> httpx.Response:
    """``response``, or a copy with its date-times in upper case
    (``_schema.with_upper_date_times``); either is valid, so nothing is said."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return response
    upper = with_upper_date_times(_schema_name(call, data, response.status_code), data)
    return response if upper == data else _with_body(response, upper)


def _with_body(response: httpx.Response, data: object) -> httpx.Response:
    # NaN as it came (httpx's ``json=`` refuses it).
    return with_content(response, json.dumps(data).encode())


_BODY_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


def with_content(response: httpx.Response, content: bytes) -> httpx.Response:
    """A copy of ``response`` whose body is ``content``, decoded; its headers as they came
    (as bytes: a value may be Latin-1), but those that described the old body's bytes."""
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.raw if k.lower() not in _BODY_HEADERS],
        content=content,
        request=response.request,
        extensions=response.extensions,
    )


# What a lenient read did to a reply: the schema, the field, and what of it, in words.
_Leniency: TypeAlias = tuple[str, str, str]


def _leniently(
    schema: str, data: Mapping[str, Any]
) -> tuple[Any, list[_Leniency], list[_Leniency]]:
    """``data`` with null for the absent fields that ``schema`` lets be null
    (``_schema.with_absent_nulls``) and without the unpromised fields that break it
    (``_schema.without_unpromised``), and what was done: the nulls read, then the fields
    left out."""
    data, filled = with_absent_nulls(schema, data)
    kept, dropped = without_unpromised(schema, data)
    # A value the spec lets a server without the extension send (an Operation's `kind` in
    # words of its own) is no more to warn about than a null left out.
    quiet = _absent_nulls_said(filled)
    said: list[_Leniency] = []
    for p in dropped:
        own = own_meaning(schema, p.field, data.get(p.field))
        (quiet if own else said).append(_left_out_said(schema, p.field, p.message))
    return kept, quiet, said


def _absent_nulls_said(filled: tuple[AbsentNull, ...]) -> list[_Leniency]:
    said = []
    for absent in filled:
        where = absent.field.removesuffix(absent.name).rstrip(".")
        at = f" at `{where}`" if where else ""
        text = (
            f"the server left out `{absent.name}`{at}, which the spec requires but lets be "
            "null: read as null"
        )
        said.append((absent.schema, absent.name, text))
    return said


def _warn_once(operation: str, said: list[_Leniency], level: int = logging.WARNING) -> None:
    """A WARNING (or a record of ``level``) for each field a reply that parsed was read
    leniently in, once per schema and field in the process."""
    for schema, field, text in said:
        if (schema, field) not in _warned:
            _warned.add((schema, field))
            _logger.log(level, "%s: %s: %s", operation, schema, text)


# A URL's query in a reply's text, its ``/`` maybe escaped as JSON may (``\/``): a
# download descriptor's presigned URLs carry their signature there, a credential.
_URL_QUERY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:(?://|\\/\\/)[^\s\"'<>?]*)\?[^\s\"'<>]*")


def _shown(text: str, response: httpx.Response) -> str:
    """``text``, of ``response``'s body, without its secrets. Scrubbed before it is cut or
    its blanks are folded, either of which would leave a part of the key (or a key with two
    blanks in a row) that no longer matches it."""
    return _URL_QUERY.sub(rf"\1?{SIGNATURE_HIDDEN}", scrub(text, _secrets(response)))


def _snippet(response: httpx.Response) -> str:
    text = " ".join(_shown(response.content.decode("utf-8", errors="replace"), response).split())
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


def _page(response: httpx.Response) -> str | None:
    """What the contract kit calls a reply that is a web page (``an HTML page titled
    '502 Bad Gateway'``), else ``None``."""
    return html_page(
        response.content,
        response.headers.get("content-type", ""),
        lambda text: _shown(text, response),
    )


@attrs.frozen
class WireFields:
    """Which fields of a spec schema a facade type carries; declared next to its converter,
    and held to DEVELOPERS.md's coverage ("No spec field is dropped in silence").

    Every field of the generated model is an attribute of ``facade`` (an attrs class, or a
    class whose keyword arguments are its attributes), under its own name or the one in
    ``mapped``, or is in ``left_out`` with the reason. A field the spec lets be absent (or
    null) maps to an attribute with a default, the value the facade makes of it; one
    without (or, for a null, whose type does not admit ``None``) is in ``required``, with
    how the converter fills it in or why it refuses a reply without it. Every attribute
    comes from a field of a schema declared for it, or is in ``derived`` with its source.
    """

    schema: spec.SchemaName
    facade: type[Any]
    mapped: Mapping[str, str] = attrs.field(factory=dict)
    left_out: Mapping[str, str] = attrs.field(factory=dict)
    required: Mapping[str, str] = attrs.field(factory=dict)
    derived: Mapping[str, str] = attrs.field(factory=dict)

    def missing(self, data: Mapping[str, Any]) -> str | None:
        """The first field absent from ``data`` that the facade type needs and the spec
        does not require (as ``required`` would list it), to name in a refused reply."""
        if not attrs.has(self.facade):
            return None
        needed = {a.name for a in attrs.fields(self.facade) if a.default is attrs.NOTHING}
        fields: Mapping[str, object] = spec.SCHEMAS.get(self.schema, {}).get("properties", {})
        for name in fields:
            if name in data or name in self.left_out or name in self.required:
                continue
            if self.mapped.get(name, name) in needed:
                return name
        return None


@attrs.frozen
class WireValues:
    """Which facade enum member each value of a spec enum becomes; declared next to the
    facade enum. A value is the member of the same value, or the one ``mapped`` names,
    so that a value added to the spec is listed (``scripts/regenerate --coverage``)
    rather than met by a ``KeyError`` in a reply."""

    schema: spec.SchemaName
    facade: type[enum.Enum]
    mapped: Mapping[str, str] = attrs.field(factory=dict)

    def table(self) -> dict[str, Any]:
        """Wire value to facade member, for the converter."""
        members = {m.value: m for m in self.facade}
        return {**members, **{wire: members[ours] for wire, ours in self.mapped.items()}}


# -- parsing generated models with named failures -------------------------------------


def parse_model(
    operation: str,
    model: type[M],
    data: object,
    *,
    where: str | None = None,
    schema: str | None = None,
    status_code: int | None = None,
    request_id: str | None = None,
) -> M:
    """``model.from_dict(data)``, with any failure described as a ResponseValidationError
    against the spec's ``schema`` (by default the model's name)."""
    schema = schema or model.__name__
    if not isinstance(data, Mapping):
        raise ResponseValidationError(
            f"{_label(operation, schema, where)}: expected a JSON object, got {json_type(data)}",
            operation=operation,
            status_code=status_code,
            request_id=request_id,
        )
    value: Mapping[str, Any] = with_upper_date_times(schema, data)
    try:
        try:
            return model.from_dict(value)
        except PARSE_ERRORS:
            value, nulls, said = _leniently(schema, value)
            if not (nulls or said):
                raise
            parsed = model.from_dict(value)
            # A null left out loses nothing (a server may leave nulls out), nor does a
            # field the spec lets a server fill in words of its own: no WARNING, which a
            # command line would print on each of its commands.
            _warn_once(operation, nulls, logging.INFO)
            _warn_once(operation, said)
            return parsed
    except PARSE_ERRORS as exc:
        raise reply_error(  # the problem once read leniently
            operation,
            schema,
            value,
            where=where,
            cause=exc,
            status_code=status_code,
            request_id=request_id,
        ) from None


def nested(operation: str, model: type[M], value: object, field: str) -> M | None:
    """An object ``field`` of a generated model: ``None`` when absent or null, else the
    ``model``, also where the generated parser kept what it could not parse as it came
    (``parse_model`` then says why)."""
    if value is None or isinstance(value, Unset):
        return None
    if isinstance(value, model):
        return value
    return parse_model(operation, model, value, where=f"in `{field}`")


def result_of(operation: str, schema: str, data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A done operation's ``response``, which must be there: a server that put the
    result at the Operation's top level would otherwise read as a null result."""
    if data is None:
        raise ResponseValidationError(
            f"{operation}: the done Operation has no `response` (its {schema})",
            operation=operation,
            field="response",
        )
    return data


def _label(operation: str, schema: str, where: str | None) -> str:
    return f"{operation}: {schema}" + (f" {where}" if where else "")


def reply_error(
    operation: str,
    schema: str,
    data: Mapping[str, Any],
    *,
    where: str | None = None,
    cause: Exception | None = None,
    status_code: int | None = None,
    request_id: str | None = None,
    fields: WireFields | None = None,
) -> ResponseValidationError:
    """The error for a reply that breaks the spec's ``schema``, naming the field
    (``_schema.explain``); for a reply the spec allows, the field absent from it that
    the facade type (``fields``) needs, if that is why."""
    problem = explain(schema, data)
    if problem is None and fields is not None and (missing := fields.missing(data)):
        facade = fields.facade.__name__
        problem = Problem(
            missing,
            f"field `{missing}`: missing; the spec lets it be absent, "
            f"but the facade's {facade}.{fields.mapped.get(missing, missing)} needs it",
        )
    if problem is None:  # the schema allows it: only the generated code refused it
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        text, field = f"malformed reply{detail}", None
    else:
        text, field = problem.message, problem.field
    return ResponseValidationError(
        f"{_label(operation, schema, where)}: {text}",
        operation=operation,
        field=field,
        status_code=status_code,
        request_id=request_id,
    )


def field_error(operation: str, schema: str, field: str, text: str) -> ResponseValidationError:
    """The error for ``field`` of a reply of ``schema``, which ``text`` says breaks the spec."""
    return ResponseValidationError(
        f"{operation}: {schema}: {text}", operation=operation, field=field
    )


def expect(
    operation: str,
    schema: str,
    field: str,
    value: object,
    kind: type[T] | tuple[type[Any], ...],
) -> T:
    """Check a value taken from a generated model (which does not check types); a time
    without an offset comes back as UTC (``as_utc``)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true is not a number, although Python's bool is an int.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        name = " or ".join(dict.fromkeys(_json_kind(k, kinds) for k in kinds))
        shown = "missing" if isinstance(value, Unset) else f"got {json_type(value)}"
        raise field_error(operation, schema, field, f"field `{field}`: expected {name}, {shown}")
    if isinstance(value, datetime.datetime):
        return cast(T, as_utc(value))
    return cast(T, value)


# A Python type's JSON type, in the words of ``_schema.explain`` (and so of the contract kit).
_JSON_KINDS: Mapping[type, str] = {
    str: ARTICLES["string"],
    int: ARTICLES["integer"],
    float: ARTICLES["number"],
    bool: ARTICLES["boolean"],
    list: ARTICLES["array"],
    dict: ARTICLES["object"],
    uuid.UUID: "a UUID",
    datetime.datetime: "a date-time",
}


def _json_kind(kind: type, kinds: tuple[type, ...]) -> str:
    if kind is int and float in kinds:  # int or float: a JSON number
        return ARTICLES["number"]
    return _JSON_KINDS.get(kind, kind.__name__)


def as_float(value: float) -> float:
    """A JSON number as a ``float``: an integer beyond a float's range (JSON sets none) as
    the infinity of its sign, as the same number written with an exponent (``1e400``) is
    read, where ``float()`` raised ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def newest(
    items: Sequence[T],
    made: Callable[[T], datetime.datetime | None],
    wanted: Callable[[T], bool] = lambda _: True,
) -> T | None:
    """The newest of a listing's ``wanted`` items (``None`` if none), by the time ``made``
    gives (none: the oldest). The wire gives listings no order, and a server's clock may
    give two items one time (whole seconds): of those, the later listed, or the first
    when the times of the listing's items, wanted or not (a pending save's too), show it
    newest first. A listing whose times show no order is taken in the spec's, oldest
    first: of two quick saves alone in a newest-first listing, the earlier is taken."""
    times = [-math.inf if (t := made(item)) is None else t.timestamp() for item in items]
    steps = {(b > a) - (b < a) for a, b in itertools.pairwise(times)}
    later = -1 if -1 in steps and 1 not in steps else 1
    chosen = [i for i, item in enumerate(items) if wanted(item)]
    return items[max(chosen, key=lambda i: (times[i], later * i))] if chosen else None


def as_utc(value: datetime.datetime) -> datetime.datetime:
    """A server's time; one without an offset (RFC 3339 requires one) is taken as UTC,
    rather than as local time, which compares with no aware time."""
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def optional(
    operation: str,
    schema: str,
    field: str,
    value: object,
    kind: type[T] | tuple[type[Any], ...],
    *,
    nullable: bool = True,
    lenient: bool = True,
) -> T | None:
    """``expect`` for a field the spec lets be absent or (if ``nullable``) null: ``None``,
    as for an unpromised field whose value breaks the spec (``leave_out``) if ``lenient``."""
    if (value is None and nullable) or isinstance(value, Unset):
        return None
    try:
        return expect(operation, schema, field, value, kind)
    except ResponseValidationError as exc:
        if not lenient:
            raise
        leave_out(operation, schema, field, exc)
        return None


def leave_out(operation: str, schema: str, field: str, refused: ResponseValidationError) -> None:
    """Leave out a ``field`` of ``schema`` (``Checkpoint items[0]``, say) whose value a
    converter ``refused`` when the real service does not promise it (``unpromised``),
    said once; else raise ``refused``. The generated parser checks no plain value's type, so
    this is the converters' counterpart of ``_leniently``. Only a whole field is left out: a
    part of one (``lora_config.seed``) raises, for the caller to leave out the whole, since
    the spec's default in a part's place would say what the server did not."""
    base = schema.split(" ", 1)[0]
    if "." in field or field not in unpromised(base):
        raise refused
    problem = refused.message.removeprefix(f"{operation}: ").removeprefix(f"{schema}: ")
    _warn_once(operation, [_left_out_said(base, field, problem)])


def _left_out_said(schema: str, field: str, problem: str) -> _Leniency:
    text = f"the server's `{field}` is left out, since the wire does not promise it ({problem})"
    return (schema, field, text)


# -- error replies ------------------------------------------------------------------------


ERROR_FIELDS = WireFields(
    "Error",
    APIError,
    mapped={"error": "code"},
    derived={
        "status_code": "the reply's status",
        "retry_after": "the reply's Retry-After header",
    },
)


def error_from_response(operation: str, response: httpx.Response) -> APIError:
    """The exception for a 4xx/5xx reply, from its Error body when it has a usable one.
    A 401 to a request without a key has a note saying so (a server's message need not
    tell a missing key from a wrong one), a ``ModelTerminatedError`` one saying that the
    checkpoints stay, a ``ModelStateLostError`` one saying how to go on from them (unless
    the server's message says so), and a ``CheckpointNotReadyError`` one saying how to wait for the
    checkpoint, which a traceback shows and ``str()`` leaves to the command line's own
    words."""
    error = _error_from_response(operation, response)
    request = request_of(response)
    if response.status_code == 401 and (request is None or API_KEY_HEADER not in request.headers):
        error.add_note("no API key was given: set WEAVER_API_KEY or pass api_key=")
    if isinstance(error, ModelTerminatedError):  # as this client's own refusal says
        error.add_note(
            "a terminated model's checkpoints stay, to list, export, download, or resume in "
            "a new model with create_training_client_from_state"
        )
    if isinstance(error, CheckpointNotReadyError):  # a save still running, maybe elsewhere
        error.add_note(NOT_READY_NOTE)
    if isinstance(error, ModelStateLostError) and not says_how_to_resume(error.message):
        error.add_note(STATE_LOST_NOTE)
        note_cli_words(
            error, STATE_LOST_NOTE, STATE_LOST_NOTE.replace(RESUME_CALL, RESUME_COMMANDS)
        )
    return error


def _error_from_response(operation: str, response: httpx.Response) -> APIError:
    status = response.status_code
    secret = _secrets(response)
    request_id = _request_id(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    # As the retry transport decided: whether repeating the request (if safe) may succeed.
    retryable = response_is_retryable(
        status, replayable=True, server_says=server_says_retryable(response)
    )
    try:
        body, is_json = error_body(response.json()), True
    except PARSE_ERRORS:
        body, is_json = None, False
    details: Mapping[str, Any] | None = None
    if body is not None:
        message, code = f"{operation}: {body.message}", body.error
        if not isinstance(body.details, Unset):
            details = body.details.additional_properties
        if isinstance(body.request_id, str):
            request_id = scrub(body.request_id, secret)
    else:  # no Error body: a proxy's HTML page, an empty reply, or a server off the spec
        message, code = f"{operation}: HTTP {status} {response.reason_phrase or 'error'}", None
        # JSON is no page, whatever its content type says (a framework's text/html error).
        if not is_json and (page := _page(response)) is not None:
            message += f"; the reply is {page}, not a Weaver error"
        elif text := scrub(_snippet(response), secret):  # before repr() escapes what it quotes
            message += f"; the reply is not a Weaver error: {text!r}"
    code = scrub(code, secret)
    return error_class(status, code)(
        scrub(message, secret),
        status_code=status,
        code=code,
        retryable=retryable,
        request_id=request_id,
        details=scrub(details, secret),
        retry_after=retry_after,
    )


def _secrets(outcome: httpx.Response | httpx.RequestError) -> tuple[str, ...]:
    return secrets_of(request_of(outcome))


def _without_key(response: httpx.Response) -> httpx.Response:
    """``response``, or a copy whose JSON body no longer holds the request's secrets
    (``json_without_secrets``)."""
    request = request_of(response)
    scrubbed = None if request is None else json_without_secrets(response, request)
    return response if scrubbed is None else _with_body(response, scrubbed)


def _request_id(response: httpx.Response) -> str | None:
    """The reply's ``X-Request-ID``, which a server may build from the request's headers."""
    found: str | None = response.headers.get("X-Request-ID")
    return scrub(found, _secrets(response))


def undecodable(operation: str, exc: httpx.DecodingError) -> ResponseValidationError:
    """The exception for a reply whose body its ``Content-Encoding`` does not decode."""
    return ResponseValidationError(
        f"{operation}: the reply's body does not decode as its Content-Encoding says: {exc}",
        operation=operation,
    )


def request_proxy_words(exc: httpx.RequestError, *, refused: bool = False) -> str:
    """``proxy_words`` of the request ``exc`` failed, by the proxy it went through
    (``PROXIED``) and whether its tunnel had opened (``TUNNELLED``)."""
    request = request_of(exc)
    proxy = None if request is None else request.extensions.get(PROXIED)
    return proxy_words(
        exc,
        proxy if isinstance(proxy, str) else None,
        tunnelled=request is not None and bool(request.extensions.get(TUNNELLED)),
        refused=refused,
    )


def connection_error(operation: str, exc: httpx.TransportError) -> APIConnectionError:
    """The exception for a request that got no reply (``exc``, its key hidden: ``hide_key``)."""
    # A timeout in our words: the transports word it differently, or not at all.
    timeout = isinstance(exc, httpx.TimeoutException)
    described = describe_failure(exc)
    detail = described if timeout else str(exc) or os_reason(exc) or described
    request = request_of(exc)
    status = proxy_refusal(exc)
    refused = status is not None and not tunnel_refusal_is_retryable(status)
    words = request_proxy_words(exc, refused=refused)
    if described == "connection refused" and "refused" not in detail.lower():
        # The async transport says "All connection attempts failed", the reason further
        # down: said first in the bracket of the proxy's words, if any (" (through ...").
        words = f" ({described}" + (f", {words.removeprefix(' (')}" if words else ")")
    detail += words
    cls = APITimeoutError if timeout else APIConnectionError
    retryable = not (no_retry_helps(exc) or refused)
    error = cls(f"{operation}: {type(exc).__name__}: {detail}", retryable=retryable)
    if request is not None:  # which server: a wrong base URL is the likely cause
        url = shown_url(request.url.copy_with(query=None, fragment=None))
        error.add_note(f"the request: {request.method} {url}")
    return error


def hide_key(exc: httpx.RequestError) -> None:
    """Scrub the request's key from ``exc`` and the exceptions behind it (shown in a
    traceback): h11 quotes a malformed reply's line, which a server may have built from
    the request's headers ("illegal header line: bytearray(b'... KEY')"). Their frames go
    (``sent_frames_dropped``): those that read such a reply hold it in their locals too,
    as a decoder's hold a body that does not decode (``httpx.DecodingError``). Their
    requests become copies without the secrets they carried (the key's header, whose
    repr httpx shows, ``Authorization``, ``SENT_SECRETS``, the proxy URL's user info) or
    reach through their hooks, which a debugger's view of the error showed; the request
    itself, which an event hook may hold, is left as sent."""
    chain = list(causes(exc))
    for error in chain:
        sent_frames_dropped(error)
    secret = _secrets(exc)
    if secret:
        for error in chain:
            error.args = tuple(scrub(arg, secret) for arg in error.args)
    for error in chain:
        if isinstance(error, httpx.RequestError) and (request := request_of(error)) is not None:
            error.request = _without_secrets(request)


def _without_secrets(request: httpx.Request) -> httpx.Request:
    headers = [
        (name, REDACTED if name.lower() in SECRET_HEADER_NAMES else value)
        for name, value in request.headers.multi_items()
    ]
    # Hooks go too (httpcore's trace, ``REFUSED``): they are bound to the retry loop and
    # the client, which hold the request as sent and the proxy's URL.
    extensions = {
        k: v for k, v in request.extensions.items() if k != SENT_SECRETS and not callable(v)
    }
    if isinstance(proxy := extensions.get(PROXIED), str):  # its user info: shown as ***
        extensions[PROXIED] = shown_url(proxy)
    try:  # its body reads as the request's did (``content``)
        body: dict[str, Any] = {"content": request.content}
    except httpx.RequestNotRead:  # a stream not read, as a user's may be
        body = {"stream": request.stream}
    return httpx.Request(
        request.method, request.url, headers=headers, extensions=extensions, **body
    )


# A reply or request holding more values than this is parsed or built in a thread of its
# own: a thread costs about 0.15 ms, the parse of so many numbers on the event loop 1 ms.
VALUES_ON_LOOP = 1024


def large(value: object) -> bool:
    """Whether a JSON ``value`` (dicts and lists, as parsed) holds more than
    ``VALUES_ON_LOOP`` values, counted by the length of each list and object, at the cost
    of at most that many looks (the spec's lists hold values of one type)."""
    left, parts = VALUES_ON_LOOP, [value]
    while parts:
        part = parts.pop()
        values = list(part.values()) if type(part) is dict else part
        if type(values) is not list:
            continue
        left -= len(values)
        if left < 0:
            return True
        if type(part) is dict or (values and type(values[0]) in (dict, list)):
            # A list of plain values (a row of numbers) is counted without a look at each.
            parts += [value for value in values if type(value) in (dict, list)]
    return False
