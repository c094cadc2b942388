from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AuditEntry")


@_attrs_define
class AuditEntry:
    """
    Attributes:
        id (str): `aud_…`, sorting by time
        at (datetime.datetime): When the action was taken. Example: 2026-12-03T10:15:00.000Z.
        actor (str): `admin` (the admin token), `operator` (a console session opened with it) or `cli` (`hookpost
            tenants create|key-create|key-revoke`)
        action (str): `hook.create`, `hook.update`, `hook.delete`, `hook.activate`, `hook.deactivate`,
            `hook.secret.read`, `hook.secret.rotate`, `key.create`, `key.revoke`, `delivery.resend`, `tenant.create`, …
        tenant (str | Unset):
        target (str | Unset): the hook, delivery, event or key acted on
        client (str | Unset): the client's IP address
        request_id (str | Unset): the request's `X-Request-Id`
    """

    id: str
    at: datetime.datetime
    actor: str
    action: str
    tenant: str | Unset = UNSET
    target: str | Unset = UNSET
    client: str | Unset = UNSET
    request_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        at = self.at.isoformat()

        actor = self.actor

        action = self.action

        tenant = self.tenant

        target = self.target

        client = self.client

        request_id = self.request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "at": at,
                "actor": actor,
                "action": action,
            }
        )
        if tenant is not UNSET:
            field_dict["tenant"] = tenant
        if target is not UNSET:
            field_dict["target"] = target
        if client is not UNSET:
            field_dict["client"] = client
        if request_id is not UNSET:
            field_dict["request_id"] = request_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        at = datetime.datetime.fromisoformat(d.pop("at"))

        actor = d.pop("actor")

        action = d.pop("action")

        tenant = d.pop("tenant", UNSET)

        target = d.pop("target", UNSET)

        client = d.pop("client", UNSET)

        request_id = d.pop("request_id", UNSET)

        audit_entry = cls(
            id=id,
            at=at,
            actor=actor,
            action=action,
            tenant=tenant,
            target=target,
            client=client,
            request_id=request_id,
        )

        audit_entry.additional_properties = d
        return audit_entry

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
