"""The demo's default last session: the last one whose close (+ the 10 minutes the demo judges
after it) is before now, on the demo's exchange calendar (US holidays, DST-aware closes)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from mech_exo.demo_data.aftermath import last_session_before

SESSION = {"timezone": "America/New_York", "open": "09:30", "close": "16:00"}


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("now, want", [
    ("2026-11-20T21:09:59", date(2026, 11, 19)),   # Friday 16:09:59 EST: Friday not yet judged
    ("2026-11-20T21:10:00", date(2026, 11, 20)),   # 16:10 EST: Friday is
    ("2026-11-21T15:00:00", date(2026, 11, 20)),   # Saturday
    ("2026-11-23T15:00:00", date(2026, 11, 20)),   # Monday 10:00 EST, in session: Friday
    ("2026-11-26T23:00:00", date(2026, 11, 25)),   # Thanksgiving evening: the day before
    ("2026-07-06T20:15:00", date(2026, 7, 6)),     # summer: 20:15Z is 16:15 EDT, past 16:10
    ("2026-07-06T20:05:00", date(2026, 7, 2)),     # 16:05 EDT: not yet; Friday the 3rd is a holiday
])
def test_last_session_before(now, want):
    assert last_session_before(utc(now), SESSION) == want


def test_independence_day_observed_and_a_monday_morning():
    # 2026-07-03 (Friday) is the observed holiday of the 4th: Monday morning's last session is Thursday the 2nd
    assert last_session_before(utc("2026-07-06T13:00:00"), SESSION) == date(2026, 7, 2)
