from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.loss_fn import LossFn
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.datum import Datum
    from ..models.forward_backward_input_loss_fn_config import (
        ForwardBackwardInputLossFnConfig,
    )


T = TypeVar("T", bound="ForwardBackwardInput")


@_attrs_define
class ForwardBackwardInput:
    """
    Example:
        {'loss_fn': 'cross_entropy', 'data': [{'model_input': {'chunks': [{'type': 'encoded_text', 'tokens': [10, 11,
            12]}]}, 'loss_fn_inputs': {'target_tokens': {'data': [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0,
            1.0, 1.0], 'dtype': 'float32'}}}]}

    Attributes:
        loss_fn (LossFn):  Example: cross_entropy.
        data (list[Datum]): The batch. The wire sets no bound on its size: the server decides it, and refuses a larger
            batch than it takes with 400 `invalid_request`.
        loss_fn_config (ForwardBackwardInputLossFnConfig | Unset):  Example: {}.
    """

    loss_fn: LossFn
    data: list[Datum]
    loss_fn_config: ForwardBackwardInputLossFnConfig | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        loss_fn = self.loss_fn.value

        data = []
        for data_item_data in self.data:
            data_item = data_item_data.to_dict()
            data.append(data_item)

        loss_fn_config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.loss_fn_config, Unset):
            loss_fn_config = self.loss_fn_config.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "loss_fn": loss_fn,
                "data": data,
            }
        )
        if loss_fn_config is not UNSET:
            field_dict["loss_fn_config"] = loss_fn_config

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.datum import Datum
        from ..models.forward_backward_input_loss_fn_config import (
            ForwardBackwardInputLossFnConfig,
        )

        d = dict(src_dict)
        loss_fn = LossFn(d.pop("loss_fn"))

        data = []
        _data = d.pop("data")
        for data_item_data in _data:
            data_item = Datum.from_dict(data_item_data)

            data.append(data_item)

        _loss_fn_config = d.pop("loss_fn_config", UNSET)
        loss_fn_config: ForwardBackwardInputLossFnConfig | Unset
        if isinstance(_loss_fn_config, Unset):
            loss_fn_config = UNSET
        else:
            loss_fn_config = ForwardBackwardInputLossFnConfig.from_dict(_loss_fn_config)

        forward_backward_input = cls(
            loss_fn=loss_fn,
            data=data,
            loss_fn_config=loss_fn_config,
        )

        return forward_backward_input
