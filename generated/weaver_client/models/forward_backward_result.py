from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.loss_fn_output import LossFnOutput
    from ..models.metrics import Metrics


T = TypeVar("T", bound="ForwardBackwardResult")


@_attrs_define
class ForwardBackwardResult:
    """The `response` of a done forward-backward or forward operation.

    Example:
        {'loss_fn_outputs': [{'logprobs': {'data': [-5.54, -5.55, -5.54], 'dtype': 'float32'}, 'datum_id': 'd-0'}],
            'metrics': {'loss:sum': 16.63}}

    Attributes:
        loss_fn_outputs (list[LossFnOutput]):
        metrics (Metrics): Named scalar metrics, such as `loss:sum`. Example: {'loss:sum': 16.63, 'loss:mean': 5.54}.
    """

    loss_fn_outputs: list[LossFnOutput]
    metrics: Metrics
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        loss_fn_outputs = []
        for loss_fn_outputs_item_data in self.loss_fn_outputs:
            loss_fn_outputs_item = loss_fn_outputs_item_data.to_dict()
            loss_fn_outputs.append(loss_fn_outputs_item)

        metrics = self.metrics.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "loss_fn_outputs": loss_fn_outputs,
                "metrics": metrics,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.loss_fn_output import LossFnOutput
        from ..models.metrics import Metrics

        d = dict(src_dict)
        loss_fn_outputs = []
        _loss_fn_outputs = d.pop("loss_fn_outputs")
        for loss_fn_outputs_item_data in _loss_fn_outputs:
            loss_fn_outputs_item = LossFnOutput.from_dict(loss_fn_outputs_item_data)

            loss_fn_outputs.append(loss_fn_outputs_item)

        metrics = Metrics.from_dict(d.pop("metrics"))

        forward_backward_result = cls(
            loss_fn_outputs=loss_fn_outputs,
            metrics=metrics,
        )

        forward_backward_result.additional_properties = d
        return forward_backward_result

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
