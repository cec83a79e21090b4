"""Plate lookups in Elasticsearch, over the reads' alias (daily indices and retained reads).

Search sends one request with three filter aggregations, each bucketing plates by ``terms``
in key order: the exact plate (``term``), plates starting with the query (``prefix``) and
plates whose ``search_key`` is within one plain edit of the query's (``fuzzy``, fuzziness 1,
no transpositions: the same set PostgreSQL finds by key neighbours). Ranking and reasons are
shared with PostgreSQL (``ranking``); each plate bucket carries its figures (reads, newest
read), so a search is one request. Histories and event lists sort on (captured_at, event_id)
descending and page with ``search_after``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from stores.es_docs import alias_name
from web.lookup import cursor, ranking
from web.lookup.contract import EventFilter, Page, SearchHit, Sighting
from web.lookup.queries import check_event_filter, check_event_id, events_scope, history_scope
from web.lookup.ranking import PlateStats, SearchPlan

_SORT = [{"captured_at": "desc"}, {"event_id": "desc"}]
_NEWEST = {"newest": {"top_hits": {"size": 1, "sort": _SORT,
                                   "_source": ["captured_at", "camera_id"]}}}  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _stats(bucket: dict[str, Any]) -> PlateStats:
    source = bucket["newest"]["hits"]["hits"][0]["_source"]
    return PlateStats(
        sightings=bucket["doc_count"],
        last_seen=datetime.fromisoformat(source["captured_at"]).astimezone(UTC),
        last_camera_id=source["camera_id"],
    )


def _sighting(source: dict[str, Any]) -> Sighting:
    location = source.get("location") or {}
    return Sighting(
        event_id=source["event_id"],
        plate=source["plate"],
        captured_at=datetime.fromisoformat(source["captured_at"]).astimezone(UTC),
        camera_id=source["camera_id"],
        site_id=source["site_id"],
        camera_name=source.get("camera_name"),
        confidence=round(float(source["confidence"]), 6),
        direction=source.get("direction") or "unknown",
        vehicle_type=source.get("vehicle_type"),
        vehicle_colour=source.get("vehicle_colour"),
        plate_crop_key=source.get("plate_crop_key"),
        vehicle_image_key=source.get("vehicle_image_key"),
        lat=location.get("lat"),
        lon=location.get("lon"),
    )


class EsLookup:
    """The ``LookupBackend`` over Elasticsearch; owns (and closes) its client."""

    name = "elasticsearch"

    def __init__(self, client: AsyncElasticsearch, prefix: str) -> None:
        self.client = client
        self.alias = alias_name(prefix)

    async def _search(self, **body: Any) -> dict[str, Any]:
        response = await self.client.search(
            index=self.alias, ignore_unavailable=True, allow_no_indices=True, **body
        )
        result: dict[str, Any] = response.body
        return result

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        plan = ranking.plan_search(query, limit)
        clauses = _clauses(plan, limit)
        # Each plate bucket carries its figures (reads, newest read): one request in all.
        aggs = {
            kind: {"filter": clause, "aggs": {"plates": {**_terms(size), "aggs": _NEWEST}}}
            for kind, (clause, size) in clauses.items()
        }
        response = await self._search(
            size=0,
            query={"bool": {"should": [c for c, _ in clauses.values()], "minimum_should_match": 1}},
            aggs=aggs,
        )
        buckets = {kind: response["aggregations"][kind]["plates"]["buckets"] for kind in clauses}
        found = {kind: [b["key"] for b in kind_buckets] for kind, kind_buckets in buckets.items()}
        ranked = ranking.rank(
            plan,
            bool(found.get("exact")),
            found.get("prefix", []),
            found.get("fuzzy", []),
            limit,
        )
        stats = {b["key"]: _stats(b) for kind_buckets in buckets.values() for b in kind_buckets}
        return ranking.hits(ranked, stats)

    async def _page(
        self, scope: str, filters: list[dict[str, Any]], token: str | None, limit: int
    ) -> Page[Sighting]:
        ranking.check_limit(limit)
        extra: dict[str, Any] = {}
        if token is not None:
            after = cursor.decode(scope, token)
            extra["search_after"] = [_millis(after.at), after.id]
        response = await self._search(
            size=limit + 1,
            query={"bool": {"filter": filters}},
            sort=_SORT,
            track_total_hits=False,
            **extra,
        )
        items = [_sighting(hit["_source"]) for hit in response["hits"]["hits"]]
        following = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            following = cursor.encode(scope, cursor.Position(last.captured_at, last.event_id))
        return Page[Sighting](items=items, next_cursor=following)

    async def history(self, plate: str, *, cursor: str | None, limit: int) -> Page[Sighting]:
        ranking.check_plate(plate, "plate")
        return await self._page(history_scope(plate), [{"term": {"plate": plate}}], cursor, limit)

    async def events(self, where: EventFilter, *, cursor: str | None, limit: int) -> Page[Sighting]:
        check_event_filter(where)
        filters: list[dict[str, Any]] = []
        if where.camera_id is not None:
            filters.append({"term": {"camera_id": where.camera_id}})
        if where.vehicle_type is not None:
            filters.append({"term": {"vehicle_type": where.vehicle_type}})
        if where.vehicle_colour is not None:
            filters.append({"term": {"vehicle_colour": where.vehicle_colour}})
        if where.plate_pattern is not None:
            filters.append({"wildcard": {"plate": {"value": where.plate_pattern}}})
        period = {}
        if where.since is not None:
            period["gte"] = where.since.isoformat()
        if where.until is not None:
            period["lt"] = where.until.isoformat()
        if period:
            filters.append({"range": {"captured_at": period}})
        if where.min_confidence is not None:
            filters.append({"range": {"confidence": {"gte": where.min_confidence}}})
        return await self._page(events_scope(where), filters, cursor, limit)

    async def sighting(self, event_id: str) -> Sighting | None:
        check_event_id(event_id)
        response = await self._search(size=1, query={"term": {"event_id": event_id}})
        hits = response["hits"]["hits"]
        return _sighting(hits[0]["_source"]) if hits else None

    async def close(self) -> None:
        await self.client.close()


def _terms(size: int) -> dict[str, Any]:
    return {"terms": {"field": "plate", "size": max(size, 1), "order": {"_key": "asc"}}}


def _clauses(plan: SearchPlan, limit: int) -> dict[str, tuple[dict[str, Any], int]]:
    """Each kind of match as a query clause, with how many plates of it to read."""
    clauses: dict[str, tuple[dict[str, Any], int]] = {"exact": ({"term": {"plate": plan.query}}, 1)}
    if plan.prefix:
        prefix = {"bool": {"filter": [{"prefix": {"plate": plan.query}}],
                           "must_not": [{"term": {"plate": plan.query}}]}}  # fmt: skip
        clauses["prefix"] = (prefix, limit)
    if plan.fuzzy:
        fuzzy = {"fuzzy": {"search_key": {"value": plan.key, "fuzziness": 1,
                                          "transpositions": False, "prefix_length": 0,
                                          "max_expansions": 1024}}}  # fmt: skip
        clauses["fuzzy"] = (fuzzy, ranking.FUZZY_CANDIDATES)
    return clauses
