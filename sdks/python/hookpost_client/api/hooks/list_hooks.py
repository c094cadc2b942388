from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.hook_list import HookList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
    event: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> dict[str, Any]:
    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params["event"] = event

    params["active"] = active

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/hooks",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | HookList | None:
    if response.status_code == 200:
        response_200 = HookList.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | HookList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
    event: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> Response[Error | HookList]:
    """List the tenant's hooks (secrets not shown).

    Args:
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):
        event (str | Unset):
        active (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | HookList]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        event=event,
        active=active,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
    event: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> Error | HookList | None:
    """List the tenant's hooks (secrets not shown).

    Args:
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):
        event (str | Unset):
        active (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | HookList
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        event=event,
        active=active,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
    event: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> Response[Error | HookList]:
    """List the tenant's hooks (secrets not shown).

    Args:
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):
        event (str | Unset):
        active (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | HookList]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        event=event,
        active=active,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
    event: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> Error | HookList | None:
    """List the tenant's hooks (secrets not shown).

    Args:
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):
        event (str | Unset):
        active (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | HookList
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            event=event,
            active=active,
        )
    ).parsed
