"""The home's Dagster instance survives racing first opens.

Dagster's SQLite storages stamp their alembic revision on first open without a cross-process guard;
two first opens at once leave two heads and the instance is unusable from then on (CI saw exactly
this when the watcher thread and `exo flows stop` opened a fresh home together). Here several real
processes open a fresh home's instance at the same instant, then every storage must carry exactly
one revision and open again."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.sqlite import LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION

from mech_exo.home import Home, init_home
from mech_exo.instance import READY_MARKER, _revisions, open_instance

pytestmark = pytest.mark.slow

OPENER = """
import sys, time
from pathlib import Path
import dagster  # import first: the race is between the opens, not the imports
from mech_exo.home import Home
from mech_exo.instance import open_instance
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
with open_instance(Home(Path(sys.argv[1]))) as inst:
    print(len(inst.get_run_records()))
"""


def alembic_heads(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("select version_num from alembic_version")]


def test_racing_first_opens_leave_one_revision_per_storage(tmp_path):
    home = Home(tmp_path / "home")
    init_home(home)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(home.root), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    time.sleep(4)  # let every process import dagster and wait at the line
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "0"
    assert (home.dagster_home / READY_MARKER).exists()
    dbs = sorted(home.dagster_home.rglob("*.db"))
    assert {db.name for db in dbs} >= {"runs.db", "schedules.db", "index.db"}
    head = _revisions()[0]
    for db in dbs:  # one stamp each, and head's: no racer took a fresh table for a legacy one
        assert alembic_heads(db) == [head], db
    with open_instance(home) as inst:  # and it still opens
        assert inst.get_run_records() == []


def test_a_home_the_race_already_hit_is_mended_on_its_next_open(tmp_path):
    home = Home(tmp_path / "home")
    init_home(home)
    with open_instance(home):
        pass
    (home.dagster_home / READY_MARKER).unlink()  # as made before mech_exo/instance.py existed
    runs_db = next(home.dagster_home.rglob("runs.db"))
    head = alembic_heads(runs_db)[0]
    with sqlite3.connect(runs_db) as con:  # what two racing first opens leave behind (seen on CI)
        con.execute("insert into alembic_version values (?)", (LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION,))
    with pytest.raises(Exception, match="more than one head"):  # Dagster alone cannot open it
        dg.DagsterInstance.from_config(str(home.dagster_home))
    with open_instance(home) as inst:
        assert inst.get_run_records() == []
    assert alembic_heads(runs_db) == [head]


def test_different_revisions_are_not_guessed_at_the_error_names_the_file(tmp_path):
    from mech_exo.instance import InstanceStorageError

    home = Home(tmp_path / "home")
    init_home(home)
    with open_instance(home):
        pass
    (home.dagster_home / READY_MARKER).unlink()
    schedules_db = next(home.dagster_home.rglob("schedules.db"))
    with sqlite3.connect(schedules_db) as con:
        con.execute("insert into alembic_version values ('0123456789ab')")
    with pytest.raises(InstanceStorageError, match=r"schedules\.db: table alembic_version holds several revisions"):
        with open_instance(home):
            pass
    assert not (home.dagster_home / READY_MARKER).exists()
