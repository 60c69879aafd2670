"""A tiny stand-in for the pipeline, for the health tests: a real Dagster job named ``data_pipeline``
whose one step sits in the ``exo_warehouse`` pool and tags its process as the real steps do
(``pool.tag_holder``). It can fail with a one-line reason or hold the slot for a while, so a test
can kill its process with -9 while it holds the slot.

Also a tiny code location (``defs``) with a sensor, stopped by default: `dagster sensor start` records it
RUNNING in the instance, as an on-call (or the UI) starting it would, and a real daemon then ticks it.

Run as a script: ``python tests/support/health_jobs.py HOME HOLD_S`` (prints "holding" when it has the slot).
"""

import sys
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dagster_project.pipeline.pool import POOL, tag_holder  # noqa: E402

FAIL_REASON = "dbt build failed: model nav_daily (health test)"


class StepConfig(dg.Config):
    fail: bool = False
    hold_s: float = 0.0


@dg.op(pool=POOL)
def build_step(context: dg.OpExecutionContext, config: StepConfig) -> None:
    tag_holder(context)
    if config.hold_s:
        print("holding", flush=True)
        time.sleep(config.hold_s)
    if config.fail:
        raise dg.Failure(description=FAIL_REASON)


@dg.job(name="data_pipeline")
def data_pipeline():
    build_step()


def execute(home_root, *, fail: bool = False, hold_s: float = 0.0, tags=None):
    from mech_exo.home import Home
    from mech_exo.instance import open_instance

    with open_instance(Home(Path(home_root))) as inst:
        return data_pipeline.execute_in_process(
            run_config={"ops": {"build_step": {"config": {"fail": fail, "hold_s": hold_s}}}},
            instance=inst, raise_on_error=False, tags=tags or {})


@dg.sensor(name="health_probe", minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.STOPPED)
def health_probe(context):
    return dg.SkipReason("probe")


@dg.sensor(name="health_probe_failing", minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.STOPPED)
def health_probe_failing(context):
    raise RuntimeError("probe failed on purpose\nsecond line")


defs = dg.Definitions(jobs=[data_pipeline], sensors=[health_probe, health_probe_failing])


if __name__ == "__main__":
    execute(sys.argv[1], hold_s=float(sys.argv[2]), fail=len(sys.argv) > 3 and sys.argv[3] == "fail")
