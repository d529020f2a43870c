from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.metadata import Metadata


T = TypeVar("T", bound="CreateSessionRequest")


@_attrs_define
class CreateSessionRequest:
    """
    Example:
        {'tags': ['demo'], 'user_metadata': {'experiment': 'resume-demo'}, 'sdk_version': 'weaver-facade/0.1.0'}

    Attributes:
        tags (list[str] | Unset):  Example: ['demo'].
        user_metadata (Metadata | Unset): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
        sdk_version (str | Unset):  Example: weaver-facade/0.1.0.
        name (str | Unset):  Example: nightly-run.
        labels (Metadata | Unset): Free string labels chosen by the user. Example: {'experiment': 'resume-demo'}.
        organization_id (str | Unset):  Example: org-1.
        project_id (str | Unset):  Example: proj-1.
    """

    tags: list[str] | Unset = UNSET
    user_metadata: Metadata | Unset = UNSET
    sdk_version: str | Unset = UNSET
    name: str | Unset = UNSET
    labels: Metadata | Unset = UNSET
    organization_id: str | Unset = UNSET
    project_id: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        user_metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.user_metadata, Unset):
            user_metadata = self.user_metadata.to_dict()

        sdk_version = self.sdk_version

        name = self.name

        labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels.to_dict()

        organization_id = self.organization_id

        project_id = self.project_id

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if tags is not UNSET:
            field_dict["tags"] = tags
        if user_metadata is not UNSET:
            field_dict["user_metadata"] = user_metadata
        if sdk_version is not UNSET:
            field_dict["sdk_version"] = sdk_version
        if name is not UNSET:
            field_dict["name"] = name
        if labels is not UNSET:
            field_dict["labels"] = labels
        if organization_id is not UNSET:
            field_dict["organization_id"] = organization_id
        if project_id is not UNSET:
            field_dict["project_id"] = project_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.metadata import Metadata

        d = dict(src_dict)
        tags = cast(list[str], d.pop("tags", UNSET))

        _user_metadata = d.pop("user_metadata", UNSET)
        user_metadata: Metadata | Unset
        if isinstance(_user_metadata, Unset):
            user_metadata = UNSET
        else:
            user_metadata = Metadata.from_dict(_user_metadata)

        sdk_version = d.pop("sdk_version", UNSET)

        name = d.pop("name", UNSET)

        _labels = d.pop("labels", UNSET)
        labels: Metadata | Unset
        if isinstance(_labels, Unset):
            labels = UNSET
        else:
            labels = Metadata.from_dict(_labels)

        organization_id = d.pop("organization_id", UNSET)

        project_id = d.pop("project_id", UNSET)

        create_session_request = cls(
            tags=tags,
            user_metadata=user_metadata,
            sdk_version=sdk_version,
            name=name,
            labels=labels,
            organization_id=organization_id,
            project_id=project_id,
        )

        return create_session_request
