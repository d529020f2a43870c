from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="AdamParams")


@_attrs_define
class AdamParams:
    """AdamW settings. The real SDK always sends all six; the examples are its defaults.

    Example:
        {'learning_rate': 0.0001, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-08, 'weight_decay': 0.01, 'grad_clip_norm':
            1.0}

    Attributes:
        learning_rate (float): 0, the end of a schedule that decays to zero, leaves the weights as they are. Example:
            0.0001.
        beta1 (float):  Example: 0.9.
        beta2 (float):  Example: 0.95.
        eps (float):  Example: 1e-08.
        weight_decay (float):  Example: 0.01.
        grad_clip_norm (float): Clip the global gradient norm to this value; 0 disables clipping. Example: 1.0.
    """

    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    grad_clip_norm: float

    def to_dict(self) -> dict[str, Any]:
        learning_rate = self.learning_rate

        beta1 = self.beta1

        beta2 = self.beta2

        eps = self.eps

        weight_decay = self.weight_decay

        grad_clip_norm = self.grad_clip_norm

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "learning_rate": learning_rate,
                "beta1": beta1,
                "beta2": beta2,
                "eps": eps,
                "weight_decay": weight_decay,
                "grad_clip_norm": grad_clip_norm,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        learning_rate = d.pop("learning_rate")

        beta1 = d.pop("beta1")

        beta2 = d.pop("beta2")

        eps = d.pop("eps")

        weight_decay = d.pop("weight_decay")

        grad_clip_norm = d.pop("grad_clip_norm")

        adam_params = cls(
            learning_rate=learning_rate,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            weight_decay=weight_decay,
            grad_clip_norm=grad_clip_norm,
        )

        return adam_params
