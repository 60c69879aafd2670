"""A plain pandas script computing the same ``nav_daily`` and VaR as ``scripts/floor_duckdb.py``.

Same inputs (read here with sqlite3 + ``pd.read_sql``, ``pd.read_parquet``, ``pd.read_csv``), same
definitions (SPEC §3 / the dbt models), same CLI and ``run(home)``:

* sessions = local dates (``session.timezone``) with any mark; close_d = ``session.close`` local time;
* a fill / flow / mark counts from the first close at or after it (close_{d−1} < ts <= close_d);
* mark(symbol, close_d) = latest mark at or before the close, else the latest fill price (last row
  of the engine's table wins a tie at one instant);
* NAV_d = cash + Σ position·mark; pnl_d = NAV_d − NAV_{d−1} − F_d; r_d = pnl_d / (NAV_{d−1} + F_d);
* VaR of the last session over the last ``var.window`` non-null returns (>= ``var.min_obs``):
  var95 = max(0, −quantile(r, 0.05)) with linear interpolation (numpy's default = quantile_cont).

    .venv/bin/python scripts/floor_pandas.py --home /tmp/book_m [--json]
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULTS = {"timezone": "America/New_York", "close": "16:00", "window": 250, "min_obs": 20}


def settings(home: Path) -> dict:
    out = dict(DEFAULTS)
    path = home / "config" / "risk.yml"
    if path.exists():
        import yaml

        cfg = yaml.safe_load(path.read_text()) or {}
        session, var = cfg.get("session") or {}, cfg.get("var") or {}
        out["timezone"] = str(session.get("timezone", out["timezone"]))
        out["close"] = str(session.get("close", out["close"]))
        out["window"] = int(var.get("window", out["window"]))
        out["min_obs"] = int(var.get("min_obs", out["min_obs"]))
    return out


def to_utc(col: pd.Series) -> np.ndarray:
    """Any ts column → UTC datetime64[us] values (naive text / naive timestamps = UTC, SPEC §2)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        ts = col.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(col.dtype):
        ts = col.dt.tz_localize("UTC")
    else:
        text = col.astype(str).str.strip()
        try:
            ts = pd.to_datetime(text, utc=True, format="ISO8601")
        except ValueError:          # e.g. a lower-case 'z' or 't'
            ts = pd.to_datetime(text.str.upper(), utc=True, format="ISO8601")
    return ts.dt.tz_localize(None).to_numpy().astype("datetime64[us]")


def read_marks(market: Path) -> pd.DataFrame:
    frames = []
    for f in sorted(p for p in market.rglob("*") if p.is_file()):
        suf = f.suffix.lower()
        if suf == ".parquet":
            df = pd.read_parquet(f, columns=["ts", "symbol", "price"])
        elif suf == ".csv":
            df = pd.read_csv(f, usecols=["ts", "symbol", "price"], dtype={"ts": str, "symbol": str, "price": float})
        else:
            continue
        frames.append(pd.DataFrame({"ts": to_utc(df["ts"]), "symbol": df["symbol"].astype(str).to_numpy(),
                                    "price": df["price"].astype(float).to_numpy()}))
    if not frames:
        raise SystemExit(f"{market}: no mark files")
    return pd.concat(frames, ignore_index=True)


def last_per_bucket(seq: np.ndarray, sym: np.ndarray, order_keys: list[np.ndarray], value: np.ndarray,
                    n_sym: int, n_ses: int) -> np.ndarray:
    """symbols × sessions matrix: the value of the latest row (by order_keys) in each (symbol, session)
    bucket, forward-filled over sessions — i.e. the as-of value at each close. NaN before any row."""
    order = np.lexsort(order_keys[::-1] + [seq, sym])     # by sym, seq, then the keys ascending
    s, q, v = sym[order], seq[order], value[order]
    last = np.r_[(s[1:] != s[:-1]) | (q[1:] != q[:-1]), True]
    out = np.full((n_sym, n_ses), np.nan)
    out[s[last], q[last]] = v[last]
    return pd.DataFrame(out.T).ffill().to_numpy().T


def run(home: Path, *, series: bool = False) -> dict:
    """The pandas floor over ``home``; ``series=True`` adds every session's row as ``nav_daily``."""
    home = Path(home)
    t0 = time.perf_counter()
    cfg = settings(home)
    tz, w, min_obs = cfg["timezone"], cfg["window"], cfg["min_obs"]

    # ---- inputs -------------------------------------------------------------------------------
    with sqlite3.connect(home / "data" / "trading.db") as con:
        fills = pd.read_sql("select rowid as source_row, ts, symbol, side, quantity, price, "
                            "coalesce(commission, 0.0) as commission from fills", con)
        flows = pd.read_sql("select ts, amount from cash_flows", con)
    con.close()
    sec = next((p for p in (home / "data" / "reference" / "securities.csv", home / "data" / "securities.csv")
                if p.exists()), None)
    if sec is not None:  # read as the contract says (not needed for NAV / VaR)
        securities = pd.read_csv(sec, dtype=str)
        securities["sector"] = securities["sector"].str.strip().replace("", np.nan).fillna("UNKNOWN")
    marks = read_marks(home / "data" / "market")

    # ---- sessions ------------------------------------------------------------------------------
    uniq = pd.DatetimeIndex(pd.unique(marks["ts"])).tz_localize("UTC")
    days = pd.DatetimeIndex(np.unique(uniq.tz_convert(tz).tz_localize(None).normalize()))
    close = (days + pd.Timedelta(cfg["close"] + (":00" if len(cfg["close"]) == 5 else "")))
    close_us = close.tz_localize(tz).tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]")
    n = len(days)

    # ---- each event goes to the first close at or after it ---------------------------------------
    f_ts = to_utc(fills["ts"])
    f_seq = np.searchsorted(close_us, f_ts, side="left")
    keep = f_seq < n
    qty = np.where(fills["side"].to_numpy() == "BUY", 1.0, -1.0) * fills["quantity"].to_numpy()
    price = fills["price"].to_numpy(dtype=float)
    cash_out = np.bincount(f_seq[keep], weights=(qty * price + fills["commission"].to_numpy(dtype=float))[keep],
                           minlength=n)
    fl_seq = np.searchsorted(close_us, to_utc(flows["ts"]), side="left")
    fl_keep = fl_seq < n
    flow = np.bincount(fl_seq[fl_keep], weights=flows["amount"].to_numpy(dtype=float)[fl_keep], minlength=n)
    cash = np.cumsum(flow - cash_out)

    # ---- positions and marks at each close (symbols × sessions) ----------------------------------
    symbols = pd.Index(pd.unique(fills["symbol"].to_numpy()[keep]))
    f_sym = symbols.get_indexer(fills["symbol"].to_numpy()[keep])
    n_sym = len(symbols)
    dq = np.zeros((n_sym, n))
    np.add.at(dq, (f_sym, f_seq[keep]), qty[keep])
    held = np.cumsum(np.bincount(f_sym * n + f_seq[keep], minlength=n_sym * n).reshape(n_sym, n), axis=1) > 0
    pos = np.cumsum(dq, axis=1)

    m_seq = np.searchsorted(close_us, marks["ts"].to_numpy(), side="left")
    m_sym = symbols.get_indexer(marks["symbol"].to_numpy())
    mk = (m_seq < n) & (m_sym >= 0)
    mark = last_per_bucket(m_seq[mk], m_sym[mk], [marks["ts"].to_numpy()[mk].astype(np.int64)],
                           marks["price"].to_numpy()[mk], n_sym, n)
    missing = held & np.isnan(mark)
    if missing.any():   # fallback: the latest fill price at or before the close
        fp = last_per_bucket(f_seq[keep], f_sym, [f_ts[keep].astype(np.int64), fills["source_row"].to_numpy()[keep]],
                             price[keep], n_sym, n)
        mark = np.where(missing, fp, mark)
    positions_value = np.where(held, pos * mark, 0.0).sum(axis=0)

    nav = cash + positions_value
    prev = np.r_[0.0, nav[:-1]]
    pnl = nav - prev - flow
    denom = prev + flow
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(denom == 0, np.nan, pnl / denom)
    nav_daily = pd.DataFrame({"session_date": days.date, "nav": nav, "cash": cash, "flows": flow,
                              "pnl": pnl, "daily_return": ret})

    # ---- VaR of the last session -----------------------------------------------------------------
    r = nav_daily["daily_return"].dropna().to_numpy()[-w:]
    var95 = var99 = None
    if len(r) >= min_obs:
        q05, q01 = np.quantile(r, [0.05, 0.01])
        var95, var99 = max(0.0, -float(q05)), max(0.0, -float(q01))
    last_nav = float(nav[-1])
    tail = nav_daily.tail(5)
    seconds = time.perf_counter() - t0
    extra = {}
    if series:
        extra["nav_daily"] = [[str(d), float(a), float(b), float(c), None if np.isnan(e) else float(e)]
                              for d, a, b, c, e in nav_daily[["session_date", "nav", "flows", "pnl", "daily_return"]]
                              .itertuples(index=False, name=None)]
    return {
        "seconds": seconds,
        "sessions": int(n),
        "last_nav": last_nav,
        "var": var95,
        "var99": var99,
        "var95_usd": None if var95 is None else var95 * last_nav,
        "var99_usd": None if var99 is None else var99 * last_nav,
        "n_obs": int(len(r)),
        "nav": [[str(d), float(v)] for d, v in zip(tail["session_date"], tail["nav"])],
    } | extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    r = run(a.home)
    if a.json:
        print(json.dumps(r))
    else:
        var = "n/a" if r["var"] is None else f"{r['var']:.6%} (${r['var95_usd']:,.2f})"
        print(f"{r['seconds']:.3f} s  sessions={r['sessions']}  last_nav={r['last_nav']:,.4f}  var95={var}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
