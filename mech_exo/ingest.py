"""Ingest: validate the inputs (SPEC §2) and write the landing Parquet files dbt reads.

Inputs (all under one home): ``data/trading.db`` (SQLite tables ``fills`` and ``cash_flows``, read
with Python's ``sqlite3`` in one read transaction so both tables come from the same instant),
every ``*.parquet`` / ``*.csv`` under ``data/market/`` (recursively, sorted) and the optional
``data/reference/securities.csv``. Output: ``data/landing/`` exactly as docs/ARCHITECTURE.md
"Landing contract" says.

Why validate here and not in dbt: SPEC §2 wants bad input to fail with a message naming the file,
the row and the rule, never a silent drop or a wrong number. SQL would either coerce or fail on the
first bad row with a cast error; here every violation is collected (``InputError.violations``) so
the on-call fixes the file once. Nothing is written when any violation exists: the previous landing
stays as it was, so dbt never builds over half-validated data.

Duplicate marks: a mark is the price of a symbol at an instant, so two rows with the same
``(ts, symbol)`` must agree. Identical duplicates inside one file are removed at landing (kept: the
first row; the count is a warning). Identical duplicates *across* files are kept in each file's
landing file (each landing file mirrors one input file, which is what makes incremental re-landing
possible) — ``(ts, symbol)`` is unique within a landing file and, across landing files, duplicates
always carry the same price, so staging can de-duplicate exactly. Duplicates whose prices differ,
within or across files, are violations naming both rows.

Incremental landing: ``data/landing/_state.json`` keeps a fingerprint (size, mtime_ns, sha256) per
mark file. A file whose size and mtime are unchanged is not read at all; one whose bytes hash the
same is not re-parsed; anything else is re-landed whole under the same key with the run's
``landed_seq``. Every run appends one row to ``batches.parquet`` (see ``BATCHES_SCHEMA``).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from mech_exo.locks import exclusive_lock
from mech_exo.home import Home
from mech_exo.timeparse import (
    ParsedTimestamps,
    datetime_to_micros,
    micros_to_datetime,
    parse_iso_utc,
    timestamp_column_to_micros,
)

FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_SHOWN = 50          # violations printed in the InputError message
MAX_KEPT_PER_RULE = 20  # structured violations kept per (file, table, rule); all are counted
STATE_VERSION = 1
MARK_SUFFIXES = (".csv", ".parquet")

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
SCHEMA_PLACEHOLDER = "_schema.parquet"  # zero rows; keeps the dbt source glob non-empty
MARKS_SCHEMA = pa.schema([
    ("ts", TS), ("symbol", pa.string()), ("price", pa.float64()), ("source_file", pa.string()),
    ("source_row", pa.int64()), ("landed_seq", pa.int64()),
])
BATCHES_SCHEMA = pa.schema([
    ("landed_seq", pa.int64()), ("landed_at", TS), ("dirty_from", TS), ("full_refresh", pa.bool_()),
    ("n_marks", pa.int64()), ("n_fills", pa.int64()), ("n_flows", pa.int64()),
])

FILL_COLUMNS = ("fill_id", "ts", "symbol", "side", "quantity", "price", "commission", "strategy")
FLOW_COLUMNS = ("flow_id", "ts", "amount", "note")
MARK_COLUMNS = ("ts", "symbol", "price")
NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


# ------------------------------------------------------------------------------------------------
# violations
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """One broken rule: where (file relative to home, table, row, key) and what (rule, value).

    ``row`` is the 1-based data row for CSV and Parquet (header excluded) and the SQLite ``rowid``
    for tables; ``None`` for file-level problems (missing column, unreadable file).
    """

    file: str
    row: int | None
    rule: str
    value: Any = None
    show_value: bool = True
    table: str | None = None
    key: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        loc = self.file + (f" {self.table}" if self.table else "")
        loc += f" row {self.row}" if self.row is not None else ""
        loc += f" ({self.key})" if self.key else ""
        msg = f"{loc}: {self.rule}" + (f" ({self.detail})" if self.detail else "")
        return msg + (f", got {_fmt(self.value)}" if self.show_value else "")


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


class InputError(ValueError):
    """Input breaks the SPEC §2 contract. ``violations``: structured items (a sample per rule when
    there are very many); ``total``: how many were found; ``counts``: per (file, rule)."""

    def __init__(self, violations: list[Violation], total: int, counts: dict[tuple[str, str], int]):
        self.violations = violations
        self.total = total
        self.counts = counts
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{self.total} input violation(s); nothing was landed — fix the input and re-run:"]
        lines += [f"  {v}" for v in self.violations[:MAX_SHOWN]]
        if self.total > min(len(self.violations), MAX_SHOWN):
            lines.append(f"  ... and {self.total - min(len(self.violations), MAX_SHOWN)} more. Counts per file and rule:")
            lines += [f"    {f}: {rule} × {n}" for (f, rule), n in sorted(self.counts.items())]
        return "\n".join(lines)


class _Collector:
    """Collects every violation; keeps a bounded sample per rule so a 1M-bad-row file stays cheap."""

    def __init__(self) -> None:
        self.kept: list[Violation] = []
        self.counts: Counter = Counter()

    def add(self, file: str, row: int | None, rule: str, value: Any = None, *, show_value: bool = True,
            table: str | None = None, key: str | None = None, detail: str | None = None) -> None:
        group = (file + (f" {table}" if table else ""), rule)
        self.counts[group] += 1
        if self.counts[group] <= MAX_KEPT_PER_RULE:
            self.kept.append(Violation(file, row, rule, value, show_value, table, key, detail))

    def add_rows(self, file: str, mask: np.ndarray, rows: np.ndarray, values: pa.Array | pa.ChunkedArray | None,
                 rule: str) -> None:
        """Vectorised check results: report rows where ``mask`` holds (sample kept, all counted)."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        sample = idx[:MAX_KEPT_PER_RULE]
        shown = values.take(pa.array(sample)).to_pylist() if values is not None else [None] * len(sample)
        for i, value in zip(sample, shown):
            self.add(file, int(rows[i]), rule, value, show_value=values is not None)
        self.counts[(file, rule)] += len(idx) - len(sample)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def raise_if_any(self) -> None:
        if self.total:  # sorted so one file's problems read top to bottom, like the file itself
            kept = sorted(self.kept, key=lambda v: (v.file, v.table or "", v.row if v.row is not None else -1))
            raise InputError(kept, self.total, dict(self.counts))


# ------------------------------------------------------------------------------------------------
# result
# ------------------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    """What one ingest run did — ``exo run`` prints ``summary()``, ``--json`` prints ``to_dict()``."""

    landed_seq: int
    n_fills: int
    n_flows: int
    n_securities: int
    n_marks: int                      # mark rows across all landing files after this run
    n_marks_landed: int               # mark rows (re-)landed by this run
    files_landed: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    dirty_from: datetime | None = None
    full_refresh: bool = False
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dirty_from"] = self.dirty_from.isoformat().replace("+00:00", "Z") if self.dirty_from else None
        return d

    def summary(self) -> str:
        dirty = self.dirty_from.isoformat().replace("+00:00", "Z") if self.dirty_from else "nothing changed"
        lines = [
            f"ingest #{self.landed_seq}: {self.n_fills} fills, {self.n_flows} cash flows, "
            f"{self.n_securities} securities, {self.n_marks} marks "
            f"({len(self.files_landed)} file(s) landed / {self.n_marks_landed} rows, "
            f"{len(self.files_skipped)} unchanged, {len(self.files_removed)} removed) in {self.duration_s:.2f}s",
            f"dirty from: {dirty}" + ("; FULL REFRESH" if self.full_refresh else ""),
        ]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------
def _rel(home: Home, path: Path) -> str:
    try:
        return path.relative_to(home.root).as_posix()
    except ValueError:
        return str(path)


def _ts_array(micros: np.ndarray | list[int]) -> pa.Array:
    return pa.array(np.asarray(micros, dtype=np.int64), pa.int64()).cast(TS)


def _iso(micros: int) -> str:
    return micros_to_datetime(micros).isoformat().replace("+00:00", "Z")


class _NotANumber(Exception):
    pass


def _as_float(value: Any) -> float | None:
    """SQLite is dynamically typed: a REAL column may hold ``'12.5'``, ``'abc'`` or a blob."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.match(NUMBER_PATTERN, value.strip()):
        return float(value.strip())
    raise _NotANumber


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()




def _write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Readers (dbt) see the old file or the new one, never a torn one: temp + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json_atomic(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# timestamps shared by all sources
# ------------------------------------------------------------------------------------------------
def _check_ts(parsed: ParsedTimestamps, now_us: int, report) -> np.ndarray:
    """Report missing / unparsable / future timestamps; return the mask of usable ones.

    ``report(mask, rule, show_value)`` is the source-specific way of naming rows.
    """
    limit = now_us + int(FUTURE_TOLERANCE.total_seconds() * 1_000_000)
    future = parsed.valid & (parsed.micros > limit)
    report(parsed.null, "ts is missing", False)
    report(parsed.bad, "ts is not a valid ISO-8601 timestamp (YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|±HH:MM])", True)
    report(future, f"ts is in the future (after now + 5 min = {_iso(limit)})", True)
    return parsed.valid & ~future


# ------------------------------------------------------------------------------------------------
# trading.db
# ------------------------------------------------------------------------------------------------
def _connect_ro(path: Path) -> sqlite3.Connection:
    """Read-only: the trading engine owns this file; we must never create, migrate or lock it for writing."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def _select_rows(con: sqlite3.Connection, rel: str, table: str, required: tuple[str, ...],
                 optional: tuple[str, ...], col: _Collector) -> list[tuple] | None:
    """Rows as (rowid, *required, *optional) in rowid order; None after reporting a schema problem."""
    exists = con.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?", (table,)).fetchone()
    if not exists:
        col.add(rel, None, f"table '{table}' is missing (SPEC §2 input contract)", show_value=False)
        return None
    have = {r[1].lower(): r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
    missing = [c for c in required if c not in have]
    if missing:
        col.add(rel, None, f"missing required column(s): {', '.join(missing)}", show_value=False, table=table)
        return None
    cols = ", ".join(f'"{have[c]}"' if c in have else "NULL" for c in required + optional)
    try:
        return con.execute(f'SELECT rowid, {cols} FROM "{table}" ORDER BY rowid').fetchall()
    except sqlite3.OperationalError:  # WITHOUT ROWID table or a view: number rows in table order
        rows = con.execute(f'SELECT {cols} FROM "{table}"').fetchall()
        return [(i, *r) for i, r in enumerate(rows, start=1)]


def _read_trading_db(home: Home, col: _Collector) -> tuple[list[tuple], list[tuple]]:
    """Missing file = a fresh home (no fills yet); an existing file must hold both tables."""
    path, rel = home.trading_db, _rel(home, home.trading_db)
    if not path.exists():
        return [], []
    try:
        con = _connect_ro(path)
        try:
            con.execute("BEGIN")  # one snapshot for both tables while the engine keeps writing
            fills = _select_rows(con, rel, "fills", FILL_COLUMNS, (), col)
            flows = _select_rows(con, rel, "cash_flows", FLOW_COLUMNS[:3], FLOW_COLUMNS[3:], col)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        col.add(rel, None, f"not a readable SQLite database ({exc})", show_value=False)
        return [], []
    return fills or [], flows or []


class _RowReporter:
    """Names a SQLite row the way the on-call needs it: file, table, rowid and the business key."""

    def __init__(self, col: _Collector, rel: str, table: str, id_name: str):
        self.col, self.rel, self.table, self.id_name = col, rel, table, id_name
        self.row: int | None = None
        self.key: str | None = None

    def at(self, rowid: int, ident: str) -> "_RowReporter":
        self.row, self.key = rowid, (f"{self.id_name}={ident}" if ident else None)
        return self

    def __call__(self, rule: str, value: Any = None, show_value: bool = True, detail: str | None = None) -> None:
        self.col.add(self.rel, self.row, rule, value, show_value=show_value, table=self.table,
                     key=self.key, detail=detail)


def _check_id(ident: str, rowid: int, seen: dict[str, int], name: str, rep: _RowReporter) -> bool:
    if not ident:
        rep(f"{name} must not be empty", show_value=False)
        return False
    if ident in seen:
        rep(f"duplicate {name}", show_value=False, detail=f"first seen at row {seen[ident]}")
        return False
    seen[ident] = rowid
    return True


def _check_number(value: Any, name: str, rep: _RowReporter, *, positive: bool = False,
                  non_negative: bool = False, default: float | None = None) -> float | None:
    """Returns the float, or None after reporting why it is not acceptable."""
    try:
        x = _as_float(value)
    except _NotANumber:
        rep(f"{name} must be a number", value)
        return None
    if x is None:
        if default is not None:
            return default
        rep(f"{name} is missing", show_value=False)
        return None
    if not math.isfinite(x):
        rep(f"{name} must be finite", value)
    elif positive and x <= 0:
        rep(f"{name} must be > 0", x)
    elif non_negative and x < 0:
        rep(f"{name} must be >= 0", x)
    else:
        return x
    return None


def _sqlite_ts(rows: list[tuple], ts_index: int, now_us: int, rep: _RowReporter,
               idents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ts parse for a SQLite table; a non-text ts (e.g. an epoch number) is unparsable."""
    texts = [r[ts_index] if isinstance(r[ts_index], str) or r[ts_index] is None else f"\x00{r[ts_index]}" for r in rows]
    parsed = parse_iso_utc(pa.array(texts, pa.string()))

    def report(mask: np.ndarray, rule: str, show_value: bool) -> None:
        for i in np.flatnonzero(mask):
            raw = rows[i][ts_index]
            rep.at(rows[i][0], idents[i])(rule, raw, show_value)

    ok = _check_ts(parsed, now_us, report)
    return parsed.micros, ok


def _validate_fills(rows: list[tuple], rel: str, now_us: int, col: _Collector) -> pa.Table:
    rep = _RowReporter(col, rel, "fills", "fill_id")
    idents = [_text(r[1]) for r in rows]
    micros, ts_ok = _sqlite_ts(rows, 2, now_us, rep, idents)
    seen: dict[str, int] = {}
    out: dict[str, list] = {name: [] for name in FILLS_SCHEMA.names}
    for i, (rowid, _fid, _ts, symbol, side, qty, price, commission, strategy) in enumerate(rows):
        r = rep.at(rowid, idents[i])
        ok = _check_id(idents[i], rowid, seen, "fill_id", r) & bool(ts_ok[i])
        sym, sd, strat = _text(symbol).upper(), _text(side).upper(), _text(strategy)
        if not sym:
            r("symbol must not be empty", show_value=False); ok = False
        if sd not in ("BUY", "SELL"):
            r("side must be BUY or SELL", side); ok = False
        if not strat:
            r("strategy must not be empty", show_value=False); ok = False
        q = _check_number(qty, "quantity", r, positive=True)
        p = _check_number(price, "price", r, positive=True)
        c = _check_number(commission, "commission", r, non_negative=True, default=0.0)
        if not ok or q is None or p is None or c is None:
            continue
        for name, v in zip(FILLS_SCHEMA.names, (idents[i], micros[i], sym, sd, q, p, c, strat, rowid)):
            out[name].append(v)
    return _table(out, FILLS_SCHEMA)


def _validate_flows(rows: list[tuple], rel: str, now_us: int, col: _Collector) -> pa.Table:
    rep = _RowReporter(col, rel, "cash_flows", "flow_id")
    idents = [_text(r[1]) for r in rows]
    micros, ts_ok = _sqlite_ts(rows, 2, now_us, rep, idents)
    seen: dict[str, int] = {}
    out: dict[str, list] = {name: [] for name in FLOWS_SCHEMA.names}
    for i, (rowid, _fid, _ts, amount, note) in enumerate(rows):
        r = rep.at(rowid, idents[i])
        ok = _check_id(idents[i], rowid, seen, "flow_id", r) & bool(ts_ok[i])
        a = _check_number(amount, "amount", r)  # 0 is allowed: a zero flow is odd but not wrong
        if not ok or a is None:
            continue
        for name, v in zip(FLOWS_SCHEMA.names, (idents[i], micros[i], a, None if note is None else str(note), rowid)):
            out[name].append(v)
    return _table(out, FLOWS_SCHEMA)


def _table(columns: dict[str, list], schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        values = columns[f.name]
        arrays.append(_ts_array(values) if f.type == TS else pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ------------------------------------------------------------------------------------------------
# securities.csv
# ------------------------------------------------------------------------------------------------
def _read_securities(home: Home, col: _Collector, warnings: list[str]) -> pa.Table:
    path, rel = home.securities_csv, _rel(home, home.securities_csv)
    if not path.exists():
        warnings.append(f"{rel} not found: every symbol gets sector UNKNOWN")
        return SECURITIES_SCHEMA.empty_table()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("symbol", "sector") if c not in header]
        if missing:
            col.add(rel, None, f"missing required column(s): {', '.join(missing)}", show_value=False)
            return SECURITIES_SCHEMA.empty_table()
        i_sym, i_sec = header.index("symbol"), header.index("sector")
        i_name = header.index("name") if "name" in header else None
        seen: dict[str, int] = {}
        out: dict[str, list] = {"symbol": [], "sector": [], "name": []}
        for row_no, row in enumerate((r for r in reader if any(c.strip() for c in r)), start=1):
            cell = lambda i: row[i].strip() if i is not None and i < len(row) else ""  # noqa: E731
            sym, sector, name = cell(i_sym).upper(), cell(i_sec), cell(i_name)
            if not sym:
                col.add(rel, row_no, "symbol must not be empty", show_value=False)
            elif sym in seen:
                col.add(rel, row_no, "duplicate symbol", sym, detail=f"first seen at row {seen[sym]}")
            elif not sector:
                col.add(rel, row_no, "sector must not be empty", show_value=False, key=f"symbol={sym}")
            else:
                seen[sym] = row_no
                out["symbol"].append(sym); out["sector"].append(sector); out["name"].append(name or None)
    return _table(out, SECURITIES_SCHEMA)


# ------------------------------------------------------------------------------------------------
# mark files
# ------------------------------------------------------------------------------------------------
@dataclass
class _MarkFile:
    rel: str
    path: Path
    key: str
    fingerprint: dict[str, Any]
    changed: bool
    frame: pd.DataFrame | None = None   # validated rows of a changed file: ts (int64 µs), symbol, price, source_row
    duplicates_removed: int = 0


def mark_key(rel: str) -> str:
    """Stable landing name for an input file (``rel``: its path under data/market): readable, and
    unique even for ``a/b.csv`` vs ``a__b.csv``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__"))
    return f"{safe}-{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:8]}"


def _discover_mark_files(home: Home, warnings: list[str]) -> list[Path]:
    if not home.market_dir.exists():
        warnings.append(f"{_rel(home, home.market_dir)} does not exist: no marks")
        return []
    found, ignored = [], []
    for p in sorted(home.market_dir.rglob("*")):
        if not p.is_file():
            continue
        hidden = any(part.startswith(".") for part in p.relative_to(home.market_dir).parts)
        (found if p.suffix.lower() in MARK_SUFFIXES and not hidden else ignored).append(p)
    if ignored:
        names = ", ".join(_rel(home, p) for p in ignored[:5]) + (" ..." if len(ignored) > 5 else "")
        warnings.append(f"ignored {len(ignored)} file(s) under {_rel(home, home.market_dir)} that are "
                        f"hidden or not *.csv/*.parquet: {names}")
    return found


def _read_csv_marks(rel: str, data: bytes, col: _Collector) -> pa.Table | None:
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


def _read_parquet_marks(rel: str, data: bytes, col: _Collector) -> pa.Table | None:
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


def _mark_ts(rel: str, column: pa.ChunkedArray, col: _Collector) -> ParsedTimestamps | None:
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = pc.cast(column, pa.string()), pa.string()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return parse_iso_utc(column)
    if pa.types.is_timestamp(t):
        return timestamp_column_to_micros(column)
    col.add(rel, None, f"column ts has type {t}; expected ISO-8601 text or a timestamp", show_value=False)
    return None


def _mark_price(rel: str, column: pa.ChunkedArray, rows: np.ndarray, col: _Collector) -> np.ndarray | None:
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


def _validate_marks(rel: str, raw: pa.Table, now_us: int, col: _Collector) -> pd.DataFrame | None:
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

    ok = _check_ts(parsed, now_us, report) & ~no_symbol & ~np.isnan(price)
    frame = pd.DataFrame({"ts": parsed.micros, "symbol": symbol.to_numpy(zero_copy_only=False),
                          "price": price, "source_row": rows})
    return frame[ok].reset_index(drop=True) if not ok.all() else frame


def _dedupe_within_file(mf: _MarkFile, col: _Collector) -> None:
    """Identical duplicates: keep the first row. Conflicting ones: a violation for each later row."""
    df = mf.frame
    dup = df.duplicated(["ts", "symbol"], keep=False).to_numpy()
    if not dup.any():
        return
    sub = df[dup]
    first = sub.groupby(["ts", "symbol"], sort=False).first()
    joined = sub.merge(first.reset_index(), how="left", on=["ts", "symbol"], suffixes=("", "_first"))
    conflict = joined[(joined["price"] != joined["price_first"])]
    for r in conflict.head(MAX_KEPT_PER_RULE * 5).itertuples():
        col.add(mf.rel, int(r.source_row), "conflicting duplicate mark for the same (ts, symbol)", float(r.price),
                key=f"ts={_iso(int(r.ts))}, symbol={r.symbol}",
                detail=f"row {int(r.source_row_first)} of the same file has price {r.price_first}")
    later = df.duplicated(["ts", "symbol", "price"], keep="first").to_numpy()
    mf.duplicates_removed = int(later.sum())
    mf.frame = df[~later].reset_index(drop=True)


def _load_changed_mark(home: Home, mf: _MarkFile, data: bytes, now_us: int, col: _Collector) -> None:
    suffix = mf.path.suffix.lower()
    if suffix == ".csv" and (not data or data.isspace()):
        col.add(mf.rel, None, "file is empty (expected a header: ts,symbol,price)", show_value=False)
        return
    raw = _read_csv_marks(mf.rel, data, col) if suffix == ".csv" else _read_parquet_marks(mf.rel, data, col)
    if raw is None:
        return
    mf.frame = _validate_marks(mf.rel, raw, now_us, col)
    if mf.frame is not None:
        _dedupe_within_file(mf, col)


def _check_across_files(home: Home, marks: list[_MarkFile], col: _Collector, warnings: list[str]) -> None:
    """A re-landed file may contradict another file's mark for the same (ts, symbol): a violation.

    Only run when something was re-landed; unchanged files were already consistent with each other.
    """
    fresh = [m for m in marks if m.changed and m.frame is not None]
    if not fresh or len(marks) < 2:
        return
    parts = [m.frame.assign(source_file=m.rel) for m in fresh]
    for m in marks:
        if not m.changed:
            t = pq.read_table(home.landing_dir / "marks" / f"{m.key}.parquet",
                              columns=["ts", "symbol", "price", "source_row"])
            ts = pc.cast(t.column("ts"), pa.int64()).to_numpy()
            parts.append(pd.DataFrame({"ts": ts, "symbol": t.column("symbol").to_numpy(),
                                       "price": t.column("price").to_numpy(),
                                       "source_row": t.column("source_row").to_numpy(), "source_file": m.rel}))
    alls = pd.concat(parts, ignore_index=True)
    dup = alls[alls.duplicated(["ts", "symbol"], keep=False)]
    if dup.empty:
        return
    first = dup.groupby(["ts", "symbol"], sort=False).first()
    joined = dup.merge(first.reset_index(), how="left", on=["ts", "symbol"], suffixes=("", "_first"))
    conflict = joined[joined["price"] != joined["price_first"]]
    for r in conflict.head(MAX_KEPT_PER_RULE * 5).itertuples():
        col.add(r.source_file, int(r.source_row), "conflicting mark across files for the same (ts, symbol)",
                float(r.price), key=f"ts={_iso(int(r.ts))}, symbol={r.symbol}",
                detail=f"{r.source_file_first} row {int(r.source_row_first)} has price {r.price_first}")
    identical = len(dup) - dup.groupby(["ts", "symbol"]).ngroups - len(conflict)
    if identical > 0:
        warnings.append(f"{identical} mark(s) repeat the same (ts, symbol, price) as another file; "
                        "kept in each file's landing, de-duplicated downstream")


# ------------------------------------------------------------------------------------------------
# state, planning, diffing
# ------------------------------------------------------------------------------------------------
def _load_state(home: Home, warnings: list[str]) -> dict | None:
    path = home.landing_dir / "_state.json"
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("version") != STATE_VERSION or not isinstance(state.get("marks"), dict):
            raise ValueError("unexpected layout")
        return state
    except (ValueError, OSError) as exc:
        warnings.append(f"{_rel(home, path)} unreadable ({exc}); re-landing everything with a full refresh")
        return None


def _plan_marks(home: Home, state: dict | None, now_us: int, col: _Collector,
                warnings: list[str]) -> list[_MarkFile]:
    """Decide per file: unchanged (not even read when size+mtime match) or changed (parsed now)."""
    known = (state or {}).get("marks", {})
    out = []
    for path in _discover_mark_files(home, warnings):
        rel = _rel(home, path)
        st = path.stat()
        prev = known.get(rel)
        key = mark_key(path.relative_to(home.market_dir).as_posix())
        landed = (home.landing_dir / "marks" / f"{key}.parquet").exists()
        if prev and landed and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns:
            out.append(_MarkFile(rel, path, key, dict(prev), changed=False))
            continue
        data = path.read_bytes()
        fp = {"size": len(data), "mtime_ns": st.st_mtime_ns, "sha256": hashlib.sha256(data).hexdigest()}
        if prev and landed and prev["sha256"] == fp["sha256"]:  # touched, same bytes
            out.append(_MarkFile(rel, path, key, {**prev, **fp}, changed=False))
            continue
        mf = _MarkFile(rel, path, key, fp, changed=True)
        _load_changed_mark(home, mf, data, now_us, col)
        out.append(mf)
    return out


def _snapshot_diff_min_ts(old_path: Path, new: pa.Table, had_state: bool) -> int | None:
    """Earliest ts among rows added, removed or changed vs the previous landing snapshot (µs)."""
    old = None
    if had_state and old_path.exists():
        try:
            old = pq.read_table(old_path).select(new.schema.names)
        except (pa.ArrowException, OSError, KeyError):
            old = None
    compare = [c for c in new.schema.names if c != "source_row"]

    def rows(t: pa.Table | None) -> dict[str, tuple]:
        if t is None or t.num_rows == 0:
            return {}
        t = t.select(compare).set_column(compare.index("ts"), "ts", pc.cast(t.column("ts"), pa.int64()))
        return {r[0]: r for r in zip(*(t.column(c).to_pylist() for c in compare))}

    before, after = rows(old), rows(new)
    ts_i = compare.index("ts")
    changed = [r[ts_i] for k, r in after.items() if before.get(k) != r]
    changed += [r[ts_i] for k, r in before.items() if after.get(k) != r]
    return min(changed) if changed else None


def _next_seq(home: Home, state: dict | None) -> int:
    """Monotonic across runs even if ``_state.json`` was lost: also look at batches.parquet."""
    last = int((state or {}).get("last_seq", 0))
    path = home.landing_dir / "batches.parquet"
    if path.exists():
        seqs = pq.read_table(path, columns=["landed_seq"]).column("landed_seq")
        if len(seqs):
            last = max(last, int(pc.max(seqs).as_py()))
    return last + 1


def _append_batch(home: Home, row: dict[str, Any]) -> None:
    path = home.landing_dir / "batches.parquet"
    new = pa.Table.from_pylist([row], schema=BATCHES_SCHEMA)
    if path.exists():
        try:
            old = pq.read_table(path).select(BATCHES_SCHEMA.names).cast(BATCHES_SCHEMA)
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise RuntimeError(f"{_rel(home, path)}: cannot append the batch row ({exc}); "
                               "move the file aside to start a new batch history") from None
        new = pa.concat_tables([old, new])
    _write_parquet_atomic(new, path)


def _mark_landing_table(mf: _MarkFile, seq: int) -> pa.Table:
    df = mf.frame
    n = len(df)
    return pa.Table.from_arrays([
        _ts_array(df["ts"].to_numpy()), pa.array(df["symbol"].to_numpy(), pa.string()),
        pa.array(df["price"].to_numpy(), pa.float64()), pa.array([mf.rel] * n, pa.string()) if n else pa.array([], pa.string()),
        pa.array(df["source_row"].to_numpy(), pa.int64()), pa.array(np.full(n, seq, dtype=np.int64)),
    ], schema=MARKS_SCHEMA)


# ------------------------------------------------------------------------------------------------
# the entry point
# ------------------------------------------------------------------------------------------------
def ingest(home: Home, now: datetime | None = None) -> IngestResult:
    """Validate all inputs and land them; raise ``InputError`` (nothing written) on any violation.

    ``now`` (default: the wall clock) bounds "future" timestamps: more than 5 minutes after it is a
    violation, since a future fill or mark would poison every metric until real time catches up.
    """
    started = time.perf_counter()
    now_us = datetime_to_micros(now or datetime.now(timezone.utc))
    home.landing_dir.mkdir(parents=True, exist_ok=True)
    # two ingests at once would interleave landing writes and both claim the same landed_seq
    with exclusive_lock(home.landing_dir / ".ingest.lock"):
        result = _ingest_locked(home, now_us)
    result.duration_s = time.perf_counter() - started
    return result


def _ingest_locked(home: Home, now_us: int) -> IngestResult:
    col, warnings = _Collector(), []
    state = _load_state(home, warnings)
    fill_rows, flow_rows = _read_trading_db(home, col)
    db_rel = _rel(home, home.trading_db)
    fills = _validate_fills(fill_rows, db_rel, now_us, col)
    flows = _validate_flows(flow_rows, db_rel, now_us, col)
    securities = _read_securities(home, col, warnings)
    marks = _plan_marks(home, state, now_us, col, warnings)
    _check_across_files(home, marks, col, warnings)
    col.raise_if_any()
    return _land(home, state, now_us, fills, flows, securities, marks, warnings)


def _land(home: Home, state: dict | None, now_us: int, fills: pa.Table, flows: pa.Table,
          securities: pa.Table, marks: list[_MarkFile], warnings: list[str]) -> IngestResult:
    """Write order: mark files, snapshots, deletions, batch row, state last — a crash anywhere leaves
    the old state, so the next run re-lands whatever it cannot prove was landed."""
    seq = _next_seq(home, state)
    marks_dir = home.landing_dir / "marks"
    marks_dir.mkdir(parents=True, exist_ok=True)
    known = (state or {}).get("marks", {})
    dirty: list[int] = []
    new_state: dict[str, Any] = {}
    for mf in marks:
        entry = dict(mf.fingerprint, key=mf.key)
        if mf.changed:
            _write_parquet_atomic(_mark_landing_table(mf, seq), marks_dir / f"{mf.key}.parquet")
            entry.update(landed_seq=seq, n_rows=len(mf.frame),
                         min_ts=int(mf.frame["ts"].min()) if len(mf.frame) else None)
            dirty += [t for t in (entry["min_ts"], known.get(mf.rel, {}).get("min_ts")) if t is not None]
            if mf.duplicates_removed:
                warnings.append(f"{mf.rel}: removed {mf.duplicates_removed} duplicate mark(s) with identical price")
        new_state[mf.rel] = entry
    removed = sorted(set(known) - set(new_state))
    dirty += [known[r]["min_ts"] for r in removed if known[r].get("min_ts") is not None]
    # A zero-row file with the marks schema is always present, so the dbt source's glob matches
    # even in a home with no market data yet (DuckDB fails on a glob that matches nothing).
    schema_file = marks_dir / SCHEMA_PLACEHOLDER
    if not schema_file.exists():
        _write_parquet_atomic(MARKS_SCHEMA.empty_table(), schema_file)
    keep = {f"{e['key']}.parquet" for e in new_state.values()} | {SCHEMA_PLACEHOLDER}
    orphans = [p for p in marks_dir.glob("*.parquet") if p.name not in keep]
    for p in orphans:
        p.unlink()
    for p in list(marks_dir.glob(".*.tmp")) + list(home.landing_dir.glob(".*.tmp")):
        p.unlink(missing_ok=True)
    for snap, table in (("fills", fills), ("cash_flows", flows)):
        t = _snapshot_diff_min_ts(home.landing_dir / f"{snap}.parquet", table, state is not None)
        dirty += [t] if t is not None else []
        _write_parquet_atomic(table, home.landing_dir / f"{snap}.parquet")
    _write_parquet_atomic(securities, home.landing_dir / "securities.parquet")
    full_refresh = state is None or bool(removed) or bool(orphans)
    dirty_from = min(dirty) if dirty else None
    n_marks = sum(int(e.get("n_rows") or 0) for e in new_state.values())
    _append_batch(home, {"landed_seq": seq, "landed_at": now_us, "dirty_from": dirty_from,
                         "full_refresh": full_refresh, "n_marks": n_marks,
                         "n_fills": fills.num_rows, "n_flows": flows.num_rows})
    _write_json_atomic({"version": STATE_VERSION, "last_seq": seq, "marks": new_state},
                       home.landing_dir / "_state.json")
    return IngestResult(
        landed_seq=seq, n_fills=fills.num_rows, n_flows=flows.num_rows, n_securities=securities.num_rows,
        n_marks=n_marks, n_marks_landed=sum(len(m.frame) for m in marks if m.changed),
        files_landed=[m.rel for m in marks if m.changed], files_skipped=[m.rel for m in marks if not m.changed],
        files_removed=removed, dirty_from=micros_to_datetime(dirty_from) if dirty_from is not None else None,
        full_refresh=full_refresh, warnings=warnings,
    )
