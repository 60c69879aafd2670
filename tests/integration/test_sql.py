"""Analysts' SQL (SPEC §8): the README's SQL examples run as pasted with the DuckDB shell that
`make setup` installs and with `exo sql`; the event models answer up to the second (a change made
with `exo kill off` / `exo alerts ack` is in SQL when the command returns); no column needs quoting.

Real parts only: the duckdb-cli 1.5.x binary, `exo` as a subprocess, built homes (conftest)."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import copy_home, snapshot_query

from mech_exo.home import Home, init_home
from mech_exo.snapshot import event_view_sql, refresh_events
from mech_exo.warehouse.storage import SHELL_MAX_FORMAT, retire_unreadable_build, storage_format

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHELL = BIN / "duckdb"


def sh(cmd: str, cwd: Path, home: Home | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "USER": "analyst", "COLUMNS": "200"}
    if home is not None:
        env["EXO_HOME"] = str(home.root)
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)


def shell_rows(home: Home, query: str) -> list[dict]:
    """The installed DuckDB shell's answer, as JSON rows (-json)."""
    res = subprocess.run([str(SHELL), "-readonly", "-json", str(home.analytics_db), "-c", query],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout or "[]")


@pytest.fixture
def home(crash_home, tmp_path):
    h = copy_home(crash_home, tmp_path / "h")
    init_home(h)
    return h


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sql-examples\n(.*?)```", text, re.S)
    assert block, "README.md lost its ```sql-examples block"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_the_installed_shell_is_the_pypi_cli_and_reads_the_snapshot(home):
    assert SHELL.is_file(), f"{SHELL}: `make setup` installs duckdb-cli (requirements/main.txt)"
    assert subprocess.run([str(SHELL), "--version"], capture_output=True, text=True).stdout.startswith("v1.5")
    assert storage_format(home.analytics_db) <= SHELL_MAX_FORMAT
    got = shell_rows(home, "select count(*) as n, max(session_date) as last from nav_daily")
    want = snapshot_query(home, "select count(*) as n, max(session_date) as last from nav_daily")
    assert got[0]["n"] == want[0]["n"] > 20 and got[0]["last"] == str(want[0]["last"])


def test_every_readme_sql_example_runs_as_pasted(home, tmp_path):
    examples = readme_examples()
    assert sum(e.startswith("duckdb ") for e in examples) >= 4 and any(e.startswith("exo ") for e in examples)
    assert sh("exo kill off --reason 'so the audit examples have a row'", tmp_path, home).returncode == 0
    assert sh("exo test alerts", tmp_path, home).returncode == 0
    (tmp_path / "checkout").mkdir()
    (tmp_path / "checkout" / "demo_home").symlink_to(home.root)   # the README runs from the checkout
    for line in examples:
        res = sh(line, tmp_path / "checkout")
        assert res.returncode == 0, f"{line}\n{res.stderr}"
        assert "Error" not in res.stderr and res.stdout.strip(), line
        table = shlex.split(line)[-1].split(" from ")[1].split()[0]
        if table != "drill_log":   # the built home has run no drill (test_drill's live drills reach it)
            assert snapshot_query(home, f"select count(*) as n from {table}")[0]["n"] > 0, table


def test_no_published_column_needs_quoting_except_specs_by(home, tmp_path):
    assert sh("exo kill off --reason quoting", tmp_path, home).returncode == 0
    con = duckdb.connect(str(home.analytics_db), read_only=True)
    try:
        cols = con.execute("select table_name, column_name from duckdb_columns() "
                           "where schema_name = 'main' and not internal").fetchall()
        bad = []
        for table, col in cols:
            try:
                con.execute(f"select {col} from {table} limit 0")
            except duckdb.ParserException:
                bad.append((table, col))
    finally:
        con.close()
    assert {t for t, _ in cols} >= {"nav_daily", "killswitch_events", "alert_log", "drill_log"}
    assert bad == [("killswitch_events", "by")], bad   # SPEC §3 names it; changed_by is its twin
    ks = snapshot_query(home, 'select "by", changed_by, changed_at from killswitch_events')
    assert ks and all(r["by"] == r["changed_by"] and r["changed_at"] is not None for r in ks)


def test_kill_off_and_an_ack_are_in_sql_when_the_command_returns(home, tmp_path):
    before = shell_rows(home, "select count(*) as n from killswitch_events")[0]["n"]
    res = sh("exo kill off --reason 'audit me'", tmp_path, home)
    assert res.returncode == 0, res.stderr
    rows = shell_rows(home, "select changed_at, action, reason, changed_by, trading_enabled "
                            "from killswitch_events order by changed_at, action")
    assert len(rows) == before + 1
    last = [r for r in rows if r["reason"] == "audit me"]
    assert last and last[0]["action"] == "disable" and last[0]["changed_by"] == "cli:analyst"
    assert last[0]["trading_enabled"] is False
    # the same through exo sql, and the alert log: ack a fresh alert
    assert sh("exo test alerts", tmp_path, home).returncode == 0
    alert = json.loads(sh("exo sql --json 'select alert_id, acked_by from alert_log order by raised_at desc limit 1'",
                          tmp_path, home).stdout)[0]
    assert alert["acked_by"] is None
    assert sh(f"exo alerts ack {alert['alert_id']} --by oncall-ann", tmp_path, home).returncode == 0
    acked = json.loads(sh(f"exo sql --json \"select acked_by, acked_at from alert_log where alert_id = "
                          f"'{alert['alert_id']}'\"", tmp_path, home).stdout)
    assert acked == [{"acked_by": "oncall-ann", "acked_at": acked[0]["acked_at"]}] and acked[0]["acked_at"]
    # the build's data stayed as it was: only the event tables were refreshed
    assert shell_rows(home, "select count(*) as n from nav_daily") == \
        [{"n": snapshot_query(home, "select count(*) as n from nav_daily")[0]["n"]}]


def test_a_copied_home_refreshes_its_own_events_only(home, tmp_path):
    other = copy_home(home, tmp_path / "copy")
    assert sh("exo kill off --reason 'only in the copy'", tmp_path, other).returncode == 0
    assert shell_rows(other, "select count(*) as n from killswitch_events where reason = 'only in the copy'")[0]["n"] == 1
    assert shell_rows(home, "select count(*) as n from killswitch_events where reason = 'only in the copy'")[0]["n"] == 0
    stored = snapshot_query(other, "select sql from exo_internal.event_views")
    assert stored and not any(str(home.root) in r["sql"] or str(other.root) in r["sql"] for r in stored)


def test_a_broken_snapshot_never_fails_the_kill_switch(home, tmp_path):
    home.analytics_db.write_bytes(b"not a duckdb file")
    res = sh("exo kill off --reason 'snapshot is broken'", tmp_path, home)
    assert res.returncode == 0, res.stderr
    assert "Trading DISABLED" in res.stdout or "DISABLED" in res.stdout
    assert "not refreshed" in res.stderr and "Traceback" not in res.stderr
    assert not (home.data_dir / "analytics.duckdb.tmp").exists()
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(home.analytics_db), read_only=True).close()


def test_refresh_without_a_snapshot_is_a_no_op(tmp_path):
    h = Home(tmp_path / "empty")
    init_home(h)
    assert refresh_events(h) is False and not h.analytics_db.exists()


def test_event_view_chain_is_the_views_that_read_the_logs_leaves_first():
    ev = Path("/h/data/events")
    views = [("stg_landing__fills", "CREATE VIEW stg_landing__fills AS SELECT * FROM read_parquet('/h/data/landing/x')"),
             ("alert_log", "CREATE VIEW alert_log AS WITH e AS (SELECT * FROM main.stg_events__alerts) SELECT * FROM e"),
             ("stg_events__alerts", "CREATE VIEW stg_events__alerts AS SELECT * FROM read_json('/h/data/events/alerts.jsonl')"),
             ("alert_summary", "CREATE VIEW alert_summary AS SELECT count(*) FROM alert_log")]
    got = event_view_sql(views, ev)
    assert [n for n, _ in got] == ["stg_events__alerts", "alert_log", "alert_summary"]
    assert "{{events_dir}}/alerts.jsonl" in got[0][1] and "/h/data/events" not in got[0][1]


def test_a_build_file_in_duckdb_2s_own_format_is_retired_and_rebuilt_readable(home, tmp_path):
    fresh = tmp_path / "fresh.duckdb"   # what the setup before the storage pin wrote: duckdb 2.0's default
    con = duckdb.connect(str(fresh))
    con.execute("create table made_by_an_older_setup as select 1 as x")
    con.close()
    assert storage_format(fresh) > SHELL_MAX_FORMAT
    shutil.copyfile(fresh, home.build_db)
    msg = retire_unreadable_build(home)
    assert msg and "moved to build.duckdb.retired" in msg and not home.build_db.exists()
    assert retire_unreadable_build(home) is None
    res = sh("exo run", tmp_path, home)   # the job retires it itself too (needs_full_refresh)
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert storage_format(home.build_db) <= SHELL_MAX_FORMAT
    assert shell_rows(home, "select count(*) as n from nav_daily")[0]["n"] > 20
    assert snapshot_query(home, "select count(*) as n from duckdb_tables() where table_name = 'made_by_an_older_setup'") \
        == [{"n": 0}]


def test_the_pipeline_retires_an_old_build_file_by_itself(home, tmp_path):
    fresh = tmp_path / "fresh.duckdb"
    duckdb.connect(str(fresh)).close()
    shutil.copyfile(fresh, home.build_db)
    res = sh("exo run", tmp_path, home)
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert home.build_db.with_name("build.duckdb.retired").exists()
    assert storage_format(home.build_db) <= SHELL_MAX_FORMAT
    assert storage_format(home.analytics_db) <= SHELL_MAX_FORMAT
    assert shell_rows(home, "select count(*) as n from nav_daily")[0]["n"] > 20


def test_the_profile_and_the_code_pin_the_same_storage_version():
    import yaml

    from mech_exo.warehouse.storage import STORAGE_VERSION

    prof = yaml.safe_load((REPO / "profiles.yml").read_text())["mech_exo"]["outputs"]["build"]
    assert prof["config_options"]["storage_compatibility_version"] == STORAGE_VERSION


def test_a_missing_home_or_a_directory_that_is_not_one_is_named_as_such(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EXO_HOME"}
    exo = [str(BIN / "exo")]
    gone = tmp_path / "no-such-home"
    res = subprocess.run(exo + ["--home", str(gone), "risk", "current"], capture_output=True, text=True, env=env)
    assert res.returncode == 1 and f"no home at {gone}" in res.stderr and "does not exist" in res.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    res = subprocess.run(exo + ["sql", "select 1"], capture_output=True, text=True, env=env, cwd=plain)
    assert res.returncode == 1 and "is not an exo home" in res.stderr and "EXO_HOME is not set" in res.stderr
    res = subprocess.run(exo + ["kill", "history"], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "EXO_HOME": str(gone)})
    assert "Traceback" not in res.stderr
    res = subprocess.run(exo + ["risk", "current"], capture_output=True, text=True, cwd=tmp_path,
                         env={**env, "EXO_HOME": str(gone)})
    assert res.returncode == 1 and "(from EXO_HOME)" in res.stderr and "no data yet" not in res.stderr


def test_dbt_docs_read_the_snapshot_read_only_and_serve(home, tmp_path):
    """README "dbt docs": the catalog names the database analysts query, the snapshot is not
    written, the build file is not opened, and `dbt docs serve` serves the pages."""
    import hashlib
    import socket
    import time
    import urllib.request

    h = copy_home(home, tmp_path / "docs")
    digest = hashlib.sha256(h.analytics_db.read_bytes()).hexdigest()
    build = h.warehouse_dir / "build.duckdb"
    build.rename(build.with_suffix(".away"))  # were the docs to open the build file, they would make a new one
    out = tmp_path / "docs_target"
    dbt = [str(BIN / "dbt"), "--quiet"]
    common = ["--target", "docs", "--profiles-dir", str(REPO), "--project-dir", str(REPO), "--target-path", str(out)]
    env = {**os.environ, "EXO_HOME": str(h.root)}
    res = subprocess.run([*dbt, "docs", "generate", *common], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    catalog = json.loads((out / "catalog.json").read_text())
    assert not catalog.get("errors")
    models = {v["metadata"]["name"]: v["metadata"]["database"] for v in catalog["nodes"].values()}
    published = {r["table_name"] for r in snapshot_query(h, "select table_name from information_schema.tables "
                                                         "where table_schema = 'main'")}
    for mart in ("nav_daily", "nav_intraday", "mtd_drawdown", "var_daily", "positions_current", "killswitch_events",
                 "alert_log", "drill_log"):
        assert models.get(mart) == "analytics" and mart in published, mart
    assert set(models) <= published
    assert hashlib.sha256(h.analytics_db.read_bytes()).hexdigest() == digest and not build.exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen([*dbt, "docs", "serve", *common, "--host", "127.0.0.1", "--port", str(port),
                              "--no-browser"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and page is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read()
            except OSError:
                time.sleep(0.5)
        assert page is not None and b"dbt" in page
        served = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=5).read())
        assert served["nodes"].keys() == catalog["nodes"].keys()
    finally:  # the server is ours: end its process group (dbt's server may not answer SIGTERM promptly)
        os.killpg(serve.pid, 9)
        serve.wait(30)
