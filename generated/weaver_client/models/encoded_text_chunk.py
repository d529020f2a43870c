from __future__ import annotations

from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define

T = TypeVar("T", bound="EncodedTextChunk")


@_attrs_define
class EncodedTextChunk:
    """Token ids of one piece of the input. The wire sets no bound on their number: the server decides it (see ModelInput).

    Example:
        {'type': 'encoded_text', 'tokens': [10, 11, 12]}

    Attributes:
        type_ (Literal['encoded_text']):
        tokens (list[int]):  Example: [10, 11, 12].
    """

    type_: Literal["encoded_text"]
    tokens: list[int]

    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        tokens = self.tokens

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "type": type_,
                "tokens": tokens,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        type_ = cast(Literal["encoded_text"], d.pop("type"))
        if type_ != "encoded_text":
            raise ValueError(f"type must match const 'encoded_text', got '{type_}'")

        tokens = cast(list[int], d.pop("tokens"))

        encoded_text_chunk = cls(
            type_=type_,
            tokens=tokens,
        )

        return encoded_text_chunk
