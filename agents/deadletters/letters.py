"""Turning a failed message into a ``DeadLetter``, and a dead letter back into a message.

A replayed message carries headers with its dead letter's first failure time and attempt
count, so if it fails again the new dead letter continues that history.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from streams.failures import ProcessingError
from streams.records import DeadLetter

HEADER_FIRST_FAILED = "alpr-dlq-first-failed-ms"
HEADER_ATTEMPTS = "alpr-dlq-attempts"
HEADER_REPLAY_OF = "alpr-dlq-replay-of"

WORKER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class RecordMessage:
    """An aiokafka record in the shape of Faust's ``Message`` (timestamp in seconds), as
    :func:`dead_letter_for` and the router read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None
    headers: Sequence[tuple[str, bytes]]

    @classmethod
    def of(cls, record: ConsumerRecord) -> RecordMessage:
        stamp = record.timestamp / 1000.0 if record.timestamp is not None else None
        return cls(record.topic, record.partition, record.offset, record.key, record.value,
                   stamp, list(record.headers or ()))  # fmt: skip


def _header_map(headers: Any) -> dict[str, bytes]:
    if not headers:
        return {}
    items: Iterable[tuple[str, bytes]] = (
        headers.items() if isinstance(headers, Mapping) else headers
    )
    return {str(k): bytes(v) for k, v in items if v is not None}


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def dead_letter_for(error: ProcessingError, message: Any, now: float) -> DeadLetter:
    """The dead letter of ``message`` (a Faust ``Message``) that failed with ``error``."""
    headers = _header_map(message.headers)
    first_failed = now
    attempts = 1
    try:
        if HEADER_FIRST_FAILED in headers:
            first_failed = int(headers[HEADER_FIRST_FAILED]) / 1000.0
        if HEADER_ATTEMPTS in headers:
            attempts = int(headers[HEADER_ATTEMPTS]) + 1
    except ValueError:
        pass  # hand-made headers: start the history afresh rather than fail twice
    return DeadLetter(
        id=str(uuid.uuid4()),
        reason=error.reason.value,
        message=error.message,
        stage=error.stage.value,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        timestamp=_utc(message.timestamp) if message.timestamp else None,
        payload=message.value,
        event_id=error.event_id,
        first_failed_at=_utc(first_failed),
        failed_at=_utc(now),
        attempts=attempts,
        worker=WORKER,
    )


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """Headers of the replayed original, carrying the dead letter's history."""
    return [
        (HEADER_FIRST_FAILED, str(int(letter.first_failed_at.timestamp() * 1000)).encode()),
        (HEADER_ATTEMPTS, str(letter.attempts).encode()),
        (HEADER_REPLAY_OF, letter.id.encode()),
    ]
