"""The demo's exchange calendar (US holidays) and the ISO spellings its inputs mix."""

from datetime import date, datetime, time, timedelta

from mech_exo.demo_data.universe import TZ, UTC


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    if n > 0:
        return d + timedelta(weeks=n - 1)
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    return d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=1) if d.weekday() == 6 else d


def _easter(year: int) -> date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def us_market_holidays(year: int) -> set[date]:
    """The NYSE full-day holidays of ``year`` (enough realism for a demo calendar)."""
    return {_observed(date(year, 1, 1)), _nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3),
            _easter(year) - timedelta(days=2), _nth_weekday(year, 5, 0, -1), _observed(date(year, 6, 19)),
            _observed(date(year, 7, 4)), _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 11, 3, 4),
            _observed(date(year, 12, 25))}


def session_calendar(start: date, end: date) -> list[date]:
    hol = set().union(*(us_market_holidays(y) for y in range(start.year, end.year + 1)))
    out, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in hol:
            out.append(d)
        d += timedelta(days=1)
    return out


def _local(d: date, hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm, ss, us), tzinfo=TZ).astimezone(UTC)


def spell(t: datetime, style: int) -> str:
    """The same instant in one of five ISO-8601 spellings (inputs in the wild mix them)."""
    u = t.astimezone(UTC)
    frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
    style %= 5
    if style == 0:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    if style == 1:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "+00:00"
    if style == 2:
        lt = u.astimezone(TZ)
        z = lt.strftime("%z")
        return lt.strftime("%Y-%m-%dT%H:%M:%S") + frac + z[:3] + ":" + z[3:]
    if style == 3:
        return u.strftime("%Y-%m-%d %H:%M:%S") + frac  # naive = UTC
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond:06d}Z"
