"""``RiskQueryEngine``: the one read path of the risk dashboard, its JSON API and the run-book.

Why a class with a cache:
* The page refreshes every 30 s in every open browser tab. Each refresh must be cheap and must
  never touch the build: the engine opens ONLY the published snapshot ``data/analytics.duckdb``
  read-only (``mech_exo.reporting.snapshot``), reads everything the page shows in ONE connection
  (so the heatmap, the timeline and the table always come from the same build), closes it, and
  keeps the result until the snapshot file changes (new inode / mtime / size after the pipeline's
  atomic rename). A build holding its write lock on ``data/warehouse/build.duckdb`` is invisible here.
* The kill-switch and the drill log are small files that change between builds (a guard or an
  operator flips the switch): they are read fresh on every call, never from the snapshot.

All returns are fractions (−0.008 = −0.8 %), money is USD, timestamps are timezone-aware UTC in
Python and ISO-8601 ``...Z`` strings in the JSON the API serves (``as_json``).

Beside it: ``read`` (every snapshot query), ``headline`` (the headline dict and its traffic
lights), ``live`` (the kill-switch, drill, run-status files), ``jsonable`` (timestamps and JSON).
"""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mech_exo import bands
from mech_exo.config import ConfigError, load_risk_config
from mech_exo.home import Home
from mech_exo.reporting import read
from mech_exo.reporting.headline import TOP_CONTRIBUTORS, _headline, _thresholds, exposure, loss_level, monthly_warning_pct  # noqa: F401
from mech_exo.reporting.jsonable import _utc, as_json, iso  # noqa: F401
from mech_exo.reporting.live import _failed_checks, _last_build, drill_summary, killswitch_summary  # noqa: F401
from mech_exo.reporting.snapshot import NoData, snapshot

SCHEMA_VERSION = 1

# Traffic-light levels used on the page and in the API (defined with the bands).
GREEN, YELLOW, RED, UNKNOWN = bands.GREEN, bands.YELLOW, bands.RED, bands.UNKNOWN


# --- reading the snapshot ---------------------------------------------------------------------------

def _read_snapshot(home: Home) -> dict[str, Any]:
    """Everything the page shows, from one read-only connection to the published snapshot."""
    with snapshot(home) as con:
        out = {"timeline": read.var_timeline(con), "positions": read.positions_with_risk(con),
               "heatmap": read.risk_heatmap(con), "sessions": read.recent_session_dates(con, 10),
               "daily": read.latest_nav(con), "intraday": read.latest_intraday(con),
               "worst": read.worst_intraday(con), "mtd": read.latest_mtd(con), "var": read.latest_var(con),
               "latest_mark": read.latest_mark_ts(con)}
    if out["daily"] is None:
        raise NoData(f"no sessions in {home.analytics_db} yet — run `exo run` once market data has arrived")
    return out


def _snapshot_key(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


# --- the engine -------------------------------------------------------------------------------------

class RiskQueryEngine:
    """Read-only risk questions over one home's published snapshot (see the module docstring).

    ``now`` pins the clock (a datetime, or a zero-argument callable returning one) for tests and
    for replaying a history; by default the wall clock is used.
    """

    def __init__(self, home: Home | str | os.PathLike | None = None, *,
                 now: datetime | Callable[[], datetime] | None = None):
        self.home = home if isinstance(home, Home) else Home.resolve(home)
        self._now = now
        self._lock = threading.Lock()
        self._cache: tuple[tuple, dict] | None = None

    # -- clock and config --
    def now(self) -> datetime:
        n = self._now() if callable(self._now) else self._now
        return _utc(n) if n is not None else datetime.now(timezone.utc)

    def risk_config(self) -> dict[str, Any]:
        return load_risk_config(self.home.risk_yml)

    # -- snapshot access --
    def _data(self, force: bool = False) -> dict[str, Any]:
        """The cached snapshot read, re-read when the published file changed (or ``force``)."""
        with self._lock:
            key = _snapshot_key(self.home.analytics_db)
            if key is None:
                self._cache = None
                raise NoData(f"no data yet in {self.home.root} — run `exo run` (or `exo demo` for sample data)")
            if force or self._cache is None or self._cache[0] != key:
                self._cache = (key, _read_snapshot(self.home))
            return self._cache[1]

    def check_connection(self) -> bool:
        """True when the published snapshot opens read-only and answers a query on its models."""
        try:
            with snapshot(self.home) as con:
                read.probe(con)
            return True
        except Exception:  # noqa: BLE001 — any failure means "not reachable"; /health reports the reason
            return False

    def connection_error(self) -> str | None:
        """Why ``check_connection`` fails (None when it works) — for /health."""
        try:
            with snapshot(self.home) as con:
                read.probe(con)
            return None
        except NoData as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001
            return f"{self.home.analytics_db}: {exc.__class__.__name__}: {exc}"

    def get_last_update_time(self) -> datetime | None:
        """Time of the latest mark in the published data (UTC) — what "data age" counts from.
        None without a snapshot. (The build's own finish time is ``last_build`` in the metrics.)"""
        try:
            data = self._data()
        except NoData:
            return None
        return _utc((data["latest_mark"] or {}).get("ts")) or _utc((data["intraday"] or {}).get("ts"))

    def refresh_risk_metrics(self) -> dict[str, Any]:
        """Re-read the published snapshot now (drop the cache) and return fresh metrics.
        It does NOT run the pipeline: `exo run` / Dagster build and publish; this only reads."""
        try:
            self._data(force=True)
        except NoData:
            pass
        return self.get_live_risk_metrics()

    # -- the questions --
    def get_live_risk_metrics(self) -> dict[str, Any]:
        """The headline numbers (the body of ``/api/risk/current``; schema in docs/DASHBOARD.md)."""
        now = self.now()
        base = {"schema_version": SCHEMA_VERSION, "generated_at": now, "home": str(self.home.root),
                "killswitch": killswitch_summary(self.home), "drill": drill_summary(self.home, now),
                "last_build": _last_build(self.home), "failed_checks": _failed_checks(self.home)}
        try:
            risk = self.risk_config()
        except ConfigError as exc:
            return {**base, "status": "error", "message": str(exc)}
        try:
            data = self._data()
        except NoData as exc:
            return {**base, "status": "no_data", "message": str(exc), "thresholds": _thresholds(risk)}
        except Exception as exc:  # noqa: BLE001 — a damaged snapshot must show as an error, not a crash
            return {**base, "status": "error", "thresholds": _thresholds(risk),
                    "message": f"{self.home.analytics_db}: cannot read the snapshot ({exc.__class__.__name__}: {exc})"}
        return {**base, "status": "ok", "message": None, **_headline(data, risk, now)}

    def get_var_timeline(self) -> list[dict[str, Any]]:
        """var_daily over time: session_date, var95_usd, var99_usd, limits, utilisation (fractions), level."""
        return list(self._data()["timeline"])

    def get_positions(self) -> list[dict[str, Any]]:
        """positions_current ⋈ position_risk: one row per strategy × symbol, largest VaR contributor first."""
        return list(self._data()["positions"])

    def get_heatmap(self) -> list[dict[str, Any]]:
        """Σ var95_contribution (USD) of position_risk by sector × strategy."""
        return list(self._data()["heatmap"])

    def get_session_dates(self) -> list[date]:
        """The latest (up to 10) session dates with marks, newest first (the freshness rule needs them)."""
        return [r["session_date"] for r in self._data()["sessions"]]

    def get_exposure(self) -> dict[str, Any]:
        """Long / short / gross / net of the current book as fractions of NAV (SPEC §3 exposure)."""
        return exposure(self._data()["positions"])
