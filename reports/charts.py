"""Server-side SVG charts: availability timeline, replication lag, nightly trend.

Hand-written SVG, no JavaScript, no external assets. Every value drawn is escaped;
every chart has a ``<title>`` and an ``aria-label``; colour is never the only signal
(failing spans are hatched, marks carry a shape and a word, points a shape).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from reports.series import Samples, Span, downsample, merge_spans
from reports.verdicts import format_seconds

__all__ = [
    "HATCH_DEFS",
    "Mark",
    "TrendPoint",
    "availability_chart",
    "nice_ticks",
    "replication_lag_chart",
    "trend_chart",
]

WIDTH = 900
LEFT, RIGHT = 64, 20


@dataclass(frozen=True)
class Mark:
    """A vertical mark on the timeline: ``kind`` is injected, reverted, outage, recovered."""

    t: float
    kind: str
    label: str


_MARK_STYLE = {
    # kind: (shape glyph, css class, dash pattern)
    "injected": ("▼", "mark-injected", "6 3"),
    "reverted": ("▲", "mark-reverted", "2 3"),
    "outage": ("✘", "mark-outage", "1 2"),
    "recovered": ("◆", "mark-recovered", ""),
}


@dataclass(frozen=True)
class TrendPoint:
    when: datetime
    measured: float | None
    target: float | None
    met: bool | None
    regression: str | None
    label: str


def _f(value: float) -> str:
    """Compact coordinate text."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    for index in range(count * 3):
        value = round(first + index * step, 10)
        ticks.append(value)
        if value >= high - step * 1e-9:
            break
    return ticks or [low]


class _Scale:
    def __init__(self, low: float, high: float, out_low: float, out_high: float) -> None:
        if high <= low:
            high = low + 1.0
        self.low, self.high = low, high
        self.out_low, self.out_high = out_low, out_high

    def __call__(self, value: float) -> float:
        ratio = (value - self.low) / (self.high - self.low)
        return self.out_low + ratio * (self.out_high - self.out_low)


def _svg_open(height: int, label: str, css: str) -> list[str]:
    return [
        f'<svg class="chart {css}" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]


#: defined once per page (the template includes it); charts fill with url(#hatch)
HATCH_DEFS = Markup(
    '<svg class="defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>'
    '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-bg"/>'
    '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs></svg>'
)


def _time_axis(scale: _Scale, y: float, ticks: Sequence[float], unit: str = "s") -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{_f(y)}" x2="{WIDTH - RIGHT}" y2="{_f(y)}"/>']
    span = scale.high - scale.low
    for tick in ticks:
        if not scale.low - span * 1e-6 <= tick <= scale.high + span * 1e-6:
            continue
        x = scale(tick)
        parts.append(
            f'<line class="tick" x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x)}" y2="{_f(y + 4)}"/>'
        )
        parts.append(
            f'<text class="tick-label" x="{_f(x)}" y="{_f(y + 16)}" text-anchor="middle">'
            f"{escape(_f(tick))}{unit}</text>"
        )
    return parts


def availability_chart(
    samples: Samples,
    spans: list[Span],
    marks: Sequence[Mark] = (),
    outage: tuple[float, float | None] | None = None,
    title: str = "Availability",
    buckets: int = 600,
) -> Markup:
    """Latency (band min-max, line mean) over time, an ok/failed strip, marks, outage shade.

    ``spans`` are the exact failing spans (``series.failing_spans``); they are merged for
    drawing only when closer than a pixel, outer edges unchanged. ``outage`` is
    ``(start, end)`` in series seconds, ``end`` None when recovery was never seen.
    """
    height = 310
    top, plot_bottom = 64, 226
    strip_top, strip_bottom = 236, 256
    axis_y = 266
    times = list(samples.times)
    extents = times[:1] + times[-1:] + [m.t for m in marks]
    if outage:
        extents += [outage[0]] + ([outage[1]] if outage[1] is not None else [])
    if not extents:
        extents = [0.0, 1.0]
    t_low, t_high = min(extents), max(extents)
    if t_high <= t_low:
        t_high = t_low + 1.0
    x = _Scale(t_low, t_high, LEFT, WIDTH - RIGHT)
    pixel_s = (t_high - t_low) / (WIDTH - LEFT - RIGHT)
    label = (
        f"{title}: {len(samples)} samples, {sum(1 for ok in samples.ok if not ok)} failed, "
        f"{len(spans)} failing span(s)"
    )
    parts = _svg_open(height, label, "chart-availability")
    parts.append(f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>')

    bucket_list = downsample(samples, buckets)
    latencies = [b.latency_max for b in bucket_list if b.latency_max is not None]
    y_high = max(latencies) if latencies else 1.0
    y_ticks = nice_ticks(0.0, y_high * 1.05 or 1.0, 5)
    y = _Scale(0.0, y_ticks[-1] or 1.0, plot_bottom, top)

    if outage is not None:
        start = x(outage[0])
        end = x(outage[1]) if outage[1] is not None else WIDTH - RIGHT
        parts.append(
            f'<rect class="outage" x="{_f(start)}" y="{top}" width="{_f(max(end - start, 1))}" '
            f'height="{strip_bottom - top}"><title>outage {escape(_f(outage[0]))} s to '
            f"{escape(_f(outage[1])) + ' s' if outage[1] is not None else 'end (no recovery)'}"
            "</title></rect>"
        )

    for tick in y_ticks:
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{_f(ty)}" x2="{WIDTH - RIGHT}" y2="{_f(ty)}"/>'
            f'<text class="tick-label" x="{LEFT - 6}" y="{_f(ty + 4)}" text-anchor="end">'
            f"{escape(_f(tick))}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="12" y="{_f((top + plot_bottom) / 2)}" '
        f'transform="rotate(-90 12 {_f((top + plot_bottom) / 2)})" text-anchor="middle">'
        "latency ms</text>"
    )

    band = []
    line = []
    pen_down = False
    for bucket in bucket_list:
        if bucket.latency_max is None or bucket.latency_min is None:
            pen_down = False  # no latency in this bucket (all failed): break the line
            continue
        bx = x((bucket.start + bucket.end) / 2)
        band.append(f"M{_f(bx)} {_f(y(bucket.latency_max))}V{_f(y(bucket.latency_min))}")
        assert bucket.latency_mean is not None
        line.append(f"{'L' if pen_down else 'M'}{_f(bx)} {_f(y(bucket.latency_mean))}")
        pen_down = True
    if band:
        parts.append(f'<path class="latency-band" d="{"".join(band)}"/>')
        parts.append(f'<path class="latency" d="{"".join(line)}"/>')
    else:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{(top + plot_bottom) / 2}" '
            'text-anchor="middle">no latency recorded</text>'
        )

    # the ok/failed strip: ok background, exact failing spans hatched
    if times:
        parts.append(
            f'<rect class="strip-ok" x="{_f(x(times[0]))}" y="{strip_top}" '
            f'width="{_f(max(x(times[-1]) - x(times[0]), 1))}" height="{strip_bottom - strip_top}">'
            "<title>samples ok</title></rect>"
        )
    for span in merge_spans(spans, pixel_s):
        sx = x(span.start)
        width = max(x(span.end) - sx, 1.5)
        what = f"{span.failures} failed sample(s)"
        if span.merged > 1:
            what += f" in {span.merged} spans"
        parts.append(
            f'<rect class="strip-failed" x="{_f(sx)}" y="{strip_top}" width="{_f(width)}" '
            f'height="{strip_bottom - strip_top}" data-start="{span.start!r}" '
            f'data-end="{span.end!r}"><title>{escape(what)}: {escape(repr(span.start))} s to '
            f"{escape(repr(span.end))} s</title></rect>"
        )
    parts.append(
        f'<text class="strip-label" x="{LEFT - 6}" y="{strip_bottom - 5}" text-anchor="end">'
        "ok / ✘</text>"
    )

    # labels go on up to three rows above the plot so that close marks stay readable
    row_ends = [float("-inf")] * 3
    for mark in sorted(marks, key=lambda m: m.t):
        glyph, css, dash = _MARK_STYLE.get(mark.kind, ("●", "mark-other", "3 3"))
        mx = x(mark.t)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        text_width = 6.5 * (len(mark.label) + 2)
        anchor = "end" if mx + text_width > WIDTH - 4 else "start"
        left = mx - text_width if anchor == "end" else mx
        row = next((i for i, end in enumerate(row_ends) if end + 6 <= left), None)
        if row is None:
            row = min(range(3), key=lambda i: row_ends[i])
        row_ends[row] = left + text_width
        label_y = top - 6 - (2 - row) * 13
        parts.append(
            f'<g class="mark {css}" data-kind="{escape(mark.kind)}" data-t="{mark.t!r}">'
            f'<line x1="{_f(mx)}" y1="{top - 2}" x2="{_f(mx)}" y2="{strip_bottom}"{dash_attr}/>'
            f'<text x="{_f(mx)}" y="{label_y}" text-anchor="{anchor}">{glyph} '
            f"{escape(mark.label)}</text></g>"
        )

    t_ticks = nice_ticks(t_low, t_high, 8)
    parts.extend(_time_axis(x, axis_y, t_ticks))
    parts.append(
        f'<text class="legend" x="{LEFT}" y="{height - 8}">'
        "band: latency of ok samples, min–max per bucket; line: mean · "
        "strip: ok samples, hatched ✘ failed · shaded: outage · "
        "▼ fault injected ▲ reverted ◆ recovered</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def replication_lag_chart(
    lag: dict[str, float | None],
    target_s: float | None = None,
    series: Sequence[tuple[float, float]] = (),
) -> Markup:
    """Horizontal bars for p50/p99/max (and a line over time when a series exists)."""
    rows = [(name, value) for name, value in lag.items() if value is not None]
    height = 40 + 26 * max(len(rows), 1) + (150 if series else 0) + 30
    label = "Replication lag: " + ", ".join(f"{n} {format_seconds(v)}" for n, v in rows)
    parts = _svg_open(height, label, "chart-lag")
    parts.append(f'<text class="chart-title" x="{LEFT}" y="18">Replication lag</text>')
    high = max([v for _, v in rows] + ([target_s] if target_s else []) + [0.001])
    ticks = nice_ticks(0.0, high, 6)
    x = _Scale(0.0, ticks[-1] or 1.0, LEFT + 40, WIDTH - RIGHT - 80)
    y0 = 32
    for index, (name, value) in enumerate(rows):
        by = y0 + index * 26
        parts.append(
            f'<text class="tick-label" x="{LEFT + 34}" y="{by + 14}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect class="bar" x="{LEFT + 40}" y="{by}" width="{_f(max(x(value) - x(0), 1))}" '
            f'height="18"/><text class="bar-label" x="{_f(x(value) + 6)}" y="{by + 14}">'
            f"{escape(format_seconds(value))}</text>"
        )
    bars_bottom = y0 + 26 * max(len(rows), 1)
    if target_s:
        tx = x(target_s)
        parts.append(
            f'<g class="target"><line x1="{_f(tx)}" y1="{y0 - 6}" x2="{_f(tx)}" '
            f'y2="{bars_bottom}" stroke-dasharray="6 3"/><text x="{_f(tx)}" y="{y0 - 8}" '
            f'text-anchor="middle">RPO target {escape(format_seconds(target_s))}</text></g>'
        )
    parts.extend(_time_axis(x, bars_bottom + 2, ticks))
    if series:
        top = bars_bottom + 40
        bottom = top + 110
        ts = [t for t, _ in series]
        values = [v for _, v in series]
        sx = _Scale(min(ts), max(ts), LEFT, WIDTH - RIGHT)
        sy_ticks = nice_ticks(0.0, max(values) or 1.0, 4)
        sy = _Scale(0.0, sy_ticks[-1] or 1.0, bottom, top)
        step = max(1, len(series) // 600)
        points = " ".join(f"{_f(sx(t))},{_f(sy(v))}" for t, v in series[::step])
        parts.append(f'<polyline class="latency" points="{points}"/>')
        for tick in sy_ticks:
            parts.append(
                f'<text class="tick-label" x="{LEFT - 6}" y="{_f(sy(tick) + 4)}" '
                f'text-anchor="end">{escape(_f(tick))}s</text>'
            )
        parts.extend(_time_axis(sx, bottom, nice_ticks(min(ts), max(ts), 8)))
    parts.append("</svg>")
    return Markup("".join(parts))


def _cross(cx: float, cy: float, r: float = 5) -> str:
    return (
        f'<path class="point point-missed" d="M{_f(cx - r)} {_f(cy - r)}L{_f(cx + r)} '
        f'{_f(cy + r)}M{_f(cx - r)} {_f(cy + r)}L{_f(cx + r)} {_f(cy - r)}"/>'
    )


def trend_chart(points: Sequence[TrendPoint], metric: str) -> Markup:
    """One metric (RTO or RPO) across runs: measured points, target step line, regressions."""
    height = 230
    top, bottom = 34, 180
    values = [p.measured for p in points if p.measured is not None]
    targets = [p.target for p in points if p.target is not None]
    label = f"{metric} over {len(points)} run(s)"
    regressions = [p for p in points if p.regression]
    if regressions:
        label += f", {len(regressions)} regression(s)"
    parts = _svg_open(height, label, "chart-trend")
    parts.append(f'<text class="chart-title" x="{LEFT}" y="18">{escape(label)}</text>')
    if not points:
        parts.append("</svg>")
        return Markup("".join(parts))
    stamps = [p.when.timestamp() for p in points]
    x = _Scale(
        min(stamps),
        max(stamps) if max(stamps) > min(stamps) else min(stamps) + 1,
        LEFT + 20,
        WIDTH - RIGHT - 20,
    )
    y_ticks = nice_ticks(0.0, max(values + targets + [1.0]) * 1.1, 5)
    y = _Scale(0.0, y_ticks[-1], bottom, top)
    for tick in y_ticks:
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{_f(y(tick))}" x2="{WIDTH - RIGHT}" '
            f'y2="{_f(y(tick))}"/><text class="tick-label" x="{LEFT - 6}" '
            f'y="{_f(y(tick) + 4)}" text-anchor="end">{escape(_f(tick))}s</text>'
        )
    # target as a step line (targets can change between runs)
    step = []
    for point, stamp in zip(points, stamps, strict=True):
        if point.target is None:
            continue
        if step:
            step.append(f"H{_f(x(stamp))}V{_f(y(point.target))}")
        else:
            step.append(f"M{_f(x(stamp))} {_f(y(point.target))}")
    if step:
        parts.append(f'<path class="target-line" d="{"".join(step)}"/>')
        last_target = targets[-1]
        parts.append(
            f'<text class="target-label" x="{WIDTH - RIGHT}" y="{_f(y(last_target) - 5)}" '
            f'text-anchor="end">target {escape(format_seconds(last_target))}</text>'
        )
    line = [
        f"{_f(x(s))},{_f(y(p.measured))}"
        for p, s in zip(points, stamps, strict=True)
        if p.measured is not None
    ]
    if len(line) > 1:
        parts.append(f'<polyline class="trend-line" points="{" ".join(line)}"/>')
    for point, stamp in zip(points, stamps, strict=True):
        px = x(stamp)
        tip = escape(point.label)
        if point.measured is None:
            parts.append(
                f'<text class="point-none" x="{_f(px)}" y="{bottom - 4}" text-anchor="middle">'
                f"?<title>{tip}</title></text>"
            )
            continue
        py = y(point.measured)
        if point.met is False:
            parts.append(f"<g>{_cross(px, py)}<title>{tip}</title></g>")
        else:
            parts.append(
                f'<circle class="point point-met" cx="{_f(px)}" cy="{_f(py)}" r="4.5">'
                f"<title>{tip}</title></circle>"
            )
        if point.regression:
            parts.append(
                f'<g class="regression"><circle cx="{_f(px)}" cy="{_f(py)}" r="10"/>'
                f'<text x="{_f(px)}" y="{_f(py - 14)}" text-anchor="middle">⚠ regression'
                f"</text><title>{escape(point.regression)}</title></g>"
            )
    for stamp, anchor in sorted({(stamps[0], "start"), (stamps[-1], "end")}):
        when = datetime.fromtimestamp(stamp, tz=points[0].when.tzinfo)
        parts.append(
            f'<text class="tick-label" x="{_f(x(stamp))}" y="{bottom + 18}" '
            f'text-anchor="{anchor}">{escape(when.strftime("%Y-%m-%d %H:%M"))}</text>'
        )
    parts.append(
        f'<text class="legend" x="{LEFT}" y="{height - 8}">● met · ✘ missed · ⚠ ring: '
        "regression · dashed: target</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))
