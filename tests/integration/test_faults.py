"""The fault matrix of issue #10, each fault injected for real: `exo run` killed with -9 at several
points, SIGTERM mid-build, a live holder of the warehouse, a typo in risk.yml on a crashing book, a
read-only home (a real read-only bind mount), a moved and a copied home, bad input rows.

Kill-switch faults (full disk, unwritable audit log, dead drill) are in test_faults_killswitch.py;
alert delivery faults (hanging Telegram, flush, escalation without daemon) in test_faults_alerts.py.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from conftest import copy_home

pytestmark = pytest.mark.slow

EXO = [sys.executable, "-m", "mech_exo.cli.main"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def exo(home, *args, timeout=180, check=False) -> subprocess.CompletedProcess:
    res = subprocess.run([*EXO, "--home", str(home.root), *args], capture_output=True, text=True,
                         timeout=timeout, env=ENV)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


class ExoRun:
    """`exo run` in its own process group, its output read line by line as it comes."""

    def __init__(self, home, *args):
        self.proc = subprocess.Popen([*EXO, "--home", str(home.root), "run", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"never saw {text!r}; output:\n" + "\n".join(self.lines))

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the whole group: exo and its dbt child, as OOM/power loss would
        self.proc.wait(10)
        self._reader.join(5)

    def output(self) -> str:
        self._reader.join(5)
        return "\n".join(self.lines)


def dagster_runs(home):
    from mech_exo.instance import open_instance

    with open_instance(home) as inst:
        recs = inst.get_run_records(limit=20)
        return [(r.dagster_run.run_id, r.dagster_run.status.value) for r in recs]


def slot_holders(home):
    from mech_exo.instance import open_instance

    with open_instance(home) as inst:
        info = inst.event_log_storage.get_concurrency_info("exo_warehouse")
        return [s.run_id for s in info.claimed_slots]


@pytest.fixture
def run_home(crash_home, tmp_path):
    return copy_home(crash_home, tmp_path / "home")


# --- 1. a crashed run never wedges the next ----------------------------------------------------------

def test_kill9_at_each_step_never_wedges_the_next_run(run_home):
    """kill -9 during ingest, then (in the next run) during dbt, then during publish: each next run
    frees the dead run's slot, gets past it, and the last one finishes."""
    for kill_at in ("landing: started", "exo_dbt_models: started", "analytics_snapshot: started"):
        r = ExoRun(run_home, "--full-refresh")
        r.wait_for(kill_at)
        r.kill9()
        assert slot_holders(run_home), f"killed at {kill_at!r}: its slot should be held (the fault under test)"
        if kill_at != "landing: started":
            assert "freed the warehouse slot of Dagster run" in r.output(), r.output()

    t0 = time.monotonic()
    res = exo(run_home, "run", timeout=240)
    out = res.stdout + res.stderr
    assert "freed the warehouse slot of Dagster run" in out, out
    assert "pipeline OK" in out, out
    assert time.monotonic() - t0 < 200
    assert slot_holders(run_home) == []
    statuses = [s for _, s in dagster_runs(run_home)]
    assert "STARTED" not in statuses, statuses   # the dead runs are marked failed, not left STARTED
    assert statuses.count("FAILURE") == 3, statuses
    runs = exo(run_home, "flows", "runs", "--flow", "data-pipeline").stdout
    assert "reaped by" in runs and "is gone" in runs, runs


def test_sigterm_ends_exo_run_mid_build_and_leaves_nothing_held(run_home):
    r = ExoRun(run_home, "--full-refresh")
    r.wait_for("exo_dbt_models: started")
    os.kill(r.proc.pid, signal.SIGTERM)        # the exo process only, as `kill PID` or systemd would
    r.proc.wait(60)                            # ends (it used to ignore SIGTERM while waiting)
    assert r.proc.returncode != 0
    # whatever it left is freed by the next start (the reaper) — nothing blocks, nothing stays STARTED
    from mech_exo.flows.run import reap_dead_runs

    reap_dead_runs(run_home, by="test")
    assert slot_holders(run_home) == []
    assert "STARTED" not in [s for _, s in dagster_runs(run_home)]


def test_a_live_holder_is_waited_for_a_bounded_time_and_named(run_home):
    from mech_exo.flows.run import run_pipeline

    r = ExoRun(run_home, "--full-refresh")
    try:
        r.wait_for("exo_dbt_models: started")
        t0 = time.monotonic()
        report = run_pipeline(run_home, by="test", wait_s=1.0)
        waited = time.monotonic() - t0
        assert report.failed_step == "warehouse busy"
        holder = [rid for rid in slot_holders(run_home)][0]
        assert holder[:8] in report.error and f"pid {r.proc.pid}" in report.error, report.error
        assert "exo flows stop" in report.error
        assert waited < 30
    finally:
        r.kill9()


def test_the_daemon_sensor_reaps_a_dead_holder(run_home):
    import dagster as dg

    from dagster_project.pipeline.pool import warehouse_pool_reaper
    from mech_exo.instance import open_instance

    r = ExoRun(run_home, "--full-refresh")
    r.wait_for("exo_dbt_models: started")
    r.kill9()
    with open_instance(run_home) as inst:
        first = warehouse_pool_reaper(dg.build_sensor_context(instance=inst))
        assert "freed 1 dead holder" in first.skip_message
        again = warehouse_pool_reaper(dg.build_sensor_context(instance=inst))
        assert "no dead holder" in again.skip_message   # idempotent
    assert slot_holders(run_home) == []


# --- 2. config that cannot be read fails closed --------------------------------------------------------

def _break_risk_yml(home, old="threshold_pct: -0.8", new="threshold_pct: -0.8x") -> int:
    text = home.risk_yml.read_text()
    assert old in text
    home.risk_yml.write_text(text.replace(old, new, 1))
    return next(i for i, line in enumerate(home.risk_yml.read_text().splitlines(), 1) if new in line)


def _enable(home):
    from mech_exo.killswitch import read_state, set_trading

    if not read_state(home).trading_enabled:
        set_trading(home, enabled=True, reason="test setup", trigger="manual", by="test")


@pytest.mark.parametrize("old,new,rule", [
    ("threshold_pct: -0.8", "threshold_pct: -0.8x", "daily_stop.threshold_pct must be a number"),
    ("window: 250", "window: [250", "not valid YAML"),
])
def test_unreadable_risk_yml_halts_with_a_critical_alert_naming_file_and_line(run_home, old, new, rule):
    _enable(run_home)
    line = _break_risk_yml(run_home, old, new)
    res = exo(run_home, "run")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Traceback" not in out, out
    assert f"{run_home.risk_yml}:" in out and rule in out, out
    status = exo(run_home, "kill", "status", "--json").stdout
    assert '"trading_enabled": false' in status, status
    assert "RISK CONFIG UNREADABLE" in status
    from mech_exo.events import read_events

    alerts = [a for a in read_events(run_home.event_log("alerts")) if a.get("event") == "alert"]
    crit = [a for a in alerts if a.get("severity") == "CRITICAL" and "RISK CONFIG UNREADABLE" in a.get("message", "")]
    assert crit, alerts[-3:]
    if "must be a number" in rule:
        assert f"risk.yml:{line}:" in crit[-1]["message"]
    # re-enabling is refused (one line, no traceback) while the file cannot be read
    on = exo(run_home, "kill", "on", "--reason", "try")
    assert on.returncode != 0 and "Traceback" not in on.stderr and "risk.yml" in on.stderr
    # a second run does not re-alert the same error
    exo(run_home, "run")
    again = [a for a in read_events(run_home.event_log("alerts"))
             if a.get("event") == "alert" and "RISK CONFIG UNREADABLE" in a.get("message", "")]
    assert len(again) == len(crit)


def test_guard_sensors_and_the_code_location_survive_a_broken_risk_yml(run_home, monkeypatch):
    from dagster_project.definitions import build_definitions
    from mech_exo.guard_runner import tick
    from mech_exo.killswitch import read_state

    _enable(run_home)
    _break_risk_yml(run_home)
    defs = build_definitions(run_home)          # loads: the daemon keeps evaluating sensors
    assert defs.resolve_job_def("data_pipeline")
    results = tick(run_home, guards=["intraday-pnl-sentinel"], by="sensor:intraday_pnl_sentinel")
    assert results[0]["guard"] == "risk-config" and results[0]["halted"]
    assert not read_state(run_home).trading_enabled


# --- 8. a read-only home, bad input: one clear line, no stack trace ------------------------------------

def _can_mount() -> bool:
    return shutil.which("mount") is not None and os.geteuid() == 0


@pytest.mark.skipif(not _can_mount(), reason="needs root to make a real read-only bind mount")
def test_run_on_a_read_only_home_says_so_in_one_line(run_home, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ok = subprocess.run(["mount", "--bind", str(run_home.root), str(ro)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip(f"bind mount not permitted here: {ok.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True, capture_output=True)
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")          # really read-only
        res = subprocess.run([*EXO, "--home", str(ro), "run"], capture_output=True, text=True, timeout=120, env=ENV)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "Traceback" not in res.stderr, res.stderr
        assert "read-only" in res.stderr and str(ro) in res.stderr, res.stderr
        status = subprocess.run([*EXO, "--home", str(ro), "kill", "status"], capture_output=True, text=True, env=ENV)
        assert status.returncode in (0, 1) and "Trading" in status.stdout   # reads still answer
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_bad_input_prints_the_reason_without_dagster_stack_traces(run_home):
    db = run_home.data_dir / "trading.db"
    con = sqlite3.connect(db)
    con.execute("update fills set quantity = 'ten' where rowid = (select max(rowid) from fills)")
    con.commit()
    con.close()
    res = exo(run_home, "run")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "quantity must be a number" in out and "trading.db fills row" in out, out
    for noise in ("Traceback", "dagster._core", "DagsterExecutionStepExecutionError", 'File "'):
        assert noise not in out, out


# --- 6. the snapshot is relocatable ------------------------------------------------------------------

def test_a_moved_home_reads_its_own_data_and_passes_its_checks(run_home, tmp_path):
    import duckdb

    moved = tmp_path / "moved"
    shutil.move(str(run_home.root), moved)
    con = duckdb.connect(str(moved / "data" / "analytics.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
        n = con.execute("select count(*) from stg_landing__fills").fetchone()[0]
        assert n > 0
        refs = con.execute("select count(*) from duckdb_views() where sql like ?", [f"%{run_home.root}%"]).fetchone()[0]
        assert refs == 0
    finally:
        con.close()
    from mech_exo.home import Home

    res = exo(Home(moved), "data", "validate")
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_copied_home_never_reads_the_original(run_home, tmp_path):
    import duckdb

    copy = copy_home(run_home, tmp_path / "copy")
    # change the original's landing: a copy that read it would see the change
    for p in (run_home.data_dir / "landing").rglob("*.parquet"):
        p.unlink()
    con = duckdb.connect(str(copy.analytics_db), read_only=True)
    try:
        assert con.execute("select count(*) from stg_landing__fills").fetchone()[0] > 0
        assert con.execute("select count(*) from nav_daily").fetchone()[0] > 0
    finally:
        con.close()
