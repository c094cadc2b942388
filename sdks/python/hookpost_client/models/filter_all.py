from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.filter_any import FilterAny
    from ..models.filter_condition import FilterCondition
    from ..models.filter_not import FilterNot


T = TypeVar("T", bound="FilterAll")


@_attrs_define
class FilterAll:
    """
    Attributes:
        all_ (list[FilterAll | FilterAny | FilterCondition | FilterNot]): Matches when every filter matches.
    """

    all_: list[FilterAll | FilterAny | FilterCondition | FilterNot]

    def to_dict(self) -> dict[str, Any]:
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415

        all_ = []
        for all_item_data in self.all_:
            all_item: dict[str, Any]
            if isinstance(all_item_data, FilterCondition):
                all_item = all_item_data.to_dict()
            elif isinstance(all_item_data, FilterAll):
                all_item = all_item_data.to_dict()
            elif isinstance(all_item_data, FilterAny):
                all_item = all_item_data.to_dict()
            else:
                all_item = all_item_data.to_dict()

            all_.append(all_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "all": all_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415
        from ..models.filter_not import FilterNot  # noqa: PLC0415

        d = dict(src_dict)
        all_ = []
        _all_ = d.pop("all")
        for all_item_data in _all_:

            def _parse_all_item(
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

            all_item = _parse_all_item(all_item_data)

            all_.append(all_item)

        filter_all = cls(
            all_=all_,
        )

        return filter_all
