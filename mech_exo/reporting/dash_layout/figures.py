"""Plotly figures of the risk-live page. Each takes plain rows from ``RiskQueryEngine`` and returns a
figure whose trace data ARE the model values (no rescaling), so the browser test can compare the
figure JSON in the page with a DuckDB query of the snapshot."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mech_exo.reporting.dash_layout import theme as t


def _base(fig: go.Figure, height: int, **layout: Any) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), paper_bgcolor=t.PAPER,
                      plot_bgcolor=t.PAPER, font=dict(family=t.FONT, size=12, color=t.INK),
                      hoverlabel=dict(font=dict(family=t.FONT)), **layout)
    return fig


def _empty(message: str, height: int) -> go.Figure:
    fig = _base(go.Figure(), height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=14, color=t.MUTED))
    return fig


# --- heatmap: VaR contribution by sector × strategy -------------------------------------------------

def heatmap_figure(cells: list[dict[str, Any]], height: int = 340) -> go.Figure:
    """Σ var95_contribution (USD) per sector × strategy; green (diversifying/low) → yellow → red (high)."""
    cells = [c for c in cells if c.get("var95_contribution") is not None]
    if not cells:
        return _empty("No VaR contributions yet (too few scenario days in the VaR window)", height)
    strategies = sorted({c["strategy"] for c in cells})
    sectors = sorted({c["sector"] for c in cells})
    by_key = {(c["sector"], c["strategy"]): c for c in cells}
    total = sum(c["var95_contribution"] for c in cells)
    z, text, custom = [], [], []
    for sector in sectors:
        zr, tr, cr = [], [], []
        for strategy in strategies:
            c = by_key.get((sector, strategy))
            v = None if c is None else c["var95_contribution"]
            zr.append(v)
            tr.append("" if v is None else t.usd_short(v))
            cr.append([None if c is None else c["n_positions"],
                       None if (c is None or not total) else v / total * 100])
        z.append(zr)
        text.append(tr)
        custom.append(cr)
    values = [v for row in z for v in row if v is not None]
    zmin, zmax = min(0.0, min(values)), max(values)
    if zmax <= zmin:
        zmax = zmin + 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=strategies, y=sectors, text=text, texttemplate="%{text}", customdata=custom,
        textfont=dict(size=13), colorscale=t.HEAT_SCALE, zmin=zmin, zmax=zmax, xgap=3, ygap=3,
        hoverongaps=False, name="VaR95 contribution",
        hovertemplate=("<b>%{y} · %{x}</b><br>VaR95 contribution %{z:$,.0f}<br>"
                       "share of total %{customdata[1]:.1f}%<br>%{customdata[0]} position(s)<extra></extra>"),
        colorbar=dict(title=dict(text="USD", side="top"), thickness=12, tickformat="$~s", len=0.9)))
    _base(fig, height)
    fig.update_xaxes(side="top", tickfont=dict(size=12), showgrid=False)
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=12), showgrid=False)
    return fig


# --- VaR timeline --------------------------------------------------------------------------------

def var_timeline_figure(timeline: list[dict[str, Any]], thresholds: dict[str, Any],
                        height: int = 380) -> go.Figure:
    """95 % and 99 % VaR in USD per session, each in its own panel with its own limit and its
    warning (70 %) / critical (90 %) bands: one panel's bands never lie over the other's, and each
    label sits above its limit line, where no line or band hides it (99 % on top: the larger limit).

    Log scale: book VaR sits far below the limits in normal times; on a linear axis the lines would
    be flat at zero. On a log axis both the shape of VaR and the headroom to the limits are readable.
    """
    if not timeline:
        return _empty("No sessions yet", height)
    dates = [r["session_date"] for r in timeline]
    series = {"95": [r["var95_usd"] for r in timeline], "99": [r["var99_usd"] for r in timeline]}
    limits = {"95": timeline[-1].get("limit95_usd") or thresholds["var_limit95_usd"],
              "99": timeline[-1].get("limit99_usd") or thresholds["var_limit99_usd"]}
    warn, crit = thresholds["var_warning_pct"] / 100, thresholds["var_critical_pct"] / 100
    bands_text = f"bands: {warn * 100:.0f}–{crit * 100:.0f} % warning · {crit * 100:.0f}–100 % critical"
    order = ("99", "95")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=[
        f"VaR {k} % · limit {t.usd_short(limits[k])} · {bands_text}" for k in order])
    colours = {"95": t.VAR95_COLOUR, "99": t.VAR99_COLOUR}
    any_positive = False
    for row, k in enumerate(order, start=1):
        limit, values = limits[k], series[k]
        fig.add_hrect(y0=limit * warn, y1=limit * crit, fillcolor=t.YELLOW, opacity=0.18, line_width=0,
                      layer="below", row=row, col=1, exclude_empty_subplots=False)
        fig.add_hrect(y0=limit * crit, y1=limit, fillcolor=t.RED, opacity=0.18, line_width=0, layer="below",
                      row=row, col=1, exclude_empty_subplots=False)
        fig.add_hline(y=limit, line=dict(color=t.RED, width=1.6, dash="dash"), row=row, col=1,
                      exclude_empty_subplots=False)
        yref = "y" if row == 1 else f"y{row}"
        # annotations on a log axis take log10(y) (shapes take data values)
        fig.add_annotation(x=0, xref="x domain" if row == 1 else f"x{row} domain", xanchor="left",
                           y=math.log10(limit), yref=yref, yanchor="bottom", showarrow=False,
                           text=f"<b>{k} % limit {t.usd_short(limit)}</b>", font=dict(size=11, color=t.RED))
        fig.add_trace(go.Scatter(x=dates, y=values, name=f"VaR {k} %", mode="lines+markers", connectgaps=False,
                                 line=dict(color=colours[k], width=2.2), marker=dict(size=4),
                                 hovertemplate=f"%{{x}}<br>VaR {k} %{{y:$,.0f}}<extra></extra>"), row=row, col=1)
        positive = [v for v in values if v is not None and v > 0]
        any_positive = any_positive or bool(positive)
        lo = min(positive + [limit * warn]) / 2 if positive else limit / 1000
        fig.update_yaxes(type="log", range=[math.log10(lo), math.log10(limit * 1.6)], tickformat="$~s",
                         gridcolor=t.LINE, row=row, col=1)
    _base(fig, height, showlegend=False, hovermode="x unified")
    for ann in fig.layout.annotations[:2]:  # the two panel titles
        ann.update(font=dict(size=11, color=t.MUTED), x=0, xanchor="left")
    fig.update_layout(margin=dict(l=10, r=10, t=28, b=10))
    fig.update_xaxes(gridcolor=t.LINE)
    if not any_positive:
        fig.add_annotation(text="VaR needs more daily returns (var.min_obs) — none computed yet", showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=13, color=t.MUTED))
    return fig


# --- position breakdown ----------------------------------------------------------------------------

def position_label(p: dict[str, Any]) -> str:
    return f"{p['symbol']} · {p['strategy']}"


def positions_figure(positions: list[dict[str, Any]], thresholds: dict[str, Any],
                     height: int | None = None) -> go.Figure:
    """Per position: weight of NAV (long right, short left, with the ±15 % concentration line) and
    its contribution to the 95 % VaR (red adds risk, green diversifies)."""
    if not positions:
        return _empty("No open positions", height or 300)
    rows = list(reversed(positions))  # largest VaR contributor at the top of a horizontal bar chart
    labels = [position_label(p) for p in rows]
    signed_w = [(p["weight"] or 0.0) * (1 if p["market_value"] >= 0 else -1) * 100 for p in rows]
    contrib = [p["var95_contribution"] for p in rows]
    height = height or max(260, 60 + 34 * len(rows))
    limit = thresholds["max_weight_pct"]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("Weight of NAV (long → / ← short)", "Contribution to VaR 95 %"))
    fig.add_trace(go.Bar(
        y=labels, x=signed_w, orientation="h", name="weight",
        marker_color=[t.LONG_COLOUR if w >= 0 else t.SHORT_COLOUR for w in signed_w],
        customdata=[[p["market_value"], "long" if p["market_value"] >= 0 else "short"] for p in rows],
        text=[f"{abs(w):.1f} %" for w in signed_w], textposition="outside", cliponaxis=False,
        hovertemplate="<b>%{y}</b><br>%{customdata[1]} %{customdata[0]:$,.0f}<br>weight %{x:.2f}%<extra></extra>"),
        row=1, col=1)
    fig.add_trace(go.Bar(
        y=labels, x=contrib, orientation="h", name="VaR95 contribution",
        marker_color=[t.GREY if c is None else (t.RED if c > 0 else t.GREEN) for c in contrib],
        text=[t.usd_short(c) for c in contrib], textposition="outside", cliponaxis=False,
        hovertemplate="<b>%{y}</b><br>VaR95 contribution %{x:$,.0f}<extra></extra>"), row=1, col=2)
    fig.update_annotations(font=dict(size=12, color=t.MUTED))  # the two subplot titles
    wmax = max([abs(w) for w in signed_w] + [limit]) * 1.25
    for x in (limit, -limit):
        fig.add_vline(x=x, line=dict(color=t.RED, width=1.5, dash="dash"), row=1, col=1)
    fig.add_annotation(x=limit, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"{limit:g} % limit", font=dict(size=10, color=t.RED))
    _base(fig, height, showlegend=False, bargap=0.35)
    fig.update_layout(margin=dict(l=10, r=30, t=40, b=10))
    fig.update_xaxes(range=[-wmax, wmax], ticksuffix=" %", gridcolor=t.LINE, zeroline=True,
                     zerolinecolor=t.MUTED, row=1, col=1)
    cvals = [abs(c) for c in contrib if c is not None] or [1.0]
    cmax = max(cvals) * 1.35
    cmin = min([c for c in contrib if c is not None] + [0.0])
    fig.update_xaxes(range=[min(cmin * 1.35, -cmax * 0.08), cmax], tickformat="$~s", gridcolor=t.LINE,
                     zeroline=True, zerolinecolor=t.MUTED, row=1, col=2)
    fig.update_yaxes(tickfont=dict(size=12))
    return fig
