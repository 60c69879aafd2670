"""`exo run`: the Dagster job ``data_pipeline`` in-process, with the safety a 3 a.m. run needs.

* Config that cannot be read halts first (``fail_closed_on_config``): no build against a typo.
* The warehouse pool slot is *claimed* before the job starts (``claim_warehouse``): slots left by
  dead runs (kill -9, OOM, power loss) are freed, and a live holder is waited for at most
  ``wait_s`` seconds, then named in the failure (never an endless wait at 97 % CPU).
* Every run is tagged with the process that runs it (pid, start time, host), so a later reaper
  can tell a dead holder from a live one.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from mech_exo import snapshot
from mech_exo.guard_runner import service_alerts
from mech_exo.home import Home, exo_home_env
from mech_exo.pipeline_state import pipeline_failure_alert
from mech_exo.runstate import as_jsonable, read_state, utc_now, write_run_status
from mech_exo.warehouse import build_key

WAREHOUSE_WAIT_S = 120.0   # how long `exo run` waits for a live holder of the warehouse slot


class WarehouseBusy(RuntimeError):
    """The warehouse slot is held by a live run for longer than we wait; the message names it."""


def claim_warehouse(home: Home, instance, *, by: str, wait_s: float = WAREHOUSE_WAIT_S,
                    poll_s: float = 0.5, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Free dead holders' slots, then wait (bounded) until no live run holds the warehouse.
    Returns what was reaped; raises WarehouseBusy naming the holder after ``wait_s``."""
    from dagster_project.pipeline.pool import live_holder, reap

    reaped = reap(instance, by=by)
    for r in reaped:
        _notify(progress, f"freed the warehouse slot of Dagster run {r['run_id'][:8]} ({r['why_dead']})")
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        holder = live_holder(instance)
        if holder is None:
            return reaped
        if time.monotonic() >= deadline:
            raise WarehouseBusy(
                f"the warehouse is held by {holder.describe()} for more than {wait_s:g}s; "
                f"see `exo flows runs --flow {holder.job or 'data-pipeline'}`; stop it with "
                f"`exo flows stop --flow {holder.job or 'data-pipeline'}` (or kill pid {holder.pid}) and run again")
        if not told:
            _notify(progress, f"waiting up to {wait_s:g}s for the warehouse: held by {holder.describe()}")
            told = True
        time.sleep(poll_s)
        reaped += reap(instance, by=by)


@dataclass
class RunReport:
    ok: bool
    started_at: str
    finished_at: str | None = None
    failed_step: str | None = None
    error: str | None = None
    ingest: dict[str, Any] | None = None
    build: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    run_id: str | None = None
    unchanged_since: str | None = None   # run id: nothing the build reads changed, only the guards ran


def _notify(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress:
        progress(msg)


def execute_data_pipeline(home: Home, *, now: datetime | None = None, full_refresh: bool = False,
                          show_steps: bool = False, guards: bool = True, by: str = "exo run",
                          wait_s: float = WAREHOUSE_WAIT_S, progress: Callable[[str], None] | None = None,
                          guards_only: bool = False):
    """Run the Dagster job ``data_pipeline`` in-process on the home's own Dagster instance (so the
    run shows in `exo flows runs` and the UI). Returns the Dagster execution result; raises
    WarehouseBusy when a live run keeps the warehouse longer than ``wait_s``."""
    ops = {"exo_dbt_models": {"config": {"full_refresh": True}}} if full_refresh else {}
    selection = None
    if guards_only:  # nothing the build reads changed: re-judge the published snapshot
        from dagster_project.pipeline.assets import GUARDS_KEY

        selection = [GUARDS_KEY]
    elif not guards:  # everything but the guard step
        from assets.ingest import landing
        from dagster_project.pipeline.assets import SNAPSHOT_KEY, exo_dbt_models

        selection = [*landing.keys, *exo_dbt_models.keys, SNAPSHOT_KEY]
    return execute_job(home, "data_pipeline", ops=ops, loggers={"exo_progress": {}} if show_steps else {},
                       trigger="exo run", now=now, by=by, wait_s=wait_s, progress=progress,
                       asset_selection=selection)


def execute_job(home: Home, job_name: str, *, ops: dict[str, Any], loggers: dict[str, Any], trigger: str,
                now: datetime | None, by: str, wait_s: float, progress: Callable[[str], None] | None,
                asset_selection: list | None = None):
    """One job of the code location, in-process on the home's instance, after claiming the warehouse
    slot. Dagster's own lines go to data/warehouse/last_run.log (dagster-dbt echoes every dbt event
    to stdout: that goes there too); ``loggers`` add what the terminal shows."""
    from dagster_project.definitions import build_definitions
    from dagster_project.pipeline.pool import holder_tags
    from mech_exo.instance import dagster_instance

    instance = dagster_instance(home)
    try:
        claim_warehouse(home, instance, by=by, wait_s=wait_s, progress=progress)
    except BaseException:
        instance.dispose()
        raise
    defs = build_definitions(home, now=now, actor=by)
    job = defs.resolve_job_def(job_name)
    # the on-call reads the one-line reason the command prints (failure_message); the log holds the rest
    log_path = home.warehouse_dir / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    run_config: dict[str, Any] = {"loggers": {"exo_file_log": {"config": {"path": str(log_path)}}, **loggers}}
    if ops:
        run_config["ops"] = ops
    try:
        with exo_home_env(home), open(log_path, "a") as log, contextlib.redirect_stdout(log):
            return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                          tags={"exo/trigger": trigger, **holder_tags()},
                                          asset_selection=asset_selection)
    finally:
        instance.dispose()
        _remember_flows(home, defs)


def _remember_flows(home: Home, defs) -> None:
    """After the job (never before a halt): keep the code location's flows for `exo flows status`,
    unless they are already kept for this code (a few ms to check)."""
    from mech_exo.flows.known import catalog, remember_catalog, remembered_catalog

    if remembered_catalog(home) is None:
        remember_catalog(home, catalog(defs))


def reap_dead_runs(home: Home, *, by: str, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Free the warehouse slots and fail the runs of processes that are gone (see pool.py)."""
    if not (home.dagster_home / "dagster.yaml").exists():
        return []
    from dagster_project.pipeline.pool import reap
    from mech_exo.instance import open_instance

    with open_instance(home) as instance:
        reaped = reap(instance, by=by)
    for r in reaped:
        _notify(progress, f"freed the warehouse slot of Dagster run {r['run_id'][:8]} ({r['why_dead']})")
    return reaped


def watcher_run_id(home: Home) -> str | None:
    """The run id of a live ``intraday_watch`` run on this home's instance, if any."""
    if not (home.dagster_home / "dagster.yaml").exists():
        return None
    import dagster as dg

    from dagster_project.pipeline.watch import JOB_NAME
    from mech_exo.instance import open_instance

    with open_instance(home) as instance:
        runs = instance.get_run_records(dg.RunsFilter(job_name=JOB_NAME, statuses=[
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1)
    return runs[0].dagster_run.run_id if runs else None


def run_pipeline(home: Home, *, now: datetime | None = None, full_refresh: bool = False,
                 guards: bool = True, by: str = "exo run", wait_s: float = WAREHOUSE_WAIT_S,
                 progress: Callable[[str], None] | None = None, skip_unchanged: bool = True) -> RunReport:
    """`exo run`: the Dagster job ``data_pipeline`` in-process (ingest → dbt build → publish → guards
    → checks); its guard step runs the same decision path the sensors use. Never raises for a step
    failure: the report says which step failed and why (and a CRITICAL alert went out)."""
    home.ensure_dirs()
    t0 = time.perf_counter()
    report = RunReport(ok=False, started_at=utc_now().isoformat())
    key = build_key.build_key(home)
    # `exo data refresh` / `exo flows restart` ask for the work itself: skip_unchanged=False
    same_as = None if full_refresh or not guards or not skip_unchanged else build_key.unchanged_since(home, key)
    # this run's records replace the last run's (a failed step must not show the previous figures);
    # an unchanged home keeps the build's: it is the build the guards judge again
    for stale in ("guards.json",) if same_as else ("ingest.json", "build.json", "guards.json"):
        (home.state_dir / stale).unlink(missing_ok=True)

    def finish(step: str | None = None, error: str | None = None, guards_ran: bool = False) -> RunReport:
        report.failed_step, report.error = step, error
        report.ok = step is None
        report.finished_at = utc_now().isoformat()
        report.duration_s = round(time.perf_counter() - t0, 3)
        if step is not None:
            pipeline_failure_alert(home, step, error or "", guards_ran=guards_ran)
            service_alerts(home)  # no guard tick ran after this alert: deliver / escalate it now
        write_run_status(home, as_jsonable(report))
        return report

    from mech_exo.guard_runner import fail_closed_on_config

    config_halt = fail_closed_on_config(home, by)
    if config_halt is not None:  # risk.yml unreadable: halted + CRITICAL already; nothing to build against
        report.guards = config_halt
        report.failed_step = "config"
        report.error = config_halt[0]["message"]
        report.finished_at = utc_now().isoformat()
        report.duration_s = round(time.perf_counter() - t0, 3)
        write_run_status(home, as_jsonable(report))
        return report
    reap_dead_runs(home, by=by, progress=progress)  # a run killed earlier must not block this one
    busy = watcher_run_id(home)
    if busy:
        # The watcher holds the warehouse pool all session; a second run would wait until the close.
        report.failed_step = "busy"
        report.error = (f"the intraday watcher (Dagster run {busy[:8]}) owns the warehouse during the session and "
                        "rebuilds on every input change; to force a rebuild now, stop it first with "
                        "`exo flows stop --flow intraday-watch`, then run again")
        report.finished_at = utc_now().isoformat()
        return report
    if same_as:
        report.unchanged_since = same_as
        snapshot.catch_up(home)   # an event a failed background refresh left out of SQL
        _notify(progress, f"inputs, risk.yml and models unchanged since run {same_as[:8]}: "
                          "the guards re-judge the published snapshot (no ingest, no build; --full-refresh forces one)")
    else:
        _notify(progress, "data_pipeline: ingest → dbt build → publish → checks (Dagster, in-process)")
    try:
        result = execute_data_pipeline(home, now=now, full_refresh=full_refresh, show_steps=progress is not None,
                                       guards=guards, by=by, wait_s=wait_s, progress=progress,
                                       guards_only=bool(same_as))
    except WarehouseBusy as exc:
        return finish("warehouse busy", str(exc))
    report.run_id = result.run_id
    report.ingest = read_state(home, "ingest.json")
    build_state = read_state(home, "build.json")
    report.build = build_state
    if not result.success:
        failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
        step = failure.step_key if failure else "data_pipeline"
        message = failure_message(failure)
        return finish(step, f"{message} (log: {home.warehouse_dir / 'last_run.log'})")

    checks = read_state(home, "checks.json") or {}
    report.checks = checks.get("outcomes", [])
    failed = list(checks.get("failed", []))
    from mech_exo.reporting.snapshot import connect
    from mech_exo.reporting.summary import headline

    con = connect(home)
    try:
        report.headline = as_jsonable(headline(con))
    finally:
        con.close()
    report.guards = (read_state(home, "guards.json") or []) if guards else []
    if failed:  # the job's check step already alerted (DATA SUSPECT); report and exit non-zero
        report.failed_step, report.error = "data checks", f"{len(failed)} failed: " + ", ".join(failed[:5])
        report.ok = False
        report.finished_at = utc_now().isoformat()
        report.duration_s = round(time.perf_counter() - t0, 3)
        write_run_status(home, as_jsonable(report))
        return report
    if not same_as:
        build_key.record(home, key, report.run_id)
    return finish()


def failure_message(event) -> str:
    """One line for a failure DagsterEvent of an in-process run: the same rule as for stored runs
    (``dagster_storage.failure_text``), on the event as Dagster serialises it."""
    if event is None:
        return "the run failed (see `exo flows runs`)"
    from dagster._serdes import serialize_value

    from mech_exo.dagster_storage import failure_text

    return failure_text(json.loads(serialize_value(event)))


def watch(home: Home, *, for_s: float | None = None, poll_s: float = 0.25, fast_path: bool = True,
          now: datetime | None = None, by: str = "exo watch", wait_s: float = WAREHOUSE_WAIT_S,
          progress: Callable[[str], None] | None = None, requests_since: float | None = None):
    """`exo watch`: the Dagster job ``intraday_watch`` (the one its schedule starts at the open) in
    the foreground, in-process on the home's instance. ``for_s`` ends it after that many seconds
    whatever the wall clock says; otherwise it ends after today's close (at once outside a session:
    one tick). Each tick prints one line (``tick …``) on stdout. A stop request (``stop_file``: Ctrl-C
    or SIGTERM in `exo watch`, or `exo flows stop`) ends it after the tick in progress. Returns the
    Dagster execution result; raises WarehouseBusy / WatcherRunning."""
    busy = watcher_run_id(home)
    if busy:
        raise WarehouseBusy(f"an intraday watcher (Dagster run {busy[:8]}) already runs on {home.root}; "
                            "stop it with `exo flows stop --flow intraday-watch` first")
    cfg: dict[str, Any] = {"poll_seconds": poll_s, "fast_path": fast_path,
                           "stop_requests_since": requests_since if requests_since is not None else time.time()}
    if for_s is not None:
        cfg["max_seconds"] = max(float(for_s), 0.001)
    return execute_job(home, "intraday_watch", ops={"intraday_watch_op": {"config": cfg}},
                       loggers={"exo_ticks": {}}, trigger="exo watch", now=now, by=by, wait_s=wait_s,
                       progress=progress)
