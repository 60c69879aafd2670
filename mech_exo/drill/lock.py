"""``.drill_lock``: one drill at a time; a lock whose process is gone is stale."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from mech_exo.drill.model import CORRUPT_LOCK_GRACE_S, DrillRefused
from mech_exo.home import Home
from mech_exo.locks import exclusive_lock

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
