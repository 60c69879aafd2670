"""Running a drill: refuse, prepare (live or dry-run copy), execute A–D, finish."""
from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from mech_exo import killswitch as ks
from mech_exo.drill.history import get_last_drill_info
from mech_exo.drill.lock import (
    _acquire_lock,
    _mutex,
    _proc_start,
    _release_lock,
    lock_state,
)
from mech_exo.drill.model import (
    DrillRefused,
    DrillRun,
    Progress,
    _dryrun_dir,
    new_drill_id,
)
from mech_exo.drill.recovery import recover_stale_drill
from mech_exo.drill.report import _finish
from mech_exo.drill.steps import (
    _describe,
    _timed,
    emergency_restore,
    step_a_backup,
    step_b_kill_off,
    step_c_wait,
    step_d_restore,
)
from mech_exo.events import iso_utc, utc_now
from mech_exo.home import Home

# --- running a drill ------------------------------------------------------------------------------

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
