"""mech_exo.dagster_storage (the home's instance read from its SQLite files, no Dagster import)
against Dagster's own API on a real instance: real runs (one failed with a dg.Failure, one tagged
by a sensor), sensor states written by the `dagster` CLI, ticks recorded by a real `dagster-daemon`
(skipped and failed ones). Each reader must give what Dagster's reader gives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mech_exo import dagster_storage as dr

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
JOBS = TESTS / "support" / "health_jobs.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _bin(name):
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="module")
def instance_home(tmp_path_factory):
    import health_jobs

    from mech_exo.home import Home, init_home
    from mech_exo.instance import ensure_instance_storage, open_instance

    home = Home.resolve(tmp_path_factory.mktemp("dread") / "home")
    init_home(home)
    dh = ensure_instance_storage(home)
    health_jobs.execute(home.root)
    health_jobs.execute(home.root, tags={"dagster/sensor_name": "input_watch", "exo/trigger": "sensor:input_watch"})
    health_jobs.execute(home.root, fail=True)
    env = {**ENV, "DAGSTER_HOME": str(dh)}
    for sensor in ("health_probe", "health_probe_failing"):
        res = subprocess.run([_bin("dagster"), "sensor", "start", "-f", str(JOBS), sensor], capture_output=True,
                             text=True, env=env, cwd=REPO, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
    daemon = subprocess.Popen([_bin("dagster-daemon"), "run", "-f", str(JOBS)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = dr.instigators(dh)
            if len(states) == 2 and all(len(dr.ticks(dh, s["selector_id"], 3)) >= 3 for s in states.values()):
                break
            time.sleep(1)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
    with open_instance(home):
        pass
    return home


def test_runs_equal_dagsters_for_every_filter(instance_home):
    import dagster as dg

    from mech_exo.instance import open_instance

    dh = instance_home.dagster_home
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    filters = [({}, dg.RunsFilter()), ({"job": "data_pipeline"}, dg.RunsFilter(job_name="data_pipeline")),
               ({"job": "nope"}, dg.RunsFilter(job_name="nope")),
               ({"tags": {"dagster/sensor_name": "input_watch"}}, dg.RunsFilter(tags={"dagster/sensor_name": "input_watch"})),
               ({"statuses": ["FAILURE"]}, dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])),
               ({"created_after": since.timestamp()}, dg.RunsFilter(created_after=since)),
               ({"created_after": time.time() + 60}, dg.RunsFilter(created_after=datetime.now(timezone.utc) + timedelta(minutes=1)))]
    with open_instance(instance_home) as inst:
        for limit in (1, 2, 10):
            for mine, theirs in filters:
                want = inst.get_run_records(filters=theirs, limit=limit)
                got = dr.runs(dh, limit=limit, **mine)
                assert [g["run_id"] for g in got] == [w.dagster_run.run_id for w in want], mine
                for g, w in zip(got, want):
                    assert g["job"] == w.dagster_run.job_name and g["status"] == w.dagster_run.status.value
                    assert g["tags"] == dict(w.dagster_run.tags)
                    assert g["start"] == w.start_time and g["end"] == w.end_time
                    assert abs(g["created"] - w.create_timestamp.timestamp()) < 1e-6
    assert len(dr.runs(dh, limit=None)) == 3


def test_a_failed_runs_reason_is_the_one_line_exo_run_prints(instance_home):
    import dagster as dg
    import health_jobs

    from mech_exo.flows.run import failure_message
    from mech_exo.instance import open_instance

    dh = instance_home.dagster_home
    (failed,) = dr.runs(dh, statuses=["FAILURE"])
    assert dr.latest_failure(dh, failed["run_id"]) == f"build_step: {health_jobs.FAIL_REASON}"
    with open_instance(instance_home) as inst:  # the same rule on Dagster's live event object
        (ev,) = inst.all_logs(failed["run_id"], of_type=dg.DagsterEventType.STEP_FAILURE)
    assert failure_message(ev.dagster_event) == health_jobs.FAIL_REASON
    ok = dr.runs(dh, statuses=["SUCCESS"])[0]
    assert dr.latest_failure(dh, ok["run_id"]) is None


def test_a_run_failed_by_the_instance_reads_its_message(instance_home, tmp_path):
    """A run failed from outside (the reaper's report_run_failed) has no step failure: its reason is
    the RUN_FAILURE message, which Dagster stores as PIPELINE_FAILURE."""
    import dagster as dg

    from mech_exo.home import Home, init_home
    from mech_exo.instance import open_instance

    home = Home.resolve(tmp_path / "reaped")
    init_home(home)
    with open_instance(home) as inst:
        run = inst.create_run_for_job(dg.JobDefinition(graph_def=dg.GraphDefinition(name="data_pipeline", node_defs=[])))
        inst.report_run_failed(run, message="reaped by test: its process (pid 1) is gone")
    (rec,) = dr.runs(home.dagster_home)
    assert rec["status"] == "FAILURE"
    assert dr.latest_failure(home.dagster_home, rec["run_id"]) == "reaped by test: its process (pid 1) is gone"


def test_instigators_ticks_and_heartbeats_equal_dagsters(instance_home):
    from mech_exo.instance import open_instance

    dh = instance_home.dagster_home
    mine = dr.instigators(dh)
    with open_instance(instance_home) as inst:
        states = {s.instigator_name: s for s in inst.all_instigator_state()}
        assert set(mine) == set(states) == {"health_probe", "health_probe_failing"}
        for name, s in states.items():
            assert mine[name]["status"] == s.status.value == "RUNNING"
            assert mine[name]["type"] == s.instigator_type.value == "SENSOR"
            assert mine[name]["selector_id"] == s.selector_id
            for limit in (1, 3, 50):
                want = inst.get_ticks(s.instigator_origin_id, s.selector_id, limit=limit)
                got = dr.ticks(dh, s.selector_id, limit)
                assert len(got) == len(want) >= min(limit, 3)
                for g, w in zip(got, want):
                    assert (g["status"], g["timestamp"], g["end_timestamp"], g["run_ids"], g["skip_reason"]) == (
                        w.status.value, w.timestamp, w.end_timestamp, list(w.run_ids), w.skip_reason)
                    assert g["error"] == (w.error.message if w.error else None)
        beats = inst.get_daemon_heartbeats()
    assert {t["status"] for t in dr.ticks(dh, mine["health_probe"]["selector_id"], 10)} == {"SKIPPED"}
    failing = dr.ticks(dh, mine["health_probe_failing"]["selector_id"], 10)
    assert {t["status"] for t in failing} == {"FAILURE"} and "health_probe_failing" in failing[0]["error"]
    assert failing[0]["cause"] == "RuntimeError: probe failed on purpose"  # the root cause, for the on-call
    got = dr.heartbeats(dh)
    assert set(got) == set(beats) and "SENSOR" in got
    for kind, hb in beats.items():
        assert got[kind]["at"] == hb.timestamp and got[kind]["daemon_id"] == hb.daemon_id
    latest = max(t["timestamp"] for s in mine.values() for t in dr.ticks(dh, s["selector_id"], 1))
    assert dr.latest_tick_at(dh) == latest


def test_a_home_whose_instance_was_never_opened_has_nothing_recorded(tmp_path):
    dh = tmp_path / ".dagster"
    assert dr.runs(dh) == [] and dr.instigators(dh) == {} and dr.heartbeats(dh) == {}
    assert dr.ticks(dh, "x") == [] and dr.latest_tick_at(dh) is None and dr.latest_failure(dh, "r") is None
    assert not dh.exists()  # reading created nothing


def test_the_readers_never_import_dagster(instance_home):
    code = ("import sys; from pathlib import Path; from mech_exo import dagster_storage as dr; "
            f"dh = Path({str(instance_home.dagster_home)!r}); "
            "[dr.latest_failure(dh, r['run_id']) for r in dr.runs(dh, limit=None)]; "
            "[dr.ticks(dh, s['selector_id']) for s in dr.instigators(dh).values()]; dr.heartbeats(dh); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'sqlalchemy', 'alembic')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_pool_materialization_and_required_daemons_equal_dagsters(instance_home):
    import dagster as dg

    from mech_exo.instance import open_instance

    dh = instance_home.dagster_home
    with open_instance(instance_home) as inst:   # an open records the required daemon types beside the instance
        info = inst.event_log_storage.get_concurrency_info("exo_warehouse")
        required = list(inst.get_required_daemon_types())
        ev = inst.get_latest_materialization_event(dg.AssetKey("analytics_snapshot"))
    pool = dr.concurrency(dh, "exo_warehouse")
    assert [(c["run_id"], c["step_key"]) for c in pool["claimed"]] == [(c.run_id, c.step_key) for c in info.claimed_slots]
    assert [p["run_id"] for p in pool["pending"]] == [p.run_id for p in info.pending_steps]
    assert dr.required_daemons(dh) == required and "SENSOR" in required
    assert dr.latest_materialization_at(dh, ["analytics_snapshot"]) == (ev.timestamp if ev else None)
    (dh / "dagster.yaml").write_text((dh / "dagster.yaml").read_text() + "\n# edited\n")
    assert dr.required_daemons(dh) is None  # dagster.yaml changed: the record no longer vouches
    with open_instance(instance_home):
        pass
    assert dr.required_daemons(dh) == required
    ok = dr.runs(dh, statuses=["SUCCESS"])[0]
    assert dr.run_by_id(dh, ok["run_id"]) == ok and dr.run_by_id(dh, "no-such-run") is None
