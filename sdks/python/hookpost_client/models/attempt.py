from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.attempt_outcome import AttemptOutcome
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.attempt_signatures import AttemptSignatures


T = TypeVar("T", bound="Attempt")


@_attrs_define
class Attempt:
    """
    Attributes:
        attempt (int):
        at (datetime.datetime): When the attempt started. Example: 2026-12-03T10:15:00.000Z.
        duration_ms (int):
        outcome (AttemptOutcome):
        status (int | Unset):
        error (str | Unset):
        response (str | Unset): first 1 KiB of the response body
        retry_after_s (int | Unset):
        signatures (AttemptSignatures | Unset): The signature headers the request went out with, by header name, as
            sent; absent when the request never left (refused by policy) or was made before the log kept them. `webhook-id`
            and `X-Hook-Id` are the delivery id.
        uuid (UUID | Unset): the request's own uuid, in the `happyfox` format
    """

    attempt: int
    at: datetime.datetime
    duration_ms: int
    outcome: AttemptOutcome
    status: int | Unset = UNSET
    error: str | Unset = UNSET
    response: str | Unset = UNSET
    retry_after_s: int | Unset = UNSET
    signatures: AttemptSignatures | Unset = UNSET
    uuid: UUID | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        at = self.at.isoformat()

        duration_ms = self.duration_ms

        outcome = self.outcome.value

        status = self.status

        error = self.error

        response = self.response

        retry_after_s = self.retry_after_s

        signatures: dict[str, Any] | Unset = UNSET
        if not isinstance(self.signatures, Unset):
            signatures = self.signatures.to_dict()

        uuid: str | Unset = UNSET
        if not isinstance(self.uuid, Unset):
            uuid = str(self.uuid)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "at": at,
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
        if retry_after_s is not UNSET:
            field_dict["retry_after_s"] = retry_after_s
        if signatures is not UNSET:
            field_dict["signatures"] = signatures
        if uuid is not UNSET:
            field_dict["uuid"] = uuid

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attempt_signatures import AttemptSignatures  # noqa: PLC0415

        d = dict(src_dict)
        attempt = d.pop("attempt")

        at = datetime.datetime.fromisoformat(d.pop("at"))

        duration_ms = d.pop("duration_ms")

        outcome = AttemptOutcome(d.pop("outcome"))

        status = d.pop("status", UNSET)

        error = d.pop("error", UNSET)

        response = d.pop("response", UNSET)

        retry_after_s = d.pop("retry_after_s", UNSET)

        _signatures = d.pop("signatures", UNSET)
        signatures: AttemptSignatures | Unset
        if isinstance(_signatures, Unset):
            signatures = UNSET
        else:
            signatures = AttemptSignatures.from_dict(_signatures)

        _uuid = d.pop("uuid", UNSET)
        uuid: UUID | Unset
        if isinstance(_uuid, Unset):
            uuid = UNSET
        else:
            uuid = UUID(_uuid)

        attempt = cls(
            attempt=attempt,
            at=at,
            duration_ms=duration_ms,
            outcome=outcome,
            status=status,
            error=error,
            response=response,
            retry_after_s=retry_after_s,
            signatures=signatures,
            uuid=uuid,
        )

        attempt.additional_properties = d
        return attempt

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
