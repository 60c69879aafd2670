"""trading.db read straight into Arrow with the ADBC SQLite driver, in one read transaction.

Why every column is spelled out in SQL: SQLite is dynamically typed (a REAL column may hold
``'ten'``, a TEXT column a number, ``ts`` an epoch integer) and the ADBC driver infers one Arrow type
per column from the first rows — a later value of another type, or a first batch that is all NULL,
fails the whole read. So each input column is selected as fixed-type, never-NULL parts: its text
(``<c>_t``), its SQLite ``typeof`` (``<c>_y``) and, for numbers, its REAL value (``<c>_n``). The
vectorised rules (validate_tables.py) rebuild NULLs and numbers from those parts exactly.

Change detection for already landed rows is computed here, in SQLite, without moving rows: per rowid
range ``count(*)``, ``sum(rowid)`` and ``sum(h)`` where ``h`` is an integer hash of one row
(``row_hash_sql``). Integer sums are exact and additive, so two adjacent ranges' figures add up to
the merged range's (table_blocks.py merges small blocks). ``h`` covers every number (to 1e-8), the
instant of ``ts`` (to the millisecond, plus its spelling's length) and the length and first/last
characters of each text field: a cheap checksum, not a cryptographic one — a same-length edit of a
middle character of a symbol or id is not seen by it (``exo run --full-refresh`` re-reads
everything).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

P = 2_147_483_629          # a prime below 2**31: keeps one row's hash small, so block sums fit int64
ROW_WEIGHT_MOD = 251       # rowid-dependent weight: moving a value to another row changes the sum
TYPES = ("null", "integer", "real", "text", "blob")


@dataclass(frozen=True)
class TableSpec:
    """How one SQLite input table is read: ``columns`` are (name, kind) with kind text | ts | num."""

    name: str
    id_column: str
    columns: tuple[tuple[str, str], ...]
    optional: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns if c not in self.optional)


class SourceError(Exception):
    """The file is not a readable SQLite database (named by the caller as a violation)."""


def _as_text(c: str) -> str:
    return (f"CASE typeof({c}) WHEN 'null' THEN '' WHEN 'blob' THEN 'x''' || hex({c}) || '''' "
            f"ELSE CAST({c} AS TEXT) END")


def _select_parts(declared: str, name: str, kind: str, present: bool) -> list[str]:
    q = f'"{declared}"'
    if not present:
        out = [f"'' AS {name}_t", f"'null' AS {name}_y"]
        return out + ([f"0.0 AS {name}_n"] if kind == "num" else [])
    if kind == "ts":  # a non-text ts (an epoch number) can never match the ISO pattern: NUL-prefixed
        text = (f"CASE typeof({q}) WHEN 'text' THEN {q} WHEN 'null' THEN '' WHEN 'blob' THEN char(0) || hex({q}) "
                f"ELSE char(0) || CAST({q} AS TEXT) END")
    else:
        text = _as_text(q)
    out = [f"{text} AS {name}_t", f"typeof({q}) AS {name}_y"]
    if kind == "num":
        out.append(f"CASE WHEN typeof({q}) IN ('integer', 'real') THEN CAST({q} AS REAL) ELSE 0.0 END AS {name}_n")
    return out


def _term(name: str, kind: str, present: bool, role: str) -> str:
    """One column's contribution to ``h`` (an integer; see the module docstring)."""
    if not present:
        return "0"
    q = f'"{name}"'
    if kind == "num":
        return f"coalesce(CAST({q} * 1e8 AS INTEGER) % {P}, 0)"
    if kind == "ts":
        return f"(coalesce(CAST(unixepoch({q}, 'subsec') * 1000 AS INTEGER) % {P}, 0) + length({q}))"
    def at(k: int, w: int) -> str:  # a position past the end is '' → unicode NULL → 0
        return f" + ifnull(unicode(substr({q}, {k}, 1)), 0) * {w}"

    base = f"(length({q}) * 131 + unicode({q})"
    if role == "id":
        base += at(-1, 7) + at(-2, 11)
    elif role == "symbol":
        base += at(2, 7) + at(3, 11) + at(-1, 13)
    elif role == "wide":
        base += at(-1, 7)
    return f"coalesce({base}), 0)"


def row_hash_sql(spec: TableSpec, have: dict[str, str]) -> str:
    roles = {spec.id_column: "id", "symbol": "symbol", "strategy": "wide", "note": "wide"}
    terms = [f"({_term(have.get(c, c), k, c in have, roles.get(c, ''))}) * {2 * i + 1}"
             for i, (c, k) in enumerate(spec.columns)]
    return f"((({' + '.join(terms)}) % {P}) * (rowid % {ROW_WEIGHT_MOD} + 1))"


class TradingDb:
    """A read-only ADBC connection holding one read transaction: every read sees the same instant,
    while the trading engine keeps writing (it owns the file: we never create, migrate or lock it)."""

    def __init__(self, path: Path):
        import adbc_driver_manager
        import adbc_driver_sqlite.dbapi as adbc

        self._errors = (adbc_driver_manager.Error, OSError)
        try:
            self.con = adbc.connect(f"file:{path.resolve().as_posix()}?mode=ro")
            self.cur = self.con.cursor()
            self.cur.execute("PRAGMA busy_timeout = 30000")
            self.cur.fetchall()
            # the connection is not autocommit: the driver opened a deferred transaction, which
            # takes its snapshot at this first read of the file
            self.cur.execute("SELECT count(*) FROM sqlite_master")
            self.cur.fetchall()
        except self._errors as exc:
            self.close()
            raise SourceError(str(exc).splitlines()[0]) from None

    def close(self) -> None:
        for obj in (getattr(self, "cur", None), getattr(self, "con", None)):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing a broken handle must not hide the first error
                    pass

    def __enter__(self) -> "TradingDb":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _rows(self, sql: str) -> list[tuple]:
        try:
            self.cur.execute(sql)
            return self.cur.fetchall()
        except self._errors as exc:
            raise SourceError(str(exc).splitlines()[0]) from None

    def arrow(self, sql: str) -> pa.Table:
        try:
            self.cur.execute(sql)
            return self.cur.fetch_arrow_table()
        except self._errors as exc:
            raise SourceError(str(exc).splitlines()[0]) from None

    def columns(self, table: str) -> dict[str, str] | None:
        """Lower-case name → declared name, or None when the table (or view) does not exist."""
        if not self._rows(f"SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = '{table}'"):
            return None
        return {r[0].lower(): r[0] for r in self._rows(f"SELECT name FROM pragma_table_info('{table}')")}

    def has_rowid(self, table: str) -> bool:
        """False for a WITHOUT ROWID table or a view: rows are then numbered in table order."""
        try:
            self.cur.execute(f'SELECT rowid FROM "{table}" LIMIT 0')
            self.cur.fetchall()
            return True
        except self._errors:
            return False

    def read(self, spec: TableSpec, have: dict[str, str], where: str = "", rowid: bool = True,
             limit: int | None = None) -> pa.Table:
        """Rows as typed parts (see module docstring) plus ``_rowid`` and ``_h``, in rowid order
        (the first ``limit`` of them: a seek on the rowid b-tree, so reading a table block by block
        costs one pass over it)."""
        if rowid and limit is not None and all(c in have for c, _ in spec.columns):
            fast = self._read_conforming(spec, have, where, limit)
            if fast is not None:
                return fast
        parts = ["rowid AS _rowid" if rowid else "row_number() OVER () AS _rowid",
                 f"{row_hash_sql(spec, have)} AS _h" if rowid else "0 AS _h"]
        for c, kind in spec.columns:
            parts += _select_parts(have.get(c, c), c, kind, c in have)
        sql = f'SELECT {", ".join(parts)} FROM "{spec.name}"'
        if rowid:
            sql += f" {where} ORDER BY rowid" + (f" LIMIT {int(limit)}" if limit is not None else "")
        t = self.arrow(sql)
        names = [p.rsplit(" AS ", 1)[1] for p in parts]
        t = t.rename_columns(names)
        # an empty result carries no inferred types: give every part its fixed type
        types = {n: (pa.int64() if n in ("_rowid", "_h") else pa.float64() if n.endswith("_n") else pa.string())
                 for n in names}
        return pa.table({n: t.column(n).cast(types[n]) for n in names})

    def _read_conforming(self, spec: TableSpec, have: dict[str, str], where: str, limit: int) -> pa.Table | None:
        """The same typed parts as ``read`` builds, about half the SQLite work, when every value of
        these rows has its column's SQLite type (text for text and ts, integer or real for numbers,
        no NULL) — the engine's normal output; else None (and ``read`` builds every part with CASE
        expressions). Each row carries ``_bad`` (a value of another type), computed in the same
        pass: a block with one such row, or one on which ADBC's type inference fails, is re-read the
        general way. Texts are as stored (``_y`` = 'text'), numbers REAL with their SQLite type; a
        number's ``_t`` (only ever shown in a violation message) is Arrow's spelling of the value."""
        bad = " OR ".join(f"typeof(\"{have[c]}\") NOT IN ('integer', 'real')" if kind == "num"
                          else f"typeof(\"{have[c]}\") != 'text'" for c, kind in spec.columns)
        sel = ["rowid AS _rowid", f"{row_hash_sql(spec, have)} AS _h", f"({bad}) AS _bad"]
        for c, kind in spec.columns:
            q = f'"{have[c]}"'
            sel += ([f"typeof({q}) AS {c}_y", f"CAST({q} AS REAL) AS {c}_n"] if kind == "num" else [f"{q} AS {c}_t"])
        try:
            t = self.arrow(f'SELECT {", ".join(sel)} FROM "{spec.name}" {where} ORDER BY rowid LIMIT {int(limit)}')
            t = t.rename_columns([x.rsplit(" AS ", 1)[1] for x in sel])
            if t.num_rows and bool(pc.any(t.column("_bad").cast(pa.bool_())).as_py()):
                return None
            out = {"_rowid": t.column("_rowid").cast(pa.int64()), "_h": t.column("_h").cast(pa.int64())}
            for c, kind in spec.columns:
                if kind == "num":
                    value = t.column(f"{c}_n").cast(pa.float64())
                    out.update({f"{c}_t": value.cast(pa.string()), f"{c}_y": t.column(f"{c}_y").cast(pa.string()),
                                f"{c}_n": value})
                else:
                    out.update({f"{c}_t": t.column(f"{c}_t").cast(pa.string()),
                                f"{c}_y": pa.repeat(pa.scalar("text", pa.string()), t.num_rows)})
        except (SourceError, pa.ArrowException):   # a value the inferred column type cannot hold
            return None
        return pa.table(out)

    def any_row(self, table: str, where: str) -> bool:
        return bool(self._rows(f'SELECT EXISTS (SELECT 1 FROM "{table}" {where})')[0][0])

    def range_stats(self, spec: TableSpec, have: dict[str, str], ranges: list[tuple[int, int]],
                    content: list[bool]) -> list[tuple[int, int, int | None]]:
        """(count, sum of rowids, sum of row hashes or None) per rowid range ``(lo, hi]``."""
        h = row_hash_sql(spec, have)
        out = []
        for (lo, hi), with_hash in zip(ranges, content):
            agg = f"count(*), coalesce(sum(rowid), 0){f', coalesce(sum({h}), 0)' if with_hash else ''}"
            try:
                row = self._rows(f'SELECT {agg} FROM "{spec.name}" WHERE rowid > {lo} AND rowid <= {hi}')[0]
            except SourceError as exc:  # "integer overflow" in a range that grew enormously: re-read it
                if "overflow" not in str(exc):
                    raise
                row = (-1, -1, -1)
            out.append((int(row[0]), int(row[1]), int(row[2]) if with_hash else None))
        return out

    def unique_on(self, table: str, column: str) -> bool:
        """True when a UNIQUE index (or the PRIMARY KEY) covers exactly ``column``: SQLite itself
        then rules out two rows with the same raw value, so only whitespace-padded ids can clash."""
        for (name,) in self._rows(f"SELECT name FROM pragma_index_list('{table}') WHERE \"unique\" = 1"):
            cols = [r[0].lower() for r in self._rows(f"SELECT name FROM pragma_index_info('{name}')")]
            if cols == [column.lower()]:
                return True
        return False

    def max_rowid(self, table: str) -> int | None:
        r = self._rows(f'SELECT max(rowid) FROM "{table}"')[0][0]
        return None if r is None else int(r)
