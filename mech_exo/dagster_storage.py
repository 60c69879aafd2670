"""The home's Dagster instance read straight from its SQLite files, without importing Dagster.

Why: importing Dagster (and SQLAlchemy, alembic) costs 3–5 s on the users' laptop, and
`exo flows status|runs` must answer in under a second when everything else is on fire. The home's
instance uses Dagster's default SQLite storages (``dagster.yaml`` as `exo init` writes it):

* ``history/runs.db``           runs (status, start/end), run_tags, daemon_heartbeats
* ``history/runs/<run_id>.db``  one run's events (the failure reason)
* ``schedules/schedules.db``    instigators (sensor/schedule state), job_ticks

Everything is opened read-only (``mode=ro``) with a busy timeout, so a reader never takes a lock a
writer needs and never creates a storage. Records are the JSON Dagster's serdes writes; only fields
that Dagster's own readers expose are used, and ``tests/integration/test_dagster_storage.py`` checks
each reader against Dagster's API on real instances (real runs, a failed one, real daemon ticks).
Writing (starting runs, toggling sensors) stays with Dagster: this module never writes.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

BUSY_MS = 1000


class StorageMissing(FileNotFoundError):
    """The storage file does not exist yet (no run / no daemon ever on this home): nothing recorded."""


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StorageMissing(str(path))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
    con.execute(f"pragma busy_timeout = {BUSY_MS}")
    return con


def _rows(path: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple] | None:
    """The rows of one read-only query on one storage file; None when the file does not exist yet."""
    try:
        with closing(_connect(path)) as con:
            return con.execute(sql, list(params)).fetchall()
    except StorageMissing:
        return None


def runs_db(dagster_home: Path) -> Path:
    return Path(dagster_home) / "history" / "runs.db"


def schedules_db(dagster_home: Path) -> Path:
    return Path(dagster_home) / "schedules" / "schedules.db"


def run_events_db(dagster_home: Path, run_id: str) -> Path:
    return Path(dagster_home) / "history" / "runs" / f"{run_id}.db"


def _enum(value: Any) -> str | None:
    """``{"__enum__": "TickStatus.SKIPPED"}`` → ``SKIPPED``."""
    if isinstance(value, dict) and "__enum__" in value:
        return str(value["__enum__"]).split(".")[-1]
    return None if value is None else str(value)


# --- runs ------------------------------------------------------------------------------------------

def runs(dagster_home: Path, *, job: str | None = None, tags: dict[str, str] | None = None,
         statuses: Iterable[str] | None = None, created_after: float | None = None,
         limit: int | None = 5, _ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Run records newest first (Dagster's order: storage id descending), each {run_id, job, status,
    tags, created, updated, start, end} with times as epoch seconds; filters as Dagster's RunsFilter."""
    where, params = [], []
    if _ids is not None:
        where.append(f"r.run_id in ({','.join('?' * len(_ids))})")
        params += list(_ids)
    if job is not None:
        where.append("r.pipeline_name = ?")
        params.append(job)
    for k, v in (tags or {}).items():
        where.append("exists (select 1 from run_tags t where t.run_id = r.run_id and t.key = ? and t.value = ?)")
        params += [k, v]
    sts = list(statuses or [])
    if sts:
        where.append(f"r.status in ({','.join('?' * len(sts))})")
        params += sts
    if created_after is not None:  # create_timestamp is UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'
        where.append("r.create_timestamp > ?")
        params.append(datetime.fromtimestamp(created_after, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
    sql = ("select r.run_id, r.pipeline_name, r.status, r.start_time, r.end_time, r.create_timestamp, r.run_body, "
           "r.update_timestamp from runs r" + (" where " + " and ".join(where) if where else "") + " order by r.id desc"
           + (f" limit {int(limit)}" if limit is not None else ""))
    rows = _rows(runs_db(dagster_home), sql, params) or []
    # the run's own tags (run_body), as DagsterRun.tags: run_tags also holds Dagster's hidden system tags
    return [{"run_id": rid, "job": name, "status": status, "tags": dict(json.loads(body).get("tags") or {}),
             "created": _epoch(created), "updated": _epoch(updated), "start": start, "end": end}
            for rid, name, status, start, end, created, body, updated in rows]


def run_by_id(dagster_home: Path, run_id: str) -> dict[str, Any] | None:
    """One run record (as ``runs`` gives them), None when the run does not exist."""
    return next(iter(runs(dagster_home, limit=1, _ids=[run_id])), None)


def _epoch(text: str | None) -> float | None:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() if text else None


def failure_events(dagster_home: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's STEP_FAILURE events (else its RUN_FAILURE), oldest first, as Dagster stored them."""
    # Dagster stores RUN_FAILURE under its legacy name PIPELINE_FAILURE
    rows = _rows(run_events_db(dagster_home, run_id), "select dagster_event_type, event from event_logs where "
                 "dagster_event_type in ('STEP_FAILURE', 'PIPELINE_FAILURE', 'RUN_FAILURE') order by id") or []
    steps = [json.loads(e) for t, e in rows if t == "STEP_FAILURE"]
    return steps or [json.loads(e) for t, e in rows]


def failure_text(de: dict[str, Any]) -> str:
    """The reason in a failure DagsterEvent (as serialised): the dg.Failure's description, else the
    root cause's last line, else the event's message."""
    data = de.get("event_specific_data") or {}
    err = data.get("error")
    if err:
        desc = (data.get("user_failure_data") or {}).get("description")
        if desc:
            return desc
        while err.get("cause"):
            err = err["cause"]
        lines = (err.get("message") or "").strip().splitlines()
        return lines[-1] if lines else "step failed"
    return de.get("message") or "step failed"


def failure_reason(entry: dict[str, Any]) -> str:
    """The one line an on-call reads for a stored failure event: ``step: reason`` for a step, the
    run's message for a run failure. `exo run` and `exo watch` word their in-process failures with
    the same rule (``mech_exo.flows.run.failure_message`` → ``failure_text``)."""
    de = entry.get("dagster_event") or {}
    if de.get("event_type_value") == "STEP_FAILURE":
        return f"{de.get('step_key')}: {failure_text(de)}"
    text = (de.get("message") or entry.get("user_message") or "run failed").strip()
    return (text.splitlines() or ["run failed"])[0][:300]


def latest_failure(dagster_home: Path, run_id: str) -> str | None:
    events = failure_events(dagster_home, run_id)
    return failure_reason(events[0]) if events else None


def trigger_of(tags: dict[str, str]) -> str:
    """What started a run, as the on-call reads it: exo's own tag, else the sensor / schedule, else manual."""
    return (tags.get("exo/trigger") or (f"sensor:{tags['dagster/sensor_name']}" if "dagster/sensor_name" in tags else None)
            or (f"schedule:{tags['dagster/schedule_name']}" if "dagster/schedule_name" in tags else None) or "manual")


# --- sensors and schedules ---------------------------------------------------------------------------

def instigators(dagster_home: Path) -> dict[str, dict[str, Any]]:
    """Instigator state by name: {name, type (SENSOR/SCHEDULE), status, selector_id}. One code
    location per home instance, so names are unique."""
    rows = _rows(schedules_db(dagster_home),
                 "select selector_id, status, instigator_type, instigator_body from instigators") or []
    out = {}
    for selector_id, status, kind, body in rows:
        origin = (json.loads(body).get("origin") or {})
        name = origin.get("job_name") or origin.get("instigator_name")
        if name:
            out[name] = {"name": name, "type": kind, "status": status, "selector_id": selector_id}
    return out


def ticks(dagster_home: Path, selector_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """The instigator's ticks, newest first (Dagster's order: tick timestamp descending): {status,
    timestamp, end_timestamp, run_ids, skip_reason, error, cause}: the error's message (Dagster's
    wrapper, "Error occurred during the execution of evaluation_fn…") and its root cause's first line
    (what the sensor itself raised)."""
    rows = _rows(schedules_db(dagster_home), "select tick_body from job_ticks where selector_id = ? "
                 f"order by timestamp desc limit {int(limit)}", (selector_id,)) or []
    out = []
    for (body,) in rows:
        t = json.loads(body)
        err = t.get("error")
        root = err
        while root and root.get("cause"):
            root = root["cause"]
        cause = ((root or {}).get("message") or "").strip().splitlines() if root is not err else []
        out.append({"status": _enum(t.get("status")), "timestamp": t.get("timestamp"),
                    "end_timestamp": t.get("end_timestamp"), "run_ids": list(t.get("run_ids") or []),
                    "skip_reason": t.get("skip_reason"), "error": err.get("message") if err else None,
                    "cause": cause[0] if cause else None})
    return out


def latest_tick_at(dagster_home: Path) -> float | None:
    """When any sensor or schedule of the home last ticked (epoch seconds)."""
    rows = _rows(schedules_db(dagster_home), "select tick_body from job_ticks order by timestamp desc limit 1")
    return json.loads(rows[0][0]).get("timestamp") if rows else None


def index_db(dagster_home: Path) -> Path:
    return Path(dagster_home) / "history" / "runs" / "index.db"


def concurrency(dagster_home: Path, key: str) -> dict[str, list[dict[str, Any]]]:
    """A pool's claimed slots [{run_id, step_key}] and pending steps [{run_id, step_key, enqueued,
    assigned}] (epoch seconds), as Dagster's ``get_concurrency_info`` gives them."""
    try:
        with closing(_connect(index_db(dagster_home))) as con:
            slots = con.execute("select run_id, step_key from concurrency_slots where concurrency_key = ? "
                                "and run_id is not null order by id", (key,)).fetchall()
            pending = con.execute("select run_id, step_key, create_timestamp, assigned_timestamp from pending_steps "
                                  "where concurrency_key = ? order by id", (key,)).fetchall()
    except StorageMissing:
        return {"claimed": [], "pending": []}
    return {"claimed": [{"run_id": r, "step_key": k} for r, k in slots],
            "pending": [{"run_id": r, "step_key": k, "enqueued": _epoch(c), "assigned": _epoch(a)}
                        for r, k, c, a in pending]}


def latest_materialization_at(dagster_home: Path, asset_path: list[str]) -> float | None:
    """When the asset was last materialized (the event's timestamp, epoch seconds)."""
    rows = _rows(index_db(dagster_home), "select last_materialization from asset_keys where asset_key = ?",
                 (json.dumps(asset_path),))
    if not rows or not rows[0][0]:
        return None
    return json.loads(rows[0][0]).get("timestamp")


REQUIRED_DAEMONS_FILE = ".exo-required-daemons.json"


def required_daemons(dagster_home: Path) -> list[str] | None:
    """The daemon types the instance requires, as recorded by ``mech_exo.instance`` when Dagster last
    opened it; None when no record matches the current dagster.yaml (the caller asks Dagster)."""
    try:
        rec = json.loads((Path(dagster_home) / REQUIRED_DAEMONS_FILE).read_text())
        if rec.get("key") != required_daemons_key(dagster_home):
            return None
        return list(rec["daemons"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def required_daemons_key(dagster_home: Path) -> str | None:
    """What the required daemon types depend on: dagster.yaml and Dagster's version."""
    import hashlib
    from importlib.metadata import version

    try:
        config = (Path(dagster_home) / "dagster.yaml").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(version("dagster").encode() + b"\0" + config).hexdigest()


def heartbeats(dagster_home: Path) -> dict[str, dict[str, Any]]:
    """Daemon heartbeats by daemon type: {at (epoch s), daemon_id, errors (first lines)}."""
    rows = _rows(runs_db(dagster_home), "select daemon_type, body from daemon_heartbeats") or []
    out = {}
    for kind, body in rows:
        hb = json.loads(body)
        out[kind] = {"at": hb.get("timestamp"), "daemon_id": hb.get("daemon_id"),
                     "errors": [((e or {}).get("message") or "").strip().splitlines()[0]
                                for e in (hb.get("errors") or []) if e and (e.get("message") or "").strip()]}
    return out
