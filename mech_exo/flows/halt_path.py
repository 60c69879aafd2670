"""The halt path's components for one home at one instant: facts gathered, then judged.

``halt_path_components(home, now)`` is what `exo health full-check`, ``/health`` and the dashboard
show. The Dagster facts are read once (``dagster_facts.read_facts``, time-boxed); the CLI's own run
record (``data/state/last_run.json``) is read beside them, so runs of either origin count.
"""
from __future__ import annotations

import importlib
from datetime import datetime, timezone
from typing import Any, Callable

from mech_exo.flows.health_facts import BUDGET_S, DagsterFacts, read_facts
from mech_exo.health import checks as c
from mech_exo.home import Home

# where ``escalation_overdue(home, now=None) -> list`` may live (the alerts package is another
# helper's work); the first that imports wins. None found ⇒ the component is UNKNOWN, never OK.
ESCALATION_SOURCES = ("mech_exo.alerts.escalation", "mech_exo.alerts.service", "mech_exo.alerts")


def escalation_source() -> tuple[Callable[..., list] | None, str | None]:
    """(the function, None) or (None, why it is unavailable)."""
    tried = []
    for mod in ESCALATION_SOURCES:
        try:
            fn = getattr(importlib.import_module(mod), "escalation_overdue", None)
        except Exception as exc:  # noqa: BLE001 — a broken module is "unavailable", reported as such
            tried.append(f"{mod} ({exc.__class__.__name__}: {exc})")
            continue
        if callable(fn):
            return fn, None
        tried.append(mod)
    return None, "escalation_overdue is not available (looked in " + ", ".join(tried) + ")"


def escalation_component(home: Home, now: datetime) -> c.Component:
    fn, missing = escalation_source()
    if fn is None:
        return c.judge_escalation(None, missing=missing)
    try:
        rows = fn(home, now=now)
    except Exception as exc:  # noqa: BLE001
        return c.judge_escalation(None, error=f"{exc.__class__.__name__}: {exc}")
    return c.judge_escalation(rows)


def _session(home: Home) -> dict[str, Any]:
    from mech_exo.config import session_or_default

    return session_or_default(home.risk_yml)   # a broken risk.yml is the config component's FAIL


def instance_component(f: DagsterFacts) -> c.Component:
    name = "Dagster instance"
    if f.error:
        return c.Component(name, c.FAIL, f.error,
                           "`exo flows status` names the failing storage; a corrupt .db under the home's .dagster/ can "
                           "be moved aside (the next open recreates it; the audit trail stays in data/events/)",
                           {"dagster_home": f.dagster_home})
    if not f.present:
        return c.Component(name, c.OK, f"{f.dagster_home}: no instance storage yet (no Dagster run or daemon so far)",
                           None, {"dagster_home": f.dagster_home})
    return c.Component(name, c.OK, f"{f.dagster_home} read in {f.elapsed_s:g} s ({len(f.runs)} recent pipeline runs)",
                       None, {"dagster_home": f.dagster_home, "elapsed_s": f.elapsed_s})


def _unknown(name: str, f: DagsterFacts) -> c.Component:
    return c.Component(name, c.UNKNOWN, f"cannot be judged: {f.error}",
                       "repair the Dagster instance (see the component 'Dagster instance')", {})


def last_success(facts: DagsterFacts, cli: dict | None) -> float | None:
    """The newest successful pipeline build from any source: an `exo run` record, a Dagster run of a
    pipeline job, or a snapshot materialization (each intraday-watcher tick logs one)."""
    from mech_exo.events import parse_utc

    seen = [facts.last_snapshot_materialization]
    seen += [r.end for r in facts.runs if r.status == "SUCCESS" and r.job == "data_pipeline"]
    if cli and cli.get("ok") and cli.get("finished_at"):
        fin = parse_utc(cli["finished_at"])
        seen.append(fin.timestamp() if fin else None)
    seen = [s for s in seen if s is not None]
    return max(seen) if seen else None


def halt_path_components(home: Home, now: datetime | None = None, *, budget_s: float = BUDGET_S,
                         session_dates=()) -> list[c.Component]:
    """Dagster instance, pipeline runs, warehouse pool, pipeline freshness, Dagster daemon, alert
    escalation — in that order. Never raises."""
    from mech_exo.runstate import read_run_status

    now = now or datetime.now(timezone.utc)
    facts = read_facts(home, now, budget_s=budget_s)
    cli = read_run_status(home)
    out = [instance_component(facts)]
    if facts.error:
        # the runs `exo run` recorded still count; the rest needs the instance
        runs = c.judge_pipeline_runs([], cli, now)
        runs.detail += " (Dagster runs not readable)"
        runs.status = c.worst([runs.status, c.UNKNOWN])
        out += [runs, _unknown("warehouse pool", facts)]
        out.append(c.judge_freshness(last_success(facts, cli), now, _session(home), session_dates))
        out.append(_unknown("Dagster daemon", facts))
    else:
        out.append(c.judge_pipeline_runs(facts.runs, cli, now, facts.counts_24h))
        out.append(c.judge_warehouse(facts.slots, facts.orphans, facts.queued, now))
        out.append(c.judge_freshness(last_success(facts, cli), now, _session(home), session_dates))
        out.append(c.judge_daemon(facts.heartbeats, facts.required_daemons, facts.instigators, len(facts.queued), now))
    out.append(escalation_component(home, now))
    return out
