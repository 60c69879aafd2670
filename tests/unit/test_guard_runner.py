"""Guard runner end to end on a real DuckDB file and a real home: halt first, then alert, once."""
from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from mech_exo import guard_runner as gr
from mech_exo import guards as g
from mech_exo import killswitch as ks
from mech_exo.events import read_events
from mech_exo.home import Home, init_home

DAY = date(2026, 11, 20)                                   # a Friday


@pytest.fixture
def home(tmp_path, monkeypatch):
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    h = Home(tmp_path / "home")
    init_home(h)
    return h


def make_db(path, day_returns=(0.001, -0.002), mtd=-0.01, history_days=12, var95_usd=500_000.0,
            weights=(("s1", "AAPL", 0.10), ("s1", "MSFT", 0.05))):
    """Small tables with the SPEC §3 names and columns; one prior session to check 'latest only'."""
    con = duckdb.connect(str(path))
    con.execute("create table nav_intraday (ts timestamp, session_date date, nav double, day_pnl double, day_return double)")
    con.execute("insert into nav_intraday values (?, ?, 1e6, -5e4, -0.05)",
                [datetime(2026, 11, 19, 15, 0), DAY - timedelta(days=1)])
    for i, r in enumerate(day_returns):
        con.execute("insert into nav_intraday values (?, ?, ?, ?, ?)",
                    [datetime(2026, 11, 20, 14, 35) + timedelta(minutes=5 * i), DAY, 1e6 * (1 + r), 1e6 * r, r])
    con.execute("create table mtd_drawdown (session_date date, month date, mtd_return double, mtd_drawdown double, "
                "history_days integer, guard_armed boolean, breached boolean)")
    con.execute("insert into mtd_drawdown values (?, ?, ?, ?, ?, ?, ?)",
                [DAY - timedelta(days=1), date(2026, 11, 1), -0.2, -0.2, history_days - 1, True, True])
    con.execute("insert into mtd_drawdown values (?, ?, ?, ?, ?, null, null)",
                [DAY, date(2026, 11, 1), mtd, mtd, history_days])
    con.execute("create table var_daily (session_date date, nav double, n_obs integer, var95 double, var99 double, "
                "es95 double, es99 double, var95_usd double, var99_usd double, utilization95 double, "
                "utilization99 double, level varchar)")
    con.execute("insert into var_daily values (?, 1e6, 30, 0.01, 0.02, 0.015, 0.025, ?, 100000, null, null, null)",
                [DAY, var95_usd])
    con.execute("create table positions_current (strategy varchar, symbol varchar, sector varchar, quantity double, "
                "mark double, mark_source varchar, market_value double, weight double)")
    for s, sym, w in weights:
        con.execute("insert into positions_current values (?, ?, 'TECH', 1, 1, 'mark', ?, ?)", [s, sym, w * 1e6, w])
    con.close()
    return path


def run(home, db, now=None, failed_checks=(), by="sensor:test"):
    """``now`` defaults to two minutes after the latest mark: in session and fresh."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        if now is None:
            now = con.execute("select max(ts) from nav_intraday").fetchone()[0].replace(tzinfo=timezone.utc)
            now += timedelta(minutes=2)
        decisions = gr.evaluate_guards(home, con, now=now, failed_checks=failed_checks, by=by)
    finally:
        con.close()
    return decisions, gr.apply_decisions(home, decisions, by)


def alerts(home):
    return [r for r in read_events(home.event_log("alerts")) if r.get("event") == "alert"]


def by_guard(results, guard):
    (r,) = [x for x in results if x["guard"] == guard]
    return r


# ------------------------------------------------------------------------------------------------

def test_quiet_day_changes_nothing(home, tmp_path):
    decisions, results = run(home, make_db(tmp_path / "a.duckdb"))
    assert all(d.severity is None for d in decisions), [d.message for d in decisions if d.severity]
    assert ks.is_trading_enabled(home) and alerts(home) == []


def test_intraday_dip_halts_then_alerts_once(home, tmp_path):
    db = make_db(tmp_path / "a.duckdb", day_returns=(-0.002, -0.0093, 0.001))   # recovered dip
    _, results = run(home, db)
    r = by_guard(results, g.INTRADAY)
    assert r["halted"] and r["severity"] == "CRITICAL"
    st = ks.read_state(home)
    assert not st.trading_enabled and st.trigger == "daily_stop" and st.updated_by == "sensor:test"
    entry = st.history[-1]
    assert (entry["guard"], entry["period"], entry["level_pct"]) == (g.INTRADAY, "2026-11-20", -0.93)
    (a,) = alerts(home)
    assert a["severity"] == "CRITICAL" and a["message"] == "CRITICAL DAY LOSS: -0.93%"
    assert a["dedup_key"] == f"{g.INTRADAY}:2026-11-20:CRITICAL"
    assert a["details"]["halted"] is True   # the switch was already off when the alert went out
    # the kill-switch change was logged before the alert
    ks_ev = list(read_events(home.event_log("killswitch")))
    assert len(ks_ev) == 1 and ks_ev[0]["at"] <= a["at"]

    _, again = run(home, db)   # idempotent: no rewrite, no second alert
    r2 = by_guard(again, g.INTRADAY)
    assert not r2["halt"] and r2["killswitch"] is None and r2["alert_skipped"] == "duplicate"
    assert len(ks.read_state(home).history) == 1 and len(alerts(home)) == 1


def test_manual_reenable_is_respected_until_loss_deepens(home, tmp_path):
    run(home, make_db(tmp_path / "a.duckdb", day_returns=(-0.0093,)))
    ks.set_trading(home, enabled=True, reason="desk confirms hedge", trigger="manual", by="cli:ann")
    _, results = run(home, make_db(tmp_path / "b.duckdb", day_returns=(-0.0093, -0.0140)))
    assert not by_guard(results, g.INTRADAY)["halted"] and ks.is_trading_enabled(home)
    assert len(alerts(home)) == 1
    _, results = run(home, make_db(tmp_path / "c.duckdb", day_returns=(-0.0093, -0.0143)))
    assert by_guard(results, g.INTRADAY)["halted"] and not ks.is_trading_enabled(home)
    assert [a["message"].split(" (")[0] for a in alerts(home)] == ["CRITICAL DAY LOSS: -0.93%",
                                                                   "CRITICAL DAY LOSS: -1.43%"]


@pytest.mark.parametrize("days, halts", [(9, False), (10, True)])
def test_monthly_stop_needs_history(home, tmp_path, days, halts):
    _, results = run(home, make_db(tmp_path / "a.duckdb", mtd=-0.035, history_days=days))
    assert by_guard(results, g.MONTHLY)["halted"] is halts
    assert ks.is_trading_enabled(home) is (not halts)
    if halts:
        assert ks.read_state(home).trigger == "monthly_stop"
        assert any(a["message"] == "🛑 MONTHLY STOP-LOSS TRIGGERED: -3.50%" for a in alerts(home))
        with pytest.raises(ks.ApprovalRequired, match="CTO"):
            ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="cli:x", approved_by="bob")


def test_daily_and_monthly_in_one_run_both_recorded(home, tmp_path):
    run(home, make_db(tmp_path / "a.duckdb", day_returns=(-0.01,), mtd=-0.04))
    st = ks.read_state(home)
    assert [h["trigger"] for h in st.history] == ["daily_stop", "monthly_stop"]
    assert {a["severity"] for a in alerts(home)} == {"CRITICAL"} and len(alerts(home)) == 2


def test_var_breach_halts(home, tmp_path):
    _, results = run(home, make_db(tmp_path / "a.duckdb", var95_usd=2_100_000.0))
    assert by_guard(results, g.VAR)["halted"] and ks.read_state(home).trigger == "var_breach"


def test_concentration_and_freshness_warn(home, tmp_path):
    db = make_db(tmp_path / "a.duckdb", weights=(("s1", "AAPL", 0.2),))
    _, results = run(home, db, now=datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc))   # last mark 14:40
    assert by_guard(results, g.CONCENTRATION)["severity"] == "WARNING"
    assert by_guard(results, g.FRESHNESS)["severity"] == "WARNING"
    assert ks.is_trading_enabled(home)
    assert {a["severity"] for a in alerts(home)} == {"WARNING"}


def test_failed_checks_still_halt_and_say_so(home, tmp_path):
    run(home, make_db(tmp_path / "a.duckdb", day_returns=(-0.01,)), failed_checks=["nav_not_null"])
    assert not ks.is_trading_enabled(home)
    (a,) = alerts(home)
    assert "DATA SUSPECT (failed checks: nav_not_null)" in a["message"]


def test_broken_alert_system_never_blocks_the_halt(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mech_exo.alerts", None)   # the import itself fails
    _, results = run(home, make_db(tmp_path / "a.duckdb", day_returns=(-0.01,)))
    r = by_guard(results, g.INTRADAY)
    assert r["halted"] and r["alert_skipped"].startswith("alerts unavailable")
    assert not ks.is_trading_enabled(home)
    assert "CRITICAL DAY LOSS: -1.00%" in capsys.readouterr().err


def test_failed_halt_is_alerted_and_raised(home, tmp_path):
    (home.config_dir / "killswitch.yml.lock").mkdir()   # the lock cannot be opened → the write fails
    db = make_db(tmp_path / "a.duckdb", day_returns=(-0.01,))
    with pytest.raises(gr.HaltFailed) as exc:
        run(home, db)
    assert str(home.killswitch_yml) in str(exc.value)
    (a,) = alerts(home)
    assert "kill-switch write FAILED" in a["message"]


def test_unreadable_switch_alerts_and_is_not_rewritten(home, tmp_path):
    home.killswitch_yml.write_text("{{ broken")
    _, results = run(home, make_db(tmp_path / "a.duckdb", day_returns=(-0.01,)))
    assert home.killswitch_yml.read_text() == "{{ broken"
    msgs = [a["message"] for a in alerts(home)]
    assert any("KILL-SWITCH FILE UNREADABLE" in m and str(home.killswitch_yml) in m for m in msgs)
    assert any(m.startswith("CRITICAL DAY LOSS") for m in msgs)   # still alerted, already fail-closed


def test_a_monthly_halt_escalates_on_the_monthly_chain(home, tmp_path):
    """The alert type selects the escalation chain: the monthly stop's is lead < 30 min, CTO < 1 h,
    incident team after (config/alerts.yml), not the default 15/30 minutes."""
    from mech_exo.alerts import escalation_due

    run(home, make_db(tmp_path / "a.duckdb", mtd=-0.035, history_days=12))
    monthly = next(a for a in alerts(home) if a["message"].startswith("🛑 MONTHLY STOP-LOSS"))
    assert monthly["type"] == "monthly_stop"
    at = datetime.fromisoformat(monthly["at"].replace("Z", "+00:00"))
    def levels(minutes):
        return {a["level"] for a in escalation_due(home, at + timedelta(minutes=minutes))
                if a["alert_id"] == monthly["alert_id"]}
    assert "lead" not in levels(20)        # the default chain would have called the lead at 15
    assert "lead" in levels(30) and "cto" not in levels(45)
    assert {"cto", "incident-team"} <= levels(62)
