"""Server-rendered SVG time charts (lines and areas): no JavaScript, no chart library.

A line breaks where readings are missing (beat stopped, endpoint deleted and re-added) instead of
drawing a straight line across the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PADDING_LEFT, PADDING_RIGHT, PADDING_TOP, PADDING_BOTTOM = 36, 8, 18, 22


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[datetime, float]]
    color: str
    area: bool = False


def _nice_max(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _time_format(span: timedelta) -> str:
    if span <= timedelta(days=1):
        return "%H:%M"
    if span <= timedelta(days=8):
        return "%a %H:%M"
    return "%d %b"


def _segments(points, max_gap: timedelta) -> list[list[tuple[datetime, float]]]:
    segments: list[list[tuple[datetime, float]]] = []
    previous = None
    for moment, value in sorted(points, key=lambda point: point[0]):
        if previous is None or moment - previous > max_gap:
            segments.append([])
        segments[-1].append((moment, value))
        previous = moment
    return segments


def time_chart(
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    title: str,
    max_gap: timedelta,
    tz: tzinfo | None = None,
    width: int = 720,
    height: int = 180,
) -> SafeString:
    """An SVG chart of `series` from `start` to `end`; gaps longer than `max_gap` break lines."""
    span = max(end - start, timedelta(seconds=1))
    top = _nice_max(max((value for s in series for _, value in s.points), default=0))
    plot_w = width - PADDING_LEFT - PADDING_RIGHT
    plot_h = height - PADDING_TOP - PADDING_BOTTOM
    base_y = PADDING_TOP + plot_h

    def x(moment: datetime) -> float:
        return round(PADDING_LEFT + (moment - start) / span * plot_w, 1)

    def y(value: float) -> float:
        return round(base_y - value / top * plot_h, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="system-ui, sans-serif" font-size="10">',
        f"<title>{escape(title)}</title>",
    ]
    # Counts are whole numbers: a middle line only where it falls on one.
    for tick in (0, top // 2, top) if top % 2 == 0 else (0, top):
        parts.append(
            f'<line x1="{PADDING_LEFT}" x2="{width - PADDING_RIGHT}" y1="{y(tick)}" '
            f'y2="{y(tick)}" stroke="#dde1e6" stroke-width="1"/>'
            f'<text x="{PADDING_LEFT - 4}" y="{y(tick) + 3}" text-anchor="end" '
            f'fill="#6a7380">{tick:g}</text>'
        )
    fmt = _time_format(span)
    for index in range(5):
        moment = start + span * index / 4
        anchor = ("start", "middle", "middle", "middle", "end")[index]
        label = (moment.astimezone(tz) if tz else moment).strftime(fmt)
        parts.append(
            f'<text x="{x(moment)}" y="{height - 6}" text-anchor="{anchor}" '
            f'fill="#6a7380">{escape(label)}</text>'
        )
    for one in series:
        for segment in _segments(one.points, max_gap):
            coords = " L".join(f"{x(moment)},{y(value)}" for moment, value in segment)
            label = escape(one.label)
            if one.area:
                first, last = x(segment[0][0]), x(segment[-1][0])
                parts.append(
                    f'<path data-series="{label}" '
                    f'd="M{first},{base_y} L{coords} L{last},{base_y} Z" '
                    f'fill="{one.color}" fill-opacity="0.25" stroke="{one.color}" '
                    'stroke-width="1.5"/>'
                )
            else:
                parts.append(
                    f'<path data-series="{label}" d="M{coords}" fill="none" '
                    f'stroke="{one.color}" stroke-width="1.5"/>'
                )
    legend_x = PADDING_LEFT
    for one in series:
        parts.append(
            f'<rect x="{legend_x}" y="1" width="8" height="8" fill="{one.color}"/>'
            f'<text x="{legend_x + 11}" y="9" fill="#1d232b">{escape(one.label)}</text>'
        )
        legend_x += 16 + 6 * len(one.label)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


# --- the endpoint health charts -------------------------------------------------------------------
QUEUE_SERIES = (
    ("jobs_in_queue", "In queue", "#b7791f", True),
    ("jobs_in_progress", "In progress", "#2f6fdf", False),
)
WORKER_SERIES = (
    ("workers_running", "Running", "#1f8a4c", True),
    ("workers_idle", "Idle", "#2f6fdf", False),
    ("workers_initializing", "Initializing", "#6a7380", False),
    ("workers_throttled", "Throttled", "#b7791f", False),
    ("workers_unhealthy", "Unhealthy", "#c23b3b", False),
)


def health_charts(
    points: Sequence[dict], *, start: datetime, end: datetime, max_gap: timedelta, tz=None
) -> dict[str, SafeString]:
    """The queue chart and the workers chart of an endpoint from its chart points
    (health_selectors.chart_points)."""

    def chart(spec, title: str) -> SafeString:
        series = [
            Series(label, [(p["at"], p[field]) for p in points], color, area)
            for field, label, color, area in spec
        ]
        return time_chart(series, start=start, end=end, title=title, max_gap=max_gap, tz=tz)

    return {
        "queue": chart(QUEUE_SERIES, "Jobs in queue and in progress"),
        "workers": chart(WORKER_SERIES, "Workers by state"),
    }
