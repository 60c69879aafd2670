"""Simulation: fills and marks consistent with the designed NAV path."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np

from mech_exo.demo_data.calendar import _local, session_calendar, us_market_holidays
from mech_exo.demo_data.design import crash_path, design_returns, quiet_path
from mech_exo.demo_data.universe import (
    FIVE_MIN_MARKS,
    N_INTRADAY_DAYS,
    PRICE_PULL,
    SECTOR_NAMES,
    TZ,
    UNIVERSE,
    UTC,
)


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
        scale = 1.0 if d_idx == 0 or i == 0 else rng.uniform(0.4, 1.0)
        trade = gap * scale + rng.normal(0, 0.002 * nav_prev) * (d_idx > 0 and i != 0)
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
