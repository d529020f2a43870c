from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.supported_model_config import SupportedModelConfig


T = TypeVar("T", bound="SupportedModel")


@_attrs_define
class SupportedModel:
    """
    Example:
        {'name': 'weaver-tiny', 'status': 'available', 'config': {'vocab_size': 256, 'hidden_size': 16,
            'max_sequence_length': 4096}}

    Attributes:
        name (str):  Example: weaver-tiny.
        status (str): Such as `available` or `healthy`. Example: available.
        config (SupportedModelConfig | Unset): Architecture facts, such as `vocab_size` and `hidden_size`. A server may
            state `max_sequence_length`, an integer: the most tokens one Datum of this model may hold (a longer one is
            refused with 400 `invalid_request`). Clients must not rely on it: the wire does not promise it. Example:
            {'vocab_size': 256, 'hidden_size': 16, 'max_sequence_length': 4096}.
    """

    name: str
    status: str
    config: SupportedModelConfig | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        status = self.status

        config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config, Unset):
            config = self.config.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "status": status,
            }
        )
        if config is not UNSET:
            field_dict["config"] = config

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.supported_model_config import SupportedModelConfig

        d = dict(src_dict)
        name = d.pop("name")

        status = d.pop("status")

        _config = d.pop("config", UNSET)
        config: SupportedModelConfig | Unset
        if isinstance(_config, Unset):
            config = UNSET
        else:
            config = SupportedModelConfig.from_dict(_config)

        supported_model = cls(
            name=name,
            status=status,
            config=config,
        )

        supported_model.additional_properties = d
        return supported_model

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
