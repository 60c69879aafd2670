"""Wall time of the on-call's first commands, as real subprocesses of the installed `exo`.

Not a test (timings vary by machine): prints figures so a regression (e.g. a read command that
starts importing dbt or Dagster) is easy to spot. Usage:

    python scripts/bench_cli.py --home DIR [--runs 10]

`kill status` should stay well under a second; it never opens the snapshot.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [
    ["kill", "status"],
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
    print(f"{'command':45} {'median s':>9} {'max s':>7}  exit")
    for cmd in COMMANDS:
        times, rc = [], None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rc = subprocess.run(exo() + ["--home", args.home] + cmd, capture_output=True).returncode
            times.append(time.perf_counter() - t0)
        print(f"{' '.join(cmd):45} {statistics.median(times):9.3f} {max(times):7.3f}  {rc}")


if __name__ == "__main__":
    main()
