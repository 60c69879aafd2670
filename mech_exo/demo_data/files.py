"""Writing the demo's inputs in SPEC §2 formats: trading.db, market marks, securities.csv."""

import sqlite3
from datetime import date

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mech_exo.demo_data.book import _Book
from mech_exo.demo_data.calendar import spell
from mech_exo.demo_data.universe import N_INTRADAY_DAYS, UNIVERSE
from mech_exo.home import Home


def _write_db(home: Home, book: _Book) -> None:
    home.trading_db.parent.mkdir(parents=True, exist_ok=True)
    if home.trading_db.exists():
        home.trading_db.unlink()
    con = sqlite3.connect(home.trading_db)
    with con:
        con.execute("CREATE TABLE fills (fill_id TEXT PRIMARY KEY, ts TEXT, symbol TEXT, side TEXT, quantity REAL, "
                    "price REAL, commission REAL DEFAULT 0, strategy TEXT)")
        con.execute("CREATE TABLE cash_flows (flow_id TEXT PRIMARY KEY, ts TEXT, amount REAL, note TEXT)")
        con.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)",
                        [(f"EX{k + 1:06d}", spell(t, k), sym, "BUY" if q > 0 else "SELL", abs(q), px, comm, strat)
                         for k, (t, sym, q, px, comm, strat) in enumerate(sorted(book.fills))])
        con.executemany("INSERT INTO cash_flows VALUES (?,?,?,?)",
                        [(f"CF{k + 1:04d}", spell(t, k + 1), amount, note)
                         for k, (t, amount, note) in enumerate(book.flows)])
    con.close()


def _quarter_file(d: date) -> tuple[str, str]:
    """(file name, kind): daily closes split by quarter, alternating CSV / Parquet / typed Parquet."""
    q = (d.month - 1) // 3 + 1
    kind = ("csv", "parquet", "parquet_ts")[(d.year * 4 + q) % 3]
    ext = "csv" if kind == "csv" else "parquet"
    return f"daily/closes_{d.year}Q{q}.{ext}", kind


def _write_marks(home: Home, days: list[date], book: _Book) -> int:
    n_days = len(days)
    groups: dict[str, tuple[str, list]] = {}
    for k, (t, di, prices) in enumerate(book.marks):
        d = days[di]
        if di >= n_days - N_INTRADAY_DAYS:
            name, kind = f"intraday/marks_{d:%Y%m%d}.csv", "csv"
        else:
            name, kind = _quarter_file(d)
        groups.setdefault(name, (kind, []))[1].append((t, k, prices))
    total = 0
    for name, (kind, rows) in groups.items():
        path = home.market_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ts, syms, px = [], [], []
        for t, k, prices in rows:
            for i, s in enumerate(book.syms):
                ts.append(t if kind == "parquet_ts" else spell(t, k + i))
                syms.append(s)
                px.append(float(prices[i]))
        ts_arr = pa.array(ts, type=pa.timestamp("us", tz="UTC")) if kind == "parquet_ts" else pa.array(ts, pa.string())
        table = pa.table({"ts": ts_arr, "symbol": pa.array(syms, pa.string()), "price": pa.array(px, pa.float64())})
        if kind == "csv":
            pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
        else:
            pq.write_table(table, path)
        total += len(ts)
    return total


def _write_securities(home: Home) -> None:
    home.securities_csv.parent.mkdir(parents=True, exist_ok=True)
    lines = ["symbol,sector,name"] + [f'{s},{sec},"{name}"' for s, sec, name, *_ in UNIVERSE]
    home.securities_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
