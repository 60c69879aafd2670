"""The designed book returns: a return series calibrated so the guards see the story."""

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from mech_exo.demo_data.universe import (
    CRASH_KNOTS,
    CURRENT_MONTH_MTD,
    FIVE_MIN_MARKS,
    LAST_WEEK,
    N_INTRADAY_DAYS,
    PREV_MONTH_MTD,
    TARGET_NAV,
    TARGET_UTIL95,
    VAR_LIMIT95,
    VAR_LIMIT99,
)


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
