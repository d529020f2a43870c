from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.artifact import Artifact
from ...models.error import Error
from ...models.export_model_request import ExportModelRequest
from ...models.operation import Operation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    body: ExportModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/models/{model_id}/export-hf".format(
            model_id=quote(str(model_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Artifact | Error | Operation | None:
    if response.status_code == 200:
        response_200 = Artifact.from_dict(response.json())

        return response_200

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
) -> Response[Artifact | Error | Operation]:
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
    body: ExportModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Artifact | Error | Operation]:
    """Save the model's current weights and export them in one step

     Saves the current weights as a new `weight` checkpoint and exports it
    as `export_checkpoint` would; the operation's `response`, once `done`,
    is the Artifact, whose `checkpoint_id` names the new checkpoint. The
    body is an ExportRequest without `force`. A terminated model is a 409
    `model_terminated`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (ExportModelRequest): The body of `export-hf`, an ExportRequest without `force`.
            Example: {'format': 'huggingface', 'merge_adapter': True, 'ttl_seconds': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Artifact | Error | Operation]
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
    body: ExportModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Artifact | Error | Operation | None:
    """Save the model's current weights and export them in one step

     Saves the current weights as a new `weight` checkpoint and exports it
    as `export_checkpoint` would; the operation's `response`, once `done`,
    is the Artifact, whose `checkpoint_id` names the new checkpoint. The
    body is an ExportRequest without `force`. A terminated model is a 409
    `model_terminated`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (ExportModelRequest): The body of `export-hf`, an ExportRequest without `force`.
            Example: {'format': 'huggingface', 'merge_adapter': True, 'ttl_seconds': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Artifact | Error | Operation
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
    body: ExportModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Artifact | Error | Operation]:
    """Save the model's current weights and export them in one step

     Saves the current weights as a new `weight` checkpoint and exports it
    as `export_checkpoint` would; the operation's `response`, once `done`,
    is the Artifact, whose `checkpoint_id` names the new checkpoint. The
    body is an ExportRequest without `force`. A terminated model is a 409
    `model_terminated`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (ExportModelRequest): The body of `export-hf`, an ExportRequest without `force`.
            Example: {'format': 'huggingface', 'merge_adapter': True, 'ttl_seconds': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Artifact | Error | Operation]
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
    body: ExportModelRequest,
    idempotency_key: str | Unset = UNSET,
) -> Artifact | Error | Operation | None:
    """Save the model's current weights and export them in one step

     Saves the current weights as a new `weight` checkpoint and exports it
    as `export_checkpoint` would; the operation's `response`, once `done`,
    is the Artifact, whose `checkpoint_id` names the new checkpoint. The
    body is an ExportRequest without `force`. A terminated model is a 409
    `model_terminated`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        idempotency_key (str | Unset):
        body (ExportModelRequest): The body of `export-hf`, an ExportRequest without `force`.
            Example: {'format': 'huggingface', 'merge_adapter': True, 'ttl_seconds': None}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Artifact | Error | Operation
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
