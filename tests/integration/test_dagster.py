"""The Dagster code location, for real: definitions load, the data_pipeline job materializes on a
real (temporary) instance, and the guard sensors evaluated with `build_sensor_context` flip the
kill-switch file exactly when they should — and not otherwise."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import datagen
import pandas as pd
import pytest
import yaml
from conftest import AFTER_LAST_SESSION, snapshot_query

from mech_exo.events import read_events
from mech_exo.home import REPO_ROOT, Home, init_home
from mech_exo.killswitch import read_state, set_trading

pytestmark = pytest.mark.slow

RUNBOOK_SENSORS = {"intraday_pnl_sentinel", "monthly_drawdown_guard", "var_limit_guard", "concentration_watch",
                   "data_freshness_watch", "run_failure_alert", "input_watch", "alert_delivery"}
RUNBOOK_JOBS = {"data_pipeline", "rollback_drill", "monthly_drawdown_guard_check", "drill_overdue_check"}


def definitions_for(home: Home):
    from dagster_project.definitions import build_definitions

    return build_definitions(home, now=AFTER_LAST_SESSION)


def materialize(home: Home, instance, with_guard_step: bool = False) -> dg.ExecuteInProcessResult:
    """The data_pipeline job, in-process, on ``instance`` (what the daemon would launch). By default
    without its guard step, so that the sensors' decisions are what the test observes."""
    from assets.ingest import landing
    from dagster_project.pipeline.assets import SNAPSHOT_KEY, exo_dbt_models

    selection = None if with_guard_step else [*landing.keys, *exo_dbt_models.keys, SNAPSHOT_KEY]
    result = definitions_for(home).resolve_job_def("data_pipeline").execute_in_process(
        instance=instance, raise_on_error=False, asset_selection=selection)
    assert result.success, [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return result


def evaluate(sensor_name: str, home: Home, instance, monkeypatch, cursor=None):
    """One sensor tick, as the daemon runs it (sensors find their home through EXO_HOME)."""
    monkeypatch.setenv("EXO_HOME", str(home.root))
    defs = definitions_for(home)
    sensor = defs.get_sensor_def(sensor_name)
    ctx = dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor)
    return sensor.evaluate_tick(ctx)


# --- tiny hand-made books for the boundaries --------------------------------------------------------

def weekdays(start: date, n: int) -> list[date]:
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def tiny_home(tmp_path: Path, *, n_sessions: int = 12, last_intraday: float | None = None,
              last_close: float = 100.0, spike_day: int | None = None, name: str = "tiny") -> Home:
    """$1,000,000 deposited, 10,000 AAA bought at 100 on the first day; AAA closes at 100 every
    session (16:00 EST = 21:00Z, November) except: the last session's close (``last_close``), an
    intraday mark at 10:00 local on the last session (``last_intraday``), and a +70 % bad print on
    session ``spike_day`` (a data error the checks must flag). day_return = (price − 100) / 100."""
    days = weekdays(date(2026, 11, 2), n_sessions)
    rows = []
    for i, d in enumerate(days):
        close = last_close if i == len(days) - 1 else (170.0 if i == spike_day else 100.0)
        rows.append((f"{d}T21:00:00Z", "AAA", close))
    if last_intraday is not None:
        rows.append((f"{days[-1]}T15:00:00Z", "AAA", last_intraday))
    root = datagen.write_inputs(
        tmp_path / name,
        fills=[{"fill_id": "F1", "ts": f"{days[0]}T14:30:00Z", "symbol": "AAA", "side": "BUY",
                "quantity": 10_000.0, "price": 100.0, "commission": 0.0, "strategy": "s1"}],
        flows=[{"flow_id": "C1", "ts": f"{days[0]}T14:00:00Z", "amount": 1_000_000.0, "note": "deposit"}],
        mark_files={"marks.csv": pd.DataFrame(rows, columns=["ts", "symbol", "price"])},
        securities=[("AAA", "Technology", "Alpha Corp")],
    )
    home = Home(Path(root))
    init_home(home)
    return home


def switch(home: Home):
    return read_state(home)


# --- tests ----------------------------------------------------------------------------------------

def test_definitions_load_with_the_runbook_names(tmp_path):
    home = Home(tmp_path / "h")
    init_home(home)
    defs = definitions_for(home)
    repo = defs.get_repository_def()
    assert RUNBOOK_SENSORS <= {s.name for s in repo.sensor_defs}
    assert RUNBOOK_JOBS <= {j.name for j in repo.get_all_jobs()}
    schedules = {s.name: s for s in repo.schedule_defs}
    assert schedules["monthly_drawdown_guard_eod"].cron_schedule == "10 23 * * *"
    assert schedules["intraday_refresh"].execution_timezone == "America/New_York"
    assert {"drill_overdue_check_daily", "rollback_drill_quarterly", "daily_summary_midnight",
            "health_check_morning"} <= set(schedules)
    # every dbt model is an asset, dbt tests are asset checks, GE suites too
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"nav_intraday", "nav_daily", "mtd_drawdown", "var_daily", "analytics_snapshot", "landing/fills"} <= keys
    check_names = {k.name for k in repo.asset_graph.asset_check_keys}
    assert any(n.startswith("not_null_nav_daily") for n in check_names)
    assert any(n.startswith("nav_daily__") for n in check_names)


def test_dagster_cli_validates_the_code_location(tmp_path):
    home = Home(tmp_path / "h")
    init_home(home)
    env = {**os.environ, "EXO_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    out = subprocess.run([str(Path(sys.executable).with_name("dagster")), "definitions", "validate",
                          "-m", "dagster_project.definitions"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stderr + out.stdout


def test_crash_scenario_the_sentinel_halts_by_itself(tmp_path, monkeypatch):
    home = Home(Path(datagen.make_home(tmp_path, seed=0, crash=True)))
    init_home(home)
    with dg.instance_for_test() as instance:
        result = materialize(home, instance)
        # the GE suites ran as asset checks on the published data
        evaluations = result.get_asset_check_evaluations()
        assert evaluations and all(e.passed for e in evaluations if e.severity == dg.AssetCheckSeverity.ERROR)
        assert switch(home).trading_enabled  # without its guard step the job decides nothing
        # the other guards' sensors do not halt on this book
        for other in ("monthly_drawdown_guard", "var_limit_guard", "concentration_watch"):
            evaluate(other, home, instance, monkeypatch)
        assert switch(home).trading_enabled
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
        st = switch(home)
        assert not st.trading_enabled and st.trigger == "daily_stop"
        assert st.updated_by == "sensor:intraday_pnl_sentinel"
        assert st.reason.startswith("CRITICAL DAY LOSS: -1.")
        alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
        assert any(a["message"].startswith("CRITICAL DAY LOSS") and a["severity"] == "CRITICAL" for a in alerts)
        # a second materialization of the same data: no second write, no second alert
        n_hist, n_alerts = len(st.history), len(alerts)
        materialize(home, instance)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
        assert len(switch(home).history) == n_hist
        assert len([e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]) == n_alerts


def test_the_jobs_own_guard_step_halts_right_after_the_publish(tmp_path, monkeypatch):
    """The fast path: the run that publishes a breaching snapshot halts trading itself, before the
    GE suites run; the sensor that follows finds the switch already off and changes nothing."""
    home = tiny_home(tmp_path, last_intraday=99.0)
    with dg.instance_for_test() as instance:
        result = materialize(home, instance, with_guard_step=True)
        st = switch(home)
        assert not st.trading_enabled and st.updated_by.startswith("dagster:")
        steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
        assert steps.index("guard_decisions") < steps.index("great_expectations")
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
    assert len(switch(home).history) == len(st.history)
    alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
    assert [a["message"] for a in alerts if a["severity"] == "CRITICAL"] == ["CRITICAL DAY LOSS: -1.00%"]


def test_quiet_scenario_nothing_halts(tmp_path, monkeypatch):
    home = Home(Path(datagen.make_home(tmp_path, seed=0, quiet=True)))
    init_home(home)
    with dg.instance_for_test() as instance:
        materialize(home, instance, with_guard_step=True)
        for name in ("intraday_pnl_sentinel", "monthly_drawdown_guard", "var_limit_guard", "concentration_watch"):
            evaluate(name, home, instance, monkeypatch)
    st = switch(home)
    assert st.trading_enabled and st.history == []


@pytest.mark.parametrize("price,halts", [(99.2, True), (99.20001, False), (99.0, True)],
                         ids=["-0.8%-exactly-halts", "-0.7999%-does-not", "-1.0%-halts"])
def test_intraday_threshold_boundary(tmp_path, monkeypatch, price, halts):
    home = tiny_home(tmp_path, last_intraday=price)
    with dg.instance_for_test() as instance:
        materialize(home, instance)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
    st = switch(home)
    assert st.trading_enabled is (not halts)
    if halts:
        assert st.reason.startswith(f"CRITICAL DAY LOSS: {price - 100:.2f}%")
    else:  # −0.7999 % is past the −0.4 % warning line: warned, not halted
        alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
        assert [a["severity"] for a in alerts] == ["WARNING"]


def test_a_reenabled_session_does_not_retrip_unless_the_loss_deepens(tmp_path, monkeypatch):
    home = tiny_home(tmp_path, last_intraday=99.1)  # −0.9 %
    with dg.instance_for_test() as instance:
        materialize(home, instance)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
        assert not switch(home).trading_enabled
        set_trading(home, enabled=True, reason="reviewed: feed glitch", trigger="manual", by="cli:test")
        # the same session, a new tick a little lower (−1.2 %): less than 0.5 pp deeper → stays on
        marks = home.market_dir / "tick.csv"
        day = pd.read_csv(home.market_dir / "marks.csv")["ts"].iloc[-2][:10]
        pd.DataFrame([(f"{day}T15:30:00Z", "AAA", 98.8)], columns=["ts", "symbol", "price"]).to_csv(marks, index=False)
        materialize(home, instance)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
        assert switch(home).trading_enabled
        # −1.5 %: 0.6 pp deeper than the −0.9 % it tripped at → halts again
        pd.DataFrame([(f"{day}T15:30:00Z", "AAA", 98.8), (f"{day}T15:45:00Z", "AAA", 98.5)],
                     columns=["ts", "symbol", "price"]).to_csv(marks, index=False)
        materialize(home, instance)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
    st = switch(home)
    assert not st.trading_enabled and "-1.50%" in st.reason


@pytest.mark.parametrize("n_sessions,halts", [(9, False), (10, True)], ids=["9-sessions-unarmed", "10-sessions-armed"])
def test_monthly_guard_arms_at_ten_sessions(tmp_path, monkeypatch, n_sessions, halts):
    home = tiny_home(tmp_path, n_sessions=n_sessions, last_close=96.9)  # MTD −3.1 %
    with dg.instance_for_test() as instance:
        materialize(home, instance)
        evaluate("monthly_drawdown_guard", home, instance, monkeypatch)
    st = switch(home)
    assert st.trading_enabled is (not halts)
    if halts:
        assert st.trigger == "monthly_stop" and "MONTHLY STOP-LOSS TRIGGERED: -3.10%" in st.reason


def test_failing_data_checks_still_halt_and_say_data_suspect(tmp_path, monkeypatch):
    home = tiny_home(tmp_path, last_intraday=99.0, spike_day=3)  # a +70 % bad print three sessions ago
    with dg.instance_for_test() as instance:
        result = materialize(home, instance)
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        assert any(name.startswith("nav_daily__expect_column_values_to_be_between") for name in failed)
        evaluate("intraday_pnl_sentinel", home, instance, monkeypatch)
    st = switch(home)
    assert not st.trading_enabled  # fail closed: the halt does not wait for clean data
    alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
    assert any("DATA SUSPECT" in a["message"] and "nav_daily" in a["message"] for a in alerts)


def test_a_failed_run_raises_a_critical_alert(tmp_path, monkeypatch):
    home = tiny_home(tmp_path)
    with (home.market_dir / "broken.csv").open("w") as fh:
        fh.write("ts,symbol\n2026-11-03T15:00:00Z,AAA\n")  # no price column
    with dg.instance_for_test() as instance:
        # a run-status sensor starts watching from its first tick, as under the daemon
        first = evaluate("run_failure_alert", home, instance, monkeypatch)
        result = definitions_for(home).resolve_job_def("data_pipeline").execute_in_process(
            instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        description = failure.event_specific_data.user_failure_data.description
        assert "data/market/broken.csv" in description and "price" in description
        evaluate("run_failure_alert", home, instance, monkeypatch, cursor=first.cursor)
    alerts = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert"]
    assert any(a["severity"] == "CRITICAL" and "DAGSTER RUN FAILED: data_pipeline" in a["message"] for a in alerts)


def test_webserver_serves_the_asset_graph_over_graphql(tmp_path):
    """Smoke test of what `dagster dev` shows: a real dagster-webserver on loopback."""
    import socket

    import requests

    home = Home(tmp_path / "h")
    init_home(home)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EXO_HOME": str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster-webserver")), "-m",
                             "dagster_project.definitions", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(f"{url}/server_info", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.25)
        query = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"
        nodes = []
        for _ in range(120):  # the code location loads in the background after start
            body = requests.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
            nodes = (body.get("data") or {}).get("assetNodes") or []
            if nodes:
                break
            time.sleep(0.5)
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert {"landing/marks", "nav_intraday", "mtd_drawdown", "var_daily", "analytics_snapshot"} <= set(by_key)
        assert {"landing/marks"} <= {"/".join(d["path"]) for d in by_key["stg_landing__marks"]["dependencyKeys"]}
        assert by_key["nav_intraday"]["groupName"] == "marts"
    finally:
        proc.terminate()
        proc.wait(30)


def test_rollback_drill_job_runs_the_drill_with_the_runbook_parameters(tmp_path, monkeypatch):
    home = Home(tmp_path / "h")
    init_home(home)
    monkeypatch.setenv("EXO_HOME", str(home.root))
    before = home.killswitch_yml.read_bytes()
    job = definitions_for(home).resolve_job_def("rollback_drill")
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields["rollback_drill_op"]
    defaults = {k: f.default_value for k, f in config.config_type.fields["config"].config_type.fields.items()}
    assert defaults == {"dry_run": True, "wait_seconds": 120, "interval_days": 90, "skip_frequency_check": False}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config={"ops": {"rollback_drill_op": {"config": {
            "dry_run": True, "wait_seconds": 0, "skip_frequency_check": True}}}})
    assert result.success
    rec = result.output_for_node("rollback_drill_op")
    assert rec["status"] == "PASS" and rec["dry_run"] is True
    assert home.killswitch_yml.read_bytes() == before  # a dry run leaves live state untouched
    drills = list(read_events(home.event_log("drills")))
    assert [d["drill_id"] for d in drills] == [rec["drill_id"]]


def test_alert_delivery_sensor_redelivers_the_outbox(tmp_path, monkeypatch):
    from telegram_server import TelegramTestServer, server_error

    from mech_exo.alerts import reset_notices, send_alert

    home = Home(tmp_path / "h")
    init_home(home)
    cfg = yaml.safe_load(home.alerts_yml.read_text())
    cfg["channels"]["telegram"].update(timeout_s=0.5, max_attempts=1, backoff_s=0.0)
    home.alerts_yml.write_text(yaml.safe_dump(cfg))
    with TelegramTestServer() as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
        monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100123")
        monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
        reset_notices()
        tg.queue(server_error())
        rec = send_alert(home, severity="CRITICAL", type="test", message="CRITICAL DAY LOSS: -0.95%")
        assert not rec["delivered"]
        with dg.instance_for_test() as instance:
            result = evaluate("alert_delivery", home, instance, monkeypatch)
        assert "1 delivered" in result.skip_message
        texts = [(c.get("json") or {}).get("text", "") for c in tg.calls("sendMessage")]
        # the first call failed (500), the sensor's redelivery was the second, with the text intact
        assert len(texts) == 2 and all("CRITICAL DAY LOSS: -0.95%" in t for t in texts)


def test_monthly_guard_end_of_day_job_halts_on_a_breached_month(tmp_path, monkeypatch):
    home = tiny_home(tmp_path, n_sessions=10, last_close=96.9)  # MTD −3.1 %, 10 sessions: armed
    with dg.instance_for_test() as instance:
        materialize(home, instance)
        assert switch(home).trading_enabled
        monkeypatch.setenv("EXO_HOME", str(home.root))
        result = definitions_for(home).resolve_job_def("monthly_drawdown_guard_check").execute_in_process(
            instance=instance)
    assert result.success and "HALTED" in result.output_for_node("monthly_guard_op")
    st = switch(home)
    assert not st.trading_enabled and st.trigger == "monthly_stop"
    assert st.updated_by == "sensor:monthly_drawdown_guard"


def test_daily_summary_and_health_check_jobs_report_the_snapshot(crash_home, tmp_path, monkeypatch):
    from conftest import copy_home

    home = copy_home(crash_home, tmp_path / "h")
    monkeypatch.setenv("EXO_HOME", str(home.root))
    defs = definitions_for(home)
    with dg.instance_for_test() as instance:
        summary = defs.resolve_job_def("daily_summary").execute_in_process(instance=instance)
        health = defs.resolve_job_def("health_check").execute_in_process(instance=instance)
    assert summary.success and health.success
    headline = summary.output_for_node("daily_summary_op")
    infos = [e for e in read_events(home.event_log("alerts")) if e.get("event") == "alert" and e["severity"] == "INFO"]
    assert len(infos) == 1 and infos[0]["message"].startswith(f"Daily summary {headline['session_date']}: NAV $")
    # the only check that may fail on this old data is the (WARN) freshness of the marks
    assert all(name.startswith("marks:") and "age" in name for name in health.output_for_node("health_check_op"))


def test_the_intraday_watcher_halts_seconds_after_a_breach_lands(tmp_path, monkeypatch):
    """The session-long watcher run ticks on every input change: a breaching batch becomes a halt
    within the same run, and each tick is recorded as asset materializations."""
    import threading

    home = tiny_home(tmp_path)  # quiet so far
    monkeypatch.setenv("EXO_HOME", str(home.root))
    day = pd.read_csv(home.market_dir / "marks.csv")["ts"].iloc[-1][:10]
    landed = {}

    def land_breach():
        for _ in range(600):  # wait for the first tick's snapshot, then drop the breach
            if home.analytics_db.exists() and (home.state_dir / "checks.json").exists():
                break
            time.sleep(0.1)
        time.sleep(1.5)
        tmp = home.market_dir / ".breach.tmp"
        pd.DataFrame([(f"{day}T15:00:00Z", "AAA", 99.0)], columns=["ts", "symbol", "price"]).to_csv(tmp, index=False)
        tmp.rename(home.market_dir / "breach.csv")
        landed["at"] = time.time()

    thread = threading.Thread(target=land_breach)
    thread.start()
    with dg.instance_for_test() as instance:
        result = definitions_for(home).resolve_job_def("intraday_watch").execute_in_process(
            instance=instance, run_config={"ops": {"intraday_watch_op": {"config": {
                "max_seconds": 25, "poll_seconds": 0.2}}}})
        thread.join()
        assert result.success and result.output_for_node("intraday_watch_op") == 2
        st = switch(home)
        assert not st.trading_enabled and st.reason == "CRITICAL DAY LOSS: -1.00%"
        assert st.updated_by.startswith("dagster:")
        halted_at = datetime.fromisoformat(st.updated_at.replace("Z", "+00:00")).timestamp()
        assert halted_at >= int(landed["at"]), "halted by the tick of the breach (timing: the benchmark)"
        mats = instance.fetch_materializations(dg.AssetKey("analytics_snapshot"), limit=10).records
        assert len(mats) == 2 and instance.fetch_materializations(dg.AssetKey("nav_intraday"), limit=10).records


def test_exo_run_stands_aside_while_the_intraday_watcher_owns_the_warehouse(tmp_path):
    """A second pipeline run would wait for the warehouse pool until the close: say so instead."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    from mech_exo.flows.run import run_pipeline
    from mech_exo.instance import open_instance

    home = tiny_home(tmp_path)
    with open_instance(home) as instance:
        instance.add_run(DagsterRun(job_name="intraday_watch", run_id="0badc0de-0000-4000-8000-000000000000",
                                    status=DagsterRunStatus.STARTED))
    report = run_pipeline(home)
    assert not report.ok and report.failed_step == "busy"
    assert "intraday watcher (Dagster run 0badc0de)" in report.error
    assert not home.analytics_db.exists()  # nothing was built behind the watcher's back


def test_exo_flows_stop_ends_the_watcher_and_frees_the_warehouse(tmp_path):
    import threading

    from click.testing import CliRunner

    from mech_exo.cli.main import cli
    from mech_exo.flows.run import watcher_run_id
    from mech_exo.instance import open_instance
    from mech_exo.watch import stop_file

    home = tiny_home(tmp_path)
    out = {}

    def watch():
        with open_instance(home) as instance:
            out["result"] = definitions_for(home).resolve_job_def("intraday_watch").execute_in_process(
                instance=instance, run_config={"ops": {"intraday_watch_op": {"config": {
                    "max_seconds": 120, "poll_seconds": 0.2}}}})

    thread = threading.Thread(target=watch)
    thread.start()
    for _ in range(600):  # until the first tick has published
        if watcher_run_id(home) and (home.state_dir / "checks.json").exists():
            break
        time.sleep(0.1)
    res = CliRunner().invoke(cli, ["--home", str(home.root), "flows", "stop", "--flow", "intraday-watch"])
    thread.join(60)
    assert res.exit_code == 0 and "intraday watcher stopped" in res.output, res.output
    assert not thread.is_alive() and out["result"].success
    assert out["result"].output_for_node("intraday_watch_op") == 1
    assert watcher_run_id(home) is None and not stop_file(home).exists()
    again = CliRunner().invoke(cli, ["--home", str(home.root), "flows", "stop", "--flow", "intraday-watch"])
    assert again.exit_code == 0 and "not running" in again.output


def test_exo_run_on_an_unchanged_home_only_rejudges_the_guards(tmp_path):
    """Nothing the build reads changed: no ingest, no build, the guards judge the snapshot again
    (they depend on the clock); a new fill or an edited risk.yml rebuilds. An event (a halt, an
    alert) does not: the event models are refreshed in the snapshot as each event is written
    (mech_exo/snapshot.py), so the run after a halting run is a re-judge, not a build."""
    import sqlite3

    from mech_exo import snapshot
    from mech_exo.flows.run import run_pipeline
    from mech_exo.killswitch import set_trading

    home = tiny_home(tmp_path)
    first = run_pipeline(home, now=AFTER_LAST_SESSION)
    assert first.ok and first.unchanged_since is None and first.ingest is not None
    snapshot.wait_for_refresh()
    snap = home.analytics_db.stat().st_mtime_ns

    again = run_pipeline(home, now=AFTER_LAST_SESSION)
    assert again.ok and again.unchanged_since == first.run_id, "the first run's alerts did not force a build"
    assert again.guards and again.headline == first.headline
    snapshot.wait_for_refresh()
    assert home.analytics_db.stat().st_mtime_ns == snap, "nothing was rebuilt or republished"

    set_trading(home, enabled=False, reason="manual test halt", trigger="manual", by="test")  # an event
    after_event = run_pipeline(home, now=AFTER_LAST_SESSION)
    assert after_event.ok and after_event.unchanged_since == first.run_id
    snapshot.wait_for_refresh()
    assert snapshot_query(home, "select reason from killswitch_events where reason = 'manual test halt'") \
        == [{"reason": "manual test halt"}], "the event is in SQL without a build"

    with sqlite3.connect(home.trading_db) as c:
        c.execute("insert into fills values ('LATE1', '2026-11-17T15:30:00Z', 'AAA', 'BUY', 1, 100.0, 0.0, 'alpha')")
    after_fill = run_pipeline(home, now=AFTER_LAST_SESSION)
    assert after_fill.ok and after_fill.unchanged_since is None and after_fill.ingest["rows_read"]["fills"] >= 1
    # (risk.yml, the models and --full-refresh: tests/unit/test_build_key.py)
