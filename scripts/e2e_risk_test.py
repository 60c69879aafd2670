"""End-to-end risk test (the run-book's `scripts/e2e_risk_test.py`).

Builds a demo home (or uses --home), runs the whole pipeline once and checks, step by step, that
the risk chain works: the snapshot is published, the intraday sentinel halted trading with the
run-book's message, the alert was logged, the query engine the dashboard uses agrees with the
models, the monthly guard is armed, and the kill-switch history is audited. Prints PASS/FAIL per
step; exit code 0 only when every step passes.

    .venv/bin/python scripts/e2e_risk_test.py [--home DIR] [--keep]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mech_exo.demo_data import write_demo_inputs  # noqa: E402
from mech_exo.events import read_events  # noqa: E402
from mech_exo.home import Home, init_home  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="an existing home with inputs (default: a fresh demo home in a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary demo home and print its path")
    args = ap.parse_args(argv)

    from mech_exo.cli.home_cmds import _after_close
    from mech_exo.flows.run import run_pipeline
    from mech_exo.killswitch import read_state
    from mech_exo.reporting.query import RiskQueryEngine
    from mech_exo.reporting.snapshot import one, snapshot

    tmp = None
    if args.home:
        home, now = Home.resolve(args.home), None
    else:
        tmp = Path(tempfile.mkdtemp(prefix="exo-e2e-"))
        home = Home(tmp / "home")
        init_home(home)
        write_demo_inputs(home, end_date=date(2026, 11, 20))
        now = _after_close(home, date(2026, 11, 20))
    results: list[tuple[str, bool, str]] = []

    def step(name: str, ok: bool, detail: str = "") -> None:
        results.append((name, bool(ok), detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)

    try:
        report = run_pipeline(home, now=now, by="e2e_risk_test")
        step("pipeline run (ingest → dbt build → publish → guards → checks)", report.ok,
             report.error or f"{report.duration_s:.1f}s, run {str(report.run_id)[:8]}")
        step("snapshot published", home.analytics_db.exists(), str(home.analytics_db))
        with snapshot(home) as con:
            worst = one(con, "select min(day_return) as r from nav_intraday "
                             "where session_date = (select max(session_date) from nav_intraday)")["r"]
            latest = one(con, "select nav, day_return from nav_intraday order by ts desc limit 1")
            mtd = one(con, "select guard_armed, history_days from mtd_drawdown order by session_date desc limit 1")
        st = read_state(home)
        should_halt = worst is not None and round(worst * 100, 6) <= -0.8
        halted_right = (not st.trading_enabled and st.reason.startswith("CRITICAL DAY LOSS")) if should_halt \
            else st.trading_enabled
        step("kill-switch follows the intraday sentinel", halted_right,
             f"worst day return {worst:+.2%}, trading {'ENABLED' if st.trading_enabled else 'DISABLED'} ({st.reason})")
        alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
        step("CRITICAL alert logged", (not should_halt) or any(
            a["severity"] == "CRITICAL" and a["message"].startswith("CRITICAL DAY LOSS") for a in alerts),
             f"{len(alerts)} alert(s) in {home.event_log('alerts')}")
        changes = [e for e in read_events(home.event_log("killswitch"))]
        step("kill-switch change audited", (not should_halt) or any(
            e.get("trading_enabled") is False and e.get("by") for e in changes), f"{len(changes)} change(s)")
        engine = RiskQueryEngine(home)
        m = engine.get_live_risk_metrics()
        step("query engine connects", engine.check_connection())
        step("query engine agrees with nav_intraday", abs((m.get("nav") or 0) - latest["nav"]) < 1e-6,
             f"NAV {m.get('nav'):,.2f}")
        step("monthly guard armed", bool(mtd["guard_armed"]), f"{mtd['history_days']} sessions of history")
    except Exception as exc:  # noqa: BLE001 — an end-to-end test reports, it does not crash
        step("unexpected error", False, f"{exc.__class__.__name__}: {exc}")
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp is not None:
            print(f"demo home kept at {home.root}")
    failed = [r for r in results if not r[1]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
