"""The home's Dagster instance, opened one way everywhere.

Why this module: Dagster's SQLite run and schedule storages create their tables and stamp the
alembic revision on first open *without* any guard against a second process (or thread) doing the
same at the same moment. Two first opens racing on a fresh ``<home>/.dagster`` leave two rows in
``alembic_version``, and from then on every open of that instance fails with "Version table
'alembic_version' has more than one head present" — the watcher, `exo run`, `exo flows` and the
daemon all dead on one home. That race is real here: the intraday watcher, an on-call's
`exo flows stop` and `dagster dev` (webserver and daemon start together) all open the instance.

So the first open of a home's instance happens under an exclusive flock and leaves a marker; every
later open skips the lock (the storages then only read the stamped revision). Dagster is imported
lazily: `exo kill status` never pays for it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from mech_exo.home import Home, ensure_dagster_home
from mech_exo.locks import exclusive_lock

if TYPE_CHECKING:
    import dagster as dg

READY_MARKER = ".storage-initialised"
INIT_LOCK = ".storage-init.lock"


def ensure_instance_storage(home: Home) -> None:
    """Create the home's Dagster storages once, serialised across processes and threads."""
    dagster_home = ensure_dagster_home(home)
    marker = dagster_home / READY_MARKER
    if marker.exists():
        return
    import dagster as dg

    with exclusive_lock(dagster_home / INIT_LOCK):
        if marker.exists():  # another opener finished while we waited
            return
        dg.DagsterInstance.from_config(str(dagster_home)).dispose()
        marker.write_text("Dagster storages of this home are created and stamped; see mech_exo/instance.py\n")


def dagster_instance(home: Home) -> "dg.DagsterInstance":
    """The home's instance (the caller disposes it). Safe to call from racing processes."""
    import dagster as dg

    ensure_instance_storage(home)
    return dg.DagsterInstance.from_config(str(home.dagster_home))


@contextmanager
def open_instance(home: Home) -> Iterator["dg.DagsterInstance"]:
    """The home's instance for the block, disposed afterwards."""
    inst = dagster_instance(home)
    try:
        yield inst
    finally:
        inst.dispose()
