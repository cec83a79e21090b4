"""Sending the core's output: reads to ``alpr.plates.detected``, dead letters to ``alpr.dlq``."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import MessageSizeTooLargeError

from agents import metrics
from agents.topics import dead_letters, plates_detected
from streams.records import DeadLetter

log = logging.getLogger(__name__)

#: Seconds between attempts to send a dead letter while the broker or registry is down.
DEAD_LETTER_RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)


async def send_read(plate: str, payload: bytes) -> None:
    """Send one read, already in the wire format, keyed by its normalised plate."""
    await plates_detected.send(key=plate, value=payload)


async def send_dead_letter(letter: DeadLetter) -> None:
    """Send ``letter``, waiting out registry or broker outages: losing it would lose the event.

    A letter too large for the producer goes out without its payload, saying so.
    """
    for attempt, pause in enumerate((*DEAD_LETTER_RETRY_S, None), 1):
        try:
            await dead_letters.send(key=letter.id, value=letter)
        except MessageSizeTooLargeError:
            size = len(letter.payload or b"")
            letter.message += f" [payload of {size} bytes dropped: larger than the producer limit]"
            letter.payload = None
        except Exception as exc:
            if pause is None:
                raise
            log.warning("dead letter %s not sent (attempt %d): %r", letter.id, attempt, exc)
            await asyncio.sleep(pause)
            continue
        else:
            metrics.EVENTS_OUT.labels(dead_letters.get_topic_name()).inc()
            return
