"""Deterministic trading.db of a SPEC §9 scale tier (S / M / L): fills and cash flows only.

Not a test. Used by scripts/bench_ingest.py to time ingest on a realistic book; the marks of a tier
are another generator's job (issue #9's bench_scale.py). Rows are built with numpy and written with
the ADBC SQLite driver's bulk ingest (C speed), so M's 1.5M fills take seconds to generate.

Timestamps mix the spellings SPEC §2 allows (``Z``, ``+00:00``, ``-05:00`` / ``-04:00`` New York
offsets, a space instead of ``T``, fractional seconds), so the parser does its real work.

    .venv/bin/python scripts/scale_book.py --tier M --out /tmp/book/data/trading.db
"""
from __future__ import annotations

import argparse
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

FILLS_DDL = """CREATE TABLE fills (
  fill_id TEXT PRIMARY KEY, ts TEXT, symbol TEXT, side TEXT,
  quantity REAL, price REAL, commission REAL DEFAULT 0, strategy TEXT)"""
FLOWS_DDL = "CREATE TABLE cash_flows (flow_id TEXT PRIMARY KEY, ts TEXT, amount REAL, note TEXT)"
STRATEGIES = np.array(["momentum", "meanrev", "carry"])


@dataclass(frozen=True)
class Tier:
    symbols: int
    years: int
    fills_per_day: int


TIERS = {"S": Tier(35, 1, 10), "M": Tier(500, 3, 2_000), "L": Tier(2_000, 10, 10_000)}


def sessions(years: int, end: str = "2026-03-06") -> np.ndarray:
    """Weekdays (no holiday calendar: a benchmark input, not a market) ending on ``end``."""
    days = np.arange(np.datetime64(end) - np.timedelta64(365 * years, "D"), np.datetime64(end) + 1)
    return days[np.is_busday(days)]


def fills_table(tier: Tier, seed: int = 9, start_id: int = 0, days: np.ndarray | None = None) -> pa.Table:
    """``fills_per_day`` fills on every session, spread over 14:30–21:00 UTC, rowid order = time order."""
    rng = np.random.default_rng(seed)
    days = sessions(tier.years) if days is None else days
    n = len(days) * tier.fills_per_day
    day = np.repeat(days.astype("datetime64[us]"), tier.fills_per_day)
    offs = np.sort(rng.integers(0, 6 * 3600 * 10**6, n).reshape(len(days), -1), axis=1).ravel()
    ts = day + np.timedelta64(14 * 3600 + 1800, "s") + offs.astype("timedelta64[us]")
    return pa.table({
        "fill_id": pa.array(np.char.add("F", np.arange(start_id, start_id + n).astype("U12"))),
        "ts": spell(ts, rng),
        "symbol": pa.array(np.char.add("S", rng.integers(0, tier.symbols, n).astype("U6"))),
        "side": pa.array(np.where(rng.random(n) < 0.5, "BUY", "SELL")),
        "quantity": pa.array(rng.integers(1, 500, n).astype(np.float64)),
        "price": pa.array(np.round(rng.uniform(5, 500, n), 4)),
        "commission": pa.array(np.round(rng.uniform(0, 2, n), 2)),
        "strategy": pa.array(STRATEGIES[rng.integers(0, 3, n)]),
    })


def spell(ts: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Four spellings of the same instants: Z, +00:00, New York offset with a fraction, naive."""
    kind = rng.integers(0, 4, len(ts))
    utc = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s")
    ny = np.datetime_as_string((ts - np.timedelta64(5, "h")).astype("datetime64[ms]"), unit="ms")
    ny = np.char.add(np.char.replace(ny, "T", " "), "-05:00")
    out = np.where(kind == 0, np.char.add(utc, "Z"), np.where(kind == 1, np.char.add(utc, "+00:00"),
                   np.where(kind == 2, ny, utc)))
    return pa.array(out)


def flows_table(tier: Tier) -> pa.Table:
    """One opening deposit and a month-end fee."""
    days = sessions(tier.years)
    month_end = days[np.r_[days[1:].astype("datetime64[M]") != days[:-1].astype("datetime64[M]"), True]]
    n = len(month_end) + 1
    ts = np.r_[days[:1], month_end].astype("datetime64[s]") + np.timedelta64(13 * 3600, "s")
    amount = np.r_[[1e6 * tier.symbols], np.full(n - 1, -250.0)]
    return pa.table({"flow_id": pa.array(np.char.add("C", np.arange(n).astype("U8"))),
                     "ts": pa.array(np.char.add(np.datetime_as_string(ts, unit="s"), "Z")),
                     "amount": pa.array(amount), "note": pa.array(["deposit"] + ["fee"] * (n - 1))})


def append(path: Path, table: str, data: pa.Table) -> None:
    """Bulk insert through ADBC (the table must exist: its declared types come from our DDL)."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path)) as con:
        with con.cursor() as cur:
            cur.adbc_ingest(table, data, mode="append")
        con.commit()


def write_book(path: Path, tier: str | Tier) -> int:
    t = TIERS[tier] if isinstance(tier, str) else tier
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        con.execute(FILLS_DDL)
        con.execute(FLOWS_DDL)
    con.close()
    fills = fills_table(t)
    append(path, "fills", fills)
    append(path, "cash_flows", flows_table(t))
    return fills.num_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=sorted(TIERS), default="M")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    print(f"{write_book(a.out, a.tier):,} fills written to {a.out}")


if __name__ == "__main__":
    main()
