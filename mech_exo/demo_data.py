"""Demo inputs for ``exo demo``: a realistic book whose last session trips the guards (SPEC §2 formats).

Why designed rather than random: the demo must tell the same story every time — the last session
falls through the −0.8 % intraday stop, the previous month ended below −3 % MTD, VaR95 sits in the
warning band and one name is above 15 % of NAV. So the *book's* returns are designed first (pure
arithmetic on a return series, calibrated so VaR95 lands at 80 % of the $2M limit), and the prices
are then solved for: at every mark time each symbol gets its own noise (sector + idiosyncratic)
plus a common move ``c·sign(position)`` whose size is solved so the book's NAV is exactly the
designed one. Fills, commissions and flows are real inputs like any other; the solve sees them.

Everything is deterministic from ``seed``. ``write_demo_inputs`` returns the story (ISO dates,
numbers as the simulation measured them — the same NAV arithmetic as SPEC §3) so tests and the demo
printout can say what to expect.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mech_exo.home import Home

TZ = ZoneInfo("America/New_York")
UTC = timezone.utc
VAR_LIMIT95, VAR_LIMIT99 = 2_000_000.0, 3_000_000.0
TARGET_UTIL95 = 0.80          # VaR95 at 80 % of the limit: the warning band (70–90 %)
TARGET_NAV = 78_000_000.0     # NAV at the last session
PREV_MONTH_MTD = -0.036       # the previous calendar month ends at −3.6 %
CURRENT_MONTH_MTD = -0.010    # the current month, up to the last session
LAST_WEEK = [0.0021, -0.0018, 0.0034, 0.0012, -0.0055]  # daily returns of the last 5 sessions
# the last session's day_return path: (minutes after 09:30, day_return); worst −1.10 % at 11:45
CRASH_KNOTS = [(0, 0.0), (20, -0.0015), (45, -0.0040), (80, -0.0070), (105, -0.0092), (135, -0.0110),
               (165, -0.0098), (210, -0.0085), (270, -0.0072), (330, -0.0063), (390, -0.0055)]
N_INTRADAY_DAYS = 5
PRICE_PULL = 0.03             # daily mean reversion of log price toward the start price
FIVE_MIN_MARKS = 79           # 09:30 .. 16:00 every 5 minutes

# symbol, sector, name, strategy, target weight (fraction of NAV, signed), start price
UNIVERSE: list[tuple[str, str, str, str, float, float]] = [
    ("NVDA", "Technology", "NVIDIA Corp", "momentum", 0.175, 182.0),
    ("MSFT", "Technology", "Microsoft Corp", "momentum", 0.060, 376.0),
    ("AAPL", "Technology", "Apple Inc", "momentum", 0.055, 228.0),
    ("AVGO", "Technology", "Broadcom Inc", "momentum", 0.045, 338.0),
    ("AMZN", "Consumer Discretionary", "Amazon.com Inc", "momentum", 0.055, 219.0),
    ("TSLA", "Consumer Discretionary", "Tesla Inc", "momentum", 0.035, 289.0),
    ("META", "Communication Services", "Meta Platforms Inc", "momentum", 0.050, 398.0),
    ("GOOGL", "Communication Services", "Alphabet Inc", "momentum", 0.050, 171.0),
    ("JPM", "Financials", "JPMorgan Chase & Co", "momentum", 0.045, 244.0),
    ("GE", "Industrials", "GE Aerospace", "momentum", 0.040, 196.0),
    ("LLY", "Health Care", "Eli Lilly and Co", "momentum", 0.045, 398.0),
    ("COST", "Consumer Staples", "Costco Wholesale Corp", "momentum", 0.035, 388.0),
    ("XOM", "Energy", "Exxon Mobil Corp", "mean_reversion", 0.050, 112.0),
    ("CVX", "Energy", "Chevron Corp", "mean_reversion", -0.040, 151.0),
    ("PFE", "Health Care", "Pfizer Inc", "mean_reversion", 0.045, 26.5),
    ("MRK", "Health Care", "Merck & Co", "mean_reversion", -0.035, 98.0),
    ("KO", "Consumer Staples", "Coca-Cola Co", "mean_reversion", 0.040, 63.0),
    ("PG", "Consumer Staples", "Procter & Gamble Co", "mean_reversion", -0.030, 158.0),
    ("BAC", "Financials", "Bank of America Corp", "mean_reversion", 0.045, 41.0),
    ("INTC", "Technology", "Intel Corp", "mean_reversion", -0.030, 22.0),
    ("NEE", "Utilities", "NextEra Energy Inc", "mean_reversion", 0.040, 71.0),
    ("F", "Consumer Discretionary", "Ford Motor Co", "mean_reversion", -0.025, 14.2),
    ("GS", "Financials", "Goldman Sachs Group Inc", "stat_arb", 0.035, 352.0),
    ("MS", "Financials", "Morgan Stanley", "stat_arb", -0.035, 118.0),
    ("HD", "Consumer Discretionary", "Home Depot Inc", "stat_arb", 0.030, 372.0),
    ("LOW", "Consumer Discretionary", "Lowe's Companies Inc", "stat_arb", -0.030, 241.0),
    ("CAT", "Industrials", "Caterpillar Inc", "stat_arb", 0.030, 331.0),
    ("DE", "Industrials", "Deere & Co", "stat_arb", -0.030, 389.0),
    ("DUK", "Utilities", "Duke Energy Corp", "stat_arb", 0.030, 104.0),
    ("SO", "Utilities", "Southern Co", "stat_arb", -0.030, 84.0),
    ("T", "Communication Services", "AT&T Inc", "stat_arb", 0.030, 21.5),
    ("VZ", "Communication Services", "Verizon Communications", "stat_arb", -0.030, 41.5),
    ("COP", "Energy", "ConocoPhillips", "stat_arb", 0.030, 104.0),
    ("SLB", "Energy", "Schlumberger Ltd", "stat_arb", -0.030, 38.0),
    ("UNH", "Health Care", "UnitedHealth Group Inc", "stat_arb", 0.030, 305.0),
]
SECTOR_NAMES = sorted({u[1] for u in UNIVERSE})


# ------------------------------------------------------------------------------------------------
# calendar
# ------------------------------------------------------------------------------------------------
def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    if n > 0:
        return d + timedelta(weeks=n - 1)
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    return d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=1) if d.weekday() == 6 else d


def _easter(year: int) -> date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def us_market_holidays(year: int) -> set[date]:
    """The NYSE full-day holidays of ``year`` (enough realism for a demo calendar)."""
    return {_observed(date(year, 1, 1)), _nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3),
            _easter(year) - timedelta(days=2), _nth_weekday(year, 5, 0, -1), _observed(date(year, 6, 19)),
            _observed(date(year, 7, 4)), _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 11, 3, 4),
            _observed(date(year, 12, 25))}


def session_calendar(start: date, end: date) -> list[date]:
    hol = set().union(*(us_market_holidays(y) for y in range(start.year, end.year + 1)))
    out, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in hol:
            out.append(d)
        d += timedelta(days=1)
    return out


def _local(d: date, hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm, ss, us), tzinfo=TZ).astimezone(UTC)


def spell(t: datetime, style: int) -> str:
    """The same instant in one of five ISO-8601 spellings (inputs in the wild mix them)."""
    u = t.astimezone(UTC)
    frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
    style %= 5
    if style == 0:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    if style == 1:
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "+00:00"
    if style == 2:
        lt = u.astimezone(TZ)
        z = lt.strftime("%z")
        return lt.strftime("%Y-%m-%dT%H:%M:%S") + frac + z[:3] + ":" + z[3:]
    if style == 3:
        return u.strftime("%Y-%m-%d %H:%M:%S") + frac  # naive = UTC
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond:06d}Z"


# ------------------------------------------------------------------------------------------------
# the designed book returns
# ------------------------------------------------------------------------------------------------
def _nav_path(R: np.ndarray, F: np.ndarray) -> np.ndarray:
    nav, prev = np.empty(len(R)), 0.0
    for i in range(len(R)):
        prev = (prev + F[i]) * (1.0 + R[i])
        nav[i] = prev
    return nav


def _shift_to_product(x: np.ndarray, target: float) -> np.ndarray:
    """x + a with Π(1 + x + a) = 1 + target (bisection on a: monotone)."""
    lo, hi = -0.05, 0.05
    for _ in range(80):
        a = (lo + hi) / 2
        if np.prod(1.0 + x + a) - 1.0 > target:
            hi = a
        else:
            lo = a
    return x + (lo + hi) / 2


def _bisect(fn, lo: float, hi: float, target: float, n: int = 60) -> float:
    """Root of increasing fn(x) = target on [lo, hi]."""
    for _ in range(n):
        mid = (lo + hi) / 2
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class Design:
    R: np.ndarray
    nav: np.ndarray
    util95: float
    util99: float


def design_returns(rng: np.random.Generator, days: list[date], F: np.ndarray) -> Design:
    n = len(days)
    last = days[-1]
    cur_m = (last.year, last.month)
    prev_m = (last.year, last.month - 1) if last.month > 1 else (last.year - 1, 12)
    month = [(d.year, d.month) for d in days]
    fixed = np.zeros(n, dtype=bool)
    fixed[-N_INTRADAY_DAYS:] = True
    prev_idx = np.array([m == prev_m for m in month])
    cur_free = np.array([m == cur_m for m in month]) & ~fixed
    free = ~fixed & ~prev_idx & ~cur_free
    z = rng.standard_normal(n)
    z_oct = rng.standard_normal(n)
    zf = (z[free] - z[free].mean()) / z[free].std()

    def build(k: float, mu: float) -> np.ndarray:
        R = np.zeros(n)
        R[-N_INTRADAY_DAYS:] = LAST_WEEK
        R[free] = mu + k * zf
        R[prev_idx] = _shift_to_product(0.007 * z_oct[prev_idx], PREV_MONTH_MTD)
        if cur_free.any():
            fixed_cur = np.prod(1.0 + R[np.array([m == cur_m for m in month]) & fixed])
            R[cur_free] = _shift_to_product(k * z[cur_free], (1.0 + CURRENT_MONTH_MTD) / fixed_cur - 1.0)
        return R

    def solved(k: float) -> np.ndarray:
        mu = _bisect(lambda m: _nav_path(build(k, m), F)[-1], -0.01, 0.01, TARGET_NAV, 50)
        return build(k, mu)

    def util95(k: float) -> float:
        R = solved(k)
        return -np.quantile(R[-250:], 0.05) * _nav_path(R, F)[-1] / VAR_LIMIT95

    k = _bisect(util95, 0.001, 0.04, TARGET_UTIL95, 40)
    R = solved(k)
    nav = _nav_path(R, F)
    w = R[-250:]
    return Design(R=R, nav=nav, util95=-np.quantile(w, 0.05) * nav[-1] / VAR_LIMIT95,
                  util99=-np.quantile(w, 0.01) * nav[-1] / VAR_LIMIT99)


def crash_path(n: int = FIVE_MIN_MARKS) -> np.ndarray:
    xs, ys = zip(*CRASH_KNOTS)
    return np.interp(np.arange(n) * 5.0, xs, ys)


def quiet_path(rng: np.random.Generator, r_close: float, n: int = FIVE_MIN_MARKS) -> np.ndarray:
    """A day_return path ending at ``r_close`` that never goes below −0.35 % (no WARNING before the crash)."""
    steps = rng.normal(0.0, 0.0012 / math.sqrt(n), n)
    walk = np.cumsum(steps)
    bridge = walk - np.arange(1, n + 1) / n * walk[-1]
    path = r_close * np.arange(1, n + 1) / n + bridge
    return np.clip(path, -0.0035, None)


# ------------------------------------------------------------------------------------------------
# simulation: fills and marks consistent with the designed NAV path
# ------------------------------------------------------------------------------------------------
@dataclass
class _Book:
    syms: list[str]
    sign: np.ndarray                # +1 long / −1 short per symbol (one strategy per symbol)
    qty: np.ndarray                 # position per symbol
    px: np.ndarray                  # latest mark per symbol
    cash: float = 0.0
    fills: list[tuple] = field(default_factory=list)
    marks: list[tuple] = field(default_factory=list)   # (t, day_index, [prices])
    flows: list[tuple] = field(default_factory=list)

    def nav(self) -> float:
        return self.cash + float(self.qty @ self.px)

    def fill(self, t: datetime, i: int, qty: float, price: float, strategy: str) -> None:
        price = round(price, 4)
        comm = round(max(1.0, abs(qty) * 0.0035), 2)
        self.cash -= qty * price + comm
        self.qty[i] += qty
        self.fills.append((t, self.syms[i], qty, price, comm, strategy))


def _lot(q: float) -> float:
    return float(round(q, -2) if abs(q) >= 1000 else round(q, -1))


def _mark_times(d: date, intraday: bool) -> list[datetime]:
    if not intraday:
        return [_local(d, 16, 0)]
    return [_local(d, 9 + (30 + 5 * i) // 60, (30 + 5 * i) % 60) for i in range(FIVE_MIN_MARKS)]


def _plan_trades(rng, book: _Book, d_idx: int, n_days: int, nav_prev: float, weights: np.ndarray,
                 times: list[datetime], intraday: bool) -> list[tuple[datetime, int, float]]:
    """(ts, symbol index, signed qty): rebalance a random handful toward target weights."""
    n_sym = len(book.syms)
    if d_idx == 0:
        picks = list(range(n_sym))
    else:
        picks = list(rng.choice(n_sym, size=int(rng.integers(7, 13)), replace=False))
        if d_idx >= n_days - 3 and 0 not in picks:
            picks.append(0)  # keep the concentrated name at its target into the last session
    out = []
    for i in picks:
        gap = weights[i] * nav_prev - book.qty[i] * book.px[i]
        trade = gap * (1.0 if d_idx == 0 or i == 0 else rng.uniform(0.4, 1.0)) + rng.normal(0, 0.002 * nav_prev) * (d_idx > 0 and i != 0)
        q = _lot(trade / book.px[i])
        if q == 0:
            continue
        if d_idx == 0:
            t = times[0] - timedelta(hours=5, minutes=59, seconds=50 - i)  # 10:00:xx on the first day
        elif intraday:
            j = int(rng.integers(1, len(times) - 1))
            t = times[j] - timedelta(seconds=int(rng.integers(10, 290)), microseconds=int(rng.integers(0, 10**6)))
        else:
            t = times[0] - timedelta(minutes=int(rng.integers(5, 385)), seconds=int(rng.integers(0, 60)),
                                     microseconds=int(rng.integers(0, 4)) * 250_000)
        out.append((t, int(i), q))
    return sorted(out)


def _solve_prices(book: _Book, base: np.ndarray, target_nav: float) -> np.ndarray:
    """Prices base·(1 + c·sign) with c such that NAV = target (NAV is linear in c)."""
    s = np.sign(book.qty) if np.any(book.qty) else book.sign
    gross = float(np.abs(book.qty) @ base)
    c = (target_nav - book.cash - float(book.qty @ base)) / gross if gross else 0.0
    return np.round(base * (1.0 + c * s), 2)


def simulate(seed: int, end_date: date):
    rng = np.random.default_rng(seed)
    end = max(d for d in session_calendar(end_date - timedelta(days=10), end_date))
    start = date(end.year - 1, end.month, 1) - timedelta(days=31)
    start = date(start.year, start.month, 1)
    days = session_calendar(start, end)
    flows = _plan_flows(days)
    F = np.zeros(len(days))
    session_of = {}
    for t, amount, _ in flows:
        ld = t.astimezone(TZ).date()
        k = next(i for i, d in enumerate(days) if d >= ld)
        F[k] += amount
        session_of[t] = k
    design = design_returns(rng, days, F)
    syms = [u[0] for u in UNIVERSE]
    weights = np.array([u[4] for u in UNIVERSE])
    sector_of = {u[0]: u[1] for u in UNIVERSE}
    sec_idx = np.array([SECTOR_NAMES.index(sector_of[s]) for s in syms])
    book = _Book(syms=syms, sign=np.sign(weights), qty=np.zeros(len(syms)), px=np.array([u[5] for u in UNIVERSE]))
    strategy = [u[3] for u in UNIVERSE]
    start_px = book.px.copy()
    flow_iter = sorted(flows)
    fi = 0
    nav_prev = 0.0
    intraday_paths: dict[int, np.ndarray] = {}
    nav_points: list[tuple[datetime, float, float]] = []  # (t, nav, day_return) on intraday days
    closes: list[float] = []
    n = len(days)
    for di, d in enumerate(days):
        intraday = di >= n - N_INTRADAY_DAYS
        times = _mark_times(d, intraday)
        if intraday:
            path = crash_path() if di == n - 1 else quiet_path(rng, design.R[di])
            path[-1] = design.R[di]
            intraday_paths[di] = path
        else:
            path = np.array([design.R[di]])
        # noise relative to the previous close: sector factor + idiosyncratic, spread over the marks
        steps = len(times)
        sec = rng.normal(0, 0.006 / math.sqrt(steps), (steps, len(SECTOR_NAMES))).cumsum(axis=0)[:, sec_idx]
        idio = rng.normal(0, 0.010 / math.sqrt(steps), (steps, len(syms))).cumsum(axis=0)
        noise = sec + idio
        ref = book.px.copy()
        trades = _plan_trades(rng, book, di, n, nav_prev if di else F[0], weights, times, intraday)
        ti = 0
        for j, t in enumerate(times):
            while fi < len(flow_iter) and flow_iter[fi][0] <= t:
                ft, amount, note = flow_iter[fi]
                book.cash += amount
                book.flows.append((ft, amount, note))
                fi += 1
            while ti < len(trades) and trades[ti][0] <= t:
                tt, i, q = trades[ti]
                if di == 0:
                    price = ref[i]
                elif intraday:
                    price = book.px[i] * (1 + rng.normal(0, 0.0006))
                else:
                    price = ref[i] * (1 + rng.uniform(0, 1) * noise[-1, i] + rng.normal(0, 0.0015))
                book.fill(tt, i, q, price, strategy[i])
                ti += 1
            f_le = sum(a for ft, a, _ in flows if session_of[ft] == di and ft <= t)
            target = (nav_prev + f_le) * (1.0 + path[j])
            pull = (start_px / ref) ** (PRICE_PULL * (j + 1) / steps)  # keeps prices realistic (10-500)
            book.px = _solve_prices(book, ref * (1.0 + noise[j]) * pull, target)
            book.marks.append((t, di, book.px.copy()))
            if intraday:
                nav_t = book.nav()
                nav_points.append((t, nav_t, (nav_t - nav_prev - f_le) / (nav_prev + f_le)))
        nav_prev = book.nav()
        closes.append(nav_prev)
    return days, book, design, np.array(closes), nav_points, F


def _plan_flows(days: list[date]) -> list[tuple[datetime, float, str]]:
    """Initial capital the Saturday before the first session, a weekend subscription, a holiday
    subscription (both roll to the next session) and an intraday redemption."""
    n = len(days)
    first = days[0]
    sat_before = first - timedelta(days=(first.weekday() - 5) % 7 or 7)
    mid = days[int(n * 0.4)]
    sat_mid = mid + timedelta(days=(5 - mid.weekday()) % 7)
    hol_candidates = [d for y in {days[0].year, days[-1].year} for d in us_market_holidays(y)
                      if days[int(n * 0.55)] < d < days[int(n * 0.8)] and d.weekday() < 5]
    hol = min(hol_candidates) if hol_candidates else days[int(n * 0.6)] + timedelta(days=1)
    red = days[int(n * 0.7)]
    return [(datetime.combine(sat_before, time(14, 0), tzinfo=UTC), 60_000_000.0, "initial capital"),
            (datetime.combine(sat_mid, time(13, 30), tzinfo=TZ).astimezone(UTC), 10_000_000.0, "subscription (weekend)"),
            (datetime.combine(hol, time(12, 0), tzinfo=UTC), 2_000_000.0, "subscription (market holiday)"),
            (_local(red, 11, 0, 0, 500_000), -5_000_000.0, "redemption")]


# ------------------------------------------------------------------------------------------------
# writing the files
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# public entry point
# ------------------------------------------------------------------------------------------------
def write_demo_inputs(home: Home, seed: int = 7, end_date: date = date(2026, 11, 20)) -> dict:
    """Write trading.db, market marks and securities.csv for the demo; return the story.

    Existing ``trading.db`` and the demo's own mark files are replaced; other files under
    ``data/market`` are left alone (``exo demo`` writes into a fresh home).
    """
    days, book, design, closes, nav_points, F = simulate(seed, end_date)
    _write_db(home, book)
    n_marks = _write_marks(home, days, book)
    _write_securities(home)
    return _story(seed, days, book, closes, nav_points, F, n_marks)


def _story(seed, days, book, closes, nav_points, F, n_marks) -> dict:
    last = days[-1]
    R = np.empty(len(days))
    prev = 0.0
    for i, nav in enumerate(closes):
        R[i] = (nav - prev - F[i]) / (prev + F[i])
        prev = nav
    w = R[-250:]
    var95 = max(0.0, -float(np.quantile(w, 0.05))) * closes[-1]
    var99 = max(0.0, -float(np.quantile(w, 0.01))) * closes[-1]
    last_pts = [(t, r) for t, _, r in nav_points if t.astimezone(TZ).date() == last]
    worst_t, worst_r = min(last_pts, key=lambda p: p[1])
    first_breach = next(t for t, r in last_pts if r <= -0.008)
    prev_m = (last.year, last.month - 1) if last.month > 1 else (last.year - 1, 12)
    idx_prev = [i for i, d in enumerate(days) if (d.year, d.month) == prev_m]
    idx_cur = [i for i, d in enumerate(days) if (d.year, d.month) == (last.year, last.month)]
    weights = np.abs(book.qty * book.px) / closes[-1]
    top = int(np.argmax(weights))
    u95, u99 = var95 / VAR_LIMIT95 * 100, var99 / VAR_LIMIT99 * 100
    return {
        "seed": seed,
        "first_session": days[0].isoformat(),
        "last_session": last.isoformat(),
        "n_sessions": len(days),
        "n_symbols": len(book.syms),
        "n_sectors": len(SECTOR_NAMES),
        "strategies": sorted({u[3] for u in UNIVERSE}),
        "n_fills": len(book.fills),
        "n_marks": n_marks,
        "nav_last": float(closes[-1]),
        "crash": {"session": last.isoformat(), "worst_day_return": float(worst_r),
                  "worst_at": worst_t.isoformat(), "worst_at_local": worst_t.astimezone(TZ).strftime("%H:%M"),
                  "first_below_threshold_at": first_breach.isoformat(),
                  "close_day_return": float(R[-1])},
        "previous_month": {"month": f"{prev_m[0]}-{prev_m[1]:02d}", "last_session": days[idx_prev[-1]].isoformat(),
                           "mtd_return": float(np.prod(1 + R[idx_prev]) - 1), "history_days": idx_prev[-1] + 1},
        "current_month_mtd": float(np.prod(1 + R[idx_cur]) - 1),
        "var": {"var95_usd": var95, "var99_usd": var99, "utilization95_pct": u95, "utilization99_pct": u99,
                "level": "warning" if 70 <= max(u95, u99) <= 90 else "other"},
        "concentration": {"strategy": UNIVERSE[top][3], "symbol": book.syms[top], "weight": float(weights[top])},
        "flows": [{"ts": t.isoformat(), "amount": a, "note": note} for t, a, note in book.flows],
        "expect": ["intraday-pnl-sentinel: CRITICAL DAY LOSS, kill-switch off",
                   "VaR: WARNING (utilisation 70-90 %)",
                   f"concentration: WARNING {book.syms[top]} above 15 %",
                   f"previous month {prev_m[0]}-{prev_m[1]:02d} ended below -3 % MTD"],
    }
