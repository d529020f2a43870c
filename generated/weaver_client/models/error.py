from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_details import ErrorDetails


T = TypeVar("T", bound="Error")


@_attrs_define
class Error:
    """The body of every 4xx and 5xx reply.

    Example:
        {'error': 'not_found', 'message': 'model m-1 not found', 'retryable': False}

    Attributes:
        error (str): A stable machine-readable code, such as `not_found`. `x-weaver-codes` gives the status of each code
            of the table in the API's description (`invalid_request` may come with 422 too, as the description says); a
            server may send other codes. Example: not_found.
        message (str): A human-readable explanation that names the offending field or resource. Example: model m-1 not
            found.
        retryable (bool): Whether repeating the same request may succeed. Example: False.
        details (ErrorDetails | Unset): Structured context, such as the offending field. Example: {'field':
            'body.name'}.
        request_id (str | Unset):  Example: req-5f0c2a8e.
    """

    error: str
    message: str
    retryable: bool
    details: ErrorDetails | Unset = UNSET
    request_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        error = self.error

        message = self.message

        retryable = self.retryable

        details: dict[str, Any] | Unset = UNSET
        if not isinstance(self.details, Unset):
            details = self.details.to_dict()

        request_id = self.request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "error": error,
                "message": message,
                "retryable": retryable,
            }
        )
        if details is not UNSET:
            field_dict["details"] = details
        if request_id is not UNSET:
            field_dict["request_id"] = request_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.error_details import ErrorDetails

        d = dict(src_dict)
        error = d.pop("error")

        message = d.pop("message")

        retryable = d.pop("retryable")

        _details = d.pop("details", UNSET)
        details: ErrorDetails | Unset
        if isinstance(_details, Unset):
            details = UNSET
        else:
            details = ErrorDetails.from_dict(_details)

        request_id = d.pop("request_id", UNSET)

        error = cls(
            error=error,
            message=message,
            retryable=retryable,
            details=details,
            request_id=request_id,
        )

        error.additional_properties = d
        return error

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
