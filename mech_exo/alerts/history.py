"""Read-side helpers for the CLI: ``exo alerts history`` and ``exo alerts config`` (nothing here sends)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mech_exo.alerts import outbox
from mech_exo.alerts.common import settings_for
from mech_exo.alerts.settings import telegram_secrets
from mech_exo.alerts.state import load_state, parse_at, view
from mech_exo.events import utc_now
from mech_exo.home import Home


def alert_history(home: Home, hours: float = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per alert raised in the last ``hours``, newest first, with delivery/ack/escalation state."""
    since = (now or utc_now()) - timedelta(hours=float(hours))
    pending: dict[str, int] = {}
    for _, item in outbox.pending(home):
        pending[item.get("alert_id")] = pending.get(item.get("alert_id"), 0) + 1
    rows = []
    for aid, st in load_state(home).items():
        if parse_at(st["alert"]["at"]) < since:
            continue
        rows.append({**view(st), "outbox_pending": pending.get(aid, 0)})
    rows.sort(key=lambda r: (r["at"], r["alert_id"]), reverse=True)
    return rows


def alerts_config_summary(home: Home) -> dict[str, Any]:
    """What the alert system will do, for humans. Secrets appear only as 'set (hidden)' / 'not set'."""
    cfg, config_error = settings_for(home)
    s = telegram_secrets()
    tg = cfg["channels"]["telegram"]
    ready = bool(tg.get("enabled", True)) and s.configured
    return {
        "config_file": str(home.alerts_yml), "config_file_exists": home.alerts_yml.exists(),
        "config_error": config_error,
        "channels": {
            "telegram": {"enabled": bool(tg.get("enabled", True)), "ready": ready,
                         "token": "set (hidden)" if s.token else "not set",
                         "chat_id": "set" if s.chat_id else "not set", "api_base": s.api_base,
                         "timeout_s": tg["timeout_s"], "max_attempts": tg["max_attempts"],
                         "backoff_s": tg["backoff_s"], "max_retry_after_s": tg["max_retry_after_s"],
                         "grace_s": tg["grace_s"], "exit_grace_s": tg["exit_grace_s"],
                         "parse_mode": tg.get("parse_mode")},
            "console": {"enabled": bool(cfg["channels"]["console"].get("enabled", True))},
            "log": {"enabled": True, "path": str(home.event_log("alerts"))},
        },
        "routing": cfg["routing"],
        "escalation": cfg["escalation"],
        "contacts": {k: {"name": (v or {}).get("name"), "telegram_chat_id": "set" if (v or {}).get("telegram_chat_id") else "not set"}
                     for k, v in cfg["contacts"].items()},
        "approvers": [{"name": (a or {}).get("name"), "role": (a or {}).get("role")} for a in cfg.get("approvers") or []],
        "outbox": {"path": str(outbox.outbox_dir(home)), "pending": len(outbox.pending(home))},
        "note": None if ready else "Telegram not configured: alerts go to the console and the alert log only "
                                   "(set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID).",
    }
