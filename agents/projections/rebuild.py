"""Wiring of ``alpr projections rebuild``: the stores, the topic replay and a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from tqdm import tqdm

from config.settings import Settings, get_settings
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
from streams.codec import default_schema_cache
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
