"""Ingest: SPEC §2 validation (file, row, rule in every message), UTC timestamps, landing contract,
incremental landing. Real homes in tmp_path: a real SQLite trading.db, real CSV/Parquet files."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from ingest_fixtures import (
    append_csv,
    execute,
    make_home,
    write_csv,
    write_parquet,
    write_securities,
    write_trading_db,
)

from mech_exo.home import Home, init_home
from mech_exo.ingest import (
    BATCHES_SCHEMA,
    FILLS_SCHEMA,
    FLOWS_SCHEMA,
    MARKS_SCHEMA,
    SECURITIES_SCHEMA,
    InputError,
    ingest,
    mark_key,
)
from mech_exo.timeparse import parse_iso_utc, parse_one

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DB = "data/trading.db"


def fill(fid="F1", ts="2026-03-09T14:30:00Z", symbol="AAPL", side="BUY", qty=10.0, price=100.0,
         commission=1.0, strategy="mom"):
    return (fid, ts, symbol, side, qty, price, commission, strategy)


def flow(fid="C1", ts="2026-03-09T13:00:00Z", amount=1_000_000.0, note="deposit"):
    return (fid, ts, amount, note)


@pytest.fixture
def home(tmp_path):
    h = make_home(tmp_path / "home")
    write_trading_db(h, [fill()], [flow()])
    write_csv(h.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "AAPL", 101.0)])
    write_securities(h, [("AAPL", "Tech", "Apple Inc.")])
    return h


def errors(home, now=NOW) -> InputError:
    with pytest.raises(InputError) as info:
        ingest(home, now=now)
    return info.value


def only(err: InputError, rule_part: str) -> list[str]:
    return [str(v) for v in err.violations if rule_part in v.rule]


def landed(home, name) -> pa.Table:
    """A landing file; ``fills.parquet`` / ``cash_flows.parquet`` name the table's blocks directory
    (every block file, in rowid order), which is what the dbt source reads."""
    table = name.removesuffix(".parquet")
    if table in ("fills", "cash_flows"):
        files = [str(p) for p in sorted((home.landing_dir / table).glob("*.parquet"))]  # incl. _schema.parquet
        return ds.dataset(files, format="parquet").to_table().sort_by("source_row")
    return pq.read_table(home.landing_dir / name)


def mark_file(home, rel) -> Path:
    return home.landing_dir / "marks" / f"{mark_key(rel)}.parquet"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------
# timestamps
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2026-03-09T14:30:00Z", utc(2026, 3, 9, 14, 30)),
    ("2026-03-09 14:30:00+00:00", utc(2026, 3, 9, 14, 30)),
    ("2026-03-09T10:30:00-04:00", utc(2026, 3, 9, 14, 30)),       # New York, EDT (after 8 March 2026)
    ("2026-03-06T09:30:00-05:00", utc(2026, 3, 6, 14, 30)),       # New York, EST (before the change)
    ("2026-03-08T01:59:59-05:00", utc(2026, 3, 8, 6, 59, 59)),    # the last EST second of the DST change
    ("2026-03-08T03:00:00-04:00", utc(2026, 3, 8, 7, 0, 0)),      # the first EDT second, one second later
    ("2026-03-09T20:00:00+0530", utc(2026, 3, 9, 14, 30)),
    ("2026-03-09T20:00:00+05:30", utc(2026, 3, 9, 14, 30)),
    ("2026-03-09T19:30:00+05", utc(2026, 3, 9, 14, 30)),
    ("2026-03-09T14:30:00.5Z", utc(2026, 3, 9, 14, 30, 0, 500000)),
    ("2026-03-09T14:30:00,25+00:00", utc(2026, 3, 9, 14, 30, 0, 250000)),
    ("2026-03-09T14:30:00.123456789Z", utc(2026, 3, 9, 14, 30, 0, 123456)),
    ("2026-03-09T14:30:00", utc(2026, 3, 9, 14, 30)),              # naive = UTC (SPEC §2)
    ("2026-03-09 14:30", utc(2026, 3, 9, 14, 30)),
    ("  2026-03-09T14:30:00z ", utc(2026, 3, 9, 14, 30)),
    ("2026-01-01T00:30:00+01:00", utc(2025, 12, 31, 23, 30)),      # crosses a year backwards
    ("2024-02-29T12:00:00Z", utc(2024, 2, 29, 12)),
])
def test_timestamp_spellings_parse_to_the_right_utc_instant(text, expected):
    assert parse_one(text) == expected


@pytest.mark.parametrize("text", [
    "2026-03-09",                 # date only: midnight UTC is the previous evening in New York
    "2026-02-30T10:00:00Z", "2025-02-29T10:00:00Z", "2026-13-01T10:00:00Z", "2026-03-00T10:00:00Z",
    "2026-03-09T24:00:00Z", "2026-03-09T14:60:00Z", "2026-03-09T14:30:60Z",
    "2026-03-09T14:30:00+25:00", "2026-03-09T14:30:00+05:75", "2026-03-09T14:30:00 EST",
    "1773066600", "09/03/2026 14:30", "2026-03-09T14:30:00ZZ", "not a time",
])
def test_timestamp_parser_rejects_what_it_cannot_read_exactly(text):
    parsed = parse_iso_utc(pa.array([text]))
    assert parsed.bad[0] and not parsed.null[0]
    with pytest.raises(ValueError):
        parse_one(text)


def test_timestamp_parser_reports_blank_and_null_as_missing_not_bad():
    parsed = parse_iso_utc(pa.array([None, "", "  ", "2026-03-09T14:30:00Z"]))
    assert parsed.null.tolist() == [True, True, True, False]
    assert not parsed.bad.any()


def test_mixed_spellings_land_as_naive_utc_microseconds(home):
    write_csv(home.market_dir / "close.csv", [
        ("2026-03-06T16:00:00-05:00", "AAPL", 1.0),      # EST close → 21:00Z
        ("2026-03-09T16:00:00-04:00", "AAPL", 2.0),      # EDT close → 20:00Z
        ("2026-03-09T21:30:00.75+0530", "AAPL", 3.0),    # → 16:00:00.75Z
        ("2026-03-09 18:00:00", "AAPL", 4.0),            # naive → UTC
    ])
    ingest(home, now=NOW)
    got = landed(home, f"marks/{mark_key('close.csv')}.parquet").column("ts").to_pylist()
    assert got == [datetime(2026, 3, 6, 21), datetime(2026, 3, 9, 20),
                   datetime(2026, 3, 9, 16, 0, 0, 750000), datetime(2026, 3, 9, 18)]
    fills_ts = landed(home, "fills.parquet").column("ts").to_pylist()
    assert fills_ts == [datetime(2026, 3, 9, 14, 30)]


def test_parquet_timestamp_columns_tz_aware_and_naive_become_utc(home):
    ny = pa.array([datetime(2026, 3, 6, 21), datetime(2026, 3, 9, 20)], pa.timestamp("ns", tz="UTC"))
    write_parquet(home.market_dir / "ny.parquet", {
        "ts": ny.cast(pa.timestamp("ns", tz="America/New_York")),  # same instants, New York zone
        "symbol": ["aapl ", "msft"], "price": [1.0, 2.0]})
    write_parquet(home.market_dir / "naive.parquet", {
        "ts": pa.array([datetime(2026, 3, 9, 15)], pa.timestamp("ms")), "symbol": ["IBM"], "price": [3]})
    ingest(home, now=NOW)
    ny_t = pq.read_table(mark_file(home, "ny.parquet"))
    assert ny_t.column("ts").to_pylist() == [datetime(2026, 3, 6, 21), datetime(2026, 3, 9, 20)]
    assert ny_t.column("symbol").to_pylist() == ["AAPL", "MSFT"]
    naive_t = pq.read_table(mark_file(home, "naive.parquet"))
    assert naive_t.column("ts").to_pylist() == [datetime(2026, 3, 9, 15)]
    assert naive_t.column("price").to_pylist() == [3.0]


# ------------------------------------------------------------------------------------------------
# fills rules
# ------------------------------------------------------------------------------------------------
def test_the_documented_message_shape(home):
    rows = [fill(f"F-{i:04d}") for i in range(1, 17)] + [fill("F-0017", qty=-5.0)]
    write_trading_db(home, rows, [flow()])
    err = errors(home)
    assert f"{DB} fills row 17 (fill_id=F-0017): quantity must be > 0, got -5.0" in str(err)
    v = err.violations[0]
    assert (v.file, v.table, v.row, v.rule, v.value) == (DB, "fills", 17, "quantity must be > 0", -5.0)


@pytest.mark.parametrize("bad, expected", [
    (fill(fid=""), f"{DB} fills row 2: fill_id must not be empty"),
    (fill(fid=None), f"{DB} fills row 2: fill_id must not be empty"),
    (fill(ts="09/03/2026"), f"{DB} fills row 2 (fill_id=F1): ts is not a valid ISO-8601 timestamp"),
    (fill(ts=None), f"{DB} fills row 2 (fill_id=F1): ts is missing"),
    (fill(ts=1773066600), f"{DB} fills row 2 (fill_id=F1): ts is not a valid ISO-8601 timestamp"),
    (fill(ts="2026-03-10T12:06:00Z"), f"{DB} fills row 2 (fill_id=F1): ts is in the future"),
    (fill(symbol="  "), f"{DB} fills row 2 (fill_id=F1): symbol must not be empty"),
    (fill(side="HOLD"), f"{DB} fills row 2 (fill_id=F1): side must be BUY or SELL, got 'HOLD'"),
    (fill(side=None), f"{DB} fills row 2 (fill_id=F1): side must be BUY or SELL, got NULL"),
    (fill(qty=0.0), f"{DB} fills row 2 (fill_id=F1): quantity must be > 0, got 0.0"),
    (fill(qty=None), f"{DB} fills row 2 (fill_id=F1): quantity is missing"),
    (fill(qty="ten"), f"{DB} fills row 2 (fill_id=F1): quantity must be a number, got 'ten'"),
    (fill(price=-1.5), f"{DB} fills row 2 (fill_id=F1): price must be > 0, got -1.5"),
    (fill(price=None), f"{DB} fills row 2 (fill_id=F1): price is missing"),
    (fill(commission=-0.01), f"{DB} fills row 2 (fill_id=F1): commission must be >= 0, got -0.01"),
    (fill(strategy=""), f"{DB} fills row 2 (fill_id=F1): strategy must not be empty"),
    (fill(strategy=None), f"{DB} fills row 2 (fill_id=F1): strategy must not be empty"),
])
def test_each_fill_rule_names_file_row_and_rule(home, bad, expected):
    good = fill(fid="F0")
    write_trading_db(home, [good, bad], [flow()])
    err = errors(home)
    assert err.total == 1, str(err)
    assert expected in str(err)


def test_duplicate_fill_id_names_both_rows(home):
    no_pk = "CREATE TABLE fills (fill_id TEXT, ts TEXT, symbol TEXT, side TEXT, quantity REAL, price REAL, commission REAL, strategy TEXT)"
    write_trading_db(home, [fill("F1"), fill("F2"), fill("F1", qty=3.0)], [flow()], fills_ddl=no_pk)
    err = errors(home)
    assert f"{DB} fills row 3 (fill_id=F1): duplicate fill_id (first seen at row 1)" in str(err)


def test_fill_normalisation_side_case_symbol_case_and_null_commission(home):
    write_trading_db(home, [fill("F1", side=" sell ", symbol=" aapl", commission=None, qty="7")], [flow()])
    ingest(home, now=NOW)
    row = landed(home, "fills.parquet").to_pylist()[0]
    assert row == {"fill_id": "F1", "ts": datetime(2026, 3, 9, 14, 30), "symbol": "AAPL", "side": "SELL",
                   "quantity": 7.0, "price": 100.0, "commission": 0.0, "strategy": "mom", "source_row": 1}


def test_future_tolerance_is_five_minutes(home):
    write_trading_db(home, [fill(ts="2026-03-10T12:05:00Z")], [flow()])  # exactly now + 5 min: fine
    assert ingest(home, now=NOW).n_fills == 1
    write_trading_db(home, [fill(ts="2026-03-10T12:05:00.000001Z")], [flow()])
    assert "ts is in the future" in str(errors(home))


# ------------------------------------------------------------------------------------------------
# cash flow and database rules
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, expected", [
    (flow(fid=None), f"{DB} cash_flows row 2: flow_id must not be empty"),
    (flow(ts="yesterday"), f"{DB} cash_flows row 2 (flow_id=C1): ts is not a valid ISO-8601 timestamp"),
    (flow(ts="2027-01-01T00:00:00Z"), f"{DB} cash_flows row 2 (flow_id=C1): ts is in the future"),
    (flow(amount=None), f"{DB} cash_flows row 2 (flow_id=C1): amount is missing"),
    (flow(amount="lots"), f"{DB} cash_flows row 2 (flow_id=C1): amount must be a number, got 'lots'"),
])
def test_each_cash_flow_rule_names_file_row_and_rule(home, bad, expected):
    write_trading_db(home, [fill()], [flow("C0"), bad])
    err = errors(home)
    assert err.total == 1, str(err)
    assert expected in str(err)


def test_duplicate_flow_id(home):
    no_pk = "CREATE TABLE cash_flows (flow_id TEXT, ts TEXT, amount REAL, note TEXT)"
    write_trading_db(home, [fill()], [flow("C1"), flow("C1", amount=5.0)], flows_ddl=no_pk)
    assert f"{DB} cash_flows row 2 (flow_id=C1): duplicate flow_id (first seen at row 1)" in str(errors(home))


def test_zero_and_negative_amounts_are_allowed(home):
    write_trading_db(home, [fill()], [flow("C1", amount=0.0), flow("C2", amount=-250.0, note=None)])
    ingest(home, now=NOW)
    assert landed(home, "cash_flows.parquet").column("amount").to_pylist() == [0.0, -250.0]


def test_missing_trading_db_is_a_fresh_home_with_zero_fills(home):
    home.trading_db.unlink()
    result = ingest(home, now=NOW)
    assert (result.n_fills, result.n_flows) == (0, 0)
    assert landed(home, "fills.parquet").num_rows == 0


def test_missing_table_names_the_file_and_table(home):
    write_trading_db(home, [fill()], flows_ddl=None)
    err = errors(home)
    assert f"{DB}: table 'cash_flows' is missing" in str(err)


def test_missing_column_names_the_file_table_and_column(home):
    write_trading_db(home, [], [], fills_ddl="CREATE TABLE fills (fill_id TEXT, ts TEXT, symbol TEXT, side TEXT, "
                     "quantity REAL, price REAL, strategy TEXT, commission_usd REAL)")
    assert f"{DB} fills: missing required column(s): commission" in str(errors(home))


def test_a_file_that_is_not_sqlite_is_named(home):
    home.trading_db.write_bytes(b"this is not a database at all" * 100)
    assert f"{DB}: not a readable SQLite database" in str(errors(home))


# ------------------------------------------------------------------------------------------------
# mark rules
# ------------------------------------------------------------------------------------------------
M = "data/market/bad.csv"


@pytest.mark.parametrize("row, expected", [
    (("2026-03-09T25:00:00Z", "AAPL", 1.0), f"{M} row 2: ts is not a valid ISO-8601 timestamp"),
    (("", "AAPL", 1.0), f"{M} row 2: ts is missing"),
    (("2026-03-11T00:00:00Z", "AAPL", 1.0), f"{M} row 2: ts is in the future"),
    (("2026-03-09T20:00:00Z", " ", 1.0), f"{M} row 2: symbol must not be empty"),
    (("2026-03-09T20:00:00Z", "AAPL", ""), f"{M} row 2: price is missing"),
    (("2026-03-09T20:00:00Z", "AAPL", "0"), f"{M} row 2: price must be > 0, got 0.0"),
    (("2026-03-09T20:00:00Z", "AAPL", "-3"), f"{M} row 2: price must be > 0, got -3.0"),
    (("2026-03-09T20:00:00Z", "AAPL", "abc"), f"{M} row 2: price must be a finite number, got 'abc'"),
    (("2026-03-09T20:00:00Z", "AAPL", "inf"), f"{M} row 2: price must be a finite number, got 'inf'"),
])
def test_each_csv_mark_rule_names_file_row_and_rule(home, row, expected):
    write_csv(home.market_dir / "bad.csv", [("2026-03-09T19:00:00Z", "MSFT", 2.0), row])
    err = errors(home)
    assert err.total == 1, str(err)
    assert expected in str(err)


def test_parquet_mark_rules_name_the_row(home):
    write_parquet(home.market_dir / "p.parquet", {
        "ts": ["2026-03-09T19:00:00Z", "2026-03-09T19:00:00Z", None],
        "symbol": ["MSFT", "IBM", "AAPL"], "price": [float("nan"), float("inf"), 1.0]})
    text = str(errors(home))
    assert "data/market/p.parquet row 1: price must be a finite number, got nan" in text
    assert "data/market/p.parquet row 2: price must be a finite number, got inf" in text
    assert "data/market/p.parquet row 3: ts is missing" in text


@pytest.mark.parametrize("writer", ["csv", "parquet"])
def test_mark_file_missing_columns_names_file_and_columns(home, writer):
    if writer == "csv":
        write_csv(home.market_dir / "m.csv", [("2026-03-09T19:00:00Z", 2.0)], header=("timestamp", "close"))
    else:
        write_parquet(home.market_dir / "m.parquet", {"timestamp": ["2026-03-09T19:00:00Z"], "close": [2.0]})
    assert f"data/market/m.{writer}: missing required column(s): ts, symbol, price" in str(errors(home))


def test_ragged_csv_row_is_named(home):
    (home.market_dir / "r.csv").write_text("ts,symbol,price\n2026-03-09T19:00:00Z,MSFT,2\n2026-03-09T19:00:00Z,IBM,2,9\n")
    assert "data/market/r.csv row 2: expected 3 fields, got 4" in str(errors(home))


def test_conflicting_duplicate_within_a_file_names_both_rows(home):
    write_csv(home.market_dir / "d.csv", [("2026-03-09T19:00:00Z", "MSFT", 2.0), ("2026-03-09T19:00:00Z", "IBM", 3.0),
                                          ("2026-03-09T14:00:00-05:00", "msft", 2.5)])
    text = str(errors(home))
    assert "data/market/d.csv row 3 (ts=2026-03-09T19:00:00Z, symbol=MSFT): conflicting duplicate mark" in text
    assert "row 1 of the same file has price 2.0" in text


def test_conflicting_duplicate_across_files_names_both(home):
    write_parquet(home.market_dir / "z.parquet", {"ts": ["2026-03-09T20:00:00Z"], "symbol": ["AAPL"], "price": [101.5]})
    text = str(errors(home))
    assert "data/market/z.parquet row 1 (ts=2026-03-09T20:00:00Z, symbol=AAPL): conflicting mark across files" in text
    assert "data/market/close.csv row 1 has price 101.0" in text


def test_conflict_with_an_unchanged_already_landed_file_is_caught(home):
    ingest(home, now=NOW)  # close.csv landed; the next run will not re-read it
    write_csv(home.market_dir / "late.csv", [("2026-03-09T20:00:00Z", "AAPL", 99.0)])
    assert "data/market/late.csv row 1" in str(errors(home))


def test_identical_duplicates_are_deduplicated_with_a_warning(home):
    write_csv(home.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "AAPL", 101.0),
                                              ("2026-03-09T16:00:00-04:00", "AAPL", 101.0),
                                              ("2026-03-09T20:00:00Z", "MSFT", 7.0)])
    write_csv(home.market_dir / "copy.csv", [("2026-03-09T20:00:00Z", "AAPL", 101.0)])
    result = ingest(home, now=NOW)
    t = pq.read_table(mark_file(home, "close.csv"))
    assert t.column("source_row").to_pylist() == [1, 3]
    assert any("close.csv: removed 1 duplicate" in w for w in result.warnings)
    assert any("1 mark(s) repeat the same (ts, symbol, price) as another file" in w for w in result.warnings)


def test_all_violations_are_collected_across_sources(home):
    write_trading_db(home, [fill(qty=-1.0)], [flow(amount=None)])
    write_csv(home.market_dir / "a.csv", [("bad", "AAPL", 1.0)])
    write_csv(home.market_dir / "b.csv", [("2026-03-09T20:00:00Z", "AAPL", -2.0)])
    err = errors(home)
    assert err.total == 4
    assert sorted(v.file for v in err.violations) == ["data/market/a.csv", "data/market/b.csv", DB, DB]


def test_many_violations_are_counted_and_a_sample_is_kept(home):
    n = 1000
    write_csv(home.market_dir / "big.csv", [(f"2026-03-09T20:00:{i % 60:02d}", f"S{i}", -1) for i in range(n)])
    err = errors(home)
    assert err.total == n
    assert err.counts[("data/market/big.csv", "price must be > 0")] == n
    assert len(err.violations) == 20  # a sample per (file, rule); every one is counted
    text = str(err)
    assert "and 980 more" in text and "data/market/big.csv: price must be > 0 × 1000" in text


def test_message_shows_at_most_fifty_violations(home):
    for name in ("a", "b", "c"):
        write_csv(home.market_dir / f"{name}.csv", [(f"2026-03-09T20:00:{i:02d}Z", "X", 0) for i in range(30)])
    err = errors(home)
    assert err.total == 90 and len(err.violations) == 60
    text = str(err)
    assert text.count("\n  data/market/") == 50 and "and 40 more" in text


def test_nothing_is_landed_when_input_is_bad(home):
    ingest(home, now=NOW)
    before = {p: p.read_bytes() for p in home.landing_dir.rglob("*") if p.is_file() and p.suffix != ".lock"}
    write_trading_db(home, [fill(side="HOLD")], [flow()])
    write_csv(home.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "AAPL", 1.0)])
    errors(home)
    after = {p: p.read_bytes() for p in home.landing_dir.rglob("*") if p.is_file() and p.suffix != ".lock"}
    assert after == before


# ------------------------------------------------------------------------------------------------
# securities
# ------------------------------------------------------------------------------------------------
def test_securities_missing_sector_column(home):
    write_securities(home, [("AAPL", "Apple")], header=("symbol", "name"))
    assert "data/reference/securities.csv: missing required column(s): sector" in str(errors(home))


def test_securities_duplicate_symbol(home):
    write_securities(home, [("AAPL", "Tech", "Apple"), ("MSFT", "Tech", "Microsoft"), ("aapl ", "Tech", "dup")])
    assert "data/reference/securities.csv row 3: duplicate symbol (first seen at row 1), got 'AAPL'" in str(errors(home))


def test_securities_missing_file_is_empty_with_a_warning(home):
    home.securities_csv.unlink()
    result = ingest(home, now=NOW)
    assert landed(home, "securities.parquet").num_rows == 0
    assert any("securities.csv not found" in w for w in result.warnings)


def test_securities_are_normalised_and_name_is_optional(home):
    write_securities(home, [("aapl", "Tech"), ("msft", "Tech")], header=("symbol", "sector"))
    ingest(home, now=NOW)
    assert landed(home, "securities.parquet").to_pylist() == [
        {"symbol": "AAPL", "sector": "Tech", "name": None}, {"symbol": "MSFT", "sector": "Tech", "name": None}]


# ------------------------------------------------------------------------------------------------
# landing contract
# ------------------------------------------------------------------------------------------------
def test_landing_schemas_are_exactly_the_contract(home):
    write_parquet(home.market_dir / "sub/p.parquet", {"ts": ["2026-03-09T19:00:00Z"], "symbol": ["X"], "price": [1.0]})
    ingest(home, now=NOW)
    expected = {
        "fills/*.parquet": [("fill_id", "string"), ("ts", "timestamp[us]"), ("symbol", "string"), ("side", "string"),
                          ("quantity", "double"), ("price", "double"), ("commission", "double"),
                          ("strategy", "string"), ("source_row", "int64")],
        "cash_flows/*.parquet": [("flow_id", "string"), ("ts", "timestamp[us]"), ("amount", "double"),
                               ("note", "string"), ("source_row", "int64")],
        "securities.parquet": [("symbol", "string"), ("sector", "string"), ("name", "string")],
        "batches.parquet": [("landed_seq", "int64"), ("landed_at", "timestamp[us]"), ("dirty_from", "timestamp[us]"),
                            ("full_refresh", "bool"), ("n_marks", "int64"), ("n_fills", "int64"), ("n_flows", "int64")],
        f"marks/{mark_key('sub/p.parquet')}.parquet": [
            ("ts", "timestamp[us]"), ("symbol", "string"), ("price", "double"), ("source_file", "string"),
            ("source_row", "int64"), ("landed_seq", "int64")],
    }
    for name, cols in expected.items():
        paths = sorted(home.landing_dir.glob(name))
        assert len(paths) >= (2 if "*" in name else 1), name  # a table dir: its schema file + a block
        for path in paths:
            schema = pq.read_schema(path)
            assert [(f.name, str(f.type)) for f in schema] == cols, path
            for f in schema:
                if pa.types.is_timestamp(f.type):
                    assert f.type.tz is None  # naive, meaning UTC
    row = pq.read_table(mark_file(home, "sub/p.parquet")).to_pylist()[0]
    assert row["source_file"] == "data/market/sub/p.parquet" and row["source_row"] == 1 and row["landed_seq"] == 1


def test_constants_match_the_contract_names():
    assert FILLS_SCHEMA.names[-1] == "source_row" and FLOWS_SCHEMA.names[0] == "flow_id"
    assert SECURITIES_SCHEMA.names == ["symbol", "sector", "name"]
    assert MARKS_SCHEMA.names == ["ts", "symbol", "price", "source_file", "source_row", "landed_seq"]
    assert BATCHES_SCHEMA.names == ["landed_seq", "landed_at", "dirty_from", "full_refresh", "n_marks", "n_fills", "n_flows"]


def test_empty_home_still_writes_every_file_with_its_schema(tmp_path):
    home = make_home(tmp_path / "empty")
    result = ingest(home, now=NOW)
    for name, schema in [("fills.parquet", FILLS_SCHEMA), ("cash_flows.parquet", FLOWS_SCHEMA),
                         ("securities.parquet", SECURITIES_SCHEMA)]:
        t = landed(home, name)
        assert t.num_rows == 0 and t.schema.equals(schema), name
    batches = pq.read_table(home.landing_dir / "batches.parquet").to_pylist()
    assert batches == [{"landed_seq": 1, "landed_at": datetime(2026, 3, 10, 12), "dirty_from": None,
                        "full_refresh": True, "n_marks": 0, "n_fills": 0, "n_flows": 0}]
    assert result.dirty_from is None


def test_header_only_mark_file_lands_an_empty_file_with_the_schema(home):
    write_csv(home.market_dir / "empty.csv", [])
    ingest(home, now=NOW)
    t = pq.read_table(mark_file(home, "empty.csv"))
    assert t.num_rows == 0 and t.schema.equals(MARKS_SCHEMA)


def test_non_mark_and_hidden_files_are_ignored_with_a_warning(home):
    (home.market_dir / "README.txt").write_text("notes")
    write_csv(home.market_dir / ".partial.csv", [("garbage", "", "")])
    result = ingest(home, now=NOW)
    assert result.files_landed == ["data/market/close.csv"]
    assert any("ignored 2 file(s)" in w for w in result.warnings)


# ------------------------------------------------------------------------------------------------
# incremental landing
# ------------------------------------------------------------------------------------------------
def _batches(home) -> list[dict]:
    return pq.read_table(home.landing_dir / "batches.parquet").to_pylist()


def test_first_run_is_a_full_refresh_dirty_from_the_earliest_input(home):
    result = ingest(home, now=NOW)
    assert result.full_refresh and result.landed_seq == 1
    assert result.dirty_from == utc(2026, 3, 9, 13)  # the deposit is the earliest input
    assert result.files_landed == ["data/market/close.csv"]


def test_second_run_with_unchanged_inputs_relands_nothing(home):
    ingest(home, now=NOW)
    landing = mark_file(home, "close.csv")
    mtime = landing.stat().st_mtime_ns
    result = ingest(home, now=NOW + timedelta(minutes=1))
    assert result.files_landed == [] and result.files_skipped == ["data/market/close.csv"]
    assert result.landed_seq == 2 and result.dirty_from is None and not result.full_refresh
    assert landing.stat().st_mtime_ns == mtime
    assert [(b["landed_seq"], b["dirty_from"], b["full_refresh"], b["n_marks"]) for b in _batches(home)] == [
        (1, datetime(2026, 3, 9, 13), True, 1), (2, None, False, 1)]


def test_unchanged_size_and_mtime_means_the_file_is_not_even_read(home):
    """Same size and mtime but different bytes: only a run that skips reading keeps the old landing.
    (This is the documented trade-off of the fingerprint fast path; editors and writers change mtime.)"""
    ingest(home, now=NOW)
    src = home.market_dir / "close.csv"
    st = src.stat()
    src.write_bytes(src.read_bytes().replace(b"101.0", b"999.9"))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = ingest(home, now=NOW)
    assert result.files_skipped == ["data/market/close.csv"] and result.files_landed == []
    assert pq.read_table(mark_file(home, "close.csv")).column("price").to_pylist() == [101.0]


def test_touched_file_with_same_bytes_is_not_relanded(home):
    ingest(home, now=NOW)
    src = home.market_dir / "close.csv"
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10_000_000_000))
    result = ingest(home, now=NOW)
    assert result.files_landed == [] and result.dirty_from is None
    state = json.loads((home.landing_dir / "_state.json").read_text())
    assert state["marks"]["data/market/close.csv"]["mtime_ns"] == src.stat().st_mtime_ns


def test_appended_csv_relands_only_that_file_with_a_new_seq(home):
    write_csv(home.market_dir / "other.csv", [("2026-03-09T18:00:00Z", "MSFT", 7.0)])
    ingest(home, now=NOW)
    append_csv(home.market_dir / "close.csv", [("2026-03-09T20:05:00Z", "AAPL", 101.2)])
    result = ingest(home, now=NOW)
    assert result.files_landed == ["data/market/close.csv"] and result.files_skipped == ["data/market/other.csv"]
    assert result.dirty_from == utc(2026, 3, 9, 20)  # the whole file is re-landed: its earliest row
    assert not result.full_refresh
    close = pq.read_table(mark_file(home, "close.csv"))
    assert close.column("landed_seq").to_pylist() == [2, 2]
    assert close.column("price").to_pylist() == [101.0, 101.2]
    assert pq.read_table(mark_file(home, "other.csv")).column("landed_seq").to_pylist() == [1]
    assert _batches(home)[-1]["n_marks"] == 3


def test_rewritten_file_dirty_from_includes_rows_it_no_longer_has(home):
    write_csv(home.market_dir / "close.csv", [("2026-03-06T20:00:00Z", "AAPL", 100.0),
                                              ("2026-03-09T20:00:00Z", "AAPL", 101.0)])
    ingest(home, now=NOW)
    write_csv(home.market_dir / "close.csv", [("2026-03-09T20:00:00Z", "AAPL", 101.0)])
    assert ingest(home, now=NOW).dirty_from == utc(2026, 3, 6, 20)


def test_removed_mark_file_deletes_its_landing_and_forces_full_refresh(home):
    write_csv(home.market_dir / "old.csv", [("2026-03-05T20:00:00Z", "AAPL", 90.0)])
    ingest(home, now=NOW)
    assert mark_file(home, "old.csv").exists()
    (home.market_dir / "old.csv").unlink()
    result = ingest(home, now=NOW)
    assert not mark_file(home, "old.csv").exists()
    assert result.full_refresh and result.files_removed == ["data/market/old.csv"]
    assert result.dirty_from == utc(2026, 3, 5, 20)
    assert _batches(home)[-1]["full_refresh"] is True
    assert ingest(home, now=NOW).full_refresh is False  # only the run that saw the removal


def test_changed_fill_sets_dirty_from_to_its_ts(home):
    write_trading_db(home, [fill("F1", ts="2026-03-02T15:00:00Z"), fill("F2", ts="2026-03-05T15:00:00Z"),
                            fill("F3", ts="2026-03-09T15:00:00Z")], [flow(ts="2026-03-01T13:00:00Z")])
    ingest(home, now=NOW)
    execute(home, "UPDATE fills SET price = 99.5 WHERE fill_id = 'F2'")
    result = ingest(home, now=NOW)
    assert result.dirty_from == utc(2026, 3, 5, 15) and not result.full_refresh
    assert _batches(home)[-1]["dirty_from"] == datetime(2026, 3, 5, 15)


def test_fill_moved_in_time_dirties_from_the_earlier_of_old_and_new_ts(home):
    write_trading_db(home, [fill("F1", ts="2026-03-05T15:00:00Z")], [flow(ts="2026-03-01T13:00:00Z")])
    ingest(home, now=NOW)
    execute(home, "UPDATE fills SET ts = '2026-03-09T15:00:00Z' WHERE fill_id = 'F1'")
    assert ingest(home, now=NOW).dirty_from == utc(2026, 3, 5, 15)


def test_added_and_deleted_fills_and_flows_set_dirty_from(home):
    write_trading_db(home, [fill("F1", ts="2026-03-05T15:00:00Z")], [flow(ts="2026-03-01T13:00:00Z")])
    ingest(home, now=NOW)
    execute(home, "INSERT INTO fills VALUES ('F2','2026-03-09T15:30:00Z','AAPL','BUY',1,100,0,'mom')")
    assert ingest(home, now=NOW).dirty_from == utc(2026, 3, 9, 15, 30)
    execute(home, "DELETE FROM fills WHERE fill_id = 'F1'")
    assert ingest(home, now=NOW).dirty_from == utc(2026, 3, 5, 15)
    execute(home, "INSERT INTO cash_flows VALUES ('C9','2026-03-03T13:00:00Z',-5,'fee')")
    assert ingest(home, now=NOW).dirty_from == utc(2026, 3, 3, 13)
    assert ingest(home, now=NOW).dirty_from is None


def test_landed_seq_stays_monotonic_when_state_is_lost(home):
    ingest(home, now=NOW)
    ingest(home, now=NOW)
    (home.landing_dir / "_state.json").unlink()
    result = ingest(home, now=NOW)
    assert result.landed_seq == 3 and result.full_refresh and result.files_landed == ["data/market/close.csv"]
    assert [b["landed_seq"] for b in _batches(home)] == [1, 2, 3]


def test_corrupt_state_file_relands_everything_with_a_warning(home):
    ingest(home, now=NOW)
    (home.landing_dir / "_state.json").write_text("{not json")
    result = ingest(home, now=NOW)
    assert result.full_refresh and result.files_landed == ["data/market/close.csv"]
    assert any("_state.json unreadable" in w for w in result.warnings)


def test_many_mark_files_in_subdirectories_are_all_landed_in_sorted_order(home):
    for d in ("2026/03", "2026/02", "b"):
        write_csv(home.market_dir / d / "m.csv", [("2026-03-09T17:00:00Z", d.replace("/", "_"), 1.0)])
    result = ingest(home, now=NOW)
    assert result.files_landed == ["data/market/2026/02/m.csv", "data/market/2026/03/m.csv",
                                   "data/market/b/m.csv", "data/market/close.csv"]
    # one landing file per input file, plus the zero-row schema placeholder the dbt glob needs
    landed = sorted(p.name for p in (home.landing_dir / "marks").glob("*.parquet"))
    assert len(landed) == 5 and "_schema.parquet" in landed


def test_a_home_without_market_data_still_lands_a_readable_marks_glob(tmp_path):
    """dbt's source is a glob over landing/marks: it must match a file even with no market data."""
    import duckdb

    bare = Home(tmp_path / "bare")
    init_home(bare)
    result = ingest(bare, now=NOW)
    assert result.n_marks == 0
    rows = duckdb.connect().execute(
        f"select count(*) from read_parquet('{bare.landing_dir}/marks/*.parquet')").fetchone()
    assert rows == (0,)


def test_result_summary_and_dict_are_printable(home):
    result = ingest(home, now=NOW)
    assert "ingest #1: 1 fills, 1 cash flows, 1 securities, 1 marks" in result.summary()
    d = result.to_dict()
    assert d["dirty_from"] == "2026-03-09T13:00:00Z" and json.dumps(d)


def test_duckdb_reads_landing_with_the_contract_types(home):
    """dbt reads these files with DuckDB; the contract is written in DuckDB types."""
    import duckdb

    ingest(home, now=NOW)
    con = duckdb.connect()
    d = str(home.landing_dir)
    fills = con.execute(f"describe select * from read_parquet('{d}/fills/*.parquet')").fetchall()
    assert [(r[0], r[1]) for r in fills] == [
        ("fill_id", "VARCHAR"), ("ts", "TIMESTAMP"), ("symbol", "VARCHAR"), ("side", "VARCHAR"),
        ("quantity", "DOUBLE"), ("price", "DOUBLE"), ("commission", "DOUBLE"), ("strategy", "VARCHAR"),
        ("source_row", "BIGINT")]
    marks = con.execute(f"describe select * from read_parquet('{d}/marks/*.parquet', union_by_name = true)").fetchall()
    assert [(r[0], r[1]) for r in marks] == [
        ("ts", "TIMESTAMP"), ("symbol", "VARCHAR"), ("price", "DOUBLE"), ("source_file", "VARCHAR"),
        ("source_row", "BIGINT"), ("landed_seq", "BIGINT")]
    batches = con.execute(f"describe select * from read_parquet('{d}/batches.parquet')").fetchall()
    assert [r[1] for r in batches] == ["BIGINT", "TIMESTAMP", "TIMESTAMP", "BOOLEAN", "BIGINT", "BIGINT", "BIGINT"]
    assert con.execute(f"select ts from read_parquet('{d}/marks/*.parquet')").fetchone()[0] == datetime(2026, 3, 9, 20)
