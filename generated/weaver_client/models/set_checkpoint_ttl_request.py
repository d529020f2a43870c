from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="SetCheckpointTtlRequest")


@_attrs_define
class SetCheckpointTtlRequest:
    """
    Example:
        {'path': 'weaver://m-1/checkpoints/after-3-steps', 'ttl_seconds': 86400}

    Attributes:
        path (str): `weaver://{model_id}/checkpoints/{name}`, `name` a StoredCheckpointName. A server answers a path it
            never made with its not-found error. Example: weaver://m-1/checkpoints/after-3-steps.
        ttl_seconds (int | None): Seconds from now until the checkpoint expires; `null` means permanent. Example: 86400.
    """

    path: str
    ttl_seconds: int | None

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        ttl_seconds: int | None
        ttl_seconds = self.ttl_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "path": path,
                "ttl_seconds": ttl_seconds,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        path = d.pop("path")

        def _parse_ttl_seconds(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds"))

        set_checkpoint_ttl_request = cls(
            path=path,
            ttl_seconds=ttl_seconds,
        )

        return set_checkpoint_ttl_request
