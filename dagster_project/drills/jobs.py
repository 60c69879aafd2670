"""The rollback drill as a Dagster job with the run-book's parameters, its quarterly schedule and
the daily 09:00 UTC overdue check. The drill itself is ``mech_exo.drill.run_drill``, the same code
as ``exo drill rollback``."""

import dagster as dg

from dagster_project.resources import default_home


class DrillConfig(dg.Config):
    dry_run: bool = True
    wait_seconds: int = 120
    interval_days: int = 90
    skip_frequency_check: bool = False


@dg.op(description="Backup → kill off → wait → restore, each step verified (SPEC §6).")
def rollback_drill_op(context: dg.OpExecutionContext, config: DrillConfig) -> dict:
    from mech_exo.drill import run_drill

    rec = run_drill(default_home(), dry_run=config.dry_run, wait_s=config.wait_seconds,
                    interval_days=config.interval_days, skip_frequency_check=config.skip_frequency_check,
                    by=f"dagster:{context.run_id[:8]}")
    context.log.info(f"drill {rec.get('drill_id', '')}: {rec['status']} {rec.get('reason', '')}")
    if rec["status"] == "FAIL":
        raise dg.Failure(description=f"rollback drill FAILED at step {rec.get('failed_step')}: {rec.get('error')}",
                         metadata={"report": str(rec.get("report_path"))})
    return rec


@dg.job(name="rollback_drill", description="The kill-switch rollback drill (dry-run by default).")
def rollback_drill():
    rollback_drill_op()


rollback_drill_quarterly = dg.ScheduleDefinition(
    name="rollback_drill_quarterly", job=rollback_drill, cron_schedule="0 10 1 1,4,7,10 *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    run_config={"ops": {"rollback_drill_op": {"config": {"dry_run": True, "wait_seconds": 120,
                                                          "interval_days": 90, "skip_frequency_check": False}}}},
    description="Quarterly (1 Jan/Apr/Jul/Oct 10:00 UTC) dry-run drill; skipped when a live pass is recent.",
)


@dg.op(description="Warn when the last live drill pass is older than 90 days, escalate past 120.")
def drill_overdue_op(context: dg.OpExecutionContext) -> dict:
    from mech_exo.drill import check_overdue

    out = check_overdue(default_home())
    context.log.info(f"drill badge {out['badge']}, days since last live pass: {out['days_since_last_live_pass']}")
    return {k: v for k, v in out.items() if k != "alert"}


@dg.job(name="drill_overdue_check", description="Daily check that a live rollback drill passed recently.")
def drill_overdue_check():
    drill_overdue_op()


drill_overdue_daily = dg.ScheduleDefinition(
    name="drill_overdue_check_daily", job=drill_overdue_check, cron_schedule="0 9 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="09:00 UTC: WARNING past 90 days since the last live pass, CRITICAL past 120.",
)
