"""A read-only, date-scoped view of the published snapshot, for running the data checks on the rows of
some sessions only (`exo data validate --date/--range`).

An in-memory DuckDB ATTACHes ``data/analytics.duckdb`` READ_ONLY and defines one view per snapshot
table; the tables the suites check keep only the rows dated in the scope (``session_date``, or the
landing tables' ``local_date``). Nothing can be written to the snapshot through it.
"""
from __future__ import annotations

from typing import Any

from mech_exo.home import Home

# Per suite asset: the column that dates a row (marts: session_date; landing: local date of ts).
DATE_COLUMNS = ("session_date", "local_date")


def date_column(con, table: str) -> str | None:
    cols = [r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_catalog = 'snap' and table_name = ?", [table]).fetchall()]
    return next((c for c in DATE_COLUMNS if c in cols), None)


def scoped_connection(home: Home, scope: dict[str, Any], assets: list[str]):
    """An in-memory DuckDB where every snapshot table is a view and the suite assets keep only the
    rows dated in the scope. The snapshot is attached READ_ONLY: nothing can be written to it."""
    import duckdb

    mem = duckdb.connect(":memory:")
    mem.execute(f"attach '{str(home.analytics_db).replace(chr(39), chr(39) * 2)}' as snap (read_only)")
    names = [r[0] for r in mem.execute("select table_name from information_schema.tables "
                                       "where table_catalog = 'snap' and table_schema = 'main'").fetchall()]
    counts = {}
    for t in names:
        q = t.replace('"', '""')
        col = date_column(mem, t) if t in assets else None
        # DuckDB takes no parameters in a view body: the two dates are inlined as ISO date literals
        where = f" where \"{col}\" between date '{scope['start']}' and date '{scope['end']}'" if col else ""
        mem.execute(f'create view main."{q}" as select * from snap.main."{q}"{where}')
        if col:
            counts[t] = {"column": col, "rows": mem.execute(f'select count(*) from main."{q}"').fetchone()[0]}
    return mem, counts
