"""``data/landing/_state.json`` (what was landed: mark fingerprints, table blocks, last seq) and
``batches.parquet`` (one row per run: what changed, for dbt's incremental models).

Version 2 adds ``tables`` (fills / cash_flows blocks, table_blocks.py). A version-1 state still
gives its mark fingerprints; its tables were full snapshots, so they are re-landed as blocks and
the run is a full refresh.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mech_exo.home import Home
from mech_exo.ingest.files import rel, write_parquet_atomic
from mech_exo.ingest.schemas import BATCHES_SCHEMA

STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)


def load_state(home: Home, warnings: list[str]) -> dict | None:
    path = home.landing_dir / "_state.json"
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("version") not in READABLE_VERSIONS or not isinstance(state.get("marks"), dict):
            raise ValueError("unexpected layout")
        if not isinstance(state.get("tables", {}), dict):
            raise ValueError("unexpected layout of 'tables'")
        return state
    except (ValueError, OSError) as exc:
        warnings.append(f"{rel(home, path)} unreadable ({exc}); re-landing everything with a full refresh")
        return None


def next_seq(home: Home, state: dict | None) -> int:
    """Monotonic across runs even if ``_state.json`` was lost: also look at batches.parquet."""
    last = int((state or {}).get("last_seq", 0))
    path = home.landing_dir / "batches.parquet"
    if path.exists():
        seqs = pq.read_table(path, columns=["landed_seq"]).column("landed_seq")
        if len(seqs):
            last = max(last, int(pc.max(seqs).as_py()))
    return last + 1


def append_batch(home: Home, row: dict[str, Any]) -> None:
    path = home.landing_dir / "batches.parquet"
    new = pa.Table.from_pylist([row], schema=BATCHES_SCHEMA)
    if path.exists():
        try:
            old = pq.read_table(path).select(BATCHES_SCHEMA.names).cast(BATCHES_SCHEMA)
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise RuntimeError(f"{rel(home, path)}: cannot append the batch row ({exc}); "
                               "move the file aside to start a new batch history") from None
        new = pa.concat_tables([old, new])
    write_parquet_atomic(new, path)
