"""Deterministic inputs of a SPEC §9 scale tier (S / M / L) in a home, per the input contract (§2).

Not a test: the generator of ``scripts/bench_scale.py``. numpy builds every row; fills go to SQLite
through the ADBC bulk ingest (C speed), marks to Parquet.

* one close mark a session for every symbol, plus 5-minute marks (09:35–16:00 New York) for the last
  5 sessions, as SPEC §9 says; closes follow a random walk (1 % a day);
* ``fills_per_day`` fills a session, priced within a few basis points of that session's mark, 60 %
  of them buys (so the book is net long and a broad drop is a loss);
* an opening deposit large enough that the book is a few times levered at most, and a monthly fee;
* ``tick(...)`` appends what SPEC §9 calls a tick to the same home: one more 5-minute mark for every
  symbol (a new Parquet file) and 100 fills in the current session; ``breach=True`` drops every
  price by ``drop`` so that the intraday sentinel (−0.8 %) trips.

    .venv/bin/python scripts/scale_inputs.py --tier M --home /tmp/book_m
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_book  # noqa: E402
from scale_book import FILLS_DDL, FLOWS_DDL, STRATEGIES, TIERS, Tier, append, spell  # noqa: E402

TZ = "America/New_York"
INTRADAY_SESSIONS = 5
CHUNK_FILLS = 2_000_000
FIVE_MIN = pd.timedelta_range("09:35:00", "16:00:00", freq="5min")  # 78 marks a session


def sessions(years: int) -> pd.DatetimeIndex:
    """scale_book's sessions (weekdays, no holiday calendar) as a DatetimeIndex: one rule for both."""
    return pd.DatetimeIndex(scale_book.sessions(years))


def local_to_utc(days: pd.DatetimeIndex, offsets: pd.TimedeltaIndex | np.ndarray) -> np.ndarray:
    """Local New York wall times (session day + offset) → naive UTC datetime64[us]."""
    local = (pd.DatetimeIndex(days) + pd.TimedeltaIndex(offsets)).tz_localize(TZ)
    return local.tz_convert("UTC").tz_localize(None).values.astype("datetime64[us]")


@dataclass
class Book:
    tier: Tier
    days: pd.DatetimeIndex
    closes: np.ndarray        # sessions × symbols
    symbols: np.ndarray

    @property
    def last_price(self) -> np.ndarray:
        return self.closes[-1]


def make_book(tier: Tier, seed: int = 11) -> Book:
    rng = np.random.default_rng(seed)
    days = sessions(tier.years)
    base = rng.uniform(20, 200, tier.symbols)
    steps = rng.normal(0, 0.01, (len(days), tier.symbols))
    closes = np.round(base * np.exp(np.cumsum(steps, axis=0)), 4)
    return Book(tier, days, closes, np.char.add("S", np.arange(tier.symbols).astype("U6")))


def fills_for(book: Book, rng: np.random.Generator, day_idx: np.ndarray, start_id: int,
              prices: np.ndarray, t_lo: pd.Timedelta, t_hi: pd.Timedelta) -> pa.Table:
    """One fill per entry of ``day_idx`` (sorted), at a random local time in [t_lo, t_hi)."""
    n = len(day_idx)
    sym = rng.integers(0, book.tier.symbols, n)
    offs = np.sort(rng.integers(int(t_lo.value), int(t_hi.value), n))
    order = np.lexsort((offs, day_idx))
    day_idx, offs, sym = day_idx[order], offs[order], sym[order]
    ts = local_to_utc(book.days[day_idx], pd.to_timedelta(offs))
    price = np.round(prices[day_idx, sym] * (1 + rng.normal(0, 0.0005, n)), 4)
    return pa.table({
        "fill_id": pa.array(np.char.add("F", np.arange(start_id, start_id + n).astype("U12"))),
        "ts": spell(ts, rng),
        "symbol": pa.array(book.symbols[sym]),
        "side": pa.array(np.where(rng.random(n) < 0.6, "BUY", "SELL")),
        "quantity": pa.array(rng.integers(1, 50, n).astype(np.float64)),
        "price": pa.array(price),
        "commission": pa.array(np.round(rng.uniform(0, 1, n), 2)),
        "strategy": pa.array(STRATEGIES[rng.integers(0, 3, n)]),
    })


def flows_table(book: Book) -> pa.Table:
    days = book.days
    month_end = days[np.r_[days[1:].month != days[:-1].month, True]]
    ts = np.r_[local_to_utc(days[:1], [pd.Timedelta("08:00:00")]), local_to_utc(month_end, [pd.Timedelta("12:00:00")] * len(month_end))]
    gross = book.tier.fills_per_day * len(days) * 25 * float(book.closes.mean()) * 0.2
    amount = np.r_[[round(gross, 2)], np.full(len(month_end), -250.0)]
    n = len(ts)
    return pa.table({"flow_id": pa.array(np.char.add("C", np.arange(n).astype("U8"))),
                     "ts": pa.array(np.char.add(np.datetime_as_string(ts.astype("datetime64[s]"), unit="s"), "Z")),
                     "amount": pa.array(amount), "note": pa.array(["deposit"] + ["fee"] * (n - 1))})


def write_inputs(home: Path, tier: str | Tier, seed: int = 11, morning_marks: int = 30) -> Book:
    """The tier's history into ``home`` (data/trading.db, data/market/, data/reference/securities.csv). The last
    session is *today's*: its first ``morning_marks`` 5-minute marks are there, the rest come as ticks."""
    t = TIERS[tier] if isinstance(tier, str) else tier
    book = make_book(t, seed)
    rng = np.random.default_rng(seed + 1)
    data = home / "data"
    market = data / "market"
    market.mkdir(parents=True, exist_ok=True)
    ref = data / "reference"   # SPEC §2: data/reference/securities.csv
    ref.mkdir(parents=True, exist_ok=True)
    db = data / "trading.db"
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as con:
        con.execute(FILLS_DDL)
        con.execute(FLOWS_DDL)
    con.close()
    n_days = len(book.days)
    # in chunks of ~2M fills (one chunk up to M): the L tier's 25M rows at once would need ~24 GB
    per_chunk = max(1, CHUNK_FILLS // t.fills_per_day)
    written = 0
    for first in range(0, n_days - 1, per_chunk):
        day_idx = np.repeat(np.arange(first, min(first + per_chunk, n_days - 1)), t.fills_per_day)
        append(db, "fills", fills_for(book, rng, day_idx, written, book.closes, pd.Timedelta("09:31:00"),
                                      pd.Timedelta("15:59:00")))
        written += len(day_idx)
    # today: fills only up to the last mark that is already in
    today = np.full(t.fills_per_day * morning_marks // len(FIVE_MIN), n_days - 1)
    append(db, "fills", fills_for(book, rng, today, written, book.closes, pd.Timedelta("09:31:00"), FIVE_MIN[morning_marks - 1]))
    append(db, "cash_flows", flows_table(book))
    pd.DataFrame({"symbol": book.symbols, "sector": np.array(["TECH", "FIN", "ENERGY", "HEALTH"])[np.arange(t.symbols) % 4],
                  "name": np.char.add("Company ", book.symbols)}).to_csv(ref / "securities.csv", index=False)
    # closes of every session but the intraday ones
    hist = n_days - INTRADAY_SESSIONS
    ts = np.repeat(local_to_utc(book.days[:hist], [pd.Timedelta("16:00:00")] * hist), t.symbols)
    pq.write_table(pa.table({"ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
                             "symbol": pa.array(np.tile(book.symbols, hist)),
                             "price": pa.array(book.closes[:hist].ravel())}), market / "closes.parquet")
    for k in range(hist, n_days):
        marks = FIVE_MIN if k < n_days - 1 else FIVE_MIN[:morning_marks]
        write_marks(market / f"intraday_{book.days[k]:%Y%m%d}.parquet", book, k, marks, rng)
    return book


def session_path(book: Book, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n intraday prices per symbol that end at the session's close (a Brownian bridge-ish path)."""
    prev = book.closes[k - 1]
    frac = np.linspace(1 / len(FIVE_MIN), 1, len(FIVE_MIN))[:n, None]
    noise = rng.normal(0, 0.0008, (n, book.tier.symbols))
    return np.round(prev * (book.closes[k] / prev) ** frac * (1 + noise), 4)


def write_marks(path: Path, book: Book, k: int, times: pd.TimedeltaIndex, rng: np.random.Generator) -> None:
    prices = session_path(book, k, len(times), rng)
    ts = np.repeat(local_to_utc(book.days[[k] * len(times)], times), book.tier.symbols)
    pq.write_table(pa.table({"ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
                             "symbol": pa.array(np.tile(book.symbols, len(times))),
                             "price": pa.array(prices.ravel())}), path)


def tick(home: Path, book: Book, n: int, *, breach: bool = False, drop: float = 0.05,
         morning_marks: int = 30, seed: int = 99) -> tuple[str, Path]:
    """Tick ``n`` (1, 2, …) of the current session: 100 fills, then one 5-minute mark for every symbol
    (the mark file last: it is what a breach is timed from). Returns (mark time, mark file)."""
    rng = np.random.default_rng(seed + n)
    k = len(book.days) - 1
    i = morning_marks + n - 1
    if i >= len(FIVE_MIN):
        raise ValueError(f"tick {n}: past the session's last 5-minute mark")
    t_mark = FIVE_MIN[i]
    start_id = 10**9 + (n - 1) * 100
    fills = fills_for(book, rng, np.full(100, k), start_id, book.closes, t_mark - pd.Timedelta("4min"), t_mark)
    append(home / "data" / "trading.db", "fills", fills)
    price = session_path(book, k, i + 1, rng)[-1]
    if breach:
        price = np.round(price * (1 - drop), 4)
    ts = local_to_utc(book.days[[k]], [t_mark])[0]
    path = home / "data" / "market" / f"tick_{n:03d}.parquet"
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table({"ts": pa.array(np.repeat(ts, book.tier.symbols)).cast(pa.timestamp("us", tz="UTC")),
                             "symbol": pa.array(book.symbols), "price": pa.array(price)}), tmp)
    tmp.rename(path)   # complete on disk at once: the breach's clock starts here
    return str(pd.Timestamp(ts).tz_localize("UTC")), path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=sorted(TIERS), default="M")
    ap.add_argument("--home", type=Path, required=True)
    a = ap.parse_args()
    book = write_inputs(a.home, a.tier)
    print(f"tier {a.tier}: {len(book.days)} sessions × {book.tier.symbols} symbols written to {a.home}/data")


if __name__ == "__main__":
    main()
