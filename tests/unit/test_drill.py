"""Rollback drill (SPEC §6): the A–D cycle on real files, dry run on a copy, the lock, faults, reports, status.

Faults are real: a backup directory under a regular file, the kill-switch's lock file replaced by a
directory mid-drill, a real halt arriving during the wait, and real `exo` processes killed mid-drill.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mech_exo import drill as dr
from mech_exo import killswitch as ks
from mech_exo.cli.main import cli
from mech_exo.events import append_event, iso_utc, read_events
from mech_exo.home import Home, init_home

EXO = Path(sys.executable).with_name("exo")
RECORD_KEYS = {"drill_id", "started_at", "finished_at", "duration_s", "dry_run", "status", "failed_step",
               "error", "report_path", "wait_s", "steps"}
STEP_KEYS = {"step", "name", "started_at", "finished_at", "duration_s", "ok", "detail"}


@pytest.fixture(autouse=True)
def _no_telegram(monkeypatch):
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "EXO_HOME"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def home(tmp_path):
    h = Home(tmp_path / "home")
    init_home(h)
    return h


def nosleep(_s):
    return None


def _events(home, name):
    return [r for r in read_events(home.event_log(name)) if not r.get("_corrupt")]


def _alerts(home):
    return [r for r in _events(home, "alerts") if r.get("event") == "alert"]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_") and k != "EXO_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for(cond, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _backups(home):
    return sorted(home.config_dir.glob("killswitch_backup_*.yml"))


# --- the cycle --------------------------------------------------------------------------------------

def test_live_drill_passes_and_restores_pre_drill_state(home):
    seen = []

    def watch_sleep(s):  # what the trading engine sees during step C
        st = ks.read_state(home)
        seen.append((s, st.trading_enabled, st.trigger, st.reason, st.updated_by, len(_backups(home))))

    rec = dr.run_drill(home, dry_run=False, wait_s=3, skip_frequency_check=True, sleep=watch_sleep)
    assert rec["status"] == "PASS" and rec["failed_step"] is None and rec["error"] is None
    by = f"drill:{rec['drill_id']}"
    assert [s[0] for s in seen] == [1, 1, 1]
    assert all(s[1:5] == (False, "drill", "ROLLBACK_DRILL", by) and s[5] == 1 for s in seen)
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger, st.reason) == (True, "manual", "Initial state")
    assert [(h["reason"], h["trading_enabled"], h["by"]) for h in st.history[-2:]] == [
        ("ROLLBACK_DRILL", False, by), ("ROLLBACK_DRILL_COMPLETE", True, by)]
    ks_events = _events(home, "killswitch")
    assert [(e["action"], e["reason"], e["trigger"]) for e in ks_events] == [
        ("disable", "ROLLBACK_DRILL", "drill"), ("enable", "ROLLBACK_DRILL_COMPLETE", "manual")]
    assert _backups(home) == [] and not home.drill_lock.exists()
    [logged] = _events(home, "drills")
    assert RECORD_KEYS <= set(logged) and logged["status"] == "PASS" and logged["dry_run"] is False
    assert [s["step"] for s in logged["steps"]] == ["A", "B", "C", "D"]
    assert all(STEP_KEYS <= set(s) and s["ok"] for s in logged["steps"])
    assert logged["wait_s"] == 3 and logged["report_path"].startswith("reports/drills/drill_")


def test_pass_report_and_info_alert_with_attachment(home):
    rec = dr.run_drill(home, dry_run=False, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    report = home.root / rec["report_path"]
    text = report.read_text()
    assert report.name.startswith("drill_") and report.suffix == ".md"
    for part in ("## Executive summary", "**PASS**", "## Steps", "| Start (UTC) | End (UTC) | Duration (s) |",
                 "## Errors", "None.", "## Recommendations", "Next live drill due by", "Screenshot placeholder"):
        assert part in text
    assert text.count("| OK |") == 4
    [alert] = _alerts(home)
    assert alert["severity"] == "INFO" and alert["type"] == "drill" and rec["drill_id"] in alert["message"]
    assert alert["attachment"] == str(report)


def test_dry_run_leaves_live_state_untouched(home):
    live_bytes = home.killswitch_yml.read_bytes()
    ks_log = home.event_log("killswitch").read_bytes()
    copy = home.state_dir / "drill_dryrun" / "killswitch.yml"
    seen = []

    def watch_sleep(_s):
        seen.append((ks.read_state(home).trading_enabled, ks.read_state(path=copy).trading_enabled))

    rec = dr.run_drill(home, dry_run=True, wait_s=2, skip_frequency_check=True, sleep=watch_sleep)
    assert rec["status"] == "PASS" and rec["dry_run"] is True
    assert seen == [(True, False), (True, False)]
    assert home.killswitch_yml.read_bytes() == live_bytes
    assert home.event_log("killswitch").read_bytes() == ks_log
    assert _backups(home) == [] and not copy.parent.exists() and not home.drill_lock.exists()
    assert "A dry run does not count" in (home.root / rec["report_path"]).read_text()


def test_dry_run_works_while_trading_is_disabled(home):
    ks.set_trading(home, enabled=False, reason="real halt", trigger="daily_stop", by="sensor:x")
    before = home.killswitch_yml.read_bytes()
    rec = dr.run_drill(home, dry_run=True, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    assert rec["status"] == "PASS"
    assert home.killswitch_yml.read_bytes() == before


def test_live_drill_refuses_while_trading_is_disabled(home):
    ks.set_trading(home, enabled=False, reason="real halt", trigger="daily_stop", by="sensor:x")
    before = home.killswitch_yml.read_bytes()
    with pytest.raises(dr.DrillRefused, match="already disabled"):
        dr.run_drill(home, dry_run=False, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    res = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "rollback", "--wait", "0"])
    assert res.exit_code == 1 and "trading is already disabled" in res.output and "daily_stop" in res.output
    assert home.killswitch_yml.read_bytes() == before
    assert _events(home, "drills") == [] and _backups(home) == [] and not home.drill_lock.exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_drill_refuses_an_unreadable_kill_switch(home, dry_run):
    home.killswitch_yml.write_text("trading_enabled: [broken\n")
    with pytest.raises(dr.DrillRefused, match=str(home.killswitch_yml)):
        dr.run_drill(home, dry_run=dry_run, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    assert not home.drill_lock.exists()


# --- failures: real faults ---------------------------------------------------------------------------

def test_backup_cannot_be_written_fails_step_a_and_leaves_switch_alone(home, tmp_path):
    blocker = tmp_path / "a_regular_file"
    blocker.write_text("not a directory")
    before = home.killswitch_yml.read_bytes()
    rec = dr.run_drill(home, dry_run=False, wait_s=0, skip_frequency_check=True, sleep=nosleep,
                       backup_dir=blocker / "backups")
    assert rec["status"] == "FAIL" and rec["failed_step"] == "A"
    assert "a_regular_file" in rec["error"]
    assert [s["step"] for s in rec["steps"]] == ["A"]
    assert rec["emergency_restore"]["attempted"] is False and rec["emergency_restore"]["ok"] is True
    assert home.killswitch_yml.read_bytes() == before and not home.drill_lock.exists()
    [alert] = _alerts(home)
    assert alert["severity"] == "CRITICAL" and alert["attachment"] == str(home.root / rec["report_path"])
    text = (home.root / rec["report_path"]).read_text()
    assert "**FAIL** at step A" in text and "- Step A:" in text


def test_kill_switch_write_fails_at_step_b(home):
    lock = home.config_dir / "killswitch.yml.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the kill-switch cannot take its lock: every locked write fails
    before = home.killswitch_yml.read_bytes()
    rec = dr.run_drill(home, dry_run=False, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    assert rec["status"] == "FAIL" and rec["failed_step"] == "B" and "IsADirectoryError" in rec["error"]
    assert rec["emergency_restore"]["ok"] is True and "already in its pre-drill state" in rec["emergency_restore"]["detail"]
    assert home.killswitch_yml.read_bytes() == before
    assert len(_backups(home)) == 1 and rec["backup_path"] == str(_backups(home)[0])  # kept on failure


def test_kill_switch_write_fails_at_step_d_emergency_restore_from_backup(home):
    lock = home.config_dir / "killswitch.yml.lock"

    def break_lock_during_wait(_s):  # the fault arrives mid-drill, after B succeeded
        if lock.is_file():
            lock.unlink()
            lock.mkdir()

    rec = dr.run_drill(home, dry_run=False, wait_s=1, skip_frequency_check=True, sleep=break_lock_during_wait)
    assert rec["status"] == "FAIL" and rec["failed_step"] == "D" and "IsADirectoryError" in rec["error"]
    er = rec["emergency_restore"]
    assert er["attempted"] and er["ok"] and "direct write" in er["method"]
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger, st.reason) == (True, "manual", "Initial state")
    assert [h["reason"] for h in st.history] == ["ROLLBACK_DRILL", "ROLLBACK_DRILL_EMERGENCY_RESTORE"]
    assert _events(home, "killswitch")[-1]["reason"] == "ROLLBACK_DRILL_EMERGENCY_RESTORE"
    assert len(_backups(home)) == 1
    [alert] = _alerts(home)
    assert alert["severity"] == "CRITICAL" and "step D" in alert["message"]
    assert "Emergency restore: OK" in (home.root / rec["report_path"]).read_text()


def test_real_halt_during_the_wait_is_not_undone(home):
    def guard_halts(_s):
        ks.set_trading(home, enabled=False, reason="CRITICAL DAY LOSS", trigger="daily_stop",
                       by="sensor:intraday_pnl_sentinel")

    rec = dr.run_drill(home, dry_run=False, wait_s=1, skip_frequency_check=True, sleep=guard_halts)
    assert rec["status"] == "FAIL" and rec["failed_step"] == "C" and "daily_stop" in rec["error"]
    assert rec["emergency_restore"]["attempted"] is False and rec["emergency_restore"]["ok"] is False
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger) == (False, "daily_stop")
    assert "re-enable" in (home.root / rec["report_path"]).read_text()


# --- the lock ----------------------------------------------------------------------------------------

def test_second_drill_refuses_while_lock_is_held_by_a_live_process(home):
    home.drill_lock.write_text(json.dumps({"pid": os.getpid(), "proc_start": dr._proc_start(os.getpid()),
                                           "drill_id": "Dother", "started_at": iso_utc(), "backup_path": "x"}))
    with pytest.raises(dr.DrillRefused, match="Dother is running"):
        dr.run_drill(home, dry_run=True, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    assert home.drill_lock.exists() and _events(home, "drills") == []


def test_recycled_pid_does_not_keep_a_dead_drills_lock(home):
    assert dr.pid_alive(os.getpid(), dr._proc_start(os.getpid()))
    assert not dr.pid_alive(os.getpid(), "1")  # same pid, different process start
    home.drill_lock.write_text(json.dumps({"pid": os.getpid(), "proc_start": "1", "drill_id": "Dold",
                                           "started_at": iso_utc(), "backup_path": "", "dry_run": True}))
    assert dr.lock_state(home)["stale"] is True


def test_corrupt_old_lock_is_cleared(home):
    home.drill_lock.write_text("")
    old = time.time() - 3600
    os.utime(home.drill_lock, (old, old))
    assert dr.lock_state(home)["stale"] is True
    assert dr.recover_stale_drill(home)["status"] == "cleared_corrupt_lock"
    assert not home.drill_lock.exists()


def _start_live_drill(home, wait=30, console_script=False):
    cmd = ([str(EXO)] if console_script else [sys.executable, "-m", "mech_exo.cli.main"])
    proc = subprocess.Popen(cmd + ["--home", str(home.root), "drill", "rollback", "--wait", str(wait)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())

    def halted():
        if proc.poll() is not None:
            pytest.fail(f"drill exited early: {proc.communicate()}")
        st = ks.read_state(home)
        return home.drill_lock.exists() and not st.trading_enabled and st.trigger == "drill"

    _wait_for(halted, "the drill's lock and its halt")
    return proc


def test_killed_drill_is_recovered_by_status(home):
    proc = _start_live_drill(home)
    lock = json.loads(home.drill_lock.read_text())
    assert lock["pid"] == proc.pid and lock["drill_id"] and lock["backup_path"] and lock["started_at"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert dr.drill_status(home)["lock"]["stale"] is True
    out = subprocess.run([str(EXO), "--home", str(home.root), "drill", "status"], capture_output=True,
                         text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Recovered a dead drill" in out.stdout and lock["drill_id"] in out.stdout
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger, st.reason) == (True, "manual", "Initial state")
    assert st.history[-1]["reason"] == "ROLLBACK_DRILL_RECOVERED"
    assert not home.drill_lock.exists() and Path(lock["backup_path"]).is_file()  # backup kept
    [rec] = _events(home, "drills")
    assert rec["status"] == "ABORTED" and rec["drill_id"] == lock["drill_id"] and RECORD_KEYS <= set(rec)
    assert rec["emergency_restore"]["ok"] is True


def test_killed_drill_is_recovered_by_the_next_drill(home):
    proc = _start_live_drill(home)
    dead_id = json.loads(home.drill_lock.read_text())["drill_id"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    res = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "rollback", "--wait", "0"])
    assert res.exit_code == 0, res.output
    assert "stale drill lock" in res.output and "PASS" in res.output
    assert [(r["drill_id"] == dead_id, r["status"]) for r in _events(home, "drills")] == [
        (True, "ABORTED"), (False, "PASS")]
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger, st.reason) == (True, "manual", "Initial state")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_second_drill_during_a_running_one_refuses_then_interrupt_restores(home, sig):
    proc = _start_live_drill(home, console_script=True)
    res = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "rollback", "--dry-run", "--wait", "0"])
    assert res.exit_code == 1 and "drill refused" in res.output and "is running" in res.output
    os.kill(proc.pid, sig)  # Ctrl-C or `kill PID` during step C
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    [rec] = _events(home, "drills")
    assert rec["status"] == "FAIL" and rec["failed_step"] == "C" and "interrupted" in rec["error"]
    st = ks.read_state(home)
    assert (st.trading_enabled, st.trigger, st.reason) == (True, "manual", "Initial state")
    assert not home.drill_lock.exists()


# --- status, overdue, schedule -----------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


def _log_drill(home, days_ago, status="PASS", dry_run=False, drill_id=None):
    at = iso_utc(NOW - timedelta(days=days_ago))
    append_event(home.event_log("drills"), {"drill_id": drill_id or f"D{days_ago}{status}{dry_run}",
                                            "started_at": at, "finished_at": at, "duration_s": 1.0,
                                            "dry_run": dry_run, "status": status, "failed_step": None,
                                            "error": None, "report_path": None, "wait_s": 1, "steps": []})


@pytest.mark.parametrize("days_ago, badge", [(None, "red"), (0, "green"), (89.9, "green"), (90, "yellow"),
                                             (120, "yellow"), (120.1, "red"), (400, "red")])
def test_badge_by_days_since_last_live_pass(home, days_ago, badge):
    if days_ago is not None:
        _log_drill(home, days_ago)
    st = dr.drill_status(home, now=NOW)
    assert st["badge"] == badge
    assert st["days_since_last_live_pass"] == (None if days_ago is None else days_ago)


def test_only_live_passes_count(home):
    _log_drill(home, 200)
    _log_drill(home, 5, dry_run=True)
    _log_drill(home, 3, status="FAIL")
    with open(home.event_log("drills"), "a") as fh:
        fh.write("{torn line\n")
    info = dr.get_last_drill_info(home, now=NOW)
    assert info["last_live_pass"]["drill_id"] == "D200PASSFalse"
    assert info["last_drill"]["status"] == "FAIL" and info["drills_total"] == 3 and info["corrupt_lines"] == 1
    assert dr.drill_status(home, now=NOW)["badge"] == "red"


@pytest.mark.parametrize("days_ago, severity", [(10, None), (95, "WARNING"), (121, "CRITICAL"), (None, "CRITICAL")])
def test_check_overdue_alerts_once_a_day(home, days_ago, severity):
    if days_ago is not None:
        _log_drill(home, days_ago)
    first = dr.check_overdue(home, now=NOW)
    again = dr.check_overdue(home, now=NOW + timedelta(hours=3))
    assert first["severity"] == severity
    alerts = _alerts(home)
    if severity is None:
        assert alerts == [] and first["alert"] is None
        return
    assert [a["severity"] for a in alerts] == [severity] and again["alert"]["duplicate"] is True
    dr.check_overdue(home, now=NOW + timedelta(days=1))
    assert len(_alerts(home)) == 2


def test_schedule_skips_when_a_recent_live_pass_exists(home):
    append_event(home.event_log("drills"), {"drill_id": "Drecent", "finished_at": iso_utc(), "started_at": iso_utc(),
                                            "dry_run": False, "status": "PASS"})
    res = dr.run_drill(home, dry_run=True, wait_s=0, interval_days=90, sleep=nosleep)
    assert res["status"] == "SKIPPED" and "interval_days=90" in res["reason"]
    assert not home.drill_lock.exists() and len(_events(home, "drills")) == 1
    ran = dr.run_drill(home, dry_run=True, wait_s=0, interval_days=90, skip_frequency_check=True, sleep=nosleep)
    assert ran["status"] == "PASS"


def test_schedule_runs_when_the_last_live_pass_is_old(home):
    old = iso_utc(datetime.now(timezone.utc) - timedelta(days=91))
    append_event(home.event_log("drills"), {"drill_id": "Dold", "finished_at": old, "started_at": old,
                                            "dry_run": False, "status": "PASS"})
    res = dr.run_drill(home, dry_run=True, wait_s=0, interval_days=90, sleep=nosleep)
    assert res["status"] == "PASS"


# --- CLI ---------------------------------------------------------------------------------------------

def test_cli_rollback_json_and_status_json(home):
    r = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "rollback", "--dry-run", "--wait", "0", "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["status"] == "PASS" and rec["dry_run"] is True
    s = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "status", "--json"])
    assert s.exit_code == 0
    st = json.loads(s.stdout)
    assert st["last_drill"]["drill_id"] == rec["drill_id"] and st["badge"] == "red"  # a dry run is not a live pass
    assert st["last_live_pass"] is None and st["lock"]["exists"] is False


def test_cli_failed_drill_exits_1(home):
    lock = home.config_dir / "killswitch.yml.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    r = CliRunner().invoke(cli, ["--home", str(home.root), "drill", "rollback", "--wait", "0"])
    assert r.exit_code == 1 and "FAIL" in r.output and "backup kept" in r.output


def test_exo_console_script_runs_a_dry_run_drill(home):
    out = subprocess.run([str(EXO), "--home", str(home.root), "drill", "rollback", "--dry-run", "--wait", "1"],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "PASS" in out.stdout and "C waiting" in out.stdout
    st = subprocess.run([str(EXO), "--home", str(home.root), "drill", "status"], capture_output=True, text=True,
                        env=_env(), timeout=120)
    assert st.returncode == 0 and "RED" in st.stdout and "dry-run PASS" in st.stdout


def test_yaml_of_restored_switch_is_valid_kill_switch(home):
    dr.run_drill(home, dry_run=False, wait_s=0, skip_frequency_check=True, sleep=nosleep)
    data = yaml.safe_load(home.killswitch_yml.read_text())
    assert ks._validate(data, home.killswitch_yml) is None


def test_backup_name_never_reuses_a_kept_backup(home):
    now = datetime(2026, 11, 24, 14, 43, 0, tzinfo=timezone.utc)
    first = dr._free_backup_name(home.config_dir, now)
    assert first.name == "killswitch_backup_20261124_144300.yml"
    first.write_text("kept by a failed drill")
    assert dr._free_backup_name(home.config_dir, now).name == "killswitch_backup_20261124_144300_2.yml"


def test_scheduled_run_recovers_a_dead_drill_even_when_it_skips(home):
    proc = _start_live_drill(home)
    dead_id = json.loads(home.drill_lock.read_text())["drill_id"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    now = iso_utc()
    append_event(home.event_log("drills"), {"drill_id": "Drecent", "finished_at": now, "started_at": now,
                                            "dry_run": False, "status": "PASS"})
    res = dr.run_drill(home, dry_run=True, wait_s=0, interval_days=90, by="dagster", sleep=nosleep)
    assert res["status"] == "SKIPPED" and res["recovered_stale_drill"] == dead_id
    assert ks.read_state(home).trading_enabled is True and not home.drill_lock.exists()
    assert [r["status"] for r in _events(home, "drills")] == ["PASS", "ABORTED"]
