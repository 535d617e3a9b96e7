"""Domain errors. Each carries its HTTP status and a stable machine code (API.md)."""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequestError(ApiError):
    status = 400
    code = "invalid_request"


class UnauthorizedError(ApiError):
    status = 401
    code = "unauthorized"


class InvalidCredentialsError(ApiError):
    status = 401
    code = "invalid_credentials"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowedError(ApiError):
    """405; `allow` lists the path's methods, sent as the `Allow` header."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, *, allow: str) -> None:
        super().__init__("This method is not allowed on this path.")
        self.allow = allow


class ConflictError(ApiError):
    """409; the code names the conflict (`email_taken`, `task_archived`, …)."""

    status = 409
    code = "conflict"


class UnprocessableError(ApiError):
    """422: well formed, but cannot be done as asked (an idempotency key reused for another
    request)."""

    status = 422
    code = "unprocessable"


class RequestTimeoutError(ApiError):
    status = 408
    code = "request_timeout"


class PayloadTooLargeError(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequestsError(ApiError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailableError(ApiError):
    status = 503
    code = "store_unavailable"


class SalesforceUnavailableError(ApiError):
    status = 502
    code = "salesforce_unavailable"
