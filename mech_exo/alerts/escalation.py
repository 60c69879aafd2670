"""Escalation of unacknowledged CRITICAL alerts along the chains in ``config/alerts.yml``.

The decision "which levels are due" is the pure function ``due_steps`` (tested at the minute
boundaries). Everything else is bookkeeping in the alert log: an ``escalation`` event per level
reached and an ``ack`` event that stops the climb — so a restart resumes exactly where it stopped.
A level's message is parked in the outbox first and handed to the background deliverer (a hung
Telegram holds the caller at most ``grace_s``); the level is recorded after that: a crash in
between re-sends that level once rather than skipping it.

Who runs it: the daemon's ``alert_delivery`` sensor every 30 s, and — so a CRITICAL still climbs
with the daemon down — ``service.service_pending`` at the end of every run and tick.
"""
from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from mech_exo import snapshot
from mech_exo.alerts.common import settings_for, telegram_ready
from mech_exo.alerts.deliverer import deliver_parked, park_telegram
from mech_exo.alerts.settings import TelegramSecrets, telegram_secrets
from mech_exo.alerts.state import AlertNotFound, file_lock, load_state, parse_at, view
from mech_exo.events import append_event, iso_utc, utc_now
from mech_exo.home import Home


def chain_for(cfg: dict[str, Any], alert_type: str) -> tuple[str, list[dict[str, Any]]]:
    """An alert type with its own chain (e.g. ``monthly_stop``) uses it; everything else ``default``."""
    name = alert_type if alert_type in cfg["escalation"] else "default"
    return name, cfg["escalation"][name]


def due_steps(chain: list[dict[str, Any]], alert_at: datetime, now: datetime, done: set[str],
              acked: bool) -> list[dict[str, Any]]:
    """Levels reached (elapsed >= after_minutes, so 14:59 is not 15:00) and not yet sent, in chain order."""
    if acked:
        return []
    elapsed = (now - alert_at).total_seconds()
    return [s for s in chain if s["level"] not in done and elapsed >= s["after_minutes"] * 60]


def due_actions(state: dict[str, dict[str, Any]], cfg: dict[str, Any], now: datetime,
             only: str | None = None) -> list[dict[str, Any]]:
    out = []
    for aid, st in state.items():
        a = st["alert"]
        if (only and aid != only) or a.get("severity") != "CRITICAL":
            continue
        name, chain = chain_for(cfg, str(a.get("type")))
        at = parse_at(a["at"])
        done = {e.get("level") for e in st["escalations"]}
        for step in due_steps(chain, at, now, done, acked=st["ack"] is not None):
            contact = cfg["contacts"].get(step["level"]) or {}
            out.append({"alert_id": aid, "type": a.get("type"), "message": a.get("message"), "alert_at": a["at"],
                        "chain": name, "level": step["level"], "after_minutes": step["after_minutes"],
                        "elapsed_minutes": round((now - at).total_seconds() / 60, 2),
                        "contact": contact.get("name") or step["level"],
                        "chat_id": contact.get("telegram_chat_id")})
    return out


def escalation_due(home: Home, now: datetime | None = None) -> list[dict[str, Any]]:
    """What ``run_escalation`` would do at ``now`` (read-only)."""
    cfg, _ = settings_for(home)
    return due_actions(load_state(home), cfg, now or utc_now())


def _text(action: dict[str, Any]) -> str:
    return (f"⏫ ESCALATION → {action['contact']} ({action['level']})\n"
            f"CRITICAL alert {action['alert_id']} unacknowledged for {action['elapsed_minutes']:g} min\n"
            f"{action['type']}: {action['message']}\n"
            f"Acknowledge: exo alerts ack {action['alert_id']}")


def _perform(home: Home, action: dict[str, Any], cfg: dict[str, Any], secrets: TelegramSecrets) -> dict[str, Any]:
    ev = {"event": "escalation", "alert_id": action["alert_id"], "level": action["level"],
          "contact": action["contact"], "chain": action["chain"], "after_minutes": action["after_minutes"]}
    if action["after_minutes"] == 0 and not action["chat_id"]:
        # the first level reads the default chat, where the alert itself just went: no second message
        ev.update(notified_via="alert", delivered=None, attempts=0, error=None)
    else:
        text = _text(action)
        print(f"[ESCALATION] {' | '.join(text.splitlines()[1:])} → {action['contact']}", file=sys.stderr, flush=True)
        ev.update(notified_via="console", delivered=None, attempts=0, error=None)
        if telegram_ready(secrets, cfg):
            chat = str(action["chat_id"]) if action["chat_id"] else None
            parked = park_telegram(home, action["alert_id"], f"telegram@{action['level']}",
                                   [{"method": "sendMessage", "text": text}], chat_id=chat)
            res = deliver_parked(home, parked, secrets, cfg["channels"]["telegram"])
            # delivered None = still on its way (the grace ran out): the outbox has it, the log will say
            ev.update(notified_via="telegram", delivered=None if res["pending"] else res["delivered"],
                      attempts=res["attempts"], error=res["error"])
            if not res["delivered"] and res["outbox_ids"]:
                ev["outbox_id"] = res["outbox_ids"][0]
    ev["at"] = iso_utc()
    snapshot.append(home, "alerts", ev)
    return ev


def run_escalation(home: Home, now: datetime | None = None) -> list[dict[str, Any]]:
    """Send every due level once. Another run holding the lock → returns [] (it is doing the work)."""
    cfg, _ = settings_for(home)
    with file_lock(home.state_dir / "escalation.lock", blocking=False) as held:
        if not held:
            return []
        secrets = telegram_secrets()
        return [_perform(home, act, cfg, secrets) for act in due_actions(load_state(home), cfg, now or utc_now())]


def escalate_new_alert(home: Home, rec: dict[str, Any], now: datetime, cfg: dict[str, Any],
                       secrets: TelegramSecrets) -> list[dict[str, Any]]:
    """The levels due at once (``after_minutes: 0``) for a CRITICAL alert just raised. Never blocks."""
    with file_lock(home.state_dir / "escalation.lock", blocking=False) as held:
        if not held:
            return []  # a scheduled run is busy; it (or the next one) picks this alert up
        return [_perform(home, act, cfg, secrets)
                for act in due_actions(load_state(home), cfg, now, only=rec["alert_id"])]


def ack(home: Home, alert_id: str, by: str) -> dict[str, Any]:
    """Acknowledge an alert (stops its escalation). Unknown id → AlertNotFound; a second ack is a no-op."""
    if not str(by or "").strip():
        raise ValueError("ack needs a name: who acknowledges the alert (--by NAME)")
    path = home.event_log("alerts")
    with file_lock(home.state_dir / "alerts.lock"):
        state = load_state(home)
        st = state.get(alert_id)
        if st is None:
            raise AlertNotFound(f"no alert with id {alert_id!r} in {path} (list them with `exo alerts history`)")
        if st["ack"] is not None:
            return {"alert_id": alert_id, "acked_by": st["ack"].get("acked_by"), "acked_at": st["ack"].get("at"),
                    "already_acked": True, "escalation_level": view(st)["escalation_level"]}
        ev = append_event(path, {"event": "ack", "alert_id": alert_id, "at": iso_utc(), "acked_by": str(by).strip()})
    snapshot.events_changed(home)
    return {"alert_id": alert_id, "acked_by": ev["acked_by"], "acked_at": ev["at"], "already_acked": False,
            "escalation_level": view(st)["escalation_level"]}
