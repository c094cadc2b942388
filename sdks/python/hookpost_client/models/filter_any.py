from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.filter_all import FilterAll
    from ..models.filter_condition import FilterCondition
    from ..models.filter_not import FilterNot


T = TypeVar("T", bound="FilterAny")


@_attrs_define
class FilterAny:
    """
    Attributes:
        any_ (list[FilterAll | FilterAny | FilterCondition | FilterNot]): Matches when at least one filter matches.
    """

    any_: list[FilterAll | FilterAny | FilterCondition | FilterNot]

    def to_dict(self) -> dict[str, Any]:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415

        any_ = []
        for any_item_data in self.any_:
            any_item: dict[str, Any]
            if isinstance(any_item_data, FilterCondition):
                any_item = any_item_data.to_dict()
            elif isinstance(any_item_data, FilterAll):
                any_item = any_item_data.to_dict()
            elif isinstance(any_item_data, FilterAny):
                any_item = any_item_data.to_dict()
            else:
                any_item = any_item_data.to_dict()

            any_.append(any_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "any": any_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415
        from ..models.filter_not import FilterNot  # noqa: PLC0415

        d = dict(src_dict)
        any_ = []
        _any_ = d.pop("any")
        for any_item_data in _any_:

            def _parse_any_item(
                data: object,
            ) -> FilterAll | FilterAny | FilterCondition | FilterNot:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_filter_type_0 = FilterCondition.from_dict(data)

                    return componentsschemas_filter_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_filter_type_1 = FilterAll.from_dict(data)

                    return componentsschemas_filter_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_filter_type_2 = FilterAny.from_dict(data)

                    return componentsschemas_filter_type_2
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_filter_type_3 = FilterNot.from_dict(data)

                return componentsschemas_filter_type_3

            any_item = _parse_any_item(any_item_data)

            any_.append(any_item)

        filter_any = cls(
            any_=any_,
        )

        return filter_any
