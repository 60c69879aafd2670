"""The storage format of the build file, so the published snapshot opens in the DuckDB shell.

``profiles.yml`` creates ``build.duckdb`` with ``storage_compatibility_version: v1.5.0``; the
snapshot is a byte copy of it, which the DuckDB shell 1.5.x (``duckdb-cli`` on PyPI, installed by
``make setup``) reads. A file keeps the format it was created with, so a build file made by an
older setup (duckdb 2.0's own format) is retired here — moved aside, not patched — and the next
build rebuilds it in full from the landed data (the build file is derived; landing is the record).
"""
from __future__ import annotations

import struct
from pathlib import Path

from mech_exo.home import Home

SHELL_MAX_FORMAT = 68   # the newest storage format number duckdb-cli 1.5.x opens ("can only read 64-68")
STORAGE_VERSION = "v1.5.0"   # = profiles.yml config_options.storage_compatibility_version (tested)


def connect_build(home: Home):
    """Open the build file as dbt-duckdb does (same config): in a process where dbt has built,
    DuckDB refuses a second connection to the file with a different configuration."""
    import duckdb

    return duckdb.connect(str(home.build_db), config={"storage_compatibility_version": STORAGE_VERSION})


def storage_format(path: Path) -> int | None:
    """The storage format number in a DuckDB file's header (bytes 8-11 ``DUCK``, then a uint64);
    None when ``path`` is missing or is not a DuckDB file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except FileNotFoundError:
        return None
    if len(head) < 20 or head[8:12] != b"DUCK":
        return None
    return struct.unpack("<Q", head[12:20])[0]


def retire_unreadable_build(home: Home) -> str | None:
    """Move a build file the shell could not read (once published) aside as ``*.retired`` so the
    next build starts afresh; returns what it did, or None when there was nothing to do."""
    fmt = storage_format(home.build_db)
    if fmt is None or fmt <= SHELL_MAX_FORMAT:
        return None
    retired = home.build_db.with_name(home.build_db.name + ".retired")
    home.build_db.replace(retired)
    wal = home.build_db.with_name(home.build_db.name + ".wal")
    wal.unlink(missing_ok=True)
    return (f"{home.build_db} was in DuckDB storage format {fmt}, which the DuckDB shell cannot read: "
            f"moved to {retired.name}; this build rebuilds it in full")
