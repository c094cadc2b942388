from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.intake_limit import IntakeLimit


T = TypeVar("T", bound="TenantPatch")


@_attrs_define
class TenantPatch:
    """
    Attributes:
        intake (IntakeLimit | None): The tenant's own intake limit, or `null` to go back to the default.
    """

    intake: IntakeLimit | None

    def to_dict(self) -> dict[str, Any]:
        from ..models.intake_limit import IntakeLimit  # noqa: PLC0415

        intake: dict[str, Any] | None
        if isinstance(self.intake, IntakeLimit):
            intake = self.intake.to_dict()
        else:
            intake = self.intake

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "intake": intake,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.intake_limit import IntakeLimit  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_intake(data: object) -> IntakeLimit | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                intake_type_0 = IntakeLimit.from_dict(data)

                return intake_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(IntakeLimit | None, data)

        intake = _parse_intake(d.pop("intake"))

        tenant_patch = cls(
            intake=intake,
        )

        return tenant_patch
