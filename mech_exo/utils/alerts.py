"""Run-book entry point: ``send_risk_alert({'type', 'message', 'severity'})``.

The on-call run-book calls this from a Python shell, so it takes one plain dict, finds the home
itself (``EXO_HOME`` or the current directory) and, like ``send_alert``, never raises.
"""
from __future__ import annotations

from typing import Any

from mech_exo.alerts import send_alert
from mech_exo.home import Home


def send_risk_alert(alert: dict[str, Any], home: Home | str | None = None) -> dict[str, Any]:
    """Send ``alert`` (keys: type, message, severity; optional dedup_key, details, attachment)."""
    if not isinstance(alert, dict):
        alert = {"message": str(alert), "details": {"note": f"send_risk_alert expected a dict, got {type(alert).__name__}"}}
    h = home if isinstance(home, Home) else Home.resolve(home)
    return send_alert(h, severity=alert.get("severity") or "WARNING", type=alert.get("type") or "risk",
                      message=alert.get("message"), dedup_key=alert.get("dedup_key"),
                      details=alert.get("details"), attachment=alert.get("attachment"))
