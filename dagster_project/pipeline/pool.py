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
from dataclasses import asdict, dataclass

import dagster as dg

from mech_exo import processes

POOL = "exo_warehouse"
TAG_PID, TAG_START, TAG_HOST = "exo/pid", "exo/pid_start", "exo/host"
STALE_AFTER_S = 6 * 3600.0   # an untagged holder silent this long is presumed dead
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def holder_tags() -> dict[str, str]:
    ident = processes.identity()
    return {TAG_PID: ident["pid"], TAG_START: ident["start"], TAG_HOST: ident["host"]}


def tag_holder(context) -> None:
    """Called first thing by every step in the pool: this run's slot belongs to this process."""
    run = context.dagster_run
    if run.tags.get(TAG_PID) != str(os.getpid()):
        context.instance.add_run_tags(run.run_id, holder_tags())


@dataclass
class Holder:
    run_id: str
    job: str | None
    step_key: str | None
    status: str
    pid: str | None
    host: str | None
    alive: bool
    why_dead: str | None
    holds_slot: bool

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid else "no recorded process"
        step = f", step {self.step_key}" if self.step_key else ""
        return f"Dagster run {self.run_id[:8]} ({self.job}{step}, {self.status}, {who})"


def _judge(instance, run_id: str, step_key: str | None, holds_slot: bool, now: float) -> Holder:
    rec = instance.get_run_record_by_id(run_id)
    if rec is None:
        return Holder(run_id, None, step_key, "MISSING", None, None, False, "the run no longer exists", holds_slot)
    run = rec.dagster_run
    status = run.status.value
    pid, start, host = run.tags.get(TAG_PID), run.tags.get(TAG_START) or None, run.tags.get(TAG_HOST)
    h = Holder(run_id, run.job_name, step_key, status, pid, host, True, None, holds_slot)
    if run.status in TERMINAL:
        h.alive, h.why_dead = False, f"the run already ended ({status})"
    elif pid and host == processes.host():
        if not processes.alive(pid, start):
            h.alive, h.why_dead = False, f"its process (pid {pid}) is gone"
    elif not pid:
        last = rec.update_timestamp.timestamp() if rec.update_timestamp else rec.create_timestamp.timestamp()
        if now - last > STALE_AFTER_S:
            h.alive, h.why_dead = False, f"no process recorded and no event for {int((now - last) / 60)} min"
    return h


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
