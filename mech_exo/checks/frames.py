"""Which rows a suite's rules read, as how many pandas frames, and one verdict from several frames.

A suite reads the rows the latest build wrote (scope ``new``) or every row (``all``). Above
``PART_ROWS`` rows, a suite whose rules are all row by row is read as K frames split by the hash
of its unique column (``frame_filters``): every copy of a value meets in one frame, so each rule's
verdict and counts over the K frames (``merge``) are exactly its verdict over the whole table,
while memory holds one frame (a 26M-fill first build would otherwise copy every fill into one
pandas frame, ~6 GB).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mech_exo.checks.suites import Suite

PART_ROWS = 2_000_000      # rows per pandas frame when a suite's rows are checked in parts
# expectations judged row by row (uniqueness too, given frames split by the hash of its column)
ROW_WISE = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_between",
            "expect_column_values_to_be_in_set", "expect_column_values_to_be_unique",
            "expect_column_pair_values_a_to_be_greater_than_b"}


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def table_columns(con, table: str) -> list[str] | None:
    """Columns of ``table`` as a query resolves it, or None when there is no such table."""
    import duckdb
    try:
        cur = con.execute(f"select * from {q(table)} limit 0")
    except duckdb.CatalogException:
        return None
    return [d[0] for d in cur.description]


BATCHES = "stg_landing__batches"   # one row per ingest: landed_seq is the stamp of the latest build


def scope_where(con, suite: Suite, columns: list[str], scope: str) -> str:
    """``scope='new'``: only the rows the latest build wrote, when the suite declares its stamp
    (``new_rows``); else every row. The latest build's stamp is the latest ingest batch's
    ``landed_seq``, not the table's highest stamp: a build that wrote no row of this table checks
    none (the highest stamp would select the last build that did — after a first build, all of them)."""
    if scope == "new" and suite.new_rows and suite.new_rows in columns:
        wm = q(suite.new_rows)
        latest = (f"(select max(landed_seq) from {q(BATCHES)})" if table_columns(con, BATCHES) is not None
                  else f"(select max({wm}) from {q(suite.asset)})")
        return f" where {wm} = {latest}"
    return ""


def frame_filters(con, suite: Suite, columns: list[str], scope: str) -> list[str]:
    """The WHERE clause of each pandas frame the suite's rows are read as: one frame, or K of about
    ``PART_ROWS`` rows. Only suites whose rules are all row by row (no derived columns, which may be
    window expressions) and whose uniqueness rules share one column set are split: rows are assigned
    by the hash of that key, so every copy of a value lands in the same frame and each rule's
    verdict over the K frames is exactly its verdict over the whole (a 26M-fill first build would
    otherwise copy every fill into one pandas frame: ~6 GB)."""
    where = scope_where(con, suite, columns, scope)
    if suite.derived or any(r.expect not in ROW_WISE for r in suite.rules):
        return [where]
    keys = {tuple(r.columns) for r in suite.rules if r.expect == "expect_column_values_to_be_unique"}
    if len(keys) > 1 or not set(next(iter(keys), ())) <= set(columns):
        return [where]
    n = con.execute(f"select count(*) from {q(suite.asset)}{where}").fetchone()[0]
    if n <= PART_ROWS:
        return [where]
    key = ", ".join(q(c) for c in next(iter(keys))) if keys else "rowid"
    k = -(-n // PART_ROWS)
    glue = " and " if where else " where "
    return [f"{where}{glue}hash({key}) % {k} = {j}" for j in range(k)]


def read_frame(con, suite: Suite, columns: list[str], where: str = ""):
    """The suite's columns (those the table has) plus derived ones, of the rows ``where`` selects;
    a broken derived column is reported on the rules that use it rather than dropping the whole suite."""
    import duckdb
    wanted = {c for r in suite.rules for c in r.columns} - set(suite.derived)
    plain = [q(c) for c in columns if c in wanted]
    derived = [f"({expr.replace('{table}', q(suite.asset))}) as {q(name)}"
               for name, expr in suite.derived.items()]
    errors: dict[str, str] = {}
    try:
        df = con.execute(f"select {', '.join(plain + derived) or '1 as _row'} from {q(suite.asset)}{where}").df()
    except duckdb.Error as exc:
        if not derived:
            raise
        errors = {name: f"derived column {name} failed: {str(exc).splitlines()[0]}" for name in suite.derived}
        df = con.execute(f"select {', '.join(plain) or '1 as _row'} from {q(suite.asset)}{where}").df()
    return df, errors


def raised(r: Any) -> str | None:
    """The message of the exception a GX expectation raised, or None."""
    info = r.exception_info or {}
    errors = [x for x in (info.values() if "raised_exception" not in info else [info])
              if isinstance(x, dict) and x.get("raised_exception")]
    return (str(errors[0].get("exception_message", "")).splitlines() or [""])[0] if errors else None


@dataclass
class Merged:
    """One rule's GX results over several frames, shaped as ``_observed`` reads a GX result."""
    success: bool
    result: dict
    exception_info: dict


def merge(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    for r in parts:   # an expectation that raised: its error is the outcome
        if raised(r) is not None:
            return r
    res = [r.result or {} for r in parts]
    shown = [v for x in res for v in (x.get("partial_unexpected_list") or [])][:20]
    return Merged(all(bool(r.success) for r in parts),
                   {"element_count": sum(int(x.get("element_count") or 0) for x in res),
                    "unexpected_count": sum(int(x.get("unexpected_count") or 0) for x in res),
                    "partial_unexpected_list": shown}, {})
