"""``/dashboard/risk-live``: the page the risk manager keeps open.

Top to bottom, in the order an on-call reads it: the kill-switch (a full-width red banner when
trading is halted, impossible to miss), the headline cards (day and MTD P&L against the guard
thresholds, VaR 95/99 against the limits, the monthly-guard and drill badges), then the pictures
(heatmap of VaR contribution by sector × strategy, VaR timeline with limits and bands, position
breakdown) and the position table. A ``dcc.Interval`` re-renders the content every 30 s through
one callback, without reloading the page. Everything shown comes from ``RiskQueryEngine``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import Input, Output, dcc, html

from mech_exo.reporting.dash_layout import figures
from mech_exo.reporting.dash_layout import theme as t
from mech_exo.reporting.query import RiskQueryEngine, iso, loss_level

REFRESH_MS = 30_000
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def _light(level: str) -> str:
    return t.LEVEL_COLOURS.get(level, t.GREY)


def badge(text: str, level: str, id: str | None = None, title: str | None = None) -> html.Span:
    kw = {"id": id} if id else {}
    return html.Span(text, className=f"badge badge-{level}", title=title or "", **{"data-level": level}, **kw)


def _when(ts: Any) -> str:
    """'2026-11-20 21:00 UTC' from a datetime or ISO string."""
    s = iso(ts)
    if not s:
        return "—"
    return s.replace("T", " ").replace("Z", " UTC")[:16] + (" UTC" if "T" in s else "")


# --- pieces -----------------------------------------------------------------------------------------

def killswitch_banner(ks: dict[str, Any]) -> html.Div:
    """Red, full width and loud when trading is halted (or the switch is unreadable, which means halted)."""
    if ks["halted"]:
        if not ks["readable"]:
            head, detail = "TRADING HALTED — KILL-SWITCH UNREADABLE", ks.get("error") or ks.get("reason")
        else:
            head = "TRADING HALTED"
            detail = f"Reason: {ks['reason']}"
        meta = []
        if ks.get("trigger"):
            meta.append(f"trigger {ks['trigger']}")
        if ks.get("updated_at"):
            meta.append(f"since {_when(ks['updated_at'])}")
        if ks.get("updated_by"):
            meta.append(f"by {ks['updated_by']}")
        return html.Div(id="killswitch-banner", className="ks-banner ks-halted", **{"data-state": "halted"}, children=[
            html.Div("!", className="ks-icon"),  # CSS-drawn: no emoji font needed
            html.Div([html.Div(head, className="ks-head"), html.Div(detail, className="ks-reason"),
                      html.Div(" · ".join(meta), className="ks-meta")]),
            html.Div(["Re-enable: ", html.Code("exo kill on --reason …"),
                      html.Span(" (--approved-by after monthly_stop / var_breach)")], className="ks-howto"),
        ])
    return html.Div(id="killswitch-banner", className="ks-banner ks-enabled", **{"data-state": "enabled"}, children=[
        html.Span("●", className="ks-dot"), html.B("Trading enabled"),
        html.Span(f" — {ks.get('reason') or ''}"),
        html.Span(f" · updated {_when(ks.get('updated_at'))} by {ks.get('updated_by') or '—'}", className="muted"),
    ])


def header(m: dict[str, Any], now: datetime, refresh_ms: int = REFRESH_MS) -> html.Div:
    bits = []
    if m.get("session_date"):
        bits.append(html.Span(["Session ", html.B(str(iso(m["session_date"])))]))
    if m.get("as_of"):
        age = m.get("data_age_minutes")
        stale = age is not None and age > (m.get("thresholds") or {}).get("freshness_max_age_minutes", 5)
        bits.append(html.Span(["Data as of ", html.B(_when(m["as_of"])),
                               html.Span(f" ({_age(age)} ago)", className="stale" if stale else "muted")],
                              id="data-as-of"))
    build = m.get("last_build") or {}
    if build.get("finished_at"):
        bits.append(html.Span(["Last build ", html.B(_when(build["finished_at"])),
                               html.Span(" ✗ failed" if build.get("ok") is False else "", className="stale")]))
    bits.append(html.Span([f"Refreshed {now:%H:%M:%S} UTC · every {refresh_ms / 1000:g} s"], id="refreshed-at",
                          className="muted"))
    return html.Div(className="topbar", children=[
        html.Div([html.Span("MECH-EXO", className="brand"), html.Span("Risk · Live", className="title")]),
        html.Div(className="topbar-meta", children=_interleave(bits)),
    ])


def _interleave(items: list) -> list:
    out: list = []
    for i, x in enumerate(items):
        if i:
            out.append(html.Span("|", className="sep"))
        out.append(x)
    return out


def _age(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def card(title: str, value: Any, sub: list | str | None, level: str | None, id: str,
         extra: Any = None, value_data: Any = None) -> html.Div:
    return html.Div(id=id, className=f"card kpi kpi-{level or 'none'}", **{"data-level": level or ""}, children=[
        html.Div(title, className="kpi-title"),
        html.Div(value, className="kpi-value", style={"color": _light(level) if level else t.INK},
                 **({"data-value": repr(value_data)} if value_data is not None else {})),
        html.Div(sub, className="kpi-sub") if sub else None,
        extra,
    ])


def util_bar(util: float | None, th: dict) -> html.Div:
    """Utilisation of a VaR limit with ticks at the warning and critical percentages."""
    u = 0.0 if util is None else util * 100
    colour = t.GREEN if u < th["var_warning_pct"] else (t.YELLOW if u <= th["var_critical_pct"] else t.RED)
    return html.Div(className="util", children=[
        html.Div(className="util-fill", style={"width": f"{min(u, 100):.2f}%", "background": colour}),
        html.Div(className="util-tick", style={"left": f"{th['var_warning_pct']:.0f}%"}),
        html.Div(className="util-tick crit", style={"left": f"{th['var_critical_pct']:.0f}%"}),
    ])


def kpi_row(m: dict[str, Any]) -> html.Div:
    th = m["thresholds"]
    worst = m.get("day_worst_return")
    day_sub = [html.Span(t.usd(m.get("day_pnl")), className="strong"),
               html.Span(f" · low {t.pct(worst)}" + (f" at {_when(m.get('day_worst_at'))[11:]}" if worst is not None else ""),
                         style={"color": _light(_lvl(worst, th['daily_stop_pct'], th['daily_warning_pct']))}),
               html.Div(f"warn {t.pct(th['daily_warning_pct'] / 100, signed=False)} · "
                        f"stop {t.pct(th['daily_stop_pct'] / 100, signed=False)}", className="muted")]
    mg = m.get("monthly_guard") or {}
    armed = bool(mg.get("armed"))
    monthly_level = m["mtd_level"] if armed else "unknown"
    monthly_text = (f"guard {'BREACHED' if mg.get('breached') else ('armed' if armed else 'not armed')}"
                    f" · stop {t.pct(th['monthly_stop_pct'] / 100, signed=False)}")
    mtd_sub = [html.Span(f"drawdown {t.pct(m.get('mtd_drawdown'))}", className="muted"),
               html.Div(badge(monthly_text, monthly_level, id="badge-monthly",
                              title=f"{mg.get('history_days')} sessions of NAV; armed from "
                                    f"{th['monthly_min_history_days']}"), className="badge-line")]
    var_light = t.VAR_LEVEL_TO_LIGHT.get(m.get("level"), "unknown")
    cards = [
        card("NAV", t.usd(m.get("nav")), f"close {t.usd(m.get('nav_close'))}", None, "kpi-nav", value_data=m.get("nav")),
        card("Day P&L", t.pct(m.get("day_return")), day_sub, m["day_level"], "pnl-day", value_data=m.get("day_return")),
        card("Month to date", t.pct(m.get("mtd_return")), mtd_sub, m["mtd_level"], "pnl-mtd",
             value_data=m.get("mtd_return")),
        var_card("VaR 95 % (1 day)", m.get("var95_usd"), m.get("utilization95"), m.get("limit95_usd"), th, "kpi-var95",
                 level_badge=badge(f"level {m.get('level')}", var_light, id="badge-var-level")),
        var_card("VaR 99 % (1 day)", m.get("var99_usd"), m.get("utilization99"), m.get("limit99_usd"), th, "kpi-var99"),
        drill_card(m["drill"]),
    ]
    return html.Div(cards, className="kpi-row")


def _lvl(fraction: float | None, stop: float, warn: float) -> str:
    return loss_level(fraction, stop, warn)


def var_card(title: str, value: float | None, util: float | None, limit: float | None, th: dict, id: str,
             level_badge: Any = None) -> html.Div:
    u = None if util is None else util * 100
    level = ("unknown" if u is None else "green" if round(u, 6) < th["var_warning_pct"]
             else "yellow" if round(u, 6) <= th["var_critical_pct"] else "red")
    sub = [html.Span(f"{'—' if u is None else f'{u:.1f} %'} of {t.usd_short(limit)} limit")]
    extra = html.Div([util_bar(util, th), html.Div(level_badge, className="badge-line") if level_badge else None])
    return card(title, t.usd(value), sub, level, id, extra=extra, value_data=value)


def drill_card(d: dict[str, Any]) -> html.Div:
    days = d.get("days_since_last_live_pass")
    level = d.get("badge") or "unknown"
    if level == "unknown":
        value, sub = "unknown", d.get("error") or "drill status unavailable"
    elif days is None:
        value, sub = "never", ["no live drill has passed — run ", html.Code("exo drill rollback")]
    else:
        value, sub = f"{days:.0f} days", f"since last live pass ({_when(d.get('last_live_pass_at'))[:10]}) · due every 90"
    return card("Rollback drill", badge(value, level, id="badge-drill"), sub, None, "kpi-drill")


def exposure_strip(x: dict[str, Any]) -> html.Div:
    def tile(label: str, frac: float | None, usd_v: float | None, colour: str, id: str) -> html.Div:
        return html.Div(className="exp-tile", id=id, children=[
            html.Div(label, className="exp-label"),
            html.Div(t.pct(frac, 1, signed=False), className="exp-value", style={"color": colour},
                     **{"data-value": repr(frac)}),
            html.Div(t.usd(usd_v), className="muted")])
    gross_usd = (x["long_usd"] + x["short_usd"])
    return html.Div(className="exp-strip", children=[
        tile("Long", x["long"], x["long_usd"], t.LONG_COLOUR, "exposure-long"),
        tile("Short", x["short"], x["short_usd"], t.SHORT_COLOUR, "exposure-short"),
        tile("Gross", x["gross"], gross_usd, t.INK, "exposure-gross"),
        tile("Net", x["net"], x["long_usd"] - x["short_usd"], t.INK, "exposure-net"),
    ])


TABLE_COLUMNS = [  # (key, header, formatter, numeric)
    ("strategy", "Strategy", str, False),
    ("symbol", "Symbol", str, False),
    ("sector", "Sector", str, False),
    ("side", "Side", str, False),
    ("quantity", "Quantity", lambda v: t.num(v), True),
    ("mark", "Mark", lambda v: t.num(v, 2), True),
    ("market_value", "Market value", lambda v: t.usd(v), True),
    ("weight", "Weight", lambda v: t.pct(v, 2, signed=False), True),
    ("var95_contribution", "VaR95 contrib.", lambda v: t.usd(v), True),
    ("var95_share", "Share", lambda v: t.pct(v, 1), True),
    ("day_pnl", "Day P&L", lambda v: t.usd(v), True),
]


def positions_table(positions: list[dict[str, Any]], th: dict) -> html.Table:
    head = html.Thead(html.Tr([html.Th(h, className="num" if n else "") for _, h, _, n in TABLE_COLUMNS]))
    body = []
    for p in positions:
        p = {**p, "side": "long" if p["market_value"] >= 0 else "short"}
        over = p["weight"] is not None and round(p["weight"] * 100, 6) > th["max_weight_pct"]
        cells = []
        for key, _, fmt, numeric in TABLE_COLUMNS:
            v = p.get(key)
            cls = ["num"] if numeric else []
            if key in ("day_pnl", "var95_contribution") and v is not None:
                cls.append("neg" if (v < 0) == (key == "day_pnl") else "pos-risk" if key == "var95_contribution" else "")
            if key == "weight" and over:
                cls.append("over")
            if key == "symbol" and p.get("mark_source") == "fill":
                fmt = lambda s: f"{s} (fill-marked)"  # noqa: E731
            cells.append(html.Td("—" if v is None else fmt(v), className=" ".join(c for c in cls if c),
                                 **{"data-col": key, "data-value": "" if v is None else repr(v)}))
        body.append(html.Tr(cells, **{"data-key": f"{p['strategy']}|{p['symbol']}"}))
    return html.Table([head, html.Tbody(body)], id="positions-table", className="ptable")


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


# --- the page ----------------------------------------------------------------------------------------

class RiskLiveLayout:
    """The risk-live page over a ``RiskQueryEngine`` (default: the home from EXO_HOME / cwd)."""

    CONTENT_ID = "risk-live-content"
    INTERVAL_ID = "risk-live-interval"

    def __init__(self, engine: RiskQueryEngine | None = None, refresh_ms: int = REFRESH_MS):
        self.engine = engine or RiskQueryEngine()
        self.refresh_ms = refresh_ms

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
        top = [header(m, now, self.refresh_ms), html.Div(killswitch_banner(m["killswitch"]), className="wrap")]
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
        return top + [html.Div(className="wrap", children=[
            *suspect,
            kpi_row(m),
            html.Div(className="grid2", children=[
                panel("VaR contribution · sector × strategy",
                      graph("risk-heatmap", figures.heatmap_figure(self.engine.get_heatmap())),
                      f"95 % 1-day, USD · total {t.usd(total95)} · {m['session_date']}"),
                panel("VaR timeline",
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
            panel("Positions", positions_table(positions, th), f"as of {_when(m['as_of'])}", cls="table-panel"),
            html.Div(f"Home {m['home']} · snapshot data/analytics.duckdb (read-only)", className="footer muted"),
        ])]

    def register_callbacks(self, app) -> None:
        """The 30 s refresh: re-render the content in place (no page reload)."""
        @app.callback(Output(self.CONTENT_ID, "children"), Input(self.INTERVAL_ID, "n_intervals"),
                      prevent_initial_call=True)
        def _refresh(_n):  # noqa: ANN001
            return self.render()


CSS = """
* { box-sizing: border-box; }
body { margin: 0; background: %(bg)s; color: %(ink)s; font-family: %(font)s; font-size: 14px; }
.wrap { max-width: 1480px; margin: 0 auto; padding: 0 18px; }
.muted { color: %(muted)s; }
.topbar { background: %(navy)s; color: #fff; display: flex; justify-content: space-between; align-items: center;
          padding: 10px 24px; flex-wrap: wrap; gap: 8px; }
.brand { font-weight: 800; letter-spacing: .12em; font-size: 13px; opacity: .8; margin-right: 12px; }
.title { font-size: 19px; font-weight: 600; }
.topbar-meta { font-size: 13px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.topbar-meta .muted { color: #b8c2d6; }
.topbar-meta .sep { color: #56627d; }
.stale { color: #ffb4a8; font-weight: 600; }
.ks-banner { margin: 14px 0 0; border-radius: 8px; }
.ks-enabled { background: #e8f5ec; border: 1px solid #b9e0c5; color: #1d5e33; padding: 8px 14px; font-size: 14px; }
.ks-dot { color: %(green)s; margin-right: 6px; }
.ks-halted { background: %(red)s; color: #fff; padding: 16px 22px; display: flex; gap: 18px; align-items: center;
             box-shadow: 0 0 0 4px rgba(215,48,39,.25); animation: pulse 2s infinite; }
@keyframes pulse { 0%%,100%% { box-shadow: 0 0 0 4px rgba(215,48,39,.25);} 50%% { box-shadow: 0 0 0 9px rgba(215,48,39,.12);} }
.ks-icon { flex: none; width: 48px; height: 48px; border-radius: 50%%; border: 4px solid #fff; font-size: 30px;
           font-weight: 900; display: flex; align-items: center; justify-content: center; }
.ks-head { font-size: 24px; font-weight: 800; letter-spacing: .04em; }
.ks-reason { font-size: 16px; margin-top: 2px; }
.ks-meta { font-size: 13px; opacity: .9; margin-top: 2px; }
.ks-howto { margin-left: auto; font-size: 12px; opacity: .92; text-align: right; }
.ks-howto code { background: rgba(255,255,255,.18); padding: 1px 5px; border-radius: 4px; }
.suspect { margin-top: 12px; background: #fff4d6; border: 1px solid #f0c85a; color: #6b4e00; padding: 8px 14px; border-radius: 8px; }
.card { background: %(paper)s; border: 1px solid %(line)s; border-radius: 10px; box-shadow: 0 1px 2px rgba(16,24,40,.05); }
.kpi-row { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin-top: 14px; }
.kpi { padding: 12px 14px; border-top: 4px solid %(line)s; min-height: 118px; }
.kpi-green { border-top-color: %(green)s; } .kpi-yellow { border-top-color: %(yellow)s; }
.kpi-red { border-top-color: %(red)s; } .kpi-unknown { border-top-color: %(grey)s; }
.kpi-title { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: %(muted)s; font-weight: 600; }
.kpi-value { font-size: 26px; font-weight: 700; margin: 4px 0 2px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kpi-sub { font-size: 12.5px; line-height: 1.45; }
.kpi-sub .strong { font-weight: 600; }
.badge { display: inline-block; padding: 2px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
.kpi-value .badge { font-size: 20px; padding: 3px 14px; }
.badge-green { background: %(green)s; } .badge-yellow { background: %(yellow)s; } .badge-red { background: %(red)s; }
.badge-unknown { background: %(grey)s; }
.badge-line { margin-top: 6px; }
.util { position: relative; height: 7px; background: #edf0f5; border-radius: 4px; margin-top: 8px; overflow: visible; }
.util-fill { height: 7px; border-radius: 4px; }
.util-tick { position: absolute; top: -3px; width: 2px; height: 13px; background: %(yellow)s; }
.util-tick.crit { background: %(red)s; }
.grid2 { display: grid; grid-template-columns: 5fr 7fr; gap: 12px; margin-top: 12px; }
.panel { padding: 10px 12px 6px; margin-top: 12px; }
.grid2 .panel { margin-top: 0; }
.panel-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin-bottom: 4px; }
.panel-title { font-weight: 650; font-size: 15px; }
.panel-sub { font-size: 12px; color: %(muted)s; text-align: right; }
.exp-strip { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px; margin: 4px 0 6px; }
.exp-tile { background: %(bg)s; border-radius: 8px; padding: 6px 12px; }
.exp-label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: %(muted)s; font-weight: 600; }
.exp-value { font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; }
.ptable { width: 100%%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.ptable th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: %(muted)s;
             border-bottom: 2px solid %(line)s; padding: 7px 8px; }
.ptable td { border-bottom: 1px solid %(line)s; padding: 6px 8px; }
.ptable tr:hover td { background: #f7f9fc; }
.ptable .num { text-align: right; }
.ptable .neg { color: %(red)s; } .ptable .pos-risk { color: #9b2c2c; }
.ptable .over { color: #fff; background: %(red)s; font-weight: 700; border-radius: 4px; }
.table-panel { padding-bottom: 10px; }
.nodata { margin: 40px auto; max-width: 640px; text-align: center; padding: 36px; }
.nodata-icon { font-size: 44px; color: %(grey)s; }
.nodata h2 { margin: 6px 0 10px; }
.footer { font-size: 12px; text-align: right; padding: 14px 0 22px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
@media (max-width: 1200px) { .kpi-row { grid-template-columns: repeat(3, minmax(0, 1fr)); } .grid2 { grid-template-columns: 1fr; } }
""" % {"bg": t.BG, "ink": t.INK, "muted": t.MUTED, "navy": t.NAVY, "paper": t.PAPER, "line": t.LINE,
       "green": t.GREEN, "yellow": t.YELLOW, "red": t.RED, "grey": t.GREY, "font": t.FONT}
