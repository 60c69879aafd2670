"""Generic pieces of the risk dashboard: badges, cards, panels, graphs, the no-data card, time labels."""
from __future__ import annotations

from typing import Any

from dash import dcc, html

from mech_exo.reporting.dash_layout import theme as t
from mech_exo.reporting.jsonable import local_and_utc
from mech_exo.reporting.query import iso

GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def light(level: str) -> str:
    return t.LEVEL_COLOURS.get(level, t.GREY)


def badge(text: str, level: str, id: str | None = None, title: str | None = None) -> html.Span:
    kw = {"id": id} if id else {}
    return html.Span(text, className=f"badge badge-{level}", title=title or "", **{"data-level": level}, **kw)


def when(ts: Any, zone: str | None = None) -> str:
    """'2026-11-20 21:00 UTC' from a datetime or ISO string; with the session ``zone``, the local
    time first: '2026-11-20 16:00 EST (21:00 UTC)' (a bare UTC time reads as local to a person)."""
    s = iso(ts)
    if not s:
        return "—"
    if zone and "T" in s:
        return local_and_utc(s, zone)
    return s.replace("T", " ").replace("Z", " UTC")[:16] + (" UTC" if "T" in s else "")


def card(title: str, value: Any, sub: list | str | None, level: str | None, id: str,
         extra: Any = None, value_data: Any = None) -> html.Div:
    return html.Div(id=id, className=f"card kpi kpi-{level or 'none'}", **{"data-level": level or ""}, children=[
        html.Div(title, className="kpi-title"),
        html.Div(value, className="kpi-value", style={"color": light(level) if level else t.INK},
                 **({"data-value": repr(value_data)} if value_data is not None else {})),
        html.Div(sub, className="kpi-sub") if sub else None,
        extra,
    ])


def graph(id: str, fig) -> dcc.Graph:
    """A chart at its figure's own height (a responsive graph in a grid cell would collapse to 0 px)."""
    return dcc.Graph(id=id, figure=fig, config=GRAPH_CONFIG, style={"height": f"{fig.layout.height}px"})


def panel(title: str, children: Any, subtitle: str | None = None, cls: str = "") -> html.Div:
    return html.Div(className=f"card panel {cls}", children=[
        html.Div([html.Span(title, className="panel-title"),
                  html.Span(subtitle, className="panel-sub") if subtitle else None], className="panel-head"),
        children])


def no_data(message: str, status: str) -> html.Div:
    head = "No data yet" if status == "no_data" else "Cannot show risk"
    return html.Div(id="no-data", className="card nodata", **{"data-status": status}, children=[
        html.Div("∅" if status == "no_data" else "⚠", className="nodata-icon"),
        html.H2(head),
        html.P(message),
        html.P(["Build the data with ", html.Code("exo run"), " (or ", html.Code("exo demo"),
                " for sample data). This page refreshes by itself."], className="muted"),
    ])
