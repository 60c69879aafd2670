"""Small file helpers shared by the landing writers: home-relative names and atomic writes."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mech_exo.home import Home
from mech_exo.ingest.schemas import TS
from mech_exo.timeparse import micros_to_datetime


def rel(home: Home, path: Path) -> str:
    try:
        return path.relative_to(home.root).as_posix()
    except ValueError:
        return str(path)


def ts_array(micros: np.ndarray | list[int]) -> pa.Array:
    return pa.array(np.asarray(micros, dtype=np.int64), pa.int64()).cast(TS)


def iso(micros: int) -> str:
    return micros_to_datetime(micros).isoformat().replace("+00:00", "Z")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Readers (dbt) see the old file or the new one, never a torn one: temp + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_parquet_durable(table, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_parquet_durable(table: pa.Table, path: Path) -> None:
    """Write and fsync ``path`` itself (the caller renames it into place)."""
    with open(path, "wb") as fh:
        pq.write_table(table, fh)
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomic(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
