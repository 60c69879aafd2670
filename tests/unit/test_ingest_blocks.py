"""fills / cash_flows as rowid-range blocks: a tick reads only new rows, edits and deletes of old rows
are found (and dirty_from is their ts), a crash at any write step re-runs to exactly what a clean
ingest lands, and rules still name file, row and rule in a new block. Real SQLite files, real
Parquet, a really killed process; the expected rows come from sqlite3 + pandas, not from ingest."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest
from ingest_fixtures import FILLS_DDL, FLOWS_DDL, execute, make_home, write_csv, write_trading_db

from mech_exo.ingest import InputError, ingest, landing, table_blocks

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DB = "data/trading.db"
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SPELLINGS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%d %H:%M:%S")


def fills(start: int, n: int) -> list[tuple]:
    """Fill i at T0 + i minutes, spelled three ways, prices with 4 decimals."""
    out = []
    for i in range(start, start + n):
        ts = (T0 + timedelta(minutes=i)).strftime(SPELLINGS[i % 3])
        out.append((f"F{i:05d}", ts, f"S{i % 7}", "BUY" if i % 2 else "SELL", float(1 + i % 50),
                    round(100 + i * 0.0137, 4), round((i % 5) * 0.25, 2), ("mom", "carry")[i % 2]))
    return out


def insert(home, rows: list[tuple]) -> None:
    con = sqlite3.connect(home.trading_db)
    with con:
        con.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)", rows)
    con.close()


def reference(home) -> pd.DataFrame:
    """What must be landed, computed independently: sqlite3 rows, pandas ISO parsing."""
    con = sqlite3.connect(home.trading_db)
    df = pd.read_sql("SELECT rowid AS source_row, * FROM fills ORDER BY rowid", con)
    con.close()
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601").dt.tz_localize(None).astype("datetime64[us]")
    df["commission"] = df["commission"].fillna(0.0)
    return df[["fill_id", "ts", "symbol", "side", "quantity", "price", "commission", "strategy", "source_row"]]


def landed(home, table: str = "fills") -> pd.DataFrame:
    """The table exactly as the dbt source reads it: DuckDB over the glob."""
    con = duckdb.connect()
    df = con.execute(f"select * from read_parquet('{home.landing_dir}/{table}/*.parquet') order by source_row").df()
    con.close()
    return df


def block_files(home, table: str = "fills") -> list[Path]:
    return sorted(p for p in (home.landing_dir / table).glob("b*.parquet"))


def assert_landed_equals_reference(home) -> None:
    got, want = landed(home), reference(home)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 rows, so a handful of fills spans several blocks (the logic is size-independent)."""
    monkeypatch.setattr(table_blocks, "BLOCK_ROWS", 4)
    monkeypatch.setattr(table_blocks, "HOT_ROWS", 4)
    monkeypatch.setattr(table_blocks, "VERIFY_ROWS", 10**9)


@pytest.fixture
def home(tmp_path):
    h = make_home(tmp_path / "home")
    write_trading_db(h, fills(0, 10), [("C1", "2026-03-01T13:00:00Z", 1e6, "deposit")])
    write_csv(h.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "S1", 101.0)])
    return h


# ------------------------------------------------------------------------------------------------
# a tick reads only what is new
# ------------------------------------------------------------------------------------------------
def test_first_ingest_lands_every_row_exactly(home, small_blocks):
    result = ingest(home, now=NOW)
    assert result.rows_read == {"fills": 10, "cash_flows": 1}
    assert len(block_files(home)) == 3  # 4 + 4 + 2 rows
    assert_landed_equals_reference(home)


def test_first_ingest_reads_one_block_at_a_time_and_spills_it_soon_after(home, small_blocks, monkeypatch):
    """A 25M-fill first ingest must not hold the table: every SQLite read returns at most one block,
    and the validator (one thread, at most one block behind the reader) has spilled block k as a
    pending file by the time block k+3 is read: at most three blocks of raw rows are in memory.
    24 rows = exactly 6 blocks of 4: the last full block must not leave an empty range behind it."""
    insert(home, fills(10, 14))
    reads, pending_at_read = [], []
    real = table_blocks.TradingDb.read

    def counting(self, spec, *a, **kw):
        if spec.name == "fills":
            pending_at_read.append(len(list((home.landing_dir / "fills").glob("*.pending"))))
        t = real(self, spec, *a, **kw)
        if spec.name == "fills":
            reads.append(t.num_rows)
        return t

    monkeypatch.setattr(table_blocks.TradingDb, "read", counting)
    result = ingest(home, now=NOW)
    assert result.rows_read["fills"] == 24
    assert reads == [4] * 6
    assert all(n >= k - 2 for k, n in enumerate(pending_at_read)), pending_at_read
    assert len(block_files(home)) == 6 and not list((home.landing_dir / "fills").glob("*.pending"))
    state = json.loads((home.landing_dir / "_state.json").read_text())["tables"]["fills"]["blocks"]
    assert [b["n"] for b in state] == [4] * 6 and all(b["file"] for b in state)
    assert all(a["hi"] == b["lo"] for a, b in zip(state, state[1:]))   # contiguous ranges
    assert_landed_equals_reference(home)
    insert(home, fills(24, 1))
    assert ingest(home, now=NOW).rows_read["fills"] == 1
    assert_landed_equals_reference(home)


def test_a_validator_crash_in_the_worker_thread_reaches_the_caller_and_lands_nothing(home, small_blocks, monkeypatch):
    """Validation runs one block behind the reader, in a thread: its exception must not be lost
    (nor the run report success); the blocks spilled before it are removed."""
    from mech_exo.ingest import trading_tables

    real, calls = trading_tables.VALIDATORS["fills"], []

    def crashing(raw, *a):
        calls.append(raw.num_rows)
        if len(calls) == 2:
            raise RuntimeError("validator bug")
        return real(raw, *a)

    monkeypatch.setitem(trading_tables.VALIDATORS, "fills", crashing)
    with pytest.raises(RuntimeError, match="validator bug"):
        ingest(home, now=NOW)
    assert not list(home.landing_dir.rglob("*.pending")) and not list(home.landing_dir.rglob("b*.parquet"))
    assert not (home.landing_dir / "_state.json").exists()
    assert calls == [4, 4]     # the third block was read but not validated after the crash
    monkeypatch.setitem(trading_tables.VALIDATORS, "fills", real)
    ingest(home, now=NOW)
    assert_landed_equals_reference(home)


def test_a_bad_row_in_the_last_block_leaves_nothing_of_the_blocks_spilled_before_it(home, small_blocks):
    """Blocks 1 and 2 were valid and spilled as pending files when block 3's bad row was read: the
    run still lands nothing, names the row, and leaves no pending file behind."""
    bad = list(fills(11, 1)[0])
    bad[5] = 0.0
    insert(home, fills(10, 1) + [tuple(bad)])
    with pytest.raises(InputError) as info:
        ingest(home, now=NOW)
    assert f"{DB} fills row 12 (fill_id=F00011): price must be > 0, got 0.0" in str(info.value)
    assert not list(home.landing_dir.rglob("*.pending")) and not list(home.landing_dir.rglob("b*.parquet"))
    assert not (home.landing_dir / "_state.json").exists()
    execute(home, "UPDATE fills SET price = 101.5 WHERE rowid = 12")
    assert ingest(home, now=NOW).rows_read["fills"] == 12
    assert_landed_equals_reference(home)


def test_a_bad_mark_file_means_no_block_is_spilled(home, small_blocks):
    write_csv(home.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "S1", -1.0)])
    with pytest.raises(InputError):
        ingest(home, now=NOW)
    assert not list(home.landing_dir.rglob("*.pending"))
    assert not list(home.landing_dir.rglob("b*.parquet"))


def test_tick_reads_and_appends_only_the_new_rows(home):
    ingest(home, now=NOW)
    [first] = block_files(home)
    before = (first.stat().st_ino, first.stat().st_mtime_ns, first.read_bytes())
    insert(home, fills(10, 3))
    result = ingest(home, now=NOW)
    assert result.rows_read == {"fills": 3, "cash_flows": 0}
    assert result.blocks_relanded == {"fills": 0, "cash_flows": 0}
    assert result.dirty_from == T0 + timedelta(minutes=10)  # the earliest new fill
    files = block_files(home)
    assert len(files) == 2 and first in files
    assert (first.stat().st_ino, first.stat().st_mtime_ns, first.read_bytes()) == before  # untouched
    assert ds.dataset(str(files[1])).to_table().column("source_row").to_pylist() == [11, 12, 13]
    assert_landed_equals_reference(home)
    again = ingest(home, now=NOW)
    assert again.rows_read == {"fills": 0, "cash_flows": 0} and again.dirty_from is None


def test_many_small_ticks_merge_into_few_blocks_and_stay_exact(home, monkeypatch):
    monkeypatch.setattr(table_blocks, "BLOCK_ROWS", 64)
    ingest(home, now=NOW)
    for k in range(40):
        insert(home, fills(10 + k, 1))
        assert ingest(home, now=NOW).rows_read["fills"] == 1
    assert len(block_files(home)) <= 7  # binary-counter merging: O(log) tail blocks, not 41
    assert_landed_equals_reference(home)
    # merged blocks carry the exact sums of their parts: a full verification finds nothing to re-read
    full = ingest(home, now=NOW, verify_all=True)
    assert full.rows_read["fills"] == 0 and full.dirty_from is None
    assert full.rows_verified["fills"] == 50


# ------------------------------------------------------------------------------------------------
# late corrections and deletions
# ------------------------------------------------------------------------------------------------
def test_late_correction_to_an_old_row_relands_its_block_and_dirties_from_its_ts(home, small_blocks):
    ingest(home, now=NOW)
    insert(home, fills(10, 2))
    ingest(home, now=NOW)
    execute(home, "UPDATE fills SET price = price + 0.0001 WHERE fill_id = 'F00005'")  # block 2 (rows 5-8)
    result = ingest(home, now=NOW)
    assert result.dirty_from == T0 + timedelta(minutes=5)
    assert result.blocks_relanded["fills"] == 1 and result.rows_read["fills"] == 4
    assert_landed_equals_reference(home)


def test_correction_that_moves_a_fill_in_time_dirties_from_the_earlier_ts(home, small_blocks):
    ingest(home, now=NOW)
    execute(home, "UPDATE fills SET ts = '2026-03-01T09:00:00-05:00' WHERE fill_id = 'F00006'")
    assert ingest(home, now=NOW).dirty_from == datetime(2026, 3, 1, 14, tzinfo=UTC)
    execute(home, "UPDATE fills SET ts = '2026-03-09T15:00:00Z' WHERE fill_id = 'F00006'")
    assert ingest(home, now=NOW).dirty_from == datetime(2026, 3, 1, 14, tzinfo=UTC)  # where it was
    assert_landed_equals_reference(home)


def test_deleted_old_row_is_found_by_the_cheap_count_and_dirties_from_its_ts(home, small_blocks, monkeypatch):
    ingest(home, now=NOW)
    monkeypatch.setattr(table_blocks, "VERIFY_ROWS", 0)   # no content hashing: counts alone must see it
    monkeypatch.setattr(table_blocks, "HOT_ROWS", 0)
    execute(home, "DELETE FROM fills WHERE fill_id = 'F00002'")
    result = ingest(home, now=NOW)
    assert result.dirty_from == T0 + timedelta(minutes=2)
    assert result.blocks_relanded["fills"] == 1
    assert "F00002" not in set(landed(home)["fill_id"])
    assert_landed_equals_reference(home)


def test_emptied_range_then_reinserted_rowid_is_still_seen(home, small_blocks):
    ingest(home, now=NOW)
    execute(home, "DELETE FROM fills WHERE rowid BETWEEN 1 AND 4")        # the whole first block
    assert ingest(home, now=NOW).dirty_from == T0
    execute(home, "INSERT INTO fills (rowid, fill_id, ts, symbol, side, quantity, price, commission, strategy) "
                  "VALUES (2, 'LATE', '2026-03-01T15:00:00Z', 'S9', 'BUY', 1, 10, 0, 'mom')")
    assert ingest(home, now=NOW).dirty_from == datetime(2026, 3, 1, 15, tzinfo=UTC)
    assert_landed_equals_reference(home)


def test_old_block_edit_is_found_by_the_rotating_verification_within_its_cycle(home, small_blocks, monkeypatch):
    ingest(home, now=NOW)                                   # blocks of rows 1-4, 5-8, 9-10
    monkeypatch.setattr(table_blocks, "HOT_ROWS", 1)        # only the newest block is hot
    monkeypatch.setattr(table_blocks, "VERIFY_ROWS", 1)     # one older block verified per run
    execute(home, "UPDATE fills SET quantity = 999 WHERE fill_id = 'F00000'")
    seen = [ingest(home, now=NOW).dirty_from for _ in range(3)]
    assert T0 in seen and seen.count(T0) == 1               # found once, within the 2-run cycle
    assert seen.index(T0) <= 1
    assert_landed_equals_reference(home)
    execute(home, "UPDATE fills SET quantity = 998 WHERE fill_id = 'F00001'")
    assert ingest(home, now=NOW, verify_all=True).dirty_from == T0 + timedelta(minutes=1)  # at once


@pytest.mark.parametrize("change, expected_ts", [
    ("UPDATE fills SET symbol = 'S5' WHERE fill_id = 'F00003'", 3),              # S3 → S5
    ("UPDATE fills SET side = 'BUY' WHERE fill_id = 'F00002'", 2),
    ("UPDATE fills SET strategy = 'carry' WHERE fill_id = 'F00004'", 4),
    ("UPDATE fills SET commission = NULL WHERE fill_id = 'F00001'", 1),           # 0.25 → default 0
    ("UPDATE fills SET ts = '2026-03-02T14:37:00.5Z' WHERE fill_id = 'F00007'", 7),  # half a second
])
def test_each_kind_of_edit_changes_the_range_checksum(home, change, expected_ts):
    ingest(home, now=NOW)
    execute(home, change)
    assert ingest(home, now=NOW).dirty_from == T0 + timedelta(minutes=expected_ts)
    assert_landed_equals_reference(home)


# ------------------------------------------------------------------------------------------------
# crash safety
# ------------------------------------------------------------------------------------------------
class Crash(Exception):
    pass


def clean_copy(home, tmp_path) -> pd.DataFrame:
    other = make_home(tmp_path / "clean")
    other.trading_db.parent.mkdir(parents=True, exist_ok=True)
    other.trading_db.write_bytes(home.trading_db.read_bytes())
    ingest(other, now=NOW)
    return landed(other)


@pytest.mark.parametrize("step", ["blocks_written", "state_written"])
def test_crash_between_blocks_and_state_reruns_to_a_clean_ingest(home, tmp_path, monkeypatch, small_blocks, step):
    ingest(home, now=NOW)
    insert(home, fills(10, 5))
    execute(home, "UPDATE fills SET price = 1.5 WHERE fill_id = 'F00001'")

    def crash(at):
        if at == step:
            raise Crash(at)

    monkeypatch.setattr(landing, "commit_point", crash)
    with pytest.raises(Crash):
        ingest(home, now=NOW)
    monkeypatch.setattr(landing, "commit_point", lambda at: None)
    result = ingest(home, now=NOW)
    if step == "blocks_written":  # nothing was committed: the re-run sees the same changes
        assert result.dirty_from == T0 + timedelta(minutes=1)
    pd.testing.assert_frame_equal(landed(home), clean_copy(home, tmp_path))
    assert_landed_equals_reference(home)
    assert not list((home.landing_dir / "fills").glob("*.pending"))


CHILD = """
import os, signal, sys
from datetime import datetime, timezone
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
from mech_exo.home import Home
from mech_exo.ingest import ingest, landing, table_blocks
table_blocks.BLOCK_ROWS = 4
def die(at):
    if at == {step!r}:
        os.kill(os.getpid(), signal.SIGKILL)
landing.commit_point = die
ingest(Home(Path({home!r})), now=datetime(2026, 3, 10, 12, tzinfo=timezone.utc))
"""


@pytest.mark.parametrize("step", ["blocks_written", "state_written"])
def test_killed_ingest_process_reruns_without_losing_or_doubling_rows(home, tmp_path, step, small_blocks):
    ingest(home, now=NOW)
    insert(home, fills(10, 6))
    execute(home, "DELETE FROM fills WHERE fill_id = 'F00003'")
    root = str(Path(__file__).resolve().parents[2])
    code = CHILD.format(root=root, tests=str(Path(__file__).parent), step=step, home=str(home.root))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = list((home.landing_dir / "fills").glob("*.pending"))
    assert leftovers  # the kill really interrupted a run with uncommitted/unrenamed blocks
    ingest(home, now=NOW)
    got = landed(home)
    assert got["source_row"].is_unique
    pd.testing.assert_frame_equal(got, clean_copy(home, tmp_path))
    assert_landed_equals_reference(home)


# ------------------------------------------------------------------------------------------------
# rules in a new block
# ------------------------------------------------------------------------------------------------
def test_bad_rows_in_a_new_block_are_named_and_nothing_is_landed(home):
    ingest(home, now=NOW)
    before = {p: p.read_bytes() for p in home.landing_dir.rglob("*") if p.is_file() and p.suffix != ".lock"}
    good = fills(10, 2)
    bad = list(fills(12, 1)[0])
    bad[4] = -3.0
    bad2 = list(fills(13, 1)[0])
    bad2[1] = "13/03/2026"
    insert(home, good + [tuple(bad), tuple(bad2)])
    with pytest.raises(InputError) as info:
        ingest(home, now=NOW)
    text = str(info.value)
    assert info.value.total == 2
    assert f"{DB} fills row 13 (fill_id=F00012): quantity must be > 0, got -3.0" in text
    assert f"{DB} fills row 14 (fill_id=F00013): ts is not a valid ISO-8601 timestamp" in text
    after = {p: p.read_bytes() for p in home.landing_dir.rglob("*") if p.is_file() and p.suffix != ".lock"}
    assert after == before


def test_duplicate_of_an_already_landed_id_names_its_first_row(home, small_blocks):
    no_pk = FILLS_DDL.replace("fill_id TEXT PRIMARY KEY", "fill_id TEXT")
    write_trading_db(home, fills(0, 10), [("C1", "2026-03-01T13:00:00Z", 1e6, "deposit")], fills_ddl=no_pk,
                     flows_ddl=FLOWS_DDL)
    ingest(home, now=NOW)
    again = list(fills(3, 1)[0])
    again[1] = "2026-03-09T15:00:00Z"
    insert(home, [tuple(again)])
    with pytest.raises(InputError) as info:
        ingest(home, now=NOW)
    assert f"{DB} fills row 11 (fill_id=F00003): duplicate fill_id (first seen at row 4)" in str(info.value)


def test_padded_id_in_a_primary_key_table_still_clashes_with_a_landed_id(home, monkeypatch):
    """SQLite's PRIMARY KEY lets ' F00003' and 'F00003' both in; landing trims, so they clash."""
    ingest(home, now=NOW)
    padded = list(fills(10, 1)[0])
    padded[0] = " F00003"
    insert(home, [tuple(padded)])
    with pytest.raises(InputError) as info:
        ingest(home, now=NOW)
    assert f"{DB} fills row 11 (fill_id=F00003): duplicate fill_id (first seen at row 4)" in str(info.value)
    execute(home, "DELETE FROM fills WHERE rowid = 11")
    insert(home, fills(10, 2))
    calls = []
    real = table_blocks.landed_with_ids
    monkeypatch.setattr(table_blocks, "landed_with_ids", lambda *a: calls.append(a) or real(*a))
    assert ingest(home, now=NOW).rows_read["fills"] == 2
    assert calls == []  # the padded row was deleted, its block re-landed clean: no scan of landed ids


def test_mixed_sqlite_types_are_read_as_text_and_judged_by_rule(home):
    """ADBC infers one Arrow type per column from the first rows; a 1,500-row first stretch of NULL
    commissions, then reals, numbers stored as text, and a text quantity must all still work."""
    loose = ("CREATE TABLE fills (fill_id TEXT, ts TEXT, symbol TEXT, side TEXT, quantity, price, "
             "commission, strategy TEXT)")
    rows = [list(r) for r in fills(0, 1600)]
    for i, r in enumerate(rows):
        r[6] = None if i < 1500 else r[6]
        r[4] = str(r[4]) if i % 3 == 0 else r[4]         # '12.0' as TEXT (no affinity here)
        r[5] = f" {r[5]} " if i == 1550 else r[5]         # padded number text
    write_trading_db(home, [tuple(r) for r in rows], [("C1", "2026-03-01T13:00:00Z", 1e6, "deposit")],
                     fills_ddl=loose)
    ingest(home, now=NOW)
    got = landed(home)
    assert got["commission"].iloc[:1500].eq(0.0).all()
    assert got["quantity"].tolist() == [float(1 + i % 50) for i in range(1600)]
    assert got["price"].iloc[1550] == round(100 + 1550 * 0.0137, 4)
    execute(home, "UPDATE fills SET quantity = 'lots' WHERE rowid = 1601")
    insert(home, fills(1600, 1))
    execute(home, "UPDATE fills SET quantity = 'lots' WHERE fill_id = 'F01600'")
    with pytest.raises(InputError) as info:
        ingest(home, now=NOW)
    assert f"{DB} fills row 1601 (fill_id=F01600): quantity must be a number, got 'lots'" in str(info.value)


def test_conforming_blocks_take_the_fast_read_and_judge_exactly_as_the_general_one(home, monkeypatch):
    """A block whose values all have their column's SQLite type is read without the CASE parts;
    a block with a NULL, a text number or any other type falls back. Either way the validated rows
    and every violation message (an infinite price here) equal the general read's."""
    from mech_exo.ingest.sqlite_source import TradingDb
    from mech_exo.ingest.validate_tables import FILLS, validate_fills
    from mech_exo.ingest.violations import Collector

    loose = ("CREATE TABLE fills (fill_id TEXT, ts TEXT, symbol TEXT, side TEXT, quantity, price, "
             "commission, strategy TEXT)")
    rows = [list(r) for r in fills(0, 16)]
    rows[0][4], rows[1][0], rows[2][2] = 5, " F00001 ", "bmw.de"   # an INTEGER, a padded id, lower case
    rows[3][5] = float("inf")                                      # conforming type, broken rule
    rows[5][6] = None                                              # block 2: a NULL commission
    rows[9][4] = "12.5"                                            # block 3: a number stored as TEXT
    rows[13][3] = b"BUY"                                           # block 4: a BLOB side
    write_trading_db(home, [tuple(r) for r in rows], [("C1", "2026-03-01T13:00:00Z", 1e6, "deposit")],
                     fills_ddl=loose)
    db = TradingDb(home.trading_db)
    have = db.columns("fills")
    fast_used = []
    real_fast = TradingDb._read_conforming
    monkeypatch.setattr(TradingDb, "_read_conforming",
                        lambda self, *a: fast_used.append(real_fast(self, *a) is not None) or real_fast(self, *a))
    now_us = int(NOW.timestamp() * 1e6)
    try:
        for lo in (0, 4, 8, 12):
            where = f"WHERE rowid > {lo}"
            got_col, want_col = Collector(), Collector()
            got = validate_fills(db.read(FILLS, have, where, limit=4), DB, now_us, got_col)
            monkeypatch.setattr(TradingDb, "_read_conforming", lambda self, *a: None)
            want = validate_fills(db.read(FILLS, have, where, limit=4), DB, now_us, want_col)
            monkeypatch.setattr(TradingDb, "_read_conforming",
                                lambda self, *a: fast_used.append(real_fast(self, *a) is not None) or real_fast(self, *a))
            assert got.equals(want), lo
            assert [str(v) for v in got_col.kept] == [str(v) for v in want_col.kept], lo
            if lo == 0:
                first_block = got_col.kept
    finally:
        db.close()
    assert fast_used == [True, False, False, False]
    assert [str(v) for v in first_block] == [f"{DB} fills row 4 (fill_id=F00003): price must be finite, got inf"]


def test_the_dbt_glob_sees_each_row_once_with_the_contract_types(home, small_blocks):
    ingest(home, now=NOW)
    insert(home, fills(10, 3))
    ingest(home, now=NOW)
    con = duckdb.connect()
    d = home.landing_dir
    described = con.execute(f"describe select * from read_parquet('{d}/fills/*.parquet')").fetchall()
    assert [r[1] for r in described] == ["VARCHAR", "TIMESTAMP", "VARCHAR", "VARCHAR", "DOUBLE", "DOUBLE",
                                         "DOUBLE", "VARCHAR", "BIGINT"]
    n, distinct = con.execute(f"select count(*), count(distinct source_row) from read_parquet('{d}/fills/*.parquet')"
                              ).fetchone()
    assert (n, distinct) == (13, 13)
    flows = con.execute(f"select flow_id, amount from read_parquet('{d}/cash_flows/*.parquet')").fetchall()
    assert flows == [("C1", 1e6)]


def test_a_state_from_the_snapshot_layout_is_relanded_as_blocks(home):
    """Homes landed before blocks existed (state version 1, fills.parquet snapshots)."""
    import json

    ingest(home, now=NOW)
    state_path = home.landing_dir / "_state.json"
    state = json.loads(state_path.read_text())
    state.pop("tables")
    state["version"] = 1
    state_path.write_text(json.dumps(state))
    (home.landing_dir / "fills.parquet").write_bytes(b"old snapshot")
    result = ingest(home, now=NOW)
    assert result.full_refresh and result.rows_read["fills"] == 10
    assert not (home.landing_dir / "fills.parquet").exists()
    assert_landed_equals_reference(home)


def test_without_rowid_table_is_read_whole_and_diffed(home):
    ddl = FILLS_DDL.replace("strategy TEXT)", "strategy TEXT) WITHOUT ROWID")
    write_trading_db(home, fills(0, 5), [("C1", "2026-03-01T13:00:00Z", 1e6, "deposit")], fills_ddl=ddl)
    ingest(home, now=NOW)
    assert len(landed(home)) == 5
    execute(home, "UPDATE fills SET price = 1 WHERE fill_id = 'F00002'")
    assert ingest(home, now=NOW).dirty_from == T0 + timedelta(minutes=2)
    assert ingest(home, now=NOW).dirty_from is None
    assert os.path.exists(home.landing_dir / "fills" / "_schema.parquet")
