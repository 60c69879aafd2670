"""`exo data validate`: the Great Expectations suites on the published snapshot, read-only.

With ``--date``/``--range`` the suites run a second time on the rows of those dates only (a scoped
read-only view, ``mech_exo.reporting.scoped``), so the table says whether a failure lies in the
sessions the on-call asked about; the exit code still counts failures anywhere (fail closed, like
the guards). ``--all-sources`` also validates the raw inputs with ingest's own rules — on a
temporary copy of the inputs, so the real landing is never written.
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
from mech_exo.reporting import read
from mech_exo.reporting.scoped import scoped_connection

# --- scope -----------------------------------------------------------------------------------------

def resolve_scope(con, date_opt: str | None, range_opt: str | None) -> dict[str, Any] | None:
    """{label, start, end, sessions} for --date / --range, None for the whole snapshot."""
    from mech_exo.cli.risk_cmds import latest_session, resolve_session

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
    sessions = read.sessions_between(con, start, end)
    if not sessions:
        raise ExoError(f"no sessions between {start} and {end} in the snapshot")
    return {"label": label, "start": start, "end": end, "sessions": sessions}


# --- raw inputs --------------------------------------------------------------------------

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


# --- command -----------------------------------------------------------------------------

def _outcome(o) -> dict[str, Any]:
    return {"suite": o.suite, "check": o.check, "passed": o.passed, "severity": o.severity,
            "observed": o.observed, "n_unexpected": o.n_unexpected, "asset": o.asset}


def validate_payload(home: Home, date_opt: str | None, range_opt: str | None, all_sources: bool) -> dict[str, Any]:
    from mech_exo.checks import ERROR, checked
    from mech_exo.cli.risk_cmds import open_data

    with open_data(home) as con:
        scope = resolve_scope(con, date_opt, range_opt)
    outcomes, from_record = checked(home)
    whole = [_outcome(o) for o in outcomes]
    scoped, counts = None, {}
    if scope is not None:
        mem, counts = scoped_connection(home, scope, sorted({o["asset"] for o in whole}))
        try:
            scoped_outcomes, _ = checked(home, con=mem, scope=f"{scope['start']}:{scope['end']}")
            scoped = {(o.suite, o.check): _outcome(o) for o in scoped_outcomes}
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
            "rules_from_record": from_record,
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


@click.command("validate")
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
    c.print("[dim]row rules: " + ("the result kept for this publish (the same snapshot, suites, risk.yml and code; "
                                  "data/state/validated.json)" if p.get("rules_from_record") else "run now (Great Expectations)")
            + "; freshness judged now[/]")
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
