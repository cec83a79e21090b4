"""``apply_read_corrections``: ``alpr.reads.corrected`` -> the stored reads in PostgreSQL and
Elasticsearch.

An operator's correction (sent by ``web/api/corrections.py``) is applied to the read in each
store that runs: its plate becomes the corrected one and the text first read is kept
(``stores.corrections_writer``, ``stores.es_corrections``). Corrections are few, so this is a
plain agent: each is applied before the stream moves on, and Faust commits only what was
applied. While a store is down the write is retried with backoff, holding the partition; a
correction a store refuses (a data error, not an outage) becomes a dead letter. Applying a
correction again changes nothing, so a replay of the topic rebuilds the corrections too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import faust
from elasticsearch import AsyncElasticsearch

from agents.deadletters.letters import dead_letter_for
from agents.emit import send_dead_letter
from agents.topics import record_topic
from alpr import app
from config.settings import get_settings
from stores import alerts_writer, es_writer
from stores.corrections_writer import apply_correction
from stores.es_corrections import apply_correction_es
from stores.migrations import current_pool
from streams.failures import ProcessingError, Reason, Stage
from streams.records import ReadCorrection
from streams.retry import Backoff, retry_until_done

log = logging.getLogger(__name__)

read_corrections: faust.TopicT = record_topic(get_settings().topics.corrected, ReadCorrection)


class CorrectionStores:
    """The stores a correction is applied to, opened on first use."""

    def __init__(self) -> None:
        settings = get_settings()
        self.use_pg = settings.projections.enable_pg
        self.use_es = settings.projections.enable_es and bool(settings.elasticsearch.url)
        self._pool: asyncpg.Pool | None = None
        self._es: AsyncElasticsearch | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await current_pool(get_settings().postgres.dsn, min_size=1, max_size=2)
        return self._pool

    def es(self) -> AsyncElasticsearch:
        if self._es is None:
            self._es = es_writer.make_client(get_settings().elasticsearch.url)
        return self._es

    async def apply(self, correction: ReadCorrection, backoff: Backoff) -> None:
        """Apply ``correction`` to every store, waiting out outages."""
        if self.use_pg:
            changed = await retry_until_done(
                "correction projection (PostgreSQL)",
                lambda: self._apply_pg(correction),
                alerts_writer.is_transient,
                backoff,
            )
            _unchanged("PostgreSQL", correction, changed)
        if self.use_es:
            prefix = get_settings().elasticsearch.index_prefix
            changed = await retry_until_done(
                "correction projection (Elasticsearch)",
                lambda: apply_correction_es(self.es(), prefix, correction),
                es_writer.is_transient,
                backoff,
            )
            _unchanged("Elasticsearch", correction, changed)

    async def _apply_pg(self, correction: ReadCorrection) -> int:
        return await apply_correction(await self.pool(), correction)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._es is not None:
            await self._es.close()


def _unchanged(store: str, correction: ReadCorrection, changed: int) -> None:
    # Not an error: the read may be gone (retention), or a later correction applied already.
    if not changed:
        log.warning(
            "correction %s: read %s not changed in %s (not stored, or corrected later)",
            correction.correction_id, correction.event_id, store,
        )  # fmt: skip


async def project_correction(stores: CorrectionStores, event: Any, backoff: Backoff) -> bool:
    """Apply one correction; False when a store refused it (it is then a dead letter)."""
    correction: ReadCorrection = event.value
    try:
        await stores.apply(correction, backoff)
    except Exception as exc:
        log.error("correction of read %s refused: %r", correction.event_id, exc)
        error = ProcessingError(
            Reason.UNWRITABLE,
            Stage.EMIT,
            f"correction not applied: {exc!r}",
            event_id=correction.event_id,
        )
        await send_dead_letter(dead_letter_for(error, event.message, time.time()))
        return False
    return True


_projections = get_settings().projections
if _projections.enable_pg or _projections.enable_es:

    @app.agent(read_corrections)
    async def apply_read_corrections(stream: Any) -> Any:
        """Apply every operator's correction to the stored read."""
        stores = CorrectionStores()
        backoff = Backoff(0.2, 10.0, stopping=lambda: app.should_stop)
        try:
            async for event in stream.events():
                yield await project_correction(stores, event, backoff)
        finally:
            await stores.close()
