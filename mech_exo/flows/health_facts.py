"""The one module of the health checks that reads Dagster's instance: the home's instance into plain facts.

The facts are read straight from the instance's SQLite files (``mech_exo.dagster_storage``, no
Dagster import), so `exo health full-check` and ``/health`` answer in a fraction of a second; who
holds the warehouse slot is judged by the reaper's own rule (``mech_exo.health.holders``). Reading
happens in a worker thread with a time budget: a locked or hung SQLite storage, a corrupt
``dagster.yaml`` — none of them may hang or crash a health check. Whatever goes
wrong becomes ``DagsterFacts.error`` (the file or the cause named), which the judges report as a
failed component.

A home whose instance was never created (no run, no daemon ever) is not opened at all: opening
would create its storages, and there is nothing to read.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from mech_exo import dagster_storage as ds
from mech_exo.health import holders
from mech_exo.health.checks import PIPELINE_JOBS, RunFact, SlotFact
from mech_exo.home import Home

BUDGET_S = 1.5          # the read itself (about 0.1 s on a healthy instance)
IMPORT_BUDGET_S = 15.0  # a home without the required-daemons record: Dagster opens the instance once
RUN_LIMIT = 25          # newest runs read per pipeline job
POOL = "exo_warehouse"  # dagster_project.pipeline.pool.POOL (not imported: it pulls Dagster)
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


def _run_fact(dh, rec: dict[str, Any], with_failure: bool) -> RunFact:
    f = RunFact(rec["run_id"], rec["job"], rec["status"], ds.trigger_of(rec["tags"]), created=rec["created"],
                start=rec["start"], end=rec["end"])
    if with_failure and f.status == "FAILURE":
        f.failure = ds.latest_failure(dh, rec["run_id"])
    return f


def _slot_fact(h, since: float | None) -> SlotFact:
    return SlotFact(**asdict(h), since=since)


def _ask_dagster_for_required_daemons(home: Home) -> None:
    """The daemon types are recorded beside the instance whenever Dagster opens it
    (``mech_exo.instance``); a home without that record (made by an older version, or dagster.yaml
    edited since) has Dagster open it once: seconds, then never again."""
    if ds.required_daemons(home.dagster_home) is None:
        from mech_exo.instance import open_instance

        with open_instance(home):
            pass


def _read(home: Home, now: datetime, facts: DagsterFacts) -> None:
    """The facts, read straight from the instance's SQLite files (``mech_exo.dagster_storage``, no
    Dagster import: the check answers in a fraction of a second). The holder rule is the reaper's
    (``mech_exo.health.holders``)."""
    dh = home.dagster_home
    facts.present = True
    t_now = now.timestamp()
    for job in PIPELINE_JOBS:
        latest_failure_read = False
        for rec in ds.runs(dh, job=job, limit=RUN_LIMIT):
            # the failure reason of the newest failed run only: reading a run's events is the costly part
            want = rec["status"] == "FAILURE" and not latest_failure_read
            facts.runs.append(_run_fact(dh, rec, want))
            latest_failure_read = latest_failure_read or want
        for rec in ds.runs(dh, job=job, created_after=(now - timedelta(hours=24)).timestamp(), limit=1000):
            facts.counts_24h[rec["status"]] = facts.counts_24h.get(rec["status"], 0) + 1
    facts.runs.sort(key=lambda r: r.created or 0.0, reverse=True)

    pool = ds.concurrency(dh, POOL)
    enqueued = {p["run_id"]: p["enqueued"] for p in pool["pending"] if p["enqueued"]}
    seen: set[str] = set()
    for step, holds in [*((s, True) for s in pool["claimed"]), *((s, False) for s in pool["pending"])]:
        if step["run_id"] in seen:
            continue
        seen.add(step["run_id"])
        rec = ds.run_by_id(dh, step["run_id"])  # read once: judged, and where it holds, since its start
        h = holders.judge(rec, step["run_id"], step["step_key"], holds, t_now)
        since = rec["start"] if holds and rec and rec["start"] else enqueued.get(h.run_id)
        facts.slots.append(_slot_fact(h, since))
    for rec in ds.runs(dh, statuses=holders.LIVE_STATUSES, limit=200):
        h = holders.judge(rec, rec["run_id"], None, False, t_now)
        if not h.alive and h.pid:
            facts.orphans.append(_slot_fact(h, None))
    facts.queued = [_run_fact(dh, r, False) for r in ds.runs(dh, statuses=["QUEUED"], limit=100)]

    facts.required_daemons = ds.required_daemons(dh) or []
    facts.heartbeats = ds.heartbeats(dh)
    facts.instigators = [{"name": st["name"], "type": st["type"], "status": st["status"]}
                         for st in ds.instigators(dh).values()]
    facts.last_snapshot_materialization = ds.latest_materialization_at(dh, [SNAPSHOT_ASSET])


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
            _ask_dagster_for_required_daemons(home)
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
                else f"could not be opened within {IMPORT_BUDGET_S:g} s (importing Dagster)")
        return DagsterFacts(dagster_home=str(home.dagster_home), present=True, elapsed_s=facts.elapsed_s,
                            error=f"the Dagster instance at {home.dagster_home} {what}")
    exc = box.get("exc")
    if exc is not None:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        facts.error = f"the Dagster instance at {home.dagster_home} is unreadable: {exc.__class__.__name__}: {msg[:400]}"
    return facts
