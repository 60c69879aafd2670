"""Reading the switch, fail closed: the yml, the halt file that wins over it, the history."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from mech_exo.events import read_events, utc_now
from mech_exo.home import Home
from mech_exo.killswitch import halt
from mech_exo.killswitch.model import HISTORY_KEYS, TRIGGERS, KillSwitchState

# --- reading --------------------------------------------------------------------------------------

def _validate(data: Any, path: Path) -> str | None:
    """The first rule the parsed file breaks, or None. Each message names the file and the key."""
    if not isinstance(data, dict):
        return f"{path}: expected a mapping at the top level, got {type(data).__name__}"
    if not isinstance(data.get("trading_enabled"), bool):
        return f"{path}: trading_enabled must be true or false, got {data.get('trading_enabled')!r}"
    if data.get("trigger") not in TRIGGERS:
        return f"{path}: trigger must be one of {'|'.join(TRIGGERS)}, got {data.get('trigger')!r}"
    for key in ("reason", "updated_at", "updated_by"):
        if not isinstance(data.get(key), str):
            return f"{path}: {key} must be a string, got {data.get(key)!r}"
    hist = data.get("history", [])
    if hist is not None and not isinstance(hist, list):
        return f"{path}: history must be a list, got {type(hist).__name__}"
    for i, entry in enumerate(hist or [], start=1):
        if not isinstance(entry, dict):
            return f"{path}: history entry {i} must be a mapping, got {entry!r}"
    return None


def _recover_history(data: Any) -> list[dict]:
    """Whatever history entries survive in a file that failed validation (nothing is dropped silently:
    the caller notes the corruption)."""
    if isinstance(data, dict) and isinstance(data.get("history"), list):
        return [dict(e) for e in data["history"] if isinstance(e, dict)]
    return []


def _closed(path: Path, error: str, data: Any = None) -> KillSwitchState:
    return KillSwitchState(trading_enabled=False, reason=f"kill-switch file unreadable: {error}",
                           trigger="manual", updated_at="", updated_by="", history=_recover_history(data),
                           readable=False, error=error, path=path, yml_ok=False)


def read_state(home: Home | None = None, path: Path | None = None) -> KillSwitchState:
    """Read the switch; any problem yields a DISABLED state with ``readable=False`` and an error naming the file.

    The halt file next to the yml is read too: HALT ⇒ DISABLED with the halt's who/why/when (its
    records appended to ``history``, so the re-enable policy sees their triggers); corrupt ⇒ DISABLED
    and unreadable, naming the halt file.
    """
    if path is None:
        path = (home or Home.resolve()).killswitch_yml
    path = Path(path)
    return _with_halt_file(_read_yml(path), halt.read(halt.halt_path(path)))


def halt_entry(h: dict, hp: Path) -> dict:
    """A halt record as a yml history entry (``halt_id`` links it back; the note says how it landed)."""
    entry = {k: h.get(k) for k in HISTORY_KEYS}
    entry["action"], entry["trading_enabled"] = "disable", False
    entry["halt_id"] = h["id"]
    entry["note"] = (f"landed via the halt file {hp} because the normal write failed ({h.get('write_error')})"
                     + (f"; {h['note']}" if h.get("note") else ""))
    return entry


def _with_halt_file(st: KillSwitchState, hf: halt.HaltFile) -> KillSwitchState:
    st.halt_status, st.halt_path = hf.status, hf.path
    if hf.status in ("missing", "clear"):
        return st
    bad = [h for h in hf.halts if h.get("trigger") not in TRIGGERS]
    if hf.status == "halt" and bad:
        hf = halt.HaltFile(hf.path, "corrupt", error=f"{hf.path}: halt record trigger must be one of "
                                                      f"{'|'.join(TRIGGERS)}, got {bad[0].get('trigger')!r}")
    if hf.status == "corrupt":
        error = hf.error if st.readable else f"{st.error}; {hf.error}"
        return KillSwitchState(trading_enabled=False, reason=f"kill-switch halt file unreadable: {hf.error}",
                               trigger=st.trigger if st.trigger in TRIGGERS else "manual",
                               updated_at=st.updated_at, updated_by=st.updated_by, history=st.history,
                               readable=False, error=error, path=st.path, halt_status="corrupt",
                               halt_path=hf.path, yml_ok=st.yml_ok)
    absorbed = {e.get("halt_id") for e in st.history if isinstance(e, dict)}
    pending = [h for h in hf.halts if h["id"] not in absorbed]
    history = st.history + [halt_entry(h, hf.path) for h in pending]
    last = hf.halts[-1]
    reason = last["reason"] if pending else (f"{last['reason']} (the halt file {hf.path} still says HALT: "
                                             f"a later write could not clear it)")
    return KillSwitchState(trading_enabled=False, reason=reason, trigger=last["trigger"],
                           updated_at=last["at"], updated_by=last["by"], history=history,
                           readable=st.readable, error=st.error, path=st.path, halt_status="halt",
                           halt_path=hf.path, pending_halts=pending, yml_ok=st.yml_ok)


def _read_yml(path: Path) -> KillSwitchState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _closed(path, f"{path}: file not found")
    except (OSError, UnicodeDecodeError) as exc:
        return _closed(path, f"{path}: cannot read ({exc.__class__.__name__}: {exc})")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return _closed(path, f"{path}: not valid YAML ({str(exc).splitlines()[0]})")
    problem = _validate(data, path)
    if problem:
        return _closed(path, problem, data)
    return KillSwitchState(trading_enabled=data["trading_enabled"], reason=data["reason"],
                           trigger=data["trigger"], updated_at=data["updated_at"],
                           updated_by=data["updated_by"], history=list(data.get("history") or []),
                           path=path)


def is_trading_enabled(home: Home | None = None) -> bool:
    """The trading engine's question. True only for a readable file saying ``trading_enabled: true``; never raises."""
    try:
        state = read_state(home)
        return bool(state.readable and state.trading_enabled is True)
    except Exception as exc:  # noqa: BLE001 — fail closed on anything, but say why
        print(f"mech_exo.killswitch: treating trading as DISABLED: {exc}", file=sys.stderr)
        return False


def history(home: Home, days: float | None = None) -> list[dict]:
    """History entries (oldest first), optionally only those of the last ``days`` days.

    If the yml is unreadable and no history survives in it, fall back to the event log so the
    audit trail is still answerable.
    """
    state = read_state(home)
    entries = state.history
    if not state.readable and not entries:
        entries = [{k: r.get(k) for k in HISTORY_KEYS} for r in read_events(home.event_log("killswitch"))
                   if not r.get("_corrupt") and not r.get("dry_run")]
    if days is None:
        return list(entries)
    cutoff = utc_now() - timedelta(days=days)
    return [e for e in entries if _parse_at(e.get("at")) is None or _parse_at(e.get("at")) >= cutoff]


def _parse_at(value: Any) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
