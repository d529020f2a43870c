from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.adam_params import AdamParams


T = TypeVar("T", bound="OptimStepPayload")


@_attrs_define
class OptimStepPayload:
    """
    Example:
        {'model_id': 'm-1', 'seq_id': 2, 'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps':
            1e-08, 'weight_decay': 0.01, 'grad_clip_norm': 1.0}}

    Attributes:
        model_id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
        seq_id (int):  Example: 2.
        adam_params (AdamParams): AdamW settings. The real SDK always sends all six; the examples are its defaults.
            Example: {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08, 'weight_decay': 0.01,
            'grad_clip_norm': 1.0}.
    """

    model_id: str
    seq_id: int
    adam_params: AdamParams

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        seq_id = self.seq_id

        adam_params = self.adam_params.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_id": model_id,
                "seq_id": seq_id,
                "adam_params": adam_params,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.adam_params import AdamParams

        d = dict(src_dict)
        model_id = d.pop("model_id")

        seq_id = d.pop("seq_id")

        adam_params = AdamParams.from_dict(d.pop("adam_params"))

        optim_step_payload = cls(
            model_id=model_id,
            seq_id=seq_id,
            adam_params=adam_params,
        )

        return optim_step_payload
