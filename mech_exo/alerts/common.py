"""Pieces every alert module shares: the config with its fallback, the once-per-process notices,
"can Telegram be used", the message texts and the delivery-event writer.

Why a module of its own: ``core`` (raise an alert), ``escalation`` (climb a chain), ``flush`` and the
background deliverer all need these, and when they lived in ``core`` the others imported ``core``
back inside functions (an import circle). Everything here imports only the foundation modules
(``settings``, ``redact``, events, home), so imports in ``mech_exo.alerts`` point one way: down.
"""
from __future__ import annotations

import sys
from typing import Any

from mech_exo import snapshot
from mech_exo.alerts.settings import TelegramSecrets, default_settings, load_alert_settings
from mech_exo.config import ConfigError
from mech_exo.events import iso_utc
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


def record_delivery(home: Home, alert_id: str | None, channel: str | None, delivered: bool, attempts: int,
                    error: str | None, **extra: Any) -> dict[str, Any]:
    """Append one ``delivery`` event; a log that cannot be written is said on stderr, never raised."""
    ev = {"event": "delivery", "alert_id": alert_id, "at": iso_utc(), "channel": channel,
          "delivered": delivered, "attempts": attempts, "error": error, **extra}
    try:
        snapshot.append(home, "alerts", ev)
    except OSError as exc:
        print(f"alerts: could not record delivery for {alert_id} in {home.event_log('alerts')}: {exc}",
              file=sys.stderr)
    return ev
