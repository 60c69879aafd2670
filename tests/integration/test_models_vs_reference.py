"""Every SPEC §3 model, built by the real ingest + `dbt build`, against the independent pandas
oracle (tests/reference.py) on generated homes full of the hard cases (DST changes, mixed
timestamp spellings, flows on weekends/holidays/intraday and after a close, a symbol without marks, missing marks,
a holiday, an empty day, fills after the close, shorts, a month boundary).

And the incremental path: a home fed tick by tick (new marks and fills landing in new files, as
the engine and the market feed write them) must end with exactly the tables of a full rebuild.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import reference
from conftest import AFTER_LAST_SESSION, build_home

from mech_exo.home import Home
from mech_exo.ingest import ingest
from mech_exo.pipeline import build, publish

KEYS = {
    "nav_daily": ["session_date"],
    "nav_intraday": ["ts"],
    "daily_metrics": ["session_date"],
    "mtd_drawdown": ["session_date"],
    "var_daily": ["session_date"],
    "positions_current": ["strategy", "symbol"],
    "position_risk": ["strategy", "symbol"],
    "strategy_daily_pnl": ["session_date", "strategy"],
}
# Absolute tolerance per unit: dollars to a micro-dollar, fractions to 1e-12 relative-ish.
RTOL, ATOL = 1e-9, 1e-6


def _normalise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    df = df.copy()
    for k in keys:
        if k == "session_date":
            df[k] = pd.to_datetime(df[k]).dt.date
        elif k == "ts":
            ts = pd.to_datetime(df[k])
            df[k] = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
        else:
            df[k] = df[k].astype(str)
    return df.sort_values(keys).reset_index(drop=True)


def assert_model_matches(con, name: str, expected: pd.DataFrame, keys: list[str] | None = None) -> None:
    keys = keys or KEYS[name]
    got = _normalise(con.execute(f"select * from {name}").df(), keys)
    exp = _normalise(expected, keys)
    missing = set(exp.columns) - set(got.columns)
    assert not missing, f"{name} lacks SPEC columns {missing}"
    merged = exp.merge(got, on=keys, how="outer", suffixes=("_ref", "_got"), indicator=True)
    orphans = merged[merged["_merge"] != "both"]
    assert orphans.empty, f"{name}: rows only on one side:\n{orphans[keys + ['_merge']].head(10)}"
    for col in exp.columns:
        if col in keys:
            continue
        ref, out = merged[f"{col}_ref"], merged[f"{col}_got"]
        if pd.api.types.is_numeric_dtype(ref) or pd.api.types.is_numeric_dtype(out):
            r = pd.to_numeric(ref, errors="coerce").astype(float).to_numpy()
            o = pd.to_numeric(out, errors="coerce").astype(float).to_numpy()
            bad = ~np.isclose(r, o, rtol=RTOL, atol=ATOL, equal_nan=True)
        else:
            same_null = ref.isna() & out.isna()
            bad = ((ref.astype(str) != out.astype(str)) & ~same_null).to_numpy()
        assert not bad.any(), (f"{name}.{col}: {int(bad.sum())} of {len(bad)} rows differ from the oracle:\n"
                               f"{merged.loc[bad, keys + [f'{col}_ref', f'{col}_got']].head(8)}")


def snapshot(home: Home):
    return duckdb.connect(str(home.analytics_db), read_only=True)


@pytest.mark.parametrize("model", sorted(KEYS))
def test_crash_home_matches_the_oracle(crash_home, model):
    expected = reference.reference_metrics(crash_home.root)[model]
    assert len(expected) > 0, "the generated home must exercise the model"
    with snapshot(crash_home) as con:
        assert_model_matches(con, model, expected)


@pytest.fixture(scope="module")
def month_stop_home(tmp_path_factory):
    return build_home(tmp_path_factory.mktemp("mstop"), seed=3, month_stop=True)


@pytest.mark.parametrize("model", sorted(KEYS))
def test_month_stop_home_matches_the_oracle(month_stop_home, model):
    expected = reference.reference_metrics(month_stop_home.root)[model]
    with snapshot(month_stop_home) as con:
        assert_model_matches(con, model, expected)


def test_the_hard_cases_are_really_in_the_data(crash_home):
    """Guard against a generator that silently lost its hard cases (then the comparison is weak)."""
    with snapshot(crash_home) as con:
        fill_marked = con.execute("select count(*) from int_holdings_at_close where mark_source = 'fill' "
                                  "and quantity <> 0").fetchone()[0]
        closes = con.execute("select distinct hour(close_ts) from int_sessions order by 1").fetchall()
        weekend_flow = con.execute("select count(*) from int_cash_flows where local_date <> session_date").fetchone()[0]
        # on a session's local date but after its close: counted in the next session's F_d
        evening_flow = con.execute("select count(*) from int_cash_flows f join int_sessions s "
                                   "on s.session_date = f.local_date where f.ts > s.close_ts "
                                   "and f.session_date = (select min(session_date) from int_sessions "
                                   "where session_date > f.local_date)").fetchone()[0]
        after_close = con.execute("select count(*) from int_fills f join int_sessions s using (session_date) "
                                  "where f.ts > s.close_ts").fetchone()[0]
        shorts = con.execute("select count(*) from positions_current where quantity < 0").fetchone()[0]
        unknown = con.execute("select count(*) from positions_current where sector = 'UNKNOWN'").fetchone()[0]
    assert fill_marked > 0, "a position valued at its fill price (no mark yet)"
    assert closes == [(20,), (21,)], "closes on both sides of a DST change (20:00Z EDT, 21:00Z EST)"
    assert weekend_flow >= 2, "flows rolled from a weekend/holiday to the next session"
    assert evening_flow >= 1, "a flow after a close, counted in the next session"
    assert after_close >= 1, "a fill after the close"
    assert shorts >= 1 and unknown >= 1


def test_strategy_pnl_adds_up_to_nav_pnl(crash_home):
    """SPEC §3: summed over strategies, strategy P&L equals pnl_d — also on the session after the
    evening withdrawal, because F_d and the fills share the close-to-close window."""
    with snapshot(crash_home) as con:
        diff = con.execute("""
            select max(abs(n.pnl - coalesce(s.pnl, 0)))
            from nav_daily n
            left join (select session_date, sum(pnl) as pnl from strategy_daily_pnl group by 1) s using (session_date)
        """).fetchone()[0]
    assert diff < 1e-6


def test_var_contributions_add_up_to_the_position_var(crash_home):
    with snapshot(crash_home) as con:
        total, n = con.execute("select sum(var95_contribution), count(*) from position_risk").fetchone()
    expected = reference.reference_metrics(crash_home.root)["position_risk"]["var95_contribution"].sum()
    assert n > 0 and total == pytest.approx(expected, rel=1e-9)


# --- a withdrawal after the close ------------------------------------------------------------------

def _built_tiny_home(root: Path, fills, flows, marks, now) -> Home:
    """tests/test_reference.py's tiny-home inputs through the real ingest, dbt build and publish."""
    import datagen

    from mech_exo.home import init_home

    datagen.write_inputs(
        root, fills=[{"fill_id": f"F{i}", "ts": ts, "symbol": sym, "side": side, "quantity": q, "price": px,
                      "commission": c, "strategy": st} for i, (ts, sym, side, q, px, c, st) in enumerate(fills)],
        flows=[{"flow_id": f"C{i}", "ts": ts, "amount": a, "note": ""} for i, (ts, a) in enumerate(flows)],
        mark_files={"marks.csv": pd.DataFrame(marks, columns=["ts", "symbol", "price"])},
        securities=[("XYZ", "Technology", "Xyz Corp")])
    home = Home(root)
    init_home(home)
    ingest(home, now=now)
    result = build(home, full_refresh=True)
    assert result.success, result.error or [n.message for n in result.tests_failed]
    publish(home)
    return home


def test_after_close_withdrawal_on_a_quiet_book_does_not_halt(tmp_path):
    """Issue #10 item 3: −250k at 20:30 local on a 2M book. Dated by local day the next session read
    −12.25 % and the intraday sentinel halted; with F_d windowed by closes it is +0.29 %."""
    from datetime import datetime, timezone

    from hard_inputs import evening_withdrawal_inputs

    from mech_exo.guard_runner import evaluate_guards

    now = datetime(2026, 1, 6, 21, 30, tzinfo=timezone.utc)
    home = _built_tiny_home(tmp_path / "evening", *evening_withdrawal_inputs(), now=now)
    expected = reference.reference_metrics(home.root)
    with snapshot(home) as con:
        for model in ("nav_daily", "nav_intraday", "daily_metrics", "mtd_drawdown", "var_daily",
                      "strategy_daily_pnl", "positions_current"):
            assert_model_matches(con, model, expected[model])
        rows = con.execute("select session_date, flows, pnl, daily_return from nav_daily order by 1").fetchall()
        day = con.execute("select min(day_return), max(day_return) from nav_intraday "
                          "where session_date = date '2026-01-06'").fetchone()
        decisions = evaluate_guards(home, con, now=now)
    assert [(str(d), f) for d, f, _, _ in rows] == [("2026-01-05", 2_000_000.0), ("2026-01-06", -250_000.0)]
    assert rows[1][2] == pytest.approx(5_000.0) and rows[1][3] == pytest.approx(5_000 / 1_750_000)
    assert day[0] > 0 and day[1] == pytest.approx(5_000 / 1_750_000)
    intraday = next(d for d in decisions if d.guard == "intraday-pnl-sentinel")
    assert intraday.period == "2026-01-06" and intraday.metric_pct > 0, intraday
    assert not any(d.halt for d in decisions), [(d.guard, d.message) for d in decisions if d.halt]


def test_quiet_home_evening_withdrawal_reads_as_no_loss(quiet_home):
    """The generated quiet book's −250k at 20:30 on 11-04 lands in F of 11-05, whose return stays
    within the quiet band (±0.3 %) — dated by local day it would read about −2.5 %."""
    import datagen

    d0, d1 = datagen.HARD_CASES["evening_withdrawal"], datagen.HARD_CASES["evening_withdrawal_session"]
    with snapshot(quiet_home) as con:
        nd = {r[0]: r[1:] for r in con.execute(
            "select session_date, flows, daily_return, prev_nav from nav_daily where session_date in (?, ?)",
            [d0, d1]).fetchall()}
        worst = con.execute("select min(day_return) from nav_intraday where session_date = ?", [d1]).fetchone()[0]
    assert nd[d0][0] == 0.0 and nd[d1][0] == -250_000.0
    assert abs(nd[d0][1]) <= 0.003 + 1e-12 and abs(nd[d1][1]) <= 0.003 + 1e-12
    assert -250_000.0 / nd[d1][2] < -0.02          # what the old dating would have added to the return
    assert worst > -0.004


# --- incremental ticks ------------------------------------------------------------------------------

def _split_marks_into_ticks(root: Path, cut: pd.Timestamp) -> list[pd.DataFrame]:
    """Move every mark at or after ``cut`` out of the input files; return them in 3 tick batches."""
    later = []
    for path in sorted((root / "data" / "market").rglob("*")):
        if path.suffix not in (".csv", ".parquet"):
            continue
        df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        ts = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
        keep = ts < cut
        if keep.all():
            continue
        later.append(df[~keep].assign(ts=ts[~keep].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
        if path.suffix == ".csv":
            df[keep].to_csv(path, index=False)
        else:
            df[keep].to_parquet(path, index=False)
    rest = pd.concat(later).sort_values("ts").reset_index(drop=True)
    bounds = np.linspace(0, len(rest), 4).astype(int)
    return [rest.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def test_incremental_ticks_end_equal_to_a_full_rebuild(tmp_path):
    import datagen

    root = Path(datagen.make_home(tmp_path, seed=1, crash=True, name="ticks"))
    cut = pd.Timestamp("2026-11-19T15:00:00Z")
    ticks = _split_marks_into_ticks(root, cut)
    db = root / "data" / "trading.db"
    with sqlite3.connect(db) as c:
        late_fills = pd.read_sql("select * from fills where ts >= '2026-11-19T15' order by ts", c)
        c.execute("delete from fills where fill_id in (%s)" % ",".join("?" * len(late_fills)),
                  list(late_fills["fill_id"]))
    home = Home(root)
    home.ensure_dirs()
    ingest(home, now=AFTER_LAST_SESSION)
    assert build(home, full_refresh=True).success
    for i, chunk in enumerate(ticks):
        chunk.to_csv(root / "data" / "market" / f"tick_{i:02d}.csv", index=False)
        if i == 1:  # fills arrive mid-way, late relative to some marks already processed
            with sqlite3.connect(db) as c:
                late_fills.to_sql("fills", c, if_exists="append", index=False)
        result = ingest(home, now=AFTER_LAST_SESSION)
        assert not result.full_refresh and result.dirty_from is not None
        b = build(home)
        assert b.success and not b.full_refresh, b.error
    publish(home)

    full = Home(tmp_path / "full")
    shutil.copytree(root, full.root, ignore=shutil.ignore_patterns("warehouse", "analytics.duckdb", "landing"))
    full.ensure_dirs()
    ingest(full, now=AFTER_LAST_SESSION)
    assert build(full, full_refresh=True).success
    publish(full)
    with snapshot(home) as inc, snapshot(full) as ful:
        for model, keys in KEYS.items():
            # every column but the incremental watermark, which records *when* a row was built
            expected = ful.execute(f"select * exclude (batch_seq) from {model}"
                                   if model == "nav_intraday" else f"select * from {model}").df()
            assert_model_matches(inc, model, expected)
    # and both agree with the oracle on the final inputs
    with snapshot(home) as con:
        assert_model_matches(con, "nav_intraday", reference.reference_metrics(root)["nav_intraday"])


# the fill-grain tables are incremental by window too (macros/incremental.sql: delete_window)
FILL_GRAIN_KEYS = {
    "stg_landing__fills": ["fill_id"],
    "int_fills": ["fill_id"],
    "int_position_timeline": ["strategy", "symbol", "ts"],
    "int_fill_price_timeline": ["symbol", "ts"],
    "int_cash_timeline": ["ts"],
    "int_holdings_at_close": ["session_date", "strategy", "symbol"],
    "int_symbol_close_marks": ["symbol", "session_date"],
}


def test_old_fill_corrections_and_a_new_session_end_equal_to_a_full_rebuild(tmp_path):
    """Issue #9 item 2: a late correction to an old session (an edited and a deleted fill), an
    evening fill and flow after the last close, then a new session opening (which re-dates them):
    each tick incremental, and the fill-grain tables and every mart end equal to a full rebuild."""
    import datagen

    now = pd.Timestamp("2026-11-23T21:30:00Z").to_pydatetime()
    root = Path(datagen.make_home(tmp_path, seed=3, crash=True, name="corrections"))
    ticks = _split_marks_into_ticks(root, pd.Timestamp("2026-11-20T15:00:00Z"))
    db = root / "data" / "trading.db"
    home = Home(root)
    home.ensure_dirs()
    ingest(home, now=now)
    assert build(home, full_refresh=True).success
    with sqlite3.connect(db) as c:
        (n_fills,) = c.execute("select count(*) from fills").fetchone()
        edited, deleted = c.execute("select rowid, ts from fills order by rowid limit 2 offset ?",
                                    [n_fills // 3]).fetchall()
        symbol, strategy = c.execute("select symbol, strategy from fills order by rowid desc limit 1").fetchone()
        symbols = [r[0] for r in c.execute("select distinct symbol from fills order by 1")]

    def step(i: int | None, change) -> None:
        if i is not None:
            ticks[i].to_csv(root / "data" / "market" / f"tick_{i:02d}.csv", index=False)
        with sqlite3.connect(db) as c:
            change(c)
        result = ingest(home, now=now, verify_all=True)
        assert not result.full_refresh and result.dirty_from is not None
        b = build(home)
        assert b.success and not b.full_refresh, b.error
        dirty.append(result.dirty_from)

    dirty: list = []
    step(0, lambda c: c.execute("update fills set quantity = quantity * 2 where rowid = ?", [edited[0]]))
    step(1, lambda c: (c.execute("delete from fills where rowid = ?", [deleted[0]]),
                       c.execute("insert into fills values ('EVE1', '2026-11-20T17:45:00-05:00', ?, 'BUY', 7, 101.5, "
                                 "1.25, ?)", [symbol, strategy]),
                       c.execute("insert into cash_flows values ('EVEF', '2026-11-20T19:00:00-05:00', -1000, 'fee')")))
    step(2, lambda c: None)
    # a new session opens: this tick's input is all on Monday, the fills it re-dates are Friday evening's
    new_session = pd.DataFrame({"ts": "2026-11-23T15:00:00Z", "symbol": symbols, "price": 100.0})
    new_session.to_csv(root / "data" / "market" / "monday.csv", index=False)
    step(None, lambda c: c.execute("insert into fills values ('MON1', '2026-11-23T15:30:00Z', ?, 'SELL', 3, 99.0, 0.5, ?)",
                                [symbol, strategy]))
    # the corrections really reached back: an old session, then the evening before the new session
    assert dirty[0].date() <= pd.Timestamp(edited[1]).date() < pd.Timestamp("2026-11-01").date()
    assert str(dirty[-1].date()) == "2026-11-23"
    publish(home)

    full = Home(tmp_path / "full")
    shutil.copytree(root, full.root, ignore=shutil.ignore_patterns("warehouse", "analytics.duckdb", "landing"))
    full.ensure_dirs()
    ingest(full, now=now)
    assert build(full, full_refresh=True).success
    publish(full)
    inc_db, full_db = snapshot(home), snapshot(full)   # the snapshot holds every table of the build
    try:
        assert inc_db.execute("select count(*) from int_fills where fill_id in ('EVE1', 'MON1') "
                              "and valuation_session_date = date '2026-11-23'").fetchone()[0] == 2
        for model, keys in {**FILL_GRAIN_KEYS, **KEYS}.items():
            cols = "* exclude (batch_seq)" if "batch_seq" in [r[0] for r in full_db.execute(
                f"describe {model}").fetchall()] else "*"
            expected = full_db.execute(f"select {cols} from {model}").df()
            assert_model_matches(inc_db, model, expected, keys)
    finally:
        inc_db.close()
        full_db.close()
