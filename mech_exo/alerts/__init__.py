"""Alerts that reach people (SPEC §7): Telegram, console and the alert log, with outbox and escalation.

Public API (other modules import exactly these):

* ``send_alert(home, *, severity, type, message, dedup_key=None, details=None, attachment=None) -> dict``
  never raises and never waits on Telegram longer than ``channels.telegram.grace_s``; the message is
  in the outbox before it is sent and a background deliverer sends it. Returns the alert record
  (alert_id, delivered, attempts, channels, deliveries; ``deliveries.telegram.pending`` when the
  grace ran out).
* ``flush_outbox(home) -> dict`` re-sends what waits in the outbox, now, in this process (``exo alerts flush``).
* ``service_pending(home, budget_s=None) -> dict`` due escalations + outbox, bounded in time: call it at
  the end of every run and tick so nothing depends on the daemon.
* ``escalation_overdue(home, now=None) -> list`` alerts that should have escalated by now and have not.
* ``escalation_due(home, now) -> list``, ``run_escalation(home, now=None) -> list``, ``ack(home, alert_id, by)``.
* ``alert_history(home, hours) -> list``, ``alerts_config_summary(home) -> dict``, ``send_test_alert(home, ...)``.

Layering (imports only point down; tests/integration/test_faults_alerts.py checks it):
``settings, redact, state, telegram, outbox`` → ``common`` → ``flush`` → ``deliverer`` → ``escalation``
→ ``core`` → ``history``, ``service``, ``selftest``.

Records written to ``data/events/alerts.jsonl``: see docs/ARCHITECTURE.md "Event log records".
"""
from __future__ import annotations

from mech_exo.alerts.common import reset_notices
from mech_exo.alerts.core import send_alert
from mech_exo.alerts.escalation import ack, due_steps, escalation_due, run_escalation
from mech_exo.alerts.flush import flush_outbox
from mech_exo.alerts.history import alert_history, alerts_config_summary
from mech_exo.alerts.selftest import send_test_alert
from mech_exo.alerts.service import escalation_overdue, service_pending
from mech_exo.alerts.state import AlertNotFound

__all__ = ["send_alert", "flush_outbox", "service_pending", "escalation_overdue", "escalation_due",
           "run_escalation", "ack", "due_steps", "alert_history", "alerts_config_summary", "send_test_alert",
           "AlertNotFound", "reset_notices"]
