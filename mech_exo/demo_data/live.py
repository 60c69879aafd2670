"""`exo demo --live`: the demo's last session played into the home in accelerated time.

Why: a newcomer should see the product work — marks and fills arriving, the watcher ticking, the
dashboard going from green to TRADING HALTED, the alert, the ack, the re-enable — not read about a
halt that already happened. So the demo's inputs are written as usual (the same deterministic
book), then the last session's inputs are held back (``hold_back``): its fills and cash flows leave
trading.db, its 5-minute mark file leaves data/market/. The home is built on the rest (green: the
crash has not happened yet), and ``Held.release_until(ts)`` puts the held rows back as the session
clock passes their time — each 5-minute point's marks as a file of their own, each fill and flow
into trading.db with its own id — so when the session has been played the inputs are exactly those
of `exo demo` (the same rows, ids and spellings; the marks split over more files).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from mech_exo.home import Home
from mech_exo.timeparse import datetime_to_micros, micros_to_datetime, parse_iso_utc, parse_one


@dataclass
class Held:
    home: Home
    day: date
    fills: list[tuple]                     # rows of trading.db's fills, in ts order
    flows: list[tuple]                     # rows of cash_flows
    marks: pa.Table                        # the session's mark file (ts as written, symbol, price)
    points: list[datetime] = field(default_factory=list)   # distinct mark instants (UTC), in order
    row_micros: np.ndarray | None = None                   # each mark row's instant (UTC micros)
    released_to: datetime | None = None

    def release_until(self, until: datetime) -> dict[str, int]:
        """Put back every held row with ts <= ``until`` not yet released: the marks of each such
        instant as ``intraday/live_<day>_<HHMMSS>.csv``, fills and flows into trading.db."""
        lo = self.released_to
        take = [p for p in self.points if p <= until and (lo is None or p > lo)]
        new_fills = [r for r in self.fills if _within(r[1], lo, until)]
        new_flows = [r for r in self.flows if _within(r[1], lo, until)]
        for p in take:
            rows = self.marks.filter(pa.array(self.row_micros == datetime_to_micros(p)))
            path = self.home.market_dir / "intraday" / f"live_{self.day:%Y%m%d}_{p:%H%M%S}.csv"
            tmp = path.with_name(f".{path.name}.tmp")
            pacsv.write_csv(rows, tmp, pacsv.WriteOptions(quoting_style="none"))
            tmp.replace(path)   # a file appears whole: the watcher never lands half of one
        if new_fills or new_flows:
            con = sqlite3.connect(self.home.trading_db)
            with con:
                con.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)", new_fills)
                con.executemany("INSERT INTO cash_flows VALUES (?,?,?,?)", new_flows)
            con.close()
        self.released_to = until if lo is None or until > lo else lo
        return {"points": len(take), "fills": len(new_fills), "flows": len(new_flows)}


def _utc(text: str) -> datetime:
    return parse_one(str(text)).astimezone(timezone.utc)


def _within(ts: str, lo: datetime | None, hi: datetime) -> bool:
    t = _utc(ts)
    return t <= hi and (lo is None or t > lo)


def hold_back(home: Home, day: date, session_start: datetime) -> Held:
    """Take the session ``day``'s inputs out of the home (its rows from ``session_start`` on, UTC:
    the previous close, so a fill after it belongs to ``day``) and return them to be released."""
    con = sqlite3.connect(home.trading_db)
    try:
        fills = [r for r in con.execute("SELECT * FROM fills ORDER BY rowid") if _utc(r[1]) > session_start]
        flows = [r for r in con.execute("SELECT * FROM cash_flows ORDER BY rowid") if _utc(r[1]) > session_start]
        with con:
            con.executemany("DELETE FROM fills WHERE fill_id = ?", [(r[0],) for r in fills])
            con.executemany("DELETE FROM cash_flows WHERE flow_id = ?", [(r[0],) for r in flows])
    finally:
        con.close()
    path: Path = home.market_dir / "intraday" / f"marks_{day:%Y%m%d}.csv"
    marks = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"ts": pa.string(), "symbol": pa.string(), "price": pa.float64()}))
    path.unlink()
    parsed = parse_iso_utc(marks.column("ts"))   # the ingest's own parser: every spelling the file mixes
    points = [micros_to_datetime(int(m)) for m in np.unique(parsed.micros)]
    return Held(home, day, sorted(fills, key=lambda r: _utc(r[1])), flows, marks, points, parsed.micros)
