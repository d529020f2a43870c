from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.conversion_progress import ConversionProgress


T = TypeVar("T", bound="OperationMetadata")


@_attrs_define
class OperationMetadata:
    """Progress of a running operation; export operations carry `conversion_progress`.

    Example:
        {'conversion_progress': {'shards_done': 1, 'bytes_done': 52428800}}

    Attributes:
        conversion_progress (ConversionProgress | None | Unset):
    """

    conversion_progress: ConversionProgress | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.conversion_progress import ConversionProgress

        conversion_progress: dict[str, Any] | None | Unset
        if isinstance(self.conversion_progress, Unset):
            conversion_progress = UNSET
        elif isinstance(self.conversion_progress, ConversionProgress):
            conversion_progress = self.conversion_progress.to_dict()
        else:
            conversion_progress = self.conversion_progress

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if conversion_progress is not UNSET:
            field_dict["conversion_progress"] = conversion_progress

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.conversion_progress import ConversionProgress

        d = dict(src_dict)

        def _parse_conversion_progress(
            data: object,
        ) -> ConversionProgress | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                conversion_progress_type_0 = ConversionProgress.from_dict(data)

                return conversion_progress_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ConversionProgress | None | Unset, data)

        conversion_progress = _parse_conversion_progress(
            d.pop("conversion_progress", UNSET)
        )

        operation_metadata = cls(
            conversion_progress=conversion_progress,
        )

        operation_metadata.additional_properties = d
        return operation_metadata

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
