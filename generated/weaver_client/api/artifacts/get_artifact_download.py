from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.download_descriptor import DownloadDescriptor
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    artifact_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/artifacts/{artifact_id}/download".format(
            artifact_id=quote(str(artifact_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DownloadDescriptor | Error | None:
    if response.status_code == 200:
        response_200 = DownloadDescriptor.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())

        return response_409

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
) -> Response[DownloadDescriptor | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    artifact_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> Response[DownloadDescriptor | Error]:
    """Get fresh storage URLs for an artifact's files

     Answers with a DownloadDescriptor: each file's name, size, sha256 and
    a presigned storage URL on any host. Storage URLs are not part of this
    API: fetch them without the API key; they honour `Range: bytes=N-`
    (206), answer 416 past the end of the file and 401 or 403 once
    expired, when a client asks for this descriptor again. An artifact
    whose export is still running or failed is a 409 `artifact_not_ready`;
    an expired or deleted one is a 404.

    Args:
        artifact_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DownloadDescriptor | Error]
    """

    kwargs = _get_kwargs(
        artifact_id=artifact_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    artifact_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> DownloadDescriptor | Error | None:
    """Get fresh storage URLs for an artifact's files

     Answers with a DownloadDescriptor: each file's name, size, sha256 and
    a presigned storage URL on any host. Storage URLs are not part of this
    API: fetch them without the API key; they honour `Range: bytes=N-`
    (206), answer 416 past the end of the file and 401 or 403 once
    expired, when a client asks for this descriptor again. An artifact
    whose export is still running or failed is a 409 `artifact_not_ready`;
    an expired or deleted one is a 404.

    Args:
        artifact_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DownloadDescriptor | Error
    """

    return sync_detailed(
        artifact_id=artifact_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    artifact_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> Response[DownloadDescriptor | Error]:
    """Get fresh storage URLs for an artifact's files

     Answers with a DownloadDescriptor: each file's name, size, sha256 and
    a presigned storage URL on any host. Storage URLs are not part of this
    API: fetch them without the API key; they honour `Range: bytes=N-`
    (206), answer 416 past the end of the file and 401 or 403 once
    expired, when a client asks for this descriptor again. An artifact
    whose export is still running or failed is a 409 `artifact_not_ready`;
    an expired or deleted one is a 404.

    Args:
        artifact_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DownloadDescriptor | Error]
    """

    kwargs = _get_kwargs(
        artifact_id=artifact_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    artifact_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> DownloadDescriptor | Error | None:
    """Get fresh storage URLs for an artifact's files

     Answers with a DownloadDescriptor: each file's name, size, sha256 and
    a presigned storage URL on any host. Storage URLs are not part of this
    API: fetch them without the API key; they honour `Range: bytes=N-`
    (206), answer 416 past the end of the file and 401 or 403 once
    expired, when a client asks for this descriptor again. An artifact
    whose export is still running or failed is a 409 `artifact_not_ready`;
    an expired or deleted one is a 404.

    Args:
        artifact_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DownloadDescriptor | Error
    """

    return (
        await asyncio_detailed(
            artifact_id=artifact_id,
            client=client,
        )
    ).parsed
