"""``project_reads_to_elasticsearch``: ``alpr.plates.detected`` -> daily indices in Elasticsearch.

Batches from ``stream.take`` go in bulk requests with ``_id`` = event id (``create``, so a
replay changes nothing). Items Elasticsearch is too busy for are retried; documents it can
never index go to the dead-letter topic; while it is down the batch is retried with backoff,
and the batch's offsets advance only when every document is stored or dead-lettered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from elasticsearch import AsyncElasticsearch

from agents.projections_common import (
    dead_letter,
    plates_detected_bytes,
    run_projection,
    unwritable,
    worker_backoff,
)
from alpr import app
from config.settings import get_settings
from stores import metrics
from stores.config import ProjectionSettings, get_projection_settings
from stores.es_docs import index_for, read_document
from stores.es_writer import Doc, EsReadWriter, is_transient, make_client, put_template
from stores.retry import retry_until_done

STORE = "es"


class ElasticsearchProjection:
    """Maps reads to documents and indexes them; refused documents become dead letters."""

    def __init__(
        self, client: AsyncElasticsearch, prefix: str, settings: ProjectionSettings
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.settings = settings
        self.backoff = worker_backoff(settings)
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

    async def store(self, reads: list[tuple[Any, dict[str, Any]]]) -> int:
        await self.ensure_template()
        events: list[Any] = []
        docs: list[Doc] = []
        for event, read in reads:
            try:
                doc = Doc(index_for(self.prefix, read["captured_at"]), read["event_id"],
                          read_document(read))  # fmt: skip
            except (KeyError, TypeError, ValueError) as exc:
                await self._refuse(event, f"read does not map to a document: {exc!r}")
                continue
            events.append(event)
            docs.append(doc)

        async def refused(position: int, reason: str) -> None:
            await self._refuse(events[position], f"Elasticsearch refused the read: {reason}")

        return await self.writer.write(docs, refused)

    async def _refuse(self, event: Any, message: str) -> None:
        await dead_letter(STORE, event, unwritable(message, None))


if get_projection_settings().enable_es and get_settings().elasticsearch.url:

    @app.agent(plates_detected_bytes, name="project_reads_to_elasticsearch")
    async def project_reads_to_elasticsearch(stream: Any) -> AsyncIterator[int]:
        """Index every read of alpr.plates.detected in Elasticsearch exactly once."""
        settings = get_projection_settings()
        es = get_settings().elasticsearch
        client = make_client(es.url)
        projection = ElasticsearchProjection(client, es.index_prefix, settings)
        # Decoding failures are dead-lettered once, by the PostgreSQL projection if it runs.
        own_decode_failures = not settings.enable_pg
        try:
            async for new in run_projection(
                STORE, stream, settings, projection.store, own_decode_failures
            ):
                yield new
        finally:
            await client.close()
