from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.operation import Operation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    operation_id: str,
    *,
    wait: float | Unset = UNSET,
    seen_revision: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["wait"] = wait

    params["seen_revision"] = seen_revision

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/operations/{operation_id}".format(
            operation_id=quote(str(operation_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Operation | None:
    if response.status_code == 200:
        response_200 = Operation.from_dict(response.json())

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
) -> Response[Error | Operation]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    operation_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: float | Unset = UNSET,
    seen_revision: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Get an operation, optionally waiting for it to finish

     Only `done` and `error` are terminal. With `wait`, the server holds
    the request until the operation is terminal or `wait` seconds pass,
    then answers with the current state. With `seen_revision` too, it also
    answers as soon as the operation's `revision` differs from it, that is
    as soon as `status` or `pending_info` differs from what the caller
    last saw (so `pending` -> `running` is seen at once). A server without
    long-poll answers at once; one without revisions ignores
    `seen_revision` and answers when the operation ends.

    Args:
        operation_id (str): A server-assigned id of a session, model or operation. It never
            contains `/`. Example: m-1.
        wait (float | Unset):
        seen_revision (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Operation]
    """

    kwargs = _get_kwargs(
        operation_id=operation_id,
        wait=wait,
        seen_revision=seen_revision,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    operation_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: float | Unset = UNSET,
    seen_revision: str | Unset = UNSET,
) -> Error | Operation | None:
    """Get an operation, optionally waiting for it to finish

     Only `done` and `error` are terminal. With `wait`, the server holds
    the request until the operation is terminal or `wait` seconds pass,
    then answers with the current state. With `seen_revision` too, it also
    answers as soon as the operation's `revision` differs from it, that is
    as soon as `status` or `pending_info` differs from what the caller
    last saw (so `pending` -> `running` is seen at once). A server without
    long-poll answers at once; one without revisions ignores
    `seen_revision` and answers when the operation ends.

    Args:
        operation_id (str): A server-assigned id of a session, model or operation. It never
            contains `/`. Example: m-1.
        wait (float | Unset):
        seen_revision (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Operation
    """

    return sync_detailed(
        operation_id=operation_id,
        client=client,
        wait=wait,
        seen_revision=seen_revision,
    ).parsed


async def asyncio_detailed(
    operation_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: float | Unset = UNSET,
    seen_revision: str | Unset = UNSET,
) -> Response[Error | Operation]:
    """Get an operation, optionally waiting for it to finish

     Only `done` and `error` are terminal. With `wait`, the server holds
    the request until the operation is terminal or `wait` seconds pass,
    then answers with the current state. With `seen_revision` too, it also
    answers as soon as the operation's `revision` differs from it, that is
    as soon as `status` or `pending_info` differs from what the caller
    last saw (so `pending` -> `running` is seen at once). A server without
    long-poll answers at once; one without revisions ignores
    `seen_revision` and answers when the operation ends.

    Args:
        operation_id (str): A server-assigned id of a session, model or operation. It never
            contains `/`. Example: m-1.
        wait (float | Unset):
        seen_revision (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Operation]
    """

    kwargs = _get_kwargs(
        operation_id=operation_id,
        wait=wait,
        seen_revision=seen_revision,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    operation_id: str,
    *,
    client: AuthenticatedClient | Client,
    wait: float | Unset = UNSET,
    seen_revision: str | Unset = UNSET,
) -> Error | Operation | None:
    """Get an operation, optionally waiting for it to finish

     Only `done` and `error` are terminal. With `wait`, the server holds
    the request until the operation is terminal or `wait` seconds pass,
    then answers with the current state. With `seen_revision` too, it also
    answers as soon as the operation's `revision` differs from it, that is
    as soon as `status` or `pending_info` differs from what the caller
    last saw (so `pending` -> `running` is seen at once). A server without
    long-poll answers at once; one without revisions ignores
    `seen_revision` and answers when the operation ends.

    Args:
        operation_id (str): A server-assigned id of a session, model or operation. It never
            contains `/`. Example: m-1.
        wait (float | Unset):
        seen_revision (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Operation
    """

    return (
        await asyncio_detailed(
            operation_id=operation_id,
            client=client,
            wait=wait,
            seen_revision=seen_revision,
        )
    ).parsed
