"""Guard sensors: they halt trading by themselves.

Each sensor reacts to the materialization of the published snapshot (the moment new NAV, MTD and
VaR figures become readable), not to a clock, and runs ONE guard tick
(``mech_exo.guard_runner.tick``) — the same decision path ``exo run`` uses. The tick writes the
kill-switch first and alerts second inside the sensor evaluation: launching a run to halt would add
seconds of process start-up between a breach and the halt, for no gain in safety.

Thresholds are read in ``config/risk.yml`` (``mech_exo.config``) and enforced in the pure
functions of ``mech_exo/guards.py``; nothing here decides anything.
"""

import dagster as dg

from dagster_project.pipeline.assets import SNAPSHOT_KEY
from dagster_project.resources import default_home
from mech_exo import guards as g


def _described() -> dict[str, str]:
    """The guards' sentences with this home's thresholds (``mech_exo.bands.describe``). A malformed
    risk.yml must not stop the code location loading — the guards fail closed on it at tick time — so
    the descriptions fall back to the built-in defaults then."""
    from mech_exo.bands import describe
    from mech_exo.config import ConfigError, load_risk_config

    try:
        return describe(load_risk_config(default_home().risk_yml))
    except ConfigError:
        return describe(load_risk_config(None))


_DESCRIBED = _described()

# sensor name → the guards it runs (names from mech_exo.guards)
GUARD_SENSORS: dict[str, tuple[tuple[str, ...], str]] = {
    "intraday_pnl_sentinel": ((g.INTRADAY,), _DESCRIBED[g.INTRADAY]),
    "monthly_drawdown_guard": ((g.MONTHLY,), _DESCRIBED[g.MONTHLY]),
    "var_limit_guard": ((g.VAR,), _DESCRIBED[g.VAR]),
    "concentration_watch": ((g.CONCENTRATION,), _DESCRIBED[g.CONCENTRATION]),
}


def _summary(results: list[dict]) -> str:
    acted = [f"{r['guard']}: {r['severity']}{' HALTED' if r.get('halted') else ''}"
             for r in results if r.get("severity")]
    return "; ".join(acted) or "all clear"


def run_guard_tick(guards: tuple[str, ...], sensor_name: str) -> str:
    from mech_exo.guard_runner import tick
    from mech_exo.reporting.snapshot import NoData

    try:
        results = tick(default_home(), guards=guards, by=f"sensor:{sensor_name}")
    except NoData as exc:
        return f"no snapshot yet: {exc}"
    return _summary(results)


def make_guard_sensor(name: str, guards: tuple[str, ...], description: str) -> dg.SensorDefinition:
    @dg.asset_sensor(asset_key=SNAPSHOT_KEY, name=name, description=description,
                     minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
    def _sensor(context: dg.SensorEvaluationContext, asset_event):
        summary = run_guard_tick(guards, name)
        context.log.info(summary)
        return dg.SkipReason(f"judged the snapshot: {summary}")

    return _sensor


GUARD_SENSOR_DEFS = [make_guard_sensor(n, guards, d) for n, (guards, d) in GUARD_SENSORS.items()]


@dg.sensor(name="data_freshness_watch", minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description=_DESCRIBED[g.FRESHNESS])
def data_freshness_watch(context: dg.SensorEvaluationContext):
    summary = run_guard_tick((g.FRESHNESS,), "data_freshness_watch")
    return dg.SkipReason(summary)


@dg.op(description="The monthly stop-loss guard on the current snapshot (end-of-day run).")
def monthly_guard_op(context: dg.OpExecutionContext) -> str:
    summary = run_guard_tick((g.MONTHLY,), "monthly_drawdown_guard")
    context.log.info(summary)
    return summary



@dg.job(name="monthly_drawdown_guard_check", description="Runs the monthly guard once (23:10 UTC schedule).")
def monthly_guard_check():
    monthly_guard_op()


monthly_guard_schedule = dg.ScheduleDefinition(
    name="monthly_drawdown_guard_eod", job=monthly_guard_check, cron_schedule="10 23 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="End of day, 23:10 UTC: the monthly stop-loss guard judges the day's MTD.",
)
