"""The warehouse pool (``exo_warehouse``, one slot): who holds it, and freeing what the dead hold.

Why: Dagster frees a run's pool slot when the run ends *normally*. A run killed with -9 (OOM, power
loss) never ends: it stays STARTED and keeps its slot, and every later run waits for that slot
forever — no data judged, no halt. So every run that can take the slot records who it is (pid,
process start time, host: ``exo/pid``, ``exo/pid_start``, ``exo/host`` run tags, written by
``tag_holder`` when the step starts and by `exo run` at launch), and the reaper frees the slots
and fails the runs of processes that are gone. It runs at the start of every `exo run` and every
30 s in the daemon (sensor ``warehouse_pool_reaper``).

A run without those tags (started by an older version, or killed in the instant between claiming
the slot and its first line) is judged by age: no event for ``STALE_AFTER_S`` while holding the
slot ⇒ presumed dead. A live holder is never touched: the waiter names it instead.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict

import dagster as dg

from mech_exo import processes

# who holds the slot, and the rule judging it alive, live in mech_exo.health.holders: the health
# check applies the same rule to the same runs without importing Dagster
from mech_exo.health.holders import STALE_AFTER_S, TAG_HOST, TAG_PID, TAG_START, Holder, judge  # noqa: F401

POOL = "exo_warehouse"
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def holder_tags() -> dict[str, str]:
    ident = processes.identity()
    return {TAG_PID: ident["pid"], TAG_START: ident["start"], TAG_HOST: ident["host"]}


def tag_holder(context) -> None:
    """Called first thing by every step in the pool: this run's slot belongs to this process."""
    run = context.dagster_run
    if run.tags.get(TAG_PID) != str(os.getpid()):
        context.instance.add_run_tags(run.run_id, holder_tags())


def run_mapping(rec) -> dict | None:
    """A Dagster run record as the holder judge reads it (``mech_exo.health.holders.judge``)."""
    if rec is None:
        return None
    run = rec.dagster_run
    return {"job": run.job_name, "status": run.status.value, "tags": dict(run.tags),
            "created": rec.create_timestamp.timestamp() if rec.create_timestamp else None,
            "updated": rec.update_timestamp.timestamp() if rec.update_timestamp else None}


def _judge(instance, run_id: str, step_key: str | None, holds_slot: bool, now: float) -> Holder:
    return judge(run_mapping(instance.get_run_record_by_id(run_id)), run_id, step_key, holds_slot, now)


def holders(instance, *, now: float | None = None) -> list[Holder]:
    """Every run that holds or waits for the warehouse slot, judged alive or dead."""
    now = time.time() if now is None else now
    info = instance.event_log_storage.get_concurrency_info(POOL)
    out: dict[str, Holder] = {}
    for slot in info.claimed_slots:
        out[slot.run_id] = _judge(instance, slot.run_id, slot.step_key, True, now)
    for step in info.pending_steps:
        if step.run_id not in out:
            out[step.run_id] = _judge(instance, step.run_id, step.step_key, False, now)
    return list(out.values())


def live_runs_without_process(instance) -> list[Holder]:
    """Runs still STARTED/QUEUED whose recorded process is gone (e.g. killed while waiting)."""
    runs = instance.get_run_records(dg.RunsFilter(statuses=[
        dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.CANCELING]), limit=200)
    now = time.time()
    out = []
    for rec in runs:
        h = _judge(instance, rec.dagster_run.run_id, None, False, now)
        if not h.alive and h.pid:
            out.append(h)
    return out


def reap(instance, *, by: str) -> list[dict]:
    """Free the slots (and fail the runs) of dead holders; returns what was freed. Idempotent."""
    freed = []
    seen = set()
    for h in [*holders(instance), *live_runs_without_process(instance)]:
        if h.alive or h.run_id in seen:
            continue
        seen.add(h.run_id)
        instance.event_log_storage.free_concurrency_slots_for_run(h.run_id)
        run = instance.get_run_by_id(h.run_id)
        if run is not None and run.status not in TERMINAL:
            instance.report_run_failed(run, message=(
                f"reaped by {by}: {h.why_dead}; its warehouse slot ({POOL}) was freed so later runs can proceed"))
        freed.append({**asdict(h), "reaped_by": by})
    return freed


def live_holder(instance, *, exclude: str | None = None) -> Holder | None:
    """The live run holding the slot (after reaping, that is the one a new run would wait for)."""
    return next((h for h in holders(instance) if h.alive and h.holds_slot and h.run_id != exclude), None)


@dg.sensor(name="warehouse_pool_reaper", minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every 30 s: free the warehouse pool slot of runs whose process is gone (kill -9, "
                       "OOM, power loss) and mark those runs failed, so the next run is never wedged.")
def warehouse_pool_reaper(context: dg.SensorEvaluationContext):
    freed = reap(context.instance, by="sensor:warehouse_pool_reaper")
    if not freed:
        return dg.SkipReason("no dead holder of the warehouse pool")
    for f in freed:
        context.log.warning(f"freed the warehouse slot of run {f['run_id']}: {f['why_dead']}")
    return dg.SkipReason(f"freed {len(freed)} dead holder(s): " + ", ".join(f["run_id"][:8] for f in freed))
