"""``/health``: can the risk manager trust what the page shows right now?

Unhealthy (HTTP 503) when any of these holds — each one means "the screen may be lying":
* no published snapshot, or it cannot be opened read-only;
* the kill-switch file is unreadable (trading is then treated as halted, and nobody should find
  that out from a stale green screen);
* ``config/risk.yml`` is invalid (we could not judge anything);
* the data is stale DURING the session: the latest mark is older than ``freshness.max_age_minutes``,
  judged by the same rule as the freshness guard (``mech_exo.guards.judge_freshness``). Outside the
  session the age is reported but is not a fault: no marks arrive at night.

* the halt path is not healthy (``mech_exo.health``): the Dagster instance unreadable, the last
  pipeline run (Dagster or `exo run`) failed, the warehouse pool wedged, no successful build within
  the cadence in session, the daemon down while schedules expect it, escalations overdue — or any
  of these could not be verified (UNKNOWN is never healthy). WARN components are shown, not 503.

A halted kill-switch is NOT unhealthy: the page is working and shows the halt.

``render_html`` is the same report as a page (the dashboard's health view): ``/health`` serves it to
a browser (``Accept: text/html``) and JSON to everything else.
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

    dates: list = []
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

    halt = _halt_path(home, now, dates if risk is not None else ())
    for comp in halt["components"]:
        if comp["status"] in ("FAIL", "UNKNOWN"):
            problems.append(f"{comp['component']}: {comp['status']} — {comp['detail']}"
                            + (f" (recover: {comp['fix']})" if comp.get("fix") else ""))

    from mech_exo.runstate import read_run_status

    run = read_run_status(home) or {}
    last_build = ({"finished_at": run.get("finished_at"), "ok": run.get("ok"), "failed_step": run.get("failed_step"),
                   "error": run.get("error")} if run else None)
    healthy = not problems
    body = {"status": "healthy" if healthy else "unhealthy", "healthy": healthy, "checked_at": iso(now),
            "home": str(home.root), "problems": problems, "database": database, "data": data,
            "killswitch": killswitch, "last_build": last_build, "halt_path": halt}
    return body, healthy


def _halt_path(home, now: datetime, session_dates) -> dict[str, Any]:
    from mech_exo.flows.halt_path import halt_path_components
    from mech_exo.health import UNHEALTHY

    try:
        comps = [c.as_dict() for c in halt_path_components(home, now, session_dates=session_dates)]
    except Exception as exc:  # noqa: BLE001 — /health reports, never 500s
        comps = [{"component": "halt path", "status": "FAIL", "detail": f"check crashed: {exc.__class__.__name__}: {exc}",
                  "fix": "`exo health full-check`", "data": {}}]
    return {"healthy": not any(c["status"] in UNHEALTHY for c in comps), "components": comps}


STATUS_COLOUR = {"OK": "#1e8e3e", "WARN": "#c77700", "FAIL": "#c5221f", "UNKNOWN": "#7b1fa2"}


def render_html(body: dict[str, Any]) -> str:
    """The health report as a small self-contained page (no scripts), escaped."""
    from html import escape as e

    rows = []
    for comp in body.get("halt_path", {}).get("components", []):
        colour = STATUS_COLOUR.get(comp["status"], "#555")
        rows.append(f'<tr data-component="{e(comp["component"])}" data-status="{e(comp["status"])}">'
                    f'<td>{e(comp["component"])}</td><td><b style="color:{colour}">{e(comp["status"])}</b></td>'
                    f'<td>{e(comp["detail"])}</td><td>{e(comp.get("fix") or "")}</td></tr>')
    problems = "".join(f"<li>{e(p)}</li>" for p in body.get("problems", []))
    verdict = "healthy" if body.get("healthy") else "UNHEALTHY"
    colour = STATUS_COLOUR["OK" if body.get("healthy") else "FAIL"]
    db = body.get("database") or {}
    data = body.get("data") or {}
    ks = body.get("killswitch") or {}
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Mech-Exo · Health</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#1b2433}} table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #dde;padding:6px 10px;text-align:left;vertical-align:top}} th{{background:#f3f5f9}}</style>
</head><body><h1>Health — <span id="verdict" style="color:{colour}">{verdict}</span></h1>
<p>Home {e(str(body.get("home")))} · checked {e(str(body.get("checked_at")))} ·
<a href="/dashboard/risk-live">risk dashboard</a> · <a href="/health?format=json">JSON</a></p>
{f'<h2>Problems</h2><ul id="problems">{problems}</ul>' if problems else ''}
<h2>Halt path</h2><table id="halt-path"><tr><th>Component</th><th>Status</th><th>Detail</th><th>To recover</th></tr>
{''.join(rows)}</table>
<h2>Screen</h2><table>
<tr><td>snapshot</td><td>{"reachable" if db.get("reachable") else e("unreachable: " + str(db.get("error")))}</td></tr>
<tr><td>latest mark</td><td>{e(str(data.get("latest_mark")))} ({e(str(data.get("age_minutes")))} min old;
{"in session" if data.get("in_session") else "outside the session"}{"; STALE" if data.get("stale") else ""})</td></tr>
<tr><td>kill-switch</td><td>{e("unreadable: " + str(ks.get("error"))) if not ks.get("readable") else
("trading ENABLED" if ks.get("trading_enabled") else "trading DISABLED")}</td></tr></table>
</body></html>"""
