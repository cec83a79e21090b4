"""Why a message failed: the reason codes and stages that dead letters carry, and the one
failure that is never a message's fault (:class:`Unavailable`)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The processing step at which a message failed."""

    DECODE = "decode"
    VALIDATE = "validate"
    DEDUPE = "dedupe"
    ENRICH = "enrich"
    EMIT = "emit"
    PROJECT = "project"


class Reason(StrEnum):
    """Machine-readable reason codes of dead letters (``DeadLetter.reason``)."""

    EMPTY_PAYLOAD = "empty_payload"
    OVERSIZED = "oversized"
    WRONG_MAGIC = "wrong_magic"
    JSON_PAYLOAD = "json_payload"
    TRUNCATED = "truncated"
    UNKNOWN_SCHEMA = "unknown_schema"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    INCOMPATIBLE_SCHEMA = "incompatible_schema"
    MALFORMED_AVRO = "malformed_avro"
    EMPTY_PLATE = "empty_plate"
    INVALID_PLATE = "invalid_plate"
    OUT_OF_RANGE = "out_of_range"
    INVALID_FIELD = "invalid_field"
    CLOCK_SKEW = "clock_skew"
    UNKNOWN_CAMERA = "unknown_camera"
    DUPLICATE = "duplicate"
    UNWRITABLE = "unwritable"
    INTERNAL_ERROR = "internal_error"


#: Reasons worth replaying once the cause is fixed elsewhere (nothing wrong with the bytes).
TRANSIENT_REASONS = frozenset({Reason.REGISTRY_UNAVAILABLE, Reason.INTERNAL_ERROR})


class ProcessingError(Exception):
    """A message that cannot be processed, with the reason and stage to dead-letter it under."""

    def __init__(
        self, reason: Reason, stage: Stage, message: str, *, event_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.stage = stage
        self.message = message
        self.event_id = event_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason.value}, {self.stage.value}, {self.message!r})"


class Unavailable(Exception):
    """A service the work needs (the schema registry, Kafka, a store) cannot be reached.

    Not the message's fault: the work waits with backoff and goes again; the message is
    never dead-lettered for it (a dead letter would need the same service, and replaying it
    later would be an operator's chore for an outage that fixes itself).
    """

    def __init__(self, component: str, message: str) -> None:
        super().__init__(f"{component}: {message}")
        self.component = component
        self.message = message
