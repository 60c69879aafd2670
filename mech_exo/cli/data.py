"""`exo data validate|refresh|repair`: the run-book's data-issue path.

* ``validate`` runs the Great Expectations suites (``mech_exo.checks``) on the published snapshot,
  read-only. With ``--date``/``--range`` the suites run a second time on the rows of those dates only
  (an in-memory DuckDB whose views filter the snapshot), so the table says whether a failure lies in
  the sessions the on-call asked about; the exit code still counts failures anywhere (fail closed,
  like the guards). ``--all-sources`` also validates the raw inputs with ingest's own rules — on a
  temporary copy of the inputs, so the real landing is never written.
* ``refresh`` and ``repair`` run the real pipeline (``run_pipeline``: the Dagster job, then the
  guards — the same path as ``exo run``); ``repair`` forces a full rebuild and reports what changed
  by reading the snapshot before and after.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

# Per suite asset: the column that dates a row (marts: session_date; landing: local date of ts).
DATE_COLUMNS = ("session_date", "local_date")


@click.group("data")
def data() -> None:
    """Validate the data (GE suites, raw inputs), refresh it from the sources, repair it by a full rebuild."""


# --- validate: scope -------------------------------------------------------------------------------

def resolve_scope(con, date_opt: str | None, range_opt: str | None) -> dict[str, Any] | None:
    """{label, start, end, sessions} for --date / --range, None for the whole snapshot."""
    from mech_exo.cli.risk_cmds import latest_session, resolve_session
    from mech_exo.reporting.snapshot import rows

    if date_opt and range_opt:
        raise ExoError("give --date or --range, not both")
    if date_opt:
        d = resolve_session(con, date_opt)
        start, end, label = d, d, f"session {d}"
    elif range_opt:
        latest = latest_session(con)
        if range_opt.lower() in ("month-to-date", "mtd"):
            start, end, label = latest.replace(day=1), latest, f"month to date ({latest:%Y-%m}, through {latest})"
        elif ":" in range_opt:
            try:
                start, end = (date.fromisoformat(x) for x in range_opt.split(":", 1))
            except ValueError:
                raise ExoError(f"--range {range_opt!r}: expected month-to-date or YYYY-MM-DD:YYYY-MM-DD") from None
            if end < start:
                raise ExoError(f"--range {range_opt}: the end is before the start")
            label = f"{start} to {end}"
        else:
            raise ExoError(f"--range {range_opt!r}: expected month-to-date or YYYY-MM-DD:YYYY-MM-DD")
    else:
        return None
    sessions = [r["session_date"] for r in rows(
        con, "select session_date from nav_daily where session_date between ? and ? order by 1", [start, end])]
    if not sessions:
        raise ExoError(f"no sessions between {start} and {end} in the snapshot")
    return {"label": label, "start": start, "end": end, "sessions": sessions}


def _date_column(con, table: str) -> str | None:
    cols = [r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_catalog = 'snap' and table_name = ?", [table]).fetchall()]
    return next((c for c in DATE_COLUMNS if c in cols), None)


def scoped_connection(home: Home, scope: dict[str, Any], assets: list[str]):
    """An in-memory DuckDB where every snapshot table is a view and the suite assets keep only the
    rows dated in the scope. The snapshot is attached READ_ONLY: nothing can be written to it."""
    import duckdb

    mem = duckdb.connect(":memory:")
    mem.execute(f"attach '{str(home.analytics_db).replace(chr(39), chr(39) * 2)}' as snap (read_only)")
    names = [r[0] for r in mem.execute("select table_name from information_schema.tables "
                                       "where table_catalog = 'snap' and table_schema = 'main'").fetchall()]
    counts = {}
    for t in names:
        q = t.replace('"', '""')
        col = _date_column(mem, t) if t in assets else None
        # DuckDB takes no parameters in a view body: the two dates are inlined as ISO date literals
        where = f" where \"{col}\" between date '{scope['start']}' and date '{scope['end']}'" if col else ""
        mem.execute(f'create view main."{q}" as select * from snap.main."{q}"{where}')
        if col:
            counts[t] = {"column": col, "rows": mem.execute(f'select count(*) from main."{q}"').fetchone()[0]}
    return mem, counts


# --- validate: raw inputs --------------------------------------------------------------------------

def validate_sources(home: Home) -> dict[str, Any]:
    """Run ingest's validation on a temporary copy of the inputs (the real landing is untouched).

    Returns {ok, counts, warnings, violations: [{file, row, rule, ...}], total}."""
    from mech_exo.ingest import InputError, ingest

    with tempfile.TemporaryDirectory(prefix="exo-validate-") as tmp:
        scratch = Home(Path(tmp))
        scratch.config_dir.mkdir(parents=True)
        if home.risk_yml.exists():
            shutil.copyfile(home.risk_yml, scratch.risk_yml)
        scratch.data_dir.mkdir(parents=True)
        if home.trading_db.exists():
            shutil.copyfile(home.trading_db, scratch.trading_db)
        for src, dst in ((home.market_dir, scratch.market_dir), (home.securities_csv.parent, scratch.securities_csv.parent)):
            if src.exists():
                shutil.copytree(src, dst)
        try:
            res = ingest(scratch)
        except InputError as exc:
            return {"ok": False, "total": exc.total, "counts": None, "warnings": [],
                    "violations": [{"file": v.file, "table": v.table, "row": v.row, "key": v.key, "rule": v.rule,
                                    "detail": v.detail, "text": str(v)} for v in exc.violations],
                    "per_rule": [{"file": f, "rule": r, "count": n} for (f, r), n in sorted(exc.counts.items())]}
    return {"ok": True, "total": 0, "violations": [], "per_rule": [], "warnings": list(res.warnings),
            "counts": {"fills": res.n_fills, "cash_flows": res.n_flows, "securities": res.n_securities,
                       "marks": res.n_marks, "mark_files": len(res.files_landed)}}


# --- validate: command -----------------------------------------------------------------------------

def _outcome(o) -> dict[str, Any]:
    return {"suite": o.suite, "check": o.check, "passed": o.passed, "severity": o.severity,
            "observed": o.observed, "n_unexpected": o.n_unexpected, "asset": o.asset}


def validate_payload(home: Home, date_opt: str | None, range_opt: str | None, all_sources: bool) -> dict[str, Any]:
    from mech_exo.checks import ERROR, run_checks
    from mech_exo.cli.risk_cmds import open_data

    with open_data(home) as con:
        scope = resolve_scope(con, date_opt, range_opt)
    whole = [_outcome(o) for o in run_checks(home)]
    scoped, counts = None, {}
    if scope is not None:
        mem, counts = scoped_connection(home, scope, sorted({o["asset"] for o in whole}))
        try:
            scoped = {(o.suite, o.check): _outcome(o) for o in run_checks(home, con=mem)}
        finally:
            mem.close()
    checks = []
    for o in whole:
        row = {**o, "in_scope": None}
        if scoped is not None and o["asset"] in counts:
            row["in_scope"] = scoped.get((o["suite"], o["check"]))
        checks.append(row)
    sources = validate_sources(home) if all_sources else None
    errors = [c for c in checks if not c["passed"] and c["severity"] == ERROR]
    errors += [c["in_scope"] for c in checks if c["in_scope"] and not c["in_scope"]["passed"]
               and c["in_scope"]["severity"] == ERROR and c["passed"]]
    ok = not errors and (sources is None or sources["ok"])
    return {"ok": ok, "scope": scope and {**scope, "rows_in_scope": counts}, "checks": checks,
            "error_failures": len(errors), "warn_failures": sum(1 for c in checks if not c["passed"] and c["severity"] != ERROR),
            "sources": sources}


def short_check(check: str) -> str:
    """``expect_column_values_to_not_be_null(ts)`` → ``not_be_null(ts)``: the table stays readable
    at 100 columns; --json keeps the full Great Expectations names."""
    return check.removeprefix("expect_").replace("column_values_to_", "", 1)


def _verdict(o: dict[str, Any] | None) -> str:
    from mech_exo.cli.risk_cmds import status_cell

    if o is None:
        return "—"
    if o["passed"]:
        return status_cell("OK")
    return "[bold red]FAIL[/]" if o["severity"] == "ERROR" else "[yellow]WARN[/]"


@data.command("validate")
@click.option("--date", "date_opt", default=None, metavar="today|YYYY-MM-DD",
              help="Also check the rows of this session alone (the latest session for 'today').")
@click.option("--range", "range_opt", default=None, metavar="month-to-date|FROM:TO",
              help="Also check the rows of these sessions alone.")
@click.option("--all-sources", is_flag=True,
              help="Also validate the raw inputs (trading.db, market files, securities.csv) with ingest's rules, "
                   "on a temporary copy (nothing is landed).")
@json_option
@pass_home
def validate_cmd(home: Home, date_opt: str | None, range_opt: str | None, all_sources: bool, as_json: bool) -> None:
    """Run the data checks (Great Expectations) on the snapshot: OK/FAIL per suite and check.

    Exit 1 on any ERROR-severity failure (anywhere in the snapshot, or in the raw inputs with
    --all-sources); WARN failures (stale feeds) are shown but do not fail the command."""
    p = validate_payload(home, date_opt, range_opt, all_sources)
    if as_json:
        emit_json(p)
    else:
        _print_validate(p)
    if not p["ok"]:
        sys.exit(1)


def _print_validate(p: dict[str, Any]) -> None:
    from rich.markup import escape

    from mech_exo.cli.risk_cmds import table

    c = console()
    sc = p["scope"]
    if sc:
        ss = sc["sessions"]
        c.print(f"scope: {sc['label']} — {len(ss)} session(s) {ss[0]} … {ss[-1]}")
        c.print("  rows in scope: " + ", ".join(f"{t} {v['rows']}" for t, v in sorted(sc["rows_in_scope"].items())))
    cols = ["Suite", "Check", "Severity", "All rows"] + (["In scope"] if sc else []) + ["Observed"]
    t = table("Data checks on the snapshot" + (f" (in scope: {sc['label']})" if sc else ""), *cols, compact=True)
    t.columns[1].overflow = "fold"
    t.columns[1].max_width = 34
    t.columns[-1].min_width = 24
    for o in p["checks"]:
        shown = o["in_scope"] if (o["in_scope"] and o["passed"]) else o
        extra = [_verdict(o["in_scope"]) if o["in_scope"] else "n/a"] if sc else []
        t.add_row(o["suite"], short_check(o["check"]), o["severity"], _verdict(o), *extra, escape(shown["observed"]))
    c.print(t)
    src = p["sources"]
    if src is not None:
        if src["ok"]:
            n = src["counts"]
            c.print(f"raw inputs: [green]OK[/] — {n['fills']} fills, {n['cash_flows']} cash flows, "
                    f"{n['securities']} securities, {n['marks']} marks in {n['mark_files']} file(s)")
            for w in src["warnings"]:
                c.print(f"  [yellow]warning[/]: {w}", markup=True)
        else:
            c.print(f"raw inputs: [bold red]FAIL[/] — {src['total']} violation(s) (nothing landed):")
            for v in src["violations"]:
                c.print(f"  {v['text']}", markup=False)
    verdict = "[green]OK[/]" if p["ok"] else "[bold red]FAIL[/]"
    c.print(f"{verdict}: {p['error_failures']} ERROR failure(s), {p['warn_failures']} WARN"
            + ("" if src is None else f", raw inputs {'OK' if src['ok'] else 'FAIL'}"))


# --- refresh / repair ------------------------------------------------------------------------------

SOURCES = {"fills": "fills", "prices": "marks", "ohlc": "marks"}


def _run(home: Home, full_refresh: bool, quiet: bool):
    from mech_exo.cli.kill import cli_user
    from mech_exo.flows.run import run_pipeline

    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    c = console()
    return run_pipeline(home, full_refresh=full_refresh, by=cli_user(),
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


def _print_run(report, c) -> None:
    """The same end-of-run status as `exo run` (ingest, pipeline, headline, checks, guards)."""
    from mech_exo.cli.home_cmds import print_report

    print_report(report, c)


@data.command("refresh")
@click.option("--source", type=click.Choice(sorted(SOURCES)), required=True,
              help="fills: data/trading.db; prices / ohlc: the market marks under data/market/ (same data).")
@json_option
@pass_home
def refresh_cmd(home: Home, source: str, as_json: bool) -> None:
    """Re-ingest the inputs and rebuild (the data-pipeline job, then the guards), and say what was re-landed."""
    from mech_exo.pipeline import as_jsonable

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
        _print_run(report, c)
    if not report.ok:
        sys.exit(1)


REPAIR_FIGURES: dict[str, list[tuple[str, str]]] = {
    "fills": [("fills rows", "select count(*) from stg_landing__fills"),
              ("fills traded notional", "select sum(abs(signed_qty) * price) from stg_landing__fills"),
              ("fills commissions", "select sum(commission) from stg_landing__fills"),
              ("daily_metrics n_fills sum", "select sum(n_fills) from daily_metrics")],
    "nav": [("nav_daily rows", "select count(*) from nav_daily"),
            ("latest NAV", "select nav from nav_daily order by session_date desc limit 1"),
            ("nav_daily pnl sum", "select sum(pnl) from nav_daily"),
            ("nav_intraday rows", "select count(*) from nav_intraday")],
    "daily-metrics": [("daily_metrics rows", "select count(*) from daily_metrics"),
                      ("daily_metrics pnl sum", "select sum(pnl) from daily_metrics"),
                      ("daily_metrics traded notional", "select sum(traded_notional) from daily_metrics"),
                      ("daily_metrics commissions", "select sum(commissions) from daily_metrics")],
}
COMMON_FIGURES = [("latest session", "select max(session_date) from nav_daily"),
                  ("latest NAV", "select nav from nav_daily order by session_date desc limit 1"),
                  ("nav_daily rows", "select count(*) from nav_daily"),
                  ("daily_metrics rows", "select count(*) from daily_metrics"),
                  ("fills rows", "select count(*) from stg_landing__fills"),
                  ("strategy pnl sum", "select sum(pnl) from strategy_daily_pnl")]


def figures(home: Home, kind: str) -> dict[str, Any] | None:
    """The repair's key figures read from the published snapshot (None when there is none yet)."""
    import duckdb

    from mech_exo.reporting.snapshot import NoData, snapshot

    wanted = list(dict.fromkeys(REPAIR_FIGURES[kind] + COMMON_FIGURES))
    try:
        with snapshot(home) as con:
            out = {}
            for name, sql in wanted:
                try:
                    out[name] = con.execute(sql).fetchone()[0]
                except duckdb.Error as exc:
                    out[name] = f"error: {str(exc).splitlines()[0]}"
            return out
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


@data.command("repair")
@click.option("--type", "kind", type=click.Choice(sorted(REPAIR_FIGURES)), required=True,
              help="What looks wrong; every type rebuilds all models from the landed inputs.")
@json_option
@pass_home
def repair_cmd(home: Home, kind: str, as_json: bool) -> None:
    """Full rebuild (re-ingest, dbt --full-refresh, checks, guards) and what changed: row counts and key
    figures read from the snapshot before vs after."""
    from mech_exo.pipeline import as_jsonable

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
        _print_run(report, c)
    if not report.ok:
        sys.exit(1)
