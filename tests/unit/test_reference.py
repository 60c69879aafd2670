"""Checks of the test oracle (tests/reference.py) against numbers computed by hand, of the synthetic
homes (tests/datagen.py) against the hard cases they promise, and of the demo story
(mech_exo/demo_data.py) as the oracle measures it.

The oracle is what the dbt models are compared with, so it must itself be pinned to hand arithmetic:
every expected number below is worked out in the comment next to it.
"""
from __future__ import annotations

import math
from datetime import date

import datagen
import numpy as np
import pandas as pd
import pytest
import reference
from hard_inputs import evening_withdrawal_inputs

from mech_exo.demo_data import write_demo_inputs
from mech_exo.home import Home

approx = pytest.approx


def tiny_home(tmp_path, name, *, fills, flows, marks, securities=None):
    """fills: (ts, symbol, side, qty, price, commission, strategy); flows: (ts, amount); marks: (ts, symbol, price)."""
    return datagen.write_inputs(
        tmp_path / name,
        fills=[{"fill_id": f"F{i}", "ts": ts, "symbol": sym, "side": side, "quantity": q, "price": px,
                "commission": c, "strategy": st} for i, (ts, sym, side, q, px, c, st) in enumerate(fills)],
        flows=[{"flow_id": f"C{i}", "ts": ts, "amount": a, "note": ""} for i, (ts, a) in enumerate(flows)],
        mark_files={"marks.csv": pd.DataFrame(marks, columns=["ts", "symbol", "price"])},
        securities=securities or [("XYZ", "Technology", "Xyz Corp")])


def row(df, d):
    out = df[df["session_date"] == d]
    assert len(out) == 1, f"no single row for {d}"
    return out.iloc[0]


# ------------------------------------------------------------------------------------------------
# hand-computed cases
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def flows_home(tmp_path):
    # Sat 2026-01-03 deposit 1000 (rolls to Mon 01-05); 01-05 BUY 10 @ 50, commission 1;
    # 01-06 deposit 500 at 11:00 New York; 01-07 SELL 4 @ 50.5, commission 1.
    return tiny_home(tmp_path, "flows", fills=[
        ("2026-01-05T10:00:00-05:00", "XYZ", "BUY", 10, 50.0, 1.0, "alpha"),
        ("2026-01-07 17:00:00", "XYZ", "SELL", 4, 50.5, 1.0, "alpha"),   # naive = UTC = 12:00 New York
    ], flows=[("2026-01-03T12:00:00Z", 1000.0), ("2026-01-06T16:00:00.000+00:00", 500.0)], marks=[
        ("2026-01-05T16:00:00-05:00", "XYZ", 52.0),
        ("2026-01-06T15:00:00Z", "XYZ", 51.0),       # 10:00 New York, before the deposit
        ("2026-01-06T12:00:00-05:00", "XYZ", 50.5),  # after the deposit
        ("2026-01-06T21:00:00Z", "XYZ", 49.0),
        ("2026-01-07T21:00:00+00:00", "XYZ", 50.0),
    ])


def test_flows_day_by_hand(flows_home):
    m = reference.reference_metrics(flows_home)
    nd = m["nav_daily"]
    assert list(nd["session_date"]) == [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]
    # 01-05: cash 1000 - 500 - 1 = 499; NAV 499 + 10*52 = 1019; F = 1000 (Saturday rolls in)
    r = row(nd, date(2026, 1, 5))
    assert (r.cash, r.nav, r.flows, r.pnl) == approx((499.0, 1019.0, 1000.0, 19.0))
    assert r.daily_return == approx(19 / 1000)
    # 01-06: cash 999; NAV 999 + 490 = 1489; pnl 1489 - 1019 - 500 = -30; return -30 / (1019 + 500)
    r = row(nd, date(2026, 1, 6))
    assert (r.nav, r.flows, r.pnl, r.daily_return) == approx((1489.0, 500.0, -30.0, -30 / 1519))
    # 01-07: cash 999 + 202 - 1 = 1200; NAV 1200 + 6*50 = 1500; pnl 11
    r = row(nd, date(2026, 1, 7))
    assert (r.nav, r.pnl, r.daily_return) == approx((1500.0, 11.0, 11 / 1489))

    ni = m["nav_intraday"].set_index("ts")
    # 10:00: NAV 499 + 510 = 1009, no flow yet: day_pnl -10 over 1019
    p = ni.loc[pd.Timestamp("2026-01-06 15:00:00")]
    assert (p.nav, p.day_pnl, p.day_return) == approx((1009.0, -10.0, -10 / 1019))
    # 12:00: NAV 999 + 505 = 1504, deposit 500 counted: day_pnl 1504 - 1019 - 500 = -15 over 1519
    p = ni.loc[pd.Timestamp("2026-01-06 17:00:00")]
    assert (p.nav, p.day_pnl, p.day_return) == approx((1504.0, -15.0, -15 / 1519))

    dm = row(m["daily_metrics"], date(2026, 1, 5))
    assert (dm.n_fills, dm.traded_notional, dm.commissions) == approx((1, 500.0, 1.0))
    assert (dm.gross_exposure, dm.net_exposure, dm.long_exposure, dm.short_exposure) == approx(
        (520 / 1019, 520 / 1019, 520 / 1019, 0.0))

    sp = m["strategy_daily_pnl"]
    assert list(sp["pnl"]) == approx([19.0, -30.0, 11.0])   # one strategy: equals NAV pnl less flows

    pc = m["positions_current"]
    assert len(pc) == 1
    p = pc.iloc[0]
    # T = 01-07 21:00Z; day_pnl = 6*50 - 10*49 - (-4*50.5) - 1 = 300 - 490 + 202 - 1 = 11
    assert (p.quantity, p.mark, p.mark_source, p.market_value, p.weight, p.day_pnl, p.sector) == (
        approx(6.0), approx(50.0), "mark", approx(300.0), approx(300 / 1500), approx(11.0), "Technology")


def test_evening_withdrawal_counts_in_the_next_session_by_hand(tmp_path):
    fills, flows, marks = evening_withdrawal_inputs()
    m = reference.reference_metrics(tiny_home(tmp_path, "evening", fills=fills, flows=flows, marks=marks))
    nd = m["nav_daily"]
    # Mon: NAV at the close = 1M cash + 10,000 × 100 = 2M; F = 2M (the withdrawal is after the close):
    # pnl 0, return 0. Dated by local day, F would be 1.75M and Mon would show +250k (+14.3 %).
    r = row(nd, date(2026, 1, 5))
    assert (r.nav, r.flows, r.pnl, r.daily_return) == approx((2_000_000.0, 2_000_000.0, 0.0, 0.0))
    # Tue: NAV = 750k + 1,005,000 = 1,755,000; F = −250k (close_Mon < ts <= close_Tue);
    # pnl = 1,755,000 − 2,000,000 + 250,000 = 5,000; return 5,000 / 1,750,000.
    # Dated by local day, Tue would read −245,000 / 2,000,000 = −12.25 % and halt a quiet book.
    r = row(nd, date(2026, 1, 6))
    assert (r.nav, r.flows, r.pnl) == approx((1_755_000.0, -250_000.0, 5_000.0))
    assert r.daily_return == approx(5_000 / 1_750_000)

    ni = m["nav_intraday"].set_index("ts")
    # Mon 20:45 (session Mon by local date, after its close and the withdrawal): F_Mon(≤t) = 2M − 250k;
    # NAV = 750k + 1,001,000 = 1,751,000 -> day_pnl 1,000 over 0 + 1,750,000
    p = ni.loc[pd.Timestamp("2026-01-06 01:45:00")]
    assert (p.session_date, p.nav, p.day_pnl) == (date(2026, 1, 5), approx(1_751_000.0), approx(1_000.0))
    assert p.day_return == approx(1_000 / 1_750_000)
    # Tue 10:00: F_Tue(≤t) = −250k; NAV = 750k + 1,002,000 -> day_pnl 1,752,000 − 2M + 250k = 2,000
    p = ni.loc[pd.Timestamp("2026-01-06 15:00:00")]
    assert (p.nav, p.day_pnl, p.day_return) == approx((1_752_000.0, 2_000.0, 2_000 / 1_750_000))
    # strategies add up to pnl exactly: the only strategy's P&L is the whole book's
    assert list(m["strategy_daily_pnl"]["pnl"]) == approx([0.0, 5_000.0])


def test_month_boundary_mtd(tmp_path):
    # 1000 deposited, 10 @ 100 bought before the first close, no commission: NAV = 10 * price.
    closes = [("2026-01-28", 100.0), ("2026-01-29", 110.0), ("2026-01-30", 104.5),
              ("2026-02-02", 94.05), ("2026-02-03", 103.455)]
    root = tiny_home(tmp_path, "mtd", fills=[("2026-01-28T15:00:00Z", "XYZ", "BUY", 10, 100.0, 0.0, "a")],
                     flows=[("2026-01-27T15:00:00Z", 1000.0)],
                     marks=[(f"{d}T16:00:00-05:00", "XYZ", px) for d, px in closes])
    md = reference.reference_metrics(root, min_history_days=3)["mtd_drawdown"]
    # daily returns 0, +10 %, -5 %, -10 %, +10 %
    assert list(md["month"]) == [date(2026, 1, 1)] * 3 + [date(2026, 2, 1)] * 2
    # Jan: index 1.0, 1.1, 1.045 -> MTD 0, 0.1, 0.045; peak 1.1 -> drawdown 1.045/1.1 - 1 = -0.05
    # Feb restarts: index 0.9, 0.99 -> MTD -0.1, -0.01; peak max(1, ...) = 1 -> drawdown = MTD
    assert list(md["mtd_return"]) == approx([0.0, 0.1, 0.045, -0.1, -0.01])
    assert list(md["mtd_drawdown"]) == approx([0.0, 0.0, -0.05, -0.1, -0.01])
    assert list(md["history_days"]) == [1, 2, 3, 4, 5]
    assert list(md["guard_armed"]) == [False, False, True, True, True]
    assert list(md["breached"]) == [False, False, False, True, False]


def test_fill_price_fallback(tmp_path):
    # XYZ is marked every day; NEW only from 01-07. NEW fills: 100 @ 20 on 01-05, 50 @ 22 on 01-06.
    marks = [(f"2026-01-0{d}T21:00:00Z", "XYZ", 10.0) for d in (5, 6, 7)] + [("2026-01-07T21:00:00Z", "NEW", 21.0)]
    fills = [("2026-01-05T15:00:00Z", "NEW", "BUY", 100, 20.0, 0.0, "a"),
             ("2026-01-06T16:00:00Z", "NEW", "BUY", 50, 22.0, 0.0, "a")]
    root = tiny_home(tmp_path, "fallback", fills=fills, flows=[("2026-01-05T14:00:00Z", 5000.0)], marks=marks)
    book = reference.book_of(root)
    assert book.mark_at("NEW", book.close_ts(date(2026, 1, 5))) == (20.0, "fill")
    assert book.mark_at("NEW", book.close_ts(date(2026, 1, 6))) == (22.0, "fill")   # latest fill price
    assert book.mark_at("NEW", book.close_ts(date(2026, 1, 7))) == (21.0, "mark")
    nd = reference.nav_daily(book)
    # cash 5000 - 2000 - 1100 = 1900; 01-06: 1900 + 150*22 = 5200; 01-07: 1900 + 150*21 = 5050
    assert list(nd["nav"]) == approx([5000.0, 5200.0, 5050.0])

    # without any NEW mark, positions_current carries the fill price and says so
    root2 = tiny_home(tmp_path, "fallback2", fills=fills, flows=[("2026-01-05T14:00:00Z", 5000.0)], marks=marks[:3])
    pc = reference.reference_metrics(root2)["positions_current"]
    p = pc[pc["symbol"] == "NEW"].iloc[0]
    assert (p.mark, p.mark_source, p.market_value, p.sector) == (22.0, "fill", approx(3300.0), "UNKNOWN")


def _var_home(tmp_path):
    # 10 @ 100 with 1000 cash, no commission: daily returns = price returns 0, +1, -2, +3, -4, +5, -1 %
    prices = [100.0]
    for r in (0.01, -0.02, 0.03, -0.04, 0.05, -0.01):
        prices.append(prices[-1] * (1 + r))
    days = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09", "2026-01-12", "2026-01-13"]
    return tiny_home(tmp_path, "var", fills=[("2026-01-05T15:00:00Z", "XYZ", "BUY", 10, 100.0, 0.0, "a")],
                     flows=[("2026-01-05T14:00:00Z", 1000.0)],
                     marks=[(f"{d}T21:00:00Z", "XYZ", px) for d, px in zip(days, prices)]), prices


def test_var_es_tiny_series_by_hand(tmp_path):
    root, prices = _var_home(tmp_path)
    vd = reference.reference_metrics(root, var_window=5, var_min_obs=3, limit95_usd=50.0,
                                     limit99_usd=1e9)["var_daily"]
    assert list(vd["n_obs"]) == [1, 2, 3, 4, 5, 5, 5]
    assert vd["var95"].iloc[:2].isna().all() and list(vd["level"].iloc[:2]) == ["insufficient_data"] * 2
    # session 3: window [0, .01, -.02] sorted [-.02, 0, .01]; h95 = 2*.05 = .1 -> -.02 + .1*.02 = -.018;
    # h99 = .02 -> -.02 + .02*.02 = -.0196; ES = mean of r <= q = .02
    r = vd.iloc[2]
    assert (r.var95, r.var99, r.es95, r.es99) == approx((0.018, 0.0196, 0.02, 0.02), abs=1e-12)
    # last: window [-.02, .03, -.04, .05, -.01] sorted [-.04, -.02, -.01, .03, .05];
    # h95 = 4*.05 = .2 -> -.04 + .2*.02 = -.036; h99 = .04 -> -.04 + .04*.02 = -.0392; ES = .04
    r = vd.iloc[-1]
    nav = 10 * prices[-1]
    assert (r.var95, r.var99, r.es95, r.es99) == approx((0.036, 0.0392, 0.04, 0.04), abs=1e-12)
    assert r.nav == approx(nav)
    assert r.var95_usd == approx(0.036 * nav)
    assert r.utilization95 == approx(0.036 * nav / 50.0)            # 36.62... / 50 = 73.2 % -> warning
    assert r.level == "warning"


def test_var_level_bands():
    p = reference.Params()
    # utilisations are fractions; the bands are percent rounded to 6 decimals
    assert reference.var_level(0.6999999, 0.0, p) == "normal"           # 69.99999 %
    assert reference.var_level(0.699999999, 0.0, p) == "warning"        # 69.9999999 % rounds to 70
    assert reference.var_level(0.9, 0.0, p) == "warning"
    assert reference.var_level(0.0, 0.90000001, p) == "critical"        # the larger of 95/99 decides
    assert reference.var_level(1.0, 0.0, p) == "critical"
    assert reference.var_level(1.00000001, 0.0, p) == "breach"
    assert reference.var_level(math.nan, 0.1, p) == "insufficient_data"


def test_var_contributions_by_hand(tmp_path):
    # A: 10 long from 100, returns +2, -2, +1, -4, +3 %; B: 20 short from 50, returns -2, +2, +1, -1, -3 %
    ra, rb = [0.02, -0.02, 0.01, -0.04, 0.03], [-0.02, 0.02, 0.01, -0.01, -0.03]
    pa_, pb = [100.0], [50.0]
    for x, y in zip(ra, rb):
        pa_.append(pa_[-1] * (1 + x))
        pb.append(pb[-1] * (1 + y))
    days = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09", "2026-01-12"]
    marks = [(f"{d}T21:00:00Z", "AAA", a) for d, a in zip(days, pa_)] + \
            [(f"{d}T21:00:00Z", "BBB", b) for d, b in zip(days, pb)]
    root = tiny_home(tmp_path, "contrib", marks=marks, flows=[("2026-01-05T14:00:00Z", 10_000.0)],
                     fills=[("2026-01-05T15:00:00Z", "AAA", "BUY", 10, 100.0, 0.0, "long_book"),
                            ("2026-01-05T15:00:01Z", "BBB", "SELL", 20, 50.0, 0.0, "short_book")],
                     securities=[("AAA", "Tech", "A"), ("BBB", "Energy", "B")])
    m = reference.reference_metrics(root, var_window=5, var_min_obs=3)
    pr = m["position_risk"].set_index("symbol")
    mva, mvb = 10 * pa_[-1], -20 * pb[-1]
    assert (pr.loc["AAA", "market_value"], pr.loc["BBB", "market_value"]) == approx((mva, mvb))
    # scenario P&L: mva*ra + mvb*rb -> worst is scenario 2 (-.02 / +.02), next scenario 4 (-.04 / -.01);
    # n = 5: h = .2, k = 0, w = .2 -> VaR = -(.8*P(2) + .2*P(4));
    # A: -(.8*(-.02) + .2*(-.04))*mva = .024*mva;  B: -(.8*(.02) + .2*(-.01))*mvb = -.014*mvb
    assert pr.loc["AAA", "var95_contribution"] == approx(0.024 * mva)
    assert pr.loc["BBB", "var95_contribution"] == approx(-0.014 * mvb)
    total = 0.024 * mva - 0.014 * mvb
    port = [mva * x + mvb * y for x, y in zip(ra, rb)]
    assert -np.quantile(port, 0.05) == approx(total)
    assert pr["var95_contribution"].sum() == approx(total, rel=1e-12)
    assert set(pr["sector"]) == {"Tech", "Energy"}


def test_dst_close_instants_and_after_close_fill(tmp_path):
    # 16:00 New York = 21:00Z in winter (EST) and 20:00Z in summer (EDT)
    marks = [("2026-03-06T21:00:00Z", "XYZ", 101.0), ("2026-03-09T16:00:00-04:00", "XYZ", 102.0),
             ("2026-03-10 20:00:00", "XYZ", 103.0)]
    fills = [("2026-03-06T20:30:00Z", "XYZ", "BUY", 10, 100.0, 0.0, "a"),   # 15:30 EST: before the close
             ("2026-03-09T20:30:00Z", "XYZ", "BUY", 10, 100.0, 0.0, "a")]   # 16:30 EDT: after the close
    root = tiny_home(tmp_path, "dst", fills=fills, flows=[("2026-03-05T15:00:00Z", 10_000.0)], marks=marks)
    book = reference.book_of(root)
    assert book.close_ts(date(2026, 1, 15)) == pd.Timestamp("2026-01-15 21:00", tz="UTC")
    assert book.close_ts(date(2026, 7, 15)) == pd.Timestamp("2026-07-15 20:00", tz="UTC")
    assert book.close_ts(date(2026, 3, 6)) == pd.Timestamp("2026-03-06 21:00", tz="UTC")
    assert book.close_ts(date(2026, 3, 9)) == pd.Timestamp("2026-03-09 20:00", tz="UTC")
    assert book.close_ts(date(2026, 10, 30)) == pd.Timestamp("2026-10-30 20:00", tz="UTC")
    assert book.close_ts(date(2026, 11, 2)) == pd.Timestamp("2026-11-02 21:00", tz="UTC")
    m = reference.compute(reference.load_inputs(root), book.p)
    nd = m["nav_daily"]
    # 03-06: 10000 - 1000 + 10*101 = 10010; 03-09: the 20:30Z fill is after the close -> 9000 + 10*102
    # 03-10: 8000 + 20*103 = 10060
    assert list(nd["nav"]) == approx([10010.0, 10020.0, 10060.0])
    assert list(nd["pnl"]) == approx([10.0, 10.0, 40.0])
    assert list(m["daily_metrics"]["n_fills"]) == [1, 1, 0]            # the late fill belongs to 03-09
    assert list(m["strategy_daily_pnl"]["pnl"]) == approx([10.0, 10.0, 40.0])


def test_session_of_rolls_forward(tmp_path):
    root, _ = _var_home(tmp_path)
    book = reference.book_of(root)
    assert book.session_of(pd.Timestamp("2026-01-10T15:00:00Z")) == date(2026, 1, 12)  # Saturday
    assert book.session_of(pd.Timestamp("2026-01-06T04:30:00Z")) == date(2026, 1, 5)   # 23:30 local on the 5th
    assert book.session_of(pd.Timestamp("2026-01-14T15:00:00Z")) is None               # after the last session


# ------------------------------------------------------------------------------------------------
# the synthetic homes keep their promises
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_home(tmp_path_factory):
    root = datagen.make_home(tmp_path_factory.mktemp("dg"), seed=3)
    return root, reference.book_of(root), reference.reference_metrics(root)


def test_datagen_hard_cases_present(default_home):
    root, book, m = default_home
    hc = datagen.HARD_CASES
    assert len(book.sessions) == 54 and hc["holiday"] not in book.sessions
    nd = m["nav_daily"].set_index("session_date")
    assert nd.loc[hc["first_session"], "flows"] == 10_000_000.0
    assert nd.loc[hc["holiday_deposit_session"], "flows"] == 1_000_000.0
    assert nd.loc[hc["gap_deposit_session"], "flows"] == 250_000.0
    assert nd.loc[hc["weekend_deposit_session"], "flows"] == 500_000.0
    assert nd.loc[hc["intraday_withdrawal"], "flows"] == -750_000.0
    assert nd.loc[hc["weekend_deposit_b_session"], "flows"] == 400_000.0
    # the 20:30 withdrawal of 11-04 is after 11-04's close: F of 11-05, not of 11-04 (SPEC §3)
    assert nd.loc[hc["evening_withdrawal_session"], "flows"] == -250_000.0
    assert nd.loc[hc["evening_withdrawal"], "flows"] == 0.0
    assert book.local_date(pd.Timestamp(datagen.local(hc["evening_withdrawal"], 20, 30))) == hc["evening_withdrawal"]
    d0, d1 = hc["fill_fallback"]
    assert book.mark_at("NEWCO", book.close_ts(d0)) == (25.10, "fill")
    assert book.mark_at("NEWCO", book.close_ts(d1)) == (25.60, "fill")
    assert book.mark_at("NEWCO", book.close_ts(hc["first_newco_mark"]))[1] == "mark"
    day, sym = hc["missing_mark"]
    prev = book.prev_session(day)
    assert book.mark_at(sym, book.close_ts(day)) == book.mark_at(sym, book.close_ts(prev))
    marks = book.marks
    assert not ((marks["symbol"] == sym) & (marks["ts"].dt.tz_convert("America/New_York").dt.date == day)).any()
    dm = m["daily_metrics"].set_index("session_date")
    assert dm.loc[hc["empty_day"], "n_fills"] == 0
    # the 20:30Z fill of 03-09 is after the 20:00Z (EDT) close, the one of 03-06 before the 21:00Z (EST) one
    late = book.fills[book.fills["ts"] == pd.Timestamp("2026-03-09T20:30:00Z")]
    assert len(late) == 1 and late["session_date"].iloc[0] == date(2026, 3, 9)
    # the late print of 02-24 is a mark time after the close: NAV_d uses the 15:59:59.5 CHARL mark
    lp = pd.Timestamp("2026-02-24T21:00:00.5Z")
    assert book.mark_at("CHARL", book.close_ts(hc["late_print"])) != book.mark_at("CHARL", lp)
    pc = m["positions_current"]
    assert set(pc["symbol"]) <= set(datagen.START_PRICE)                     # ' alpha' normalised
    assert pc.set_index(["strategy", "symbol"]).loc[("stat_arb", "DELTA"), "quantity"] < 0
    assert pc.set_index("symbol").loc["ECHO", "sector"] == "UNKNOWN"
    files = sorted(p.name for p in (root / "data" / "market").rglob("*.*"))
    assert any(f.endswith(".csv") for f in files) and any(f.endswith(".parquet") for f in files)
    spellings = set(book.fills["ts"].astype(str).str.len())  # same instants, several spellings in the raw db
    assert spellings


def test_datagen_raw_timestamps_are_mixed(default_home):
    import sqlite3
    root, _, _ = default_home
    con = sqlite3.connect(root / "data" / "trading.db")
    ts = [r[0] for r in con.execute("SELECT ts FROM fills UNION ALL SELECT ts FROM cash_flows")]
    con.close()
    assert any(t.endswith("Z") for t in ts) and any(t.endswith("+00:00") for t in ts)
    assert any(t.endswith("-05:00") for t in ts) and any(t.endswith("-04:00") for t in ts)
    assert any(t[-6] not in "+-" and not t.endswith("Z") for t in ts)           # naive = UTC
    assert any("." in t for t in ts)                                            # fractional seconds


def test_datagen_strategy_pnl_adds_up(default_home):
    _, _, m = default_home
    s = m["strategy_daily_pnl"].groupby("session_date")["pnl"].sum()
    nd = m["nav_daily"].set_index("session_date")["pnl"]
    assert np.allclose(s.reindex(nd.index).to_numpy(), nd.to_numpy(), atol=1e-6)


def test_datagen_options(tmp_path):
    crash = reference.reference_metrics(datagen.make_home(tmp_path, seed=1, crash=True, month_stop=True, name="c"))
    ni = crash["nav_intraday"]
    last = ni[ni["session_date"] == datagen.LAST_DAYS[-1]]
    assert last["day_return"].min() < -0.008 < last["day_return"].iloc[-1]
    md = crash["mtd_drawdown"]
    oct_last = md[md["month"] == date(2026, 10, 1)].iloc[-1]
    assert oct_last.mtd_return < -0.03 and oct_last.guard_armed and oct_last.breached

    quiet = reference.reference_metrics(datagen.make_home(tmp_path, seed=1, quiet=True, name="q"))
    assert quiet["nav_intraday"]["day_return"].min() > -0.004
    assert not quiet["mtd_drawdown"]["breached"].any()
    assert quiet["var_daily"]["level"].iloc[-1] == "normal"
    assert quiet["positions_current"]["weight"].max() < 0.15


# ------------------------------------------------------------------------------------------------
# the demo story, as the oracle sees it
# ------------------------------------------------------------------------------------------------
def test_demo_story(tmp_path):
    home = Home(tmp_path / "demo")
    story = write_demo_inputs(home)
    m = reference.reference_metrics(home.root)
    last = date.fromisoformat(story["last_session"])
    nd = m["nav_daily"]
    assert nd["session_date"].iloc[-1] == last and len(nd) == story["n_sessions"]
    assert (last - nd["session_date"].iloc[0]).days >= 395                       # 13+ months
    assert 50e6 <= nd["nav"].iloc[-1] <= 100e6
    assert nd["nav"].iloc[-1] == approx(story["nav_last"], rel=1e-9)

    ni = m["nav_intraday"]
    day = ni[ni["session_date"] == last]
    assert len(day) == 79
    assert day["day_return"].min() < -0.008 < day["day_return"].iloc[-1]
    assert day["day_return"].min() == approx(story["crash"]["worst_day_return"], rel=1e-9)
    assert len(ni["session_date"].unique()) >= 5 + 1

    md = m["mtd_drawdown"]
    prev = md[md["session_date"] == date.fromisoformat(story["previous_month"]["last_session"])].iloc[0]
    assert prev.mtd_return < -0.03 and prev.history_days >= 10 and prev.breached
    assert prev.mtd_return == approx(story["previous_month"]["mtd_return"], rel=1e-9)
    assert md["mtd_return"].iloc[-1] > -0.03                                     # the current month is not the story

    v = m["var_daily"].iloc[-1]
    assert 0.70 <= v.utilization95 <= 0.90 and v.utilization99 <= 0.90 and v.level == "warning"
    assert v.var95_usd == approx(story["var"]["var95_usd"], rel=1e-9)

    pc = m["positions_current"]
    top = pc.sort_values("weight").iloc[-1]
    assert top.weight > 0.15 and (pc["weight"] > 0.15).sum() == 1
    assert (top.strategy, top.symbol) == (story["concentration"]["strategy"], story["concentration"]["symbol"])
    assert pc["symbol"].nunique() >= 30 and pc["sector"].nunique() >= 6 and pc["strategy"].nunique() >= 2
    assert (pc["sector"] != "UNKNOWN").all()
    assert pc["mark"].between(5, 600).all()
    assert m["position_risk"]["var95_contribution"].notna().all()
    assert len(m["nav_daily"][m["nav_daily"]["flows"] < 0]) == 1 and len(m["nav_daily"][m["nav_daily"]["flows"] > 0]) >= 3
