"""Builders for real input homes (SQLite trading.db with the SPEC §2 schema, CSV/Parquet marks).

Shared by tests/test_ingest.py and scripts/bench_ingest.py; other test modules may use them too.
"""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from mech_exo.home import Home

FILLS_DDL = """CREATE TABLE fills (
  fill_id TEXT PRIMARY KEY, ts TEXT, symbol TEXT, side TEXT,
  quantity REAL, price REAL, commission REAL DEFAULT 0, strategy TEXT)"""
FLOWS_DDL = "CREATE TABLE cash_flows (flow_id TEXT PRIMARY KEY, ts TEXT, amount REAL, note TEXT)"


def make_home(root: Path) -> Home:
    home = Home(root)
    for d in (home.market_dir, home.securities_csv.parent):
        d.mkdir(parents=True, exist_ok=True)
    return home


def write_trading_db(home: Home, fills: Iterable[tuple] = (), flows: Iterable[tuple] = (),
                     fills_ddl: str = FILLS_DDL, flows_ddl: str | None = FLOWS_DDL) -> Path:
    """Create (or replace) data/trading.db. ``fills`` rows: (fill_id, ts, symbol, side, quantity,
    price, commission, strategy); ``flows`` rows: (flow_id, ts, amount, note)."""
    path = home.trading_db
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    with con:
        con.execute(fills_ddl)
        if flows_ddl:
            con.execute(flows_ddl)
        con.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)", list(fills))
        if flows_ddl:
            con.executemany("INSERT INTO cash_flows VALUES (?,?,?,?)", list(flows))
    con.close()
    return path


def execute(home: Home, sql: str, params: tuple = ()) -> None:
    con = sqlite3.connect(home.trading_db)
    with con:
        con.execute(sql, params)
    con.close()


def write_csv(path: Path, rows: Iterable[Iterable[Any]], header: Iterable[str] = ("ts", "symbol", "price")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(header))
        w.writerows(rows)
    return path


def append_csv(path: Path, rows: Iterable[Iterable[Any]]) -> None:
    with open(path, "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def write_parquet(path: Path, columns: dict[str, pa.Array | list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def write_securities(home: Home, rows: Iterable[Iterable[Any]], header=("symbol", "sector", "name")) -> Path:
    return write_csv(home.securities_csv, rows, header)
