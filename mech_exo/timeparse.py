"""Strict, vectorised ISO-8601 → UTC parsing for input timestamps (SPEC §2).

Why our own parser: inputs mix spellings (``Z``, ``+00:00``, ``-04:00``, ``+0530``, a space instead
of ``T``, fractional seconds, naive = UTC), and a lenient parser (``pd.to_datetime(..., utc=True)``
with ``format='mixed'``) silently accepts things we must reject — date-only strings (midnight UTC is
the previous evening in New York, a wrong session), ``2026-02-30``, ``24:00``, epoch numbers — or
coerces them to NaT, which would drop rows silently. Mark files can hold ~1M rows, so parsing is one
RE2 regex pass in Arrow plus integer arithmetic in numpy; no per-row Python.

Accepted: ``YYYY-MM-DD[T| ]HH:MM[:SS[.f{1,9}]][Z|±HH[[:]MM]]``. Fractions beyond microseconds are
truncated (landing is microsecond precision). No offset means UTC.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TS_PATTERN = (
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_DAY = 86_400 * US_PER_SECOND
MAX_OFFSET_HOURS = 18  # the widest offset ISO/Python accept; real ones stop at ±14


@dataclass(frozen=True)
class ParsedTimestamps:
    """Result of parsing one column. ``micros`` is UTC microseconds since the epoch (0 where not valid).

    ``null`` marks missing/blank values, ``bad`` marks present values that are not a valid timestamp;
    the caller decides which of those is a violation (for inputs: both are).
    """

    micros: np.ndarray
    null: np.ndarray
    bad: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return ~(self.null | self.bad)


def _int_field(struct: pa.Array, name: str, default: int) -> np.ndarray:
    field = pc.struct_field(struct, name)
    field = pc.if_else(pc.equal(field, ""), pa.scalar(str(default)), field)
    return pc.cast(pc.fill_null(field, str(default)), pa.int64()).to_numpy(zero_copy_only=False)


def _fraction_micros(struct: pa.Array) -> np.ndarray:
    frac = pc.fill_null(pc.struct_field(struct, "f"), "")
    frac = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=6, padding="0"), 0, 6)
    return pc.cast(frac, pa.int64()).to_numpy(zero_copy_only=False)


def _offset_micros(struct: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset in microseconds and a mask of out-of-range offsets ('+25:00', '+05:75')."""
    tz = pc.fill_null(pc.struct_field(struct, "tz"), "")
    tz = pc.replace_substring(pc.replace_substring(pc.replace_substring(tz, ":", ""), "Z", ""), "z", "")
    tz = pc.utf8_rpad(tz, width=5, padding="0")  # '' → '00000', '+05' → '+0500'
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(tz, 0, 1), "-"), -1, 1).to_numpy(zero_copy_only=False)
    hh = pc.cast(pc.utf8_slice_codeunits(tz, 1, 3), pa.int64()).to_numpy(zero_copy_only=False)
    mm = pc.cast(pc.utf8_slice_codeunits(tz, 3, 5), pa.int64()).to_numpy(zero_copy_only=False)
    bad = (hh > MAX_OFFSET_HOURS) | (mm > 59)
    return sign * (hh * 60 + mm) * US_PER_MINUTE, bad


def _days_since_epoch(y: np.ndarray, mo: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch days of a civil date and a mask of impossible dates (month 13, 30 February)."""
    bad = (mo < 1) | (mo > 12) | (d < 1)
    mo_ok = np.where(bad, 1, mo)
    month_start = (y - 1970) * 12 + (mo_ok - 1)
    first = month_start.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (month_start + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    bad |= d > (nxt - first)
    return first + d - 1, bad


def parse_iso_utc(values: pa.Array | pa.ChunkedArray) -> ParsedTimestamps:
    """Parse an Arrow string column of ISO-8601 timestamps to UTC microseconds, strictly, vectorised."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if pa.types.is_dictionary(values.type) or pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    trimmed = pc.utf8_trim_whitespace(values)
    null = (pc.fill_null(pc.equal(trimmed, ""), True)).to_numpy(zero_copy_only=False)
    struct = pc.extract_regex(trimmed, TS_PATTERN)
    matched = pc.fill_null(pc.is_valid(struct), False).to_numpy(zero_copy_only=False) & ~null
    y = _int_field(struct, "y", 1970)
    mo, d = _int_field(struct, "mo", 1), _int_field(struct, "d", 1)
    h, mi, s = _int_field(struct, "h", 0), _int_field(struct, "mi", 0), _int_field(struct, "s", 0)
    days, bad_date = _days_since_epoch(y, mo, d)
    offset, bad_offset = _offset_micros(struct)
    bad_time = (h > 23) | (mi > 59) | (s > 59)
    local = days * US_PER_DAY + ((h * 60 + mi) * 60 + s) * US_PER_SECOND + _fraction_micros(struct)
    bad = ~null & (~matched | bad_date | bad_time | bad_offset)
    micros = np.where(null | bad, 0, local - offset).astype(np.int64)
    return ParsedTimestamps(micros=micros, null=null, bad=bad)


def timestamp_column_to_micros(values: pa.Array | pa.ChunkedArray) -> ParsedTimestamps:
    """A Parquet ``timestamp`` column (tz-aware: already an instant; naive: means UTC) → UTC micros.

    Arrow stores tz-aware timestamps as UTC epoch values, so only the unit changes; sub-microsecond
    digits are truncated like the text parser does.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    as_int = pc.cast(pc.cast(values, pa.timestamp("us", tz=values.type.tz), safe=False), pa.int64())
    null = pc.is_null(as_int).to_numpy(zero_copy_only=False)
    micros = pc.fill_null(as_int, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return ParsedTimestamps(micros=micros, null=null, bad=np.zeros(len(micros), dtype=bool))


def parse_one(text: str) -> datetime:
    """Parse a single timestamp string to an aware UTC datetime; ``ValueError`` if it is not valid."""
    parsed = parse_iso_utc(pa.array([text], pa.string()))
    if not parsed.valid[0]:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    return micros_to_datetime(int(parsed.micros[0]))


def micros_to_datetime(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + np.timedelta64(micros, "us").item()


def datetime_to_micros(dt: datetime) -> int:
    """Aware → its instant; naive → read as UTC (the SPEC's rule for offset-less timestamps)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds
