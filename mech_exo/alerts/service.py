"""Keeping alerts moving without the daemon: ``service_pending`` and ``escalation_overdue``.

Why: the outbox and the escalation chains used to be served only by the daemon's
``alert_delivery`` sensor, so with the daemon down a parked message never left and a CRITICAL
never climbed — and nothing said so. ``service_pending`` is the same work, bounded in time, for
the end of every ``exo run`` and guard tick; ``escalation_overdue`` is the read-only check for
health reports: which alerts should have escalated (or reached Telegram) by now and have not.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from typing import Any

from mech_exo.alerts import outbox
from mech_exo.alerts.common import settings_for, telegram_ready
from mech_exo.alerts.deliverer import submit, wait
from mech_exo.alerts.escalation import due_actions, run_escalation
from mech_exo.alerts.redact import scrub
from mech_exo.alerts.settings import telegram_secrets
from mech_exo.alerts.state import load_state, parse_at
from mech_exo.events import iso_utc, utc_now
from mech_exo.home import Home

DEFAULT_SLACK_S = 120.0  # the sensor runs every 30 s; a level later than this has been missed


def service_pending(home: Home, *, budget_s: float | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Run due escalations, then deliver the outbox in the background, waiting at most ``budget_s``.

    ``budget_s`` defaults to ``channels.telegram.grace_s`` (2 s). What is not delivered within it
    goes on in the background (bounded again at process exit) and otherwise stays in the outbox.
    Never raises: returns ``{escalations, submitted, delivered, failed, in_flight, pending,
    finished, elapsed_s, error}``.
    """
    t0 = time.monotonic()
    out: dict[str, Any] = {"escalations": [], "submitted": 0, "delivered": 0, "failed": 0, "dead": 0,
                           "in_flight": 0, "pending": 0, "finished": True, "elapsed_s": 0.0, "error": None}
    try:
        cfg, _ = settings_for(home)
        tg_cfg = cfg["channels"]["telegram"]
        budget = float(tg_cfg.get("grace_s", 2.0) if budget_s is None else budget_s)
        out["escalations"] = run_escalation(home, now)
        secrets = telegram_secrets()
        paths = [p for p, _ in outbox.pending(home)]
        if paths and telegram_ready(secrets, cfg):
            ticket = submit(home, paths, secrets, tg_cfg, via="outbox", stop_when_down=True)
            out["submitted"] = len(paths)
            out["finished"] = wait(ticket, budget - (time.monotonic() - t0))
            for res in ticket.results:
                if res["status"] in out:
                    out[res["status"]] += 1
        out["pending"] = len(outbox.pending(home))
    except Exception as exc:  # noqa: BLE001 — the caller's run or tick has already decided; never fail it here
        out["error"] = scrub(f"{exc.__class__.__name__}: {exc}")
        print(f"alerts: serving the outbox/escalations failed: {out['error']}", file=sys.stderr, flush=True)
    out["elapsed_s"] = round(time.monotonic() - t0, 3)
    return out


def escalation_overdue(home: Home, now: datetime | None = None, slack_s: float = DEFAULT_SLACK_S) -> list[dict[str, Any]]:
    """Unacknowledged CRITICAL alerts whose escalation is late by more than ``slack_s``. Read-only.

    One row per missed step: ``{alert_id, type, message, alert_at, level, contact, due_at,
    late_minutes, reason}`` where ``reason`` is ``not_escalated`` (the level is due and was never
    sent: nothing served escalations — daemon down and no run since) or ``undelivered`` (the level,
    or for the first level the alert itself, is still waiting in the outbox; ``last_error`` says why).
    """
    now = now or utc_now()
    cfg, _ = settings_for(home)
    state = load_state(home)
    rows: list[dict[str, Any]] = []
    for act in due_actions(state, cfg, now):
        due_at = parse_at(act["alert_at"]) + timedelta(minutes=act["after_minutes"])
        late = (now - due_at).total_seconds()
        if late > slack_s:
            rows.append({"alert_id": act["alert_id"], "type": act["type"], "message": act["message"],
                         "alert_at": act["alert_at"], "level": act["level"], "contact": act["contact"],
                         "due_at": iso_utc(due_at), "late_minutes": round(late / 60, 1), "reason": "not_escalated",
                         "last_error": None,
                         "detail": f"level {act['level']} ({act['contact']}) was due at {iso_utc(due_at)} and has not "
                                   "been sent: escalations run in the daemon's alert_delivery sensor and at the end of "
                                   "every `exo run` — neither has run since"})
    waiting: dict[tuple[Any, Any], dict[str, Any]] = {}
    for _, item in outbox.pending(home):
        waiting.setdefault((item.get("alert_id"), item.get("channel")), item)
    for aid, st in state.items():
        a = st["alert"]
        if a.get("severity") != "CRITICAL" or st["ack"] is not None:
            continue
        for esc in st["escalations"]:
            channel = "telegram" if esc.get("notified_via") == "alert" else f"telegram@{esc.get('level')}"
            item = waiting.get((aid, channel))
            if item is None:
                continue
            since = parse_at(item.get("created_at") or esc.get("at") or a["at"])
            late = (now - since).total_seconds()
            if late > slack_s:
                what = "the alert itself" if channel == "telegram" else f"the escalation to {esc.get('contact')}"
                rows.append({"alert_id": aid, "type": a.get("type"), "message": a.get("message"), "alert_at": a.get("at"),
                             "level": esc.get("level"), "contact": esc.get("contact"), "due_at": iso_utc(since),
                             "late_minutes": round(late / 60, 1), "reason": "undelivered",
                             "last_error": item.get("last_error"),
                             "detail": f"{what} has not reached Telegram in {late / 60:.1f} min "
                                       f"({item.get('attempts', 0)} attempt(s), last error: {item.get('last_error')}); "
                                       "it waits in the outbox — `exo alerts flush` retries now"})
    rows.sort(key=lambda r: (r["due_at"], r["alert_id"]))
    return rows
