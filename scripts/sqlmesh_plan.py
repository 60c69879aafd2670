"""Build a home's warehouse with SQLMesh from THIS dbt project (SPEC: "SQLMesh runs the same dbt project").

Run with SQLMesh's own interpreter (it imports sqlmesh, never mech_exo):

    .venv-sqlmesh/bin/python scripts/sqlmesh_plan.py --home HOME [--vars JSON] [--run-at ISO]

* plan: applies the ``prod`` environment without prompts: the first time it builds every model;
  afterwards it applies model changes and backfills whatever is missing.
* ``--run-at``: then runs the intervals due at that time (``sqlmesh run``), which recomputes the
  models over the newly landed data. SQLMesh schedules by time, not by data: a run at a time whose
  daily interval was already processed does nothing.

The result is ``HOME/data/warehouse/sqlmesh/build.duckdb`` (views ``main.<model>``), separate from
the dbt build's database. The last line printed is a JSON summary. Exit code 1 on failure, with
SQLMesh's message. The configuration and its reasons are in sqlmesh/config.py and docs/SQLMESH.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO / "sqlmesh" / "config.py"


def load_config_module() -> Any:
    """Import sqlmesh/config.py by path: the folder is named like the sqlmesh package it uses."""
    spec = importlib.util.spec_from_file_location("mech_exo_sqlmesh_config", CONFIG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(home: Path, variables: dict[str, Any] | None = None, run_at: str | None = None) -> dict[str, Any]:
    """Plan (and optionally run) the prod environment of ``home``; return a summary."""
    from sqlmesh.core.console import TerminalConsole, set_console

    from sqlmesh import Context

    os.environ["EXO_HOME"] = str(home)  # profiles.yml and the sources' locations read it
    set_console(TerminalConsole())  # the default console swallows the per-model failure messages
    cfg = load_config_module()
    started = time.perf_counter()
    context = Context(paths=[str(REPO)], config=cfg.make_config(home, variables))
    loaded = time.perf_counter()
    context.plan("prod", auto_apply=True, no_prompts=True)
    planned = time.perf_counter()
    run_status = None
    if run_at is not None:
        run_status = context.run("prod", execution_time=run_at).name
        if run_status == "FAILURE":
            raise RuntimeError(f"sqlmesh run at {run_at} failed (see the messages above)")
    context.close()
    return {
        "database": str(cfg.database_path(home)),
        "models": len(context.models),
        "load_s": round(loaded - started, 3),
        "plan_s": round(planned - loaded, 3),
        "run_s": round(time.perf_counter() - planned, 3) if run_at else None,
        "run_status": run_status,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True, type=Path, help="an exo home whose landing files exist")
    parser.add_argument("--vars", default=None,
                        help="dbt vars as JSON (what `exo run` passes: mech_exo.config.dbt_vars)")
    parser.add_argument("--run-at", default=None, help="also run the intervals due at this ISO time")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    if not (home / "data" / "landing" / "batches.parquet").exists():
        print(f"{home}: no data/landing/batches.parquet: run ingest (exo run) on this home first",
              file=sys.stderr)
        return 2
    variables = json.loads(args.vars) if args.vars else None
    try:
        summary = build(home, variables, args.run_at)
    except Exception as exc:  # SQLMesh's errors are varied; the message is what the operator needs
        print(f"sqlmesh failed for home {home}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
