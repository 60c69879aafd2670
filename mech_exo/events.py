"""Append-only JSONL event logs (drills, alerts, kill-switch) under ``data/events/``.

Why JSONL and not a DuckDB table: DuckDB allows one writer *or* many readers per file, and the dbt
build holds the write lock for its whole run. Events are written by guards, the CLI and drills at
any moment, so they go to append-only files that the dbt models (``drill_log``, ``alert_log``,
``killswitch_events``) read at build time. Each append is one ``write`` of a full line under an
exclusive ``flock`` followed by ``fsync``: concurrent writers never interleave and a crash never
leaves half a record that a later line depends on (a torn last line is reported by ``read_events``).
"""
from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(dt: datetime | None = None) -> str:
    """UTC ISO-8601 with a Z suffix and microseconds dropped: ``2026-11-24T14:05:09Z``."""
    dt = (dt or utc_now()).astimezone(timezone.utc).replace(microsecond=0)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(ts: Any) -> datetime | None:
    """An ISO-8601 timestamp (``Z``, an offset, or naive = UTC) as an aware UTC datetime; None if unparsable."""
    try:
        dt = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def append_event(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=str, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return record


class EventLogError(ValueError):
    pass


def read_events(path: Path, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Yield records in file order. A corrupt line raises (strict) or is skipped with a warning record."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                if strict:
                    raise EventLogError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                yield {"_corrupt": True, "_file": str(path), "_line": lineno, "_error": exc.msg}
