"""fills / cash_flows landed as blocks: one Parquet file per SQLite rowid range, appended per tick.

``data/landing/fills/bSSSSSS_KKK.parquet`` holds the validated rows whose rowid lies in a range
``(lo, hi]``; the ranges are contiguous from the first row to the watermark (the highest rowid
landed). ``_state.json`` keeps per block: file, lo, hi, and what SQLite said about the range when it
was landed — ``n`` (count), ``rowsum`` (sum of rowids) and ``hash`` (sum of row hashes,
sqlite_source.py) — plus ``verified_seq``, the last run that re-checked its content.

A run (``plan_table``):
* reads the rows above the watermark only, ``BLOCK_ROWS`` at a time (one rowid-ordered query per
  block, inside the one read transaction), and hands each block to the caller as soon as it is read:
  the caller validates it and may spill it at once as a ``.pending`` file (``spill``), so a first
  ingest of a 25M-row table holds one block's raw parts, not the whole table;
* asks SQLite, per old block, for count and sum of rowids (a b-tree walk: catches any deleted or
  inserted row at once) and, for the newest blocks (``HOT_ROWS``) plus the least recently verified
  older ones up to ``VERIFY_ROWS`` rows, the content hash (catches an edited row; every block is
  re-verified within ``ceil(history / VERIFY_ROWS)`` runs, every run with ``verify_all``);
* re-reads a block whose figures differ, lands it anew, and diffs old vs new rows to find the earliest
  ts that changed (``dirty_from``: dbt recomputes from that session on).
Small tail blocks are merged as they accumulate (two neighbours of similar size, up to
``BLOCK_ROWS``), so a session of 5-minute ticks leaves a few files, not thousands. The figures of a
merged block are the exact sums of its parts'.

Crash safety: new block files are written as ``<file>.pending`` (not matched by the dbt glob
``*.parquet``); ``_state.json`` is the commit; only then are pending files renamed and replaced
blocks deleted (``finalize``, which the next run repeats first, so a crash anywhere neither loses
nor doubles rows: before the commit the old state and files stand, after it the renames are redone).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mech_exo.ingest.files import fsync_dir, write_parquet_atomic, write_parquet_durable
from mech_exo.ingest.schemas import SCHEMA_PLACEHOLDER
from mech_exo.ingest.sqlite_source import TableSpec, TradingDb

BLOCK_ROWS = 262_144
HOT_ROWS = 100_000
VERIFY_ROWS = 1_000_000
FIRST_LO = -(2 ** 63)
PENDING = ".pending"


@dataclass
class Block:
    file: str | None       # None: a range that holds no rows now (kept so re-inserted rows are seen)
    lo: int                # exclusive
    hi: int                # inclusive
    n: int
    rowsum: int
    hash: int
    verified_seq: int
    padded: bool = False   # holds a row whose raw id had surrounding whitespace (see trading_tables)

    @classmethod
    def from_dict(cls, d: dict) -> "Block":
        return cls(d["file"], int(d["lo"]), int(d["hi"]), int(d["n"]), int(d["rowsum"]), int(d["hash"]),
                   int(d["verified_seq"]), bool(d.get("padded", False)))


@dataclass
class Part:
    """A rowid range read this run. ``old``: the landed blocks it replaces ([] for new rows).

    Its raw rows (the typed parts) are not kept: they go to the caller's ``on_part`` once, and
    what the rest of the run needs of them — count, rowid sum, hash sum — is taken here (``of``)."""

    lo: int
    hi: int
    old: list[Block]
    name: str = ""                  # the block file this part lands as (when it holds rows)
    table: pa.Table | None = None   # validated rows (set by the caller; None once spilled)
    padded: bool = False            # a raw id had surrounding whitespace (set by the caller)
    spilled: bool = False           # ``table`` is already on disk as ``name + PENDING``
    min_ts: int | None = None       # earliest validated ts (µs), set by the caller
    n: int = 0
    rowsum: int = 0
    hsum: int = 0

    @classmethod
    def of(cls, lo: int, hi: int, raw: pa.Table, old: list[Block], name: str = "") -> "Part":
        part = cls(lo, hi, old, name)
        if raw.num_rows:
            part.n = raw.num_rows
            part.rowsum = int(np.sum(raw.column("_rowid").to_numpy(), dtype=np.int64))
            part.hsum = int(np.sum(raw.column("_h").to_numpy(), dtype=np.int64))
        return part

    def stats(self) -> tuple[int, int, int]:
        return self.n, self.rowsum, self.hsum


@dataclass
class TableRun:
    spec: TableSpec
    directory: Path
    keep: list[Block]
    parts: list[Part]
    rowid: bool = True
    unique_id: bool = False       # SQLite enforces unique raw ids (PRIMARY KEY / UNIQUE index)
    rows_verified: int = 0
    full: bool = False            # no usable state: everything was read
    blocks: list[Block] = field(default_factory=list)   # after ``assemble``
    to_write: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def replaced(self) -> list[Block]:
        return [b for p in self.parts for b in p.old]

    @property
    def rows_read(self) -> int:
        return sum(p.n for p in self.parts)


OnPart = Callable[["Part", pa.Table], None]


def _name(seq: int, k: int) -> str:
    """The block file of this run's k-th part."""
    return f"b{seq:06d}_{k:03d}.parquet"


def _where(lo: int, hi: int | None) -> str:
    return f"WHERE rowid > {lo}" + (f" AND rowid <= {hi}" if hi is not None else "")


def _read_parts(db: TradingDb, spec: TableSpec, have: dict[str, str], lo: int, hi: int | None,
                old: list[Block], parts: list[Part], seq: int, on_part: OnPart) -> None:
    """The rows of ``(lo, hi]`` (hi=None: everything above ``lo``), one query of at most BLOCK_ROWS
    rows per part, each handed to ``on_part`` with its raw rows before the next is read."""
    start, first = lo, True
    while True:
        raw = db.read(spec, have, _where(start, hi), limit=BLOCK_ROWS)
        if raw.num_rows == 0 and (hi is None or not first):
            return
        last_rowid = int(raw.column("_rowid")[-1].as_py()) if raw.num_rows else None
        more = raw.num_rows == BLOCK_ROWS and db.any_row(spec.name, _where(last_rowid, hi))
        end = last_rowid if (more or hi is None) else hi
        part = Part.of(start, end, raw, old if first else [], name=_name(seq, len(parts)))
        parts.append(part)
        on_part(part, raw)
        del raw
        if not more:
            return
        start, first = end, False


def _whole(raw: pa.Table, lo: int, hi: int, old: list[Block], seq: int, on_part: OnPart) -> Part:
    part = Part.of(lo, hi, raw, old, name=_name(seq, 0))
    on_part(part, raw)
    return part


def _to_verify(blocks: list[Block], budget: int | None) -> list[bool]:
    """Which blocks get their content hash checked: all (``budget`` None), else the hot tail plus
    the least recently verified older blocks up to ``budget`` rows (0: the hot tail only)."""
    if budget is None:
        return [True] * len(blocks)
    chosen, covered = set(), 0
    for i in range(len(blocks) - 1, -1, -1):   # the hot tail, where late corrections usually land
        if covered >= HOT_ROWS:
            break
        chosen.add(i)
        covered += blocks[i].n
    for i in sorted(set(range(len(blocks))) - chosen, key=lambda i: (blocks[i].verified_seq, blocks[i].lo)):
        if budget <= 0:
            break
        chosen.add(i)
        budget -= max(blocks[i].n, 1)
    return [i in chosen for i in range(len(blocks))]


def plan_table(db: TradingDb | None, spec: TableSpec, have: dict[str, str] | None, state: dict | None,
               directory: Path, seq: int, verify_budget: int | None, on_part: OnPart) -> TableRun:
    """Decide and read what this run lands for one table (inside the caller's read transaction).
    ``on_part(part, raw)`` is called with every part as soon as it is read (module docstring)."""
    old = [Block.from_dict(b) for b in (state or {}).get("blocks", [])]
    if db is None or have is None:  # no trading.db: the table is empty now; every landed row is gone
        gone = [_whole(_empty(), FIRST_LO, old[-1].hi, old, seq, on_part)] if old else []
        return TableRun(spec, directory, [], gone, full=state is None)
    if not db.has_rowid(spec.name):  # WITHOUT ROWID table or a view: no watermark, read it all
        raw = db.read(spec, have, rowid=False)
        return TableRun(spec, directory, [], [_whole(raw, FIRST_LO, raw.num_rows, old, seq, on_part)],
                        rowid=False, full=True)
    unique_id = db.unique_on(spec.name, have[spec.id_column])
    parts: list[Part] = []
    if state is None or not state.get("rowid", True):
        _read_parts(db, spec, have, FIRST_LO, None, old, parts, seq, on_part)
        return TableRun(spec, directory, [], parts, unique_id=unique_id, full=True)
    content = _to_verify(old, verify_budget)
    stats = db.range_stats(spec, have, [(b.lo, b.hi) for b in old], content)
    keep, verified = [], 0
    for b, (n, rowsum, h), checked in zip(old, stats, content):
        if n == b.n and rowsum == b.rowsum and (not checked or h == b.hash):
            if checked:
                b.verified_seq, verified = seq, verified + n
            keep.append(b)
        else:
            _read_parts(db, spec, have, b.lo, b.hi, [b], parts, seq, on_part)
    wm = old[-1].hi if old else FIRST_LO
    _read_parts(db, spec, have, wm, None, [], parts, seq, on_part)
    return TableRun(spec, directory, keep, parts, unique_id=unique_id, rows_verified=verified)


def spill(run_directory: Path, part: Part) -> None:
    """Write a validated new part now as its pending block file and let its rows go (see module
    docstring: pending files are only made final by a committed state, else ``finalize`` deletes them)."""
    run_directory.mkdir(parents=True, exist_ok=True)
    write_parquet_durable(part.table, run_directory / (part.name + PENDING))
    part.table, part.spilled = None, True


def discard_spilled(directory: Path, seq: int) -> None:
    """A run that lands nothing (a violation, an unreadable file, a crash mid-table) removes every
    block it spilled: all of them, and only them, are named ``b<seq>_…`` + PENDING."""
    for p in directory.glob(f"b{seq:06d}_*{PENDING}"):   # every ``_name(seq, k)`` + PENDING
        p.unlink(missing_ok=True)


def new_ids(run: TableRun) -> pa.Table | None:
    """(id, source_row) of every row this run lands: from memory, or from the spilled files."""
    idc = run.spec.id_column
    cols = [idc, "source_row"]
    got = [p.table.select(cols) for p in run.parts if p.table is not None and p.table.num_rows]
    files = [str(run.directory / (p.name + PENDING)) for p in run.parts if p.spilled]
    if files:
        got.append(ds.dataset(files, format="parquet").to_table(columns=cols))
    return pa.concat_tables(got) if got else None


def _empty() -> pa.Table:
    return pa.table({"_rowid": pa.array([], pa.int64()), "_h": pa.array([], pa.int64())})


def landed_table(run: TableRun, blocks: list[Block], columns: list[str] | None = None) -> pa.Table | None:
    files = [str(run.directory / b.file) for b in blocks if b.file]
    if not files:
        return None
    return ds.dataset(files, format="parquet").to_table(columns=columns)


def landed_with_ids(run: TableRun, ids: pa.Array) -> pa.Table | None:
    """Rows of the kept blocks whose id is among ``ids`` (id column read, filtered in C)."""
    files = [str(run.directory / b.file) for b in run.keep if b.file]
    if not files or len(ids) == 0:
        return None
    idc = run.spec.id_column
    return ds.dataset(files, format="parquet").to_table(columns=[idc, "source_row"],
                                                         filter=pc.field(idc).isin(ids))


def assemble(run: TableRun, seq: int, schema: pa.Schema) -> None:
    """The block list after this run: kept blocks + parts as blocks, small tail blocks merged."""
    tables: dict[int, pa.Table] = {}
    spilled: set[int] = set()
    blocks = list(run.keep)
    for part in run.parts:
        n, rowsum, h = part.stats()
        b = Block(part.name if n else None, part.lo, part.hi, n, rowsum, h, seq, part.padded)
        blocks.append(b)
        if part.spilled and n:
            spilled.add(id(b))
        else:
            tables[id(b)] = part.table if part.table is not None else schema.empty_table()
    blocks.sort(key=lambda b: b.lo)

    def rows_of(x: Block) -> pa.Table:
        if id(x) in tables:
            return tables[id(x)]
        return pq.read_table(run.directory / (x.file + (PENDING if id(x) in spilled else "")))

    merged = 0
    while (len(blocks) >= 2 and blocks[-2].n <= blocks[-1].n and blocks[-2].n + blocks[-1].n <= BLOCK_ROWS
           and run.rowid):
        a, b = blocks[-2], blocks[-1]
        parts = [rows_of(x) for x in (a, b) if x.file]
        m = Block(f"b{seq:06d}_m{merged:02d}.parquet", a.lo, b.hi, a.n + b.n, a.rowsum + b.rowsum, a.hash + b.hash,
                  min(a.verified_seq, b.verified_seq), a.padded or b.padded)
        merged += 1
        if not parts:
            m.file = None
        tables[id(m)] = pa.concat_tables(parts).cast(schema) if parts else schema.empty_table()
        blocks[-2:] = [m]   # a merged-away spilled file is deleted by ``finalize`` (not in the state)
    run.blocks = blocks
    run.to_write = {b.file: tables[id(b)] for b in blocks if b.file and id(b) in tables}


def state_of(run: TableRun) -> dict:
    return {"rowid": run.rowid, "blocks": [asdict(b) for b in run.blocks]}


def write_pending(run: TableRun) -> None:
    run.directory.mkdir(parents=True, exist_ok=True)
    placeholder = run.directory / SCHEMA_PLACEHOLDER
    for name, table in run.to_write.items():
        write_parquet_durable(table, run.directory / (name + PENDING))
    if not placeholder.exists():  # zero rows: the dbt glob <table>/*.parquet always matches a file
        write_parquet_atomic(_schema_only(run), placeholder)
    fsync_dir(run.directory)


def _schema_only(run: TableRun) -> pa.Table:
    from mech_exo.ingest.validate_tables import SCHEMAS

    return SCHEMAS[run.spec.name].empty_table()


def finalize(directory: Path, state: dict | None) -> bool:
    """Make the directory match the committed state: rename pending files of committed blocks, delete
    everything else. False when a committed block is missing altogether (the state cannot be used)."""
    if not directory.exists():
        return state is None or not state.get("blocks")
    wanted = {b["file"] for b in (state or {}).get("blocks", []) if b.get("file")}
    ok = True
    for name in wanted:
        final, pending = directory / name, directory / (name + PENDING)
        if not final.exists():
            if pending.exists():
                os.replace(pending, final)
            else:
                ok = False
    for p in directory.iterdir():
        if p.name not in wanted and p.name != SCHEMA_PLACEHOLDER:
            p.unlink()
    fsync_dir(directory)
    return ok
