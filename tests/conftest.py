"""Shared fixtures. Homes are real directories with real SQLite/Parquet inputs, built by the real
ingest and an in-process `dbt build`; expensive ones are session-scoped and must be treated as
read-only by tests (copy them with `copy_home` to mutate)."""
from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR / "support"))  # tests/support/datagen.py, reference.py, ...
sys.path.insert(0, str(TESTS_DIR))  # `from conftest import ...` in tests/unit and tests/integration

# Never let a developer's real Telegram settings leak into a test run.
for _var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
    os.environ.pop(_var, None)

# Just after the synthetic history's last session (2026-11-20) closes: nothing is "in the future".
AFTER_LAST_SESSION = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)


def build_home(root: Path, **datagen_options):
    """datagen inputs → ingest → dbt build → publish (no guards: tests that judge do it themselves)."""
    import datagen

    from mech_exo.home import Home, init_home
    from mech_exo.ingest import ingest
    from mech_exo.pipeline import build, publish

    home = Home(Path(datagen.make_home(root, **datagen_options)))
    init_home(home)  # the kill-switch and alert templates beside datagen's risk.yml
    ingest(home, now=AFTER_LAST_SESSION)
    result = build(home, full_refresh=True)
    assert result.success, result.error or [n.message for n in result.tests_failed]
    publish(home)
    return home


def snapshot_query(home, sql, params=()):
    """Independent read of a home's published snapshot: the oracle the CLI and dashboard are checked against."""
    import duckdb

    con = duckdb.connect(str(home.analytics_db), read_only=True)
    try:
        cur = con.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def copy_home(home, dest: Path):
    from mech_exo.home import Home

    shutil.copytree(home.root, dest, symlinks=True)
    return Home(dest)


@pytest.fixture(scope="session")
def crash_home(tmp_path_factory):
    """A built home whose last session (2026-11-20) falls below −0.8 % intraday and recovers."""
    return build_home(tmp_path_factory.mktemp("crash"), seed=0, crash=True)


@pytest.fixture(scope="session")
def quiet_home(tmp_path_factory):
    """A built home where nothing trips."""
    return build_home(tmp_path_factory.mktemp("quiet"), seed=0, quiet=True)


@pytest.fixture
def tg():
    """A real local HTTP server speaking the Telegram Bot API (tests/support/telegram_server.py)."""
    from telegram_server import TelegramTestServer

    server = TelegramTestServer().start()
    yield server
    server.stop()
