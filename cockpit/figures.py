"""Pure figure builders: rows in, `go.Figure` out, no I/O, so each is unit-tested on plain data.

Styled for a dark wall screen: transparent backgrounds (the panel's CSS shows through), large
readable ticks, no mode bar. Times arrive as epoch seconds and are drawn in Beijing time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from cockpit.i18n import country_name, fmt_int, platform_name, province_name, section_name, t
from cockpit.seasonal import BandPoint, seasonal_band
from cockpit.series import fill_gaps
from cockpit.timeframe import DAY, MINUTE, to_beijing
from contracts.geo import PLATFORMS

FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, Helvetica Neue, Arial, sans-serif"
TEXT = "#dbe7f5"
MUTED = "#8ea3bd"
GRID = "rgba(142, 163, 189, 0.14)"
ACCENT = "#3ad0ff"
PLATFORM_COLOURS = {
    "k12": "#3ad0ff",
    "vocational": "#a78bfa",
    "higher": "#34d399",
    "employment": "#fbbf24",
}


def _base(fig: go.Figure, *, height: int | None = None) -> go.Figure:
    fig.update_layout(
        template="plotly_dark",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family=FONT, color=TEXT, size=14),
        margin=dict(l=12, r=16, t=14, b=8),
        showlegend=False,
        hoverlabel=dict(font=dict(family=FONT, size=14), bgcolor="#14223a", bordercolor=ACCENT),
        height=height,
    )
    return fig


def _all_categories(fig: go.Figure, labels: Sequence[str], text: Sequence[str] | None = None) -> None:
    """Label every bar: Plotly would otherwise skip every other category when the panel is short."""
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(labels),
        ticktext=list(text or labels),
        tickfont=dict(size=15, color=TEXT),
        ticklabelstandoff=8,
    )


def message_figure(text: str) -> go.Figure:
    """An empty panel that says why it is empty, instead of drawing axes over nothing."""
    fig = go.Figure()
    fig.add_annotation(
        text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=18, color=MUTED)
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base(fig)


ALERT = "#f87171"
BAND = "rgba(167, 139, 250, 0.3)"
EXPECTED = "#c4b5fd"


def _band_traces(band: Sequence[BandPoint], step: int, lang: str, long: bool) -> list[go.Scatter]:
    """The shaded min..max band (one closed shape per run of consecutive buckets, none across
    buckets without a baseline) and the dashed median line, with gaps where there is no baseline."""
    runs: list[list[BandPoint]] = []
    for p in band:
        if runs and p.ts - runs[-1][-1].ts == step:
            runs[-1].append(p)
        else:
            runs.append([p])
    shape_x: list[Any] = []
    shape_y: list[Any] = []
    line_x: list[Any] = []
    line_y: list[Any] = []
    extra: list[Any] = []
    sizes: list[Any] = []
    for run in runs:
        xs = [to_beijing(p.ts) for p in run]
        shape_x += xs + xs[::-1] + [None]
        shape_y += [p.high for p in run] + [p.low for p in run][::-1] + [None]
        line_x += xs + [None]
        line_y += [p.expected for p in run] + [None]
        extra += [[p.low, p.high, p.weeks] for p in run] + [[None, None, None]]
        sizes += [7 if len(run) == 1 else 0] * len(run) + [0]  # a lone bucket: a dot, a line needs two
    when = "%{x|%m-%d %H:%M}" if long else "%{x|%H:%M}"
    hover = (
        when
        + "<br>"
        + t("baseline_expected", lang)
        + " %{y:,.0f}<br>"
        + t("baseline_band", lang)
        + " %{customdata[0]:,}–%{customdata[1]:,} (%{customdata[2]} "
        + t("baseline_weeks", lang)
        + ")<extra></extra>"
    )
    return [
        go.Scatter(
            x=shape_x,
            y=shape_y,
            mode="lines",
            fill="toself",
            fillcolor=BAND,
            line=dict(width=0),
            hoverinfo="skip",
            name=t("baseline_band", lang),
            meta="baseline-band",
            showlegend=True,
        ),
        go.Scatter(
            x=line_x,
            y=line_y,
            mode="lines+markers",
            connectgaps=False,
            customdata=extra,
            line=dict(color=EXPECTED, width=2, dash="dash"),
            marker=dict(color=EXPECTED, size=sizes),
            hovertemplate=hover,
            name=t("baseline_expected", lang),
            meta="baseline-expected",
            showlegend=True,
        ),
    ]


@dataclass(frozen=True)
class ChartNotes:
    """What happened to alerts over a drawn span: episodes (firing from..to, None while still
    firing) shaded behind the line, and operator actions (acks, silences) marked on it."""

    episodes: Sequence[tuple[int, int | None, str]] = ()
    actions: Sequence[tuple[int, str, str]] = ()  # (at, "ack" | "silence", label)


ACTION_STYLE = {"ack": ("#34d399", "circle"), "silence": ("#94a3b8", "square")}


def partial_bucket(start: int, step: int, now: int, end: int) -> int | None:
    """The bucket still filling: the one holding the event-time `now` minute (the latest stored,
    which may still be receiving events), when the span reaches it; None for a span in the past."""
    if end <= now or now < start:
        return None
    return now - (now - start) % step


def national_line(
    series: Sequence[tuple[int, int]],
    lang: str,
    start: int,
    now: int,
    step: int = MINUTE,
    marks: Sequence[tuple[int, str]] = (),
    baseline: Sequence[Sequence[tuple[int, int]]] | None = None,
    baseline_note: str | None = None,
    partial: int | None = None,
    notes: ChartNotes | None = None,
) -> go.Figure:
    """Events per bucket (a minute, or an hour for spans over a day) over [start, now], latest marked.

    `marks` are (epoch s, label) of alerts that started firing: drawn as markers on the line at
    their bucket (marks outside the drawn buckets are left out, never placed on invented values).

    `baseline`: the same span one, two, ... weeks earlier (see `seasonal_band`), drawn behind the
    line as a shaded min..max band with the dashed median; where too few weeks have data no band is
    drawn, and with none at all a small note says there is no baseline yet. None: no baseline
    (`baseline_note`, if given, says why).

    `partial`: the bucket still filling (`partial_bucket`). It is never part of the line: a half
    filled minute would read as a drop. It is drawn apart, a hollow marker on a dotted stub, named
    "in progress". `notes`: alert episodes and operator actions (`ChartNotes`).
    """
    points = fill_gaps(series, step)
    tail = [(ts, n) for ts, n in points if partial is not None and ts >= partial]
    points = [(ts, n) for ts, n in points if partial is None or ts < partial]
    if not points:
        return message_figure(t("empty_chart", lang))
    xs = [to_beijing(ts) for ts, _ in points]
    ys = [n for _, n in points]
    long = now - start > DAY
    hover = ("%{x|%m-%d %H:%M}" if long else "%{x|%H:%M}") + "<br>" + t("hover_events", lang) + " %{y:,}<extra></extra>"
    fig = go.Figure()
    band = seasonal_band(baseline, step) if baseline is not None else []
    for trace in _band_traces(band, step, lang, long) if band else ():
        fig.add_trace(trace)  # first: behind the line
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line=dict(color=ACCENT, width=3, shape="spline", smoothing=0.4),
            fill="tozeroy",
            fillcolor="rgba(58, 208, 255, 0.14)",
            hovertemplate=hover,
            name="events",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[xs[-1]],
            y=[ys[-1]],
            mode="markers",
            marker=dict(color=ACCENT, size=11, line=dict(color="#ffffff", width=2)),
            hovertemplate=hover,
            name="latest",
            showlegend=False,
        )
    )
    if tail:
        fig.add_trace(
            go.Scatter(
                x=[xs[-1], to_beijing(tail[0][0])],
                y=[ys[-1], tail[0][1]],
                mode="lines+markers",
                line=dict(color=MUTED, width=2, dash="dot"),
                meta="partial",
                name="partial",
                showlegend=False,
                marker=dict(size=[0, 10], color="rgba(0,0,0,0)", line=dict(color=MUTED, width=2)),
                hovertemplate=("%{x|%H:%M}<br>" + t("partial_bucket", lang) + " %{y:,}<extra></extra>"),
            )
        )
    counts = dict(points)
    _notes(fig, notes, counts, step, lang)
    placed = [(ts - ts % step, label) for ts, label in marks if (ts - ts % step) in counts]
    if placed:
        fig.add_trace(
            go.Scatter(
                x=[to_beijing(b) for b, _ in placed],
                y=[counts[b] for b, _ in placed],
                mode="markers",
                marker=dict(color=ALERT, size=13, symbol="triangle-down", line=dict(color="#ffffff", width=1)),
                text=[label for _, label in placed],
                name="alerts",
                showlegend=False,
                hovertemplate=t("alert_marker", lang) + "<br>%{text}<br>%{x|%H:%M}<extra></extra>",
            )
        )
    _base(fig)
    if band:
        fig.update_layout(
            showlegend=True,
            legend=dict(
                orientation="h",
                x=0,
                y=1,
                xanchor="left",
                yanchor="bottom",
                bgcolor="rgba(0,0,0,0)",
                font=dict(size=12, color=MUTED),
            ),
            margin=dict(t=30),
        )
    else:
        note = t("no_baseline_yet", lang) if baseline is not None else baseline_note
        if note:
            fig.add_annotation(
                text=note,
                x=0,
                y=1,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=12, color=MUTED),
            )
            fig.update_layout(margin=dict(t=30))
    # a little room past the latest minute so its marker is not clipped by the frame
    fig.update_xaxes(
        range=[to_beijing(start), to_beijing(now + 40 * step // MINUTE)],
        tickformat="%m-%d %H:%M" if long else "%H:%M",
        showgrid=False,
        linecolor=GRID,
        tickfont=dict(color=MUTED),
    )
    fig.update_yaxes(rangemode="tozero", gridcolor=GRID, zeroline=False, tickformat=",d", tickfont=dict(color=MUTED))
    return fig


def platform_bars(totals: Mapping[str, int], lang: str) -> go.Figure:
    """The four sub-platforms side by side, always all four (a platform with no rows shows 0)."""
    codes = list(PLATFORMS)
    values = [int(totals.get(c, 0)) for c in codes]
    whole = sum(values)
    if whole == 0:
        return message_figure(t("empty_chart", lang))
    labels = [platform_name(c, lang) for c in codes]
    shares = [f"<span style='font-size:13px;color:{MUTED}'>{v / whole:.0%}</span>" for v in values]
    fig = go.Figure(
        go.Bar(
            x=values[::-1],
            y=labels[::-1],
            orientation="h",
            text=[fmt_int(v) for v in values][::-1],
            textposition="outside",
            textfont=dict(size=15, color=TEXT),
            constraintext="none",
            cliponaxis=False,
            marker=dict(color=[PLATFORM_COLOURS[c] for c in codes][::-1], cornerradius=4),
            hovertemplate="%{y}<br>%{x:,}<extra></extra>",
        )
    )
    _base(fig)
    fig.update_layout(bargap=0.45)
    fig.update_xaxes(visible=False, range=[0, max(values) * 1.5])  # room for the outside labels
    # name and share on one line: two-line ticks overlap when a wall screen gives the chart ~90 px
    _all_categories(fig, labels, [f"{name} {share}" for name, share in zip(labels, shares, strict=True)])
    return fig


def _ranked_bars(totals: Mapping[str, int], name: Callable[[str], str], lang: str, top: int, colour: str) -> go.Figure:
    """Horizontal bars, largest at the top, the `top` largest non-zero totals; ties by code."""
    ranked = sorted(((c, int(n)) for c, n in totals.items() if n > 0), key=lambda p: (-p[1], p[0]))[:top]
    if not ranked:
        return message_figure(t("empty_chart", lang))
    names = [name(c) for c, _ in ranked][::-1]
    values = [n for _, n in ranked][::-1]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[fmt_int(v) for v in values],
            textposition="outside",
            textfont=dict(size=14, color=TEXT),
            marker=dict(color=values, colorscale=[[0, "#1d3b5c"], [1, colour]], cornerradius=3),
            hovertemplate="%{y}<br>%{x:,}<extra></extra>",
            cliponaxis=False,
            constraintext="none",
        )
    )
    _base(fig)
    fig.update_layout(bargap=0.3)
    fig.update_xaxes(visible=False, range=[0, max(values) * 1.4])  # room for the outside labels
    _all_categories(fig, names)
    return fig


def province_bars(totals: Mapping[str, int], lang: str, top: int = 10) -> go.Figure:
    """Provinces (and abroad) ranked by events, the busiest `top` shown."""
    return _ranked_bars(totals, lambda c: province_name(c, lang), lang, top, ACCENT)


def section_bars(totals: Mapping[str, int], lang: str, top: int = 10) -> go.Figure:
    """Resource sections (专题教育, 课程教学, ...) ranked by events."""
    return _ranked_bars(totals, lambda c: section_name(c, lang), lang, top, "#a78bfa")


def daily_bars(daily: Sequence[tuple[int, int]], lang: str) -> go.Figure:
    """Views per Beijing day (YYYYMMDD, events), the peak day highlighted, as the seed's charts do."""
    if not daily or not any(n for _, n in daily):
        return message_figure(t("empty_chart", lang))
    labels = [f"{d // 100 % 100:02d}-{d % 100:02d}" for d, _ in daily]
    values = [n for _, n in daily]
    peak = max(range(len(values)), key=lambda i: (values[i], -i))
    colours = ["#fbbf24" if i == peak else ACCENT for i in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            marker=dict(color=colours, cornerradius=3),
            hovertemplate="%{x}<br>%{y:,}<extra></extra>",
        )
    )
    _base(fig)
    fig.update_xaxes(type="category", tickfont=dict(color=MUTED), showgrid=False)
    fig.update_yaxes(gridcolor=GRID, tickformat=",d", tickfont=dict(color=MUTED), rangemode="tozero")
    return fig


def country_bars(rows: Sequence[tuple[str, int]], lang: str, top: int = 10) -> go.Figure:
    """Events of users abroad by ISO 3166-1 country, the busiest `top` shown."""
    return _ranked_bars(dict(rows), lambda c: country_name(c, lang), lang, top, "#34d399")


DURATION_BUCKETS: tuple[tuple[str, str], ...] = (
    ("d_lt_1m", "duration_lt_1m"),
    ("d_1_5m", "duration_1_5m"),
    ("d_5_15m", "duration_5_15m"),
    ("d_15_30m", "duration_15_30m"),
    ("d_30_60m", "duration_30_60m"),
    ("d_ge_60m", "duration_ge_60m"),
)


def duration_histogram(sessions: Mapping[str, float], lang: str) -> go.Figure:
    """Ended sessions by length, the six buckets of `sessions_minute` in order, all always shown."""
    values = [int(sessions.get(col, 0)) for col, _ in DURATION_BUCKETS]
    if not any(values):
        return message_figure(t("empty_chart", lang))
    labels = [t(key, lang) for _, key in DURATION_BUCKETS]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=values,
            text=[fmt_int(v) for v in values],
            textposition="outside",
            textfont=dict(size=13, color=TEXT),
            cliponaxis=False,
            marker=dict(color="#fbbf24", cornerradius=3),
            hovertemplate="%{x}<br>" + t("hover_sessions", lang) + " %{y:,}<extra></extra>",
        )
    )
    _base(fig)
    fig.update_layout(bargap=0.25)
    fig.update_xaxes(type="category", tickfont=dict(color=MUTED), showgrid=False)
    fig.update_yaxes(visible=False, range=[0, max(values) * 1.25])
    return fig


def _notes(fig: go.Figure, notes: ChartNotes | None, counts: Mapping[int, int], step: int, lang: str) -> None:
    """Alert episodes as shaded bands, acks and silences as markers on the line at their bucket."""
    if notes is None or not counts:
        return
    first, last = min(counts), max(counts) + step
    for begin, end, label in notes.episodes:
        x0, x1 = max(begin, first), min(end if end is not None else last, last)
        if x1 > x0:
            fig.add_vrect(
                x0=to_beijing(x0),
                x1=to_beijing(x1),
                fillcolor="rgba(248, 113, 113, 0.12)",
                line_width=0,
                layer="below",
                name=f"episode: {label}",
            )
    for kind in ("ack", "silence"):
        placed = [(at - at % step, label) for at, k, label in notes.actions if k == kind and at - at % step in counts]
        if not placed:
            continue
        colour, symbol = ACTION_STYLE[kind]
        fig.add_trace(
            go.Scatter(
                x=[to_beijing(b) for b, _ in placed],
                y=[counts[b] for b, _ in placed],
                mode="markers",
                marker=dict(color=colour, size=11, symbol=symbol, line=dict(color="#ffffff", width=1)),
                text=[label for _, label in placed],
                name=kind,
                meta=f"note-{kind}",
                showlegend=False,
                hovertemplate=t(f"note_{kind}", lang) + "<br>%{text}<br>%{x|%H:%M}<extra></extra>",
            )
        )
