"""The console's pieces without a worker: form parsing (local times, wildcard plates), the
CSV export's cells, the live stream's frames, the per-camera figures, the watch list forms,
and the templates of the new pages, escaped."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.kinds.watchlist import WatchlistRule
from web.auth.keys import ApiKey
from web.errors import ApiError
from web.hardening import content_security_policy
from web.lookup.contract import Alert, BadQuery, EventFilter, HourlyCount, Sighting
from web.lookup.queries import check_event_filter, like_pattern
from web.pages import forms, render
from web.pages.exports import COLUMNS, cell, csv_text
from web.pages.forms import FormQuery
from web.pages.home import per_camera
from web.pages.live import event_frame
from web.pages.watchlists import csv_of, plates_given

KEY = ApiKey(key_id="abc", owner="Desk <3>", role="admin", created_at=datetime.now(UTC))
AT = datetime(2026, 7, 1, 8, 15, tzinfo=UTC)


def sighting(plate: str = "AB12CDE", camera_name: str | None = None) -> Sighting:
    return Sighting(
        event_id="e1", plate=plate, captured_at=AT, camera_id="cam-1", site_id="s",
        camera_name=camera_name, confidence=0.9, direction="approaching", vehicle_type="car",
        plate_crop_key="k",
    )  # fmt: skip


@pytest.fixture
def london(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "site_zone", lambda: ZoneInfo("Europe/London"))
    monkeypatch.setattr(forms, "site_zone", lambda: ZoneInfo("Europe/London"))


def test_form_times_are_read_in_the_site_zone(london: None) -> None:
    assert forms.local_time({"since": "2026-07-01T09:15"}, "since") == AT  # BST is UTC+1
    assert forms.local_time({"since": "2026-07-01T08:15Z"}, "since") == AT
    assert forms.local_time({}, "since") is None
    with pytest.raises(ApiError, match="since must be a date and time"):
        forms.local_time({"since": "yesterday"}, "since")
    assert render._when(AT) == "2026-07-01 09:15:00 BST"
    assert render._form_time(AT) == "2026-07-01T09:15"


def test_plate_patterns_keep_wildcards_anywhere() -> None:
    assert forms.plate_pattern("m*") == "M*"
    assert forms.plate_pattern("*12 *") == "*12*"
    assert forms.plate_pattern("ab12-cde") == "AB12CDE"  # no wildcard: a plate, normalised
    assert forms.plate_pattern(None) is None
    assert like_pattern("*12?A*") == "%12_A%"
    check_event_filter(EventFilter(plate_pattern="*12*"))
    for bad in ("*", "**?", "A%", "a*"):
        with pytest.raises(BadQuery, match="plate pattern"):
            check_event_filter(EventFilter(plate_pattern=bad))


def test_the_reads_form_becomes_a_filter_and_links_back() -> None:
    form = FormQuery.of(
        {"plate": " M* ", "camera": "cam-1", "until": "", "reason": "x", "junk": "1"},
        forms.READ_FIELDS,
    )
    assert form.given == {"plate": "M*", "camera": "cam-1"}
    where = forms.read_filter(form)
    assert (where.plate_pattern, where.camera_id, where.until) == ("M*", "cam-1", None)
    assert form.described() == "plate=M* camera=cam-1"
    assert form.link("/reads", reason="case 1", cursor=None) == (
        "/reads?plate=M%2A&camera=cam-1&reason=case+1"
    )
    assert FormQuery.of({}, forms.READ_FIELDS).described() == "(all)"


def test_the_reads_form_filters_by_vehicle_type_and_colour_in_lower_case() -> None:
    form = FormQuery.of({"vehicle_type": "car", "vehicle_colour": " Red "}, forms.READ_FIELDS)
    where = forms.read_filter(form)
    assert (where.vehicle_type, where.vehicle_colour) == ("car", "red")
    assert form.described() == "vehicle_type=car vehicle_colour=Red"
    with pytest.raises(BadQuery, match="vehicle_colour must be"):
        check_event_filter(EventFilter(vehicle_colour="red;drop"))


def test_the_alerts_form_filters_by_rule_severity_time_and_state() -> None:
    form = FormQuery.of(
        {"rule_id": "stolen", "severity": "critical", "open": "1", "since": "2026-07-01T08:15Z"},
        forms.ALERT_FIELDS,
    )
    where = forms.alert_filter(form, "dana")
    assert (where.rule_id, where.severity, where.acknowledged, where.since) == (
        "stolen", "critical", False, AT
    )  # fmt: skip
    assert (where.assigned_to, where.assigned) == (None, None)


def test_the_alerts_form_filters_by_assignment_to_me_or_to_no_one() -> None:
    mine = forms.alert_filter(FormQuery.of({"assigned": "me"}, forms.ALERT_FIELDS), "dana")
    assert (mine.assigned_to, mine.assigned) == ("dana", None)
    nobody = forms.alert_filter(FormQuery.of({"assigned": "none"}, forms.ALERT_FIELDS), "dana")
    assert (nobody.assigned_to, nobody.assigned) == (None, False)
    with pytest.raises(ApiError) as refused:
        forms.alert_filter(FormQuery.of({"assigned": "bob"}, forms.ALERT_FIELDS), "dana")
    assert refused.value.code == "bad_assigned"


def test_csv_exports_hold_every_column_and_no_formulas(london: None) -> None:
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cell("-1") == "'-1"
    assert cell(None) == "" and cell("Gate 1") == "Gate 1"
    text = csv_text([sighting(camera_name="=cmd|x")])
    header, row = text.splitlines()
    assert header.split(",") == list(COLUMNS)
    assert row.startswith("e1,AB12CDE,2026-07-01T08:15:00+00:00,2026-07-01T09:15:00+01:00,")
    assert ",'=cmd|x," in row and row.endswith(",0.900")


def test_a_live_row_is_one_server_sent_event_on_one_line() -> None:
    frame = event_frame(3, "<tr>\n<td>A</td>\n</tr>").decode()
    assert frame == "id: 3\nevent: row\ndata: <tr> <td>A</td> </tr>\n\n"


def test_reads_per_camera_over_the_day_and_the_last_hour() -> None:
    now = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    counts = [
        HourlyCount(camera_id="a", hour=now.replace(minute=0) - timedelta(hours=h), reads=2)
        for h in range(5)
    ] + [HourlyCount(camera_id="b", hour=now.replace(minute=0), reads=7)]
    day, hour = per_camera(counts, now)
    assert (day["a"], hour["a"], day["b"], hour["b"]) == (10, 4, 7, 7)


def test_only_the_live_pages_may_run_this_sites_own_script() -> None:
    still = content_security_policy(None)
    live = content_security_policy(None, scripts=True)
    assert "script-src 'none'" in still and "connect-src" not in still
    assert "script-src 'self'; connect-src 'self'" in live
    assert "unsafe-inline" not in live.split("style-src")[0]


class Upload:
    def __init__(self, text: str) -> None:
        self.file = io.BytesIO(text.encode())


def test_watch_list_forms_take_a_plate_lines_and_a_csv_file() -> None:
    form = {"plate": "ab12 cde", "plates": "XY99ZZZ\n# note\n", "csv": Upload("plate\nQQ11QQQ,x")}
    assert plates_given(form) == ["AB12CDE", "XY99ZZZ", "QQ11QQQ"]
    assert plates_given({"plates": "AB12CDE\nab12cde"}) == ["AB12CDE"]
    with pytest.raises(ApiError, match="not a plate"):
        plates_given({"plates": "$$"})
    rule = WatchlistRule(type="watchlist", name="w", plates=["AB12CDE", "XY99ZZZ"])
    assert csv_of(rule).splitlines() == ["plate", "AB12CDE", "XY99ZZZ"]


def test_the_console_pages_render_escaped_with_the_live_script_where_it_is_needed() -> None:
    from web.api.sightings import sighting_json

    read = sighting_json(sighting(camera_name="<b>gate</b>")) | {"at": AT}
    home = render.render(
        "home.html", key=KEY, reads=[read], message=None, reason="case 9", down=None,
        cameras=[{"camera_id": "cam-1", "view": None, "day": 5, "hour": 1, "share": 100}],
    )  # fmt: skip
    assert 'data-live="/live/reads?reason=case%209"' in home
    assert '<script src="/static/console.js" defer></script>' in home
    assert "&lt;b&gt;gate" in home and "Desk &lt;3&gt;" in home and ">admin<" in home
    assert 'id="read-e1"' in home and 'href="/api/images/e1/plate"' in home
    assert 'href="/evidence/reads/e1?reason=case%209"' in home  # every read row links its PDF
    asked = render.render(
        "home.html", key=KEY, reads=[], message="a reason is required", reason="", cameras=[],
        down=None,
    )  # fmt: skip
    assert 'id="home-reason"' in asked and "<script" not in asked
    down = render.render(
        "home.html", key=KEY, reads=[], message=None, reason="", cameras=[], down="not answering"
    )
    assert 'id="reads-down"' in down and "<script" not in down and 'id="home-reason"' not in down
    reads = render.render(
        "reads.html", key=KEY, reads=[read], message=None, next="/reads?cursor=c",
        form=FormQuery({"plate": "M*"}), reason="r", cameras=[], needs_reason=True,
        export="/export/reads?plate=M%2A&reason=r", first=True,
    )  # fmt: skip
    assert 'id="next-page" href="/reads?cursor=c"' in reads and 'value="M*"' in reads
    assert 'id="export" href="/export/reads?plate=M%2A&amp;reason=r"' in reads
    alert = Alert(
        alert_id="a-1", rule_id="stolen", event_id="e1", captured_at=AT, plate="AB12CDE",
        camera_id="cam-1", severity="critical", raised_at=AT,
        details={"event_ids": ["e1"], "listed": "<AB12CDE>"},
    )  # fmt: skip
    detail = render.render(
        "alert.html", key=KEY, alert=alert, reads=[read], message=None, reason="r",
        can_ack=True, missing=0, assignees=["dana", "<eve>"],
    )  # fmt: skip
    assert 'id="ack"' in detail and 'name="back" value="alert"' in detail
    assert 'id="assign"' in detail and "<option>&lt;eve&gt;</option>" in detail
    assert "Not assigned." in detail
    assert "&lt;AB12CDE&gt;" in detail and "event_ids" not in detail
    assert 'id="evidence" href="/evidence/alerts/a-1?reason=r"' in detail
    assigned = alert.model_copy(
        update={"assigned_to": "dana", "assigned_by": "eve (k1)", "assigned_at": AT}
    )
    viewer = render.render(
        "alert.html", key=KEY, alert=assigned, reads=[], message=None, reason="r",
        can_ack=False, missing=0, assignees=[],
    )  # fmt: skip
    assert 'id="assign"' not in viewer and "<strong>dana</strong> by eve (k1)" in viewer
    rule = WatchlistRule(type="watchlist", name="stolen", plates=["AB12CDE"], severity="critical")
    lists = render.render("watchlists.html", key=KEY, lists=[rule], message=None)
    assert 'href="/watchlists/stolen"' in lists
    one = render.render("watchlist.html", key=KEY, rule=rule)
    assert 'name="remove" value="AB12CDE"' in one and "?format=csv" in one


def test_the_cameras_chart_has_gridlines_and_hours_in_the_site_zone(london: None) -> None:
    from web.pages.chart import hourly_svg

    since = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    counts = [
        HourlyCount(camera_id="a", hour=since + timedelta(hours=h), reads=h) for h in range(9)
    ]
    svg = hourly_svg(counts, since, 24)
    assert svg.count('class="grid"') == 4 + 6  # quarters of the peak (8), and six hour marks
    assert ">01:00</text>" in svg and ">00:00</text>" not in svg  # BST: UTC midnight is 01:00
