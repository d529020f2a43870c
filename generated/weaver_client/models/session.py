from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.metadata import Metadata


T = TypeVar("T", bound="Session")


@_attrs_define
class Session:
    """The real service sends every field below, and promises clients only `id`
    (the one field the official SDK reads): a client must not depend on the others.

        Example:
            {'id': 's-8c1f2e', 'tags': ['demo'], 'user_metadata': {'experiment': 'resume-demo'}, 'sdk_version': 'weaver-
                facade/0.1.0', 'created_at': '2026-11-29T10:00:00Z', 'updated_at': '2026-11-29T10:00:30Z'}

        Attributes:
            id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
            tags (list[str] | Unset):  Example: ['demo'].
            user_metadata (Metadata | Unset): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
            sdk_version (None | str | Unset):  Example: weaver-facade/0.1.0.
            created_at (datetime.datetime | Unset):  Example: 2026-11-29T10:00:00Z.
            updated_at (datetime.datetime | Unset):  Example: 2026-11-29T10:00:30Z.
    """

    id: str
    tags: list[str] | Unset = UNSET
    user_metadata: Metadata | Unset = UNSET
    sdk_version: None | str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        user_metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.user_metadata, Unset):
            user_metadata = self.user_metadata.to_dict()

        sdk_version: None | str | Unset
        if isinstance(self.sdk_version, Unset):
            sdk_version = UNSET
        else:
            sdk_version = self.sdk_version

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if tags is not UNSET:
            field_dict["tags"] = tags
        if user_metadata is not UNSET:
            field_dict["user_metadata"] = user_metadata
        if sdk_version is not UNSET:
            field_dict["sdk_version"] = sdk_version
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.metadata import Metadata

        d = dict(src_dict)
        id = d.pop("id")

        tags = cast(list[str], d.pop("tags", UNSET))

        _user_metadata = d.pop("user_metadata", UNSET)
        user_metadata: Metadata | Unset
        if isinstance(_user_metadata, Unset):
            user_metadata = UNSET
        else:
            user_metadata = Metadata.from_dict(_user_metadata)

        def _parse_sdk_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sdk_version = _parse_sdk_version(d.pop("sdk_version", UNSET))

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        _updated_at = d.pop("updated_at", UNSET)
        updated_at: datetime.datetime | Unset
        if isinstance(_updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = datetime.datetime.fromisoformat(_updated_at)

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
