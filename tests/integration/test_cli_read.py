"""The run-book's read commands against a real built home: what they print must match the snapshot.

Each test queries ``data/analytics.duckdb`` directly (read-only) and compares it with the command's
JSON and its printed table, so a command that exits 0 with wrong or missing figures fails.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from conftest import copy_home
from conftest import snapshot_query as q

from mech_exo.cli.common import money, pct
from mech_exo.cli.main import cli
from mech_exo.home import Home, init_home

EXO = Path(sys.executable).with_name("exo")  # this checkout's own, wherever it was cloned
LAST = date(2026, 11, 20)


def run(home, *args, ok: bool = True):
    res = CliRunner().invoke(cli, ["--home", str(home.root), *args], catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def js(home, *args):
    return json.loads(run(home, *args, "--json").stdout)


def close(a, b, tol=1e-6):
    return a is not None and b is not None and abs(a - b) <= tol


# --- positions -------------------------------------------------------------------------------------

def test_positions_match_positions_current_and_sort_by_pnl(crash_home):
    want = q(crash_home, "select strategy, symbol, market_value, weight, day_pnl from positions_current")
    assert want, "the crash home must have open positions"
    got = js(crash_home, "positions", "--sort-by", "pnl")
    assert got["sort_by"] == "pnl"
    pos = got["positions"]
    assert {(p["strategy"], p["symbol"]) for p in pos} == {(w["strategy"], w["symbol"]) for w in want}
    assert [p["day_pnl"] for p in pos] == sorted(w["day_pnl"] for w in want)  # worst first
    by_key = {(w["strategy"], w["symbol"]): w for w in want}
    for p in pos:
        assert close(p["market_value"], by_key[(p["strategy"], p["symbol"])]["market_value"])
    text = run(crash_home, "positions", "--sort-by", "pnl").output
    for w in want:
        assert money(w["market_value"]) in text and money(w["day_pnl"]) in text
    first_sym = pos[0]["symbol"]
    assert text.index(first_sym) < text.index(pos[-1]["symbol"]) or first_sym == pos[-1]["symbol"]


def test_positions_summary_exposures_top_names_sectors(crash_home):
    pos = q(crash_home, "select symbol, sector, market_value, weight, nav from positions_current")
    nav = pos[0]["nav"]
    s = js(crash_home, "positions", "summary")
    assert close(s["nav"], nav)
    assert close(s["gross_exposure"], sum(abs(p["market_value"]) for p in pos) / nav)
    assert close(s["net_exposure"], sum(p["market_value"] for p in pos) / nav)
    assert close(s["long_exposure"], sum(p["market_value"] for p in pos if p["market_value"] > 0) / nav)
    assert close(s["short_exposure"], -sum(p["market_value"] for p in pos if p["market_value"] < 0) / nav)
    assert s["n_positions"] == len(pos)
    names = {}
    for p in pos:
        names[p["symbol"]] = names.get(p["symbol"], 0) + abs(p["weight"])
    top = max(names, key=names.get)
    assert s["top_names"][0]["symbol"] == top and close(s["top_names"][0]["weight"], names[top])
    assert close(sum(x["net_value"] for x in s["by_sector"]), sum(p["market_value"] for p in pos), 1e-4)
    assert {x["sector"] for x in s["by_sector"]} == {p["sector"] for p in pos}
    text = run(crash_home, "positions", "summary").output
    assert money(nav) in text and top in text and pct(s["gross_exposure"], 1, False) in text


# --- risk ------------------------------------------------------------------------------------------

def test_risk_current_figures(crash_home):
    intr = q(crash_home, "select nav, day_pnl, day_return from nav_intraday order by ts desc limit 1")[0]
    var = q(crash_home, "select * from var_daily order by session_date desc limit 1")[0]
    p = js(crash_home, "risk", "current")
    assert p["session_date"] == str(LAST)
    assert close(p["nav"], intr["nav"]) and close(p["day_pnl"], intr["day_pnl"])
    assert close(p["var"]["var95_usd"], var["var95_usd"]) and close(p["var"]["utilization99"], var["utilization99"])
    assert p["var"]["level"] == var["level"]
    worst = q(crash_home, "select min(day_return) as w from nav_intraday where session_date = ?", [LAST])[0]["w"]
    assert close(p["worst_day_return"], worst)
    assert p["killswitch"]["readable"] is True and p["killswitch"]["trading_enabled"] is True
    text = run(crash_home, "risk", "current").output
    for s in (money(intr["nav"]), money(intr["day_pnl"]), pct(intr["day_return"]), money(var["var95_usd"]),
              money(var["var99_usd"]), pct(var["utilization95"], 1, False), "ENABLED"):
        assert s in text, s


def test_risk_violations_lists_the_day_loss_and_concentration_from_config(crash_home, tmp_path):
    worst = q(crash_home, "select min(day_return) as w from nav_intraday where session_date = ?", [LAST])[0]["w"]
    assert worst * 100 <= -0.8
    p = js(crash_home, "risk", "violations")
    checks = {c["check"]: c for c in p["checks"]}
    assert set(checks) == {"concentration", "var", "day_loss", "mtd_loss"}
    assert checks["day_loss"]["status"] == "CRITICAL" and close(checks["day_loss"]["value_pct"], round(worst * 100, 6))
    assert checks["concentration"]["status"] == "OK"
    assert [v["check"] for v in p["violations"]] == ["day_loss"]
    res = run(crash_home, "risk", "violations")
    assert "1 violation(s)" in res.output and f"{worst * 100:.2f}%" in res.output

    # a tighter concentration limit in config/risk.yml is what the command judges against
    home = copy_home(crash_home, tmp_path / "h")
    cfg = yaml.safe_load(home.risk_yml.read_text())
    cfg["concentration"]["max_weight_pct"] = 10.0
    home.risk_yml.write_text(yaml.safe_dump(cfg))
    weights = q(home, "select symbol, sum(abs(weight)) as w from positions_current group by symbol")
    over = sorted(r["symbol"] for r in weights if round(r["w"] * 100, 6) > 10.0)
    assert over
    p = js(home, "risk", "violations")
    conc = {c["check"]: c for c in p["checks"]}["concentration"]
    assert conc["status"] == "WARNING" and sorted(n["symbol"] for n in conc["names"]) == over
    text = run(home, "risk", "violations").output
    assert all(s in text for s in over) and "2 violation(s)" in text


def test_monthly_attribution_sums_to_the_month_total(crash_home):
    total = q(crash_home, "select sum(pnl) as p from nav_daily where month = ?", [LAST.replace(day=1)])[0]["p"]
    strat = q(crash_home, "select strategy, sum(pnl) as p from strategy_daily_pnl where session_date between ? and ? "
                          "group by 1", [LAST.replace(day=1), LAST])
    p = js(crash_home, "risk", "monthly-attribution")
    assert close(p["total_pnl"], total, 0.01)
    assert {r["strategy"]: round(r["pnl"], 2) for r in p["by_strategy"]} == {r["strategy"]: round(r["p"], 2) for r in strat}
    for key in ("by_strategy", "by_sector", "by_symbol"):
        assert close(sum(r["pnl"] for r in p[key]), total, 0.01), key
    assert {r["symbol"] for r in p["by_symbol"]} >= {r["symbol"] for r in q(crash_home, "select symbol from positions_current")}
    text = run(crash_home, "risk", "monthly-attribution").output
    assert text.count(money(total)) >= 3 and "unattributed" not in text


# --- fills -----------------------------------------------------------------------------------------

def test_fills_today_summary_matches_daily_metrics(crash_home):
    dm = q(crash_home, "select n_fills, traded_notional, commissions from daily_metrics where session_date = ?", [LAST])[0]
    p = js(crash_home, "fills", "today", "--summary")
    assert p["session_date"] == str(LAST)
    assert p["total"]["count"] == dm["n_fills"] > 0
    assert close(p["total"]["notional"], dm["traded_notional"], 1e-6)
    assert close(p["total"]["commissions"], dm["commissions"], 1e-9)
    for key in ("by_strategy", "by_symbol"):
        assert sum(g["count"] for g in p[key]) == dm["n_fills"]
    text = run(crash_home, "fills", "today", "--summary").output
    assert text.count("TOTAL") == 2 and money(dm["traded_notional"]) in text
    ids = [r["fill_id"] for r in q(crash_home, "select fill_id from int_fills where session_date = ?", [LAST])]
    plain = run(crash_home, "fills", "today").output
    assert all(i in plain for i in ids)


# --- monthly ---------------------------------------------------------------------------------------

def test_monthly_status_history_and_summary(crash_home):
    m = q(crash_home, "select * from mtd_drawdown order by session_date desc limit 1")[0]
    s = js(crash_home, "monthly", "status")
    assert close(s["mtd_return"], m["mtd_return"]) and close(s["mtd_drawdown"], m["mtd_drawdown"])
    assert s["guard_armed"] is m["guard_armed"] and s["history_days"] == m["history_days"]
    assert close(s["distance_to_threshold_pp"], round(m["mtd_return"] * 100, 6) + 3.0)
    text = run(crash_home, "monthly", "status").output
    assert pct(m["mtd_return"]) in text and f"{s['distance_to_threshold_pp']:.2f} pp" in text and "armed" in text

    months = q(crash_home, "select month, arg_max(mtd_return, session_date) as r, min(mtd_drawdown) as dd, "
                           "bool_or(breached) as b from mtd_drawdown group by 1 order by 1 desc limit 3")[::-1]
    h = js(crash_home, "monthly", "history", "--months", "3")["months"]
    assert [x["month"] for x in h] == [str(r["month"]) for r in months]
    for x, r in zip(h, months):
        assert close(x["mtd_return"], r["r"]) and close(x["worst_drawdown"], r["dd"]) and x["breached"] is r["b"]
    text = run(crash_home, "monthly", "history", "--months", "3").output
    assert all(pct(r["r"]) in text for r in months)

    summ = js(crash_home, "monthly", "summary", "--verbose")
    assert close(summ["pnl"], q(crash_home, "select sum(pnl) p from nav_daily where month = ?", [LAST.replace(day=1)])[0]["p"], 0.01)
    assert "P&L by strategy" in run(crash_home, "monthly", "summary", "--verbose").output


def test_monthly_breakdown_by_strategy_has_a_total_equal_to_the_month(crash_home):
    p = js(crash_home, "monthly", "breakdown", "--by-strategy")
    total = q(crash_home, "select sum(pnl) as p from nav_daily where month = ?", [LAST.replace(day=1)])[0]["p"]
    assert close(p["total_pnl"], total, 0.01) and close(p["strategy_total"], total, 0.01)
    text = run(crash_home, "monthly", "breakdown", "--by-strategy").output
    assert "TOTAL" in text and text.count(money(total)) >= 2
    days = js(crash_home, "monthly", "breakdown", "--by-day")
    dates = [str(r["session_date"]) for r in q(crash_home, "select session_date from nav_daily where month = ? "
                                                         "order by 1", [LAST.replace(day=1)])]
    assert [r["session_date"] for r in days["rows"]] == dates


def test_monthly_debug_shows_the_compounding(crash_home):
    rows = q(crash_home, "select session_date, daily_return, mtd_return from mtd_drawdown where month = ? "
                         "order by session_date", [LAST.replace(day=1)])
    p = js(crash_home, "monthly", "debug", "--verbose")
    assert [r["session_date"] for r in p["rows"]] == [str(r["session_date"]) for r in rows]
    idx = 1.0
    for got, r in zip(p["rows"], rows):
        idx *= 1 + r["daily_return"]
        assert close(got["running_mtd"], idx - 1, 1e-12) and close(got["mtd_return"], r["mtd_return"])
    text = run(crash_home, "monthly", "debug", "--verbose").output
    assert "they agree" in text and all(str(r["session_date"]) in text for r in rows)


# --- nav -------------------------------------------------------------------------------------------

def test_nav_series_days_window(crash_home):
    want = q(crash_home, "select session_date, nav from nav_daily where session_date >= ? order by 1",
             [LAST - timedelta(days=29)])
    p = js(crash_home, "nav", "series", "--days", "30")
    assert [r["session_date"] for r in p["rows"]] == [str(w["session_date"]) for w in want]
    text = run(crash_home, "nav", "series", "--days", "30").output
    assert all(money(w["nav"]) in text for w in want)


def test_nav_validate_ok_then_fail_on_a_tampered_snapshot(crash_home, tmp_path):
    p = js(crash_home, "nav", "validate", "--range", "month-to-date")
    assert p["ok"] and [c["status"] for c in p["checks"]] == ["OK"] * 4
    assert p["sessions"] == len(q(crash_home, "select 1 from nav_daily where month = ?", [LAST.replace(day=1)]))

    home = copy_home(crash_home, tmp_path / "h")
    con = duckdb.connect(str(home.analytics_db))
    con.execute("update nav_daily set pnl = pnl + 100 where session_date = ?", [LAST])
    con.execute("delete from nav_daily where session_date = ?", [date(2026, 11, 12)])
    con.close()
    res = run(home, "nav", "validate", "--range", "month-to-date", ok=False)
    assert res.exit_code == 1
    assert "pnl_identity" in res.stderr and "no_session_gaps" in res.stderr and "FAIL" in res.stdout
    assert "2026-11-12" in res.stdout and "2026-11-20" in res.stdout
    assert run(home, "pnl", "recalculate", "--date", "today", ok=False).exit_code == 1


# --- scoring ---------------------------------------------------------------------------------------

def test_scoring_is_per_strategy_health_and_says_so(crash_home):
    for cmd in ("factor-health", "monthly-performance"):
        assert "no factor model" in run(crash_home, "scoring", cmd, "--help").output
    start = LAST.replace(day=1)
    daily = q(crash_home, "select strategy, pnl from strategy_daily_pnl where session_date between ? and ? "
                          "order by strategy, session_date", [start, LAST])
    p = js(crash_home, "scoring", "monthly-performance")
    for s in p["strategies"]:
        pnls = [r["pnl"] for r in daily if r["strategy"] == s["strategy"]]
        assert close(s["pnl"], sum(pnls), 1e-6)
        assert close(s["hit_rate"], sum(x > 0 for x in pnls) / len(pnls))
        cum, peak, dd = 0.0, 0.0, 0.0
        for x in pnls:
            cum += x
            peak = max(peak, cum)
            dd = min(dd, cum - peak)
        assert close(s["max_drawdown_usd"], dd, 1e-6)
    assert close(p["total_pnl"], q(crash_home, "select sum(pnl) p from nav_daily where month = ?", [start])[0]["p"], 0.01)
    fh = js(crash_home, "scoring", "factor-health", "--days", "30")
    assert fh["from"] == str(LAST - timedelta(days=29))
    assert "no factor model" in run(crash_home, "scoring", "factor-health").output


# --- pnl -------------------------------------------------------------------------------------------

def test_pnl_recalculate_today_and_a_flow_day(crash_home):
    r = q(crash_home, "select nav, flows, pnl from nav_daily where session_date = ?", [LAST])[0]
    prev = q(crash_home, "select nav from nav_daily where session_date < ? order by session_date desc limit 1", [LAST])[0]["nav"]
    p = js(crash_home, "pnl", "recalculate", "--date", "today")
    assert p["session_date"] == str(LAST) and p["status"] == "OK"
    assert close(p["nav_pnl"], r["nav"] - prev - r["flows"]) and close(p["stored_pnl"], r["pnl"])
    ssum = q(crash_home, "select sum(pnl) p from strategy_daily_pnl where session_date = ?", [LAST])[0]["p"]
    assert close(p["strategy_sum_pnl"], ssum)
    flow_day = js(crash_home, "pnl", "recalculate", "--date", "2026-11-10")
    assert flow_day["flows"] == -750000.0 and flow_day["status"] == "OK"
    text = run(crash_home, "pnl", "recalculate", "--date", "today").output
    assert money(r["pnl"]) in text and "Σ strategy P&L" in text
    bad = run(crash_home, "pnl", "recalculate", "--date", "2026-11-21", ok=False)
    assert bad.exit_code == 1 and "no session on that date" in bad.stderr and "2026-11-20" in bad.stderr
    assert run(crash_home, "pnl", "recalculate", "--date", "yesterday", ok=False).exit_code == 1


# --- no data, imports, real subprocess -------------------------------------------------------------

READ_COMMANDS = [
    ["positions"], ["positions", "summary"], ["risk", "current"], ["risk", "violations"],
    ["risk", "monthly-attribution"], ["fills", "today", "--summary"], ["monthly", "status"],
    ["monthly", "summary", "--verbose"], ["monthly", "history", "--months", "3"],
    ["monthly", "breakdown", "--by-day"], ["monthly", "breakdown", "--by-strategy"], ["monthly", "debug", "--verbose"],
    ["nav", "series", "--days", "30"], ["nav", "validate", "--range", "month-to-date"],
    ["scoring", "factor-health"], ["scoring", "monthly-performance"], ["pnl", "recalculate", "--date", "today"],
]


@pytest.mark.parametrize("cmd", READ_COMMANDS, ids=" ".join)
def test_no_data_home_says_run_exo_run(tmp_path, cmd):
    home = Home(tmp_path / "empty")
    init_home(home)
    res = run(home, *cmd, ok=False)
    assert res.exit_code == 1
    assert "no data yet" in res.stderr and "exo run" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


@pytest.mark.parametrize("cmd", READ_COMMANDS, ids=" ".join)
def test_every_read_command_has_help_and_json(crash_home, cmd):
    assert run(crash_home, *cmd, "--help").output.startswith("Usage:")
    res = run(crash_home, *cmd, "--json")
    assert isinstance(json.loads(res.stdout), dict)


@pytest.mark.parametrize("cmd, proof", [(["kill", "status"], "mech_exo.killswitch"),
                                        (["risk", "current"], "duckdb")])
def test_read_paths_do_not_import_dbt_ge_or_dagster(crash_home, cmd, proof):
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "mech_exo.cli.main", "--home",
                          str(crash_home.root), *cmd], capture_output=True, text=True)
    assert res.returncode in (0, 2), res.stderr
    modules = [line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")]
    assert proof in modules  # the command really ran (importlib.import_module itself is not logged)
    heavy = [m for m in modules if m.split(".")[0] in ("dbt", "great_expectations", "dagster")]
    assert heavy == []


def test_real_exo_subprocess_risk_current_json(crash_home):
    res = subprocess.run([str(EXO), "--home", str(crash_home.root), "risk", "current", "--json"],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    assert res.returncode == 0, res.stderr
    p = json.loads(res.stdout)
    nav = q(crash_home, "select nav from nav_intraday order by ts desc limit 1")[0]["nav"]
    assert close(p["nav"], nav)


def test_monthly_recalculate_detects_a_wrong_mtd_and_force_rebuilds_it(crash_home, tmp_path):
    home = copy_home(crash_home, tmp_path / "h")
    p = js(home, "monthly", "recalculate")
    returns = q(home, "select daily_return from nav_daily where date_trunc('month', session_date) = "
                      "date_trunc('month', (select max(session_date) from nav_daily)) order by session_date")
    expected = 1.0
    for r in returns:
        expected *= 1.0 + (r["daily_return"] or 0.0)
    assert p["agrees"] and p["recomputed_mtd_return"] == pytest.approx(expected - 1, abs=1e-12)
    # corrupt the published figure: the plain recalculation must catch it
    with duckdb.connect(str(home.analytics_db)) as con:
        con.execute("update mtd_drawdown set mtd_return = mtd_return - 0.01 "
                    "where session_date = (select max(session_date) from mtd_drawdown)")
    bad = run(home, "monthly", "recalculate", ok=False)
    assert bad.exit_code == 1 and "disagrees" in bad.output
    fixed = run(home, "monthly", "recalculate", "--force", "--json")
    assert json.loads(fixed.stdout)["agrees"] is True


def test_home_is_accepted_before_or_after_the_command(crash_home, monkeypatch, tmp_path):
    monkeypatch.setenv("EXO_HOME", str(tmp_path / "elsewhere"))  # the option must win over the env
    after = CliRunner().invoke(cli, ["risk", "current", "--json", "--home", str(crash_home.root)])
    before = CliRunner().invoke(cli, ["--home", str(crash_home.root), "risk", "current", "--json"])
    assert after.exit_code == before.exit_code == 0, after.output
    a, b = json.loads(after.stdout), json.loads(before.stdout)
    assert a["nav"] == b["nav"] and a["session_date"] == b["session_date"]


# --- times and widths (#11.6) ----------------------------------------------------------------------

def test_times_read_in_the_session_zone_with_utc_and_json_carries_offsets_and_data_age(crash_home):
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    worst = q(crash_home, "select ts from nav_intraday where session_date = ? order by day_return, ts limit 1",
              [LAST])[0]["ts"]
    latest = q(crash_home, "select max(ts) as ts from nav_intraday")[0]["ts"]
    ny = worst.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("America/New_York"))  # Nov: EST, UTC−5
    text = run(crash_home, "risk", "current").output
    assert f"at {ny:%Y-%m-%d %H:%M} EST ({worst:%H:%M} UTC)" in text, text
    p = js(crash_home, "risk", "current")
    for key in ("as_of", "worst_day_return_ts"):
        dt = datetime.fromisoformat(p[key])
        assert dt.utcoffset() is not None and dt.utcoffset().total_seconds() == 0, p[key]
    assert datetime.fromisoformat(p["as_of"]) == latest.replace(tzinfo=timezone.utc)
    # how old the data is: in the JSON, and as the text's last line
    age = (datetime.now(timezone.utc) - latest.replace(tzinfo=timezone.utc)).total_seconds()
    assert datetime.fromisoformat(p["data"]["as_of"]) == latest.replace(tzinfo=timezone.utc)
    assert abs(p["data"]["age_seconds"] - age) < 120
    days = int(age // 86400)
    assert text.rstrip().splitlines()[-1].startswith("data: ") and f"{days} days" in text.splitlines()[-1]


def test_a_zone_from_risk_yml_is_the_one_shown(crash_home, tmp_path):
    home = copy_home(crash_home, tmp_path / "tokyo")
    cfg = yaml.safe_load(home.risk_yml.read_text())
    cfg.setdefault("session", {})["timezone"] = "Asia/Tokyo"
    home.risk_yml.write_text(yaml.safe_dump(cfg))
    latest = q(home, "select max(ts) as ts from nav_intraday")[0]["ts"]
    text = run(home, "positions", "summary").output
    tokyo = latest + timedelta(hours=9)  # JST has no DST; here the local date is the next day, so UTC names its own
    assert f"{tokyo:%Y-%m-%d %H:%M} JST ({latest:%Y-%m-%d %H:%M} UTC)" in " ".join(text.split()), text


@pytest.mark.parametrize("cmd", [["kill", "history", "--days", "3650"], ["alerts", "history", "--hours", "87600"],
                                 ["risk", "violations"], ["monthly", "status"], ["health", "full-check"],
                                 ["positions"], ["fills", "today"]])
def test_tables_stay_whole_at_80_columns(crash_home, tmp_path, cmd):
    home = copy_home(crash_home, tmp_path / "h")
    from mech_exo.alerts import send_alert
    from mech_exo.killswitch import set_trading

    set_trading(home, enabled=False, reason="an 80-column check", by="cli:on-call", trigger="manual")
    send_alert(home, severity="WARNING", type="manual",
               message="a warning long enough to wrap inside an 80-column table cell")
    res = subprocess.run([str(EXO), "--home", str(home.root), *cmd], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "80"})
    assert res.returncode in (0, 1), res.stderr
    lines = res.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, res.stdout
    assert "…" not in res.stdout  # nothing cut with an ellipsis
    if cmd[0] == "positions":  # every number whole on its line: values, weights, P&L never split
        for r in q(home, "select market_value, day_pnl from positions_current"):
            assert money(r["market_value"]) in res.stdout and money(r["day_pnl"]) in res.stdout
    if cmd[0] == "fills":
        for r in q(home, "select fill_id, quantity * price as notional from stg_landing__fills "
                         "where local_date = (select max(local_date) from stg_landing__fills)"):
            assert money(r["notional"]) in res.stdout
    if cmd[0] == "kill":  # every field of the change is there whole: the timestamp on one line
        entry = [e for e in json.loads(subprocess.run([str(EXO), "--home", str(home.root), *cmd, "--json"],
                                                     capture_output=True, text=True).stdout)["entries"]
                 if e.get("by") == "cli:on-call"][0]
        assert entry["at"] in res.stdout and "cli:on-call" in res.stdout and entry["source"] in res.stdout
