"""After a build the pipeline validates the rows the build wrote (scope 'new'), not whole tables;
`exo data validate` still reads every row (scope 'all')."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from mech_exo.checks import load_suite, run_checks
from mech_exo.home import Home, init_home

NOW = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)


def _fills_con(bad_batch: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("""
        create table stg_landing__fills as
        select 'F' || i as fill_id, timestamp '2026-11-20 15:00:00' + to_minutes(i) as ts, 'AAA' as symbol,
               'BUY' as side, 10.0 as quantity, case when i = 3 then -1.0 else 100.0 end as price,
               0.0 as commission, 'alpha' as strategy, 10.0 as signed_qty, date '2026-11-20' as local_date,
               i as source_row, case when i < 5 then ? else 2 end as batch_seq
        from range(10) t(i)""", [bad_batch])
    return con


def _price_check(outcomes):
    return next(o for o in outcomes if o.check.startswith("expect_column_values_to_be_between(price"))


def test_new_scope_reads_only_the_latest_batch_and_all_reads_every_row(tmp_path):
    home = Home(tmp_path / "h")
    init_home(home)
    assert load_suite("fills").new_rows == "batch_seq"
    old_bad = _fills_con(bad_batch=1)        # the negative price sits in an older batch
    new = _price_check(run_checks(home, con=old_bad, now=NOW, suites=["fills"], scope="new"))
    every = _price_check(run_checks(home, con=old_bad, now=NOW, suites=["fills"], scope="all"))
    assert new.passed and "5 rows" in new.observed          # batch 2 only
    assert not every.passed and every.n_unexpected == 1
    fresh_bad = _fills_con(bad_batch=2)      # now it is in the rows the latest build wrote
    caught = _price_check(run_checks(home, con=fresh_bad, now=NOW, suites=["fills"], scope="new"))
    assert not caught.passed and caught.n_unexpected == 1 and "-1" in caught.observed
