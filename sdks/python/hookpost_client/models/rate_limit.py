from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RateLimit")


@_attrs_define
class RateLimit:
    """Enforced across every worker together (one limiter in Redis). A delivery over the limit waits (deferred; not an
    attempt, the retry schedule is untouched).

        Attributes:
            per_second (int): Requests per second on average.
            burst (int | Unset): Requests that may go at once after a quiet spell; in any one-second window at most
                per_second + burst. Default: 1.
    """

    per_second: int
    burst: int | Unset = 1

    def to_dict(self) -> dict[str, Any]:
        per_second = self.per_second

        burst = self.burst

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "per_second": per_second,
            }
        )
        if burst is not UNSET:
            field_dict["burst"] = burst

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        per_second = d.pop("per_second")

        burst = d.pop("burst", UNSET)

        rate_limit = cls(
            per_second=per_second,
            burst=burst,
        )

        return rate_limit
