from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PendingResources")


@_attrs_define
class PendingResources:
    """
    Example:
        {'nodes': 1, 'gpus_per_node': 8, 'trainer_memory_gib_per_node': 64}

    Attributes:
        nodes (int | Unset):  Example: 1.
        gpus_per_node (int | Unset):  Example: 8.
        trainer_memory_gib_per_node (float | Unset):  Example: 64.
    """

    nodes: int | Unset = UNSET
    gpus_per_node: int | Unset = UNSET
    trainer_memory_gib_per_node: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        nodes = self.nodes

        gpus_per_node = self.gpus_per_node

        trainer_memory_gib_per_node = self.trainer_memory_gib_per_node

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if nodes is not UNSET:
            field_dict["nodes"] = nodes
        if gpus_per_node is not UNSET:
            field_dict["gpus_per_node"] = gpus_per_node
        if trainer_memory_gib_per_node is not UNSET:
            field_dict["trainer_memory_gib_per_node"] = trainer_memory_gib_per_node

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        nodes = d.pop("nodes", UNSET)

        gpus_per_node = d.pop("gpus_per_node", UNSET)

        trainer_memory_gib_per_node = d.pop("trainer_memory_gib_per_node", UNSET)

        pending_resources = cls(
            nodes=nodes,
            gpus_per_node=gpus_per_node,
            trainer_memory_gib_per_node=trainer_memory_gib_per_node,
        )

        pending_resources.additional_properties = d
        return pending_resources

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
