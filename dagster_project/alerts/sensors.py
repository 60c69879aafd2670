"""Alert delivery and escalation driven by Dagster.

State (what was sent, acknowledged, escalated) lives in the alert log, not in the sensor cursor,
so a restarted daemon picks up exactly where it stopped. The daemon is not the only server: every
run ends with ``mech_exo.alerts.service_pending`` and ``exo alerts flush`` drains by hand; outbox
claims keep any two of them from sending one message twice.
"""

import dagster as dg

from dagster_project.resources import default_home


@dg.sensor(name="alert_delivery", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every 30 s: redeliver the outbox, escalate unacknowledged CRITICAL alerts "
                       "(on-call → lead after 15 min → CTO after 30; monthly stop: 30/60/61 min).")
def alert_delivery(context: dg.SensorEvaluationContext):
    from mech_exo.alerts import flush_outbox, run_escalation

    home = default_home()
    escalated = run_escalation(home)  # first: a level it parks is then flushed in this same tick
    flushed = flush_outbox(home)
    busy = f" ({flushed['in_flight']} being sent by another deliverer)" if flushed.get("in_flight") else ""
    return dg.SkipReason(f"outbox: {flushed.get('delivered', 0)} delivered, {flushed.get('pending', 0)} pending{busy}; "
                         f"escalations: {len(escalated)}")


@dg.run_failure_sensor(name="run_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Any failed run is a CRITICAL alert: a pipeline that does not run is a book that is not watched.")
def run_failure_alert(context: dg.RunFailureSensorContext):
    from mech_exo.alerts import send_alert

    run = context.dagster_run
    message = (context.failure_event.message or "").splitlines()[0][:300]
    send_alert(default_home(), severity="CRITICAL", type="run_failure",
               message=f"DAGSTER RUN FAILED: {run.job_name} ({run.run_id[:8]}): {message}",
               dedup_key=f"run-failure:{run.run_id}")
