"""The headline cards: NAV, day and MTD P&L against the guard thresholds, VaR 95/99 against the limits
with their utilisation bars, the monthly-guard and drill badges. Every colour comes from
``mech_exo.bands`` — the rule the guards judge with."""
from __future__ import annotations

from typing import Any

from dash import html

from mech_exo import bands
from mech_exo.reporting.dash_layout import theme as t
from mech_exo.reporting.dash_layout.components import badge, card, light, when


def var_cfg(th: dict) -> dict:
    """The VaR band thresholds of the API's ``thresholds`` block, as ``bands`` takes them."""
    return {"warning_pct": th["var_warning_pct"], "critical_pct": th["var_critical_pct"], "halt_pct": th["var_halt_pct"]}


def util_bar(util: float | None, th: dict) -> html.Div:
    """Utilisation of a VaR limit with ticks at the warning and critical percentages."""
    u = 0.0 if util is None else util * 100
    colour = t.LEVEL_COLOURS[bands.var_light(util or 0.0, var_cfg(th))]
    return html.Div(className="util", children=[
        html.Div(className="util-fill", style={"width": f"{min(u, 100):.2f}%", "background": colour}),
        html.Div(className="util-tick", style={"left": f"{th['var_warning_pct']:.0f}%"}),
        html.Div(className="util-tick crit", style={"left": f"{th['var_critical_pct']:.0f}%"}),
    ])


def kpi_row(m: dict[str, Any]) -> html.Div:
    th = m["thresholds"]
    worst = m.get("day_worst_return")
    day_sub = [html.Span(t.usd(m.get("day_pnl")), className="strong"),
               html.Span(f" · low {t.pct(worst)}" + (f" at {when(m.get('day_worst_at'), th.get('session_timezone'))[11:]}" if worst is not None else ""),
                         style={"color": light(_lvl(worst, th['daily_stop_pct'], th['daily_warning_pct']))}),
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
    var_light = bands.VAR_LIGHT.get(m.get("level"), bands.UNKNOWN)
    cards = [
        card("NAV", t.usd(m.get("nav")), f"close {t.usd(m.get('nav_close'))}", None, "kpi-nav", value_data=m.get("nav")),
        # the cards shade a loss inside the bands neutral, never green (bands.loss_shade); the API's
        # day_level / mtd_level stay the guards' bands
        card("Day P&L", t.pct(m.get("day_return")), day_sub,
             bands.loss_shade(m.get("day_return"), th["daily_stop_pct"], th["daily_warning_pct"]), "pnl-day",
             value_data=m.get("day_return")),
        card("Month to date", t.pct(m.get("mtd_return")), mtd_sub,
             bands.loss_shade(m.get("mtd_return"), th["monthly_stop_pct"], th["monthly_warning_pct"]), "pnl-mtd",
             value_data=m.get("mtd_return")),
        var_card("VaR 95 % (1 day) · book", m.get("var95_usd"), m.get("utilization95"), m.get("limit95_usd"), th,
                 "kpi-var95", level_badge=badge(f"level {m.get('level')}", var_light, id="badge-var-level")),
        var_card("VaR 99 % (1 day) · book", m.get("var99_usd"), m.get("utilization99"), m.get("limit99_usd"), th,
                 "kpi-var99"),
        drill_card(m["drill"]),
    ]
    return html.Div(cards, className="kpi-row")


def _lvl(fraction: float | None, stop: float, warn: float) -> str:
    return bands.loss_light(fraction, stop, warn)


def var_card(title: str, value: float | None, util: float | None, limit: float | None, th: dict, id: str,
             level_badge: Any = None) -> html.Div:
    u = None if util is None else util * 100
    level = bands.var_light(util, var_cfg(th))
    sub = [html.Span(f"{'—' if u is None else f'{u:.1f} %'} of {t.usd_short(limit)} limit"),
           html.Div("the book's own daily returns (var_daily) — what the limit judges", className="muted")]
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
        value, sub = f"{days:.0f} days", f"since last live pass ({when(d.get('last_live_pass_at'))[:10]}) · due every 90"
    return card("Rollback drill", badge(value, level, id="badge-drill"), sub, None, "kpi-drill")
