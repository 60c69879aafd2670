"""Independent test oracle for SPEC §3 (plain pandas/numpy, one obvious loop per quantity).

Why it exists: the product computes its metrics in dbt SQL over the landing files written by
``mech_exo.ingest``. Comparing that against a second implementation that shares none of its code
(this one reads the RAW inputs of a home itself: SQLite via ``sqlite3``, the CSV/Parquet mark files,
``securities.csv``) catches errors in either. Clarity beats speed: every number is computed the way
SPEC §3 and docs/ARCHITECTURE.md ("Session calendar and timestamp rules") say it, by evaluating
``NAV(t)`` at the instants that matter. It is meant for homes with a few thousand rows.

Choices where SPEC and ARCHITECTURE are silent (flag a mismatch with the product, don't just copy):

* Symbols are upper-cased and stripped, sides upper-cased (as ARCHITECTURE's landing contract says);
  a NULL commission is 0.
* Two marks of one symbol at the same instant: the last one read wins (files in sorted path order,
  rows in file order). The fill-price fallback takes the latest fill by (ts, fill_id).
* ``daily_return`` is NaN (NULL) when its denominator is 0; ``mtd_return`` treats it as 0.
* Flows are windowed by closes, never by local date (SPEC §3): F_d = flows with close(d−1) < ts ≤
  close(d) (the first session: every flow up to its close), F_d(≤t) = flows with close(d−1) < ts ≤ t
  for a mark time t of d — also when t is a print after d's close. A flow after the last close is
  in no F_d yet (but in NAV(t) of any later t).
* Exposures are fractions of NAV over the (strategy, symbol) positions at the close (SPEC's grain);
  ``long_exposure`` = Σ positive values / NAV, ``short_exposure`` = Σ |negative values| / NAV (a
  positive number), so gross = long + short and net = long − short.
* ``utilization95/99`` are fractions of the limit (0.8 = 80 %), like every ratio in SPEC §3; ``level``
  compares them ×100 with the percent thresholds.
* P&L windows: the fills in a session's P&L are those with ``close(d−1) < ts ≤ close(d)`` (for
  ``positions_current.day_pnl``: ``close(d−1) < ts ≤ T``). That is SPEC's "fills on d" for every
  fill made during the trading day, and it is the only reading under which strategy P&L adds up to
  ``nav_daily.pnl`` when a fill lands after the close (the literal session-date reading books the
  whole notional of an after-close buy as a loss on d and gives it back on d+1).
  ``daily_metrics.n_fills/traded_notional/commissions`` count the fills whose session date is d.
* ``strategy_daily_pnl`` has a row for every strategy with any fill at or before the session close.
* ``position_risk``: a symbol's close price is ``mark(symbol, close_ts)`` (with the fill fallback);
  a return with no price on either side is 0. Fewer than ``var.min_obs`` scenarios ⇒ NaN
  contributions. Ties between equal portfolio scenarios are ordered by session date (stable sort).

Output frames: ``session_date`` and ``month`` are ``datetime.date``; ``nav_intraday.ts`` is naive
``datetime64`` meaning UTC (like the warehouse); NULL is NaN (None for text).
"""
from __future__ import annotations

import bisect
import math
import sqlite3
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

POSITION_EPS = 1e-9  # a position whose |quantity| is below this is flat (sums of float quantities)


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    timezone: str = "America/New_York"
    close: str = "16:00"
    var_window: int = 250
    var_min_obs: int = 20
    limit95_usd: float = 2_000_000.0
    limit99_usd: float = 3_000_000.0
    warning_pct: float = 70.0
    critical_pct: float = 90.0
    halt_pct: float = 100.0
    monthly_threshold_pct: float = -3.0
    min_history_days: int = 10

    @classmethod
    def from_home(cls, root: Path, **overrides) -> "Params":
        """The home's ``config/risk.yml`` (through the shared loader), then explicit overrides."""
        from mech_exo.config import load_risk_config

        path = Path(root) / "config" / "risk.yml"
        cfg = load_risk_config(path if path.exists() else None)
        p = cls(timezone=cfg["session"]["timezone"], close=cfg["session"]["close"],
                var_window=cfg["var"]["window"], var_min_obs=cfg["var"]["min_obs"],
                limit95_usd=cfg["var"]["limit95_usd"], limit99_usd=cfg["var"]["limit99_usd"],
                warning_pct=cfg["var"]["warning_pct"], critical_pct=cfg["var"]["critical_pct"],
                halt_pct=cfg["var"]["halt_pct"],
                monthly_threshold_pct=cfg["monthly_stop"]["threshold_pct"],
                min_history_days=cfg["monthly_stop"]["min_history_days"])
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown Params overrides: {sorted(unknown)}")
        return replace(p, **overrides)


# ------------------------------------------------------------------------------------------------
# reading the raw inputs
# ------------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    fills: pd.DataFrame      # fill_id, ts (UTC), symbol, side, quantity, price, commission, strategy, signed_qty
    flows: pd.DataFrame      # flow_id, ts (UTC), amount, note
    marks: pd.DataFrame      # ts (UTC), symbol, price   (read order preserved)
    securities: pd.DataFrame  # symbol, sector, name


def parse_ts(values) -> pd.Series:
    """ISO-8601 with any offset, or naive meaning UTC → tz-aware UTC. Unparsable ⇒ raise, never NaT."""
    s = pd.Series(values, dtype=object)
    out = pd.to_datetime(s, utc=True, format="ISO8601")
    if out.isna().any():
        bad = s[out.isna()].head(3).tolist()
        raise ValueError(f"unparsable or missing timestamps: {bad}")
    return out


def _ts_column(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is None:
            return col.dt.tz_localize("UTC")
        return col.dt.tz_convert("UTC")
    return parse_ts(col.astype(object).tolist())


def read_fills_flows(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    try:
        fills = pd.DataFrame(con.execute(
            "SELECT fill_id, ts, symbol, side, quantity, price, commission, strategy FROM fills").fetchall(),
            columns=["fill_id", "ts", "symbol", "side", "quantity", "price", "commission", "strategy"])
        flows = pd.DataFrame(con.execute("SELECT flow_id, ts, amount, note FROM cash_flows").fetchall(),
                             columns=["flow_id", "ts", "amount", "note"])
    finally:
        con.close()
    return fills, flows


def read_marks(market_dir: Path) -> pd.DataFrame:
    parts = []
    files = sorted(p for p in Path(market_dir).rglob("*")
                   if p.is_file() and p.suffix.lower() in (".csv", ".parquet"))
    for path in files:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype={"ts": object, "symbol": object})
        else:
            df = pd.read_parquet(path)
        missing = {"ts", "symbol", "price"} - set(df.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        parts.append(pd.DataFrame({"ts": _ts_column(df["ts"]), "symbol": df["symbol"].astype(object).tolist(),
                                   "price": df["price"].astype(float).to_numpy()}))
    if not parts:
        return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[us, UTC]"), "symbol": [], "price": []})
    return pd.concat(parts, ignore_index=True)


def read_securities(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        return pd.DataFrame(columns=["symbol", "sector", "name"])
    df = pd.read_csv(path, dtype=object)
    df["symbol"] = [str(s).strip().upper() for s in df["symbol"]]
    return df


def normalise(fills: pd.DataFrame, flows: pd.DataFrame, marks: pd.DataFrame,
              securities: pd.DataFrame) -> Inputs:
    """Raw rows (ts as text or timestamps) → typed frames the oracle computes on."""
    f = pd.DataFrame({
        "fill_id": [str(x) for x in fills["fill_id"]],
        "ts": _ts_column(pd.Series(list(fills["ts"]), dtype=object)) if len(fills) else pd.Series([], dtype="datetime64[us, UTC]"),
        "symbol": [str(x).strip().upper() for x in fills["symbol"]],
        "side": [str(x).strip().upper() for x in fills["side"]],
        "quantity": np.asarray(fills["quantity"], dtype=float),
        "price": np.asarray(fills["price"], dtype=float),
        "commission": [0.0 if c is None or (isinstance(c, float) and math.isnan(c)) else float(c)
                       for c in fills["commission"]],
        "strategy": [str(x) for x in fills["strategy"]],
    })
    f["signed_qty"] = np.where(f["side"] == "BUY", f["quantity"], -f["quantity"])
    f = f.sort_values(["ts", "fill_id"], kind="stable").reset_index(drop=True)
    fl = pd.DataFrame({
        "flow_id": [str(x) for x in flows["flow_id"]],
        "ts": _ts_column(pd.Series(list(flows["ts"]), dtype=object)) if len(flows) else pd.Series([], dtype="datetime64[us, UTC]"),
        "amount": np.asarray(flows["amount"], dtype=float),
        "note": list(flows["note"]),
    })
    m = pd.DataFrame({"ts": _ts_column(marks["ts"]) if len(marks) else pd.Series([], dtype="datetime64[us, UTC]"),
                      "symbol": [str(x).strip().upper() for x in marks["symbol"]],
                      "price": np.asarray(marks["price"], dtype=float)})
    return Inputs(fills=f, flows=fl, marks=m, securities=securities)


def load_inputs(root: Path) -> Inputs:
    root = Path(root)
    fills, flows = read_fills_flows(root / "data" / "trading.db")
    marks = read_marks(root / "data" / "market")
    sec = read_securities(root / "data" / "reference" / "securities.csv")
    return normalise(fills, flows, marks, sec)


# ------------------------------------------------------------------------------------------------
# the book: NAV(t) and friends, straight from the definitions
# ------------------------------------------------------------------------------------------------
def _np_utc(t: pd.Timestamp) -> np.datetime64:
    return np.datetime64(pd.Timestamp(t).tz_convert("UTC").tz_localize(None).as_unit("us"))


class Book:
    """Evaluates SPEC §3 quantities at any instant ``t`` (tz-aware UTC ``pd.Timestamp``)."""

    def __init__(self, inputs: Inputs, params: Params | None = None):
        self.p = params or Params()
        self.tz = ZoneInfo(self.p.timezone)
        self.fills = inputs.fills
        self.flows = inputs.flows
        self.marks = inputs.marks
        hh, mm = (int(x) for x in self.p.close.split(":"))
        self.close_time = time(hh, mm)
        self.sessions: list[date] = sorted(set(self.local_dates(self.marks["ts"])))
        self.sector = {str(s): str(sec) for s, sec in zip(inputs.securities.get("symbol", []),
                                                          inputs.securities.get("sector", []))}
        # per-symbol mark arrays, stable-sorted by ts so ties keep read order (last read wins)
        self._marks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        m = self.marks.assign(_naive=self.marks["ts"].dt.tz_localize(None)).sort_values("_naive", kind="stable")
        for sym, g in m.groupby("symbol", sort=True):
            self._marks[sym] = (g["_naive"].to_numpy(dtype="datetime64[us]"), g["price"].to_numpy(dtype=float))
        self._fill_px: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sym, g in self.fills.groupby("symbol", sort=True):  # already sorted by (ts, fill_id)
            self._fill_px[sym] = (g["ts"].dt.tz_localize(None).to_numpy(dtype="datetime64[us]"),
                                  g["price"].to_numpy(dtype=float))
        self.fills = self.fills.assign(session_date=[self.session_of(t) for t in self.fills["ts"]])
        # a flow's session is the one whose F_d counts it: close_{d−1} < ts <= close_d (SPEC §3)
        self.flows = self.flows.assign(session_date=[self.flow_session_of(t) for t in self.flows["ts"]])

    # --- calendar -------------------------------------------------------------------------------
    def local_dates(self, ts: pd.Series) -> list[date]:
        return list(ts.dt.tz_convert(self.p.timezone).dt.date)

    def local_date(self, t: pd.Timestamp) -> date:
        return pd.Timestamp(t).tz_convert(self.p.timezone).date()

    def session_of(self, t: pd.Timestamp) -> date | None:
        """First session date on or after the local date of ``t``; None after the last session."""
        i = bisect.bisect_left(self.sessions, self.local_date(t))
        return self.sessions[i] if i < len(self.sessions) else None

    def flow_session_of(self, t: pd.Timestamp) -> date | None:
        """The session whose F_d counts a flow at ``t``: the first d with t <= close_d (None after the last close).

        Deliberately computed from the close instants, not from ``session_of``: a flow at 20:30 local is
        on d's local date but after d's close, so it belongs to the next session.
        """
        for d in self.sessions:
            if t <= self.close_ts(d):
                return d
        return None

    def close_ts(self, d: date) -> pd.Timestamp:
        local = datetime.combine(d, self.close_time, tzinfo=self.tz)
        return pd.Timestamp(local).tz_convert("UTC")

    def prev_session(self, d: date) -> date | None:
        i = self.sessions.index(d)
        return self.sessions[i - 1] if i > 0 else None

    # --- state at an instant --------------------------------------------------------------------
    def positions_at(self, t: pd.Timestamp) -> dict[tuple[str, str], float]:
        f = self.fills[self.fills["ts"] <= t]
        sums = f.groupby(["strategy", "symbol"], sort=True)["signed_qty"].sum()
        return {(str(k[0]), str(k[1])): float(v) for k, v in sums.items()}

    def cash_at(self, t: pd.Timestamp) -> float:
        f = self.fills[self.fills["ts"] <= t]
        flows = self.flows.loc[self.flows["ts"] <= t, "amount"].sum()
        return float(flows - (f["signed_qty"] * f["price"]).sum() - f["commission"].sum())

    def mark_at(self, symbol: str, t: pd.Timestamp) -> tuple[float | None, str | None]:
        """(price, 'mark'|'fill') as of ``t``; (None, None) with neither a mark nor a fill yet."""
        tn = _np_utc(t)
        for source, table in (("mark", self._marks), ("fill", self._fill_px)):
            if symbol in table:
                times, prices = table[symbol]
                i = int(np.searchsorted(times, tn, side="right")) - 1
                if i >= 0:
                    return float(prices[i]), source
        return None, None

    def values_at(self, t: pd.Timestamp) -> dict[tuple[str, str], float]:
        """Market value of every non-flat (strategy, symbol) position at ``t``."""
        out = {}
        for key, q in self.positions_at(t).items():
            if abs(q) > POSITION_EPS:
                px, _ = self.mark_at(key[1], t)
                out[key] = q * px
        return out

    def nav_at(self, t: pd.Timestamp) -> float:
        return self.cash_at(t) + sum(self.values_at(t).values())

    def fills_between(self, lo: pd.Timestamp | None, hi: pd.Timestamp) -> pd.DataFrame:
        """Fills with lo < ts <= hi (lo None = from the beginning)."""
        mask = self.fills["ts"] <= hi
        if lo is not None:
            mask &= self.fills["ts"] > lo
        return self.fills[mask]

    def flows_between(self, lo: pd.Timestamp | None, hi: pd.Timestamp) -> float:
        """Σ flows with lo < ts <= hi (lo None = from the beginning)."""
        mask = self.flows["ts"] <= hi
        if lo is not None:
            mask &= self.flows["ts"] > lo
        return float(self.flows.loc[mask, "amount"].sum())

    def prev_close(self, d: date) -> pd.Timestamp | None:
        prev = self.prev_session(d)
        return self.close_ts(prev) if prev is not None else None

    def flows_of(self, d: date, upto: pd.Timestamp | None = None) -> float:
        """F_d = Σ flows with close_{d−1} < ts <= close_d; with ``upto``, F_d(≤t): close_{d−1} < ts <= t (SPEC §3)."""
        return self.flows_between(self.prev_close(d), self.close_ts(d) if upto is None else upto)

    def sector_of(self, symbol: str) -> str:
        return self.sector.get(symbol, "UNKNOWN")


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else math.nan


# ------------------------------------------------------------------------------------------------
# the models
# ------------------------------------------------------------------------------------------------
def nav_daily(book: Book) -> pd.DataFrame:
    rows, prev_nav = [], 0.0
    for d in book.sessions:
        t = book.close_ts(d)
        nav, cash, flows = book.nav_at(t), book.cash_at(t), book.flows_of(d)
        pnl = nav - prev_nav - flows
        rows.append({"session_date": d, "nav": nav, "cash": cash, "flows": flows, "pnl": pnl,
                     "daily_return": _ratio(pnl, prev_nav + flows), "close_ts": t.tz_localize(None)})
        prev_nav = nav
    return pd.DataFrame(rows, columns=["session_date", "nav", "cash", "flows", "pnl", "daily_return", "close_ts"])


def nav_intraday(book: Book, daily: pd.DataFrame) -> pd.DataFrame:
    prev_nav = dict(zip(book.sessions, [0.0] + list(daily["nav"])[:-1]))
    rows = []
    for t in sorted(set(book.marks["ts"])):
        d = book.session_of(t)
        nav = book.nav_at(t)
        f = book.flows_of(d, upto=t)
        day_pnl = nav - prev_nav[d] - f
        rows.append({"ts": t.tz_localize(None), "session_date": d, "nav": nav, "day_pnl": day_pnl,
                     "day_return": _ratio(day_pnl, prev_nav[d] + f)})
    return pd.DataFrame(rows, columns=["ts", "session_date", "nav", "day_pnl", "day_return"])


def daily_metrics(book: Book, daily: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in daily.itertuples(index=False):
        values = list(book.values_at(book.close_ts(r.session_date)).values())
        longs = sum(v for v in values if v > 0)
        shorts = -sum(v for v in values if v < 0)
        f = book.fills[book.fills["session_date"] == r.session_date]
        rows.append({"session_date": r.session_date, "nav": r.nav, "pnl": r.pnl, "daily_return": r.daily_return,
                     "flows": r.flows, "gross_exposure": _ratio(longs + shorts, r.nav),
                     "net_exposure": _ratio(longs - shorts, r.nav), "long_exposure": _ratio(longs, r.nav),
                     "short_exposure": _ratio(shorts, r.nav), "n_fills": len(f),
                     "traded_notional": float((f["quantity"] * f["price"]).abs().sum()),
                     "commissions": float(f["commission"].sum())})
    return pd.DataFrame(rows)


def mtd_drawdown(book: Book, daily: pd.DataFrame) -> pd.DataFrame:
    rows, month, growth, peak = [], None, 1.0, 1.0
    for i, r in enumerate(daily.itertuples(index=False), start=1):
        m = r.session_date.replace(day=1)
        if m != month:
            month, growth, peak = m, 1.0, 1.0
        growth *= 1.0 + (0.0 if math.isnan(r.daily_return) else r.daily_return)
        peak = max(peak, growth)
        mtd = growth - 1.0
        armed = i >= book.p.min_history_days
        rows.append({"session_date": r.session_date, "month": m, "mtd_return": mtd,
                     "mtd_drawdown": growth / peak - 1.0, "history_days": i, "guard_armed": armed,
                     "breached": bool(armed and round(mtd * 100, 6) <= book.p.monthly_threshold_pct)})
    return pd.DataFrame(rows)


def var_level(u95: float, u99: float, p: Params) -> str:
    """Level from utilisations given as fractions (percent = ×100, rounded to 6 decimals)."""
    if math.isnan(u95) or math.isnan(u99):
        return "insufficient_data"
    u = round(max(u95, u99) * 100.0, 6)
    if u > p.halt_pct:
        return "breach"
    if u > p.critical_pct:
        return "critical"
    if u >= p.warning_pct:
        return "warning"
    return "normal"


def var_stats(returns: np.ndarray) -> dict[str, float]:
    """Historical VaR/ES of one window of returns (fractions), SPEC §3."""
    q05, q01 = np.quantile(returns, 0.05), np.quantile(returns, 0.01)
    return {"var95": max(0.0, -q05), "var99": max(0.0, -q01),
            "es95": -float(np.mean(returns[returns <= q05])), "es99": -float(np.mean(returns[returns <= q01]))}


def var_daily(book: Book, daily: pd.DataFrame) -> pd.DataFrame:
    p, rows, seen = book.p, [], []
    for r in daily.itertuples(index=False):
        if not math.isnan(r.daily_return):
            seen.append(r.daily_return)
        window = np.array(seen[-p.var_window:], dtype=float)
        row = {"session_date": r.session_date, "nav": r.nav, "n_obs": len(window)}
        if len(window) >= p.var_min_obs:
            row.update(var_stats(window))
            row["var95_usd"], row["var99_usd"] = row["var95"] * r.nav, row["var99"] * r.nav
            row["utilization95"] = row["var95_usd"] / p.limit95_usd
            row["utilization99"] = row["var99_usd"] / p.limit99_usd
        else:
            for k in ("var95", "var99", "es95", "es99", "var95_usd", "var99_usd", "utilization95", "utilization99"):
                row[k] = math.nan
        row["level"] = var_level(row["utilization95"], row["utilization99"], p)
        rows.append(row)
    return pd.DataFrame(rows, columns=["session_date", "nav", "n_obs", "var95", "var99", "es95", "es99",
                                       "var95_usd", "var99_usd", "utilization95", "utilization99", "level"])


def as_of_time(book: Book) -> pd.Timestamp | None:
    """T of positions_current: the latest mark or fill timestamp that belongs to a session."""
    cands = [t for t in list(book.marks["ts"]) + list(book.fills["ts"]) if book.session_of(t) is not None]
    return max(cands) if cands else None


def positions_current(book: Book) -> pd.DataFrame:
    cols = ["strategy", "symbol", "sector", "quantity", "mark", "mark_source", "market_value", "weight", "day_pnl"]
    T = as_of_time(book)
    if T is None:
        return pd.DataFrame(columns=cols)
    d = book.session_of(T)
    prev = book.prev_session(d)
    t0 = book.close_ts(prev) if prev is not None else None
    nav = book.nav_at(T)
    prev_pos = book.positions_at(t0) if t0 is not None else {}
    today = book.fills_between(t0, T)
    rows = []
    for (strat, sym), q in sorted(book.positions_at(T).items()):
        if abs(q) <= POSITION_EPS:
            continue
        px, source = book.mark_at(sym, T)
        mv = q * px
        q0 = prev_pos.get((strat, sym), 0.0)
        v0 = q0 * book.mark_at(sym, t0)[0] if abs(q0) > POSITION_EPS else 0.0
        f = today[(today["strategy"] == strat) & (today["symbol"] == sym)]
        day_pnl = mv - v0 - float((f["signed_qty"] * f["price"]).sum()) - float(f["commission"].sum())
        rows.append({"strategy": strat, "symbol": sym, "sector": book.sector_of(sym), "quantity": q, "mark": px,
                     "mark_source": source, "market_value": mv, "weight": _ratio(abs(mv), nav), "day_pnl": day_pnl})
    return pd.DataFrame(rows, columns=cols)


def position_scenarios(book: Book, positions: pd.DataFrame) -> tuple[list[date], np.ndarray]:
    """(scenario session dates, matrix [position i, scenario k] of market_value_i · r_{s(i),k})."""
    p = book.p
    pairs = list(zip(book.sessions[:-1], book.sessions[1:]))[-p.var_window:]
    pnl = np.zeros((len(positions), len(pairs)))
    for k, (d0, d1) in enumerate(pairs):
        t0, t1 = book.close_ts(d0), book.close_ts(d1)
        for i, (sym, mv) in enumerate(zip(positions["symbol"], positions["market_value"])):
            p0, p1 = book.mark_at(sym, t0)[0], book.mark_at(sym, t1)[0]
            r = p1 / p0 - 1.0 if p0 is not None and p1 is not None else 0.0
            pnl[i, k] = mv * r
    return [d1 for _, d1 in pairs], pnl


def quantile_point(n: int, level: float = 0.05) -> tuple[int, float]:
    """(k, w) of numpy's linear quantile: value = (1−w)·x_(k) + w·x_(k+1), h = (n−1)·level."""
    h = (n - 1) * level
    k = int(math.floor(h))
    return k, h - k


def position_risk(book: Book, positions: pd.DataFrame) -> pd.DataFrame:
    out = positions[["strategy", "symbol", "sector", "market_value"]].copy()
    days, pnl = position_scenarios(book, positions)
    n = len(days)
    if n < book.p.var_min_obs or len(out) == 0:
        out["var95_contribution"] = math.nan
        return out
    order = np.argsort(pnl.sum(axis=0), kind="stable")
    k, w = quantile_point(n, 0.05)
    lo = pnl[:, order[k]]
    hi = pnl[:, order[k + 1]] if k + 1 < n else lo
    out["var95_contribution"] = -((1.0 - w) * lo + w * hi)
    return out


def strategy_daily_pnl(book: Book) -> pd.DataFrame:
    rows, prev_t = [], None
    for d in book.sessions:
        t = book.close_ts(d)
        now_v, prev_v = book.values_at(t), (book.values_at(prev_t) if prev_t is not None else {})
        window = book.fills_between(prev_t, t)
        strategies = sorted(set(book.fills.loc[book.fills["ts"] <= t, "strategy"]))
        for s in strategies:
            dv = sum(v for (st, _), v in now_v.items() if st == s) - sum(v for (st, _), v in prev_v.items() if st == s)
            f = window[window["strategy"] == s]
            pnl = dv - float((f["signed_qty"] * f["price"]).sum()) - float(f["commission"].sum())
            rows.append({"session_date": d, "strategy": s, "pnl": pnl})
        prev_t = t
    return pd.DataFrame(rows, columns=["session_date", "strategy", "pnl"])


def compute(inputs: Inputs, params: Params | None = None) -> dict[str, pd.DataFrame]:
    book = Book(inputs, params)
    daily = nav_daily(book)
    pos = positions_current(book)
    return {
        "nav_daily": daily,
        "nav_intraday": nav_intraday(book, daily),
        "daily_metrics": daily_metrics(book, daily),
        "mtd_drawdown": mtd_drawdown(book, daily),
        "var_daily": var_daily(book, daily),
        "positions_current": pos,
        "position_risk": position_risk(book, pos),
        "strategy_daily_pnl": strategy_daily_pnl(book),
    }


def reference_metrics(root: Path, params: Params | None = None, **overrides) -> dict[str, pd.DataFrame]:
    """All oracle models for the home at ``root`` (risk.yml of the home unless ``params`` is given)."""
    p = params or Params.from_home(Path(root), **overrides)
    return compute(load_inputs(Path(root)), p)


def book_of(root: Path, params: Params | None = None, **overrides) -> Book:
    """The evaluated book itself, for tests that probe NAV(t) or mark(symbol, t) at chosen instants."""
    p = params or Params.from_home(Path(root), **overrides)
    return Book(load_inputs(Path(root)), p)
