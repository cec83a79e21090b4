"""Wiring of ``alpr projections rebuild``: the stores, the topic replays and a progress bar.

Reads come back from ``alpr.plates.detected``; the alerts' assignments and acknowledgements,
kept in PostgreSQL beside the alerts, from ``alpr.alerts.assigned`` and
``alpr.alerts.acknowledged`` (``stores.alert_assignments``, ``stores.alert_acknowledgements``).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg
from tqdm import tqdm

from config.settings import Settings, get_settings
from stores.alert_acknowledgements import replay_acknowledgements
from stores.alert_assignments import replay_assignments
from stores.alert_events import Replayed
from stores.es_writer import EsReadWriter, make_client, put_template
from stores.pg_writer import PgReadWriter
from stores.rebuild import (
    REPLAY_MARGIN,
    RebuildReport,
    TopicReplay,
    cut_of,
    replay_into,
    reset_es,
    reset_pg,
)
from streams.codec import SchemaCache, default_schema_cache
from streams.retry import Backoff


async def run_rebuild(
    settings: Settings, stores: Sequence[str], since: datetime | None, batch_size: int
) -> RebuildReport:
    projection = get_settings().projections
    backoff = Backoff(projection.retry_first_s, projection.retry_max_s)
    cut = cut_of(since)
    replay = TopicReplay(
        settings.kafka.bootstrap_servers,
        get_settings().topics.detected,
        None if cut is None else cut - REPLAY_MARGIN,
    )
    pg = PgReadWriter(settings.postgres.dsn, pool_max=2) if "pg" in stores else None
    es_client = make_client(settings.elasticsearch.url) if "es" in stores else None
    prefix = settings.elasticsearch.index_prefix
    try:
        if pg is not None:
            conn = await asyncpg.connect(settings.postgres.dsn)
            try:
                await reset_pg(conn, cut)
            finally:
                await conn.close()
        es = None
        if es_client is not None:
            deleted = await reset_es(es_client, prefix, cut)
            print(f"deleted {len(deleted)} index(es)", file=sys.stderr)
            await put_template(es_client, prefix, projection.es_shards, projection.es_replicas)
            es = (EsReadWriter(es_client, backoff, projection.es_item_attempts), prefix)
        await replay.open()
        with tqdm(total=replay.total, unit="msg", file=sys.stderr, desc="rebuild") as bar:
            return await replay_into(
                replay, default_schema_cache(), pg, es, backoff, batch_size, bar.update
            )
    finally:
        await replay.close()
        if pg is not None:
            await pg.close()
        if es_client is not None:
            await es_client.close()


async def rebuild_assignments(settings: Settings, batch_size: int) -> Replayed:
    """Empty ``alert_assignments`` and replay every assignment on its topic into it."""
    return await _rebuild_alert_events(
        settings, settings.topics.assigned, "alert_assignments", replay_assignments, batch_size
    )


async def rebuild_acknowledgements(settings: Settings, batch_size: int) -> Replayed:
    """Empty ``alert_acknowledgements`` and replay every acknowledgement on its topic into it."""
    return await _rebuild_alert_events(
        settings,
        settings.topics.acknowledged,
        "alert_acknowledgements",
        replay_acknowledgements,
        batch_size,
    )


ReplayInto = Callable[
    [asyncpg.Connection, AsyncIterator[list[bytes | None]], SchemaCache], Awaitable[Replayed]
]


async def _rebuild_alert_events(
    settings: Settings, topic: str, table: str, replay_events: ReplayInto, batch_size: int
) -> Replayed:
    """Empty ``table`` and replay every event on ``topic`` into it, in one transaction: pages
    never see the table half rebuilt."""
    replay = TopicReplay(settings.kafka.bootstrap_servers, topic, None)
    conn = await asyncpg.connect(settings.postgres.dsn)
    try:
        await replay.open()
        async with conn.transaction():
            await conn.execute(f"TRUNCATE {table}")
            values = (
                [record.value for record in batch] async for batch in replay.batches(batch_size)
            )
            return await replay_events(conn, values, default_schema_cache())
    finally:
        await replay.close()
        await conn.close()
