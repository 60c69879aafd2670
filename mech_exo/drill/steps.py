"""The four timed steps A–D on the kill-switch file and the emergency restore."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import yaml

from mech_exo import killswitch as ks
from mech_exo import snapshot
from mech_exo.drill.model import (
    REASON_DONE,
    REASON_EMERGENCY,
    REASON_OFF,
    STEP_NAMES,
    DrillError,
    DrillRun,
    Progress,
    Step,
)
from mech_exo.events import iso_utc


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
        snapshot.append(run.home, "killswitch",
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
