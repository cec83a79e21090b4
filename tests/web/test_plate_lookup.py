"""The reason policy and the audit of plate lookups, with an in-test backend and audit sink
(the real stores are exercised in tests/integration/test_web_api.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from config.settings import load_settings
from web import plate_lookup
from web.app_state import WebResources
from web.auth.keys import ApiKey
from web.errors import ApiError
from web.lookup.contract import Page, SearchHit, Sighting

NOW = datetime(2026, 1, 31, 8, tzinfo=UTC)


class FakeBackend:
    name = "fake"

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        hit = SearchHit(plate=query, match="exact", reason="exact plate", distance=0, score=1.0,
                        sightings=1, last_seen=NOW, last_camera_id="cam-1")  # fmt: skip
        return [hit][:limit]

    async def history(self, plate: str, *, cursor: str | None, limit: int) -> Page[Sighting]:
        return Page[Sighting](items=[])


class FakeState:
    def __init__(self, required: tuple[str, ...]) -> None:
        self.settings = load_settings(web={"reason_required_for": required})
        self.audited: list[tuple[Any, ...]] = []

    async def lookup(self) -> FakeBackend:
        return FakeBackend()

    async def pool(self) -> FakeState:
        return self

    async def execute(self, sql: str, *args: Any) -> None:
        self.audited.append(args)


def key(role: str) -> ApiKey:
    return ApiKey(key_id="k1", owner="Desk 3", role=role, created_at=NOW)  # type: ignore[arg-type]


async def test_viewers_need_a_reason_by_default_and_the_search_is_audited() -> None:
    state = FakeState(("viewer",))
    real = cast(WebResources, state)
    with pytest.raises(ApiError) as refused:
        await plate_lookup.search(real, plate_lookup.Lookup(key("viewer"), None, None), "AB12", 5)
    assert refused.value.code == "reason_required" and not state.audited
    who = plate_lookup.Lookup(key("viewer"), "  case 7 ", "10.0.0.1")
    hits = await plate_lookup.search(real, who, "ab-12", 5)
    assert [h.plate for h in hits] == ["AB12"]
    assert state.audited == [("k1", "Desk 3", "search", "AB12", True, "case 7", 1, "10.0.0.1")]


async def test_the_policy_is_configurable_per_role() -> None:
    state = FakeState(("viewer", "operator"))
    real = cast(WebResources, state)
    operator = plate_lookup.Lookup(key("operator"), None, None)
    with pytest.raises(ApiError):
        await plate_lookup.history(real, operator, "AB12", None, 10)
    admin = plate_lookup.Lookup(key("admin"), None, "not-an-ip")
    plate, page = await plate_lookup.history(real, admin, "ab12", None, 10)
    assert plate == "AB12" and page.items == []
    assert state.audited == [("k1", "Desk 3", "plate", "AB12", False, None, 0, None)]


def test_a_reason_must_be_printable_and_bounded() -> None:
    state = cast(WebResources, FakeState(()))
    for bad in ("x" * 501, "case\x007"):
        with pytest.raises(ApiError) as refused:
            plate_lookup.checked_reason(state, key("admin"), bad)
        assert refused.value.code == "bad_reason"
