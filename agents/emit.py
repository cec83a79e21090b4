"""Sending the core's output: reads to ``alpr.plates.detected``, dead letters to ``alpr.dlq``."""

from __future__ import annotations

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from agents import metrics
from agents.topics import dead_letters, plates_detected
from alpr import app
from streams.codec import REGISTRY
from streams.failures import ProcessingError, Reason, Unavailable
from streams.records import DeadLetter
from streams.retry import Backoff, retry_until_done

#: The pauses of a dead letter that cannot go out yet, for callers that pass none: given up
#: (``Abandoned``) only once the worker stops, as the letter stands in for its event.
DEAD_LETTER_BACKOFF = Backoff(0.5, 10.0, stopping=lambda: app.should_stop)


async def send_read(plate: str, payload: bytes) -> None:
    """Send one read, already in the wire format, keyed by its normalised plate."""
    await plates_detected.send(key=plate, value=payload)


async def send_dead_letter(letter: DeadLetter, backoff: Backoff | None = None) -> None:
    """Send ``letter``, waiting out a registry or broker outage for as long as it lasts
    (reported in ``streams.outages``): losing the letter would lose the event, and giving
    up would crash the stage that sends it. ``backoff`` says how to wait and when to give
    up (its ``stopping``), by default :data:`DEAD_LETTER_BACKOFF`.

    A letter too large for the producer goes out without its payload, saying so.
    """

    async def attempt() -> None:
        try:
            await _send(letter)
        except MessageSizeTooLargeError:
            size = len(letter.payload or b"")
            letter.message += f" [payload of {size} bytes dropped: larger than the producer limit]"
            letter.payload = None
            await _send(letter)

    await retry_until_done(
        f"dead letter {letter.id}",
        attempt,
        lambda exc: isinstance(exc, Unavailable | KafkaError),
        backoff or DEAD_LETTER_BACKOFF,
        component="kafka",
    )
    metrics.EVENTS_OUT.labels(dead_letters.get_topic_name()).inc()


async def _send(letter: DeadLetter) -> None:
    try:
        await dead_letters.send(key=letter.id, value=letter)
    except ProcessingError as exc:  # the letter's encoding needs the registry
        if exc.reason is Reason.REGISTRY_UNAVAILABLE:
            raise Unavailable(REGISTRY, exc.message) from None
        raise
