from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_with_deliveries_event_data import EventWithDeliveriesEventData


T = TypeVar("T", bound="EventWithDeliveriesEvent")


@_attrs_define
class EventWithDeliveriesEvent:
    """
    Attributes:
        id (str | Unset):
        type_ (str | Unset):
        occurred_at (None | str | Unset):
        received_at (datetime.datetime | Unset): When hookpost took the event. Example: 2026-12-03T10:15:00.000Z.
        data (EventWithDeliveriesEventData | Unset):
    """

    id: str | Unset = UNSET
    type_: str | Unset = UNSET
    occurred_at: None | str | Unset = UNSET
    received_at: datetime.datetime | Unset = UNSET
    data: EventWithDeliveriesEventData | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        type_ = self.type_

        occurred_at: None | str | Unset
        if isinstance(self.occurred_at, Unset):
            occurred_at = UNSET
        else:
            occurred_at = self.occurred_at

        received_at: str | Unset = UNSET
        if not isinstance(self.received_at, Unset):
            received_at = self.received_at.isoformat()

        data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.data, Unset):
            data = self.data.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if type_ is not UNSET:
            field_dict["type"] = type_
        if occurred_at is not UNSET:
            field_dict["occurred_at"] = occurred_at
        if received_at is not UNSET:
            field_dict["received_at"] = received_at
        if data is not UNSET:
            field_dict["data"] = data

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_with_deliveries_event_data import (
            EventWithDeliveriesEventData,  # noqa: PLC0415
        )

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        type_ = d.pop("type", UNSET)

        def _parse_occurred_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        occurred_at = _parse_occurred_at(d.pop("occurred_at", UNSET))

        _received_at = d.pop("received_at", UNSET)
        received_at: datetime.datetime | Unset
        if isinstance(_received_at, Unset):
            received_at = UNSET
        else:
            received_at = datetime.datetime.fromisoformat(_received_at)

        _data = d.pop("data", UNSET)
        data: EventWithDeliveriesEventData | Unset
        if isinstance(_data, Unset):
            data = UNSET
        else:
            data = EventWithDeliveriesEventData.from_dict(_data)

        event_with_deliveries_event = cls(
            id=id,
            type_=type_,
            occurred_at=occurred_at,
            received_at=received_at,
            data=data,
        )

        event_with_deliveries_event.additional_properties = d
        return event_with_deliveries_event

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
