"""Prometheus series as an inline SVG line chart, drawn on the server (no script), in the
style of the cameras page's chart (``web.pages.chart``): its palette and frame, gridlines at
quarters of the peak, times in the site's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from web.pages.chart import BOTTOM, HEIGHT, LEFT, PALETTE, RIGHT, TOP, WIDTH
from web.pages.render import local


@dataclass(frozen=True)
class Line:
    """One line of a chart: its legend name and ``(unix seconds, value)`` points."""

    name: str
    points: tuple[tuple[float, float], ...]


def amount(value: float, unit: str) -> str:
    """``value`` in few characters: 0.25 s as ``250ms``, 12345 as ``12.3k``."""
    if unit == "s" and 0 < abs(value) < 1:
        return f"{value * 1000:.3g}ms"
    suffix = "s" if unit == "s" else ""
    for limit, letter in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{letter}{suffix}"
    return f"{value:.3g}{suffix}"


def series_svg(lines: Sequence[Line], start: datetime, end: datetime, label: str, unit: str) -> str:
    """An ``<svg>`` with one line per entry of ``lines`` between ``start`` and ``end``."""
    t0, t1 = start.timestamp(), max(end.timestamp(), start.timestamp() + 1)
    values = [v for line in lines for _, v in line.points]
    peak = max([*values, 0.0]) or 1.0
    span_x, span_y = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + span_x * (t - t0) / (t1 - t0)

    def y(value: float) -> float:
        return TOP + span_y * (1 - max(value, 0.0) / peak)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{LEFT}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}" stroke="#adb5bd"/>',
        f'<text x="{LEFT - 6}" y="{y(0) + 4}" text-anchor="end" font-size="11">0</text>',
    ]
    for level in (peak * q / 4 for q in range(1, 5)):
        parts.append(  # a gridline and its value at each quarter of the peak
            f'<line class="grid" x1="{LEFT}" y1="{y(level):.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y(level):.1f}" stroke="#e9ecef"/><text x="{LEFT - 6}" y="{y(level) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{escape(amount(level, unit))}</text>'
        )
    for n in range(7):
        t = t0 + (t1 - t0) * n / 6
        when = local(datetime.fromtimestamp(t, start.tzinfo)).strftime("%H:%M")
        anchor = "end" if n == 6 else "middle"  # the last time inside the frame
        parts.append(
            f'<line class="grid" x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{y(0)}" '
            f'stroke="#f1f3f5"/><text x="{x(t):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" '
            f'font-size="11">{when}</text>'
        )
    for n, line in enumerate(lines):
        colour = PALETTE[n % len(PALETTE)]
        inside = [(t, v) for t, v in line.points if t0 <= t <= t1]
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in inside)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(line.name)}</title></polyline>"
        )
        if inside:  # the latest value marked: a series just begun is one point, no line
            t, v = inside[-1]
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(line.name)}: {escape(amount(v, unit))}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(lines: Sequence[Line]) -> list[tuple[str, str]]:
    """(name, colour) pairs in the chart's order."""
    return [(line.name, PALETTE[n % len(PALETTE)]) for n, line in enumerate(lines)]
