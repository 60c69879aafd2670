"""Read-side helpers for the CLI: ``exo alerts history``, ``exo alerts config``, ``exo test alerts``."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mech_exo.alerts import outbox
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
    from mech_exo.alerts.core import settings_for
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


def send_test_alert(home: Home, channel: str = "telegram", dry_run: bool = False,
               message: str = "Test alert from Mech-Exo risk ops: if you can read this, alerts reach you.") -> dict[str, Any]:
    """Send one INFO test message through ``channel`` ('telegram', 'console' or 'all').

    Returns {ok, channel, dry_run, channels, would_send, telegram_api_base, error} (+ ``alert`` when sent). ``ok`` is False when the channel is not
    usable (e.g. Telegram without a token) so scripts and ``exo test alerts`` can exit non-zero.
    """
    from mech_exo.alerts.core import send_alert, telegram_text
    if channel not in ("telegram", "console", "all"):
        return {"ok": False, "channel": channel, "dry_run": dry_run,
                "error": f"unknown channel {channel!r} (use telegram, console or all)"}
    chans = ["telegram", "console"] if channel == "all" else [channel]
    summary = alerts_config_summary(home)
    preview = {"alert_id": "(assigned on send)", "at": "(now)", "severity": "INFO", "type": "test",
               "message": message, "details": {}}
    base = {"channel": channel, "dry_run": dry_run, "channels": chans + ["log"], "would_send": telegram_text(preview),
            "telegram_api_base": summary["channels"]["telegram"]["api_base"]}
    if "telegram" in chans and not summary["channels"]["telegram"]["ready"]:
        return {**base, "ok": False, "config": summary,
                "error": "Telegram is not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID "
                         "(and enable channels.telegram in config/alerts.yml)"}
    if dry_run:
        return {**base, "ok": True, "error": None}
    rec = send_alert(home, severity="INFO", type="test", message=message, channels=chans)
    failed = [ch for ch, d in rec.get("deliveries", {}).items() if not d.get("delivered")]
    error = rec.get("error") or ("; ".join(f"{ch}: {rec['deliveries'][ch].get('error')}" for ch in failed) or None)
    return {**base, "ok": bool(rec.get("delivered")), "alert": rec, "error": error}
