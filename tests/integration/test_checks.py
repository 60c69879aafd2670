"""Data checks on a real DuckDB file: a clean data set passes every check, each kind of bad data
fails the check that names its column, and freshness is judged only in the session."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from mech_exo import checks
from mech_exo.home import Home, init_home

NY = ZoneInfo("America/New_York")
DAY = datetime(2026, 11, 24)                                      # a Tuesday


def ny(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    """A New York wall-clock time as an aware UTC datetime."""
    return day.replace(hour=hh, minute=mm, second=ss, tzinfo=NY).astimezone(timezone.utc)


def naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


LAST_MARK = ny(DAY, 13, 58)
NOW_FRESH = ny(DAY, 14, 0)                                        # 2 minutes after the last mark


def make_db(path, last_mark: datetime = LAST_MARK) -> str:
    """Small tables named like the dbt models, with only the columns the suites read."""
    con = duckdb.connect(str(path))
    con.execute("create table stg_landing__fills (fill_id varchar, ts timestamp, symbol varchar, side varchar, "
                "quantity double, price double, commission double)")
    con.execute("insert into stg_landing__fills values "
                "('F1', ?, 'AAPL', 'BUY', 100, 190.5, 1.0), ('F2', ?, 'MSFT', 'SELL', 50, 410.0, 0.0)",
                [naive_utc(ny(DAY, 10, 0)), naive_utc(ny(DAY, 11, 0))])
    con.execute("create table stg_landing__marks (ts timestamp, symbol varchar, price double)")
    for sym, px in (("AAPL", 191.0), ("MSFT", 409.0)):
        con.execute("insert into stg_landing__marks values (?, ?, ?), (?, ?, ?)",
                    [naive_utc(last_mark - timedelta(minutes=5)), sym, px, naive_utc(last_mark), sym, px + 1])
    con.execute("create table stg_landing__cash_flows (flow_id varchar, ts timestamp, amount double)")
    con.execute("insert into stg_landing__cash_flows values ('C1', ?, 1000000), ('C2', ?, -5000)",
                [naive_utc(ny(DAY - timedelta(days=2), 9, 0)), naive_utc(ny(DAY, 9, 0))])
    con.execute("create table nav_daily (session_date date, nav double, flows double, daily_return double)")
    con.execute("insert into nav_daily values ('2026-11-19', 0, 0, null), ('2026-11-20', 0, 0, null), "
                "('2026-11-23', 1000000, 1000000, 0.0), ('2026-11-24', 1004000, -5000, 0.009)")
    con.execute("create table nav_intraday (ts timestamp, session_date date, nav double, day_return double)")
    con.execute("insert into nav_intraday values (?, '2026-11-24', 1001000, 0.006), (?, '2026-11-24', 1004000, 0.009)",
                [naive_utc(last_mark - timedelta(minutes=5)), naive_utc(last_mark)])
    con.execute("create table var_daily (session_date date, n_obs integer, var95 double, var99 double, level varchar)")
    con.execute("insert into var_daily values ('2026-11-23', 5, null, null, 'insufficient_data'), "
                "('2026-11-24', 30, 0.012, 0.02, 'normal')")
    con.close()
    return str(path)


@pytest.fixture
def home(tmp_path):
    h = Home(tmp_path / "home")
    init_home(h)
    return h


@pytest.fixture
def db(tmp_path):
    return make_db(tmp_path / "analytics.duckdb")


def run(home, db, now=NOW_FRESH, suites=None):
    con = duckdb.connect(db, read_only=True)
    try:
        return checks.run_checks(home, con=con, now=now, suites=suites)
    finally:
        con.close()


def mutate(db, sql: str) -> None:
    con = duckdb.connect(db)
    con.execute(sql)
    con.close()


def failed(outcomes):
    return [o for o in outcomes if not o.passed]


# --- the clean data set -------------------------------------------------------------------------------

def test_clean_data_passes_every_check_of_every_suite(home, db):
    outcomes = run(home, db)
    assert failed(outcomes) == []
    assert {o.suite for o in outcomes} == set(checks.SUITES)
    declared = checks.declared_checks()
    assert {a: [(o.suite, o.check, o.severity) for o in os_] for a, os_ in checks.outcomes_by_asset(outcomes).items()} \
        == declared
    assert checks.failed_check_names(outcomes) == []
    fills = {o.check: o for o in outcomes if o.suite == "fills"}
    assert fills["expect_column_values_to_be_unique(fill_id)"].observed == "ok (2 rows)"
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", o.dagster_name) for o in outcomes)


# --- each bad data set fails the check naming its column ------------------------------------------------

BAD = [
    pytest.param("insert into stg_landing__fills select * from stg_landing__fills where fill_id = 'F1'",
                 "fills:expect_column_values_to_be_unique(fill_id)", "2 unexpected values: F1", id="duplicate-fill-id"),
    pytest.param("update stg_landing__fills set fill_id = null where fill_id = 'F2'",
                 "fills:expect_column_values_to_not_be_null(fill_id)", "1 null value", id="null-fill-id"),
    pytest.param("update stg_landing__fills set side = 'SHORT' where fill_id = 'F2'",
                 "fills:expect_column_values_to_be_in_set(side)", "1 unexpected value: SHORT", id="bad-side"),
    pytest.param("update stg_landing__fills set quantity = 0 where fill_id = 'F2'",
                 "fills:expect_column_values_to_be_between(quantity)", "1 unexpected value: 0.0", id="zero-qty"),
    pytest.param("update stg_landing__fills set price = -5 where fill_id = 'F2'",
                 "fills:expect_column_values_to_be_between(price)", "1 unexpected value: -5.0", id="negative-fill-price"),
    pytest.param("update stg_landing__fills set commission = -1 where fill_id = 'F2'",
                 "fills:expect_column_values_to_be_between(commission)", "-1.0", id="negative-commission"),
    pytest.param("update stg_landing__fills set ts = null where fill_id = 'F2'",
                 "fills:expect_column_values_to_not_be_null(ts)", "1 null value", id="null-fill-ts"),
    pytest.param("update stg_landing__marks set price = -5.0",
                 "marks:expect_column_values_to_be_between(price)", "4 unexpected values: -5.0", id="negative-mark-price"),
    pytest.param("update stg_landing__marks set symbol = null where symbol = 'MSFT'",
                 "marks:expect_column_values_to_not_be_null(symbol)", "2 null values", id="null-symbol"),
    pytest.param("insert into stg_landing__marks select ts, symbol, price + 1 from stg_landing__marks where symbol = 'AAPL'",
                 "marks:expect_column_values_to_be_between(prices_at_instant)", "unexpected value", id="dup-mark"),
    pytest.param("insert into stg_landing__cash_flows values ('C1', '2026-11-24 15:00', 1)",
                 "cash_flows:expect_column_values_to_be_unique(flow_id)", "C1", id="dup-flow"),
    pytest.param("update stg_landing__cash_flows set amount = null where flow_id = 'C2'",
                 "cash_flows:expect_column_values_to_not_be_null(amount)", "1 null value", id="null-amount"),
    pytest.param("update nav_daily set daily_return = 0.6 where session_date = '2026-11-24'",
                 "nav_daily:expect_column_values_to_be_between(daily_return)", "1 unexpected value: 0.6", id="60pct-day"),
    pytest.param("insert into nav_daily values ('2026-11-24', 1, 0, 0)",
                 "nav_daily:expect_column_values_to_be_unique(session_date)", "2026-11-24", id="dup-session"),
    pytest.param("update nav_daily set nav = -10 where session_date = '2026-11-24'",
                 "nav_daily:expect_column_values_to_be_between(nav_after_first_deposit)", "-10.0", id="negative-nav"),
    pytest.param("update nav_intraday set day_return = -0.51 where nav = 1001000",
                 "nav_intraday:expect_column_values_to_be_between(day_return)", "-0.51", id="intraday-jump"),
    pytest.param("update nav_intraday set ts = (select min(ts) from nav_intraday)",
                 "nav_intraday:expect_column_values_to_be_unique(ts)", "2 unexpected values", id="dup-intraday-ts"),
    pytest.param("update var_daily set var99 = var95 / 2",
                 "var_daily:expect_column_pair_values_a_to_be_greater_than_b(var99, var95)",
                 "1 unexpected value: var99=0.006 < var95=0.012", id="var99-below-var95"),
    pytest.param("update var_daily set level = 'red' where n_obs = 30",
                 "var_daily:expect_column_values_to_be_in_set(level)", "red", id="bad-level"),
    pytest.param("update var_daily set n_obs = -1 where n_obs = 5",
                 "var_daily:expect_column_values_to_be_between(n_obs)", "-1", id="negative-n-obs"),
]


def test_the_same_mark_delivered_in_two_files_is_not_a_failure(home, db):
    """Ingest keeps each input file's copy of an identical mark (docs: ingest.py); only two
    DIFFERENT prices at one instant are ambiguous."""
    mutate(db, "insert into stg_landing__marks select ts, symbol, price from stg_landing__marks where symbol = 'AAPL'")
    assert failed(run(home, db, suites=["marks"])) == []


@pytest.mark.parametrize("sql, name, observed", BAD)
def test_bad_data_fails_exactly_the_check_that_names_its_column(home, db, sql, name, observed):
    mutate(db, sql)
    outcomes = run(home, db, suites=[name.split(":")[0]])
    bad = failed(outcomes)
    assert [o.name for o in bad] == [name]
    assert bad[0].severity == "ERROR"
    assert observed in bad[0].observed
    assert bad[0].n_unexpected >= 1
    assert checks.failed_check_names(outcomes) == [name]


def test_nav_at_zero_before_the_first_deposit_is_not_judged(home, db):
    """The clean set has two zero-NAV sessions before the deposit; make one after it zero."""
    assert failed(run(home, db, suites=["nav_daily"])) == []
    mutate(db, "update nav_daily set nav = 0 where session_date = '2026-11-24'")
    assert [o.check for o in failed(run(home, db, suites=["nav_daily"]))] == \
        ["expect_column_values_to_be_between(nav_after_first_deposit)"]


def test_outcomes_group_by_asset_for_dagster(home, db):
    mutate(db, "update var_daily set var99 = 0")
    grouped = checks.outcomes_by_asset(run(home, db))
    assert set(grouped) == {"stg_landing__fills", "stg_landing__marks", "stg_landing__cash_flows",
                            "nav_daily", "nav_intraday", "var_daily"}
    assert [o.passed for o in grouped["var_daily"]] == [False, True, True, True]
    assert grouped["var_daily"][0].dagster_name == \
        "var_daily__expect_column_pair_values_a_to_be_greater_than_b_var99_var95"


# --- missing data -------------------------------------------------------------------------------------

def test_no_snapshot_is_one_failed_outcome_not_an_exception(home):
    outcomes = checks.run_checks(home, now=NOW_FRESH)
    assert len(outcomes) == 1 and not outcomes[0].passed
    assert checks.NO_DATA in outcomes[0].observed and str(home.analytics_db) in outcomes[0].observed
    assert checks.failed_check_names(outcomes) == ["analytics:snapshot exists"]


def test_reads_the_published_snapshot_read_only_when_no_connection_is_given(home):
    home.analytics_db.parent.mkdir(parents=True, exist_ok=True)
    make_db(home.analytics_db)
    writer_check = duckdb.connect(str(home.analytics_db))      # nobody else holds the file afterwards
    writer_check.close()
    assert failed(checks.run_checks(home, now=NOW_FRESH, suites=["fills", "var_daily"])) == []
    duckdb.connect(str(home.analytics_db)).close()


def test_missing_table_fails_every_check_of_its_suite_naming_the_table(home, db):
    mutate(db, "drop table var_daily")
    outcomes = run(home, db, suites=["var_daily", "cash_flows"])
    bad = failed(outcomes)
    assert {o.suite for o in bad} == {"var_daily"}
    assert len(bad) == len(checks.load_suite("var_daily").rules)
    assert all("table var_daily not found" in o.observed for o in bad)


def test_missing_column_fails_its_check_with_the_column_named(home, db):
    mutate(db, "alter table stg_landing__fills drop column commission")
    bad = failed(run(home, db, suites=["fills"]))
    assert [o.check for o in bad] == ["expect_column_values_to_be_between(commission)"]
    assert "commission" in bad[0].observed and bad[0].observed.startswith("error:")


def test_broken_derived_column_fails_only_the_rule_that_uses_it(home, db):
    mutate(db, "alter table nav_daily drop column flows")
    bad = failed(run(home, db, suites=["nav_daily"]))
    assert [o.check for o in bad] == ["expect_column_values_to_be_between(nav_after_first_deposit)"]
    assert "derived column nav_after_first_deposit failed" in bad[0].observed


# --- freshness (SPEC §4): judged only in the session ----------------------------------------------------

_SEQ = itertools.count()


def fresh(home, tmp_path, last_mark, now, suites=("marks",)):
    db = make_db(tmp_path / f"fresh{next(_SEQ)}.duckdb", last_mark=last_mark)
    return [o for o in run(home, db, now=now, suites=list(suites)) if "age_minutes" in o.check]


def test_stale_marks_in_session_fail_as_a_warning(home, tmp_path):
    [o] = fresh(home, tmp_path, ny(DAY, 13, 50), ny(DAY, 14, 0))
    assert (o.passed, o.severity, o.asset) == (False, "WARN", "stg_landing__marks")
    assert o.check == "expect_column_values_to_be_between(latest_mark_age_minutes)"
    assert "10.0 min old" in o.observed and "STALE" in o.observed
    assert checks.failed_check_names([o]) == []                       # a warning is not suspect data
    assert checks.failed_check_names([o], include_warnings=True) == [
        "marks:expect_column_values_to_be_between(latest_mark_age_minutes)"]


@pytest.mark.parametrize("day, hh", [(DAY, 20), (datetime(2026, 11, 28), 14)], ids=["after-close", "saturday"])
def test_the_same_age_outside_the_session_passes_and_reports_the_age(home, tmp_path, day, hh):
    [o] = fresh(home, tmp_path, ny(day, hh - 1, 50), ny(day, hh, 0))
    assert o.passed and "outside the session" in o.observed and "10.0 min old" in o.observed


@pytest.mark.parametrize("seconds, passed", [(0, True), (1, False)], ids=["exactly-5-min", "5-min-1-s"])
def test_freshness_boundary_is_inclusive(home, tmp_path, seconds, passed):
    [o] = fresh(home, tmp_path, ny(DAY, 13, 55), ny(DAY, 14, 0, seconds))
    assert o.passed is passed


def test_the_first_minutes_after_the_open_are_not_stale(home, tmp_path):
    """Yesterday's last mark is 17 hours old at 09:32, but the session is 2 minutes old."""
    [o] = fresh(home, tmp_path, ny(DAY - timedelta(days=1), 15, 59), ny(DAY, 9, 32))
    assert o.passed and "none since today's open 2.0 min ago" in o.observed
    [o] = fresh(home, tmp_path, ny(DAY - timedelta(days=1), 15, 59), ny(DAY, 9, 36))
    assert not o.passed and "none since today's open 6.0 min ago" in o.observed


def test_fills_are_reported_not_judged_unless_a_fill_limit_is_configured(home, tmp_path):
    last_fill_age = ny(DAY, 14, 0) - ny(DAY, 11, 0)                    # make_db's last fill: 11:00
    [o] = fresh(home, tmp_path, LAST_MARK, NOW_FRESH, suites=("fills",))
    assert o.passed and "not judged: freshness.max_fill_age_minutes not set" in o.observed
    assert f"{last_fill_age.total_seconds() / 60:.1f} min old" in o.observed
    cfg = yaml.safe_load(home.risk_yml.read_text())
    cfg["freshness"]["max_fill_age_minutes"] = 60
    home.risk_yml.write_text(yaml.safe_dump(cfg))
    [o] = fresh(home, tmp_path, LAST_MARK, NOW_FRESH, suites=("fills",))
    assert (o.passed, o.severity, o.check) == (False, "WARN", "expect_column_values_to_be_between(latest_fill_age_minutes)")


def test_freshness_disabled_in_config_is_not_judged(home, tmp_path):
    cfg = yaml.safe_load(home.risk_yml.read_text())
    cfg["freshness"]["enabled"] = False
    home.risk_yml.write_text(yaml.safe_dump(cfg))
    [o] = fresh(home, tmp_path, ny(DAY, 13, 0), ny(DAY, 14, 0))
    assert o.passed and "disabled" in o.observed


# --- suite files -------------------------------------------------------------------------------------

def test_every_suite_file_loads_and_says_why(tmp_path):
    for name in checks.SUITES:
        s = checks.load_suite(name)
        assert s.rules and all(r.why for r in s.rules), name


@pytest.mark.parametrize("text, error", [
    ("asset: t\nexpectations:\n  - expect: be_nice\n    column: x\n", "expectations[0]: needs 'expect: expect_...'"),
    ("asset: t\nexpectations:\n  - expect: expect_column_values_to_be_unique\n", "names no column"),
    ("asset: t\nexpectations:\n  - {expect: expect_column_values_to_be_unique, column: x, severity: LOUD}\n", "severity"),
    ("expectations: []\n", "'asset'"),
    ("asset: [unclosed\n", "not valid YAML"),
])
def test_a_broken_suite_file_is_an_error_naming_the_file(tmp_path, text, error):
    (tmp_path / "bad.yml").write_text(text)
    with pytest.raises(checks.SuiteError, match=re.escape(str(tmp_path / "bad.yml"))) as exc:
        checks.load_suite("bad", directory=tmp_path)
    assert error in str(exc.value)


def test_an_unknown_expectation_is_named_when_run(home, db, tmp_path, monkeypatch):
    (tmp_path / "fills.yml").write_text(
        "asset: stg_landing__fills\nexpectations:\n  - {expect: expect_column_to_be_lovely, column: price}\n")
    monkeypatch.setattr(checks.suites, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(checks.SuiteError, match="expect_column_to_be_lovely is not a Great Expectations expectation"):
        run(home, db, suites=["fills"])


def test_importing_checks_does_not_import_great_expectations():
    import subprocess
    import sys
    code = "import sys, mech_exo.checks; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
