"""Risk dashboard: RiskQueryEngine against the snapshot, /health and /api/risk/current against the data
(unhealthy cases included), the server process and its pid file, and the page in a real headless
Chromium compared number by number with DuckDB queries of the published snapshot.

Homes are copies of the session fixtures (``crash_home``, ``quiet_home``) with the repo's config
templates added (``init_home`` keeps the fixture's risk.yml and writes killswitch.yml/alerts.yml).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from conftest import copy_home
from conftest import snapshot_query as q

from mech_exo.warehouse.storage import connect_build

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "dashboard"
# After the synthetic history's last session (2026-11-20, close 21:00 UTC): outside the session.
AFTER_CLOSE = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)
# The next Monday, 10:00 New York: in session, and the latest mark is from Friday → stale.
NEXT_SESSION = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
# Saturday: outside any session, data two days old but not a fault.
WEEKEND = datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc)


# --- fixtures ----------------------------------------------------------------------------------------

def _ready(home):
    from mech_exo.home import init_home

    init_home(home)
    return home


@pytest.fixture(scope="module")
def crash_dash(crash_home, tmp_path_factory):
    """Read-only for tests: a crash home with a kill-switch file (trading enabled)."""
    return _ready(copy_home(crash_home, tmp_path_factory.mktemp("dash") / "crash"))


@pytest.fixture
def mutable_home(crash_home, tmp_path):
    return _ready(copy_home(crash_home, tmp_path / "home"))


@pytest.fixture
def empty_home(tmp_path):
    from mech_exo.home import Home

    return _ready(Home(tmp_path / "empty"))


def engine_for(home, now=AFTER_CLOSE):
    from mech_exo.reporting.query import RiskQueryEngine

    return RiskQueryEngine(home, now=now)


def client(home, now=AFTER_CLOSE):
    from mech_exo.dashboard import create_app

    return create_app(home, now=now).server.test_client()


# --- RiskQueryEngine --------------------------------------------------------------------------------

def test_engine_metrics_match_the_models(crash_dash):
    m = engine_for(crash_dash).get_live_risk_metrics()
    assert m["status"] == "ok", m["message"]
    intra = q(crash_dash, "select ts, nav, day_pnl, day_return from nav_intraday order by ts desc limit 1")[0]
    mtd = q(crash_dash, "select * from mtd_drawdown order by session_date desc limit 1")[0]
    var = q(crash_dash, "select * from var_daily order by session_date desc limit 1")[0]
    assert m["nav"] == pytest.approx(intra["nav"])
    assert m["day_return"] == pytest.approx(intra["day_return"])
    assert m["day_pnl"] == pytest.approx(intra["day_pnl"])
    assert m["as_of"] == intra["ts"].replace(tzinfo=timezone.utc)
    worst = q(crash_dash, """select min(day_return) as w from nav_intraday
                             where session_date = (select max(session_date) from nav_intraday)""")[0]["w"]
    assert m["day_worst_return"] == pytest.approx(worst)
    assert m["mtd_return"] == pytest.approx(mtd["mtd_return"])
    assert m["monthly_guard"]["armed"] == mtd["guard_armed"]
    for k in ("var95_usd", "var99_usd", "utilization95", "utilization99", "limit95_usd", "limit99_usd"):
        assert m[k] == pytest.approx(var[k]), k
    assert m["level"] == var["level"]
    # utilisation is a fraction of the limit (0.8 = 80 %), as the model defines it
    assert m["utilization95"] == pytest.approx(var["var95_usd"] / var["limit95_usd"])
    top = q(crash_dash, """select strategy, symbol, var95_contribution from position_risk
                           where var95_contribution is not null order by var95_contribution desc limit 5""")
    assert [(c["strategy"], c["symbol"]) for c in m["top_contributors"]] == [(r["strategy"], r["symbol"]) for r in top]
    assert m["killswitch"]["trading_enabled"] is True and m["killswitch"]["readable"] is True
    assert m["data_age_minutes"] == pytest.approx((AFTER_CLOSE - m["as_of"]).total_seconds() / 60, abs=0.1)


def test_engine_exposure_and_heatmap_add_up(crash_dash):
    eng = engine_for(crash_dash)
    heat = eng.get_heatmap()
    total = q(crash_dash, "select sum(var95_contribution) as s from position_risk")[0]["s"]
    assert sum(c["var95_contribution"] for c in heat) == pytest.approx(total)
    x = eng.get_exposure()
    pos = q(crash_dash, "select market_value, nav from positions_current")
    nav = pos[0]["nav"]
    assert x["long"] == pytest.approx(sum(p["market_value"] for p in pos if p["market_value"] > 0) / nav)
    assert x["short"] == pytest.approx(-sum(p["market_value"] for p in pos if p["market_value"] < 0) / nav)
    assert x["gross"] == pytest.approx(sum(abs(p["market_value"]) for p in pos) / nav)
    assert len(eng.get_positions()) == len(pos)


def test_engine_last_update_and_connection(crash_dash, empty_home):
    eng = engine_for(crash_dash)
    latest = q(crash_dash, "select max(ts) as ts from nav_intraday")[0]["ts"]
    assert eng.get_last_update_time() == latest.replace(tzinfo=timezone.utc)
    assert eng.check_connection() is True
    none = engine_for(empty_home)
    assert none.check_connection() is False
    assert none.get_last_update_time() is None
    m = none.get_live_risk_metrics()
    assert m["status"] == "no_data" and "exo run" in m["message"]


def test_reads_never_touch_the_build_lock(mutable_home):
    """A build holding its write connection on build.duckdb must not disturb any read."""
    build = connect_build(mutable_home)  # the writer, as dbt holds it during a build
    try:
        build.execute("begin transaction")
        build.execute("create table _in_flight as select 1 as x")
        with pytest.raises(duckdb.Error):  # the build file really is unavailable to a reader now
            duckdb.connect(str(mutable_home.build_db), read_only=True).close()
        eng = engine_for(mutable_home)
        assert eng.check_connection() is True
        assert eng.refresh_risk_metrics()["status"] == "ok"
        assert eng.get_last_update_time() is not None
        from mech_exo.dashboard.health import health_report

        body, ok = health_report(eng, AFTER_CLOSE)
        assert ok or body["problems"] == [p for p in body["problems"] if p.startswith("alert escalation: UNKNOWN")], \
            body["problems"]
    finally:
        build.execute("rollback")
        build.close()


def test_refresh_rereads_a_new_snapshot_and_does_not_build(mutable_home):
    eng = engine_for(mutable_home)
    before = eng.get_live_risk_metrics()["var95_usd"]
    build_mtime = mutable_home.build_db.stat().st_mtime_ns
    # publish a new snapshot the way the pipeline does: write a copy, rename it over the old one
    tmp = mutable_home.analytics_db.with_name("analytics.duckdb.tmp")
    tmp.write_bytes(mutable_home.analytics_db.read_bytes())
    con = duckdb.connect(str(tmp))
    con.execute("update var_daily set var95_usd = 1234567.0 where session_date = (select max(session_date) from var_daily)")
    con.close()
    os.replace(tmp, mutable_home.analytics_db)
    assert eng.refresh_risk_metrics()["var95_usd"] == pytest.approx(1234567.0) != before
    assert eng.get_live_risk_metrics()["var95_usd"] == pytest.approx(1234567.0)
    assert mutable_home.build_db.stat().st_mtime_ns == build_mtime  # refresh reads; it never builds


def test_loss_levels_use_the_guard_rule():
    from mech_exo.reporting.query import loss_level

    assert loss_level(-0.008, -0.8, -0.4) == "red"           # falls to −0.8 % → stop level
    assert loss_level(-0.0079999, -0.8, -0.4) == "yellow"
    assert loss_level(-0.004, -0.8, -0.4) == "yellow"        # −0.4 % is the warning level
    assert loss_level(-0.0039, -0.8, -0.4) == "green"
    assert loss_level(-0.03, -3.0, -1.5) == "red"
    assert loss_level(None, -3.0, -1.5) == "unknown"


def test_page_var_and_weight_colours_are_the_guards_bands():
    """The VaR card, its utilisation bar and the position table judge with mech_exo.bands: the same
    6-decimal rounding and edges as the VaR guard and dbt's var_daily.level (the bar used to compare
    the raw fraction, so 69.99999999 % showed green on the bar and yellow on the card)."""
    from mech_exo import bands
    from mech_exo import guards as g
    from mech_exo.config import load_risk_config
    from mech_exo.reporting.dash_layout import theme as t
    from mech_exo.reporting.dash_layout.book import positions_table
    from mech_exo.reporting.dash_layout.cards import util_bar, var_card
    from mech_exo.reporting.query import _thresholds

    risk = load_risk_config(None)
    th = _thresholds(risk)
    for util, light in [(0.6999999, "green"), (0.69999999999, "yellow"), (0.9, "yellow"), (0.9000001, "red"),
                        (1.2, "red"), (None, "unknown")]:
        card = var_card("VaR 95", None if util is None else util * 2e6, util, 2e6, th, "k")
        assert card.className == f"card kpi kpi-{light}", (util, card.className)
        bar_colour = util_bar(util, th).children[0].style["background"]
        assert bar_colour == t.LEVEL_COLOURS["green" if util is None else light], util
        if util is not None:  # the guard's severity on the same utilisation agrees with the colour
            d = g.judge_var({"session_date": "2026-11-20", "var95_usd": util * 2e6, "var99_usd": 0.0}, risk)
            assert light == {None: "green", "WARNING": "yellow", "CRITICAL": "red"}[d.severity]
    rows = [{"strategy": "s", "symbol": sym, "sector": "x", "quantity": 1.0, "mark": 1.0, "market_value": 1.0,
             "weight": w, "var95_contribution": None, "var95_share": None, "day_pnl": 0.0, "mark_source": "mark"}
            for sym, w in (("AT", 0.1500000004), ("OVER", 0.150001))]
    tbl = positions_table(rows, th)
    over = {tr.children[1].children: "over" in tr.children[7].className for tr in tbl.children[1].children}
    assert over == {"AT": False, "OVER": True}
    assert over == {s: bands.over_weight(w, th["max_weight_pct"]) for s, w in (("AT", 0.1500000004), ("OVER", 0.150001))}


def test_drill_badge_from_the_drill_log_and_unknown_without_the_module(mutable_home, monkeypatch):
    from mech_exo.events import append_event
    from mech_exo.reporting.query import drill_summary

    done = AFTER_CLOSE - timedelta(days=10)
    append_event(mutable_home.event_log("drills"),
                 {"drill_id": "d1", "started_at": (done - timedelta(minutes=3)).isoformat(),
                  "finished_at": done.isoformat(), "duration_s": 180, "dry_run": False, "status": "PASS",
                  "failed_step": None, "error": None, "report_path": None, "wait_s": 120, "steps": []})
    d = engine_for(mutable_home).get_live_risk_metrics()["drill"]
    assert d["badge"] == "green" and d["days_since_last_live_pass"] == pytest.approx(10, abs=0.01)
    monkeypatch.setitem(sys.modules, "mech_exo.drill", None)  # the module missing → import fails
    d = drill_summary(mutable_home, AFTER_CLOSE)
    assert d["badge"] == "unknown" and "unavailable" in d["error"]


def test_runbook_entry_points_default_to_exo_home(crash_dash, monkeypatch):
    """The run-book calls RiskQueryEngine() and RiskLiveLayout().layout() with no arguments."""
    from mech_exo.reporting.dash_layout.risk_live import RiskLiveLayout
    from mech_exo.reporting.query import RiskQueryEngine

    monkeypatch.setenv("EXO_HOME", str(crash_dash.root))
    assert RiskQueryEngine().home.root == crash_dash.root
    page = RiskLiveLayout().layout()
    ids = {getattr(c, "id", None) for c in _walk(page)}
    assert {"risk-live-interval", "risk-heatmap", "var-timeline", "position-breakdown", "positions-table",
            "killswitch-banner", "pnl-day", "pnl-mtd", "badge-monthly", "badge-drill"} <= ids
    interval = next(c for c in _walk(page) if getattr(c, "id", None) == "risk-live-interval")
    assert interval.interval == 30_000


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


# --- /health and /api/risk/current -------------------------------------------------------------------

def _escalation_checkable() -> bool:
    from mech_exo.flows.halt_path import escalation_source

    return escalation_source()[0] is not None


def assert_healthy_but_for_escalation(r):
    """Healthy — except that without mech_exo.alerts' escalation_overdue the escalation component is
    UNKNOWN, which is never healthy (then that must be the only problem)."""
    body = r.get_json()
    if _escalation_checkable():
        assert r.status_code == 200 and body["status"] == "healthy", body["problems"]
    else:
        assert r.status_code == 503 and len(body["problems"]) == 1, body["problems"]
        assert body["problems"][0].startswith("alert escalation: UNKNOWN")
    return body


def test_health_ok_after_close_with_age_reported(crash_dash):
    r = client(crash_dash).get("/health")
    body = assert_healthy_but_for_escalation(r)
    assert body["database"]["reachable"] is True
    assert body["killswitch"] == {**body["killswitch"], "readable": True, "trading_enabled": True}
    latest = q(crash_dash, "select max(ts) as ts from nav_intraday")[0]["ts"]
    assert body["data"]["latest_mark"] == latest.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["data"]["age_minutes"] == pytest.approx((AFTER_CLOSE.replace(tzinfo=None) - latest).total_seconds() / 60)
    assert body["data"]["in_session"] is False and body["data"]["stale"] is False


def test_health_weekend_reports_age_but_stays_healthy(crash_dash):
    r = client(crash_dash).get("/health?now=" + WEEKEND.strftime("%Y-%m-%dT%H:%M:%SZ"))
    body = assert_healthy_but_for_escalation(r)
    assert body["data"]["age_minutes"] > 17 * 60 and body["data"]["in_session"] is False


def test_health_stale_in_session_is_503(crash_dash):
    r = client(crash_dash).get("/health?now=" + NEXT_SESSION.strftime("%Y-%m-%dT%H:%M:%SZ"))
    body = r.get_json()
    assert r.status_code == 503, body
    assert body["data"]["in_session"] is True and body["data"]["stale"] is True
    assert any("stale" in p.lower() for p in body["problems"])


def test_health_and_api_without_snapshot_are_503(empty_home):
    c = client(empty_home)
    r = c.get("/health")
    body = r.get_json()
    assert r.status_code == 503 and body["database"]["reachable"] is False
    assert "no data yet" in body["database"]["error"]
    r = c.get("/api/risk/current")
    assert r.status_code == 503 and r.get_json()["status"] == "no_data"


def test_health_corrupt_killswitch_is_503_and_page_shows_halt(mutable_home):
    mutable_home.killswitch_yml.write_text("trading_enabled: [oops\n")
    c = client(mutable_home)
    r = c.get("/health")
    body = r.get_json()
    assert r.status_code == 503, body
    assert body["killswitch"]["readable"] is False and str(mutable_home.killswitch_yml) in body["killswitch"]["error"]
    api = c.get("/api/risk/current").get_json()
    assert api["killswitch"]["halted"] is True and api["killswitch"]["readable"] is False


def test_health_bad_now_is_400(crash_dash):
    r = client(crash_dash).get("/health?now=yesterday")
    assert r.status_code == 400 and "ISO-8601" in r.get_json()["error"]


def test_api_risk_current_matches_the_models(crash_dash):
    r = client(crash_dash).get("/api/risk/current")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = json.loads(r.get_data(as_text=True))  # strict JSON: no NaN
    var = q(crash_dash, "select * from var_daily order by session_date desc limit 1")[0]
    nav = q(crash_dash, "select nav from nav_intraday order by ts desc limit 1")[0]["nav"]
    assert body["schema_version"] == 1 and body["status"] == "ok"
    assert body["nav"] == pytest.approx(nav)
    assert body["var95_usd"] == pytest.approx(var["var95_usd"]) and body["var99_usd"] == pytest.approx(var["var99_usd"])
    assert body["utilization95"] == pytest.approx(var["utilization95"])
    assert body["level"] == var["level"] and body["session_date"] == var["session_date"].isoformat()
    assert body["killswitch"]["trading_enabled"] is True
    assert body["top_contributors"][0]["var95_contribution"] == pytest.approx(
        q(crash_dash, "select max(var95_contribution) as m from position_risk")[0]["m"])
    for key in ("day_return", "mtd_return", "as_of", "generated_at", "thresholds", "drill", "exposure"):
        assert key in body, key


def test_api_shows_a_halt_immediately(mutable_home):
    from mech_exo.killswitch import set_trading

    c = client(mutable_home)
    assert c.get("/api/risk/current").get_json()["killswitch"]["halted"] is False
    set_trading(mutable_home, enabled=False, reason="MONTHLY STOP-LOSS TRIGGERED: -3.10%", trigger="monthly_stop",
                by="sensor:monthly-drawdown-guard")
    ks = c.get("/api/risk/current").get_json()["killswitch"]
    assert ks["halted"] is True and ks["trigger"] == "monthly_stop" and "MONTHLY STOP-LOSS" in ks["reason"]
    assert_healthy_but_for_escalation(c.get("/health"))  # a halt is not a dashboard fault


# --- the server process --------------------------------------------------------------------------------

def _get(url, timeout=5):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_module_serves_on_loopback_with_a_pid_file(crash_dash):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
    from browser import free_port

    port = free_port()
    pid_path = crash_dash.state_dir / "dashboard.pid"
    proc = subprocess.Popen([sys.executable, "-m", "mech_exo.dashboard.app", "--port", str(port),
                             "--home", str(crash_dash.root), "--now", "2026-11-20T21:30:00Z"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.2)
        # 503 only for the escalation component when it cannot be checked (see assert_healthy_but_for_escalation)
        expected = 200 if _escalation_checkable() else 503
        assert status == expected, proc.stdout.read().decode() if proc.poll() is not None else (status, body)
        if status == 503:
            assert [p.split(":")[0] for p in body["problems"]] == ["alert escalation"], body["problems"]
        rec = json.loads(pid_path.read_text())
        assert rec["pid"] == proc.pid and rec["host"] == "127.0.0.1" and rec["port"] == port
        assert rec["url"] == f"http://127.0.0.1:{port}/dashboard/risk-live" and rec["home"] == str(crash_dash.root)
    finally:
        proc.terminate()
        proc.wait(30)
    assert not pid_path.exists(), "the pid file must go away with the server"


# --- the page in a real browser ------------------------------------------------------------------------

WAIT_CHARTS = """(() => {
  const ids = ['risk-heatmap', 'var-timeline', 'position-breakdown'];
  return ids.every(id => { const g = document.querySelector('#' + id + ' .js-plotly-plot');
                           return g && g.data && g.data.length && g._fullLayout; })
         && !!document.getElementById('positions-table');
})()"""

READ_PAGE = """(() => {
  const fig = id => { const g = document.querySelector('#' + id + ' .js-plotly-plot');
                      return g.data.map(t => ({type: t.type, name: t.name, x: t.x, y: t.y, z: t.z})); };
  const rows = [...document.querySelectorAll('#positions-table tbody tr')].map(tr => {
      const o = {key: tr.dataset.key};
      tr.querySelectorAll('td').forEach(td => { o[td.dataset.col] = {text: td.textContent, value: td.dataset.value}; });
      return o; });
  const kpi = id => { const el = document.getElementById(id);
                      const v = el.querySelector('.kpi-value');
                      return {level: el.dataset.level, text: v.textContent, value: v.dataset.value}; };
  const banner = document.getElementById('killswitch-banner');
  return {heatmap: fig('risk-heatmap'), timeline: fig('var-timeline'), positions: fig('position-breakdown'),
          rows, day: kpi('pnl-day'), mtd: kpi('pnl-mtd'), var95: kpi('kpi-var95'), var99: kpi('kpi-var99'),
          banner: {state: banner.dataset.state, text: banner.textContent},
          monthly: document.getElementById('badge-monthly').dataset.level,
          drill: document.getElementById('badge-drill').dataset.level,
          title: document.title};
})()"""


def _browse(app, path, shot_name, action=None):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
    from browser import chromium_page, serve_wsgi

    with serve_wsgi(app.server) as base, chromium_page(1440, 1000) as page:
        page.navigate(base + path)
        page.wait_for(WAIT_CHARTS, timeout=60, what="the three charts and the position table")
        data = page.eval(READ_PAGE)
        extra = action(page) if action else None
        page.eval("new Promise(r => requestAnimationFrame(() => setTimeout(r, 300)))")
        shot = page.screenshot(ARTIFACTS / shot_name)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000
    return data, extra


def test_browser_page_shows_the_model_values(crash_dash):
    from mech_exo.dashboard import create_app

    data, _ = _browse(create_app(crash_dash, now=AFTER_CLOSE), "/dashboard/risk-live", "risk_live.png")
    assert "Risk" in data["title"]
    # heatmap: Σ var95_contribution by sector × strategy, cell by cell
    h = data["heatmap"][0]
    cells = {(r["sector"], r["strategy"]): r["v"] for r in q(crash_dash, """
        select sector, strategy, sum(var95_contribution) as v from position_risk group by 1, 2""")}
    shown = {(sec, strat): h["z"][i][j] for i, sec in enumerate(h["y"]) for j, strat in enumerate(h["x"])
             if h["z"][i][j] is not None}
    assert shown.keys() == cells.keys()
    for k, v in cells.items():
        assert shown[k] == pytest.approx(v), k
    # timeline: 95 / 99 VaR in USD per session
    tl = q(crash_dash, "select session_date, var95_usd, var99_usd from var_daily order by session_date")
    by_name = {t["name"]: t for t in data["timeline"]}
    for name, col in (("VaR 95 %", "var95_usd"), ("VaR 99 %", "var99_usd")):
        t = by_name[name]
        assert t["x"] == [r["session_date"].isoformat() for r in tl]
        assert [None if v is None else pytest.approx(v) for v in t["y"]] == [r[col] for r in tl]
    # position breakdown: each position's VaR contribution
    contrib = {f"{r['symbol']} · {r['strategy']}": r["var95_contribution"]
               for r in q(crash_dash, "select * from position_risk")}
    bar = next(t for t in data["positions"] if t["name"] == "VaR95 contribution")
    assert dict(zip(bar["y"], [pytest.approx(v) for v in bar["x"]])) == contrib
    # the table: every position with its value, weight and contribution
    pos = {f"{r['strategy']}|{r['symbol']}": r for r in q(crash_dash, """
        select p.strategy, p.symbol, p.market_value, p.weight, p.quantity, r.var95_contribution
        from positions_current p left join position_risk r using (strategy, symbol)""")}
    assert {r["key"] for r in data["rows"]} == set(pos)
    for row in data["rows"]:
        want = pos[row["key"]]
        for col in ("market_value", "weight", "quantity", "var95_contribution"):
            assert float(row[col]["value"]) == pytest.approx(want[col]), (row["key"], col)
        assert row["market_value"]["text"].replace("\u2212", "-") == (
            f"{'-' if want['market_value'] < 0 else ''}${abs(want['market_value']):,.0f}")
        assert row["weight"]["text"] == f"{want['weight'] * 100:.2f} %"
    # headline cards against the models and the guard thresholds
    intra = q(crash_dash, "select day_return from nav_intraday order by ts desc limit 1")[0]["day_return"]
    assert float(data["day"]["value"]) == pytest.approx(intra)
    def shade(r, stop, warn):  # the guards' bands; a loss inside them is neutral, never green (#11.7)
        p = round(r * 100, 6)
        return "red" if p <= stop else "yellow" if p <= warn else "neutral" if p < 0 else "green"

    assert data["day"]["level"] == shade(intra, -0.8, -0.4)
    mtd = q(crash_dash, "select mtd_return from mtd_drawdown order by session_date desc limit 1")[0]["mtd_return"]
    assert float(data["mtd"]["value"]) == pytest.approx(mtd)
    assert data["mtd"]["level"] == shade(mtd, -3.0, -1.5)
    var = q(crash_dash, "select var95_usd, var99_usd from var_daily order by session_date desc limit 1")[0]
    assert float(data["var95"]["value"]) == pytest.approx(var["var95_usd"])
    assert float(data["var99"]["value"]) == pytest.approx(var["var99_usd"])
    assert data["banner"]["state"] == "enabled"
    assert data["drill"] == "red"  # no live drill has ever passed in this home


def test_browser_halt_is_unmissable_and_refresh_needs_no_reload(mutable_home):
    """The page refreshes in place: flip the switch while the page is open and watch the banner turn red
    (a short refresh period for the test; the app's default is 30 s)."""
    from mech_exo.dashboard import create_app
    from mech_exo.killswitch import set_trading
    from mech_exo.reporting.dash_layout.risk_live import REFRESH_MS

    assert REFRESH_MS == 30_000

    def flip(page):
        page.eval("window.__no_reload_marker = 42")
        set_trading(mutable_home, enabled=False, reason="CRITICAL DAY LOSS: -1.40%", trigger="daily_stop",
                    by="sensor:intraday_pnl_sentinel")
        page.wait_for("document.getElementById('killswitch-banner').dataset.state === 'halted'", timeout=30,
                      what="the banner to turn red after the refresh")
        return page.eval("""({marker: window.__no_reload_marker,
                              text: document.getElementById('killswitch-banner').textContent,
                              colour: getComputedStyle(document.getElementById('killswitch-banner')).backgroundColor})""")

    app = create_app(mutable_home, now=AFTER_CLOSE, refresh_ms=1000)
    data, after = _browse(app, "/dashboard/risk-live", "risk_live_halted.png", action=flip)
    assert data["banner"]["state"] == "enabled"
    assert after["marker"] == 42, "the page reloaded instead of refreshing in place"
    assert "TRADING HALTED" in after["text"] and "CRITICAL DAY LOSS" in after["text"] and "daily_stop" in after["text"]
    assert after["colour"] == "rgb(215, 48, 39)"


def test_browser_no_data_state(empty_home):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
    from browser import chromium_page, serve_wsgi

    from mech_exo.dashboard import create_app

    with serve_wsgi(create_app(empty_home, now=AFTER_CLOSE).server) as base, chromium_page() as page:
        page.navigate(base + "/dashboard/risk-live")
        text = page.wait_for("document.getElementById('no-data') && document.getElementById('no-data').textContent",
                             what="the no-data card")
        shot = page.screenshot(ARTIFACTS / "risk_live_no_data.png")
    print(f"screenshot: {shot}")
    assert "No data yet" in text and "exo run" in text


# --- what the page says about itself (#11.7) -------------------------------------------------------------

def _find(component, id_):
    """The Dash component with ``id_`` in a rendered tree (None when absent)."""
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for c in children if isinstance(children, (list, tuple)) else [children]:
        if c is not None and not isinstance(c, (str, int, float)):
            found = _find(c, id_)
            if found is not None:
                return found
    return None


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    children = getattr(component, "children", None)
    return "".join(_text(c) for c in (children if isinstance(children, (list, tuple)) else [children]))


def _page(home, now):
    from dash import html

    from mech_exo.dashboard.health import health_report
    from mech_exo.reporting.dash_layout.risk_live import RiskLiveLayout

    eng = engine_for(home, now)
    return html.Div(RiskLiveLayout(eng, health=lambda: health_report(eng, now)).render())


@pytest.mark.parametrize("now", [AFTER_CLOSE, NEXT_SESSION, WEEKEND])
def test_the_page_shows_a_banner_exactly_when_health_is_503(crash_dash, now):
    r = client(crash_dash).get("/health?now=" + now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    banner = _find(_page(crash_dash, now), "health-banner")
    assert (banner is not None) == (r.status_code == 503), (now, r.get_json()["problems"])
    if r.status_code == 503:
        body = r.get_json()
        text = _text(banner)
        for p in body["problems"][:6]:
            assert p in text
        if body["data"]["stale"]:
            assert banner.to_plotly_json()["props"]["data-state"] == "stale" and text.startswith("STALE DATA")


def test_the_stale_session_gets_the_stale_banner(crash_dash):
    banner = _find(_page(crash_dash, NEXT_SESSION), "health-banner")
    assert banner is not None and _text(banner).startswith("STALE DATA")


def test_the_page_says_which_var_is_which_with_both_totals(crash_dash):
    from mech_exo.reporting.dash_layout import theme as t

    page = _page(crash_dash, AFTER_CLOSE)
    text = _text(_find(page, "var-explain"))
    heat = q(crash_dash, "select sum(var95_contribution) as v from position_risk")[0]["v"]
    book = q(crash_dash, "select var95_usd from var_daily order by session_date desc limit 1")[0]["var95_usd"]
    assert "position simulation" in text and "book's own daily returns" in text
    assert t.usd(heat) in text and t.usd(book) in text
    assert "book" in _text(_find(page, "kpi-var95")).lower()


def test_var_timeline_panels_keep_their_bands_and_labels_apart(crash_dash):
    from mech_exo.reporting.dash_layout.figures import var_timeline_figure

    eng = engine_for(crash_dash)
    th = eng.get_live_risk_metrics()["thresholds"]
    fig = var_timeline_figure(eng.get_var_timeline(), th)
    var = q(crash_dash, "select limit95_usd, limit99_usd from var_daily order by session_date desc limit 1")[0]
    by_axis = {}
    for sh in fig.layout.shapes:
        by_axis.setdefault(sh.yref, []).append((min(sh.y0, sh.y1), max(sh.y0, sh.y1)))
    traces = {tr.name: tr.yaxis for tr in fig.data}
    for name, limit in (("VaR 95 %", var["limit95_usd"]), ("VaR 99 %", var["limit99_usd"])):
        axis = "y" if traces[name] == "y" else traces[name]
        spans = by_axis[axis]
        # this panel's bands run from warning to its own limit, and nothing of the other limit is here
        assert min(lo for lo, _ in spans) == pytest.approx(limit * th["var_warning_pct"] / 100)
        assert max(hi for _, hi in spans) == pytest.approx(limit)
        label = [a for a in fig.layout.annotations if a.yref == axis and "limit" in a.text]
        assert len(label) == 1 and label[0].yanchor == "bottom"  # above its line, never under it
        assert label[0].y == pytest.approx(__import__("math").log10(limit))
        lo, hi = fig.layout[("yaxis" if axis == "y" else "yaxis" + axis[1:])].range
        assert 10 ** hi > limit  # the limit and its label are inside the panel
    assert len(by_axis) == 2


def test_the_page_reads_times_in_the_session_zone_with_utc_beside(crash_dash):
    from zoneinfo import ZoneInfo

    page = _page(crash_dash, AFTER_CLOSE)
    latest = q(crash_dash, "select max(ts) as ts from nav_intraday")[0]["ts"].replace(tzinfo=timezone.utc)
    ny = latest.astimezone(ZoneInfo("America/New_York"))
    assert f"{ny:%Y-%m-%d %H:%M} EST ({latest:%H:%M} UTC)" in _text(_find(page, "data-as-of"))
    worst = q(crash_dash, """select ts from nav_intraday where session_date = (select max(session_date) from nav_intraday)
                             order by day_return, ts limit 1""")[0]["ts"].replace(tzinfo=timezone.utc)
    w = worst.astimezone(ZoneInfo("America/New_York"))
    assert f"at {w:%H:%M} EST ({worst:%H:%M} UTC)" in _text(_find(page, "pnl-day"))
