from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PortalLinkInput")


@_attrs_define
class PortalLinkInput:
    """
    Attributes:
        ttl (str | Unset): How long the link, and the console session it opens, lasts: a duration (`90s`, `15m`, `1h`),
            more than 0 and at most `24h`. Default: '15m'. Example: 15m.
        read_only (bool | Unset): The session looks and changes nothing. Default: False.
    """

    ttl: str | Unset = "15m"
    read_only: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        ttl = self.ttl

        read_only = self.read_only

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if ttl is not UNSET:
            field_dict["ttl"] = ttl
        if read_only is not UNSET:
            field_dict["read_only"] = read_only

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ttl = d.pop("ttl", UNSET)

        read_only = d.pop("read_only", UNSET)

        portal_link_input = cls(
            ttl=ttl,
            read_only=read_only,
        )

        return portal_link_input
