"""Dead letters sent while the registry or the broker is down (issue 17): the send waits for
as long as the outage lasts, reports it in ``streams.outages``, and goes out once it is over.

Before the fix the send gave up after five attempts (about 18 s) and raised, which crashed
the stage that sent it (a projection, the notifier) while the registry was down.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError

import agents.emit
from agents.emit import send_dead_letter
from agents.topics import dead_letters
from streams.failures import ProcessingError, Reason, Stage
from streams.outages import OUTAGES
from streams.records import DeadLetter
from streams.retry import Abandoned, Backoff

#: More failed attempts than the old limit of five.
OUTAGE_ATTEMPTS = 12


def letter() -> DeadLetter:
    now = datetime.now(UTC)
    return DeadLetter(
        id=str(uuid.uuid4()),
        reason="wrong_magic",
        message="first byte is 0x01",
        stage="decode",
        topic="alpr.plates.detected",
        partition=0,
        offset=1,
        payload=b"\x01",
        first_failed_at=now,
        failed_at=now,
        attempts=1,
    )


class Outage:
    """A dead-letter topic whose sends fail with ``error`` for the first ``attempts`` tries."""

    def __init__(self, error: Exception, attempts: int) -> None:
        self.error = error
        self.left = attempts
        self.sent: list[DeadLetter] = []
        self.down_seen: list[dict[str, dict[str, object]]] = []

    async def send(self, key: object = None, value: DeadLetter | None = None) -> None:
        if self.left:
            self.left -= 1
            self.down_seen.append(OUTAGES.status())
            raise self.error
        assert value is not None
        self.sent.append(value)


def registry_down() -> ProcessingError:
    return ProcessingError(
        Reason.REGISTRY_UNAVAILABLE, Stage.EMIT, "alpr.dlq-value: PUT ...: Connection refused"
    )


@pytest.mark.parametrize(
    ("error", "component"),
    [(registry_down(), "registry"), (KafkaConnectionError("no broker"), "kafka")],
)
async def test_a_dead_letter_waits_out_an_outage_and_reports_it(
    monkeypatch: pytest.MonkeyPatch, error: Exception, component: str
) -> None:
    outage = Outage(error, OUTAGE_ATTEMPTS)
    monkeypatch.setattr(dead_letters, "send", outage.send)
    sent = letter()
    await send_dead_letter(sent, Backoff(0, 0))
    assert outage.sent == [sent]
    assert all(component in status for status in outage.down_seen[1:])
    assert not OUTAGES.is_down(component)


async def test_the_default_wait_gives_up_only_when_the_worker_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopping = False
    monkeypatch.setattr(dead_letters, "send", Outage(registry_down(), 10**6).send)
    monkeypatch.setattr(
        agents.emit, "DEAD_LETTER_BACKOFF", Backoff(0, 0, stopping=lambda: stopping)
    )
    waiting = asyncio.ensure_future(send_dead_letter(letter()))
    await asyncio.sleep(0.05)
    assert not waiting.done() and OUTAGES.is_down("registry")
    stopping = True
    with pytest.raises(Abandoned):
        await waiting
    assert not OUTAGES.is_down("registry")


async def test_an_error_of_the_letter_itself_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = ProcessingError(Reason.INCOMPATIBLE_SCHEMA, Stage.EMIT, "alpr.dlq-value: 409")
    outage = Outage(refused, 1)
    monkeypatch.setattr(dead_letters, "send", outage.send)
    with pytest.raises(ProcessingError):
        await send_dead_letter(letter(), Backoff(0, 0))
    assert outage.sent == []
