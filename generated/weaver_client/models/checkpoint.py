from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.checkpoint_status import CheckpointStatus
from ..models.checkpoint_type import CheckpointType
from ..types import UNSET, Unset

T = TypeVar("T", bound="Checkpoint")


@_attrs_define
class Checkpoint:
    """
    Example:
        {'id': '0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09', 'name': 'after-3-steps', 'type': 'weight_and_optimizer', 'path':
            'weaver://m-1/checkpoints/after-3-steps', 'status': 'completed', 'ttl_seconds': None, 'created_at':
            '2026-11-29T10:01:00Z', 'expires_at': None, 'train_unembed': True, 'train_mlp': True, 'train_attn': True,
            'model_id': 'm-1', 'size_bytes': 41232, 'sha256':
            '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'}

    Attributes:
        id (UUID):  Example: 0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09.
        name (str): A checkpoint's name as a server reports it: any non-empty string without `/`
            (the separator of its path) or control characters, other than the dot segments
            `.` and `..`. The wire says only `"name"?: str`, so a checkpoint saved by another
            client or named by the server (`epoch 2`) may fall outside CheckpointName, which
            binds only the names a save sends.
             Example: epoch 2.
        type_ (CheckpointType): `weight` saves the trainable weights; `weight_and_optimizer` also
            saves the Adam moments and step, and is the only type that can be
            resumed with the optimizer; `sampling` saves weights for sampling and
            expires after 3600 s by default.
             Example: weight_and_optimizer.
        path (str): `weaver://{model_id}/checkpoints/{name}`, `name` a StoredCheckpointName. A server answers a path it
            never made with its not-found error. Example: weaver://m-1/checkpoints/after-3-steps.
        status (CheckpointStatus): `failed` and `error` both mean the save failed: the wire sheet says
            `failed`, and the official SDK treats `error` (the artifact's word) the
            same way, so a server may send either.
             Example: completed.
        ttl_seconds (int | None): Seconds from now until the checkpoint expires; `null` means permanent. Example: 86400.
        created_at (datetime.datetime):  Example: 2026-11-29T10:01:00Z.
        expires_at (datetime.datetime | None): `null` for a permanent checkpoint.
        train_unembed (bool):  Example: True.
        train_mlp (bool):  Example: True.
        train_attn (bool):  Example: True.
        model_id (str | Unset): A server-assigned id of a session, model or operation. It never contains `/`. Example:
            m-1.
        size_bytes (int | Unset): Total size of the checkpoint's files, once completed. Example: 41232.
        sha256 (str | Unset): SHA-256 over the checkpoint's files, recorded when the save completed. Example:
            9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.
    """

    id: UUID
    name: str
    type_: CheckpointType
    path: str
    status: CheckpointStatus
    ttl_seconds: int | None
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    train_unembed: bool
    train_mlp: bool
    train_attn: bool
    model_id: str | Unset = UNSET
    size_bytes: int | Unset = UNSET
    sha256: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        type_ = self.type_.value

        path = self.path

        status = self.status.value

        ttl_seconds: int | None
        ttl_seconds = self.ttl_seconds

        created_at = self.created_at.isoformat()

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        train_unembed = self.train_unembed

        train_mlp = self.train_mlp

        train_attn = self.train_attn

        model_id = self.model_id

        size_bytes = self.size_bytes

        sha256 = self.sha256

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "type": type_,
                "path": path,
                "status": status,
                "ttl_seconds": ttl_seconds,
                "created_at": created_at,
                "expires_at": expires_at,
                "train_unembed": train_unembed,
                "train_mlp": train_mlp,
                "train_attn": train_attn,
            }
        )
        if model_id is not UNSET:
            field_dict["model_id"] = model_id
        if size_bytes is not UNSET:
            field_dict["size_bytes"] = size_bytes
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        type_ = CheckpointType(d.pop("type"))

        path = d.pop("path")

        status = CheckpointStatus(d.pop("status"))

        def _parse_ttl_seconds(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expires_at"))

        train_unembed = d.pop("train_unembed")

        train_mlp = d.pop("train_mlp")

        train_attn = d.pop("train_attn")

        model_id = d.pop("model_id", UNSET)

        size_bytes = d.pop("size_bytes", UNSET)

        sha256 = d.pop("sha256", UNSET)

        checkpoint = cls(
            id=id,
            name=name,
            type_=type_,
            path=path,
            status=status,
            ttl_seconds=ttl_seconds,
            created_at=created_at,
            expires_at=expires_at,
            train_unembed=train_unembed,
            train_mlp=train_mlp,
            train_attn=train_attn,
            model_id=model_id,
            size_bytes=size_bytes,
            sha256=sha256,
        )

        checkpoint.additional_properties = d
        return checkpoint

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
