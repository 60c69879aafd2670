"""The headline a run ends with (`exo run`, the daily summary alert, the snapshot's metadata):
latest session's NAV, day and MTD return, VaR utilisation — from the shared read module."""
from __future__ import annotations

from typing import Any

from mech_exo.reporting import read

MTD_KEYS = ("mtd_return", "mtd_drawdown", "history_days", "guard_armed")
VAR_KEYS = ("var95_usd", "var99_usd", "utilization95", "utilization99", "level")


def headline(con) -> dict[str, Any]:
    daily = read.latest_nav(con)
    if daily is None:
        return {"session_date": None}
    intraday = read.latest_intraday(con)
    worst = read.worst_intraday(con)
    mtd = read.latest_mtd(con) or {}
    var = read.latest_var(con) or {}
    return {
        "session_date": daily["session_date"],
        "nav": daily["nav"],
        "day_pnl": daily["pnl"],
        "day_return": daily["daily_return"],
        "latest_ts": intraday["ts"] if intraday else None,
        "latest_nav": intraday["nav"] if intraday else None,
        "latest_day_return": intraday["day_return"] if intraday else None,
        "worst_day_return": worst["day_return"] if worst else None,
        **{k: mtd[k] for k in MTD_KEYS if k in mtd},
        **{k: var[k] for k in VAR_KEYS if k in var},
    }
