"""The health of the halt path (issue #10): `exo health full-check`, ``/health`` and its HTML view.

Real parts: a real Dagster instance per home (opened through mech_exo.instance), real runs of a
tiny job named ``data_pipeline`` in the ``exo_warehouse`` pool (tests/support/health_jobs.py), a real
process killed with -9 while it holds the slot, a real second run waiting for it, a real
``dagster-daemon`` killed with -9, a real schedule/sensor state written by the ``dagster`` CLI, a
real SQLite lock on the run storage, real corrupt instance files. The judges are pure functions,
tested at their boundaries with exact numbers.
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
from click.testing import CliRunner

from mech_exo.health import checks as c
from mech_exo.health.checks import FAIL, OK, UNKNOWN, WARN, RunFact, SlotFact

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
JOBS = TESTS / "support" / "health_jobs.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
NY = {"timezone": "America/New_York", "open": "09:30", "close": "16:00"}
MON_OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)      # Monday 09:30 New York
FRI_CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)      # Friday 16:00 New York


def _escalation_available() -> bool:
    from mech_exo.flows.halt_path import escalation_source

    return escalation_source()[0] is not None


HAVE_ESCALATION = _escalation_available()


# --- pure judges at their boundaries -----------------------------------------------------------------

def test_freshness_in_session_boundary_is_cadence_plus_grace():
    limit = (c.IN_SESSION_CADENCE_MIN + c.GRACE_MIN) * 60
    assert limit == 600
    now = MON_OPEN + timedelta(hours=2)
    ok = c.judge_freshness(now.timestamp() - limit, now, NY)
    stale = c.judge_freshness(now.timestamp() - limit - 1, now, NY)
    assert ok.status == OK and ok.data["in_session"] is True
    assert stale.status == FAIL and "stale" in stale.detail and "10 min" in stale.detail and "exo run" in stale.fix
    # the first minutes of a session are not stale by definition: the age counts from the open
    friday = FRI_CLOSE.timestamp()
    assert c.judge_freshness(friday, MON_OPEN + timedelta(seconds=limit), NY).status == OK
    assert c.judge_freshness(friday, MON_OPEN + timedelta(seconds=limit + 1), NY).status == FAIL
    assert c.judge_freshness(None, MON_OPEN + timedelta(seconds=limit + 1), NY).status == FAIL


def test_freshness_outside_session_wants_the_last_close_judged():
    sat = datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc)
    assert c.last_close_before(sat, NY) == FRI_CLOSE
    after = c.judge_freshness(FRI_CLOSE.timestamp() + 60, sat, NY)
    before = c.judge_freshness(FRI_CLOSE.timestamp() - 60, sat, NY)
    assert after.status == OK and after.data["in_session"] is False
    assert before.status == WARN and "close" in before.detail
    # within the grace after the close, nothing is due yet
    assert c.judge_freshness(FRI_CLOSE.timestamp() - 60, FRI_CLOSE + timedelta(minutes=10), NY).status == OK
    assert c.judge_freshness(None, sat, NY).status == WARN


def test_daemon_boundaries():
    now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    t = now.timestamp()
    req = ["SENSOR", "SCHEDULER"]
    beats = lambda age: {k: {"at": t - age, "errors": []} for k in req}  # noqa: E731
    assert c.judge_daemon(beats(120), req, [], 0, now).status == OK
    down = c.judge_daemon(beats(121), req, [], 0, now)
    assert down.status == FAIL and "daemon down" in down.detail and "exo flows dev" in down.fix
    running = [{"name": "monthly_drawdown_guard_eod", "type": "SCHEDULE", "status": "RUNNING"}]
    never = c.judge_daemon({}, req, running, 0, now)
    assert never.status == FAIL and "no daemon heartbeat ever" in never.detail and "monthly_drawdown_guard_eod" in never.detail
    assert c.judge_daemon({}, req, [], 0, now).status == WARN                   # never used on this home
    assert c.judge_daemon({}, req, [], 2, now).status == FAIL                   # runs wait in the queue
    stopped = [{"name": "x", "type": "SENSOR", "status": "STOPPED"}]
    assert c.judge_daemon({}, req, stopped, 0, now).status == WARN
    one_dead = {**beats(5), "SCHEDULER": {"at": t - 600, "errors": []}}
    part = c.judge_daemon(one_dead, req, running, 0, now)
    assert part.status == FAIL and "SCHEDULER 10 min" in part.detail
    errs = {k: {"at": t - 5, "errors": ["boom"]} for k in req}
    assert c.judge_daemon(errs, req, [], 0, now).status == WARN


def _slot(run_id, *, holds, alive, since=None, job="data_pipeline", pid="123", why=None, status="STARTED"):
    return SlotFact(run_id, job, "step", status, pid, "host", alive, why, holds, since)


def test_warehouse_boundaries():
    now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    t = now.timestamp()
    assert c.judge_warehouse([], [], [], now).status == OK
    holder = _slot("a" * 36, holds=True, alive=True, since=t - 60)
    assert c.judge_warehouse([holder, _slot("b" * 36, holds=False, alive=True, since=t - 600)], [], [], now).status == OK
    wedged = c.judge_warehouse([holder, _slot("b" * 36, holds=False, alive=True, since=t - 601)], [], [], now)
    assert wedged.status == FAIL and "waiting" in wedged.detail and "aaaaaaaa" in wedged.detail
    assert "exo flows stop --flow data-pipeline" in wedged.fix and "kill pid 123" in wedged.fix
    dead = c.judge_warehouse([_slot("d" * 36, holds=True, alive=False, why="its process (pid 9) is gone")], [], [], now)
    assert dead.status == FAIL and "pid 9" in dead.detail and "exo run" in dead.fix
    q = RunFact("q" * 36, "data_pipeline", "QUEUED", "sensor:input_watch", created=t - 601)
    assert c.judge_warehouse([], [], [q], now).status == FAIL
    assert c.judge_warehouse([], [], [RunFact("q" * 36, "x", "QUEUED", "m", created=t - 600)], now).status == OK
    long = _slot("l" * 36, holds=True, alive=True, since=t - 1801)
    assert c.judge_warehouse([long], [], [], now).status == WARN
    watcher = _slot("w" * 36, holds=True, alive=True, since=t - 6 * 3600, job="intraday_watch")
    assert c.judge_warehouse([watcher], [], [], now).status == OK


def test_pipeline_runs_merge_dagster_and_cli_records():
    now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    t = now.timestamp()
    ok = RunFact("s" * 36, "data_pipeline", "SUCCESS", "sensor:input_watch", t - 300, t - 300, t - 290)
    bad = RunFact("f" * 36, "data_pipeline", "FAILURE", "schedule:intraday_refresh", t - 100, t - 100, t - 90,
                  failure="exo_dbt_models: boom")
    assert c.judge_pipeline_runs([], None, now).status == WARN
    comp = c.judge_pipeline_runs([bad, ok], None, now)
    assert comp.status == FAIL and "ffffffff" in comp.detail and "boom" in comp.detail
    assert comp.data["finished_24h"] == 2 and comp.data["failed_24h"] == 1
    # a later `exo run` that never reached Dagster (config halt) decides
    cli_fail = {"ok": False, "failed_step": "config", "error": "risk.yml line 3", "finished_at":
                (now - timedelta(seconds=10)).isoformat()}
    assert c.judge_pipeline_runs([ok], cli_fail, now).status == FAIL
    cli_ok = {"ok": True, "finished_at": (now - timedelta(seconds=10)).isoformat(), "run_id": "x" * 36}
    merged = c.judge_pipeline_runs([bad, ok], cli_ok, now)
    assert merged.status == OK and merged.data["finished_24h"] == 3
    # the same run recorded by both: one outcome, with the CLI's verdict (failed data checks)
    same = {"ok": False, "failed_step": "data checks", "error": "1 failed", "run_id": ok.run_id,
            "finished_at": (now - timedelta(seconds=280)).isoformat()}
    outs = c.pipeline_outcomes([ok], same)
    assert len(outs) == 1 and outs[0]["ok"] is False and outs[0]["source"] == "exo run (Dagster)"


def test_escalation_judge_never_ok_without_its_source():
    assert c.judge_escalation(None, missing="not importable").status == UNKNOWN
    assert c.judge_escalation(None, error="KeyError: x").status == FAIL
    assert c.judge_escalation([]).status == OK
    late = c.judge_escalation([{"alert_id": "A1", "type": "monthly_stop", "level": "lead", "contact": "Lee",
                                "late_minutes": 12.5, "reason": "not_escalated"}])
    assert late.status == FAIL and "A1" in late.detail and "12.5 min late" in late.detail
    assert "exo alerts flush" in late.fix and "exo alerts ack A1" in late.fix
    assert UNKNOWN in c.UNHEALTHY and FAIL in c.UNHEALTHY and WARN not in c.UNHEALTHY


def test_cadence_matches_the_intraday_refresh_schedule(tmp_path):
    """The freshness judge's cadence is the intraday_refresh cron (*/5 in session): keep them equal."""
    import health_jobs

    from dagster_project.pipeline.schedules import make_intraday_refresh
    from mech_exo.home import Home, init_home

    h = Home.resolve(tmp_path / "h")
    init_home(h)
    cron = make_intraday_refresh(health_jobs.data_pipeline, h).cron_schedule
    assert cron.split()[0] == f"*/{c.IN_SESSION_CADENCE_MIN:g}"


# --- real Dagster instance ---------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    from mech_exo.alerts import reset_notices
    from mech_exo.home import Home, init_home

    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    h = Home.resolve(tmp_path / "home")
    init_home(h)
    reset_notices()
    yield h
    reset_notices()


def comps(home, now=None, **kw):
    from mech_exo.flows.halt_path import halt_path_components

    return {x.component: x for x in halt_path_components(home, now, **kw)}


def runs_in_instance(home):
    """Independent read of the instance: (run_id, status) of every data_pipeline run."""
    import dagster as dg

    from mech_exo.instance import open_instance

    with open_instance(home) as inst:
        return [(r.dagster_run.run_id, r.dagster_run.status.value)
                for r in inst.get_run_records(dg.RunsFilter(job_name="data_pipeline"))]


def test_real_runs_a_failed_pipeline_fails_and_dagster_and_cli_runs_both_count(home):
    import health_jobs

    assert comps(home)["pipeline runs"].status == WARN   # nothing ran yet
    good = health_jobs.execute(home.root, tags={"dagster/sensor_name": "input_watch"})
    bad = health_jobs.execute(home.root, fail=True)
    assert good.success and not bad.success
    got = comps(home)
    runs = got["pipeline runs"]
    assert runs.status == FAIL and bad.run_id[:8] in runs.detail and health_jobs.FAIL_REASON in runs.detail
    assert "exo run" in runs.fix
    truth = runs_in_instance(home)
    assert runs.data["counts_24h"] == {"SUCCESS": sum(s == "SUCCESS" for _, s in truth),
                                       "FAILURE": sum(s == "FAILURE" for _, s in truth)} == {"SUCCESS": 1, "FAILURE": 1}
    assert runs.data["finished_24h"] == 2 and runs.data["failed_24h"] == 1
    # a later `exo run` recorded OK (its own record, no Dagster run) makes the pipeline OK again
    from mech_exo.runstate import write_run_status

    write_run_status(home, {"ok": True, "finished_at": datetime.now(timezone.utc).isoformat(), "run_id": None})
    runs = comps(home)["pipeline runs"]
    assert runs.status == OK and runs.data["finished_24h"] == 3 and "1 by `exo run`" in runs.detail
    assert got["Dagster instance"].status == OK and got["warehouse pool"].status == OK


def test_stale_pipeline_in_session_after_a_real_success(home):
    import health_jobs

    assert health_jobs.execute(home.root).success
    truth = runs_in_instance(home)
    assert [s for _, s in truth] == ["SUCCESS"]
    from mech_exo.flows.halt_path import last_success
    from mech_exo.flows.health_facts import read_facts

    facts = read_facts(home)
    end = last_success(facts, None)
    assert end is not None and abs(end - time.time()) < 120
    # the next weekday's session: fine in its first 10 minutes, stale after
    day = datetime.fromtimestamp(end, timezone.utc).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    open_utc = c._window_on(day, NY)[0]
    assert comps(home, open_utc + timedelta(minutes=9))["pipeline freshness"].status == OK
    stale = comps(home, open_utc + timedelta(minutes=11))["pipeline freshness"]
    assert stale.status == FAIL and "11 min" in stale.detail


def _start_holder(home, hold_s=120):
    p = subprocess.Popen([sys.executable, str(JOBS), str(home.root), str(hold_s)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.strip() == "holding":
            return p
        if not line and p.poll() is not None:
            break
    p.kill()
    raise AssertionError("the holder never took the warehouse slot")


def test_a_slot_held_by_a_killed_run_is_wedged_until_exo_run_frees_it(home):
    from dagster_project.pipeline.pool import reap
    from mech_exo.cli.main import cli
    from mech_exo.instance import open_instance

    p = _start_holder(home)
    assert comps(home)["warehouse pool"].status == OK           # a live holder is fine
    os.killpg(p.pid, signal.SIGKILL)                               # OOM / power loss
    p.wait(10)
    (run_id, status), = runs_in_instance(home)
    assert status == "STARTED"                                     # Dagster still thinks it runs
    got = comps(home)
    pool = got["warehouse pool"]
    assert pool.status == FAIL and run_id[:8] in pool.detail and f"pid {p.pid}" in pool.detail and "gone" in pool.detail
    assert "exo run" in pool.fix
    res = CliRunner().invoke(cli, ["--home", str(home.root), "health", "full-check"], catch_exceptions=False)
    assert res.exit_code == 1 and "wedged" in res.output and "To recover" in res.output and "exo run" in res.output
    js = json.loads(CliRunner().invoke(cli, ["--home", str(home.root), "health", "full-check", "--json"]).stdout)
    assert not js["ok"] and {x["component"]: x["status"] for x in js["components"]}["warehouse pool"] == FAIL
    with open_instance(home) as inst:                              # what `exo run` does first
        assert [r["run_id"] for r in reap(inst, by="test")] == [run_id]
    after = comps(home)
    assert after["warehouse pool"].status == OK
    assert after["pipeline runs"].status == FAIL and "reaped" in after["pipeline runs"].detail


def test_a_run_waiting_behind_a_live_holder_is_wedged_after_the_limit(home):
    p = _start_holder(home, hold_s=120)
    waiter = subprocess.Popen([sys.executable, str(JOBS), str(home.root), "0"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pool = comps(home)["warehouse pool"]
            if pool.data["waiting"]:
                break
            time.sleep(0.5)
        assert pool.status == OK and len(pool.data["waiting"]) == 1, pool
        holder_id = pool.data["holder"]["run_id"]
        later = comps(home, datetime.now(timezone.utc) + timedelta(seconds=c.WAIT_LIMIT_S + 30))["warehouse pool"]
        assert later.status == FAIL and "waiting for the warehouse" in later.detail and holder_id[:8] in later.detail
        assert f"kill pid {p.pid}" in later.fix and "exo flows stop --flow data-pipeline" in later.fix
    finally:
        for proc in (waiter, p):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _dagster_bin(name):
    return str(Path(sys.executable).with_name(name))


def test_daemon_down_while_a_sensor_is_running_and_alive_while_it_beats(home):
    from mech_exo.instance import ensure_instance_storage

    dh = ensure_instance_storage(home)
    env = {**ENV, "DAGSTER_HOME": str(dh)}
    assert comps(home)["Dagster daemon"].status == WARN              # never used here: not expected
    res = subprocess.run([_dagster_bin("dagster"), "sensor", "start", "-f", str(JOBS), "health_probe"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    down = comps(home)["Dagster daemon"]
    assert down.status == FAIL and "daemon down" in down.detail and "health_probe" in down.detail
    assert "exo flows dev" in down.fix
    daemon = subprocess.Popen([_dagster_bin("dagster-daemon"), "run", "-f", str(JOBS)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        alive = None
        while time.monotonic() < deadline:
            alive = comps(home)["Dagster daemon"]
            if alive.status == OK:
                break
            time.sleep(1)
        assert alive.status == OK and "alive" in alive.detail, alive
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
    assert comps(home)["Dagster daemon"].status == OK                # its last beat is still recent
    later = comps(home, datetime.now(timezone.utc) + timedelta(seconds=c.DAEMON_STALE_S + 60))["Dagster daemon"]
    assert later.status == FAIL and "last heartbeat" in later.detail


def test_an_unreadable_instance_is_a_failed_component_not_a_crash(home):
    from mech_exo.cli.main import cli
    from mech_exo.instance import ensure_instance_storage

    dh = ensure_instance_storage(home)
    (dh / "dagster.yaml").write_text("run_coordinator: [unclosed\n")
    t0 = time.monotonic()
    got = comps(home)
    assert time.monotonic() - t0 < 5
    inst = got["Dagster instance"]
    assert inst.status == FAIL and "unreadable" in inst.detail and str(dh) in inst.detail
    assert got["warehouse pool"].status == UNKNOWN and got["Dagster daemon"].status == UNKNOWN
    assert got["pipeline runs"].status in (UNKNOWN, FAIL)
    res = CliRunner().invoke(cli, ["--home", str(home.root), "health", "full-check"], catch_exceptions=False)
    assert res.exit_code == 1 and "Traceback" not in res.output and "Dagster instance" in res.output
    # a run storage that is not a database at all
    (dh / "dagster.yaml").unlink()
    from mech_exo.home import ensure_dagster_home

    ensure_dagster_home(home)
    for db in dh.rglob("runs.db"):
        db.write_bytes(b"this is not sqlite" * 100)
    inst = comps(home)["Dagster instance"]
    assert inst.status == FAIL and "unreadable" in inst.detail


def test_a_locked_run_storage_answers_within_the_budget(home):
    """WAL readers are not blocked by a writer; a connection in exclusive locking mode blocks them
    (as a wedged process holding the storage would): the read gives up at the budget."""
    import health_jobs

    assert health_jobs.execute(home.root).success
    runs_db = next(home.dagster_home.rglob("runs.db"))
    locker = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('pragma locking_mode=exclusive'); c.execute('begin exclusive'); "
        "c.execute('select count(*) from runs').fetchone(); print('locked', flush=True); sys.stdin.read()"), str(runs_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        from mech_exo.flows.health_facts import read_facts

        read_facts(home, budget_s=0.1)                               # imports paid once, as in the dashboard
        t0 = time.monotonic()
        facts = read_facts(home, budget_s=1.5)
        took = time.monotonic() - t0
        assert took < 10.0, took   # bounded (not timed: the budget is 1.5 s; a loaded CI machine gets slack)
        assert facts.error and ("did not answer within 1.5 s" in facts.error or "locked" in facts.error), facts.error
    finally:
        locker.stdin.close()
        locker.wait(10)
    assert read_facts(home).error is None


# --- escalation ----------------------------------------------------------------------------------------

def test_escalation_unknown_when_its_source_is_missing_and_that_is_unhealthy(home, monkeypatch):
    from mech_exo.flows import halt_path

    monkeypatch.setattr(halt_path, "ESCALATION_SOURCES", ("mech_exo.alerts.no_such_module",))
    esc = comps(home)["alert escalation"]
    assert esc.status == UNKNOWN and "no_such_module" in esc.detail
    from mech_exo.cli.main import cli

    js = json.loads(CliRunner().invoke(cli, ["--home", str(home.root), "health", "full-check", "--json"]).stdout)
    assert js["ok"] is False
    assert {x["component"]: x["status"] for x in js["components"]}["alert escalation"] == UNKNOWN


@pytest.mark.skipif(not HAVE_ESCALATION, reason="escalation_overdue is not in this tree yet (alerts helper's work)")
def test_an_unescalated_critical_is_a_failed_component(home):
    from mech_exo.alerts import send_alert

    send_alert(home, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP-LOSS TRIGGERED: -3.10%")
    assert comps(home)["alert escalation"].status == OK           # nothing due yet
    late = comps(home, datetime.now(timezone.utc) + timedelta(hours=3))["alert escalation"]
    assert late.status == FAIL and "overdue" in late.detail and "exo alerts flush" in late.fix


# --- /health and the health view ------------------------------------------------------------------------

def _client(home):
    from mech_exo.dashboard import create_app

    return create_app(home).server.test_client()


def test_health_endpoint_reports_the_halt_path_fast_and_503s_on_a_dead_holder(home):
    c_ = _client(home)
    c_.get("/health")                                                 # warm: imports paid once per process
    t0 = time.monotonic()
    r = c_.get("/health")
    assert time.monotonic() - t0 < 8.0  # far under a hung read; slack for a loaded machine
    body = r.get_json()
    names = [x["component"] for x in body["halt_path"]["components"]]
    assert names == ["Dagster instance", "pipeline runs", "warehouse pool", "pipeline freshness", "Dagster daemon",
                     "alert escalation"]
    p = _start_holder(home)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)
    r = c_.get("/health")
    body = r.get_json()
    assert r.status_code == 503 and body["halt_path"]["healthy"] is False
    assert any(x.startswith("warehouse pool: FAIL") and "exo run" in x for x in body["problems"])
    page = c_.get("/health", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    html = page.get_data(as_text=True)
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert 'data-component="warehouse pool" data-status="FAIL"' in html and "UNHEALTHY" in html
    assert c_.get("/health", headers={"Accept": "*/*"}).mimetype == "application/json"
    assert c_.get("/health?format=html").mimetype == "text/html"


def test_health_counts_the_halt_path_as_healthy_when_it_is(home):
    """Every halt-path component OK or WARN ⇒ no halt-path problem (escalation needs its source)."""
    import health_jobs

    assert health_jobs.execute(home.root).success
    body, _ = __import__("mech_exo.dashboard.health", fromlist=["x"]).health_report(
        __import__("mech_exo.reporting.query", fromlist=["x"]).RiskQueryEngine(home))
    st = {x["component"]: x["status"] for x in body["halt_path"]["components"]}
    assert st["Dagster instance"] == OK and st["pipeline runs"] == OK and st["warehouse pool"] == OK
    assert st["alert escalation"] == (OK if HAVE_ESCALATION else UNKNOWN)
    assert body["halt_path"]["healthy"] is HAVE_ESCALATION
