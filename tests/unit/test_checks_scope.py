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


def test_a_large_table_is_checked_in_hash_parts_with_the_whole_table_verdict(tmp_path, monkeypatch):
    """A 26M-fill first build must not copy every fill into one pandas frame: above PART_ROWS the
    rows are checked in frames split by the hash of the unique column. Every verdict and count must
    equal a pandas computation over the whole table — including a fill_id repeated far apart."""
    import pandas as pd

    from mech_exo import checks
    from mech_exo.checks import frames

    home = Home(tmp_path / "h")
    init_home(home)
    con = duckdb.connect()
    con.execute("""
        create table stg_landing__fills as
        select case when i in (7, 55, 93) then 'F7' when i = 40 then null else 'F' || i end as fill_id,
               timestamp '2026-11-20 15:00:00' + to_seconds(i) as ts, 'AAA' as symbol,
               case when i = 61 then 'HOLD' else 'BUY' end as side, 10.0 as quantity,
               case when i in (3, 30, 77) then -1.0 else 100.0 end as price,
               0.0 as commission, 'alpha' as strategy, 1 as batch_seq
        from range(120) t(i)""")
    whole = {o.check: o for o in run_checks(home, con=con, now=NOW, suites=["fills"], scope="new")}
    sizes = []
    real = checks._validate

    def sized(ctx, name, df, exps):
        if not name.endswith("_freshness"):
            sizes.append(len(df))
        return real(ctx, name, df, exps)

    monkeypatch.setattr(checks, "_validate", sized)
    monkeypatch.setattr(frames, "PART_ROWS", 25)
    parts = {o.check: o for o in run_checks(home, con=con, now=NOW, suites=["fills"], scope="new")}
    assert len(sizes) == 5 and sum(sizes) == 120 and max(sizes) < 60     # really split
    df = con.execute("select * from stg_landing__fills").df()
    want = {"expect_column_values_to_be_unique(fill_id)": int(df.fill_id.dropna().duplicated(keep=False).sum()),
            "expect_column_values_to_not_be_null(fill_id)": int(df.fill_id.isna().sum()),
            "expect_column_values_to_be_between(price)": int((df.price <= 0).sum()),
            "expect_column_values_to_be_in_set(side)": int((~df.side.isin(["BUY", "SELL"])).sum())}
    assert want == {"expect_column_values_to_be_unique(fill_id)": 3, "expect_column_values_to_not_be_null(fill_id)": 1,
                    "expect_column_values_to_be_between(price)": 3, "expect_column_values_to_be_in_set(side)": 1}
    for check, n in want.items():
        assert parts[check].n_unexpected == whole[check].n_unexpected == n, check
        assert not parts[check].passed
    assert set(parts) == set(whole)
    for check, o in parts.items():
        assert o.passed == whole[check].passed, check
    assert "F7" in parts["expect_column_values_to_be_unique(fill_id)"].observed
    assert pd.notna(df.ts).all()


def test_a_build_that_wrote_no_fills_checks_no_fill_rows(tmp_path):
    """'The rows the build wrote' are those stamped with the latest batch, not the table's highest
    stamp: after a first full build of 26M fills, a run that landed no new fill must not check all
    26M again (it did: 57 s on L), and it must not report an old bad row as new."""
    home = Home(tmp_path / "h")
    init_home(home)
    con = _fills_con(bad_batch=2)                     # every row is from batches 1 and 2 …
    con.execute("create table stg_landing__batches as select * from (values (1), (2), (3)) t(landed_seq)")
    quiet = _price_check(run_checks(home, con=con, now=NOW, suites=["fills"], scope="new"))
    assert quiet.passed and "0 rows" in quiet.observed     # … and batch 3 wrote none
    con.execute("delete from stg_landing__batches where landed_seq = 3")
    caught = _price_check(run_checks(home, con=con, now=NOW, suites=["fills"], scope="new"))
    assert not caught.passed and caught.n_unexpected == 1


def test_the_freshness_rule_decides_as_gx_does_at_every_boundary():
    """freshness_passes is evaluated without GX; GX's ExpectColumnValuesToBeBetween(max_value) on the
    same one-row frame must agree, including at the limit, just above it, a missing age and an
    infinite limit (not judged)."""
    import math

    import great_expectations as gx
    import pandas as pd

    from mech_exo.checks import _context, _validate, freshness_passes

    ctx = _context()
    cases = [(4.999999, 5.0, True), (5.0, 5.0, True), (5.000001, 5.0, True), (0.0, 5.0, True), (-1.0, 5.0, True),
             (None, 5.0, True), (1e9, 5.0, False), (7.5, 5.0, False), (7.5, None, True), (7.5, 5.0, None)]
    for n, (age, limit, judged) in enumerate(cases):
        j = bool(judged) and limit is not None
        exp = gx.expectations.ExpectColumnValuesToBeBetween(column="age", max_value=limit if j else math.inf,
                                                            meta={"i": 0})
        want = _validate(ctx, f"f{n}", pd.DataFrame({"age": [age]}, dtype="float64"), [exp])[0].success
        assert freshness_passes(age, limit, j) == bool(want), (age, limit, judged)
