"""Synthetic homes for tests: small, deterministic from a seed, and full of the hard cases.

``make_home(tmp_path, seed=0, crash=False, month_stop=False, quiet=False) -> Path`` writes a home
(SPEC §1-§2): ``config/risk.yml`` (the repo template), ``data/trading.db`` (fills, cash_flows),
``data/market/**`` (CSV and Parquet marks) and ``data/reference/securities.csv``.

Calendar (54 sessions in two blocks, so that BOTH US DST changes are inside a small data set; the
months between hold no marks, hence no sessions — the system has no calendar of its own):

* block A: weekdays 2026-02-09 .. 2026-03-20, except 2026-02-16 (29 sessions)
* block B: weekdays 2026-10-19 .. 2026-11-20 (25 sessions)

Books: strategies ``momentum`` and ``stat_arb``; symbols ALPHA (Technology, held long by BOTH
strategies), BRAVO (Energy), CHARL (Financials), DELTA (Health Care, SHORT by stat_arb), ECHO
(absent from securities.csv ⇒ sector UNKNOWN), NEWCO (Technology, no mark until 2026-03-04).
Capital ≈ $10M, gross ≈ 0.6, no position above ~12 % of NAV. Every session has a 16:00 local close mark per marked symbol.

Which date holds which hard case:

| date | hard case |
| --- | --- |
| 2026-02-06 (Fri) | initial deposit $10M, before the first session ⇒ counts in 2026-02-09 |
| 2026-02-09 | first session: opening fills (F_d is the denominator of the first return) |
| 2026-02-16 (Mon) | holiday: no marks; a $1M deposit that day rolls to 2026-02-17 |
| 2026-02-24 | CHARL: close mark at 15:59:59.5 and a late print at 16:00:00.5 (after the close: not in NAV_d) |
| 2026-02-27 → 03-02 | month boundary (Feb → Mar) |
| 2026-03-02, 03-03 | NEWCO bought (10:15, then 11:00:00.5 at another price) before any NEWCO mark ⇒ fill-price fallback |
| 2026-03-04 | first NEWCO mark |
| 2026-03-06 (Fri, EST) | intraday marks; a BRAVO fill at 20:30Z = 15:30 EST (before the 21:00Z close) |
| 2026-03-08 | US DST starts |
| 2026-03-09 (Mon, EDT) | intraday marks; a CHARL fill at 20:30Z = 16:30 EDT: AFTER the 20:00Z close |
| 2026-03-11 | BRAVO has no mark: as-of carry-forward from 03-10 |
| 2026-03-12 | empty day: marks, no fills, no flows |
| 2026-03-15 (Sun) | $400k deposit at 18:30 local (a weekend, after any close) ⇒ counts in 2026-03-16 |
| 2026-03-20 → 10-19 | no sessions; a $250k deposit on 2026-06-15 rolls to 2026-10-19 |
| 2026-10-24 (Sat) | $500k deposit (naive UTC spelling) rolls to 2026-10-26 |
| 2026-10-30 → 11-02 | month boundary (Oct → Nov); US DST ends 2026-11-01; intraday marks on both |
| 2026-11-04 (Wed) | evening withdrawal −$250k at 20:30 local (= 01:30Z on 11-05): after the close ⇒ in F of 11-05 |
| 2026-11-10 | intraday withdrawal −$750k at 13:15:00.25 local |
| 2026-11-12 | an ALPHA fill at 16:45 local (after the close) |
| 2026-11-18 .. 11-20 | intraday marks every 30 min (09:30 .. 15:30, plus the 16:00 close) |

Flows count in the session whose close first sees them (close_{d−1} < ts ≤ close_d, SPEC §3), and
the simulation aims its designed returns with that same F_d(≤t), so the evening withdrawal of a
``quiet`` book still shows a return near 0 on 11-05 (dated by local day it would read as −2.5 %).

Every 7th fill spells its symbol `` alpha``-style (lower case, leading space) and every 5th SELL is
``sell``: ARCHITECTURE's landing contract upper-cases and strips them.

Timestamps are written in rotating spellings in fills, flows and marks: ``Z``, ``+00:00``, the local
offset (``-05:00``/``-04:00``), naive (= UTC, ``T`` or space) and fractional seconds. Marks live in
CSV files and Parquet files (string ``ts``, and one file with a real ``timestamp[us, UTC]`` column).

Options (each verified with the oracle in tests/test_reference.py):
* ``crash=True``: on 2026-11-20 the intraday day_return falls to about −1.4 % at 11:00 local (below
  −0.8 % at 10:30, 11:00, 11:30 and 12:00) and recovers to about −0.25 % at the close.
* ``month_stop=True``: every October session loses 0.6 % (book level) ⇒ October ends near −5.8 % MTD
  with > 10 sessions of history.
* ``quiet=True``: every mark's day_return stays within ±0.3 % (daily returns too): nothing trips.
* default: moderate random moves (0.8 % daily per symbol); no promise either way about the guards.
"""
from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
NY = ZoneInfo("America/New_York")
UTC = timezone.utc

FILLS_DDL = ("CREATE TABLE fills (fill_id TEXT PRIMARY KEY, ts TEXT, symbol TEXT, side TEXT, quantity REAL, "
             "price REAL, commission REAL DEFAULT 0, strategy TEXT)")
FLOWS_DDL = "CREATE TABLE cash_flows (flow_id TEXT PRIMARY KEY, ts TEXT, amount REAL, note TEXT)"

SECURITIES = [("ALPHA", "Technology", "Alpha Systems Inc"), ("BRAVO", "Energy", "Bravo Petroleum Corp"),
              ("CHARL", "Financials", "Charlie Bancorp"), ("DELTA", "Health Care", "Delta Therapeutics"),
              ("NEWCO", "Technology", "NewCo Holdings")]  # ECHO deliberately missing
START_PRICE = {"ALPHA": 120.0, "BRAVO": 45.0, "CHARL": 80.0, "DELTA": 60.0, "ECHO": 30.0, "NEWCO": 25.0}
OPENING = [("momentum", "ALPHA", 8000), ("momentum", "BRAVO", 22000), ("momentum", "CHARL", 13000),
           ("stat_arb", "DELTA", -18000), ("stat_arb", "ECHO", 35000), ("stat_arb", "ALPHA", 6000)]

HOLIDAY = date(2026, 2, 16)
LATE_PRINT_DAY = date(2026, 2, 24)
NEWCO_FILL_DAYS = (date(2026, 3, 2), date(2026, 3, 3))
NEWCO_FIRST_MARK = date(2026, 3, 4)
MISSING_MARK = (date(2026, 3, 11), "BRAVO")
EMPTY_DAY = date(2026, 3, 12)
DST_DAYS = (date(2026, 3, 6), date(2026, 3, 9), date(2026, 10, 30), date(2026, 11, 2))
LAST_DAYS = (date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20))
CRASH_PATH = [-0.002, -0.006, -0.010, -0.014, -0.012, -0.0095, -0.0075, -0.006, -0.005, -0.004,
              -0.0035, -0.003, -0.003, -0.0025]  # day_return at 09:30, 10:00, ..., 15:30, 16:00
OCTOBER_DAILY = -0.006

# named so tests can point at them
HARD_CASES = {
    "initial_deposit": date(2026, 2, 6), "first_session": date(2026, 2, 9), "holiday": HOLIDAY,
    "holiday_deposit_session": date(2026, 2, 17), "late_print": LATE_PRINT_DAY,
    "month_boundary_a": (date(2026, 2, 27), date(2026, 3, 2)), "fill_fallback": NEWCO_FILL_DAYS,
    "first_newco_mark": NEWCO_FIRST_MARK, "dst_start": date(2026, 3, 8), "dst_end": date(2026, 11, 1),
    "fill_before_close_est": date(2026, 3, 6), "fill_after_close_edt": date(2026, 3, 9),
    "missing_mark": MISSING_MARK, "empty_day": EMPTY_DAY, "gap_deposit_session": date(2026, 10, 19),
    "weekend_deposit": date(2026, 10, 24), "weekend_deposit_session": date(2026, 10, 26),
    "month_boundary_b": (date(2026, 10, 30), date(2026, 11, 2)), "intraday_withdrawal": date(2026, 11, 10),
    "weekend_deposit_b": date(2026, 3, 15), "weekend_deposit_b_session": date(2026, 3, 16),
    "evening_withdrawal": date(2026, 11, 4), "evening_withdrawal_session": date(2026, 11, 5),
    "fill_after_close": date(2026, 11, 12), "last_session": LAST_DAYS[-1], "short": ("stat_arb", "DELTA"),
    "unknown_sector": "ECHO",
}


# ------------------------------------------------------------------------------------------------
# generic writer (also used by hand-written tests)
# ------------------------------------------------------------------------------------------------
def write_inputs(root: Path, *, fills: list[dict], flows: list[dict], mark_files: dict[str, pd.DataFrame],
                 securities: list[tuple[str, str, str]] | None = None, risk_yml: str | None = None) -> Path:
    """Write a home's raw inputs. ``mark_files`` maps a path under data/market to rows ts, symbol, price
    (ts as text, or tz-aware timestamps ⇒ a Parquet ``timestamp[us, UTC]`` column)."""
    root = Path(root)
    (root / "config").mkdir(parents=True, exist_ok=True)
    if risk_yml is None:
        shutil.copyfile(REPO / "config" / "risk.yml", root / "config" / "risk.yml")
    else:
        (root / "config" / "risk.yml").write_text(risk_yml)
    db = root / "data" / "trading.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    con = sqlite3.connect(db)
    with con:
        con.execute(FILLS_DDL)
        con.execute(FLOWS_DDL)
        con.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?)",
                        [(f["fill_id"], f["ts"], f["symbol"], f["side"], f["quantity"], f["price"],
                          f.get("commission", 0.0), f["strategy"]) for f in fills])
        con.executemany("INSERT INTO cash_flows VALUES (?,?,?,?)",
                        [(f["flow_id"], f["ts"], f["amount"], f.get("note", "")) for f in flows])
    con.close()
    for rel, df in mark_files.items():
        path = root / "data" / "market" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            df.to_csv(path, index=False)
        else:
            ts = df["ts"]
            ts_arr = (pa.array(pd.to_datetime(ts).dt.tz_convert("UTC").dt.as_unit("us"), type=pa.timestamp("us", tz="UTC"))
                      if pd.api.types.is_datetime64_any_dtype(ts) else pa.array([str(x) for x in ts], type=pa.string()))
            pq.write_table(pa.table({"ts": ts_arr, "symbol": pa.array([str(s) for s in df["symbol"]], type=pa.string()),
                                     "price": pa.array(df["price"].astype(float), type=pa.float64())}), path)
    sec = root / "data" / "reference" / "securities.csv"
    sec.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(securities if securities is not None else SECURITIES,
                 columns=["symbol", "sector", "name"]).to_csv(sec, index=False)
    return root


def local(d: date, hh: int, mm: int, ss: int = 0, us: int = 0, tz: ZoneInfo = NY) -> datetime:
    """The UTC instant of local wall time d hh:mm:ss.us in ``tz`` (DST-aware)."""
    return datetime.combine(d, time(hh, mm, ss, us), tzinfo=tz).astimezone(UTC)


def spell(t: datetime, style: int, tz: ZoneInfo = NY) -> str:
    """One of six ISO-8601 spellings of the UTC instant ``t`` (same instant, different text)."""
    u = t.astimezone(UTC)
    frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
    style %= 6
    if style == 0:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    if style == 1:
        return u.strftime("%Y-%m-%d %H:%M:%S") + frac + "+00:00"
    if style == 2:
        lt = u.astimezone(tz)
        return lt.strftime("%Y-%m-%dT%H:%M:%S") + frac + lt.strftime("%z")[:3] + ":" + lt.strftime("%z")[3:]
    if style == 3:
        return u.strftime("%Y-%m-%d %H:%M:%S") + frac          # naive = UTC
    if style == 4:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond:06d}Z"  # always fractional
    return u.strftime("%Y-%m-%dT%H:%M:%S") + frac               # naive with T


def weekdays(a: date, b: date, skip: tuple[date, ...] = ()) -> list[date]:
    out, d = [], a
    while d <= b:
        if d.weekday() < 5 and d not in skip:
            out.append(d)
        d += timedelta(days=1)
    return out


# ------------------------------------------------------------------------------------------------
# the plan: what happens when (prices come later, from the simulation)
# ------------------------------------------------------------------------------------------------
@dataclass
class Options:
    seed: int = 0
    crash: bool = False
    month_stop: bool = False
    quiet: bool = False


def sessions() -> list[date]:
    return (weekdays(date(2026, 2, 9), date(2026, 3, 20), skip=(HOLIDAY,))
            + weekdays(date(2026, 10, 19), date(2026, 11, 20)))


def mark_times(d: date) -> list[datetime]:
    if d in LAST_DAYS:
        return [local(d, 9 + (30 + 30 * i) // 60, (30 + 30 * i) % 60) for i in range(13)] + [local(d, 16, 0)]
    if d in DST_DAYS:
        return [local(d, 9, 30), local(d, 12, 0), local(d, 15, 30), local(d, 16, 0)]
    return [local(d, 16, 0)]


def marked_symbols(d: date) -> list[str]:
    syms = [s for s in START_PRICE if not (s == "NEWCO" and d < NEWCO_FIRST_MARK)]
    return [s for s in syms if (d, s) != MISSING_MARK]


def plan_flows() -> list[tuple[datetime, float, str]]:
    return [(local(date(2026, 2, 6), 15, 0), 10_000_000.0, "initial capital"),
            (datetime(2026, 2, 16, 17, 0, tzinfo=UTC), 1_000_000.0, "deposit on a holiday"),
            (datetime(2026, 6, 15, 12, 0, tzinfo=UTC), 250_000.0, "deposit between sessions"),
            (local(date(2026, 3, 15), 18, 30), 400_000.0, "weekend deposit (Sunday evening)"),
            (datetime(2026, 10, 24, 14, 0, tzinfo=UTC), 500_000.0, "weekend deposit"),
            (local(date(2026, 11, 4), 20, 30), -250_000.0, "evening withdrawal (after the close)"),
            (local(date(2026, 11, 10), 13, 15, 0, 250_000), -750_000.0, "intraday withdrawal")]


def plan_fills(rng: np.random.Generator, days: list[date]) -> list[tuple[datetime, str, str, float]]:
    """(ts, strategy, symbol, signed qty); prices are set by the simulation at fill time."""
    out = [(local(days[0], 10, 0, 5 * i, 1000 * i), s, sym, float(q)) for i, (s, sym, q) in enumerate(OPENING)]
    held = {(s, sym): float(q) for s, sym, q in OPENING}
    for d in days[1:]:
        if d == EMPTY_DAY:
            continue
        for j in range(2):
            s, sym, q0 = OPENING[int(rng.integers(len(OPENING)))]
            size = float(round(abs(q0) * rng.uniform(0.02, 0.08), -1)) or 10.0
            drift = held[(s, sym)] / q0 - 1.0  # trade back toward the opening size: weights stay bounded
            towards = -1.0 if held[(s, sym)] > q0 else 1.0
            sign = towards if abs(drift) > 0.05 else (1.0 if rng.random() < 0.5 else -1.0)
            held[(s, sym)] += sign * size
            minute = int(rng.integers(15, 375))  # 09:45 .. 15:45
            us = int(rng.integers(0, 1_000_000)) if j == 1 else 0
            out.append((local(d, 9 + (30 + minute) // 60, (30 + minute) % 60, int(rng.integers(60)), us), s, sym, sign * size))
    out += [(local(NEWCO_FILL_DAYS[0], 10, 15), "momentum", "NEWCO", 4000.0),
            (local(NEWCO_FILL_DAYS[1], 11, 0, 0, 500_000), "momentum", "NEWCO", 2000.0),
            (datetime(2026, 3, 6, 20, 30, tzinfo=UTC), "momentum", "BRAVO", 1500.0),
            (datetime(2026, 3, 9, 20, 30, tzinfo=UTC), "momentum", "CHARL", 1200.0),
            (local(date(2026, 11, 12), 16, 45), "stat_arb", "ALPHA", -800.0)]
    return sorted(out, key=lambda x: x[0])


# ------------------------------------------------------------------------------------------------
# simulation: walk the events in time order, keeping the book, so targets can be hit exactly
# ------------------------------------------------------------------------------------------------
class _Sim:
    def __init__(self, opt: Options):
        self.opt = opt
        self.rng = np.random.default_rng(opt.seed)
        self.sigma = 0.002 if opt.quiet else 0.008
        self.cash = 0.0
        self.pos: dict[tuple[str, str], float] = {}
        self.mark: dict[str, float] = {}
        self.fill_px: dict[str, float] = {}
        self.fills: list[dict] = []
        self.flows: list[dict] = []
        self.marks: list[tuple[datetime, str, float, date]] = []

    def price(self, sym: str) -> float:
        return self.mark.get(sym, self.fill_px.get(sym, START_PRICE[sym]))

    def net(self, sym: str) -> float:
        return sum(q for (_, s), q in self.pos.items() if s == sym)

    def nav(self) -> float:
        syms = {s for (_, s) in self.pos}
        return self.cash + sum(self.net(s) * self.price(s) for s in syms)

    def do_flow(self, t: datetime, amount: float, note: str) -> None:
        self.cash += amount
        n = len(self.flows)
        self.flows.append({"flow_id": f"CF{n + 1:04d}", "ts": spell(t, n + 2), "amount": amount, "note": note})

    def do_fill(self, t: datetime, strat: str, sym: str, qty: float) -> None:
        slip = 0.0005 if self.opt.quiet else 0.002
        px = round(self.price(sym) * (1.0 + self.rng.normal(0.0, slip)), 4)
        if sym == "NEWCO" and sym not in self.mark:
            px = {0: 25.10, 1: 25.60}.get(len([f for f in self.fills if f["symbol"] == "NEWCO"]), px)
        comm = round(max(1.0, abs(qty) * 0.005), 2)
        self.cash -= qty * px + comm
        self.pos[(strat, sym)] = self.pos.get((strat, sym), 0.0) + qty
        self.fill_px[sym] = px
        n = len(self.fills)
        self.fills.append({"fill_id": f"F{n + 1:05d}", "ts": spell(t, n), "symbol": sym if n % 7 else f" {sym.lower()}",
                           "side": "BUY" if qty > 0 else ("SELL" if n % 5 else "sell"), "quantity": abs(qty),
                           "price": px, "commission": comm, "strategy": strat})

    def do_marks(self, t: datetime, d: date, syms: list[str], step_sigma: float, target_nav: float | None) -> None:
        base = {s: self.price(s) * float(np.exp(self.rng.normal(0.0, step_sigma))) for s in syms}
        if target_nav is not None:
            # p_s = base_s · (1 + c·sign(net_s)) makes NAV linear in c; solve NAV = target exactly.
            fixed = self.cash + sum(self.net(s) * self.price(s) for s in {s for (_, s) in self.pos} if s not in base)
            moved = sum(self.net(s) * base[s] for s in syms)
            gross = sum(abs(self.net(s)) * base[s] for s in syms)
            c = (target_nav - fixed - moved) / gross if gross else 0.0
            base = {s: base[s] * (1.0 + c * np.sign(self.net(s))) for s in syms}
        for s in syms:
            self.mark[s] = round(base[s], 4)
            self.marks.append((t, s, self.mark[s], d))


def _target(opt: Options, d: date, i: int, n: int, prev_nav: float, flows_so_far: float,
            rng: np.random.Generator) -> float | None:
    """The NAV a mark time must show to produce the designed day_return (None = free)."""
    base = prev_nav + flows_so_far
    if opt.crash and d == LAST_DAYS[-1]:
        return base * (1.0 + CRASH_PATH[i])
    if opt.month_stop and d.month == 10 and i == n - 1:
        return base * (1.0 + OCTOBER_DAILY)
    if opt.quiet and base > 0:
        return base * (1.0 + float(np.clip(rng.normal(0.0002, 0.001), -0.003, 0.003)))
    return None


def simulate(opt: Options) -> _Sim:
    sim, days = _Sim(opt), sessions()
    fills = plan_fills(sim.rng, days)
    flows = plan_flows()
    events: list[tuple] = [(t, 0, "flow", a, note) for t, a, note in flows]
    events += [(t, 0, "fill", s, sym, q) for t, s, sym, q in fills]
    for d in days:
        times = mark_times(d)
        for i, t in enumerate(times):
            events.append((t, 1, "marks", d, i, len(times)))
        if d == LATE_PRINT_DAY:
            events = [e for e in events if not (e[2] == "marks" and e[3] == d)]
            events.append((local(d, 15, 59, 59, 500_000), 1, "marks_except", d, "CHARL"))
            events.append((local(d, 16, 0), 1, "marks_only_others", d))
            events.append((local(d, 16, 0, 0, 500_000), 1, "late_print", d))
    events.sort(key=lambda e: (e[0], e[1]))
    prev_nav, cur, prev_close = 0.0, None, None
    for e in events:
        t, kind = e[0], e[2]
        if kind == "flow":
            sim.do_flow(t, e[3], e[4])
            continue
        if kind == "fill":
            sim.do_fill(t, e[3], e[4], e[5])
            continue
        d = e[3]
        if d != cur:  # first mark of a new session: NAV of the previous close is known
            prev_close = local(cur, 16, 0) if cur is not None else None
            cur = d
            # F_d(≤t) counts the flows after the previous close (SPEC §3), whatever their local date
            day_flows_all = [(ft, a) for ft, a, _ in flows if prev_close is None or ft > prev_close]
        f_le = sum(a for ft, a in day_flows_all if ft <= t)
        if kind == "marks":
            i, n = e[4], e[5]
            step = sim.sigma / np.sqrt(n)
            sim.do_marks(t, d, marked_symbols(d), step, _target(opt, d, i, n, prev_nav, f_le, sim.rng))
            if i == n - 1:
                prev_nav = sim.nav()
        elif kind == "marks_except":
            sim.do_marks(t, d, ["CHARL"], sim.sigma, None)
        elif kind == "marks_only_others":
            sim.do_marks(t, d, [s for s in marked_symbols(d) if s != "CHARL"], sim.sigma,
                         _target(opt, d, 0, 1, prev_nav, f_le, sim.rng))
            prev_nav = sim.nav()
        elif kind == "late_print":
            sim.do_marks(t, d, ["CHARL"], sim.sigma / 4, None)
    return sim


def _mark_file(t: datetime, d: date) -> str:
    if d in LAST_DAYS or (d in DST_DAYS and t != local(d, 16, 0)):
        return f"intraday/{d:%Y%m%d}.csv"
    if d.month == 2:
        return "daily/closes_2026_02.csv"
    if d.month == 3:
        return "daily/closes_2026_03.parquet"
    if d.month == 10:
        return "daily/closes_2026_10_typed.parquet"
    return "daily/closes_2026_11.csv"


def mark_frames(sim: _Sim) -> dict[str, pd.DataFrame]:
    rows: dict[str, list] = {}
    for n, (t, s, px, d) in enumerate(sim.marks):
        rel = _mark_file(t, d)
        ts = pd.Timestamp(t) if rel.endswith("_typed.parquet") else spell(t, n)
        rows.setdefault(rel, []).append((ts, s, px))
    return {rel: pd.DataFrame(r, columns=["ts", "symbol", "price"]) for rel, r in sorted(rows.items())}


def make_home(tmp_path: Path, seed: int = 0, *, crash: bool = False, month_stop: bool = False,
              quiet: bool = False, name: str = "home") -> Path:
    """Write the synthetic home under ``tmp_path / name`` and return its root."""
    sim = simulate(Options(seed=seed, crash=crash, month_stop=month_stop, quiet=quiet))
    root = Path(tmp_path) / name
    return write_inputs(root, fills=sim.fills, flows=sim.flows, mark_files=mark_frames(sim))
