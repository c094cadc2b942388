from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="IntakeLimit")


@_attrs_define
class IntakeLimit:
    """At most `per_second` events a second through the API on average, `burst` of them at once (a batch of N events takes
    N at once or is refused whole).

        Attributes:
            per_second (int):
            burst (int):
    """

    per_second: int
    burst: int

    def to_dict(self) -> dict[str, Any]:
        per_second = self.per_second

        burst = self.burst

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "per_second": per_second,
                "burst": burst,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        per_second = d.pop("per_second")

        burst = d.pop("burst")

        intake_limit = cls(
            per_second=per_second,
            burst=burst,
        )

        return intake_limit
