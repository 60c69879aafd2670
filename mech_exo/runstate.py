"""Run-state records under ``<home>/data/state``: what the last run, build and checks left.

One writer function and one fail-closed reader per record, so every consumer (the guards, the
health checks, the CLI, the Dagster steps) agrees on what an unreadable record means.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from mech_exo.home import Home


def write_record(home: Home, name: str, payload: Any) -> None:
    """Write ``data/state/<name>`` atomically (temp file + rename): a reader never sees half of it."""
    home.state_dir.mkdir(parents=True, exist_ok=True)
    path = home.state_dir / name
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(as_jsonable(payload), default=str, indent=1))
    os.replace(tmp, path)


def write_run_status(home: Home, status: dict[str, Any]) -> None:
    write_record(home, "last_run.json", status)


def read_run_status(home: Home) -> dict[str, Any] | None:
    """The last `exo run`'s report; None when there is none or it cannot be read."""
    rec = read_state(home, "last_run.json")
    return rec if isinstance(rec, dict) else None


def dbt_failed_tests(home: Home) -> list[str]:
    """Names of the dbt tests that failed in the last build. Fail closed: a missing or unreadable
    ``build.json`` counts as a failure (we cannot vouch for the data), the same for every reader."""
    rec = read_state(home, "build.json")
    if not isinstance(rec, dict) or not isinstance(rec.get("failed_tests", []), list):
        return [f"dbt build record missing or unreadable ({home.state_dir / 'build.json'})"]
    return [str(t) for t in rec.get("failed_tests", [])]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return as_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {k: as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, datetime):  # with its offset: naive timestamps are UTC (landing contract)
        return (obj if obj.tzinfo else obj.replace(tzinfo=timezone.utc)).isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def read_state(home: Home, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((home.state_dir / name).read_text())
    except (OSError, ValueError):
        return None


def read_failed_checks(home: Home) -> list[str]:
    """Failed check names of the current snapshot. An unreadable record counts as a failure
    (fail closed: we cannot vouch for the data)."""
    path = home.state_dir / "checks.json"
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["failed"])
    except (OSError, ValueError, KeyError, TypeError):
        return [f"unreadable check record {path}"]
