from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.test_result_outcome import TestResultOutcome
from ..types import UNSET, Unset

T = TypeVar("T", bound="TestResult")


@_attrs_define
class TestResult:
    """
    Attributes:
        ok (bool): True when the receiver answered 2xx.
        duration_ms (int):
        outcome (TestResultOutcome):
        status (int | Unset): The receiver's HTTP status, when it answered.
        error (str | Unset):
        response (str | Unset): The first 1 KiB of the receiver's response body.
    """

    ok: bool
    duration_ms: int
    outcome: TestResultOutcome
    status: int | Unset = UNSET
    error: str | Unset = UNSET
    response: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ok = self.ok

        duration_ms = self.duration_ms

        outcome = self.outcome.value

        status = self.status

        error = self.error

        response = self.response

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ok": ok,
                "duration_ms": duration_ms,
                "outcome": outcome,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status
        if error is not UNSET:
            field_dict["error"] = error
        if response is not UNSET:
            field_dict["response"] = response

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ok = d.pop("ok")

        duration_ms = d.pop("duration_ms")

        outcome = TestResultOutcome(d.pop("outcome"))

        status = d.pop("status", UNSET)

        error = d.pop("error", UNSET)

        response = d.pop("response", UNSET)

        test_result = cls(
            ok=ok,
            duration_ms=duration_ms,
            outcome=outcome,
            status=status,
            error=error,
            response=response,
        )

        test_result.additional_properties = d
        return test_result

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
