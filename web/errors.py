"""Errors of the web views as values a person can read, and which failures mean a store is down.

Every API error is answered as ``{"error": {"code": ..., "message": ...}}``; pages show the
message in words. Nothing below ever puts a traceback in front of a user.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import elastic_transport
from aiokafka.errors import KafkaError


class ApiError(Exception):
    """A request that cannot be answered as asked: the HTTP status, a code and a message."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


class StoreUnavailable(Exception):
    """A store the request needs did not answer; the message names it."""


def store_down(exc: BaseException) -> bool:
    """Whether ``exc`` means a store (PostgreSQL, Elasticsearch, S3, Kafka) is down or failing,
    as opposed to a bug: the answer is then 503, and the request may be retried."""
    if isinstance(exc, StoreUnavailable | OSError | TimeoutError | KafkaError):
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection" in str(exc) or "pool" in str(exc)
    if isinstance(exc, elastic_transport.ApiError):
        return int(getattr(exc.meta, "status", 0) or 0) >= 500
    return isinstance(exc, elastic_transport.TransportError)


def unavailable(exc: BaseException) -> ApiError:
    detail = str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__
    return ApiError(
        503, "store_unavailable", f"a store this request needs is not answering ({detail}); "
        "try again shortly", {"Retry-After": "5"},
    )  # fmt: skip
