"""The lookup backend a worker uses, chosen by ``lookup.search_backend``.

``auto`` takes Elasticsearch when its URL is set, it answers and the reads' alias exists (the
projection has written to it), and PostgreSQL otherwise; ``elasticsearch`` and ``postgres``
force one. Both return the same results, so the choice is about load, not answers.
"""

from __future__ import annotations

from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from config.settings import Settings
from stores.es_docs import alias_name
from web.lookup.contract import LookupBackend
from web.lookup.es import EsLookup
from web.lookup.pg import PgLookup
from web.lookup.reference import PgReference


class LookupConfigError(ValueError):
    """Settings that name a lookup store which cannot be used."""


def _es_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.elasticsearch.url, request_timeout=10, max_retries=1)


def postgres_backend(settings: Settings) -> PgLookup:
    pg = settings.postgres
    return PgLookup(pg.dsn, pool_min=min(pg.pool_min, 2), pool_max=pg.pool_max)


async def _es_ready(client: AsyncElasticsearch, prefix: str) -> bool:
    try:
        return bool(await client.indices.exists_alias(name=alias_name(prefix)))
    except (ApiError, TransportError, OSError):
        return False  # not answering now: serve from PostgreSQL rather than fail every lookup


async def open_backend(settings: Settings) -> LookupBackend:
    """The backend ``settings`` choose; ``LookupConfigError`` for an impossible choice."""
    choice = settings.lookup.search_backend
    if choice == "postgres":
        return postgres_backend(settings)
    if not settings.elasticsearch.url:
        if choice == "elasticsearch":
            raise LookupConfigError(
                "lookup.search_backend is elasticsearch but elasticsearch.url is empty"
            )
        return postgres_backend(settings)
    prefix = settings.elasticsearch.index_prefix
    client = _es_client(settings)
    if choice == "elasticsearch" or await _es_ready(client, prefix):
        return EsLookup(client, prefix)
    await client.close()
    return postgres_backend(settings)


#: The name the web views' resources call.
create_backend = open_backend


def open_reference(settings: Settings) -> PgReference:
    """Alerts, hourly counts and cameras (always PostgreSQL)."""
    pg = settings.postgres
    return PgReference(pg.dsn, pool_min=min(pg.pool_min, 2), pool_max=pg.pool_max)
