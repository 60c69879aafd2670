"""The landing contract as Arrow schemas, and the input column names (SPEC §2, docs/ARCHITECTURE.md)."""
from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

TS = pa.timestamp("us")
FILLS_SCHEMA = pa.schema([
    ("fill_id", pa.string()), ("ts", TS), ("symbol", pa.string()), ("side", pa.string()),
    ("quantity", pa.float64()), ("price", pa.float64()), ("commission", pa.float64()),
    ("strategy", pa.string()), ("source_row", pa.int64()),
])
FLOWS_SCHEMA = pa.schema([
    ("flow_id", pa.string()), ("ts", TS), ("amount", pa.float64()), ("note", pa.string()),
    ("source_row", pa.int64()),
])
SECURITIES_SCHEMA = pa.schema([("symbol", pa.string()), ("sector", pa.string()), ("name", pa.string())])
MARKS_SCHEMA = pa.schema([
    ("ts", TS), ("symbol", pa.string()), ("price", pa.float64()), ("source_file", pa.string()),
    ("source_row", pa.int64()), ("landed_seq", pa.int64()),
])
BATCHES_SCHEMA = pa.schema([
    ("landed_seq", pa.int64()), ("landed_at", TS), ("dirty_from", TS), ("full_refresh", pa.bool_()),
    ("n_marks", pa.int64()), ("n_fills", pa.int64()), ("n_flows", pa.int64()),
])
SCHEMA_PLACEHOLDER = "_schema.parquet"  # zero rows; keeps a dbt source glob non-empty

FILL_COLUMNS = ("fill_id", "ts", "symbol", "side", "quantity", "price", "commission", "strategy")
FLOW_COLUMNS = ("flow_id", "ts", "amount", "note")
MARK_COLUMNS = ("ts", "symbol", "price")
MARK_SUFFIXES = (".csv", ".parquet")
NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
FUTURE_TOLERANCE = timedelta(minutes=5)
