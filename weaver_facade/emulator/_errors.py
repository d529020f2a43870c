"""The error replies of the spec's table, as one exception type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ApiError", "conflict", "invalid", "not_found", "unprocessable"]


class ApiError(Exception):
    """An error reply: status, code of the spec's table, message naming the field or resource."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}

    def body(self, request_id: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.details:
            out["details"] = self.details
        if request_id:
            out["request_id"] = request_id
        return out


def invalid(field: str, problem: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {problem}", details={"field": field})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(409, code, message, details=details or None)


def unprocessable(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(422, code, message, details=details or None)
