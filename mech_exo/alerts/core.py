"""``send_alert``: one alert → the alert log, the console and Telegram, per the severity's routing.

Order matters and is deliberate: the ``alert`` event is written first (so dedup, ack and
escalation know about it even if the process dies while Telegram hangs), then the Telegram
message(s) are parked durably in the outbox, then the console line (a human sees it at once),
then the background deliverer (``deliverer``) sends them while ``send_alert`` waits at most
``channels.telegram.grace_s``. ``send_alert`` never raises and never holds its caller longer than
that grace: a failed or hung alert must never block or undo a halt, nor the next tick.
"""
from __future__ import annotations

import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from mech_exo import snapshot
from mech_exo.alerts.common import console_line, record_delivery, reset_notices, settings_for, telegram_ready, telegram_text
from mech_exo.alerts.deliverer import deliver_parked, park_telegram
from mech_exo.alerts.escalation import escalate_new_alert
from mech_exo.alerts.redact import scrub
from mech_exo.alerts.settings import SEVERITIES, TelegramSecrets, telegram_secrets
from mech_exo.alerts.state import file_lock, find_by_dedup, load_state, view
from mech_exo.events import iso_utc, utc_now
from mech_exo.home import Home

__all__ = ["send_alert", "new_alert_id", "reset_notices", "console_line", "telegram_text", "telegram_ready"]


def new_alert_id(now: datetime) -> str:
    """Short enough to type in ``exo alerts ack ID``, sortable by time, unique across processes."""
    return f"A{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _route(cfg: dict[str, Any], severity: str, channels: list[str] | None, secrets: TelegramSecrets,
           also: Sequence[str] = ()) -> tuple[list[str], dict]:
    wanted = list(channels) if channels else list(cfg["routing"].get(severity, ["console", "log"]))
    wanted += [ch for ch in also if ch not in wanted]
    skipped = {}
    out = []
    for ch in wanted:
        if ch == "log":
            continue  # the log is always written (dedup/ack/escalation depend on it); added below
        if ch == "telegram" and not telegram_ready(secrets, cfg):
            skipped["telegram"] = ("disabled in alerts.yml" if not cfg["channels"]["telegram"].get("enabled", True)
                                   else "not configured (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID not set)")
            continue
        if ch != "telegram" and not cfg["channels"].get(ch, {}).get("enabled", True):
            skipped[ch] = "disabled in alerts.yml"
            continue
        if ch not in out:
            out.append(ch)
    return out + ["log"], skipped


def _normalise(severity: Any, type: Any, message: Any, details: dict | None) -> tuple[str, str, str, dict, list[str]]:
    notes = []
    sev = str(severity or "").strip().upper()
    if sev not in SEVERITIES:
        notes.append(f"unknown severity {severity!r} treated as CRITICAL")
        sev = "CRITICAL"
    if not isinstance(details, dict):
        details = {} if details is None else {"details": details}
    msg = str(message) if message not in (None, "") else "(no message given)"
    return sev, str(type or "unspecified"), msg, details, notes


def _send(home: Home, severity: Any, type: Any, message: Any, dedup_key: str | None, details: dict | None,
          attachment: Path | None, channels: list[str] | None, now: datetime | None,
          also: Sequence[str] = ()) -> dict[str, Any]:
    cfg, config_error = settings_for(home)
    secrets = telegram_secrets()
    sev, typ, msg, details, notes = _normalise(severity, type, message, details)
    chans, skipped = _route(cfg, sev, channels, secrets, also)
    when = now or utc_now()
    rec = {"event": "alert", "alert_id": new_alert_id(when), "at": iso_utc(when), "severity": sev, "type": typ,
           "message": msg, "dedup_key": dedup_key, "channels": chans, "details": details}
    if attachment is not None:
        rec["attachment"] = str(attachment)
    log_error = None
    try:
        with file_lock(home.state_dir / "alerts.lock"):
            if dedup_key:
                prior = find_by_dedup(load_state(home), dedup_key)
                if prior is not None:
                    return {**view(prior), "duplicate": True}
            snapshot.append(home, "alerts", rec)
    except OSError as exc:
        log_error = f"could not write {home.event_log('alerts')}: {exc}"
    out = {k: v for k, v in rec.items() if k != "event"}
    out.update(duplicate=False, deliveries={}, skipped=skipped, notes=notes, config_error=config_error, outbox_ids=[])
    tg_parked = None
    if "telegram" in chans:  # durable first: a hung or killed process still leaves the message to deliver
        parts: list[dict[str, Any]] = [{"method": "sendMessage", "text": telegram_text(rec)}]
        if attachment is not None:
            parts.append({"method": "sendDocument", "attachment": str(attachment),
                          "caption": f"{rec['severity']} · {rec['type']} · alert {rec['alert_id']}"})
        tg_parked = park_telegram(home, rec["alert_id"], "telegram", parts)
    if "console" in chans:
        print(console_line(rec), file=sys.stderr, flush=True)
        out["deliveries"]["console"] = record_delivery(home, rec["alert_id"], "console", True, 1, None)
    if tg_parked is not None:
        tg = deliver_parked(home, tg_parked, secrets, cfg["channels"]["telegram"])
        out["deliveries"]["telegram"] = tg
        out["outbox_ids"] = tg["outbox_ids"]
    out["deliveries"]["log"] = (record_delivery(home, rec["alert_id"], "log", log_error is None, 1, log_error)
                                if log_error is None else {"delivered": False, "attempts": 1, "error": log_error})
    if log_error:
        print(f"alerts: {log_error} — alert {rec['alert_id']} is NOT in the alert log", file=sys.stderr)
    out["delivered"] = all(d["delivered"] for d in out["deliveries"].values())
    out["attempts"] = out["deliveries"].get("telegram", {}).get("attempts", 1)
    if sev == "CRITICAL" and log_error is None:
        try:
            out["escalations"] = escalate_new_alert(home, rec, when, cfg, secrets)
        except Exception as exc:  # the alert went out; a failed first escalation step is retried by run_escalation
            out["escalations"], out["escalation_error"] = [], scrub(f"{exc.__class__.__name__}: {exc}")
            print(f"alerts: first escalation step for {rec['alert_id']} failed: {out['escalation_error']}",
                  file=sys.stderr)
    return out


def send_alert(home: Home, *, severity: str, type: str, message: str, dedup_key: str | None = None,
               details: dict | None = None, attachment: Path | None = None,
               channels: list[str] | None = None, now: datetime | None = None,
               also: Sequence[str] = ()) -> dict[str, Any]:
    """Raise an alert. Never raises; returns the alert record with its delivery outcome.

    ``channels`` overrides the severity routing (used by ``exo test alerts --channel``); ``also``
    adds channels to it (a drill goes to Telegram whatever INFO's routing says, SPEC §6); ``now``
    stamps the alert (tests and replays). A repeated ``dedup_key`` returns the first alert's current
    state with ``duplicate=True`` and sends nothing.
    """
    try:
        return _send(home, severity, type, message, dedup_key, details, attachment, channels, now, also)
    except Exception as exc:  # last line of defence: the alert system itself broke
        err = scrub(f"{exc.__class__.__name__}: {exc}")
        print(f"[{str(severity).upper()}] {type}: {message} (ALERT SYSTEM ERROR: {err})", file=sys.stderr, flush=True)
        return {"alert_id": None, "severity": severity, "type": type, "message": message, "dedup_key": dedup_key,
                "delivered": False, "attempts": 0, "channels": ["console"], "duplicate": False, "error": err}
