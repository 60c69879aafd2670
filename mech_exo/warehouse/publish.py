"""Publish: the finished build becomes ``data/analytics.duckdb``, the snapshot every reader opens.

The snapshot is self-contained: dbt's staging *views* read landing Parquet and event files by the
build home's absolute paths, so publishing turns every view into a table in the copy. A moved or
restored home then reads its own data, and a copied one never reads another home's files. The
event models are views too: between builds, every event write refreshes them in the snapshot
(``mech_exo.snapshot``).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from mech_exo.home import Home
from mech_exo.snapshot import materialize_views, publish_lock, replace, tmp_path
from mech_exo.warehouse import PipelineError
from mech_exo.warehouse.storage import connect_build


def publish(home: Home) -> Path:
    """Copy the finished build to ``data/analytics.duckdb`` atomically.

    A reader that has the old snapshot open keeps reading it (rename does not disturb an open
    file); the next reader gets the new one. The build is checkpointed first so the copy holds
    everything (no WAL is copied).
    """
    src = home.build_db
    if not src.exists():
        raise PipelineError(f"publish: {src} does not exist — the build has not run")
    con = connect_build(home)
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    with publish_lock(home):   # an event refresh (mech_exo.snapshot) replaces the snapshot too
        tmp = tmp_path(home)
        shutil.copyfile(src, tmp)
        materialize_views(tmp, home.events_dir)
        return replace(home, tmp)
