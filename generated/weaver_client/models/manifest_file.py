from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ManifestFile")


@_attrs_define
class ManifestFile:
    """
    Example:
        {'name': 'adapter_model.safetensors', 'size': 65784, 'sha256':
            '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}

    Attributes:
        name (str): A relative POSIX path (`sub/x` allowed), as the wire sheet has it: no
            segment is empty, `.` or `..`, or ends with `.` or a space; no `\\`, `:`
            or control character. Any other name (`.gitattributes`, `my file.json`)
            is one a server may send.
             Example: adapter_model.safetensors.
        size (int | Unset):  Example: 65784.
        sha256 (str | Unset): Lowercase hex SHA-256. Example:
            9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.
    """

    name: str
    size: int | Unset = UNSET
    sha256: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        size = self.size

        sha256 = self.sha256

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
            }
        )
        if size is not UNSET:
            field_dict["size"] = size
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        size = d.pop("size", UNSET)

        sha256 = d.pop("sha256", UNSET)

        manifest_file = cls(
            name=name,
            size=size,
            sha256=sha256,
        )

        manifest_file.additional_properties = d
        return manifest_file

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
