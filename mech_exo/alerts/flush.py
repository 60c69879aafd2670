"""``flush_outbox``: re-send what Telegram could not take, oldest first (a Dagster schedule calls it).

When Telegram itself looks down (timeout, network error, 5xx, 429) the flush stops after that item:
trying the rest now would only hold the scheduler for ``items × retries × timeout`` and then fail
the same way. Item-specific failures (a 400 for one message) don't stop the others.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mech_exo.alerts import outbox, telegram
from mech_exo.alerts.settings import telegram_secrets
from mech_exo.alerts.state import file_lock
from mech_exo.events import append_event, iso_utc
from mech_exo.home import Home


def _send_item(item: dict[str, Any], secrets, tg_cfg: dict[str, Any]) -> telegram.SendResult:
    chat = item.get("chat_id")
    if item.get("method") == "sendDocument":
        return telegram.send_document(secrets, Path(item["attachment"]), item.get("caption") or "", tg_cfg, chat_id=chat)
    return telegram.send_message(secrets, item.get("text") or "", tg_cfg, chat_id=chat)


def _others_pending(items: list[tuple[Path, dict]], path: Path, item: dict[str, Any]) -> bool:
    return any(p != path and it.get("alert_id") == item.get("alert_id") and it.get("channel") == item.get("channel")
               and p.exists() for p, it in items)


def _flush_items(home: Home, items: list[tuple[Path, dict]], secrets, tg_cfg: dict[str, Any],
                 summary: dict[str, Any]) -> None:
    for path, item in items:
        if item.get("_corrupt"):
            outbox.bury(home, path, item, f"unreadable outbox file {path}: {item.get('_error')}")
            summary["dead"] += 1
            continue
        if item.get("method") == "sendDocument" and not Path(item.get("attachment") or "").is_file():
            outbox.bury(home, path, item, f"attachment {item.get('attachment')} no longer exists")
            summary["dead"] += 1
            continue
        res = _send_item(item, secrets, tg_cfg)
        summary["attempted"] += 1
        item.update(attempts=int(item.get("attempts", 0)) + res.attempts, last_error=res.error, last_try_at=iso_utc())
        summary["items"].append({"outbox_id": item["outbox_id"], "alert_id": item.get("alert_id"),
                                 "channel": item.get("channel"), "method": item.get("method"),
                                 "delivered": res.delivered, "error": res.error})
        if res.delivered:
            summary["delivered"] += 1
            append_event(home.event_log("alerts"), {
                "event": "delivery", "alert_id": item.get("alert_id"), "at": iso_utc(), "channel": item.get("channel"),
                "delivered": not _others_pending(items, path, item), "attempts": item["attempts"], "error": None,
                "via": "outbox", "method": item.get("method"), "outbox_id": item["outbox_id"]})
            outbox.remove(path)
            continue
        summary["failed"] += 1
        outbox.update(path, item)
        append_event(home.event_log("alerts"), {
            "event": "delivery", "alert_id": item.get("alert_id"), "at": iso_utc(), "channel": item.get("channel"),
            "delivered": False, "attempts": item["attempts"], "error": res.error, "via": "outbox",
            "method": item.get("method"), "outbox_id": item["outbox_id"]})
        if res.status is None or res.status >= 500 or res.status == 429:
            summary["stopped_early"] = f"Telegram unavailable ({res.error}); the rest waits for the next flush"
            return


def flush_outbox(home: Home) -> dict[str, Any]:
    """Try every pending item once (with the normal retry policy). Returns counts and per-item outcomes."""
    from mech_exo.alerts.core import settings_for, telegram_ready
    summary: dict[str, Any] = {"attempted": 0, "delivered": 0, "failed": 0, "dead": 0, "pending": 0,
                               "skipped": None, "stopped_early": None, "items": []}
    cfg, _ = settings_for(home)
    secrets = telegram_secrets()
    with file_lock(home.state_dir / "outbox.lock", blocking=False) as held:
        items = outbox.pending(home)
        if not held:
            summary["skipped"] = "another flush is running"
        elif items and not telegram_ready(secrets, cfg):
            summary["skipped"] = "Telegram is not configured (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID not set)"
        elif items:
            _flush_items(home, items, secrets, cfg["channels"]["telegram"], summary)
        summary["pending"] = len(outbox.pending(home))
    return summary
