"""Is the run holding (or waiting for) the warehouse slot alive? One rule, for the reaper and the health check.

Why apart from ``dagster_project.pipeline.pool``: the reaper judges Dagster's run records, and
`exo health full-check` judges the same runs read straight from the instance's SQLite files
(``mech_exo.dagster_storage``) without importing Dagster. Both pass a plain run mapping here:
{job, status, tags, created, updated} (times as epoch seconds). The judge reads /proc through
``mech_exo.processes`` (is that pid, with that start time, still running on this host?).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mech_exo import processes

TAG_PID, TAG_START, TAG_HOST = "exo/pid", "exo/pid_start", "exo/host"
STALE_AFTER_S = 6 * 3600.0   # an untagged holder silent this long is presumed dead
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
LIVE_STATUSES = ("STARTED", "STARTING", "QUEUED", "CANCELING")   # a run whose process should exist


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


def judge(run: Mapping[str, Any] | None, run_id: str, step_key: str | None, holds_slot: bool, now: float) -> Holder:
    """Alive or dead, and why: a run that ended, a recorded process that is gone (same host), or an
    untagged run silent for ``STALE_AFTER_S``. A run on another host is taken as alive."""
    if run is None:
        return Holder(run_id, None, step_key, "MISSING", None, None, False, "the run no longer exists", holds_slot)
    status, tags = run["status"], run.get("tags") or {}
    pid, start, host = tags.get(TAG_PID), tags.get(TAG_START) or None, tags.get(TAG_HOST)
    h = Holder(run_id, run.get("job"), step_key, status, pid, host, True, None, holds_slot)
    if status in TERMINAL:
        h.alive, h.why_dead = False, f"the run already ended ({status})"
    elif pid and host == processes.host():
        if not processes.alive(pid, start):
            h.alive, h.why_dead = False, f"its process (pid {pid}) is gone"
    elif not pid:
        last = run.get("updated") or run.get("created")
        if last is not None and now - last > STALE_AFTER_S:
            h.alive, h.why_dead = False, f"no process recorded and no event for {int((now - last) / 60)} min"
    return h
