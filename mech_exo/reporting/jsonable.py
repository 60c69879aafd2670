"""Timestamps and JSON for the readers: snapshot timestamps are naive UTC (landing contract); the API
serves ISO-8601 ``...Z`` strings and never NaN."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any


def _utc(ts: Any) -> datetime | None:
    """Snapshot timestamps are naive UTC (landing contract); make them aware."""
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def local_and_utc(ts: Any, zone: Any, seconds: bool = False) -> str | None:
    """An instant as a person reads it: ``2026-11-20 11:45 EST (16:45 UTC)`` — the session's local
    time first (``zone``: a ZoneInfo or its name), UTC beside it, naming its own date when that
    differs. ``seconds``: show them when the instant has any. None for no instant."""
    from zoneinfo import ZoneInfo

    u = _utc(ts)
    if u is None:
        return None
    loc = u.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone)))
    fmt = "%H:%M:%S" if seconds and (u.second or u.microsecond) else "%H:%M"
    utc_part = u.strftime(fmt) if u.date() == loc.date() else u.strftime(f"%Y-%m-%d {fmt}")
    return f"{loc.strftime('%Y-%m-%d ' + fmt)} {loc.tzname()} ({utc_part} UTC)"


def iso(ts: Any) -> str | None:
    """ISO-8601 for JSON: datetimes as UTC ``...Z``, dates as ``YYYY-MM-DD``."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(ts, date):
        return ts.isoformat()
    return str(ts)


def as_json(obj: Any) -> Any:
    """Deep copy with dates/datetimes as ISO strings and NaN as None (valid JSON for scripts)."""
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_json(v) for v in obj]
    if isinstance(obj, (datetime, date)):
        return iso(obj)
    if isinstance(obj, float) and obj != obj:
        return None
    return obj
