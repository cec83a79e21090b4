"""Ranking of search candidates: exact, look-alike fuzzy, prefix, then other fuzzy matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from web.lookup.contract import MAX_LIMIT, BadQuery
from web.lookup.ranking import PlateStats, check_plate, hits, plan_search, rank


def test_order_exact_then_lookalikes_then_prefix_then_real_edits() -> None:
    plan = plan_search("AB12C", 10)
    ranked = rank(
        plan,
        exact=True,
        prefixed=["AB12CZ", "AB12CA"],
        fuzzy=["A812C", "AB12X", "A8I2C", "AB12C"],
        limit=10,
    )
    assert [(r.plate, r.match) for r in ranked] == [
        ("AB12C", "exact"),
        ("A812C", "fuzzy"),
        ("A8I2C", "fuzzy"),
        ("AB12CA", "prefix"),
        ("AB12CZ", "prefix"),
        ("AB12X", "fuzzy"),
    ]
    assert ranked[1].reason == "fuzzy: B read as 8 at 2"
    assert ranked[3].reason == "prefix: starts with AB12C, 1 more character(s)"
    assert ranked[5].reason == "fuzzy: X for C at 5" and ranked[5].distance == 1
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_fuzzy_candidates_too_far_by_key_or_starting_with_the_query_are_not_fuzzy() -> None:
    plan = plan_search("AB12C", 10)
    ranked = rank(plan, exact=False, prefixed=[], fuzzy=["XY12C", "AB12CD"], limit=10)
    assert ranked == []


def test_limit_keeps_the_best() -> None:
    plan = plan_search("AB1", 2)
    ranked = rank(plan, exact=True, prefixed=["AB10", "AB11", "AB12"], fuzzy=[], limit=2)
    assert [r.plate for r in ranked] == ["AB1", "AB10"]


def test_short_queries_match_exactly_or_by_prefix_only() -> None:
    assert not plan_search("A", 5).prefix and not plan_search("A", 5).fuzzy
    assert plan_search("AB", 5).prefix and not plan_search("AB", 5).fuzzy
    assert plan_search("ABC", 5).key_neighbours


@pytest.mark.parametrize("query", ["", "ab12", "AB 12", "A" * 13, "AB'; DROP TABLE x;--",
                                   "AB\x00", "ÄB12"])  # fmt: skip
def test_malformed_queries_are_bad_queries(query: str) -> None:
    with pytest.raises(BadQuery, match="normalised plate"):
        check_plate(query)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True])
def test_limits_out_of_range_are_bad_queries(limit: int) -> None:
    with pytest.raises(BadQuery, match="limit"):
        plan_search("AB12", limit)


def test_hits_carry_figures_and_leave_out_plates_without_reads() -> None:
    plan = plan_search("AB12C", 10)
    ranked = rank(plan, exact=True, prefixed=["AB12CD"], fuzzy=[], limit=10)
    seen = datetime(2026, 1, 2, tzinfo=UTC)
    found = hits(ranked, {"AB12C": PlateStats(3, seen, "cam-1")})
    assert len(found) == 1
    assert (found[0].plate, found[0].sightings, found[0].last_camera_id) == ("AB12C", 3, "cam-1")
