"""What past drills say: the last one, the badge, whether a drill is overdue."""
from __future__ import annotations

from datetime import datetime, timedelta

from mech_exo.alerts import send_alert
from mech_exo.drill.lock import lock_state
from mech_exo.drill.model import GREEN_BELOW_DAYS, RED_ABOVE_DAYS
from mech_exo.events import iso_utc, parse_utc, read_events, utc_now
from mech_exo.home import Home

# --- history lookups ------------------------------------------------------------------------------

def _records(home: Home) -> tuple[list[dict], int]:
    recs, corrupt = [], 0
    for r in read_events(home.event_log("drills")):
        if r.get("_corrupt"):
            corrupt += 1
        elif r.get("drill_id"):
            recs.append(r)
    return recs, corrupt


def get_last_drill_info(home: Home, now: datetime | None = None) -> dict:
    """The run-book's "last drill" lookup: the last drill of any kind and the last LIVE pass."""
    now = now or utc_now()
    recs, corrupt = _records(home)
    last = recs[-1] if recs else None
    live_passes = [r for r in recs if r.get("status") == "PASS" and not r.get("dry_run")]
    last_live = live_passes[-1] if live_passes else None
    at = parse_utc(last_live.get("finished_at")) if last_live else None
    days = round((now - at).total_seconds() / 86400, 2) if at else None
    return {"last_drill": last, "last_live_pass": last_live, "days_since_last_live_pass": days,
            "next_due": iso_utc(at + timedelta(days=GREEN_BELOW_DAYS)) if at else None,
            "drills_total": len(recs), "corrupt_lines": corrupt, "log": str(home.event_log("drills"))}


def badge_for(days: float | None) -> str:
    if days is None or days > RED_ABOVE_DAYS:
        return "red"
    return "green" if days < GREEN_BELOW_DAYS else "yellow"


def drill_status(home: Home, now: datetime | None = None) -> dict:
    """Last drill, days since the last live pass, badge, and whether a drill runs or died (read only)."""
    info = get_last_drill_info(home, now)
    return {**info, "now": iso_utc(now or utc_now()), "badge": badge_for(info["days_since_last_live_pass"]),
            "lock": lock_state(home)}


def check_overdue(home: Home, now: datetime | None = None) -> dict:
    """The daily 09:00 UTC check: WARNING from 90 days, CRITICAL past 120 days or never; one alert a day."""
    now = now or utc_now()
    st = drill_status(home, now)
    days, badge = st["days_since_last_live_pass"], st["badge"]
    severity = {"green": None, "yellow": "WARNING", "red": "CRITICAL"}[badge]
    out = {"badge": badge, "days_since_last_live_pass": days, "severity": severity, "alert": None}
    if severity is None:
        return out
    ago = "no live drill has ever passed" if days is None else f"the last live drill passed {days:.0f} days ago"
    msg = (f"Rollback drill overdue: {ago} (policy: every {GREEN_BELOW_DAYS} days; "
           f"critical past {RED_ABOVE_DAYS}). Run: exo drill rollback --wait 120")
    out["alert"] = send_alert(home, severity=severity, type="drill_overdue", message=msg,
                              dedup_key=f"drill-overdue:{severity}:{now.date().isoformat()}",
                              details={"days_since_last_live_pass": days, "badge": badge})
    return out
