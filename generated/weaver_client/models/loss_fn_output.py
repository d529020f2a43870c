from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.tensor_data import TensorData


T = TypeVar("T", bound="LossFnOutput")


@_attrs_define
class LossFnOutput:
    """
    Example:
        {'logprobs': {'data': [-5.54, -5.55, -5.54], 'dtype': 'float32'}, 'datum_id': 'd-0'}

    Attributes:
        logprobs (TensorData): A flat or two-level list of numbers. It carries no shape field. Each number must fit
            `dtype`: a whole number in range for `int32` and `int64`, a number that does not round to infinity for `float32`
            (whose largest value is about 3.4028235e38) and `float64`; a server refuses one that does not with 400
            `invalid_request`. The wire sets no bound on the number of values: the server decides it (in a Datum, one value
            per input token, so the base model's sequence length bounds it). Example: {'data': [1, 2, 3], 'dtype': 'int64'}.
        datum_id (str | Unset):  Example: d-0.
    """

    logprobs: TensorData
    datum_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        logprobs = self.logprobs.to_dict()

        datum_id = self.datum_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "logprobs": logprobs,
            }
        )
        if datum_id is not UNSET:
            field_dict["datum_id"] = datum_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.tensor_data import TensorData

        d = dict(src_dict)
        logprobs = TensorData.from_dict(d.pop("logprobs"))

        datum_id = d.pop("datum_id", UNSET)

        loss_fn_output = cls(
            logprobs=logprobs,
            datum_id=datum_id,
        )

        loss_fn_output.additional_properties = d
        return loss_fn_output

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
