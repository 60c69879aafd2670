"""The kill-switch (SPEC §5): ``config/killswitch.yml`` is the one source of truth the trading engine reads.

Why the care:
* **Fail closed.** A missing, unreadable, corrupt or invalid file means trading is DISABLED — a
  switch we cannot read must never be taken for "on".
* **Atomic, locked writes.** Guards, the CLI and drills can write at the same moment. Every write
  takes an exclusive ``flock`` on the sidecar ``killswitch.yml.lock`` (so read-modify-write is one
  step), writes a temp file in the same directory, fsyncs it, ``os.replace``-s it over the file and
  fsyncs the directory: a reader sees the old or the new file, never half of one.
* **Audit.** History is append-only inside the yml, and each change also lands in
  ``data/events/killswitch.jsonl`` (→ dbt model ``killswitch_events``).
* **Re-enable policy.** Switching back on after a halt whose trigger requires approval
  (``config/risk.yml`` ``reenable``) needs ``approved_by`` naming an approver in
  ``config/alerts.yml`` with the required role; a CTO may approve anything. We look at *every*
  disable since trading was last enabled, not only the latest, so a later ``manual`` kill on top
  of a ``monthly_stop`` cannot be used to skip the CTO's approval.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

from mech_exo.locks import exclusive_lock
from mech_exo.config import load_alerts_config, load_risk_config
from mech_exo.events import append_event, iso_utc, read_events, utc_now
from mech_exo.home import Home

TRIGGERS = ("daily_stop", "monthly_stop", "var_breach", "manual", "drill")
SUPER_APPROVER_ROLE = "CTO"
HISTORY_KEYS = ("at", "action", "trading_enabled", "reason", "trigger", "by", "approved_by",
                "guard", "period", "level_pct")
_HEADER = ("# Kill-switch state: the source of truth the trading engine reads "
           "(mech_exo.killswitch.is_trading_enabled).\n"
           "# Written only through `exo kill ...` / the guards (atomic, locked, audited). "
           "Do not hand-edit in production.\n")


class KillSwitchError(Exception):
    """A kill-switch change was refused or could not be made; the message says why and where."""


class ApprovalRequired(KillSwitchError):
    """Re-enabling needs ``approved_by`` naming an approver with the required role."""


@dataclass
class KillSwitchState:
    trading_enabled: bool
    reason: str
    trigger: str
    updated_at: str
    updated_by: str
    history: list[dict]
    readable: bool = True
    error: str | None = None
    path: Path = field(kw_only=True)


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
                           readable=False, error=error, path=path)


def read_state(home: Home | None = None, path: Path | None = None) -> KillSwitchState:
    """Read the switch; any problem yields a DISABLED state with ``readable=False`` and an error naming the file."""
    if path is None:
        path = (home or Home.resolve()).killswitch_yml
    path = Path(path)
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


# --- approval policy ------------------------------------------------------------------------------

def outstanding_triggers(state: KillSwitchState) -> list[str]:
    """Triggers of every disable since trading was last enabled (the current trigger included)."""
    if state.trading_enabled:
        return []
    found: list[str] = []
    for entry in reversed(state.history):
        if entry.get("action") == "enable" or entry.get("trading_enabled") is True:
            break
        if entry.get("trigger") in TRIGGERS:
            found.append(entry["trigger"])
    if state.readable:
        found.append(state.trigger)
    return sorted(set(found), key=TRIGGERS.index)


def required_roles(home: Home, state: KillSwitchState) -> dict[str, str]:
    """``{why: role}`` that an approver must satisfy to re-enable from ``state``."""
    if not state.readable:
        return {"unreadable kill-switch file": SUPER_APPROVER_ROLE}
    policy = load_risk_config(home.risk_yml).get("reenable", {})
    roles = {}
    for trig in outstanding_triggers(state):
        rule = policy.get(trig) or {}
        if rule.get("requires_approval"):
            roles[trig] = str(rule.get("role") or SUPER_APPROVER_ROLE)
    return roles


def _approvers(home: Home) -> list[dict]:
    raw = load_alerts_config(home.alerts_yml).get("approvers") or []
    return [a for a in raw if isinstance(a, dict) and a.get("name")]


def check_approval(home: Home, state: KillSwitchState, approved_by: str | None) -> None:
    """Raise ApprovalRequired unless ``approved_by`` is an approver whose role covers every requirement."""
    roles = required_roles(home, state)
    if not roles:
        return
    approvers = _approvers(home)
    needed = sorted(set(roles.values()))
    why = ", ".join(f"{t} needs {r}" for t, r in roles.items())
    eligible = [a["name"] for a in approvers if _covers(a.get("role"), needed)]
    hint = (f"approvers who may approve (from {home.alerts_yml}): {', '.join(eligible)}" if eligible
            else f"no approver in {home.alerts_yml} has the role {' or '.join(needed)}")
    if not approved_by:
        raise ApprovalRequired(f"re-enabling trading is refused: {why}; pass --approved-by NAME; {hint}")
    match = [a for a in approvers if str(a["name"]).strip().lower() == approved_by.strip().lower()]
    if not match:
        raise ApprovalRequired(f"re-enabling trading is refused: {approved_by!r} is not an approver in "
                               f"{home.alerts_yml} ({why}); {hint}")
    role = match[0].get("role")
    if not _covers(role, needed):
        raise ApprovalRequired(f"re-enabling trading is refused: {approved_by!r} has role {role!r} but {why}; {hint}")


def _covers(role: Any, needed: list[str]) -> bool:
    """A CTO covers every requirement; any other role only when it is the single role needed."""
    return role == SUPER_APPROVER_ROLE or set(needed) == {role}


# --- writing --------------------------------------------------------------------------------------

@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive lock on the sidecar ``<name>.lock`` (never on the file we replace, whose inode changes)."""
    with exclusive_lock(path.with_name(path.name + ".lock")):
        yield


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _render(state: dict) -> str:
    return _HEADER + yaml.safe_dump(state, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _keep_corrupt_copy(path: Path) -> Path | None:
    """Keep the unreadable file as evidence before it is replaced."""
    if not path.exists():
        return None
    dst = path.with_name(f"{path.name}.corrupt-{utc_now().strftime('%Y%m%dT%H%M%SZ')}")
    shutil.copy2(path, dst)
    return dst


def set_trading(home: Home, *, enabled: bool, reason: str, trigger: str, by: str,
                approved_by: str | None = None, dry_run: bool = False, path: Path | None = None,
                log_event: bool = True, guard: str | None = None, period: str | None = None,
                level_pct: float | None = None) -> dict:
    """Switch trading on or off and return the change record.

    Already in that state with the same trigger → ``changed=False`` and nothing is written.
    ``dry_run`` validates everything (approval included) and writes nothing at all.
    Disabling always works, even over a corrupt file (it is kept as ``*.corrupt-<ts>``).
    """
    if not isinstance(enabled, bool):
        raise KillSwitchError(f"enabled must be true or false, got {enabled!r}")
    if not reason or not str(reason).strip():
        raise KillSwitchError("a reason is required to change the kill-switch (e.g. --reason 'risk review')")
    if trigger not in TRIGGERS:
        raise KillSwitchError(f"trigger must be one of {'|'.join(TRIGGERS)}, got {trigger!r}")
    if not by or not str(by).strip():
        raise KillSwitchError("'by' (who makes the change) is required")
    path = Path(path) if path is not None else home.killswitch_yml
    if dry_run:
        return _change(home, path, enabled, reason, trigger, by, approved_by, True, False,
                       guard, period, level_pct)
    with _locked(path):
        return _change(home, path, enabled, reason, trigger, by, approved_by, False, log_event,
                       guard, period, level_pct)


def _change(home, path, enabled, reason, trigger, by, approved_by, dry_run, log_event,
            guard, period, level_pct) -> dict:
    state = read_state(path=path)
    now = iso_utc()
    record = {"at": now, "action": "enable" if enabled else "disable", "trading_enabled": enabled,
              "previous_enabled": bool(state.readable and state.trading_enabled),
              "reason": str(reason).strip(), "trigger": trigger, "by": by, "approved_by": approved_by,
              "dry_run": dry_run, "guard": guard, "period": period,
              "level_pct": None if level_pct is None else float(level_pct)}
    if not state.readable:
        record["note"] = f"previous state unreadable, treated as disabled: {state.error}"
    if state.readable and state.trading_enabled == enabled and state.trigger == trigger:
        return {**record, "changed": False, "path": str(path)}
    if enabled and not (state.readable and state.trading_enabled):
        check_approval(home, state, approved_by)
    entry = {k: record[k] for k in HISTORY_KEYS}
    if "note" in record:
        entry["note"] = record["note"]
    new_state = {"trading_enabled": enabled, "reason": record["reason"], "trigger": trigger,
                 "updated_at": now, "updated_by": by, "history": state.history + [entry]}
    if dry_run:
        return {**record, "changed": True, "path": str(path)}
    if not state.readable:
        kept = _keep_corrupt_copy(path)
        if kept:
            record["note"] += f" (kept as {kept.name})"
            entry["note"] = record["note"]
    _atomic_write(path, _render(new_state))
    if log_event:
        append_event(home.event_log("killswitch"), record)
    return {**record, "changed": True, "path": str(path)}
