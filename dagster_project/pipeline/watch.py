"""The session-long intraday watcher as a Dagster job (``intraday_watch``).

It runs ``mech_exo.watch.Watcher`` — the pipeline in one warm process, a tick whenever the inputs
change — from the open until a few minutes after the close, and logs every tick's asset
materializations (landing, dbt models, the snapshot, the guard decisions) so the guard sensors,
the UI and ``exo flows`` see each tick. While it runs it holds the warehouse pool, and
``input_watch`` / ``intraday_refresh`` stand aside (they would only queue behind it).
"""
from datetime import datetime, timedelta, timezone

import dagster as dg

from assets.ingest import LANDING_TABLES
from dagster_project.pipeline.assets import GUARDS_KEY, SNAPSHOT_KEY
from dagster_project.pipeline.pool import POOL, tag_holder
from dagster_project.resources import ExoHomeResource
from mech_exo import session_calendar
from mech_exo.config import session_or_default

JOB_NAME = "intraday_watch"


class WatchConfig(dg.Config):
    poll_seconds: float = 0.25
    minutes_after_close: int = 5
    # 0 = until the session's close (+ minutes_after_close); otherwise this many seconds, session or not
    max_seconds: float = 0.0
    # judge the intraday sentinel on the models it reads before the full build (mech_exo.warehouse.fast_path)
    fast_path: bool = True
    # epoch seconds: a stop request written after this is for this run (`exo watch` passes its start)
    stop_requests_since: float = 0.0


def session_deadline(risk: dict, now: datetime, minutes_after_close: int) -> datetime:
    """Today's close (exchange time) plus the grace minutes, in UTC (the session calendar's rule)."""
    return session_calendar.today_close(now, risk["session"], minutes_after_close)


def watcher_running(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_run_records(dg.RunsFilter(job_name=JOB_NAME, statuses=[
        dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1)
    return bool(runs)


@dg.op(pool=POOL, description="Tick the warm pipeline whenever fills or marks change, until after the close.")
def intraday_watch_op(context: dg.OpExecutionContext, config: WatchConfig, exo: ExoHomeResource) -> int:
    from mech_exo.watch import Watcher, tick_line

    tag_holder(context)
    home = exo.home
    started = datetime.now(timezone.utc)
    deadline = session_deadline({"session": session_or_default(home.risk_yml)}, started, config.minutes_after_close)
    if config.max_seconds > 0:  # `exo watch --for`: that long, whatever the session clock says
        deadline = started + timedelta(seconds=config.max_seconds)
    watcher = Watcher(home, by=exo.actor or f"dagster:{context.run_id[:8]}", now=lambda: exo.now_dt,
                      fast_path=config.fast_path)
    context.log.info(f"watching {home.root} until {deadline:%Y-%m-%d %H:%M:%S}Z")

    def on_tick(r) -> None:
        if not r.ok:
            context.log.error(tick_line(r))
            return
        meta = {"landed_seq": r.landed_seq, "timings_s": r.timings}
        for t in LANDING_TABLES:
            context.log_event(dg.AssetMaterialization(asset_key=["landing", t], metadata=meta))
        for model in r.models:
            context.log_event(dg.AssetMaterialization(asset_key=[model], metadata=meta))
        context.log_event(dg.AssetMaterialization(asset_key=SNAPSHOT_KEY, metadata=meta))
        acted = {g["guard"]: f"{g['severity']}{' HALTED' if g.get('halted') else ''}"
                 for g in r.guards if g.get("severity")}
        context.log_event(dg.AssetMaterialization(asset_key=GUARDS_KEY, metadata={
            "decisions": str(acted or "all clear"), "halted": r.halted, "failed_checks": str(r.failed_checks)}))
        context.log.info(tick_line(r))

    return watcher.run(until=lambda: datetime.now(timezone.utc) >= deadline, poll_s=config.poll_seconds,
                       on_tick=on_tick, requests_since=config.stop_requests_since or None)


@dg.job(name=JOB_NAME, description="The pipeline kept warm through the session: a breach becomes a halt in seconds.")
def intraday_watch():
    intraday_watch_op()


def make_intraday_watch_schedule(home) -> dg.ScheduleDefinition:
    session = session_or_default(home.risk_yml)  # a broken risk.yml must not stop the sensors loading
    start = session_calendar.before_open(session, 5)
    return dg.ScheduleDefinition(
        name="intraday_watch_session", job=intraday_watch,
        cron_schedule=f"{start.minute} {start.hour} * * 1-5", execution_timezone=session["timezone"],
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Five minutes before the open on weekdays: start the intraday watcher for the session.",
    )
