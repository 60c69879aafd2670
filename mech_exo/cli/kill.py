"""`exo kill status|history|off|on`: the kill-switch from the command line (SPEC §5).

Why these answers: ``status`` is the first thing an on-call runs, so it must be instant (no
snapshot, no dbt) and must never call an unreadable switch "enabled" — it says DISABLED (fail
closed), names the file and exits 2. Changes go only through ``mech_exo.killswitch.set_trading``
(locked, atomic, audited), with ``by = cli:$USER`` and a mandatory reason.
"""
from __future__ import annotations

import getpass
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

EXIT_UNREADABLE = 2


def cli_user() -> str:
    """``cli:$USER`` — who made a change from the command line."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 — no passwd entry in some containers
            user = "unknown"
    return f"cli:{user}"


@click.group("kill")
def kill() -> None:
    """Kill-switch: status, history, off, on (config/killswitch.yml is the source of truth)."""


# --- status ----------------------------------------------------------------------------------------

def drill_note(home: Home, s) -> dict | None:
    """When the switch is DISABLED by a drill: is that drill still running, dead, or gone — and what to run."""
    if (s.readable and s.trading_enabled) or s.trigger != "drill":
        return None
    from mech_exo.drill import lock_state

    drill_id = s.updated_by.split(":", 1)[1] if str(s.updated_by).startswith("drill:") else None
    lk = lock_state(home)
    lock = lk["lock"] or {}
    if lk["exists"] and not lk["stale"]:
        return {"status": "running", "drill_id": lock.get("drill_id") or drill_id, "pid": lock.get("pid"),
                "why": lk["why"], "recover": None,
                "detail": f"{lk['why']}: it restores the pre-drill state when its wait ends"}
    if lk["exists"]:
        backup = lock.get("backup_path")
        return {"status": "dead", "drill_id": lock.get("drill_id") or drill_id, "pid": lock.get("pid"),
                "why": lk["why"], "backup_path": backup, "recover": "exo drill status",
                "detail": (f"DISABLED by drill {lock.get('drill_id') or drill_id}, whose process (pid "
                           f"{lock.get('pid')}) is no longer running: {lk['why']}. Recover with `exo drill status` "
                           f"(restores the pre-drill state from {backup or 'its backup'} if the switch is still "
                           f"the drill's halt, records the drill ABORTED), then check `exo kill status`")}
    return {"status": "not_running", "drill_id": drill_id, "pid": None, "why": f"no drill holds {home.drill_lock}",
            "recover": 'exo kill on --reason "Rollback drill cleanup"',
            "detail": (f"DISABLED by drill {drill_id or s.updated_by}, which is not running (no {home.drill_lock}; "
                       f"its restore did not happen or failed). Check `exo kill history --days 1` and the drill "
                       f"report (`exo drill status`), then `exo kill on --reason \"Rollback drill cleanup\"`")}


def status_payload(home: Home) -> dict[str, Any]:
    from mech_exo.killswitch import audit, read_state

    s = read_state(home)
    enabled = bool(s.readable and s.trading_enabled)
    backlog = audit.backlog_path(s.path)
    pending_audit = len(audit.read_log(backlog).records) if backlog.exists() else 0
    halt = {"path": str(s.halt_path), "status": s.halt_status, "pending_halts": len(s.pending_halts)}
    return {"trading_enabled": enabled, "state": "ENABLED" if enabled else "DISABLED",
            "readable": s.readable, "fail_closed": not s.readable, "reason": s.reason,
            "trigger": s.trigger, "updated_at": s.updated_at, "updated_by": s.updated_by,
            "path": str(s.path), "error": s.error, "history_entries": len(s.history),
            "halt_file": halt, "audit_backlog": {"path": str(backlog), "entries": pending_audit},
            "drill": drill_note(home, s)}


@kill.command("status")
@json_option
@pass_home
def status_cmd(home: Home, as_json: bool) -> None:
    """Is trading enabled? State, reason, trigger, when and by whom.

    Exit 0 when the file is readable (enabled or disabled); exit 2 when it is missing or corrupt —
    trading is then treated as DISABLED (fail closed) and the file is named. A halt that landed in the
    halt file (full disk), audit records waiting in the backlog and a drill that died holding the
    switch are said, with what to run.
    """
    p = status_payload(home)
    if as_json:
        emit_json(p)
    else:
        c = console()
        if not p["readable"]:
            c.print(f"[bold red]Trading DISABLED (fail closed)[/]: the kill-switch file {p['path']} is unreadable")
            c.print(f"  error: {p['error']}", markup=False)
            c.print("  the trading engine treats this as disabled; fix or rewrite it with `exo kill off/on`")
        else:
            style = "bold green" if p["trading_enabled"] else "bold red"
            c.print(f"Trading [{style}]{p['state']}[/]")
            for k in ("reason", "trigger", "updated_at", "updated_by"):
                c.print(f"  {k:<10} {p[k]}", markup=False)
            c.print(f"  file       {p['path']}", markup=False)
        h = p["halt_file"]
        if h["status"] == "halt":
            c.print(f"[bold red]  halt file  {h['path']} says HALT[/] ({h['pending_halts']} record(s) not yet in "
                    f"{p['path']}): the normal write failed (full disk?). Free space, then `exo kill off --reason ...` "
                    f"folds it in; `exo kill on` re-enables (approval rules apply)")
        if p["audit_backlog"]["entries"]:
            c.print(f"[yellow]  audit      {p['audit_backlog']['entries']} record(s) wait in "
                    f"{p['audit_backlog']['path']}[/]: {home.event_log('killswitch')} could not be appended; they are "
                    f"flushed into it on the next kill-switch write")
        d = p["drill"]
        if d:
            style = "yellow" if d["status"] == "running" else "bold red"
            c.print(f"[{style}]  drill      [/]", end="")
            c.print(d["detail"], markup=False)
    if not p["readable"]:
        sys.exit(EXIT_UNREADABLE)


# --- history ---------------------------------------------------------------------------------------

def _at(e: dict) -> datetime | None:
    """An entry's time (UTC); None when missing or unparsable — such entries are always shown."""
    try:
        dt = datetime.fromisoformat(str(e.get("at")).replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _key(e: dict) -> tuple:
    return tuple(str(e.get(k)) for k in ("at", "action", "reason", "by"))


def history_report(home: Home, days: float, include_dry_runs: bool = False) -> dict:
    """Changes of the last ``days`` days from the yml history, the event log, its backlog and the
    halt file, merged, oldest first, plus what could not be read (``skipped``: file, line, why).

    The sources should agree; an entry found in only one of them is still shown, with its ``source``,
    so a gap in the audit trail is visible instead of hidden. Never raises on a bad log.
    """
    from mech_exo.events import utc_now
    from mech_exo.killswitch import audit, read_state

    cutoff = utc_now() - timedelta(days=days)
    state = read_state(home)  # a corrupt file still yields whatever history survives
    pending = {h["id"] for h in state.pending_halts}
    merged: dict[tuple, dict] = {}
    for e in state.history:
        src = "halt-file" if e.get("halt_id") in pending else "yml"
        merged[_key(e)] = {**e, "dry_run": False, "source": src}
    skipped: list[dict] = []
    problems: list[str] = []
    log_path = home.event_log("killswitch")
    for path, source in ((log_path, "log"), (audit.backlog_path(state.path), "backlog")):
        got = audit.read_log(path)
        if got.problem:
            problems.append(got.problem)
        if got.missing and source == "log":
            problems.append(f"{path}: missing (no kill-switch event was ever logged there)")
        skipped += got.skipped
        for r in got.records:
            r = {k: v for k, v in r.items() if k != "_line"}
            if r.get("dry_run") and not include_dry_runs:
                continue
            k = _key(r)
            if k in merged and not r.get("dry_run"):
                have = merged[k]["source"]
                if source not in have.split("+"):
                    merged[k]["source"] = f"{have}+{source}"
            else:
                merged[k + (bool(r.get("dry_run")), source)] = {**r, "source": source}
    out = [e for e in merged.values() if _at(e) is None or _at(e) >= cutoff]
    entries = sorted(out, key=lambda e: str(e.get("at") or ""))
    return {"days": days, "entries": entries, "skipped": skipped, "problems": problems}


def history_payload(home: Home, days: float, include_dry_runs: bool = False) -> list[dict]:
    return history_report(home, days, include_dry_runs)["entries"]


@kill.command("history")
@click.option("--days", type=float, default=7, show_default=True, help="Look back this many days.")
@click.option("--dry-runs", "include_dry_runs", is_flag=True, help="Also list dry-run changes from the event log.")
@json_option
@pass_home
def history_cmd(home: Home, days: float, include_dry_runs: bool, as_json: bool) -> None:
    """Kill-switch changes of the last N days (config/killswitch.yml history + data/events/killswitch.jsonl
    + its backlog + the halt file). Unreadable log lines are skipped and named (file:line, why)."""
    from rich.markup import escape

    from mech_exo.cli.risk_cmds import table

    rep = history_report(home, days, include_dry_runs)
    if as_json:
        emit_json(rep)
        return
    c = console()
    entries = rep["entries"]
    if not entries:
        c.print(f"no kill-switch changes in the last {days:g} days")
    else:
        # five columns that fit 80: what and why stack their two parts, as do who and who approved
        t = table(f"Kill-switch changes, last {days:g} days", "At (UTC)", "Action / trigger", "Reason",
                  "By / approved by", "Source", compact=True)
        for e in entries:
            action = str(e.get("action") or "")
            style = "red" if action == "disable" else "green" if action == "enable" else "yellow"
            if e.get("dry_run"):
                action += " (dry-run)"
            who = escape(str(e.get("by") or "")) + (f"\n[green]✓ {escape(str(e['approved_by']))}[/]"
                                                   if e.get("approved_by") else "")
            t.add_row(str(e.get("at") or "—"), f"[{style}]{action}[/]\n{escape(str(e.get('trigger') or ''))}",
                      escape(str(e.get("reason") or "")), who, e["source"])
        c.print(t)
    for sk in rep["skipped"]:
        c.print(f"[yellow]skipped[/] {sk['file']}:{sk['line']}: {sk['error']}", markup=True)
    for pr in rep["problems"]:
        c.print("[yellow]note[/]: ", end="")
        c.print(pr, markup=False)


# --- off / on --------------------------------------------------------------------------------------

def _change(home: Home, *, enabled: bool, reason: str, approved_by: str | None, dry_run: bool) -> dict:
    from mech_exo.killswitch import ApprovalRequired, KillSwitchError, set_trading

    if not reason or not reason.strip():
        raise ExoError("a reason is required: --reason 'why'")
    try:
        return set_trading(home, enabled=enabled, reason=reason, trigger="manual", by=cli_user(),
                           approved_by=approved_by, dry_run=dry_run)
    except ApprovalRequired as exc:
        raise ExoError(str(exc)) from None
    except (KillSwitchError, OSError) as exc:  # raised only when nothing changed
        msg = str(exc)
        raise ExoError(msg if str(home.killswitch_yml) in msg else f"{home.killswitch_yml}: {msg}") from None


def _warn(rec: dict) -> None:
    """The state changed, but something around it did not work: say so on stderr, loudly."""
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for w in rec.get("warnings") or []:
        err.print("[bold red]WARNING[/]: ", end="")
        err.print(w, markup=False)


def _report(rec: dict, as_json: bool) -> None:
    _warn(rec)
    if as_json:
        emit_json(rec)
        return
    c = console()
    word = "ENABLED" if rec["trading_enabled"] else "DISABLED"
    style = "bold green" if rec["trading_enabled"] else "bold red"
    if rec.get("note"):
        c.print(f"[yellow]note[/]: {rec['note']}")
    if not rec["changed"]:
        c.print(f"Trading already [{style}]{word}[/] (manual) — "
                + ("no new change" if rec.get("folded") else "nothing written"))
    elif rec["dry_run"]:
        c.print(f"[cyan]dry-run[/]: would set trading [{style}]{word}[/] (reason: {rec['reason']}, by {rec['by']}) "
                f"— nothing written")
    else:
        c.print(f"Trading [{style}]{word}[/] (reason: {rec['reason']}, by {rec['by']}"
                + (f", approved by {rec['approved_by']}" if rec.get("approved_by") else "") + ")")
        where = {"halt_file": f"the halt file {rec.get('halt_path')} (the normal write of {rec['path']} failed)",
                 "in_place": f"{rec['path']} rewritten in place (the normal write failed)"}.get(rec.get("via"), rec["path"])
        c.print(f"  written to {where} at {rec['at']}", markup=False)
        a = rec.get("audit")
        if a and not a.get("logged"):
            c.print(f"  audit: NOT in {a['file']} ({a['error']}); kept in {a.get('kept_in') or 'the yml history'}",
                    markup=False)
    if rec.get("folded"):
        c.print(f"  folded {rec['folded']} pending halt record(s) from the halt file into {rec['path']}", markup=False)


@kill.command("off")
@click.option("--reason", required=True, help="Why trading is halted (required, goes to the audit trail).")
@click.option("--dry-run", is_flag=True, help="Check and show the change; write nothing.")
@json_option
@pass_home
def off_cmd(home: Home, reason: str, dry_run: bool, as_json: bool) -> None:
    """Halt trading now (trigger: manual, by: cli:$USER)."""
    _report(_change(home, enabled=False, reason=reason, approved_by=None, dry_run=dry_run), as_json)


@kill.command("on")
@click.option("--reason", required=True, help="Why trading may resume (required, goes to the audit trail).")
@click.option("--approved-by", default=None, metavar="NAME",
              help="Approver from config/alerts.yml; required after a monthly_stop (CTO) or var_breach halt.")
@click.option("--dry-run", is_flag=True, help="Check the approval and show the change; write nothing.")
@json_option
@pass_home
def on_cmd(home: Home, reason: str, approved_by: str | None, dry_run: bool, as_json: bool) -> None:
    """Re-enable trading. Refused (exit 1) without a valid --approved-by when the halt needs approval."""
    _report(_change(home, enabled=True, reason=reason, approved_by=approved_by, dry_run=dry_run), as_json)
