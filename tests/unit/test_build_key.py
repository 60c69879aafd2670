"""The fingerprint `exo run` compares to skip a build on an unchanged home (mech_exo.warehouse.build_key)."""
from __future__ import annotations

import os
import time

from mech_exo.home import Home, init_home
from mech_exo.warehouse import build_key


def _project(tmp_path):
    proj = tmp_path / "proj"
    (proj / "models").mkdir(parents=True)
    (proj / "macros").mkdir()
    (proj / "dbt_project.yml").write_text("name: x\n")
    (proj / "models" / "m.sql").write_text("select 1\n")
    return proj


def _bump(path, text: str | None = None) -> None:
    if text is not None:
        path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_every_thing_the_build_reads_changes_the_key_and_nothing_else_does(tmp_path):
    home = Home(tmp_path / "home")
    init_home(home)
    home.ensure_dirs()
    home.trading_db.write_bytes(b"db")
    (home.market_dir / "a.csv").write_text("ts,symbol,price\n")
    proj = _project(tmp_path)
    base = build_key.build_key(home, proj)
    home.ensure_dirs()          # (it used to touch the event logs: every run then looked changed)
    time.sleep(0.01)
    assert build_key.build_key(home, proj) == base
    changes = [
        lambda: _bump(home.trading_db, "db2"),
        lambda: (home.market_dir / "b.parquet").write_bytes(b"x"),
        lambda: home.risk_yml.write_text(home.risk_yml.read_text() + "\n# edited\n"),
        lambda: _bump(proj / "models" / "m.sql", "select 2\n"),
        lambda: (proj / "macros" / "new.sql").write_text("{% macro m() %}{% endmacro %}"),
    ]
    # the event logs are not in the key: every event write refreshes the snapshot's event models itself
    _bump(home.event_log("killswitch"), '{"e": 1}\n')
    _bump(home.event_log("alerts"), '{"e": 1}\n')
    assert build_key.build_key(home, proj) == base
    seen = {base}
    for change in changes:
        change()
        key = build_key.build_key(home, proj)
        assert key not in seen
        seen.add(key)


def test_unchanged_since_needs_the_same_key_and_both_databases(tmp_path):
    home = Home(tmp_path / "home")
    init_home(home)
    home.ensure_dirs()
    build_key.record(home, "k1", "run-1")
    assert build_key.unchanged_since(home, "k1") is None      # no snapshot yet: build
    home.build_db.write_bytes(b"")
    home.analytics_db.write_bytes(b"")
    assert build_key.unchanged_since(home, "k1") == "run-1"
    assert build_key.unchanged_since(home, "k2") is None
