from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="LoadCheckpointRequest")


@_attrs_define
class LoadCheckpointRequest:
    """
    Example:
        {'path': 'weaver://m-1/checkpoints/after-3-steps', 'include_optimizer': True}

    Attributes:
        path (str): `weaver://{model_id}/checkpoints/{name}`, `name` a StoredCheckpointName. A server answers a path it
            never made with its not-found error. Example: weaver://m-1/checkpoints/after-3-steps.
        include_optimizer (bool): `false` (load_state) restores weights only; `true` (load_state_with_optimizer) also
            restores the Adam moments and step. Example: True.
    """

    path: str
    include_optimizer: bool

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        include_optimizer = self.include_optimizer

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "path": path,
                "include_optimizer": include_optimizer,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        path = d.pop("path")

        include_optimizer = d.pop("include_optimizer")

        load_checkpoint_request = cls(
            path=path,
            include_optimizer=include_optimizer,
        )

        return load_checkpoint_request
