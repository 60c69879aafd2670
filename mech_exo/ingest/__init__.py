"""Ingest: validate the inputs (SPEC §2) and write the landing Parquet files dbt reads.

Inputs (all under one home): ``data/trading.db`` (SQLite tables ``fills`` and ``cash_flows``, read
with the ADBC SQLite driver straight into Arrow, in one read transaction), every ``*.parquet`` /
``*.csv`` under ``data/market/`` and the optional ``data/reference/securities.csv``. Output:
``data/landing/`` exactly as docs/ARCHITECTURE.md "Landing contract" says.

Why validate here and not in dbt: SPEC §2 wants bad input to fail with a message naming the file,
the row and the rule, never a silent drop or a wrong number. SQL would either coerce or fail on the
first bad row with a cast error; here every violation is collected (``InputError.violations``) so
the on-call fixes the file once. Nothing is written when any violation exists.

Where things are:

* ``landing``         — the run: ``ingest()``, write order and commit
* ``sqlite_source``   — trading.db → Arrow (typed parts), range checksums in SQLite
* ``validate_tables`` — the fills / cash_flows rules, vectorised; duplicate ids
* ``table_blocks``    — fills / cash_flows as rowid-range blocks: watermark, verify, merge, crash safety
* ``trading_tables``  — both tables for one run: shape checks, plan, validate, what changed
* ``mark_rows`` / ``marks`` — one market file's rows / mark files as landing files
* ``securities``, ``state`` (``_state.json``, ``batches.parquet``), ``schemas``, ``violations``,
  ``result``, ``files``, ``ts_rules``
"""
from mech_exo.ingest.landing import ingest
from mech_exo.ingest.marks import mark_key
from mech_exo.ingest.result import IngestResult
from mech_exo.ingest.schemas import (
    BATCHES_SCHEMA,
    FILLS_SCHEMA,
    FLOWS_SCHEMA,
    MARKS_SCHEMA,
    SCHEMA_PLACEHOLDER,
    SECURITIES_SCHEMA,
)
from mech_exo.ingest.violations import InputError, Violation

__all__ = ["ingest", "mark_key", "IngestResult", "InputError", "Violation", "BATCHES_SCHEMA", "FILLS_SCHEMA",
           "FLOWS_SCHEMA", "MARKS_SCHEMA", "SCHEMA_PLACEHOLDER", "SECURITIES_SCHEMA"]
