"""SPEC §2 rules for the trading.db tables (fills, cash_flows), vectorised over Arrow.

Input: the typed parts sqlite_source.py reads (``<c>_t`` text, ``<c>_y`` SQLite type, ``<c>_n``
REAL value, ``_rowid``). Every rule is one Arrow/numpy expression over the whole column; Python runs
per *reported* row only (at most ``MAX_KEPT_PER_RULE`` per rule), to name the row and show its value
as the old row-by-row validator did: ``data/trading.db fills row 17 (fill_id=F-0017): quantity
must be > 0, got -5.0``. Ingest is all-or-nothing, so no row is dropped here: a table with any
violation is never landed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mech_exo.ingest.files import ts_array
from mech_exo.ingest.schemas import FILLS_SCHEMA, FLOWS_SCHEMA, NUMBER_PATTERN
from mech_exo.ingest.sqlite_source import TableSpec
from mech_exo.ingest.ts_rules import check_ts
from mech_exo.ingest.violations import Collector
from mech_exo.timeparse import parse_iso_utc

FILLS = TableSpec("fills", "fill_id", (("fill_id", "text"), ("ts", "ts"), ("symbol", "text"), ("side", "text"),
                                       ("quantity", "num"), ("price", "num"), ("commission", "num"),
                                       ("strategy", "text")))
FLOWS = TableSpec("cash_flows", "flow_id", (("flow_id", "text"), ("ts", "ts"), ("amount", "num"), ("note", "text")),
                  optional=("note",))
SCHEMAS = {"fills": FILLS_SCHEMA, "cash_flows": FLOWS_SCHEMA}


def _np(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return a.to_numpy(zero_copy_only=False)


def _display(text: str, typ: str) -> Any:
    """A raw SQLite value as the on-call should see it (only for the reported rows)."""
    text = text.lstrip("\x00")
    if typ == "null":
        return None
    if typ == "integer":
        return int(text)
    if typ == "real":
        return float(text)
    return text


class _Rows:
    """Names rows of one table for the collector: file, table, rowid and the business key."""

    def __init__(self, raw: pa.Table, spec: TableSpec, rel: str, col: Collector, ident: pa.Array):
        self.raw, self.spec, self.rel, self.col = raw, spec, rel, col
        self.rowid = _np(raw.column("_rowid"))
        self.ident = ident

    def key(self, i: int) -> str | None:
        v = self.ident[i].as_py()
        return f"{self.spec.id_column}={v}" if v else None

    def raw_value(self, name: str):
        t, y = self.raw.column(f"{name}_t"), self.raw.column(f"{name}_y")
        return lambda i: _display(t[i].as_py(), y[i].as_py())

    def report(self, mask: np.ndarray, rule: str, value_of=None, detail_of=None) -> None:
        self.col.add_table_rows(self.rel, self.spec.name, mask, rule, row_of=lambda i: int(self.rowid[i]),
                                key_of=self.key, value_of=value_of, detail_of=detail_of)


def _text(raw: pa.Table, name: str) -> pa.Array:
    return pc.utf8_trim_whitespace(raw.column(f"{name}_t").combine_chunks())


def _number(rows: _Rows, name: str, *, positive: bool = False, non_negative: bool = False,
            default: float | None = None) -> np.ndarray:
    """The column as float64, reporting what is not acceptable (rules as SPEC §2 / the DDL)."""
    raw = rows.raw
    typ = _np(raw.column(f"{name}_y")).astype(str)
    text = _text(raw, name)
    is_num = (typ == "integer") | (typ == "real")
    is_null = typ == "null"
    numeric_text = _np(pc.fill_null(pc.match_substring_regex(text, NUMBER_PATTERN), False)) & (typ == "text")
    not_a_number = ~is_num & ~is_null & ~numeric_text
    parsed = _np(pc.cast(pc.if_else(pa.array(numeric_text), text, pa.scalar("0")), pa.float64()))
    x = np.where(is_num, _np(raw.column(f"{name}_n")), parsed)
    if default is not None:
        x = np.where(is_null, default, x)
    else:
        rows.report(is_null, f"{name} is missing")
    present = ~not_a_number & ~(is_null & (default is None))
    rows.report(not_a_number, f"{name} must be a number", rows.raw_value(name))
    finite = np.isfinite(x)
    rows.report(present & ~finite, f"{name} must be finite", rows.raw_value(name))
    ok = present & finite
    as_float = lambda i: float(x[i])  # noqa: E731
    if positive:
        rows.report(ok & ~(x > 0), f"{name} must be > 0", as_float)
    if non_negative:
        rows.report(ok & (x < 0), f"{name} must be >= 0", as_float)
    return x


def _ident_and_ts(raw: pa.Table, spec: TableSpec, rel: str, now_us: int, col: Collector) -> tuple[_Rows, np.ndarray]:
    ident = _text(raw, spec.id_column)
    rows = _Rows(raw, spec, rel, col, ident)
    rows.report(_np(pc.equal(ident, "")), f"{spec.id_column} must not be empty")
    parsed = parse_iso_utc(raw.column("ts_t"))
    check_ts(parsed, now_us, lambda mask, rule, show: rows.report(mask, rule, rows.raw_value("ts") if show else None))
    return rows, parsed.micros


def validate_fills(raw: pa.Table, rel: str, now_us: int, col: Collector) -> pa.Table:
    rows, micros = _ident_and_ts(raw, FILLS, rel, now_us, col)
    symbol = pc.utf8_upper(_text(raw, "symbol"))
    side = pc.utf8_upper(_text(raw, "side"))
    strategy = _text(raw, "strategy")
    rows.report(_np(pc.equal(symbol, "")), "symbol must not be empty")
    rows.report(~_np(pc.is_in(side, pa.array(["BUY", "SELL"]))), "side must be BUY or SELL", rows.raw_value("side"))
    rows.report(_np(pc.equal(strategy, "")), "strategy must not be empty")
    qty = _number(rows, "quantity", positive=True)
    price = _number(rows, "price", positive=True)
    commission = _number(rows, "commission", non_negative=True, default=0.0)
    return pa.Table.from_arrays([rows.ident, ts_array(micros), symbol, side, pa.array(qty), pa.array(price),
                                 pa.array(commission), strategy, raw.column("_rowid").combine_chunks()],
                                schema=FILLS_SCHEMA)


def validate_flows(raw: pa.Table, rel: str, now_us: int, col: Collector) -> pa.Table:
    rows, micros = _ident_and_ts(raw, FLOWS, rel, now_us, col)
    amount = _number(rows, "amount")  # 0 is allowed: a zero flow is odd but not wrong
    note_t = raw.column("note_t").combine_chunks()
    note = pc.if_else(pc.equal(raw.column("note_y").combine_chunks(), "null"), pa.scalar(None, pa.string()), note_t)
    return pa.Table.from_arrays([rows.ident, ts_array(micros), pa.array(amount), note,
                                 raw.column("_rowid").combine_chunks()], schema=FLOWS_SCHEMA)


VALIDATORS = {"fills": validate_fills, "cash_flows": validate_flows}


def report_duplicate_ids(new: pa.Table, landed: pa.Table, spec: TableSpec, rel: str, col: Collector) -> None:
    """``new``: normalised rows being landed now; ``landed``: rows of the other landed blocks that
    share an id with them (id, source_row). The first occurrence (lowest rowid) of an id is the
    original; every later one is a violation naming the first, wherever each of them lives."""
    ident = spec.id_column
    both = pa.concat_tables([new.select([ident, "source_row"]), landed.select([ident, "source_row"])])
    both = both.filter(pc.not_equal(both.column(ident), ""))
    if both.num_rows == 0:
        return
    first = both.group_by(ident).aggregate([("source_row", "min"), ("source_row", "count")])
    first = first.filter(pc.greater(first.column("source_row_count"), 1))
    if first.num_rows == 0:
        return
    dup = both.join(first, ident).filter(pc.field("source_row") != pc.field("source_row_min"))
    dup = dup.sort_by("source_row")
    ids, rows, firsts = dup.column(ident), _np(dup.column("source_row")), _np(dup.column("source_row_min"))
    col.add_table_rows(rel, spec.name, np.ones(dup.num_rows, dtype=bool), f"duplicate {ident}",
                       row_of=lambda i: int(rows[i]), key_of=lambda i: f"{ident}={ids[i].as_py()}",
                       detail_of=lambda i: f"first seen at row {int(firsts[i])}")
