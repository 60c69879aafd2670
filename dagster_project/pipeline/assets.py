"""The data pipeline as assets: landing (ingest) → dbt models → published snapshot.

Every asset here calls the same functions as ``exo run`` (``mech_exo.pipeline``,
``mech_exo.ingest``), so there is one implementation of each step. All of them write the
warehouse or its inputs, so they share one concurrency pool (``exo_warehouse``, limit 1 in the
instance settings): two builds never race for DuckDB's single-writer lock.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dagster_project.pipeline.pool import POOL, tag_holder
from dagster_project.resources import ExoHomeResource
from mech_exo.config import dbt_vars, load_risk_config
from mech_exo.home import REPO_ROOT
from mech_exo.runstate import dbt_failed_tests, read_state, write_record
from mech_exo.warehouse.storage import retire_unreadable_build

SNAPSHOT_KEY = dg.AssetKey("analytics_snapshot")


EVENT_LOGS = ("killswitch", "alerts", "drills")

DBT_PROJECT = DbtProject(project_dir=REPO_ROOT, profiles_dir=REPO_ROOT)
# The dbt of this interpreter's environment: the daemon may run without the venv on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


def ensure_manifest() -> Path:
    """dagster-dbt reads the manifest when the code location loads. `make setup` runs `dbt parse`;
    if someone skipped it, parse now rather than fail to load (the profile needs *a* home)."""
    path = DBT_PROJECT.manifest_path
    if not path.exists():
        env = {**os.environ, "EXO_HOME": os.environ.get("EXO_HOME") or str(REPO_ROOT / "build" / "parse_home")}
        subprocess.run([DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(REPO_ROOT),
                        "--profiles-dir", str(REPO_ROOT)], check=True, env=env)
    return path


EVENT_LOG_SPECS = [
    dg.AssetSpec(["events", name], group_name="events",
                 description=f"Append-only event log data/events/{name}.jsonl, written by the "
                             f"{'kill-switch' if name == 'killswitch' else name[:-1] + ' code'} — never by the build.")
    for name in EVENT_LOGS
]


# --- dbt -------------------------------------------------------------------------------------------

class ExoTranslator(DagsterDbtTranslator):
    """Groups by model folder (staging / intermediate / marts / events)."""

    def get_group_name(self, dbt_resource_props) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return dbt_resource_props["source_name"]
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "models"


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False


def needs_full_refresh(exo: ExoHomeResource, config: DbtBuildConfig, log=None) -> bool:
    home = exo.home
    retired = retire_unreadable_build(home)
    if retired and log is not None:
        log.info(retired)
    if config.full_refresh or not home.build_db.exists():
        return True
    rec = read_state(home, "ingest.json")
    if not isinstance(rec, dict):
        return True  # unknown landing state: rebuild rather than trust an incremental step
    return bool(rec.get("full_refresh"))


@dbt_assets(
    manifest=ensure_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=ExoTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    pool=POOL,
)
def exo_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, exo: ExoHomeResource,
                   config: DbtBuildConfig):
    """`dbt build` (models, data tests as asset checks, unit tests) into data/warehouse/build.duckdb."""
    tag_holder(context)
    home = exo.home
    risk = load_risk_config(home.risk_yml)
    args = ["build", "--vars", json.dumps(dbt_vars(risk))]
    if needs_full_refresh(exo, config, context.log):
        args.append("--full-refresh")
    invocation = dbt.cli(args, context=context, target_path=home.warehouse_dir / "dbt_target",
                         raise_on_error=False)
    yield from invocation.stream()
    results = invocation.get_artifact("run_results.json").get("results", [])
    failed_models = [r["unique_id"] for r in results
                     if r["unique_id"].startswith("model.") and r["status"] in ("error", "skipped")]
    failed_tests = [r["unique_id"].split(".")[2] for r in results
                    if r["unique_id"].split(".")[0] in ("test", "unit_test") and r["status"] in ("fail", "error")]
    write_record(home, "build.json", {"success": invocation.is_successful(), "failed_models": failed_models,
                                      "failed_tests": failed_tests})
    if failed_models:
        raise dg.Failure(description=f"dbt models failed: {', '.join(failed_models)}")


# --- publish ---------------------------------------------------------------------------------------

@dg.asset(
    key=SNAPSHOT_KEY,
    deps=[exo_dbt_models],
    group_name="published",
    pool=POOL,
    description="The finished build, copied atomically to data/analytics.duckdb: what every reader "
                "(CLI, dashboard, guards, analysts' SQL) opens, read-only. The guard sensors watch it.",
)
def analytics_snapshot(context: dg.AssetExecutionContext, exo: ExoHomeResource) -> dg.MaterializeResult:
    from mech_exo.pipeline import headline, publish, record_checks
    from mech_exo.reporting.snapshot import connect

    tag_holder(context)
    home = exo.home
    path = publish(home)
    # what is known about this snapshot's data right now: its dbt test failures (the GE suites
    # run after the guards and add theirs) — the guards mark alerts DATA SUSPECT from this record
    record_checks(home, [], dbt_failed_tests(home))
    con = connect(home)
    try:
        h = headline(con)
    finally:
        con.close()
    return dg.MaterializeResult(metadata={
        "path": str(path),
        "session_date": str(h.get("session_date")),
        "latest_ts": str(h.get("latest_ts")),
        "nav": dg.FloatMetadataValue(float(h["nav"])) if h.get("nav") is not None else None,
        "worst_day_return": h.get("worst_day_return"),
        "mtd_return": h.get("mtd_return"),
        "var_level": h.get("level"),
    })


# --- guards, right after the publish -----------------------------------------------------------------

GUARDS_KEY = dg.AssetKey("guard_decisions")


@dg.asset(
    key=GUARDS_KEY,
    deps=[SNAPSHOT_KEY],
    group_name="published",
    description="The guards' decisions on the snapshot just published, applied at once (kill-switch "
                "first, alert second): the fast path from a breach to a halt. The guard sensors watch "
                "every snapshot too, whatever produced it, and apply the same idempotent decisions.",
)
def guard_decisions(context: dg.AssetExecutionContext, exo: ExoHomeResource) -> dg.MaterializeResult:
    from mech_exo.guard_runner import tick

    results = tick(exo.home, now=exo.now_dt, by=exo.actor or f"dagster:{context.run_id[:8]}")
    write_record(exo.home, "guards.json", results)
    acted = {r["guard"]: f"{r['severity']}{' HALTED' if r.get('halted') else ''}"
             for r in results if r.get("severity")}
    context.log.info(f"guards: {acted or 'all clear'}")
    return dg.MaterializeResult(metadata={"decisions": acted or "all clear",
                                          "halted": any(r.get("halted") for r in results)})
