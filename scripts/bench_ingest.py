"""Benchmark: ingest of one 1M-row CSV mark file (and a second, unchanged run). Prints figures.

Not a test (no timed tests): run ``.venv/bin/python scripts/bench_ingest.py [ROWS]`` after changing
mech_exo/ingest.py or mech_exo/timeparse.py. Target: a few seconds for 1M rows.
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ingest_fixtures import make_home, write_trading_db  # noqa: E402

from mech_exo.ingest import ingest  # noqa: E402


def build_csv(path: Path, rows: int) -> None:
    """Mixed spellings (Z, +00:00, -05:00 offsets, fractions) so the parser does its real work."""
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2025-01-02T14:30:00Z")
    ts = start + pd.to_timedelta(np.arange(rows) // 20 * 60, unit="s")
    symbols = np.array([f"SYM{i:02d}" for i in range(20)])[np.arange(rows) % 20]
    text = ts.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
    kind = np.arange(rows) % 4
    eastern = (ts - pd.Timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S.250").to_numpy()
    text = np.where(kind == 0, text + "Z", np.where(kind == 1, text + "+00:00",
                    np.where(kind == 2, eastern + "-05:00", text)))
    df = pd.DataFrame({"ts": text, "symbol": symbols, "price": np.round(rng.uniform(10, 500, rows), 4)})
    df.to_csv(path, index=False)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        write_trading_db(home)
        path = home.market_dir / "marks.csv"
        t0 = time.perf_counter()
        build_csv(path, rows)
        print(f"built {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.2f}s")
        now = datetime(2030, 1, 1, tzinfo=timezone.utc)
        for label in ("first ingest (parse + land)", "second ingest (unchanged)"):
            t0 = time.perf_counter()
            result = ingest(home, now=now)
            dt = time.perf_counter() - t0
            print(f"{label}: {dt:.2f}s, {result.n_marks_landed:,} rows landed"
                  + (f", {result.n_marks_landed / dt / 1e6:.2f} M rows/s" if result.n_marks_landed else ""))
        path.touch()
        t0 = time.perf_counter()
        ingest(home, now=now)
        print(f"third ingest (touched, same bytes → hash only): {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
