from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="LoadResult")


@_attrs_define
class LoadResult:
    """The `response` of a done load operation. The real service's shape is
    not documented, so every field is optional; the facade fills the path
    and the optimizer flag from its own request when they are missing.

        Example:
            {'path': 'weaver://m-1/checkpoints/after-3-steps', 'include_optimizer': True, 'checkpoint_id':
                '0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09', 'optimizer_step': 3, 'model_id': 'm-2'}

        Attributes:
            path (str | Unset): `weaver://{model_id}/checkpoints/{name}`, `name` a StoredCheckpointName. A server answers a
                path it never made with its not-found error. Example: weaver://m-1/checkpoints/after-3-steps.
            include_optimizer (bool | Unset):  Example: True.
            checkpoint_id (UUID | Unset):  Example: 0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09.
            optimizer_step (int | None | Unset): The restored Adam step counter; `null` after a weights-only load. Example:
                3.
            model_id (str | Unset): A server-assigned id of a session, model or operation. It never contains `/`. Example:
                m-1.
    """

    path: str | Unset = UNSET
    include_optimizer: bool | Unset = UNSET
    checkpoint_id: UUID | Unset = UNSET
    optimizer_step: int | None | Unset = UNSET
    model_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        include_optimizer = self.include_optimizer

        checkpoint_id: str | Unset = UNSET
        if not isinstance(self.checkpoint_id, Unset):
            checkpoint_id = str(self.checkpoint_id)

        optimizer_step: int | None | Unset
        if isinstance(self.optimizer_step, Unset):
            optimizer_step = UNSET
        else:
            optimizer_step = self.optimizer_step

        model_id = self.model_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if path is not UNSET:
            field_dict["path"] = path
        if include_optimizer is not UNSET:
            field_dict["include_optimizer"] = include_optimizer
        if checkpoint_id is not UNSET:
            field_dict["checkpoint_id"] = checkpoint_id
        if optimizer_step is not UNSET:
            field_dict["optimizer_step"] = optimizer_step
        if model_id is not UNSET:
            field_dict["model_id"] = model_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        path = d.pop("path", UNSET)

        include_optimizer = d.pop("include_optimizer", UNSET)

        _checkpoint_id = d.pop("checkpoint_id", UNSET)
        checkpoint_id: UUID | Unset
        if isinstance(_checkpoint_id, Unset):
            checkpoint_id = UNSET
        else:
            checkpoint_id = UUID(_checkpoint_id)

        def _parse_optimizer_step(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        optimizer_step = _parse_optimizer_step(d.pop("optimizer_step", UNSET))

        model_id = d.pop("model_id", UNSET)

        load_result = cls(
            path=path,
            include_optimizer=include_optimizer,
            checkpoint_id=checkpoint_id,
            optimizer_step=optimizer_step,
            model_id=model_id,
        )

        load_result.additional_properties = d
        return load_result

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
