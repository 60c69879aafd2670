"""What starts the data pipeline: new input files (seconds after they land), the 5-minute
intraday refresh in the exchange's session, and the daily summary / health jobs."""

import json

import dagster as dg

from dagster_project.resources import default_home
from mech_exo.config import session_or_default


def make_input_watch(job) -> dg.SensorDefinition:
    @dg.sensor(name="input_watch", job=job, minimum_interval_seconds=2,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts data-pipeline as soon as fills or marks change on disk, so a breach "
                           "is judged seconds after it lands rather than at the next 5-minute tick.")
    def input_watch(context: dg.SensorEvaluationContext):
        from dagster_project.pipeline.watch import watcher_running
        from mech_exo.home import inputs_fingerprint

        if watcher_running(context.instance):
            return dg.SkipReason("the intraday watcher is running: it ticks on every change itself")
        fp = inputs_fingerprint(default_home())
        if fp == context.cursor:
            return dg.SkipReason("inputs unchanged")
        context.update_cursor(fp)
        return dg.RunRequest(run_key=f"inputs-{fp[:16]}")

    return input_watch


def _watcher_not_running(context) -> bool:
    from dagster_project.pipeline.watch import watcher_running

    return not watcher_running(context.instance)


def make_intraday_refresh(job, home) -> dg.ScheduleDefinition:
    session = session_or_default(home.risk_yml)  # a broken risk.yml must not stop the sensors loading
    return dg.ScheduleDefinition(
        name="intraday_refresh", job=job, cron_schedule="*/5 9-16 * * 1-5",
        execution_timezone=session["timezone"], default_status=dg.DefaultScheduleStatus.RUNNING,
        should_execute=_watcher_not_running,
        description="Every 5 minutes on weekdays 09:00–16:55 exchange time: rebuild even when no file "
                    "changed, so freshness and the guards keep judging (unless the intraday watcher runs).",
    )


@dg.op(description="Send the day's headline (NAV, P&L, MTD, VaR) as an INFO alert.")
def daily_summary_op(context: dg.OpExecutionContext) -> dict:
    from mech_exo.alerts import send_alert
    from mech_exo.pipeline import headline
    from mech_exo.reporting.snapshot import snapshot

    home = default_home()
    with snapshot(home) as con:
        h = headline(con)
    if not h.get("session_date"):
        return {}
    msg = (f"Daily summary {h['session_date']}: NAV ${h['nav']:,.0f}, day {h['day_return'] or 0:+.2%}, "
           f"MTD {h.get('mtd_return') or 0:+.2%}, VaR95 ${h.get('var95_usd') or 0:,.0f} ({h.get('level')})")
    send_alert(home, severity="INFO", type="daily_summary", message=msg,
               dedup_key=f"daily-summary:{h['session_date']}")
    return json.loads(json.dumps(h, default=str))


@dg.job(name="daily_summary", description="00:00 UTC: the day's headline to the alert channels.")
def daily_summary():
    daily_summary_op()


@dg.op(description="Run the data checks on the snapshot and alert on any failure.")
def health_check_op(context: dg.OpExecutionContext) -> list:
    from mech_exo.alerts import send_alert
    from mech_exo.checks import run_checks

    home = default_home()
    outcomes = run_checks(home)
    bad = [o for o in outcomes if not o.passed]
    for o in bad:
        context.log.warning(f"{o.severity} {o.name}: {o.observed}")
    if any(o.severity == "ERROR" for o in bad):
        send_alert(home, severity="WARNING", type="health_check",
                   message="Health check: " + "; ".join(f"{o.name}: {o.observed}" for o in bad[:5]),
                   dedup_key=f"health-check:{dg.get_dagster_logger().name}:{len(bad)}")
    return [o.name for o in bad]


@dg.job(name="health_check", description="06:00 UTC: data checks on the published snapshot.")
def health_check():
    health_check_op()


daily_summary_schedule = dg.ScheduleDefinition(
    name="daily_summary_midnight", job=daily_summary, cron_schedule="0 0 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING)
health_check_schedule = dg.ScheduleDefinition(
    name="health_check_morning", job=health_check, cron_schedule="0 6 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING)
