"""`exo fills today [--summary]`: the fills of the latest session in the data (``int_fills``).

A fill belongs to the session of its timestamp (ARCHITECTURE: first session date ≥ its local
date), the same grouping as ``daily_metrics.n_fills / traded_notional / commissions``.
"""
from __future__ import annotations

from typing import Any

import click

from mech_exo.cli.common import console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import money_cell, open_data, resolve_session, table
from mech_exo.home import Home
from mech_exo.reporting import read


@click.group("fills")
def fills() -> None:
    """Executions read from the published snapshot."""


def _group(fs: list[dict], key: str) -> list[dict[str, Any]]:
    out: dict[str, dict] = {}
    for f in fs:
        g = out.setdefault(f[key], {key: f[key], "count": 0, "notional": 0.0, "commissions": 0.0})
        g["count"] += 1
        g["notional"] += f["notional"]
        g["commissions"] += f["commission"]
    return sorted(out.values(), key=lambda g: (-g["notional"], g[key]))


def fills_payload(con, day: str | None) -> dict[str, Any]:
    d = resolve_session(con, day)
    fs = read.fills_of_session(con, d)
    return {"session_date": d, "fills": fs,
            "total": {"count": len(fs), "notional": sum(f["notional"] for f in fs),
                      "commissions": sum(f["commission"] for f in fs)},
            "by_strategy": _group(fs, "strategy"), "by_symbol": _group(fs, "symbol")}


@fills.command("today")
@click.option("--summary", is_flag=True, help="Totals by strategy and by symbol instead of every fill.")
@click.option("--date", "day", default="today", show_default=True,
              help="today (the latest session in the data) or YYYY-MM-DD.")
@json_option
@pass_home
def today_cmd(home: Home, summary: bool, day: str, as_json: bool) -> None:
    """Fills of the latest session (time, strategy, symbol, side, quantity, price, notional, commission)."""
    with open_data(home) as con:
        p = fills_payload(con, day)
    if as_json:
        emit_json(p)
        return
    c = console()
    tot = p["total"]
    if summary:
        for key in ("strategy", "symbol"):
            t = table(f"Fills of session {p['session_date']} by {key}", key.capitalize(), ">Fills", ">Notional",
                      ">Commissions")
            for g in p[f"by_{key}"]:
                t.add_row(g[key], str(g["count"]), money_cell(g["notional"]), f"${g['commissions']:,.2f}")
            t.add_row("[bold]TOTAL[/]", f"[bold]{tot['count']}[/]", f"[bold]{money_cell(tot['notional'])}[/]",
                      f"[bold]${tot['commissions']:,.2f}[/]")
            c.print(t)
        return
    if not p["fills"]:
        c.print(f"no fills in session {p['session_date']}")
        return
    # an 80-column terminal: the time without its date (the session is in the title), no commission column
    narrow = c.width < 100
    t = table(f"Fills of session {p['session_date']}", "Time (UTC)", "Fill", "Strategy", "Symbol", "Side",
              ">Quantity", ">Price", ">Notional", *([] if narrow else [">Commission"]), compact=narrow)
    for f in p["fills"]:
        side = f"[green]{f['side']}[/]" if f["side"] == "BUY" else f"[red]{f['side']}[/]"
        t.add_row(str(f["ts"])[11:19] if narrow else str(f["ts"])[:19], f["fill_id"], f["strategy"], f["symbol"],
                  side, f"{f['quantity']:,.0f}", f"{f['price']:,.4f}", money_cell(f["notional"]),
                  *([] if narrow else [f"${f['commission']:,.2f}"]))
    c.print(t)
    c.print(f"{tot['count']} fills, notional {money_cell(tot['notional'])}, commissions ${tot['commissions']:,.2f}")
