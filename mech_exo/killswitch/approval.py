"""Who may switch trading back on: every outstanding trigger's required role (risk.yml) and the approvers (alerts.yml)."""
from __future__ import annotations

from typing import Any

from mech_exo.config import load_alerts_config, load_risk_config
from mech_exo.home import Home
from mech_exo.killswitch.model import SUPER_APPROVER_ROLE, TRIGGERS, ApprovalRequired, KillSwitchState

# --- approval policy ------------------------------------------------------------------------------

def outstanding_triggers(state: KillSwitchState) -> list[str]:
    """Triggers of every disable since trading was last enabled (the current trigger included)."""
    if state.trading_enabled:
        return []
    found: list[str] = []
    for entry in reversed(state.history):
        if entry.get("action") == "enable" or entry.get("trading_enabled") is True:
            break
        if entry.get("trigger") in TRIGGERS:
            found.append(entry["trigger"])
    if state.readable:
        found.append(state.trigger)
    return sorted(set(found), key=TRIGGERS.index)


def required_roles(home: Home, state: KillSwitchState) -> dict[str, str]:
    """``{why: role}`` that an approver must satisfy to re-enable from ``state``."""
    if not state.readable:
        return {"unreadable kill-switch file": SUPER_APPROVER_ROLE}
    policy = load_risk_config(home.risk_yml).get("reenable", {})
    roles = {}
    for trig in outstanding_triggers(state):
        rule = policy.get(trig) or {}
        if rule.get("requires_approval"):
            roles[trig] = str(rule.get("role") or SUPER_APPROVER_ROLE)
    return roles


def _approvers(home: Home) -> list[dict]:
    raw = load_alerts_config(home.alerts_yml).get("approvers") or []
    return [a for a in raw if isinstance(a, dict) and a.get("name")]


def check_approval(home: Home, state: KillSwitchState, approved_by: str | None) -> None:
    """Raise ApprovalRequired unless ``approved_by`` is an approver whose role covers every requirement."""
    roles = required_roles(home, state)
    if not roles:
        return
    approvers = _approvers(home)
    needed = sorted(set(roles.values()))
    why = ", ".join(f"{t} needs {r}" for t, r in roles.items())
    eligible = [a["name"] for a in approvers if _covers(a.get("role"), needed)]
    hint = (f"approvers who may approve (from {home.alerts_yml}): {', '.join(eligible)}" if eligible
            else f"no approver in {home.alerts_yml} has the role {' or '.join(needed)}")
    if not approved_by:
        raise ApprovalRequired(f"re-enabling trading is refused: {why}; pass --approved-by NAME; {hint}")
    match = [a for a in approvers if str(a["name"]).strip().lower() == approved_by.strip().lower()]
    if not match:
        raise ApprovalRequired(f"re-enabling trading is refused: {approved_by!r} is not an approver in "
                               f"{home.alerts_yml} ({why}); {hint}")
    role = match[0].get("role")
    if not _covers(role, needed):
        raise ApprovalRequired(f"re-enabling trading is refused: {approved_by!r} has role {role!r} but {why}; {hint}")


def _covers(role: Any, needed: list[str]) -> bool:
    """A CTO covers every requirement; any other role only when it is the single role needed."""
    return role == SUPER_APPROVER_ROLE or set(needed) == {role}
