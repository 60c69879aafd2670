"""The timestamp rules every input shares: present, valid ISO-8601, not in the future (SPEC §2)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from mech_exo.ingest.files import iso
from mech_exo.ingest.schemas import FUTURE_TOLERANCE
from mech_exo.timeparse import ParsedTimestamps

BAD_TS_RULE = "ts is not a valid ISO-8601 timestamp (YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|±HH:MM])"


def check_ts(parsed: ParsedTimestamps, now_us: int, report: Callable[[np.ndarray, str, bool], None]) -> np.ndarray:
    """Report missing / unparsable / future timestamps; return the mask of usable ones.

    ``report(mask, rule, show_value)`` is the source-specific way of naming rows. A future fill or
    mark (more than 5 minutes after ``now``) would poison every metric until real time catches up.
    """
    limit = now_us + int(FUTURE_TOLERANCE.total_seconds() * 1_000_000)
    future = parsed.valid & (parsed.micros > limit)
    report(parsed.null, "ts is missing", False)
    report(parsed.bad, BAD_TS_RULE, True)
    report(future, f"ts is in the future (after now + 5 min = {iso(limit)})", True)
    return parsed.valid & ~future
