"""The kill-switch audit log (``data/events/killswitch.jsonl``) and its backlog.

Why: a state change that landed must never be reported as an error, and its audit record must never
be lost because the log could not be appended (full disk, read-only ``data/``, permissions). So:

* :func:`log` appends one line; a short write (ENOSPC mid-line) is cut back to the old length, so the
  log never keeps half a record. When the append fails, the record goes to the **backlog**
  ``config/killswitch.audit-backlog.jsonl`` (next to the state file, often on another mount than
  ``data/``); if even that fails it survives in the yml's history (or the halt file) and the caller
  is told exactly where.
* :func:`flush` moves the backlog into the log before every later kill-switch event (so the log keeps
  the order of changes). Lines already in the log are not appended twice (a flush that died between
  append and unlink is harmless).
* :func:`read_log` reads the log line by line and never raises: a missing file, an unreadable one,
  a torn last line, bad UTF-8, bad JSON or a non-object line is *reported* (file, line, why) and skipped.

Every writer here runs under the kill-switch lock; the append also takes the same ``flock`` on the
log file as :func:`mech_exo.events.append_event`, so other writers never interleave with it.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mech_exo.events import utc_now


def backlog_path(yml: Path) -> Path:
    yml = Path(yml)
    return yml.with_name(yml.stem + ".audit-backlog.jsonl")


def line_of(record: dict[str, Any]) -> str:
    """Exactly the line :func:`mech_exo.events.append_event` writes (same keys, same order)."""
    return json.dumps(record, sort_keys=True, default=str, ensure_ascii=False) + "\n"


def _why(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def append_lines(path: Path, text: str) -> None:
    """Append ``text`` (whole lines) in one write under flock, fsync; all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.fstat(fd).st_size
        try:
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(28, f"short write to {path} ({n} of {len(data)} bytes): No space left on device")
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)  # shrinking needs no space: never leave half a record
            except OSError:
                pass
            raise
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# --- reading --------------------------------------------------------------------------------------

@dataclass
class LogRead:
    path: Path
    records: list[dict] = field(default_factory=list)     # each with "_line"
    skipped: list[dict] = field(default_factory=list)     # {"file", "line", "error"}
    problem: str | None = None                             # the whole file could not be read
    missing: bool = False


def read_log(path: Path) -> LogRead:
    path = Path(path)
    out = LogRead(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        out.missing = True
        return out
    except OSError as exc:
        out.problem = f"{path}: cannot read ({_why(exc)})"
        return out
    lines = raw.split(b"\n")
    for lineno, bline in enumerate(lines, start=1):
        if not bline.strip():
            continue
        torn = lineno == len(lines)  # the last chunk had no newline: a partial line
        try:
            text = bline.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.skipped.append({"file": str(path), "line": lineno, "error": f"not UTF-8 (byte {exc.start})"})
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            why = f"not valid JSON ({exc.msg})" + ("; partial last line (no newline)" if torn else "")
            out.skipped.append({"file": str(path), "line": lineno, "error": why})
            continue
        if not isinstance(rec, dict):
            out.skipped.append({"file": str(path), "line": lineno,
                                "error": f"not a JSON object (got {type(rec).__name__})"})
            continue
        out.records.append({**rec, "_line": lineno})
    return out


# --- writing --------------------------------------------------------------------------------------

def flush(log_path: Path, yml: Path) -> dict:
    """Move the backlog into the log. ``{"flushed": n, "pending": n, "error": str|None}``."""
    bp = backlog_path(yml)
    if not bp.exists():
        return {"flushed": 0, "pending": 0, "error": None, "backlog": str(bp)}
    back = read_log(bp)
    if back.problem:
        return {"flushed": 0, "pending": 1, "error": back.problem, "backlog": str(bp)}
    lines = [line_of({k: v for k, v in r.items() if k != "_line"}) for r in back.records]
    have = read_log(log_path)
    if have.problem:
        return {"flushed": 0, "pending": len(lines), "error": have.problem, "backlog": str(bp)}
    present = {line_of({k: v for k, v in r.items() if k != "_line"}) for r in have.records}
    todo = [ln for ln in lines if ln not in present]
    try:
        if todo:
            append_lines(log_path, "".join(todo))
        if back.skipped:  # unreadable backlog lines are kept as evidence, never put into the log
            bp.rename(bp.with_name(f"{bp.name}.corrupt-{utc_now().strftime('%Y%m%dT%H%M%SZ')}"))
        else:
            bp.unlink()
    except OSError as exc:
        return {"flushed": 0, "pending": len(todo), "error": f"{log_path}: {_why(exc)}", "backlog": str(bp)}
    return {"flushed": len(todo), "pending": 0, "error": None, "backlog": str(bp)}


def log(log_path: Path, yml: Path, records: list[dict[str, Any]]) -> dict:
    """Append ``records`` to the audit log (flushing the backlog first); fall back to the backlog.

    Returns ``{"logged": bool, "file": log, "error": why|None, "kept_in": where|None, "flushed": n}``.
    """
    log_path = Path(log_path)
    text = "".join(line_of(r) for r in records)
    fl = flush(log_path, yml)
    info: dict[str, Any] = {"logged": False, "file": str(log_path), "error": None, "kept_in": None,
                            "flushed": fl["flushed"]}
    if not records:  # a flush only
        info["logged"] = fl["pending"] == 0
        info["error"] = fl["error"]
        return info
    if fl["pending"] == 0:
        try:
            append_lines(log_path, text)
            info["logged"] = True
            return info
        except OSError as exc:
            info["error"] = _why(exc)
    else:
        info["error"] = f"the backlog could not be flushed first ({fl['error']}); kept in order behind it"
    bp = backlog_path(yml)
    try:
        append_lines(bp, text)
        info["kept_in"] = str(bp)
    except OSError as exc:
        info["backlog_error"] = f"{bp}: {_why(exc)}"
    return info
