from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_model_request import CreateModelRequest
from ...models.error import Error
from ...models.model import Model
from ...types import UNSET, Response, Unset


def _get_kwargs(
    session_id: str,
    *,
    body: CreateModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/sessions/{session_id}/models".format(
            session_id=quote(str(session_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Model | None:
    if response.status_code == 201:
        response_201 = Model.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Model]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Model]:
    """Create a training model

     Synchronous: answers 201 with the model, not with an Operation.
    Repeating a `model_seq_id` within a session with the same body returns
    the existing model; with a different body it is a 409. Only an active
    model counts: the official SDK counts from 1 in every client, also in a
    session it reuses, and gets new models once the earlier ones ended.

    Args:
        session_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (CreateModelRequest):  Example: {'model_seq_id': 1, 'base_model': 'weaver-tiny',
            'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True, 'train_mlp':
            True, 'train_attn': True, 'seed': 0}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Model]
    """

    kwargs = _get_kwargs(
        session_id=session_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Model | None:
    """Create a training model

     Synchronous: answers 201 with the model, not with an Operation.
    Repeating a `model_seq_id` within a session with the same body returns
    the existing model; with a different body it is a 409. Only an active
    model counts: the official SDK counts from 1 in every client, also in a
    session it reuses, and gets new models once the earlier ones ended.

    Args:
        session_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (CreateModelRequest):  Example: {'model_seq_id': 1, 'base_model': 'weaver-tiny',
            'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True, 'train_mlp':
            True, 'train_attn': True, 'seed': 0}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Model
    """

    return sync_detailed(
        session_id=session_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Model]:
    """Create a training model

     Synchronous: answers 201 with the model, not with an Operation.
    Repeating a `model_seq_id` within a session with the same body returns
    the existing model; with a different body it is a 409. Only an active
    model counts: the official SDK counts from 1 in every client, also in a
    session it reuses, and gets new models once the earlier ones ended.

    Args:
        session_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (CreateModelRequest):  Example: {'model_seq_id': 1, 'base_model': 'weaver-tiny',
            'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True, 'train_mlp':
            True, 'train_attn': True, 'seed': 0}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Model]
    """

    kwargs = _get_kwargs(
        session_id=session_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    session_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Model | None:
    """Create a training model

     Synchronous: answers 201 with the model, not with an Operation.
    Repeating a `model_seq_id` within a session with the same body returns
    the existing model; with a different body it is a 409. Only an active
    model counts: the official SDK counts from 1 in every client, also in a
    session it reuses, and gets new models once the earlier ones ended.

    Args:
        session_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (CreateModelRequest):  Example: {'model_seq_id': 1, 'base_model': 'weaver-tiny',
            'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True, 'train_mlp':
            True, 'train_attn': True, 'seed': 0}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Model
    """

    return (
        await asyncio_detailed(
            session_id=session_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
