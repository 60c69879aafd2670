"""trading.db's two tables for one run: open, check their shape, plan the blocks, validate, diff.

Both tables are read in one ADBC read transaction (sqlite_source.TradingDb), so fills and cash
flows come from the same instant while the engine keeps writing. A missing file is a fresh home
(no fills yet); an existing one must hold both tables with the SPEC §2 columns.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mech_exo.home import Home
from mech_exo.ingest import table_blocks as tb
from mech_exo.ingest.files import rel
from mech_exo.ingest.sqlite_source import SourceError, TableSpec, TradingDb
from mech_exo.ingest.validate_tables import FILLS, FLOWS, SCHEMAS, VALIDATORS, report_duplicate_ids
from mech_exo.ingest.violations import Collector

SPECS = (FILLS, FLOWS)


@dataclass
class TablesRead:
    runs: dict[str, tb.TableRun]
    dirty_from: int | None          # earliest ts (µs) any of these tables changed, None = nothing


def table_dir(home: Home, name: str):
    return home.landing_dir / name


def _have(db: TradingDb, spec: TableSpec, db_rel: str, col: Collector) -> dict[str, str] | None:
    have = db.columns(spec.name)
    if have is None:
        col.add(db_rel, None, f"table '{spec.name}' is missing (SPEC §2 input contract)", show_value=False)
        return None
    missing = [c for c in spec.required if c not in have]
    if missing:
        col.add(db_rel, None, f"missing required column(s): {', '.join(missing)}", show_value=False, table=spec.name)
        return None
    return have


def read_tables(home: Home, states: dict[str, dict | None], seq: int, now_us: int, verify_budget: int | None,
                col: Collector) -> TablesRead | None:
    """None after reporting a file- or table-level violation (then nothing is planned).

    Each part is validated as soon as it is read and, when it is new rows and nothing is wrong so
    far, spilled as its pending block file (table_blocks.spill): memory holds one block of raw rows
    at a time however long the history. A run with any violation removes what it spilled."""
    path, db_rel = home.trading_db, rel(home, home.trading_db)
    runs: dict[str, tb.TableRun] = {}
    done = False
    try:
        try:
            db = TradingDb(path) if path.exists() else None
            try:
                haves = {s.name: _have(db, s, db_rel, col) for s in SPECS} if db else {s.name: None for s in SPECS}
                if db and any(h is None for h in haves.values()):
                    return None
                for spec in SPECS:
                    behind = Behind(_part_handler(spec, table_dir(home, spec.name), db_rel, now_us, col))
                    try:
                        runs[spec.name] = tb.plan_table(db, spec, haves[spec.name], states.get(spec.name),
                                                        table_dir(home, spec.name), seq, verify_budget, behind)
                    finally:
                        behind.close()
            finally:
                if db:
                    db.close()
        except SourceError as exc:
            col.add(db_rel, None, f"not a readable SQLite database ({exc})", show_value=False)
            return None
        dirty: list[int] = []
        for run in runs.values():
            _check_ids(run, db_rel, col)
            if not col.total:
                dirty += [t for t in [_changed_min_ts(run)] if t is not None]
        done = not col.total
        return TablesRead(runs, min(dirty) if dirty else None)
    finally:
        if not done:
            for spec in SPECS:
                tb.discard_spilled(table_dir(home, spec.name), seq)


class Behind:
    """Runs a part handler in one worker thread, at most one part behind the reader: SQLite reads
    block k+1 (in C, without the GIL) while block k is validated and written (Arrow, mostly without
    the GIL too), so a first ingest costs about the larger of the two, not their sum, and memory
    holds at most three blocks of raw rows. The handler's first exception is raised by the next
    call or by ``close`` (which waits for the worker), and later parts are then skipped."""

    def __init__(self, handler: tb.OnPart):
        self.handler, self.error = handler, None
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._work, name="ingest-validate", daemon=True)
        self.thread.start()

    def __call__(self, part: tb.Part, raw: pa.Table) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((part, raw))

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.handler(*item)
                except BaseException as exc:  # noqa: BLE001 - handed to the reader thread
                    self.error = exc
            del item

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _part_handler(spec: TableSpec, directory, db_rel: str, now_us: int, col: Collector) -> tb.OnPart:
    validate, schema, idc = VALIDATORS[spec.name], SCHEMAS[spec.name], spec.id_column

    def on_part(part: tb.Part, raw: pa.Table) -> None:
        part.table = validate(raw, db_rel, now_us, col) if raw.num_columns > 2 else schema.empty_table()
        if not part.table.num_rows:
            return
        part.padded = bool(pc.any(pc.not_equal(raw.column(f"{idc}_t"), part.table.column(idc))).as_py())
        part.min_ts = int(pc.min(part.table.column("ts").cast(pa.int64())).as_py())
        if col.total:            # nothing will be landed: keep validating (to name every row), hold nothing
            part.table = schema.empty_table()
        elif not part.old:       # new rows: on disk now; re-read ranges stay for the old/new diff
            tb.spill(directory, part)

    return on_part


def _check_ids(run: tb.TableRun, db_rel: str, col: Collector) -> None:
    # With SQLite enforcing unique raw ids, a new row can only repeat an id (its own table's or a
    # landed one) when a raw id was whitespace-padded (landing trims): only then are ids compared.
    if col.total or not any(p.n for p in run.parts):
        return
    if run.unique_id and not any(p.padded for p in run.parts) and not any(b.padded for b in run.keep):
        return
    new_rows = tb.new_ids(run)
    if new_rows is None:
        return
    landed = tb.landed_with_ids(run, new_rows.column(run.spec.id_column).unique())
    landed = landed if landed is not None else new_rows.slice(0, 0)
    report_duplicate_ids(new_rows, landed, run.spec, db_rel, col)


def _changed_min_ts(run: tb.TableRun) -> int | None:
    """Earliest ts among rows added, removed or changed (µs): new rows by their own ts; a re-read
    range by the rows that differ between its landed and its new version (source_row aside)."""
    import duckdb

    out: list[int] = []
    out += [p.min_ts for p in run.parts if not p.old and p.min_ts is not None]
    reread = [p for p in run.parts if p.old]
    if reread:
        schema = SCHEMAS[run.spec.name]
        cols = ", ".join(f'"{c}"' for c in schema.names if c != "source_row")
        old = tb.landed_table(run, run.replaced)
        old = old.cast(schema) if old is not None else schema.empty_table()
        new = pa.concat_tables([p.table for p in reread if p.table is not None] or [schema.empty_table()])
        con = duckdb.connect()
        try:
            con.register("old_rows", old)
            con.register("new_rows", new)
            got = con.execute(f"""
                select epoch_us(min(ts)) from (
                  (select {cols} from old_rows except all select {cols} from new_rows)
                  union all
                  (select {cols} from new_rows except all select {cols} from old_rows))""").fetchone()[0]
        finally:
            con.close()
        if got is not None:
            out.append(int(got))
    return min(out) if out else None
