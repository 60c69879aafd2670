"""Alerts that reach people (SPEC §7): Telegram, console and the alert log, with outbox and escalation.

Public API (other modules import exactly these):

* ``send_alert(home, *, severity, type, message, dedup_key=None, details=None, attachment=None) -> dict``
  never raises; returns the alert record (alert_id, delivered, attempts, channels, deliveries, ...).
* ``flush_outbox(home) -> dict`` re-sends what Telegram could not take earlier.
* ``escalation_due(home, now) -> list``, ``run_escalation(home, now=None) -> list``, ``ack(home, alert_id, by)``.
* ``alert_history(home, hours) -> list``, ``alerts_config_summary(home) -> dict``, ``send_test_alert(home, ...)``.

Records written to ``data/events/alerts.jsonl``: see docs/ARCHITECTURE.md "Event log records".
"""
from __future__ import annotations

from mech_exo.alerts.core import reset_notices, send_alert
from mech_exo.alerts.escalation import ack, due_steps, escalation_due, run_escalation
from mech_exo.alerts.flush import flush_outbox
from mech_exo.alerts.history import alert_history, alerts_config_summary, send_test_alert
from mech_exo.alerts.state import AlertNotFound

__all__ = ["send_alert", "flush_outbox", "escalation_due", "run_escalation", "ack", "due_steps",
           "alert_history", "alerts_config_summary", "send_test_alert", "AlertNotFound", "reset_notices"]
