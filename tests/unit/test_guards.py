"""Guard decisions (SPEC §4): boundaries, rounding, arming, override/re-trip, idempotency, suspect data."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from mech_exo import guards as g
from mech_exo.config import load_risk_config

RISK = load_risk_config(None)
DAY = "2026-11-20"


def pts(*returns, session=DAY):
    return [{"ts": f"{session}T15:{i:02d}:00Z", "session_date": session, "day_return": r}
            for i, r in enumerate(returns)]


def halt_entry(guard, period, level, trigger="daily_stop"):
    return {"at": "2026-11-20T16:00:00Z", "action": "disable", "trading_enabled": False, "trigger": trigger,
            "guard": guard, "period": period, "level_pct": level, "reason": "x", "by": "sensor"}


ENABLE = {"at": "2026-11-20T16:10:00Z", "action": "enable", "trading_enabled": True, "trigger": "manual",
          "guard": None, "period": None, "level_pct": None, "reason": "override", "by": "cli:ann"}


# --- intraday --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ret, severity, halt", [
    (-0.008, "CRITICAL", True),          # exactly -0.8 % trips
    (-0.0080000004, "CRITICAL", True),   # rounds to -0.8 at 6 decimals
    (-0.00799999, "WARNING", False),     # -0.799999 % does not
    (-0.007999, "WARNING", False),
    (-0.004, "WARNING", False),          # warning boundary inclusive
    (-0.0039999, None, False),
    (0.01, None, False),
])
def test_intraday_boundaries(ret, severity, halt):
    d = g.judge_intraday(pts(0.0, ret), RISK)
    assert (d.severity, d.halt) == (severity, halt)
    if halt:
        assert d.trigger == "daily_stop" and d.period == DAY
        assert d.message == "CRITICAL DAY LOSS: -0.80%"
        assert d.dedup_key == f"{g.INTRADAY}:{DAY}:CRITICAL"


def test_float_noise_is_rounded_away():
    # 0.1 + 0.7 style noise: -0.008000000000000002 must still count as -0.8 %
    assert g.pct(-(0.001 + 0.007)) == -0.8
    assert g.judge_intraday(pts(-(0.001 + 0.007)), RISK).halt


def test_recovered_dip_still_trips():
    d = g.judge_intraday(pts(-0.001, -0.0093, -0.002, 0.001), RISK)
    assert d.halt and d.message == "CRITICAL DAY LOSS: -0.93%" and d.metric_pct == -0.93
    assert d.details["worst_ts"] == f"{DAY}T15:01:00Z"


def test_only_latest_session_is_judged():
    old = pts(-0.05, session="2026-11-19")
    assert g.judge_intraday(old + pts(-0.001), RISK).severity is None
    assert g.judge_intraday(pts(-0.001) + old, RISK).period == DAY


def test_intraday_null_and_empty():
    assert g.judge_intraday([], RISK).severity is None
    d = g.judge_intraday(pts(None, None), RISK)
    assert d.severity is None and "null" in d.message


def test_already_halted_switch_not_rewritten_but_alert_kept():
    d = g.judge_intraday(pts(-0.01), RISK, trading_enabled=False)
    assert d.severity == "CRITICAL" and d.halt is False
    assert d.dedup_key == f"{g.INTRADAY}:{DAY}:CRITICAL" and d.details["already_halted"]


def test_reenabled_session_does_not_retrip_at_same_level():
    hist = [halt_entry(g.INTRADAY, DAY, -0.93), ENABLE]
    d = g.judge_intraday(pts(-0.0093, -0.0120), RISK, hist)
    assert not d.halt and d.severity == "CRITICAL"
    assert d.dedup_key == f"{g.INTRADAY}:{DAY}:CRITICAL"  # same key → the alert is not sent twice
    assert "re-trips at -1.43%" in d.message


def test_retrip_when_deeper_by_step():
    hist = [halt_entry(g.INTRADAY, DAY, -0.93), ENABLE]
    d = g.judge_intraday(pts(-0.0143), RISK, hist)  # exactly 0.5 pp deeper
    assert d.halt and d.dedup_key == f"{g.INTRADAY}:{DAY}:CRITICAL:retrip1"
    assert not g.judge_intraday(pts(-0.014299), RISK, hist).halt


def test_second_override_uses_latest_tripped_level():
    hist = [halt_entry(g.INTRADAY, DAY, -0.93), ENABLE, halt_entry(g.INTRADAY, DAY, -1.5), ENABLE]
    d = g.judge_intraday(pts(-0.0150), RISK, hist)
    assert not d.halt and d.dedup_key == f"{g.INTRADAY}:{DAY}:CRITICAL:retrip1"
    assert g.judge_intraday(pts(-0.0200), RISK, hist).dedup_key.endswith("retrip2")


def test_override_is_per_period_and_per_guard():
    hist = [halt_entry(g.INTRADAY, "2026-11-19", -0.93), ENABLE]
    assert g.judge_intraday(pts(-0.0093), RISK, hist).halt
    hist = [halt_entry(g.MONTHLY, DAY, -0.93, "monthly_stop"), ENABLE]
    assert g.judge_intraday(pts(-0.0093), RISK, hist).halt


def test_halt_without_reenable_is_not_an_override():
    hist = [halt_entry(g.INTRADAY, DAY, -0.93)]
    d = g.judge_intraday(pts(-0.0093), RISK, hist, trading_enabled=True)
    assert d.halt  # someone turned it on by hand-editing? no enable entry → still trips


def test_failing_checks_still_halt_and_mark_suspect():
    d = g.judge_intraday(pts(-0.009), RISK, failed_checks=["marks_not_null", "nav_positive"])
    assert d.halt and d.data_suspect
    assert d.failed_checks == ("marks_not_null", "nav_positive")
    assert d.message == "CRITICAL DAY LOSS: -0.90% — DATA SUSPECT (failed checks: marks_not_null, nav_positive)"


def test_quiet_decision_is_not_marked_suspect():
    d = g.judge_intraday(pts(0.001), RISK, failed_checks=["x"])
    assert d.severity is None and not d.data_suspect


def test_disabled_in_config():
    risk = load_risk_config(None)
    risk["daily_stop"]["enabled"] = False
    assert g.judge_intraday(pts(-0.5), risk).severity is None


# --- monthly ---------------------------------------------------------------------------------------

def mrow(ret, days=12):
    return {"session_date": date(2026, 11, 20), "month": date(2026, 11, 1), "mtd_return": ret, "history_days": days}


@pytest.mark.parametrize("ret, days, halt", [
    (-0.03, 10, True), (-0.03, 9, False), (-0.029999, 12, False), (-0.0300000004, 12, True), (-0.05, 10, True),
])
def test_monthly_boundaries(ret, days, halt):
    d = g.judge_monthly(mrow(ret, days), RISK)
    assert d.halt is halt
    if halt:
        assert d.trigger == "monthly_stop" and d.period == "2026-11"
        assert d.message.startswith("🛑 MONTHLY STOP-LOSS TRIGGERED: -")
        assert d.dedup_key == f"{g.MONTHLY}:2026-11:CRITICAL"


def test_monthly_unarmed_breach_is_info():
    d = g.judge_monthly(mrow(-0.05, 9), RISK)
    assert d.severity == "INFO" and not d.halt and "9 of 10" in d.message


def test_monthly_override_and_retrip():
    hist = [halt_entry(g.MONTHLY, "2026-11", -3.2, "monthly_stop"), ENABLE]
    assert not g.judge_monthly(mrow(-0.036), RISK, hist).halt
    assert g.judge_monthly(mrow(-0.037), RISK, hist).halt
    assert g.judge_monthly(mrow(-0.032, 12) | {"month": "2026-12-01", "session_date": "2026-12-05"},
                           RISK, hist).halt  # new month, new period


def test_monthly_null_row():
    assert g.judge_monthly(None, RISK).severity is None
    assert g.judge_monthly(mrow(None), RISK).severity is None


# --- VaR -------------------------------------------------------------------------------------------

def vrow(u95, u99=0.0):
    return {"session_date": DAY, "var95_usd": 2_000_000 * u95 / 100, "var99_usd": 3_000_000 * u99 / 100}


@pytest.mark.parametrize("u, severity, halt", [
    (69.999999, None, False), (70.0, "WARNING", False), (90.0, "WARNING", False), (90.000001, "CRITICAL", False),
    (100.0, "CRITICAL", False), (100.000001, "CRITICAL", True), (150.0, "CRITICAL", True),
])
def test_var_boundaries(u, severity, halt):
    d = g.judge_var(vrow(u), RISK)
    assert (d.severity, d.halt) == (severity, halt)
    assert d.metric_pct == pytest.approx(u)
    if halt:
        assert d.trigger == "var_breach"


def test_var_uses_the_worse_of_95_and_99():
    d = g.judge_var(vrow(10.0, 95.0), RISK)
    assert d.severity == "CRITICAL" and d.metric_pct == 95.0


def test_var_null_is_quiet():
    assert g.judge_var({"session_date": DAY, "var95_usd": None, "var99_usd": None}, RISK).severity is None


def test_var_override_and_retrip():
    hist = [halt_entry(g.VAR, DAY, 105.0, "var_breach"), ENABLE]
    assert not g.judge_var(vrow(110.0), RISK, hist).halt
    assert g.judge_var(vrow(115.0), RISK, hist).halt


# --- concentration ---------------------------------------------------------------------------------

def test_concentration_lists_names_above_limit():
    pos = [{"strategy": "a", "symbol": "AAPL", "weight": 0.10}, {"strategy": "b", "symbol": "AAPL", "weight": 0.08},
           {"strategy": "a", "symbol": "MSFT", "weight": 0.15}, {"strategy": "a", "symbol": "TSLA", "weight": 0.1500001}]
    d = g.judge_concentration(pos, RISK, DAY)
    assert d.severity == "WARNING" and not d.halt
    assert [v["symbol"] for v in d.details["violations"]] == ["AAPL", "TSLA"]  # 15 % exactly is not above
    assert "AAPL 18.00%" in d.message and "MSFT" not in d.message


def test_concentration_quiet():
    d = g.judge_concentration([{"strategy": "a", "symbol": "X", "weight": 0.15}], RISK, DAY)
    assert d.severity is None


# --- freshness -------------------------------------------------------------------------------------

def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


# 2026-11-20 is a Friday; New York is UTC-5 then: session 14:30–21:00 UTC
@pytest.mark.parametrize("mark, now, stale", [
    (utc(2026, 11, 20, 15, 0), utc(2026, 11, 20, 15, 5), False),        # exactly 5 min
    (utc(2026, 11, 20, 15, 0), utc(2026, 11, 20, 15, 5, 1), True),
    (utc(2026, 11, 19, 20, 59), utc(2026, 11, 20, 14, 33), False),     # grace after the open
    (utc(2026, 11, 19, 20, 59), utc(2026, 11, 20, 14, 36), True),
    (utc(2026, 11, 20, 15, 0), utc(2026, 11, 20, 22, 0), False),       # after the close
    (utc(2026, 11, 20, 21, 0), utc(2026, 11, 21, 16, 0), False),       # Saturday
    (None, utc(2026, 11, 20, 15, 0), True),
])
def test_freshness(mark, now, stale):
    d = g.judge_freshness(mark, None, now, RISK)
    assert (d.severity == "WARNING") is stale
    assert not d.halt


def test_freshness_naive_timestamps_mean_utc_and_dedup_per_mark():
    d = g.judge_freshness(datetime(2026, 11, 20, 15, 0), None, utc(2026, 11, 20, 15, 10), RISK)
    assert d.severity == "WARNING" and d.dedup_key.endswith("2026-11-20T15:00:00+00:00")


def test_freshness_weekend_session_date_is_watched():
    d = g.judge_freshness(utc(2026, 11, 21, 15, 0), None, utc(2026, 11, 21, 15, 10), RISK,
                          session_dates=["2026-11-21"])
    assert d.severity == "WARNING"


def test_killswitch_unreadable_decision_names_file():
    d = g.killswitch_unreadable("/h/config/killswitch.yml: not valid YAML")
    assert d.severity == "CRITICAL" and "/h/config/killswitch.yml" in d.message


# --- the session calendar (mech_exo.session_calendar) ------------------------------------------------

def test_calendar_close_is_dst_aware_and_hand_computed():
    from mech_exo import session_calendar as cal

    s = RISK["session"]  # America/New_York 09:30–16:00
    assert cal.close_at(date(2026, 11, 20), s) == datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)  # EST, UTC−5
    assert cal.close_at(date(2026, 7, 1), s) == datetime(2026, 7, 1, 20, 0, tzinfo=timezone.utc)     # EDT, UTC−4
    assert cal.open_at(date(2026, 11, 20), s) == datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)
    assert cal.after_close(date(2026, 11, 20), s, 10) == datetime(2026, 11, 20, 21, 10, tzinfo=timezone.utc)
    # the watcher's deadline: the close of the local day running at now (01:00 UTC is still the 19th in New York)
    assert cal.today_close(datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc), s, 5) == \
        datetime(2026, 11, 19, 21, 5, tzinfo=timezone.utc)
    assert cal.before_open(s, 5).strftime("%H:%M") == "09:25"
    assert cal.local_date("2026-11-21T03:00:00Z", s) == date(2026, 11, 20)
    tokyo = {"timezone": "Asia/Tokyo", "open": "09:00", "close": "15:00"}
    assert cal.close_at(date(2026, 11, 20), tokyo) == datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def test_calendar_session_window_weekends_and_known_dates():
    from mech_exo import session_calendar as cal

    s = RISK["session"]
    sat = datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc)
    assert cal.session_window(sat, s) is None
    assert cal.session_window(sat, s, ["2026-11-21"]) is not None       # a known session date on a Saturday
    fri = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    assert g.session_window(fri, s) == cal.session_window(fri, s) == (
        datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc), datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc))
    assert cal.session_window(datetime(2026, 11, 20, 21, 0, 1, tzinfo=timezone.utc), s) is None  # after the close


def test_demo_judges_ten_minutes_after_the_configured_close(tmp_path):
    from mech_exo.cli.home_cmds import _after_close
    from mech_exo.home import Home

    home = Home(tmp_path)
    (tmp_path / "config").mkdir()
    home.risk_yml.write_text("session: {timezone: Europe/London, open: '08:00', close: '16:30'}\n")
    assert _after_close(home, date(2026, 11, 20)) == datetime(2026, 11, 20, 16, 40, tzinfo=timezone.utc)
    assert _after_close(home, date(2026, 7, 1)) == datetime(2026, 7, 1, 15, 40, tzinfo=timezone.utc)  # BST
