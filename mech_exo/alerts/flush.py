"""Deliver outbox items: one claimed item at a time (``deliver_item``), or the whole outbox now (``flush_outbox``).

Every Telegram message goes through here — the first try of a fresh alert (by the background
deliverer, ``via="send"``) and every later one (``via="outbox"``). An item is sent only under its
claim (``outbox.claim``), re-read under the claim, and removed only after its delivery event is in
the alert log, so two deliverers never send it twice at once and a crash re-sends at most once.

When Telegram itself looks down (timeout, network error, 5xx, 429) a flush stops after that item:
trying the rest now would only hold the caller for ``items × retries × timeout`` and then fail
the same way. Item-specific failures (a 400 for one message) don't stop the others.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mech_exo.alerts import outbox, telegram
from mech_exo.alerts.common import record_delivery, settings_for, telegram_ready
from mech_exo.alerts.settings import TelegramSecrets, telegram_secrets
from mech_exo.events import iso_utc
from mech_exo.home import Home


def telegram_down(res: telegram.SendResult) -> bool:
    """The failure says Telegram (or the way to it) is unavailable, not that this one message is bad."""
    return res.status is None or res.status >= 500 or res.status == 429


def _send(item: dict[str, Any], secrets: TelegramSecrets, tg_cfg: dict[str, Any]) -> telegram.SendResult:
    chat = item.get("chat_id")
    if item.get("method") == "sendDocument":
        return telegram.send_document(secrets, Path(item["attachment"]), item.get("caption") or "", tg_cfg, chat_id=chat)
    return telegram.send_message(secrets, item.get("text") or "", tg_cfg, chat_id=chat)


def _others_pending(home: Home, path: Path, item: dict[str, Any]) -> bool:
    """Another part of the same alert on the same channel still waits (the channel is not complete)."""
    return any(p != path and it.get("alert_id") == item.get("alert_id") and it.get("channel") == item.get("channel")
               for p, it in outbox.pending(home))


def deliver_item(home: Home, path: Path, secrets: TelegramSecrets, tg_cfg: dict[str, Any], *,
                 via: str = "outbox") -> dict[str, Any]:
    """Claim, re-read and send one item. Never raises for Telegram's sake.

    Returns ``{outbox_id, alert_id, channel, method, status, delivered, attempts, error, waits,
    telegram_down}`` with ``status`` one of delivered | failed | dead | in_flight (another deliverer
    holds the claim: ``holder`` says who) | gone (already delivered by someone else).
    """
    out: dict[str, Any] = {"outbox_id": path.stem, "alert_id": None, "channel": None, "method": None,
                           "status": None, "delivered": False, "attempts": 0, "error": None, "waits": [],
                           "telegram_down": False}
    with outbox.claim(home, path) as held:
        if not held:
            return {**out, "status": "in_flight", "holder": outbox.claim_holder(home, path),
                    "error": "being delivered by another deliverer"}
        item = outbox.read_item(path)
        if item is None:
            return {**out, "status": "gone"}
        out.update(alert_id=item.get("alert_id"), channel=item.get("channel"), method=item.get("method"))
        if item.get("_corrupt"):
            reason = f"unreadable outbox file {path}: {item.get('_error')}"
            outbox.bury(home, path, item, reason)
            return {**out, "status": "dead", "error": reason}
        if item.get("method") == "sendDocument" and not Path(item.get("attachment") or "").is_file():
            reason = f"attachment {item.get('attachment')} no longer exists"
            outbox.bury(home, path, item, reason)
            return {**out, "status": "dead", "error": reason}
        res = _send(item, secrets, tg_cfg)
        item.update(attempts=int(item.get("attempts", 0)) + res.attempts, last_error=res.error, last_try_at=iso_utc())
        out.update(delivered=res.delivered, attempts=item["attempts"], error=res.error, waits=list(res.waits),
                   status_code=res.status, tries=res.attempts, message_id=res.message_id)
        extra = {"via": via, "method": item.get("method"), "outbox_id": item["outbox_id"]}
        if res.delivered:
            # the delivery event first, then the file: a crash in between re-sends once rather than losing it
            record_delivery(home, item.get("alert_id"), item.get("channel"), not _others_pending(home, path, item),
                            item["attempts"], None, **extra)
            outbox.remove(path)
            return {**out, "status": "delivered"}
        outbox.update(path, item)
        record_delivery(home, item.get("alert_id"), item.get("channel"), False, item["attempts"], res.error, **extra)
        return {**out, "status": "failed", "telegram_down": telegram_down(res)}


def deliver_paths(home: Home, paths: list[Path], secrets: TelegramSecrets, tg_cfg: dict[str, Any], *,
                  via: str = "outbox", stop_when_down: bool = True) -> dict[str, Any]:
    """Deliver ``paths`` in order; the summary counts and per-item outcomes (``items``)."""
    summary: dict[str, Any] = {"attempted": 0, "delivered": 0, "failed": 0, "dead": 0, "in_flight": 0,
                               "stopped_early": None, "items": []}
    for path in paths:
        res = deliver_item(home, path, secrets, tg_cfg, via=via)
        if res["status"] == "gone":
            continue
        summary["items"].append(res)
        if res["status"] in ("delivered", "failed"):
            summary["attempted"] += 1
        summary[res["status"]] += 1  # delivered | failed | dead | in_flight
        if res["telegram_down"] and stop_when_down:
            summary["stopped_early"] = f"Telegram unavailable ({res['error']}); the rest waits for the next flush"
            break
    return summary


def pending_report(home: Home) -> list[dict[str, Any]]:
    """What still waits, and why: the last error, attempts, and who holds a claim on it now."""
    rows = []
    for path, item in outbox.pending(home):
        holder = outbox.claim_holder(home, path)
        rows.append({"outbox_id": item.get("outbox_id", path.stem), "alert_id": item.get("alert_id"),
                     "channel": item.get("channel"), "method": item.get("method"),
                     "created_at": item.get("created_at"), "attempts": item.get("attempts", 0),
                     "last_error": item.get("last_error") or item.get("_error"), "in_flight_by": holder})
    return rows


def flush_outbox(home: Home, only: set[str] | None = None) -> dict[str, Any]:
    """Try every pending item (or those whose outbox_id is in ``only``) once, with the normal retry
    policy, now, in this process.

    Returns {attempted, delivered, failed, dead, in_flight, pending, skipped, stopped_early, items,
    still_pending}; ``still_pending`` lists what waits after the flush with its last error.
    """
    cfg, _ = settings_for(home)
    secrets = telegram_secrets()
    items = [(p, it) for p, it in outbox.pending(home) if only is None or p.stem in only]
    summary: dict[str, Any] = {"attempted": 0, "delivered": 0, "failed": 0, "dead": 0, "in_flight": 0,
                               "skipped": None, "stopped_early": None, "items": []}
    corrupt = [p for p, it in items if it.get("_corrupt")]
    if items and not telegram_ready(secrets, cfg):
        summary["skipped"] = "Telegram is not configured (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID not set)"
        if corrupt:  # an unreadable file is buried whether or not Telegram can be used
            summary.update({k: v for k, v in deliver_paths(home, corrupt, secrets, cfg["channels"]["telegram"]).items()
                            if k != "stopped_early"})
    elif items:
        summary.update(deliver_paths(home, [p for p, _ in items], secrets, cfg["channels"]["telegram"]))
    summary["still_pending"] = pending_report(home)
    summary["pending"] = len(summary["still_pending"])
    return summary


def deliver_unparked(home: Home, item: dict[str, Any], secrets: TelegramSecrets, tg_cfg: dict[str, Any]) -> dict[str, Any]:
    """Send a message the outbox could not hold (its write failed: full or read-only disk). One try
    with the normal retry policy, recorded in the alert log when it can be; nothing keeps it after."""
    res = _send(item, secrets, tg_cfg)
    error = res.error if res.delivered else f"{res.error} (not kept: the outbox could not be written)"
    record_delivery(home, item.get("alert_id"), item.get("channel"), res.delivered, res.attempts,
                    None if res.delivered else error, via="send", method=item.get("method"), outbox_id=None)
    return {"outbox_id": None, "alert_id": item.get("alert_id"), "channel": item.get("channel"),
            "method": item.get("method"), "status": "delivered" if res.delivered else "failed",
            "delivered": res.delivered, "attempts": res.attempts, "tries": res.attempts, "error": error,
            "waits": list(res.waits), "status_code": res.status, "message_id": res.message_id,
            "telegram_down": (not res.delivered) and telegram_down(res)}
