"""The next fire time of a schedule's cron string, without importing Dagster.

`exo flows status` shows when each running schedule fires next; Dagster's own iterator lives behind
a 3–5 s import. The five standard fields are supported (numbers, ``*``, ranges, lists, steps; day of
week 0–7 with 0 and 7 Sunday; day-of-month and day-of-week both restricted = either matches, as in
cron). Anything else raises ``ValueError`` and the caller asks Dagster. Tested equal to Dagster's
``cron_string_iterator`` for every schedule of the code location over a year of instants,
including both DST changes (tests/unit/test_cron.py).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, lo: int, hi: int) -> tuple[set[int], bool]:
    """The values a field allows, and whether it is a wildcard (``*`` or ``*/1``)."""
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError(f"cron step {part!r}")
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            a, b = (int(x) for x in base.split("-", 1))
        else:
            a = int(base)
            b = hi if step_s else a
        if not lo <= a <= b <= hi:
            raise ValueError(f"cron field {part!r} outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return out, text in ("*", "*/1")


def parse(cron: str) -> tuple[list[int], list[int], set[int], set[int], set[int], bool, bool]:
    parts = cron.split()
    if len(parts) != 5:
        raise ValueError(f"cron {cron!r}: expected 5 fields")
    (mi, _), (hr, _), (dom, dom_any), (mon, _), (dow, dow_any) = (
        _field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES))
    dow = {d % 7 for d in dow}  # 7 is Sunday too
    return sorted(mi), sorted(hr), dom, mon, dow, dom_any, dow_any


def _day_matches(d: date, dom: set[int], mon: set[int], dow: set[int], dom_any: bool, dow_any: bool) -> bool:
    if d.month not in mon:
        return False
    by_dom, by_dow = d.day in dom, (d.isoweekday() % 7) in dow
    if dom_any or dow_any:
        return by_dom and by_dow
    return by_dom or by_dow


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant; one the spring-forward gap skips fires when the gap ends
    (02:30 on a US change day → 03:00 EDT), as Dagster's schedules do; a repeated one fires once,
    the first time."""
    at = wall.replace(tzinfo=zone).astimezone(timezone.utc)
    if at.astimezone(zone).replace(tzinfo=None) == wall:
        return at
    t = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)  # read with the later offset: earlier
    t = t.replace(second=0, microsecond=0)
    while t.astimezone(zone).replace(tzinfo=None) < wall:
        t += timedelta(minutes=1)
    return t


def next_fire(cron: str, tz: str | None, now: datetime, horizon_days: int = 400) -> datetime:
    """The first fire time at or after ``now`` (aware, UTC), local wall times read in ``tz``."""
    minutes, hours, dom, mon, dow, dom_any, dow_any = parse(cron)
    zone = ZoneInfo(tz or "UTC")
    now = now.astimezone(timezone.utc)
    day = now.astimezone(zone).date()
    for _ in range(horizon_days):
        if _day_matches(day, dom, mon, dow, dom_any, dow_any):
            for h in hours:
                for m in minutes:
                    at = _instant(datetime.combine(day, time(h, m)), zone)
                    if at >= now:
                        return at
        day += timedelta(days=1)
    raise ValueError(f"cron {cron!r}: no fire time within {horizon_days} days")
