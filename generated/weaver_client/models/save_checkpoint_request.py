from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.checkpoint_type import CheckpointType
from ..types import UNSET, Unset

T = TypeVar("T", bound="SaveCheckpointRequest")


@_attrs_define
class SaveCheckpointRequest:
    """
    Example:
        {'type': 'weight_and_optimizer', 'name': 'after-3-steps', 'ttl_seconds': None}

    Attributes:
        type_ (CheckpointType): `weight` saves the trainable weights; `weight_and_optimizer` also
            saves the Adam moments and step, and is the only type that can be
            resumed with the optimizer; `sampling` saves weights for sampling and
            expires after 3600 s by default.
             Example: weight_and_optimizer.
        name (str | Unset): The name a save asks for (its rule: `x-weaver-pattern-words`). Names in
            replies and paths are StoredCheckpointName.
             Example: after-3-steps.
        ttl_seconds (int | None | Unset): Seconds from now until the checkpoint expires; `null` means permanent.
            Example: 86400.
    """

    type_: CheckpointType
    name: str | Unset = UNSET
    ttl_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_.value

        name = self.name

        ttl_seconds: int | None | Unset
        if isinstance(self.ttl_seconds, Unset):
            ttl_seconds = UNSET
        else:
            ttl_seconds = self.ttl_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "type": type_,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if ttl_seconds is not UNSET:
            field_dict["ttl_seconds"] = ttl_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        type_ = CheckpointType(d.pop("type"))

        name = d.pop("name", UNSET)

        def _parse_ttl_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds", UNSET))

        save_checkpoint_request = cls(
            type_=type_,
            name=name,
            ttl_seconds=ttl_seconds,
        )

        return save_checkpoint_request
