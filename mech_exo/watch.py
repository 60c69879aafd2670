"""The intraday watcher: the whole pipeline in one warm process, for the session.

Why: a breach must become a halt in seconds. A Dagster run launched per batch pays ~4 s to spawn
and load a run worker, up to 5 s of sensor-loop latency, and dbt's start and parse on every build
(~13 s end to end on 2 cores). During the session the watcher keeps one process warm instead:
imports done, dbt's manifest parsed once, Great Expectations loaded once. It polls the inputs'
fingerprint every second and, when they change, runs one tick:

    ingest → fast path: the models the intraday sentinel reads, then the sentinel (halt first)
    → dbt build (in-process, incremental) → publish snapshot → guard tick (every guard)
    → Great Expectations suites (+ DATA SUSPECT alert when they fail)

The fast path (``mech_exo.warehouse.fast_path``) builds ``nav_intraday`` and only what the tick
changed under it with ``dbt run`` — the same models — and judges it on the build database, so a
breach does not wait for the fill-grain tables, VaR, the tests or the publish. A tick it cannot
make exact (old input rewritten, a new session opened) skips it: the full build comes first.

— the same functions as the ``data_pipeline`` job, in the same order. Dagster runs it as the job
``intraday_watch`` (scheduled at the open, ends after the close) and records every tick's asset
materializations, so the guard sensors, the UI and ``exo flows`` see it like any other run.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from mech_exo.home import Home, exo_home_env, inputs_fingerprint  # noqa: F401 (re-exported)
from mech_exo.warehouse.storage import connect_build, retire_unreadable_build

# how often an idle watcher delivers the outbox and runs due escalations (no daemon needed)
SERVICE_EVERY_S = 30.0


def stop_file(home: Home):
    """Written by `exo flows stop --flow intraday-watch`: the watcher ends at its next poll."""
    return home.state_dir / "intraday_watch.stop"


@dataclass
class TickResult:
    ok: bool
    error: str | None = None
    failed_step: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    landed_seq: int | None = None
    fast_path: str | None = None          # what the fast path did ("halted…", "judged…", "skipped: why")
    changed: str | None = None            # what the ingest found new (IngestResult.change_summary)
    started_at: datetime | None = None    # wall clock (UTC) when the tick began

    @property
    def halted(self) -> bool:
        return any(g.get("halted") for g in self.guards)


class Watcher:
    """One home's pipeline, kept warm. ``tick()`` never raises for a step failure: the result
    says which step failed (and a CRITICAL alert went out); the next change is tried again."""

    def __init__(self, home: Home, *, by: str = "watcher", now: Callable[[], datetime | None] = lambda: None,
                 fast_path: bool = True):
        from mech_exo.pipeline import parse_manifest

        self.home = home
        self.by = by
        self.now = now
        self.fast_path = fast_path
        home.ensure_dirs()
        self.manifest = parse_manifest(home)

    def tick(self) -> TickResult:
        from mech_exo.guard_runner import tick as guard_tick
        from mech_exo.ingest import InputError, ingest
        from mech_exo.pipeline import (
            alert_failed_checks,
            build,
            pipeline_failure_alert,
            publish,
            record_checks,
            run_checks_on_snapshot,
        )
        from mech_exo.reporting.snapshot import connect

        home, res, t = self.home, TickResult(ok=False, started_at=datetime.now(timezone.utc)), time.perf_counter()

        def lap(name: str) -> None:
            nonlocal t
            now = time.perf_counter()
            res.timings[name] = round(now - t, 3)
            t = now

        def fail(step: str, error: str) -> TickResult:
            res.failed_step, res.error = step, error
            pipeline_failure_alert(home, step, error)
            return res

        now = self.now()
        from mech_exo.guard_runner import fail_closed_on_config

        config_halt = fail_closed_on_config(home, self.by)
        if config_halt is not None:  # halted + CRITICAL; the next tick tries again once it reads
            res.guards, res.failed_step, res.error = config_halt, "config", config_halt[0]["message"]
            return res
        retire_unreadable_build(home)   # a build file from an older setup: rebuilt in full below
        quick = self.fast_path and home.build_db.exists()
        try:
            # on the halt's path: new rows, plus counts/rowid sums of every old block and the content
            # of the newest; the rotating content check of older blocks follows the decision
            ing = ingest(home, now=now, rotate=not quick)
        except InputError as exc:
            return fail("ingest", str(exc))
        res.landed_seq, res.changed = ing.landed_seq, ing.change_summary()
        full_refresh = ing.full_refresh
        lap("ingest")
        if quick:
            res.fast_path = self._fast_halt(ing, now, res)
            lap("fast_path")
            try:
                again = ingest(home, now=now)   # also lands whatever arrived during the fast path
            except InputError as exc:
                return fail("ingest", str(exc))
            full_refresh = full_refresh or again.full_refresh
            if again.dirty_from is not None:
                res.landed_seq = again.landed_seq
                res.changed += f"; then {again.change_summary()}"
            lap("ingest_verify")
        with exo_home_env(home):
            b = build(home, full_refresh=full_refresh or not home.build_db.exists(), manifest=self.manifest)
        lap("dbt_build")
        if b.models_failed or (b.error and not b.nodes):
            return fail("dbt build", b.error or "model failed")
        res.models = [n.name for n in b.nodes if n.resource_type == "model" and n.status == "success"]
        publish(home)
        dbt_failed = [n.name for n in b.tests_failed]
        record_checks(home, [], dbt_failed)
        lap("publish")
        fast_halts = [g for g in res.guards if g.get("halted")]
        # a halt the fast path made stays in the result (the full tick finds the switch already off)
        halted_first = {g.get("guard") for g in fast_halts}
        res.guards = fast_halts + [g for g in guard_tick(home, now=now, by=self.by) if g.get("guard") not in halted_first]
        lap("guards")
        con = connect(home)
        try:
            outcomes = run_checks_on_snapshot(home, con, now, full=full_refresh)
        finally:
            con.close()
        res.failed_checks = record_checks(home, outcomes, dbt_failed)
        alert_failed_checks(home, res.failed_checks)
        lap("checks")
        res.ok = True
        return res

    def _fast_halt(self, ing, now: datetime | None, res: TickResult) -> str:
        """Build what the sentinel reads, judge it on the build database, halt if it says so."""

        from mech_exo.config import load_risk_config
        from mech_exo.guard_runner import tick as guard_tick
        from mech_exo.guards import INTRADAY
        from mech_exo.warehouse import fast_path
        from mech_exo.warehouse.dbt import build

        models = fast_path.selection(ing)
        if models is None:
            return "skipped: the tick is not current-session input only"
        b = build(self.home, select=" ".join(models), manifest=self.manifest, command="run")
        if not b.success:
            return f"skipped: {b.error or 'a model failed'} (the full build reports it)"
        con = connect_build(self.home)  # this process's own writer's configuration
        try:
            ok, why = fast_path.ready(con, ing.dirty_from, load_risk_config(self.home.risk_yml)["session"])
            if not ok:
                return f"skipped: {why}"
            res.guards = guard_tick(self.home, guards=[INTRADAY], now=now, by=self.by, con=con)
        finally:
            con.close()
        acted = [g for g in res.guards if g.get("guard") == INTRADAY]
        halted = any(g.get("halted") for g in acted)
        return f"{'HALTED' if halted else 'judged'} on {why} ({len(models)} models)"

    def run(self, *, until: Callable[[], bool], poll_s: float = 1.0,
            on_tick: Callable[[TickResult], None] | None = None, requests_since: float | None = None) -> int:
        """Tick once at the start (which also loads Great Expectations), then whenever the inputs
        change, until ``until()`` or a stop request (``stop_file``); returns the number of ticks.
        A stop request older than ``requests_since`` (epoch seconds; default: now) was left by an
        earlier watcher and is removed; a newer one (Ctrl-C while this run was starting) is kept."""
        stop = stop_file(self.home)
        since = time.time() if requests_since is None else requests_since
        try:
            if stop.stat().st_mtime < since:
                stop.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        with stop_on_signals(stop):
            return self._loop(stop, until, poll_s, on_tick)

    def _loop(self, stop, until: Callable[[], bool], poll_s: float,
              on_tick: Callable[[TickResult], None] | None) -> int:
        last, ticks = None, 0
        serviced = time.monotonic()
        while ticks == 0 or not (until() or stop.exists()):
            fp = inputs_fingerprint(self.home)
            if fp != last:
                last = fp
                result = self.tick()
                ticks += 1
                serviced = time.monotonic()   # the tick's guard step serviced the outbox
                if on_tick:
                    on_tick(result)
            else:
                if time.monotonic() - serviced >= SERVICE_EVERY_S:  # escalations climb between ticks too
                    from mech_exo.guard_runner import service_alerts

                    service_alerts(self.home)
                    serviced = time.monotonic()
                time.sleep(poll_s)
        stop.unlink(missing_ok=True)
        return ticks


@contextlib.contextmanager
def stop_on_signals(stop):
    """While the watcher loops: the first SIGINT/SIGTERM writes the stop request (the tick in
    progress finishes — never a halt cut in half, never a half-written build), a second one raises
    KeyboardInterrupt. Dagster maps both signals to its own interrupt while a step runs; this
    replaces that for the loop and restores it after. Main thread only (signals' rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = {"n": 0}

    def handler(signum, frame) -> None:
        count["n"] += 1
        if count["n"] > 1:
            raise KeyboardInterrupt(f"signal {signum} (second)")
        stop.parent.mkdir(parents=True, exist_ok=True)
        stop.write_text(f"signal {signum} at {time.time():.3f}\n")
        print("watcher: stopping after the tick in progress (signal again to abort)",
              file=sys.__stderr__ or sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def tick_line(r: TickResult) -> str:
    """One line per tick, as `exo watch` prints it and the Dagster run logs it:
    ``tick 14:35:02Z  100 fills, 1 mark file (500 marks) → HALTED intraday-pnl-sentinel: … · 2.41 s (halt decision at 1.20 s)``."""
    at = f"{r.started_at:%H:%M:%S}Z" if r.started_at else "--:--:--"
    total = sum(r.timings.values())
    if r.failed_step and not r.ok:
        outcome = f"FAILED at {r.failed_step}: {r.error}"
    else:
        halted = [g for g in r.guards if g.get("halted")]
        loud = [g for g in r.guards if g.get("severity") in ("CRITICAL", "WARNING") and not g.get("halted")]
        if halted:
            outcome = "HALTED " + "; ".join(f"{g['guard']}: {g.get('message', '')}" for g in halted)
        elif loud:
            outcome = "; ".join(f"{g['severity']} {g['guard']}" for g in loud)
        else:
            outcome = "all clear"
        if r.failed_checks:
            outcome += f"; {len(r.failed_checks)} check(s) failed"
    tail = f"{total:.2f} s"
    if "fast_path" in r.timings:
        decided = r.timings.get("ingest", 0.0) + r.timings["fast_path"]
        tail += f" (intraday decision at {decided:.2f} s{'' if (r.fast_path or '').startswith(('HALTED', 'judged')) else ', ' + (r.fast_path or '')})"
    return f"tick {at}  {r.changed or 'nothing read'} → {outcome} · {tail}"
