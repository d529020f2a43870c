from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.artifact_format import ArtifactFormat
from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportModelRequest")


@_attrs_define
class ExportModelRequest:
    """The body of `export-hf`, an ExportRequest without `force`.

    Example:
        {'format': 'huggingface', 'merge_adapter': True, 'ttl_seconds': None}

    Attributes:
        format_ (ArtifactFormat):  Example: huggingface.
        merge_adapter (bool | Unset): For a LoRA model, merge the adapter into the base weights (`hf_model`) instead of
            exporting it alone (`hf_adapter`). Default: False. Example: False.
        ttl_seconds (int | None | Unset): Seconds from the export until the artifact expires; `null` follows the
            checkpoint's retention. Example: 604800.
    """

    format_: ArtifactFormat
    merge_adapter: bool | Unset = False
    ttl_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        format_ = self.format_.value

        merge_adapter = self.merge_adapter

        ttl_seconds: int | None | Unset
        if isinstance(self.ttl_seconds, Unset):
            ttl_seconds = UNSET
        else:
            ttl_seconds = self.ttl_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "format": format_,
            }
        )
        if merge_adapter is not UNSET:
            field_dict["merge_adapter"] = merge_adapter
        if ttl_seconds is not UNSET:
            field_dict["ttl_seconds"] = ttl_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        format_ = ArtifactFormat(d.pop("format"))

        merge_adapter = d.pop("merge_adapter", UNSET)

        def _parse_ttl_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds", UNSET))

        export_model_request = cls(
            format_=format_,
            merge_adapter=merge_adapter,
            ttl_seconds=ttl_seconds,
        )

        return export_model_request
