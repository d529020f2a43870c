from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.loss_fn_inputs import LossFnInputs
    from ..models.model_input import ModelInput
    from ..models.request_metadata import RequestMetadata


T = TypeVar("T", bound="Datum")


@_attrs_define
class Datum:
    """
    Example:
        {'model_input': {'chunks': [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}, 'loss_fn_inputs':
            {'target_tokens': {'data': [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0], 'dtype':
            'float32'}}, 'datum_id': 'd-0'}

    Attributes:
        model_input (ModelInput): One sequence: its chunks' tokens in order. The wire sets no bound on the number of
            chunks or tokens: the server decides it, and refuses a sequence longer than the base model's context (its
            `max_sequence_length` in SupportedModel `config`, where stated) with 400 `invalid_request`. Example: {'chunks':
            [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}.
        loss_fn_inputs (LossFnInputs): Per-position targets (>= 0, or -100 to ignore) and weights, one per input token.
            Example: {'target_tokens': {'data': [11, 12, 13], 'dtype': 'int64'}, 'weights': {'data': [1.0, 1.0, 1.0],
            'dtype': 'float32'}}.
        datum_id (str | Unset): At most 255 characters, the bound of Weaver's own SDK. Example: d-0.
        metadata (RequestMetadata | Unset): Free-form JSON values the official SDK may attach to a request or a datum;
            the emulator accepts and ignores them. Example: {'step': 1}.
    """

    model_input: ModelInput
    loss_fn_inputs: LossFnInputs
    datum_id: str | Unset = UNSET
    metadata: RequestMetadata | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        model_input = self.model_input.to_dict()

        loss_fn_inputs = self.loss_fn_inputs.to_dict()

        datum_id = self.datum_id

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "model_input": model_input,
                "loss_fn_inputs": loss_fn_inputs,
            }
        )
        if datum_id is not UNSET:
            field_dict["datum_id"] = datum_id
        if metadata is not UNSET:
            field_dict["metadata"] = metadata

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.loss_fn_inputs import LossFnInputs
        from ..models.model_input import ModelInput
        from ..models.request_metadata import RequestMetadata

        d = dict(src_dict)
        model_input = ModelInput.from_dict(d.pop("model_input"))

        loss_fn_inputs = LossFnInputs.from_dict(d.pop("loss_fn_inputs"))

        datum_id = d.pop("datum_id", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: RequestMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = RequestMetadata.from_dict(_metadata)

        datum = cls(
            model_input=model_input,
            loss_fn_inputs=loss_fn_inputs,
            datum_id=datum_id,
            metadata=metadata,
        )

        return datum
