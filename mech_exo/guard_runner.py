"""Run the guards: read the model tables, decide (``mech_exo.guards``), then act.

Order of actions is the safety property: the kill-switch write comes FIRST, the alert second, so
a slow or broken alert channel can never delay or undo a halt. A halt that could not be written is
still alerted (the message says so) and then raised as ``HaltFailed`` — a silent failure to stop
trading is the one outcome we must never have.

``con`` is an open DuckDB connection (normally read-only on the published snapshot
``data/analytics.duckdb``) with the SPEC §3 tables ``nav_intraday``, ``mtd_drawdown``,
``var_daily`` and ``positions_current``.
"""
from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any, Sequence

from mech_exo import guards as g
from mech_exo.config import ConfigError, load_risk_config
from mech_exo.config_guard import RISK_CONFIG, risk_config_unreadable
from mech_exo.events import read_events, utc_now
from mech_exo.home import Home
from mech_exo.killswitch import KillSwitchError, ensure_halt_file, read_state, set_trading
from mech_exo.reporting import read

# Optional: the newest fill time for the freshness report (a dbt staging model; absent → not reported).
FILLS_TABLE = "stg_landing__fills"


# The alert type of each guard: what config/alerts.yml's escalation chains are keyed by
# (the monthly stop has its own chain: lead < 30 min, CTO < 1 h, incident team after).
ALERT_TYPE = {
    g.INTRADAY: "daily_stop",
    g.MONTHLY: "monthly_stop",
    g.VAR: "var_breach",
    g.CONCENTRATION: "concentration",
    g.FRESHNESS: "freshness",
    g.KILLSWITCH_FILE: "killswitch_file",
    RISK_CONFIG: "risk_config",
}


class HaltFailed(KillSwitchError):
    """One or more halts could not be written. ``results`` holds what apply_decisions did."""

    def __init__(self, message: str, results: list[dict]):
        super().__init__(message)
        self.results = results


# --- reading ---------------------------------------------------------------------------------------

def read_inputs(con) -> dict[str, Any]:
    """Everything the guards judge, each from its table's latest session (not the wall clock);
    every query is the shared read module's (``mech_exo.reporting.read``)."""
    latest = read.latest_intraday_session(con)
    points = read.session_points(con, latest) if latest is not None else []
    var = read.latest_var_row(con)
    mark = read.latest_mark_ts(con)
    fill_ts = read.max_ts(con, FILLS_TABLE) if read.has_table(con, FILLS_TABLE) else None
    period = latest if latest is not None else (var or {}).get("session_date")
    return {"points": points, "mtd": read.latest_mtd_row(con), "var": var, "positions": read.position_weights(con),
            "latest_mark_ts": mark["ts"] if mark else None, "latest_fill_ts": fill_ts,
            "session_dates": [r["session_date"] for r in read.recent_session_dates(con, 10)],
            "period": None if period is None else str(period)}


def evaluate_guards(home: Home, con, now: datetime | None = None, failed_checks: Sequence[str] = (),
                    by: str = "exo run") -> list[g.Decision]:
    """Every guard's decision for the data in ``con``. Reads the switch but writes nothing.

    ``by`` is accepted for symmetry with ``apply_decisions`` (callers pass the same actor to both).
    """
    risk = load_risk_config(home.risk_yml)
    state = read_state(home)
    enabled = bool(state.readable and state.trading_enabled)
    hist = state.history
    x = read_inputs(con)
    checks = tuple(failed_checks or ())
    out = []
    if not state.readable:
        out.append(g.killswitch_unreadable(state.error or str(state.path)))
    out += [
        g.judge_intraday(x["points"], risk, hist, trading_enabled=enabled, failed_checks=checks),
        g.judge_monthly(x["mtd"], risk, hist, trading_enabled=enabled, failed_checks=checks),
        g.judge_var(x["var"], risk, hist, trading_enabled=enabled, failed_checks=checks),
        g.judge_concentration(x["positions"], risk, x["period"], failed_checks=checks),
        g.judge_freshness(x["latest_mark_ts"], x["latest_fill_ts"], now or utc_now(), risk,
                          x["session_dates"], failed_checks=checks),
    ]
    return out


# --- acting ----------------------------------------------------------------------------------------

def sent_dedup_keys(home: Home) -> set[str]:
    """dedup keys of every alert already in the alert log."""
    return {r["dedup_key"] for r in read_events(home.event_log("alerts"))
            if r.get("event") == "alert" and r.get("dedup_key")}


def _halt(home: Home, d: g.Decision, by: str, result: dict) -> None:
    try:
        rec = set_trading(home, enabled=False, reason=d.message, trigger=d.trigger, by=by,
                          guard=d.guard, period=d.period, level_pct=d.metric_pct)
        result["killswitch"] = rec
        result["halted"] = bool(rec.get("changed"))
    except Exception as exc:  # noqa: BLE001 — reported in the alert and raised after all alerts
        result["error"] = f"kill-switch write FAILED ({home.killswitch_yml}): {exc}"


def _alert(home: Home, d: g.Decision, result: dict, seen: set[str]) -> None:
    if d.dedup_key and d.dedup_key in seen:
        result["alert_skipped"] = "duplicate"
        return
    message = d.message + (f" — {result['error']}" if result.get("error") else "")
    warnings = (result.get("killswitch") or {}).get("warnings") or []
    if warnings:  # the halt landed, but via the halt file / without its audit line: say so loudly
        message += " — " + "; ".join(str(w) for w in warnings)
    try:
        from mech_exo.alerts import send_alert
    except Exception as exc:  # noqa: BLE001 — a missing alert system never blocks a halt
        print(f"guards: alerts unavailable ({exc.__class__.__name__}: {exc}); "
              f"[{d.severity}] {d.guard}: {message}", file=sys.stderr, flush=True)
        result["alert_skipped"] = f"alerts unavailable: {exc}"
        return
    details = {"guard": d.guard, "period": d.period, "metric_pct": d.metric_pct, "halt": d.halt,
               "halted": result["halted"], "data_suspect": d.data_suspect,
               "failed_checks": list(d.failed_checks), **d.details}
    result["alert"] = send_alert(home, severity=d.severity, type=ALERT_TYPE.get(d.guard, d.guard), message=message,
                                 dedup_key=d.dedup_key, details=details)
    if d.dedup_key:
        seen.add(d.dedup_key)


def apply_decisions(home: Home, decisions: Sequence[g.Decision], by: str) -> list[dict]:
    """Execute decisions: all kill-switch writes first, then the alerts (deduplicated by key)."""
    results = [{"guard": d.guard, "period": d.period, "severity": d.severity, "message": d.message,
                "halt": d.halt, "halted": False, "killswitch": None, "alert": None, "alert_skipped": None,
                "error": None, "decision": asdict(d)} for d in decisions]
    for d, res in zip(decisions, results):
        if d.halt:
            _halt(home, d, by, res)
    seen = sent_dedup_keys(home)
    for d, res in zip(decisions, results):
        if d.severity:
            _alert(home, d, res, seen)
    failed = [r["error"] for r in results if r["error"]]
    if failed:
        raise HaltFailed("; ".join(failed), results)
    return results


def config_failure_decisions(home: Home, error: ConfigError) -> list[g.Decision]:
    """What to do when risk.yml cannot be read: halt (+ the switch's own unreadable alert, if so)."""
    state = read_state(home)
    out = [risk_config_unreadable(error)]
    if not state.readable:
        out.append(g.killswitch_unreadable(state.error or str(state.path)))
    return out


def fail_closed_on_config(home: Home, by: str) -> list[dict] | None:
    """Check risk.yml; when it cannot be read, halt + alert now and return what was done, else None.
    Called first by every run and tick, so a typo never leaves the guards silently off."""
    try:
        load_risk_config(home.risk_yml)
    except ConfigError as exc:
        try:
            return apply_decisions(home, config_failure_decisions(home, exc), by=by)
        finally:
            service_alerts(home)
    return None


# --- one tick: what every guard sensor and `exo run` call ------------------------------------------

def tick(home: Home, *, guards: Sequence[str] | None = None, now: datetime | None = None,
         by: str = "exo run", con=None) -> list[dict]:
    """Judge the published snapshot and act: the single decision path shared by the Dagster
    sensors (each passes its own ``guards``) and ``exo run`` (all guards).

    The names of failed data checks recorded by the last pipeline run ride along, so a halt on
    suspect data still happens but its alert says DATA SUSPECT. ``con`` defaults to a read-only
    connection on ``data/analytics.duckdb``.
    """
    from mech_exo.reporting.snapshot import connect
    from mech_exo.runstate import read_failed_checks

    ensure_halt_file(home)  # one stat when present: a halt must land even if the disk fills later
    failed_config = fail_closed_on_config(home, by)  # no guard can judge without its thresholds
    if failed_config is not None:
        return failed_config
    own = con is None
    con = connect(home) if own else con
    try:
        decisions = evaluate_guards(home, con, now=now, failed_checks=read_failed_checks(home), by=by)
    finally:
        if own:
            con.close()
    if guards is not None:
        wanted = set(guards) | {g.KILLSWITCH_FILE}
        decisions = [d for d in decisions if d.guard in wanted]
    try:
        return apply_decisions(home, decisions, by=by)
    finally:
        service_alerts(home)


def service_alerts(home: Home) -> None:
    """After the halt: deliver what waits in the outbox and run due escalations, bounded in time
    (a hung Telegram costs at most its grace). The daemon's sensor does the same; this covers a
    home without a daemon, so a CRITICAL still climbs its chain."""
    try:
        from mech_exo.alerts import service_pending

        service_pending(home)
    except Exception as exc:  # noqa: BLE001 — never let alert servicing mask a decision
        print(f"guards: alert servicing failed ({exc.__class__.__name__}: {exc})", file=sys.stderr, flush=True)
