"""`exo data validate|refresh|repair`: the run-book's data-issue path.

* ``validate`` runs the Great Expectations suites (``mech_exo.checks``) on the published snapshot,
  read-only. With ``--date``/``--range`` the suites run a second time on the rows of those dates only
  (an in-memory DuckDB whose views filter the snapshot), so the table says whether a failure lies in
  the sessions the on-call asked about; the exit code still counts failures anywhere (fail closed,
  like the guards). ``--all-sources`` also validates the raw inputs with ingest's own rules — on a
  temporary copy of the inputs, so the real landing is never written.
* ``refresh`` and ``repair`` run the real pipeline (``run_pipeline``: the Dagster job, then the
  guards — the same path as ``exo run``); ``repair`` forces a full rebuild and reports what changed
  by reading the snapshot before and after.

This module is the group; the commands live in ``data_validate`` (checks, scope, raw inputs) and
``data_repair`` (pipeline runs, before/after figures).
"""
from __future__ import annotations

import click

from mech_exo.cli.data_repair import COMMON_FIGURES, REPAIR_FIGURES, SOURCES, figures, refresh_cmd, relanded, repair_cmd  # noqa: F401
from mech_exo.cli.data_validate import resolve_scope, short_check, validate_cmd, validate_payload, validate_sources  # noqa: F401
from mech_exo.reporting.scoped import DATE_COLUMNS, scoped_connection  # noqa: F401


@click.group("data")
def data() -> None:
    """Validate the data (GE suites, raw inputs), refresh it from the sources, repair it by a full rebuild."""


for _cmd in (validate_cmd, refresh_cmd, repair_cmd):
    data.add_command(_cmd)
