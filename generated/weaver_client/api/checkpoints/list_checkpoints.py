from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.checkpoint_list import CheckpointList
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    model_id: str,
    *,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/models/{model_id}/checkpoints".format(
            model_id=quote(str(model_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CheckpointList | Error | None:
    if response.status_code == 200:
        response_200 = CheckpointList.from_dict(response.json())

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
) -> Response[CheckpointList | Error]:
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
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[CheckpointList | Error]:
    """List the model's checkpoints

     Lists pending and completed checkpoints, oldest first. Deleted,
    failed and expired checkpoints are not listed. Without `limit` the
    whole list comes in one reply; with it, follow `next_cursor`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        limit (int | Unset):
        cursor (str | Unset): An opaque paging cursor, the server's own: a client sends back the
            one it was given, as given. Its form is the server's (base64 with its `=` padding is
            common), so this spec sets none. Example: b2Zmc2V0OjEwMA.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckpointList | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> CheckpointList | Error | None:
    """List the model's checkpoints

     Lists pending and completed checkpoints, oldest first. Deleted,
    failed and expired checkpoints are not listed. Without `limit` the
    whole list comes in one reply; with it, follow `next_cursor`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        limit (int | Unset):
        cursor (str | Unset): An opaque paging cursor, the server's own: a client sends back the
            one it was given, as given. Its form is the server's (base64 with its `=` padding is
            common), so this spec sets none. Example: b2Zmc2V0OjEwMA.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckpointList | Error
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[CheckpointList | Error]:
    """List the model's checkpoints

     Lists pending and completed checkpoints, oldest first. Deleted,
    failed and expired checkpoints are not listed. Without `limit` the
    whole list comes in one reply; with it, follow `next_cursor`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        limit (int | Unset):
        cursor (str | Unset): An opaque paging cursor, the server's own: a client sends back the
            one it was given, as given. Its form is the server's (base64 with its `=` padding is
            common), so this spec sets none. Example: b2Zmc2V0OjEwMA.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckpointList | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> CheckpointList | Error | None:
    """List the model's checkpoints

     Lists pending and completed checkpoints, oldest first. Deleted,
    failed and expired checkpoints are not listed. Without `limit` the
    whole list comes in one reply; with it, follow `next_cursor`.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        limit (int | Unset):
        cursor (str | Unset): An opaque paging cursor, the server's own: a client sends back the
            one it was given, as given. Its form is the server's (base64 with its `=` padding is
            common), so this spec sets none. Example: b2Zmc2V0OjEwMA.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckpointList | Error
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
