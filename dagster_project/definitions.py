"""The Mech-Exo risk-ops code location: one Definitions object.

Start it with `exo flows dev` (sets EXO_HOME and DAGSTER_HOME for the home) or
`EXO_HOME=... DAGSTER_HOME=... dagster dev -m dagster_project.definitions`.
Modules: pipeline/ (assets, GE checks, what triggers a run), guards/ (sensors that halt trading),
alerts/ (delivery and escalation), drills/ (rollback drill job and schedules).
"""

from datetime import datetime

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.ingest import landing
from dagster_project.alerts.sensors import alert_delivery, run_failure_alert
from dagster_project.drills.jobs import drill_overdue_check, drill_overdue_daily, rollback_drill, rollback_drill_quarterly
from dagster_project.guards.sensors import (
    GUARD_SENSOR_DEFS,
    data_freshness_watch,
    monthly_guard_check,
    monthly_guard_schedule,
)
from dagster_project.pipeline.assets import (
    DBT_EXECUTABLE,
    DBT_PROJECT,
    EVENT_LOG_SPECS,
    analytics_snapshot,
    exo_dbt_models,
    guard_decisions,
)
from dagster_project.pipeline.checks import great_expectations
from dagster_project.pipeline.pool import warehouse_pool_reaper
from dagster_project.pipeline.schedules import (
    daily_summary,
    daily_summary_schedule,
    health_check,
    health_check_schedule,
    make_input_watch,
    make_intraday_refresh,
)
from dagster_project.pipeline.watch import intraday_watch, make_intraday_watch_schedule
from dagster_project.progress import exo_file_log, exo_progress, exo_ticks
from dagster_project.resources import ExoHomeResource, default_home
from mech_exo.home import Home


def build_definitions(home: Home, now: datetime | None = None, actor: str = "") -> dg.Definitions:
    """The code location for one home. `dagster dev` loads ``defs`` (the home of EXO_HOME);
    ``exo run`` builds the same definitions for its --home and executes ``data_pipeline``."""
    data_pipeline = dg.define_asset_job(
        name="data_pipeline",
        selection=dg.AssetSelection.assets(landing, exo_dbt_models, analytics_snapshot, guard_decisions),
        executor_def=dg.in_process_executor,  # one process: no per-step start-up on the breach path
        description="ingest → dbt build (models, tests) → publish snapshot → guards → Great Expectations "
                    "checks. The guard sensors also react to every snapshot it publishes.",
    )
    return dg.Definitions(
        assets=[landing, exo_dbt_models, analytics_snapshot, guard_decisions, *EVENT_LOG_SPECS],
        asset_checks=[great_expectations],
        jobs=[data_pipeline, intraday_watch, monthly_guard_check, rollback_drill, drill_overdue_check, daily_summary,
              health_check],
        sensors=[*GUARD_SENSOR_DEFS, data_freshness_watch, make_input_watch(data_pipeline), alert_delivery,
                 run_failure_alert, warehouse_pool_reaper],
        schedules=[make_intraday_refresh(data_pipeline, home), make_intraday_watch_schedule(home), monthly_guard_schedule,
                   rollback_drill_quarterly,
                   drill_overdue_daily, daily_summary_schedule, health_check_schedule],
        loggers={"console": dg.colored_console_logger, "exo_progress": exo_progress, "exo_file_log": exo_file_log,
                 "exo_ticks": exo_ticks},
        resources={
            "exo": ExoHomeResource(root=str(home.root), now=now.isoformat() if now else "", actor=actor),
            "dbt": DbtCliResource(project_dir=str(DBT_PROJECT.project_dir), profiles_dir=str(DBT_PROJECT.project_dir),
                                  dbt_executable=DBT_EXECUTABLE),
        },
    )


defs = build_definitions(default_home())
