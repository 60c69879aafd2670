"""Read-only access to the published snapshot ``data/analytics.duckdb``.

Readers never open the build file: the build publishes a finished copy by atomic rename, so a
reader can never take (or wait for) the lock the dbt build needs, and never sees a half build.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from mech_exo.home import Home, resolve_home


class NoData(RuntimeError):
    """The home has no published data yet (or lacks a model): the message says what to run."""


def _which(home: Home) -> str:
    """Where the home came from, when it was not named on the command line (resolve_home's rule)."""
    if resolve_home(None) != home.root:
        return ""
    return " (from EXO_HOME)" if os.environ.get("EXO_HOME") else " (the current directory: EXO_HOME is not set)"


def connect(home: Home):
    import duckdb

    path = home.analytics_db
    if not path.exists():
        if not home.root.is_dir():
            raise NoData(f"no home at {home.root}{_which(home)}: the directory does not exist — pass --home DIR "
                         "or set EXO_HOME to a home (`exo --home DIR init` writes a new one)")
        if not home.config_dir.is_dir():
            raise NoData(f"{home.root}{_which(home)} is not an exo home (it has no config/) — pass --home DIR "
                         "or set EXO_HOME to a home (`exo --home DIR init` writes a new one)")
        raise NoData(f"no data yet in {home.root} — run `exo run` (or `exo demo` for sample data)")
    return duckdb.connect(str(path), read_only=True)


@contextmanager
def snapshot(home: Home) -> Iterator[Any]:
    con = connect(home)
    try:
        yield con
    finally:
        con.close()


def rows(con, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    """Run a query and return dicts; a missing model becomes NoData naming it."""
    import duckdb

    try:
        cur = con.execute(sql, list(params))
    except duckdb.CatalogException as exc:
        raise NoData(f"the snapshot lacks a model this needs ({exc}) — run `exo run`") from None
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def one(con, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
    r = rows(con, sql, params)
    return r[0] if r else None
