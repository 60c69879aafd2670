"""The one home of the loss and VaR bands (SPEC §4): which side of a threshold a figure is on.

Every reader of a threshold calls these: the guards (``mech_exo.guards``: what halts and alerts),
the dashboard (``mech_exo.reporting``: the traffic lights), the CLI (``exo risk violations``,
``exo monthly status``) and the Dagster sensor descriptions (``describe``). dbt computes the same
rule in SQL (``var_daily.level``, ``mtd_drawdown.breached``); ``tests/unit/test_bands.py`` holds the two
equal over the boundary values, so a change here that the models do not follow fails a test.

The rule, once:
* a fraction is judged in percent rounded to 6 decimals (``pct``), never raw;
* a loss is at a threshold when it is ``<=`` it ("falls to −0.8 % or below");
* VaR utilisation (the larger of 95 and 99, in percent of its limit): ``>= warning_pct`` warning,
  ``> critical_pct`` critical, ``> halt_pct`` breach; no VaR is ``insufficient_data``.

Pure: numbers and config mappings in, strings out. No files, no clock, no database.
"""
from __future__ import annotations

from typing import Mapping

# var_daily.level values (the model's vocabulary)
INSUFFICIENT, NORMAL, WARNING, CRITICAL, BREACH = "insufficient_data", "normal", "warning", "critical", "breach"
# loss bands
STOP, WARN, OK = "stop", "warning", "ok"
# the page's traffic lights
GREEN, YELLOW, RED, UNKNOWN = "green", "yellow", "red", "unknown"
NEUTRAL = "neutral"   # how a screen shows a loss that is inside every band: not alarming, not green

VAR_LIGHT = {NORMAL: GREEN, WARNING: YELLOW, CRITICAL: RED, BREACH: RED, INSUFFICIENT: UNKNOWN}
LOSS_LIGHT = {OK: GREEN, WARN: YELLOW, STOP: RED, None: UNKNOWN}


def pct(fraction: float) -> float:
    """A fraction in percent, rounded to 6 decimals — the number every threshold is compared with."""
    return round(float(fraction) * 100.0, 6)


# --- losses (day return, MTD return) ----------------------------------------------------------------

def loss_band_pct(metric_pct: float | None, stop_pct: float, warning_pct: float | None = None) -> str | None:
    """``stop`` at or below the stop, ``warning`` at or below the warning, else ``ok``; None without a figure.
    ``metric_pct`` is already in percent (``pct``)."""
    if metric_pct is None:
        return None
    if metric_pct <= stop_pct:
        return STOP
    if warning_pct is not None and metric_pct <= warning_pct:
        return WARN
    return OK


def loss_band(fraction: float | None, stop_pct: float, warning_pct: float | None = None) -> str | None:
    """``loss_band_pct`` of a return given as a fraction (−0.008 = −0.8 %)."""
    return loss_band_pct(None if fraction is None else pct(fraction), stop_pct, warning_pct)


def loss_light(fraction: float | None, stop_pct: float, warning_pct: float | None = None) -> str:
    """green / yellow / red / unknown of a return against a stop and a warning."""
    return LOSS_LIGHT[loss_band(fraction, stop_pct, warning_pct)]


def loss_shade(fraction: float | None, stop_pct: float, warning_pct: float | None = None) -> str:
    """How a card shows a return: its band's light, except that a loss inside the bands is neutral —
    green is for a gain (a −1.00 % month is not good news, even 2 points above the stop)."""
    light = loss_light(fraction, stop_pct, warning_pct)
    return NEUTRAL if light == GREEN and fraction is not None and pct(fraction) < 0 else light


def day_band(fraction: float | None, daily_cfg: Mapping) -> str | None:
    """The intraday sentinel's band of a day return (``risk.yml`` ``daily_stop``)."""
    return loss_band(fraction, daily_cfg["threshold_pct"], daily_cfg["warning_pct"])


def monthly_warning_pct(risk: Mapping) -> float:
    """risk.yml has no monthly warning; we warn at ``monthly_stop.warning_pct`` if set, else at half the stop."""
    cfg = risk["monthly_stop"]
    return float(cfg.get("warning_pct", cfg["threshold_pct"] / 2.0))


def monthly_armed(history_days: int | None, monthly_cfg: Mapping) -> bool:
    """``mtd_drawdown.guard_armed``: at least ``min_history_days`` sessions of NAV exist."""
    return int(history_days or 0) >= int(monthly_cfg["min_history_days"])


def monthly_breached(mtd_return: float | None, history_days: int | None, monthly_cfg: Mapping) -> bool:
    """``mtd_drawdown.breached``: armed and the MTD return at or below the stop."""
    return monthly_armed(history_days, monthly_cfg) and loss_band(mtd_return, monthly_cfg["threshold_pct"]) == STOP


# --- VaR utilisation ---------------------------------------------------------------------------------

def utilization_pct(var_usd: float | None, limit_usd: float | None) -> float | None:
    """VaR in percent of its limit, rounded to 6 decimals (None without VaR or without a limit)."""
    if var_usd is None or not limit_usd:
        return None
    return round(float(var_usd) / float(limit_usd) * 100.0, 6)


def var_band(util_pct: float | None, var_cfg: Mapping) -> str:
    """The level of one utilisation already in percent: normal / warning / critical / breach."""
    if util_pct is None:
        return INSUFFICIENT
    if util_pct > var_cfg["halt_pct"]:
        return BREACH
    if util_pct > var_cfg["critical_pct"]:
        return CRITICAL
    if util_pct >= var_cfg["warning_pct"]:
        return WARNING
    return NORMAL


def var_metric_pct(u95_pct: float | None, u99_pct: float | None) -> float | None:
    """The judged utilisation: the larger of the two limits' (either may be missing)."""
    us = [u for u in (u95_pct, u99_pct) if u is not None]
    return max(us) if us else None


def var_level(utilization95: float | None, utilization99: float | None, var_cfg: Mapping) -> str:
    """``var_daily.level`` from the two utilisations as fractions (0.8 = 80 % of the limit)."""
    return var_band(var_metric_pct(*(None if u is None else pct(u) for u in (utilization95, utilization99))), var_cfg)


def var_light(utilization: float | None, var_cfg: Mapping) -> str:
    """green / yellow / red / unknown of one utilisation (a fraction)."""
    return VAR_LIGHT[var_band(None if utilization is None else pct(utilization), var_cfg)]


# --- concentration -----------------------------------------------------------------------------------

def over_weight(weight: float | None, max_weight_pct: float) -> bool:
    """A weight (fraction of NAV) above the single-name limit."""
    return weight is not None and pct(abs(weight)) > max_weight_pct


# --- words for the sensors and help texts -----------------------------------------------------------

def _n(x: float) -> str:
    """−0.8 / 70 / −3: the threshold as configured, typographic minus."""
    return f"{float(x):g}".replace("-", "−")


def describe(risk: Mapping) -> dict[str, str]:
    """One sentence per guard naming its thresholds from ``risk`` (the merged risk.yml), keyed by the
    guard names of ``mech_exo.guards``. What the Dagster UI shows next to each sensor."""
    ds, ms, v = risk["daily_stop"], risk["monthly_stop"], risk["var"]
    return {
        "intraday-pnl-sentinel": f"Day loss ≤ {_n(ds['threshold_pct'])} % at any intraday NAV point: halt + CRITICAL; "
                                 f"from {_n(ds['warning_pct'])} %: WARNING.",
        "monthly-drawdown-guard": f"MTD return ≤ {_n(ms['threshold_pct'])} % once {int(ms['min_history_days'])} "
                                  "sessions of history exist: halt + CRITICAL.",
        "var-limit": f"VaR utilisation ≥ {_n(v['warning_pct'])} % WARNING, > {_n(v['critical_pct'])} % CRITICAL, "
                     f"> {_n(v['halt_pct'])} % halt.",
        "concentration": f"A single name above {_n(risk['concentration']['max_weight_pct'])} % of NAV: WARNING.",
        "freshness-watch": f"Every minute in the session: marks older than {_n(risk['freshness']['max_age_minutes'])} "
                           "minutes → WARNING (can't watch = risk).",
    }
