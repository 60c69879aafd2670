"""A drill whose process died: restore the switch from its backup, record it ABORTED."""
from __future__ import annotations

from pathlib import Path

from mech_exo import killswitch as ks
from mech_exo.drill.lock import _mutex, lock_state
from mech_exo.drill.model import REASON_RECOVERED, DrillRun, _dryrun_dir
from mech_exo.drill.report import _finish
from mech_exo.drill.steps import _describe, _is_drills_halt, emergency_restore
from mech_exo.events import iso_utc, parse_utc, utc_now
from mech_exo.home import Home

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
