from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.metrics import Metrics


T = TypeVar("T", bound="OptimStepResult")


@_attrs_define
class OptimStepResult:
    """The `response` of a done optimizer-step operation.

    Example:
        {'metrics': {'optim:step': 1, 'optim:grad_norm': 0.42}}

    Attributes:
        metrics (Metrics): Named scalar metrics, such as `loss:sum`. Example: {'loss:sum': 16.63, 'loss:mean': 5.54}.
    """

    metrics: Metrics
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        metrics = self.metrics.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "metrics": metrics,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.metrics import Metrics

        d = dict(src_dict)
        metrics = Metrics.from_dict(d.pop("metrics"))

        optim_step_result = cls(
            metrics=metrics,
        )

        optim_step_result.additional_properties = d
        return optim_step_result

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
