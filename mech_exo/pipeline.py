"""The data pipeline's steps by name — a map, not a home: each step lives in its own module.

ingest (``mech_exo.ingest``) → dbt build (``mech_exo.warehouse.dbt``) → publish snapshot
(``mech_exo.warehouse.publish``) → guards (``mech_exo.guard_runner``) → data checks
(``mech_exo.checks``; their record: ``mech_exo.pipeline_state``); run-state records
(``mech_exo.runstate``). The whole run with Dagster is ``mech_exo.flows.run.run_pipeline``.
"""
from mech_exo.pipeline_state import (  # noqa: F401
    alert_failed_checks,
    pipeline_failure_alert,
    read_failed_checks,
    record_checks,
    run_checks_on_snapshot,
)
from mech_exo.reporting.summary import headline  # noqa: F401
from mech_exo.runstate import as_jsonable, read_run_status, read_state, utc_now, write_run_status  # noqa: F401
from mech_exo.warehouse import PipelineError  # noqa: F401
from mech_exo.warehouse.dbt import DBT_PROJECT_DIR, BuildResult, NodeResult, build, dbt_args, parse_manifest  # noqa: F401
from mech_exo.warehouse.publish import publish  # noqa: F401
