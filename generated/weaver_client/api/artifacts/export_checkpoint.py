from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.artifact import Artifact
from ...models.error import Error
from ...models.export_request import ExportRequest
from ...models.operation import Operation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    checkpoint_id: UUID,
    *,
    body: ExportRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/checkpoints/{checkpoint_id}/export".format(
            checkpoint_id=quote(str(checkpoint_id), safe=""),
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
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: ExportRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Artifact | Error | Operation]:
    """Export a checkpoint's weights to Hugging Face layout

     The artifact's kind follows the checkpoint's training mode: `full_ft`
    gives `hf_model`; `lora` gives `hf_adapter`, or `hf_model` (the adapter
    merged into the base weights) with `merge_adapter: true`. Merging a
    `full_ft` checkpoint is a 422 `merge_not_supported`; a checkpoint still
    being saved is a 409 `checkpoint_not_ready`.

    Answers 202 with an Operation whose `response`, once `done`, is the
    completed Artifact; while it runs the operation may carry
    `metadata.conversion_progress`. When a completed artifact of the same
    kind already exists for the checkpoint, the answer is 200 with that
    Artifact and nothing new starts; while the same export still runs,
    the answer is 202 with its Operation. `force` replaces a completed
    artifact; `force` while the export still runs is a 409
    `export_in_progress`. A failed artifact is replaced by a new export.

    Args:
        checkpoint_id (UUID):
        idempotency_key (str | Unset):
        body (ExportRequest): The body of an export. The example holds the service's defaults.
            Example: {'format': 'huggingface', 'merge_adapter': False, 'ttl_seconds': 604800, 'force':
            False}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Artifact | Error | Operation]
    """

    kwargs = _get_kwargs(
        checkpoint_id=checkpoint_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: ExportRequest,
    idempotency_key: str | Unset = UNSET,
) -> Artifact | Error | Operation | None:
    """Export a checkpoint's weights to Hugging Face layout

     The artifact's kind follows the checkpoint's training mode: `full_ft`
    gives `hf_model`; `lora` gives `hf_adapter`, or `hf_model` (the adapter
    merged into the base weights) with `merge_adapter: true`. Merging a
    `full_ft` checkpoint is a 422 `merge_not_supported`; a checkpoint still
    being saved is a 409 `checkpoint_not_ready`.

    Answers 202 with an Operation whose `response`, once `done`, is the
    completed Artifact; while it runs the operation may carry
    `metadata.conversion_progress`. When a completed artifact of the same
    kind already exists for the checkpoint, the answer is 200 with that
    Artifact and nothing new starts; while the same export still runs,
    the answer is 202 with its Operation. `force` replaces a completed
    artifact; `force` while the export still runs is a 409
    `export_in_progress`. A failed artifact is replaced by a new export.

    Args:
        checkpoint_id (UUID):
        idempotency_key (str | Unset):
        body (ExportRequest): The body of an export. The example holds the service's defaults.
            Example: {'format': 'huggingface', 'merge_adapter': False, 'ttl_seconds': 604800, 'force':
            False}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Artifact | Error | Operation
    """

    return sync_detailed(
        checkpoint_id=checkpoint_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: ExportRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Artifact | Error | Operation]:
    """Export a checkpoint's weights to Hugging Face layout

     The artifact's kind follows the checkpoint's training mode: `full_ft`
    gives `hf_model`; `lora` gives `hf_adapter`, or `hf_model` (the adapter
    merged into the base weights) with `merge_adapter: true`. Merging a
    `full_ft` checkpoint is a 422 `merge_not_supported`; a checkpoint still
    being saved is a 409 `checkpoint_not_ready`.

    Answers 202 with an Operation whose `response`, once `done`, is the
    completed Artifact; while it runs the operation may carry
    `metadata.conversion_progress`. When a completed artifact of the same
    kind already exists for the checkpoint, the answer is 200 with that
    Artifact and nothing new starts; while the same export still runs,
    the answer is 202 with its Operation. `force` replaces a completed
    artifact; `force` while the export still runs is a 409
    `export_in_progress`. A failed artifact is replaced by a new export.

    Args:
        checkpoint_id (UUID):
        idempotency_key (str | Unset):
        body (ExportRequest): The body of an export. The example holds the service's defaults.
            Example: {'format': 'huggingface', 'merge_adapter': False, 'ttl_seconds': 604800, 'force':
            False}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Artifact | Error | Operation]
    """

    kwargs = _get_kwargs(
        checkpoint_id=checkpoint_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: ExportRequest,
    idempotency_key: str | Unset = UNSET,
) -> Artifact | Error | Operation | None:
    """Export a checkpoint's weights to Hugging Face layout

     The artifact's kind follows the checkpoint's training mode: `full_ft`
    gives `hf_model`; `lora` gives `hf_adapter`, or `hf_model` (the adapter
    merged into the base weights) with `merge_adapter: true`. Merging a
    `full_ft` checkpoint is a 422 `merge_not_supported`; a checkpoint still
    being saved is a 409 `checkpoint_not_ready`.

    Answers 202 with an Operation whose `response`, once `done`, is the
    completed Artifact; while it runs the operation may carry
    `metadata.conversion_progress`. When a completed artifact of the same
    kind already exists for the checkpoint, the answer is 200 with that
    Artifact and nothing new starts; while the same export still runs,
    the answer is 202 with its Operation. `force` replaces a completed
    artifact; `force` while the export still runs is a 409
    `export_in_progress`. A failed artifact is replaced by a new export.

    Args:
        checkpoint_id (UUID):
        idempotency_key (str | Unset):
        body (ExportRequest): The body of an export. The example holds the service's defaults.
            Example: {'format': 'huggingface', 'merge_adapter': False, 'ttl_seconds': 604800, 'force':
            False}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Artifact | Error | Operation
    """

    return (
        await asyncio_detailed(
            checkpoint_id=checkpoint_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
