"""`exo flows status|runs|restart|monitor|dev`: the Dagster jobs, sensors and schedules of a home.

Why these answers: the run-book (written for Prefect) asks "is the sentinel running, when did it
last judge, what did it say" — so every sensor/schedule shows its state in the home's instance
(defaulting to the code's default), its last tick and outcome, and every job its last run. Ticks
exist only while a daemon runs: when none has ticked lately the output says so and how to start
one, instead of passing old ticks off as current. The work is in ``mech_exo.flows``.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import click
from rich.markup import escape

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

STATUS_STYLE = {"running": "green", "stopped": "red", "idle": "cyan"}
RESULT_STYLE = {"SUCCESS": "green", "SKIPPED": "cyan", "FAILURE": "bold red", "STARTED": "yellow",
                "CANCELED": "yellow", "QUEUED": "yellow"}


@click.group("flows")
def flows() -> None:
    """Dagster jobs, sensors and schedules (run-book names with '-' are accepted)."""


def _flowset(home: Home):
    from mech_exo.flows import FlowError, FlowSet

    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    from mech_exo.config import ConfigError

    try:
        return FlowSet(home)
    except (FlowError, ConfigError) as exc:  # the code location reads config/risk.yml: name the file
        raise ExoError(f"cannot load the code location: {exc}") from None


def _resolve(fs, name: str):
    from mech_exo.flows import FlowError

    try:
        return fs.resolve(name)
    except FlowError as exc:
        raise ExoError(str(exc)) from None


def _ago(iso: str | None, now: datetime | None = None) -> str:
    """'2026-11-24T15:09:39Z' → '2026-11-24 15:09:39Z (3 min ago)'."""
    if not iso:
        return "—"
    from mech_exo.events import utc_now

    age = ((now or utc_now()) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()
    when = iso.replace("T", " ")
    if age < 0:
        return f"{when} (in {_span(-age)})"
    return f"{when} ({_span(age)} ago)"


def _span(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def _secs(s: float | None) -> str:
    return "—" if s is None else f"{s:.1f} s"


def _styled(value: str, styles: dict) -> str:
    style = styles.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def _last(row: dict[str, Any]) -> str:
    """The 'last activity' cell: a tick (sensor/schedule) or a run (job)."""
    if row["kind"] == "job":
        r = row.get("last_run")
        if not r:
            return "never run"
        text = f"{_styled(r['status'], RESULT_STYLE)} {_ago(r['start'])}, {_secs(r['duration_s'])} ({r['trigger']})"
        return text + (f" — {escape(r['failure'])}" if r.get("failure") else "")
    t = row.get("last_tick")
    if not t:
        return "no tick recorded"
    return f"{_styled(t['status'], RESULT_STYLE)} {_ago(t['at'])}: {escape(t['result'])}"


def flows_table(rows: list[dict], title: str | None):
    from mech_exo.cli.risk_cmds import table

    t = table(title, "Flow", "Kind", "Status", "Last tick / run", compact=True)
    for r in rows:
        name = r["name"] + (f" ({r['runbook_name']})" if r.get("runbook_name") else "")
        last = _last(r) + (f"; next {r['next_tick'].replace('T', ' ')}" if r.get("next_tick") else "")
        t.add_row(name, r["kind"], _styled(r["status"], STATUS_STYLE), last)
    return t


def _warn(c, payload: dict) -> None:
    for w in payload.get("warnings", []):
        c.print(f"[yellow]warning[/]: {w}")


# --- status ----------------------------------------------------------------------------------------

@flows.command("status")
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Every sensor, schedule and job of the code location.")
@json_option
@pass_home
def status_cmd(home: Home, name: str | None, all_: bool, as_json: bool) -> None:
    """State of a flow (and the flows that launch it or that it launches), or of --all.

    Sensors and schedules: running/stopped (the home's Dagster instance, else the code's default),
    last tick and its result, next scheduled time. Jobs: last run, status and duration.
    """
    if bool(name) == all_:
        raise ExoError("give a flow name (e.g. intraday-pnl-sentinel) or --all")
    fs = _flowset(home)
    if name:
        _resolve(fs, name)
    payload = fs.status(name)
    if as_json:
        emit_json(payload)
        return
    c = console()
    title = f"Flow {payload['flow']} and related" if name else "All flows"
    c.print(flows_table(payload["flows"], f"{title} — instance {payload['instance']}"))
    if name:
        c.print(f"  {payload['flows'][0]['description']}", markup=False)
    _warn(c, payload)


# --- runs ------------------------------------------------------------------------------------------

@flows.command("runs")
@click.option("--flow", "name", required=True, help="Job, sensor or schedule name (run-book spelling accepted).")
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True, help="How many.")
@json_option
@pass_home
def runs_cmd(home: Home, name: str, count: int, as_json: bool) -> None:
    """The last N runs of a job; for a sensor or schedule its last N ticks and the runs it launched."""
    from mech_exo.cli.risk_cmds import table

    fs = _flowset(home)
    _resolve(fs, name)
    p = fs.runs(name, count)
    if as_json:
        emit_json(p)
        return
    c = console()
    if p["kind"] != "job":
        t = table(f"{p['flow']} ({p['kind']}): last {count} ticks", "At (UTC)", "Result", ">Took", "Says",
                  compact=True)
        for k in p["ticks"]:
            t.add_row(k["at"], _styled(k["status"], RESULT_STYLE), _secs(k["duration_s"]), escape(k["result"]))
        c.print(t)
    if p["runs"] or p["kind"] == "job":
        label = "runs" if p["kind"] == "job" else "runs it launched"
        t = table(f"{p['flow']}: last {count} {label}", "Run id", "Job", "Status", "Start (UTC)", ">Duration",
                  "Trigger", compact=True)
        for r in p["runs"]:
            t.add_row(r["run_id"], r["job"], _styled(r["status"], RESULT_STYLE), r["start"] or "—",
                      _secs(r["duration_s"]), r["trigger"])
        c.print(t)
        for r in p["runs"]:  # whole lines, not a wrapped cell: the message names the file
            if r["failure"]:
                c.print(f"  [red]{r['run_id'][:8]} failed[/]: ", end="")
                c.print(r["failure"], markup=False, soft_wrap=True)
        if not p["runs"]:
            c.print(f"  no runs of {p['flow']} recorded in {home.dagster_home}")
    for n in p["notes"]:
        c.print(f"  note: {n}")
    if p["related_jobs"]:
        c.print("  see also: " + ", ".join(f"`exo flows runs --flow {j}`" for j in p["related_jobs"]))
    if p["daemon"]["warning"] and p["kind"] != "job":
        c.print(f"[yellow]warning[/]: {p['daemon']['warning']}")


# --- restart ---------------------------------------------------------------------------------------

@flows.command("restart")
@click.option("--flow", "name", required=True, help="Job, sensor or schedule name (run-book spelling accepted).")
@json_option
@pass_home
def restart_cmd(home: Home, name: str, as_json: bool) -> None:
    """Run the flow now, in this process, on the home's instance.

    data-pipeline: the same run as `exo run` (ingest → dbt → checks → guards). Other jobs: executed
    in-process. A schedule: what its tick would request. A sensor: one tick evaluated now (run
    requests are shown, not launched). Exit 1 when the run or tick failed.
    """
    from mech_exo.runstate import as_jsonable

    fs = _flowset(home)
    flow = _resolve(fs, name)
    c = console()
    progress = None if as_json else (lambda m: c.print(f"• {m}"))
    if not as_json:
        c.print(f"restarting {flow.name} ({flow.kind}) on {home.root}")
    out = fs.restart(name, progress=progress)
    report = out.pop("_report", None)
    for r in out.get("runs", []):
        r.pop("_report", None)
    if as_json:
        emit_json(as_jsonable(out))
    else:
        _print_restart(c, out, report, home)
    if not out["ok"]:
        sys.exit(1)


def _print_restart(c, out: dict, report, home) -> None:
    if report is not None:
        from mech_exo.cli.home_cmds import print_report

        print_report(report, c, home)
    elif out["action"] == "sensor tick":
        if out["status"] == "FAILURE":
            c.print(f"[bold red]tick FAILED[/]: {escape(out['failure'])}")
        elif out["run_requests"]:
            c.print(f"tick requested {len(out['run_requests'])} run(s): "
                    + ", ".join(f"{r['job']} ({r['run_key']})" for r in out["run_requests"]))
        else:
            c.print(f"tick skipped: {escape(out['skip_reason'] or '')}")
    elif out.get("run_id") is None:
        c.print(f"schedule tick skipped: {out.get('skip_reason')}")
    else:
        style = "green" if out["ok"] else "bold red"
        c.print(f"[{style}]{out['job']} {out['status']}[/] (run {out['run_id'][:8]})"
                + (f": {escape(out['failure'])}" if out.get("failure") else ""))
        for node, value in (out.get("outputs") or {}).items():
            c.print(f"  {node}: {escape(str(value))}")
    if out.get("hint"):
        c.print(f"  note: {out['hint']}")
    k = out["killswitch"]
    style = "bold green" if k["trading_enabled"] else "bold red"
    c.print(f"kill-switch: trading [{style}]{k['state']}[/]"
            + ("" if k["trading_enabled"] else escape(f" ({k['trigger']}: {k['reason']}, by {k['updated_by']})")))


# --- monitor ---------------------------------------------------------------------------------------

def monitor_view(p: dict):
    """One frame: header, kill-switch, sensors/schedules, latest runs."""
    from rich.console import Group
    from rich.text import Text

    from mech_exo.cli.risk_cmds import table

    k = p["killswitch"]
    if k["trading_enabled"]:
        ks = Text.from_markup("kill-switch: trading [bold green]ENABLED[/]")
    else:
        ks = Text.from_markup("kill-switch: trading [bold red]DISABLED[/] — " + escape(
            f"{k['trigger']}: {k['reason']} (since {k['updated_at']}, by {k['updated_by']})"))
    d = p["daemon"]
    daemon = (f"daemon: [green]ticking[/] (last {_ago(d['last_seen'])})" if d["running"]
              else f"daemon: [yellow]not ticking[/] — {d['warning']}")
    runs = table("Latest runs", "Run id", "Job", "Status", "Start (UTC)", ">Duration", "Trigger", compact=True)
    for r in p["latest_runs"]:
        runs.add_row(r["run_id"][:8], r["job"], _styled(r["status"], RESULT_STYLE), r["start"] or "—",
                     _secs(r["duration_s"]), r["trigger"])
    return Group(Text.from_markup(f"[bold]exo flows monitor[/] — {p['home']} — {p['checked_at']}"), ks,
                 Text.from_markup(daemon), flows_table(p["flows"], "Sensors and schedules"), runs)


@flows.command("stop")
@click.option("--flow", "name", required=True, help="The flow to stop: intraday-watch (the session's watcher).")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for the watcher's run to end.")
@json_option
@pass_home
def stop_cmd(home: Home, name: str, wait_s: float, as_json: bool) -> None:
    """Stop the intraday watcher: it finishes its current tick and its run ends (then `exo run`,
    `exo data repair` and the per-batch runs can use the warehouse again)."""
    from mech_exo.flows.run import watcher_run_id
    from mech_exo.watch import stop_file

    if name.replace("-", "_") != "intraday_watch":
        raise ExoError(f"only the intraday watcher can be stopped this way, not {name!r} "
                       "(jobs end by themselves; sensors and schedules are turned off in the Dagster UI)")
    run_id = watcher_run_id(home)
    if run_id is None:
        out = {"flow": "intraday_watch", "running": False, "stopped": False}
    else:
        stop_file(home).parent.mkdir(parents=True, exist_ok=True)
        stop_file(home).write_text(f"requested by the CLI at {datetime.now().isoformat()}\n")
        deadline = time.monotonic() + wait_s
        while watcher_run_id(home) and time.monotonic() < deadline:
            time.sleep(0.5)
        still = watcher_run_id(home)
        out = {"flow": "intraday_watch", "running": bool(still), "stopped": not still, "run_id": run_id}
    if as_json:
        emit_json(out)
    elif not out["running"] and not out.get("run_id"):
        console().print("intraday watcher: not running")
    elif out["stopped"]:
        console().print(f"intraday watcher stopped (run {run_id[:8]})")
    if out["running"]:
        raise ExoError(f"the intraday watcher (run {run_id[:8]}) was asked to stop but is still running "
                       f"after {wait_s:g}s; it stops after its current tick")


@flows.command("monitor")
@click.option("--live", is_flag=True, help="Keep refreshing until Ctrl-C (or --for).")
@click.option("--for", "for_s", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=5.0, show_default=True,
              help="Seconds between refreshes.")
@json_option
@pass_home
def monitor_cmd(home: Home, live: bool, for_s: float | None, interval: float, as_json: bool) -> None:
    """Sensors, schedules, latest runs and the kill-switch; --live refreshes every --interval seconds."""
    fs = _flowset(home)
    if as_json:
        emit_json(fs.overview())
        return
    c = console()
    if not live:
        c.print(monitor_view(fs.overview()))
        return
    from rich.live import Live

    deadline = None if for_s is None else time.monotonic() + for_s
    try:
        with Live(monitor_view(fs.overview()), console=c, refresh_per_second=4, auto_refresh=False) as view:
            while deadline is None or time.monotonic() < deadline:
                left = interval if deadline is None else min(interval, deadline - time.monotonic())
                time.sleep(max(left, 0))
                if deadline is not None and time.monotonic() >= deadline:
                    break
                view.update(monitor_view(fs.overview()), refresh=True)
    except KeyboardInterrupt:
        pass


# --- dev -------------------------------------------------------------------------------------------

@flows.command("dev")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="UI port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface of the UI (loopback by default).")
@click.option("--print", "print_only", is_flag=True, help="Print the command line and environment; do not start.")
@json_option
@pass_home
def dev_cmd(home: Home, port: int, host: str, print_only: bool, as_json: bool) -> None:
    """Start `dagster dev` (UI + daemon) for this home, in the foreground; Ctrl-C stops it."""
    from mech_exo.flows import dev_command

    if not home.risk_yml.exists():
        raise ExoError(f"{home.root} is not a home (no config/risk.yml) — run `exo init` first")
    cmd = dev_command(home, port=port, host=host)
    if as_json or print_only:
        if as_json:
            emit_json(cmd.describe())
        else:
            click.echo(f"cd {cmd.cwd} && EXO_HOME={cmd.env['EXO_HOME']} DAGSTER_HOME={cmd.env['DAGSTER_HOME']} "
                       + " ".join(cmd.argv))
        return
    click.echo(f"dagster dev for {home.root}: http://{host}:{port}  (DAGSTER_HOME={cmd.env['DAGSTER_HOME']}; Ctrl-C stops)",
               err=True)
    try:
        proc = subprocess.Popen(cmd.argv, env=cmd.env, cwd=cmd.cwd)
    except OSError as exc:
        raise ExoError(f"cannot start {cmd.argv[0]}: {exc}") from None
    try:
        rc = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too (same group); SIGTERM (exo's) may not have
        proc.terminate()
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    sys.exit(0 if rc in (0, -2, -15, 130) else rc)
