"""Is that process still there? One answer for every pid the product records (drill locks, pool
slots of Dagster runs, the dashboard), robust to zombies and to the system reusing a pid.

A pid alone is not an identity: after a crash the number may belong to another process by the
time we look. So records keep the process's start time (``/proc/<pid>/stat`` field 22, clock ticks
since boot) next to the pid, and a pid whose start time differs is a different, unrelated process.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path


def host() -> str:
    return socket.gethostname()


def start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None (gone, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None   # field 22 overall; 20th after "(comm)"


def alive(pid: int | str | None, start: str | None = None) -> bool:
    """Alive, not a zombie, and (when ``start`` is given and /proc readable) the same process."""
    try:
        pid = int(pid or 0)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that exited: reap the zombie
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True   # no /proc: the signal probe is all we have
    if state == "Z":
        return False
    return start is None or start_ticks(pid) in (None, start)


def identity() -> dict[str, str]:
    """What a record stores to recognise this process later: pid, its start time, the host."""
    pid = os.getpid()
    return {"pid": str(pid), "start": start_ticks(pid) or "", "host": host()}
