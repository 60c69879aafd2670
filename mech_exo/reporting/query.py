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
"""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mech_exo import bands
from mech_exo.config import ConfigError, load_risk_config
from mech_exo.guards import concentration_violations
from mech_exo.home import Home
from mech_exo.reporting import read
from mech_exo.reporting.snapshot import NoData, snapshot

SCHEMA_VERSION = 1
TOP_CONTRIBUTORS = 5

# Traffic-light levels used on the page and in the API (defined with the bands).
GREEN, YELLOW, RED, UNKNOWN = bands.GREEN, bands.YELLOW, bands.RED, bands.UNKNOWN


def _utc(ts: Any) -> datetime | None:
    """Snapshot timestamps are naive UTC (landing contract); make them aware."""
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def iso(ts: Any) -> str | None:
    """ISO-8601 for JSON: datetimes as UTC ``...Z``, dates as ``YYYY-MM-DD``."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(ts, date):
        return ts.isoformat()
    return str(ts)


def as_json(obj: Any) -> Any:
    """Deep copy with dates/datetimes as ISO strings and NaN as None (valid JSON for scripts)."""
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_json(v) for v in obj]
    if isinstance(obj, (datetime, date)):
        return iso(obj)
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def loss_level(fraction: float | None, stop_pct: float, warning_pct: float) -> str:
    """green / yellow / red of a return against a guard's thresholds, with the guards' rule
    (``mech_exo.bands.loss_light``: the percentage rounded to 6 decimals ``<=`` the threshold)."""
    return bands.loss_light(fraction, stop_pct, warning_pct)


monthly_warning_pct = bands.monthly_warning_pct


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


# --- live files (read fresh every time) -------------------------------------------------------------

def killswitch_summary(home: Home) -> dict[str, Any]:
    """The switch as the page and API show it. Unreadable ⇒ halted (fail closed), with the error."""
    from mech_exo.killswitch import read_state

    try:
        st = read_state(home)
    except Exception as exc:  # noqa: BLE001 — read_state never raises by contract; be safe anyway
        return {"readable": False, "trading_enabled": False, "halted": True, "reason": None,
                "trigger": None, "updated_at": None, "updated_by": None,
                "error": f"{home.killswitch_yml}: {exc.__class__.__name__}: {exc}", "path": str(home.killswitch_yml)}
    return {"readable": st.readable, "trading_enabled": bool(st.readable and st.trading_enabled),
            "halted": not (st.readable and st.trading_enabled), "reason": st.reason,
            "trigger": st.trigger if st.readable else None, "updated_at": st.updated_at or None,
            "updated_by": st.updated_by or None, "error": st.error, "path": str(st.path)}


def drill_summary(home: Home, now: datetime | None) -> dict[str, Any]:
    """Drill badge from ``mech_exo.drill.drill_status``; 'unknown' when that module is missing or fails
    (the badge must never take the page down)."""
    try:
        from mech_exo.drill import drill_status
    except ImportError as exc:
        return {"badge": UNKNOWN, "days_since_last_live_pass": None, "last_live_pass_at": None,
                "error": f"drill status unavailable: {exc}"}
    try:
        st = drill_status(home, now=now)
    except Exception as exc:  # noqa: BLE001
        return {"badge": UNKNOWN, "days_since_last_live_pass": None, "last_live_pass_at": None,
                "error": f"drill status unreadable: {exc.__class__.__name__}: {exc}"}
    last = st.get("last_live_pass") or {}
    return {"badge": st.get("badge", UNKNOWN), "days_since_last_live_pass": st.get("days_since_last_live_pass"),
            "last_live_pass_at": last.get("finished_at"), "next_due": st.get("next_due"), "error": None}


def _last_build(home: Home) -> dict[str, Any] | None:
    from mech_exo.pipeline import read_run_status

    st = read_run_status(home)
    if not st:
        return None
    return {"finished_at": st.get("finished_at"), "ok": st.get("ok"), "failed_step": st.get("failed_step"),
            "error": st.get("error")}


def _failed_checks(home: Home) -> list[str]:
    from mech_exo.pipeline import read_failed_checks

    return read_failed_checks(home)


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


def exposure(positions: list[dict]) -> dict[str, Any]:
    nav = positions[0]["nav"] if positions else None
    long_v = sum(p["market_value"] for p in positions if p["market_value"] > 0)
    short_v = -sum(p["market_value"] for p in positions if p["market_value"] < 0)
    frac = (lambda v: v / nav) if nav else (lambda v: None)
    return {"nav": nav, "long_usd": long_v, "short_usd": short_v, "long": frac(long_v), "short": frac(short_v),
            "gross": frac(long_v + short_v), "net": frac(long_v - short_v), "n_positions": len(positions)}


def _thresholds(risk: dict) -> dict[str, Any]:
    v = risk["var"]
    return {"daily_stop_pct": risk["daily_stop"]["threshold_pct"], "daily_warning_pct": risk["daily_stop"]["warning_pct"],
            "monthly_stop_pct": risk["monthly_stop"]["threshold_pct"], "monthly_warning_pct": monthly_warning_pct(risk),
            "monthly_min_history_days": risk["monthly_stop"]["min_history_days"],
            "var_limit95_usd": v["limit95_usd"], "var_limit99_usd": v["limit99_usd"],
            "var_warning_pct": v["warning_pct"], "var_critical_pct": v["critical_pct"], "var_halt_pct": v["halt_pct"],
            "max_weight_pct": risk["concentration"]["max_weight_pct"],
            "freshness_max_age_minutes": risk["freshness"]["max_age_minutes"]}


def _headline(data: dict, risk: dict, now: datetime) -> dict[str, Any]:
    th = _thresholds(risk)
    daily, intra, worst = data["daily"], data["intraday"] or {}, data["worst"] or {}
    mtd, var = data["mtd"] or {}, data["var"] or {}
    latest = _utc((data["latest_mark"] or {}).get("ts"))
    # "now" is the latest intraday point of the latest session (falls back to the close).
    live_return = intra.get("day_return") if intra else daily["daily_return"]
    live_pnl = intra.get("day_pnl") if intra else daily["pnl"]
    contributors = sorted((p for p in data["positions"] if p["var95_contribution"] is not None),
                          key=lambda p: p["var95_contribution"], reverse=True)[:TOP_CONTRIBUTORS]
    return {
        "as_of": latest,
        "session_date": daily["session_date"],
        "data_age_minutes": round((now - latest).total_seconds() / 60, 1) if latest else None,
        "nav": intra.get("nav", daily["nav"]),
        "nav_close": daily["nav"],
        "day_pnl": live_pnl,
        "day_return": live_return,
        "day_worst_return": worst.get("day_return"),
        "day_worst_at": _utc(worst.get("ts")),
        "day_level": loss_level(live_return, th["daily_stop_pct"], th["daily_warning_pct"]),
        "mtd_return": mtd.get("mtd_return"),
        "mtd_drawdown": mtd.get("mtd_drawdown"),
        "mtd_level": loss_level(mtd.get("mtd_return"), th["monthly_stop_pct"], th["monthly_warning_pct"]),
        "monthly_guard": {"armed": mtd.get("guard_armed"), "history_days": mtd.get("history_days"),
                          "breached": mtd.get("breached"), "month": mtd.get("month")},
        "var_session_date": var.get("session_date"),
        "var95": var.get("var95"), "var99": var.get("var99"),
        "var95_usd": var.get("var95_usd"), "var99_usd": var.get("var99_usd"),
        "limit95_usd": var.get("limit95_usd", th["var_limit95_usd"]),
        "limit99_usd": var.get("limit99_usd", th["var_limit99_usd"]),
        "utilization95": var.get("utilization95"), "utilization99": var.get("utilization99"),
        "level": var.get("level", "insufficient_data"),
        "n_obs": var.get("n_obs"),
        "exposure": exposure(data["positions"]),
        "top_contributors": [{"strategy": p["strategy"], "symbol": p["symbol"], "sector": p["sector"],
                              "market_value": p["market_value"], "weight": p["weight"],
                              "var95_contribution": p["var95_contribution"], "var95_share": p["var95_share"]}
                             for p in contributors],
        "concentration_breaches": [{"symbol": s, "weight_pct": w} for s, w in
                                   concentration_violations(data["positions"], th["max_weight_pct"])],
        "session_dates": [r["session_date"] for r in data["sessions"]],
        "thresholds": th,
    }
