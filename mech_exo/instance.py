"""The home's Dagster instance, opened one way everywhere.

Why this module: Dagster's SQLite run and schedule storages create their tables and stamp the
alembic revision on first open *without* any guard against a second process (or thread) doing the
same at the same moment. Two first opens racing on a fresh ``<home>/.dagster`` leave two rows in
``alembic_version``, and from then on every open of that instance fails with "Version table
'alembic_version' has more than one head present" — the watcher, `exo run`, `exo flows` and the
daemon all dead on one home. That race is real here: the intraday watcher, an on-call's
`exo flows stop` and `dagster dev` (webserver and daemon start together) all open the instance.

So the first open of a home's instance happens under an exclusive flock and leaves a marker; every
later open skips the lock (the storages then only read the stamped revision). A home that the race
already hit (made before this module) is mended on that first locked open when it shows the race's
exact signature (see ``mend_race_stamps``); anything else is not guessed at: the error names the
file. Dagster is imported lazily: `exo kill status` never pays for it.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mech_exo.home import Home, ensure_dagster_home
from mech_exo.locks import exclusive_lock

if TYPE_CHECKING:
    import dagster as dg

READY_MARKER = ".storage-initialised"
INIT_LOCK = ".storage-init.lock"


def ensure_instance_storage(home: Home) -> Path:
    """Create the home's Dagster storages once, serialised across processes and threads; returns
    the DAGSTER_HOME, ready for any number of concurrent opens."""
    dagster_home = ensure_dagster_home(home)
    marker = dagster_home / READY_MARKER
    if marker.exists():
        return dagster_home
    import dagster as dg

    with exclusive_lock(dagster_home / INIT_LOCK):
        if not marker.exists():  # else another opener finished while we waited
            mend_race_stamps(dagster_home)
            dg.DagsterInstance.from_config(str(dagster_home)).dispose()
            marker.write_text("Dagster storages of this home are created and stamped; see mech_exo/instance.py\n")
    return dagster_home


class InstanceStorageError(RuntimeError):
    """A Dagster storage of the home that cannot be opened; the message names the file."""


def _revisions() -> tuple[str, str]:
    """(Dagster's current alembic head, the revision its SQLite storages stamp on a table they take
    for a legacy one)."""
    from alembic.script import ScriptDirectory
    from dagster._core.storage import sqlite as dg_sqlite
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from dagster._core.storage.sql import get_alembic_config

    head = ScriptDirectory.from_config(get_alembic_config(sqlite_run_storage.__file__)).as_revision_number("head")
    return head, dg_sqlite.LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION


def mend_race_stamps(dagster_home: Path) -> list[Path]:
    """Mend what racing first opens leave, and only that; returns the files mended.

    The race's signature: one racer created the tables at head and stamped head, another saw those
    tables without a stamp, took them for a legacy storage and stamped the legacy revision. The
    schema is head's (``create_all`` built it), so the legacy row goes. Any other set of several
    revisions is not guessed at: InstanceStorageError names the file."""
    head, legacy = _revisions()
    mended = []
    for db in sorted(dagster_home.rglob("*.db")):
        with sqlite3.connect(db) as con:
            if not con.execute("select 1 from sqlite_master where type = 'table' and name = 'alembic_version'").fetchone():
                continue
            versions = {r[0] for r in con.execute("select version_num from alembic_version")}
            if len(versions) <= 1:
                continue
            if versions != {head, legacy}:
                raise InstanceStorageError(
                    f"{db}: table alembic_version holds several revisions {sorted(versions)} (head is {head}); "
                    "the Dagster storage is inconsistent — move this .db file aside (the run and tick history "
                    "in it leaves the UI; the audit trail is in data/events/*.jsonl) and the next open recreates it")
            con.execute("delete from alembic_version where version_num = ?", (legacy,))
        mended.append(db)
    return mended


def dagster_instance(home: Home) -> "dg.DagsterInstance":
    """The home's instance (the caller disposes it). Safe to call from racing processes."""
    import dagster as dg

    dagster_home = ensure_instance_storage(home)
    inst = dg.DagsterInstance.from_config(str(dagster_home))
    record_required_daemons(inst, dagster_home)
    return inst


def record_required_daemons(inst, dagster_home: Path) -> None:
    """Keep the daemon types this instance requires beside it, for `exo health full-check`, which
    reads the instance without importing Dagster (``mech_exo.dagster_storage``). Written when
    missing or when dagster.yaml / Dagster's version changed; best effort (a read-only home: the
    health check then asks Dagster itself)."""
    import json
    import os

    from mech_exo.dagster_storage import REQUIRED_DAEMONS_FILE, required_daemons, required_daemons_key

    if required_daemons(dagster_home) is not None:
        return
    try:
        path = dagster_home / REQUIRED_DAEMONS_FILE
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": required_daemons_key(dagster_home),
                                   "daemons": list(inst.get_required_daemon_types())}))
        os.replace(tmp, path)
    except OSError:
        pass


@contextmanager
def open_instance(home: Home) -> Iterator["dg.DagsterInstance"]:
    """The home's instance for the block, disposed afterwards."""
    inst = dagster_instance(home)
    try:
        yield inst
    finally:
        inst.dispose()
