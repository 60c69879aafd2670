"""`exo data refresh|repair`: run the real pipeline (``run_pipeline``: the Dagster job, then the guards —
the same path as ``exo run``). ``refresh`` says what was re-landed; ``repair`` forces a full rebuild
and reports what changed by reading the key figures of the snapshot before and after
(``mech_exo.reporting.read.repair_figures``).
"""
from __future__ import annotations

import sys
from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home
from mech_exo.reporting.read import COMMON_FIGURES, REPAIR_FIGURES  # noqa: F401 — the figures each --type compares

# --- running the pipeline ------------------------------------------------------------------------------

SOURCES = {"fills": "fills", "prices": "marks", "ohlc": "marks"}


def _run(home: Home, full_refresh: bool, quiet: bool):
    from mech_exo.cli.kill import cli_user
    from mech_exo.flows.run import run_pipeline

    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    c = console()
    return run_pipeline(home, full_refresh=full_refresh, by=cli_user(), skip_unchanged=False,
                        progress=None if quiet else (lambda m: c.print(f"• {m}", markup=False)))


def relanded(ingest: dict[str, Any] | None, source: str) -> dict[str, Any] | None:
    """What the run re-landed for this source, from the report's ingest section."""
    if not ingest:
        return None
    if SOURCES[source] == "fills":
        return {"source": "fills", "input": "data/trading.db", "fills": ingest["n_fills"],
                "cash_flows": ingest["n_flows"], "landed_seq": ingest["landed_seq"],
                "dirty_from": ingest["dirty_from"], "full_refresh": ingest["full_refresh"]}
    return {"source": "marks", "input": "data/market/", "files_landed": ingest["files_landed"],
            "rows_landed": ingest["n_marks_landed"], "files_unchanged": len(ingest["files_skipped"]),
            "files_removed": ingest["files_removed"], "marks_total": ingest["n_marks"],
            "landed_seq": ingest["landed_seq"], "dirty_from": ingest["dirty_from"],
            "full_refresh": ingest["full_refresh"]}


def _print_run(report, c, home) -> None:
    """The same end-of-run status as `exo run` (ingest, pipeline, headline, checks, guards)."""
    from mech_exo.cli.home_cmds import print_report

    print_report(report, c, home)


@click.command("refresh")
@click.option("--source", type=click.Choice(sorted(SOURCES)), required=True,
              help="fills: data/trading.db; prices / ohlc: the market marks under data/market/ (same data).")
@json_option
@pass_home
def refresh_cmd(home: Home, source: str, as_json: bool) -> None:
    """Re-ingest the inputs and rebuild (the data-pipeline job, then the guards), and say what was re-landed."""
    from mech_exo.runstate import as_jsonable

    report = _run(home, full_refresh=False, quiet=as_json)
    what = relanded(report.ingest, source)
    if as_json:
        emit_json({"ok": report.ok, "source": source, "relanded": what, "report": as_jsonable(report)})
    else:
        c = console()
        if what is None:
            c.print("[bold red]nothing re-landed[/]: ingest did not finish")
        elif what["source"] == "fills":
            c.print(f"re-landed from {what['input']}: {what['fills']} fills, {what['cash_flows']} cash flows "
                    f"(ingest #{what['landed_seq']}; "
                    + (f"inputs changed from {what['dirty_from']})" if what["dirty_from"]
                       else "no change since the last ingest)"))
        else:
            from rich.markup import escape

            files = escape(", ".join(what["files_landed"]) or "no file changed")
            c.print(f"re-landed from {what['input']}: {len(what['files_landed'])} file(s), {what['rows_landed']} mark rows "
                    f"({files}); {what['files_unchanged']} unchanged, {len(what['files_removed'])} removed; "
                    f"{what['marks_total']} marks in total (ingest #{what['landed_seq']})")
        _print_run(report, c, home)
    if not report.ok:
        sys.exit(1)


def figures(home: Home, kind: str) -> dict[str, Any] | None:
    """The repair's key figures read from the published snapshot (None when there is none yet)."""
    from mech_exo.reporting.read import repair_figures
    from mech_exo.reporting.snapshot import NoData, snapshot

    try:
        with snapshot(home) as con:
            return repair_figures(con, kind)
    except NoData:
        return None


def _changed(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) > 0.005
    return a != b


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


@click.command("repair")
@click.option("--type", "kind", type=click.Choice(sorted(REPAIR_FIGURES)), required=True,
              help="What looks wrong; every type rebuilds all models from the landed inputs.")
@json_option
@pass_home
def repair_cmd(home: Home, kind: str, as_json: bool) -> None:
    """Full rebuild (re-ingest, dbt --full-refresh, checks, guards) and what changed: row counts and key
    figures read from the snapshot before vs after."""
    from mech_exo.runstate import as_jsonable

    before = figures(home, kind)
    report = _run(home, full_refresh=True, quiet=as_json)
    after = figures(home, kind)
    names = list((after or before or {}).keys())
    diff = [{"figure": n, "before": (before or {}).get(n), "after": (after or {}).get(n),
             "changed": before is None or after is None or _changed(before.get(n), after.get(n))} for n in names]
    if as_json:
        emit_json({"ok": report.ok, "type": kind, "figures": diff, "report": as_jsonable(report)})
    else:
        from mech_exo.cli.risk_cmds import table

        c = console()
        t = table(f"Repair {kind}: full rebuild — snapshot before vs after", "Figure", ">Before", ">After", "Changed")
        for d in diff:
            t.add_row(d["figure"], _fmt(d["before"]), _fmt(d["after"]), "[yellow]CHANGED[/]" if d["changed"] else "same")
        c.print(t)
        n = sum(d["changed"] for d in diff)
        c.print(f"{n} of {len(diff)} figure(s) changed" + ("" if before is not None else " (there was no snapshot before)"))
        _print_run(report, c, home)
    if not report.ok:
        sys.exit(1)
