from __future__ import annotations

from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.manifest_file import ManifestFile


T = TypeVar("T", bound="ArtifactManifest")


@_attrs_define
class ArtifactManifest:
    """
    Example:
        {'format_version': 1, 'files': [{'name': 'adapter_config.json', 'size': 312, 'sha256':
            '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}, {'name': 'adapter_model.safetensors',
            'size': 65784, 'sha256': '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}]}

    Attributes:
        format_version (Literal[1]):
        files (list[ManifestFile]):
    """

    format_version: Literal[1]
    files: list[ManifestFile]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        format_version = self.format_version

        files = []
        for files_item_data in self.files:
            files_item = files_item_data.to_dict()
            files.append(files_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "format_version": format_version,
                "files": files,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.manifest_file import ManifestFile

        d = dict(src_dict)
        format_version = cast(Literal[1], d.pop("format_version"))
        if format_version != 1:
            raise ValueError(
                f"format_version must match const 1, got '{format_version}'"
            )

        files = []
        _files = d.pop("files")
        for files_item_data in _files:
            files_item = ManifestFile.from_dict(files_item_data)

            files.append(files_item)

        artifact_manifest = cls(
            format_version=format_version,
            files=files,
        )

        artifact_manifest.additional_properties = d
        return artifact_manifest

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
