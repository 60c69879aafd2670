"""The one package under ``mech_exo`` that runs Dagster: the entry points' side of the wiring.

* ``catalog`` — flows (jobs, sensors, schedules) as the on-call sees them: status, runs, restart.
* ``run`` — `exo run`: the ``data_pipeline`` job in-process, with the warehouse claimed first.
* ``dashboard_process`` — the dashboard process (no Dagster, no Dash: status in milliseconds).

Dagster is imported lazily inside functions: `exo kill status` never pays for it.
"""
from mech_exo.flows.catalog import (  # noqa: F401 — the package's public names
    DAEMON_STALE_S,
    IN_PROGRESS,
    RUNBOOK_FLOWS,
    DevCommand,
    Flow,
    FlowSet,
    catalog,
    dagster_executable,
    dagster_name,
    dev_command,
    killswitch_summary,
    runbook_name,
)
from mech_exo.flows.dashboard_process import (  # noqa: F401
    DASHBOARD_HOST,
    DASHBOARD_MODULE,
    DASHBOARD_PORT,
    FlowError,
    dashboard_address,
    dashboard_argv,
    dashboard_log_path,
    dashboard_pid_path,
    dashboard_status,
    get_health,
    is_dashboard_process,
    pid_alive,
    read_dashboard_record,
    restart_dashboard,
    start_dashboard,
    stop_dashboard,
    url_host,
)
