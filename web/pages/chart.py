"""Reads per hour per camera as an inline SVG line chart, drawn on the server (no script),
with gridlines and hours in the site's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from web.lookup.contract import HourlyCount
from web.pages.render import local

#: Line colours, cycled over cameras (distinguishable, and readable on white).
PALETTE = ("#0b5fff", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#1098ad", "#c2255c", "#495057")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 640, 260, 44, 28, 12, 12


def hourly_svg(counts: Sequence[HourlyCount], since: datetime, hours: int) -> str:
    """An ``<svg>`` with one line per camera over ``hours`` hours from ``since``."""
    slots = [since + timedelta(hours=n) for n in range(hours)]
    series: dict[str, list[int]] = {}
    for count in counts:
        index = int((count.hour - since).total_seconds() // 3600)
        if 0 <= index < hours:
            series.setdefault(count.camera_id, [0] * hours)[index] += count.reads
    peak = max([max(v) for v in series.values()] + [1])
    span_x, span_y = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + span_x * i / max(hours - 1, 1)

    def y(value: int) -> float:
        return TOP + span_y * (1 - value / peak)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Reads per hour per camera" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{LEFT}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}" stroke="#adb5bd"/>',
        f'<text x="{LEFT - 6}" y="{y(0) + 4}" text-anchor="end" font-size="11">0</text>',
    ]
    for level in sorted({round(peak * q / 4) for q in range(1, 5)} - {0}):
        parts.append(  # a gridline and its value at each quarter of the peak
            f'<line class="grid" x1="{LEFT}" y1="{y(level):.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y(level):.1f}" stroke="#e9ecef"/><text x="{LEFT - 6}" y="{y(level) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{level}</text>'
        )
    for i in range(0, hours, max(1, hours // 6)):
        label = local(slots[i]).strftime("%H:%M")  # the site's time zone, as the pages
        parts.append(
            f'<line class="grid" x1="{x(i):.1f}" y1="{TOP}" x2="{x(i):.1f}" y2="{y(0)}" '
            f'stroke="#f1f3f5"/><text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
            f'font-size="11">{label}</text>'
        )
    for n, (camera, values) in enumerate(sorted(series.items())):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(camera)}</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)


def legend(counts: Sequence[HourlyCount]) -> list[tuple[str, str]]:
    """(camera, colour) pairs in the chart's order."""
    cameras = sorted({c.camera_id for c in counts})
    return [(camera, PALETTE[n % len(PALETTE)]) for n, camera in enumerate(cameras)]
