"""The headline of the risk page and of ``/api/risk/current`` (schema in docs/DASHBOARD.md), made from
one snapshot read: NAV, day and MTD P&L with their traffic lights, VaR against the limits,
exposures, top VaR contributors, concentration breaches and the thresholds they were judged with."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from mech_exo import bands
from mech_exo.guards import concentration_violations
from mech_exo.reporting.jsonable import _utc

TOP_CONTRIBUTORS = 5


def loss_level(fraction: float | None, stop_pct: float, warning_pct: float) -> str:
    """green / yellow / red of a return against a guard's thresholds, with the guards' rule
    (``mech_exo.bands.loss_light``: the percentage rounded to 6 decimals ``<=`` the threshold)."""
    return bands.loss_light(fraction, stop_pct, warning_pct)


monthly_warning_pct = bands.monthly_warning_pct


def exposure(positions: list[dict]) -> dict[str, Any]:
    nav = positions[0]["nav"] if positions else None
    long_v = sum(p["market_value"] for p in positions if p["market_value"] > 0)
    short_v = -sum(p["market_value"] for p in positions if p["market_value"] < 0)
    frac = (lambda v: v / nav) if nav else (lambda v: None)
    return {"nav": nav, "long_usd": long_v, "short_usd": short_v, "long": frac(long_v), "short": frac(short_v),
            "gross": frac(long_v + short_v), "net": frac(long_v - short_v), "n_positions": len(positions)}


def _thresholds(risk: dict) -> dict[str, Any]:
    v = risk["var"]
    return {"daily_stop_pct": risk["daily_stop"]["threshold_pct"], "daily_warning_pct": risk["daily_stop"]["warning_pct"],
            "monthly_stop_pct": risk["monthly_stop"]["threshold_pct"], "monthly_warning_pct": monthly_warning_pct(risk),
            "monthly_min_history_days": risk["monthly_stop"]["min_history_days"],
            "var_limit95_usd": v["limit95_usd"], "var_limit99_usd": v["limit99_usd"],
            "var_warning_pct": v["warning_pct"], "var_critical_pct": v["critical_pct"], "var_halt_pct": v["halt_pct"],
            "max_weight_pct": risk["concentration"]["max_weight_pct"],
            "freshness_max_age_minutes": risk["freshness"]["max_age_minutes"],
            "session_timezone": risk["session"].get("timezone") or "America/New_York"}


def _headline(data: dict, risk: dict, now: datetime) -> dict[str, Any]:
    th = _thresholds(risk)
    daily, intra, worst = data["daily"], data["intraday"] or {}, data["worst"] or {}
    mtd, var = data["mtd"] or {}, data["var"] or {}
    latest = _utc((data["latest_mark"] or {}).get("ts"))
    # "now" is the latest intraday point of the latest session (falls back to the close).
    live_return = intra.get("day_return") if intra else daily["daily_return"]
    live_pnl = intra.get("day_pnl") if intra else daily["pnl"]
    contributors = sorted((p for p in data["positions"] if p["var95_contribution"] is not None),
                          key=lambda p: p["var95_contribution"], reverse=True)[:TOP_CONTRIBUTORS]
    return {
        "as_of": latest,
        "session_date": daily["session_date"],
        "data_age_minutes": round((now - latest).total_seconds() / 60, 1) if latest else None,
        "nav": intra.get("nav", daily["nav"]),
        "nav_close": daily["nav"],
        "day_pnl": live_pnl,
        "day_return": live_return,
        "day_worst_return": worst.get("day_return"),
        "day_worst_at": _utc(worst.get("ts")),
        "day_level": loss_level(live_return, th["daily_stop_pct"], th["daily_warning_pct"]),
        "mtd_return": mtd.get("mtd_return"),
        "mtd_drawdown": mtd.get("mtd_drawdown"),
        "mtd_level": loss_level(mtd.get("mtd_return"), th["monthly_stop_pct"], th["monthly_warning_pct"]),
        "monthly_guard": {"armed": mtd.get("guard_armed"), "history_days": mtd.get("history_days"),
                          "breached": mtd.get("breached"), "month": mtd.get("month")},
        "var_session_date": var.get("session_date"),
        "var95": var.get("var95"), "var99": var.get("var99"),
        "var95_usd": var.get("var95_usd"), "var99_usd": var.get("var99_usd"),
        "limit95_usd": var.get("limit95_usd", th["var_limit95_usd"]),
        "limit99_usd": var.get("limit99_usd", th["var_limit99_usd"]),
        "utilization95": var.get("utilization95"), "utilization99": var.get("utilization99"),
        "level": var.get("level", "insufficient_data"),
        "n_obs": var.get("n_obs"),
        "exposure": exposure(data["positions"]),
        "top_contributors": [{"strategy": p["strategy"], "symbol": p["symbol"], "sector": p["sector"],
                              "market_value": p["market_value"], "weight": p["weight"],
                              "var95_contribution": p["var95_contribution"], "var95_share": p["var95_share"]}
                             for p in contributors],
        "concentration_breaches": [{"symbol": s, "weight_pct": w} for s, w in
                                   concentration_violations(data["positions"], th["max_weight_pct"])],
        "session_dates": [r["session_date"] for r in data["sessions"]],
        "thresholds": th,
    }
