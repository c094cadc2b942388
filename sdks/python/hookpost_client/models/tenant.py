from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.intake_limit import IntakeLimit


T = TypeVar("T", bound="Tenant")


@_attrs_define
class Tenant:
    """
    Attributes:
        id (str):
        name (str):
        created_at (datetime.datetime):  Example: 2026-12-03T10:15:00.000Z.
        intake (IntakeLimit | None | Unset): The tenant's own intake limit (`PATCH /v1/tenants/{id}`); `null`: the
            deployment's default. Shown by `PATCH` only.
    """

    id: str
    name: str
    created_at: datetime.datetime
    intake: IntakeLimit | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.intake_limit import IntakeLimit  # noqa: PLC0415

        id = self.id

        name = self.name

        created_at = self.created_at.isoformat()

        intake: dict[str, Any] | None | Unset
        if isinstance(self.intake, Unset):
            intake = UNSET
        elif isinstance(self.intake, IntakeLimit):
            intake = self.intake.to_dict()
        else:
            intake = self.intake

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "created_at": created_at,
            }
        )
        if intake is not UNSET:
            field_dict["intake"] = intake

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.intake_limit import IntakeLimit  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_intake(data: object) -> IntakeLimit | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                intake_type_0 = IntakeLimit.from_dict(data)

                return intake_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(IntakeLimit | None | Unset, data)

        intake = _parse_intake(d.pop("intake", UNSET))

        tenant = cls(
            id=id,
            name=name,
            created_at=created_at,
            intake=intake,
        )

        tenant.additional_properties = d
        return tenant

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
