"""The Elasticsearch projection: ``alpr.plates.detected`` -> daily indices in Elasticsearch.

Batches of the projection's own consumer go in bulk requests with ``_id`` = event id
(``create``, so a replay changes nothing). Items Elasticsearch is too busy for are retried;
documents it can never index go to the dead-letter topic; while it is down the batch is
retried with backoff, and the batch's offsets are committed only when every document is
stored or dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elasticsearch import AsyncElasticsearch

from agents.projections.common import DeadLetterFn, Pair, ProjectionService, Store, unwritable
from alpr import app
from config.projections import ProjectionSettings
from config.settings import get_settings
from stores import metrics
from stores.decoding import Convert, shaped_reads
from stores.es_docs import index_for, read_document
from stores.es_writer import Doc, EsReadWriter, is_transient, make_client, put_template
from streams.codec import SchemaCache
from streams.retry import Backoff, retry_until_done

STORE = "es"


def document_shape(prefix: str) -> Callable[[dict[str, Any]], Doc]:
    """A read as its document in the daily index of its capture day."""

    def shape(read: dict[str, Any]) -> Doc:
        return Doc(index_for(prefix, read["captured_at"]), read["event_id"], read_document(read))

    return shape


class ElasticsearchProjection:
    """Indexes documents (reads shaped by :func:`document_shape` as they were decoded);
    refused documents become dead letters."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        prefix: str,
        settings: ProjectionSettings,
        backoff: Backoff,
        dead_letter: DeadLetterFn,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.settings = settings
        self.backoff = backoff
        self.dead_letter = dead_letter
        retries = metrics.RETRIES.labels(STORE)
        self.writer = EsReadWriter(
            client, self.backoff, settings.es_item_attempts, on_retry=lambda _e: retries.inc()
        )
        self._template_put = False

    async def ensure_template(self) -> None:
        """Put the index template before the first document, so no index is auto-created
        with a guessed mapping."""
        if not self._template_put:
            await retry_until_done(
                "Elasticsearch index template",
                lambda: put_template(
                    self.client, self.prefix, self.settings.es_shards, self.settings.es_replicas
                ),
                is_transient,
                self.backoff,
            )
            self._template_put = True

    async def store(self, docs: list[Pair]) -> int:
        await self.ensure_template()
        events = [event for event, _ in docs]

        async def refused(position: int, reason: str) -> None:
            await self._refuse(events[position], f"Elasticsearch refused the read: {reason}")

        return await self.writer.write([doc for _, doc in docs], refused)

    async def _refuse(self, record: Any, message: str) -> None:
        await self.dead_letter(record, unwritable(message, None))


if get_settings().projections.enable_es and get_settings().elasticsearch.url:

    @app.service
    class ElasticsearchProjectionService(ProjectionService):
        """Indexes every read of alpr.plates.detected in Elasticsearch exactly once."""

        store_name = STORE
        client: AsyncElasticsearch | None = None

        def make_store(self, backoff: Backoff, dead_letter: DeadLetterFn) -> Store:
            es = get_settings().elasticsearch
            self.client = make_client(es.url)
            settings = get_settings().projections
            projection = ElasticsearchProjection(
                self.client, es.index_prefix, settings, backoff, dead_letter
            )
            return projection.store

        def read_converter(self, cache: SchemaCache) -> Convert[Doc]:
            return shaped_reads(cache, document_shape(get_settings().elasticsearch.index_prefix))

        def own_decode_failures(self) -> bool:
            # Decoding failures are dead-lettered once, by the PostgreSQL projection if it runs.
            return not get_settings().projections.enable_pg

        async def close_store(self) -> None:
            if self.client is not None:
                await self.client.close()
