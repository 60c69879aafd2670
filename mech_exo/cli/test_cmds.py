"""`exo test alerts` and `exo test monthly-guard --dry-run`: prove the alarm chain works, without side effects
when asked for a dry run.

* ``test alerts`` sends one INFO message through a channel (``mech_exo.alerts.send_test_alert``) and
  exits 1 when it was not delivered, 2 when Telegram is not configured at all (a different fix).
  ``--dry-run`` shows the exact text and the channels and sends nothing, writes nothing.
* ``test monthly-guard --dry-run`` runs the monthly guard's decision (``evaluate_guards``, which reads
  the switch but writes nothing) on the published snapshot. It never calls ``apply_decisions``:
  the kill-switch file and the alert log stay byte-for-byte the same.
"""
from __future__ import annotations

import sys
from typing import Any

import click

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

EXIT_NOT_CONFIGURED = 2
NOT_CONFIGURED = "Telegram not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID"


@click.group("test")
def test() -> None:
    """Exercise the alarm chain: a test alert, the monthly guard's decision (dry run)."""


# --- alerts ----------------------------------------------------------------------------------------

def telegram_problem(summary: dict[str, Any]) -> str | None:
    """Why Telegram cannot be used (exit 2), or None when it is ready."""
    tg = summary["channels"]["telegram"]
    if tg["token"] != "set (hidden)" or tg["chat_id"] != "set":
        return NOT_CONFIGURED
    if not tg["enabled"]:
        return f"Telegram disabled in {summary['config_file']} (channels.telegram.enabled: false)"
    return None


def plan_test_alert(home: Home, channel: str | None, dry_run: bool) -> tuple[dict[str, Any], str | None]:
    """(result of send_test_alert, problem). ``channel`` None means telegram when it is ready, else
    console — so a bare ``--dry-run`` previews what the home can actually send."""
    from mech_exo.alerts import alerts_config_summary, send_test_alert
    from mech_exo.alerts.redact import scrub

    summary = alerts_config_summary(home)
    problem = telegram_problem(summary)
    wanted = channel or ("all" if problem is None else "console")
    if wanted in ("telegram", "all") and problem:
        return {"ok": False, "channel": wanted, "dry_run": dry_run, "error": problem}, problem
    res = send_test_alert(home, wanted, dry_run=dry_run)
    if res.get("error"):
        res["error"] = scrub(res["error"])
    if channel is None and problem:
        res["skipped"] = {"telegram": problem}
    return res, None


@test.command("alerts")
@click.option("--channel", type=click.Choice(["telegram", "console", "all"]), default=None,
              help="Channel to test (default: all usable channels — telegram + console, or console alone "
                   "when Telegram is not configured).")
@click.option("--dry-run", is_flag=True, help="Show the message and the channels; send and write nothing.")
@json_option
@pass_home
def alerts_cmd(home: Home, channel: str | None, dry_run: bool, as_json: bool) -> None:
    """Send a test alert (INFO). Exit 0 delivered, 1 not delivered (with the reason), 2 Telegram not configured."""
    res, problem = plan_test_alert(home, channel, dry_run)
    if as_json:
        emit_json(res)
    else:
        _print_test_alert(res, problem)
    if problem:
        sys.exit(EXIT_NOT_CONFIGURED)
    if not res["ok"]:
        if as_json:
            sys.exit(1)
        raise ExoError(f"test alert NOT delivered via {res['channel']}: {res.get('error') or 'unknown reason'}")


def _print_test_alert(res: dict[str, Any], problem: str | None) -> None:
    c = console()
    if problem:
        click.echo(f"error: {problem}", err=True)
        return
    if res["dry_run"]:
        c.print(f"[cyan]dry-run[/]: would send on {', '.join(res['channels'])} — nothing sent, nothing written")
        if "telegram" in res["channels"]:
            c.print(f"  telegram api: {res['telegram_api_base']}")
        c.print("  message:")
        for line in res["would_send"].splitlines():
            c.print(f"    {line}", markup=False)
    elif res["ok"]:
        a = res["alert"]
        c.print(f"[green]test alert delivered[/] via {', '.join(res['channels'])} (alert {a['alert_id']}, "
                f"{a.get('attempts') or 0} Telegram attempt(s))")
    for ch, why in (res.get("skipped") or {}).items():
        c.print(f"[yellow]skipped {ch}[/]: {why}")


# --- monthly guard ---------------------------------------------------------------------------------

def monthly_dry_run(home: Home, con) -> dict[str, Any]:
    """The monthly guard's decision on ``con`` exactly as the sensor would make it, applied to nothing."""
    from mech_exo.cli.risk_cmds import killswitch_summary, risk_config
    from mech_exo.guard_runner import evaluate_guards, read_inputs
    from mech_exo.guards import MONTHLY
    from mech_exo.runstate import read_failed_checks

    cfg = risk_config(home)["monthly_stop"]
    failed = read_failed_checks(home)
    d = next(x for x in evaluate_guards(home, con, failed_checks=failed) if x.guard == MONTHLY)
    row = read_inputs(con)["mtd"] or {}
    ks = killswitch_summary(home)
    days = int(row.get("history_days") or 0)
    breach = d.severity == "CRITICAL"
    if d.halt:
        verdict = "WOULD HALT trading"
    elif breach and d.details.get("already_halted"):
        verdict = "breached — would not write: trading is already disabled"
    elif breach:
        verdict = "breached — would NOT halt (overridden by a manual re-enable this month)"
    else:
        verdict = "would not halt"
    return {"session_date": row.get("session_date"), "month": row.get("month"), "mtd_return": row.get("mtd_return"),
            "mtd_pct": d.metric_pct, "threshold_pct": cfg["threshold_pct"], "enabled": bool(cfg.get("enabled", True)),
            "armed": days >= cfg["min_history_days"], "history_days": days,
            "min_history_days": cfg["min_history_days"], "would_halt": bool(d.halt), "breached": breach,
            "verdict": verdict, "severity": d.severity, "message": d.message, "dedup_key": d.dedup_key,
            "data_suspect": d.data_suspect, "failed_checks": list(d.failed_checks),
            "trading_enabled": ks["trading_enabled"], "killswitch_readable": ks["readable"], "dry_run": True}


@test.command("monthly-guard")
@click.option("--dry-run", is_flag=True, help="Required: evaluate only; nothing is written or sent.")
@json_option
@pass_home
def monthly_guard_cmd(home: Home, dry_run: bool, as_json: bool) -> None:
    """Evaluate the monthly stop-loss guard on the current snapshot: MTD, threshold, armed?, the decision.

    Touches nothing: the kill-switch and the alert log are only read. The live guard runs in `exo run`
    and the monthly-drawdown-guard sensor."""
    from mech_exo.cli.risk_cmds import open_data, pct_cell, status_cell, table

    if not dry_run:
        raise click.UsageError("only --dry-run is supported: the live monthly guard runs in `exo run` and the "
                               "monthly-drawdown-guard sensor")
    with open_data(home) as con:
        p = monthly_dry_run(home, con)
    if as_json:
        emit_json(p)
        return
    t = table(f"Monthly guard, dry run: session {p['session_date']}", "Figure", "Value", show_header=False)
    t.add_row("MTD return", pct_cell(p["mtd_return"]) if p["mtd_return"] is not None else "—")
    t.add_row("Threshold", f"{p['threshold_pct']:.2f}%")
    t.add_row("Armed", ("[green]yes[/]" if p["armed"] else "[yellow]no[/]")
              + f" ({p['history_days']} sessions of history, needs {p['min_history_days']})"
              + ("" if p["enabled"] else " [yellow]guard DISABLED in config/risk.yml[/]"))
    t.add_row("Trading now", "[green]ENABLED[/]" if p["trading_enabled"] else "[bold red]DISABLED[/]")
    t.add_row("Decision", status_cell("BREACH") + " " + p["verdict"] if p["breached"] else p["verdict"])
    t.add_row("Guard says", p["message"])
    console().print(t)
    console().print("[cyan]dry-run[/]: nothing written (kill-switch, alert log untouched), nothing sent")
