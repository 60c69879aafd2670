"""The ingest run: validate every input, then land it — all or nothing, crash-safe, incremental.

Order: under ``.ingest.lock``, first finish whatever a crashed run committed (table_blocks.finalize),
then read and validate everything (securities, marks, the trading.db tables); any violation raises
``InputError`` and leaves the landing as it was. Writing: table blocks as ``.pending`` (new rows
already while they are read, trading_tables.read_tables), mark files, the other table blocks,
securities, the batch row, then ``_state.json`` — the commit — and last the renames and deletions it
implies. A crash before the commit leaves the previous landing; after it, the next run redoes the
renames. Either way the next run lands exactly what a clean run would.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from mech_exo.home import Home
from mech_exo.ingest import table_blocks as tb
from mech_exo.ingest.files import write_json_atomic, write_parquet_atomic
from mech_exo.ingest.marks import MarkFile, check_across_files, mark_landing_table, plan_marks
from mech_exo.ingest.result import IngestResult
from mech_exo.ingest.schemas import MARKS_SCHEMA, SCHEMA_PLACEHOLDER
from mech_exo.ingest.securities import read_securities
from mech_exo.ingest.state import STATE_VERSION, append_batch, load_state, next_seq
from mech_exo.ingest.trading_tables import SPECS, TablesRead, read_tables, table_dir
from mech_exo.ingest.validate_tables import SCHEMAS
from mech_exo.ingest.violations import Collector
from mech_exo.locks import exclusive_lock
from mech_exo.timeparse import datetime_to_micros, micros_to_datetime

LEGACY_SNAPSHOTS = ("fills.parquet", "cash_flows.parquet")  # state version 1 landed full snapshots


def commit_point(step: str) -> None:
    """Called between the write steps (``blocks_written``, ``state_written``); does nothing. Tests
    replace it to crash a real run exactly there."""


def ingest(home: Home, now: datetime | None = None, *, verify_all: bool = False,
           rotate: bool = True) -> IngestResult:
    """Validate all inputs and land them; raise ``InputError`` (nothing written) on any violation.

    ``now`` (default: the wall clock) bounds "future" timestamps: more than 5 minutes after it is a
    violation, since a future fill or mark would poison every metric until real time catches up.
    ``verify_all`` re-checks the content hash of every landed fills/cash_flows block (a full
    refresh does; a tick verifies the newest blocks and a rotating share of the older ones).
    ``rotate=False`` verifies the newest blocks only (counts and rowid sums of every block are still
    checked, so an inserted or deleted old row is seen at once): the watcher's first ingest of a tick,
    on the halt's path; its second ingest, after the intraday decision, does the rotating share.
    """
    budget = None if verify_all else (tb.VERIFY_ROWS if rotate else 0)
    started = time.perf_counter()
    now_us = datetime_to_micros(now or datetime.now(timezone.utc))
    home.landing_dir.mkdir(parents=True, exist_ok=True)
    # two ingests at once would interleave landing writes and both claim the same landed_seq
    with exclusive_lock(home.landing_dir / ".ingest.lock"):
        result = _ingest_locked(home, now_us, budget)
    result.duration_s = time.perf_counter() - started
    return result


def _table_states(home: Home, state: dict | None, warnings: list[str]) -> dict[str, dict | None]:
    """Per table: its committed block state, with the directory made to match it (crash recovery)."""
    out: dict[str, dict | None] = {}
    for spec in SPECS:
        st = (state or {}).get("tables", {}).get(spec.name)
        if not tb.finalize(table_dir(home, spec.name), st):
            warnings.append(f"data/landing/{spec.name}/ is missing landed blocks; re-landing the table")
            tb.finalize(table_dir(home, spec.name), None)
            st = None
        out[spec.name] = st
    return out


def _ingest_locked(home: Home, now_us: int, verify_budget: int | None) -> IngestResult:
    col, warnings = Collector(), []
    state = load_state(home, warnings)
    states = _table_states(home, state, warnings)
    seq = next_seq(home, state)
    securities = read_securities(home, col, warnings)
    marks = plan_marks(home, state, now_us, col, warnings)
    check_across_files(home, marks, col, warnings)
    # last: the tables spill validated blocks as they are read, which is pointless once a mark file
    # is known to be bad (they are then only validated, to name every bad row; read_tables cleans up)
    tables = read_tables(home, states, seq, now_us, None if state is None else verify_budget, col)
    col.raise_if_any()
    return _land(home, state, seq, now_us, tables, securities, marks, warnings)


def _land_marks(home: Home, state: dict | None, seq: int, marks: list[MarkFile],
                warnings: list[str]) -> tuple[dict, list[int], list[str], bool]:
    marks_dir = home.landing_dir / "marks"
    marks_dir.mkdir(parents=True, exist_ok=True)
    known = (state or {}).get("marks", {})
    dirty: list[int] = []
    new_state: dict[str, Any] = {}
    for mf in marks:
        entry = dict(mf.fingerprint, key=mf.key)
        if mf.changed:
            write_parquet_atomic(mark_landing_table(mf, seq), marks_dir / f"{mf.key}.parquet")
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
        write_parquet_atomic(MARKS_SCHEMA.empty_table(), schema_file)
    keep = {f"{e['key']}.parquet" for e in new_state.values()} | {SCHEMA_PLACEHOLDER}
    orphans = [p for p in marks_dir.glob("*.parquet") if p.name not in keep]
    for p in orphans:
        p.unlink()
    for p in list(marks_dir.glob(".*.tmp")) + list(home.landing_dir.glob(".*.tmp")):
        p.unlink(missing_ok=True)
    return new_state, dirty, removed, bool(orphans)


def _land(home: Home, state: dict | None, seq: int, now_us: int, tables: TablesRead,
          securities, marks: list[MarkFile], warnings: list[str]) -> IngestResult:
    new_marks, dirty, removed, orphans = _land_marks(home, state, seq, marks, warnings)
    for run in tables.runs.values():
        tb.assemble(run, seq, SCHEMAS[run.spec.name])
        tb.write_pending(run)
    commit_point("blocks_written")
    dirty += [tables.dirty_from] if tables.dirty_from is not None else []
    write_parquet_atomic(securities, home.landing_dir / "securities.parquet")
    legacy = state is not None and "tables" not in state
    full_refresh = state is None or legacy or bool(removed) or orphans
    dirty_from = min(dirty) if dirty else None
    n_marks = sum(int(e.get("n_rows") or 0) for e in new_marks.values())
    n = {name: sum(b.n for b in run.blocks) for name, run in tables.runs.items()}
    append_batch(home, {"landed_seq": seq, "landed_at": now_us, "dirty_from": dirty_from,
                        "full_refresh": full_refresh, "n_marks": n_marks,
                        "n_fills": n["fills"], "n_flows": n["cash_flows"]})
    table_state = {name: tb.state_of(run) for name, run in tables.runs.items()}
    write_json_atomic({"version": STATE_VERSION, "last_seq": seq, "marks": new_marks, "tables": table_state},
                      home.landing_dir / "_state.json")
    commit_point("state_written")
    for name, run in tables.runs.items():
        tb.finalize(run.directory, table_state[name])
    for legacy_file in LEGACY_SNAPSHOTS:
        (home.landing_dir / legacy_file).unlink(missing_ok=True)
    runs = tables.runs
    return IngestResult(
        landed_seq=seq, n_fills=n["fills"], n_flows=n["cash_flows"], n_securities=securities.num_rows,
        n_marks=n_marks, n_marks_landed=sum(len(m.frame) for m in marks if m.changed),
        files_landed=[m.rel for m in marks if m.changed], files_skipped=[m.rel for m in marks if not m.changed],
        files_removed=removed, dirty_from=micros_to_datetime(dirty_from) if dirty_from is not None else None,
        full_refresh=full_refresh, warnings=warnings,
        rows_read={k: r.rows_read for k, r in runs.items()},
        rows_verified={k: r.rows_verified for k, r in runs.items()},
        blocks_relanded={k: len(r.replaced) for k, r in runs.items()},
    )
