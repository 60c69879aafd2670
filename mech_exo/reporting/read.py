"""Every question the readers ask the published snapshot, in one module: the CLI's read commands,
the dashboard and its JSON API (through ``RiskQueryEngine``) call these functions and hold no SQL.

Why one module: "the latest var_daily row" was written five times, with different columns and
different tie-breaks; a reader could show a figure the guards never judged. Here each question
has one query and one name. All take an open read-only connection to ``data/analytics.duckdb``
(``mech_exo.reporting.snapshot``) and return dicts (``rows``/``one``); a model missing from the
snapshot raises ``NoData`` naming it.

Grouped by model: sessions (``nav_daily``/``int_sessions``), intraday NAV, MTD, VaR, positions,
strategies and months, fills, and the repair figures.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from mech_exo.reporting.snapshot import one, rows

Row = dict[str, Any]

# --- sessions ---------------------------------------------------------------------------------------

def probe(con) -> None:
    """One cheap query on a model: raises when the snapshot cannot answer (``/health``)."""
    con.execute("select count(*) from nav_daily").fetchall()


def tables(con) -> list[str]:
    """The snapshot's tables and views (schema main), by name."""
    return [r["table_name"] for r in rows(con, "select table_name from information_schema.tables "
                                               "where table_schema = 'main' order by 1")]


def has_table(con, name: str) -> bool:
    return bool(one(con, "select count(*) as n from information_schema.tables where table_name = ?", [name])["n"])


def row_count(con, table: str) -> int:
    """Rows of one table (the name is quoted, so any table name is safe)."""
    return one(con, f'select count(*) as n from "{table.replace(chr(34), chr(34) * 2)}"')["n"]


def max_ts(con, table: str) -> Any:
    """The latest ``ts`` of a table (None when empty): the freshness watch's latest mark or fill."""
    return one(con, f'select max(ts) as ts from "{table.replace(chr(34), chr(34) * 2)}"')["ts"]


def latest_session(con) -> date | None:
    """The latest session in ``nav_daily`` (None without sessions)."""
    r = one(con, "select max(session_date) as d from nav_daily")
    return r["d"] if r else None


def first_session(con) -> date | None:
    r = one(con, "select min(session_date) as d from nav_daily")
    return r["d"] if r else None


def has_session(con, d: date) -> bool:
    return one(con, "select 1 as x from nav_daily where session_date = ?", [d]) is not None


def has_any_session(con) -> bool:
    return bool(rows(con, "select 1 as x from nav_daily limit 1"))


def has_month(con, month: date) -> bool:
    return one(con, "select 1 as x from nav_daily where month = ?", [month]) is not None


def months(con) -> list[date]:
    """The months with sessions, oldest first."""
    return [r["month"] for r in rows(con, "select distinct month from nav_daily order by 1")]


def sessions_between(con, start: date, end: date) -> list[date]:
    return [r["session_date"] for r in rows(
        con, "select session_date from nav_daily where session_date between ? and ? order by 1", [start, end])]


def calendar_sessions(con) -> list[date]:
    """Every session date of the calendar model (``int_sessions``), with or without a NAV row."""
    return [r["session_date"] for r in rows(con, "select session_date from int_sessions order by 1")]


def last_session_of_month(con, month: date) -> date | None:
    return one(con, "select max(session_date) as d from nav_daily where month = ?", [month])["d"]


# --- daily NAV --------------------------------------------------------------------------------------

def latest_nav(con) -> Row | None:
    """The latest ``nav_daily`` row: session_date, nav, pnl, daily_return."""
    return one(con, "select session_date, nav, pnl, daily_return from nav_daily order by session_date desc limit 1")


def nav_on(con, d: date) -> Row | None:
    return one(con, "select session_date, nav, flows, pnl, daily_return from nav_daily where session_date = ?", [d])


def nav_before(con, d: date) -> Row | None:
    """The session before ``d``: session_date, nav (None for the first session)."""
    return one(con, "select session_date, nav from nav_daily where session_date < ? order by session_date desc limit 1",
               [d])


def nav_series(con, first: date, last: date) -> list[Row]:
    """nav_daily ⋈ mtd_drawdown over first..last (flows, pnl, returns, MTD, drawdown)."""
    return rows(con, "select n.session_date, n.nav, n.flows, n.pnl, n.daily_return, m.mtd_return, m.mtd_drawdown "
                     "from nav_daily n left join mtd_drawdown m using (session_date) "
                     "where n.session_date between ? and ? order by n.session_date", [first, last])


def nav_history(con) -> list[Row]:
    """Every nav_daily row with its sequence number and MTD return (what `exo nav validate` re-derives)."""
    return rows(con, "select n.session_date, n.month, n.nav, n.flows, n.pnl, n.daily_return, n.session_seq, "
                     "m.mtd_return from nav_daily n left join mtd_drawdown m using (session_date) "
                     "order by n.session_date")


def month_returns(con, first: date) -> list[Row]:
    """session_date, daily_return of the month starting at ``first``."""
    return rows(con, "select session_date, daily_return from nav_daily "
                     "where session_date >= ? and date_trunc('month', session_date) = ? order by session_date",
                [first, first])


def daily_metrics_on(con, d: date) -> Row | None:
    return one(con, "select pnl from daily_metrics where session_date = ?", [d])


# --- intraday NAV -----------------------------------------------------------------------------------

def latest_intraday(con) -> Row | None:
    """The latest ``nav_intraday`` point: ts, session_date, nav, day_pnl, day_return."""
    return one(con, "select ts, session_date, nav, day_pnl, day_return from nav_intraday order by ts desc limit 1")


def worst_intraday(con) -> Row | None:
    """The lowest day_return of the latest intraday session (earliest point on ties): ts, day_return."""
    return one(con, """select ts, day_return from nav_intraday
                where session_date = (select max(session_date) from nav_intraday) and day_return is not null
                order by day_return asc, ts asc limit 1""")


def session_worst(con, d: date) -> Row | None:
    """worst, worst_ts: the lowest day_return of session ``d`` and when."""
    return one(con, "select min(day_return) as worst, arg_min(ts, day_return) as worst_ts from nav_intraday "
                    "where session_date = ?", [d])


def latest_intraday_session(con) -> date | None:
    """The latest session with intraday NAV points (what the intraday sentinel judges)."""
    return one(con, "select max(session_date) as d from nav_intraday")["d"]


def session_points(con, d: date) -> list[Row]:
    """ts, session_date, day_return of every intraday point of session ``d`` (nulls included), in time order."""
    return rows(con, "select ts, session_date, day_return from nav_intraday where session_date = ? order by ts", [d])


def intraday_returns(con, d: date) -> list[Row]:
    """ts, day_return of every point of session ``d`` that has a return, in time order."""
    return rows(con, "select ts, day_return from nav_intraday where session_date = ? and day_return is not null "
                     "order by ts", [d])


def latest_mark_ts(con) -> Row | None:
    """ts: the latest intraday NAV point (what "data age" counts from)."""
    return one(con, "select max(ts) as ts from nav_intraday")


def recent_session_dates(con, n: int = 10) -> list[Row]:
    """The latest ``n`` session dates with intraday marks, newest first (session_date)."""
    return rows(con, f"select distinct session_date from nav_intraday order by session_date desc limit {int(n)}")


# --- month to date ----------------------------------------------------------------------------------

MTD_COLUMNS = "session_date, month, mtd_return, mtd_drawdown, history_days, guard_armed, breached"


def latest_mtd(con) -> Row | None:
    """The latest ``mtd_drawdown`` row."""
    return one(con, f"select {MTD_COLUMNS} from mtd_drawdown order by session_date desc limit 1")


def mtd_on(con, d: date) -> Row | None:
    return one(con, f"select {MTD_COLUMNS} from mtd_drawdown where session_date = ?", [d])


def month_sessions(con, month: date) -> list[Row]:
    """nav_daily ⋈ mtd_drawdown of one month, session by session (the monthly guard's figures)."""
    return rows(con, "select n.session_date, n.nav, n.prev_nav, n.flows, n.pnl, n.daily_return, m.mtd_return, "
                     "m.mtd_drawdown, m.history_days, m.guard_armed, m.breached "
                     "from nav_daily n join mtd_drawdown m using (session_date) where n.month = ? "
                     "order by n.session_date", [month])


def month_history(con, n_months: int) -> list[Row]:
    """Per month (the latest ``n_months`` with data, oldest first): return, worst MTD, drawdown, breached."""
    return rows(con, """
        select month, count(*) as sessions, min(session_date) as first_session, max(session_date) as last_session,
               arg_max(mtd_return, session_date) as mtd_return, min(mtd_return) as worst_mtd_return,
               min(mtd_drawdown) as worst_drawdown, bool_or(coalesce(breached, false)) as breached
        from mtd_drawdown group by month order by month desc limit ?""", [n_months])[::-1]


def month_totals(con, month: date) -> Row:
    """pnl, n (sessions), d (last session) of a month from nav_daily."""
    return one(con, "select sum(pnl) as pnl, count(*) as n, max(session_date) as d from nav_daily where month = ?",
               [month])


# --- VaR --------------------------------------------------------------------------------------------

VAR_COLUMNS = ("session_date, nav, n_obs, var95, var99, es95, es99, var95_usd, var99_usd, "
               "utilization95, utilization99, level, limit95_usd, limit99_usd")


def latest_var(con) -> Row | None:
    """The latest ``var_daily`` row (the one the VaR guard judges)."""
    return one(con, f"select {VAR_COLUMNS} from var_daily order by session_date desc limit 1")


def latest_var_row(con) -> Row | None:
    """Every column of the latest ``var_daily`` row: what the VaR guard judges."""
    return one(con, "select * from var_daily order by session_date desc limit 1")


def latest_mtd_row(con) -> Row | None:
    """session_date, month, mtd_return, history_days of the latest ``mtd_drawdown`` row: what the
    monthly guard judges (it arms and breaches from these; dbt's own flags are checked equal in tests)."""
    return one(con, "select session_date, month, mtd_return, history_days from mtd_drawdown "
                    "order by session_date desc limit 1")


def var_on(con, d: date) -> Row | None:
    return one(con, f"select {VAR_COLUMNS} from var_daily where session_date = ?", [d])


def var_timeline(con) -> list[Row]:
    return rows(con, """select session_date, nav, n_obs, var95_usd, var99_usd, utilization95, utilization99, level,
                          limit95_usd, limit99_usd
                   from var_daily order by session_date""")


# --- positions --------------------------------------------------------------------------------------

def positions(con) -> list[Row]:
    """``positions_current`` as stored (one row per strategy × symbol)."""
    return rows(con, "select strategy, symbol, sector, name, quantity, mark, mark_source, market_value, weight, "
                     "day_pnl, session_date, as_of, nav from positions_current")


def position_weights(con) -> list[Row]:
    """strategy, symbol, weight: what the concentration guard judges."""
    return rows(con, "select strategy, symbol, weight from positions_current order by strategy, symbol")


def positions_with_risk(con) -> list[Row]:
    """positions_current ⋈ position_risk, largest VaR contributor first."""
    return rows(con, """select p.strategy, p.symbol, p.sector, p.name, p.quantity, p.mark, p.mark_source,
                           p.market_value, p.weight, p.day_pnl, p.as_of, p.nav, p.session_date,
                           r.var95_contribution, r.var99_contribution, r.var95_share, r.n_scenarios
                    from positions_current p
                    left join position_risk r on r.strategy = p.strategy and r.symbol = p.symbol
                    order by r.var95_contribution desc nulls last, abs(p.market_value) desc,
                             p.strategy, p.symbol""")


def risk_heatmap(con) -> list[Row]:
    """Σ var95_contribution and market value by sector × strategy."""
    return rows(con, """select sector, strategy, sum(var95_contribution) as var95_contribution,
                         sum(market_value) as market_value, count(*) as n_positions
                  from position_risk group by sector, strategy order by sector, strategy""")


def current_nav(con) -> Row | None:
    """nav of the current book (positions_current), else of the latest close."""
    return one(con, "select nav from positions_current limit 1") or one(
        con, "select nav from nav_daily order by session_date desc limit 1")


def strategy_exposure(con) -> list[Row]:
    """Per strategy: gross and net value and number of positions of the current book."""
    return rows(con, "select strategy, sum(abs(market_value)) as gross_value, "
                     "sum(market_value) as net_value, count(*) as positions "
                     "from positions_current group by strategy")


# --- strategies -------------------------------------------------------------------------------------

def strategies_on(con, d: date) -> list[Row]:
    return rows(con, "select strategy, pnl, market_value, n_fills, commissions from strategy_daily_pnl "
                     "where session_date = ? order by strategy", [d])


def strategy_daily(con, first: date, last: date) -> list[Row]:
    return rows(con, "select strategy, session_date, pnl from strategy_daily_pnl where session_date between ? and ? "
                     "order by strategy, session_date", [first, last])


def strategy_month_pnl(con, month: date) -> list[Row]:
    """Σ strategy_daily_pnl of a month per strategy, worst first."""
    return rows(con, "select strategy, sum(pnl) as pnl from strategy_daily_pnl where session_date in "
                     "(select session_date from nav_daily where month = ?) group by strategy order by pnl", [month])


def strategy_month_stats(con, month: date) -> list[Row]:
    """Per strategy over a month: pnl, sessions, positive sessions, fills, commissions (worst first)."""
    return rows(con, "select strategy, sum(pnl) as pnl, count(*) as sessions, "
                     "count(*) filter (where pnl > 0) as positive_sessions, sum(n_fills) as fills, "
                     "sum(commissions) as commissions from strategy_daily_pnl where session_date in "
                     "(select session_date from nav_daily where month = ?) group by strategy order by pnl", [month])


ATTRIBUTION_SQL = """
with s as (select session_date, prev_session_date from int_sessions where month = ?),
     first as (select min(session_date) as d0, max(session_date) as d1 from s),
     before as (select prev_session_date as dp from int_sessions, first where session_date = first.d0),
     v1 as (select strategy, symbol, market_value from int_holdings_at_close, first where session_date = first.d1),
     v0 as (select strategy, symbol, market_value from int_holdings_at_close, before where session_date = before.dp),
     f as (select strategy, symbol, sum(signed_notional) as notional, sum(commission) as commissions
           from int_fills where valuation_session_date in (select session_date from s) group by all),
     k as (select strategy, symbol from v1 union select strategy, symbol from v0 union select strategy, symbol from f)
select k.strategy, k.symbol, coalesce(sec.sector, 'UNKNOWN') as sector,
       coalesce(v1.market_value, 0) - coalesce(v0.market_value, 0) - coalesce(f.notional, 0)
         - coalesce(f.commissions, 0) as pnl
from k
left join v1 using (strategy, symbol) left join v0 using (strategy, symbol) left join f using (strategy, symbol)
left join stg_landing__securities sec on sec.symbol = k.symbol
order by pnl
"""


def symbol_month_pnl(con, month: date) -> list[Row]:
    """Per strategy × symbol over a month: close-to-close value change less fills and commissions
    (the strategy_daily_pnl formula over the month), with the symbol's sector."""
    return rows(con, ATTRIBUTION_SQL, [month])


# --- fills ------------------------------------------------------------------------------------------

def fills_of_session(con, d: date) -> list[Row]:
    return rows(con, "select fill_id, ts, strategy, symbol, side, quantity, price, quantity * price as notional, "
                     "commission from int_fills where session_date = ? order by ts, fill_id", [d])


# --- repair figures ---------------------------------------------------------------------------------

REPAIR_FIGURES: dict[str, list[tuple[str, str]]] = {
    "fills": [("fills rows", "select count(*) from stg_landing__fills"),
              ("fills traded notional", "select sum(abs(signed_qty) * price) from stg_landing__fills"),
              ("fills commissions", "select sum(commission) from stg_landing__fills"),
              ("daily_metrics n_fills sum", "select sum(n_fills) from daily_metrics")],
    "nav": [("nav_daily rows", "select count(*) from nav_daily"),
            ("latest NAV", "select nav from nav_daily order by session_date desc limit 1"),
            ("nav_daily pnl sum", "select sum(pnl) from nav_daily"),
            ("nav_intraday rows", "select count(*) from nav_intraday")],
    "daily-metrics": [("daily_metrics rows", "select count(*) from daily_metrics"),
                      ("daily_metrics pnl sum", "select sum(pnl) from daily_metrics"),
                      ("daily_metrics traded notional", "select sum(traded_notional) from daily_metrics"),
                      ("daily_metrics commissions", "select sum(commissions) from daily_metrics")],
}
COMMON_FIGURES = [("latest session", "select max(session_date) from nav_daily"),
                  ("latest NAV", "select nav from nav_daily order by session_date desc limit 1"),
                  ("nav_daily rows", "select count(*) from nav_daily"),
                  ("daily_metrics rows", "select count(*) from daily_metrics"),
                  ("fills rows", "select count(*) from stg_landing__fills"),
                  ("strategy pnl sum", "select sum(pnl) from strategy_daily_pnl")]


def repair_figures(con, kind: str) -> dict[str, Any]:
    """The key figures of a repair type (and the common ones): a figure whose model is missing or
    broken reads ``error: …`` instead of failing the whole comparison."""
    import duckdb

    out: dict[str, Any] = {}
    for name, sql in dict.fromkeys(REPAIR_FIGURES[kind] + COMMON_FIGURES):
        try:
            out[name] = con.execute(sql).fetchone()[0]
        except duckdb.Error as exc:
            out[name] = f"error: {str(exc).splitlines()[0]}"
    return out

