"""``send_test_alert``: one INFO message through a channel, for ``exo test alerts`` and the run-book script."""
from __future__ import annotations

from typing import Any

from mech_exo.alerts.common import telegram_text
from mech_exo.alerts.core import send_alert
from mech_exo.alerts.history import alerts_config_summary
from mech_exo.home import Home


def send_test_alert(home: Home, channel: str = "telegram", dry_run: bool = False,
               message: str = "Test alert from Mech-Exo risk ops: if you can read this, alerts reach you.") -> dict[str, Any]:
    """Send one INFO test message through ``channel`` ('telegram', 'console' or 'all').

    Returns {ok, channel, dry_run, channels, would_send, telegram_api_base, error} (+ ``alert`` when sent). ``ok`` is False when the channel is not
    usable (e.g. Telegram without a token) so scripts and ``exo test alerts`` can exit non-zero.
    """
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
