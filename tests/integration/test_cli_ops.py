"""The run-book's operations commands (`exo alerts`, `exo test`, `exo data`, `exo health`) against real homes.

Real parts only: homes built by the real ingest + dbt (conftest ``crash_home``, copied before any
change), Telegram through tests/telegram_server.py (a real HTTP server on 127.0.0.1), the real
pipeline for refresh/repair. Each test compares what a command prints with the data it reports on.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from conftest import copy_home
from telegram_server import fail

from mech_exo.alerts import reset_notices, send_alert
from mech_exo.cli.main import GROUPS, cli
from mech_exo.events import append_event, iso_utc, read_events, utc_now
from mech_exo.home import Home, init_home
from mech_exo.warehouse.storage import connect_build

CHAT = "-1009876543"
LAST = date(2026, 11, 20)
FAST_TELEGRAM = {"enabled": True, "timeout_s": 1.0, "max_attempts": 2, "backoff_s": 0.0, "max_retry_after_s": 1}


def run(home: Home, *args: str, code: int = 0):
    res = CliRunner().invoke(cli, ["--home", str(home.root), *args], catch_exceptions=False)
    assert res.exit_code == code, res.output
    return res


def js(home: Home, *args: str, code: int = 0):
    return json.loads(run(home, *args, "--json", code=code).stdout)


def q(home: Home, sql: str, params=()):
    con = duckdb.connect(str(home.analytics_db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture
def home(crash_home, tmp_path, monkeypatch) -> Home:
    """A private copy of the built crash home, Telegram unset, fast retry settings."""
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    h = copy_home(crash_home, tmp_path / "home")
    cfg = yaml.safe_load(h.alerts_yml.read_text())
    cfg["channels"]["telegram"].update(FAST_TELEGRAM)
    h.alerts_yml.write_text(yaml.safe_dump(cfg))
    reset_notices()
    yield h
    reset_notices()


@pytest.fixture
def live(home, tg, monkeypatch) -> Home:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
    return home


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Home:
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    h = Home.resolve(tmp_path / "empty")
    init_home(h)
    return h


# --- help ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["alerts", "config"], ["alerts", "history"], ["alerts", "ack"], ["test", "alerts"], ["test", "monthly-guard"],
    ["data", "validate"], ["data", "refresh"], ["data", "repair"],
    ["health", "database"], ["health", "system"], ["health", "full-check"]])
def test_every_command_has_help(args):
    res = CliRunner().invoke(cli, [*args, "--help"])
    assert res.exit_code == 0 and "Usage: " in res.output and args[-1] in res.output


def test_groups_are_registered_and_lazy():
    for name in ("alerts", "test", "data", "health"):
        assert name in GROUPS
    # the read paths of these modules must not drag in GE/dbt/Dagster at import time
    code = ("import sys, mech_exo.cli.alerts, mech_exo.cli.test_cmds, mech_exo.cli.data, mech_exo.cli.health; "
            "heavy = [m for m in ('great_expectations', 'dbt', 'dagster') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- alerts config / history / ack -----------------------------------------------------------------

def test_alerts_config_lists_channels_routing_chain_approvers_never_the_token(live, tg):
    res = run(live, "alerts", "config")
    out = res.output
    assert tg.token not in out
    assert "TELEGRAM_BOT_TOKEN set (hidden)" in out and "TELEGRAM_CHAT_ID set" in out
    for word in ("CRITICAL", "telegram, console, log", "monthly_stop", "incident-team", "Incident team",
                 "alice", "CTO", "bob", "RISK_MANAGER", "61"):
        assert word in out, word
    p = js(live, "alerts", "config")
    assert p["channels"]["telegram"]["ready"] is True and p["channels"]["telegram"]["api_base"] == tg.url
    assert [s["level"] for s in p["escalation"]["default"]] == ["on-call", "lead", "cto"]
    assert {"name": "alice", "role": "CTO"} in p["approvers"]
    assert tg.token not in json.dumps(p) and not tg.calls()


def test_alerts_config_without_token_says_not_set(home):
    out = run(home, "alerts", "config").output
    assert "TELEGRAM_BOT_TOKEN not set" in out and "Telegram not configured" in out


def test_alerts_history_window_delivery_and_ack(home, monkeypatch):
    old = send_alert(home, severity="WARNING", type="var", message="old one", now=utc_now() - timedelta(hours=30))
    crit = send_alert(home, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP -3.10%",
                      now=utc_now() - timedelta(minutes=5))
    info = send_alert(home, severity="INFO", type="note", message="line one\nline two")
    rows = js(home, "alerts", "history", "--hours", "24")["alerts"]
    assert [r["alert_id"] for r in rows] == [info["alert_id"], crit["alert_id"]]  # newest first, old one out
    assert rows[1]["severity"] == "CRITICAL" and rows[1]["acked_by"] is None
    assert [r["alert_id"] for r in js(home, "alerts", "history", "--hours", "48")["alerts"]][-1] == old["alert_id"]
    text = run(home, "alerts", "history", "--hours", "24").output
    assert crit["alert_id"] in text and "MONTHLY STOP -3.10%" in text
    assert "line one | line two" in text and old["alert_id"] not in text and "CRITICAL" in text

    monkeypatch.setenv("USER", "oncall-joe")
    out = run(home, "alerts", "ack", crit["alert_id"]).output
    assert f"acknowledged alert {crit['alert_id']} by oncall-joe" in out
    acks = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "ack"]
    assert [(a["alert_id"], a["acked_by"]) for a in acks] == [(crit["alert_id"], "oncall-joe")]
    again = js(home, "alerts", "ack", crit["alert_id"], "--by", "someone-else")
    assert again["already_acked"] is True and again["acked_by"] == "oncall-joe"
    assert len([e for e in read_events(home.event_log("alerts")) if e.get("event") == "ack"]) == 1
    rows = js(home, "alerts", "history")["alerts"]
    assert next(r for r in rows if r["alert_id"] == crit["alert_id"])["acked_by"] == "oncall-joe"
    assert "oncall-joe" in run(home, "alerts", "history").output

    res = run(home, "alerts", "ack", "A-nope", code=1)
    assert res.output.strip().count("\n") == 0 and "no alert with id 'A-nope'" in res.output


def test_alerts_history_shows_undelivered_telegram_with_attempts(live, tg):
    tg.queue(fail("Bad Request: chat not found"), fail("Bad Request: chat not found"))
    rec = send_alert(live, severity="WARNING", type="var", message="VaR at 75%")
    row = js(live, "alerts", "history")["alerts"][0]
    assert row["alert_id"] == rec["alert_id"] and row["delivered"] is False
    assert row["outbox_pending"] == 1
    out = run(live, "alerts", "history").output
    assert f"NO/{row['attempts']} (+1 outbox)" in out and tg.token not in out


# --- test alerts -----------------------------------------------------------------------------------

def test_test_alerts_telegram_reaches_the_server(live, tg):
    res = run(live, "test", "alerts", "--channel", "telegram")
    assert "test alert delivered" in res.output and tg.token not in res.output
    calls = tg.calls("sendMessage")
    assert len(calls) == 1 and calls[0]["token_ok"]
    assert calls[0]["json"]["chat_id"] == CHAT and "Test alert from Mech-Exo" in calls[0]["json"]["text"]
    logged = [e for e in read_events(live.event_log("alerts")) if e.get("event") == "alert"]
    assert len(logged) == 1 and logged[0]["type"] == "test" and logged[0]["alert_id"] in res.output


def test_test_alerts_not_delivered_exits_1_with_the_reason(live, tg):
    tg.queue(fail("Bad Request: chat not found"), fail("Bad Request: chat not found"))
    res = run(live, "test", "alerts", "--channel", "telegram", code=1)
    assert "NOT delivered" in res.output and "chat not found" in res.output
    assert tg.token not in res.output and len(tg.calls("sendMessage")) >= 1


def test_test_alerts_without_token_exits_2_with_the_fix(home):
    res = run(home, "test", "alerts", "--channel", "telegram", code=2)
    assert "Telegram not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID" in res.output
    assert not [e for e in read_events(home.event_log("alerts"))]  # nothing was raised


def test_test_alerts_dry_run_sends_and_writes_nothing(live, tg, home):
    before = digest(live.event_log("alerts"))
    res = run(live, "test", "alerts", "--dry-run")
    assert "dry-run" in res.output and "telegram, console, log" in res.output
    assert "Test alert from Mech-Exo risk ops" in res.output and tg.url in res.output
    assert tg.token not in res.output
    p = js(live, "test", "alerts", "--channel", "telegram", "--dry-run")
    assert p["ok"] and p["dry_run"] and p["channels"] == ["telegram", "log"]
    assert not tg.calls() and digest(live.event_log("alerts")) == before


def test_test_alerts_dry_run_without_token_previews_console_and_says_telegram_is_skipped(home):
    before = digest(home.event_log("alerts"))
    res = run(home, "test", "alerts", "--dry-run")
    assert "would send on console, log" in res.output
    assert "skipped telegram: Telegram not configured" in res.output
    assert digest(home.event_log("alerts")) == before


# --- test monthly-guard ----------------------------------------------------------------------------

def test_monthly_guard_dry_run_reports_the_decision_and_touches_nothing(home):
    ks, log = home.killswitch_yml, home.event_log("alerts")
    before = (digest(ks), digest(log), digest(home.event_log("killswitch")))
    (mtd, days), = q(home, "select mtd_return, history_days from mtd_drawdown order by session_date desc limit 1")

    p = js(home, "test", "monthly-guard", "--dry-run")
    assert p["session_date"] == str(LAST) and abs(p["mtd_return"] - mtd) < 1e-12
    assert p["threshold_pct"] == -3.0 and p["armed"] is True and p["history_days"] == days
    assert p["would_halt"] is False and p["verdict"] == "would not halt"
    out = run(home, "test", "monthly-guard", "--dry-run").output
    assert f"{mtd * 100:+.2f}%" in out and "-3.00%" in out and "would not halt" in out and "yes" in out

    # the same snapshot under a tighter threshold: the guard would halt — and still nothing is written
    risk = yaml.safe_load(home.risk_yml.read_text())
    risk["monthly_stop"]["threshold_pct"] = -0.5
    home.risk_yml.write_text(yaml.safe_dump(risk))
    p = js(home, "test", "monthly-guard", "--dry-run")
    assert p["would_halt"] is True and p["breached"] and "MONTHLY STOP-LOSS TRIGGERED" in p["message"]
    out = run(home, "test", "monthly-guard", "--dry-run").output
    assert "WOULD HALT trading" in out and "-0.50%" in out
    assert (digest(ks), digest(log), digest(home.event_log("killswitch"))) == before

    run(home, "kill", "off", "--reason", "manual halt for the test")
    p = js(home, "test", "monthly-guard", "--dry-run")
    assert p["would_halt"] is False and p["breached"] and "already disabled" in p["verdict"]

    res = run(home, "test", "monthly-guard", code=2)
    assert "only --dry-run" in res.output


def test_monthly_guard_not_armed_is_said(home):
    risk = yaml.safe_load(home.risk_yml.read_text())
    risk["monthly_stop"].update(min_history_days=100, threshold_pct=-0.5)
    home.risk_yml.write_text(yaml.safe_dump(risk))
    p = js(home, "test", "monthly-guard", "--dry-run")
    assert p["armed"] is False and p["would_halt"] is False and "not armed" in p["message"]


# --- data validate ---------------------------------------------------------------------------------

def test_validate_today_and_month_to_date_cover_the_right_sessions(crash_home):
    p = js(crash_home, "data", "validate", "--date", "today")
    assert p["ok"] and p["scope"]["sessions"] == [str(LAST)]
    n_intraday = q(crash_home, "select count(*) from nav_intraday where session_date = ?", [LAST])[0][0]
    n_fills = q(crash_home, "select count(*) from stg_landing__fills where local_date = ?", [LAST])[0][0]
    counts = p["scope"]["rows_in_scope"]
    assert counts["nav_intraday"] == {"column": "session_date", "rows": n_intraday}
    assert counts["stg_landing__fills"]["rows"] == n_fills and counts["nav_daily"]["rows"] == 1
    checks = {(c["suite"], c["check"]): c for c in p["checks"]}
    assert len(checks) == 29 and all(c["in_scope"] is not None for c in checks.values())
    assert checks[("nav_intraday", "expect_column_values_to_not_be_null(ts)")]["in_scope"]["observed"] == f"ok ({n_intraday} rows)"
    text = run(crash_home, "data", "validate", "--date", "today").output
    assert f"session {LAST}" in text and "nav_intraday" in text and "0 ERROR failure(s)" in text

    nov = [str(r[0]) for r in q(crash_home, "select session_date from nav_daily where month = ? order by 1",
                                [date(2026, 11, 1)])]
    p = js(crash_home, "data", "validate", "--range", "month-to-date")
    assert p["scope"]["sessions"] == nov and p["scope"]["rows_in_scope"]["nav_daily"]["rows"] == len(nov)
    whole = js(crash_home, "data", "validate")
    assert whole["scope"] is None and {c["check"] for c in whole["checks"]} == {c for _, c in checks}
    run(crash_home, "data", "validate", "--date", "2026-11-21", code=1)
    assert "give --date or --range" in run(crash_home, "data", "validate", "--date", "today", "--range", "mtd", code=1).output


def test_validate_fails_on_an_error_check_and_says_whether_it_is_in_scope(home):
    con = duckdb.connect(str(home.analytics_db))  # the test breaks its private snapshot on purpose
    con.execute("update nav_daily set daily_return = 0.9 where session_date = '2026-02-11'")
    con.close()
    p = js(home, "data", "validate", "--date", "today", code=1)
    c = next(c for c in p["checks"] if c["check"] == "expect_column_values_to_be_between(daily_return)")
    assert c["passed"] is False and c["severity"] == "ERROR" and "0.9" in c["observed"]
    assert c["in_scope"]["passed"] is True  # the bad row is in February, not in today's session
    p = js(home, "data", "validate", "--range", "2026-02-09:2026-02-13", code=1)
    c = next(c for c in p["checks"] if c["check"] == "expect_column_values_to_be_between(daily_return)")
    assert c["in_scope"]["passed"] is False
    out = run(home, "data", "validate", code=1).output
    assert "FAIL" in out and "1 ERROR failure(s)" in out


def test_validate_all_sources_names_file_row_rule_and_never_lands(home):
    landing_before = tree_digest(home.landing_dir)
    p = js(home, "data", "validate", "--all-sources")
    n_fills = q(home, "select count(*) from stg_landing__fills")[0][0]
    assert p["sources"]["ok"] and p["sources"]["counts"]["fills"] == n_fills
    with sqlite3.connect(home.trading_db) as db:
        db.execute("update fills set quantity = -5 where fill_id = (select min(fill_id) from fills)")
        rowid, fill_id = db.execute("select rowid, fill_id from fills where quantity = -5").fetchone()
    res = run(home, "data", "validate", "--all-sources", code=1)
    assert "raw inputs: FAIL" in res.output
    assert f"data/trading.db fills row {rowid} (fill_id={fill_id}): quantity must be > 0" in res.output
    v = js(home, "data", "validate", "--all-sources", code=1)["sources"]["violations"]
    assert [(x["file"], x["row"]) for x in v] == [("data/trading.db", rowid)] and "quantity" in v[0]["rule"]
    assert tree_digest(home.landing_dir) == landing_before


# --- data refresh / repair (the real pipeline: slow, so few) ---------------------------------------

def test_refresh_prices_relands_the_changed_market_file(home):
    f = home.market_dir / "intraday" / "20261120.csv"
    n_rows = len(f.read_text().strip().splitlines()) - 1
    with open(f, "a") as fh:
        fh.write("2026-11-20T15:45:00-05:00,ALPHA,111.25\n")
    before = q(home, "select count(*) from stg_landing__marks")[0][0]
    p = js(home, "data", "refresh", "--source", "prices")
    assert p["ok"] and p["relanded"]["files_landed"] == ["data/market/intraday/20261120.csv"]
    assert p["relanded"]["rows_landed"] == n_rows + 1
    assert q(home, "select count(*) from stg_landing__marks")[0][0] == before + 1
    assert q(home, "select count(*) from stg_landing__marks where ts = '2026-11-20 20:45:00'")[0][0] == 1
    out = run(home, "data", "refresh", "--source", "ohlc").output  # nothing changed since: says so
    assert "re-landed from data/market/: 0 file(s), 0 mark rows (no file changed)" in out
    assert "pipeline OK" in out


def test_repair_daily_metrics_rebuilds_and_reports_what_changed(home):
    from mech_exo.pipeline import publish

    (rows, pnl), = q(home, "select count(*), sum(pnl) from daily_metrics")
    (day_pnl,), = q(home, "select pnl from daily_metrics where session_date = ?", [LAST])
    con = connect_build(home)  # a damaged model, published: what repair is for
    con.execute("delete from daily_metrics where session_date = ?", [LAST])
    con.close()
    publish(home)
    p = js(home, "data", "repair", "--type", "daily-metrics")
    assert p["ok"] and p["report"]["build"]["success"]
    fig = {d["figure"]: d for d in p["figures"]}
    assert fig["daily_metrics rows"]["before"] == rows - 1 and fig["daily_metrics rows"]["after"] == rows
    assert fig["daily_metrics rows"]["changed"] and not fig["nav_daily rows"]["changed"]
    assert abs(fig["daily_metrics pnl sum"]["before"] - (pnl - day_pnl)) < 1e-6
    assert abs(fig["daily_metrics pnl sum"]["after"] - pnl) < 1e-6
    assert q(home, "select count(*) from daily_metrics")[0][0] == rows


# --- health ----------------------------------------------------------------------------------------

def test_health_database_counts_rows_and_never_touches_the_locked_build(home):
    holder = subprocess.Popen(  # another process holds the build file read-write, as a running build does
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
                               "sys.stdin.read()", str(home.build_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = js(home, "health", "database", "--verbose")
        out = run(home, "health", "database", "--verbose").output
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert p["present"] and p["readable"] and p["latest_session"] == str(LAST)
    for t in ("nav_daily", "daily_metrics", "positions_current", "stg_landing__fills"):
        n = q(home, f"select count(*) from {t}")[0][0]
        assert p["row_counts"][t] == n and f"{t}" in out
    assert p["build_db_bytes"] == home.build_db.stat().st_size
    assert "OK (read-only)" in out and "no run recorded" in out
    assert "Rows per model" not in run(home, "health", "database").output


def test_health_database_reads_the_last_run_record(home):
    home.state_dir.mkdir(parents=True, exist_ok=True)
    (home.state_dir / "last_run.json").write_text(json.dumps(
        {"ok": False, "failed_step": "landing", "error": "3 input violation(s)", "finished_at": iso_utc()}))
    p = js(home, "health", "database")
    assert p["last_run"]["ok"] is False and p["last_run"]["age_h"] < 1
    assert "FAILED at landing" in run(home, "health", "database").output


def test_health_system_versions_env_and_telegram_state(live, tg, monkeypatch):
    monkeypatch.setenv("EXO_HOME", str(live.root))
    p = js(live, "health", "system")
    assert p["versions"]["duckdb"] == version("duckdb") and p["versions"]["dagster"] == version("dagster")
    assert p["versions"]["dbt-core"] == version("dbt-core")
    assert p["env"]["EXO_HOME"] == str(live.root) and p["killswitch"]["readable"]
    assert p["telegram"] == {"token": "set (hidden)", "chat_id": "set", "configured": True, "api_base": tg.url}
    assert p["disk"]["free_bytes"] > 0
    out = run(live, "health", "system").output
    assert tg.token not in out and "configured" in out and version("duckdb") in out


def test_health_full_check_grades_each_component(home):
    from mech_exo.flows.halt_path import escalation_source

    have_escalation = escalation_source()[0] is not None   # mech_exo.alerts' escalation_overdue
    escalation = "OK" if have_escalation else "UNKNOWN"     # never OK when it cannot be checked
    p = js(home, "health", "full-check", code=1)
    st = {c["component"]: c["status"] for c in p["components"]}
    assert st == {"config files": "OK", "kill-switch": "OK", "snapshot": "OK", "data checks (GE)": st["data checks (GE)"],
                  "rollback drill": "FAIL", "alert outbox": "OK", "Dagster instance": "OK", "pipeline runs": "WARN",
                  "warehouse pool": "OK", "pipeline freshness": st["pipeline freshness"], "Dagster daemon": "WARN",
                  "alert escalation": escalation}
    assert st["data checks (GE)"] in ("OK", "WARN")  # freshness is a WARN depending on the wall clock
    # no run ever: WARN outside the session, FAIL (stale) in it — depends on the wall clock
    assert st["pipeline freshness"] in ("WARN", "FAIL")
    # a recent live drill pass turns the drill green; with a fresh run the check is then healthy
    now = iso_utc()
    append_event(home.event_log("drills"), {"drill_id": "Dtest", "started_at": now, "finished_at": now,
                                            "duration_s": 1.0, "dry_run": False, "status": "PASS"})
    (home.state_dir / "last_run.json").write_text(json.dumps({"ok": True, "finished_at": now}))
    p = js(home, "health", "full-check", code=0 if have_escalation else 1)
    st = {c["component"]: c["status"] for c in p["components"]}
    assert p["ok"] is have_escalation and st["rollback drill"] == "OK" and st["pipeline runs"] == "OK"
    assert st["pipeline freshness"] == "OK" and st["alert escalation"] == escalation
    # a corrupt kill-switch and a broken risk.yml are FAILs, named
    home.killswitch_yml.write_text("trading_enabled: [\n")
    home.risk_yml.write_text("var: {window: lots}\n")
    res = run(home, "health", "full-check", code=1)
    comp = {c["component"]: c for c in js(home, "health", "full-check", code=1)["components"]}
    assert comp["kill-switch"]["status"] == "FAIL" and "killswitch.yml" in comp["kill-switch"]["detail"]
    assert comp["config files"]["status"] == "FAIL" and "var.window" in comp["config files"]["detail"]
    n_fail = sum(c["status"] == "FAIL" for c in comp.values())
    assert comp["data checks (GE)"]["status"] == "FAIL" and "var.window" in comp["data checks (GE)"]["detail"]
    assert n_fail == 3 and "3 FAIL" in res.output and "To recover" in res.output


def test_health_full_check_warns_on_a_waiting_outbox(live, tg):
    tg.queue(fail("Bad Request: chat not found"), fail("Bad Request: chat not found"))
    send_alert(live, severity="WARNING", type="var", message="VaR at 75%")
    comp = {c["component"]: c for c in js(live, "health", "full-check", code=1)["components"]}
    assert comp["alert outbox"]["status"] == "WARN" and "1 undelivered" in comp["alert outbox"]["detail"]


# --- a home with no data ---------------------------------------------------------------------------

def test_no_data_gives_one_clear_line(empty_home):
    for args in (["data", "validate"], ["test", "monthly-guard", "--dry-run"]):
        res = run(empty_home, *args, code=1)
        assert "no data yet" in res.output and "exo run" in res.output and "Traceback" not in res.output
    res = run(empty_home, "health", "database", code=1)
    assert "not found" in res.output and "exo run" in res.output
    assert "no alerts in the last 24 hours" in run(empty_home, "alerts", "history").output
    comp = {c["component"]: c["status"] for c in js(empty_home, "health", "full-check", code=1)["components"]}
    assert comp["snapshot"] == "FAIL" and comp["data checks (GE)"] == "FAIL" and comp["config files"] == "OK"


# --- data validate keeps the row rules of a publish (#11.8) ----------------------------------------------

def test_validate_reuses_the_row_rules_of_this_publish_and_only_this_one(crash_home, tmp_path):
    from mech_exo.checks import checked, run_checks

    home = copy_home(crash_home, tmp_path / "kept")
    (home.state_dir / "validated.json").unlink(missing_ok=True)
    fresh_run = [(o.suite, o.check, o.passed, o.observed) for o in run_checks(home)]
    first = js(home, "data", "validate")
    again = js(home, "data", "validate")
    assert first["rules_from_record"] is False and again["rules_from_record"] is True
    strip = lambda p: [(c["suite"], c["check"], c["passed"], c["observed"]) for c in p["checks"]  # noqa: E731
                       if "latest_" not in c["check"]]
    assert strip(first) == strip(again) == [x for x in fresh_run if "latest_" not in x[1]]
    assert [(c["suite"], c["check"]) for c in again["checks"]] == [(s, c) for s, c, _, _ in fresh_run]
    # an edited threshold file is another key: the rules run again
    home.risk_yml.write_text(home.risk_yml.read_text() + "\n# edited\n")
    assert js(home, "data", "validate")["rules_from_record"] is False
    # someone writes into the snapshot: its publish id is no longer trusted, the rules see the bad row
    con = duckdb.connect(str(home.analytics_db))
    con.execute("update nav_daily set daily_return = 0.9 where session_date = '2026-02-11'")
    con.close()
    p = js(home, "data", "validate", code=1)
    assert p["rules_from_record"] is False
    bad = next(c for c in p["checks"] if c["check"] == "expect_column_values_to_be_between(daily_return)")
    assert bad["passed"] is False
    # a refresh of the event models (exo wrote the file) keeps the publish and its kept result
    home2 = copy_home(crash_home, tmp_path / "events")
    _, hit = checked(home2)
    from mech_exo.snapshot import refresh_events

    refresh_events(home2)
    outcomes, hit = checked(home2)
    assert hit is True and outcomes


def test_the_pipeline_keeps_the_row_rules_of_a_full_build(crash_home, tmp_path):
    from mech_exo.checks import checked, run_checks
    from mech_exo.pipeline_state import run_checks_on_snapshot
    from mech_exo.reporting.snapshot import connect

    home = copy_home(crash_home, tmp_path / "full")
    (home.state_dir / "validated.json").unlink(missing_ok=True)
    con = connect(home)
    try:
        run_checks_on_snapshot(home, con, None, full=True)
    finally:
        con.close()
    outcomes, hit = checked(home)
    assert hit is True
    assert [(o.suite, o.check, o.passed) for o in outcomes] == [(o.suite, o.check, o.passed) for o in run_checks(home)]
