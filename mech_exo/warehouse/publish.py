"""Publish: the finished build becomes ``data/analytics.duckdb``, the snapshot every reader opens.

The snapshot is self-contained: dbt's staging *views* read landing Parquet and event files by the
build home's absolute paths, so publishing turns every view into a table in the copy. A moved or
restored home then reads its own data, and a copied one never reads another home's files.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from mech_exo.home import Home
from mech_exo.warehouse import PipelineError


def publish(home: Home) -> Path:
    """Copy the finished build to ``data/analytics.duckdb`` atomically.

    A reader that has the old snapshot open keeps reading it (rename does not disturb an open
    file); the next reader gets the new one. The build is checkpointed first so the copy holds
    everything (no WAL is copied).
    """
    import duckdb

    src = home.build_db
    if not src.exists():
        raise PipelineError(f"publish: {src} does not exist — the build has not run")
    con = duckdb.connect(str(src))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    tmp = home.analytics_db.with_name(home.analytics_db.name + ".tmp")
    shutil.copyfile(src, tmp)
    materialize_views(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, home.analytics_db)
    return home.analytics_db


def materialize_views(path: Path) -> list[str]:
    """Replace every view in the DuckDB file ``path`` by a table of its rows, in one transaction.
    Views read files by absolute path (dbt staging over landing Parquet and event logs); the
    snapshot must not. Returns the names it materialised."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        views = con.execute("select schema_name, view_name from duckdb_views() where not internal "
                            "and not temporary order by view_name").fetchall()
        con.execute("begin")
        for schema, name in views:
            con.execute(f'create table "{schema}"."__published_{name}" as select * from "{schema}"."{name}"')
        pending = list(views)
        while pending:  # a view another view reads is dropped after its reader
            left = []
            for schema, name in pending:
                try:
                    con.execute(f'drop view "{schema}"."{name}"')
                except duckdb.DependencyException:
                    left.append((schema, name))
            if len(left) == len(pending):
                raise PipelineError(f"publish: cannot drop views {left} in {path}")
            pending = left
        for schema, name in views:
            con.execute(f'alter table "{schema}"."__published_{name}" rename to "{name}"')
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
    return [name for _, name in views]
