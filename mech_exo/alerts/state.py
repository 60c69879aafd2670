"""Alert state derived from ``data/events/alerts.jsonl`` alone.

Why the log and not a state file: dedup, delivery, ack and escalation state must survive a restart
and agree with what ``alert_log`` shows; one append-only source of truth gives both. Folding is
cheap at alert volumes (hundreds a day at most).
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from mech_exo.events import read_events
from mech_exo.home import Home


class AlertNotFound(KeyError):
    """An alert id that is not in the alert log. ``str()`` is the full sentence (KeyError quotes it otherwise)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "alert not found"


def parse_at(at: str) -> datetime:
    dt = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def fold(events: Iterator[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """alert_id -> {alert, deliveries{channel: latest}, ack, escalations[]}, in first-seen order."""
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        aid, kind = ev.get("alert_id"), ev.get("event")
        if not aid or ev.get("_corrupt"):
            continue
        st = out.setdefault(aid, {"alert": None, "deliveries": {}, "ack": None, "escalations": []})
        if kind == "alert":
            st["alert"] = ev
        elif kind == "delivery":
            st["deliveries"][ev.get("channel")] = ev
        elif kind == "ack" and st["ack"] is None:
            st["ack"] = ev
        elif kind == "escalation":
            st["escalations"].append(ev)
    return {k: v for k, v in out.items() if v["alert"] is not None}


def load_state(home: Home) -> dict[str, dict[str, Any]]:
    return fold(read_events(home.event_log("alerts")))


def find_by_dedup(state: dict[str, dict[str, Any]], dedup_key: str) -> dict[str, Any] | None:
    for st in state.values():
        if st["alert"].get("dedup_key") == dedup_key:
            return st
    return None


def view(st: dict[str, Any]) -> dict[str, Any]:
    """One row per alert with its latest delivery/ack/escalation state (CLI, history, duplicates)."""
    a = st["alert"]
    deliveries = {ch: {"delivered": bool(d.get("delivered")), "attempts": d.get("attempts"),
                       "error": d.get("error"), "at": d.get("at")}
                  for ch, d in st["deliveries"].items()}  # all channels, as model alert_log rolls them up
    tg = deliveries.get("telegram")
    ack = st["ack"] or {}
    esc = st["escalations"]
    return {
        "alert_id": a["alert_id"], "at": a.get("at"), "severity": a.get("severity"), "type": a.get("type"),
        "message": a.get("message"), "dedup_key": a.get("dedup_key"), "channels": a.get("channels") or [],
        "details": a.get("details") or {},
        "delivered": bool(deliveries) and all(d["delivered"] for d in deliveries.values()),
        "attempts": tg["attempts"] if tg else max([d["attempts"] or 0 for d in deliveries.values()] or [0]),
        "deliveries": deliveries,
        "acked_by": ack.get("acked_by"), "acked_at": ack.get("at"),
        "escalation_level": esc[-1].get("level") if esc else None,
        "escalations": [{"level": e.get("level"), "at": e.get("at"), "delivered": e.get("delivered")} for e in esc],
    }


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """flock on ``path``; yields False (without waiting) when ``blocking`` is False and it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
