"""The public entry point: write the inputs, return the story the demo prints."""

from datetime import date

import numpy as np

from mech_exo.demo_data.book import simulate
from mech_exo.demo_data.files import _write_db, _write_marks, _write_securities
from mech_exo.demo_data.universe import (
    SECTOR_NAMES,
    TZ,
    UNIVERSE,
    VAR_LIMIT95,
    VAR_LIMIT99,
)
from mech_exo.home import Home


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
