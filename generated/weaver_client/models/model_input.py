from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.encoded_text_chunk import EncodedTextChunk


T = TypeVar("T", bound="ModelInput")


@_attrs_define
class ModelInput:
    """One sequence: its chunks' tokens in order. The wire sets no bound on the number of chunks or tokens: the server
    decides it, and refuses a sequence longer than the base model's context (its `max_sequence_length` in SupportedModel
    `config`, where stated) with 400 `invalid_request`.

        Example:
            {'chunks': [{'type': 'encoded_text', 'tokens': [10, 11, 12]}]}

        Attributes:
            chunks (list[EncodedTextChunk]):
    """

    chunks: list[EncodedTextChunk]

    def to_dict(self) -> dict[str, Any]:
        chunks = []
        for chunks_item_data in self.chunks:
            chunks_item = chunks_item_data.to_dict()
            chunks.append(chunks_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "chunks": chunks,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.encoded_text_chunk import EncodedTextChunk

        d = dict(src_dict)
        chunks = []
        _chunks = d.pop("chunks")
        for chunks_item_data in _chunks:
            chunks_item = EncodedTextChunk.from_dict(chunks_item_data)

            chunks.append(chunks_item)

        model_input = cls(
            chunks=chunks,
        )

        return model_input
