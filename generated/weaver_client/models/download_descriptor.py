from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.artifact_kind import ArtifactKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.download_file import DownloadFile


T = TypeVar("T", bound="DownloadDescriptor")


@_attrs_define
class DownloadDescriptor:
    """
    Example:
        {'artifact_id': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'kind': 'hf_adapter', 'total_bytes': 65784, 'files':
            [{'name': 'adapter_model.safetensors', 'size': 65784, 'sha256':
            '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'url': 'http://127.0.0.1:8080/storage/artifa
            cts/7c9e6679-7425-40de-944b-e07fc1f90ae7/adapter_model.safetensors?expires=1764410520&signature=3b4c',
            'url_expires_at': '2026-11-29T11:02:00Z'}]}

    Attributes:
        artifact_id (UUID):  Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        kind (ArtifactKind): `hf_adapter`: a LoRA adapter in PEFT layout (`adapter_model.safetensors`
            and `adapter_config.json`). `hf_model`: full weights in safetensors
            with `config.json`, sharded with `model.safetensors.index.json` when
            large; for LoRA, the adapter merged into the base weights.
             Example: hf_adapter.
        files (list[DownloadFile]):
        total_bytes (int | None | Unset): The sum of the files' sizes, when all are known. Example: 65784.
    """

    artifact_id: UUID
    kind: ArtifactKind
    files: list[DownloadFile]
    total_bytes: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        artifact_id = str(self.artifact_id)

        kind = self.kind.value

        files = []
        for files_item_data in self.files:
            files_item = files_item_data.to_dict()
            files.append(files_item)

        total_bytes: int | None | Unset
        if isinstance(self.total_bytes, Unset):
            total_bytes = UNSET
        else:
            total_bytes = self.total_bytes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "artifact_id": artifact_id,
                "kind": kind,
                "files": files,
            }
        )
        if total_bytes is not UNSET:
            field_dict["total_bytes"] = total_bytes

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.download_file import DownloadFile

        d = dict(src_dict)
        artifact_id = UUID(d.pop("artifact_id"))

        kind = ArtifactKind(d.pop("kind"))

        files = []
        _files = d.pop("files")
        for files_item_data in _files:
            files_item = DownloadFile.from_dict(files_item_data)

            files.append(files_item)

        def _parse_total_bytes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        total_bytes = _parse_total_bytes(d.pop("total_bytes", UNSET))

        download_descriptor = cls(
            artifact_id=artifact_id,
            kind=kind,
            files=files,
            total_bytes=total_bytes,
        )

        download_descriptor.additional_properties = d
        return download_descriptor

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
