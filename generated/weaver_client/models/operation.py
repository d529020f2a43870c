from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.operation_kind import OperationKind
from ..models.operation_status import OperationStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.operation_error_details import OperationErrorDetails
    from ..models.operation_metadata import OperationMetadata
    from ..models.operation_result import OperationResult
    from ..models.pending_info import PendingInfo


T = TypeVar("T", bound="Operation")


@_attrs_define
class Operation:
    """
    Example:
        {'id': 'op-3a9d', 'status': 'pending', 'pending_info': {'code': 'waiting_for_scheduling', 'message': 'queued
            behind 2 operations of model m-1', 'wait_seconds': 0.4}, 'kind': 'save_checkpoint', 'model_id': 'm-1',
            'created_at': '2026-11-29T10:01:00Z', 'updated_at': '2026-11-29T10:01:00Z'}

    Attributes:
        id (str): A server-assigned id of a session, model or operation. It never contains `/`. Example: m-1.
        status (OperationStatus): Only `done` and `error` are terminal. Example: pending.
        response (None | OperationResult | Unset): The result, once `done`.
        error (None | str | Unset): Legacy error code string.
        error_code (None | str | Unset):
        error_message (None | str | Unset):
        error_details (None | OperationErrorDetails | Unset):
        retryable (bool | None | Unset):
        pending_info (None | PendingInfo | Unset): Present only while pending.
        kind (OperationKind | Unset): Never `hf_model` or `hf_adapter`, which mark an Artifact reply of the export
            routes. Example: save_checkpoint.
        metadata (None | OperationMetadata | Unset): Progress while running, such as an export's `conversion_progress`.
        model_id (str | Unset): A server-assigned id of a session, model or operation. It never contains `/`. Example:
            m-1.
        created_at (datetime.datetime | Unset):  Example: 2026-11-29T10:01:00Z.
        updated_at (datetime.datetime | Unset):  Example: 2026-11-29T10:01:01Z.
        revision (str | Unset): Opaque; changes whenever `status` or `pending_info` changes, except
            `pending_info.wait_seconds`, which may change as time passes. Sent back as `seen_revision` to long-poll for the
            next change. Example: r-5d41402a.
    """

    id: str
    status: OperationStatus
    response: None | OperationResult | Unset = UNSET
    error: None | str | Unset = UNSET
    error_code: None | str | Unset = UNSET
    error_message: None | str | Unset = UNSET
    error_details: None | OperationErrorDetails | Unset = UNSET
    retryable: bool | None | Unset = UNSET
    pending_info: None | PendingInfo | Unset = UNSET
    kind: OperationKind | Unset = UNSET
    metadata: None | OperationMetadata | Unset = UNSET
    model_id: str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    revision: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.operation_error_details import OperationErrorDetails
        from ..models.operation_metadata import OperationMetadata
        from ..models.operation_result import OperationResult
        from ..models.pending_info import PendingInfo

        id = self.id

        status = self.status.value

        response: dict[str, Any] | None | Unset
        if isinstance(self.response, Unset):
            response = UNSET
        elif isinstance(self.response, OperationResult):
            response = self.response.to_dict()
        else:
            response = self.response

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        error_code: None | str | Unset
        if isinstance(self.error_code, Unset):
            error_code = UNSET
        else:
            error_code = self.error_code

        error_message: None | str | Unset
        if isinstance(self.error_message, Unset):
            error_message = UNSET
        else:
            error_message = self.error_message

        error_details: dict[str, Any] | None | Unset
        if isinstance(self.error_details, Unset):
            error_details = UNSET
        elif isinstance(self.error_details, OperationErrorDetails):
            error_details = self.error_details.to_dict()
        else:
            error_details = self.error_details

        retryable: bool | None | Unset
        if isinstance(self.retryable, Unset):
            retryable = UNSET
        else:
            retryable = self.retryable

        pending_info: dict[str, Any] | None | Unset
        if isinstance(self.pending_info, Unset):
            pending_info = UNSET
        elif isinstance(self.pending_info, PendingInfo):
            pending_info = self.pending_info.to_dict()
        else:
            pending_info = self.pending_info

        kind: str | Unset = UNSET
        if not isinstance(self.kind, Unset):
            kind = self.kind.value

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, OperationMetadata):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        model_id = self.model_id

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        revision = self.revision

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
            }
        )
        if response is not UNSET:
            field_dict["response"] = response
        if error is not UNSET:
            field_dict["error"] = error
        if error_code is not UNSET:
            field_dict["error_code"] = error_code
        if error_message is not UNSET:
            field_dict["error_message"] = error_message
        if error_details is not UNSET:
            field_dict["error_details"] = error_details
        if retryable is not UNSET:
            field_dict["retryable"] = retryable
        if pending_info is not UNSET:
            field_dict["pending_info"] = pending_info
        if kind is not UNSET:
            field_dict["kind"] = kind
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if model_id is not UNSET:
            field_dict["model_id"] = model_id
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if revision is not UNSET:
            field_dict["revision"] = revision

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.operation_error_details import OperationErrorDetails
        from ..models.operation_metadata import OperationMetadata
        from ..models.operation_result import OperationResult
        from ..models.pending_info import PendingInfo

        d = dict(src_dict)
        id = d.pop("id")

        status = OperationStatus(d.pop("status"))

        def _parse_response(data: object) -> None | OperationResult | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_type_0 = OperationResult.from_dict(data)

                return response_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OperationResult | Unset, data)

        response = _parse_response(d.pop("response", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_error_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_code = _parse_error_code(d.pop("error_code", UNSET))

        def _parse_error_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_message = _parse_error_message(d.pop("error_message", UNSET))

        def _parse_error_details(data: object) -> None | OperationErrorDetails | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_details_type_0 = OperationErrorDetails.from_dict(data)

                return error_details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OperationErrorDetails | Unset, data)

        error_details = _parse_error_details(d.pop("error_details", UNSET))

        def _parse_retryable(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        retryable = _parse_retryable(d.pop("retryable", UNSET))

        def _parse_pending_info(data: object) -> None | PendingInfo | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                pending_info_type_0 = PendingInfo.from_dict(data)

                return pending_info_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PendingInfo | Unset, data)

        pending_info = _parse_pending_info(d.pop("pending_info", UNSET))

        _kind = d.pop("kind", UNSET)
        kind: OperationKind | Unset
        if isinstance(_kind, Unset):
            kind = UNSET
        else:
            kind = OperationKind(_kind)

        def _parse_metadata(data: object) -> None | OperationMetadata | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = OperationMetadata.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OperationMetadata | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        model_id = d.pop("model_id", UNSET)

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

        revision = d.pop("revision", UNSET)

        operation = cls(
            id=id,
            status=status,
            response=response,
            error=error,
            error_code=error_code,
            error_message=error_message,
            error_details=error_details,
            retryable=retryable,
            pending_info=pending_info,
            kind=kind,
            metadata=metadata,
            model_id=model_id,
            created_at=created_at,
            updated_at=updated_at,
            revision=revision,
        )

        operation.additional_properties = d
        return operation

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
