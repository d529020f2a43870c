from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ConversionProgress")


@_attrs_define
class ConversionProgress:
    """How far an export operation has converted its files.

    Example:
        {'shards_done': 1, 'bytes_done': 52428800, 'shards_total': 3, 'bytes_total': 157286400}

    Attributes:
        shards_done (int):  Example: 1.
        bytes_done (int):  Example: 52428800.
        shards_total (int | Unset):  Example: 3.
        bytes_total (int | Unset):  Example: 157286400.
    """

    shards_done: int
    bytes_done: int
    shards_total: int | Unset = UNSET
    bytes_total: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        shards_done = self.shards_done

        bytes_done = self.bytes_done

        shards_total = self.shards_total

        bytes_total = self.bytes_total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "shards_done": shards_done,
                "bytes_done": bytes_done,
            }
        )
        if shards_total is not UNSET:
            field_dict["shards_total"] = shards_total
        if bytes_total is not UNSET:
            field_dict["bytes_total"] = bytes_total

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        shards_done = d.pop("shards_done")

        bytes_done = d.pop("bytes_done")

        shards_total = d.pop("shards_total", UNSET)

        bytes_total = d.pop("bytes_total", UNSET)

        conversion_progress = cls(
            shards_done=shards_done,
            bytes_done=bytes_done,
            shards_total=shards_total,
            bytes_total=bytes_total,
        )

        conversion_progress.additional_properties = d
        return conversion_progress

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
