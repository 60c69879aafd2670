"""`exo watch` as a user runs it: a real `exo` process on an S-tier home (scripts/scale_inputs.py),
real tick files landing, a real SIGTERM. Timings are the benchmark's (scripts/bench_scale.py);
here: one line per tick, the fast path's halt equal to the full build's, a clean stop."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import scale_inputs  # noqa: E402

EXO = str(Path(sys.executable).with_name("exo"))
NOW = "2026-03-06T21:10:00Z"   # after the generated session's close: no tick is "in the future"


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def _tick_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln.startswith("tick ")] if path.exists() else []


def _switch(home: Path) -> dict:
    try:
        return yaml.safe_load((home / "config" / "killswitch.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


@pytest.fixture
def s_home(tmp_path):
    home = tmp_path / "s_home"
    subprocess.run([EXO, "--home", str(home), "init"], check=True, capture_output=True)
    book = scale_inputs.write_inputs(home, "S")
    return home, book


def test_exo_watch_prints_a_line_per_tick_halts_on_the_fast_path_and_stops_on_sigterm(s_home, tmp_path):
    home, book = s_home
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([EXO, "--home", str(home), "watch", "--for", "300", "--poll", "0.2", "--now", NOW],
                                stdout=o, stderr=e, env={**os.environ, "EXO_HOME": str(home)},
                                start_new_session=True)
    try:
        # the first tick builds everything (no build database yet): no fast path possible
        first = _wait(lambda: _tick_lines(out), 180, "the first tick line")[0]
        assert re.match(r"tick \d\d:\d\d:\d\dZ  .* → .* · \d+\.\d\d s", first), first
        assert _switch(home).get("trading_enabled") is True

        scale_inputs.tick(home, book, 1)
        second = _wait(lambda: _tick_lines(out)[1:], 120, "the quiet tick's line")[0]
        assert "100 fills, 1 mark file (35 marks)" in second and "all clear" in second, second
        assert "intraday decision at" in second and "skipped" not in second, second
        assert _switch(home).get("trading_enabled") is True

        scale_inputs.tick(home, book, 2, breach=True, drop=0.05)
        third = _wait(lambda: _tick_lines(out)[2:], 120, "the breach tick's line")[0]
        assert "HALTED intraday-pnl-sentinel: CRITICAL DAY LOSS" in third, third
        st = _switch(home)
        assert st["trading_enabled"] is False and st["updated_by"].startswith("cli:")
        assert st["reason"].startswith("CRITICAL DAY LOSS")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, err.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert "stopping after the tick in progress" in err.read_text()
    assert "watcher ended after 3 ticks" in err.read_text()

    # the halt the fast path made is the full build's own figure (nav_intraday, same session)
    halted_pct = float(re.search(r"CRITICAL DAY LOSS: (-?\d+\.\d\d)%", third).group(1))
    con = duckdb.connect(str(home / "data" / "analytics.duckdb"), read_only=True)
    try:
        worst = con.execute("select min(day_return) from nav_intraday where session_date = "
                            "(select max(session_date) from nav_intraday)").fetchone()[0]
    finally:
        con.close()
    assert round(worst * 100, 2) == halted_pct

    # and the run is on the home's Dagster instance like any other, ended cleanly
    runs = subprocess.run([EXO, "--home", str(home), "flows", "runs", "--flow", "intraday-watch", "--json"],
                          capture_output=True, text=True, check=True)
    assert '"SUCCESS"' in runs.stdout and '"exo watch"' in runs.stdout
