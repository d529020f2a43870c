from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.artifact_kind import ArtifactKind
from ..models.artifact_status import ArtifactStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.artifact_manifest import ArtifactManifest


T = TypeVar("T", bound="Artifact")


@_attrs_define
class Artifact:
    """A checkpoint's weights converted to Hugging Face layout. It lives
    independently of its checkpoint (deleting the checkpoint leaves it);
    its TTL is fixed at export.

        Example:
            {'id': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'checkpoint_id': '0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09',
                'model_id': 'm-1', 'kind': 'hf_adapter', 'status': 'completed', 'uri':
                'weaver://m-1/checkpoints/after-3-steps/artifacts/hf_adapter', 'size_bytes': 66096, 'manifest':
                {'format_version': 1, 'files': [{'name': 'adapter_config.json', 'size': 312, 'sha256':
                '2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'}, {'name': 'adapter_model.safetensors',
                'size': 65784, 'sha256': '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}]}, 'error': None,
                'ttl_seconds': 604800, 'expires_at': '2026-12-06T10:02:00Z', 'created_at': '2026-11-29T10:02:00Z', 'updated_at':
                '2026-11-29T10:02:01Z'}

        Attributes:
            id (UUID):  Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
            checkpoint_id (UUID):  Example: 0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09.
            model_id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
            kind (ArtifactKind): `hf_adapter`: a LoRA adapter in PEFT layout (`adapter_model.safetensors`
                and `adapter_config.json`). `hf_model`: full weights in safetensors
                with `config.json`, sharded with `model.safetensors.index.json` when
                large; for LoRA, the adapter merged into the base weights.
                 Example: hf_adapter.
            uri (str): `weaver://{model_id}/checkpoints/{name}/artifacts/{kind}` Example:
                weaver://m-1/checkpoints/after-3-steps/artifacts/hf_adapter.
            status (ArtifactStatus | Unset): Only `completed` artifacts can be downloaded. Example: completed.
            size_bytes (int | None | Unset): Total size of the files, once completed. Example: 66096.
            manifest (ArtifactManifest | None | Unset): The files, once completed.
            error (None | str | Unset): Why the export failed, for status `error`.
            ttl_seconds (int | None | Unset): Seconds from the export until the artifact expires; `null` follows the
                checkpoint's retention. Example: 604800.
            expires_at (datetime.datetime | None | Unset): `null` when the artifact does not expire. Example:
                2026-12-06T10:02:00Z.
            created_at (datetime.datetime | Unset):  Example: 2026-11-29T10:02:00Z.
            updated_at (datetime.datetime | Unset):  Example: 2026-11-29T10:02:01Z.
    """

    id: UUID
    checkpoint_id: UUID
    model_id: str
    kind: ArtifactKind
    uri: str
    status: ArtifactStatus | Unset = UNSET
    size_bytes: int | None | Unset = UNSET
    manifest: ArtifactManifest | None | Unset = UNSET
    error: None | str | Unset = UNSET
    ttl_seconds: int | None | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.artifact_manifest import ArtifactManifest

        id = str(self.id)

        checkpoint_id = str(self.checkpoint_id)

        model_id = self.model_id

        kind = self.kind.value

        uri = self.uri

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        size_bytes: int | None | Unset
        if isinstance(self.size_bytes, Unset):
            size_bytes = UNSET
        else:
            size_bytes = self.size_bytes

        manifest: dict[str, Any] | None | Unset
        if isinstance(self.manifest, Unset):
            manifest = UNSET
        elif isinstance(self.manifest, ArtifactManifest):
            manifest = self.manifest.to_dict()
        else:
            manifest = self.manifest

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        ttl_seconds: int | None | Unset
        if isinstance(self.ttl_seconds, Unset):
            ttl_seconds = UNSET
        else:
            ttl_seconds = self.ttl_seconds

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

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
                "checkpoint_id": checkpoint_id,
                "model_id": model_id,
                "kind": kind,
                "uri": uri,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status
        if size_bytes is not UNSET:
            field_dict["size_bytes"] = size_bytes
        if manifest is not UNSET:
            field_dict["manifest"] = manifest
        if error is not UNSET:
            field_dict["error"] = error
        if ttl_seconds is not UNSET:
            field_dict["ttl_seconds"] = ttl_seconds
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.artifact_manifest import ArtifactManifest

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        checkpoint_id = UUID(d.pop("checkpoint_id"))

        model_id = d.pop("model_id")

        kind = ArtifactKind(d.pop("kind"))

        uri = d.pop("uri")

        _status = d.pop("status", UNSET)
        status: ArtifactStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = ArtifactStatus(_status)

        def _parse_size_bytes(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        size_bytes = _parse_size_bytes(d.pop("size_bytes", UNSET))

        def _parse_manifest(data: object) -> ArtifactManifest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                manifest_type_0 = ArtifactManifest.from_dict(data)

                return manifest_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ArtifactManifest | None | Unset, data)

        manifest = _parse_manifest(d.pop("manifest", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_ttl_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

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

        artifact = cls(
            id=id,
            checkpoint_id=checkpoint_id,
            model_id=model_id,
            kind=kind,
            uri=uri,
            status=status,
            size_bytes=size_bytes,
            manifest=manifest,
            error=error,
            ttl_seconds=ttl_seconds,
            expires_at=expires_at,
            created_at=created_at,
            updated_at=updated_at,
        )

        artifact.additional_properties = d
        return artifact

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
