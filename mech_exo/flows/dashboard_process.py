"""The dashboard process as the on-call runs it: start, stop, status, its /health — without Dash.

Contract (docs/DASHBOARD.md): `python -m mech_exo.dashboard.app --host H --port P --home DIR` writes
<home>/data/state/dashboard.pid (JSON: pid, host, port, url, home, started_at) and serves /health
(503 when unhealthy). Read here without importing Dash: status must answer in well under a second.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from mech_exo.events import utc_now
from mech_exo.home import Home
from mech_exo.processes import alive


class FlowError(Exception):
    """A failure the on-call can act on; the message names the flow / file and what to run."""


DASHBOARD_HOST, DASHBOARD_PORT = "127.0.0.1", 8050
DASHBOARD_MODULE = "mech_exo.dashboard.app"


def dashboard_pid_path(home: Home) -> Path:
    return home.state_dir / "dashboard.pid"


def dashboard_log_path(home: Home) -> Path:
    return home.state_dir / "dashboard.log"


def read_dashboard_record(home: Home) -> dict[str, Any] | None:
    try:
        rec = json.loads(dashboard_pid_path(home).read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def pid_alive(pid: int | None) -> bool:
    """Alive and not a zombie (a child we started and stopped is a zombie until reaped: reap it)."""
    return alive(pid)


def is_dashboard_process(pid: int) -> bool:
    """Is ``pid`` really a dashboard? A stale pid file may name a pid the system reused: never
    signal a process we cannot identify (no /proc: trust the file)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    return DASHBOARD_MODULE in cmdline or "mech_exo.dashboard" in cmdline


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def get_health(host: str, port: int, timeout: float = 3.0) -> tuple[int, Any]:
    """GET /health → (HTTP status, parsed JSON or text). Raises OSError when nothing answers."""
    url = f"http://{url_host(host)}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 — loopback URL we built
            code, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:  # 503 carries the JSON that says why
        code, raw = exc.code, exc.read()
    try:
        return code, json.loads(raw)
    except ValueError:
        return code, raw.decode(errors="replace")[:500]


def dashboard_address(home: Home, host: str | None, port: int | None) -> tuple[str, int, dict | None]:
    """Where to look: explicit --host/--port, else the running dashboard's pid file, else 127.0.0.1:8050."""
    rec = read_dashboard_record(home)
    host = host or (rec or {}).get("host") or DASHBOARD_HOST
    port = port or (rec or {}).get("port") or DASHBOARD_PORT
    return host, int(port), rec


def dashboard_status(home: Home, host: str | None = None, port: int | None = None) -> dict[str, Any]:
    """Running = the pid file's process is alive AND the port answers /health (any HTTP status)."""
    host, port, rec = dashboard_address(home, host, port)
    pid = (rec or {}).get("pid")
    running = pid_alive(pid)
    out: dict[str, Any] = {"home": str(home.root), "pid_file": str(dashboard_pid_path(home)), "pid": pid,
                           "pid_alive": running, "stale_pid_file": bool(rec) and not running, "host": host, "port": port,
                           "url": f"http://{url_host(host)}:{port}/dashboard/risk-live",
                           "started_at": (rec or {}).get("started_at"), "uptime_s": None, "health_http": None,
                           "healthy": None, "running": False, "problem": None}
    if rec and running and out["started_at"]:
        started = datetime.fromisoformat(str(out["started_at"]).replace("Z", "+00:00"))
        out["uptime_s"] = round((utc_now() - started).total_seconds(), 1)
    try:
        code, body = get_health(host, port)
        out["health_http"], out["healthy"] = code, code == 200
        out["health"] = body
    except OSError as exc:
        out["health_error"] = str(getattr(exc, "reason", exc))
    out["running"] = running and out["health_http"] is not None
    if not rec:
        out["problem"] = f"no pid file {dashboard_pid_path(home)}" + (
            f" (but something answers /health on {host}:{port}: not started by this home?)" if out["health_http"] else "")
    elif not running:
        out["problem"] = f"stale pid file {dashboard_pid_path(home)}: pid {pid} is not running"
    elif out["health_http"] is None:
        out["problem"] = f"pid {pid} is alive but http://{url_host(host)}:{port}/health does not answer"
    elif not out["healthy"]:
        out["problem"] = f"/health answered HTTP {out['health_http']} (unhealthy)"
    return out


def stop_dashboard(home: Home, timeout: float = 10.0) -> dict[str, Any]:
    """SIGTERM the recorded dashboard, wait, SIGKILL after ``timeout``. Only a process identified
    as a dashboard is signalled; a stale pid file is left for the new server to overwrite."""
    rec = read_dashboard_record(home) or {}
    pid = rec.get("pid")
    if not pid_alive(pid):
        return {"stopped": None, "signal": None, "note": "not running" + (f" (stale pid {pid})" if pid else "")}
    if not is_dashboard_process(pid):
        return {"stopped": None, "signal": None,
                "note": f"pid {pid} from {dashboard_pid_path(home)} is not a dashboard process: left alone"}
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return {"stopped": pid, "signal": "SIGTERM", "note": None}
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.1)
    return {"stopped": pid, "signal": "SIGKILL", "note": f"did not exit within {timeout:g}s of SIGTERM"}


def dashboard_argv(home: Home, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", DASHBOARD_MODULE, "--host", host, "--port", str(port), "--home", str(home.root)]


def _log_tail(path: Path, n: int = 5) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def start_dashboard(home: Home, host: str = DASHBOARD_HOST, port: int = DASHBOARD_PORT,
                    wait_s: float = 20.0) -> dict[str, Any]:
    """Start a detached dashboard (own session: it outlives the CLI), log to data/state/dashboard.log,
    and return once /health answers. Raises FlowError naming the log when it does not come up."""
    home.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = dashboard_log_path(home)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(dashboard_argv(home, host, port), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=str(home.root))
    t0 = time.monotonic()
    while time.monotonic() - t0 < wait_s:
        if proc.poll() is not None:
            raise FlowError(f"the dashboard exited with code {proc.returncode} on {host}:{port}; "
                            f"{log_path}: {_log_tail(log_path)}")
        try:
            code, _ = get_health(host, port, timeout=1.0)
        except OSError:
            time.sleep(0.2)
            continue
        return {"pid": proc.pid, "host": host, "port": port, "url": f"http://{url_host(host)}:{port}/dashboard/risk-live",
                "health_http": code, "log": str(log_path), "seconds": round(time.monotonic() - t0, 1)}
    proc.terminate()
    raise FlowError(f"the dashboard (pid {proc.pid}) did not answer /health on {host}:{port} within {wait_s:g}s "
                    f"(stopped it); {log_path}: {_log_tail(log_path)}")


def restart_dashboard(home: Home, host: str | None = None, port: int | None = None,
                      stop_timeout: float = 10.0, wait_s: float = 20.0) -> dict[str, Any]:
    host, port, _ = dashboard_address(home, host, port)
    stopped = stop_dashboard(home, timeout=stop_timeout)
    started = start_dashboard(home, host, port, wait_s=wait_s)
    return {"stopped": stopped, "started": started, "url": started["url"]}
