from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SubscriptionInput")


@_attrs_define
class SubscriptionInput:
    """
    Attributes:
        event (str): One event type of the catalogue (not `*`). Example: request.create.
        target (str): The receiver's URL, checked as a hook's `url`. Example: https://example.com/tiledesk.
    """

    event: str
    target: str

    def to_dict(self) -> dict[str, Any]:
        event = self.event

        target = self.target

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "event": event,
                "target": target,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        event = d.pop("event")

        target = d.pop("target")

        subscription_input = cls(
            event=event,
            target=target,
        )

        return subscription_input
