"""The one place where errors become the API's JSON error shape."""

from __future__ import annotations

import logging

import pymongo.errors
from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import (
    ApiError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    StoreUnavailableError,
    TooManyRequestsError,
)
from .store import StoreError

log = logging.getLogger(__name__)


def error_response(error: ApiError) -> web.Response:
    response = web.json_response(error.as_body(), status=error.status)
    if isinstance(error, TooManyRequestsError):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowedError):
        response.headers["Allow"] = error.allow
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="timetrail"'
    return response


def _from_http(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return NotFoundError("No such path.")
    if exc.status == 405:
        return MethodNotAllowedError(allow=exc.headers.get("Allow", ""))
    if exc.status == 413:
        return PayloadTooLargeError("The request body is too large.")
    error = ApiError(exc.reason or "Request failed.", code="http_error")
    error.status = exc.status
    return error


@web.middleware
async def errors_to_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc))
    except (StoreError, pymongo.errors.ConnectionFailure) as exc:
        log.error("Store unavailable during %s %s: %s", request.method, request.path, exc)
        return error_response(StoreUnavailableError("The database is not reachable right now."))
    except Exception:
        log.exception("Unhandled error during %s %s", request.method, request.path)
        return error_response(ApiError("Something went wrong on the server; it was logged."))
