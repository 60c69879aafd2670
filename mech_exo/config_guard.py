"""Config that cannot be read fails closed (SPEC §4/§5): a pure decision, like the guards'.

When ``config/risk.yml`` cannot be read or breaks a rule, no guard can judge — so the decision is
to halt trading with a CRITICAL alert naming the file, the line and the rule. The alert itself needs
nothing from risk.yml (routing comes from alerts.yml or the built-in defaults), and re-enabling
stays refused until the file reads again (the kill-switch's approval policy lives in risk.yml).
"""
from __future__ import annotations

from mech_exo.config import ConfigError
from mech_exo.guards import Decision

RISK_CONFIG = "risk-config"   # the guard name in decisions, alerts and the kill-switch history
# SPEC §5 fixes the switch's triggers (daily_stop|monthly_stop|var_breach|manual|drill); a config
# halt is none of the guards', so it is recorded as `manual` with guard `risk-config` in the history
# and a reason naming file and line — and re-enabling needs risk.yml readable again.
TRIGGER = "manual"


def risk_config_unreadable(error: ConfigError) -> Decision:
    """Halt + CRITICAL: the message is the ConfigError's (file:line: key rule)."""
    text = str(error)
    return Decision(RISK_CONFIG, None, "CRITICAL", True, TRIGGER,
                    f"RISK CONFIG UNREADABLE — guards cannot judge, TRADING HALTED: {text}", None,
                    f"{RISK_CONFIG}:{text}",
                    details={"file": str(error.path) if error.path else None, "line": error.line})
