"""Errors the emulator answers with, in Salesforce's shapes.

REST errors are a JSON list, ``[{"message": "…", "errorCode": "…"}]``; OAuth errors are
``{"error": "…", "error_description": "…"}``. Each carries its HTTP status.
"""

from __future__ import annotations

from typing import Any


class SalesforceError(Exception):
    """A REST API error."""

    def __init__(self, status: int, error_code: str | None, message: str) -> None:
        """`error_code` None: an answer Salesforce gives without one (410 for a retired
        version, SALESFORCE.md §4.2)."""
        super().__init__(f"{error_code or status}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> list[dict[str, Any]]:
        if self.error_code is None:
            return [{"message": self.message}]
        return [{"message": self.message, "errorCode": self.error_code}]


def invalid_session() -> SalesforceError:
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def api_disabled_for_org() -> SalesforceError:
    """REST's answer both for an org without API access and for a user whose profile lacks
    "API Enabled" (``API_CURRENTLY_DISABLED`` is the SOAP API's code for the latter)."""
    return SalesforceError(
        403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."
    )


def session_not_valid_for_rest() -> SalesforceError:
    return SalesforceError(
        401, "INVALID_SESSION_ID", "This session is not valid for use with the REST API"
    )


def request_limit_exceeded() -> SalesforceError:
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def unknown_exception() -> SalesforceError:
    return SalesforceError(
        500,
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1427349755-52512 (-1529274893)",
    )


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def malformed_query(message: str) -> SalesforceError:
    return SalesforceError(400, "MALFORMED_QUERY", message)


def invalid_query_locator() -> SalesforceError:
    return SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


def invalid_replication_date(message: str) -> SalesforceError:
    return SalesforceError(400, "INVALID_REPLICATION_DATE", message)


class OAuthError(Exception):
    """An error of the OAuth endpoints (token, revoke)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def expired_token() -> OAuthError:
    return OAuthError("invalid_grant", "expired access/refresh token")


def authentication_failure() -> OAuthError:
    return OAuthError("invalid_grant", "authentication failure")
