from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_summary_status import DeliverySummaryStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="DeliverySummary")


@_attrs_define
class DeliverySummary:
    """
    Attributes:
        id (str):
        event_id (str):
        hook_id (str):
        event (str):
        status (DeliverySummaryStatus):
        attempt_count (int):
        created_at (datetime.datetime):  Example: 2026-12-03T10:15:00.000Z.
        updated_at (datetime.datetime):  Example: 2026-12-03T10:15:00.000Z.
        next_attempt_at (datetime.datetime | None | Unset): When the next attempt is due, for `retrying` and `pending`.
            Example: 2026-12-03T10:15:00.000Z.
    """

    id: str
    event_id: str
    hook_id: str
    event: str
    status: DeliverySummaryStatus
    attempt_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    next_attempt_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        event_id = self.event_id

        hook_id = self.hook_id

        event = self.event

        status = self.status.value

        attempt_count = self.attempt_count

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        next_attempt_at: None | str | Unset
        if isinstance(self.next_attempt_at, Unset):
            next_attempt_at = UNSET
        elif isinstance(self.next_attempt_at, datetime.datetime):
            next_attempt_at = self.next_attempt_at.isoformat()
        else:
            next_attempt_at = self.next_attempt_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "event_id": event_id,
                "hook_id": hook_id,
                "event": event,
                "status": status,
                "attempt_count": attempt_count,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if next_attempt_at is not UNSET:
            field_dict["next_attempt_at"] = next_attempt_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        event_id = d.pop("event_id")

        hook_id = d.pop("hook_id")

        event = d.pop("event")

        status = DeliverySummaryStatus(d.pop("status"))

        attempt_count = d.pop("attempt_count")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_next_attempt_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                next_attempt_at_type_0 = datetime.datetime.fromisoformat(data)

                return next_attempt_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at", UNSET))

        delivery_summary = cls(
            id=id,
            event_id=event_id,
            hook_id=hook_id,
            event=event,
            status=status,
            attempt_count=attempt_count,
            created_at=created_at,
            updated_at=updated_at,
            next_attempt_at=next_attempt_at,
        )

        delivery_summary.additional_properties = d
        return delivery_summary

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
