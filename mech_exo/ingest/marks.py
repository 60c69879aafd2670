"""Mark files as landing files: one landing file per input file, re-landed whole when it changed.

Duplicate marks: a mark is the price of a symbol at an instant, so two rows with the same
``(ts, symbol)`` must agree. Identical duplicates inside one file are removed at landing (kept: the
first row; the count is a warning). Identical duplicates *across* files are kept in each file's
landing file (each landing file mirrors one input file, which is what makes incremental re-landing
possible) — ``(ts, symbol)`` is unique within a landing file and, across landing files, duplicates
always carry the same price, so staging can de-duplicate exactly. Duplicates whose prices differ,
within or across files, are violations naming both rows.

Change detection: ``_state.json`` keeps a fingerprint (size, mtime_ns, sha256) per mark file. A file
whose size and mtime are unchanged is not read at all; one whose bytes hash the same is not
re-parsed; anything else is re-landed whole under the same key with the run's ``landed_seq``.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mech_exo.home import Home
from mech_exo.ingest.files import iso, ts_array
from mech_exo.ingest.files import rel as rel_path
from mech_exo.ingest.mark_rows import read_csv_marks, read_parquet_marks, validate_marks
from mech_exo.ingest.schemas import MARK_SUFFIXES, MARKS_SCHEMA, TS
from mech_exo.ingest.violations import MAX_KEPT_PER_RULE, Collector


@dataclass
class MarkFile:
    """One input file under data/market/: unchanged (not re-read) or changed (parsed into ``frame``)."""

    rel: str
    path: Path
    key: str
    fingerprint: dict[str, Any]
    changed: bool
    frame: pd.DataFrame | None = None   # validated rows of a changed file: ts (int64 µs), symbol, price, source_row
    duplicates_removed: int = 0


def mark_key(rel: str) -> str:
    """Stable landing name for an input file (``rel``: its path under data/market): readable, and
    unique even for ``a/b.csv`` vs ``a__b.csv``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__"))
    return f"{safe}-{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:8]}"


def discover_mark_files(home: Home, warnings: list[str]) -> list[Path]:
    if not home.market_dir.exists():
        warnings.append(f"{rel_path(home, home.market_dir)} does not exist: no marks")
        return []
    found, ignored = [], []
    for p in sorted(home.market_dir.rglob("*")):
        if not p.is_file():
            continue
        hidden = any(part.startswith(".") for part in p.relative_to(home.market_dir).parts)
        (found if p.suffix.lower() in MARK_SUFFIXES and not hidden else ignored).append(p)
    if ignored:
        names = ", ".join(rel_path(home, p) for p in ignored[:5]) + (" ..." if len(ignored) > 5 else "")
        warnings.append(f"ignored {len(ignored)} file(s) under {rel_path(home, home.market_dir)} that are "
                        f"hidden or not *.csv/*.parquet: {names}")
    return found


def dedupe_within_file(mf: MarkFile, col: Collector) -> None:
    """Identical duplicates: keep the first row. Conflicting ones: a violation for each later row."""
    df = mf.frame
    dup = df.duplicated(["ts", "symbol"], keep=False).to_numpy()
    if not dup.any():
        return
    sub = df[dup]
    first = sub.groupby(["ts", "symbol"], sort=False).first()
    joined = sub.merge(first.reset_index(), how="left", on=["ts", "symbol"], suffixes=("", "_first"))
    conflict = joined[(joined["price"] != joined["price_first"])]
    for r in conflict.head(MAX_KEPT_PER_RULE * 5).itertuples():
        col.add(mf.rel, int(r.source_row), "conflicting duplicate mark for the same (ts, symbol)", float(r.price),
                key=f"ts={iso(int(r.ts))}, symbol={r.symbol}",
                detail=f"row {int(r.source_row_first)} of the same file has price {r.price_first}")
    later = df.duplicated(["ts", "symbol", "price"], keep="first").to_numpy()
    mf.duplicates_removed = int(later.sum())
    mf.frame = df[~later].reset_index(drop=True)


def load_changed_mark(home: Home, mf: MarkFile, data: bytes, now_us: int, col: Collector) -> None:
    suffix = mf.path.suffix.lower()
    if suffix == ".csv" and (not data or data.isspace()):
        col.add(mf.rel, None, "file is empty (expected a header: ts,symbol,price)", show_value=False)
        return
    raw = read_csv_marks(mf.rel, data, col) if suffix == ".csv" else read_parquet_marks(mf.rel, data, col)
    if raw is None:
        return
    mf.frame = validate_marks(mf.rel, raw, now_us, col)
    if mf.frame is not None:
        dedupe_within_file(mf, col)


def check_across_files(home: Home, marks: list[MarkFile], col: Collector, warnings: list[str]) -> None:
    """A re-landed file may contradict another file's mark for the same (ts, symbol): a violation.

    Only run when something was re-landed; unchanged files were already consistent with each other,
    and of them only the rows inside the fresh files' time range are read (Parquet row-group
    statistics skip the rest): a tick's new file costs its own size, not the history's.
    """
    fresh = [m for m in marks if m.changed and m.frame is not None]
    if not fresh or len(marks) < 2:
        return
    parts = [m.frame.assign(source_file=m.rel) for m in fresh]
    nonempty = [m.frame["ts"] for m in fresh if len(m.frame)]
    if not nonempty:
        return
    lo = pa.scalar(int(min(x.min() for x in nonempty)), TS)
    hi = pa.scalar(int(max(x.max() for x in nonempty)), TS)
    span = [("ts", ">=", lo), ("ts", "<=", hi)]
    for m in marks:
        if not m.changed:
            t = pq.read_table(home.landing_dir / "marks" / f"{m.key}.parquet",
                              columns=["ts", "symbol", "price", "source_row"], filters=span)
            ts = pc.cast(t.column("ts"), pa.int64()).to_numpy()
            parts.append(pd.DataFrame({"ts": ts, "symbol": t.column("symbol").to_numpy(),
                                       "price": t.column("price").to_numpy(),
                                       "source_row": t.column("source_row").to_numpy(), "source_file": m.rel}))
    alls = pd.concat(parts, ignore_index=True)
    dup = alls[alls.duplicated(["ts", "symbol"], keep=False)]
    if dup.empty:
        return
    first = dup.groupby(["ts", "symbol"], sort=False).first()
    joined = dup.merge(first.reset_index(), how="left", on=["ts", "symbol"], suffixes=("", "_first"))
    conflict = joined[joined["price"] != joined["price_first"]]
    for r in conflict.head(MAX_KEPT_PER_RULE * 5).itertuples():
        col.add(r.source_file, int(r.source_row), "conflicting mark across files for the same (ts, symbol)",
                float(r.price), key=f"ts={iso(int(r.ts))}, symbol={r.symbol}",
                detail=f"{r.source_file_first} row {int(r.source_row_first)} has price {r.price_first}")
    identical = len(dup) - dup.groupby(["ts", "symbol"]).ngroups - len(conflict)
    if identical > 0:
        warnings.append(f"{identical} mark(s) repeat the same (ts, symbol, price) as another file; "
                        "kept in each file's landing, de-duplicated downstream")


def plan_marks(home: Home, state: dict | None, now_us: int, col: Collector,
                warnings: list[str]) -> list[MarkFile]:
    """Decide per file: unchanged (not even read when size+mtime match) or changed (parsed now)."""
    known = (state or {}).get("marks", {})
    out = []
    for path in discover_mark_files(home, warnings):
        rel = rel_path(home, path)
        st = path.stat()
        prev = known.get(rel)
        key = mark_key(path.relative_to(home.market_dir).as_posix())
        landed = (home.landing_dir / "marks" / f"{key}.parquet").exists()
        if prev and landed and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns:
            out.append(MarkFile(rel, path, key, dict(prev), changed=False))
            continue
        data = path.read_bytes()
        fp = {"size": len(data), "mtime_ns": st.st_mtime_ns, "sha256": hashlib.sha256(data).hexdigest()}
        if prev and landed and prev["sha256"] == fp["sha256"]:  # touched, same bytes
            out.append(MarkFile(rel, path, key, {**prev, **fp}, changed=False))
            continue
        mf = MarkFile(rel, path, key, fp, changed=True)
        load_changed_mark(home, mf, data, now_us, col)
        out.append(mf)
    return out


def mark_landing_table(mf: MarkFile, seq: int) -> pa.Table:
    df = mf.frame
    n = len(df)
    return pa.Table.from_arrays([
        ts_array(df["ts"].to_numpy()), pa.array(df["symbol"].to_numpy(), pa.string()),
        pa.array(df["price"].to_numpy(), pa.float64()), pa.array([mf.rel] * n, pa.string()) if n else pa.array([], pa.string()),
        pa.array(df["source_row"].to_numpy(), pa.int64()), pa.array(np.full(n, seq, dtype=np.int64)),
    ], schema=MARKS_SCHEMA)
