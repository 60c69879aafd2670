"""Times as a person reads them: every instant with its zone, every read with the age of its data.

Why here: the snapshot's timestamps are naive UTC (landing contract), and a bare ``16:45:00`` reads
as after the New York close when it is 11:45 there. So the CLI shows an instant in the session's
timezone (``config/risk.yml`` ``session.timezone``) with UTC beside it, and each read command ends
with one line saying how old the data it showed is (the latest intraday NAV point, what the
freshness watch counts from). Light imports only: read commands must answer fast.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import click

from mech_exo.reporting.jsonable import _utc, local_and_utc

DEFAULT_ZONE = "America/New_York"
_META = "exo.data_as_of"


def session_zone(home) -> ZoneInfo:
    """The session timezone of the home; the default zone when risk.yml cannot say (display only:
    the guards read the config themselves and fail closed on it)."""
    from mech_exo.config import ConfigError, load_risk_config

    try:
        return ZoneInfo(str(load_risk_config(home.risk_yml)["session"].get("timezone") or DEFAULT_ZONE))
    except (ConfigError, KeyError, TypeError, ValueError, OSError):
        return ZoneInfo(DEFAULT_ZONE)


def when(ts: Any, zone: ZoneInfo) -> str:
    """``2026-11-20 11:45 EST (16:45 UTC)`` (seconds when the instant has them), ``—`` for none."""
    return local_and_utc(ts, zone, seconds=True) or "—"


def age_text(seconds: float) -> str:
    """A duration the way people say it: ``45 s``, ``12 min``, ``3 h 5 min``, ``13 days 21 h``."""
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} day{'s' if s >= 172800 else ''} {s % 86400 // 3600} h"


def data_age(ts: Any, now: datetime | None = None) -> dict[str, Any]:
    """The ``data`` block of a read command's JSON: as_of (ISO with offset) and age in seconds."""
    u = _utc(ts)
    if u is None:
        return {"as_of": None, "age_seconds": None}
    now = _utc(now) or datetime.now(timezone.utc)
    return {"as_of": u.isoformat(), "age_seconds": round((now - u).total_seconds(), 1)}


def note_data_as_of(con, home) -> None:
    """Called by the read commands' snapshot opener: remember how old the data is, for the line
    the command ends with (``data_line``) and the ``data`` block of its JSON."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or _META in ctx.meta:
        return
    try:
        ts = con.execute("select max(ts) from nav_intraday").fetchone()[0]
    except Exception:  # noqa: BLE001 — a snapshot without the model: nothing to say about its age
        return
    ctx.meta[_META] = (ts, session_zone(home))


def noted() -> tuple[Any, ZoneInfo] | None:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_META) if ctx is not None else None


def data_line(now: datetime | None = None) -> str | None:
    """``data: 2026-11-20 16:00 EST (21:00 UTC), 13 days 21 h old`` (the latest intraday NAV point)."""
    got = noted()
    if got is None or got[0] is None:
        return None
    ts, zone = got
    age = data_age(ts, now)["age_seconds"]
    return f"data: {when(ts, zone)}, {age_text(age)} old"
