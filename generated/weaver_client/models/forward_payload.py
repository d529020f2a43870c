from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.forward_backward_input import ForwardBackwardInput
    from ..models.request_metadata import RequestMetadata


T = TypeVar("T", bound="ForwardPayload")


@_attrs_define
class ForwardPayload:
    """A ForwardBackwardPayload whose input is called `forward_input`.

    Example:
        {'model_id': 'm-1', 'seq_id': 1, 'forward_input': {'loss_fn': 'cross_entropy', 'data': [{'model_input':
            {'chunks': [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}, 'loss_fn_inputs': {'target_tokens': {'data':
            [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype': 'float32'}}}]},
            'tensor_transport': 'default'}

    Attributes:
        model_id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
        seq_id (int): One counter per model, starting at 1, shared with forward-backward passes and optimizer steps.
            Example: 1.
        forward_input (ForwardBackwardInput):  Example: {'loss_fn': 'cross_entropy', 'data': [{'model_input': {'chunks':
            [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}, 'loss_fn_inputs': {'target_tokens': {'data': [11, 12, 13],
            'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype': 'float32'}}}]}.
        tensor_transport (str | Unset): Sent by the real SDK; accepted and ignored. Example: default.
        metadata (RequestMetadata | Unset): Free-form JSON values the official SDK may attach to a request or a datum;
            the emulator accepts and ignores them. Example: {'step': 1}.
    """

    model_id: str
    seq_id: int
    forward_input: ForwardBackwardInput
    tensor_transport: str | Unset = UNSET
    metadata: RequestMetadata | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        seq_id = self.seq_id

        forward_input = self.forward_input.to_dict()

        tensor_transport = self.tensor_transport

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_id": model_id,
                "seq_id": seq_id,
                "forward_input": forward_input,
            }
        )
        if tensor_transport is not UNSET:
            field_dict["tensor_transport"] = tensor_transport
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.forward_backward_input import ForwardBackwardInput
        from ..models.request_metadata import RequestMetadata

        d = dict(src_dict)
        model_id = d.pop("model_id")

        seq_id = d.pop("seq_id")

        forward_input = ForwardBackwardInput.from_dict(d.pop("forward_input"))

        tensor_transport = d.pop("tensor_transport", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: RequestMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = RequestMetadata.from_dict(_metadata)

        forward_payload = cls(
            model_id=model_id,
            seq_id=seq_id,
            forward_input=forward_input,
            tensor_transport=tensor_transport,
            metadata=metadata,
        )

        return forward_payload
