"""Small run-book entry points (``mech_exo.utils.alerts.send_risk_alert``)."""
