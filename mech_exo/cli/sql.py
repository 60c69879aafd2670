"""`exo sql [QUERY]`: SQL on the home's published snapshot ``data/analytics.duckdb``, read-only.

With a query: its result as a table (``--json`` / ``--csv`` for scripts), exit 1 naming the error
on bad SQL. Without one: the DuckDB shell that `make setup` installs (``duckdb-cli``, beside this
Python), opened read-only on the snapshot; where there is none, a small prompt that runs each
statement ending in ``;``. Either way the snapshot is only read, so a running build never waits.
"""
from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import click

from mech_exo.cli.common import ExoError, console, emit_json, pass_home
from mech_exo.home import Home
from mech_exo.reporting.snapshot import NoData, connect


def find_shell() -> str | None:
    """The DuckDB command-line shell: the one installed beside this Python first, then PATH."""
    beside = Path(sys.executable).parent / "duckdb"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("duckdb")


def run_query(con, query: str) -> tuple[list[str], list[tuple]]:
    import duckdb

    try:
        cur = con.execute(query)
    except duckdb.Error as exc:
        raise ExoError(f"{' '.join(query.split())[:200]}: {exc}") from None
    if cur.description is None:   # a statement without rows (SET, PRAGMA …)
        return [], []
    return [c[0] for c in cur.description], cur.fetchall()


def print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.table import Table

    t = Table(show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("NULL" if v is None else str(v) for v in r))
    console().print(t)
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _prompt(con) -> None:
    click.echo(f"no DuckDB shell found: a minimal prompt on {con_path(con)} — end statements with ';', "
               "Ctrl-D to leave")
    buf: list[str] = []
    while True:
        try:
            line = input("exo sql> " if not buf else "     ...> ")
        except EOFError:
            click.echo()
            return
        buf.append(line)
        if line.rstrip().endswith(";"):
            query, buf = "\n".join(buf), []
            try:
                cols, rows = run_query(con, query)
            except ExoError as exc:
                exc.show()
                continue
            if cols:
                print_table(cols, rows)


def con_path(con) -> str:
    return str(con.execute("select path from duckdb_databases() where not internal limit 1").fetchone()[0])


@click.command("sql")
@click.argument("query", required=False)
@click.option("--json", "as_json", is_flag=True, help="The rows as a JSON list of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="The rows as CSV with a header line.")
@pass_home
def sql_cmd(home: Home, query: str | None, as_json: bool, as_csv: bool) -> None:
    """SQL on the published snapshot (read-only): `exo sql "select * from nav_daily limit 5"`;
    with no QUERY, an interactive shell on it."""
    try:
        con = connect(home)
    except NoData as exc:
        raise ExoError(str(exc)) from None
    try:
        if query is None:
            shell = find_shell()
            if shell and not (as_json or as_csv):
                con.close()
                os.execv(shell, [shell, "-readonly", str(home.analytics_db)])
            _prompt(con)
            return
        cols, rows = run_query(con, query)
    finally:
        con.close()
    if as_json:
        emit_json([dict(zip(cols, r)) for r in rows])
    elif as_csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    elif cols:
        print_table(cols, rows)
