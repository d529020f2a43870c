from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.load_checkpoint_request import LoadCheckpointRequest
from ...models.operation import Operation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    body: LoadCheckpointRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/models/{model_id}/load".format(
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
    body: LoadCheckpointRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Load a checkpoint into the model

     Asynchronous: answers 202 (or 200 or 201) with an Operation whose `response`, once
    `done`, is a LoadResult. The checkpoint is addressed by its `weaver://`
    path, never by id. `include_optimizer: false` restores the weights and
    resets the optimizer; `true` also restores the Adam moments and step,
    and is refused (422 `optimizer_state_unavailable`) for a checkpoint of
    type `weight` or `sampling`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (LoadCheckpointRequest):  Example: {'path': 'weaver://m-1/checkpoints/after-3-steps',
            'include_optimizer': True}.

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
    body: LoadCheckpointRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Operation | None:
    """Load a checkpoint into the model

     Asynchronous: answers 202 (or 200 or 201) with an Operation whose `response`, once
    `done`, is a LoadResult. The checkpoint is addressed by its `weaver://`
    path, never by id. `include_optimizer: false` restores the weights and
    resets the optimizer; `true` also restores the Adam moments and step,
    and is refused (422 `optimizer_state_unavailable`) for a checkpoint of
    type `weight` or `sampling`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (LoadCheckpointRequest):  Example: {'path': 'weaver://m-1/checkpoints/after-3-steps',
            'include_optimizer': True}.

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
    body: LoadCheckpointRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Load a checkpoint into the model

     Asynchronous: answers 202 (or 200 or 201) with an Operation whose `response`, once
    `done`, is a LoadResult. The checkpoint is addressed by its `weaver://`
    path, never by id. `include_optimizer: false` restores the weights and
    resets the optimizer; `true` also restores the Adam moments and step,
    and is refused (422 `optimizer_state_unavailable`) for a checkpoint of
    type `weight` or `sampling`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (LoadCheckpointRequest):  Example: {'path': 'weaver://m-1/checkpoints/after-3-steps',
            'include_optimizer': True}.

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
    body: LoadCheckpointRequest,
    idempotency_key: str | Unset = UNSET,
) -> Error | Operation | None:
    """Load a checkpoint into the model

     Asynchronous: answers 202 (or 200 or 201) with an Operation whose `response`, once
    `done`, is a LoadResult. The checkpoint is addressed by its `weaver://`
    path, never by id. `include_optimizer: false` restores the weights and
    resets the optimizer; `true` also restores the Adam moments and step,
    and is refused (422 `optimizer_state_unavailable`) for a checkpoint of
    type `weight` or `sampling`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (LoadCheckpointRequest):  Example: {'path': 'weaver://m-1/checkpoints/after-3-steps',
            'include_optimizer': True}.

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
