"""`exo scoring factor-health` and `exo scoring monthly-performance`: per-strategy health figures.

There is no factor model in this product; the run-book's "scoring" steps are answered with what
the data can honestly say about each strategy: its P&L, hit rate (share of sessions with positive
P&L), the drawdown of its cumulative P&L, and its current exposure.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import click

from mech_exo.cli.common import console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import latest_session, max_drawdown_usd, money_cell, open_data, pct_cell, resolve_month, since, table
from mech_exo.home import Home
from mech_exo.reporting import read

NO_FACTORS = ("There is no factor model in this product: these are per-strategy health figures "
              "(P&L, hit rate, drawdown of cumulative P&L, exposure), not factor scores.")


@click.group("scoring", help=f"Per-strategy health. {NO_FACTORS}")
def scoring() -> None:
    pass


def health_payload(con, first: date, last: date) -> dict[str, Any]:
    """Per strategy over sessions first..last: P&L, hit rate, drawdown of cumulative P&L, current exposure."""
    daily = read.strategy_daily(con, first, last)
    nav = read.current_nav(con)
    expo = {r["strategy"]: r for r in read.strategy_exposure(con)}
    by: dict[str, list[float]] = {}
    for r in daily:
        by.setdefault(r["strategy"], []).append(r["pnl"])
    out = []
    for s in sorted(set(by) | set(expo)):
        pnls = by.get(s, [])
        e = expo.get(s, {})
        g, n = e.get("gross_value", 0.0), e.get("net_value", 0.0)
        out.append({"strategy": s, "pnl": sum(pnls), "sessions": len(pnls),
                    "positive_sessions": sum(1 for p in pnls if p > 0),
                    "hit_rate": (sum(1 for p in pnls if p > 0) / len(pnls)) if pnls else None,
                    "max_drawdown_usd": max_drawdown_usd(pnls),
                    "best_session_pnl": max(pnls, default=None), "worst_session_pnl": min(pnls, default=None),
                    "positions": e.get("positions", 0), "gross_value": g, "net_value": n,
                    "gross_exposure": g / nav["nav"] if nav and nav["nav"] else None,
                    "net_exposure": n / nav["nav"] if nav and nav["nav"] else None})
    return {"from": first, "to": last, "note": NO_FACTORS, "strategies": out,
            "total_pnl": sum(r["pnl"] for r in out)}


def _render(title: str, p: dict[str, Any]) -> None:
    c = console()
    t = table(f"{title} {p['from']} → {p['to']}", "Strategy", ">P&L", ">Sessions", ">Hit rate", ">Max drawdown",
              ">Worst session", ">Gross exp.", ">Net exp.", "Health", compact=True)
    for r in p["strategies"]:
        hr = r["hit_rate"]
        health = ("[red]losing[/]" if r["pnl"] < 0 else "[green]ok[/]") + (
            " [yellow]hit<40%[/]" if hr is not None and hr < 0.4 else "")
        t.add_row(r["strategy"], money_cell(r["pnl"]), str(r["sessions"]), pct_cell(hr, 0, False),
                  money_cell(r["max_drawdown_usd"]), money_cell(r["worst_session_pnl"]),
                  pct_cell(r["gross_exposure"], 1, False), pct_cell(r["net_exposure"], 1), health)
    t.add_row("[bold]TOTAL[/]", f"[bold]{money_cell(p['total_pnl'])}[/]", "", "", "", "", "", "", "")
    c.print(t)
    c.print(f"[dim]{NO_FACTORS}[/]")


@scoring.command("factor-health", help=f"Per-strategy health over the last N days. {NO_FACTORS}")
@click.option("--days", type=int, default=30, show_default=True,
              help="Calendar days back from the latest session (inclusive).")
@json_option
@pass_home
def factor_health_cmd(home: Home, days: int, as_json: bool) -> None:
    with open_data(home) as con:
        last = latest_session(con)
        p = health_payload(con, since(last, days), last)
    if as_json:
        emit_json(p)
    else:
        _render("Strategy health", p)


@scoring.command("monthly-performance", help=f"Per-strategy health month to date. {NO_FACTORS}")
@click.option("--month", default=None, metavar="YYYY-MM", help="Month (default: the latest session's month).")
@json_option
@pass_home
def monthly_performance_cmd(home: Home, month: str | None, as_json: bool) -> None:
    with open_data(home) as con:
        m = resolve_month(con, month)
        last = read.last_session_of_month(con, m)
        p = {**health_payload(con, m, last), "month": m}
    if as_json:
        emit_json(p)
    else:
        _render(f"Strategy performance {str(m)[:7]}:", p)
