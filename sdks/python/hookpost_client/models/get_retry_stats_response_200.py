from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GetRetryStatsResponse200")


@_attrs_define
class GetRetryStatsResponse200:
    """
    Attributes:
        due_now (int | Unset):
        due_next_minute (int | Unset):
        due_next_hour (int | Unset):
        due_next_day (int | Unset):
        total (int | Unset):
    """

    due_now: int | Unset = UNSET
    due_next_minute: int | Unset = UNSET
    due_next_hour: int | Unset = UNSET
    due_next_day: int | Unset = UNSET
    total: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        due_now = self.due_now

        due_next_minute = self.due_next_minute

        due_next_hour = self.due_next_hour

        due_next_day = self.due_next_day

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if due_now is not UNSET:
            field_dict["due_now"] = due_now
        if due_next_minute is not UNSET:
            field_dict["due_next_minute"] = due_next_minute
        if due_next_hour is not UNSET:
            field_dict["due_next_hour"] = due_next_hour
        if due_next_day is not UNSET:
            field_dict["due_next_day"] = due_next_day
        if total is not UNSET:
            field_dict["total"] = total

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        due_now = d.pop("due_now", UNSET)

        due_next_minute = d.pop("due_next_minute", UNSET)

        due_next_hour = d.pop("due_next_hour", UNSET)

        due_next_day = d.pop("due_next_day", UNSET)

        total = d.pop("total", UNSET)

        get_retry_stats_response_200 = cls(
            due_now=due_now,
            due_next_minute=due_next_minute,
            due_next_hour=due_next_hour,
            due_next_day=due_next_day,
            total=total,
        )

        get_retry_stats_response_200.additional_properties = d
        return get_retry_stats_response_200

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
