"""Benchmark: ingest of a SPEC §9 book's fills — full, a tick, a late correction — now vs a baseline.

Not a test (no timed tests): prints figures and ratios; asserts only that both versions landed the
same number of fills. The baseline is another checkout's ``mech_exo`` (default: git ``main``,
exported with ``git archive`` into a temp dir), measured in the same run on a copy of the same
trading.db. Every measured step runs in its own process, so "peak RSS" is that step's alone.

    .venv/bin/python scripts/bench_ingest.py [--tier S|M|L] [--baseline REV | --no-baseline] [--marks ROWS]

A tick = 100 new fills (SPEC §9); a correction = one fill of the first session re-priced, plus the
tick's 100 fills. ``--marks`` adds one CSV mark file of that many rows (mixed ts spellings) to the
home, to time the mark path as well.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from scale_book import TIERS, append, fills_table, write_book  # noqa: E402

NOW = "2030-01-01T00:00:00+00:00"
STEP = """
import json, sys, time
from datetime import datetime
sys.path.insert(0, {code!r})
from mech_exo.home import Home
from mech_exo.ingest import ingest
from pathlib import Path
t0 = time.perf_counter()
r = ingest(Home(Path({home!r})), now=datetime.fromisoformat({now!r}))
dt = time.perf_counter() - t0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]  # this process only
print(json.dumps({{"s": dt, "rss_mb": int(hwm) / 1024,
                  "n_fills": r.n_fills, "dirty_from": str(r.dirty_from)}}))
"""


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
    pd.DataFrame({"ts": text, "symbol": symbols, "price": np.round(rng.uniform(10, 500, rows), 4)}).to_csv(
        path, index=False)


def step(code: Path, home: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", STEP.format(code=str(code), home=str(home), now=NOW)],
                         capture_output=True, text=True, cwd=code)
    if out.returncode != 0:
        raise SystemExit(f"ingest failed in {code}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def tick(db: Path, tier, k: int) -> None:
    """100 new fills on a day after the book's last session (ids that cannot clash)."""
    days = np.array([np.datetime64("2026-03-09") + k], dtype="datetime64[D]")
    t = fills_table(type(tier)(tier.symbols, 1, 100), seed=100 + k, start_id=10**9 + 100 * k, days=days)
    append(db, "fills", t)


def correct(db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE fills SET price = price + 0.01 WHERE rowid = 17")
    con.close()


def export(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mech_exo"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def run(label: str, code: Path, home: Path, tier) -> dict[str, dict]:
    res = {"full": step(code, home)}
    tick(home / "data" / "trading.db", tier, 1)
    res["tick"] = step(code, home)
    correct(home / "data" / "trading.db")
    tick(home / "data" / "trading.db", tier, 2)
    res["correction"] = step(code, home)
    for k, v in res.items():
        print(f"  {label:9s} {k:10s} {v['s']:8.2f} s   peak RSS {v['rss_mb']:8.0f} MB   "
              f"{v['n_fills']:>10,} fills   dirty from {v['dirty_from']}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=sorted(TIERS), default="M")
    ap.add_argument("--baseline", default="main", help="git revision to compare with (default: main)")
    ap.add_argument("--no-baseline", action="store_true", help="skip it (L: the old ingest needs ~33 GB)")
    ap.add_argument("--marks", type=int, default=0, help="rows of one CSV mark file to add (default 0)")
    a = ap.parse_args()
    tier = TIERS[a.tier]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        src = tmp / "book" / "data" / "trading.db"
        n = write_book(src, a.tier)
        if a.marks:
            (tmp / "book" / "data" / "market").mkdir(parents=True)
            build_csv(tmp / "book" / "data" / "market" / "marks.csv", a.marks)
        print(f"tier {a.tier}: {n:,} fills ({src.stat().st_size / 1e6:.0f} MB trading.db)"
              + (f", {a.marks:,} marks" if a.marks else "") + f", built in {time.perf_counter() - t0:.1f}s")
        homes = {}
        for label in ["now"] + ([] if a.no_baseline else ["baseline"]):
            homes[label] = tmp / label
            shutil.copytree(tmp / "book", homes[label])
        results = {"now": run("now", ROOT, homes["now"], tier)}
        if not a.no_baseline:
            code = export(a.baseline, tmp / "baseline-code")
            results["baseline"] = run(f"{a.baseline}", code, homes["baseline"], tier)
            print(f"ratios now / {a.baseline} (lower is better):")
            for k in ("full", "tick", "correction"):
                now, base = results["now"][k], results["baseline"][k]
                assert now["n_fills"] == base["n_fills"], (k, now, base)
                print(f"  {k:10s} time {now['s'] / base['s']:6.3f}   peak RSS {now['rss_mb'] / base['rss_mb']:6.3f}"
                      f"   ({base['s'] / now['s']:.1f}x faster)")


if __name__ == "__main__":
    main()
