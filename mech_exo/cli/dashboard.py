"""`exo dashboard status|restart|stop|health`: the risk dashboard's process, seen from the run-book.

Why these answers: "running" means the recorded process is alive AND its port answers /health —
a pid file alone proves nothing (the process may be dead, or the pid reused). The dashboard is
started detached (its own session, log in data/state/dashboard.log) so it outlives the shell the
on-call typed `exo dashboard restart` in. Nothing here imports Dash. The work is in
``mech_exo.flows`` (dashboard section); the server contract is docs/DASHBOARD.md.
"""
from __future__ import annotations

import sys

import click
from rich.markup import escape

from mech_exo.cli.common import ExoError, console, emit_json, json_option, pass_home
from mech_exo.home import Home

host_option = click.option("--host", default=None,
                           help="Dashboard interface (default: the running one's, else 127.0.0.1).")
port_option = click.option("--port", type=click.IntRange(1, 65535), default=None,
                           help="Dashboard port (default: the running one's, else 8050).")


@click.group("dashboard")
def dashboard() -> None:
    """The risk dashboard: status, restart, stop, health."""


def _uptime(s: float | None) -> str:
    if s is None:
        return "—"
    h, rem = divmod(int(s), 3600)
    return f"{h}h {rem // 60:02d}m {rem % 60:02d}s"


@dashboard.command("status")
@host_option
@port_option
@json_option
@pass_home
def status_cmd(home: Home, host: str | None, port: int | None, as_json: bool) -> None:
    """Is the dashboard running (pid alive and /health answering)? URL, pid, uptime, health.

    Exit 0 when it runs (even if /health says unhealthy: see `exo dashboard health`), 1 when not.
    """
    from mech_exo.flows import dashboard_status

    p = dashboard_status(home, host, port)
    if as_json:
        emit_json(p)
    else:
        c = console()
        if p["running"]:
            health = "[green]healthy[/]" if p["healthy"] else f"[bold red]unhealthy (HTTP {p['health_http']})[/]"
            c.print(f"Dashboard [bold green]RUNNING[/] — {p['url']}")
            c.print(f"  pid {p['pid']}, up {_uptime(p['uptime_s'])} (since {p['started_at']}), health {health}")
        else:
            c.print(f"Dashboard [bold red]NOT RUNNING[/] — {escape(p['problem'])}")
        c.print(f"  pid file {p['pid_file']}")
        if p["problem"] and p["running"]:
            c.print(f"  [yellow]{escape(p['problem'])}[/]")
        if not p["running"]:
            c.print("  start it: `exo dashboard restart`")
    if not p["running"]:
        sys.exit(1)


@dashboard.command("restart")
@host_option
@port_option
@click.option("--wait", "wait_s", type=click.FloatRange(min=1), default=20, show_default=True,
              help="Seconds to wait for /health after starting.")
@json_option
@pass_home
def restart_cmd(home: Home, host: str | None, port: int | None, wait_s: float, as_json: bool) -> None:
    """Stop the running dashboard (SIGTERM, SIGKILL after 10 s), start a detached one, wait for /health."""
    from mech_exo.flows import FlowError, restart_dashboard

    try:
        out = restart_dashboard(home, host, port, wait_s=wait_s)
    except FlowError as exc:
        raise ExoError(str(exc)) from None
    if as_json:
        emit_json(out)
        return
    c = console()
    s = out["stopped"]
    c.print(f"stopped pid {s['stopped']} ({s['signal']})" if s["stopped"] else f"nothing to stop: {s['note']}")
    st = out["started"]
    c.print(f"Dashboard [bold green]started[/]: {out['url']}  (pid {st['pid']}, /health HTTP {st['health_http']} "
            f"after {st['seconds']:.1f} s, log {st['log']})")


@dashboard.command("stop")
@json_option
@pass_home
def stop_cmd(home: Home, as_json: bool) -> None:
    """Stop the running dashboard (SIGTERM, SIGKILL after 10 s)."""
    from mech_exo.flows import stop_dashboard

    out = stop_dashboard(home)
    if as_json:
        emit_json(out)
    else:
        console().print(f"stopped pid {out['stopped']} ({out['signal']})" if out["stopped"]
                        else f"nothing to stop: {out['note']}")


@dashboard.command("health")
@host_option
@port_option
@json_option
@pass_home
def health_cmd(home: Home, host: str | None, port: int | None, as_json: bool) -> None:
    """GET /health and print it. Exit 1 when unhealthy (HTTP 503) or when nothing answers."""
    from mech_exo.flows import dashboard_address, get_health

    host, port, _ = dashboard_address(home, host, port)
    try:
        code, body = get_health(host, port)
    except OSError as exc:
        raise ExoError(f"the dashboard does not answer on http://{host}:{port}/health "
                       f"({getattr(exc, 'reason', exc)}) — start it with `exo dashboard restart`") from None
    if as_json:
        emit_json(body)
    else:
        _print_health(code, body)
    if code != 200:
        if as_json:
            sys.exit(1)
        raise ExoError(f"/health answered HTTP {code}: "
                       + ("; ".join(body.get("problems", [])) if isinstance(body, dict) else str(body))[:500])


def _print_health(code: int, body) -> None:
    c = console()
    if not isinstance(body, dict):
        c.print(f"/health HTTP {code}: {escape(str(body))}")
        return
    style = "bold green" if code == 200 else "bold red"
    c.print(f"Dashboard health: [{style}]{body.get('status', '?').upper()}[/] (HTTP {code}, checked {body.get('checked_at')})")
    db, data, ks, lb = (body.get(k) or {} for k in ("database", "data", "killswitch", "last_build"))
    c.print(f"  database    {'reachable' if db.get('reachable') else '[red]unreachable[/]'} {db.get('path', '')}"
            + escape(f" — {db['error']}" if db.get("error") else ""))
    c.print(f"  data        latest mark {data.get('latest_mark')} ({data.get('age_minutes')} min old, "
            f"max {data.get('max_age_minutes')}; in session: {data.get('in_session')}; stale: {data.get('stale')})")
    trading = "ENABLED" if ks.get("trading_enabled") else "DISABLED"
    c.print(f"  kill-switch {'readable' if ks.get('readable') else '[red]UNREADABLE[/]'}, trading {trading}")
    if lb:
        c.print(f"  last build  {lb.get('finished_at')} ok={lb.get('ok')}"
                + escape(f" failed at {lb.get('failed_step')}: {lb.get('error')}" if lb.get("failed_step") else ""))
    for prob in body.get("problems", []):
        c.print(f"  [red]problem[/] {escape(str(prob))}")
