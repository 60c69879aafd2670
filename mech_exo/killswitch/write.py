"""Writing the switch: locked atomic writes, the full-disk fallbacks, the audit trail of every change."""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from mech_exo import snapshot
from mech_exo.events import iso_utc, utc_now
from mech_exo.home import Home
from mech_exo.killswitch import audit, halt
from mech_exo.killswitch.approval import check_approval
from mech_exo.killswitch.model import _HEADER, HISTORY_KEYS, TRIGGERS, KillSwitchError, KillSwitchIOError, KillSwitchState
from mech_exo.killswitch.state import _read_yml, read_state
from mech_exo.locks import exclusive_lock

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


def ensure_halt_file(home: Home | None = None, path: Path | None = None) -> dict:
    """Create the pre-allocated halt file next to the kill-switch yml if it is missing (while there is
    space). Cheap when it exists (one stat); never raises: ``{"path", "created", "error"}``.

    Called by every kill-switch write; call it also from ``exo init`` and at the start of runs/ticks
    so a home that never changed its switch is also covered when its disk fills up.
    """
    if path is None:
        path = (home or Home.resolve()).killswitch_yml
    hp = halt.halt_path(Path(path))
    try:
        return {"path": str(hp), "created": halt.ensure(hp), "error": None}
    except OSError as exc:
        return {"path": str(hp), "created": False, "error": f"{hp}: {exc.__class__.__name__}: {exc}"}


def set_trading(home: Home, *, enabled: bool, reason: str, trigger: str, by: str,
                approved_by: str | None = None, dry_run: bool = False, path: Path | None = None,
                log_event: bool = True, guard: str | None = None, period: str | None = None,
                level_pct: float | None = None) -> dict:
    """Switch trading on or off and return the change record.

    Already in that state with the same trigger → ``changed=False`` and nothing is written (except
    that pending halt-file records are folded into the yml, ``folded`` says how many).
    ``dry_run`` validates everything (approval included) and writes nothing at all.
    Disabling always works, even over a corrupt file (it is kept as ``*.corrupt-<ts>``) and on a full
    disk (``via`` = ``halt_file`` or ``in_place``; ``warnings`` say so). Enabling never uses a fallback.

    Beyond the change record the result has ``path``, ``changed``, ``via`` (``atomic``/``halt_file``/
    ``in_place``), ``audit`` (``logged``, ``file``, ``error``, ``kept_in``) and ``warnings`` (lines a
    caller must show: the state changed, but something around it did not work).
    Raises KillSwitchError only when nothing changed.
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
    with _lock_or_explain(path, enabled):
        return _change(home, path, enabled, reason, trigger, by, approved_by, False, log_event,
                       guard, period, level_pct)


@contextmanager
def _lock_or_explain(path: Path, enabled: bool) -> Iterator[None]:
    """The write lock; when it cannot be taken, say plainly that nothing changed (and what that means)."""
    lock = path.with_name(path.name + ".lock")
    try:
        cm = exclusive_lock(lock)
        cm.__enter__()
    except OSError as exc:
        what = ("trading NOT enabled" if enabled else
                "HALT FAILED — trading may still be ENABLED (nothing was written)")
        raise KillSwitchIOError(f"{what}: cannot take the kill-switch lock {lock} ({_why(exc)})", exc) from None
    try:
        yield
    except BaseException:
        if not cm.__exit__(*sys.exc_info()):
            raise
    else:
        cm.__exit__(None, None, None)


def consolidate(home: Home, path: Path | None = None, log_event: bool = True) -> dict:
    """Fold pending halt-file records into the yml and flush the audit backlog, changing nothing.

    For after the disk was freed (the next kill-switch write does the same on its own).
    ``{"folded": n, "halt_status", "audit": {...}, "warnings": [...]}``; raises KillSwitchIOError when the
    yml still cannot be written (trading then stays DISABLED by the halt file).
    """
    path = Path(path) if path is not None else home.killswitch_yml
    with _locked(path):
        state = read_state(path=path)
        out: dict[str, Any] = {"folded": 0, "halt_status": state.halt_status, "warnings": [], "audit": None}
        if state.halt_status == "halt" and state.readable:
            out.update(_fold(home, path, state, log_event))
        elif log_event:
            out["audit"] = a = _audit(home, path, [])
            if not a["logged"]:
                out["warnings"].append(f"the audit backlog {audit.backlog_path(path)} could not be flushed into "
                                       f"{a['file']} ({a['error']}); it is kept and retried on the next write")
        return out


# --- internals of a change ------------------------------------------------------------------------

def _audit(home: Home, path: Path, events: list[dict]) -> dict:
    """Log ``events`` (and any backlog) to killswitch.jsonl, then bring SQL's killswitch_events up to it."""
    info = audit.log(home.event_log("killswitch"), path, events)
    snapshot.events_changed(home)
    return info


def _why(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def _new_record(state, enabled, reason, trigger, by, approved_by, dry_run, guard, period, level_pct) -> dict:
    record = {"at": iso_utc(), "action": "enable" if enabled else "disable", "trading_enabled": enabled,
              "previous_enabled": bool(state.readable and state.trading_enabled),
              "reason": str(reason).strip(), "trigger": trigger, "by": by, "approved_by": approved_by,
              "dry_run": dry_run, "guard": guard, "period": period,
              "level_pct": None if level_pct is None else float(level_pct)}
    if not state.readable:
        record["note"] = f"previous state unreadable, treated as disabled: {state.error}"
    return record


def _late_events(state: KillSwitchState) -> list[dict]:
    """Audit events of halt-file records that never reached the log or the backlog."""
    out = []
    for h in state.pending_halts:
        if not h.get("logged"):
            out.append({"at": h["at"], "action": "disable", "trading_enabled": False,
                        "previous_enabled": h.get("previous_enabled"), "reason": h["reason"],
                        "trigger": h["trigger"], "by": h["by"], "approved_by": None, "dry_run": False,
                        "guard": h.get("guard"), "period": h.get("period"), "level_pct": h.get("level_pct"),
                        "halt_id": h["id"], "note": f"logged late: landed via the halt file {state.halt_path} "
                                                    f"({h.get('write_error')})"})
    return out


def _after_yml_written(home: Home, path: Path, state: KillSwitchState, events: list[dict],
                       log_event: bool, changed: bool) -> dict:
    """Once the yml holds the new state: clear the halt file (its records are in the yml now), then audit."""
    out: dict[str, Any] = {"warnings": [], "audit": None, "halt_file": None}
    hp = halt.halt_path(path)
    if state.halt_status in ("halt", "corrupt"):
        try:
            if state.halt_status == "corrupt":
                shutil.copy2(hp, hp.with_name(f"{hp.name}.corrupt-{utc_now().strftime('%Y%m%dT%H%M%SZ')}"))
            halt.write_clear(hp)
            out["halt_file"] = f"{hp}: set back to CLEAR ({len(state.pending_halts)} halt record(s) folded into {path})"
        except OSError as exc:
            out["warnings"].append(f"the halt file {hp} could not be set back to CLEAR ({_why(exc)}): trading "
                                   f"stays DISABLED by it until a later kill-switch write clears it")
    if log_event:
        out["audit"] = _audit(home, path, _late_events(state) + events)
        out["warnings"] += _audit_warnings(out["audit"], path, changed)
    return out


def _audit_warnings(info: dict, path: Path, changed: bool) -> list[str]:
    if info is None or info.get("logged"):
        return []
    done = "the state DID change" if changed else "the kill-switch state is as shown"
    where = (f"the record is kept in {info['kept_in']} and will be flushed into the log on the next "
             f"successful kill-switch write" if info.get("kept_in") else
             f"the backlog could not be written either ({info.get('backlog_error')}); the record is kept "
             f"only in the history of {path}")
    return [f"{done}, but the audit log {info['file']} could not be appended ({info['error']}); {where}"]


def _fold(home: Home, path: Path, state: KillSwitchState, log_event: bool) -> dict:
    """Write the current (halted) state with the halt records into the yml, then clear the halt file."""
    last = state.pending_halts[-1] if state.pending_halts else None
    data = {"trading_enabled": False, "reason": last["reason"] if last else state.reason,
            "trigger": state.trigger, "updated_at": state.updated_at, "updated_by": state.updated_by,
            "history": state.history}
    try:
        _atomic_write(path, _render(data))
    except OSError as exc:
        raise KillSwitchIOError(f"{path}: the pending halt in {state.halt_path} could not be folded in "
                                f"({_why(exc)}); trading stays DISABLED by the halt file", exc) from None
    out = _after_yml_written(home, path, state, [], log_event, changed=False)
    return {"folded": len(state.pending_halts), **out}


def _change(home, path, enabled, reason, trigger, by, approved_by, dry_run, log_event,
            guard, period, level_pct) -> dict:
    state = read_state(path=path)
    record = _new_record(state, enabled, reason, trigger, by, approved_by, dry_run, guard, period, level_pct)
    base = {"path": str(path), "via": None, "warnings": [], "audit": None}
    if state.readable and state.trading_enabled == enabled and state.trigger == trigger:
        if dry_run or state.halt_status != "halt":
            return {**record, **base, "changed": False}
        try:  # same state, but it lives in the halt file: fold it into the yml now that we may have space
            folded = _fold(home, path, state, log_event)
        except KillSwitchIOError as exc:
            return {**record, **base, "changed": False, "folded": 0, "warnings": [str(exc)]}
        return {**record, **base, "changed": False, "via": "atomic", "folded": folded["folded"],
                "warnings": folded["warnings"], "audit": folded["audit"]}
    if enabled and not (state.readable and state.trading_enabled):
        check_approval(home, state, approved_by)
    entry = {k: record[k] for k in HISTORY_KEYS}
    if "note" in record:
        entry["note"] = record["note"]
    new_state = {"trading_enabled": enabled, "reason": record["reason"], "trigger": trigger,
                 "updated_at": record["at"], "updated_by": by, "history": state.history + [entry]}
    if dry_run:
        return {**record, **base, "changed": True}
    ensured = ensure_halt_file(path=path)  # while there may still be space: the next halt needs it
    if not state.yml_ok and path.exists():
        try:
            kept = _keep_corrupt_copy(path)
        except OSError as exc:
            kept = None
            record["note"] += f" (could not keep a copy of it: {_why(exc)})"
        if kept:
            record["note"] += f" (kept as {kept.name})"
        entry["note"] = record["note"]
    try:
        _atomic_write(path, _render(new_state))
    except OSError as exc:
        if enabled:
            raise KillSwitchIOError(f"trading NOT enabled: {path} could not be written ({_why(exc)}); "
                                    f"re-enabling never uses the halt-file fallback — free space/fix the "
                                    f"filesystem and run it again", exc) from None
        return _halt_fallback(home, path, state, record, entry, new_state, exc, ensured, log_event)
    after = _after_yml_written(home, path, state, [record], log_event, changed=True)
    if ensured["error"]:
        after["warnings"].append(f"the halt file could not be created ({ensured['error']}): a halt on a "
                                 f"full disk would have to rewrite {path} in place")
    return {**record, **base, "changed": True, "via": "atomic", "audit": after["audit"],
            "warnings": after["warnings"], "halt_file": after["halt_file"]}


def _halt_fallback(home, path, state, record, entry, new_state, exc, ensured, log_event) -> dict:
    """The atomic write of a *disable* failed: land it in the halt file, else in the yml in place."""
    write_error = f"{exc.__class__.__name__}: {exc}"
    hp = halt.halt_path(path)
    h = {**entry, "id": uuid.uuid4().hex[:16], "previous_enabled": record["previous_enabled"],
         "write_error": write_error, "logged": False}
    prior = state.pending_halts if state.halt_status == "halt" else []
    warnings = [f"HALT LANDED VIA THE HALT FILE: the normal write of {path} failed ({write_error}); "
                f"trading is DISABLED by {hp}. Free space on that filesystem; the next kill-switch write "
                f"(or `exo kill off` again) folds the halt into {path}."]
    try:
        if not hp.exists():
            raise FileNotFoundError(errno.ENOENT, f"no halt file ({ensured.get('error') or 'never created'})", str(hp))
        kept, note = halt.write_halt(hp, prior + [h])
        back = halt.read(hp)
        if back.status != "halt" or back.halts[-1]["id"] != h["id"]:
            raise OSError(errno.EIO, f"re-read after the write shows {back.status} ({back.error})")
        via = "halt_file"
        if note:
            warnings.append(f"{hp}: {note}")
    except OSError as hexc:
        halt_error = f"{hp}: {_why(hexc)}"
        try:
            note = _rewrite_in_place(path, new_state, state)
        except OSError as yexc:
            raise KillSwitchIOError(
                f"HALT FAILED — trading may still be ENABLED: {path} could not be written ({write_error}), "
                f"the halt file could not be used ({halt_error}) and the in-place rewrite failed "
                f"({_why(yexc)}). Free space on {path.parent} and run `exo kill off` again.", exc) from None
        via, kept = "in_place", None
        warnings = [f"HALT LANDED BY REWRITING {path} IN PLACE: the normal write failed ({write_error}) and "
                    f"the halt file could not be used ({halt_error}); trading is DISABLED."
                    + (f" {note}" if note else "")]
    audit_info = None
    if log_event:
        ev = {**record, "halt_id": h["id"]} if via == "halt_file" else record
        audit_info = _audit(home, path, [ev])
        if via == "halt_file" and (audit_info["logged"] or audit_info["kept_in"]):
            try:  # so the fold does not log it a second time
                halt.write_halt(hp, [{**x, "logged": True} if x["id"] == h["id"] else x for x in kept])
            except OSError:
                pass
        warnings += _audit_warnings(audit_info, path, changed=True)
        if via == "halt_file" and not (audit_info["logged"] or audit_info["kept_in"]):
            warnings[-1] += f" and in the halt file {hp} (logged when it is folded in)"
    return {**record, "path": str(path), "changed": True, "via": via, "halt_path": str(hp),
            "write_error": write_error, "audit": audit_info, "warnings": warnings}


def _compact(state: dict) -> bytes:
    """The state as one JSON line (valid YAML, read by ``read_state`` like any yml), null keys dropped."""
    hist = [{k: v for k, v in e.items() if v is not None} for e in state["history"]]
    return (json.dumps({**state, "history": hist}, ensure_ascii=False, separators=(",", ":"), default=str)
            + "\n").encode("utf-8")


def _rewrite_in_place(path: Path, new_state: dict, state: KillSwitchState) -> str | None:
    """Overwrite ``path`` in place within its current size (its blocks are already allocated).

    If the full history does not fit, keep only the entries since trading was last enabled (what the
    re-enable policy needs); older ones are in ``killswitch.jsonl``. Raises OSError when nothing fits.
    """
    st = os.stat(path)
    size = st.st_size
    budget = max(size, st.st_blocks * 512)  # the rest of the last block is allocated too
    note = None
    text = _render(new_state).encode("utf-8")
    if len(text) > budget:  # JSON is YAML: the same state without the header and block layout
        text = _compact(new_state)
    if len(text) > budget:
        hist = new_state["history"]
        since = len(hist)
        while since > 0 and not (hist[since - 1].get("action") == "enable" or hist[since - 1].get("trading_enabled") is True):
            since -= 1
        keep = hist[since:]
        note = (f"{len(hist) - len(keep)} older history entries were left out of the file to fit "
                f"(they are in the audit log)")
        keep[-1] = {**keep[-1], "note": note}
        text = _compact({**new_state, "history": keep})
    if len(text) > budget:
        raise OSError(errno.ENOSPC, f"the halted state needs {len(text)} bytes, {path} has {budget} allocated")
    data = text + b" " * max(0, size - len(text) - 1) + (b"\n" if size > len(text) else b"")
    fd = os.open(path, os.O_WRONLY)
    try:
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(errno.ENOSPC, f"{path}: short in-place write")
        os.fsync(fd)
    finally:
        os.close(fd)
    back = _read_yml(path)
    if not (back.readable and back.trading_enabled is False):
        raise OSError(errno.EIO, f"{path}: re-read after the in-place rewrite shows {back.error or 'enabled'}")
    return note
