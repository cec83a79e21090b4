"""``/operations``: the system's health in one place for admins, drawn from Prometheus
(``web.prometheus_url``): reads per camera, edge time per frame, consumer lag, alert latency,
dead letters and store writes as charts, the cameras and scrape targets as tables, and the
alerts Prometheus holds.

The charts read the project's recording rules (``ops/prometheus/rules/recording.yml``), so the
page asks for precomputed series. When Prometheus does not answer, the page says so with a 503
and the address it tried; an expression Prometheus refuses shows its error in its own chart.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from faust.web import Request, Response
from markupsafe import Markup

from alpr import app
from web.errors import bad_request
from web.pages.base import PageView
from web.pages.chart import PALETTE
from web.pages.operations_chart import Line, legend, series_svg
from web.pages.operations_prometheus import (
    Prometheus,
    PrometheusUnavailable,
    QueryFailed,
    Series,
)

#: The time ranges the page offers, and the seconds each spans; a chart has about 120 points.
WINDOWS = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
POINTS = 120


@dataclass(frozen=True)
class Panel:
    """One chart: its queries, each with the legend its series get (``{label}`` filled in)."""

    id: str
    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]


PANELS = (
    Panel("reads", "Reads per second, per camera", "/s",
          (("camera:alpr_edge_events:rate5m", "{camera}"),)),
    Panel("frame-time", "Edge analysis time per frame, per camera", "s",
          (("camera:alpr_edge_stage_seconds_per_frame:rate5m", "{camera}"),)),
    Panel("fps", "Edge frames per second, per camera", "",
          (("max by (camera) (alpr_edge_fps)", "{camera}"),)),
    Panel("lag", "Consumer lag per group (messages)", "",
          (("group:alpr_consumer_lag:sum", "{group}"),)),
    Panel("alert-latency", "Alert latency, read to alert (p50, p99)", "s",
          (("alpr_alert_latency_seconds:p50_5m", "p50"),
           ("alpr_alert_latency_seconds:p99_5m", "p99"))),
    Panel("dead-letters", "Dead letters per second, per stage", "/s",
          (("sum by (stage) (stage:alpr_dead_letters:rate5m)", "{stage}"),)),
    Panel("store-writes", "Store writes per second", "/s",
          (("store:alpr_projection_written:rate5m", "{store}"),)),
    Panel("store-latency", "Store write time p99", "s",
          (("store:alpr_projection_write_seconds:p99_5m", "{store}"),)),
)  # fmt: skip

#: Instant queries of the tables: each camera's state and every scrape target's.
CAMERA_QUERIES = {
    "up": "max by (camera) (alpr_edge_camera_up)",
    "fps": "max by (camera) (alpr_edge_fps)",
    "reads": "camera:alpr_edge_events:rate5m",
}
TARGETS_QUERY = "up"


@dataclass(frozen=True)
class Chart:
    """A panel as the template shows it: the SVG, its legend, or why there is none."""

    panel: Panel
    svg: Markup | None
    legend: list[tuple[str, str]]
    hidden: int
    error: str | None


def lines_of(panel: Panel, answers: list[list[Series]]) -> list[Line]:
    """The panel's lines, named by its legends, in a stable order."""
    lines = []
    for (_, name), found in zip(panel.queries, answers, strict=True):
        for series in found:
            labels: defaultdict[str, str] = defaultdict(lambda: "-", series.labels)
            lines.append(Line(name.format_map(labels), series.points))
    return sorted(lines, key=lambda line: line.name)


def chart(panel: Panel, answers: list[list[Series]], start: datetime, end: datetime) -> Chart:
    """The panel drawn: at most as many lines as the palette has colours, the busiest."""
    lines = [line for line in lines_of(panel, answers) if line.points]
    if not lines:
        return Chart(panel, None, [], 0, None)
    shown = sorted(lines, key=lambda line: -max(v for _, v in line.points))[: len(PALETTE)]
    shown.sort(key=lambda line: line.name)
    svg = Markup(series_svg(shown, start, end, panel.title, panel.unit))  # escaped parts
    return Chart(panel, svg, legend(shown), len(lines) - len(shown), None)


async def panel_chart(
    prometheus: Prometheus, panel: Panel, start: datetime, end: datetime
) -> Chart:
    step = (end - start).total_seconds() / POINTS
    try:
        answers = [
            await prometheus.query_range(expr, start, end, step) for expr, _ in panel.queries
        ]
    except QueryFailed as exc:
        return Chart(panel, None, [], 0, str(exc))
    return chart(panel, answers, start, end)


def camera_rows(answers: dict[str, list[Series]]) -> list[dict[str, Any]]:
    """One row per camera any of the camera queries names."""
    rows: dict[str, dict[str, Any]] = {}
    for column, found in answers.items():
        for series in found:
            camera = series.labels.get("camera", "-")
            rows.setdefault(camera, {"camera": camera})[column] = series.last
    return [rows[camera] for camera in sorted(rows)]


async def instant(prometheus: Prometheus, expr: str) -> list[Series]:
    try:
        return await prometheus.query(expr)
    except QueryFailed:
        return []  # a table without that column; the charts show Prometheus's words


async def gather(prometheus: Prometheus, start: datetime, end: datetime) -> dict[str, Any]:
    """Everything the page shows, asked of Prometheus at once; the first
    ``PrometheusUnavailable`` ends every other question."""
    try:
        async with asyncio.TaskGroup() as group:
            charts = [group.create_task(panel_chart(prometheus, p, start, end)) for p in PANELS]
            cameras = {
                column: group.create_task(instant(prometheus, expr))
                for column, expr in CAMERA_QUERIES.items()
            }
            targets = group.create_task(instant(prometheus, TARGETS_QUERY))
            alerts = group.create_task(prometheus.alerts())
    except ExceptionGroup as failed:
        down = failed.subgroup(PrometheusUnavailable)
        if down is None:
            raise
        raise down.exceptions[0] from None
    by_target = sorted(targets.result(), key=lambda s: sorted(s.labels.items()))
    return {
        "charts": [task.result() for task in charts],
        "cameras": camera_rows({column: task.result() for column, task in cameras.items()}),
        "targets": by_target,
        "alerts": alerts.result(),
    }


@app.page("/operations")
class OperationsPage(PageView):
    """Charts, cameras, targets and alerts from Prometheus; admins only."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "admin")
        chosen = request.query.get("range", "1h")
        if chosen not in WINDOWS:
            raise bad_request(f"range must be one of {', '.join(WINDOWS)}, not {chosen!r}")
        end = datetime.now(UTC)
        start = end - timedelta(seconds=WINDOWS[chosen])
        settings = self.state.settings.web
        context: dict[str, Any] = {
            "windows": list(WINDOWS), "chosen": chosen, "prometheus": settings.prometheus_url,
            "unavailable": None, "charts": [], "cameras": [], "targets": [], "alerts": [],
        }  # fmt: skip
        if settings.prometheus_url is None:
            context["unavailable"] = "No Prometheus is set (web.prometheus_url)."
            return self.page("operations.html", key=key, status=503, **context)
        async with aiohttp.ClientSession() as session:
            prometheus = Prometheus(settings.prometheus_url, settings.prometheus_timeout_s, session)
            try:
                context.update(await gather(prometheus, start, end))
            except PrometheusUnavailable as exc:
                context["unavailable"] = f"Prometheus is not answering: {exc}"
                return self.page("operations.html", key=key, status=503, **context)
        return self.page("operations.html", key=key, **context)
