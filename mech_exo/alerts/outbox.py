"""The outbox: Telegram messages that could not be delivered, waiting to be sent again.

Design (crash-safe without a database): one JSON file per pending request in
``data/state/outbox/``, written to a temp file, fsynced and renamed into place — so an item is
either wholly there or not there. A delivered item's file is deleted *after* its delivery event is
in the alert log; a crash in between re-sends once (at-least-once beats lost).

Claims: whoever sends an item (the background deliverer of the process that raised the alert,
``exo alerts flush``, the daemon's sensor, ``service_pending`` at the end of a run) first takes an
exclusive non-blocking ``flock`` on ``outbox/claims/<id>.lock`` and re-reads the item under it, so
two deliverers — threads or processes — never send the same item at the same time. The kernel
drops the claim when its holder dies (kill -9 included): a claim never goes stale. The claim file
says who holds it (pid, since when), for "why is this still pending". Items whose attachment
vanished can never succeed: they move to ``outbox/dead/`` with a delivery event saying why
(nothing is dropped silently).
"""
from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mech_exo import snapshot
from mech_exo.events import iso_utc
from mech_exo.home import Home


def outbox_dir(home: Home) -> Path:
    return home.state_dir / "outbox"


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk must not also leave half-written temp files behind
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def put(home: Home, *, alert_id: str, channel: str, method: str, text: str | None = None,
        caption: str | None = None, attachment: str | None = None, chat_id: str | None = None,
        attempts: int = 0, error: str | None = None) -> dict[str, Any]:
    """Park one request. ``chat_id`` is stored only when it is not the default chat (escalation contacts)."""
    created = iso_utc()
    # nanosecond prefix: file names sort in creation order (FIFO) even within one second
    item_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    item = {"outbox_id": item_id, "alert_id": alert_id, "channel": channel, "method": method,
            "text": text, "caption": caption, "attachment": attachment, "chat_id": chat_id,
            "created_at": created, "attempts": attempts, "last_error": error, "last_try_at": created}
    _write_atomic(outbox_dir(home) / f"{item_id}.json", item)
    return item


def pending(home: Home) -> list[tuple[Path, dict[str, Any]]]:
    """Items in creation order. An unreadable file is returned as an item with ``_corrupt`` set."""
    d = outbox_dir(home)
    if not d.exists():
        return []
    out = []
    for p in sorted(d.glob("*.json")):
        try:
            out.append((p, json.loads(p.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            out.append((p, {"_corrupt": True, "_error": str(exc), "outbox_id": p.stem}))
    return out


def read_item(path: Path) -> dict[str, Any] | None:
    """The item at ``path`` now (None once it is gone: delivered or buried by someone else)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"_corrupt": True, "_error": str(exc), "outbox_id": path.stem}


def claims_dir(home: Home) -> Path:
    return outbox_dir(home) / "claims"


@contextmanager
def claim(home: Home, path: Path) -> Iterator[bool]:
    """Exclusive claim on one item; yields False at once when another deliverer holds it.

    The lock file is removed by its holder, under the lock, once the item itself is gone, so a
    later claimer either locks the same file (the item still exists) or finds no item to send.
    """
    lock = claims_dir(home) / f"{path.stem}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "thread": threading.current_thread().name,
                                     "since": iso_utc()}).encode())
            yield True
        finally:
            if not path.exists():
                lock.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def claim_holder(home: Home, path: Path) -> dict[str, Any] | None:
    """Who holds the claim on ``path`` ({pid, thread, since}), or None when nobody does."""
    lock = claims_dir(home) / f"{path.stem}.lock"
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.read(fd, 4096) or b"{}")
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def update(path: Path, item: dict[str, Any]) -> None:
    _write_atomic(path, item)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def bury(home: Home, path: Path, item: dict[str, Any], reason: str) -> None:
    """Move an item that can never be delivered to ``outbox/dead/`` and say why in the alert log."""
    item = dict(item, dead_reason=reason, dead_at=iso_utc())
    _write_atomic(outbox_dir(home) / "dead" / path.name, item)
    remove(path)
    snapshot.append(home, "alerts", {
        "event": "delivery", "alert_id": item.get("alert_id"), "at": iso_utc(), "channel": item.get("channel"),
        "delivered": False, "attempts": item.get("attempts", 0), "error": f"given up: {reason}",
        "via": "outbox", "method": item.get("method")})
