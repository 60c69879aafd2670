"""SPEC §9's "floor": one hand-written DuckDB script computing ``nav_daily`` and the book's VaR.

It reads a home's raw inputs itself (that is part of the measured time) — ``data/trading.db``
(SQLite, through the ADBC SQLite driver into Arrow), every ``data/market/**/*.parquet|csv`` mark
file and the securities reference — and computes, with the definitions of SPEC §3 / the dbt models:

* sessions: the local dates (``session.timezone``) on which any mark falls; close_d = session.close
  local time on d, as a UTC instant;
* NAV_d = cash(close_d) + Σ position(close_d)·mark(close_d), mark = latest mark at or before the
  close, else the latest fill price at or before it (last engine row wins a tie);
* F_d = flows in (close_{d−1}, close_d]; pnl_d = NAV_d − NAV_{d−1} − F_d;
  daily_return_d = pnl_d / (NAV_{d−1} + F_d) (NULL when that is 0);
* VaR of the last session: historical 1-day over the last ``var.window`` non-null daily returns,
  at least ``var.min_obs``: var95 = max(0, −quantile_cont(r, 0.05)) (var99 likewise at 0.01).

Timestamps: ISO-8601 text with ``Z``, ``±HH:MM``/``±HHMM``/``±HH`` offsets, fractions, a space or a
``T``; no offset = UTC (SPEC §2). Parquet timestamp columns: tz-aware = the instant, naive = UTC.

    .venv/bin/python scripts/floor_duckdb.py --home /tmp/book_m [--json]

No validation beyond what the casts enforce: this is a yardstick, not the product.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import duckdb

DEFAULTS = {"timezone": "America/New_York", "close": "16:00", "window": 250, "min_obs": 20}


def settings(home: Path) -> dict:
    """Session calendar and VaR window from the home's config/risk.yml (SPEC defaults otherwise)."""
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


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ts_expr(col: str, dtype: str) -> str:
    """SQL turning a ts column of the given DuckDB type into a naive UTC TIMESTAMP."""
    t = dtype.upper()
    if t.startswith("TIMESTAMP"):
        return f"({col})::timestamp"   # tz-aware: to UTC (the connection's TimeZone); naive: already UTC
    if t == "DATE":
        raise ValueError("a date-only mark timestamp has no instant")
    # text: the offset (if any) is applied by the TIMESTAMPTZ cast; naive reads as UTC (TimeZone=UTC)
    return f"upper(trim({col}::varchar))::timestamptz::timestamp"


def _marks_sql(con: duckdb.DuckDBPyConnection, market: Path) -> str:
    """One UNION ALL over every mark file, each with the ts conversion its column type needs."""
    parts = []
    for f in sorted(p for p in market.rglob("*") if p.is_file()):
        suf = f.suffix.lower()
        if suf == ".parquet":
            src = f"read_parquet({_q(str(f))})"
        elif suf == ".csv":
            src = (f"read_csv({_q(str(f))}, header=true, "
                   "columns={'ts': 'VARCHAR', 'symbol': 'VARCHAR', 'price': 'DOUBLE'})")
        else:
            continue
        types = dict(con.execute(f"select column_name, column_type from (describe select * from {src})").fetchall())
        parts.append(f"select {_ts_expr('ts', types['ts'])} as ts, symbol::varchar as symbol, "
                     f"price::double as price from {src}")
    if not parts:
        raise SystemExit(f"{market}: no mark files")
    return "\nunion all\n".join(parts)


def run(home: Path, *, series: bool = False) -> dict:
    """The floor over ``home``; ``series=True`` adds every session's row as ``nav_daily``."""
    home = Path(home)
    t0 = time.perf_counter()
    cfg = settings(home)
    tz, close_t = _q(cfg["timezone"]), cfg["close"]
    if len(close_t) == 5:
        close_t += ":00"
    w, min_obs = cfg["window"], cfg["min_obs"]

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")

    # ---- inputs -------------------------------------------------------------------------------
    with adbc.connect(str(home / "data" / "trading.db")) as sq:
        with sq.cursor() as cur:
            cur.execute("select rowid as source_row, ts, symbol, side, quantity, price, "
                        "coalesce(commission, 0.0) as commission from fills")
            fills_raw = cur.fetch_arrow_table()
            cur.execute("select ts, amount from cash_flows")
            flows_raw = cur.fetch_arrow_table()
    con.register("fills_raw", fills_raw)
    con.register("flows_raw", flows_raw)
    sec = next((p for p in (home / "data" / "reference" / "securities.csv", home / "data" / "securities.csv")
                if p.exists()), None)
    if sec is not None:  # read as the contract says (not needed for NAV / VaR)
        con.execute(f"create temp table securities as select symbol, coalesce(nullif(trim(sector), ''), "
                    f"'UNKNOWN') as sector, name from read_csv({_q(str(sec))}, header=true, all_varchar=true)")

    con.execute(f"create temp table marks as {_marks_sql(con, home / 'data' / 'market')}")
    con.execute(f"""
        create temp table fills as
        select source_row, {_ts_expr('ts', 'VARCHAR')} as ts, symbol,
               case side when 'BUY' then quantity when 'SELL' then -quantity end as qty,
               price, commission
        from fills_raw""")
    con.execute(f"create temp table flows as select {_ts_expr('ts', 'VARCHAR')} as ts, amount from flows_raw")

    # ---- sessions: local dates with a mark; the close as a UTC instant ---------------------------
    con.execute(f"""
        create temp table sessions as
        with days as (
            select distinct cast(timezone({tz}, ts::timestamptz) as date) as session_date
            from (select distinct ts from marks)
        )
        select session_date,
               timezone({tz}, (session_date + time '{close_t}')::timestamp)::timestamp as close_ts,
               row_number() over (order by session_date) as seq
        from days""")

    # ---- NAV at each close ---------------------------------------------------------------------
    con.execute("""
        create temp table nav_daily as
        with f as (      -- each fill in the session whose close first sees it
            select s.seq, x.symbol, x.qty, x.qty * x.price + x.commission as cash_out
            from fills x asof inner join sessions s on x.ts <= s.close_ts
        ),
        fq as (select seq, symbol, sum(qty) as dq from f group by all),
        fc as (select seq, sum(cash_out) as cash_out from f group by seq),
        fl as (
            select s.seq, sum(x.amount) as flows
            from flows x asof inner join sessions s on x.ts <= s.close_ts
            group by s.seq
        ),
        first_seen as (select symbol, min(seq) as seq0 from fq group by symbol),
        grid as (        -- every symbol held at or before each close
            select s.seq, s.close_ts, fs.symbol
            from first_seen fs join sessions s on s.seq >= fs.seq0
        ),
        pos as (
            select g.seq, g.close_ts, g.symbol,
                   sum(coalesce(fq.dq, 0)) over (partition by g.symbol order by g.seq) as position
            from grid g left join fq on fq.seq = g.seq and fq.symbol = g.symbol
        ),
        marked as (
            select p.*, m.price as mark
            from pos p asof left join marks m on p.symbol = m.symbol and p.close_ts >= m.ts
        ),
        need_fill as (select distinct symbol from marked where mark is null),
        fill_px as (     -- the fallback mark, only for symbols that lack a market mark somewhere
            select symbol, ts, arg_max(price, source_row) as fill_price
            from fills where symbol in (select symbol from need_fill)
            group by symbol, ts
        ),
        valued as (
            select mk.seq, sum(mk.position * coalesce(mk.mark, fp.fill_price)) as positions_value
            from marked mk asof left join fill_px fp on mk.symbol = fp.symbol and mk.close_ts >= fp.ts
            group by mk.seq
        ),
        nav as (
            select s.seq, s.session_date,
                   sum(coalesce(fl.flows, 0) - coalesce(fc.cash_out, 0)) over (order by s.seq) as cash,
                   coalesce(fl.flows, 0) as flows,
                   coalesce(v.positions_value, 0) as positions_value
            from sessions s
            left join fc on fc.seq = s.seq
            left join fl on fl.seq = s.seq
            left join valued v on v.seq = s.seq
        ),
        with_prev as (
            select *, cash + positions_value as nav,
                   lag(cash + positions_value, 1, 0) over (order by seq) as prev_nav
            from nav
        )
        select session_date, nav, cash, flows, nav - prev_nav - flows as pnl,
               case when prev_nav + flows = 0 then null
                    else (nav - prev_nav - flows) / (prev_nav + flows) end as daily_return
        from with_prev
        order by session_date""")

    # ---- VaR of the last session -----------------------------------------------------------------
    n_obs, q05, q01 = con.execute(f"""
        select count(*), quantile_cont(r, 0.05), quantile_cont(r, 0.01)
        from (select daily_return as r from nav_daily where daily_return is not null
              order by session_date desc limit {w})""").fetchone()
    sessions, last_nav = con.execute(
        "select count(*), arg_max(nav, session_date) from nav_daily").fetchone()
    var95 = max(0.0, -q05) if n_obs >= min_obs else None
    var99 = max(0.0, -q01) if n_obs >= min_obs else None
    tail = con.execute("select session_date::varchar, nav from nav_daily order by session_date desc limit 5").fetchall()
    seconds = time.perf_counter() - t0
    extra = {}
    if series:
        extra["nav_daily"] = [list(r) for r in con.execute(
            "select session_date::varchar, nav, flows, pnl, daily_return from nav_daily order by 1").fetchall()]
    con.close()
    return {
        "seconds": seconds,
        "sessions": int(sessions),
        "last_nav": last_nav,
        "var": var95,
        "var99": var99,
        "var95_usd": None if var95 is None else var95 * last_nav,
        "var99_usd": None if var99 is None else var99 * last_nav,
        "n_obs": int(n_obs),
        "nav": [[d, v] for d, v in reversed(tail)],
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
