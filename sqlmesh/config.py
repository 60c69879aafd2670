"""SQLMesh configuration for running THIS dbt project (dbt_project.yml, models/, macros/).

Why a Python config here and not a config.yaml at the repo root: SQLMesh's dbt loader treats the
folder that holds the config as the dbt project root, so a file-based config would have to sit
beside dbt_project.yml. Building the Config in Python and handing it to
``sqlmesh.Context(paths=[repo], config=...)`` keeps the checkout free of SQLMesh files and lets the
database, cache and variables follow the home being built.

The config is the dbt profile's (profiles.yml, target ``build``) with these changes:
  * the DuckDB file is ``$EXO_HOME/data/warehouse/sqlmesh/build.duckdb``, never the dbt build's
    ``data/warehouse/build.duckdb``: DuckDB allows one writer per file, and a SQLMesh plan must
    never block (or be blocked by) ``exo run``. The file keeps the name ``build.duckdb`` (in its
    own folder) because DuckDB names the catalog after the file, and SQLMesh refuses a dbt project
    whose profile catalog (``build``) differs from the connection's.
  * SQLMesh's cache lives in that folder too (``cache-<hash of this file>/``), not in the checkout.
  * a backfill ``start`` (SQLMesh requires one; see START) and one thread (DuckDB).
  * dbt ``vars`` can be overridden (the same dict ``exo run`` passes with ``--vars``).
  * the dbt loader is ExternalLocationDbtLoader, which closes the gaps between SQLMesh's dbt
    support and dbt-duckdb that this project hits (its docstring lists them).

Importable only inside .venv-sqlmesh (it imports sqlmesh); nothing here imports mech_exo.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from sqlmesh.core.config import Config, ModelDefaultsConfig
from sqlmesh.dbt.loader import DbtLoader, sqlmesh_config

REPO = Path(__file__).resolve().parent.parent
SUBDIR = "sqlmesh"
DB_NAME = "build.duckdb"  # same stem as the profile's build.duckdb: the catalog must be `build`
CACHE_NAME = "cache"
# SQLMesh refuses a dbt project without a backfill start. No model here reads SQLMesh's interval
# bounds (@start_ds/@end_ds): every model computes over all landed data, so the start is interval
# bookkeeping only. It lives here rather than as `+start` in dbt_project.yml, which dbt would reject.
START = "2024-01-01"


def sqlmesh_dir(home: Path) -> Path:
    """SQLMesh's folder beside the dbt build database (docs/ARCHITECTURE.md: data/warehouse/)."""
    return Path(home) / "data" / "warehouse" / SUBDIR


def database_path(home: Path) -> Path:
    """SQLMesh's own DuckDB file in the home: tables, views and SQLMesh state."""
    return sqlmesh_dir(home) / DB_NAME


class ExternalLocationDbtLoader(DbtLoader):
    """SQLMesh's dbt loader, resolving dbt-duckdb's ``meta.external_location`` as dbt-duckdb does.

    SQLMesh 0.236 differs from dbt-duckdb 1.11 in two ways that break models/staging/_sources.yml:
      * it reads only the source-level ``meta`` (``source_meta``); dbt-duckdb lets a table's own
        ``meta.external_location`` win, which the landing ``marks`` glob and the three ``events``
        JSONL readers rely on;
      * it only substitutes ``{name}``; dbt-duckdb formats the location with ``str.format_map``
        (its default "newstyle" formatter), which also turns ``{{`` into ``{``: the escaped
        ``columns = {...}`` struct of the events readers needs that.
    This loader stores the location dbt-duckdb would compute in ``source_meta`` before any model is
    rendered, so the dbt project stays unchanged and both tools read the same files.

    A third difference is a SQLMesh bug: it passes a model only the dbt vars it finds by walking the
    macros the model calls, and its memoised walk (manifest._flatten_dependencies_from_macros, one
    ``visited`` set shared across branches) drops the vars of a macro reached twice. Here
    ``session_tz`` (``var("session_timezone")``) is reached from both ``to_local`` and
    ``local_to_utc``, so int_sessions rendered ``timezone('None', ...)``. Every model is given
    every project var instead (SQLMesh's own fallback for vars it cannot name statically); the
    only cost is that changing a var in config/risk.yml marks every model as changed.

    Last, dbt's ``delete+insert`` has no SQLMesh kind: SQLMesh maps it to INCREMENTAL_BY_UNIQUE_KEY,
    which MERGEs and keeps one row per key. Our keys are not row keys (stg_landing__marks replaces
    all rows of a re-landed ``source_file``; nav_intraday all rows of a ``session_date``), so a
    SQLMesh tick kept one mark of a new file. Changing the dbt keys would break dbt (a re-landed
    file that lost rows would keep them), so under SQLMesh these models are FULL tables instead:
    ``is_incremental()`` is then false, ``dirty_from_date()`` returns its "everything" bound, and
    each SQLMesh run recomputes them over all landed data, the same result as a dbt full refresh.
    The fill-grain models (windowed ``append`` with a pre-hook that deletes the window) are built
    the same way.
    """

    def _load_projects(self):  # type: ignore[no-untyped-def]
        projects = super()._load_projects()
        for project in projects:
            for package in project.packages.values():
                for source in package.sources.values():
                    resolve_external_location(source)
                for model in package.models.values():
                    model.dependencies.has_dynamic_var_names = True
                    full_table_for_delete_insert(model)
        return projects


def resolve_external_location(source: Any) -> None:
    """Replace a SourceConfig's external location by dbt-duckdb's rendering of it (see above)."""
    source_meta = dict(source.source_meta or {})
    meta = {**source_meta, **(source.meta or {})}  # dbt-duckdb: the table's meta wins
    template = meta.get("external_location")
    if not template:
        return
    fields = {"name": source.name, "identifier": source.identifier or source.name,
              "schema": source.schema_, "database": source.database, "tags": source.tags, **meta}
    try:
        location = template.format_map(fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"models/staging/_sources.yml: source {source.config_name}: external_location "
                         f"{template!r} does not format with dbt-duckdb's newstyle formatter: {exc!r}") from exc
    if "(" not in location and not location.startswith("'"):
        location = f"'{location}'"  # dbt-duckdb quotes a bare path
    source.source_meta = {**source_meta, "external_location": location}
    source._canonical_name = None  # computed from the old relation; recompute on next use


def full_table_for_delete_insert(model: Any) -> None:
    """Build a dbt incremental model as a full table (see the loader's docstring): ``delete+insert``
    on a file or session key, and the windowed ``append`` models whose pre-hook deletes the window
    they recompute (macros/incremental.sql: delete_window) — SQLMesh has neither semantics."""
    if model.materialized == "incremental" and model.incremental_strategy in ("delete+insert", "append"):
        model.materialized = "table"
        model.pre_hook = []


def cache_dir(home: Path) -> Path:
    """SQLMesh's model cache, keyed by this file's content.

    SQLMesh invalidates its cache on changes to the dbt files, not to this loader: a cache written
    before a change here would keep serving models rendered the old way.
    """
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return sqlmesh_dir(home) / f"{CACHE_NAME}-{digest}"


def make_config(home: Path, variables: dict[str, Any] | None = None) -> Config:
    """The SQLMesh Config for ``home``: the dbt profile's DuckDB gateway, pointed at SQLMesh's file.

    EXO_HOME must name the same home, because profiles.yml and the sources' external_location read
    ``env_var('EXO_HOME')`` while SQLMesh renders them; a mismatch would build one home's
    database from another home's landing files, so it is refused.
    """
    home = Path(home).resolve()
    env_home = os.environ.get("EXO_HOME")
    if env_home is None or Path(env_home).resolve() != home:
        raise ValueError(f"EXO_HOME must be set to the home being built ({home}); it is {env_home!r}")
    sqlmesh_dir(home).mkdir(parents=True, exist_ok=True)
    config = sqlmesh_config(
        project_root=REPO,
        profiles_dir=REPO,
        dbt_target_name="build",
        threads=1,  # DuckDB runs one model at a time under SQLMesh (it warns otherwise)
        loader=ExternalLocationDbtLoader,
        variables=variables or {},
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start=START),
        cache_dir=str(cache_dir(home)),
    )
    gateway = config.gateways[config.default_gateway]
    gateway.connection = gateway.connection.model_copy(update={"database": str(database_path(home))})
    return config
