from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audit_list import AuditList
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    tenant: str | Unset = UNSET,
    action: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:
    params: dict[str, Any] = {}

    params["tenant"] = tenant

    params["action"] = action

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AuditList | Error | None:
    if response.status_code == 200:
        response_200 = AuditList.from_dict(response.json())

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
) -> Response[AuditList | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    tenant: str | Unset = UNSET,
    action: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[AuditList | Error]:
    """The audit log of what the admin token did for tenants and on tenants and keys (admin), newest first.

     Every request the admin token makes for a tenant (`X-Hookpost-Tenant`), every tenant and key route,
    and operators' actions in the console are recorded before they run; an action that cannot be
    recorded is refused with 503 `audit_unavailable`. Entries record the attempt, refused ones included.
    Kept for `HOOKPOST_AUDIT_RETENTION`.

    Args:
        tenant (str | Unset):
        action (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditList | Error]
    """

    kwargs = _get_kwargs(
        tenant=tenant,
        action=action,
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
    tenant: str | Unset = UNSET,
    action: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> AuditList | Error | None:
    """The audit log of what the admin token did for tenants and on tenants and keys (admin), newest first.

     Every request the admin token makes for a tenant (`X-Hookpost-Tenant`), every tenant and key route,
    and operators' actions in the console are recorded before they run; an action that cannot be
    recorded is refused with 503 `audit_unavailable`. Entries record the attempt, refused ones included.
    Kept for `HOOKPOST_AUDIT_RETENTION`.

    Args:
        tenant (str | Unset):
        action (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditList | Error
    """

    return sync_detailed(
        client=client,
        tenant=tenant,
        action=action,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    tenant: str | Unset = UNSET,
    action: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[AuditList | Error]:
    """The audit log of what the admin token did for tenants and on tenants and keys (admin), newest first.

     Every request the admin token makes for a tenant (`X-Hookpost-Tenant`), every tenant and key route,
    and operators' actions in the console are recorded before they run; an action that cannot be
    recorded is refused with 503 `audit_unavailable`. Entries record the attempt, refused ones included.
    Kept for `HOOKPOST_AUDIT_RETENTION`.

    Args:
        tenant (str | Unset):
        action (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditList | Error]
    """

    kwargs = _get_kwargs(
        tenant=tenant,
        action=action,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    tenant: str | Unset = UNSET,
    action: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> AuditList | Error | None:
    """The audit log of what the admin token did for tenants and on tenants and keys (admin), newest first.

     Every request the admin token makes for a tenant (`X-Hookpost-Tenant`), every tenant and key route,
    and operators' actions in the console are recorded before they run; an action that cannot be
    recorded is refused with 503 `audit_unavailable`. Entries record the attempt, refused ones included.
    Kept for `HOOKPOST_AUDIT_RETENTION`.

    Args:
        tenant (str | Unset):
        action (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditList | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            tenant=tenant,
            action=action,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
