from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.filter_all import FilterAll
    from ..models.filter_any import FilterAny
    from ..models.filter_condition import FilterCondition


T = TypeVar("T", bound="FilterNot")


@_attrs_define
class FilterNot:
    """
    Attributes:
        not_ (FilterAll | FilterAny | FilterCondition | FilterNot): A smart-rule filter: a condition, or a combination
            of filters.
    """

    not_: FilterAll | FilterAny | FilterCondition | FilterNot

    def to_dict(self) -> dict[str, Any]:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415

        not_: dict[str, Any]
        if isinstance(self.not_, FilterCondition):
            not_ = self.not_.to_dict()
        elif isinstance(self.not_, FilterAll):
            not_ = self.not_.to_dict()
        elif isinstance(self.not_, FilterAny):
            not_ = self.not_.to_dict()
        else:
            not_ = self.not_.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "not": not_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_not_(
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

        not_ = _parse_not_(d.pop("not"))

        filter_not = cls(
            not_=not_,
        )

        return filter_not
