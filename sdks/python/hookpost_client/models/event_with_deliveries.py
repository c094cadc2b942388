from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery import Delivery
    from ..models.event_with_deliveries_event import EventWithDeliveriesEvent


T = TypeVar("T", bound="EventWithDeliveries")


@_attrs_define
class EventWithDeliveries:
    """
    Attributes:
        event (EventWithDeliveriesEvent | Unset):
        deliveries (list[Delivery] | Unset):
    """

    event: EventWithDeliveriesEvent | Unset = UNSET
    deliveries: list[Delivery] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        event: dict[str, Any] | Unset = UNSET
        if not isinstance(self.event, Unset):
            event = self.event.to_dict()

        deliveries: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.deliveries, Unset):
            deliveries = []
            for deliveries_item_data in self.deliveries:
                deliveries_item = deliveries_item_data.to_dict()
                deliveries.append(deliveries_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if event is not UNSET:
            field_dict["event"] = event
        if deliveries is not UNSET:
            field_dict["deliveries"] = deliveries

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery import Delivery  # noqa: PLC0415
        from ..models.event_with_deliveries_event import (
            EventWithDeliveriesEvent,  # noqa: PLC0415
        )

        d = dict(src_dict)
        _event = d.pop("event", UNSET)
        event: EventWithDeliveriesEvent | Unset
        if isinstance(_event, Unset):
            event = UNSET
        else:
            event = EventWithDeliveriesEvent.from_dict(_event)

        _deliveries = d.pop("deliveries", UNSET)
        deliveries: list[Delivery] | Unset = UNSET
        if _deliveries is not UNSET:
            deliveries = []
            for deliveries_item_data in _deliveries:
                deliveries_item = Delivery.from_dict(deliveries_item_data)

                deliveries.append(deliveries_item)

        event_with_deliveries = cls(
            event=event,
            deliveries=deliveries,
        )

        event_with_deliveries.additional_properties = d
        return event_with_deliveries

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
