"""The run-book's scripts run as the on-call runs them: real subprocesses."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mech_exo.home import REPO_ROOT

pytestmark = pytest.mark.slow


def test_e2e_risk_test_passes_on_a_fresh_demo_home():
    out = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "e2e_risk_test.py")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "FAIL" not in out.stdout
    assert "PASS  kill-switch follows the intraday sentinel: worst day return -1.10%" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "8 passed, 0 failed"


def test_e2e_risk_test_fails_loudly_on_a_home_without_data(tmp_path):
    from mech_exo.home import Home, init_home

    home = Home(tmp_path / "empty")
    init_home(home)
    out = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "e2e_risk_test.py"), "--home", str(home.root)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "FAIL" in out.stdout


def test_exo_demo_halts_then_its_on_call_leaves_a_healthy_audited_home(tmp_path):
    """`exo demo` (a real process, as `make demo` runs it): the last session halts trading; then the
    alert is acknowledged, trading re-enabled with a reason and a live drill passes — in the logs,
    in SQL, and `health full-check` finds nothing failing."""
    import json
    import os

    import duckdb

    exo = str(__import__("pathlib").Path(sys.executable).with_name("exo"))
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    res = subprocess.run([exo, "--home", str(home), "demo", "--end-date", "2026-11-20", "--json"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    out = json.loads(res.stdout)
    after = out["after_the_incident"]
    assert len(after["acked"]) >= 1 and after["reenabled"]["action"] == "enable"
    assert after["drill"]["status"] == "PASS" and after["drill"]["dry_run"] is False
    hist = json.loads(subprocess.run([exo, "--home", str(home), "kill", "history", "--json"], capture_output=True,
                                     text=True, env=env).stdout)["entries"]
    actions = [(e["action"], e.get("trigger")) for e in hist if not e.get("dry_run")]
    assert actions[:2] == [("disable", "daily_stop"), ("enable", "manual")], actions
    assert "incident reviewed" in hist[1]["reason"] and hist[1]["by"] == "demo on-call (exo demo)"
    con = duckdb.connect(str(home / "data" / "analytics.duckdb"), read_only=True)
    try:  # the same story in SQL, up to the second
        acked = con.execute("select count(*) from alert_log where severity = 'CRITICAL' and acked_by is not null"
                            ).fetchone()[0]
        drills = con.execute("select count(*) from drill_log where not dry_run and status = 'PASS'").fetchone()[0]
        enables = con.execute("select count(*) from killswitch_events where action = 'enable' "
                              "and changed_by = 'demo on-call (exo demo)'").fetchone()[0]
    finally:
        con.close()
    assert acked == len(after["acked"]) and drills == 1 and enables == 1
    health = subprocess.run([exo, "--home", str(home), "health", "full-check", "--json"], capture_output=True,
                            text=True, env=env)
    comps = {c["component"]: c["status"] for c in json.loads(health.stdout)["components"]}
    assert "FAIL" not in comps.values() and health.returncode == 0, comps
    assert comps["kill-switch"] == comps["rollback drill"] == comps["alert escalation"] == "OK"


def test_exo_demo_live_plays_the_last_session_and_the_watcher_halts_it(tmp_path):
    """`exo demo --live` (a real process): the home is green up to the session before, then the last
    session's marks and fills land as its clock passes them while the watcher runs; the crash halts
    trading; at the end the inputs and the numbers are the plain demo's."""
    import json
    import os
    import sqlite3
    from datetime import date

    import duckdb

    from mech_exo.demo_data import write_demo_inputs
    from mech_exo.home import Home, init_home

    exo = str(__import__("pathlib").Path(sys.executable).with_name("exo"))
    home = tmp_path / "live"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    res = subprocess.run([exo, "--home", str(home), "demo", "--end-date", "2026-11-20", "--live", "--speed", "1200"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    assert "live: session 2026-11-20 held back (79 mark times" in out
    assert out.count("marks for 35 symbols") == 79 and sum(ln.startswith("tick ") for ln in out.splitlines()) >= 2
    assert "TRADING HALTED (daily_stop: CRITICAL DAY LOSS:" in out
    hist = json.loads(subprocess.run([exo, "--home", str(home), "kill", "history", "--json"], capture_output=True,
                                     text=True, env=env).stdout)["entries"]
    order = [(e["action"], e.get("trigger")) for e in hist]
    assert order[-1] == ("disable", "daily_stop"), order          # green until the crash landed
    assert ("disable", "drill") in order[:-1]                      # a live drill passed before the session
    # the same inputs and numbers as the plain demo (computed here from the generator, independently)
    plain = Home(tmp_path / "plain")
    init_home(plain)
    story = write_demo_inputs(plain, end_date=date(2026, 11, 20))
    with sqlite3.connect(home / "data" / "trading.db") as a, sqlite3.connect(plain.trading_db) as b:
        assert a.execute("select * from fills order by fill_id").fetchall() == b.execute(
            "select * from fills order by fill_id").fetchall()
    con = duckdb.connect(str(home / "data" / "analytics.duckdb"), read_only=True)
    try:
        nav = con.execute("select nav from nav_daily where session_date = '2026-11-20'").fetchone()[0]
        worst = con.execute("select min(day_return) from nav_intraday where session_date = '2026-11-20'").fetchone()[0]
    finally:
        con.close()
    assert abs(nav - story["nav_last"]) <= 1e-6 * story["nav_last"]
    assert abs(worst - story["crash"]["worst_day_return"]) < 1e-9
