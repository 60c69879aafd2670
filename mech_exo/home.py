"""One home directory holds everything the product reads and writes at run time (SPEC §1).

Resolution order: explicit ``--home`` → ``EXO_HOME`` → current directory. Every path the product
touches is a property here, so a newcomer can find where a file lives in one place.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

TEMPLATE_CONFIGS = ("risk.yml", "killswitch.yml", "alerts.yml")


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    if home:
        return Path(home).expanduser().resolve()
    env = os.environ.get("EXO_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> "Home":
        return cls(resolve_home(home))

    # --- config -------------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def risk_yml(self) -> Path:
        return self.config_dir / "risk.yml"

    @property
    def killswitch_yml(self) -> Path:
        return self.config_dir / "killswitch.yml"

    @property
    def alerts_yml(self) -> Path:
        return self.config_dir / "alerts.yml"

    # --- inputs -------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def trading_db(self) -> Path:
        return self.data_dir / "trading.db"

    @property
    def market_dir(self) -> Path:
        return self.data_dir / "market"

    @property
    def securities_csv(self) -> Path:
        return self.data_dir / "reference" / "securities.csv"

    # --- derived ------------------------------------------------------------------------------
    @property
    def landing_dir(self) -> Path:
        """Validated, normalised copies of the inputs (Parquet), written by ingest, read by dbt."""
        return self.data_dir / "landing"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def build_db(self) -> Path:
        """The file dbt writes (one writer). Readers never open it: they open ``analytics_db``."""
        return self.warehouse_dir / "build.duckdb"

    @property
    def analytics_db(self) -> Path:
        """The published snapshot of ``build_db`` (atomic rename after each successful build)."""
        return self.data_dir / "analytics.duckdb"

    @property
    def events_dir(self) -> Path:
        return self.data_dir / "events"

    def event_log(self, name: str) -> Path:
        return self.events_dir / f"{name}.jsonl"

    @property
    def state_dir(self) -> Path:
        """Small runtime state (guard memory, alert outbox, escalation, run status)."""
        return self.data_dir / "state"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def drill_reports_dir(self) -> Path:
        return self.reports_dir / "drills"

    @property
    def drill_lock(self) -> Path:
        return self.root / ".drill_lock"

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"

    def ensure_dirs(self) -> None:
        for d in (self.config_dir, self.market_dir, self.securities_csv.parent, self.landing_dir,
                  self.warehouse_dir, self.events_dir, self.state_dir, self.drill_reports_dir):
            d.mkdir(parents=True, exist_ok=True)
        for name in ("drills", "alerts", "killswitch"):
            log = self.event_log(name)
            if not log.exists():  # created, never touched: its mtime says when an event was written
                log.touch()


REPO_ROOT = Path(__file__).resolve().parents[1]


DAGSTER_YAML = """\
# Written by exo init. The Dagster instance of this home (runs, sensor ticks, schedules).
telemetry:
  enabled: false
concurrency:
  pools:
    # every writer of the warehouse (ingest, dbt build, publish) is in pool exo_warehouse:
    # one at a time, because DuckDB allows one writer per file
    default_limit: 1
  runs:
    max_concurrent_runs: 4
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1     # a breach is judged seconds after it lands: no 5 s queue wait
sensors:
  use_threads: true                 # a slow alert delivery never delays a guard sensor
  num_workers: 4
run_monitoring:
  enabled: true
"""


def ensure_dagster_home(home: Home) -> Path:
    """DAGSTER_HOME for this home: run history and sensor state persist with the home."""
    home.dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = home.dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    return home.dagster_home


def template_path(name: str) -> Path:
    """Config templates ship in the repo's top-level ``config/`` (the project is installed editable)."""
    return REPO_ROOT / "config" / name


def init_home(home: Home, force: bool = False) -> list[tuple[str, str]]:
    """Write a fresh home. Existing files are kept (never overwrite data) unless ``force`` for configs.

    Returns ``[(path, 'created'|'kept'|'replaced')]`` for the config templates.
    """
    home.ensure_dirs()
    ensure_dagster_home(home)
    out = []
    for name in TEMPLATE_CONFIGS:
        dst = home.config_dir / name
        if dst.exists() and not force:
            out.append((str(dst), "kept"))
            continue
        existed = dst.exists()
        shutil.copyfile(template_path(name), dst)
        out.append((str(dst), "replaced" if existed else "created"))
    return out


@contextmanager
def exo_home_env(home: Home) -> Iterator[None]:
    """EXO_HOME = this home for the block: dbt's profile and sources, and the code location's
    sensors, find their home through it. Restored afterwards, so a long-lived caller (a test
    process, the CLI) is not left pointing at another home."""
    old = os.environ.get("EXO_HOME")
    os.environ["EXO_HOME"] = str(home.root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("EXO_HOME", None)
        else:
            os.environ["EXO_HOME"] = old


def inputs_fingerprint(home: "Home") -> str:
    """Cheap fingerprint of every input file (path, size, mtime, and SQLite's WAL): no file is read."""
    files = [home.trading_db, home.trading_db.with_name(home.trading_db.name + "-wal"), home.securities_csv]
    if home.market_dir.exists():
        files += sorted(p for p in home.market_dir.rglob("*") if p.is_file())
    parts = []
    for p in files:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        parts.append(f"{p}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
