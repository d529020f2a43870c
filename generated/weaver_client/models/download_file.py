from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DownloadFile")


@_attrs_define
class DownloadFile:
    """One file of a DownloadDescriptor. Without `size` and `sha256`, nothing can be verified or skipped.

    Example:
        {'name': 'adapter_model.safetensors', 'size': 65784, 'sha256':
            '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'url': 'http://127.0.0.1:8080/storage/artifa
            cts/7c9e6679-7425-40de-944b-e07fc1f90ae7/adapter_model.safetensors?expires=1764410520&signature=3b4c',
            'url_expires_at': '2026-11-29T11:02:00Z'}

    Attributes:
        name (str): A relative POSIX path (`sub/x` allowed), as the wire sheet has it: no
            segment is empty, `.` or `..`, or ends with `.` or a space; no `\\`, `:`
            or control character. Any other name (`.gitattributes`, `my file.json`)
            is one a server may send.
             Example: adapter_model.safetensors.
        url (str): An absolute presigned storage URL on any host. Fetch it without
            the API key, following redirects; it honours `Range: bytes=N-`.
             Example: http://127.0.0.1:8080/storage/artifacts/7c9e6679-7425-40de-944b-
            e07fc1f90ae7/adapter_model.safetensors?expires=1764410520&signature=3b4c.
        size (int | Unset):  Example: 65784.
        sha256 (str | Unset): Lowercase hex SHA-256. Example:
            9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.
        url_expires_at (datetime.datetime | None | Unset): When `url` stops working; `null` if unknown. Example:
            2026-11-29T11:02:00Z.
    """

    name: str
    url: str
    size: int | Unset = UNSET
    sha256: str | Unset = UNSET
    url_expires_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        url = self.url

        size = self.size

        sha256 = self.sha256

        url_expires_at: None | str | Unset
        if isinstance(self.url_expires_at, Unset):
            url_expires_at = UNSET
        elif isinstance(self.url_expires_at, datetime.datetime):
            url_expires_at = self.url_expires_at.isoformat()
        else:
            url_expires_at = self.url_expires_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "url": url,
            }
        )
        if size is not UNSET:
            field_dict["size"] = size
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256
        if url_expires_at is not UNSET:
            field_dict["url_expires_at"] = url_expires_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        url = d.pop("url")

        size = d.pop("size", UNSET)

        sha256 = d.pop("sha256", UNSET)

        def _parse_url_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                url_expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return url_expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        url_expires_at = _parse_url_expires_at(d.pop("url_expires_at", UNSET))

        download_file = cls(
            name=name,
            url=url,
            size=size,
            sha256=sha256,
            url_expires_at=url_expires_at,
        )

        download_file.additional_properties = d
        return download_file

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
