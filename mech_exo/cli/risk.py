"""`exo risk current|violations|monthly-attribution`: the risk picture of the latest session.

Violations reuse the guards' own pure functions and thresholds (``mech_exo.guards``,
``config/risk.yml``), so what this command lists is exactly what the guards judge.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import click

from mech_exo import bands
from mech_exo.cli.common import console, emit_json, json_option, pass_home
from mech_exo.cli.positions import summary_payload
from mech_exo.cli.risk_cmds import (
    MONEY_TOL,
    killswitch_summary,
    latest_session,
    money_cell,
    open_data,
    pct_cell,
    resolve_month,
    risk_config,
    status_cell,
    table,
    trading_line,
)
from mech_exo.cli.times import session_zone, when
from mech_exo.home import Home
from mech_exo.reporting import read


@click.group("risk")
def risk() -> None:
    """Risk now: NAV, day P&L, VaR and utilisation, exposures; limit violations; MTD attribution."""


# --- current ---------------------------------------------------------------------------------------

def current_payload(home: Home, con) -> dict[str, Any]:
    d = latest_session(con)
    intr = read.latest_intraday(con)
    worst = read.session_worst(con, d)
    var = read.var_on(con, d) or {}
    mtd = read.mtd_on(con, d) or {}
    book = summary_payload(con, top=1)
    return {
        "session_date": d, "as_of": intr and intr["ts"], "nav": intr and intr["nav"],
        "day_pnl": intr and intr["day_pnl"], "day_return": intr and intr["day_return"],
        "worst_day_return": worst and worst["worst"], "worst_day_return_ts": worst and worst["worst_ts"],
        "mtd_return": mtd.get("mtd_return"), "mtd_drawdown": mtd.get("mtd_drawdown"),
        "var": {k: var.get(k) for k in ("session_date", "nav", "n_obs", "var95", "var99", "es95", "es99",
                                        "var95_usd", "var99_usd", "utilization95", "utilization99", "level",
                                        "limit95_usd", "limit99_usd")},
        "exposure": {k: book[k] for k in ("gross_exposure", "net_exposure", "long_exposure", "short_exposure",
                                          "n_positions")},
        "killswitch": killswitch_summary(home),
    }


LEVEL_STATUS = {"normal": "OK", "warning": "WARNING", "critical": "CRITICAL", "breach": "BREACH",
                "insufficient_data": "INFO", None: "INFO"}


@risk.command("current")
@json_option
@pass_home
def current_cmd(home: Home, as_json: bool) -> None:
    """NAV and day P&L/return (latest intraday point), VaR 95/99 in $ and % of limit, exposures, trading state."""
    with open_data(home) as con:
        p = current_payload(home, con)
    if as_json:
        emit_json(p)
        return
    v, e = p["var"], p["exposure"]
    zone = session_zone(home)
    t = table(f"Risk now — session {p['session_date']}, as of {when(p['as_of'], zone)}", "Figure", ">Value",
              show_header=False)
    t.add_row("NAV", money_cell(p["nav"]))
    t.add_row("Day P&L / return", f"{money_cell(p['day_pnl'])}  {pct_cell(p['day_return'])}")
    t.add_row("Worst day return this session", f"{pct_cell(p['worst_day_return'])} at {when(p['worst_day_return_ts'], zone)}")
    t.add_row("MTD return / drawdown", f"{pct_cell(p['mtd_return'])} / {pct_cell(p['mtd_drawdown'])}")
    t.add_row("VaR 95 (1-day)", f"{money_cell(v['var95_usd'])}  {pct_cell(v['utilization95'], 1, False)} of "
                                f"{money_cell(v['limit95_usd'])}")
    t.add_row("VaR 99 (1-day)", f"{money_cell(v['var99_usd'])}  {pct_cell(v['utilization99'], 1, False)} of "
                                f"{money_cell(v['limit99_usd'])}")
    t.add_row("VaR level", f"{status_cell(LEVEL_STATUS.get(v['level'], 'INFO'))} ({v['level']}, {v['n_obs']} obs)")
    t.add_row("Gross / net exposure", f"{pct_cell(e['gross_exposure'], 1, False)} / {pct_cell(e['net_exposure'], 1)}")
    t.add_row("Long / short exposure", f"{pct_cell(e['long_exposure'], 1, False)} / {pct_cell(e['short_exposure'], 1, False)}")
    t.add_row("Positions", str(e["n_positions"]))
    t.add_row("Trading", trading_line(p["killswitch"]))
    console().print(t)


# --- violations ------------------------------------------------------------------------------------

def _p(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.2f}%"


def violations_payload(home: Home, con) -> dict[str, Any]:
    """Every limit check of the latest session with its status; ``violations`` = those not OK."""
    from mech_exo import guards as g

    cfg = risk_config(home)
    d = latest_session(con)
    checks: list[dict[str, Any]] = []

    conc = cfg["concentration"]["max_weight_pct"]
    pos = read.position_weights(con)
    over = g.concentration_violations(pos, conc)
    top = max((g.pct(abs(p["weight"])) for p in pos if p["weight"] is not None), default=None)
    checks.append({"check": "concentration", "status": "WARNING" if over else "OK", "value_pct": over[0][1] if over else top,
                   "limit_pct": conc, "names": [{"symbol": s, "weight_pct": w} for s, w in over],
                   "detail": ", ".join(f"{s} {w:.2f}%" for s, w in over) or f"largest name {top or 0:.2f}%"})

    var = read.var_on(con, d) or {}
    level = var.get("level")
    u = [x for x in (var.get("utilization95"), var.get("utilization99")) if x is not None]
    checks.append({"check": "var", "status": LEVEL_STATUS.get(level, "INFO"), "value_pct": g.pct(max(u)) if u else None,
                   "limit_pct": cfg["var"]["warning_pct"], "level": level,
                   "detail": f"level {level}; utilisation 95: {_p(var.get('utilization95'))}, "
                             f"99: {_p(var.get('utilization99'))} (warning {cfg['var']['warning_pct']}%, "
                             f"critical {cfg['var']['critical_pct']}%, halt {cfg['var']['halt_pct']}%)"})

    ds = cfg["daily_stop"]
    pts = read.intraday_returns(con, d)
    if pts:
        worst = min(pts, key=lambda r: r["day_return"])
        wp, lp = g.pct(worst["day_return"]), g.pct(pts[-1]["day_return"])
        status = {bands.STOP: "CRITICAL", bands.WARN: "WARNING", bands.OK: "OK"}[
            bands.loss_band_pct(wp, ds["threshold_pct"], ds["warning_pct"])]
        detail = f"worst {wp:.2f}% at {when(worst['ts'], session_zone(home))}, latest {lp:.2f}% (warn {ds['warning_pct']}%, halt {ds['threshold_pct']}%)"
    else:
        wp, status, detail = None, "INFO", "no intraday day return for the session"
    checks.append({"check": "day_loss", "status": status, "value_pct": wp, "limit_pct": ds["threshold_pct"],
                   "warning_pct": ds["warning_pct"], "detail": detail})

    ms = cfg["monthly_stop"]
    m = read.mtd_on(con, d)
    if m and m["mtd_return"] is not None:
        mp = g.pct(m["mtd_return"])
        hit = bands.loss_band_pct(mp, ms["threshold_pct"]) == bands.STOP
        status = ("CRITICAL" if hit and m["guard_armed"] else "INFO" if hit else "OK")
        detail = (f"MTD {mp:.2f}% vs {ms['threshold_pct']}% — guard "
                  + ("armed" if m["guard_armed"] else f"not armed ({m['history_days']} of {ms['min_history_days']} sessions)"))
    else:
        mp, status, detail = None, "INFO", "no MTD return for the session"
    checks.append({"check": "mtd_loss", "status": status, "value_pct": mp, "limit_pct": ms["threshold_pct"], "detail": detail})

    return {"session_date": d, "checks": checks, "violations": [c for c in checks if c["status"] not in ("OK", "INFO")]}


@risk.command("violations")
@json_option
@pass_home
def violations_cmd(home: Home, as_json: bool) -> None:
    """Limit checks of the latest session: concentration > 15 % per name, VaR level warning+, day loss vs
    −0.4/−0.8 %, MTD vs −3 % (thresholds from config/risk.yml). Always exits 0; lists what is breached."""
    with open_data(home) as con:
        p = violations_payload(home, con)
    if as_json:
        emit_json(p)
        return
    c = console()
    t = table(f"Limit checks — session {p['session_date']}", "Check", "Status", ">Value %", ">Limit %", "Detail")
    for ch in p["checks"]:
        t.add_row(ch["check"], status_cell(ch["status"]), "—" if ch["value_pct"] is None else f"{ch['value_pct']:.2f}",
                  f"{ch['limit_pct']}", ch["detail"])
    c.print(t)
    n = len(p["violations"])
    c.print("[green]no violations[/]" if not n else
            f"[bold red]{n} violation(s)[/]: " + "; ".join(f"{v['check']} {v['status']}" for v in p["violations"]))


# --- monthly attribution ---------------------------------------------------------------------------

def attribution_payload(con, month: date) -> dict[str, Any]:
    """MTD P&L by strategy (Σ strategy_daily_pnl) and by symbol/sector (close-to-close value change of
    each strategy × symbol over the month less its fills and commissions — the same formula, so both
    add up to the same total); ``unattributed`` = NAV P&L − that total (flows timing, should be ~0)."""
    tot = read.month_totals(con, month)
    strat = read.strategy_month_pnl(con, month)
    sym = read.symbol_month_pnl(con, month)
    by_sector: dict[str, float] = {}
    by_symbol: dict[str, dict] = {}
    for r in sym:
        by_sector[r["sector"]] = by_sector.get(r["sector"], 0.0) + r["pnl"]
        s = by_symbol.setdefault(r["symbol"], {"symbol": r["symbol"], "sector": r["sector"], "pnl": 0.0})
        s["pnl"] += r["pnl"]
    strategy_total = sum(r["pnl"] for r in strat)
    return {"month": month, "through": tot["d"], "sessions": tot["n"], "total_pnl": tot["pnl"],
            "by_strategy": strat, "strategy_total": strategy_total,
            "by_sector": [{"sector": k, "pnl": v} for k, v in sorted(by_sector.items(), key=lambda x: x[1])],
            "by_symbol": sorted(by_symbol.values(), key=lambda x: x["pnl"]),
            "symbol_total": sum(r["pnl"] for r in sym),
            "unattributed": tot["pnl"] - strategy_total}


@risk.command("monthly-attribution")
@click.option("--month", default=None, metavar="YYYY-MM", help="Month (default: the latest session's month).")
@json_option
@pass_home
def attribution_cmd(home: Home, month: str | None, as_json: bool) -> None:
    """Month-to-date P&L by strategy and by sector / symbol; each breakdown sums to the month's total P&L."""
    with open_data(home) as con:
        p = attribution_payload(con, resolve_month(con, month))
    if as_json:
        emit_json(p)
        return
    c = console()
    head = f"{str(p['month'])[:7]} through {p['through']} ({p['sessions']} sessions)"
    for title, key, col in (("by strategy", "by_strategy", "strategy"), ("by sector", "by_sector", "sector"),
                            ("by symbol", "by_symbol", "symbol")):
        t = table(None, col.capitalize(), ">P&L", ">Share of total")
        c.print(f"[bold]MTD P&L {title}[/] — {head}")
        for r in p[key]:
            t.add_row(r[col], money_cell(r["pnl"]), pct_cell(r["pnl"] / p["total_pnl"] if p["total_pnl"] else None, 1, False))
        gap = (p["total_pnl"] or 0.0) - sum(r["pnl"] for r in p[key])
        if abs(gap) > MONEY_TOL:
            t.add_row("[yellow]unattributed (flows/close timing)[/]", money_cell(gap), "")
        t.add_row("[bold]TOTAL (NAV P&L)[/]", f"[bold]{money_cell(p['total_pnl'])}[/]", "")
        c.print(t)
