"""Great Expectations suites (``expectations/*.yml``) as Dagster asset checks.

GE 1.x has no Dagster integration, so this is the thin adapter: ``mech_exo.checks.run_checks``
validates DataFrames read from the published snapshot in an ephemeral GE context, and each
outcome becomes an ``AssetCheckResult`` on the dbt model it judges. The checks depend on the
snapshot asset, so they always judge what readers and guards will see.
"""


import dagster as dg

from dagster_project.pipeline.assets import GUARDS_KEY, SNAPSHOT_KEY
from dagster_project.resources import ExoHomeResource
from mech_exo.checks import CheckOutcome, declared_checks


def _dagster_name(suite: str, check: str) -> str:
    return CheckOutcome(suite, check, True, "ERROR", "", 0, "").dagster_name


def _specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=_dagster_name(suite, check), asset=dg.AssetKey(asset),
                          additional_deps=[SNAPSHOT_KEY, GUARDS_KEY],  # the halt never waits for GE
                          description=f"GE suite `{suite}` ({severity}): {check}")
        for asset, checks in declared_checks().items()
        for suite, check, severity in checks
    ]


@dg.multi_asset_check(specs=_specs(), name="great_expectations", can_subset=True,
                      description="Validity and freshness suites from expectations/ on the published snapshot.")
def great_expectations(context: dg.AssetCheckExecutionContext, exo: ExoHomeResource):
    from mech_exo.pipeline_state import alert_failed_checks, record_checks, run_checks_on_snapshot
    from mech_exo.reporting.snapshot import connect
    from mech_exo.runstate import dbt_failed_tests, read_state

    home = exo.home
    ingested = read_state(home, "ingest.json") or {}
    con = connect(home)
    try:
        outcomes = run_checks_on_snapshot(home, con, exo.now_dt, full=bool(ingested.get("full_refresh", True)))
    finally:
        con.close()
    alert_failed_checks(home, record_checks(home, outcomes, dbt_failed_tests(home)))
    selected = context.selected_asset_check_keys
    for o in outcomes:
        key = dg.AssetCheckKey(dg.AssetKey(o.asset), o.dagster_name)
        if key not in selected:
            continue
        yield dg.AssetCheckResult(
            asset_key=o.asset, check_name=o.dagster_name, passed=o.passed,
            severity=dg.AssetCheckSeverity.WARN if o.severity == "WARN" else dg.AssetCheckSeverity.ERROR,
            metadata={"observed": o.observed, "n_unexpected": o.n_unexpected, "suite": o.suite},
        )
