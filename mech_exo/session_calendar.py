"""The session calendar in Python (ARCHITECTURE "Session calendar and timestamp rules"): one home.

``risk.yml`` ``session`` gives the exchange timezone and the local open and close (``HH:MM``).
Everything that turns those into instants lives here: the freshness watch's session window, the
close a demo story is judged after, the intraday watcher's deadline and its start before the open.
dbt computes the same rules in SQL (the session macros): this module is the Python side of them.

Pure: datetimes and the ``session`` mapping in, datetimes out (UTC, timezone-aware). Naive
timestamps mean UTC (the landing contract).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo


def utc(ts: Any) -> datetime | None:
    """A datetime, date or ISO string as an aware UTC datetime (naive = UTC; a date = its midnight)."""
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if isinstance(ts, date) and not isinstance(ts, datetime):
        ts = datetime.combine(ts, time())
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def tz(session: Mapping) -> ZoneInfo:
    """The exchange timezone."""
    return ZoneInfo(session["timezone"])


def hhmm(value: str) -> time:
    """``"16:00"`` → ``time(16, 0)`` (risk.yml is validated by ``mech_exo.config``)."""
    h, m = (int(x) for x in str(value).split(":"))
    return time(h, m)


def local(ts: Any, session: Mapping) -> datetime:
    """``local(ts)``: the instant in exchange time."""
    return utc(ts).astimezone(tz(session))


def local_date(ts: Any, session: Mapping) -> date:
    """``local_date(ts)``: the exchange-local calendar date of an instant."""
    return local(ts, session).date()


def open_at(day: date, session: Mapping) -> datetime:
    """The open of local day ``day``, in UTC (DST-aware)."""
    return datetime.combine(day, hhmm(session["open"]), tz(session)).astimezone(timezone.utc)


def close_at(day: date, session: Mapping) -> datetime:
    """``close_ts(d)``: local ``d + session.close`` in UTC (DST-aware)."""
    return datetime.combine(day, hhmm(session["close"]), tz(session)).astimezone(timezone.utc)


def after_close(day: date, session: Mapping, minutes: float) -> datetime:
    """``minutes`` after the close of ``day``, in UTC."""
    return close_at(day, session) + timedelta(minutes=minutes)


def today_close(now: datetime, session: Mapping, minutes_after: float = 0) -> datetime:
    """The close of the local day running at ``now`` (plus ``minutes_after``), in UTC: the intraday
    watcher's deadline."""
    return after_close(local_date(now, session), session, minutes_after)


def before_open(session: Mapping, minutes: float) -> time:
    """The local wall time ``minutes`` before the open (a cron start in exchange time)."""
    return (datetime.combine(date(2000, 1, 1), hhmm(session["open"])) - timedelta(minutes=minutes)).time()


def is_session_day(day: date, session_dates: Iterable[Any] | None = None) -> bool:
    """A known session date, or a weekday. Today's session date only appears in the data once its
    first mark arrives, so a weekday counts before that (a holiday is therefore a session day for
    the freshness watch: can't watch = risk)."""
    known = {str(d)[:10] for d in session_dates or ()}
    return day.isoformat() in known or day.weekday() < 5


def session_window(now: datetime, session: Mapping, session_dates: Iterable[Any] | None = None
                   ) -> tuple[datetime, datetime] | None:
    """(open, close) in UTC of the session running at ``now``, or None outside a session."""
    day = local_date(now, session)
    if not is_session_day(day, session_dates):
        return None
    start, end = open_at(day, session), close_at(day, session)
    if not start <= utc(now) <= end:
        return None
    return start, end
