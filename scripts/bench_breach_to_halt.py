"""Benchmark: time from a breaching batch landing in the inputs to `trading_enabled: false` on disk,
through the real Dagster paths:

* ``watcher`` — the session's ``intraday_watch`` run (started with `dagster job execute` on the
  home's instance, as its schedule would at the open) ticks on the new file: ingest → dbt build →
  publish → guard step → kill-switch write, in a warm process.
* ``per-batch`` — `dagster-daemon` running, no watcher: input_watch sensor → queued data_pipeline
  run → run worker → the same steps.

Prints figures; asserts nothing. Takes a few minutes.

    .venv/bin/python scripts/bench_breach_to_halt.py [--repeats 3] [--paths watcher per-batch]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mech_exo.demo_data import write_demo_inputs  # noqa: E402
from mech_exo.flows.run import run_pipeline  # noqa: E402
from mech_exo.home import Home, init_home  # noqa: E402
from mech_exo.instance import ensure_instance_storage, open_instance  # noqa: E402
from mech_exo.killswitch import set_trading  # noqa: E402

LAST = date(2026, 11, 20)
CUT = pd.Timestamp("2026-11-20T15:30:00Z")  # before the demo's crash (first below −0.8 % at 16:05Z)


def hold_back_crash(home: Home) -> pd.DataFrame:
    """Remove the last session's marks from CUT on; return them (the breaching batch)."""
    held = []
    for path in sorted(home.market_dir.rglob("*.csv")) + sorted(home.market_dir.rglob("*.parquet")):
        df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        ts = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
        late = ts >= CUT
        if late.any():
            held.append(df[late].assign(ts=ts[late].dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
            kept = df[~late]
            kept.to_csv(path, index=False) if path.suffix == ".csv" else kept.to_parquet(path, index=False)
    return pd.concat(held).sort_values("ts")


def trading_enabled(home: Home) -> bool:
    try:
        return bool(yaml.safe_load(home.killswitch_yml.read_text())["trading_enabled"])
    except Exception:  # noqa: BLE001 — mid-rename: try again
        return True


def wait_for(pred, timeout: float, step: float = 0.05) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if pred():
            return time.perf_counter() - t0
        time.sleep(step)
    return None


def runs_finished(home: Home) -> int:
    from dagster import DagsterRunStatus, RunsFilter

    with open_instance(home) as inst:
        return len(inst.get_run_records(RunsFilter(statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE])))


def prepared_home(tmp: str) -> tuple[Home, pd.DataFrame]:
    home = Home(Path(tmp) / "home")
    init_home(home)
    write_demo_inputs(home, end_date=LAST)
    batch = hold_back_crash(home)
    report = run_pipeline(home, now=None, guards=False, progress=None)
    assert report.ok, report.error
    set_trading(home, enabled=True, reason="benchmark start", trigger="manual", by="bench")
    return home, batch


def land(home: Home, batch: pd.DataFrame) -> None:
    tmpfile = home.market_dir / ".breach.csv.tmp"
    batch.to_csv(tmpfile, index=False)
    os.replace(tmpfile, home.market_dir / "breach.csv")  # the batch lands atomically


def one_watcher(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home, batch = prepared_home(tmp)
        env = {**os.environ, "EXO_HOME": str(home.root), "DAGSTER_HOME": str(ensure_instance_storage(home))}
        cfg = Path(tmp) / "watch.yaml"
        cfg.write_text("ops:\n  intraday_watch_op:\n    config:\n      max_seconds: 60\n      poll_seconds: 0.5\n")
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m",
                                 "dagster_project.definitions", "-j", "intraday_watch", "-c", str(cfg)],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "watch.log", "w"))
        try:
            checks = home.state_dir / "checks.json"
            first = checks.stat().st_mtime if checks.exists() else 0
            if wait_for(lambda: checks.exists() and checks.stat().st_mtime > first
                        and "outcomes" in checks.read_text() and '"outcomes": []' not in checks.read_text(), 120, 0.2) is None:
                raise RuntimeError("the watcher did not finish its first tick; see watch.log")
            assert trading_enabled(home), "no breach yet: the switch must still be on"
            time.sleep(1)
            land(home, batch)
            elapsed = wait_for(lambda: not trading_enabled(home), 60)
        finally:
            proc.terminate()
            proc.wait(30)
        st = yaml.safe_load(home.killswitch_yml.read_text())
        return {"elapsed": elapsed, "by": st["updated_by"], "reason": st["reason"], "phases": "one warm tick"}


def one(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home, batch = prepared_home(tmp)
        env = {**os.environ, "EXO_HOME": str(home.root), "DAGSTER_HOME": str(ensure_instance_storage(home))}
        daemon = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run",
                                   "-m", "dagster_project.definitions"], cwd=REPO, env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "daemon.log", "w"))
        try:
            # the daemon's first input_watch tick sees a new fingerprint and runs the pipeline once
            base = runs_finished(home)
            if wait_for(lambda: runs_finished(home) > base, 120, 0.5) is None:
                raise RuntimeError("the daemon did not complete its first run; see daemon.log")
            assert trading_enabled(home), "no breach yet: the switch must still be on"
            time.sleep(3)
            land(home, batch)
            t0_wall = time.time()
            elapsed = wait_for(lambda: not trading_enabled(home), 120)
        finally:
            daemon.terminate()
            daemon.wait(30)
        st = yaml.safe_load(home.killswitch_yml.read_text())
        return {"elapsed": elapsed, "by": st["updated_by"], "reason": st["reason"],
                "phases": phases(home, t0_wall)}


def phases(home: Home, t0: float) -> str:
    """Where the time went, from the instance's own records (seconds after the batch landed)."""
    from dagster import AssetKey, RunsFilter

    with open_instance(home) as inst:
        rec = inst.get_run_records(RunsFilter(created_after=datetime.fromtimestamp(t0, timezone.utc)),
                                   limit=1, ascending=True)
        mat = inst.get_latest_materialization_event(AssetKey("analytics_snapshot"))
        if not rec:
            return "no run recorded"
        r = rec[0]
        stats = inst.get_run_stats(r.dagster_run.run_id)
        ended = f"+{stats.end_time - t0:.1f}s" if stats.end_time else "after the halt"
        return (f"run queued +{r.create_timestamp.timestamp() - t0:.1f}s, started +{stats.start_time - t0:.1f}s, "
                f"snapshot published +{mat.timestamp - t0:.1f}s, run ended {ended}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", nargs="+", default=["watcher", "per-batch"], choices=["watcher", "per-batch"])
    args = ap.parse_args()
    for path in args.paths:
        fn = one_watcher if path == "watcher" else one
        times = []
        for i in range(args.repeats):
            r = fn(i)
            times.append(r["elapsed"])
            print(f"[{path}] run {i + 1}: breach landed → trading_enabled false in {r['elapsed']:.2f}s "
                  f"(by {r['by']}: {r['reason']}); {r['phases']}", flush=True)
        ok = [t for t in times if t is not None]
        if ok:
            print(f"[{path}] breach-to-halt: median {statistics.median(ok):.2f}s, max {max(ok):.2f}s "
                  f"over {len(ok)} runs on {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
