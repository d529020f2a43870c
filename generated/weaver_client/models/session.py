from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.metadata import Metadata


T = TypeVar("T", bound="Session")


@_attrs_define
class Session:
    """
    Example:
        {'id': 's-8c1f2e', 'tags': ['demo'], 'user_metadata': {'experiment': 'resume-demo'}, 'sdk_version': 'weaver-
            facade/0.1.0', 'created_at': '2026-11-29T10:00:00Z', 'updated_at': '2026-11-29T10:00:30Z'}

    Attributes:
        id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
        tags (list[str]):  Example: ['demo'].
        user_metadata (Metadata): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
        sdk_version (None | str):  Example: weaver-facade/0.1.0.
        created_at (datetime.datetime):  Example: 2026-11-29T10:00:00Z.
        updated_at (datetime.datetime):  Example: 2026-11-29T10:00:30Z.
    """

    id: str
    tags: list[str]
    user_metadata: Metadata
    sdk_version: None | str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        tags = self.tags

        user_metadata = self.user_metadata.to_dict()

        sdk_version: None | str
        sdk_version = self.sdk_version

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "tags": tags,
                "user_metadata": user_metadata,
                "sdk_version": sdk_version,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.metadata import Metadata

        d = dict(src_dict)
        id = d.pop("id")

        tags = cast(list[str], d.pop("tags"))

        user_metadata = Metadata.from_dict(d.pop("user_metadata"))

        def _parse_sdk_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        sdk_version = _parse_sdk_version(d.pop("sdk_version"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        session = cls(
            id=id,
            tags=tags,
            user_metadata=user_metadata,
            sdk_version=sdk_version,
            created_at=created_at,
            updated_at=updated_at,
        )

        session.additional_properties = d
        return session

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
