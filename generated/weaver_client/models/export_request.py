from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.artifact_format import ArtifactFormat
from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportRequest")


@_attrs_define
class ExportRequest:
    """The body of an export. The example holds the service's defaults.

    Example:
        {'format': 'huggingface', 'merge_adapter': False, 'ttl_seconds': 604800, 'force': False}

    Attributes:
        format_ (ArtifactFormat):  Example: huggingface.
        merge_adapter (bool | Unset): For a LoRA checkpoint, merge the adapter into the base weights (`hf_model`)
            instead of exporting it alone (`hf_adapter`). Default: False. Example: False.
        ttl_seconds (int | None | Unset): Seconds from the export until the artifact expires; `null` follows the
            checkpoint's retention. Example: 604800.
        force (bool | Unset): Replace an existing artifact of the same kind instead of answering 200 with it. Default:
            False. Example: False.
    """

    format_: ArtifactFormat
    merge_adapter: bool | Unset = False
    ttl_seconds: int | None | Unset = UNSET
    force: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        format_ = self.format_.value

        merge_adapter = self.merge_adapter

        ttl_seconds: int | None | Unset
        if isinstance(self.ttl_seconds, Unset):
            ttl_seconds = UNSET
        else:
            ttl_seconds = self.ttl_seconds

        force = self.force

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
        if force is not UNSET:
            field_dict["force"] = force

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

        force = d.pop("force", UNSET)

        export_request = cls(
            format_=format_,
            merge_adapter=merge_adapter,
            ttl_seconds=ttl_seconds,
            force=force,
        )

        return export_request
