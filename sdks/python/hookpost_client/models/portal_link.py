from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PortalLink")


@_attrs_define
class PortalLink:
    """
    Attributes:
        path (str): Signs in once to the tenant's console, until `expires_at`; shown this once. Example:
            /console/portal/3q2-….
        expires_at (datetime.datetime): RFC 3339, UTC, with milliseconds
        read_only (bool):
        url (str | Unset): `path` on the address this request came to (https only behind a trusted proxy that says so).
    """

    path: str
    expires_at: datetime.datetime
    read_only: bool
    url: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        expires_at = self.expires_at.isoformat()

        read_only = self.read_only

        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "path": path,
                "expires_at": expires_at,
                "read_only": read_only,
            }
        )
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        path = d.pop("path")

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        read_only = d.pop("read_only")

        url = d.pop("url", UNSET)

        portal_link = cls(
            path=path,
            expires_at=expires_at,
            read_only=read_only,
            url=url,
        )

        portal_link.additional_properties = d
        return portal_link

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
