from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="OperationErrorDetails")


@_attrs_define
class OperationErrorDetails:
    """
    Example:
        {'diagnostic_message': 'checkpoint file checksum mismatch', 'stage': 'load'}

    Attributes:
        diagnostic_message (str | Unset):  Example: checkpoint file checksum mismatch.
        stage (str | Unset):  Example: load.
    """

    diagnostic_message: str | Unset = UNSET
    stage: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        diagnostic_message = self.diagnostic_message

        stage = self.stage

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if diagnostic_message is not UNSET:
            field_dict["diagnostic_message"] = diagnostic_message
        if stage is not UNSET:
            field_dict["stage"] = stage

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        diagnostic_message = d.pop("diagnostic_message", UNSET)

        stage = d.pop("stage", UNSET)

        operation_error_details = cls(
            diagnostic_message=diagnostic_message,
            stage=stage,
        )

        operation_error_details.additional_properties = d
        return operation_error_details

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
