from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.tensor_data import TensorData


T = TypeVar("T", bound="LossFnInputs")


@_attrs_define
class LossFnInputs:
    """Per-position targets (>= 0, or -100 to ignore) and weights, one per input token.

    Example:
        {'target_tokens': {'data': [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype':
            'float32'}}

    Attributes:
        target_tokens (TensorData): A flat or two-level list of numbers. It carries no shape field. Each number must fit
            `dtype`: a whole number in range for `int32` and `int64`, a number that does not round to infinity for `float32`
            (whose largest value is about 3.4028235e38) and `float64`; a server refuses one that does not with 400
            `invalid_request`. The wire sets no bound on the number of values: the server decides it (in a Datum, one value
            per input token, so the base model's sequence length bounds it). Example: {'data': [1, 2, 3], 'dtype': 'int64'}.
        weights (TensorData): A flat or two-level list of numbers. It carries no shape field. Each number must fit
            `dtype`: a whole number in range for `int32` and `int64`, a number that does not round to infinity for `float32`
            (whose largest value is about 3.4028235e38) and `float64`; a server refuses one that does not with 400
            `invalid_request`. The wire sets no bound on the number of values: the server decides it (in a Datum, one value
            per input token, so the base model's sequence length bounds it). Example: {'data': [1, 2, 3], 'dtype': 'int64'}.
    """

    target_tokens: TensorData
    weights: TensorData

    def to_dict(self) -> dict[str, Any]:
        target_tokens = self.target_tokens.to_dict()

        weights = self.weights.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "target_tokens": target_tokens,
                "weights": weights,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.tensor_data import TensorData

        d = dict(src_dict)
        target_tokens = TensorData.from_dict(d.pop("target_tokens"))

        weights = TensorData.from_dict(d.pop("weights"))

        loss_fn_inputs = cls(
            target_tokens=target_tokens,
            weights=weights,
        )

        return loss_fn_inputs
