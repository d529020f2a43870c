from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.model import Model
    from ..models.pagination import Pagination


T = TypeVar("T", bound="ModelList")


@_attrs_define
class ModelList:
    """
    Example:
        {'items': [{'id': 'm-1', 'session_id': 's-8c1f2e', 'model_seq_id': 1, 'base_model': 'weaver-tiny',
            'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True, 'train_mlp': False, 'train_attn':
            False, 'seed': 0}, 'status': 'active', 'created_at': '2026-11-29T10:00:01Z'}], 'pagination': {'total_count': 1}}

    Attributes:
        items (list[Model]):
        pagination (Pagination):  Example: {'total_count': 2}.
    """

    items: list[Model]
    pagination: Pagination
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        pagination = self.pagination.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "pagination": pagination,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.model import Model
        from ..models.pagination import Pagination

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = Model.from_dict(items_item_data)

            items.append(items_item)

        pagination = Pagination.from_dict(d.pop("pagination"))

        model_list = cls(
            items=items,
            pagination=pagination,
        )

        model_list.additional_properties = d
        return model_list

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
