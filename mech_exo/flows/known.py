"""The code location's flows (sensors, schedules, jobs) as plain records, and their copy kept per home.

Why apart from ``catalog.py``: knowing the flows means building the Definitions (importing Dagster:
seconds). After each job (``mech_exo.flows.run``) the flows are kept in ``data/state/flows.json``
under a key of what they depend on, so `exo flows status|runs` read them back instead; the
readers (``catalog.FlowSet``) and the job runner both use this module, neither imports the other.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from mech_exo.home import REPO_ROOT, Home

# the four names of the on-call run-book, in Dagster spelling
RUNBOOK_FLOWS = ("intraday_pnl_sentinel", "monthly_drawdown_guard", "rollback_drill", "data_pipeline")


def dagster_name(name: str) -> str:
    """Run-book spelling → Dagster spelling: ``monthly-drawdown-guard`` → ``monthly_drawdown_guard``."""
    return name.strip().replace("-", "_")


def runbook_name(name: str) -> str | None:
    return name.replace("_", "-") if name in RUNBOOK_FLOWS else None


# --- the code location's flows ----------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    name: str
    kind: str                      # "sensor" | "schedule" | "job"
    description: str
    default_status: str | None     # "running" | "stopped" (sensors, schedules); None for jobs
    job: str | None = None         # the job a sensor / schedule launches
    cron: str | None = None
    timezone: str | None = None
    interval_s: int | None = None

    @property
    def runbook_name(self) -> str | None:
        return runbook_name(self.name)


def _sensor_job(sensor) -> str | None:
    try:
        return sensor.job_name
    except Exception:  # noqa: BLE001 — asset / run-status sensors have no target job
        return None


def catalog(defs) -> dict[str, Flow]:
    """Every sensor, schedule and job of the Definitions, by name (internal ``__`` jobs left out)."""
    repo = defs.get_repository_def()
    out: dict[str, Flow] = {}
    for s in repo.sensor_defs:
        out[s.name] = Flow(s.name, "sensor", s.description or "", s.default_status.value.lower(),
                           job=_sensor_job(s), interval_s=s.minimum_interval_seconds)
    for s in repo.schedule_defs:
        out[s.name] = Flow(s.name, "schedule", s.description or "", s.default_status.value.lower(),
                           job=s.job_name, cron=s.cron_schedule, timezone=s.execution_timezone)
    for j in repo.get_all_jobs():
        if not j.name.startswith("__"):
            out[j.name] = Flow(j.name, "job", j.description or "", None)
    return out


# --- the catalog, remembered per home ----------------------------------------------------------------

CATALOG_FILE = "flows.json"
_CODE_DIRS = ("dagster_project", "assets", "mech_exo")


def _code_key(home: Home) -> str:
    """What the code location's flows depend on: the code (every .py of the location and the
    package), the home's risk.yml (session times of the intraday schedules) and Dagster's version."""
    import hashlib
    from importlib.metadata import version

    h = hashlib.sha256(version("dagster").encode())
    for d in _CODE_DIRS:
        for f in sorted((REPO_ROOT / d).rglob("*.py")):
            h.update(str(f.relative_to(REPO_ROOT)).encode())
            h.update(f.read_bytes())
    try:
        h.update(home.risk_yml.read_bytes())
    except OSError:
        h.update(b"<no risk.yml>")
    return h.hexdigest()


def remember_catalog(home: Home, flows: dict[str, Flow]) -> None:
    """Keep the flows of the definitions just built, so `exo flows status|runs` need not import
    Dagster and build the definitions (seconds) to know them. Best effort: a read-only home just
    pays the import next time."""
    from dataclasses import asdict

    try:
        path = home.state_dir / CATALOG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": _code_key(home), "flows": [asdict(f) for f in flows.values()]}, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass


def remembered_catalog(home: Home) -> dict[str, Flow] | None:
    """The flows remembered for this home, if the code and risk.yml are what they were then."""
    try:
        rec = json.loads((home.state_dir / CATALOG_FILE).read_text())
        if rec.get("key") != _code_key(home):
            return None
        return {f["name"]: Flow(**f) for f in rec["flows"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
