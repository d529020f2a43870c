from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.artifact_list import ArtifactList
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    checkpoint_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/checkpoints/{checkpoint_id}/artifacts".format(
            checkpoint_id=quote(str(checkpoint_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ArtifactList | Error | None:
    if response.status_code == 200:
        response_200 = ArtifactList.from_dict(response.json())

        return response_200

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ArtifactList | Error]:
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
) -> Response[ArtifactList | Error]:
    """List a checkpoint's artifacts

     Lists the checkpoint's pending, completed and failed artifacts, oldest
    first; deleted and expired ones are not listed. An item without
    `status` counts as completed. A deleted or expired checkpoint is a
    404 here, while its artifacts stay reachable by id until they expire.

    Args:
        checkpoint_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ArtifactList | Error]
    """

    kwargs = _get_kwargs(
        checkpoint_id=checkpoint_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> ArtifactList | Error | None:
    """List a checkpoint's artifacts

     Lists the checkpoint's pending, completed and failed artifacts, oldest
    first; deleted and expired ones are not listed. An item without
    `status` counts as completed. A deleted or expired checkpoint is a
    404 here, while its artifacts stay reachable by id until they expire.

    Args:
        checkpoint_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ArtifactList | Error
    """

    return sync_detailed(
        checkpoint_id=checkpoint_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ArtifactList | Error]:
    """List a checkpoint's artifacts

     Lists the checkpoint's pending, completed and failed artifacts, oldest
    first; deleted and expired ones are not listed. An item without
    `status` counts as completed. A deleted or expired checkpoint is a
    404 here, while its artifacts stay reachable by id until they expire.

    Args:
        checkpoint_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ArtifactList | Error]
    """

    kwargs = _get_kwargs(
        checkpoint_id=checkpoint_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    checkpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> ArtifactList | Error | None:
    """List a checkpoint's artifacts

     Lists the checkpoint's pending, completed and failed artifacts, oldest
    first; deleted and expired ones are not listed. An item without
    `status` counts as completed. A deleted or expired checkpoint is a
    404 here, while its artifacts stay reachable by id until they expire.

    Args:
        checkpoint_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ArtifactList | Error
    """

    return (
        await asyncio_detailed(
            checkpoint_id=checkpoint_id,
            client=client,
        )
    ).parsed
