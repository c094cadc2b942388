from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Subscription")


@_attrs_define
class Subscription:
    """A hook as Tiledesk shows a subscription.

    Attributes:
        field_id (str):  Example: hook_2b9f.
        event (str): The hook's event type (several, comma-separated, for a hook made on /v1/hooks with more).
        target (str):
        id_project (str): The tenant.
        created_at (datetime.datetime):
        updated_at (datetime.datetime):
        secret (str | Unset): Only when just made: sent in `x-hook-secret` with every notification.
    """

    field_id: str
    event: str
    target: str
    id_project: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    secret: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_id = self.field_id

        event = self.event

        target = self.target

        id_project = self.id_project

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        secret = self.secret

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "_id": field_id,
                "event": event,
                "target": target,
                "id_project": id_project,
                "createdAt": created_at,
                "updatedAt": updated_at,
            }
        )
        if secret is not UNSET:
            field_dict["secret"] = secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        field_id = d.pop("_id")

        event = d.pop("event")

        target = d.pop("target")

        id_project = d.pop("id_project")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        secret = d.pop("secret", UNSET)

        subscription = cls(
            field_id=field_id,
            event=event,
            target=target,
            id_project=id_project,
            created_at=created_at,
            updated_at=updated_at,
            secret=secret,
        )

        subscription.additional_properties = d
        return subscription

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
