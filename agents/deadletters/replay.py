"""Reading and replaying the dead-letter topic; the ``alpr dlq`` commands are built on it.

Reads assign every partition directly (no consumer group, nothing committed) and stop at the
end offsets seen when they started, so a listing is a snapshot and a replay never chases
the dead letters it causes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from agents.deadletters.letters import replay_headers
from config.settings import get_settings
from streams.codec import AvroSchema, SchemaCache, decode
from streams.failures import ProcessingError, Reason
from streams.records import DeadLetter

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``90m``, ``2h``, ``3d``, ``45s`` before now, or an ISO 8601 time (UTC if no zone)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"since must be like 90m, 2h, 3d or an ISO time such as 2026-01-31T08:00Z, got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Filter:
    """Which dead letters a command works on."""

    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    ids: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.reasons or letter.reason in self.reasons)
            and (self.since is None or letter.failed_at >= self.since)
            and (not self.ids or letter.id in self.ids)
        )


@dataclass
class Unreadable:
    """A message on the dead-letter topic that is not a DeadLetter."""

    partition: int
    offset: int
    error: ProcessingError


async def read_dead_letters(
    bootstrap_servers: str, topic: str, cache: SchemaCache, since: datetime | None = None
) -> AsyncIterator[DeadLetter | Unreadable]:
    """Every message on ``topic`` up to its current end (from ``since`` when given)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    partitions = await partitions_of(bootstrap_servers, topic)
    if not partitions:
        return
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await _seek_start(consumer, tps, since)
        remaining = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        schema = AvroSchema.named("DeadLetter")
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    try:
                        yield DeadLetter.from_data(decode(record.value, schema, cache))
                    except ProcessingError as error:
                        yield Unreadable(tp.partition, record.offset, error)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()


async def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of ``topic``; empty when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described.get("partitions", []))


async def _seek_start(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime | None
) -> None:
    if since is None:
        await consumer.seek_to_beginning(*tps)
        return
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        at = found.get(tp)
        consumer.seek(tp, at.offset if at is not None else ends[tp])


def latest_per_original(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per original message (same key and bytes): the one tried most often.

    A replayed message that fails again is dead-lettered again; without this a second
    replay would send the original once per earlier attempt.
    """
    latest: dict[tuple[bytes | None, bytes], DeadLetter] = {}
    for letter in letters:
        if letter.payload is None:
            continue
        lineage = (letter.key, hashlib.sha256(letter.payload).digest())
        kept = latest.get(lineage)
        if kept is None or letter.attempts > kept.attempts:
            latest[lineage] = letter
    return list(latest.values())


def without_payload(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """The letters that cannot be replayed: they carry no original bytes."""
    return [letter for letter in letters if letter.payload is None]


def why_not_replayed(letter: DeadLetter) -> str:
    """A line for the operator on a letter :func:`replay` skips, saying why and what to do."""
    origin = f"{letter.topic}[{letter.partition}]@{letter.offset}"
    if letter.reason == Reason.EMPTY_PAYLOAD:
        cause = "the original message had no value"
    elif "payload of" in letter.message and "dropped" in letter.message:
        cause = "its payload was dropped when it was dead-lettered (too large for the producer)"
    else:
        cause = "it carries no payload"
    return (
        f"skipped {letter.id} ({letter.reason}, from {origin}): {cause}, so there is nothing "
        f"to send back; the original may still be read at {origin} until retention removes it"
    )


async def replay(bootstrap_servers: str, letters: Iterable[DeadLetter]) -> Counter[str]:
    """Send each letter's original bytes back to its topic and partition, with its history
    in headers; how many went back, by reason."""
    sent: Counter[str] = Counter()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        max_request_size=64 * 1024 * 1024,
        **get_settings().kafka.producer_options(),
    )
    await producer.start()
    try:
        for letter in letters:
            if letter.payload is None:
                continue
            await producer.send(
                letter.topic,
                value=letter.payload,
                key=letter.key,
                partition=letter.partition,
                headers=replay_headers(letter),
            )
            sent[letter.reason] += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent
