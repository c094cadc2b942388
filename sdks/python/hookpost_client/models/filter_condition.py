from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.filter_condition_op import FilterConditionOp
from ..types import UNSET, Unset

T = TypeVar("T", bound="FilterCondition")


@_attrs_define
class FilterCondition:
    """
    Attributes:
        path (str): JSONPath subset into the event's data, e.g. `$.a.b[0]`. Example: $.ticket.priority.
        op (FilterConditionOp):
        value (Any | Unset): The operand (any JSON value; not needed for `exists`).
    """

    path: str
    op: FilterConditionOp
    value: Any | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        op = self.op.value

        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "path": path,
                "op": op,
            }
        )
        if value is not UNSET:
            field_dict["value"] = value

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        path = d.pop("path")

        op = FilterConditionOp(d.pop("op"))

        value = d.pop("value", UNSET)

        filter_condition = cls(
            path=path,
            op=op,
            value=value,
        )

        return filter_condition
