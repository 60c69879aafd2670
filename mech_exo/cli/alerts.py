"""`exo alerts config|history|ack|flush`: what the alert system will do, what it did, stopping
escalation, and delivering what waits in the outbox now (no daemon needed).

Why these read the event log and config directly (``mech_exo.alerts``) and never the snapshot:
``alert_log`` in the snapshot is only as fresh as the last build, while an on-call acknowledging
a CRITICAL needs the alert raised a minute ago. Secrets never appear: the Telegram token is shown
only as "set (hidden)" / "not set".
"""
from __future__ import annotations

import getpass
import os
import sys
import time
from typing import Any

import click
from rich.markup import escape

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

SEVERITY_COLOUR = {"CRITICAL": "bold red", "WARNING": "yellow", "INFO": "cyan"}


def os_user() -> str:
    """$USER (the run-book's default acknowledger), else the login name, else 'unknown'."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 — no passwd entry in some containers
        return "unknown"


@click.group("alerts")
def alerts() -> None:
    """Alert config (channels, routing, escalation, approvers), history, acknowledgement."""


# --- config ----------------------------------------------------------------------------------------

def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[yellow]no[/]"


@alerts.command("config")
@json_option
@pass_home
def config_cmd(home: Home, as_json: bool) -> None:
    """Channels, routing by severity, escalation chains, approvers; whether Telegram is configured
    (TELEGRAM_BOT_TOKEN is reported as set or not set — never its value)."""
    from mech_exo.alerts import alerts_config_summary
    from mech_exo.cli.risk_cmds import table

    s = alerts_config_summary(home)
    if as_json:
        emit_json(s)
        return
    c = console()
    c.print(f"alert config: {s['config_file']}" + ("" if s["config_file_exists"] else " [yellow](missing: built-in defaults)[/]"))
    if s["config_error"]:
        c.print(f"[bold red]config error[/]: {s['config_error']} — the built-in defaults are in force")
    tg = s["channels"]["telegram"]
    t = table("Channels", "Channel", "Enabled", "Ready", "Detail")
    t.add_row("telegram", _yes(tg["enabled"]), _yes(tg["ready"]),
              f"TELEGRAM_BOT_TOKEN {tg['token']}, TELEGRAM_CHAT_ID {tg['chat_id']}, api {tg['api_base']}, "
              f"timeout {tg['timeout_s']:g}s, {tg['max_attempts']} attempts, "
              f"callers wait {tg['grace_s']:g}s (exit {tg['exit_grace_s']:g}s), then the outbox")
    t.add_row("console", _yes(s["channels"]["console"]["enabled"]), _yes(s["channels"]["console"]["enabled"]), "stderr")
    t.add_row("log", _yes(True), _yes(True), s["channels"]["log"]["path"])
    c.print(t)
    r = table("Routing", "Severity", "Channels")
    for sev, chans in s["routing"].items():
        r.add_row(f"[{SEVERITY_COLOUR.get(sev, '')}]{sev}[/]", ", ".join(chans))
    c.print(r)
    e = table("Escalation (unacknowledged CRITICAL alerts)", "Chain", "Level", ">After (min)", "Contact", "Own chat")
    for name, chain in s["escalation"].items():
        for step in chain:
            contact = s["contacts"].get(step["level"]) or {}
            e.add_row(name, step["level"], f"{step['after_minutes']:g}", str(contact.get("name") or "—"),
                      str(contact.get("telegram_chat_id") or "not set"))
    c.print(e)
    a = table("Approvers", "Name", "Role (may re-enable after)")
    for ap in s["approvers"]:
        a.add_row(str(ap["name"]), str(ap["role"]))
    c.print(a if s["approvers"] else "[yellow]no approvers configured[/]: monthly/VaR halts cannot be re-enabled")
    c.print(f"outbox: {s['outbox']['pending']} undelivered message(s) waiting in {s['outbox']['path']}")
    if s["note"]:
        c.print(f"[yellow]note[/]: {s['note']}")


# --- history ---------------------------------------------------------------------------------------

def delivery_cell(a: dict[str, Any]) -> str:
    """'yes/3' or 'NO/3 (+1 outbox)': delivered on every channel, and Telegram attempts."""
    word = "[green]yes[/]" if a["delivered"] else "[bold red]NO[/]"
    extra = f" (+{a['outbox_pending']} outbox)" if a.get("outbox_pending") else ""
    return f"{word}/{a['attempts'] or 0}{extra}"


@alerts.command("history")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=24, show_default=True,
              help="Look back this many hours.")
@json_option
@pass_home
def history_cmd(home: Home, hours: float, as_json: bool) -> None:
    """Alerts of the last N hours, newest first: id, time, severity, type, message, delivered/attempts, acked."""
    from mech_exo.alerts import alert_history
    from mech_exo.cli.risk_cmds import table

    rows = alert_history(home, hours)
    if as_json:
        emit_json({"hours": hours, "alerts": rows})
        return
    c = console()
    if not rows:
        c.print(f"no alerts in the last {hours:g} hours ({home.event_log('alerts')})")
        return
    t = table(f"Alerts, last {hours:g} hours ({len(rows)}), newest first", "ID / at (UTC)", "Severity / type",
              "Message", "Sent / tries", "Acked", compact=True)
    t.columns[0].no_wrap = True  # id and time whole; the message wraps (readable at 80 columns)
    t.columns[2].min_width = 24
    for a in rows:
        sev = str(a["severity"])
        if a["acked_by"]:
            acked = f"[green]{escape(str(a['acked_by']))}[/]"
        else:
            acked = "[yellow]no[/]" + (f" (esc. {a['escalation_level']})" if a["escalation_level"] else "")
        t.add_row(f"{a['alert_id']}\n{str(a['at']).replace('T', ' ').rstrip('Z')}",
                  f"[{SEVERITY_COLOUR.get(sev, '')}]{sev}[/]\n{escape(str(a['type']))}",
                  escape(" | ".join(str(a["message"]).splitlines())), delivery_cell(a), acked)
    c.print(t)


# --- ack -------------------------------------------------------------------------------------------

@alerts.command("ack")
@click.argument("alert_id")
@click.option("--by", default=None, metavar="NAME", help="Who acknowledges (default: $USER).")
@json_option
@pass_home
def ack_cmd(home: Home, alert_id: str, by: str | None, as_json: bool) -> None:
    """Acknowledge alert ID: its escalation stops. A second ack is a no-op (exit 0); an unknown id exits 1."""
    from mech_exo.alerts import AlertNotFound, ack

    try:
        rec = ack(home, alert_id, by or os_user())
    except AlertNotFound as exc:
        raise ExoError(str(exc)) from None
    except ValueError as exc:
        raise ExoError(str(exc)) from None
    if as_json:
        emit_json(rec)
        return
    c = console()
    if rec["already_acked"]:
        c.print(f"alert {rec['alert_id']} was already acknowledged by {rec['acked_by']} at {rec['acked_at']} — nothing written")
    else:
        c.print(f"[green]acknowledged[/] alert {rec['alert_id']} by {rec['acked_by']} at {rec['acked_at']}: escalation stops"
                + (f" (it had reached {rec['escalation_level']})" if rec["escalation_level"] else ""))


# --- flush -----------------------------------------------------------------------------------------

@alerts.command("flush")
@click.option("--escalate/--no-escalate", default=True, show_default=True,
              help="Also send the escalation levels that are due (what the daemon's sensor does).")
@json_option
@pass_home
def flush_cmd(home: Home, escalate: bool, as_json: bool) -> None:
    """Deliver the outbox now, in this process (no daemon needed): what was delivered, what still
    waits and why. Exit 1 when something stays undelivered (or was given up), 0 when the outbox is empty."""
    from mech_exo.alerts import flush_outbox, run_escalation
    from mech_exo.alerts.common import settings_for
    from mech_exo.alerts.deliverer import drain
    from mech_exo.alerts.flush import pending_report

    tg = settings_for(home)[0]["channels"]["telegram"]
    n = int(tg["max_attempts"])
    # the longest one message can take under the retry policy: how long another deliverer may hold one
    per_message = min(60.0, tg["timeout_s"] * n + tg["backoff_s"] * (2 ** (n - 1) - 1) + tg["max_retry_after_s"])
    escalations = run_escalation(home) if escalate else []
    if escalations:  # their messages went to this process's background deliverer: let it finish first
        drain(per_message)
    summary = flush_outbox(home)
    summary["escalations"] = escalations
    deadline = time.monotonic() + per_message
    while any(p["in_flight_by"] for p in summary["still_pending"]) and time.monotonic() < deadline:
        time.sleep(0.2)  # another deliverer holds some: wait for its outcome, then retry what it left
        again = flush_outbox(home, only={p["outbox_id"] for p in summary["still_pending"] if p["in_flight_by"]})
        for k in ("attempted", "delivered", "failed", "dead"):
            summary[k] += again[k]
        summary["items"] += again["items"]
        left = pending_report(home)
        summary.update(in_flight=again["in_flight"], still_pending=left, pending=len(left),
                       stopped_early=again["stopped_early"] or summary["stopped_early"])
    failed = summary["pending"] > 0 or summary["dead"] > 0
    if as_json:
        emit_json(summary)
        if failed:
            sys.exit(1)
        return
    c = console()
    for e in escalations:
        c.print(f"escalated alert {e['alert_id']} to {escape(str(e['contact']))} ({e['level']}) via {e['notified_via']}")
    for it in summary["items"]:
        what = f"{it['method']} of alert {it['alert_id']} ({it['channel']})"
        if it["status"] == "delivered":
            c.print(f"[green]delivered[/] {what}")
        elif it["status"] == "dead":
            c.print(f"[bold red]given up[/] {what}: {escape(str(it['error']))} (kept in outbox/dead)")
    c.print(f"outbox: {summary['delivered']} delivered, {summary['failed']} failed, {summary['dead']} given up, "
            f"{summary['pending']} still pending")
    if summary["skipped"]:
        c.print(f"[yellow]not sent[/]: {summary['skipped']}")
    if summary["stopped_early"]:
        c.print(f"[yellow]stopped early[/]: {escape(summary['stopped_early'])}")
    for p in summary["still_pending"]:
        why = (f"being sent now by pid {p['in_flight_by'].get('pid')}" if p["in_flight_by"]
               else escape(str(p["last_error"] or "not tried yet")))
        c.print(f"[bold red]pending[/] {p['method']} of alert {p['alert_id']} ({p['channel']}), "
                f"{p['attempts']} attempt(s) since {p['created_at']}: {why}")
    if failed:
        sys.exit(1)
