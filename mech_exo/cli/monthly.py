"""`exo monthly status|summary|history|breakdown|debug`: the month-to-date figures behind the monthly guard.

All from ``mtd_drawdown`` / ``nav_daily`` / ``strategy_daily_pnl`` of the published snapshot, for
the latest session's month unless ``--month YYYY-MM``. ``debug`` shows the compounding session
by session so an on-call can see exactly how the MTD figure the guard judged is made up.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import click

from mech_exo import bands
from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import (
    MONEY_TOL,
    cents,
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
from mech_exo.home import Home
from mech_exo.reporting import read

month_option = click.option("--month", default=None, metavar="YYYY-MM",
                            help="Month to show (default: the latest session's month).")


@click.group("monthly")
def monthly() -> None:
    """Month-to-date return and drawdown, the monthly stop-loss guard, and how the figures are made up."""


def _sessions(con, month: date) -> list[dict[str, Any]]:
    return read.month_sessions(con, month)


# --- status ----------------------------------------------------------------------------------------

def status_payload(home: Home, con, month: str | None = None) -> dict[str, Any]:
    cfg = risk_config(home)["monthly_stop"]
    m = resolve_month(con, month)
    last = _sessions(con, m)[-1]
    thr = float(cfg["threshold_pct"])
    mtd_pct = bands.pct(last["mtd_return"])
    return {"month": m, "session_date": last["session_date"], "mtd_return": last["mtd_return"],
            "mtd_drawdown": last["mtd_drawdown"], "threshold_pct": thr,
            "distance_to_threshold_pp": round(mtd_pct - thr, 6), "guard_enabled": bool(cfg.get("enabled", True)),
            "guard_armed": bool(last["guard_armed"]), "history_days": last["history_days"],
            "min_history_days": cfg["min_history_days"], "breached": bool(last["breached"]),
            "killswitch": killswitch_summary(home)}


@monthly.command("status")
@month_option
@json_option
@pass_home
def status_cmd(home: Home, month: str | None, as_json: bool) -> None:
    """MTD return and drawdown, distance to the −3 % stop, whether the guard is armed, sessions of history."""
    with open_data(home) as con:
        p = status_payload(home, con, month)
    if as_json:
        emit_json(p)
        return
    t = table(f"Monthly stop-loss — {str(p['month'])[:7]} through {p['session_date']}", "Figure", ">Value",
              show_header=False)
    t.add_row("MTD return", pct_cell(p["mtd_return"]))
    t.add_row("MTD drawdown from the month's peak", pct_cell(p["mtd_drawdown"]))
    t.add_row("Stop threshold", f"{p['threshold_pct']:.2f}%")
    dist = p["distance_to_threshold_pp"]
    t.add_row("Distance to the stop", f"[{'red' if dist <= 0 else 'yellow' if dist < 1 else 'green'}]{dist:.2f} pp[/]")
    armed = "[green]armed[/]" if p["guard_armed"] else "[yellow]not armed[/]"
    t.add_row("Guard", f"{armed} ({p['history_days']} sessions of history, needs {p['min_history_days']})"
              + ("" if p["guard_enabled"] else " [yellow]DISABLED in config/risk.yml[/]"))
    t.add_row("Breached", status_cell("BREACH") if p["breached"] else status_cell("OK"))
    t.add_row("Trading", trading_line(p["killswitch"]))
    console().print(t)


# --- summary ---------------------------------------------------------------------------------------

def summary_payload(home: Home, con, month: str | None = None) -> dict[str, Any]:
    m = resolve_month(con, month)
    ss = _sessions(con, m)
    rets = [s for s in ss if s["daily_return"] is not None]
    best = max(rets, key=lambda s: s["daily_return"], default=None)
    worst = min(rets, key=lambda s: s["daily_return"], default=None)
    strat = read.strategy_month_pnl(con, m)
    return {"month": m, "first_session": ss[0]["session_date"], "last_session": ss[-1]["session_date"],
            "sessions": len(ss), "start_nav": ss[0]["prev_nav"], "end_nav": ss[-1]["nav"],
            "flows": sum(s["flows"] for s in ss), "pnl": sum(s["pnl"] for s in ss),
            "mtd_return": ss[-1]["mtd_return"], "worst_drawdown": min(s["mtd_drawdown"] for s in ss),
            "worst_mtd_return": min(s["mtd_return"] for s in ss),
            "best_day": best and {"session_date": best["session_date"], "daily_return": best["daily_return"], "pnl": best["pnl"]},
            "worst_day": worst and {"session_date": worst["session_date"], "daily_return": worst["daily_return"],
                                    "pnl": worst["pnl"]},
            "positive_days": sum(1 for s in ss if s["pnl"] > 0), "breached": any(s["breached"] for s in ss),
            "by_strategy": strat, "guard": status_payload(home, con, str(m)[:7])}


@monthly.command("summary")
@month_option
@click.option("--verbose", "-v", is_flag=True, help="Add P&L by strategy and the guard's configuration.")
@json_option
@pass_home
def summary_cmd(home: Home, month: str | None, verbose: bool, as_json: bool) -> None:
    """The month so far: NAV start/end, flows, P&L, MTD return, worst drawdown, best/worst day."""
    with open_data(home) as con:
        p = summary_payload(home, con, month)
    if as_json:
        emit_json(p)
        return
    c = console()
    t = table(f"Month {str(p['month'])[:7]}: {p['first_session']} → {p['last_session']} ({p['sessions']} sessions)",
              "Figure", ">Value", show_header=False)
    t.add_row("NAV at start (previous close)", money_cell(p["start_nav"]))
    t.add_row("NAV now", money_cell(p["end_nav"]))
    t.add_row("Flows", money_cell(p["flows"]))
    t.add_row("P&L", money_cell(p["pnl"]))
    t.add_row("MTD return", pct_cell(p["mtd_return"]))
    t.add_row("Worst MTD return / worst drawdown", f"{pct_cell(p['worst_mtd_return'])} / {pct_cell(p['worst_drawdown'])}")
    for k in ("best_day", "worst_day"):
        if p[k]:
            t.add_row(k.replace("_", " ").capitalize(), f"{p[k]['session_date']}  {pct_cell(p[k]['daily_return'])}  "
                                                         f"{money_cell(p[k]['pnl'])}")
    t.add_row("Positive sessions", f"{p['positive_days']} of {p['sessions']}")
    t.add_row("Stop breached this month", status_cell("BREACH") if p["breached"] else status_cell("OK"))
    c.print(t)
    if verbose:
        g = p["guard"]
        ts = table("P&L by strategy", "Strategy", ">P&L")
        for r in p["by_strategy"]:
            ts.add_row(r["strategy"], money_cell(r["pnl"]))
        ts.add_row("[bold]TOTAL[/]", f"[bold]{money_cell(sum(r['pnl'] for r in p['by_strategy']))}[/]")
        c.print(ts)
        c.print(f"guard: threshold {g['threshold_pct']:.2f}%, distance {g['distance_to_threshold_pp']:.2f} pp, "
                f"{'armed' if g['guard_armed'] else 'not armed'} ({g['history_days']}/{g['min_history_days']} sessions); "
                f"trading {trading_line(g['killswitch'])}")


# --- history ---------------------------------------------------------------------------------------

def history_payload(con, months: int) -> list[dict[str, Any]]:
    if months < 1:
        raise ExoError(f"--months must be at least 1, got {months}")
    latest_session(con)
    return read.month_history(con, months)


@monthly.command("history")
@click.option("--months", type=int, default=3, show_default=True, help="How many months (with data) to show.")
@json_option
@pass_home
def history_cmd(home: Home, months: int, as_json: bool) -> None:
    """Per month: return, worst MTD return, worst drawdown, and whether the stop was breached."""
    with open_data(home) as con:
        hist = history_payload(con, months)
    if as_json:
        emit_json({"months": hist})
        return
    t = table(f"Last {months} months with data", "Month", ">Sessions", ">Return", ">Worst MTD", ">Worst drawdown",
              "Breached")
    for h in hist:
        t.add_row(str(h["month"])[:7], str(h["sessions"]), pct_cell(h["mtd_return"]), pct_cell(h["worst_mtd_return"]),
                  pct_cell(h["worst_drawdown"]), status_cell("BREACH") if h["breached"] else "no")
    console().print(t)


# --- breakdown -------------------------------------------------------------------------------------

def breakdown_payload(con, month: str | None, by: str) -> dict[str, Any]:
    m = resolve_month(con, month)
    ss = _sessions(con, m)
    total = sum(s["pnl"] for s in ss)
    if by == "day":
        return {"month": m, "by": "day", "rows": ss, "total_pnl": total}
    strat = read.strategy_month_stats(con, m)
    ssum = sum(r["pnl"] for r in strat)
    return {"month": m, "by": "strategy", "rows": strat, "strategy_total": ssum, "total_pnl": total,
            "difference": ssum - total}


@monthly.command("breakdown")
@click.option("--by-day", "by", flag_value="day", default=True, help="One row per session (default).")
@click.option("--by-strategy", "by", flag_value="strategy", help="Σ strategy_daily_pnl over the month, with the total.")
@month_option
@json_option
@pass_home
def breakdown_cmd(home: Home, by: str, month: str | None, as_json: bool) -> None:
    """The month's P&L by session or by strategy; the strategies sum to the month's total (row TOTAL)."""
    with open_data(home) as con:
        p = breakdown_payload(con, month, by)
    if as_json:
        emit_json(p)
        return
    c = console()
    if by == "day":
        t = table(f"{str(p['month'])[:7]} by session", "Session", ">NAV", ">Flows", ">P&L", ">Return", ">MTD",
                  ">Drawdown")
        for s in p["rows"]:
            t.add_row(str(s["session_date"]), money_cell(s["nav"]), money_cell(s["flows"]), money_cell(s["pnl"]),
                      pct_cell(s["daily_return"]), pct_cell(s["mtd_return"]), pct_cell(s["mtd_drawdown"]))
        t.add_row("[bold]TOTAL[/]", "", "", f"[bold]{money_cell(p['total_pnl'])}[/]",
                  "", pct_cell(p["rows"][-1]["mtd_return"]), "")
    else:
        t = table(f"{str(p['month'])[:7]} by strategy", "Strategy", ">P&L", ">Positive sessions", ">Fills",
                  ">Commissions")
        for r in p["rows"]:
            t.add_row(r["strategy"], money_cell(r["pnl"]), f"{r['positive_sessions']}/{r['sessions']}", str(r["fills"]),
                      f"${r['commissions']:,.2f}")
        t.add_row("[bold]TOTAL (Σ strategies)[/]", f"[bold]{money_cell(p['strategy_total'])}[/]", "", "", "")
        t.add_row("month's P&L (nav_daily)", money_cell(p["total_pnl"]), "", "", "")
        diff = p["difference"]
        t.add_row("difference", cents(diff) if abs(diff) > MONEY_TOL else f"[green]{cents(diff)}[/]", "", "", "")
    c.print(t)


# --- debug -----------------------------------------------------------------------------------------

def debug_payload(con, month: str | None) -> dict[str, Any]:
    """Each session's NAV, flows, P&L and daily return, and the running Π(1 + r) − 1 next to the model's MTD."""
    m = resolve_month(con, month)
    out, index = [], 1.0
    for s in _sessions(con, m):
        if s["daily_return"] is not None:
            index *= 1.0 + s["daily_return"]
        out.append({**s, "denominator": s["prev_nav"] + s["flows"], "running_mtd": index - 1.0,
                    "difference": (index - 1.0) - s["mtd_return"]})
    return {"month": m, "rows": out, "mtd_return": out[-1]["mtd_return"], "running_mtd": out[-1]["running_mtd"],
            "max_abs_difference": max(abs(r["difference"]) for r in out)}


@monthly.command("debug")
@month_option
@click.option("--verbose", "-v", is_flag=True, help="Also show NAV_{d−1} and the return's denominator.")
@json_option
@pass_home
def debug_cmd(home: Home, month: str | None, verbose: bool, as_json: bool) -> None:
    """How the MTD figure is made up: each session's NAV, flows, P&L, daily return and the running
    compounded MTD = Π(1 + daily_return) − 1, next to the model's mtd_return."""
    with open_data(home) as con:
        p = debug_payload(con, month)
    if as_json:
        emit_json(p)
        return
    c = console()
    cols = ["Session", ">NAV"] + ([">Prev NAV", ">Prev+flows"] if verbose else []) + \
           [">Flows", ">P&L", ">Return", ">Running MTD", ">Model MTD"]
    t = table(f"{str(p['month'])[:7]}: daily_return = pnl / (NAV_{{d−1}} + F_d); MTD = Π(1 + r) − 1", *cols, compact=True)
    for r in p["rows"]:
        extra = [money_cell(r["prev_nav"]), money_cell(r["denominator"])] if verbose else []
        t.add_row(str(r["session_date"]), money_cell(r["nav"]), *extra, money_cell(r["flows"]), money_cell(r["pnl"]),
                  pct_cell(r["daily_return"], 4), pct_cell(r["running_mtd"], 4), pct_cell(r["mtd_return"], 4))
    c.print(t)
    ok = p["max_abs_difference"] <= 1e-9
    c.print(f"MTD return {pct_cell(p['mtd_return'], 4)}; re-compounded {pct_cell(p['running_mtd'], 4)} — "
            + ("[green]they agree[/]" if ok else f"[bold red]they differ by {p['max_abs_difference']:.3g}[/]"))


def recompute_mtd(con, month: str | None = None) -> dict[str, Any]:
    """Re-derive the month's MTD from nav_daily (compound the daily returns here, in Python) and
    compare with the mtd_drawdown model's figure."""
    last = latest_session(con)
    first = date(last.year, last.month, 1) if month is None else date.fromisoformat(f"{month}-01")
    sessions = read.month_returns(con, first)
    index = 1.0
    for s in sessions:
        index *= 1.0 + (s["daily_return"] or 0.0)
    model = read.mtd_on(con, sessions[-1]["session_date"])["mtd_return"] if sessions else None
    recomputed = index - 1.0 if sessions else None
    return {"month": str(first)[:7], "sessions": len(sessions), "recomputed_mtd_return": recomputed,
            "model_mtd_return": model,
            "agrees": model is not None and abs(recomputed - model) < 1e-12}


@monthly.command("recalculate")
@click.option("--force", is_flag=True,
              help="Rebuild every model from the inputs (full refresh: ingest → dbt build → checks → guards) "
                   "before recomputing; without it, only re-derive MTD from the current snapshot.")
@json_option
@pass_home
def recalculate_cmd(home: Home, force: bool, as_json: bool) -> None:
    """Recompute month-to-date: re-derive it from the sessions' returns and compare with the model;
    with --force, first rebuild everything from the inputs (the run-book's repair step)."""
    rebuilt = None
    if force:
        from mech_exo.flows.run import run_pipeline

        c = console()
        report = run_pipeline(home, full_refresh=True, by="cli:monthly-recalculate",
                              progress=None if as_json else (lambda m: c.print(f"• {m}")))
        rebuilt = {"ok": report.ok, "failed_step": report.failed_step, "error": report.error,
                   "run_id": report.run_id}
        if not report.ok and report.failed_step != "data checks":
            raise ExoError(f"full rebuild failed at {report.failed_step}: {report.error}")
    with open_data(home) as con:
        p = {**recompute_mtd(con), "rebuilt": rebuilt, **{"status": status_payload(home, con)}}
    if as_json:
        emit_json(p)
    else:
        t = table(f"MTD recalculation — {p['month']} ({p['sessions']} sessions)", "Figure", ">Value",
                  show_header=False)
        if rebuilt:
            t.add_row("Full rebuild", status_cell("OK") if rebuilt["ok"] else f"[yellow]{rebuilt['error']}[/]")
        t.add_row("MTD from the daily returns", pct_cell(p["recomputed_mtd_return"]))
        t.add_row("MTD in the model", pct_cell(p["model_mtd_return"]))
        t.add_row("Agree", status_cell("OK") if p["agrees"] else status_cell("FAIL"))
        t.add_row("Guard", "breached" if p["status"]["breached"] else "not breached")
        console().print(t)
    if not p["agrees"]:
        raise ExoError("the model's MTD disagrees with the compounded daily returns — run `exo monthly recalculate --force`")
