from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.operation import Operation
from ...models.optim_step_request import OptimStepRequest
from ...types import UNSET, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    body: OptimStepRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/models/{model_id}/optimizer-steps".format(
            model_id=quote(str(model_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Operation | None:
    if response.status_code == 200:
        response_200 = Operation.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Operation.from_dict(response.json())

        return response_201

    if response.status_code == 202:
        response_202 = Operation.from_dict(response.json())

        return response_202

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
) -> Response[Error | Operation]:
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
    body: OptimStepRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Submit an optimizer step

     Applies the accumulated gradients with AdamW. The operation's
    `response`, once `done`, is an OptimStepResult. A repeated `seq_id`
    with the same body returns the existing operation.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (OptimStepRequest):  Example: {'payload': {'model_id': 'm-1', 'seq_id': 2,
            'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08,
            'weight_decay': 0.01, 'grad_clip_norm': 1.0}}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Operation]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
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
    body: OptimStepRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Operation | None:
    """Submit an optimizer step

     Applies the accumulated gradients with AdamW. The operation's
    `response`, once `done`, is an OptimStepResult. A repeated `seq_id`
    with the same body returns the existing operation.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (OptimStepRequest):  Example: {'payload': {'model_id': 'm-1', 'seq_id': 2,
            'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08,
            'weight_decay': 0.01, 'grad_clip_norm': 1.0}}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Operation
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OptimStepRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Submit an optimizer step

     Applies the accumulated gradients with AdamW. The operation's
    `response`, once `done`, is an OptimStepResult. A repeated `seq_id`
    with the same body returns the existing operation.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (OptimStepRequest):  Example: {'payload': {'model_id': 'm-1', 'seq_id': 2,
            'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08,
            'weight_decay': 0.01, 'grad_clip_norm': 1.0}}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Operation]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OptimStepRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Operation | None:
    """Submit an optimizer step

     Applies the accumulated gradients with AdamW. The operation's
    `response`, once `done`, is an OptimStepResult. A repeated `seq_id`
    with the same body returns the existing operation.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (OptimStepRequest):  Example: {'payload': {'model_id': 'm-1', 'seq_id': 2,
            'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08,
            'weight_decay': 0.01, 'grad_clip_norm': 1.0}}}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Operation
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
