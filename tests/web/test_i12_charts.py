"""Issue 12: the dashboard's server-rendered SVG charts (pure): accessible, escaped, scaled."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from rentsync.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def test_i12_chart_hours_are_whole_and_consecutive() -> None:
    hours = charts.hours(datetime(2026, 12, 5, 14, 37, 12, tzinfo=UTC), 3)
    assert [h.hour for h in hours] == [14, 15, 16]
    assert all(h.minute == h.second == 0 for h in hours)


def test_i12_chart_axis_tops_are_round() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 3, 7, 11, 260, 999)] == [
        1.0,
        0.5,
        1.0,
        5.0,
        10.0,
        20.0,
        500.0,
        1000.0,
    ]


def test_i12_stacked_bars_are_accessible_and_scaled() -> None:
    svg = charts.stacked_bars(
        "Outcomes <per hour>",
        ["Mon 10:00", "Mon 11:00", "Mon 12:00"],
        [
            charts.Series(name="synced", css_class="synced", values=[3, 0, 5]),
            charts.Series(name="failed", css_class="failed", values=[1, 0, 0]),
        ],
    )
    root = ET.fromstring(svg)  # well-formed, and the title is escaped
    assert root.get("role") == "img"
    labelled = root.get("aria-labelledby", "").split()
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert labelled and set(labelled) <= ids
    assert root.find(f"{SVG}title").text == "Outcomes <per hour>"
    assert "synced 8, failed 1" in root.find(f"{SVG}desc").text
    bars = root.findall(f"{SVG}rect")
    assert [b.get("class") for b in bars] == ["synced", "failed", "synced"]  # no empty bars
    heights = [float(b.get("height")) for b in bars]
    # Axis top is 5: the third hour's 5 fills the plot, the first hour's 3 + 1 stack below it.
    assert heights[2] == max(heights)
    assert abs(heights[0] + heights[1] - heights[2] * 4 / 5) < 0.05
    assert bars[0].find(f"{SVG}title").text == "Mon 10:00: synced 3"


def test_i12_line_chart_leaves_gaps_for_missing_hours() -> None:
    svg = charts.lines(
        "Latency",
        ["a", "b", "c", "d", "e"],
        [charts.Series(name="median", css_class="p50", values=[1.0, 2.0, None, 4.0, None])],
        unit=" s",
    )
    root = ET.fromstring(svg)
    polylines = root.findall(f"{SVG}polyline")
    circles = root.findall(f"{SVG}circle")
    assert len(polylines) == 1 and len(polylines[0].get("points").split()) == 2
    assert len(circles) == 1  # the lone point after the gap
    assert "median at most 4 s" in root.find(f"{SVG}desc").text


def test_i12_empty_chart_renders() -> None:
    svg = charts.stacked_bars("Nothing", [], [])
    assert ET.fromstring(svg).get("role") == "img"
    assert not re.search(r"nan|inf", svg, re.IGNORECASE)


def test_i12_log_entry_headline_is_the_first_fault() -> None:
    from rentsync.web.qbo_logs import fault_of

    body = '{"Fault": {"Error": [{"Message": "Duplicate Document Number Error", "code": "6140"}]}}'
    assert fault_of(body) == "6140: Duplicate Document Number Error"
    assert fault_of('{"Invoice": {"Id": "1"}}') is None
    assert fault_of("<html>Bad gateway</html>") is None
    assert fault_of('{"Fault": {"Error": []}}') is None
