"""The operations page's pieces without a worker: Prometheus's answers (recorded from the
stack's real Prometheus, in ``prometheus/``) parsed, the client against a small HTTP server
speaking the API, the SVG charts, and the template in its every state, escaped."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from config.web import WebSettings
from web.auth.keys import ApiKey
from web.pages.chart import PALETTE
from web.pages.operations_chart import Line, amount, series_svg
from web.pages.operations_page import PANELS, Panel, camera_rows, chart, gather, lines_of
from web.pages.operations_prometheus import (
    Prometheus,
    PrometheusUnavailable,
    QueryFailed,
    Series,
    parse_alerts,
    parse_matrix,
    parse_vector,
)
from web.pages.render import render

RECORDED = Path(__file__).parent / "prometheus"
KEY = ApiKey(key_id="abc", owner="Ops <1>", role="admin", created_at=datetime.now(UTC))
END = datetime.fromtimestamp(1796574484, UTC)
START = END - timedelta(minutes=5)


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())


def test_a_range_answer_becomes_series_with_float_points() -> None:
    found = parse_matrix(recorded("query_range_up"))
    assert [s.labels["job"] for s in found] == ["prometheus", "alertmanager"]
    assert len(found[0].points) == 6
    assert found[0].points[0] == (1796574184.0, 1.0) and found[0].last == 1.0


def test_nan_points_are_left_out() -> None:
    (series,) = parse_matrix(recorded("query_range_nan"))
    assert series.labels["__name__"] == "alpr_alert_latency_seconds:p99_5m"
    assert series.points == () and series.last is None


def test_an_instant_answer_gives_one_point_per_series() -> None:
    found = parse_vector(recorded("query_up"))
    assert len(found) == 3 and all(s.last == 1.0 for s in found)


def test_alerts_are_parsed_firing_first_with_their_time() -> None:
    answer = recorded("alerts")
    pending = {
        **answer["data"]["alerts"][0],
        "state": "pending",
        "activeAt": "0001-01-01T00:00:00Z",
    }
    answer["data"]["alerts"].insert(0, {**pending, "labels": {"alertname": "AAA"}})
    alerts = parse_alerts(answer)
    assert [(a.name, a.state) for a in alerts] == [
        ("CameraSilent", "firing"), ("KafkaDown", "firing"), ("AAA", "pending"),
    ]  # fmt: skip
    silent = alerts[0]
    assert silent.severity == "critical" and silent.labels["camera"] == "cam-4a4a7a911f"
    assert silent.since == datetime(2026, 12, 6, 15, 50, 3, 212031, tzinfo=UTC)
    assert silent.summary == "Camera cam-4a4a7a911f delivers no frames"
    assert alerts[2].since is None and alerts[2].severity == "-"


def test_a_refused_query_and_a_foreign_answer_are_told_apart() -> None:
    with pytest.raises(QueryFailed, match="bad_data: invalid parameter"):
        parse_matrix(recorded("error_bad_data"))
    with pytest.raises(QueryFailed, match="expected a matrix result, got vector"):
        parse_matrix(recorded("query_up"))
    with pytest.raises(PrometheusUnavailable, match="not a Prometheus API answer"):
        parse_vector(["<html>"])


def test_amounts_are_short() -> None:
    assert amount(0.25, "s") == "250ms"
    assert amount(2.5, "s") == "2.5s"
    assert amount(12345, "") == "12.3k"
    assert amount(0.5, "/s") == "0.5"


def test_the_svg_has_a_line_per_series_and_escapes_names() -> None:
    lines = [
        Line("<script>", ((START.timestamp(), 1.0), (END.timestamp(), 3.0))),
        Line("cam-2", ((START.timestamp() + 60, 0.5),)),
    ]
    svg = series_svg(lines, START, END, "Reads & more", "/s")
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 2  # the latest values
    assert "<title>cam-2: 0.5</title>" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Reads &amp; more"' in svg
    assert ">3<" in svg  # the peak's gridline


def test_a_chart_keeps_the_busiest_lines_and_counts_the_rest() -> None:
    panel = Panel("p", "P", "", (("x", "{camera}"), ("y", "fixed")))
    many = [Series({"camera": f"c{n:02}"}, ((START.timestamp(), float(n)),)) for n in range(12)]
    drawn = chart(panel, [many, [Series({}, ())]], START, END)
    assert drawn.hidden == 12 - len(PALETTE)
    assert [name for name, _ in drawn.legend] == [f"c{n:02}" for n in range(4, 12)]
    assert [line.name for line in lines_of(panel, [many[:1], [Series({}, ())]])] == [
        "c00", "fixed",
    ]  # fmt: skip
    assert chart(panel, [[], []], START, END).svg is None


def test_camera_rows_join_the_columns_by_camera() -> None:
    rows = camera_rows({
        "up": [Series({"camera": "b"}, ((0, 1.0),)), Series({"camera": "a"}, ((0, 0.0),))],
        "fps": [Series({"camera": "a"}, ((0, 9.5),))],
    })  # fmt: skip
    assert rows == [{"camera": "a", "up": 0.0, "fps": 9.5}, {"camera": "b", "up": 1.0}]


def test_every_panel_reads_a_recording_rule_or_a_metric_of_the_project() -> None:
    rules = (Path(__file__).parents[3] / "ops/prometheus/rules/recording.yml").read_text()
    recorded_names = set(re.findall(r"record: (\S+)", rules))
    for panel in PANELS:
        for expr, _ in panel.queries:
            for name in re.findall(r"[\w:]*alpr_[\w:]+", expr):
                assert name in recorded_names or name.startswith("alpr_edge_"), (panel.id, name)


def test_the_prometheus_url_setting_is_checked() -> None:
    assert WebSettings.model_validate({}).prometheus_url == "http://127.0.0.1:19090"
    assert (
        WebSettings.model_validate({"prometheus_url": "http://p:9090/"}).prometheus_url
        == "http://p:9090"
    )
    assert WebSettings.model_validate({"prometheus_url": None}).prometheus_url is None
    with pytest.raises(ValidationError, match="prometheus_url must be an http"):
        WebSettings.model_validate({"prometheus_url": "p:9090"})


@pytest.fixture
async def fake_prometheus(unused_tcp_port: int) -> AsyncIterator[tuple[str, list[web.Request]]]:
    """A server answering the API's paths with the recorded answers (an unknown metric: no
    series; ``sum(``: the recorded refusal; ``/api/v1/alerts``: the recorded alerts)."""
    asked: list[web.Request] = []

    async def api(request: web.Request) -> web.Response:
        asked.append(request)
        path, query = request.match_info["path"], request.query.get("query", "")
        if path == "alerts":
            return web.json_response(recorded("alerts"))
        if query == "sum(":
            return web.json_response(recorded("error_bad_data"), status=400)
        if query == "up":
            name = "query_range_up" if path == "query_range" else "query_up"
            return web.json_response(recorded(name))
        kind = "matrix" if path == "query_range" else "vector"
        return web.json_response({"status": "success", "data": {"resultType": kind, "result": []}})

    app = web.Application()
    app.router.add_get("/api/v1/{path}", api)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    yield f"http://127.0.0.1:{unused_tcp_port}", asked
    await runner.cleanup()


async def test_the_client_asks_the_api_and_parses_its_answers(
    fake_prometheus: tuple[str, list[web.Request]],
) -> None:
    url, asked = fake_prometheus
    async with aiohttp.ClientSession() as session:
        prometheus = Prometheus(url + "/", 2, session)
        found = await prometheus.query_range("up", START, END, 60)
        assert [s.labels["job"] for s in found] == ["prometheus", "alertmanager"]
        assert dict(asked[-1].query) == {
            "query": "up", "start": f"{START.timestamp():.3f}", "end": f"{END.timestamp():.3f}",
            "step": "60",
        }  # fmt: skip
        assert len(await prometheus.query("up")) == 3
        assert [a.name for a in await prometheus.alerts()] == ["CameraSilent", "KafkaDown"]
        with pytest.raises(QueryFailed, match="bad_data"):
            await prometheus.query("sum(")


async def test_everything_the_page_shows_is_gathered(
    fake_prometheus: tuple[str, list[web.Request]],
) -> None:
    url, _ = fake_prometheus
    async with aiohttp.ClientSession() as session:
        shown = await gather(Prometheus(url, 2, session), START, END)
    assert [c.panel.id for c in shown["charts"]] == [p.id for p in PANELS]
    assert all(c.svg is None and c.error is None for c in shown["charts"])  # no series yet
    assert len(shown["targets"]) == 3 and shown["cameras"] == []
    assert [a.name for a in shown["alerts"]] == ["CameraSilent", "KafkaDown"]


async def test_nothing_listening_or_a_foreign_answer_is_unavailable(unused_tcp_port: int) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PrometheusUnavailable, match=str(unused_tcp_port)):
            await gather(Prometheus(f"http://127.0.0.1:{unused_tcp_port}", 2, session), START, END)

    async def proxy(_: web.Request) -> web.Response:
        return web.Response(text="<h1>proxy</h1>", status=502)

    app = web.Application()
    app.router.add_get("/api/v1/{path}", proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(PrometheusUnavailable, match="HTTP 502"):
                await Prometheus(f"http://127.0.0.1:{unused_tcp_port}", 2, session).alerts()
    finally:
        await runner.cleanup()
    with pytest.raises(ValueError, match="timeout must be above 0"):
        Prometheus("http://p", 0, session)


def page(**context: Any) -> str:
    base: dict[str, Any] = {
        "windows": ["15m", "1h"], "chosen": "1h", "prometheus": "http://p:9090",
        "unavailable": None, "charts": [], "cameras": [], "targets": [], "alerts": [],
    }  # fmt: skip
    return render("operations.html", key=KEY, **{**base, **context})


def test_the_page_shows_charts_alerts_cameras_and_targets_escaped() -> None:
    panel = Panel("reads", "Reads <per> second", "/s", (("x", "{camera}"),))
    series = Series({"camera": "<cam>"}, ((START.timestamp(), 2.0), (END.timestamp(), 1.0)))
    html = page(
        charts=[chart(panel, [[series]], START, END), chart(panel, [[]], START, END)],
        alerts=parse_alerts(recorded("alerts")),
        cameras=[{"camera": "cam-1", "up": 1.0, "fps": 9.5}, {"camera": "<b>", "up": 0.0}],
        targets=parse_vector(recorded("query_up")),
    )
    assert 'id="chart-reads"' in html and html.count("<polyline") == 1
    assert "Reads &lt;per&gt; second" in html and "&lt;cam&gt;" in html and "<cam>" not in html
    assert "No data in this range yet." in html
    assert "CameraSilent" in html and "Camera cam-4a4a7a911f delivers no frames" in html
    assert "&lt;b&gt;" in html and '<span class="badge down">down</span>' in html
    assert html.count('<span class="badge ok">up</span>') == 4  # a camera and three targets
    assert 'href="/operations"' in html  # the admins' header link
    assert '<option value="1h" selected>' in html


def test_the_page_says_when_prometheus_does_not_answer() -> None:
    html = page(unavailable="Prometheus is not answering: <refused>")
    assert 'id="unavailable"' in html and "&lt;refused&gt;" in html
    assert 'id="charts"' not in html and 'id="alerts"' not in html
    assert "No alerts are firing or pending." in page()


def test_only_admins_see_the_operations_link() -> None:
    viewer = ApiKey(key_id="v", owner="v", role="viewer", created_at=datetime.now(UTC))
    assert 'href="/operations"' not in render("error.html", key=viewer, message="m")
    assert 'href="/operations"' in render("error.html", key=KEY, message="m")
