"""The background deliverer: Telegram sends happen off the caller's path, with a short bounded wait.

Why: a hung Telegram used to hold every run and tick for ``timeout × attempts + backoff`` (~18 s)
per alert, after the halt. Now the caller (``send_alert``, an escalation) has already written the
message durably to the outbox; it hands the outbox paths to one worker thread per process and waits
at most ``channels.telegram.grace_s`` (2 s) for the outcome. When a wait runs out the deliverer is
*stalled*: later callers in this process do not wait at all until the worker has caught up — so
a hung Telegram costs a run one grace, not one per alert. At process exit the worker gets at most
``exit_grace_s`` (3 s) more; whatever is not delivered by then simply stays in the outbox (its
claim dies with the process) for ``exo alerts flush``, the next run's ``service_pending`` or the
daemon's sensor.

The worker sends only under an item's claim (``flush.deliver_item``), so it never double-sends with
another deliverer. A forked child gets a fresh worker (threads do not survive ``fork``).
"""
from __future__ import annotations

import atexit
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mech_exo.alerts.common import notice_once, record_delivery
from mech_exo.alerts.flush import deliver_item, deliver_unparked
from mech_exo.alerts.outbox import outbox_dir, put
from mech_exo.alerts.redact import scrub
from mech_exo.alerts.settings import TelegramSecrets
from mech_exo.home import Home

DEFAULT_EXIT_GRACE_S = 3.0


class Ticket:
    """One batch handed to the worker; ``results`` fills in as each item finishes (in order)."""

    def __init__(self, home: Home, items: list[Path | dict[str, Any]], secrets: TelegramSecrets,
                 tg_cfg: dict[str, Any], via: str, stop_when_down: bool):
        self.home, self.items, self.secrets, self.tg_cfg = home, list(items), secrets, tg_cfg
        self.via, self.stop_when_down = via, stop_when_down
        self.outcomes: dict[int, dict[str, Any]] = {}  # item index -> outcome, filled as each finishes
        self.done = threading.Event()

    @property
    def results(self) -> list[dict[str, Any]]:
        """Outcomes so far, in item order, without the items someone else had already handled."""
        return [self.outcomes[i] for i in sorted(self.outcomes) if self.outcomes[i]["status"] != "gone"]

    def wait(self, timeout: float) -> bool:
        return self.done.wait(max(0.0, timeout))


class _Deliverer:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.q: queue.Queue[Ticket] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.stalled = False
        self.exit_grace_s: float | None = None  # the largest exit_grace_s of the homes served
        self.outboxes: set[str] = set()
        self.lock = threading.Lock()

    def submit(self, ticket: Ticket) -> Ticket:
        with self.lock:
            self.outboxes.add(str(outbox_dir(ticket.home)))
            grace = float(ticket.tg_cfg.get("exit_grace_s", DEFAULT_EXIT_GRACE_S))
            self.exit_grace_s = grace if self.exit_grace_s is None else max(self.exit_grace_s, grace)
            self.q.put(ticket)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="alert-deliverer", daemon=True)
                self.thread.start()
        return ticket

    def _run(self) -> None:
        while True:
            ticket = self.q.get()
            try:
                self._work(ticket)
            finally:
                ticket.done.set()
                self.q.task_done()
                if self.q.unfinished_tasks == 0:
                    self.stalled = False  # caught up: the next caller may wait its grace again

    def _work(self, ticket: Ticket) -> None:
        for i, item in enumerate(ticket.items):
            try:
                if isinstance(item, Path):
                    res = deliver_item(ticket.home, item, ticket.secrets, ticket.tg_cfg, via=ticket.via)
                else:
                    res = deliver_unparked(ticket.home, item, ticket.secrets, ticket.tg_cfg)
            except Exception as exc:  # noqa: BLE001 — a worker that dies would strand every later alert
                res = {"outbox_id": getattr(item, "stem", None), "status": "failed", "delivered": False,
                       "error": scrub(f"{exc.__class__.__name__}: {exc}"), "telegram_down": False,
                       "attempts": 0, "tries": 0, "waits": []}
                print(f"alerts: background delivery failed: {res['error']}", file=sys.stderr, flush=True)
            ticket.outcomes[i] = res
            if res.get("telegram_down") and ticket.stop_when_down:
                break

    def busy(self) -> bool:
        return self.q.unfinished_tasks > 0

    def drain(self, timeout: float) -> bool:
        """Wait until the worker has nothing left (at most ``timeout`` s). True when idle."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.q.all_tasks_done:
            while self.q.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.q.all_tasks_done.wait(left)
        return True


_deliverer: _Deliverer | None = None
_create = threading.Lock()


def _get() -> _Deliverer:
    global _deliverer
    with _create:
        if _deliverer is None or _deliverer.pid != os.getpid():  # first use, or a forked child
            _deliverer = _Deliverer()
        return _deliverer


def submit(home: Home, items: list[Path | dict[str, Any]], secrets: TelegramSecrets, tg_cfg: dict[str, Any], *,
           via: str = "send", stop_when_down: bool = False) -> Ticket:
    """Queue ``items`` (outbox paths, or unparked dicts) for the background worker; returns at once."""
    return _get().submit(Ticket(home, items, secrets, tg_cfg, via, stop_when_down))


def wait(ticket: Ticket, grace_s: float) -> bool:
    """Wait for ``ticket`` at most ``grace_s`` — or not at all while the deliverer is stalled. True if done."""
    d = _get()
    if ticket.done.is_set():
        return True
    if d.stalled and d.busy():
        return False
    if ticket.wait(grace_s):
        return True
    d.stalled = True
    return False


def stalled() -> bool:
    """A wait ran out and the worker has not caught up since (Telegram slow or hung)."""
    d = _deliverer
    return bool(d and d.pid == os.getpid() and d.stalled and d.busy())


def drain(timeout: float) -> bool:
    """Wait for every queued delivery of this process, at most ``timeout`` s. True when all finished."""
    d = _deliverer
    if d is None or d.pid != os.getpid():
        return True
    return d.drain(timeout)


def _at_exit() -> None:
    d = _deliverer
    if d is None or d.pid != os.getpid() or not d.busy():
        return
    grace = DEFAULT_EXIT_GRACE_S if d.exit_grace_s is None else d.exit_grace_s
    if d.drain(grace):
        return
    where = ", ".join(sorted(d.outboxes))
    print(f"alerts: Telegram did not answer within {grace:g}s of exit; undelivered messages stay in "
          f"the outbox ({where}) — `exo alerts flush`, the next `exo run` or the daemon delivers them",
          file=sys.stderr, flush=True)


def park_telegram(home: Home, alert_id: str, channel: str, parts: list[dict[str, Any]],
                  chat_id: str | None = None) -> list[tuple[str, Path | dict[str, Any]]]:
    """Write each Telegram request (``{method, text | caption+attachment}``) to the outbox first.

    Returns ``[(method, outbox path)]``; a part the outbox cannot hold (disk full, read-only home)
    is returned as the request itself, sent once without a durable copy, and said on stderr.
    Records one ``delivery`` event "queued" per channel, so the alert never reads as delivered
    before Telegram took it.
    """
    out: list[tuple[str, Path | dict[str, Any]]] = []
    for part in parts:
        try:
            item = put(home, alert_id=alert_id, channel=channel, chat_id=chat_id, **part)
            out.append((part["method"], outbox_dir(home) / f"{item['outbox_id']}.json"))
        except OSError as exc:
            notice_once(f"outbox:{exc.errno}", f"could not write the outbox {outbox_dir(home)} ({exc.strerror or exc}): "
                        "Telegram messages are sent once without a durable copy until it is fixed")
            out.append((part["method"], {"alert_id": alert_id, "channel": channel, "chat_id": chat_id, **part}))
    record_delivery(home, alert_id, channel, False, 0, "queued for Telegram (waiting in the outbox)",
                    via="queued", outbox_ids=[p.stem for _, p in out if isinstance(p, Path)])
    return out


def deliver_parked(home: Home, parked: list[tuple[str, Path | dict[str, Any]]], secrets: TelegramSecrets,
                   tg_cfg: dict[str, Any]) -> dict[str, Any]:
    """Hand parked parts to the background deliverer; wait at most ``grace_s`` for the outcome.

    Returns ``{delivered, attempts, error, pending, outbox_ids, parts{method: {...}}}``: ``pending``
    True means the grace ran out — delivery goes on in the background and the outbox keeps the rest.
    """
    grace = float(tg_cfg.get("grace_s", 2.0))
    ticket = submit(home, [p for _, p in parked], secrets, tg_cfg, via="send")
    wait(ticket, grace)
    parts: dict[str, dict[str, Any]] = {}
    undelivered: list[str] = []
    for i, (method, item) in enumerate(parked):
        res = ticket.outcomes.get(i)
        if res is None:
            part = {"delivered": False, "attempts": 0, "state": "pending", "waits": [], "status": None,
                    "error": (f"not delivered within the {grace:g}s grace (Telegram slow or hung"
                              + (", or an earlier message still in flight" if stalled() else "")
                              + "): delivery goes on in the background, the message waits in the outbox")}
        elif res["status"] == "gone":
            part = {"delivered": False, "attempts": 0, "state": "gone", "waits": [], "status": None,
                    "error": "handled by another deliverer (see the alert log)"}
        else:
            part = {"delivered": bool(res["delivered"]), "attempts": int(res.get("tries") or 0), "state": res["status"],
                    "error": res.get("error"), "waits": list(res.get("waits") or []), "status": res.get("status_code"),
                    "message_id": res.get("message_id")}
        parts[method] = part
        if not part["delivered"] and isinstance(item, Path):
            undelivered.append(item.stem)
    delivered = all(p["delivered"] for p in parts.values())
    return {"delivered": delivered, "attempts": sum(p["attempts"] for p in parts.values()),
            "error": next((p["error"] for p in parts.values() if not p["delivered"] and p["error"]), None),
            "pending": any(p["state"] == "pending" for p in parts.values()), "outbox_ids": undelivered,
            "grace_s": grace, "parts": parts}


atexit.register(_at_exit)
