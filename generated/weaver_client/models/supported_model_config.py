from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SupportedModelConfig")


@_attrs_define
class SupportedModelConfig:
    """Architecture facts, such as `vocab_size` and `hidden_size`. A server may state `max_sequence_length`, an integer:
    the most tokens one Datum of this model may hold (a longer one is refused with 400 `invalid_request`). Clients must
    not rely on it: the wire does not promise it.

        Example:
            {'vocab_size': 256, 'hidden_size': 16, 'max_sequence_length': 4096}

    """

    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        supported_model_config = cls()

        supported_model_config.additional_properties = d
        return supported_model_config

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
