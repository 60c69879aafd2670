"""Flows (Dagster jobs, sensors, schedules) and the dashboard process, as the on-call sees them.

Why a module apart from the CLI: `exo flows ...` and `exo dashboard ...` only format what these
functions return, so the same answers are available to tests and scripts as plain dicts.

* Flows are read from the home's own Dagster instance (``<home>/.dagster``): the instigator state
  (running/stopped, else the definition's default), the ticks the daemon recorded, the runs (also
  the in-process ones of `exo run`). Nothing here needs the daemon to be running; when it is not,
  the answers say so instead of showing stale ticks as if they were current.
* The run-book spells flows with '-' (Prefect); Dagster names cannot contain it: both are accepted.
* Dagster is imported lazily: `exo kill status` must never pay for it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mech_exo import dagster_storage as dr
from mech_exo.events import iso_utc, utc_now
from mech_exo.flows.dashboard_process import FlowError
from mech_exo.flows.known import (  # noqa: F401 — re-exported: `exo flows` and the tests import them here
    RUNBOOK_FLOWS,
    Flow,
    catalog,
    dagster_name,
    remember_catalog,
    remembered_catalog,
    runbook_name,
)
from mech_exo.home import REPO_ROOT, Home, exo_home_env
from mech_exo.instance import ensure_instance_storage, open_instance

# the sensor daemon heartbeats about every 30 s and guard sensors tick every few seconds:
# nothing for 2 minutes means no daemon is evaluating this home's sensors
DAEMON_STALE_S = 120.0
IN_PROGRESS = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}




def killswitch_summary(home: Home) -> dict[str, Any]:
    """The switch as the on-call reads it after a flow ran; unreadable = DISABLED (fail closed)."""
    from mech_exo.killswitch import read_state

    s = read_state(home)
    enabled = bool(s.readable and s.trading_enabled)
    return {"trading_enabled": enabled, "state": "ENABLED" if enabled else "DISABLED", "readable": s.readable,
            "reason": s.reason, "trigger": s.trigger, "updated_at": s.updated_at, "updated_by": s.updated_by,
            "error": s.error, "path": str(s.path)}


def _iso(ts: float | None) -> str | None:
    return iso_utc(datetime.fromtimestamp(ts, timezone.utc)) if ts else None


def next_fire(flow: Flow, now: datetime) -> str | None:
    if not flow.cron:
        return None
    from mech_exo.flows import cron

    try:
        return iso_utc(cron.next_fire(flow.cron, flow.timezone, now))
    except ValueError:  # a cron form the light reader does not know: ask Dagster
        from dagster._utils.schedules import cron_string_iterator

        return iso_utc(next(cron_string_iterator(now.timestamp(), flow.cron, flow.timezone)))


def tick_record(t: dict[str, Any]) -> dict[str, Any]:
    """One sensor / schedule tick (``dagster_storage.ticks``): when, outcome, and what it said or launched."""
    status = t["status"]
    if status == "SKIPPED":
        result = t["skip_reason"] or "skipped"
    elif status == "SUCCESS":
        ids = t["run_ids"]
        result = f"requested {len(ids)} run(s)" + (f": {', '.join(r[:8] for r in ids)}" if ids else "")
    elif status == "FAILURE":
        result = (t["cause"] or t["error"] or "failed").strip().splitlines()[0][:300]
    else:
        result = "in progress"
    end, start = t["end_timestamp"], t["timestamp"]
    return {"at": _iso(start), "status": status, "result": result, "run_ids": t["run_ids"],
            "duration_s": round(end - start, 3) if end and start else None}


def run_record(dagster_home: Path, rec: dict[str, Any]) -> dict[str, Any]:
    """One run (``dagster_storage.runs``): id, status, start, duration, what started it, why it failed."""
    start, end = rec["start"], rec["end"]
    duration = (end or time.time()) - start if start else None
    return {"run_id": rec["run_id"], "job": rec["job"], "status": rec["status"], "start": _iso(start), "end": _iso(end),
            "duration_s": round(duration, 3) if duration is not None else None, "trigger": dr.trigger_of(rec["tags"]),
            "failure": dr.latest_failure(dagster_home, rec["run_id"]) if rec["status"] == "FAILURE" else None}


def job_runs(dagster_home: Path, *, job: str | None = None, tags: dict[str, str] | None = None,
             count: int = 5) -> list[dict]:
    return [run_record(dagster_home, r) for r in dr.runs(dagster_home, job=job, tags=tags, limit=count)]


def effective_status(flow: Flow, state: dict[str, Any] | None) -> str:
    """running / stopped: the instance's state when someone toggled it, else the definition's default."""
    value = state["status"] if state is not None else "DECLARED_IN_CODE"
    if value == "RUNNING":
        return "running"
    if value == "STOPPED":
        return "stopped"
    return flow.default_status or "stopped"


def ticks_of(dagster_home: Path, state: dict[str, Any] | None, count: int) -> list[dict]:
    if state is None:
        return []
    return [tick_record(t) for t in dr.ticks(dagster_home, state["selector_id"], limit=count)]


def daemon_health(dagster_home: Path, now: datetime) -> dict[str, Any]:
    """Is a daemon evaluating this home's sensors? The sensor daemon's heartbeat or the latest tick
    of any sensor/schedule, whichever is newer; older than ``DAEMON_STALE_S`` (or never) → a warning
    with the fix."""
    beat = dr.heartbeats(dagster_home).get("SENSOR")
    seen = [t for t in (beat and beat["at"], dr.latest_tick_at(dagster_home)) if t]
    last = _iso(max(seen)) if seen else None
    age = (now - datetime.fromisoformat(last.replace("Z", "+00:00"))).total_seconds() if last else None
    ok = age is not None and age <= DAEMON_STALE_S
    warning = None if ok else (
        ("no daemon has ever ticked on this home" if last is None else
         f"the daemon has not ticked for {age / 60:.0f} min (last {last})")
        + ": sensor ticks are not being recorded — daemon not running? start it with `exo flows dev`")
    return {"last_seen": last, "age_s": round(age, 1) if age is not None else None, "running": ok, "warning": warning}


class FlowSet:
    """The code location of one home (built once: importing it costs seconds) and readers of its
    instance. Every reader opens the instance for the call only, so a long `monitor` never holds it."""

    def __init__(self, home: Home, defs=None):
        self.home = home
        self._defs = defs
        self.flows = catalog(defs) if defs is not None else remembered_catalog(home)
        if self.flows is None:
            self.flows = catalog(self.defs)

    @property
    def defs(self):
        """The Definitions (built on first use: restart, sensor and schedule evaluation need them)."""
        if self._defs is None:
            with exo_home_env(self.home):
                from dagster_project.definitions import build_definitions

                self._defs = build_definitions(self.home)
            remember_catalog(self.home, catalog(self._defs))
        return self._defs

    # --- names ---------------------------------------------------------------------------------
    def resolve(self, name: str) -> Flow:
        key = dagster_name(name)
        if key not in self.flows:
            known = ", ".join(sorted(self.flows))
            raise FlowError(f"no flow named {name!r} in dagster_project.definitions (known: {known})")
        return self.flows[key]

    def related(self, flow: Flow) -> list[Flow]:
        """What an on-call asking about ``flow`` also needs: what launches it, what it launches,
        and its namesakes (``monthly_drawdown_guard`` → ``_check`` job, ``_eod`` schedule)."""
        out = [f for f in self.flows.values() if f is not flow and (
            f.job == flow.name or flow.job == f.name or f.name.startswith(flow.name + "_")
            or flow.name.startswith(f.name + "_"))]
        return sorted(out, key=lambda f: (f.kind, f.name))

    # --- status --------------------------------------------------------------------------------
    def _status_of(self, dh: Path, flow: Flow, state, now: datetime) -> dict[str, Any]:
        d: dict[str, Any] = {"name": flow.name, "runbook_name": flow.runbook_name, "kind": flow.kind,
                             "status": effective_status(flow, state) if flow.kind != "job" else "idle",
                             "default_status": flow.default_status, "job": flow.job,
                             "description": flow.description}
        if flow.kind in ("sensor", "schedule"):
            ticks = ticks_of(dh, state, 1)
            d["last_tick"] = ticks[0] if ticks else None
            d["state_recorded"] = state is not None
        if flow.kind == "sensor":
            d["interval_s"] = flow.interval_s
        if flow.kind == "schedule":
            d.update(cron=flow.cron, timezone=flow.timezone,
                     next_tick=next_fire(flow, now) if d["status"] == "running" else None)
        if flow.kind == "job":
            runs = job_runs(dh, job=flow.name, count=1)
            d["last_run"] = runs[0] if runs else None
            if runs and runs[0]["status"] in IN_PROGRESS:
                d["status"] = "running"
        return d

    def status(self, name: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        """One flow (plus its related flows) or, without ``name``, every flow of the code location."""
        now = now or utc_now()
        if name is None:
            chosen = sorted(self.flows.values(), key=lambda f: (f.kind, f.name))
        else:
            flow = self.resolve(name)
            chosen = [flow, *self.related(flow)]
        dh = self.home.dagster_home
        states = dr.instigators(dh)
        rows = [self._status_of(dh, f, states.get(f.name), now) for f in chosen]
        daemon = daemon_health(dh, now)
        warnings = [daemon["warning"]] if daemon["warning"] else []
        return {"home": str(self.home.root), "instance": str(self.home.dagster_home), "checked_at": iso_utc(now),
                "flow": self.resolve(name).name if name else None, "daemon": daemon, "flows": rows,
                "warnings": warnings}

    # --- history -------------------------------------------------------------------------------
    def runs(self, name: str, count: int = 5) -> dict[str, Any]:
        """Last ``count`` runs of a job; for a sensor / schedule its last ``count`` ticks and the runs
        it launched."""
        flow = self.resolve(name)
        dh = self.home.dagster_home
        ticks: list[dict] = []
        if flow.kind == "job":
            runs = job_runs(dh, job=flow.name, count=count)
        else:
            ticks = ticks_of(dh, dr.instigators(dh).get(flow.name), count)
            tag = "dagster/sensor_name" if flow.kind == "sensor" else "dagster/schedule_name"
            runs = job_runs(dh, tags={tag: flow.name}, count=count)
        daemon = daemon_health(dh, utc_now())
        notes = []
        if flow.kind != "job" and not ticks:
            notes.append(f"no ticks recorded for {flow.name} yet" + (
                f" (next at {next_fire(flow, utc_now())})" if daemon["running"] and flow.cron else
                "" if daemon["running"] else ": ticks are recorded only while the daemon runs (`exo flows dev`)"))
        see_also = [f.name for f in self.related(flow) if f.kind == "job"]
        return {"flow": flow.name, "runbook_name": flow.runbook_name, "kind": flow.kind, "count": count,
                "ticks": ticks, "runs": runs, "related_jobs": see_also, "daemon": daemon, "notes": notes}

    def latest_runs(self, count: int = 5) -> list[dict]:
        return job_runs(self.home.dagster_home, count=count)

    # --- run now -------------------------------------------------------------------------------
    def restart(self, name: str, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Run the flow now. A job runs in-process on the home's instance (data_pipeline through
        `exo run`'s own path); a schedule runs what its next tick would request; a sensor is
        evaluated once. The kill-switch state after it is part of the answer: that is what the
        on-call checks next."""
        flow = self.resolve(name)
        if flow.kind == "sensor":
            out = self.evaluate_sensor(flow)
        elif flow.kind == "schedule":
            out = self.run_schedule(flow, progress)
        else:
            out = self.run_job(flow.name, progress=progress)
        out.update(flow=flow.name, runbook_name=flow.runbook_name, kind=flow.kind,
                   killswitch=killswitch_summary(self.home))
        return out

    def run_job(self, job: str, *, run_config: dict | None = None, tags: dict | None = None,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        if job == "data_pipeline":
            from mech_exo.flows.run import run_pipeline
            from mech_exo.runstate import as_jsonable

            report = run_pipeline(self.home, by="exo flows restart", progress=progress, skip_unchanged=False)
            return {"action": "run", "job": job, "ok": report.ok, "run_id": report.run_id,
                    "status": "SUCCESS" if report.ok else "FAILURE",
                    "failure": None if report.ok else f"{report.failed_step}: {report.error}",
                    "report": as_jsonable(report), "_report": report}
        job_def = self.defs.resolve_job_def(job)
        config = dict(run_config or {})
        config.setdefault("loggers", {"console": {"config": {"log_level": "ERROR"}}})
        if progress:
            progress(f"{job}: executing in-process on {self.home.dagster_home}")
        with exo_home_env(self.home), open_instance(self.home) as inst:
            result = job_def.execute_in_process(run_config=config, instance=inst, raise_on_error=False,
                                                tags={"exo/trigger": "exo flows restart", **(tags or {})})
            failure = None if result.success else dr.latest_failure(self.home.dagster_home, result.run_id)
        outputs = {}
        for node in job_def.graph.node_names():
            try:
                outputs[node] = result.output_for_node(node)
            except Exception:  # noqa: BLE001 — a failed or output-less op has nothing to show
                continue
        return {"action": "run", "job": job, "ok": result.success, "run_id": result.run_id,
                "status": "SUCCESS" if result.success else "FAILURE", "failure": failure,
                "outputs": json.loads(json.dumps(outputs, default=str))}

    def run_schedule(self, flow: Flow, progress: Callable[[str], None] | None) -> dict[str, Any]:
        import dagster as dg

        sched = self.defs.get_repository_def().get_schedule_def(flow.name)
        with exo_home_env(self.home), open_instance(self.home) as inst:
            data = sched.evaluate_tick(dg.build_schedule_context(instance=inst, scheduled_execution_time=utc_now()))
        requests = list(data.run_requests or [])
        if not requests:
            return {"action": "schedule tick", "ok": True, "skip_reason": data.skip_message, "runs": []}
        runs = [self.run_job(flow.job, run_config=r.run_config, tags={"dagster/schedule_name": flow.name},
                             progress=progress) for r in requests]
        first = runs[0]
        return {**first, "action": "schedule tick → run", "ok": all(r["ok"] for r in runs), "runs": runs}

    def evaluate_sensor(self, flow: Flow) -> dict[str, Any]:
        """One tick now, as the daemon evaluates it (EXO_HOME = this home, the home's instance).
        No cursor: an asset sensor judges the latest snapshot even if the daemon already did.
        Run requests are shown, not launched (launching is the daemon's job)."""
        import dagster as dg

        sensor = self.defs.get_repository_def().get_sensor_def(flow.name)
        with exo_home_env(self.home), open_instance(self.home) as inst:
            ctx = dg.build_sensor_context(instance=inst, definitions=self.defs)
            try:
                data = sensor.evaluate_tick(ctx)
            except Exception as exc:  # noqa: BLE001 — the daemon would record a FAILURE tick
                return {"action": "sensor tick", "ok": False, "status": "FAILURE",
                        "failure": str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__}
        requests = [{"run_key": r.run_key, "job": r.job_name or flow.job} for r in (data.run_requests or [])]
        out = {"action": "sensor tick", "ok": True, "status": "SUCCESS" if requests else "SKIPPED",
               "skip_reason": data.skip_message, "run_requests": requests, "failure": None}
        if data.skip_message and data.skip_message.startswith("No new materialization"):
            out["hint"] = ("no snapshot materialization is recorded in this home's instance: "
                           "run `exo flows restart --flow data-pipeline` first")
        if requests:
            out["hint"] = "run requests are launched by the daemon; to run the job now use `exo flows restart --flow " \
                          f"{requests[0]['job']}`"
        return out

    # --- monitor -------------------------------------------------------------------------------
    def overview(self, now: datetime | None = None, run_count: int = 5) -> dict[str, Any]:
        """What `monitor` shows: every sensor/schedule, the latest runs, the kill-switch."""
        st = self.status(now=now)
        st["flows"] = [f for f in st["flows"] if f["kind"] != "job"]
        st["latest_runs"] = self.latest_runs(run_count)
        st["killswitch"] = killswitch_summary(self.home)
        return st


# --- dagster dev ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DevCommand:
    argv: list[str]
    env: dict[str, str]        # the full environment of the child
    cwd: Path

    def describe(self) -> dict[str, Any]:
        return {"argv": self.argv, "cwd": str(self.cwd), "EXO_HOME": self.env["EXO_HOME"],
                "DAGSTER_HOME": self.env["DAGSTER_HOME"]}


def dagster_executable() -> str:
    exe = Path(sys.executable).with_name("dagster")
    return str(exe) if exe.exists() else "dagster"


def dev_command(home: Home, port: int = 3000, host: str = "127.0.0.1") -> DevCommand:
    """`dagster dev` for this home: the UI and the daemon, with runs and ticks in ``<home>/.dagster``."""
    # webserver and daemon start together: never let them race the first open of the instance
    dagster_home = ensure_instance_storage(home)
    env = {**os.environ, "EXO_HOME": str(home.root), "DAGSTER_HOME": str(dagster_home)}
    argv = [dagster_executable(), "dev", "-m", "dagster_project.definitions", "-h", host, "-p", str(port)]
    return DevCommand(argv, env, REPO_ROOT)
