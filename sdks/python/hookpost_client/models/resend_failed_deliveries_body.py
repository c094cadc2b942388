from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ResendFailedDeliveriesBody")


@_attrs_define
class ResendFailedDeliveriesBody:
    """
    Attributes:
        since (datetime.datetime | int | Unset): Only deliveries created at or after this time: RFC 3339, or
            milliseconds since the epoch.
    """

    since: datetime.datetime | int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        since: int | str | Unset
        if isinstance(self.since, Unset):
            since = UNSET
        elif isinstance(self.since, datetime.datetime):
            since = self.since.isoformat()
        else:
            since = self.since

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if since is not UNSET:
            field_dict["since"] = since

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_since(data: object) -> datetime.datetime | int | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.datetime.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | int | Unset, data)

        since = _parse_since(d.pop("since", UNSET))

        resend_failed_deliveries_body = cls(
            since=since,
        )

        return resend_failed_deliveries_body
