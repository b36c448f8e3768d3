"""Server-rendered SVG charts for the dashboard: no JavaScript, accessible.

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` (its figures in words, read
by screen readers), and the page shows the same figures as a table under it. Pure functions:
numbers in, markup out; every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH = 720
HEIGHT = 180
LEFT = 44
BOTTOM = 22
TOP = 8


@dataclass(frozen=True, kw_only=True)
class Series:
    name: str
    css_class: str
    """Colours live in the stylesheet (`.chart .synced { fill: ... }`)."""
    values: Sequence[float | None]


def hours(since: datetime, count: int) -> list[datetime]:
    """`count` consecutive whole hours starting with the hour of `since`."""
    start = since.replace(minute=0, second=0, microsecond=0)
    return [start + timedelta(hours=i) for i in range(count)]


def nice_ceiling(value: float) -> float:
    """A round top for the axis: 1, 2, 5 or 10 times a power of ten, at least `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value:,.0f}"


def _frame(title: str, desc: str, top: float, unit: str, labels: Sequence[str], body: str) -> str:
    ident = "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())
    plot_h = HEIGHT - BOTTOM - TOP
    ticks = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        ticks.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(top * fraction))}{escape(unit)}</text>"
        )
    # At most 8 labels along the x axis, evenly spread.
    step = max(1, math.ceil(len(labels) / 8))
    plot_w = WIDTH - LEFT
    slot = plot_w / max(1, len(labels))
    xlabels = [
        f'<text class="axis" x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % step == 0
    ]
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{ident}-t {ident}-d" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title>'
        f'<desc id="{ident}-d">{escape(desc)}</desc>'
        + "".join(ticks)
        + body
        + "".join(xlabels)
        + "</svg>"
    )


def stacked_bars(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = ""
) -> str:
    """One bar per label, the series stacked (e.g. synced, failed, skipped per hour)."""
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(labels))]
    top = nice_ceiling(max(totals, default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(labels))
    bars: list[str] = []
    for i in range(len(labels)):
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h * (1 - (base + value) / top)
            bars.append(
                f'<rect class="{escape(s.css_class)}" x="{LEFT + slot * i + slot * 0.1:.2f}" '
                f'y="{y:.2f}" width="{slot * 0.8:.2f}" height="{h:.2f}">'
                f"<title>{escape(labels[i])}: {escape(s.name)} {escape(_number(value))}</title>"
                "</rect>"
            )
            base += value
    sums = ", ".join(f"{s.name} {_number(sum(v or 0 for v in s.values))}" for s in series)
    desc = f"{len(labels)} periods from {labels[0] if labels else '-'}; in all: {sums}."
    return _frame(title, desc, top, unit, labels, "".join(bars))


def lines(title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> str:
    """One line per series; a gap where a value is missing (an hour with nothing synced)."""
    present = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(present, default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(labels))
    paths: list[str] = []
    for s in series:
        segments: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                segments.append([])
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h * (1 - value / top)
            segments[-1].append(f"{x:.2f},{y:.2f}")
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                paths.append(f'<circle class="{escape(s.css_class)}" cx="{cx}" cy="{cy}" r="2"/>')
            elif points:
                paths.append(
                    f'<polyline class="{escape(s.css_class)}" fill="none" '
                    f'points="{" ".join(points)}"/>'
                )
    worst = ", ".join(
        f"{s.name} at most {_number(max((v for v in s.values if v is not None), default=0))}{unit}"
        for s in series
    )
    desc = f"{len(labels)} periods from {labels[0] if labels else '-'}; {worst}."
    return _frame(title, desc, top, unit, labels, "".join(paths))
