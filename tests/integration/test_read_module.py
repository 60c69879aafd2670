"""``mech_exo.reporting.read``: the one module the CLI, the API and the dashboard read the snapshot through.

Each question is checked against an independent pandas computation over the whole model table
(read with plain ``select *``), not against the same SQL; and the readers are checked to share it:
no SQL left in the CLI's read commands, and the CLI and the API report the same latest VaR row.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import AFTER_LAST_SESSION, copy_home

from mech_exo.cli.main import cli
from mech_exo.reporting import read
from mech_exo.reporting.query import RiskQueryEngine
from mech_exo.reporting.snapshot import NoData, snapshot

ROOT = Path(__file__).resolve().parents[2]


def table(home, name: str) -> pd.DataFrame:
    con = duckdb.connect(str(home.analytics_db), read_only=True)
    try:
        return con.execute(f"select * from {name}").df()
    finally:
        con.close()


def same(a, b, tol=1e-9) -> bool:
    if a is None or b is None or (isinstance(b, float) and np.isnan(b)):
        return a is None and (b is None or np.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))
    return a == b


def day(x):
    return pd.Timestamp(x).date()


@pytest.fixture(scope="module")
def con(crash_home):
    with snapshot(crash_home) as c:
        yield c


def test_latest_rows_are_the_max_session_rows(crash_home, con):
    nav = table(crash_home, "nav_daily")
    last = nav.loc[nav["session_date"].idxmax()]
    assert read.latest_session(con) == day(last["session_date"])
    assert read.first_session(con) == day(nav["session_date"].min())
    got = read.latest_nav(con)
    assert got["session_date"] == day(last["session_date"]) and same(got["nav"], last["nav"])
    assert same(got["daily_return"], last["daily_return"])

    var = table(crash_home, "var_daily")
    vlast = var.loc[var["session_date"].idxmax()]
    v = read.latest_var(con)
    assert v["session_date"] == day(vlast["session_date"]) and v["level"] == vlast["level"]
    for k in ("var95_usd", "var99_usd", "utilization95", "utilization99", "n_obs"):
        assert same(v[k], vlast[k]), k
    assert read.var_on(con, v["session_date"]) == v

    mtd = table(crash_home, "mtd_drawdown")
    mlast = mtd.loc[mtd["session_date"].idxmax()]
    m = read.latest_mtd(con)
    assert same(m["mtd_return"], mlast["mtd_return"]) and m["history_days"] == mlast["history_days"]
    assert bool(m["guard_armed"]) == bool(mlast["guard_armed"])


def test_intraday_questions(crash_home, con):
    intr = table(crash_home, "nav_intraday")
    last_pt = intr.loc[intr["ts"].idxmax()]
    got = read.latest_intraday(con)
    assert pd.Timestamp(got["ts"]) == last_pt["ts"] and same(got["nav"], last_pt["nav"])
    session = intr[intr["session_date"] == intr["session_date"].max()].dropna(subset=["day_return"])
    worst = session.sort_values(["day_return", "ts"]).iloc[0]
    w = read.worst_intraday(con)
    assert same(w["day_return"], worst["day_return"]) and pd.Timestamp(w["ts"]) == worst["ts"]
    assert w["day_return"] < -0.008, "the crash home's last session dips below the −0.8 % stop"
    sw = read.session_worst(con, day(worst["session_date"]))
    assert same(sw["worst"], worst["day_return"])
    pts = read.intraday_returns(con, day(worst["session_date"]))
    assert [pd.Timestamp(p["ts"]) for p in pts] == sorted(session["ts"])
    dates = sorted({day(d) for d in intr["session_date"]}, reverse=True)[:10]
    assert [r["session_date"] for r in read.recent_session_dates(con)] == dates


def test_month_questions_add_up(crash_home, con):
    nav = table(crash_home, "nav_daily")
    month = day(nav["month"].max())
    in_month = nav[nav["month"].dt.date == month]
    tot = read.month_totals(con, month)
    assert tot["n"] == len(in_month) and same(tot["pnl"], in_month["pnl"].sum(), 1e-9)

    sdp = table(crash_home, "strategy_daily_pnl")
    want = sdp[sdp["session_date"].isin(in_month["session_date"])].groupby("strategy")["pnl"].sum()
    got = {r["strategy"]: r["pnl"] for r in read.strategy_month_pnl(con, month)}
    assert set(got) == set(want.index) and all(same(got[s], want[s], 1e-9) for s in got)
    assert [r["pnl"] for r in read.strategy_month_pnl(con, month)] == sorted(got.values())

    # the symbol attribution and the strategies add up to the same month total (the model's own identity)
    sym = sum(r["pnl"] for r in read.symbol_month_pnl(con, month))
    assert abs(sym - sum(got.values())) < 0.01

    # MTD compounding of the month's returns, recomputed with numpy
    rets = read.month_returns(con, month)
    mtd = np.prod([1 + (r["daily_return"] or 0.0) for r in rets]) - 1
    assert same(read.mtd_on(con, rets[-1]["session_date"])["mtd_return"], mtd, 1e-9)

    hist = read.month_history(con, 2)
    md = table(crash_home, "mtd_drawdown")
    assert [h["month"] for h in hist] == sorted({day(m) for m in md["month"]})[-2:]
    for h in hist:
        g = md[md["month"].dt.date == h["month"]]
        assert h["sessions"] == len(g) and same(h["worst_drawdown"], g["mtd_drawdown"].min())


def test_positions_and_exposure(crash_home, con):
    pos = table(crash_home, "positions_current")
    assert len(read.positions(con)) == len(pos) > 0
    nav = read.current_nav(con)["nav"]
    assert same(nav, pos["nav"].iloc[0])
    ex = {r["strategy"]: r for r in read.strategy_exposure(con)}
    for s, g in pos.groupby("strategy"):
        assert same(ex[s]["gross_value"], g["market_value"].abs().sum()) and ex[s]["positions"] == len(g)
    joined = read.positions_with_risk(con)
    contrib = [r["var95_contribution"] for r in joined if r["var95_contribution"] is not None]
    assert contrib == sorted(contrib, reverse=True)


def test_repair_figures_name_a_missing_model_instead_of_failing(crash_home, tmp_path):
    home = copy_home(crash_home, tmp_path / "h")
    c = duckdb.connect(str(home.analytics_db))
    c.execute("drop table daily_metrics" if c.execute(
        "select count(*) from information_schema.tables where table_name = 'daily_metrics' and table_type = 'BASE TABLE'"
    ).fetchone()[0] else "drop view daily_metrics")
    c.close()
    with snapshot(home) as con:
        figs = read.repair_figures(con, "daily-metrics")
        assert str(figs["daily_metrics rows"]).startswith("error: ") and "daily_metrics" in figs["daily_metrics rows"]
        assert figs["nav_daily rows"] == len(table(crash_home, "nav_daily"))
        with pytest.raises(NoData, match="daily_metrics"):
            read.daily_metrics_on(con, read.latest_session(con))


def test_cli_and_api_report_the_same_latest_var_row(crash_home):
    res = CliRunner().invoke(cli, ["--home", str(crash_home.root), "risk", "current", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    cli_var = json.loads(res.stdout)["var"]
    api = RiskQueryEngine(crash_home, now=AFTER_LAST_SESSION).get_live_risk_metrics()
    assert api["status"] == "ok"
    assert cli_var["level"] == api["level"] and str(cli_var["session_date"]) == str(api["var_session_date"])
    assert same(cli_var["var95_usd"], api["var95_usd"]) and same(cli_var["utilization99"], api["utilization99"])


# the CLI modules whose snapshot reads go through mech_exo.reporting.read (health/kill/alerts belong to
# other parts: health probes the file itself, kill and alerts read the event files)
READ_COMMANDS = ["data", "data_validate", "data_repair", "nav", "pnl", "positions", "risk", "risk_cmds", "monthly",
                 "fills", "scoring", "dashboard", "drill", "common"]
SQL_WORDS = ("select ", "from ", " where ", "group by", "order by")


@pytest.mark.parametrize("module", READ_COMMANDS)
def test_no_sql_left_in_the_cli_read_commands(module):
    path = ROOT / "mech_exo" / "cli" / f"{module}.py"
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            low = node.value.lower()
            if "select " in low and any(w in low for w in SQL_WORDS[1:]):
                found.append((node.lineno, node.value[:60]))
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "sql"):
            found.append((node.lineno, f".{node.attr}("))
    assert not found, f"{path}: SQL outside mech_exo/reporting/read.py at {found}"


def test_the_guards_inputs_are_answered_by_the_read_module(crash_home, con):
    """What guard_runner.read_inputs reads with its own SQL today, the read module answers the same
    (so guard_runner, pipeline.headline and cli/health can switch to it: see the helper's report)."""
    from mech_exo.guard_runner import FILLS_TABLE, read_inputs

    want = read_inputs(con)
    d = read.latest_intraday_session(con)
    assert str(d) == want["period"]
    assert read.session_points(con, d) == want["points"]
    var = read.latest_var(con)
    assert all(var[k] == want["var"][k] for k in var)
    mtd = read.latest_mtd(con)
    assert all(mtd[k] == want["mtd"][k] for k in want["mtd"])
    assert read.position_weights(con) == want["positions"]
    assert read.max_ts(con, "nav_intraday") == want["latest_mark_ts"]
    assert read.has_table(con, FILLS_TABLE) and read.max_ts(con, FILLS_TABLE) == want["latest_fill_ts"]
    assert [r["session_date"] for r in read.recent_session_dates(con)] == want["session_dates"]
    names = read.tables(con)
    assert "nav_daily" in names and names == sorted(names) and not read.has_table(con, "no_such_model")
    assert read.row_count(con, "nav_daily") == len(table(crash_home, "nav_daily"))
