"""What a build's result depends on, as one fingerprint: `exo run` on an unchanged home skips the build.

Why: the build is a pure function of the inputs (trading.db, marks, securities), config/risk.yml
(the dbt vars) and the project's models and macros. The event logs are not among them: the event
models are views, refreshed in the snapshot by every event write (``mech_exo.snapshot``), so a halt
or an alert does not make the next run build again. When none
of those changed since the last successful run, a new build would write the same tables; `exo run`
then only re-judges the guards on the published snapshot (their answer depends on the clock:
freshness, the session window) — seconds instead of a full build. No file is read to compute it:
paths, sizes and mtimes (content for risk.yml, which is small).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from mech_exo.home import Home, inputs_fingerprint
from mech_exo.runstate import read_state, write_record
from mech_exo.warehouse.dbt import DBT_PROJECT_DIR
from mech_exo.warehouse.storage import SHELL_MAX_FORMAT, storage_format

RECORD = "last_build.json"
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_DIRS = ("models", "macros")


def _stat_lines(paths) -> list[str]:
    out = []
    for p in paths:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        out.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
    return out


def build_key(home: Home, project_dir: Path = DBT_PROJECT_DIR) -> str:
    h = hashlib.sha256()
    h.update(inputs_fingerprint(home).encode())
    h.update(home.risk_yml.read_bytes() if home.risk_yml.exists() else b"")
    code = [project_dir / f for f in PROJECT_FILES]
    for d in PROJECT_DIRS:
        code += sorted(p for p in (project_dir / d).rglob("*") if p.is_file())
    h.update("\n".join(_stat_lines(code)).encode())
    return h.hexdigest()


def unchanged_since(home: Home, key: str) -> str | None:
    """The run id of the last successful build with this key, if its snapshot is still there."""
    rec = read_state(home, RECORD)
    if not isinstance(rec, dict) or rec.get("key") != key:
        return None
    if not (home.analytics_db.exists() and home.build_db.exists()):
        return None
    if (storage_format(home.build_db) or 0) > SHELL_MAX_FORMAT:   # made by an older setup: rebuild it
        return None
    return str(rec.get("run_id") or "?")


def record(home: Home, key: str, run_id: str | None) -> None:
    write_record(home, RECORD, {"key": key, "run_id": run_id})
