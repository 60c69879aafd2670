"""SQLMesh runs the same dbt project (SPEC stack) and builds the same numbers as dbt.

SQLMesh lives in its own virtualenv (.venv-sqlmesh, `make sqlmesh-env`): dagster-dbt pulls
sqlglot's compiled extension, which crashes SQLMesh 0.236. So these tests drive it as a subprocess
(scripts/sqlmesh_plan.py under .venv-sqlmesh's python) and read its DuckDB file from here: the
file is written by duckdb 1.5 and read by this venv's duckdb 2.0, read-only.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import copy_home

REPO = Path(__file__).resolve().parents[2]
SQLMESH_PY = REPO / ".venv-sqlmesh" / "bin" / "python"
PLAN_SCRIPT = REPO / "scripts" / "sqlmesh_plan.py"
TOL = 1e-9  # |a - b| <= TOL * max(1, |a|): NAV is ~1e6 dollars, summation order differs

# model -> key columns; the marts of the brief plus the two models dbt builds incrementally
KEYS = {
    "nav_daily": ["session_date"],
    "mtd_drawdown": ["session_date"],
    "var_daily": ["session_date"],
    "nav_intraday": ["ts"],
    "stg_landing__marks": ["source_file", "source_row"],
}
# batch_seq records *when* dbt's incremental run wrote a row; SQLMesh rebuilds these models in full
NOT_COMPARED = {"batch_seq"}


@pytest.fixture(scope="module")
def sqlmesh_python() -> Path:
    if not SQLMESH_PY.exists():
        pytest.fail(f"{SQLMESH_PY} is missing: SQLMesh has its own virtualenv; create it with "
                    "`make sqlmesh-env` (make test does it first)")
    return SQLMESH_PY


def run_sqlmesh(python: Path, home, *extra: str) -> dict:
    """scripts/sqlmesh_plan.py on ``home`` with the home's risk vars, as `exo run` passes them."""
    from mech_exo.config import dbt_vars, load_risk_config

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    cmd = [str(python), str(PLAN_SCRIPT), "--home", str(home.root),
           "--vars", json.dumps(dbt_vars(load_risk_config(home.risk_yml))), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_model(db: Path, model: str, keys: list[str]) -> pd.DataFrame:
    """A model's rows, sorted by key, every column but the watermark."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        df = con.execute(f"select * from main.{model}").df()
    finally:
        con.close()
    df = df.drop(columns=[c for c in NOT_COMPARED if c in df.columns])
    return df.sort_values(keys).reset_index(drop=True)


def assert_same_model(model: str, dbt: pd.DataFrame, sqlmesh: pd.DataFrame) -> None:
    """Same columns, same rows; floats equal to TOL. The message names the model, row and column."""
    assert list(sqlmesh.columns) == list(dbt.columns), f"{model}: columns {list(sqlmesh.columns)} != dbt {list(dbt.columns)}"
    assert len(sqlmesh) == len(dbt), f"{model}: {len(sqlmesh)} rows from SQLMesh, {len(dbt)} from dbt"
    keys = KEYS[model]
    for col in dbt.columns:
        for i, (a, b) in enumerate(zip(dbt[col].tolist(), sqlmesh[col].tolist())):
            where = f"{model} row {dict(zip(keys, dbt.loc[i, keys].tolist()))} column {col}"
            if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
                assert (a is None or (isinstance(a, float) and math.isnan(a))) == \
                       (b is None or (isinstance(b, float) and math.isnan(b))), f"{where}: dbt {a!r}, SQLMesh {b!r}"
            elif isinstance(a, float):
                assert abs(a - b) <= TOL * max(1.0, abs(a)), f"{where}: dbt {a!r}, SQLMesh {b!r}"
            else:
                assert a == b, f"{where}: dbt {a!r}, SQLMesh {b!r}"


def assert_sqlmesh_matches_dbt(home, sqlmesh_db: Path) -> None:
    for model, keys in KEYS.items():
        assert_same_model(model, read_model(home.analytics_db, model, keys), read_model(sqlmesh_db, model, keys))


def test_sqlmesh_env_imports_sqlmesh_without_compiled_sqlglot(sqlmesh_python):
    code = ("import importlib.util, json, sqlmesh, sqlglot; print(json.dumps({'sqlmesh': sqlmesh.__version__, "
            "'sqlglotc': importlib.util.find_spec('sqlglotc') is not None, "
            "'sqlglotrs': importlib.util.find_spec('sqlglotrs') is not None}))")
    proc = subprocess.run([str(sqlmesh_python), "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["sqlmesh"].startswith("0."), found
    assert not found["sqlglotc"] and not found["sqlglotrs"], \
        f".venv-sqlmesh has sqlglot's compiled extension, which crashes SQLMesh: {found}"


def test_sqlmesh_plan_builds_the_marts_equal_to_dbt(crash_home, tmp_path, sqlmesh_python):
    from mech_exo.killswitch import set_trading

    home = copy_home(crash_home, tmp_path / "home")
    # one real kill-switch event, so the JSONL source (a table-level external_location) has a row
    set_trading(home, enabled=False, reason="sqlmesh test", trigger="manual", by="pytest")
    dbt_build_db = home.build_db.read_bytes()
    summary = run_sqlmesh(sqlmesh_python, home)
    sqlmesh_db = Path(summary["database"])
    assert sqlmesh_db.parent.parent == home.warehouse_dir and sqlmesh_db != home.build_db
    assert summary["models"] == 29, summary
    assert home.build_db.read_bytes() == dbt_build_db, "SQLMesh wrote to the dbt build database"
    assert_sqlmesh_matches_dbt(home, sqlmesh_db)
    # the events sources (JSONL, table-level external_location) resolve to the home's files
    con = duckdb.connect(str(sqlmesh_db), read_only=True)
    try:
        reasons = con.execute("select reason from main.killswitch_events").fetchall()
    finally:
        con.close()
    assert reasons == [("sqlmesh test",)], reasons


def write_tick(home) -> None:
    """A new session (Monday 2026-11-23): the last session's intraday file moved 3 days, prices -3 %."""
    last = pd.read_csv(home.market_dir / "intraday" / "20261120.csv")
    ts = pd.to_datetime(last["ts"], utc=True, format="ISO8601") + pd.Timedelta(days=3)
    tick = last.assign(ts=ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), price=last["price"] * 0.97)
    tick.to_csv(home.market_dir / "intraday" / "20261123.csv", index=False)


def test_sqlmesh_run_after_a_tick_matches_dbt_incremental(crash_home, tmp_path, sqlmesh_python):
    """The dbt delete+insert models must not lose rows under SQLMesh (its merge keeps one per key)."""
    from mech_exo.ingest import ingest
    from mech_exo.pipeline import build, publish

    home = copy_home(crash_home, tmp_path / "home")
    run_sqlmesh(sqlmesh_python, home)
    write_tick(home)
    landed = ingest(home, now=datetime(2026, 11, 23, 21, 30, tzinfo=timezone.utc))
    assert not landed.full_refresh and landed.dirty_from is not None
    result = build(home)  # dbt's incremental path
    assert result.success and not result.full_refresh, result.error
    publish(home)
    # SQLMesh schedules by wall-clock time: two days on, a daily interval is due, so it recomputes
    run_at = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    summary = run_sqlmesh(sqlmesh_python, home, "--run-at", run_at)
    assert summary["run_status"] == "SUCCESS", summary
    sqlmesh_db = Path(summary["database"])
    assert_sqlmesh_matches_dbt(home, sqlmesh_db)
    nav = read_model(sqlmesh_db, "nav_daily", ["session_date"])
    assert str(nav["session_date"].iloc[-1])[:10] == "2026-11-23", "the tick's session is missing"
