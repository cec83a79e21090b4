"""The reason policy and the audit of plate lookups, with an in-test backend and audit sink
(the real stores are exercised in tests/integration/test_web_api.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from config.settings import load_settings
from web import plate_lookup
from web.app_state import WebResources
from web.auth.access import checked_reason
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

    async def fetchval(self, sql: str, *args: Any) -> int:
        self.audited.append(args)
        return len(self.audited)


def key(role: str) -> ApiKey:
    return ApiKey(key_id="k1", owner="Desk 3", role=role, created_at=NOW)  # type: ignore[arg-type]


async def test_viewers_need_a_reason_by_default_and_the_search_is_audited() -> None:
    state = FakeState(("viewer",))
    real = cast(WebResources, state)
    with pytest.raises(ApiError) as refused:
        await plate_lookup.search(real, plate_lookup.Lookup(key("viewer"), None, None), "AB12", 5)
    assert refused.value.code == "reason_required"
    assert state.audited == [
        ("k1", "Desk 3", "search", "AB12", True, None, None, None, "reason_required")
    ]  # the refusal is audited too
    who = plate_lookup.Lookup(key("viewer"), "  case 7001 ", "10.0.0.1")
    found = await plate_lookup.search(real, who, "ab-12", 5)
    assert [h.plate for h in found.value] == ["AB12"] and found.audit_id == 2
    assert state.audited[1] == (
        "k1", "Desk 3", "search", "AB12", True, "case 7001", 1, "10.0.0.1", None
    )  # fmt: skip


async def test_the_policy_is_configurable_per_role() -> None:
    state = FakeState(("viewer", "operator"))
    real = cast(WebResources, state)
    operator = plate_lookup.Lookup(key("operator"), None, None)
    with pytest.raises(ApiError):
        await plate_lookup.history(real, operator, "AB12", None, 10)
    admin = plate_lookup.Lookup(key("admin"), None, "not-an-ip")
    found = await plate_lookup.history(real, admin, "ab12", None, 10)
    plate, page = found.value
    assert plate == "AB12" and page.items == []
    assert state.audited[-1] == ("k1", "Desk 3", "plate", "AB12", False, None, 0, None, None)


async def test_a_bad_plate_is_refused_and_audited() -> None:
    state = FakeState(())
    who = plate_lookup.Lookup(key("admin"), None, None)
    with pytest.raises(ApiError) as refused:
        await plate_lookup.history(cast(WebResources, state), who, "$\x00$", None, 10)
    assert refused.value.code == "bad_plate"
    assert state.audited[0][2:4] == ("plate", "'$\\x00$'") and state.audited[0][-1] == "bad_plate"


def test_a_reason_must_be_printable_and_bounded() -> None:
    settings = FakeState(()).settings.web
    for bad in ("x" * 501, "case\x007"):
        with pytest.raises(ApiError) as refused:
            checked_reason(settings, key("admin"), bad)
        assert refused.value.code == "bad_reason"


def test_a_reason_has_a_minimum_length_and_a_site_format_when_required() -> None:
    settings = load_settings(web={"reason_pattern": r"\bCASE-\d{4}\b"}).web
    with pytest.raises(ApiError) as short:
        checked_reason(settings, key("viewer"), " x      ")
    assert short.value.code == "reason_too_short" and "8 characters" in short.value.message
    with pytest.raises(ApiError) as format_:
        checked_reason(settings, key("viewer"), "because I can")
    assert format_.value.code == "reason_format"
    assert checked_reason(settings, key("viewer"), "see CASE-0042 ") == "see CASE-0042"
    assert checked_reason(settings, key("admin"), "x") == "x"  # admins need none by default
