"""The page templates render with the data the views give them, escaped, phone-ready."""

from __future__ import annotations

from datetime import UTC, datetime

from web.auth.keys import ApiKey
from web.lookup.contract import SearchHit, Sighting
from web.pages.base import safe_next
from web.pages.forms import ASSIGNED_CHOICES, FormQuery
from web.pages.lookups import by_day
from web.pages.render import render

ALERTS_PAGE = {
    "form": FormQuery({}), "severities": ("critical",), "live": "/live/alerts?reason=case+0042",
    "rules": ["stolen"], "first": False, "next": None, "assigned_choices": ASSIGNED_CHOICES,
}  # fmt: skip
KEY = ApiKey(key_id="abc", owner="Desk 3", role="viewer", created_at=datetime.now(UTC))
AT = datetime(2026, 1, 31, 8, 15, tzinfo=UTC)


def sighting(n: int, crop: bool = True) -> Sighting:
    return Sighting(
        event_id=f"e{n}", plate="AB12CDE", captured_at=AT.replace(hour=8 - n), camera_id="cam-1",
        site_id="s", confidence=0.91, direction="approaching", vehicle_type="car",
        plate_crop_key="crops/a.jpg" if crop else None,
    )  # fmt: skip


def test_every_page_has_the_viewport_meta_and_no_undefined_names() -> None:
    hit = SearchHit(
        plate="AB12CDE", match="fuzzy", reason="fuzzy: 8 read as B", distance=1, score=0.5,
        sightings=3, last_seen=AT, last_camera_id="cam-1",
    )  # fmt: skip
    pages = [
        render("signin.html", key=None, next="/search", message="That key is not valid."),
        render(
            "search.html",
            key=KEY,
            q="AB12",
            reason="case 7",
            hits=[hit],
            error=None,
            needs_reason=True,
            crops={"AB12CDE": "/api/images/e0/plate"},
        ),
        render(
            "search.html",
            key=KEY,
            q="",
            reason="",
            hits=None,
            error="bad",
            needs_reason=False,
            crops={},
        ),
        render(
            "plate.html",
            key=KEY,
            plate="AB12CDE",
            days=by_day([sighting(0), sighting(1)]),
            needs_reason=False,
            next_cursor="c1",
            reason="case 7",
            can_watch=True,
            can_correct=True,
        ),
        render("plate.html", key=KEY, plate="AB12CDE", needs_reason=True, message="a reason"),
        render("error.html", key=None, message="A data store is not answering right now."),
    ]
    for html in pages:
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'href="/plates/AB12CDE?reason=case%207"' in pages[1]
    assert 'class="thumb" src="/api/images/e0/plate"' in pages[1]
    assert 'src="/api/images/e0/plate"' in pages[3]
    assert "?cursor=c1&amp;reason=case%207" in pages[3]
    assert 'action="/reads/e0/correction"' in pages[3] and 'name="csrf"' not in pages[3]
    assert 'href="/evidence/reads/e1?reason=case%207"' in pages[3]  # each sighting's PDF


def test_text_from_people_and_stores_is_escaped() -> None:
    html = render("search.html", key=KEY, q="<script>x</script>", reason="", hits=[],
                  error=None, needs_reason=False, crops={})  # fmt: skip
    assert "<script>x" not in html and "&lt;script&gt;" in html


def test_the_timeline_groups_by_day_newest_first() -> None:
    late = sighting(0)
    early = Sighting(**{**sighting(1).model_dump(), "captured_at": AT.replace(day=30)})
    days = by_day([late, early])
    assert [d.isoformat() for d, _ in days] == ["2026-01-31", "2026-01-30"]


def test_sign_in_only_returns_to_this_site() -> None:
    assert safe_next("/plates/AB12?reason=x") == "/plates/AB12?reason=x"
    for bad in (None, "", "https://evil.example/", "//evil.example/", "/\\evil"):
        assert safe_next(bad) == "/"  # the home page


def test_alerts_offer_acknowledge_only_to_operators() -> None:
    from web.lookup.contract import Alert

    alert = Alert(
        alert_id="a-1", rule_id="stolen", event_id="e0", captured_at=AT, plate="AB12CDE",
        camera_id="cam-1", severity="critical", raised_at=AT,
    )  # fmt: skip
    shown = {
        "open_only": False, "reason": "case 0042", "needs_reason": False, "message": None,
        **ALERTS_PAGE,
    }  # fmt: skip
    operator = render("alerts.html", key=KEY, alerts=[alert], can_ack=True, **shown)
    viewer = render("alerts.html", key=KEY, alerts=[alert], can_ack=False, **shown)
    assert 'action="/alerts/a-1/ack"' in operator
    assert "/ack" not in viewer and "open" in viewer
    assert 'href="/alerts/a-1?reason=case%200042"' in viewer  # the detail page
    assert 'data-live="/live/alerts?reason=case+0042"' in viewer
    assert 'href="/plates/AB12CDE?reason=case%200042"' in viewer


def test_alerts_show_their_assignee_and_offer_assign_to_me_only_to_operators() -> None:
    from web.lookup.contract import Alert

    alert = Alert(
        alert_id="a-1", rule_id="stolen", event_id="e0", captured_at=AT, plate="AB12CDE",
        camera_id="cam-1", severity="critical", raised_at=AT, assigned_to="<dana>",
        assigned_by="eve (k1)", assigned_at=AT,
    )  # fmt: skip
    shown = {
        "open_only": False, "reason": "", "needs_reason": False, "message": None,
        **ALERTS_PAGE | {"form": FormQuery({"assigned": "me"})},
    }  # fmt: skip
    operator = render("alerts.html", key=KEY, alerts=[alert], can_ack=True, **shown)
    viewer = render("alerts.html", key=KEY, alerts=[alert], can_ack=False, **shown)
    assert "&lt;dana&gt;" in viewer and "by eve (k1)" in viewer and "/assign" not in viewer
    assert 'action="/alerts/a-1/assign"' in operator
    assert 'name="assignee" value="Desk 3"' in operator  # "assign to me"
    assert '<option value="me" selected>assigned to me</option>' in viewer
    mine = render(
        "alerts.html", key=KEY.model_copy(update={"owner": "<dana>"}), alerts=[alert],
        can_ack=True, **shown,
    )  # fmt: skip
    assert "/assign" not in mine  # already theirs


def test_alerts_ask_for_a_reason_where_the_role_needs_one() -> None:
    asked = render(
        "alerts.html", key=KEY, alerts=[], can_ack=False, open_only=True, reason="",
        needs_reason=True, message="a reason is required",
        **(ALERTS_PAGE | {"form": FormQuery({"open": "1"})}),
    )  # fmt: skip
    assert 'id="alert-filters"' in asked and '<option value="1" selected>' in asked
    assert 'id="alerts"' not in asked and "<script" not in asked


def test_the_cameras_page_draws_one_line_per_camera() -> None:
    from markupsafe import Markup

    from web.camera_status import CameraView
    from web.lookup.contract import HourlyCount
    from web.pages.chart import hourly_svg, legend

    since = AT.replace(hour=0)
    counts = [
        HourlyCount(camera_id=cam, hour=since.replace(hour=h), reads=h * n)
        for n, cam in enumerate(["cam-1", "cam-<2>"], start=1)
        for h in range(5)
    ]
    svg = hourly_svg(counts, since, 24)
    assert svg.count("<polyline") == 2 and "cam-&lt;2&gt;" in svg
    html = render(
        "cameras.html", key=KEY, hours=24, chart=Markup(svg), legend=legend(counts),
        cameras=[CameraView(camera_id="cam-1", health="stale", reads_per_minute=1.5)],
        **SNAPSHOTS,
    )  # fmt: skip
    assert "<svg" in html and "stale" in html and "1.50" in html


SNAPSHOTS: dict[str, object] = {
    "shots": {}, "reason": "", "message": None, "down": None, "ask": False
}  # fmt: skip
CAMERAS_PAGE = SNAPSHOTS | {"hours": 24, "chart": "", "legend": []}


def test_the_cameras_page_shows_each_cameras_latest_image_or_says_why_there_is_none() -> None:
    from web.camera_status import CameraView

    cameras = [
        CameraView(camera_id=c, health="ok", reads_per_minute=1.0) for c in ("cam-1", "cam-2")
    ]
    read = {
        "event_id": "e1", "plate": "AB12CDE", "at": AT, "vehicle_image_url": None,
        "plate_crop_url": "/api/images/e1/plate?t=1.2.x",
    }  # fmt: skip
    shots = {"cam-1": {"read": read, "words": ""},
             "cam-2": {"read": None, "words": "No reads from this camera are stored."}}  # fmt: skip
    html = render("cameras.html", key=KEY, cameras=cameras, **CAMERAS_PAGE | {"shots": shots})
    assert 'src="/api/images/e1/plate?t=1.2.x"' in html and ">AB12CDE</a>" in html
    assert "No reads from this camera are stored." in html and 'id="cameras-reason"' not in html
    asked = render("cameras.html", key=KEY, cameras=cameras, **CAMERAS_PAGE | {"ask": True})
    assert 'id="cameras-reason"' in asked and "give a reason" in asked and "<img" not in asked
    down = render("cameras.html", key=KEY, cameras=cameras, **CAMERAS_PAGE | {"down": "gone"})
    assert 'id="images-down"' in down and "No reads from" not in down
