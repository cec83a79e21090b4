"""Writing reads to Elasticsearch with bulk requests, ``_id`` = event id.

Each document is sent with the ``create`` action: a read already indexed answers 409 and
stays as it is, so replays add nothing. A bulk request can fail in part; each item's status
says what to do with it (:func:`classify`): stored, try again, or never indexable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch.exceptions import ApiError, ConnectionTimeout, TransportError

from stores.es_docs import ADDED_PROPERTIES, index_pattern, index_template
from streams.retry import Backoff, retry_until_done

#: Statuses of a whole request or of one item that mean "busy or down: try again".
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Doc:
    """One document to index: where, under which id, and the source."""

    index: str
    id: str
    source: Mapping[str, Any]


@dataclass
class BulkOutcome:
    """What became of each item of one bulk request, by position in the request."""

    created: int = 0
    existing: int = 0
    retry: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    #: Items refused with a status that might pass later (not 400): position -> reason.
    doubtful: list[tuple[int, str]] = field(default_factory=list)


def classify(items: Sequence[Mapping[str, Any]]) -> BulkOutcome:
    """Sort the ``items`` of a bulk response of ``create`` actions by what to do next."""
    outcome = BulkOutcome()
    for position, item in enumerate(items):
        result = next(iter(item.values()))
        status = int(result.get("status", 0))
        if status in (200, 201):
            outcome.created += 1
        elif status == 409:
            outcome.existing += 1
        elif status in RETRY_STATUSES or status == 0:
            outcome.retry.append(position)
        else:
            error = result.get("error") or {}
            reason = f"{status} {error.get('type', 'error')}: {error.get('reason', '')}".strip()
            target = outcome.refused if status == 400 else outcome.doubtful
            target.append((position, reason))
    return outcome


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, EsConnectionError | ConnectionTimeout | OSError | TimeoutError):
        return True
    if isinstance(exc, ApiError):
        return exc.meta.status in RETRY_STATUSES
    return isinstance(exc, TransportError)


def make_client(url: str) -> AsyncElasticsearch:
    """A client that leaves retrying to the caller, which never gives up on an outage."""
    return AsyncElasticsearch(url, max_retries=0, request_timeout=60)


async def put_template(client: AsyncElasticsearch, prefix: str, shards: int, replicas: int) -> None:
    """The reads' index template, and the fields added to it since on the indices that exist
    (their mapping is strict: a read with a field they lack would be refused)."""
    await client.indices.put_index_template(**index_template(prefix, shards, replicas))
    await client.indices.put_mapping(
        index=index_pattern(prefix),
        properties=ADDED_PROPERTIES,
        allow_no_indices=True,
    )


RefusedFn = Callable[[int, str], Awaitable[None]]


class EsReadWriter:
    """Indexes batches of documents until each is stored or known never to be indexable."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        backoff: Backoff,
        item_attempts: int = 8,
        on_retry: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        if item_attempts < 1:
            raise ValueError(f"item_attempts must be >= 1, got {item_attempts}")
        self.client = client
        self.backoff = backoff
        self.item_attempts = item_attempts
        self.on_retry = on_retry

    async def _bulk(self, docs: Sequence[Doc]) -> BulkOutcome:
        operations: list[Mapping[str, Any]] = []
        for doc in docs:
            operations.append({"create": {"_index": doc.index, "_id": doc.id}})
            operations.append(doc.source)
        # Only each item's status and error: the full answer of a large bulk costs more to
        # parse than the documents cost to send.
        response = await self.client.bulk(
            operations=operations, filter_path="items.*.status,items.*.error"
        )
        return classify(response.body.get("items", []))

    async def write(self, docs: Sequence[Doc], refused: RefusedFn) -> int:
        """Index ``docs``; ``refused(position, reason)`` gets each never-indexable one.

        Returns how many documents were new. Items Elasticsearch is too busy for, and whole
        requests while it is down, are retried with backoff without a limit.
        """
        pending = list(range(len(docs)))
        attempts = [0] * len(docs)
        pauses = self.backoff.pauses()
        created = 0
        while pending:
            batch = [docs[i] for i in pending]
            outcome = await retry_until_done(
                "Elasticsearch bulk",
                partial(self._bulk, batch),
                is_transient,
                self.backoff,
                self.on_retry,
            )
            created += outcome.created
            for position, reason in outcome.refused:
                await refused(pending[position], reason)
            again = [pending[p] for p in outcome.retry]
            for position, reason in outcome.doubtful:
                index = pending[position]
                attempts[index] += 1
                if attempts[index] >= self.item_attempts:
                    await refused(index, reason)
                else:
                    again.append(index)
            pending = sorted(again)
            if pending:
                if self.on_retry is not None:
                    self.on_retry(None)
                await asyncio.sleep(next(pauses))
        return created
