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

def status_payload(home: Home) -> dict[str, Any]:
    from mech_exo.killswitch import read_state

    s = read_state(home)
    enabled = bool(s.readable and s.trading_enabled)
    return {"trading_enabled": enabled, "state": "ENABLED" if enabled else "DISABLED",
            "readable": s.readable, "fail_closed": not s.readable, "reason": s.reason,
            "trigger": s.trigger, "updated_at": s.updated_at, "updated_by": s.updated_by,
            "path": str(s.path), "error": s.error, "history_entries": len(s.history)}


@kill.command("status")
@json_option
@pass_home
def status_cmd(home: Home, as_json: bool) -> None:
    """Is trading enabled? State, reason, trigger, when and by whom.

    Exit 0 when the file is readable (enabled or disabled); exit 2 when it is missing or corrupt —
    trading is then treated as DISABLED (fail closed) and the file is named.
    """
    p = status_payload(home)
    if as_json:
        emit_json(p)
    else:
        c = console()
        if not p["readable"]:
            c.print(f"[bold red]Trading DISABLED (fail closed)[/]: the kill-switch file {p['path']} is unreadable")
            c.print(f"  error: {p['error']}")
            c.print("  the trading engine treats this as disabled; fix or rewrite it with `exo kill off/on`")
        else:
            style = "bold green" if p["trading_enabled"] else "bold red"
            c.print(f"Trading [{style}]{p['state']}[/]")
            c.print(f"  reason     {p['reason']}")
            c.print(f"  trigger    {p['trigger']}")
            c.print(f"  updated_at {p['updated_at']}")
            c.print(f"  updated_by {p['updated_by']}")
            c.print(f"  file       {p['path']}")
    if not p["readable"]:
        sys.exit(EXIT_UNREADABLE)


# --- history ---------------------------------------------------------------------------------------

def _at(e: dict) -> datetime | None:
    """An entry's time (UTC); None when missing or unparsable — such entries are always shown."""
    try:
        dt = datetime.fromisoformat(str(e.get("at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _key(e: dict) -> tuple:
    return (str(e.get("at")), e.get("action"), e.get("reason"), e.get("by"))


def history_payload(home: Home, days: float, include_dry_runs: bool = False) -> list[dict]:
    """Changes of the last ``days`` days from the yml history *and* the event log, merged, oldest first.

    The two should agree; an entry found in only one of them is still shown, with its ``source``,
    so a gap in the audit trail is visible instead of hidden.
    """
    from mech_exo.events import read_events, utc_now
    from mech_exo.killswitch import read_state

    cutoff = utc_now() - timedelta(days=days)
    merged: dict[tuple, dict] = {}
    for e in read_state(home).history:  # a corrupt file still yields whatever history survives
        merged[_key(e)] = {**e, "dry_run": False, "source": "yml"}
    for r in read_events(home.event_log("killswitch")):
        if r.get("_corrupt"):
            merged[("corrupt", r["_line"])] = {"at": None, "action": "?", "source": "log",
                                              "reason": f"{r['_file']}:{r['_line']}: unreadable line ({r['_error']})"}
            continue
        if r.get("dry_run") and not include_dry_runs:
            continue
        k = _key(r)
        if k in merged and not r.get("dry_run"):
            merged[k]["source"] = "yml+log"
        else:
            merged[k + (bool(r.get("dry_run")),)] = {**r, "source": "log"}
    out = [e for e in merged.values() if _at(e) is None or _at(e) >= cutoff]
    return sorted(out, key=lambda e: str(e.get("at") or ""))


@kill.command("history")
@click.option("--days", type=float, default=7, show_default=True, help="Look back this many days.")
@click.option("--dry-runs", "include_dry_runs", is_flag=True, help="Also list dry-run changes from the event log.")
@json_option
@pass_home
def history_cmd(home: Home, days: float, include_dry_runs: bool, as_json: bool) -> None:
    """Kill-switch changes of the last N days (config/killswitch.yml history + data/events/killswitch.jsonl)."""
    from mech_exo.cli.risk_cmds import table

    entries = history_payload(home, days, include_dry_runs)
    if as_json:
        emit_json({"days": days, "entries": entries})
        return
    c = console()
    if not entries:
        c.print(f"no kill-switch changes in the last {days:g} days")
        return
    t = table(f"Kill-switch changes, last {days:g} days", "At (UTC)", "Action", "Trigger", "Reason",
              "By", "Approved by", "Source")
    for e in entries:
        action = str(e.get("action") or "")
        style = "red" if action == "disable" else "green" if action == "enable" else "yellow"
        if e.get("dry_run"):
            action += " (dry-run)"
        t.add_row(str(e.get("at") or "—"), f"[{style}]{action}[/]", str(e.get("trigger") or ""),
                  str(e.get("reason") or ""), str(e.get("by") or ""), str(e.get("approved_by") or ""),
                  e["source"])
    c.print(t)


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
    except (KillSwitchError, OSError) as exc:
        raise ExoError(f"{home.killswitch_yml}: {exc}") from None


def _report(rec: dict, as_json: bool) -> None:
    if as_json:
        emit_json(rec)
        return
    c = console()
    word = "ENABLED" if rec["trading_enabled"] else "DISABLED"
    style = "bold green" if rec["trading_enabled"] else "bold red"
    if rec.get("note"):
        c.print(f"[yellow]note[/]: {rec['note']}")
    if not rec["changed"]:
        c.print(f"Trading already [{style}]{word}[/] (manual) — nothing written")
    elif rec["dry_run"]:
        c.print(f"[cyan]dry-run[/]: would set trading [{style}]{word}[/] (reason: {rec['reason']}, by {rec['by']}) "
                f"— nothing written")
    else:
        c.print(f"Trading [{style}]{word}[/] (reason: {rec['reason']}, by {rec['by']}"
                + (f", approved by {rec['approved_by']}" if rec.get("approved_by") else "") + ")")
        c.print(f"  written to {rec['path']} at {rec['at']}")


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
