from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.optim_step_payload import OptimStepPayload


T = TypeVar("T", bound="OptimStepRequest")


@_attrs_define
class OptimStepRequest:
    """
    Example:
        {'payload': {'model_id': 'm-1', 'seq_id': 2, 'adam_params': {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2':
            0.95, 'eps': 1e-08, 'weight_decay': 0.01, 'grad_clip_norm': 1.0}}}

    Attributes:
        payload (OptimStepPayload):  Example: {'model_id': 'm-1', 'seq_id': 2, 'adam_params': {'learning_rate': 0.0001,
            'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08, 'weight_decay': 0.01, 'grad_clip_norm': 1.0}}.
    """

    payload: OptimStepPayload

    def to_dict(self) -> dict[str, Any]:
        payload = self.payload.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "payload": payload,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.optim_step_payload import OptimStepPayload

        d = dict(src_dict)
        payload = OptimStepPayload.from_dict(d.pop("payload"))

        optim_step_request = cls(
            payload=payload,
        )

        return optim_step_request
