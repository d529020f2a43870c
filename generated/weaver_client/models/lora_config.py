from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="LoraConfig")


@_attrs_define
class LoraConfig:
    """
    Example:
        {'rank': 8, 'train_unembed': True, 'train_mlp': True, 'train_attn': True, 'seed': 0}

    Attributes:
        rank (int):  Example: 32.
        train_unembed (bool | Unset):  Default: True. Example: True.
        train_mlp (bool | Unset):  Default: True. Example: True.
        train_attn (bool | Unset):  Default: True. Example: True.
        seed (int | Unset):  Example: 0.
    """

    rank: int
    train_unembed: bool | Unset = True
    train_mlp: bool | Unset = True
    train_attn: bool | Unset = True
    seed: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        rank = self.rank

        train_unembed = self.train_unembed

        train_mlp = self.train_mlp

        train_attn = self.train_attn

        seed = self.seed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "rank": rank,
            }
        )
        if train_unembed is not UNSET:
            field_dict["train_unembed"] = train_unembed
        if train_mlp is not UNSET:
            field_dict["train_mlp"] = train_mlp
        if train_attn is not UNSET:
            field_dict["train_attn"] = train_attn
        if seed is not UNSET:
            field_dict["seed"] = seed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        rank = d.pop("rank")

        train_unembed = d.pop("train_unembed", UNSET)

        train_mlp = d.pop("train_mlp", UNSET)

        train_attn = d.pop("train_attn", UNSET)

        seed = d.pop("seed", UNSET)

        lora_config = cls(
            rank=rank,
            train_unembed=train_unembed,
            train_mlp=train_mlp,
            train_attn=train_attn,
            seed=seed,
        )

        return lora_config
