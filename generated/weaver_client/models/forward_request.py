from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.forward_payload import ForwardPayload


T = TypeVar("T", bound="ForwardRequest")


@_attrs_define
class ForwardRequest:
    """
    Example:
        {'payload': {'model_id': 'm-1', 'seq_id': 1, 'forward_input': {'loss_fn': 'cross_entropy', 'data':
            [{'model_input': {'chunks': [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}, 'loss_fn_inputs':
            {'target_tokens': {'data': [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype':
            'float32'}}}]}, 'tensor_transport': 'default'}}

    Attributes:
        payload (ForwardPayload): A ForwardBackwardPayload whose input is called `forward_input`. Example: {'model_id':
            'm-1', 'seq_id': 1, 'forward_input': {'loss_fn': 'cross_entropy', 'data': [{'model_input': {'chunks': [{'type':
            'encoded_text', 'tokens': [10, 11, 12]}]}, 'loss_fn_inputs': {'target_tokens': {'data': [11, 12, 13], 'dtype':
            'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype': 'float32'}}}]}, 'tensor_transport': 'default'}.
    """

    payload: ForwardPayload

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
        from ..models.forward_payload import ForwardPayload

        d = dict(src_dict)
        payload = ForwardPayload.from_dict(d.pop("payload"))

        forward_request = cls(
            payload=payload,
        )

        return forward_request
