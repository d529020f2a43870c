from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.checkpoint import Checkpoint
from ...models.error import Error
from ...models.set_checkpoint_ttl_request import SetCheckpointTtlRequest
from ...types import Response


def _get_kwargs(
    model_id: str,
    *,
    body: SetCheckpointTtlRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/api/v1/models/{model_id}/checkpoints/ttl".format(
            model_id=quote(str(model_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Checkpoint | Error | None:
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

    if 200 <= response.status_code <= 299:

        def _parse_response_2xx(data: object) -> Any | Checkpoint:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_2xx_type_0 = Checkpoint.from_dict(data)

                return response_2xx_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Any | Checkpoint, data)

        response_2xx = _parse_response_2xx(response.json())

        return response_2xx

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Checkpoint | Error]:
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
    body: SetCheckpointTtlRequest,
) -> Response[Any | Checkpoint | Error]:
    """Change a checkpoint's time to live

     Synchronous. The new expiry counts from now; `ttl_seconds: null`
    makes the checkpoint permanent. The wire promises no reply body: any
    2xx means done, and the body is the Checkpoint only when the server
    sends one. Otherwise (`{}`, no body) a client reads the checkpoint
    back from the model's list.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        body (SetCheckpointTtlRequest):  Example: {'path':
            'weaver://m-1/checkpoints/after-3-steps', 'ttl_seconds': 86400}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Checkpoint | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SetCheckpointTtlRequest,
) -> Any | Checkpoint | Error | None:
    """Change a checkpoint's time to live

     Synchronous. The new expiry counts from now; `ttl_seconds: null`
    makes the checkpoint permanent. The wire promises no reply body: any
    2xx means done, and the body is the Checkpoint only when the server
    sends one. Otherwise (`{}`, no body) a client reads the checkpoint
    back from the model's list.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        body (SetCheckpointTtlRequest):  Example: {'path':
            'weaver://m-1/checkpoints/after-3-steps', 'ttl_seconds': 86400}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Checkpoint | Error
    """

    return sync_detailed(
        model_id=model_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SetCheckpointTtlRequest,
) -> Response[Any | Checkpoint | Error]:
    """Change a checkpoint's time to live

     Synchronous. The new expiry counts from now; `ttl_seconds: null`
    makes the checkpoint permanent. The wire promises no reply body: any
    2xx means done, and the body is the Checkpoint only when the server
    sends one. Otherwise (`{}`, no body) a client reads the checkpoint
    back from the model's list.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        body (SetCheckpointTtlRequest):  Example: {'path':
            'weaver://m-1/checkpoints/after-3-steps', 'ttl_seconds': 86400}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Checkpoint | Error]
    """

    kwargs = _get_kwargs(
        model_id=model_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    model_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SetCheckpointTtlRequest,
) -> Any | Checkpoint | Error | None:
    """Change a checkpoint's time to live

     Synchronous. The new expiry counts from now; `ttl_seconds: null`
    makes the checkpoint permanent. The wire promises no reply body: any
    2xx means done, and the body is the Checkpoint only when the server
    sends one. Otherwise (`{}`, no body) a client reads the checkpoint
    back from the model's list.

    Args:
        model_id (str): A server-assigned id of a session, model or operation. It never contains
            `/`. Example: m-1.
        body (SetCheckpointTtlRequest):  Example: {'path':
            'weaver://m-1/checkpoints/after-3-steps', 'ttl_seconds': 86400}.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Checkpoint | Error
    """

    return (
        await asyncio_detailed(
            model_id=model_id,
            client=client,
            body=body,
        )
    ).parsed
