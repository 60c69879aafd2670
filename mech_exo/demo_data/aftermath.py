"""What the demo's on-call did after the story's incident, through the product's own interfaces.

Why: a demo whose last session halted and was left halted is never green — /health 503, the
escalation overdue, `health full-check` failing for want of a live drill — and a newcomer sees
nothing happen. So after the story's run, `exo demo` does what the run-book asks of the on-call:
acknowledge the CRITICAL alerts (escalation stops), re-enable trading with a reason (audited like
any change: `exo kill history`, ``killswitch_events``), and run a live rollback drill (a short
wait), whose PASS is on record. The halt, the alerts and the drill all stay in the logs and in
SQL; the home is healthy until the next incident.

Also here: the demo's default last session — the last one whose close (plus the judging minutes)
is before now, on the demo's exchange calendar; deterministic for a given date.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from mech_exo.demo_data.calendar import session_calendar
from mech_exo.home import Home
from mech_exo.session_calendar import after_close

ONCALL = "demo on-call (exo demo)"
JUDGE_AFTER_CLOSE_MIN = 10     # the demo judges its last session 10 minutes after the close
DRILL_WAIT_S = 1               # the demo's live drill holds trading off for this long


def last_session_before(now: datetime, session: Mapping[str, Any]) -> date:
    """The last session of the demo calendar whose close + ``JUDGE_AFTER_CLOSE_MIN`` is at or before ``now``."""
    now = now.astimezone(timezone.utc)
    days = session_calendar(now.date() - timedelta(days=14), now.date() + timedelta(days=1))
    done = [d for d in days if after_close(d, session, JUDGE_AFTER_CLOSE_MIN) <= now]
    return done[-1]


def after_the_incident(home: Home, story: Mapping[str, Any],
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ack the unacknowledged CRITICAL alerts, re-enable trading if a guard halted it, run a live
    drill. Returns what was done (ids, the change record, the drill record)."""
    from mech_exo.alerts import alert_history
    from mech_exo.alerts.escalation import ack
    from mech_exo.drill import run_drill
    from mech_exo.killswitch import read_state, set_trading

    say = progress or (lambda _m: None)
    acked = []
    for a in alert_history(home, hours=24):
        if a["severity"] == "CRITICAL" and not a.get("acked_by"):
            acked.append(ack(home, a["alert_id"], by=ONCALL)["alert_id"])
            say(f"acknowledged {a['alert_id']} ({a['type']}) as {ONCALL}")
    state, enabled = read_state(home), None
    if state.readable and not state.trading_enabled:
        crash = story.get("crash") or {}
        reason = (f"incident reviewed: {state.trigger} halt of session {crash.get('session')} "
                  f"(worst {100 * crash.get('worst_day_return', 0):.2f} %, closed "
                  f"{100 * crash.get('close_day_return', 0):.2f} %); positions reviewed, trading resumes")
        enabled = set_trading(home, enabled=True, reason=reason, trigger="manual", by=ONCALL)
        say(f"re-enabled trading: {reason}")
    drill = run_drill(home, dry_run=False, wait_s=DRILL_WAIT_S, skip_frequency_check=True, by=ONCALL)
    say(f"live rollback drill {drill.get('drill_id')}: {drill.get('status')}")
    return {"acked": acked, "reenabled": enabled, "drill": drill}
