"""`exo flows` and `exo dashboard` against real homes: the home's own Dagster instance (SQLite under
<home>/.dagster) filled by a real `exo run`, sensors evaluated for real, and the real dashboard
server started as a detached process on a free 127.0.0.1 port (always stopped in a finally)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AFTER_LAST_SESSION, copy_home

from mech_exo.cli.main import cli
from mech_exo.flows import (
    RUNBOOK_FLOWS,
    dashboard_pid_path,
    dev_command,
    pid_alive,
    read_dashboard_record,
    stop_dashboard,
)
from mech_exo.home import REPO_ROOT
from mech_exo.killswitch import read_state

EXO = str(Path(sys.executable).with_name("exo"))
RUNBOOK_SPELLING = [n.replace("_", "-") for n in RUNBOOK_FLOWS]


def run(home, *args):
    return CliRunner().invoke(cli, ["--home", str(home.root), *args], catch_exceptions=False)


def exo(home, *args, timeout=300):
    """The installed `exo`, as the on-call runs it."""
    return subprocess.run([EXO, "--home", str(home.root), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def piped_home(crash_home, tmp_path_factory):
    """A crash-home copy on which `exo run --no-guards` ran once: a data_pipeline run and a snapshot
    materialization are in its instance, and the kill-switch is still enabled (no guard judged).
    Read-only for the tests: copy it to mutate."""
    home = copy_home(crash_home, tmp_path_factory.mktemp("flows") / "home")
    out = exo(home, "run", "--no-guards", "--now", AFTER_LAST_SESSION.isoformat())
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert read_state(home).trading_enabled
    return home


# --- status / runs ---------------------------------------------------------------------------------

def test_runs_show_the_exo_run_with_success(piped_home):
    p = json.loads(run(piped_home, "flows", "runs", "--flow", "data-pipeline", "--count", "5", "--json").stdout)
    assert p["flow"] == "data_pipeline" and p["kind"] == "job"
    assert len(p["runs"]) == 1
    r = p["runs"][0]
    assert (r["job"], r["status"], r["trigger"]) == ("data_pipeline", "SUCCESS", "exo run")
    assert r["duration_s"] > 0 and r["start"].endswith("Z") and r["failure"] is None
    text = run(piped_home, "flows", "runs", "--flow", "data-pipeline")
    assert text.exit_code == 0
    assert r["run_id"] in text.output and "SUCCESS" in text.output


def test_status_all_lists_every_runbook_name_with_a_status(piped_home):
    res = run(piped_home, "flows", "status", "--all", "--json")
    assert res.exit_code == 0
    p = json.loads(res.stdout)
    rows = {r["name"]: r for r in p["flows"]}
    for name in RUNBOOK_FLOWS:
        assert rows[name]["status"] in {"running", "stopped", "idle"}, rows[name]
        assert rows[name]["runbook_name"] == name.replace("_", "-")
    # sensors/schedules: the code's default (no daemon ever toggled them); jobs: their last run
    assert rows["intraday_pnl_sentinel"]["status"] == "running" and rows["intraday_pnl_sentinel"]["last_tick"] is None
    assert rows["data_pipeline"]["last_run"]["status"] == "SUCCESS"
    assert rows["rollback_drill"]["last_run"] is None
    assert rows["monthly_drawdown_guard_eod"]["next_tick"].endswith("23:10:00Z")
    # no daemon ever ran on this home: say so, with the fix
    assert not p["daemon"]["running"] and "exo flows dev" in p["warnings"][0]
    text = run(piped_home, "flows", "status", "--all").output
    for name in RUNBOOK_SPELLING:
        assert name in text
    assert "daemon not running?" in text


def test_status_of_one_runbook_name_shows_what_belongs_to_it(piped_home):
    p = json.loads(run(piped_home, "flows", "status", "monthly-drawdown-guard", "--json").stdout)
    names = [r["name"] for r in p["flows"]]
    assert names[0] == "monthly_drawdown_guard" and p["flows"][0]["kind"] == "sensor"
    assert {"monthly_drawdown_guard_check", "monthly_drawdown_guard_eod"} <= set(names)
    p = json.loads(run(piped_home, "flows", "status", "data_pipeline", "--json").stdout)
    assert {"input_watch", "intraday_refresh"} <= {r["name"] for r in p["flows"]}


def test_unknown_flow_and_missing_name_fail_with_one_line(piped_home):
    res = run(piped_home, "flows", "status", "intraday-pnl-sentry")
    assert res.exit_code == 1
    assert res.output.startswith("error: no flow named 'intraday-pnl-sentry'") and "intraday_pnl_sentinel" in res.output
    assert run(piped_home, "flows", "status").exit_code == 1
    assert run(piped_home, "flows", "runs", "--flow", "nope").exit_code == 1


def test_sensor_runs_without_a_daemon_say_no_ticks(piped_home):
    p = json.loads(run(piped_home, "flows", "runs", "--flow", "monthly-drawdown-guard", "--json").stdout)
    assert p["kind"] == "sensor" and p["ticks"] == []
    assert "monthly_drawdown_guard_check" in p["related_jobs"]
    assert any("daemon" in n for n in p["notes"])


# --- restart ---------------------------------------------------------------------------------------

def test_restart_sentinel_evaluates_a_tick_and_the_switch_flips(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    assert read_state(home).trading_enabled
    res = run(home, "flows", "restart", "--flow", "intraday-pnl-sentinel", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["flow"] == "intraday_pnl_sentinel" and out["action"] == "sensor tick"
    assert "judged the snapshot" in out["skip_reason"] and "CRITICAL" in out["skip_reason"]
    st = read_state(home)
    assert not st.trading_enabled and st.trigger == "daily_stop"
    assert st.updated_by == "sensor:intraday_pnl_sentinel"
    assert out["killswitch"]["state"] == "DISABLED"


def test_restart_sensor_without_a_recorded_snapshot_says_so(crash_home, tmp_path):
    home = copy_home(crash_home, tmp_path / "h")  # built outside Dagster: no materialization recorded
    res = run(home, "flows", "restart", "--flow", "intraday_pnl_sentinel")
    assert res.exit_code == 0
    assert "No new materialization" in res.output and "exo flows restart --flow data-pipeline" in res.output
    assert read_state(home).trading_enabled


def test_restart_job_runs_it_on_the_home_instance(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    res = run(home, "flows", "restart", "--flow", "monthly_drawdown_guard_check", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"] and out["status"] == "SUCCESS"
    assert isinstance(out["outputs"]["monthly_guard_op"], str)
    runs = json.loads(run(home, "flows", "runs", "--flow", "monthly_drawdown_guard_check", "--json").stdout)["runs"]
    assert [(r["run_id"], r["trigger"]) for r in runs] == [(out["run_id"], "exo flows restart")]


def test_a_failed_job_exits_1_and_runs_show_why(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    home.analytics_db.write_bytes(b"this is not a duckdb file" * 100)  # the guard cannot read the snapshot
    res = run(home, "flows", "restart", "--flow", "monthly_drawdown_guard_check")
    assert res.exit_code == 1
    assert "monthly_drawdown_guard_check FAILURE" in res.output and "monthly_guard_op" in res.output
    r = json.loads(run(home, "flows", "runs", "--flow", "monthly_drawdown_guard_check", "--json").stdout)["runs"][0]
    assert r["status"] == "FAILURE" and r["failure"].startswith("monthly_guard_op: ")
    assert r["failure"] in run(home, "flows", "runs", "--flow", "monthly_drawdown_guard_check").output
    st = json.loads(run(home, "flows", "status", "monthly_drawdown_guard_check", "--json").stdout)
    assert st["flows"][0]["last_run"]["status"] == "FAILURE"


def test_restart_data_pipeline_runs_exo_run(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    res = exo(home, "flows", "restart", "--flow", "data-pipeline")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "pipeline OK" in res.stdout
    runs = json.loads(run(home, "flows", "runs", "--flow", "data-pipeline", "--json").stdout)["runs"]
    assert len(runs) == 2 and runs[0]["status"] == "SUCCESS"
    # the guards ran as in `exo run`: the crash book halts
    st = read_state(home)
    assert not st.trading_enabled and st.updated_by == "exo flows restart"
    assert "kill-switch: trading DISABLED" in res.stdout


# --- monitor / dev ---------------------------------------------------------------------------------

def test_monitor_live_exits_and_shows_the_killswitch(piped_home):
    res = exo(piped_home, "flows", "monitor", "--live", "--for", "2", "--interval", "0.5", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "kill-switch: trading ENABLED" in res.stdout
    assert "intraday_pnl_sentinel" in res.stdout and "Latest runs" in res.stdout and "data_pipeline" in res.stdout


def test_dev_command_line(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    cmd = dev_command(home, port=3123)
    assert cmd.argv[1:] == ["dev", "-m", "dagster_project.definitions", "-h", "127.0.0.1", "-p", "3123"]
    assert Path(cmd.argv[0]).name == "dagster" and os.access(cmd.argv[0], os.X_OK)
    assert cmd.env["EXO_HOME"] == str(home.root) and cmd.env["DAGSTER_HOME"] == str(home.dagster_home)
    assert cmd.cwd == REPO_ROOT and (home.dagster_home / "dagster.yaml").exists()
    shown = json.loads(run(home, "flows", "dev", "--port", "3123", "--json").stdout)
    assert shown == cmd.describe()


# --- dashboard -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_recorded(home, started: list[int]) -> None:
    """Cleanup: every dashboard this test started, whatever happened."""
    rec = read_dashboard_record(home)
    for pid in {*started, *([rec["pid"]] if rec else [])}:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_dashboard_restart_status_health_stop(piped_home, tmp_path):
    home = copy_home(piped_home, tmp_path / "h")
    port = free_port()
    started: list[int] = []
    try:
        assert run(home, "dashboard", "status").exit_code == 1
        res = run(home, "dashboard", "restart", "--port", str(port), "--json")
        assert res.exit_code == 0, res.output
        first = json.loads(res.stdout)["started"]
        started.append(first["pid"])
        assert first["url"] == f"http://127.0.0.1:{port}/dashboard/risk-live"

        st = json.loads(run(home, "dashboard", "status", "--json").stdout)
        assert st["running"] and st["pid"] == first["pid"] and st["port"] == port and st["uptime_s"] >= 0
        text = run(home, "dashboard", "status")
        assert text.exit_code == 0 and "RUNNING" in text.output and st["url"] in text.output

        h = run(home, "dashboard", "health", "--json")
        body = json.loads(h.stdout)
        assert body["home"] == str(home.root) and body["killswitch"]["trading_enabled"] is True
        assert h.exit_code == (0 if body["healthy"] else 1)  # stale data in session → 503 → exit 1

        # restart replaces the process on the same port (taken from the pid file)
        res = run(home, "dashboard", "restart", "--json")
        second = json.loads(res.stdout)
        started.append(second["started"]["pid"])
        assert second["stopped"]["stopped"] == first["pid"] and second["stopped"]["signal"] == "SIGTERM"
        assert second["started"]["port"] == port and not pid_alive(first["pid"])

        assert run(home, "dashboard", "stop").exit_code == 0
        assert not pid_alive(second["started"]["pid"]) and not dashboard_pid_path(home).exists()
        gone = run(home, "dashboard", "status", "--port", str(port), "--json")
        assert gone.exit_code == 1 and not json.loads(gone.stdout)["running"]
        down = run(home, "dashboard", "health", "--port", str(port))
        assert down.exit_code == 1 and "does not answer" in down.output
    finally:
        _kill_recorded(home, started)


def test_dashboard_stale_pid_file_and_foreign_pid(crash_home, tmp_path):
    home = copy_home(crash_home, tmp_path / "h")
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = dashboard_pid_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": dead.pid, "host": "127.0.0.1", "port": free_port(),
                                "started_at": "2026-11-24T00:00:00Z"}))
    res = run(home, "dashboard", "status")
    assert res.exit_code == 1 and "stale pid file" in res.output
    # a live process that is not a dashboard is never signalled
    other = subprocess.Popen(["sleep", "60"])
    try:
        path.write_text(json.dumps({"pid": other.pid, "host": "127.0.0.1", "port": free_port()}))
        out = stop_dashboard(home)
        assert out["stopped"] is None and "not a dashboard" in out["note"]
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
