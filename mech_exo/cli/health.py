"""`exo health database|system|full-check`: is the risk stack itself healthy?

Why the database check never opens ``data/warehouse/build.duckdb``: a running build holds DuckDB's
write lock on it, and a health check must neither wait for nor block a build. Only the published
snapshot is opened (read-only); the build file is only ``stat``-ed for its size.

``full-check`` grades each component OK / WARN / FAIL (exit 1 on any FAIL). Our choices:
* trading disabled is WARN (the switch works; someone halted) — an unreadable switch is FAIL;
* the snapshot is "fresh" when it was published less than ``FRESH_HOURS`` ago (WARN after);
* data checks FAIL on an ERROR-severity failure, WARN on a WARN one (a stale feed);
* the drill badge maps green/yellow/red → OK/WARN/FAIL (red = never drilled or > 120 days, which
  the daily drill check itself alerts as CRITICAL);
* undelivered messages waiting in the alert outbox are WARN (people did not get an alert);
* the halt path (``mech_exo.health``): the Dagster instance, the pipeline's runs from every origin
  (Dagster sensors/schedules/UI and `exo run`), a wedged warehouse pool, a stale pipeline in
  session, a daemon down while schedules expect it, escalations overdue. UNKNOWN (could not be
  verified) is never healthy: like FAIL it makes full-check exit 1. Every non-OK component says
  what to run to recover.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from typing import Any, Callable

import click
from rich.markup import escape

from mech_exo.cli.common import console, emit_json, json_option, pass_home
from mech_exo.events import parse_utc
from mech_exo.home import Home

FRESH_HOURS = 24.0
OK, WARN, FAIL, UNKNOWN = "OK", "WARN", "FAIL", "UNKNOWN"
STATUS_STYLE = {OK: "green", WARN: "yellow", FAIL: "bold red", UNKNOWN: "bold magenta"}


@click.group("health")
def health() -> None:
    """Health of the snapshot database, the installation, and every component at once."""


def _age_h(at: datetime, now: datetime) -> float:
    return round((now - at).total_seconds() / 3600.0, 2)


def _age_text(hours: float | None) -> str:
    if hours is None:
        return "unknown"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


# --- database --------------------------------------------------------------------------------------

def database_payload(home: Home, verbose: bool, now: datetime | None = None) -> dict[str, Any]:
    """Snapshot present/readable, its age and size, the last run's status, the build file's size."""
    import duckdb

    from mech_exo.runstate import read_run_status

    now = now or datetime.now(timezone.utc)
    snap = home.analytics_db
    out: dict[str, Any] = {"snapshot": str(snap), "present": snap.exists(), "readable": False, "error": None,
                           "snapshot_bytes": None, "published_at": None, "published_age_h": None,
                           "latest_session": None, "tables": None, "row_counts": None,
                           "build_db": str(home.build_db),
                           "build_db_bytes": home.build_db.stat().st_size if home.build_db.exists() else None}
    run = read_run_status(home)
    fin = parse_utc(run.get("finished_at")) if run else None
    out["last_run"] = None if run is None else {
        "ok": run.get("ok"), "finished_at": run.get("finished_at"), "age_h": _age_h(fin, now) if fin else None,
        "failed_step": run.get("failed_step"), "error": run.get("error"), "run_id": run.get("run_id")}
    if not out["present"]:
        out["error"] = f"{snap} not found — no data yet: run `exo run` (or `exo demo`)"
        return out
    st = snap.stat()
    published = datetime.fromtimestamp(st.st_mtime, timezone.utc)
    out.update(snapshot_bytes=st.st_size, published_at=published.isoformat(), published_age_h=_age_h(published, now))
    try:
        con = duckdb.connect(str(snap), read_only=True)
    except duckdb.Error as exc:
        out["error"] = f"{snap}: cannot open read-only ({str(exc).splitlines()[0]})"
        return out
    try:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'main' order by 1").fetchall()]
        out.update(readable=True, tables=len(tables))
        if "nav_daily" in tables:
            out["latest_session"] = con.execute("select max(session_date) from nav_daily").fetchone()[0]
        if verbose:
            out["row_counts"] = {t: _count(con, t) for t in tables}
    except duckdb.Error as exc:
        out["error"] = f"{snap}: not readable ({str(exc).splitlines()[0]})"
    finally:
        con.close()
    return out


def _count(con, table: str) -> int | str:
    import duckdb

    try:
        return con.execute(f'select count(*) from "{table.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
    except duckdb.Error as exc:
        return f"error: {str(exc).splitlines()[0]}"


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


@health.command("database")
@click.option("--verbose", "-v", is_flag=True, help="Also count the rows of every model in the snapshot.")
@json_option
@pass_home
def database_cmd(home: Home, verbose: bool, as_json: bool) -> None:
    """Snapshot present and readable (read-only), age of the last build, sizes; row counts with --verbose.

    Exit 1 when the snapshot is missing or unreadable. Never opens data/warehouse/build.duckdb."""
    from mech_exo.cli.risk_cmds import table

    p = database_payload(home, verbose)
    if as_json:
        emit_json(p)
    else:
        c = console()
        ok = p["present"] and p["readable"]
        c.print(f"snapshot {p['snapshot']}: " + ("[green]OK[/] (read-only)" if ok else f"[bold red]FAIL[/] — {p['error']}"))
        if p["present"]:
            c.print(f"  size {_mb(p['snapshot_bytes'])}, published {p['published_at']} ({_age_text(p['published_age_h'])} ago)")
        if ok:
            c.print(f"  {p['tables']} tables/views, latest session {p['latest_session'] or '—'}")
        r = p["last_run"]
        if r is None:
            c.print("  last pipeline run: [yellow]no run recorded[/] (data/state/last_run.json)")
        else:
            word = "[green]ok[/]" if r["ok"] else f"[bold red]FAILED at {r['failed_step']}[/]: {r['error']}"
            c.print(f"  last pipeline run: {word}, finished {r['finished_at']} ({_age_text(r['age_h'])} ago)")
        c.print(f"  build db {p['build_db']}: {_mb(p['build_db_bytes'])} (not opened: the build may hold it)")
        if p["row_counts"] is not None:
            t = table("Rows per model", "Model", ">Rows", compact=True)
            for name, n in p["row_counts"].items():
                t.add_row(name, f"{n:,}" if isinstance(n, int) else f"[red]{n}[/]")
            c.print(t)
    if not (p["present"] and p["readable"]):
        sys.exit(1)


# --- system ----------------------------------------------------------------------------------------

def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def system_payload(home: Home) -> dict[str, Any]:
    """Versions (from package metadata: no heavy imports), disk, env, kill-switch, Telegram."""
    from mech_exo.alerts.settings import telegram_secrets
    from mech_exo.killswitch import read_state

    probe = home.root if home.root.exists() else home.root.parent
    du = shutil.disk_usage(probe)
    ks = read_state(home)
    tg = telegram_secrets()
    return {
        "python": platform.python_version(), "executable": sys.executable,
        "versions": {d: _version(d) for d in ("dbt-core", "dbt-duckdb", "dagster", "duckdb", "great_expectations",
                                             "mech-exo-riskops")},
        "home": str(home.root), "home_exists": home.root.exists(),
        "disk": {"path": str(probe), "free_bytes": du.free, "total_bytes": du.total,
                 "free_pct": round(100.0 * du.free / du.total, 1) if du.total else None},
        "env": {"EXO_HOME": os.environ.get("EXO_HOME"), "DAGSTER_HOME": os.environ.get("DAGSTER_HOME"),
                "home_dagster_dir": str(home.dagster_home)},
        "killswitch": {"path": str(ks.path), "readable": ks.readable, "trading_enabled": bool(ks.readable and ks.trading_enabled),
                       "error": ks.error},
        "telegram": {"token": "set (hidden)" if tg.token else "not set", "chat_id": "set" if tg.chat_id else "not set",
                     "configured": tg.configured, "api_base": tg.api_base},
    }


@health.command("system")
@json_option
@pass_home
def system_cmd(home: Home, as_json: bool) -> None:
    """Python, dbt, Dagster, DuckDB, GE versions; disk free under the home; EXO_HOME/DAGSTER_HOME;
    kill-switch readable; Telegram configured (the token is never shown)."""
    from mech_exo.cli.risk_cmds import table

    p = system_payload(home)
    if as_json:
        emit_json(p)
        return
    t = table("System", "Item", "Value", show_header=False)
    t.add_row("python", f"{p['python']} ({p['executable']})")
    for k, v in p["versions"].items():
        t.add_row(k, v if v != "not installed" else f"[red]{v}[/]")
    t.add_row("home", p["home"] + ("" if p["home_exists"] else " [red](missing)[/]"))
    d = p["disk"]
    t.add_row("disk free", f"{d['free_bytes'] / 1e9:,.1f} GB of {d['total_bytes'] / 1e9:,.1f} GB ({d['free_pct']}%) under {d['path']}")
    t.add_row("EXO_HOME", p["env"]["EXO_HOME"] or "not set (home from --home or the current directory)")
    t.add_row("DAGSTER_HOME", (p["env"]["DAGSTER_HOME"] or "not set") + f"; this home's: {p['env']['home_dagster_dir']}")
    ks = p["killswitch"]
    t.add_row("kill-switch", (f"[green]readable[/], trading {'ENABLED' if ks['trading_enabled'] else 'DISABLED'}"
                              if ks["readable"] else f"[bold red]UNREADABLE[/] (fail closed): {ks['error']}"))
    tg = p["telegram"]
    t.add_row("telegram", ("[green]configured[/]" if tg["configured"] else "[yellow]not configured[/]")
              + f" (TELEGRAM_BOT_TOKEN {tg['token']}, TELEGRAM_CHAT_ID {tg['chat_id']})")
    console().print(t)


# --- full check ------------------------------------------------------------------------------------

def _check_configs(home: Home) -> tuple[str, str]:
    from mech_exo.alerts.settings import load_alert_settings
    from mech_exo.config import ConfigError, load_risk_config

    problems = []
    for name, load in (("risk.yml", load_risk_config), ("alerts.yml", load_alert_settings)):
        path = home.config_dir / name
        if not path.exists():
            problems.append((WARN, f"{path} missing (built-in defaults)"))
            continue
        try:
            load(path)
        except ConfigError as exc:
            problems.append((FAIL, str(exc)))
    if not problems:
        return OK, "config/risk.yml and config/alerts.yml parse"
    worst = FAIL if any(s == FAIL for s, _ in problems) else WARN
    return worst, "; ".join(m for _, m in problems)


def _check_killswitch(home: Home) -> tuple[str, str]:
    from mech_exo.killswitch import read_state

    s = read_state(home)
    if not s.readable:
        return FAIL, f"unreadable — trading treated as DISABLED (fail closed): {s.error}"
    if not s.trading_enabled:
        return WARN, f"readable; trading DISABLED ({s.trigger}: {s.reason})"
    return OK, "readable; trading ENABLED"


def _check_snapshot(home: Home) -> tuple[str, str]:
    p = database_payload(home, verbose=False)
    if not (p["present"] and p["readable"]):
        return FAIL, p["error"]
    age = p["published_age_h"]
    text = f"published {_age_text(age)} ago, latest session {p['latest_session']}"
    return (OK if age is not None and age < FRESH_HOURS else WARN), text + ("" if age < FRESH_HOURS else f" (older than {FRESH_HOURS:g} h)")


def _check_data(home: Home) -> tuple[str, str]:
    """The data checks as the pipeline recorded them on the snapshot it published (state/checks.json:
    the Great Expectations suites and dbt's data tests — what the guards mark DATA SUSPECT by).
    Reading the record, not re-running the suites, keeps the health check under a second (GE's import
    alone takes 3 s); `exo data validate` re-runs them on every row."""
    from mech_exo.checks import ERROR
    from mech_exo.config import load_risk_config
    from mech_exo.runstate import read_state

    if not home.analytics_db.exists():
        return FAIL, "no snapshot to check"
    load_risk_config(home.risk_yml)  # the checks' thresholds: unreadable → this check fails, naming the line
    rec = read_state(home, "checks.json")
    if rec is None:
        return WARN, "no check record yet (the pipeline writes one after each build) — `exo data validate` checks now"
    try:
        outs = list(rec["outcomes"])
        dbt_failed = [f for f in rec["failed"] if str(f).startswith("dbt:")]
        at = str(rec["at"])[:19].replace("T", " ") + " UTC"
    except (KeyError, TypeError):
        return FAIL, f"unreadable check record {home.state_dir / 'checks.json'} (fail closed)"
    name = lambda o: f"{o['suite']}:{o['check']}"  # noqa: E731
    bad_err = [name(o) for o in outs if not o["passed"] and o["severity"] == ERROR] + dbt_failed
    bad_warn = [name(o) for o in outs if not o["passed"] and o["severity"] != ERROR]
    if bad_err:
        return FAIL, f"{len(bad_err)} ERROR check(s) failed (recorded {at}): {', '.join(bad_err[:4])}"
    if bad_warn:
        return WARN, (f"{len(outs) - len(bad_warn)} of {len(outs)} passed (recorded {at}); "
                      f"WARN: {', '.join(bad_warn[:4])}")
    return OK, f"all {len(outs)} checks passed (recorded {at})"


def _check_drill(home: Home) -> tuple[str, str]:
    from mech_exo.drill import drill_status

    s = drill_status(home)
    days = s["days_since_last_live_pass"]
    status = {"green": OK, "yellow": WARN}.get(s["badge"], FAIL)
    text = f"badge {s['badge']}: " + ("no live drill has passed yet" if days is None else f"last live pass {days:g} days ago")
    if s["lock"]["stale"]:
        status, text = (FAIL if status == FAIL else WARN), text + f"; {s['lock']['why']}"
    return status, text


def _check_outbox(home: Home) -> tuple[str, str]:
    from mech_exo.alerts.outbox import outbox_dir, pending

    items = pending(home)
    if not items:
        return OK, "empty"
    corrupt = sum(1 for _, i in items if i.get("_corrupt"))
    return WARN, (f"{len(items)} undelivered message(s) waiting in {outbox_dir(home)}"
                  + (f" ({corrupt} unreadable)" if corrupt else ""))


CHECKS: list[tuple[str, Callable[[Home], tuple[str, str]]]] = [
    ("config files", _check_configs), ("kill-switch", _check_killswitch), ("snapshot", _check_snapshot),
    ("data checks (GE)", _check_data), ("rollback drill", _check_drill), ("alert outbox", _check_outbox)]
# fixes for the checks above (the halt-path components carry their own)
FIXES = {"config files": "fix the file and line named (`exo run` halts trading while risk.yml is unreadable)",
         "kill-switch": "`exo kill status`; restore config/killswitch.yml from its history or a backup",
         "snapshot": "`exo run`", "data checks (GE)": "`exo data validate`; the run-book's data-issue path",
         "rollback drill": "`exo drill rollback --dry-run`, then a live `exo drill rollback`",
         "alert outbox": "`exo alerts flush`"}


def full_check(home: Home, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every component graded; a check that itself crashes is FAIL with the error (never hidden).
    The halt path's components (``mech_exo.flows.halt_path``) follow the file checks."""

    out = []
    for name, fn in CHECKS:
        try:
            status, detail = fn(home)
        except Exception as exc:  # noqa: BLE001 — the health check must report, not die
            status, detail = FAIL, f"check crashed: {exc.__class__.__name__}: {exc}"
        out.append({"component": name, "status": status, "detail": detail,
                    "fix": FIXES.get(name) if status != OK else None})
    try:
        from mech_exo.flows.halt_path import halt_path_components

        out += [comp.as_dict() for comp in halt_path_components(home, now)]
    except Exception as exc:  # noqa: BLE001
        out.append({"component": "halt path", "status": FAIL, "detail": f"check crashed: {exc.__class__.__name__}: {exc}",
                    "fix": "`exo flows status`", "data": {}})
    return out


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 instant (e.g. 2026-11-20T15:00:00Z)", param_hint="--now")
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@health.command("full-check")
@click.option("--now", default=None, help="Judge as of this UTC instant (ISO-8601); default: the clock.")
@json_option
@pass_home
def full_check_cmd(home: Home, now: str | None, as_json: bool) -> None:
    """Every component OK / WARN / FAIL / UNKNOWN: configs, kill-switch, snapshot freshness, data checks,
    drill badge, alert outbox, and the halt path — Dagster instance, pipeline runs (Dagster and `exo run`),
    warehouse pool (wedged?), pipeline freshness (stale in session?), Dagster daemon, alert escalation.
    Exit 1 if any FAIL or UNKNOWN; each such component says what to run to recover."""
    from mech_exo.cli.risk_cmds import table

    rows = full_check(home, _parse_now(now))
    bad = [r for r in rows if r["status"] in (FAIL, UNKNOWN)]
    if as_json:
        emit_json({"ok": not bad, "components": rows})
    else:
        t = table(f"Health check — {home.root}", "Component", "Status", "Detail")
        for r in rows:
            t.add_row(r["component"], f"[{STATUS_STYLE[r['status']]}]{r['status']}[/]", escape(r["detail"]))
        c = console()
        c.print(t)
        counts = {s: sum(r["status"] == s for r in rows) for s in (FAIL, UNKNOWN, WARN)}
        summary = f"{counts[FAIL]} FAIL, {counts[UNKNOWN]} UNKNOWN, {counts[WARN]} WARN"
        c.print(f"[bold red]unhealthy[/]: {summary}" if bad else f"[green]healthy[/]: {summary}")
        fixes = [r for r in rows if r["status"] != OK and r.get("fix")]
        if fixes:
            c.print("To recover:")
            for r in sorted(fixes, key=lambda r: {FAIL: 0, UNKNOWN: 1, WARN: 2}[r["status"]]):
                c.print(f"  [{STATUS_STYLE[r['status']]}]{r['status']}[/] {escape(r['component'])}: {escape(r['fix'])}")
    if bad:
        sys.exit(1)
