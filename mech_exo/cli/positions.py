"""`exo positions [--sort-by ...]` and `exo positions summary`: the book now, from ``positions_current``.

"Now" is the model's as-of instant: the latest mark or fill of the latest session in the data.
Weights are |value| / NAV; a name's weight sums its strategies' |weights| (as the concentration
guard does), so the top-names list and `exo risk violations` agree.
"""
from __future__ import annotations

from typing import Any

import click

from mech_exo import bands
from mech_exo.cli.common import console, emit_json, json_option, pass_home
from mech_exo.cli.risk_cmds import money_cell, open_data, pct_cell, risk_config, table
from mech_exo.cli.times import session_zone, when
from mech_exo.home import Home
from mech_exo.reporting import read
from mech_exo.reporting.snapshot import NoData

SORTS = {  # key → (python sort key, description)
    "pnl": (lambda p: (p["day_pnl"] if p["day_pnl"] is not None else float("inf"), p["symbol"]), "day P&L, worst first"),
    "weight": (lambda p: (-(p["weight"] or 0.0), p["symbol"]), "weight, largest first"),
    "value": (lambda p: (-abs(p["market_value"] or 0.0), p["symbol"]), "|market value|, largest first"),
    "symbol": (lambda p: (p["symbol"], p["strategy"]), "symbol, then strategy"),
}


def positions_rows(con) -> list[dict[str, Any]]:
    out = read.positions(con)
    if not out and not read.has_any_session(con):
        raise NoData("no data yet: the snapshot has no sessions — run `exo run`")
    return out


def summary_payload(con, top: int = 5) -> dict[str, Any]:
    """Exposures, position count, top names by weight and the sector split of the current book."""
    pos = positions_rows(con)
    nav = pos[0]["nav"] if pos else read.latest_nav(con)["nav"]
    vals = [p["market_value"] or 0.0 for p in pos]
    long_v = sum(v for v in vals if v > 0)
    short_v = -sum(v for v in vals if v < 0)

    def frac(x: float) -> float | None:
        return x / nav if nav else None

    names: dict[str, dict] = {}
    sectors: dict[str, dict] = {}
    for p in pos:
        n = names.setdefault(p["symbol"], {"symbol": p["symbol"], "sector": p["sector"], "name": p["name"],
                                          "market_value": 0.0, "weight": 0.0, "day_pnl": 0.0, "strategies": []})
        n["market_value"] += p["market_value"] or 0.0
        n["weight"] += abs(p["weight"] or 0.0)
        n["day_pnl"] += p["day_pnl"] or 0.0
        n["strategies"].append(p["strategy"])
        s = sectors.setdefault(p["sector"], {"sector": p["sector"], "long_value": 0.0, "short_value": 0.0,
                                             "net_value": 0.0, "positions": 0})
        v = p["market_value"] or 0.0
        s["long_value" if v > 0 else "short_value"] += abs(v)
        s["net_value"] += v
        s["positions"] += 1
    for s in sectors.values():
        s["gross_exposure"] = frac(s["long_value"] + s["short_value"])
        s["net_exposure"] = frac(s["net_value"])
    return {
        "session_date": pos[0]["session_date"] if pos else None, "as_of": pos[0]["as_of"] if pos else None,
        "nav": nav, "n_positions": len(pos), "n_names": len(names),
        "long_value": long_v, "short_value": short_v,
        "gross_exposure": frac(long_v + short_v), "net_exposure": frac(long_v - short_v),
        "long_exposure": frac(long_v), "short_exposure": frac(short_v),
        "top_names": sorted(names.values(), key=lambda n: (-n["weight"], n["symbol"]))[:top],
        "by_sector": sorted(sectors.values(), key=lambda s: (-(s["gross_exposure"] or 0), s["sector"])),
    }


@click.group("positions", invoke_without_command=True)
@click.option("--sort-by", type=click.Choice(sorted(SORTS)), default="weight", show_default=True,
              help="pnl = day P&L, worst first; weight / value = largest first; symbol = A→Z.")
@json_option
@click.pass_context
@pass_home
def positions(home: Home, ctx: click.Context, sort_by: str, as_json: bool) -> None:
    """Today's positions (strategy × symbol) with mark, value, weight and day P&L; `summary` for exposures."""
    if ctx.invoked_subcommand is not None:
        return
    with open_data(home) as con:
        pos = sorted(positions_rows(con), key=SORTS[sort_by][0])
    if as_json:
        emit_json({"sort_by": sort_by, "positions": pos})
        return
    c = console()
    if not pos:
        c.print("no open positions")
        return
    limit = risk_config(home)["concentration"]["max_weight_pct"]
    narrow = c.width < 100  # an 80-column terminal: the sector column goes (it is in `positions summary`)
    t = table(f"Positions as of {when(pos[0]['as_of'], session_zone(home))} (session {pos[0]['session_date']}), by {SORTS[sort_by][1]}",
              "Strategy", "Symbol", *([] if narrow else ["Sector"]), ">Quantity", ">Mark", ">Value", ">Weight",
              ">Day P&L", compact=narrow)
    for p in pos:
        mark = f"{p['mark']:,.4f}" + (" [yellow](fill)[/]" if p["mark_source"] == "fill" else "")
        wstyle = "yellow" if bands.over_weight(p["weight"], limit) else ""
        weight = pct_cell(p["weight"], 2, False)
        t.add_row(p["strategy"], p["symbol"], *([] if narrow else [p["sector"]]), f"{p['quantity']:,.0f}", mark,
                  money_cell(p["market_value"]), f"[{wstyle}]{weight}[/]" if wstyle else weight,
                  money_cell(p["day_pnl"]))
    c.print(t)
    if narrow:
        c.print("[dim]sectors: `exo positions summary` (or a terminal of 100 columns or more)[/]")
    c.print(f"NAV {money_cell(pos[0]['nav'])}; {len(pos)} positions; day P&L of positions "
            f"{money_cell(sum(p['day_pnl'] or 0 for p in pos))}")


@positions.command("summary")
@click.option("--top", type=int, default=5, show_default=True, help="How many top names to list.")
@json_option
@pass_home
def summary_cmd(home: Home, top: int, as_json: bool) -> None:
    """Gross / net / long / short exposure, number of positions, top names by weight, split by sector."""
    with open_data(home) as con:
        s = summary_payload(con, top)
    if as_json:
        emit_json(s)
        return
    c = console()
    limit = risk_config(home)["concentration"]["max_weight_pct"]
    t = table(f"Book as of {when(s['as_of'], session_zone(home))} (session {s['session_date']})", "Figure", ">Value", show_header=False)
    t.add_row("NAV", money_cell(s["nav"]))
    t.add_row("Gross exposure", f"{pct_cell(s['gross_exposure'], 1, False)}  ({money_cell(s['long_value'] + s['short_value'])})")
    t.add_row("Net exposure", f"{pct_cell(s['net_exposure'], 1)}  ({money_cell(s['long_value'] - s['short_value'])})")
    t.add_row("Long exposure", f"{pct_cell(s['long_exposure'], 1, False)}  ({money_cell(s['long_value'])})")
    t.add_row("Short exposure", f"{pct_cell(s['short_exposure'], 1, False)}  ({money_cell(s['short_value'])})")
    t.add_row("Positions (strategy × symbol)", str(s["n_positions"]))
    t.add_row("Names", str(s["n_names"]))
    c.print(t)
    tn = table(f"Top {len(s['top_names'])} names by weight", "Symbol", "Sector", ">Value", ">Weight", ">Day P&L",
               "Strategies")
    for n in s["top_names"]:
        w = pct_cell(n["weight"], 2, False)
        tn.add_row(n["symbol"], n["sector"], money_cell(n["market_value"]),
                   f"[yellow]{w}[/]" if bands.over_weight(n["weight"], limit) else w, money_cell(n["day_pnl"]),
                   ", ".join(n["strategies"]))
    c.print(tn)
    ts = table("By sector", "Sector", ">Positions", ">Long", ">Short", ">Net", ">Gross %NAV", ">Net %NAV")
    for r in s["by_sector"]:
        ts.add_row(r["sector"], str(r["positions"]), money_cell(r["long_value"]), money_cell(r["short_value"]),
                   money_cell(r["net_value"]), pct_cell(r["gross_exposure"], 1, False), pct_cell(r["net_exposure"], 1))
    c.print(ts)
