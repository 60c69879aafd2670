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


def write_run_status(home: Home, status: dict[str, Any]) -> None:
    home.state_dir.mkdir(parents=True, exist_ok=True)
    path = home.state_dir / "last_run.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, default=str, indent=2))
    os.replace(tmp, path)


def read_run_status(home: Home) -> dict[str, Any] | None:
    path = home.state_dir / "last_run.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return as_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {k: as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def read_state(home: Home, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((home.state_dir / name).read_text())
    except (OSError, ValueError):
        return None
