"""`exo nav series --days N` and `exo nav validate --range month-to-date|all`.

``validate`` re-derives the published figures from the snapshot's own NAVs and flows — it does
not trust the model's ``prev_nav`` or ``session_seq`` — and reports OK/FAIL per check:
the P&L identity, the daily return, the compounding into ``mtd_return``, and that no session is
missing. Exit 1 on any FAIL.
"""
from __future__ import annotations

from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import (
    MONEY_TOL,
    RATIO_TOL,
    latest_session,
    money_cell,
    open_data,
    pct_cell,
    since,
    status_cell,
    table,
)
from mech_exo.home import Home
from mech_exo.reporting import read

RANGES = ("month-to-date", "all")


@click.group("nav")
def nav() -> None:
    """NAV series and validation of the NAV / P&L / MTD arithmetic."""


def series_payload(con, days: int) -> dict[str, Any]:
    last = latest_session(con)
    first = since(last, days)
    rs = read.nav_series(con, first, last)
    return {"from": first, "to": last, "days": days, "rows": rs}


@nav.command("series")
@click.option("--days", type=int, default=30, show_default=True,
              help="Calendar days back from the latest session (inclusive).")
@json_option
@pass_home
def series_cmd(home: Home, days: int, as_json: bool) -> None:
    """Daily NAV at each session close with flows, P&L, daily return, MTD return and drawdown."""
    with open_data(home) as con:
        p = series_payload(con, days)
    if as_json:
        emit_json(p)
        return
    t = table(f"NAV {p['from']} → {p['to']} ({len(p['rows'])} sessions)", "Session", ">NAV", ">Flows", ">P&L",
              ">Return", ">MTD", ">Drawdown")
    for r in p["rows"]:
        t.add_row(str(r["session_date"]), money_cell(r["nav"]), money_cell(r["flows"]), money_cell(r["pnl"]),
                  pct_cell(r["daily_return"]), pct_cell(r["mtd_return"]), pct_cell(r["mtd_drawdown"]))
    console().print(t)


# --- validate --------------------------------------------------------------------------------------

def _check(name: str, bad: list[str], n: int, rule: str) -> dict[str, Any]:
    return {"check": name, "status": "FAIL" if bad else "OK", "rule": rule, "checked": n,
            "failures": bad, "detail": f"{len(bad)} of {n} sessions fail: " + "; ".join(bad[:5]) if bad
            else f"{n} sessions OK"}


def validate_payload(con, range_: str) -> dict[str, Any]:
    """Each check over the sessions of the range (NAV_{d−1} is taken from the whole history)."""
    last = latest_session(con)
    allrows = read.nav_history(con)
    sessions = read.calendar_sessions(con)
    start = last.replace(day=1) if range_ == "month-to-date" else allrows[0]["session_date"]
    prev_nav, pnl_bad, ret_bad, mtd_bad, checked = 0.0, [], [], [], []
    index, month = 1.0, None
    for r in allrows:
        d = r["session_date"]
        pnl = r["nav"] - prev_nav - r["flows"]
        denom = prev_nav + r["flows"]
        prev_nav = r["nav"]
        if r["month"] != month:
            index, month = 1.0, r["month"]
        index *= 1.0 + (r["daily_return"] or 0.0)
        if d < start:
            continue
        checked.append(d)
        if abs(pnl - r["pnl"]) > MONEY_TOL:
            pnl_bad.append(f"{d}: NAV_d − NAV_d−1 − F_d = {pnl:,.2f} but pnl = {r['pnl']:,.2f}")
        ret = pnl / denom if denom else None
        if (ret is None) != (r["daily_return"] is None) or (ret is not None and abs(ret - r["daily_return"]) > RATIO_TOL):
            ret_bad.append(f"{d}: pnl/(NAV_d−1 + F_d) = {ret} but daily_return = {r['daily_return']}")
        if r["mtd_return"] is None or abs((index - 1.0) - r["mtd_return"]) > RATIO_TOL:
            mtd_bad.append(f"{d}: Π(1+r)−1 = {index - 1.0:.10f} but mtd_return = {r['mtd_return']}")
    have = {r["session_date"] for r in allrows}
    want = [d for d in sessions if d >= start]
    gap_bad = [f"{d}: session in int_sessions has no nav_daily row" for d in want if d not in have]
    seqs = [r["session_seq"] for r in allrows]
    gap_bad += [f"{allrows[i]['session_date']}: session_seq {seqs[i]} follows {seqs[i - 1]}"
                for i in range(1, len(seqs)) if seqs[i] != seqs[i - 1] + 1 and allrows[i]["session_date"] >= start]
    checks = [
        _check("pnl_identity", pnl_bad, len(checked), "NAV_d − NAV_{d−1} − F_d == pnl (±$0.01)"),
        _check("daily_return", ret_bad, len(checked), "pnl / (NAV_{d−1} + F_d) == daily_return"),
        _check("mtd_compounding", mtd_bad, len(checked), "Π over the month (1 + daily_return) − 1 == mtd_return"),
        _check("no_session_gaps", gap_bad, len(want), "every session with marks has a NAV row, in sequence"),
    ]
    return {"range": range_, "from": start, "to": last, "sessions": len(checked), "checks": checks,
            "ok": all(c["status"] == "OK" for c in checks)}


@nav.command("validate")
@click.option("--range", "range_", type=click.Choice(RANGES), default="month-to-date", show_default=True,
              help="Sessions to check: the latest session's month so far, or the whole history.")
@json_option
@pass_home
def validate_cmd(home: Home, range_: str, as_json: bool) -> None:
    """Re-derive NAV arithmetic from the snapshot: pnl identity, daily return, MTD compounding, no session
    gaps. OK/FAIL per check; exit 1 on any FAIL."""
    with open_data(home) as con:
        p = validate_payload(con, range_)
    if as_json:
        emit_json(p)
    else:
        t = table(f"NAV validation {p['from']} → {p['to']} ({p['sessions']} sessions)", "Check", "Status", "Rule",
                  "Detail")
        for ch in p["checks"]:
            t.add_row(ch["check"], status_cell(ch["status"]), ch["rule"], ch["detail"])
        console().print(t)
    if not p["ok"]:
        raise ExoError("NAV validation FAILED: " + ", ".join(c["check"] for c in p["checks"] if c["status"] == "FAIL"))
