"""``/health``: can the risk manager trust what the page shows right now?

Unhealthy (HTTP 503) when any of these holds — each one means "the screen may be lying":
* no published snapshot, or it cannot be opened read-only;
* the kill-switch file is unreadable (trading is then treated as halted, and nobody should find
  that out from a stale green screen);
* ``config/risk.yml`` is invalid (we could not judge anything);
* the data is stale DURING the session: the latest mark is older than ``freshness.max_age_minutes``,
  judged by the same rule as the freshness guard (``mech_exo.guards.judge_freshness``). Outside the
  session the age is reported but is not a fault: no marks arrive at night.

A halted kill-switch is NOT unhealthy: the page is working and shows the halt.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from mech_exo import guards as g
from mech_exo.config import ConfigError
from mech_exo.killswitch import read_state
from mech_exo.reporting.query import RiskQueryEngine, iso


def health_report(engine: RiskQueryEngine, now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(JSON body, healthy). ``now`` overrides the engine's clock (tests, replays)."""
    now = now or engine.now()
    home = engine.home
    problems: list[str] = []

    db_error = engine.connection_error()
    database = {"reachable": db_error is None, "path": str(home.analytics_db), "error": db_error}
    if db_error:
        problems.append(f"database: {db_error}")

    ks = read_state(home)
    killswitch = {"readable": ks.readable, "trading_enabled": ks.trading_enabled if ks.readable else None,
                  "path": str(ks.path), "error": ks.error}
    if not ks.readable:
        problems.append(f"kill-switch unreadable: {ks.error}")

    data: dict[str, Any] = {"latest_mark": None, "age_minutes": None, "in_session": None, "stale": None,
                            "max_age_minutes": None, "session_date": None}
    try:
        risk = engine.risk_config()
    except ConfigError as exc:
        risk = None
        problems.append(f"config: {exc}")
    if risk is not None:
        data["max_age_minutes"] = risk["freshness"]["max_age_minutes"]
        latest = engine.get_last_update_time() if db_error is None else None
        dates = []
        if db_error is None:
            try:
                dates = engine.get_session_dates()
            except Exception as exc:  # noqa: BLE001 — a snapshot that opens but lacks models or sessions
                problems.append(f"database: {exc}")
        data["session_date"] = iso(dates[0]) if dates else None
        data["latest_mark"] = iso(latest)
        data["age_minutes"] = round((now - latest).total_seconds() / 60, 2) if latest else None
        data["in_session"] = g.session_window(now, risk["session"], dates) is not None
        if risk["freshness"].get("enabled", True):
            decision = g.judge_freshness(latest, None, now, risk, dates)
            data["stale"] = decision.severity is not None
            if data["stale"] and db_error is None:
                problems.append(f"data stale: {decision.message}")
        else:
            data["stale"] = False

    from mech_exo.pipeline import read_run_status

    run = read_run_status(home) or {}
    last_build = ({"finished_at": run.get("finished_at"), "ok": run.get("ok"), "failed_step": run.get("failed_step"),
                   "error": run.get("error")} if run else None)
    healthy = not problems
    body = {"status": "healthy" if healthy else "unhealthy", "healthy": healthy, "checked_at": iso(now),
            "home": str(home.root), "problems": problems, "database": database, "data": data,
            "killswitch": killswitch, "last_build": last_build}
    return body, healthy
