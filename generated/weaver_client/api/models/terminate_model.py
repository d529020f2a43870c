from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.model import Model
from ...types import UNSET, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/models/{model_id}/terminate".format(
            model_id=quote(str(model_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Model | Error | None:
    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if 200 <= response.status_code <= 299:

        def _parse_response_2xx(data: object) -> Any | Model:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_2xx_type_0 = Model.from_dict(data)

                return response_2xx_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Any | Model, data)

        response_2xx = _parse_response_2xx(response.json())

        return response_2xx

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Model | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Model | Error]:
    """Terminate a training model

     Frees the model's trainer. Its checkpoints stay. Terminating a model
    twice is not an error. The real SDK calls this on close and ignores errors.
    The real service promises no reply body: any 2xx means terminated, and
    its body, if any, is the terminated Model only when it is one (a client
    that wants the model reads it back with `GET /models/{model_id}`).

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Model | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    idempotency_key: str | Unset = UNSET,
) -> Any | Model | Error | None:
    """Terminate a training model

     Frees the model's trainer. Its checkpoints stay. Terminating a model
    twice is not an error. The real SDK calls this on close and ignores errors.
    The real service promises no reply body: any 2xx means terminated, and
    its body, if any, is the terminated Model only when it is one (a client
    that wants the model reads it back with `GET /models/{model_id}`).

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Model | Error
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Model | Error]:
    """Terminate a training model

     Frees the model's trainer. Its checkpoints stay. Terminating a model
    twice is not an error. The real SDK calls this on close and ignores errors.
    The real service promises no reply body: any 2xx means terminated, and
    its body, if any, is the terminated Model only when it is one (a client
    that wants the model reads it back with `GET /models/{model_id}`).

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Model | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    idempotency_key: str | Unset = UNSET,
) -> Any | Model | Error | None:
    """Terminate a training model

     Frees the model's trainer. Its checkpoints stay. Terminating a model
    twice is not an error. The real SDK calls this on close and ignores errors.
    The real service promises no reply body: any 2xx means terminated, and
    its body, if any, is the terminated Model only when it is one (a client
    that wants the model reads it back with `GET /models/{model_id}`).

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Model | Error
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            idempotency_key=idempotency_key,
        )
    ).parsed
