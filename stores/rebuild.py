"""Rebuilding a store from ``alpr.plates.detected``: empty it from a day on, then replay.

The cut is the start (UTC midnight) of the ``since`` day, or everything without ``since``.
PostgreSQL loses its reads and hourly counts from the cut on; Elasticsearch loses its daily
indices from the cut's day on. The topic is then read, without a consumer group, from the
first message that can hold a read captured after the cut up to the end as it was when the
rebuild started, and written through the same idempotent writers as the live projections,
so a worker running meanwhile does no harm.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from elasticsearch import AsyncElasticsearch

from stores.decoding import decode_reads
from stores.es_docs import day_of_index, index_for, index_pattern, read_document
from stores.es_writer import Doc, EsReadWriter
from stores.isolating import IsolatingWriter
from stores.migrations import storage_mode
from stores.pg_writer import ROW_ERRORS, PgReadWriter, is_transient
from stores.rows import Row, read_row
from streams.codec import SchemaCache
from streams.retry import Backoff

StoreName = Literal["pg", "es"]

#: How far before the cut the replay starts: a read is on the topic at most this long before
#: its capture time (edges' clocks run ahead by up to the router's max_ahead_s, 5 min).
REPLAY_MARGIN = timedelta(hours=1)


def cut_of(since: datetime | None) -> datetime | None:
    """UTC midnight of ``since``'s day: daily partitions and indices are emptied whole."""
    if since is None:
        return None
    if since.tzinfo is None:
        raise ValueError(f"since must be timezone-aware, got {since.isoformat()}")
    return datetime.combine(since.astimezone(UTC).date(), time(), tzinfo=UTC)


async def reset_pg(conn: asyncpg.Connection, cut: datetime | None) -> None:
    """Remove the reads captured from ``cut`` on and their hourly counts, in one transaction."""
    mode = await storage_mode(conn)
    async with conn.transaction():
        if cut is None:
            tables = "plate_reads, plate_reads_hourly" if mode == "native" else "plate_reads"
            await conn.execute(f"TRUNCATE {tables}")
        else:
            await conn.execute("DELETE FROM plate_reads WHERE captured_at >= $1", cut)
            if mode == "native":
                await conn.execute("DELETE FROM plate_reads_hourly WHERE hour >= $1", cut)


async def reset_es(client: AsyncElasticsearch, prefix: str, cut: datetime | None) -> list[str]:
    """Delete the daily indices from ``cut``'s day on; return their names."""
    found = await client.indices.get(index=index_pattern(prefix), allow_no_indices=True)
    doomed = [
        name
        for name in found.body
        if (day := day_of_index(prefix, name)) is not None and (cut is None or day >= cut.date())
    ]
    if doomed:
        await client.indices.delete(index=",".join(doomed))
    return sorted(doomed)


@dataclass
class RebuildReport:
    messages: int = 0
    undecodable: int = 0
    written: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


class TopicReplay:
    """Every message of a topic from a start time to the end offsets seen at start."""

    def __init__(self, bootstrap: str, topic: str, start: datetime | None) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.topic = topic
        self.start = start
        self.ends: dict[TopicPartition, int] = {}
        self.total = 0

    async def open(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        if partitions is None:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} does not exist")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        self.ends = await self.consumer.end_offsets(tps)
        firsts = await self.consumer.beginning_offsets(tps)
        starts = dict(firsts)
        if self.start is not None:
            ms = int(self.start.timestamp() * 1000)
            found = await self.consumer.offsets_for_times({tp: ms for tp in tps})
            starts = {tp: (o.offset if o is not None else self.ends[tp]) for tp, o in found.items()}
        for tp in tps:
            self.consumer.seek(tp, starts[tp])
        self.total = sum(max(self.ends[tp] - starts[tp], 0) for tp in tps)

    async def batches(self, size: int) -> AsyncIterator[list[ConsumerRecord]]:
        remaining = {tp for tp, end in self.ends.items() if await self.consumer.position(tp) < end}
        while remaining:
            fetched = await self.consumer.getmany(*remaining, timeout_ms=1000, max_records=size)
            batch: list[ConsumerRecord] = []
            for tp, records in fetched.items():
                batch.extend(r for r in records if r.offset < self.ends[tp])
                if await self.consumer.position(tp) >= self.ends[tp]:
                    remaining.discard(tp)
            if batch:
                yield batch

    async def close(self) -> None:
        await self.consumer.stop()


async def replay_into(
    replay: TopicReplay,
    cache: SchemaCache,
    pg: PgReadWriter | None,
    es: tuple[EsReadWriter, str] | None,
    backoff: Backoff,
    batch_size: int,
    progress: Callable[[int], Any],
) -> RebuildReport:
    """Write every read of ``replay`` to the given stores; count what became of them."""
    report = RebuildReport(written={"pg": 0, "es": 0}, refused={"pg": 0, "es": 0})

    async def refused_pg(_event: Any, _message: str) -> None:
        report.refused["pg"] += 1

    isolating: IsolatingWriter[Row] | None = None
    if pg is not None:
        isolating = IsolatingWriter(
            "PostgreSQL write", pg.write, is_transient, ROW_ERRORS, refused_pg, backoff
        )
    async for batch in replay.batches(batch_size):
        decoded = await decode_reads([r.value for r in batch], cache, backoff)
        report.messages += len(batch)
        report.undecodable += len(decoded.failed)
        reads = [read for _, read in decoded.reads]
        await asyncio.gather(
            _to_pg(isolating, reads, report),
            _to_es(es, reads, report),
        )
        progress(len(batch))
    return report


async def _to_pg(
    writer: IsolatingWriter[Row] | None, reads: Sequence[dict[str, Any]], report: RebuildReport
) -> None:
    if writer is None:
        return
    pairs = []
    for read in reads:
        try:
            pairs.append((read, read_row(read)))
        except (KeyError, TypeError, ValueError):
            report.refused["pg"] += 1
    report.written["pg"] += await writer.write(pairs)


async def _to_es(
    es: tuple[EsReadWriter, str] | None, reads: Sequence[dict[str, Any]], report: RebuildReport
) -> None:
    if es is None:
        return
    writer, prefix = es
    docs = []
    for read in reads:
        try:
            docs.append(Doc(index_for(prefix, read["captured_at"]), read["event_id"],
                            read_document(read)))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            report.refused["es"] += 1

    async def refused(_position: int, _reason: str) -> None:
        report.refused["es"] += 1

    report.written["es"] += await writer.write(docs, refused)
