from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.tensor_d_type import TensorDType

T = TypeVar("T", bound="TensorData")


@_attrs_define
class TensorData:
    """A flat or two-level list of numbers. It carries no shape field. Each number must fit `dtype`: a whole number in
    range for `int32` and `int64`, a number that does not round to infinity for `float32` (whose largest value is about
    3.4028235e38) and `float64`; a server refuses one that does not with 400 `invalid_request`. The wire sets no bound
    on the number of values: the server decides it (in a Datum, one value per input token, so the base model's sequence
    length bounds it).

        Example:
            {'data': [1, 2, 3], 'dtype': 'int64'}

        Attributes:
            data (list[float | list[float]]):  Example: [1, 2, 3].
            dtype (TensorDType):  Example: int64.
    """

    data: list[float | list[float]]
    dtype: TensorDType

    def to_dict(self) -> dict[str, Any]:
        data = []
        for data_item_data in self.data:
            data_item: float | list[float]
            if isinstance(data_item_data, list):
                data_item = data_item_data

            else:
                data_item = data_item_data
            data.append(data_item)

        dtype = self.dtype.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "data": data,
                "dtype": dtype,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        data = []
        _data = d.pop("data")
        for data_item_data in _data:

            def _parse_data_item(data: object) -> float | list[float]:
                try:
                    if not isinstance(data, list):
                        raise TypeError()
                    data_item_type_1 = cast(list[float], data)

                    return data_item_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                return cast(float | list[float], data)

            data_item = _parse_data_item(data_item_data)

            data.append(data_item)

        dtype = TensorDType(d.pop("dtype"))

        tensor_data = cls(
            data=data,
            dtype=dtype,
        )

        return tensor_data
