"""``/dashboard/risk-live``: the page the risk manager keeps open.

Top to bottom, in the order an on-call reads it: the kill-switch (a full-width red banner when
trading is halted, impossible to miss), the headline cards (day and MTD P&L against the guard
thresholds, VaR 95/99 against the limits, the monthly-guard and drill badges), then the pictures
(heatmap of VaR contribution by sector × strategy, VaR timeline with limits and bands, position
breakdown) and the position table. A ``dcc.Interval`` re-renders the content every 30 s through
one callback, without reloading the page. Everything shown comes from ``RiskQueryEngine``.

This module assembles the page (``RiskLiveLayout``); its pieces live beside it: ``banner`` (header
and kill-switch banner), ``cards`` (the headline cards), ``book`` (exposures and the position
table), ``figures`` (the charts), ``components`` (generic pieces) and ``css``.
"""
from __future__ import annotations

from typing import Callable

from dash import Input, Output, dcc, html

from mech_exo.reporting.dash_layout import figures
from mech_exo.reporting.dash_layout import theme as t
from mech_exo.reporting.dash_layout.banner import REFRESH_MS, header, health_banner, killswitch_banner
from mech_exo.reporting.dash_layout.book import TABLE_COLUMNS, exposure_strip, positions_table  # noqa: F401
from mech_exo.reporting.dash_layout.cards import drill_card, kpi_row, util_bar, var_card  # noqa: F401
from mech_exo.reporting.dash_layout.components import GRAPH_CONFIG, badge, card, graph, no_data, panel  # noqa: F401
from mech_exo.reporting.dash_layout.components import when as _when
from mech_exo.reporting.dash_layout.css import CSS  # noqa: F401 — served by mech_exo.dashboard.app
from mech_exo.reporting.query import RiskQueryEngine

# --- the page ----------------------------------------------------------------------------------------

class RiskLiveLayout:
    """The risk-live page over a ``RiskQueryEngine`` (default: the home from EXO_HOME / cwd)."""

    CONTENT_ID = "risk-live-content"
    INTERVAL_ID = "risk-live-interval"

    def __init__(self, engine: RiskQueryEngine | None = None, refresh_ms: int = REFRESH_MS,
                 health: Callable[[], tuple[dict, bool]] | None = None):
        self.engine = engine or RiskQueryEngine()
        self.refresh_ms = refresh_ms
        self.health = health  # () -> (/health's body, healthy): the page says what /health says

    def layout(self) -> html.Div:
        """The whole page: the refresh timer and the content rendered now (no blank first paint)."""
        return html.Div(className="page", children=[
            dcc.Interval(id=self.INTERVAL_ID, interval=self.refresh_ms, n_intervals=0),
            html.Div(id=self.CONTENT_ID, children=self.render()),
        ])

    def render(self) -> list:
        """Content from the engine's current view of the snapshot and the live files."""
        m = self.engine.get_live_risk_metrics()
        now = self.engine.now()
        zone = (m.get("thresholds") or {}).get("session_timezone")
        top = [header(m, now, self.refresh_ms), html.Div(killswitch_banner(m["killswitch"], zone), className="wrap")]
        if self.health is not None:
            body, healthy = self.health()
            if not healthy:
                top.append(html.Div(health_banner(body), className="wrap"))
        if m["status"] != "ok":
            return top + [html.Div(no_data(m["message"], m["status"]), className="wrap")]
        th = m["thresholds"]
        positions = self.engine.get_positions()
        suspect = []
        if m.get("failed_checks"):
            suspect = [html.Div(id="data-suspect", className="suspect", children=[
                html.B("DATA SUSPECT: "), f"{len(m['failed_checks'])} data check(s) failing on this snapshot — ",
                ", ".join(m["failed_checks"][:5]), ". Follow the run-book's data-issue path."])]
        total95 = sum(p["var95_contribution"] or 0.0 for p in positions)
        heat_note = html.Div(className="explain", id="var-explain", children=[
            html.B("Which VaR is which. "),
            f"This map is a position simulation: today's positions replayed over the last "
            f"{m.get('n_obs') or 'N'} sessions' price moves (position_risk), total {t.usd(total95)}. "
            f"The VaR cards are the book's own daily returns over the same window (var_daily), "
            f"{t.usd(m.get('var95_usd'))} — what the limit judges. They differ because the book's "
            "positions, flows and fills changed over the window; the map shows where today's risk sits."])
        return top + [html.Div(className="wrap", children=[
            *suspect,
            kpi_row(m),
            html.Div(className="grid2", children=[
                panel("VaR contribution · sector × strategy (position simulation)",
                      html.Div([graph("risk-heatmap", figures.heatmap_figure(self.engine.get_heatmap())), heat_note]),
                      f"95 % 1-day, USD · total {t.usd(total95)} · {m['session_date']}"),
                panel("VaR timeline (book returns)",
                      graph("var-timeline", figures.var_timeline_figure(self.engine.get_var_timeline(), th)),
                      f"limits {t.usd_short(m['limit95_usd'])} / {t.usd_short(m['limit99_usd'])} · "
                      f"bands {th['var_warning_pct']:.0f} % / {th['var_critical_pct']:.0f} % of limit"),
            ]),
            panel("Position breakdown",
                  html.Div([exposure_strip(m["exposure"]),
                            graph("position-breakdown", figures.positions_figure(positions, th))]),
                  f"{len(positions)} positions · weight limit {th['max_weight_pct']:g} % of NAV"
                  + (" · CONCENTRATION: " + ", ".join(f"{c['symbol']} {c['weight_pct']:.1f} %"
                                                      for c in m["concentration_breaches"])
                     if m["concentration_breaches"] else "")),
            panel("Positions", positions_table(positions, th), f"as of {_when(m['as_of'], zone)}", cls="table-panel"),
            html.Div(f"Home {m['home']} · snapshot data/analytics.duckdb (read-only)", className="footer muted"),
        ])]

    def register_callbacks(self, app) -> None:
        """The 30 s refresh: re-render the content in place (no page reload)."""
        @app.callback(Output(self.CONTENT_ID, "children"), Input(self.INTERVAL_ID, "n_intervals"),
                      prevent_initial_call=True)
        def _refresh(_n):  # noqa: ANN001
            return self.render()
