"""What a plate search asks the store for, and how its matches are ranked and explained.

Both backends share this module, so they return the same hits for the same data: a store only
finds the candidate plates (exact, by prefix, and by search key within one plain edit of the
query's key) and the figures of the hits; the order and the reasons are computed here.

Order: by score, then plate. An exact match scores 1; a fuzzy match ``1 / (1 + cost)``, so
look-alike swaps alone (cost 0.25 each, up to two) rank above a prefix match (0.6), and a
match with a real edit below it. Prefix matches tie, so they come in plate order, which is
what lets a store return only the first ``limit`` of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from streams.plates import search_key
from web.lookup.contract import MAX_LIMIT, BadQuery, MatchKind, SearchHit
from web.lookup.distance import MAX_KEY_EDITS, align, key_distance, key_neighbours

_PLATE = re.compile(r"[A-Z0-9]{1,12}")

#: Shortest query that also matches by prefix, and by fuzzy search.
PREFIX_MIN_LENGTH = 2
FUZZY_MIN_LENGTH = 3

#: Most fuzzy candidates a store reads before ranking (more only on a very crowded key).
FUZZY_CANDIDATES = 1000

EXACT_SCORE = 1.0
PREFIX_SCORE = 0.6


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_plate(text: str, what: str = "query") -> str:
    """``text`` if it is a normalised plate (A-Z, 0-9, 1 to 12 characters), else ``BadQuery``."""
    if not isinstance(text, str) or not _PLATE.fullmatch(text):
        shown = text if isinstance(text, str) and len(text) <= 40 else f"{str(text)[:40]}..."
        raise BadQuery(
            f"{what} must be a normalised plate: 1 to 12 characters A-Z and 0-9, got {shown!r}"
        )
    return text


@dataclass(frozen=True)
class SearchPlan:
    """The candidate plates a store must find for one query."""

    query: str
    key: str
    prefix: bool
    fuzzy: bool
    key_neighbours: tuple[str, ...]


def plan_search(query: str, limit: int) -> SearchPlan:
    check_plate(query)
    check_limit(limit)
    key = search_key(query)
    fuzzy = len(query) >= FUZZY_MIN_LENGTH
    return SearchPlan(
        query=query,
        key=key,
        prefix=len(query) >= PREFIX_MIN_LENGTH,
        fuzzy=fuzzy,
        key_neighbours=tuple(key_neighbours(key)) if fuzzy else (),
    )


@dataclass(frozen=True)
class Ranked:
    plate: str
    match: MatchKind
    reason: str
    distance: int
    cost: float
    score: float


@dataclass(frozen=True)
class PlateStats:
    sightings: int
    last_seen: datetime
    last_camera_id: str


def rank(
    plan: SearchPlan, exact: bool, prefixed: Iterable[str], fuzzy: Iterable[str], limit: int
) -> list[Ranked]:
    """The best ``limit`` matches among the candidates a store found."""
    ranked: dict[str, Ranked] = {}
    if exact:
        ranked[plan.query] = Ranked(plan.query, "exact", "exact plate", 0, 0.0, EXACT_SCORE)
    if plan.prefix:
        for plate in prefixed:
            if plate != plan.query and plate.startswith(plan.query):
                extra = len(plate) - len(plan.query)
                reason = f"prefix: starts with {plan.query}, {extra} more character(s)"
                ranked[plate] = Ranked(plate, "prefix", reason, extra, float(extra), PREFIX_SCORE)
    if plan.fuzzy:
        for plate in fuzzy:
            if plate in ranked or plate.startswith(plan.query):
                continue
            if key_distance(search_key(plate), plan.key) > MAX_KEY_EDITS:
                continue
            ranked[plate] = _fuzzy(plan.query, plate)
    return sorted(ranked.values(), key=lambda r: (-r.score, r.plate))[:limit]


def _fuzzy(query: str, plate: str) -> Ranked:
    alignment = align(query, plate)
    reason = "fuzzy: " + "; ".join(edit.describe() for edit in alignment.edits)
    score = round(1.0 / (1.0 + alignment.cost), 6)
    return Ranked(plate, "fuzzy", reason, alignment.distance, alignment.cost, score)


def hits(ranked: Iterable[Ranked], stats: Mapping[str, PlateStats]) -> list[SearchHit]:
    """Ranked matches with their figures; a plate the store no longer has a read of is left out."""
    found = []
    for match in ranked:
        figures = stats.get(match.plate)
        if figures is None or figures.sightings == 0:
            continue
        found.append(
            SearchHit(
                plate=match.plate,
                match=match.match,
                reason=match.reason,
                distance=match.distance,
                cost=match.cost,
                score=match.score,
                sightings=figures.sightings,
                last_seen=figures.last_seen,
                last_camera_id=figures.last_camera_id,
            )
        )
    return found
