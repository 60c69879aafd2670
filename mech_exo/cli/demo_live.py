"""`exo demo --live`: the demo's last session played in accelerated time, with the watcher running.

The inputs are the demo's own (``mech_exo.demo_data.live``): the home is built without its last
session (green), then that session's 5-minute marks, fills and flows arrive as its clock passes
their time, ``--speed`` times faster than real time (60: a 6.5-hour session in 6.5 minutes). The
session watcher (`exo watch`, in a process group of its own) runs meanwhile, judging each point as it lands: the
crash trips the intraday stop, trading halts, the alert goes out (Telegram when configured). Open
the dashboard to watch it; ack and re-enable as the run-book says.
"""
from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from mech_exo.cli.common import ExoError
from mech_exo.home import Home


def hold_last_session(home: Home, story: dict[str, Any]):
    """Hold the story's last session back; returns (Held, the session before it)."""
    from mech_exo.config import load_risk_config
    from mech_exo.demo_data import session_calendar
    from mech_exo.demo_data.live import hold_back
    from mech_exo.session_calendar import close_at

    last = date.fromisoformat(story["last_session"])
    prev = session_calendar(last - timedelta(days=14), last)[-2]
    session = load_risk_config(home.risk_yml)["session"]
    return hold_back(home, last, close_at(prev, session)), prev


def play(home: Home, held, speed: float, c) -> dict[str, Any]:
    """Release the held session at ``speed``× while the watcher runs; returns what happened.

    The watcher is `exo watch` in a process (and process group) of its own, judging as of the
    session's close: its tick lines go to this terminal, and when the session has played it is
    asked to stop (SIGTERM: after the tick in progress) and its group is then ended, so nothing it
    started (Dagster's log mirrors) outlives the demo."""
    import os
    import signal
    import subprocess

    from mech_exo.alerts import alert_history
    from mech_exo.cli.times import session_zone, when
    from mech_exo.config import load_risk_config
    from mech_exo.events import iso_utc
    from mech_exo.killswitch import read_state
    from mech_exo.session_calendar import after_close, open_at
    from mech_exo.watch import stop_file

    session = load_risk_config(home.risk_yml)["session"]
    zone = session_zone(home)
    opened, judged_at = open_at(held.day, session), after_close(held.day, session, 10)
    wall_span = (held.points[-1] - opened).total_seconds() / speed
    stop_file(home).unlink(missing_ok=True)
    exo = _exo()
    watcher = subprocess.Popen([*exo, "--home", str(home.root), "watch", "--for", f"{wall_span + 600:.0f}",
                                "--poll", "0.2", "--now", iso_utc(judged_at)], start_new_session=True)
    started = time.time()
    c.print(f"[bold]live[/]: session {held.day} at {speed:g}× ({len(held.points)} mark times over "
            f"{wall_span:.0f} s) — `exo dashboard restart` and open http://127.0.0.1:8050/dashboard/risk-live")
    t0 = time.monotonic()
    halted_at = None
    try:
        for p in held.points:
            due = t0 + (p - opened).total_seconds() / speed
            while time.monotonic() < due:
                if watcher.poll() is not None:
                    raise ExoError(f"the watcher ended early (exit {watcher.returncode}): see "
                                   f"{home.warehouse_dir / 'last_run.log'}")
                time.sleep(min(0.1, max(0.0, due - time.monotonic())))
            got = held.release_until(p)
            extra = "".join(f", {got[k]} {k}" for k in ("fills", "flows") if got[k])
            c.print(f"  {when(p, zone)}: marks for {held.marks.num_rows // len(held.points)} symbols{extra}")
            st = read_state(home)
            if halted_at is None and st.readable and not st.trading_enabled:
                halted_at = p
                c.print(f"[bold red]TRADING HALTED[/] ({st.trigger}: {st.reason}) — ack the alert "
                        "(`exo alerts history`, `exo alerts ack ID --by NAME`), then `exo kill on --reason …`")
    finally:
        held.release_until(held.points[-1])  # interrupted or not, the home ends with the whole session
        if watcher.poll() is None:
            _settle(home, started)
            watcher.send_signal(signal.SIGTERM)  # `exo watch` stops after the tick in progress
            try:
                watcher.wait(120)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(watcher.pid, signal.SIGKILL)  # what the watcher started and left (log mirrors)
        except (ProcessLookupError, PermissionError):
            pass
        watcher.wait()
    st = read_state(home)
    critical = [a for a in alert_history(home, hours=24) if a["severity"] == "CRITICAL"]
    return {"day": str(held.day), "speed": speed, "halted": not st.trading_enabled, "trigger": st.trigger,
            "reason": st.reason, "critical_alerts": [a["alert_id"] for a in critical],
            "watcher_exit": watcher.returncode}


def _exo() -> list[str]:
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("exo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mech_exo.cli.main"]


def _settle(home: Home, since: float, wait_s: float = 30.0) -> None:
    """Give the watcher the time to land what was released last: until its ingest record is newer
    than the last file written (the tick that landed it then judges it before the stop is read), or
    ``wait_s``."""
    newest = max((p.stat().st_mtime for p in (home.market_dir / "intraday").glob("live_*.csv")), default=since)
    record = home.state_dir / "ingest.json"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if record.exists() and record.stat().st_mtime > newest:
            return
        time.sleep(0.5)
