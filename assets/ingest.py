"""The ingest asset: validate the inputs (SPEC §2) and land them as Parquet for dbt.

It wraps ``mech_exo.ingest.ingest`` — the same function ``exo run`` reaches through the same job —
and reports what it landed as materialization metadata. Bad rows fail the step with a message
naming file, row and rule (``InputError``), never a silent drop.
"""

import dagster as dg

from dagster_project.pipeline.pool import POOL, tag_holder
from dagster_project.resources import ExoHomeResource
from mech_exo.runstate import write_record

# Every writer of the warehouse or its inputs sits in POOL (limit 1 in the instance's
# dagster.yaml): DuckDB allows one writer per file. Its slots and their holders: pool.py.
LANDING_TABLES = ("fills", "cash_flows", "securities", "marks", "batches")


@dg.multi_asset(
    specs=[dg.AssetSpec(["landing", t], group_name="landing",
                        description=f"Validated landing copy of the `{t}` input (data/landing/).")
           for t in LANDING_TABLES],
    pool=POOL,
    description="Validate the trading engine's fills/cash flows, the market marks and the reference "
                "data (SPEC §2) and land them as Parquet. Bad rows stop the run with file, row and rule.",
)
def landing(context: dg.AssetExecutionContext, exo: ExoHomeResource):
    from mech_exo.ingest import InputError, ingest

    tag_holder(context)  # this run's warehouse slot belongs to this process (pool.py)
    home = exo.home
    home.ensure_dirs()
    try:
        result = ingest(home, now=exo.now_dt)
    except InputError as exc:
        raise dg.Failure(description=str(exc), metadata={"violations": len(exc.violations)}) from None
    write_record(home, "ingest.json", result.to_dict())
    context.log.info(result.summary())
    for t in LANDING_TABLES:
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["landing", t]), metadata={
            "landed_seq": result.landed_seq,
            "dirty_from": str(result.dirty_from),
            "full_refresh": result.full_refresh,
            "rows": {"fills": result.n_fills, "cash_flows": result.n_flows, "securities": result.n_securities,
                     "marks": result.n_marks, "batches": result.landed_seq}[t],
        })


