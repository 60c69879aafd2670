"""Guard decisions (SPEC §4) as pure functions: metric rows + risk config + kill-switch history → Decision.

Why pure: every threshold rule (boundaries, rounding, arming, override and re-trip, fail-closed on
suspect data) is testable here without files, databases or clocks. ``mech_exo.guard_runner`` reads
the model tables, calls these, and applies the decisions (kill-switch first, then the alert).

Conventions:
* Which side of a threshold a figure is on is decided in ``mech_exo.bands`` (shared with the
  dashboard, the CLI and held equal to dbt's ``level``/``breached`` by a test); the session calendar
  is ``mech_exo.session_calendar``. This module adds what the guards do about it.
* Percentages are compared after ``round(x * 100, 6)`` with the threshold: ``<=`` for losses
  ("falls to X or below"), ``>`` / ``>=`` for VaR utilisation as SPEC's table says.
* ``period`` is the breach's scope: the session date for daily guards, ``YYYY-MM`` for the monthly one.
* ``dedup_key`` = ``guard:period:severity`` (plus the names for concentration, the mark time for
  freshness, ``:retripN`` after overrides), so a WARNING never swallows the later CRITICAL of the
  same period, and a re-trip after a manual re-enable is alerted again.
* If the switch is already off, no halt is written (``halt=False``) but the alert is still
  produced (and deduplicated by its key).
* After a manual re-enable that followed this guard's halt for the same period, the guard does not
  halt again in that period unless the metric is worse than the tripped level by ``retrip_step_pct``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from mech_exo import bands
from mech_exo import session_calendar as cal
from mech_exo.bands import pct  # noqa: F401 — part of this module's API (guards.pct)

INTRADAY = "intraday-pnl-sentinel"
MONTHLY = "monthly-drawdown-guard"
VAR = "var-limit"
CONCENTRATION = "concentration"
FRESHNESS = "freshness-watch"
KILLSWITCH_FILE = "killswitch-file"

DEFAULT_VAR_RETRIP_STEP_PCT = 10.0  # percentage points of limit utilisation (risk.yml var.retrip_step_pct)


@dataclass
class Decision:
    guard: str
    period: str | None
    severity: str | None          # 'CRITICAL' | 'WARNING' | 'INFO' | None (nothing to say)
    halt: bool                    # write the kill-switch off now
    trigger: str | None           # kill-switch trigger when halting
    message: str
    metric_pct: float | None      # the judged metric in percent, rounded to 6 decimals
    dedup_key: str | None
    data_suspect: bool = False
    failed_checks: tuple[str, ...] = ()
    details: dict = field(default_factory=dict)


def _get(row: Any, key: str, default: Any = None) -> Any:
    if row is None:
        return default
    if isinstance(row, Mapping):
        return row.get(key, default)
    return getattr(row, key, default)


def _quiet(guard: str, period: str | None, message: str, metric: float | None = None, **details) -> Decision:
    return Decision(guard=guard, period=period, severity=None, halt=False, trigger=None, message=message,
                    metric_pct=metric, dedup_key=None, details=details)


# --- override / re-trip memory ---------------------------------------------------------------------

def override_level(history: Iterable[Mapping], guard: str, period: str | None) -> tuple[float | None, int]:
    """(level of the latest halt of ``guard`` for ``period`` that was later re-enabled, number of such overrides).

    The level is None when this guard has not been overridden in this period.
    """
    level, pending, overrides = None, None, 0
    for entry in history or []:
        if entry.get("action") == "disable" and entry.get("guard") == guard and str(entry.get("period")) == str(period):
            pending = entry.get("level_pct")
        elif entry.get("action") == "enable" and pending is not None:
            level, pending, overrides = float(pending), None, overrides + 1
    return level, overrides


def _finish(d: Decision, trading_enabled: bool, failed_checks: Sequence[str]) -> Decision:
    """Apply idempotency (no halt write on an off switch) and fail-closed data-suspect marking."""
    if d.halt and not trading_enabled:
        d = replace(d, halt=False, details={**d.details, "already_halted": True})
    checks = tuple(str(c) for c in failed_checks or ())
    if checks and d.severity:
        d = replace(d, data_suspect=True, failed_checks=checks,
                    message=f"{d.message} — DATA SUSPECT (failed checks: {', '.join(checks)})")
    return d


def _breach(guard: str, period: str, metric: float, message: str, trigger: str, history, step: float,
            worse: str = "lower") -> Decision:
    """A halting breach, unless a manual re-enable overrode this guard for this period and the
    metric is not yet ``step`` worse than the tripped level."""
    tripped, overrides = override_level(history, guard, period)
    key = f"{guard}:{period}:CRITICAL"
    if tripped is None:
        return Decision(guard, period, "CRITICAL", True, trigger, message, metric, key)
    retrip_at = round(tripped - step, 6) if worse == "lower" else round(tripped + step, 6)
    deeper = metric <= retrip_at if worse == "lower" else metric >= retrip_at
    if deeper:
        return Decision(guard, period, "CRITICAL", True, trigger,
                        f"{message} (re-trip after manual re-enable at {tripped:.2f}%)", metric,
                        f"{key}:retrip{overrides}", details={"overridden_level_pct": tripped})
    suffix = f"retrip{overrides - 1}" if overrides > 1 else ""
    return Decision(guard, period, "CRITICAL", False, trigger,
                    f"{message} (overridden by manual re-enable; re-trips at {retrip_at:.2f}%)", metric,
                    f"{key}:{suffix}" if suffix else key,
                    details={"overridden_level_pct": tripped, "retrip_at_pct": retrip_at})


# --- intraday sentinel -----------------------------------------------------------------------------

def judge_intraday(points: Sequence[Mapping], risk: Mapping, history: Sequence[Mapping] = (), *,
                   trading_enabled: bool = True, failed_checks: Sequence[str] = ()) -> Decision:
    """Worst ``day_return`` over every point of the latest session: a dip that recovered still trips."""
    cfg = risk["daily_stop"]
    if not cfg.get("enabled", True):
        return _quiet(INTRADAY, None, "intraday sentinel disabled in config/risk.yml")
    dated = [p for p in points or [] if _get(p, "session_date") is not None]
    if not dated:
        return _quiet(INTRADAY, None, "no intraday NAV points")
    period = str(max(str(_get(p, "session_date")) for p in dated))
    session = [p for p in dated if str(_get(p, "session_date")) == period]
    judged = [p for p in session if _get(p, "day_return") is not None]
    if not judged:
        return _quiet(INTRADAY, period, f"session {period}: no day_return yet ({len(session)} points, all null)")
    worst = min(judged, key=lambda p: float(_get(p, "day_return")))
    metric = pct(_get(worst, "day_return"))
    details = {"worst_ts": str(_get(worst, "ts")), "points": len(session),
               "latest_pct": pct(_get(judged[-1], "day_return"))}
    band = bands.loss_band_pct(metric, cfg["threshold_pct"], cfg["warning_pct"])
    if band == bands.STOP:
        d = _breach(INTRADAY, period, metric, f"CRITICAL DAY LOSS: {metric:.2f}%", "daily_stop", history,
                    cfg["retrip_step_pct"])
        d.details.update(details)
    elif band == bands.WARN:
        d = Decision(INTRADAY, period, "WARNING", False, None,
                     f"WARNING DAY LOSS: {metric:.2f}% (halt at {cfg['threshold_pct']:.2f}%)", metric,
                     f"{INTRADAY}:{period}:WARNING", details=details)
    else:
        d = _quiet(INTRADAY, period, f"day return {metric:.2f}% within limits", metric, **details)
    return _finish(d, trading_enabled, failed_checks)


# --- monthly guard ---------------------------------------------------------------------------------

def judge_monthly(row: Mapping | None, risk: Mapping, history: Sequence[Mapping] = (), *,
                  trading_enabled: bool = True, failed_checks: Sequence[str] = ()) -> Decision:
    """``mtd_return`` of the latest session; armed only once ``min_history_days`` sessions of NAV exist."""
    cfg = risk["monthly_stop"]
    if not cfg.get("enabled", True):
        return _quiet(MONTHLY, None, "monthly guard disabled in config/risk.yml")
    if row is None:
        return _quiet(MONTHLY, None, "no mtd_drawdown rows")
    month = _get(row, "month") or _get(row, "session_date")
    period = str(month)[:7]
    mtd = _get(row, "mtd_return")
    if mtd is None:
        return _quiet(MONTHLY, period, f"session {_get(row, 'session_date')}: mtd_return is null")
    metric = pct(mtd)
    days = int(_get(row, "history_days") or 0)
    details = {"session_date": str(_get(row, "session_date")), "history_days": days}
    breached = bands.loss_band_pct(metric, cfg["threshold_pct"]) == bands.STOP
    if not bands.monthly_armed(days, cfg):
        msg = f"monthly guard not armed: {days} of {cfg['min_history_days']} sessions of NAV (MTD {metric:.2f}%)"
        if not breached:
            return _quiet(MONTHLY, period, msg, metric, **details)
        d = Decision(MONTHLY, period, "INFO", False, None, msg, metric, f"{MONTHLY}:{period}:INFO", details=details)
    elif breached:
        d = _breach(MONTHLY, period, metric, f"🛑 MONTHLY STOP-LOSS TRIGGERED: {metric:.2f}%", "monthly_stop",
                    history, cfg["retrip_step_pct"])
        d.details.update(details)
    else:
        d = _quiet(MONTHLY, period, f"MTD return {metric:.2f}% within limits", metric, **details)
    return _finish(d, trading_enabled, failed_checks)


# --- VaR limit -------------------------------------------------------------------------------------

def var_utilization(row: Mapping | None, var_cfg: Mapping) -> tuple[float | None, float | None]:
    """Utilisation of each limit in percent, from the USD VaR and the configured limits (None if VaR is null)."""
    return (bands.utilization_pct(_get(row, "var95_usd"), var_cfg["limit95_usd"]),
            bands.utilization_pct(_get(row, "var99_usd"), var_cfg["limit99_usd"]))


def judge_var(row: Mapping | None, risk: Mapping, history: Sequence[Mapping] = (), *,
              trading_enabled: bool = True, failed_checks: Sequence[str] = ()) -> Decision:
    """< warning normal; warning..critical WARNING; > critical CRITICAL; > halt kill-switch off."""
    cfg = risk["var"]
    if not cfg.get("enabled", True):
        return _quiet(VAR, None, "VaR limit disabled in config/risk.yml")
    if row is None:
        return _quiet(VAR, None, "no var_daily rows")
    period = str(_get(row, "session_date"))
    u95, u99 = var_utilization(row, cfg)
    if u95 is None and u99 is None:
        return _quiet(VAR, period, f"session {period}: VaR is null (insufficient data)")
    metric = bands.var_metric_pct(u95, u99)
    level = bands.var_band(metric, cfg)
    details = {"var95_usd": _get(row, "var95_usd"), "var99_usd": _get(row, "var99_usd"),
               "utilization95_pct": u95, "utilization99_pct": u99}
    body = (f"95% VaR ${float(_get(row, 'var95_usd') or 0):,.0f} ({(u95 or 0):.1f}% of ${cfg['limit95_usd']:,.0f}), "
            f"99% VaR ${float(_get(row, 'var99_usd') or 0):,.0f} ({(u99 or 0):.1f}% of ${cfg['limit99_usd']:,.0f})")
    if level == bands.BREACH:
        d = _breach(VAR, period, metric, f"VAR LIMIT BREACH: {body}", "var_breach", history,
                    float(cfg.get("retrip_step_pct", DEFAULT_VAR_RETRIP_STEP_PCT)), worse="higher")
        d.details.update(details)
    elif level == bands.CRITICAL:
        d = Decision(VAR, period, "CRITICAL", False, None, f"VAR CRITICAL: {body}", metric,
                     f"{VAR}:{period}:CRITICAL", details=details)
    elif level == bands.WARNING:
        d = Decision(VAR, period, "WARNING", False, None, f"VAR WARNING: {body}", metric,
                     f"{VAR}:{period}:WARNING", details=details)
    else:
        d = _quiet(VAR, period, f"VaR utilisation {metric:.2f}% normal", metric, **details)
    return _finish(d, trading_enabled, failed_checks)


# --- concentration ---------------------------------------------------------------------------------

def concentration_violations(positions: Sequence[Mapping], max_weight_pct: float) -> list[tuple[str, float]]:
    """``[(symbol, weight_pct)]`` above the limit, worst first. A name's weight sums |weight| over strategies."""
    by_symbol: dict[str, float] = {}
    for p in positions or []:
        w = _get(p, "weight")
        if w is None:
            continue
        sym = str(_get(p, "symbol"))
        by_symbol[sym] = by_symbol.get(sym, 0.0) + abs(float(w))
    over = [(s, pct(w)) for s, w in by_symbol.items() if bands.over_weight(w, max_weight_pct)]
    return sorted(over, key=lambda x: (-x[1], x[0]))


def judge_concentration(positions: Sequence[Mapping], risk: Mapping, period: str | None = None, *,
                        failed_checks: Sequence[str] = ()) -> Decision:
    """> max_weight_pct of NAV in a single name: WARNING listing the names (never halts)."""
    cfg = risk["concentration"]
    if not cfg.get("enabled", True):
        return _quiet(CONCENTRATION, period, "concentration watch disabled in config/risk.yml")
    missing = sum(1 for p in positions or [] if _get(p, "weight") is None)
    over = concentration_violations(positions, cfg["max_weight_pct"])
    details = {"violations": [{"symbol": s, "weight_pct": w} for s, w in over], "null_weights": missing}
    if not over:
        return _quiet(CONCENTRATION, period, "no single name above the concentration limit",
                      max((pct(abs(float(_get(p, "weight")))) for p in positions or [] if _get(p, "weight") is not None),
                          default=None), **details)
    names = ", ".join(f"{s} {w:.2f}%" for s, w in over)
    d = Decision(CONCENTRATION, period, "WARNING", False, None,
                 f"CONCENTRATION: {names} of NAV (limit {cfg['max_weight_pct']:.2f}%)", over[0][1],
                 f"{CONCENTRATION}:{period}:WARNING:{'+'.join(s for s, _ in sorted(over))}", details=details)
    return _finish(d, True, failed_checks)


# --- freshness -------------------------------------------------------------------------------------

_utc = cal.utc  # naive timestamps mean UTC (the landing contract)


def session_window(now: datetime, session_cfg: Mapping, session_dates: Iterable[Any] | None = None
                   ) -> tuple[datetime, datetime] | None:
    """(open, close) in UTC of the session running at ``now``, or None outside a session
    (``mech_exo.session_calendar.session_window``: a known session date or a weekday — waiting for
    today's first mark would hide the very outage this watch exists for)."""
    return cal.session_window(now, session_cfg, session_dates)


def judge_freshness(latest_mark_ts: Any, latest_fill_ts: Any, now: datetime, risk: Mapping,
                    session_dates: Iterable[Any] | None = None, *, failed_checks: Sequence[str] = ()) -> Decision:
    """In session, marks older than ``max_age_minutes`` → WARNING. The age counts from the later of
    the latest mark and today's open, so the first minutes of a session are not stale by definition.
    Fills are reported, not judged: a quiet strategy legitimately trades rarely."""
    cfg = risk["freshness"]
    now = _utc(now)
    mark, fill = _utc(latest_mark_ts), _utc(latest_fill_ts)
    local_day = cal.local_date(now, risk["session"]).isoformat()
    details = {"latest_mark_ts": mark.isoformat() if mark else None,
               "latest_fill_ts": fill.isoformat() if fill else None,
               "fill_age_min": round((now - fill).total_seconds() / 60, 3) if fill else None}
    if not cfg.get("enabled", True):
        return _quiet(FRESHNESS, local_day, "freshness watch disabled in config/risk.yml")
    window = session_window(now, risk["session"], session_dates)
    if window is None:
        return _quiet(FRESHNESS, local_day, "outside the session: not judged", **details)
    since = max(mark, window[0]) if mark else window[0]
    age = round((now - since).total_seconds() / 60.0, 6)
    details["mark_age_min"] = age
    if age <= cfg["max_age_minutes"]:
        return _quiet(FRESHNESS, local_day, f"latest mark {age:.1f} min old", **details)
    what = f"latest mark {mark:%Y-%m-%d %H:%M:%S}Z" if mark else "no mark yet this session"
    d = Decision(FRESHNESS, local_day, "WARNING", False, None,
                 f"STALE DATA: {what}, {age:.1f} min without a mark in session (limit {cfg['max_age_minutes']:g} min)",
                 None, f"{FRESHNESS}:{local_day}:WARNING:{details['latest_mark_ts']}", details=details)
    return _finish(d, True, failed_checks)


def killswitch_unreadable(error: str) -> Decision:
    """SPEC §5: an unreadable switch is treated as DISABLED and a CRITICAL alert names the file."""
    return Decision(KILLSWITCH_FILE, None, "CRITICAL", False, None,
                    f"KILL-SWITCH FILE UNREADABLE — trading treated as DISABLED: {error}", None,
                    f"{KILLSWITCH_FILE}:{error}")
