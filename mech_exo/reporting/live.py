"""The small files the risk page reads fresh on every call, never from the snapshot: the kill-switch,
the drill log, the last run's status and the failing data checks. A guard or an operator changes
them between builds; each reader here fails safe (an unreadable switch is shown halted, a broken
drill log an ``unknown`` badge) instead of taking the page down."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from mech_exo.bands import UNKNOWN
from mech_exo.home import Home


def killswitch_summary(home: Home) -> dict[str, Any]:
    """The switch as the page and API show it. Unreadable ⇒ halted (fail closed), with the error."""
    from mech_exo.killswitch import read_state

    try:
        st = read_state(home)
    except Exception as exc:  # noqa: BLE001 — read_state never raises by contract; be safe anyway
        return {"readable": False, "trading_enabled": False, "halted": True, "reason": None,
                "trigger": None, "updated_at": None, "updated_by": None,
                "error": f"{home.killswitch_yml}: {exc.__class__.__name__}: {exc}", "path": str(home.killswitch_yml)}
    return {"readable": st.readable, "trading_enabled": bool(st.readable and st.trading_enabled),
            "halted": not (st.readable and st.trading_enabled), "reason": st.reason,
            "trigger": st.trigger if st.readable else None, "updated_at": st.updated_at or None,
            "updated_by": st.updated_by or None, "error": st.error, "path": str(st.path)}


def drill_summary(home: Home, now: datetime | None) -> dict[str, Any]:
    """Drill badge from ``mech_exo.drill.drill_status``; 'unknown' when that module is missing or fails
    (the badge must never take the page down)."""
    try:
        from mech_exo.drill import drill_status
    except ImportError as exc:
        return {"badge": UNKNOWN, "days_since_last_live_pass": None, "last_live_pass_at": None,
                "error": f"drill status unavailable: {exc}"}
    try:
        st = drill_status(home, now=now)
    except Exception as exc:  # noqa: BLE001
        return {"badge": UNKNOWN, "days_since_last_live_pass": None, "last_live_pass_at": None,
                "error": f"drill status unreadable: {exc.__class__.__name__}: {exc}"}
    last = st.get("last_live_pass") or {}
    return {"badge": st.get("badge", UNKNOWN), "days_since_last_live_pass": st.get("days_since_last_live_pass"),
            "last_live_pass_at": last.get("finished_at"), "next_due": st.get("next_due"), "error": None}


def _last_build(home: Home) -> dict[str, Any] | None:
    from mech_exo.runstate import read_run_status

    st = read_run_status(home)
    if not st:
        return None
    return {"finished_at": st.get("finished_at"), "ok": st.get("ok"), "failed_step": st.get("failed_step"),
            "error": st.get("error")}


def _failed_checks(home: Home) -> list[str]:
    # TODO(integrator): read_failed_checks belongs with the run-state readers in mech_exo.runstate; it
    # lives in pipeline_state (a layer above reporting) today, the one import here that points up.
    from mech_exo.runstate import read_failed_checks

    return read_failed_checks(home)
