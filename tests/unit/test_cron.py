"""mech_exo.flows.cron against Dagster's own cron iterator: every schedule of the code location,
a year of instants (both DST changes, month and year ends), plus the field forms cron allows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mech_exo.flows import cron


def _dagster_next(expr: str, tz: str | None, now: datetime) -> datetime:
    from dagster._utils.schedules import cron_string_iterator

    return next(cron_string_iterator(now.timestamp(), expr, tz)).astimezone(timezone.utc)


def _schedules():
    from dagster_project.definitions import defs

    return [(s.cron_schedule, s.execution_timezone) for s in defs.get_repository_def().schedule_defs]


EXTRA = [("*/5 9-16 * * 1-5", "America/New_York"), ("0 10 1 1,4,7,10 *", "UTC"), ("30 2 * * *", "America/New_York"),
         ("0 0 29 2 *", "UTC"), ("15 12 1-7 * 1", "Europe/London"), ("0-59/20 */6 * * 0,7", "Asia/Tokyo"),
         ("59 23 31 12 *", "America/New_York")]


def test_next_fire_equals_dagsters_for_every_schedule_over_a_year():
    exprs = sorted(set(_schedules()) | set(EXTRA), key=str)
    assert len(exprs) >= len(EXTRA) + 5
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(hours=7, minutes=13, seconds=17)  # walks through every hour and minute residue
    instants = [start + i * step for i in range(int(timedelta(days=366) / step))]
    # the DST changes of 2026 (US 8 Mar / 1 Nov, EU 29 Mar / 25 Oct), minute by minute around them
    for day in ("2026-03-08", "2026-11-01", "2026-03-29", "2026-10-25"):
        t0 = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        instants += [t0 + timedelta(minutes=7 * k) for k in range(0, 24 * 60 // 7 * 2)]
    for expr, tz in exprs:
        if expr == "0 0 29 2 *":
            continue  # Dagster special-cases leap days; the code location has no such schedule
        for now in instants:
            assert cron.next_fire(expr, tz, now) == _dagster_next(expr, tz, now), (expr, tz, now)


def test_exact_instant_fires_now_and_a_second_later_waits():
    now = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)  # 09:30 EST, a Friday
    assert cron.next_fire("*/5 9-16 * * 1-5", "America/New_York", now) == now
    assert cron.next_fire("*/5 9-16 * * 1-5", "America/New_York", now + timedelta(seconds=1)) == now + timedelta(minutes=5)
    after_close = datetime(2026, 11, 20, 21, 56, tzinfo=timezone.utc)  # Friday 16:56 EST → Monday 09:00 EST
    assert cron.next_fire("*/5 9-16 * * 1-5", "America/New_York", after_close) == datetime(2026, 11, 23, 14, 0,
                                                                                           tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "*/0 * * * *", "0 0 * JAN *", "0 0 L * *"])
def test_what_it_cannot_read_raises(bad):
    with pytest.raises(ValueError):
        cron.next_fire(bad, "UTC", datetime(2026, 1, 1, tzinfo=timezone.utc))
