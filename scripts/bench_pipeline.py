"""Benchmark: the cost of a full rebuild and of an intraday tick, as history grows.

Prints figures; asserts nothing (speed is measured here, never in tests). For each history length
it builds a demo home (a year of daily closes + 5-minute marks for the last sessions), copies its
marks 60·k weeks back (the demo spans 14 months) to make k more years of history, times a full `dbt build`, then lands three
ticks (a new 5-minute batch of marks for every symbol plus a fill, in a new file, as a feed writes
them) and times ingest + an incremental `dbt build` for each.

    .venv/bin/python scripts/bench_pipeline.py [--years 1 3 6]
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from mech_exo.warehouse.storage import connect_build

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mech_exo.demo_data import write_demo_inputs  # noqa: E402
from mech_exo.home import Home, init_home  # noqa: E402
from mech_exo.ingest import ingest  # noqa: E402
from mech_exo.pipeline import build  # noqa: E402


def next_weekday(d: date) -> date:
    d += timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def tick(home: Home, day: date, i: int, now: datetime) -> float:
    """Land one 5-minute batch (one mark per symbol, one fill) and rebuild incrementally."""
    con = connect_build(home)  # same process as the in-process dbt build: same config
    last = con.execute("select symbol, arg_max(price, ts) from stg_landing__marks group by 1").fetchall()
    con.close()
    ts = datetime(day.year, day.month, day.day, 14, 35, tzinfo=timezone.utc) + timedelta(minutes=5 * i)
    rows = [(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), sym, round(px * (1 - 0.001 * (i + 1)), 4)) for sym, px in last]
    pd.DataFrame(rows, columns=["ts", "symbol", "price"]).to_csv(home.market_dir / f"tick_{day}_{i:02d}.csv",
                                                                  index=False)
    with sqlite3.connect(home.trading_db) as c:
        sym, px = last[0]
        c.execute("insert into fills values (?,?,?,?,?,?,?,?)",
                  (f"BENCH-{day}-{i}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"), sym, "BUY", 100.0, px, 1.0, "momentum"))
    t0 = time.perf_counter()
    ingest(home, now=now)
    result = build(home)
    elapsed = time.perf_counter() - t0
    assert result.success and not result.full_refresh, result.error
    return elapsed


def add_history(home: Home, years: int) -> None:
    """Copy every demo mark 60·k weeks earlier (same weekdays) for k = 1 .. years-1."""
    frames = []
    for path in sorted(home.market_dir.rglob("*")):
        if path.suffix == ".csv":
            frames.append(pd.read_csv(path))
        elif path.suffix == ".parquet":
            frames.append(pd.read_parquet(path))
    marks = pd.concat(frames)
    ts = pd.to_datetime(marks["ts"], utc=True, format="ISO8601")
    for k in range(1, years):
        shifted = marks.assign(ts=(ts - pd.Timedelta(weeks=60 * k)).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        shifted.to_csv(home.market_dir / f"history_minus_{k}y.csv", index=False)


def run(end: date, years: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home")
        init_home(home)
        write_demo_inputs(home, end_date=end)
        add_history(home, years)
        day = next_weekday(end)
        now = datetime(day.year, day.month, day.day, 21, 0, tzinfo=timezone.utc)
        t0 = time.perf_counter()
        ingest(home, now=now)
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = build(home, full_refresh=True)
        t_full = time.perf_counter() - t0
        assert result.success, result.error
        ticks = [tick(home, day, i, now) for i in range(3)]
        with connect_build(home) as con:
            sessions, marks = con.execute("select (select count(*) from int_sessions), "
                                          "(select count(*) from stg_landing__marks)").fetchone()
        return {"sessions": sessions, "marks": marks,
                "ingest_full_s": t_ingest, "dbt_full_s": t_full, "tick_s": statistics.median(ticks),
                "tick_max_s": max(ticks)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", nargs="+", type=int, default=[1, 3, 6], help="years of history to try")
    args = ap.parse_args()
    print(f"{'sessions':>8} {'marks':>8} {'ingest(full)':>13} {'dbt build(full)':>16} {'tick median':>12} {'tick max':>9}")
    for years in args.years:
        r = run(date(2026, 11, 20), years)
        print(f"{r['sessions']:>8} {r['marks']:>8} {r['ingest_full_s']:>12.2f}s {r['dbt_full_s']:>15.2f}s "
              f"{r['tick_s']:>11.2f}s {r['tick_max_s']:>8.2f}s", flush=True)
    print("tick = ingest of one new 5-minute file + one fill, then incremental dbt build (models + tests)")


if __name__ == "__main__":
    main()
