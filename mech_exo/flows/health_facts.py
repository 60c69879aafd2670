"""The one module of the health checks that touches Dagster: read the home's instance into plain facts.

The instance is opened only through ``mech_exo.instance`` (its first open is serialised there).
Reading happens in a worker thread with a time budget: a locked or hung SQLite storage, a slow
import, a corrupt ``dagster.yaml`` — none of them may hang or crash a health check. Whatever goes
wrong becomes ``DagsterFacts.error`` (the file or the cause named), which the judges report as a
failed component.

A home whose instance was never created (no run, no daemon ever) is not opened at all: opening
would create its storages, and there is nothing to read.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from mech_exo.health.checks import PIPELINE_JOBS, RunFact, SlotFact
from mech_exo.home import Home

BUDGET_S = 1.5          # the read itself (about 0.1 s on a healthy instance)
IMPORT_BUDGET_S = 15.0  # importing Dagster/SQLAlchemy once per process (about 1 s idle, more under load)
RUN_LIMIT = 25          # newest runs read per pipeline job
SNAPSHOT_ASSET = "analytics_snapshot"   # dagster_project.pipeline.assets.SNAPSHOT_KEY (not imported: it pulls dbt)


@dataclass
class DagsterFacts:
    dagster_home: str
    present: bool = False             # the instance has storages to read
    error: str | None = None          # unreadable / did not answer in time: the reason, naming the file
    runs: list[RunFact] = field(default_factory=list)          # pipeline jobs' runs, newest first
    counts_24h: dict[str, int] = field(default_factory=dict)   # pipeline runs created in 24 h, by status
    slots: list[SlotFact] = field(default_factory=list)        # holders / waiters of exo_warehouse
    orphans: list[SlotFact] = field(default_factory=list)      # live-status runs whose process is gone
    queued: list[RunFact] = field(default_factory=list)        # any job, waiting in the run queue
    heartbeats: dict[str, dict[str, Any]] = field(default_factory=dict)
    required_daemons: list[str] = field(default_factory=list)
    instigators: list[dict[str, Any]] = field(default_factory=list)
    last_snapshot_materialization: float | None = None
    elapsed_s: float = 0.0


def _run_fact(inst, rec, with_failure: bool) -> RunFact:
    run = rec.dagster_run
    tags = run.tags
    trigger = (tags.get("exo/trigger") or (f"sensor:{tags['dagster/sensor_name']}" if "dagster/sensor_name" in tags else None)
               or (f"schedule:{tags['dagster/schedule_name']}" if "dagster/schedule_name" in tags else None) or "manual")
    f = RunFact(run.run_id, run.job_name, run.status.value, trigger,
                created=rec.create_timestamp.timestamp() if rec.create_timestamp else None,
                start=rec.start_time, end=rec.end_time)
    if with_failure and f.status == "FAILURE":
        f.failure = _failure_of(inst, run.run_id)
    return f


def _failure_of(inst, run_id: str) -> str | None:
    from dagster._core.events import DagsterEventType

    from mech_exo.flows.run import failure_message  # the one-line reason `exo run` prints

    logs = inst.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE})
    steps = [e for e in logs if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"]
    event = (steps or logs or [None])[0]
    if event is None:
        return None
    de = event.dagster_event
    if de and de.event_type_value == "STEP_FAILURE":
        return f"{de.step_key}: {failure_message(de)}"
    return ((de.message if de else None) or event.user_message or "run failed").strip().splitlines()[0][:300]


def _slot_fact(h, since: float | None) -> SlotFact:
    return SlotFact(h.run_id, h.job, h.step_key, h.status, h.pid, h.host, h.alive, h.why_dead, h.holds_slot, since)


def preload() -> None:
    """Import what the read needs (seconds the first time in a process; instant afterwards). The CLI
    calls it in a background thread while its file checks run."""
    import dagster  # noqa: F401
    import dagster._core.storage.sql  # noqa: F401 — SQLAlchemy and alembic: most of the import time

    from dagster_project.pipeline import pool  # noqa: F401


def _read(home: Home, now: datetime, facts: DagsterFacts) -> None:
    import dagster as dg

    from dagster_project.pipeline import pool
    from mech_exo.instance import open_instance

    with open_instance(home) as inst:
        facts.present = True
        for job in PIPELINE_JOBS:
            recs = inst.get_run_records(dg.RunsFilter(job_name=job), limit=RUN_LIMIT)
            latest_failure_read = False
            for rec in recs:
                # the failure reason of the newest failed run only: all_logs is the costly read
                want = rec.dagster_run.status == dg.DagsterRunStatus.FAILURE and not latest_failure_read
                facts.runs.append(_run_fact(inst, rec, want))
                latest_failure_read = latest_failure_read or want
            day = inst.get_run_records(dg.RunsFilter(job_name=job, created_after=now - timedelta(hours=24)), limit=1000)
            for rec in day:
                st = rec.dagster_run.status.value
                facts.counts_24h[st] = facts.counts_24h.get(st, 0) + 1
        facts.runs.sort(key=lambda r: r.created or 0.0, reverse=True)

        info = inst.event_log_storage.get_concurrency_info(pool.POOL)
        enqueued = {p.run_id: p.enqueued_timestamp.timestamp() for p in info.pending_steps if p.enqueued_timestamp}
        for h in pool.holders(inst, now=now.timestamp()):
            since = None
            if h.holds_slot:
                rec = inst.get_run_record_by_id(h.run_id)
                since = rec.start_time if rec and rec.start_time else enqueued.get(h.run_id)
            else:
                since = enqueued.get(h.run_id)
            facts.slots.append(_slot_fact(h, since))
        facts.orphans = [_slot_fact(h, None) for h in pool.live_runs_without_process(inst)]
        queued = inst.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]), limit=100)
        facts.queued = [_run_fact(inst, r, False) for r in queued]

        facts.required_daemons = list(inst.get_required_daemon_types())
        for t, hb in inst.get_daemon_heartbeats().items():
            facts.heartbeats[t] = {"at": hb.timestamp, "daemon_id": hb.daemon_id,
                                   "errors": [(e.message or "").strip().splitlines()[0] for e in (hb.errors or []) if e]}
        for s in inst.all_instigator_state():
            facts.instigators.append({"name": s.instigator_name, "type": s.instigator_type.value,
                                      "status": s.status.value})
        ev = inst.get_latest_materialization_event(dg.AssetKey(SNAPSHOT_ASSET))
        facts.last_snapshot_materialization = ev.timestamp if ev else None


def has_instance(home: Home) -> bool:
    """Storages exist (a run, the daemon or the UI has opened this home's instance)."""
    d = home.dagster_home
    return (d / "dagster.yaml").exists() and ((d / ".storage-initialised").exists() or any(d.rglob("runs.db")))


def read_facts(home: Home, now: datetime | None = None, *, budget_s: float = BUDGET_S) -> DagsterFacts:
    """Everything the judges need from the instance, within ``budget_s``. Never raises."""
    now = now or datetime.now(timezone.utc)
    facts = DagsterFacts(dagster_home=str(home.dagster_home))
    t0 = time.monotonic()
    try:
        if not has_instance(home):
            return facts
    except OSError as exc:
        facts.error = f"{home.dagster_home}: cannot be read ({exc.__class__.__name__}: {exc})"
        return facts
    box: dict[str, Any] = {}
    imported = threading.Event()

    def work() -> None:
        try:
            preload()
            imported.set()
            box["t_read"] = time.monotonic()
            _read(home, now, facts)
        except BaseException as exc:  # noqa: BLE001 — reported, never raised into a health check
            box["exc"] = exc
        finally:
            imported.set()

    worker = threading.Thread(target=work, name="exo-health-dagster", daemon=True)
    worker.start()
    imported.wait(IMPORT_BUDGET_S)
    worker.join(budget_s)
    facts.elapsed_s = round(time.monotonic() - box.get("t_read", t0), 3)
    if worker.is_alive():   # left behind as a daemon thread: it ends with its read, or with the process
        what = (f"did not answer within {budget_s:g} s (a storage locked or hung?)" if "t_read" in box
                else f"could not be loaded within {IMPORT_BUDGET_S:g} s (importing Dagster)")
        return DagsterFacts(dagster_home=str(home.dagster_home), present=True, elapsed_s=facts.elapsed_s,
                            error=f"the Dagster instance at {home.dagster_home} {what}")
    exc = box.get("exc")
    if exc is not None:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        facts.error = f"the Dagster instance at {home.dagster_home} is unreadable: {exc.__class__.__name__}: {msg[:400]}"
    return facts
