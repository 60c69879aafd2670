"""``send_test_alert``: one INFO message through a channel, for ``exo test alerts`` and the run-book script."""
from __future__ import annotations

from typing import Any

from mech_exo.alerts.common import settings_for, telegram_text
from mech_exo.alerts.core import send_alert
from mech_exo.alerts.deliverer import drain
from mech_exo.alerts.history import alerts_config_summary
from mech_exo.alerts.state import load_state, view
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
    if rec.get("deliveries", {}).get("telegram", {}).get("pending"):
        # a test message wants the real outcome, not "still on its way": wait out the retry policy
        tg = settings_for(home)[0]["channels"]["telegram"]
        n = int(tg["max_attempts"])
        drain(min(60.0, tg["timeout_s"] * n + tg["backoff_s"] * (2 ** (n - 1) - 1) + tg["max_retry_after_s"]))
        st = load_state(home).get(rec["alert_id"])
        if st is not None:
            latest = view(st)["deliveries"].get("telegram") or {}
            rec["deliveries"]["telegram"].update(delivered=bool(latest.get("delivered")), error=latest.get("error"),
                                                 pending=False)
            rec["delivered"] = all(d.get("delivered") for d in rec["deliveries"].values())
    failed = [ch for ch, d in rec.get("deliveries", {}).items() if not d.get("delivered")]
    error = rec.get("error") or ("; ".join(f"{ch}: {rec['deliveries'][ch].get('error')}" for ch in failed) or None)
    return {**base, "ok": bool(rec.get("delivered")), "alert": rec, "error": error}
