from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pending_resources import PendingResources


T = TypeVar("T", bound="PendingInfo")


@_attrs_define
class PendingInfo:
    """Why an operation is still pending. Codes include `waiting_for_scheduling`, `waiting_for_resources` and
    `trainer_starting` (the service's), and `queued` (behind earlier operations of the same model; the official SDK's
    word for a pending operation without a code). The official SDK logs the first two as a warning at once, and any
    other code only after 30 s.

        Example:
            {'code': 'queued', 'message': 'queued behind 2 operations of model m-1', 'wait_seconds': 0.4}

        Attributes:
            code (str):  Example: queued.
            message (str | Unset): Optional, a courtesy of the server; a pending operation is no less pending without it.
                Example: queued behind 2 operations of model m-1.
            wait_seconds (float | None | Unset): Seconds. The wire does not say whether they are the time left before the
                operation starts or the time it has already waited, as the official SDK reads them (it logs the larger of this
                and its own count). Example: 0.4.
            resources (PendingResources | Unset):  Example: {'nodes': 1, 'gpus_per_node': 8, 'trainer_memory_gib_per_node':
                64}.
    """

    code: str
    message: str | Unset = UNSET
    wait_seconds: float | None | Unset = UNSET
    resources: PendingResources | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        wait_seconds: float | None | Unset
        if isinstance(self.wait_seconds, Unset):
            wait_seconds = UNSET
        else:
            wait_seconds = self.wait_seconds

        resources: dict[str, Any] | Unset = UNSET
        if not isinstance(self.resources, Unset):
            resources = self.resources.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message
        if wait_seconds is not UNSET:
            field_dict["wait_seconds"] = wait_seconds
        if resources is not UNSET:
            field_dict["resources"] = resources

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.pending_resources import PendingResources

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message", UNSET)

        def _parse_wait_seconds(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        wait_seconds = _parse_wait_seconds(d.pop("wait_seconds", UNSET))

        _resources = d.pop("resources", UNSET)
        resources: PendingResources | Unset
        if isinstance(_resources, Unset):
            resources = UNSET
        else:
            resources = PendingResources.from_dict(_resources)

        pending_info = cls(
            code=code,
            message=message,
            wait_seconds=wait_seconds,
            resources=resources,
        )

        pending_info.additional_properties = d
        return pending_info

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
