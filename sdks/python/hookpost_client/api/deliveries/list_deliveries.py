import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delivery_list import DeliveryList
from ...models.error import Error
from ...models.list_deliveries_status import ListDeliveriesStatus
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    hook: str | Unset = UNSET,
    status: ListDeliveriesStatus | Unset = UNSET,
    event: str | Unset = UNSET,
    from_: datetime.datetime | str | Unset = UNSET,
    to: datetime.datetime | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:
    params: dict[str, Any] = {}

    params["hook"] = hook

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["event"] = event

    json_from_: str | Unset
    if isinstance(from_, Unset):
        json_from_ = UNSET
    elif isinstance(from_, datetime.datetime):
        json_from_ = from_.isoformat()
    else:
        json_from_ = from_
    params["from"] = json_from_

    json_to: str | Unset
    if isinstance(to, Unset):
        json_to = UNSET
    elif isinstance(to, datetime.datetime):
        json_to = to.isoformat()
    else:
        json_to = to
    params["to"] = json_to

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/deliveries",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeliveryList | Error | None:
    if response.status_code == 200:
        response_200 = DeliveryList.from_dict(response.json())

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
) -> Response[DeliveryList | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    hook: str | Unset = UNSET,
    status: ListDeliveriesStatus | Unset = UNSET,
    event: str | Unset = UNSET,
    from_: datetime.datetime | str | Unset = UNSET,
    to: datetime.datetime | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
) -> Response[DeliveryList | Error]:
    """List deliveries, newest first.

    Args:
        hook (str | Unset):
        status (ListDeliveriesStatus | Unset):
        event (str | Unset):
        from_ (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        to (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeliveryList | Error]
    """

    kwargs = _get_kwargs(
        hook=hook,
        status=status,
        event=event,
        from_=from_,
        to=to,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    hook: str | Unset = UNSET,
    status: ListDeliveriesStatus | Unset = UNSET,
    event: str | Unset = UNSET,
    from_: datetime.datetime | str | Unset = UNSET,
    to: datetime.datetime | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
) -> DeliveryList | Error | None:
    """List deliveries, newest first.

    Args:
        hook (str | Unset):
        status (ListDeliveriesStatus | Unset):
        event (str | Unset):
        from_ (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        to (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeliveryList | Error
    """

    return sync_detailed(
        client=client,
        hook=hook,
        status=status,
        event=event,
        from_=from_,
        to=to,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    hook: str | Unset = UNSET,
    status: ListDeliveriesStatus | Unset = UNSET,
    event: str | Unset = UNSET,
    from_: datetime.datetime | str | Unset = UNSET,
    to: datetime.datetime | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
) -> Response[DeliveryList | Error]:
    """List deliveries, newest first.

    Args:
        hook (str | Unset):
        status (ListDeliveriesStatus | Unset):
        event (str | Unset):
        from_ (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        to (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeliveryList | Error]
    """

    kwargs = _get_kwargs(
        hook=hook,
        status=status,
        event=event,
        from_=from_,
        to=to,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    hook: str | Unset = UNSET,
    status: ListDeliveriesStatus | Unset = UNSET,
    event: str | Unset = UNSET,
    from_: datetime.datetime | str | Unset = UNSET,
    to: datetime.datetime | str | Unset = UNSET,
    limit: int | Unset = 50,
    cursor: str | Unset = UNSET,
) -> DeliveryList | Error | None:
    """List deliveries, newest first.

    Args:
        hook (str | Unset):
        status (ListDeliveriesStatus | Unset):
        event (str | Unset):
        from_ (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        to (datetime.datetime | str | Unset):  Example: 2026-12-03T10:15:00.000Z.
        limit (int | Unset):  Default: 50.
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeliveryList | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            hook=hook,
            status=status,
            event=event,
            from_=from_,
            to=to,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
