"""`exo watch [--for SECONDS]`: the session's watcher (the Dagster job ``intraday_watch``) in the
foreground — one line per tick, a halt in seconds; Ctrl-C or SIGTERM end it after the tick in
progress (a second one aborts at once)."""
from __future__ import annotations

import signal
import sys
import time

import click

from mech_exo.cli.common import ExoError, pass_home
from mech_exo.home import Home


@click.command("watch")
@click.option("--for", "for_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Watch this many seconds, session or not (default: until 5 minutes after today's close; "
                   "outside a session that is one tick).")
@click.option("--poll", "poll_s", type=click.FloatRange(min=0.05), default=0.25, show_default=True,
              help="Seconds between looks at the inputs' fingerprint.")
@click.option("--now", default=None, help="Judge as of this UTC instant (ISO-8601), as `exo run --now`; default: the clock.")
@click.option("--no-fast-path", is_flag=True,
              help="Judge the intraday sentinel only after the whole build (the baseline of scripts/bench_scale.py).")
@pass_home
def watch_cmd(home: Home, for_s: float | None, poll_s: float, now: str | None, no_fast_path: bool) -> None:
    """Run the session watcher in the foreground: a tick on every change of the inputs.

    Each tick prints `tick HH:MM:SSZ  <what landed> → <what the guards did> · <seconds>`. The run is
    the same Dagster job the `intraday_watch_session` schedule starts, on this home's instance (it
    shows in `exo flows runs --flow intraday-watch`), holding the warehouse while it runs.
    """
    from mech_exo.cli.home_cmds import _parse_now, _user
    from mech_exo.flows.run import WarehouseBusy, failure_message, watch
    from mech_exo.watch import stop_file

    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    started = time.time()
    asked = {"n": 0}

    def request_stop(signum, frame) -> None:
        asked["n"] += 1
        if asked["n"] > 1:
            raise KeyboardInterrupt(f"signal {signum}")
        stop = stop_file(home)
        stop.parent.mkdir(parents=True, exist_ok=True)
        stop.write_text(f"requested by `exo watch` (signal {signum}) at {time.time():.3f}\n")
        click.echo("stopping after the tick in progress (again to abort)", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"watching {home.root}" + (f" for {for_s:g} s" if for_s else " until after today's close")
               + " — Ctrl-C to stop", err=True)
    try:
        result = watch(home, for_s=for_s, poll_s=poll_s, fast_path=not no_fast_path, now=_parse_now(now),
                       by=f"cli:{_user()}", requests_since=started,
                       progress=lambda m: click.echo(f"• {m}", err=True))
    except WarehouseBusy as exc:
        raise ExoError(str(exc)) from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if not result.success:
        failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
        click.echo(f"error: the watcher failed: {failure_message(failure)} "
                   f"(log: {home.warehouse_dir / 'last_run.log'})", err=True)
        sys.exit(1)
    ticks = result.output_for_node("intraday_watch_op")
    click.echo(f"watcher ended after {ticks} tick{'s' if ticks != 1 else ''} "
               f"(Dagster run {result.run_id[:8]})", err=True)
