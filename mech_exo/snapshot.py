"""The published snapshot ``data/analytics.duckdb``: who may replace it, and its event tables.

Two writers replace the snapshot, each by copy + atomic rename under ``publish_lock``: the build's
``publish`` (``mech_exo.warehouse.publish``) and ``refresh_events`` here, which re-reads the event
logs (``data/events/*.jsonl``) into the event models (``killswitch_events``, ``alert_log``,
``drill_log``, SPEC §8: "answer up to the second, not as of the last build").

Why a copy and not views: a view in the snapshot would read the logs by absolute path (DuckDB
resolves a relative path against the reader's working directory, not the file's), and the
snapshot must work from any copy or move of the home. So the snapshot stores the SQL of the views
that read the logs (``exo_internal.event_views``, recorded by publish with the events directory
as a placeholder) and a refresh re-runs exactly that SQL — the models' SQL stays in dbt, once.

Every event write goes through ``append`` (the log, then a refresh), so a change is in SQL as soon
as the writer returns. Refreshes coalesce in one background thread per process (a halt writes the
switch, an alert and its delivery within milliseconds: one copy, not three), the process waits
for it at exit, and a refresh that fails (no snapshot yet, full disk) is logged and changes
nothing: the log is the record, and the next build publishes it anyway.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from mech_exo.events import append_event
from mech_exo.home import Home
from mech_exo.locks import exclusive_lock

log = logging.getLogger(__name__)

SCHEMA = "exo_internal"
TABLE = f"{SCHEMA}.event_views"
PUBLICATION = f"{SCHEMA}.publication"   # one row: the id of this publish (event refreshes keep it)
EVENTS_DIR = "{{events_dir}}"   # placeholder for the home's events directory in the stored SQL


def publish_lock(home: Home):
    """Held by whoever replaces ``home.analytics_db`` (publish, refresh_events)."""
    return exclusive_lock(home.warehouse_dir / "publish.lock")


def tmp_path(home: Home) -> Path:
    return home.analytics_db.with_name(home.analytics_db.name + ".tmp")


def replace(home: Home, tmp: Path) -> Path:
    """fsync ``tmp`` and rename it over the snapshot (a reader keeps its open file), and note the
    file as written (``as_written``)."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, home.analytics_db)
    _note_written(home)
    return home.analytics_db


WRITTEN = "snapshot.json"   # in data/state: size and mtime of the snapshot as publish / a refresh left it


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _note_written(home: Home) -> None:
    try:
        home.state_dir.mkdir(parents=True, exist_ok=True)
        out = home.state_dir / WRITTEN
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_stamp(home.analytics_db)))
        os.replace(tmp, out)
    except OSError:
        pass


def as_written(home: Home) -> bool:
    """Is the snapshot the file exo last published or refreshed (not changed since by anyone
    else)? What lets a reader trust results kept for its publish id. A copy of the home keeps the
    file's mtime (cp -p, copytree) and stays trusted."""
    try:
        return json.loads((home.state_dir / WRITTEN).read_text()) == _stamp(home.analytics_db)
    except (OSError, ValueError):
        return False


def event_view_sql(views: list[tuple[str, str]], events_dir: Path) -> list[tuple[str, str]]:
    """The (name, SQL) of the views that read the event logs, directly or through another such
    view, leaves first, with ``events_dir`` replaced by the placeholder. ``views``: (name, SQL)
    of every view in the build (``duckdb_views()``)."""
    root = str(events_dir)
    chain: list[tuple[str, str]] = [(n, s) for n, s in views if root in s]
    left = [(n, s) for n, s in views if root not in s]
    grew = True
    while grew:
        grew = False
        names = "|".join(re.escape(n) for n, _ in chain)
        for n, s in list(left):
            if names and re.search(rf'\b(?:main\.)?"?(?:{names})"?\b', s.split(" AS ", 1)[-1]):
                chain.append((n, s))
                left.remove((n, s))
                grew = True
    return [(n, s.replace(root, EVENTS_DIR)) for n, s in chain]


def record_event_views(con: Any, events_dir: Path) -> None:
    """Store the event views' SQL in the database ``con`` writes (publish, before materialising)."""
    views = con.execute("select view_name, sql from duckdb_views() where not internal and not temporary "
                        "and schema_name = 'main' order by view_name").fetchall()
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create or replace table {TABLE} (seq integer, name varchar, sql varchar)")
    for i, (name, sql) in enumerate(event_view_sql(views, events_dir)):
        con.execute(f"insert into {TABLE} values (?, ?, ?)", [i, name, sql])


def refresh_events(home: Home) -> bool:
    """Re-read the event logs into the snapshot's event tables (copy, rebuild those tables, rename).
    False when there is nothing to refresh (no snapshot yet, or one published before the event
    views were recorded)."""
    if not home.analytics_db.exists():   # before importing duckdb: a home without data pays nothing
        return False
    import duckdb

    with publish_lock(home):
        if not home.analytics_db.exists():
            return False
        tmp = tmp_path(home)
        shutil.copyfile(home.analytics_db, tmp)
        try:
            con = duckdb.connect(str(tmp))
            try:
                has = con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                                  [SCHEMA, TABLE.split(".")[1]]).fetchone()[0]
                rows = con.execute(f"select name, sql from {TABLE} order by seq").fetchall() if has else []
                if not rows:
                    return False
                con.execute("begin")
                for name, _ in reversed(rows):
                    con.execute(f'drop table if exists main."{name}"')
                for _, sql in rows:
                    con.execute(sql.replace(EVENTS_DIR, str(home.events_dir)))
                con.execute("commit")
                _materialize(con, home.events_dir, tmp)
            finally:
                con.close()
            replace(home, tmp)
            return True
        finally:
            tmp.unlink(missing_ok=True)


def materialize_views(path: Path, events_dir: Path) -> list[str]:
    """Replace every view in the DuckDB file ``path`` by a table of its rows, in one transaction,
    after recording the event views' SQL (``record_event_views``). Views read files by absolute
    path (dbt staging over landing Parquet and the event logs); the snapshot must not. Returns the
    names it materialised."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        names = _materialize(con, events_dir, path)
        stamp_publication(con)
        return names
    finally:
        con.close()


def stamp_publication(con: Any) -> str:
    """Give this publish an id (``exo_internal.publication``): what a reader keys results on that
    hold as long as the published models do. Event refreshes copy the file and keep it."""
    import uuid

    pid = uuid.uuid4().hex
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create or replace table {PUBLICATION} as select ? as publish_id, now() as published_at", [pid])
    return pid


def publication_id(con: Any) -> str | None:
    """The publish id of the snapshot ``con`` reads; None for one published before ids existed."""
    try:
        row = con.execute(f"select publish_id from {PUBLICATION}").fetchone()
    except Exception:  # noqa: BLE001 — no such table: an older snapshot
        return None
    return row[0] if row else None


def _materialize(con: Any, events_dir: Path, path: Path) -> list[str]:
    """``materialize_views`` on an open connection (``refresh_events`` re-creates the event views
    and materialises them on the one it already has)."""
    import duckdb

    con.execute("begin")
    record_event_views(con, events_dir)
    views = con.execute("select schema_name, view_name from duckdb_views() where not internal "
                        "and not temporary order by view_name").fetchall()
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
            raise SnapshotError(f"publish: cannot drop views {left} in {path}")
        pending = left
    for schema, name in views:
        con.execute(f'alter table "{schema}"."__published_{name}" rename to "{name}"')
    con.execute("commit")
    con.execute("checkpoint")
    return [name for _, name in views]


class SnapshotError(RuntimeError):
    pass


def events_newer(home: Home) -> bool:
    """An event log was written after the snapshot was (a refresh that failed or has not run yet)."""
    try:
        snap = home.analytics_db.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    logs = home.events_dir.glob("*.jsonl") if home.events_dir.exists() else []
    return any(p.stat().st_mtime_ns > snap for p in logs)


def catch_up(home: Home) -> bool:
    """Refresh now (in this thread) when an event is not in the snapshot yet: for a run that skips
    the build, so its SQL never lags the logs even if a background refresh failed. True if it did."""
    wait_for_refresh()
    return events_newer(home) and _refresh_quietly(home)


def _refresh_quietly(home: Home) -> bool:
    """``refresh_events``, a failure logged, not raised: the log holds the event, the next publish
    or catch-up carries it."""
    try:
        return refresh_events(home)
    except Exception as exc:
        log.warning("event tables of %s not refreshed: %s: %s", home.analytics_db, type(exc).__name__, exc)
        return False


# --- every event write: the log, then the snapshot --------------------------------------------------

def append(home: Home, log_name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Append ``record`` to the home's event log ``log_name`` and bring the snapshot's event tables
    up to it (in the background; ``wait_for_refresh`` / process exit wait for it)."""
    rec = append_event(home.event_log(log_name), record)
    events_changed(home)
    return rec


def events_changed(home: Home) -> None:
    """An event log of ``home`` grew: refresh the snapshot's event tables (in the background)."""
    _refresher(home).request()


class _Refresher:
    """One background refresh per home and process; requests made while one runs coalesce into
    the next."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.lock = threading.Lock()
        self.dirty = False
        self.thread: threading.Thread | None = None
        self.done = threading.Condition(self.lock)

    def request(self) -> None:
        with self.lock:
            self.dirty = True
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="exo-snapshot-events", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.dirty:
                    self.thread = None
                    self.done.notify_all()
                    return
                self.dirty = False
            _refresh_quietly(self.home)

    def wait(self, timeout: float | None) -> bool:
        with self.lock:
            return self.done.wait_for(lambda: self.thread is None, timeout)


_REFRESHERS: dict[Path, _Refresher] = {}
_REFRESHERS_LOCK = threading.Lock()


def _refresher(home: Home) -> _Refresher:
    with _REFRESHERS_LOCK:
        r = _REFRESHERS.get(home.root)
        if r is None:
            r = _REFRESHERS[home.root] = _Refresher(home)
        return r


def wait_for_refresh(timeout: float | None = 60.0) -> bool:
    """Block until every pending event refresh of this process has finished (True) or ``timeout``."""
    with _REFRESHERS_LOCK:
        pending = list(_REFRESHERS.values())
    return all(r.wait(timeout) for r in pending)


atexit.register(wait_for_refresh, 120.0)
