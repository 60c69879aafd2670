"""Wall time of the on-call's first commands, as real subprocesses of the installed `exo`.

Not a test (timings vary by machine): prints figures so a regression (e.g. a read command that
starts importing dbt, Great Expectations or Dagster) is easy to spot. Usage:

    python scripts/bench_cli.py --home DIR [--runs 10]

Each command is run once untimed first (a cold file cache is not what an on-call meets twice), then
``--runs`` times. The baseline is `exo --version` in the same run: the interpreter and click, what
no command can go below; each command's median is shown as a ratio to it. The target column is
issue #11's: every command here answers in at most 1 s on the demo home. `data validate` meets it
from the second call after a build that did not check every row (the first runs GX: seconds); a
full build (`exo demo`, `exo run --full-refresh`) keeps its result, so it meets it at once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0
BASELINE = ["--version"]
COMMANDS = [
    ["kill", "status"],
    ["flows", "status", "--all"],
    ["flows", "runs", "--flow", "data-pipeline"],
    ["flows", "runs", "--flow", "intraday-pnl-sentinel"],
    ["health", "full-check"],
    ["data", "validate"],
    ["kill", "history", "--days", "7"],
    ["kill", "off", "--reason", "bench", "--dry-run"],
    ["risk", "current"],
    ["positions", "summary"],
    ["monthly", "status"],
    ["nav", "validate", "--range", "month-to-date"],
]


def exo() -> list[str]:
    script = Path(sys.executable).with_name("exo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mech_exo.cli.main"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    def timed(cmd: list[str], home: bool = True) -> tuple[list[float], int]:
        argv = exo() + (["--home", args.home] if home else []) + cmd
        subprocess.run(argv, capture_output=True)  # warm-up, untimed
        times, rc = [], 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rc = subprocess.run(argv, capture_output=True).returncode
            times.append(time.perf_counter() - t0)
        return times, rc

    base, _ = timed(BASELINE, home=False)
    b = statistics.median(base)
    print(f"machine: {os.cpu_count()} cores; baseline `exo --version` median {b:.3f} s ({args.runs} runs)")
    print(f"{'command':45} {'median s':>9} {'max s':>7} {'x base':>7} {'≤1 s':>5}  exit")
    for cmd in COMMANDS:
        times, rc = timed(cmd)
        med = statistics.median(times)
        ok = "yes" if med <= TARGET_S else "NO"
        print(f"{' '.join(cmd):45} {med:9.3f} {max(times):7.3f} {med / b:7.1f} {ok:>5}  {rc}")


if __name__ == "__main__":
    main()
