"""``send_alert``: one alert → the alert log, the console and Telegram, per the severity's routing.

Order matters and is deliberate: the ``alert`` event is written first (so dedup, ack and
escalation know about it even if the process dies while Telegram hangs), then the console line
(a human sees it at once), then Telegram (slowest, may retry). ``send_alert`` never raises: a
failed alert must never block or undo a halt. Anything Telegram could not take goes to the outbox.
"""
from __future__ import annotations

import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from mech_exo.alerts import outbox, telegram
from mech_exo.alerts.redact import scrub
from mech_exo.alerts.settings import SEVERITIES, TelegramSecrets, default_settings, load_alert_settings, telegram_secrets
from mech_exo.alerts.state import file_lock, find_by_dedup, load_state, view
from mech_exo.config import ConfigError
from mech_exo.events import append_event, iso_utc, utc_now
from mech_exo.home import Home

SEVERITY_MARK = {"CRITICAL": "🛑", "WARNING": "⚠️", "INFO": "ℹ️"}
_notices: set[str] = set()


def notice_once(key: str, text: str) -> None:
    """Say something about the alert system itself on stderr, once per process (not once per alert)."""
    if key in _notices:
        return
    _notices.add(key)
    print(f"alerts: {text}", file=sys.stderr, flush=True)


def reset_notices() -> None:
    """For tests and long-lived processes that want the notices again."""
    _notices.clear()


def settings_for(home: Home) -> tuple[dict[str, Any], str | None]:
    """The alert config, or the defaults plus the error text when the file is broken."""
    try:
        return load_alert_settings(home.alerts_yml), None
    except ConfigError as exc:
        notice_once(f"config:{exc}", f"{exc} — using built-in alert defaults until it is fixed")
        return default_settings(), str(exc)


def telegram_ready(secrets: TelegramSecrets, cfg: dict[str, Any]) -> bool:
    """True when Telegram can be used; otherwise says ONCE per process why not."""
    if not cfg["channels"]["telegram"].get("enabled", True):
        return False
    if not secrets.token:
        notice_once("tg:not-configured", "Telegram is not configured (TELEGRAM_BOT_TOKEN is not set) — "
                    "alerts go to the console and data/events/alerts.jsonl only.")
        return False
    if not secrets.chat_id:
        notice_once("tg:no-chat", "Telegram is not configured (TELEGRAM_CHAT_ID is not set) — "
                    "alerts go to the console and data/events/alerts.jsonl only.")
        return False
    return True


def new_alert_id(now: datetime) -> str:
    """Short enough to type in ``exo alerts ack ID``, sortable by time, unique across processes."""
    return f"A{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def console_line(rec: dict[str, Any]) -> str:
    msg = " | ".join(str(rec["message"]).splitlines())
    return f"[{rec['severity']}] {rec['at']} {rec['type']}: {msg} (alert {rec['alert_id']})"


def telegram_text(rec: dict[str, Any]) -> str:
    lines = [f"{SEVERITY_MARK.get(rec['severity'], '')} {rec['severity']} · {rec['type']}".strip(),
             str(rec["message"])]
    details = rec.get("details") or {}
    if details:
        lines.append("")
        for k, v in list(details.items())[:12]:
            lines.append(f"{k}: {str(v)[:200]}")
    lines += ["", f"alert {rec['alert_id']} · {rec['at']}"]
    if rec["severity"] == "CRITICAL":
        lines.append(f"Acknowledge: exo alerts ack {rec['alert_id']}")
    return "\n".join(lines)


def _delivery(home: Home, alert_id: str, channel: str, delivered: bool, attempts: int, error: str | None,
              **extra: Any) -> dict[str, Any]:
    ev = {"event": "delivery", "alert_id": alert_id, "at": iso_utc(), "channel": channel,
          "delivered": delivered, "attempts": attempts, "error": error, **extra}
    try:
        append_event(home.event_log("alerts"), ev)
    except OSError as exc:
        print(f"alerts: could not record delivery for {alert_id} in {home.event_log('alerts')}: {exc}",
              file=sys.stderr)
    return ev


def deliver_telegram(home: Home, rec: dict[str, Any], secrets: TelegramSecrets, tg_cfg: dict[str, Any],
                     attachment: Path | None, *, channel: str = "telegram", chat_id: str | None = None,
                     text: str | None = None) -> dict[str, Any]:
    """sendMessage (+ sendDocument); failed parts go to the outbox. Returns the delivery summary."""
    text = text if text is not None else telegram_text(rec)
    parts, outboxed = {}, []
    res = telegram.send_message(secrets, text, tg_cfg, chat_id=chat_id)
    parts["sendMessage"] = res.as_dict()
    if not res.delivered:
        outboxed.append(outbox.put(home, alert_id=rec["alert_id"], channel=channel, method="sendMessage",
                                   text=text, chat_id=chat_id, attempts=res.attempts, error=res.error)["outbox_id"])
    if attachment is not None:
        caption = f"{rec['severity']} · {rec['type']} · alert {rec['alert_id']}"
        doc = telegram.send_document(secrets, Path(attachment), caption, tg_cfg, chat_id=chat_id)
        parts["sendDocument"] = doc.as_dict()
        if not doc.delivered:
            outboxed.append(outbox.put(home, alert_id=rec["alert_id"], channel=channel, method="sendDocument",
                                       caption=caption, attachment=str(attachment), chat_id=chat_id,
                                       attempts=doc.attempts, error=doc.error)["outbox_id"])
    delivered = all(p["delivered"] for p in parts.values())
    attempts = sum(p["attempts"] for p in parts.values())
    error = next((p["error"] for p in parts.values() if p["error"] and not p["delivered"]), None)
    _delivery(home, rec["alert_id"], channel, delivered, attempts, error, via="send",
              outbox_ids=outboxed, parts={k: {"delivered": v["delivered"], "attempts": v["attempts"],
                                             "error": v["error"], "waits": v["waits"]} for k, v in parts.items()})
    return {"delivered": delivered, "attempts": attempts, "error": error, "outbox_ids": outboxed, "parts": parts}


def _route(cfg: dict[str, Any], severity: str, channels: list[str] | None, secrets: TelegramSecrets) -> tuple[list[str], dict]:
    wanted = list(channels) if channels else list(cfg["routing"].get(severity, ["console", "log"]))
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
          attachment: Path | None, channels: list[str] | None, now: datetime | None) -> dict[str, Any]:
    cfg, config_error = settings_for(home)
    secrets = telegram_secrets()
    sev, typ, msg, details, notes = _normalise(severity, type, message, details)
    chans, skipped = _route(cfg, sev, channels, secrets)
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
            append_event(home.event_log("alerts"), rec)
    except OSError as exc:
        log_error = f"could not write {home.event_log('alerts')}: {exc}"
    out = {k: v for k, v in rec.items() if k != "event"}
    out.update(duplicate=False, deliveries={}, skipped=skipped, notes=notes, config_error=config_error, outbox_ids=[])
    if "console" in chans:
        print(console_line(rec), file=sys.stderr, flush=True)
        out["deliveries"]["console"] = _delivery(home, rec["alert_id"], "console", True, 1, None)
    if "telegram" in chans:
        tg = deliver_telegram(home, rec, secrets, cfg["channels"]["telegram"], attachment)
        out["deliveries"]["telegram"] = tg
        out["outbox_ids"] = tg["outbox_ids"]
    out["deliveries"]["log"] = (_delivery(home, rec["alert_id"], "log", log_error is None, 1, log_error)
                                if log_error is None else {"delivered": False, "attempts": 1, "error": log_error})
    if log_error:
        print(f"alerts: {log_error} — alert {rec['alert_id']} is NOT in the alert log", file=sys.stderr)
    out["delivered"] = all(d["delivered"] for d in out["deliveries"].values())
    out["attempts"] = out["deliveries"].get("telegram", {}).get("attempts", 1)
    if sev == "CRITICAL" and log_error is None:
        from mech_exo.alerts.escalation import escalate_new_alert
        try:
            out["escalations"] = escalate_new_alert(home, rec, when, cfg, secrets)
        except Exception as exc:  # the alert went out; a failed first escalation step is retried by run_escalation
            out["escalations"], out["escalation_error"] = [], scrub(f"{exc.__class__.__name__}: {exc}")
            print(f"alerts: first escalation step for {rec['alert_id']} failed: {out['escalation_error']}",
                  file=sys.stderr)
    return out


def send_alert(home: Home, *, severity: str, type: str, message: str, dedup_key: str | None = None,
               details: dict | None = None, attachment: Path | None = None,
               channels: list[str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Raise an alert. Never raises; returns the alert record with its delivery outcome.

    ``channels`` overrides the severity routing (used by ``exo test alerts --channel``); ``now``
    stamps the alert (tests and replays). A repeated ``dedup_key`` returns the first alert's current
    state with ``duplicate=True`` and sends nothing.
    """
    try:
        return _send(home, severity, type, message, dedup_key, details, attachment, channels, now)
    except Exception as exc:  # last line of defence: the alert system itself broke
        err = scrub(f"{exc.__class__.__name__}: {exc}")
        print(f"[{str(severity).upper()}] {type}: {message} (ALERT SYSTEM ERROR: {err})", file=sys.stderr, flush=True)
        return {"alert_id": None, "severity": severity, "type": type, "message": message, "dedup_key": dedup_key,
                "delivered": False, "attempts": 0, "channels": ["console"], "duplicate": False, "error": err}
