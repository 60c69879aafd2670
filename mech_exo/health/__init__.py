"""Is the halt path healthy? One answer for `exo health full-check`, the dashboard's ``/health`` and
its health view.

The halt path is: something runs the pipeline (the daemon's sensors and schedules, the intraday
watcher, `exo run`), the run reaches the guards, the guards halt and alert, and CRITICAL alerts
climb the escalation chain. Each link can stop silently — a failed run, a run wedged behind a dead
holder of the warehouse slot, no run at all for an hour of session, a dead daemon, an alert nobody
escalated — and each gets a component here.

* ``checks``  — pure judges: plain facts in, a ``Component`` (OK / WARN / FAIL / UNKNOWN) out.
* ``dagster_facts`` — the one module that reads the Dagster instance (through
  ``mech_exo.instance``), within a time budget, never raising: an unreadable instance is a fact.
* ``halt_path`` — gathers the facts and judges them: ``halt_path_components(home, now)``.

UNKNOWN means "could not be verified" and is never healthy: a check that cannot see is a risk.
"""
from mech_exo.health.checks import FAIL, OK, UNHEALTHY, UNKNOWN, WARN, Component  # noqa: F401
