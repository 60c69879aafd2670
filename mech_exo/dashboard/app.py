"""The risk dashboard (Dash): ``python -m mech_exo.dashboard.app --host 127.0.0.1 --port 8050 [--home DIR]``.

Routes:
* ``/dashboard/risk-live`` (also ``/``) — the page (``mech_exo.reporting.dash_layout.risk_live``);
* ``/health`` — JSON health (an HTML view for a browser), HTTP 503 when unhealthy (``mech_exo.dashboard.health``);
* ``/api/risk/current`` — JSON headline risk (schema in docs/DASHBOARD.md).

Binds 127.0.0.1 by default: the page has no authentication, so exposing it on a network interface
must be a deliberate ``--host`` choice (and is announced on stderr). ``serve`` writes
``<home>/data/state/dashboard.pid`` (JSON: pid, host, port, url, home, started_at) so
``exo dashboard status/restart`` can find the process; the file is removed when the server exits.

Both JSON routes accept ``?now=<ISO-8601>`` to judge freshness at another instant (tests, replays);
``create_app(home, now=...)`` pins it for the whole app.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask import Response, request

from mech_exo.events import iso_utc
from mech_exo.home import Home
from mech_exo.reporting.dash_layout.risk_live import CSS, REFRESH_MS, RiskLiveLayout
from mech_exo.reporting.query import RiskQueryEngine, as_json

PAGE_PATHS = ("/", "/dashboard", "/dashboard/", "/dashboard/risk-live", "/dashboard/risk-live/")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PID_FILE_NAME = "dashboard.pid"

INDEX = """<!DOCTYPE html>
<html lang="en">
  <head>
    {%metas%}
    <title>{%title%}</title>
    {%favicon%}
    {%css%}
    <style>""" + CSS + """</style>
  </head>
  <body>
    {%app_entry%}
    <footer>{%config%}{%scripts%}{%renderer%}</footer>
  </body>
</html>"""


class ClockError(ValueError):
    """A ``now`` override that is not an ISO-8601 timestamp."""


def parse_now(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ClockError(f"now={value!r} is not an ISO-8601 timestamp (e.g. 2026-11-20T18:00:00Z)") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(as_json(body), indent=2, allow_nan=False), status=status,
                    mimetype="application/json", headers={"Cache-Control": "no-store"})


def create_app(home: Home | str | os.PathLike | None = None, *, now: datetime | str | None = None,
               refresh_ms: int = REFRESH_MS) -> dash.Dash:
    """The Dash app for one home. ``now`` pins the clock (data age, drill days, /health);
    ``refresh_ms`` is the page's refresh period (30 s; tests shorten it)."""
    home = home if isinstance(home, Home) else Home.resolve(home)
    app = dash.Dash(__name__, title="Mech-Exo · Risk Live", update_title=None,
                    suppress_callback_exceptions=True, serve_locally=True)
    server = app.server
    server.config["EXO_HOME"] = str(home.root)
    server.config["EXO_NOW"] = parse_now(now)
    engine = RiskQueryEngine(home, now=lambda: server.config.get("EXO_NOW"))
    def page_health():
        from mech_exo.dashboard.health import health_report

        return health_report(engine, engine.now())

    page = RiskLiveLayout(engine, refresh_ms=refresh_ms, health=page_health)
    app.index_string = INDEX
    app.layout = html.Div([dcc.Location(id="url", refresh=False), html.Div(id="page")])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def _route(pathname):  # noqa: ANN001
        if pathname in PAGE_PATHS or pathname is None:
            return page.layout()
        return html.Div(className="wrap", children=html.Div(className="card nodata", children=[
            html.H2("Not found"), html.P(f"No page at {pathname}."),
            dcc.Link("Open the risk dashboard", href="/dashboard/risk-live")]))

    page.register_callbacks(app)

    def request_now() -> datetime | None:
        return parse_now(request.args.get("now")) or server.config.get("EXO_NOW")

    @server.route("/health")
    def health():  # noqa: ANN202
        from mech_exo.dashboard.health import health_report

        try:
            now_ = request_now()
        except ClockError as exc:
            return _json({"error": str(exc)}, 400)
        body, ok = health_report(engine, now_)
        fmt = request.args.get("format")
        best = request.accept_mimetypes.best_match(["application/json", "text/html"])
        if fmt == "html" or (fmt is None and best == "text/html"
                             and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]):
            from mech_exo.dashboard.health import render_html

            return Response(render_html(body), status=200 if ok else 503, mimetype="text/html",
                            headers={"Cache-Control": "no-store"})
        return _json(body, 200 if ok else 503)

    @server.route("/api/risk/current")
    def risk_current():  # noqa: ANN202
        try:
            now_ = request_now()
        except ClockError as exc:
            return _json({"error": str(exc)}, 400)
        eng = RiskQueryEngine(home, now=now_) if now_ else engine
        body = eng.get_live_risk_metrics()
        body.pop("session_dates", None)
        status = {"ok": 200, "no_data": 503, "error": 500}.get(body["status"], 500)
        return _json(body, status)

    app.exo_engine = engine  # for tests and the CLI: the engine this app reads through
    return app


# --- serving -----------------------------------------------------------------------------------------

def pid_file(home: Home) -> Path:
    return home.state_dir / PID_FILE_NAME


def read_pid_file(home: Home) -> dict[str, Any] | None:
    """The running dashboard's record (or None). It may be stale: check ``pid`` is alive."""
    try:
        return json.loads(pid_file(home).read_text())
    except (OSError, ValueError):
        return None


def write_pid_file(home: Home, host: str, port: int) -> Path:
    path = pid_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = f"[{host}]" if ":" in host else host
    rec = {"pid": os.getpid(), "host": host, "port": port, "url": f"http://{shown}:{port}/dashboard/risk-live",
           "home": str(home.root), "started_at": iso_utc()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def remove_pid_file(home: Home) -> None:
    """Remove the pid file only if it is ours (a restarted server may already have replaced it)."""
    rec = read_pid_file(home)
    if rec and rec.get("pid") == os.getpid():
        try:
            pid_file(home).unlink()
        except FileNotFoundError:
            pass


def serve(home: Home | str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 8050, *,
          now: datetime | str | None = None) -> None:
    """Run the dashboard until interrupted (SIGINT/SIGTERM), with the pid file written meanwhile."""
    home = home if isinstance(home, Home) else Home.resolve(home)
    app = create_app(home, now=now)
    if host not in LOOPBACK:
        print(f"WARNING: binding the dashboard to {host}: anyone who can reach this host on port {port} "
              "can read the risk page (no authentication).", file=sys.stderr)
    write_pid_file(home, host, port)
    atexit.register(remove_pid_file, home)

    def _term(signum, frame):  # noqa: ANN001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _term)
    print(f"Risk dashboard for {home.root}: http://{host}:{port}/dashboard/risk-live  (Ctrl-C to stop)", flush=True)
    try:
        app.run(host=host, port=port, debug=False)
    finally:
        remove_pid_file(home)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mech_exo.dashboard.app", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    ap.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    ap.add_argument("--home", default=None, help="home directory (default: EXO_HOME or the current directory)")
    ap.add_argument("--now", default=None, help=argparse.SUPPRESS)  # pin the clock: tests and replays
    args = ap.parse_args(argv)
    try:
        serve(args.home, args.host, args.port, now=args.now)
    except ClockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
