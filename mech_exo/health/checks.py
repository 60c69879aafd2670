"""Pure judges of the halt path: plain facts (numbers, strings, timestamps) in, a ``Component`` out.

Nothing here opens a file or the Dagster instance, so every boundary is tested with exact numbers.
Our choices, where the SPEC is silent:

* **pipeline runs** — the latest *finished* pipeline run decides, whoever started it: a Dagster
  run of ``data_pipeline`` / ``intraday_watch`` (daemon sensor or schedule, the UI, or `exo run`,
  which is an in-process Dagster run) or a run `exo run` recorded without reaching Dagster (config
  halt, warehouse busy). Failed ⇒ FAIL; canceled ⇒ WARN; none ever ⇒ WARN.
* **warehouse pool** (wedged) — FAIL when the ``exo_warehouse`` slot is held by a run whose process
  is gone, when a STARTED/QUEUED run's process is gone, when a run has waited for the slot longer
  than ``WAIT_LIMIT_S``, or when a run has sat QUEUED longer than that (only the daemon dequeues).
  A live non-watcher holder past ``HOLD_LIMIT_S`` is WARN (a hung build?). The intraday watcher
  holds the slot all session by design.
* **pipeline freshness** (stale) — in session a successful build is expected every
  ``IN_SESSION_CADENCE_MIN`` (the ``intraday_refresh`` cron, ``*/5`` in
  dagster_project/pipeline/schedules.py; ``input_watch`` and the watcher only make it more often);
  older than cadence + ``GRACE_MIN`` ⇒ FAIL. The age counts from the later of the last success and
  today's open, as the freshness guard does. Outside the session nothing is due but the close:
  no success since the last session's close (+ grace) ⇒ WARN.
* **Dagster daemon** — alive when every daemon type the instance requires has a heartbeat younger
  than ``DAEMON_STALE_S`` (the sensor daemon beats every 30 s). Down while it is expected (it has run
  on this home before, a schedule/sensor is recorded as running, or a run waits in the queue) ⇒
  FAIL; never run on this home ⇒ WARN (the schedules, e.g. the 23:10 monthly guard, never fire).
* **alert escalation** — overdue steps ⇒ FAIL; the overdue list unavailable ⇒ UNKNOWN.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from mech_exo.health.holders import Holder

OK, WARN, FAIL, UNKNOWN = "OK", "WARN", "FAIL", "UNKNOWN"
UNHEALTHY = {FAIL, UNKNOWN}          # either one makes full-check exit 1 and /health answer 503
RANK = {OK: 0, WARN: 1, UNKNOWN: 2, FAIL: 3}

PIPELINE_JOBS = ("data_pipeline", "intraday_watch")
WATCHER_JOB = "intraday_watch"
IN_SESSION_CADENCE_MIN = 5.0   # intraday_refresh: cron "*/5 9-16 * * 1-5" (dagster_project/pipeline/schedules.py)
GRACE_MIN = 5.0                # one build's duration plus one missed tick
WAIT_LIMIT_S = 600.0           # a run waiting this long for the warehouse (or in the queue) is wedged
HOLD_LIMIT_S = 1800.0          # a build (not the watcher) holding the warehouse this long looks hung
DAEMON_STALE_S = 120.0         # same as `exo flows status` (mech_exo.flows.catalog.DAEMON_STALE_S)
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

FIX_RUN = "`exo run` (it frees the warehouse slots of dead runs before it starts)"
FIX_DAEMON = "`exo flows dev` (starts the Dagster daemon and UI for this home)"


@dataclass
class Component:
    component: str
    status: str
    detail: str
    fix: str | None = None            # what to run to recover (None when OK)
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: RANK[s], default=OK)


def _ts(x: float | None) -> str:
    if x is None:
        return "—"
    return datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _span(s: float) -> str:
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


# --- facts (plain data the Dagster module fills in) ------------------------------------------------

@dataclass
class RunFact:
    run_id: str
    job: str
    status: str                       # Dagster run status value: SUCCESS, FAILURE, STARTED, QUEUED, ...
    trigger: str                      # "exo run", "sensor:input_watch", "schedule:intraday_refresh", "manual"
    created: float | None = None      # unix seconds
    start: float | None = None
    end: float | None = None
    failure: str | None = None        # one-line reason of a FAILURE


@dataclass
class SlotFact(Holder):
    """A run that holds or waits for the warehouse slot (or is live with its process gone): the
    holder as ``mech_exo.health.holders.judge`` judged it, and since when."""
    since: float | None = None        # waiting since (enqueued) / holding since (run start)


# --- pipeline runs ---------------------------------------------------------------------------------

def _cli_outcome(cli: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cli:
        return None
    from mech_exo.events import parse_utc

    fin = parse_utc(cli.get("finished_at")) if cli.get("finished_at") else None
    return {"source": "exo run", "run_id": cli.get("run_id"), "ok": bool(cli.get("ok")), "status": "SUCCESS" if cli.get("ok") else "FAILURE",
            "at": fin.timestamp() if fin else None,
            "reason": None if cli.get("ok") else f"{cli.get('failed_step')}: {cli.get('error')}"}


def pipeline_outcomes(runs: Sequence[RunFact], cli: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Finished pipeline runs from both sources, newest first. A Dagster run that `exo run` also
    recorded is one outcome, with the CLI's verdict (it also knows about failed data checks)."""
    cli_o = _cli_outcome(cli)
    out = []
    for r in runs:
        if r.status not in TERMINAL:
            continue
        o = {"source": f"Dagster {r.trigger}", "run_id": r.run_id, "job": r.job, "ok": r.status == "SUCCESS",
             "status": r.status, "at": r.end or r.start or r.created, "reason": r.failure}
        if cli_o and cli_o["run_id"] and cli_o["run_id"] == r.run_id:
            o.update(ok=cli_o["ok"], status=cli_o["status"], reason=cli_o["reason"] or o["reason"],
                     at=max(x for x in (o["at"], cli_o["at"]) if x is not None) if (o["at"] or cli_o["at"]) else None,
                     source="exo run (Dagster)")
            cli_o = None
        out.append(o)
    if cli_o:
        out.append(cli_o)
    return sorted(out, key=lambda o: o["at"] or 0.0, reverse=True)


def judge_pipeline_runs(runs: Sequence[RunFact], cli: Mapping[str, Any] | None, now: datetime,
                        counts_24h: Mapping[str, int] | None = None) -> Component:
    outs = pipeline_outcomes(runs, cli)
    name = "pipeline runs"
    n = now.timestamp()
    day = [o for o in outs if o["at"] is not None and n - 86400 <= o["at"] <= n + 60]
    tally = (f"last 24 h: {len(day)} finished ({sum(1 for o in day if o['source'].startswith('Dagster'))} started in Dagster "
             f"(sensor, schedule, UI), {sum(1 for o in day if o['source'].startswith('exo run'))} by `exo run`), "
             f"{sum(1 for o in day if not o['ok'])} failed")
    data = {"latest": outs[0] if outs else None, "finished_24h": len(day),
            "failed_24h": sum(1 for o in day if not o["ok"]), "counts_24h": dict(counts_24h or {})}
    if not outs:
        return Component(name, WARN, "no pipeline run recorded — neither `exo run` (data/state/last_run.json) nor a "
                                     "Dagster run of data_pipeline / intraday_watch", "`exo run`", data)
    last = outs[0]
    what = f"{last['source']}" + (f" {last['run_id'][:8]}" if last.get("run_id") else "") + f" at {_ts(last['at'])}"
    if last["status"] == "FAILURE" or not last["ok"]:
        return Component(name, FAIL, f"last pipeline run FAILED: {what}: {last['reason'] or 'see the run log'}; {tally}",
                         "read `exo flows runs --flow data-pipeline` (and data/warehouse/last_run.log), fix the cause, "
                         "then `exo run`", data)
    if last["status"] == "CANCELED":
        return Component(name, WARN, f"last pipeline run was CANCELED: {what}; {tally}", "`exo run`", data)
    return Component(name, OK, f"last pipeline run OK: {what}; {tally}", None, data)


# --- warehouse pool (wedged) -----------------------------------------------------------------------

def judge_warehouse(slots: Sequence[SlotFact], orphans: Sequence[SlotFact], queued: Sequence[RunFact],
                    now: datetime, *, wait_limit_s: float = WAIT_LIMIT_S, hold_limit_s: float = HOLD_LIMIT_S) -> Component:
    name = "warehouse pool"
    n = now.timestamp()
    dead = [s for s in slots if s.holds_slot and not s.alive]
    gone = [s for s in [*orphans, *(s for s in slots if not s.holds_slot and not s.alive)]
            if s.run_id not in {d.run_id for d in dead}]
    gone = list({s.run_id: s for s in gone}.values())
    live_holder = next((s for s in slots if s.holds_slot and s.alive), None)
    waiting = [s for s in slots if not s.holds_slot and s.alive]
    long_wait = [s for s in waiting if s.since is not None and n - s.since > wait_limit_s]
    long_queue = [r for r in queued if r.created is not None and n - r.created > wait_limit_s]
    data = {"dead_holders": [asdict(s) for s in dead], "dead_runs": [asdict(s) for s in gone],
            "holder": asdict(live_holder) if live_holder else None, "waiting": [asdict(s) for s in waiting],
            "queued": [asdict(r) for r in queued]}
    problems, fixes = [], []
    if dead:
        problems += [f"exo_warehouse slot held by {s.describe()} — {s.why_dead}: every later run waits for it" for s in dead]
        fixes.append(FIX_RUN + ", or let the daemon's warehouse_pool_reaper free it (every 30 s)")
    if gone:
        problems += [f"{s.describe()} is still {s.status} but {s.why_dead}" for s in gone]
        if not dead:
            fixes.append(FIX_RUN)
    if long_wait:
        held = live_holder.describe() if live_holder else "a holder"
        problems.append(f"{len(long_wait)} run(s) waiting for the warehouse for up to "
                        f"{_span(max(n - s.since for s in long_wait))} behind {held}")
        job = (live_holder.job if live_holder else None) or "data-pipeline"
        fixes.append(f"`exo flows stop --flow {job.replace('_', '-')}`" + (f" (or kill pid {live_holder.pid})"
                                                                         if live_holder and live_holder.pid else "")
                     + ", then `exo run`")
    if long_queue:
        problems.append(f"{len(long_queue)} run(s) QUEUED for up to {_span(max(n - r.created for r in long_queue))} "
                        f"({', '.join(r.run_id[:8] + ' ' + r.job for r in long_queue[:3])}): only the daemon's run queue starts them")
        fixes.append(FIX_DAEMON)
    if problems:
        return Component(name, FAIL, "wedged: " + "; ".join(problems), "; ".join(dict.fromkeys(fixes)), data)
    if live_holder:
        held_s = n - live_holder.since if live_holder.since else None
        text = f"held by live {live_holder.describe()}" + (f" for {_span(held_s)}" if held_s is not None else "")
        if waiting:
            text += f"; {len(waiting)} run(s) waiting (up to {_span(max(n - (s.since or n) for s in waiting))})"
        if live_holder.job != WATCHER_JOB and held_s is not None and held_s > hold_limit_s:
            return Component(name, WARN, text + f" — longer than {_span(hold_limit_s)}: a hung build?",
                             f"`exo flows runs --flow {(live_holder.job or 'data-pipeline').replace('_', '-')}`; if it is hung, "
                             f"`exo flows stop --flow {(live_holder.job or 'data-pipeline').replace('_', '-')}`", data)
        return Component(name, OK, text, None, data)
    extra = f"; {len(queued)} run(s) queued" if queued else ""
    return Component(name, OK, "free: no run holds or waits for exo_warehouse" + extra, None, data)


# --- pipeline freshness (stale) --------------------------------------------------------------------

def _window_on(day: date, session: Mapping[str, Any]) -> tuple[datetime, datetime]:
    tz = ZoneInfo(session["timezone"])
    oh, om = (int(x) for x in session["open"].split(":"))
    ch, cm = (int(x) for x in session["close"].split(":"))
    return (datetime.combine(day, time(oh, om), tz).astimezone(timezone.utc),
            datetime.combine(day, time(ch, cm), tz).astimezone(timezone.utc))


def _is_session_day(day: date, known: set[str]) -> bool:
    return day.isoformat() in known or day.weekday() < 5   # the freshness guard's rule (guards.session_window)


def last_close_before(now: datetime, session: Mapping[str, Any], session_dates: Iterable[Any] = ()) -> datetime | None:
    known = {str(d)[:10] for d in session_dates}
    local = now.astimezone(ZoneInfo(session["timezone"])).date()
    for back in range(0, 10):
        day = local - timedelta(days=back)
        if _is_session_day(day, known):
            close = _window_on(day, session)[1]
            if close <= now:
                return close
    return None


def judge_freshness(last_success: float | None, now: datetime, session: Mapping[str, Any],
                    session_dates: Iterable[Any] = (), *, cadence_min: float = IN_SESSION_CADENCE_MIN,
                    grace_min: float = GRACE_MIN) -> Component:
    from mech_exo.guards import session_window

    name = "pipeline freshness"
    dates = list(session_dates)
    limit_s = (cadence_min + grace_min) * 60.0
    window = session_window(now, session, dates)
    data = {"last_success": _ts(last_success) if last_success else None, "in_session": window is not None,
            "expected_every_min": cadence_min, "limit_min": cadence_min + grace_min}
    fix = (f"{FIX_RUN} now; then check what should have run it: `exo flows status` (daemon, input_watch, "
           "intraday_refresh, intraday_watch_session)")
    if window is not None:
        since = max(last_success or 0.0, window[0].timestamp())
        age = now.timestamp() - since
        data["age_s"] = round(age, 1)
        last = f"last success {_ts(last_success)}" if last_success else "no successful run recorded"
        if age > limit_s:
            return Component(name, FAIL, f"stale: no successful pipeline run for {_span(age)} in session (expected every "
                                         f"{cadence_min:g} min, limit {cadence_min + grace_min:g} min; {last}) — "
                                         "the guards are not judging new data", fix, data)
        return Component(name, OK, f"in session: {last} ({_span(now.timestamp() - last_success) + ' ago' if last_success else 'session just opened'}); "
                                   f"expected every {cadence_min:g} min", None, data)
    if last_success is None:
        return Component(name, WARN, "no successful pipeline run recorded (outside the session)", "`exo run`", data)
    close = last_close_before(now, session, dates)
    data["last_close"] = close.isoformat() if close else None
    if close is not None and last_success < close.timestamp() and (now - close).total_seconds() > limit_s:
        return Component(name, WARN, f"outside the session; no successful run since the last session's close "
                                     f"({close:%Y-%m-%d %H:%MZ}; last success {_ts(last_success)}): that close was not judged",
                         fix, data)
    return Component(name, OK, f"outside the session; last success {_ts(last_success)}", None, data)


# --- Dagster daemon --------------------------------------------------------------------------------

def judge_daemon(heartbeats: Mapping[str, Mapping[str, Any]], required: Sequence[str],
                 instigators: Sequence[Mapping[str, Any]], queued: int, now: datetime,
                 *, stale_s: float = DAEMON_STALE_S) -> Component:
    """``heartbeats``: daemon type → {"at": unix s, "errors": [str]}; ``instigators``: stored
    schedule/sensor states {"name", "type", "status"}; ``queued``: runs waiting in the run queue."""
    name = "Dagster daemon"
    n = now.timestamp()
    required = list(required) or ["SENSOR", "SCHEDULER"]
    ages = {t: (n - heartbeats[t]["at"]) if t in heartbeats else None for t in required}
    stale = {t: a for t, a in ages.items() if a is None or a > stale_s}
    running = [i for i in instigators if i.get("status") in ("RUNNING", "DECLARED_IN_CODE")]
    expected_by = []
    if heartbeats:
        expected_by.append("a daemon has run on this home before")
    if running:
        names = ", ".join(sorted(i["name"] for i in running)[:6]) + (" …" if len(running) > 6 else "")
        expected_by.append(f"{len(running)} schedule(s)/sensor(s) recorded as running ({names})")
    if queued:
        expected_by.append(f"{queued} run(s) wait in the run queue")
    data = {"heartbeat_age_s": {t: (round(a, 1) if a is not None else None) for t, a in ages.items()},
            "required": required, "running_instigators": [i["name"] for i in running], "queued_runs": queued,
            "expected": bool(expected_by)}
    if not stale:
        errs = sorted({e for t in required for e in (heartbeats[t].get("errors") or [])})
        text = (f"alive: heartbeats {_span(max(ages.values()))} old at most ({', '.join(required)})"
                + (f"; {len(running)} schedule(s)/sensor(s) running" if running else ""))
        if errs:
            return Component(name, WARN, text + f"; the daemon reports errors: {errs[0][:200]}",
                             "see the daemon's log (`exo flows status`)", data)
        return Component(name, OK, text, None, data)
    last = max((heartbeats[t]["at"] for t in heartbeats), default=None)
    down = ("no daemon heartbeat ever" if last is None else f"last heartbeat {_span(n - last)} ago ({_ts(last)})")
    missing = ", ".join(f"{t} {'never' if a is None else _span(a)}" for t, a in stale.items())
    consequence = ("the schedules (the 23:10 monthly guard, intraday refresh, drill checks), the sensors "
                   "(input_watch, guard sensors, warehouse_pool_reaper) and the run queue do not run; only `exo run` judges")
    if expected_by:
        return Component(name, FAIL, f"daemon down: {down} ({missing}) while {'; '.join(expected_by)} — {consequence}",
                         FIX_DAEMON, data)
    return Component(name, WARN, f"no Dagster daemon has run on this home — {consequence}", FIX_DAEMON, data)


# --- alert escalation ------------------------------------------------------------------------------

def judge_escalation(overdue: Sequence[Mapping[str, Any]] | None, error: str | None = None,
                     missing: str | None = None) -> Component:
    """``overdue`` from ``escalation_overdue``; ``missing`` says why it could not be imported
    (⇒ UNKNOWN, never OK); ``error`` that it raised (⇒ FAIL)."""
    name = "alert escalation"
    if missing is not None:
        return Component(name, UNKNOWN, f"cannot tell whether CRITICAL alerts escalate: {missing}",
                         "install the complete product (mech_exo.alerts with escalation_overdue); meanwhile "
                         "`exo alerts history` and `exo alerts flush`", {})
    if error is not None:
        return Component(name, FAIL, f"the escalation check failed: {error}", "`exo alerts history`; `exo alerts flush`", {})
    rows = list(overdue or [])
    if not rows:
        return Component(name, OK, "no CRITICAL alert is overdue for escalation", None, {"overdue": []})
    parts = [f"alert {r.get('alert_id')} ({r.get('type')}) → {r.get('level')}"
             + (f" ({r.get('contact')})" if r.get("contact") and r.get("contact") != r.get("level") else "")
             + f" {r.get('late_minutes')} min late" + (f" [{r.get('reason')}]" if r.get("reason") else "")
             for r in rows[:4]]
    ids = sorted({str(r.get("alert_id")) for r in rows})
    return Component(name, FAIL, f"{len(rows)} escalation step(s) overdue: " + "; ".join(parts)
                     + (" …" if len(rows) > 4 else ""),
                     "`exo alerts flush` (sends the due escalations and the outbox now); `exo alerts ack "
                     + (ids[0] if len(ids) == 1 else "ID") + "` once someone owns it", {"overdue": [dict(r) for r in rows]})
