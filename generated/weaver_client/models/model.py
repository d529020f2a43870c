from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_status import ModelStatus
from ..models.training_mode import TrainingMode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.lora_config import LoraConfig
    from ..models.metadata import Metadata


T = TypeVar("T", bound="Model")


@_attrs_define
class Model:
    """The real service promises only `id`, `base_model` and `tokenizer_path`
    (the fields the official SDK reads), and calls only `id` required;
    every other field is optional for a server, and a client must not
    depend on it.

        Example:
            {'id': 'm-1', 'session_id': 's-8c1f2e', 'model_seq_id': 1, 'base_model': 'weaver-tiny', 'tokenizer_path':
                'weaver://tokenizers/byte-256', 'training_mode': 'lora', 'lora_config': {'rank': 8, 'train_unembed': True,
                'train_mlp': True, 'train_attn': True, 'seed': 0}, 'status': 'active', 'next_seq_id': 1, 'created_at':
                '2026-11-29T10:00:01Z'}

        Attributes:
            id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
            session_id (str | Unset): A server-assigned id of a session, model or operation. It never contains `/`. Example:
                m-1.
            model_seq_id (int | Unset):  Example: 1.
            base_model (str | Unset):  Example: weaver-tiny.
            tokenizer_path (None | str | Unset):  Example: weaver://tokenizers/byte-256.
            training_mode (TrainingMode | Unset):  Example: lora.
            lora_config (LoraConfig | None | Unset):
            user_metadata (Metadata | Unset): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
            status (ModelStatus | Unset): `state_lost` means the server lost the model's in-memory training
                state (for example in a restart); it refuses to train it further
                rather than silently starting from fresh weights.
                 Example: active.
            next_seq_id (int | Unset): The `seq_id` the model's next forward-backward pass, forward pass
                or optimizer step must carry (the highest one used so far plus 1). A client
                that attaches to an existing model continues from here instead of
                from 1, which the server would answer with old operations.
                 Example: 1.
            created_at (datetime.datetime | Unset):  Example: 2026-11-29T10:00:01Z.
    """

    id: str
    session_id: str | Unset = UNSET
    model_seq_id: int | Unset = UNSET
    base_model: str | Unset = UNSET
    tokenizer_path: None | str | Unset = UNSET
    training_mode: TrainingMode | Unset = UNSET
    lora_config: LoraConfig | None | Unset = UNSET
    user_metadata: Metadata | Unset = UNSET
    status: ModelStatus | Unset = UNSET
    next_seq_id: int | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.lora_config import LoraConfig

        id = self.id

        session_id = self.session_id

        model_seq_id = self.model_seq_id

        base_model = self.base_model

        tokenizer_path: None | str | Unset
        if isinstance(self.tokenizer_path, Unset):
            tokenizer_path = UNSET
        else:
            tokenizer_path = self.tokenizer_path

        training_mode: str | Unset = UNSET
        if not isinstance(self.training_mode, Unset):
            training_mode = self.training_mode.value

        lora_config: dict[str, Any] | None | Unset
        if isinstance(self.lora_config, Unset):
            lora_config = UNSET
        elif isinstance(self.lora_config, LoraConfig):
            lora_config = self.lora_config.to_dict()
        else:
            lora_config = self.lora_config

        user_metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.user_metadata, Unset):
            user_metadata = self.user_metadata.to_dict()

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        next_seq_id = self.next_seq_id

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if session_id is not UNSET:
            field_dict["session_id"] = session_id
        if model_seq_id is not UNSET:
            field_dict["model_seq_id"] = model_seq_id
        if base_model is not UNSET:
            field_dict["base_model"] = base_model
        if tokenizer_path is not UNSET:
            field_dict["tokenizer_path"] = tokenizer_path
        if training_mode is not UNSET:
            field_dict["training_mode"] = training_mode
        if lora_config is not UNSET:
            field_dict["lora_config"] = lora_config
        if user_metadata is not UNSET:
            field_dict["user_metadata"] = user_metadata
        if status is not UNSET:
            field_dict["status"] = status
        if next_seq_id is not UNSET:
            field_dict["next_seq_id"] = next_seq_id
        if created_at is not UNSET:
            field_dict["created_at"] = created_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.lora_config import LoraConfig
        from ..models.metadata import Metadata

        d = dict(src_dict)
        id = d.pop("id")

        session_id = d.pop("session_id", UNSET)

        model_seq_id = d.pop("model_seq_id", UNSET)

        base_model = d.pop("base_model", UNSET)

        def _parse_tokenizer_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tokenizer_path = _parse_tokenizer_path(d.pop("tokenizer_path", UNSET))

        _training_mode = d.pop("training_mode", UNSET)
        training_mode: TrainingMode | Unset
        if isinstance(_training_mode, Unset):
            training_mode = UNSET
        else:
            training_mode = TrainingMode(_training_mode)

        def _parse_lora_config(data: object) -> LoraConfig | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                lora_config_type_0 = LoraConfig.from_dict(data)

                return lora_config_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LoraConfig | None | Unset, data)

        lora_config = _parse_lora_config(d.pop("lora_config", UNSET))

        _user_metadata = d.pop("user_metadata", UNSET)
        user_metadata: Metadata | Unset
        if isinstance(_user_metadata, Unset):
            user_metadata = UNSET
        else:
            user_metadata = Metadata.from_dict(_user_metadata)

        _status = d.pop("status", UNSET)
        status: ModelStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = ModelStatus(_status)

        next_seq_id = d.pop("next_seq_id", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        model = cls(
            id=id,
            session_id=session_id,
            model_seq_id=model_seq_id,
            base_model=base_model,
            tokenizer_path=tokenizer_path,
            training_mode=training_mode,
            lora_config=lora_config,
            user_metadata=user_metadata,
            status=status,
            next_seq_id=next_seq_id,
            created_at=created_at,
        )

        model.additional_properties = d
        return model

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
