"""The data pipeline's steps: ingest → dbt build → publish snapshot → data checks → guards.

Each step is a plain function of a home so that the Dagster assets (``dagster_project/``) and
``exo run`` execute exactly the same code. Only ``build`` writes the database
(``data/warehouse/build.duckdb``); ``publish`` turns a successful build into the read-only snapshot
``data/analytics.duckdb`` that every reader opens (see docs/ARCHITECTURE.md "One writer").
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mech_exo.config import dbt_vars, load_risk_config
from mech_exo.home import REPO_ROOT, Home, exo_home_env

DBT_PROJECT_DIR = REPO_ROOT


class PipelineError(RuntimeError):
    """A step failed; the message says which step and why (one line, for the on-call)."""


# ------------------------------------------------------------------------------------------------
# dbt
# ------------------------------------------------------------------------------------------------
@dataclass
class NodeResult:
    name: str
    resource_type: str  # model | test | unit_test | seed ...
    status: str         # success | error | pass | fail | warn | skipped
    message: str = ""
    failures: int = 0
    execution_time: float = 0.0


@dataclass
class BuildResult:
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    duration_s: float = 0.0
    full_refresh: bool = False
    error: str | None = None

    def count(self, resource_types: tuple[str, ...], statuses: tuple[str, ...]) -> int:
        return sum(1 for n in self.nodes if n.resource_type in resource_types and n.status in statuses)

    @property
    def models_ok(self) -> int:
        return self.count(("model",), ("success",))

    @property
    def models_failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model" and n.status in ("error", "skipped")]

    @property
    def tests_passed(self) -> int:
        return self.count(("test", "unit_test"), ("pass",))

    @property
    def tests_failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status in ("fail", "error")]

    @property
    def tests_warned(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in ("test", "unit_test") and n.status == "warn"]

    def summary(self) -> str:
        s = (f"dbt build: {self.models_ok} models built, {self.tests_passed} tests passed, "
             f"{len(self.tests_failed)} failed, {len(self.tests_warned)} warned in {self.duration_s:.1f}s")
        if self.full_refresh:
            s += " (full refresh)"
        return s


def dbt_args(home: Home, command: str, risk: dict[str, Any], extra: list[str] | None = None) -> list[str]:
    """CLI args for a dbt command on this home: target/logs live in the home, never in the checkout."""
    return [
        command,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(home.warehouse_dir / "dbt_target"),
        "--log-path", str(home.warehouse_dir / "dbt_logs"),
        "--vars", json.dumps(dbt_vars(risk)),
        *(extra or []),
    ]


def build(home: Home, *, full_refresh: bool = False, select: str | None = None,
          progress: Callable[[str, str, str], None] | None = None, manifest: Any = None) -> BuildResult:
    """Run ``dbt build`` in-process on the home's build database, without dagster-dbt.

    Used by the session-long intraday watcher (``mech_exo.watch``, with a ``manifest`` parsed once
    so a tick skips dbt's parse), and by tests and benchmarks to build homes quickly; the
    ``data_pipeline`` job builds through dagster-dbt with the same project, profile and vars.
    ``progress(node_name, resource_type, status)`` is called as each node finishes.
    """
    from dbt.cli.main import dbtRunner  # heavy import: only when building

    risk = load_risk_config(home.risk_yml)
    home.warehouse_dir.mkdir(parents=True, exist_ok=True)
    extra = ["--full-refresh"] if full_refresh else []
    if select:
        extra += ["--select", select]
    nodes: list[NodeResult] = []

    def on_event(ev) -> None:
        if progress is None or ev.info.name != "NodeFinished":
            return
        ni = ev.data.node_info
        progress(ni.node_name, ni.resource_type, ni.node_status)

    started = time.perf_counter()
    with exo_home_env(home):
        res = dbtRunner(manifest=manifest, callbacks=[on_event]).invoke(
            dbt_args(home, "build", risk, extra + ["--quiet"]))
    duration = time.perf_counter() - started
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            node = r.node
            nodes.append(NodeResult(
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(r.status),
                message=(r.message or "")[:500] if isinstance(r.message, str) else "",
                failures=int(r.failures or 0),
                execution_time=float(r.execution_time or 0.0),
            ))
    error = None
    if res.exception is not None:
        error = f"{type(res.exception).__name__}: {res.exception}"
    result = BuildResult(success=bool(res.success), nodes=nodes, duration_s=duration,
                         full_refresh=full_refresh, error=error)
    if result.error is None and result.models_failed:
        first = result.models_failed[0]
        result.error = f"model {first.name} {first.status}: {first.message}"
    return result


# ------------------------------------------------------------------------------------------------
# publish
# ------------------------------------------------------------------------------------------------
def publish(home: Home) -> Path:
    """Copy the finished build to ``data/analytics.duckdb`` atomically.

    A reader that has the old snapshot open keeps reading it (rename does not disturb an open
    file); the next reader gets the new one. The build is checkpointed first so the copy holds
    everything (no WAL is copied).
    """
    import duckdb

    src = home.build_db
    if not src.exists():
        raise PipelineError(f"publish: {src} does not exist — the build has not run")
    con = duckdb.connect(str(src))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    tmp = home.analytics_db.with_name(home.analytics_db.name + ".tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, home.analytics_db)
    return home.analytics_db


# ------------------------------------------------------------------------------------------------
# status
# ------------------------------------------------------------------------------------------------
def headline(con) -> dict[str, Any]:
    """Latest session's NAV, day and MTD return, VaR utilisation — what `exo run` ends with."""
    def one(sql: str) -> dict[str, Any] | None:
        cur = con.execute(sql)
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))

    daily = one("select session_date, nav, pnl, daily_return from nav_daily order by session_date desc limit 1")
    if daily is None:
        return {"session_date": None}
    intraday = one("select ts, nav, day_pnl, day_return from nav_intraday order by ts desc limit 1")
    worst = one("""select min(day_return) as worst_day_return from nav_intraday
                   where session_date = (select max(session_date) from nav_intraday)""")
    mtd = one("select mtd_return, mtd_drawdown, history_days, guard_armed from mtd_drawdown order by session_date desc limit 1")
    var = one("""select var95_usd, var99_usd, utilization95, utilization99, level
                 from var_daily order by session_date desc limit 1""")
    return {
        "session_date": daily["session_date"],
        "nav": daily["nav"],
        "day_pnl": daily["pnl"],
        "day_return": daily["daily_return"],
        "latest_ts": intraday["ts"] if intraday else None,
        "latest_nav": intraday["nav"] if intraday else None,
        "latest_day_return": intraday["day_return"] if intraday else None,
        "worst_day_return": worst["worst_day_return"] if worst else None,
        **(mtd or {}),
        **(var or {}),
    }


def write_run_status(home: Home, status: dict[str, Any]) -> None:
    home.state_dir.mkdir(parents=True, exist_ok=True)
    path = home.state_dir / "last_run.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str, indent=2))
    os.replace(tmp, path)


def read_run_status(home: Home) -> dict[str, Any] | None:
    path = home.state_dir / "last_run.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return as_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {k: as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


# ------------------------------------------------------------------------------------------------
# the whole run (exo run; the Dagster job runs the same steps as assets)
# ------------------------------------------------------------------------------------------------
@dataclass
class RunReport:
    ok: bool
    started_at: str
    finished_at: str | None = None
    failed_step: str | None = None
    error: str | None = None
    ingest: dict[str, Any] | None = None
    build: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    run_id: str | None = None


def _notify(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress:
        progress(msg)


def pipeline_failure_alert(home: Home, step: str, error: str, guards_ran: bool = False) -> None:
    """Risk that cannot be computed is risk that is not watched: say so loudly (never raises)."""
    consequence = ("guards ran and treat the data as SUSPECT" if guards_ran
                   else "guards did not run on new data (last good snapshot kept)")
    try:
        from mech_exo.alerts import send_alert

        send_alert(home, severity="CRITICAL", type="pipeline",
                   message=f"DATA PIPELINE FAILED at {step}: {error} — {consequence}",
                   dedup_key=f"pipeline:{step}:{error[:120]}")
    except Exception:  # noqa: BLE001 — an alert failure must not mask the pipeline failure
        pass


def parse_manifest(home: Home) -> Any:
    """dbt's parsed manifest for this home's vars: hand it to ``build`` to skip parsing each tick."""
    from dbt.cli.main import dbtRunner

    risk = load_risk_config(home.risk_yml)
    with exo_home_env(home):
        res = dbtRunner().invoke(dbt_args(home, "parse", risk, ["--quiet"]))
    if not res.success:
        raise PipelineError(f"dbt parse failed: {res.exception}")
    return res.result


def alert_failed_checks(home: Home, failed: list[str]) -> None:
    """The guards judged the snapshot before its GE suites ran (a halt never waits for them): tell
    the on-call that those decisions rest on data that failed its checks."""
    if not failed:
        return
    from mech_exo.alerts import send_alert

    send_alert(home, severity="CRITICAL", type="data_checks",
               message=f"DATA SUSPECT: {len(failed)} data check(s) failed on the published snapshot: "
                       f"{', '.join(failed[:5])} — guard decisions on it stand (fail closed); "
                       "take the run-book's data-issue path",
               dedup_key=f"data-checks:{','.join(sorted(failed))[:200]}")


def record_checks(home: Home, outcomes: list[Any], dbt_failed: list[str]) -> list[str]:
    """Persist which checks failed on the current snapshot: every guard tick reads it, so an
    alert raised on suspect data says so (``DATA SUSPECT``) whichever process raises it."""
    from mech_exo.checks import failed_check_names

    failed = failed_check_names(outcomes) + [f"dbt:{name}" for name in dbt_failed]
    home.state_dir.mkdir(parents=True, exist_ok=True)
    path = home.state_dir / "checks.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": utc_now().isoformat(), "failed": failed,
                               "outcomes": [as_jsonable(o) for o in outcomes]}, default=str, indent=1))
    os.replace(tmp, path)
    return failed


def read_failed_checks(home: Home) -> list[str]:
    """Failed check names of the current snapshot. An unreadable record counts as a failure
    (fail closed: we cannot vouch for the data)."""
    path = home.state_dir / "checks.json"
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["failed"])
    except (OSError, ValueError, KeyError, TypeError):
        return [f"unreadable check record {path}"]


def run_checks_on_snapshot(home: Home, con, now: datetime | None) -> list[Any]:
    from mech_exo.checks import run_checks  # Great Expectations: slow import, only here

    return run_checks(home, con=con, now=now)


def _read_state(home: Home, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((home.state_dir / name).read_text())
    except (OSError, ValueError):
        return None


def execute_data_pipeline(home: Home, *, now: datetime | None = None, full_refresh: bool = False,
                          show_steps: bool = False, guards: bool = True, by: str = "exo run"):
    """Run the Dagster job ``data_pipeline`` in-process on the home's own Dagster instance (so the
    run shows in `exo flows runs` and the UI). Returns the Dagster execution result."""
    from dagster_project.definitions import build_definitions
    from mech_exo.instance import dagster_instance

    instance = dagster_instance(home)
    job = build_definitions(home, now=now, actor=by).resolve_job_def("data_pipeline")
    loggers: dict[str, Any] = {"console": {"config": {"log_level": "ERROR"}}}
    if show_steps:
        loggers["exo_progress"] = {}
    run_config: dict[str, Any] = {"loggers": loggers}
    if full_refresh:
        run_config["ops"] = {"exo_dbt_models": {"config": {"full_refresh": True}}}
    # dagster-dbt echoes every dbt event to stdout; keep the terminal readable and the log on disk
    log_path = home.warehouse_dir / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with exo_home_env(home), open(log_path, "w") as log, contextlib.redirect_stdout(log):
            selection = None
            if not guards:  # everything but the guard step
                from assets.ingest import landing
                from dagster_project.pipeline.assets import SNAPSHOT_KEY, exo_dbt_models

                selection = [*landing.keys, *exo_dbt_models.keys, SNAPSHOT_KEY]
            return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                          tags={"exo/trigger": "exo run"}, asset_selection=selection)
    finally:
        instance.dispose()


def watcher_run_id(home: Home) -> str | None:
    """The run id of a live ``intraday_watch`` run on this home's instance, if any."""
    if not (home.dagster_home / "dagster.yaml").exists():
        return None
    import dagster as dg

    from dagster_project.pipeline.watch import JOB_NAME
    from mech_exo.instance import open_instance

    with open_instance(home) as instance:
        runs = instance.get_run_records(dg.RunsFilter(job_name=JOB_NAME, statuses=[
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1)
    return runs[0].dagster_run.run_id if runs else None


def run_pipeline(home: Home, *, now: datetime | None = None, full_refresh: bool = False,
                 guards: bool = True, by: str = "exo run",
                 progress: Callable[[str], None] | None = None) -> RunReport:
    """`exo run`: the Dagster job ``data_pipeline`` in-process (ingest → dbt build → publish → guards
    → checks); its guard step runs the same decision path the sensors use. Never raises for a step
    failure: the report says which step failed and why (and a CRITICAL alert went out)."""
    home.ensure_dirs()
    t0 = time.perf_counter()
    report = RunReport(ok=False, started_at=utc_now().isoformat())
    for stale in ("ingest.json", "build.json", "guards.json"):
        (home.state_dir / stale).unlink(missing_ok=True)

    def finish(step: str | None = None, error: str | None = None, guards_ran: bool = False) -> RunReport:
        report.failed_step, report.error = step, error
        report.ok = step is None
        report.finished_at = utc_now().isoformat()
        report.duration_s = round(time.perf_counter() - t0, 3)
        if step is not None:
            pipeline_failure_alert(home, step, error or "", guards_ran=guards_ran)
        write_run_status(home, as_jsonable(report))
        return report

    busy = watcher_run_id(home)
    if busy:
        # The watcher holds the warehouse pool all session; a second run would wait until the close.
        report.failed_step = "busy"
        report.error = (f"the intraday watcher (Dagster run {busy[:8]}) owns the warehouse during the session and "
                        "rebuilds on every input change; to force a rebuild now, stop it first with "
                        "`exo flows stop --flow intraday-watch`, then run again")
        report.finished_at = utc_now().isoformat()
        return report
    _notify(progress, "data_pipeline: ingest → dbt build → publish → checks (Dagster, in-process)")
    result = execute_data_pipeline(home, now=now, full_refresh=full_refresh, show_steps=progress is not None,
                                   guards=guards, by=by)
    report.run_id = result.run_id
    report.ingest = _read_state(home, "ingest.json")
    build_state = _read_state(home, "build.json")
    report.build = build_state
    if not result.success:
        failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
        step = failure.step_key if failure else "data_pipeline"
        message = _failure_message(failure)
        return finish(step, f"{message} (log: {home.warehouse_dir / 'last_run.log'})")

    checks = _read_state(home, "checks.json") or {}
    report.checks = checks.get("outcomes", [])
    failed = list(checks.get("failed", []))
    from mech_exo.reporting.snapshot import connect

    con = connect(home)
    try:
        report.headline = as_jsonable(headline(con))
    finally:
        con.close()
    report.guards = (_read_state(home, "guards.json") or []) if guards else []
    if failed:  # the job's check step already alerted (DATA SUSPECT); report and exit non-zero
        report.failed_step, report.error = "data checks", f"{len(failed)} failed: " + ", ".join(failed[:5])
        report.ok = False
        report.finished_at = utc_now().isoformat()
        report.duration_s = round(time.perf_counter() - t0, 3)
        write_run_status(home, as_jsonable(report))
        return report
    return finish()


def _failure_message(event) -> str:
    if event is None:
        return "the run failed (see `exo flows runs`)"
    data = getattr(event, "event_specific_data", None)
    err = getattr(data, "error", None)
    if err is not None:
        # a dg.Failure carries our one-line description; anything else: the root cause's message
        text = getattr(data, "user_failure_data", None)
        desc = getattr(text, "description", None) if text else None
        if desc:
            return desc
        while getattr(err, "cause", None) is not None:
            err = err.cause
        lines = (err.message or "").strip().splitlines()
        return lines[-1] if lines else "step failed"
    return event.message or "step failed"
