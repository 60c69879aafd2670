"""Rollback drill (SPEC §6): prove, on a schedule, that the kill-switch halts trading and comes back.

A drill is four timed steps on the kill-switch file:

* **A** back up ``config/killswitch.yml`` to ``config/killswitch_backup_YYYYMMDD_HHMMSS.yml`` and
  verify it (re-read, byte-compare, parse);
* **B** kill off with reason ``ROLLBACK_DRILL`` (trigger ``drill``, by ``drill:<id>``), verify by re-reading;
* **C** wait, then check the switch is still the drill's halt;
* **D** restore the pre-drill state (the change is recorded with reason ``ROLLBACK_DRILL_COMPLETE``)
  and verify ``trading_enabled``/``trigger``/``reason`` equal the pre-drill ones.

Why the care:
* **A real halt wins.** If anything else changed the switch during the drill (a guard halted,
  someone switched it on), the drill does not restore over it: it fails and leaves the switch alone.
* **Any failed step ⇒ emergency restore** from the backup, status FAIL, CRITICAL alert; the backup is
  kept on failure and removed after a pass. If the kill-switch's own locked write is broken, the
  restore writes the backup's state atomically itself (history kept, event logged).
* **One drill at a time.** ``.drill_lock`` (created with ``O_EXCL``) names pid, process start,
  drill id and backup path. A lock whose process is gone is *stale*: the next ``exo drill rollback``
  or ``exo drill status`` recovers it (:func:`recover_stale_drill`) — restores the switch from the
  backup when it is still the dead drill's halt, appends an ABORTED record, says so loudly.
* **Dry run** runs the same cycle on a copy under ``data/state/drill_dryrun/`` with no kill-switch
  events, so live state is untouched.

Every finished drill appends one record to ``data/events/drills.jsonl`` (→ dbt ``drill_log``) and
writes ``reports/drills/drill_YYYYMMDD_HHMM.md``, which the alert attaches.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import yaml

from mech_exo.locks import exclusive_lock
from mech_exo import killswitch as ks
from mech_exo.alerts import send_alert
from mech_exo.events import append_event, iso_utc, parse_utc, read_events, utc_now
from mech_exo.home import Home

REASON_OFF = "ROLLBACK_DRILL"
REASON_DONE = "ROLLBACK_DRILL_COMPLETE"
REASON_EMERGENCY = "ROLLBACK_DRILL_EMERGENCY_RESTORE"
REASON_RECOVERED = "ROLLBACK_DRILL_RECOVERED"
STEP_NAMES = {"A": "Back up kill-switch", "B": f"Kill off ({REASON_OFF})", "C": "Wait",
              "D": "Restore pre-drill state"}
GREEN_BELOW_DAYS = 90     # badge green when the last live pass is younger than this
RED_ABOVE_DAYS = 120      # badge red when older than this (or never)
CORRUPT_LOCK_GRACE_S = 10  # an unparseable lock younger than this may still be being written

Progress = Callable[..., None]


class DrillError(Exception):
    """A drill step failed; the message names the file and what did not match."""


class DrillRefused(DrillError):
    """A drill may not start (another drill runs, trading already off, switch unreadable)."""


# --- the lock -------------------------------------------------------------------------------------

def _proc_start(pid: int) -> str | None:
    """Process start time in clock ticks since boot (``/proc/<pid>/stat`` field 22): a pid reused by
    another process has a different start, so a recycled pid does not keep a dead drill's lock alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def pid_alive(pid: Any, proc_start: str | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if known, is the same process that took the lock."""
    try:
        pid = int(pid)
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (ValueError, TypeError, OSError):
        return False
    if Path("/proc").is_dir():
        now_start = _proc_start(pid)
        if now_start is None:  # zombie or vanished
            return False
        return proc_start is None or str(proc_start) == now_start
    return True


def read_lock(home: Home) -> dict | None:
    """The lock's content, None without a lock; an unparseable lock → ``{"_corrupt": True, "error"}``."""
    try:
        text = home.drill_lock.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"_corrupt": True, "error": f"{home.drill_lock}: cannot read ({exc})"}
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or "pid" not in data:
            raise ValueError("expected a JSON object with pid")
        return data
    except ValueError as exc:
        return {"_corrupt": True, "error": f"{home.drill_lock}: not a drill lock ({exc})"}


def lock_state(home: Home) -> dict:
    """``{exists, stale, lock, why}``: is a drill running, or did one die holding the lock?"""
    lock = read_lock(home)
    if lock is None:
        return {"exists": False, "stale": False, "lock": None, "why": None}
    if lock.get("_corrupt"):
        try:
            age = time.time() - home.drill_lock.stat().st_mtime
        except OSError:
            age = 0.0
        stale = age > CORRUPT_LOCK_GRACE_S
        return {"exists": True, "stale": stale, "lock": lock,
                "why": f"{lock['error']}; {'stale' if stale else 'may still be being written'} ({age:.0f}s old)"}
    if pid_alive(lock.get("pid"), lock.get("proc_start")):
        return {"exists": True, "stale": False, "lock": lock,
                "why": f"drill {lock.get('drill_id')} is running (pid {lock.get('pid')} since {lock.get('started_at')})"}
    return {"exists": True, "stale": True, "lock": lock,
            "why": f"drill {lock.get('drill_id')} (pid {lock.get('pid')}, started {lock.get('started_at')}) "
                   f"is no longer running: the lock {home.drill_lock} is stale"}


def _mutex(home: Home):
    """Serialise lock take-over and stale recovery between processes (flock on the home directory)."""
    return exclusive_lock(home.root, directory=True)


def _acquire_lock(home: Home, info: dict) -> None:
    """Create ``.drill_lock`` with O_EXCL (exactly one creator wins), content fsynced."""
    try:
        fd = os.open(home.drill_lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise DrillRefused(f"another drill holds {home.drill_lock}: {lock_state(home)['why']}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(info, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _release_lock(home: Home, drill_id: str) -> None:
    lock = read_lock(home)
    if lock is not None and lock.get("drill_id") == drill_id:
        home.drill_lock.unlink(missing_ok=True)


# --- one drill's context and steps ----------------------------------------------------------------

@dataclass
class Step:
    step: str
    name: str
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    ok: bool = False
    detail: str = ""


@dataclass
class DrillRun:
    home: Home
    drill_id: str
    dry_run: bool
    wait_s: int
    started_by: str
    path: Path                      # the kill-switch file drilled (live, or the dry-run copy)
    backup_path: Path
    started_at: datetime = field(default_factory=utc_now)
    pre: ks.KillSwitchState | None = None
    b_changed: bool = False
    backup_written: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def by(self) -> str:
        return f"drill:{self.drill_id}"

    @property
    def log_event(self) -> bool:
        return not self.dry_run


def new_drill_id(now: datetime) -> str:
    return f"D{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _same_as_pre(st: ks.KillSwitchState, pre: ks.KillSwitchState) -> bool:
    return (st.readable and st.trading_enabled == pre.trading_enabled and st.trigger == pre.trigger
            and st.reason == pre.reason)


def _describe(st: ks.KillSwitchState) -> str:
    if not st.readable:
        return f"UNREADABLE ({st.error})"
    return (f"trading_enabled={str(st.trading_enabled).lower()}, trigger={st.trigger}, "
            f"reason={st.reason!r}, updated_by={st.updated_by}")


def _is_drills_halt(run: DrillRun, st: ks.KillSwitchState) -> bool:
    """Still the halt this drill made (so restoring cannot undo anyone else's change)?"""
    return (st.readable and st.trading_enabled is False and st.trigger == "drill"
            and (st.updated_by == run.by or not run.b_changed))


def step_a_backup(run: DrillRun) -> str:
    src = run.path.read_bytes()
    run.backup_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(run.backup_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(src)
        fh.flush()
        os.fsync(fh.fileno())
    run.backup_written = True
    if run.backup_path.read_bytes() != src:
        raise DrillError(f"{run.backup_path}: re-read content differs from {run.path}")
    pre = ks.read_state(path=run.backup_path)
    if not pre.readable:
        raise DrillError(f"backup is not a valid kill-switch file: {pre.error}")
    run.pre = pre
    return f"{len(src)} bytes copied to {run.backup_path}, re-read identical; pre-drill: {_describe(pre)}"


def step_b_kill_off(run: DrillRun) -> str:
    res = ks.set_trading(run.home, enabled=False, reason=REASON_OFF, trigger="drill", by=run.by,
                         path=run.path, log_event=run.log_event)
    run.b_changed = bool(res.get("changed"))
    st = ks.read_state(path=run.path)
    if not (st.readable and st.trading_enabled is False and st.trigger == "drill"):
        raise DrillError(f"{run.path}: after kill off the re-read shows {_describe(st)}, expected "
                         f"trading_enabled=false, trigger=drill")
    return f"trading disabled by {run.by} (re-read: {_describe(st)})"


def step_c_wait(run: DrillRun, sleep: Callable[[float], Any], progress: Progress) -> str:
    remaining = run.wait_s
    while remaining > 0:
        progress("wait", remaining=remaining, total=run.wait_s)
        sleep(min(1, remaining))
        remaining -= 1
    progress("wait", remaining=0, total=run.wait_s)
    st = ks.read_state(path=run.path)
    if not _is_drills_halt(run, st):
        raise DrillError(f"{run.path}: the kill-switch changed during the drill ({_describe(st)}); "
                         f"left as is — a real halt or a manual change takes precedence over the drill")
    return f"held trading disabled for {run.wait_s}s; still the drill's halt"


def step_d_restore(run: DrillRun) -> str:
    st = ks.read_state(path=run.path)
    if not _is_drills_halt(run, st):
        raise DrillError(f"{run.path}: not restoring, the kill-switch is no longer the drill's halt "
                         f"({_describe(st)})")
    _restore_via_killswitch(run, REASON_DONE)
    after = ks.read_state(path=run.path)
    if not _same_as_pre(after, run.pre):
        raise DrillError(f"{run.path}: after restore the re-read shows {_describe(after)}, "
                         f"expected the pre-drill {_describe(run.pre)}")
    return f"restored (change recorded as {REASON_DONE}); re-read equals pre-drill: {_describe(after)}"


def _restore_via_killswitch(run: DrillRun, reason: str) -> None:
    """Switch back through the kill-switch API (locked, audited; ``reason`` goes in history and
    killswitch.jsonl), then put the pre-drill top-level ``reason`` back so the state equals the backup's."""
    pre = run.pre
    ks.set_trading(run.home, enabled=pre.trading_enabled, reason=reason, trigger=pre.trigger, by=run.by,
                   path=run.path, log_event=run.log_event)
    with ks._locked(run.path):
        data = yaml.safe_load(run.path.read_text(encoding="utf-8"))
        if (isinstance(data, dict) and data.get("updated_by") == run.by
                and data.get("trading_enabled") == pre.trading_enabled and data.get("reason") != pre.reason):
            data["reason"] = pre.reason
            ks._atomic_write(run.path, ks._render(data))


def _restore_by_writing_backup(run: DrillRun, reason: str, why: str) -> None:
    """Last resort when the kill-switch's locked write itself is broken: write the backup's state
    atomically (temp, fsync, rename) without the lock, keeping the history and logging the change."""
    pre = run.pre
    cur = ks.read_state(path=run.path)
    now = iso_utc()
    entry = {"at": now, "action": "enable" if pre.trading_enabled else "disable",
             "trading_enabled": pre.trading_enabled, "reason": reason, "trigger": pre.trigger, "by": run.by,
             "approved_by": None, "guard": None, "period": None, "level_pct": None,
             "note": f"restored from backup {run.backup_path.name} without the kill-switch lock: {why}"}
    history = (cur.history if cur.history else pre.history) + [entry]
    ks._atomic_write(run.path, ks._render({"trading_enabled": pre.trading_enabled, "reason": pre.reason,
                                           "trigger": pre.trigger, "updated_at": now, "updated_by": run.by,
                                           "history": history}))
    if run.log_event:
        append_event(run.home.event_log("killswitch"),
                     {**entry, "previous_enabled": bool(cur.readable and cur.trading_enabled), "dry_run": False})


def emergency_restore(run: DrillRun, reason: str = REASON_EMERGENCY) -> dict:
    """Bring the switch back to the backup's state after a failure — unless someone else changed it."""
    if run.pre is None:
        return {"attempted": False, "ok": True, "method": None,
                "detail": "no backup was taken, so the drill never changed the kill-switch"}
    st = ks.read_state(path=run.path)
    if _same_as_pre(st, run.pre):
        return {"attempted": False, "ok": True, "method": None,
                "detail": f"kill-switch already in its pre-drill state ({_describe(st)})"}
    if st.readable and not _is_drills_halt(run, st):
        return {"attempted": False, "ok": False, "method": None,
                "detail": f"kill-switch was changed by someone else during the drill ({_describe(st)}); left as is"}
    try:
        _restore_via_killswitch(run, reason)
        method = "kill-switch write"
    except ks.KillSwitchError as exc:  # refused by policy (e.g. unreadable file needs a CTO): fail closed
        return {"attempted": True, "ok": False, "method": None,
                "detail": f"kill-switch refused the restore, trading left as is: {exc}"}
    except OSError as exc:  # the switch's own locked write is broken: the backup must still come back
        why = f"{exc.__class__.__name__}: {exc}"
        try:
            _restore_by_writing_backup(run, reason, why)
            method = f"direct write of the backup's state (kill-switch write failed: {why})"
        except Exception as exc2:  # noqa: BLE001
            return {"attempted": True, "ok": False, "method": None,
                    "detail": f"emergency restore failed: {why}; then {exc2.__class__.__name__}: {exc2}"}
    after = ks.read_state(path=run.path)
    ok = _same_as_pre(after, run.pre)
    return {"attempted": True, "ok": ok, "method": method,
            "detail": f"restored from {run.backup_path}: {_describe(after)}" if ok else
                      f"after emergency restore the re-read shows {_describe(after)}, expected {_describe(run.pre)}"}


def _timed(run: DrillRun, code: str, fn: Callable[[], str], progress: Progress) -> bool:
    step = Step(step=code, name=STEP_NAMES[code], started_at=iso_utc())
    progress("step_start", step=code, name=step.name)
    t0 = time.monotonic()
    try:
        step.detail, step.ok = fn(), True
    except KeyboardInterrupt:
        step.detail = "interrupted (Ctrl-C / SIGINT, or SIGTERM under `exo`)"
    except Exception as exc:  # noqa: BLE001 — any failure of a step is a FAIL with its message
        step.detail = f"{exc.__class__.__name__}: {exc}" if not isinstance(exc, DrillError) else str(exc)
    step.duration_s = round(time.monotonic() - t0, 3)
    step.finished_at = iso_utc()
    run.steps.append(step)
    progress("step_end", step=code, name=step.name, ok=step.ok, duration_s=step.duration_s, detail=step.detail)
    return step.ok


# --- history lookups ------------------------------------------------------------------------------

def _records(home: Home) -> tuple[list[dict], int]:
    recs, corrupt = [], 0
    for r in read_events(home.event_log("drills")):
        if r.get("_corrupt"):
            corrupt += 1
        elif r.get("drill_id"):
            recs.append(r)
    return recs, corrupt


def get_last_drill_info(home: Home, now: datetime | None = None) -> dict:
    """The run-book's "last drill" lookup: the last drill of any kind and the last LIVE pass."""
    now = now or utc_now()
    recs, corrupt = _records(home)
    last = recs[-1] if recs else None
    live_passes = [r for r in recs if r.get("status") == "PASS" and not r.get("dry_run")]
    last_live = live_passes[-1] if live_passes else None
    at = parse_utc(last_live.get("finished_at")) if last_live else None
    days = round((now - at).total_seconds() / 86400, 2) if at else None
    return {"last_drill": last, "last_live_pass": last_live, "days_since_last_live_pass": days,
            "next_due": iso_utc(at + timedelta(days=GREEN_BELOW_DAYS)) if at else None,
            "drills_total": len(recs), "corrupt_lines": corrupt, "log": str(home.event_log("drills"))}


def badge_for(days: float | None) -> str:
    if days is None or days > RED_ABOVE_DAYS:
        return "red"
    return "green" if days < GREEN_BELOW_DAYS else "yellow"


def drill_status(home: Home, now: datetime | None = None) -> dict:
    """Last drill, days since the last live pass, badge, and whether a drill runs or died (read only)."""
    info = get_last_drill_info(home, now)
    return {**info, "now": iso_utc(now or utc_now()), "badge": badge_for(info["days_since_last_live_pass"]),
            "lock": lock_state(home)}


def check_overdue(home: Home, now: datetime | None = None) -> dict:
    """The daily 09:00 UTC check: WARNING from 90 days, CRITICAL past 120 days or never; one alert a day."""
    now = now or utc_now()
    st = drill_status(home, now)
    days, badge = st["days_since_last_live_pass"], st["badge"]
    severity = {"green": None, "yellow": "WARNING", "red": "CRITICAL"}[badge]
    out = {"badge": badge, "days_since_last_live_pass": days, "severity": severity, "alert": None}
    if severity is None:
        return out
    ago = "no live drill has ever passed" if days is None else f"the last live drill passed {days:.0f} days ago"
    msg = (f"Rollback drill overdue: {ago} (policy: every {GREEN_BELOW_DAYS} days; "
           f"critical past {RED_ABOVE_DAYS}). Run: exo drill rollback --wait 120")
    out["alert"] = send_alert(home, severity=severity, type="drill_overdue", message=msg,
                              dedup_key=f"drill-overdue:{severity}:{now.date().isoformat()}",
                              details={"days_since_last_live_pass": days, "badge": badge})
    return out


# --- report and record ----------------------------------------------------------------------------

def _report_path(home: Home, started: datetime) -> Path:
    """``drill_YYYYMMDD_HHMM.md``; a second drill in the same minute gets ``_2``, ``_3``… (never overwrite)."""
    base = f"drill_{started.strftime('%Y%m%d_%H%M')}"
    home.drill_reports_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        p = home.drill_reports_dir / (f"{base}.md" if n == 1 else f"{base}_{n}.md")
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return p
        except FileExistsError:
            continue
    raise DrillError(f"{home.drill_reports_dir}: no free report name for {base}")


def _recommendations(rec: dict) -> list[str]:
    if rec["status"] == "PASS" and not rec["dry_run"]:
        due = parse_utc(rec["finished_at"]) + timedelta(days=GREEN_BELOW_DAYS)
        return [f"Next live drill due by {due.date().isoformat()} ({GREEN_BELOW_DAYS}-day policy)."]
    if rec["status"] == "PASS":
        return ["A dry run does not count toward the 90-day policy: schedule a live drill "
                "(`exo drill rollback --wait 120`) in a quiet window."]
    out = ["Check the kill-switch now: `exo kill status` and `exo kill history --days 1`."]
    er = rec.get("emergency_restore") or {}
    if not er.get("ok", True):
        out.append("Trading may still be disabled by the drill: after checking, re-enable with "
                   "`exo kill on --reason \"Rollback drill cleanup\"`.")
    if rec.get("backup_path"):
        out.append(f"The pre-drill backup is kept at `{rec['backup_path']}` for inspection.")
    if rec.get("failed_step"):
        out.append(f"Fix the cause of step {rec['failed_step']} ({rec.get('error')}) and run the drill again.")
    return out


def render_report(rec: dict) -> str:
    mode = "DRY RUN (on a copy; live kill-switch untouched)" if rec["dry_run"] else "LIVE"
    er = rec.get("emergency_restore")
    if rec["status"] == "PASS":
        summary = (f"**PASS** — the kill-switch was backed up, switched off ({REASON_OFF}), held off for "
                   f"{rec['wait_s']} s and restored to its pre-drill state in {rec['duration_s']:.1f} s.")
    else:
        where = f" at step {rec['failed_step']}" if rec.get("failed_step") else ""
        summary = f"**{rec['status']}**{where}: {rec.get('error')}"
        if er:
            summary += f"\n\nEmergency restore: {'OK' if er.get('ok') else 'NOT OK'} — {er.get('detail')}"
    lines = [f"# Rollback drill {rec['drill_id']}", "", "## Executive summary", "", summary, "",
             "| | |", "| --- | --- |", f"| Status | **{rec['status']}** |", f"| Mode | {mode} |",
             f"| Started (UTC) | {rec['started_at']} |", f"| Finished (UTC) | {rec['finished_at']} |",
             f"| Duration | {rec['duration_s']:.3f} s |", f"| Wait (step C) | {rec['wait_s']} s |",
             f"| Started by | {rec.get('started_by')} |", f"| Kill-switch file | `{rec.get('killswitch_path')}` |",
             f"| Backup | `{rec.get('backup_path') or '(removed after the pass)'}` |", "",
             "## Steps", "", "| Step | What | Start (UTC) | End (UTC) | Duration (s) | Result | Detail |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in rec["steps"]:
        detail = str(s["detail"]).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s['step']} | {s['name']} | {s['started_at']} | {s['finished_at']} | "
                     f"{s['duration_s']:.3f} | {'OK' if s['ok'] else 'FAILED'} | {detail} |")
    if not rec["steps"]:
        lines.append("| — | no step record (the drill process died) | | | | | |")
    errors = [f"- Step {s['step']}: {s['detail']}" for s in rec["steps"] if not s["ok"]]
    if rec.get("error") and not errors:
        errors = [f"- {rec['error']}"]
    lines += ["", "## Errors", "", *(errors or ["None."]), "", "## Recommendations", "",
              *[f"- {r}" for r in _recommendations(rec)], "", "## Screenshot", "",
              "_Screenshot placeholder: attach the risk dashboard's kill-switch badge (or the Dagster "
              "run page) captured during step C._", ""]
    return "\n".join(lines)


def _finish(home: Home, rec: dict) -> dict:
    """Write the report, append the record, send the alert (INFO on PASS, CRITICAL otherwise)."""
    started = parse_utc(rec["started_at"]) or utc_now()
    report = _report_path(home, started)
    rec["report_path"] = str(report.relative_to(home.root)) if report.is_relative_to(home.root) else str(report)
    report.write_text(render_report(rec), encoding="utf-8")
    append_event(home.event_log("drills"), rec)
    mode = "dry-run" if rec["dry_run"] else "live"
    severity = "INFO" if rec["status"] == "PASS" else "CRITICAL"
    msg = f"Rollback drill {rec['drill_id']} ({mode}): {rec['status']}"
    msg += (f" in {rec['duration_s']:.1f}s" if rec["status"] == "PASS"
            else f" — step {rec.get('failed_step') or '?'}: {rec.get('error')}")
    alert = send_alert(home, severity=severity, type="drill", message=msg, dedup_key=f"drill:{rec['drill_id']}",
                       details={"status": rec["status"], "dry_run": rec["dry_run"], "report": rec["report_path"],
                                "emergency_restore": (rec.get("emergency_restore") or {}).get("detail")},
                       attachment=report)
    return {**rec, "report_file": str(report), "alert_id": alert.get("alert_id")}


# --- stale-drill recovery -------------------------------------------------------------------------

def _run_from_lock(home: Home, lock: dict) -> DrillRun:
    dry = bool(lock.get("dry_run"))
    path = _dryrun_dir(home) / "killswitch.yml" if dry else home.killswitch_yml
    return DrillRun(home=home, drill_id=str(lock.get("drill_id") or "unknown"), dry_run=dry,
                    wait_s=int(lock.get("wait_s") or 0), started_by=str(lock.get("started_by") or "?"),
                    path=path, backup_path=Path(lock.get("backup_path") or ""),
                    started_at=parse_utc(lock.get("started_at")) or utc_now(), b_changed=True)


def _recover_switch(run: DrillRun) -> dict:
    if run.dry_run:
        return {"attempted": False, "ok": True, "method": None,
                "detail": "dry-run drill: the live kill-switch was never touched"}
    if not run.backup_path.is_file():
        st = ks.read_state(home=run.home)
        ok = not _is_drills_halt(run, st)
        return {"attempted": False, "ok": ok, "method": None,
                "detail": (f"no backup at {run.backup_path}; kill-switch: {_describe(st)}" +
                           ("" if ok else " — still the dead drill's halt: re-enable by hand with `exo kill on`"))}
    run.pre = ks.read_state(path=run.backup_path)
    if not run.pre.readable:
        return {"attempted": False, "ok": False, "method": None,
                "detail": f"backup unreadable, cannot restore: {run.pre.error}"}
    return emergency_restore(run, REASON_RECOVERED)


def recover_stale_drill(home: Home) -> dict:
    """Clean up after a drill whose process died: restore the switch from its backup if it is still
    the drill's halt, append an ABORTED record (+ report, alert), remove the lock. No-op otherwise."""
    with _mutex(home):
        lk = lock_state(home)
        if not lk["exists"] or not lk["stale"]:
            return {"status": "running" if lk["exists"] else "no_lock", "lock": lk}
        lock = lk["lock"]
        if lock.get("_corrupt"):
            home.drill_lock.unlink(missing_ok=True)
            return {"status": "cleared_corrupt_lock", "lock": lk, "detail": lk["why"]}
        run = _run_from_lock(home, lock)
        restore = _recover_switch(run)
        now = utc_now()
        rec = {"drill_id": run.drill_id, "started_at": iso_utc(run.started_at), "finished_at": iso_utc(now),
               "duration_s": round((now - run.started_at).total_seconds(), 3), "dry_run": run.dry_run,
               "status": "ABORTED", "failed_step": None, "error": lk["why"], "report_path": None,
               "wait_s": run.wait_s, "steps": [], "started_by": run.started_by,
               "killswitch_path": str(run.path), "backup_path": str(run.backup_path) if run.backup_path.is_file() else None,
               "emergency_restore": restore}
        done = _finish(home, rec)
        home.drill_lock.unlink(missing_ok=True)
    return {"status": "recovered", "drill_id": run.drill_id, "restore": restore, "record": done, "lock": lk}


# --- running a drill ------------------------------------------------------------------------------

def _dryrun_dir(home: Home) -> Path:
    return home.state_dir / "drill_dryrun"


def _skip_reason(home: Home, interval_days: float, now: datetime) -> dict | None:
    info = get_last_drill_info(home, now)
    days = info["days_since_last_live_pass"]
    if days is None or days >= interval_days:
        return None
    return {"status": "SKIPPED", "reason": f"the last live drill passed {days:.1f} days ago "
                                           f"(< interval_days={interval_days}); nothing to do",
            "last_live_pass": info["last_live_pass"], "days_since_last_live_pass": days}


def _prepare(home: Home, *, dry_run: bool, wait_s: int, by: str, backup_dir: Path | None) -> DrillRun:
    now = utc_now()
    drill_id = new_drill_id(now)
    if dry_run:
        ddir = _dryrun_dir(home)
        path = ddir / "killswitch.yml"
    else:
        path = home.killswitch_yml
    backup = _free_backup_name(Path(backup_dir) if backup_dir is not None else path.parent, now)
    return DrillRun(home=home, drill_id=drill_id, dry_run=dry_run, wait_s=int(wait_s), started_by=by,
                    path=path, backup_path=backup, started_at=now)


def _free_backup_name(bdir: Path, now: datetime) -> Path:
    """``killswitch_backup_YYYYMMDD_HHMMSS.yml``; a backup kept by an earlier failed drill in the same
    second is never reused (``_2``, ``_3``…). Step A still creates it with O_EXCL."""
    base = f"killswitch_backup_{now.strftime('%Y%m%d_%H%M%S')}"
    for n in range(1, 1000):
        p = bdir / (f"{base}.yml" if n == 1 else f"{base}_{n}.yml")
        try:
            if not p.exists():
                return p
        except OSError:
            return p  # unreachable directory: step A will fail on it and say why
    return bdir / f"{base}_{uuid.uuid4().hex[:6]}.yml"


def _refuse_unless_startable(home: Home, run: DrillRun) -> None:
    live = ks.read_state(home)
    if not live.readable:
        raise DrillRefused(f"cannot drill a kill-switch that cannot be read: {live.error}")
    if not run.dry_run and not live.trading_enabled:
        raise DrillRefused(f"trading is already disabled ({_describe(live)}); a live drill would hide a "
                           f"real halt — resolve it first, or use --dry-run")


def _make_dryrun_copy(home: Home, run: DrillRun) -> None:
    ddir = run.path.parent
    if ddir.exists():
        shutil.rmtree(ddir)
    ddir.mkdir(parents=True)
    shutil.copy2(home.killswitch_yml, run.path)


def run_drill(home: Home, *, dry_run: bool = True, wait_s: int = 120, interval_days: float = 90,
              skip_frequency_check: bool = False, by: str = "cli", sleep: Callable[[float], Any] = time.sleep,
              progress: Progress | None = None, backup_dir: Path | None = None) -> dict:
    """Run one drill and return its record (status PASS/FAIL), or ``{"status": "SKIPPED", ...}``.

    Raises :class:`DrillRefused` when it may not start. ``sleep``/``progress`` let the CLI show a
    countdown and tests run without waiting; ``backup_dir`` overrides where step A writes.
    """
    progress = progress or (lambda *a, **k: None)
    if wait_s < 0:
        raise DrillRefused(f"--wait must be >= 0 seconds, got {wait_s}")
    recovered = _recover_if_stale(home, progress)  # a dead drill may have left trading halted: first
    if not skip_frequency_check:
        skipped = _skip_reason(home, interval_days, utc_now())
        if skipped:
            return {**skipped, "recovered_stale_drill": (recovered or {}).get("drill_id")}
    run = _prepare(home, dry_run=dry_run, wait_s=wait_s, by=by, backup_dir=backup_dir)
    with _mutex(home):
        _refuse_unless_startable(home, run)
        _acquire_lock(home, {"pid": os.getpid(), "proc_start": _proc_start(os.getpid()), "host": socket.gethostname(),
                             "started_at": iso_utc(run.started_at), "drill_id": run.drill_id,
                             "backup_path": str(run.backup_path), "dry_run": dry_run, "wait_s": run.wait_s,
                             "started_by": by})
    try:
        if dry_run:
            _make_dryrun_copy(home, run)
        rec = _execute(run, sleep, progress)
        if recovered:
            rec["recovered_stale_drill"] = recovered.get("drill_id")
        return _finish(home, rec)
    finally:
        _release_lock(home, run.drill_id)


def _recover_if_stale(home: Home, progress: Progress) -> dict | None:
    lk = lock_state(home)
    if not (lk["exists"] and lk["stale"]):
        return None
    progress("notice", message=f"stale drill lock found: {lk['why']} — recovering it first")
    res = recover_stale_drill(home)
    if res["status"] == "recovered":
        progress("notice", message=f"recovered drill {res['drill_id']}: {res['restore']['detail']} "
                                   f"(recorded as ABORTED)")
    return res


def _execute(run: DrillRun, sleep: Callable[[float], Any], progress: Progress) -> dict:
    t0 = time.monotonic()
    plan = [("A", lambda: step_a_backup(run)), ("B", lambda: step_b_kill_off(run)),
            ("C", lambda: step_c_wait(run, sleep, progress)), ("D", lambda: step_d_restore(run))]
    failed = None
    for code, fn in plan:
        if not _timed(run, code, fn, progress):
            failed = code
            break
    restore = None
    if failed:
        progress("notice", message=f"step {failed} failed: emergency restore from the backup")
        restore = emergency_restore(run)
    kept = failed is not None and run.backup_written and run.backup_path.is_file()
    if not failed:
        _cleanup_after_pass(run)
    fail_step = next((s for s in run.steps if not s.ok), None)
    return {"drill_id": run.drill_id, "started_at": iso_utc(run.started_at), "finished_at": iso_utc(),
            "duration_s": round(time.monotonic() - t0, 3), "dry_run": run.dry_run,
            "status": "FAIL" if failed else "PASS", "failed_step": failed,
            "error": fail_step.detail if fail_step else None, "report_path": None, "wait_s": run.wait_s,
            "steps": [vars(s) for s in run.steps], "started_by": run.started_by,
            "killswitch_path": str(run.path), "backup_path": str(run.backup_path) if kept else None,
            "emergency_restore": restore}


def _cleanup_after_pass(run: DrillRun) -> None:
    run.backup_path.unlink(missing_ok=True)
    if run.dry_run:
        shutil.rmtree(run.path.parent, ignore_errors=True)
