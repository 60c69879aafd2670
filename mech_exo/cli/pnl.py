"""`exo pnl recalculate --date today|YYYY-MM-DD`: recompute a session's P&L two independent ways.

Read-only: it re-derives, from the published snapshot, (a) the NAV identity
pnl = NAV_d − NAV_{d−1} − F_d and (b) the sum of the strategies' P&L, and shows both against the
stored ``nav_daily.pnl`` with the differences. It does not rewrite anything — to rebuild the
models after fixing inputs run `exo run`. Exit 1 when the figures disagree beyond a cent.
"""
from __future__ import annotations

from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import (
    MONEY_TOL,
    RATIO_TOL,
    cents,
    money_cell,
    open_data,
    pct_cell,
    resolve_session,
    status_cell,
    table,
)
from mech_exo.home import Home
from mech_exo.reporting import read


@click.group("pnl")
def pnl() -> None:
    """P&L re-derivation from the snapshot."""


def recalc_payload(con, day: str | None) -> dict[str, Any]:
    d = resolve_session(con, day)
    cur = read.nav_on(con, d)
    prev = read.nav_before(con, d)
    prev_nav = prev["nav"] if prev else 0.0
    nav_pnl = cur["nav"] - prev_nav - cur["flows"]
    denom = prev_nav + cur["flows"]
    strategies = read.strategies_on(con, d)
    strat_sum = sum(r["pnl"] for r in strategies)
    dm = read.daily_metrics_on(con, d)
    ret = nav_pnl / denom if denom else None
    diffs = {"stored_vs_nav": cur["pnl"] - nav_pnl, "strategies_vs_nav": strat_sum - nav_pnl,
             "daily_metrics_vs_nav": (dm["pnl"] - nav_pnl) if dm else None}
    ok = (all(abs(v) <= MONEY_TOL for v in diffs.values() if v is not None)
          and (ret is None) == (cur["daily_return"] is None)
          and (ret is None or abs(ret - cur["daily_return"]) <= RATIO_TOL))
    return {"session_date": d, "previous_session": prev and prev["session_date"], "nav": cur["nav"],
            "prev_nav": prev_nav, "flows": cur["flows"], "nav_pnl": nav_pnl, "stored_pnl": cur["pnl"],
            "daily_return": ret, "stored_daily_return": cur["daily_return"], "strategy_sum_pnl": strat_sum,
            "strategies": strategies, "differences": diffs, "status": "OK" if ok else "MISMATCH"}


@pnl.command("recalculate")
@click.option("--date", "day", default="today", show_default=True,
              help="today (= the latest session in the data) or YYYY-MM-DD.")
@json_option
@pass_home
def recalculate_cmd(home: Home, day: str, as_json: bool) -> None:
    """Recompute the day's P&L from nav_daily (NAV_d − NAV_{d−1} − F_d) and from strategy_daily_pnl, and
    show both with their difference. Read-only; exit 1 if they disagree by more than $0.01."""
    with open_data(home) as con:
        p = recalc_payload(con, day)
    if as_json:
        emit_json(p)
    else:
        c = console()
        t = table(f"P&L of session {p['session_date']} (previous session {p['previous_session'] or 'none'})",
                  "Figure", ">USD")
        t.add_row("NAV at close", money_cell(p["nav"]))
        t.add_row("− previous NAV", money_cell(p["prev_nav"]))
        t.add_row("− flows of the day", money_cell(p["flows"]))
        t.add_row("[bold]= NAV-based P&L[/]", f"[bold]{money_cell(p['nav_pnl'])}[/]")
        t.add_row("stored nav_daily.pnl", money_cell(p["stored_pnl"]))
        for s in p["strategies"]:
            t.add_row(f"  strategy {s['strategy']}", money_cell(s["pnl"]))
        t.add_row("[bold]Σ strategy P&L[/]", f"[bold]{money_cell(p['strategy_sum_pnl'])}[/]")
        t.add_row("difference (strategies − NAV)", cents(p["differences"]["strategies_vs_nav"]))
        t.add_row("difference (stored − NAV)", cents(p["differences"]["stored_vs_nav"]))
        t.add_row("daily return (re-derived / stored)",
                  f"{pct_cell(p['daily_return'], 4)} / {pct_cell(p['stored_daily_return'], 4)}")
        t.add_row("status", status_cell(p["status"]))
        c.print(t)
    if p["status"] != "OK":
        bad = [f"{k} ${v:,.2f}" for k, v in p["differences"].items() if v is not None and abs(v) > MONEY_TOL]
        bad = bad or [f"daily_return re-derived {p['daily_return']} vs stored {p['stored_daily_return']}"]
        raise ExoError(f"P&L of {p['session_date']} does not reconcile: {', '.join(bad)} — check the inputs "
                       "(`exo data validate`) and rebuild with `exo run`")
