"""One market-data file (CSV or Parquet under data/market/) → its rows validated, vectorised.

Rows are ``ts, symbol, price`` (SPEC §2). Timestamps are parsed strictly by mech_exo/timeparse.py;
prices must be finite and > 0; symbols non-empty. Each violation names file, 1-based row and rule.
"""
from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from mech_exo.ingest.schemas import MARK_COLUMNS, NUMBER_PATTERN
from mech_exo.ingest.ts_rules import check_ts
from mech_exo.ingest.violations import Collector
from mech_exo.timeparse import ParsedTimestamps, parse_iso_utc, timestamp_column_to_micros


def read_csv_marks(rel: str, data: bytes, col: Collector) -> pa.Table | None:
    """ts, symbol, price as text (we parse strictly ourselves); None after a file-level violation."""
    first_line = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    header = next(csv.reader([first_line]), []) if first_line.strip() else []
    names = {h.strip().lower(): h for h in reversed(header)}
    missing = [c for c in MARK_COLUMNS if c not in names]
    if missing:
        col.add(rel, None, f"missing required column(s): {', '.join(missing)} (found: {', '.join(header) or 'no header'})",
                show_value=False)
        return None
    actual = [names[c] for c in MARK_COLUMNS]
    invalid: list[int] = []
    convert = pcsv.ConvertOptions(column_types={h: pa.string() for h in header}, include_columns=actual,
                                  strings_can_be_null=True)

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    table = pcsv.read_csv(pa.BufferReader(data), convert_options=convert,
                          parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid))
    if invalid:  # re-read single-threaded: only then does Arrow know the row numbers
        invalid.clear()
        pcsv.read_csv(pa.BufferReader(data), read_options=pcsv.ReadOptions(use_threads=False),
                      convert_options=convert, parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid))
        for row in invalid:
            col.add(rel, row.number - 1 if row.number else None,
                    f"expected {row.expected_columns} fields, got {row.actual_columns}", row.text)
        return None
    return table.rename_columns(list(MARK_COLUMNS))


def read_parquet_marks(rel: str, data: bytes, col: Collector) -> pa.Table | None:
    try:
        schema = pq.read_schema(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        col.add(rel, None, f"not a readable Parquet file ({exc})", show_value=False)
        return None
    names = {n.strip().lower(): n for n in reversed(schema.names)}
    missing = [c for c in MARK_COLUMNS if c not in names]
    if missing:
        col.add(rel, None, f"missing required column(s): {', '.join(missing)} (found: {', '.join(schema.names)})",
                show_value=False)
        return None
    table = pq.read_table(pa.BufferReader(data), columns=[names[c] for c in MARK_COLUMNS])
    return table.rename_columns(list(MARK_COLUMNS))


def _mark_ts(rel: str, column: pa.ChunkedArray, col: Collector) -> ParsedTimestamps | None:
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = pc.cast(column, pa.string()), pa.string()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return parse_iso_utc(column)
    if pa.types.is_timestamp(t):
        return timestamp_column_to_micros(column)
    col.add(rel, None, f"column ts has type {t}; expected ISO-8601 text or a timestamp", show_value=False)
    return None


def _mark_price(rel: str, column: pa.ChunkedArray, rows: np.ndarray, col: Collector) -> np.ndarray | None:
    """Prices as float64 (NaN where missing/unusable), reporting every bad one."""
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = pc.cast(column, pa.string()), pa.string()
    values = column.combine_chunks() if column.num_chunks else pa.array([], t)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = pc.utf8_trim_whitespace(values)
        null = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
        numeric = pc.fill_null(pc.match_substring_regex(text, NUMBER_PATTERN), False).to_numpy(zero_copy_only=False)
        col.add_rows(rel, ~null & ~numeric, rows, values, "price must be a finite number")
        keep = pa.array(~null & numeric)
        price = pc.cast(pc.if_else(keep, text, pa.scalar(None, pa.string())), pa.float64())
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        price = pc.cast(values, pa.float64())
        null = pc.is_null(price).to_numpy(zero_copy_only=False)
        finite = pc.fill_null(pc.is_finite(price), True).to_numpy(zero_copy_only=False)
        col.add_rows(rel, ~finite, rows, price, "price must be a finite number")
    else:
        col.add(rel, None, f"column price has type {t}; expected a number", show_value=False)
        return None
    out = pc.fill_null(price, float("nan")).to_numpy(zero_copy_only=False).astype(np.float64)
    col.add_rows(rel, null, rows, None, "price is missing")
    with np.errstate(invalid="ignore"):
        col.add_rows(rel, np.isfinite(out) & (out <= 0), rows, price, "price must be > 0")
        out[~(out > 0) | ~np.isfinite(out)] = np.nan
    return out


def validate_marks(rel: str, raw: pa.Table, now_us: int, col: Collector) -> pd.DataFrame | None:
    n = raw.num_rows
    rows = np.arange(1, n + 1, dtype=np.int64)
    parsed = _mark_ts(rel, raw.column("ts"), col)
    price = _mark_price(rel, raw.column("price"), rows, col)
    sym_raw = raw.column("symbol")
    sym_raw = sym_raw if pa.types.is_string(sym_raw.type) else pc.cast(sym_raw, pa.string())
    symbol = pc.utf8_upper(pc.utf8_trim_whitespace(sym_raw))
    no_symbol = pc.fill_null(pc.equal(symbol, ""), True).to_numpy(zero_copy_only=False)
    col.add_rows(rel, no_symbol, rows, None, "symbol must not be empty")
    if parsed is None or price is None:
        return None
    ts_values = raw.column("ts")

    def report(mask: np.ndarray, rule: str, show_value: bool) -> None:
        col.add_rows(rel, mask, rows, ts_values if show_value else None, rule)

    ok = check_ts(parsed, now_us, report) & ~no_symbol & ~np.isnan(price)
    frame = pd.DataFrame({"ts": parsed.micros, "symbol": symbol.to_numpy(zero_copy_only=False),
                          "price": price, "source_row": rows})
    return frame[ok].reset_index(drop=True) if not ok.all() else frame
