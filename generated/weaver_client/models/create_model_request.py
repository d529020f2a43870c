from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.create_model_request_performance_tier import (
    CreateModelRequestPerformanceTier,
)
from ..models.training_mode import TrainingMode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.lora_config import LoraConfig
    from ..models.metadata import Metadata


T = TypeVar("T", bound="CreateModelRequest")


@_attrs_define
class CreateModelRequest:
    """
    Example:
        {'model_seq_id': 1, 'base_model': 'weaver-tiny', 'training_mode': 'lora', 'lora_config': {'rank': 8,
            'train_unembed': True, 'train_mlp': True, 'train_attn': True, 'seed': 0}}

    Attributes:
        model_seq_id (int): A per-client counter starting at 1. Example: 1.
        base_model (str): A name from `GET /api/v1/supported-models`. Example: weaver-tiny.
        training_mode (TrainingMode | Unset):  Example: lora.
        lora_config (LoraConfig | Unset):  Example: {'rank': 8, 'train_unembed': True, 'train_mlp': True, 'train_attn':
            True, 'seed': 0}.
        user_metadata (Metadata | Unset): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
        performance_tier (CreateModelRequestPerformanceTier | Unset): A throughput tier, sent by the official SDK's
            `create_model(performance_tier=...)`; the emulator accepts and
            ignores it.
             Example: normal.
        training_max_sequence_length (int | Unset): The longest sequence the model will train on, sent by the official
            SDK's `create_model(training_max_sequence_length=...)`; the
            emulator accepts and ignores it.
             Example: 4096.
    """

    model_seq_id: int
    base_model: str
    training_mode: TrainingMode | Unset = UNSET
    lora_config: LoraConfig | Unset = UNSET
    user_metadata: Metadata | Unset = UNSET
    performance_tier: CreateModelRequestPerformanceTier | Unset = UNSET
    training_max_sequence_length: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        model_seq_id = self.model_seq_id

        base_model = self.base_model

        training_mode: str | Unset = UNSET
        if not isinstance(self.training_mode, Unset):
            training_mode = self.training_mode.value

        lora_config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.lora_config, Unset):
            lora_config = self.lora_config.to_dict()

        user_metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.user_metadata, Unset):
            user_metadata = self.user_metadata.to_dict()

        performance_tier: str | Unset = UNSET
        if not isinstance(self.performance_tier, Unset):
            performance_tier = self.performance_tier.value

        training_max_sequence_length = self.training_max_sequence_length

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_seq_id": model_seq_id,
                "base_model": base_model,
            }
        )
        if training_mode is not UNSET:
            field_dict["training_mode"] = training_mode
        if lora_config is not UNSET:
            field_dict["lora_config"] = lora_config
        if user_metadata is not UNSET:
            field_dict["user_metadata"] = user_metadata
        if performance_tier is not UNSET:
            field_dict["performance_tier"] = performance_tier
        if training_max_sequence_length is not UNSET:
            field_dict["training_max_sequence_length"] = training_max_sequence_length

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.lora_config import LoraConfig
        from ..models.metadata import Metadata

        d = dict(src_dict)
        model_seq_id = d.pop("model_seq_id")

        base_model = d.pop("base_model")

        _training_mode = d.pop("training_mode", UNSET)
        training_mode: TrainingMode | Unset
        if isinstance(_training_mode, Unset):
            training_mode = UNSET
        else:
            training_mode = TrainingMode(_training_mode)

        _lora_config = d.pop("lora_config", UNSET)
        lora_config: LoraConfig | Unset
        if isinstance(_lora_config, Unset):
            lora_config = UNSET
        else:
            lora_config = LoraConfig.from_dict(_lora_config)

        _user_metadata = d.pop("user_metadata", UNSET)
        user_metadata: Metadata | Unset
        if isinstance(_user_metadata, Unset):
            user_metadata = UNSET
        else:
            user_metadata = Metadata.from_dict(_user_metadata)

        _performance_tier = d.pop("performance_tier", UNSET)
        performance_tier: CreateModelRequestPerformanceTier | Unset
        if isinstance(_performance_tier, Unset):
            performance_tier = UNSET
        else:
            performance_tier = CreateModelRequestPerformanceTier(_performance_tier)

        training_max_sequence_length = d.pop("training_max_sequence_length", UNSET)

        create_model_request = cls(
            model_seq_id=model_seq_id,
            base_model=base_model,
            training_mode=training_mode,
            lora_config=lora_config,
            user_metadata=user_metadata,
            performance_tier=performance_tier,
            training_max_sequence_length=training_max_sequence_length,
        )

        return create_model_request
