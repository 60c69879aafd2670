"""Data checks (SPEC §4 "fail closed"): Great Expectations suites over the published dbt models.

The rules live in ``expectations/<suite>.yml`` (one file per data set, readable by a risk
manager); this module loads them, reads each data set from DuckDB, runs them with Great
Expectations and returns plain ``CheckOutcome`` rows. The guards put the names of failed ERROR
checks in their alerts ("DATA SUSPECT (failed checks: ...)"); Dagster wraps the outcomes into
asset check results (``outcomes_by_asset``).

Why an *ephemeral* GX context over *pandas DataFrames*:
* GX 1.x talks to databases through SQLAlchemy, and its SQL datasource does not work on DuckDB
  (no supported dialect path); reading the table with DuckDB into a DataFrame and validating that
  with GX's pandas engine is the supported route and gives the same result shape.
* A file-backed context would write ``gx/`` state (stores, data docs) into the home or the
  checkout. The suites already live in git as YAML; an ephemeral context is in memory, built per
  run in milliseconds, and leaves nothing behind — runs are reproducible from the YAML alone.
* Readers open the published snapshot ``data/analytics.duckdb`` read-only (docs/ARCHITECTURE.md),
  so a check never holds a lock the dbt build needs.
* ``import great_expectations`` costs seconds, so it happens inside the functions that validate:
  importing this module (e.g. from the CLI) stays cheap.

Freshness is a GX expectation too: a one-row DataFrame with the age of the newest ``ts`` at
``now``, checked with ``expect_column_values_to_be_between(max_value=limit)`` — judged only in the
session (the freshness watch's rule from ``mech_exo.guards.session_window``), WARN severity.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from mech_exo.checks.frames import frame_filters, merge, raised, read_frame, table_columns
from mech_exo.checks.frames import q as _q
from mech_exo.checks.suites import (
    ERROR,
    EXPECTATIONS_DIR,
    FRESHNESS_EXPECTATION,
    NO_DATA,
    SEVERITIES,
    SUITES,
    WARN,
    CheckOutcome,
    Freshness,
    Rule,
    Suite,
    SuiteError,
    declared_checks,
    load_suite,
)
from mech_exo.config import load_risk_config
from mech_exo.events import iso_utc, utc_now
from mech_exo.guards import session_window
from mech_exo.home import Home

__all__ = ["ERROR", "WARN", "SEVERITIES", "SUITES", "NO_DATA", "EXPECTATIONS_DIR", "FRESHNESS_EXPECTATION",
           "CheckOutcome", "Freshness", "Rule", "Suite", "SuiteError", "declared_checks", "load_suite",
           "freshness_age", "freshness_passes", "run_suite", "run_checks", "failed_check_names",
           "outcomes_by_asset", "PARTS", "checked"]


# --- running GX ------------------------------------------------------------------------------------

def _context():
    """A fresh in-memory GX context: no files, no analytics calls, no progress bars on stderr."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig
    cfg = DataContextConfig(analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False),
                            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    ctx = gx.get_context(mode="ephemeral", project_config=cfg)
    ctx.data_sources.add_pandas("exo")
    return ctx


def _gx_expectation(rule: Rule, meta: dict, where: str):
    import great_expectations as gx
    cls_name = "".join(p.capitalize() for p in rule.expect.split("_"))
    cls = getattr(gx.expectations, cls_name, None)
    if cls is None:
        raise SuiteError(f"{where}: {rule.expect} is not a Great Expectations expectation")
    try:
        return cls(**rule.kwargs, meta=meta)
    except Exception as exc:  # pydantic validation of the arguments
        raise SuiteError(f"{where}: {rule.check}: bad arguments: {exc}") from None


def _validate(ctx, asset_name: str, df, expectations: Sequence) -> dict[int, Any]:
    """Run expectations (each with meta['i']) on one DataFrame; results keyed by that index."""
    import great_expectations as gx
    asset = ctx.data_sources.get("exo").add_dataframe_asset(asset_name)
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(name=asset_name)
    for e in expectations:
        suite.add_expectation(e)
    res = batch.validate(suite, result_format="SUMMARY")
    return {r.expectation_config.meta["i"]: r for r in res.results}


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if isinstance(v, dict):
        return "(" + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) + ")"
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    if hasattr(v, "item") and not isinstance(v, str):      # numpy scalars
        v = v.item()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _observed(r: Any, rule: Rule) -> tuple[str, int]:
    error = raised(r)
    if error is not None:
        return "error: " + error, 0
    res = r.result or {}
    n = int(res.get("unexpected_count") or 0)
    if r.success:
        return f"ok ({res.get('element_count', 0)} rows)", n
    if rule.expect == "expect_column_values_to_not_be_null":
        return f"{n} null value{'s' if n != 1 else ''}", n
    if rule.expect == "expect_column_pair_values_a_to_be_greater_than_b":
        shown = [f"{rule.kwargs['column_A']}={_fmt(a)} < {rule.kwargs['column_B']}={_fmt(b)}"
                 for a, b in res.get("partial_unexpected_list") or []]
    else:
        shown = [_fmt(v) for v in res.get("partial_unexpected_list") or []]
    shown = list(dict.fromkeys(shown))
    more = ", ..." if n > len(shown[:3]) else ""
    return f"{n} unexpected value{'s' if n != 1 else ''}: {', '.join(shown[:3])}{more}", n


def _run_rules(ctx, con, suite: Suite, columns: list[str], scope: str = "all") -> list[CheckOutcome]:
    frames = frame_filters(con, suite, columns, scope)
    per_rule: dict[int, list[Any]] = {}
    derived_errors: dict[str, str] = {}
    for j, frame_where in enumerate(frames):
        df, derived_errors = read_frame(con, suite, columns, frame_where)
        todo = [(i, r) for i, r in enumerate(suite.rules) if not set(r.columns) & set(derived_errors)]
        exps = [_gx_expectation(r, {"i": i}, f"{suite.path}: expectations[{i}]") for i, r in todo]
        name = suite.name if j == 0 else f"{suite.name}__part{j}"
        for i, r in (_validate(ctx, name, df, exps) if exps else {}).items():
            per_rule.setdefault(i, []).append(r)
        del df
    results = {i: merge(rs) for i, rs in per_rule.items()}
    out = []
    for i, r in enumerate(suite.rules):
        broken = [derived_errors[c] for c in r.columns if c in derived_errors]
        if broken:
            out.append(CheckOutcome(suite.name, r.check, False, r.severity, broken[0], 0, suite.asset))
            continue
        observed, n = _observed(results[i], r)
        out.append(CheckOutcome(suite.name, r.check, bool(results[i].success), r.severity, observed, n, suite.asset))
    return out


# --- freshness -------------------------------------------------------------------------------------

def _as_utc(ts: Any) -> datetime | None:
    """Naive timestamps mean UTC (the landing contract)."""
    if ts is None:
        return None
    if not isinstance(ts, datetime):                      # pandas Timestamp is a datetime; dates are not
        ts = datetime.fromisoformat(str(ts))
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _limit(risk: Mapping, key: str | None) -> float | None:
    node: Any = risk
    for part in (key or "").split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return None
        node = node[part]
    return float(node)


def freshness_age(latest: datetime | None, now: datetime, risk: Mapping) -> tuple[float | None, bool, bool]:
    """(age in minutes, in_session, counted_from_open). In session the age counts from the later of
    ``latest`` and today's open (the freshness watch's rule: the first minutes of a session are not
    stale by definition); outside it, it is the plain age of ``latest``, reported, not judged."""
    window = session_window(now, risk["session"])
    if window is None:
        return (None if latest is None else round((now - latest).total_seconds() / 60.0, 6)), False, False
    from_open = latest is None or latest < window[0]
    since = window[0] if from_open else latest
    return round((now - since).total_seconds() / 60.0, 6), True, from_open


def freshness_passes(age: float | None, limit: float | None, judged: bool) -> bool:
    """The freshness check: one number, the age, at most the limit when judged. GX's
    ``ExpectColumnValuesToBeBetween(max_value=limit)`` on a one-row frame decides exactly this (a
    missing age counts as passing, as GX skips nulls); it is evaluated here, without GX's 3 s
    import, so `exo data validate` re-judges it on every call (tests/unit/test_checks_scope.py
    compares the two at the boundaries)."""
    return not judged or limit is None or age is None or age <= limit


def _run_freshness(con, suite: Suite, risk: Mapping, now: datetime) -> CheckOutcome:
    import duckdb
    f = suite.freshness
    what = f"newest {suite.asset}.{f.column}"
    try:
        latest = _as_utc(con.execute(f"select max({_q(f.column)}) from {_q(suite.asset)}").fetchone()[0])
    except duckdb.Error as exc:
        return CheckOutcome(suite.name, f.check, False, WARN, f"error: {str(exc).splitlines()[0]}", 0, suite.asset)
    age, in_session, from_open = freshness_age(latest, now, risk)
    limit = _limit(risk, f.limit)
    enabled = bool(risk.get("freshness", {}).get("enabled", True))
    judged = in_session and enabled and limit is not None
    passed = freshness_passes(age, limit, judged)
    seen = f"{what} {iso_utc(latest)}" if latest else f"no {suite.asset} rows yet"
    if age is None:
        age_txt = ""
    elif from_open:
        age_txt = f", none since today's open {age:.1f} min ago"
    else:
        age_txt = f", {age:.1f} min old"
    if not enabled:
        why = "not judged: freshness watch disabled in config/risk.yml"
    elif not in_session:
        why = "outside the session: not judged"
    elif limit is None:
        why = f"not judged: {f.limit} not set in config/risk.yml"
    else:
        why = f"in session, limit {limit:g} min" + ("" if passed else " — STALE")
    return CheckOutcome(suite.name, f.check, passed, WARN, f"{seen}{age_txt} ({why})", 0 if passed else 1,
                        suite.asset)


# --- API -------------------------------------------------------------------------------------------

def _missing_table(suite: Suite) -> list[CheckOutcome]:
    msg = f"table {suite.asset} not found in the analytics snapshot"
    return [CheckOutcome(suite.name, c, False, sev, msg, 0, suite.asset) for c, sev in suite.declared()]


PARTS = ("rules", "freshness")


def run_suite(ctx, con, suite: Suite, risk: Mapping, now: datetime, scope: str = "all",
              parts: Sequence[str] = PARTS) -> list[CheckOutcome]:
    """The suite's row rules (GX, on ``ctx``) and its freshness check; ``parts`` picks either."""
    columns = table_columns(con, suite.asset)
    if columns is None:
        return [o for o in _missing_table(suite)
                if ("freshness" in parts if suite.freshness and o.check == suite.freshness.check else "rules" in parts)]
    out = _run_rules(ctx, con, suite, columns, scope) if "rules" in parts else []
    if suite.freshness and "freshness" in parts:
        out.append(_run_freshness(con, suite, risk, now))
    return out


def run_checks(home: Home | str | Path, con=None, now: datetime | None = None,
               suites: Iterable[str] | None = None, scope: str = "all",
               parts: Sequence[str] = PARTS) -> list[CheckOutcome]:
    """Run the suites (default: all) against ``con`` or the published snapshot (read-only).

    ``scope='new'`` (the pipeline after each build): a suite with ``new_rows`` reads only the rows
    the latest build wrote — after a full build that is every row; after a tick, its window. Rules
    over the whole table stay with dbt's data tests and ingest (fill_id unique across the table).
    ``scope='all'`` (`exo data validate`, the health check): every row.
    Either way, more than ``PART_ROWS`` rows are checked in hash-split frames (``frames.frame_filters``), so
    memory holds one frame, not the table. ``parts=("freshness",)`` judges only the freshness checks
    (no GX import: milliseconds); ``("rules",)`` only the row rules.

    No snapshot yet → one failed outcome saying so (never an exception: the pipeline reports it).
    A broken suite file raises ``SuiteError`` (that is a bug in the repo, not in the data).
    """
    h = home if isinstance(home, Home) else Home.resolve(home)
    loaded = [load_suite(n) for n in (SUITES if suites is None else suites)]
    risk = load_risk_config(h.risk_yml)
    now = _as_utc(now) if now is not None else utc_now()
    own = con is None
    if own:
        if not h.analytics_db.exists():
            return [CheckOutcome("analytics", "snapshot exists", False, ERROR,
                                 f"{NO_DATA} ({h.analytics_db} not found)", 0, "analytics_db")]
        import duckdb
        con = duckdb.connect(str(h.analytics_db), read_only=True)
    try:
        ctx = _context() if "rules" in parts else None
        return [o for s in loaded for o in run_suite(ctx, con, s, risk, now, scope, parts)]
    finally:
        if own:
            con.close()


def checked(home: Home | str | Path, *, con=None, now: datetime | None = None,
            scope: str = "all") -> tuple[list[CheckOutcome], bool]:
    """`exo data validate`'s run: every suite on every row (``con``: the snapshot, or a scoped copy
    of it named by ``scope``). The row rules come from the record of this publish when it has one
    (``mech_exo.checks.recorded``: same snapshot, suites, risk.yml and code), else GX runs them and
    the result is kept; the freshness checks are judged now. Returns (outcomes in run_checks'
    order, whether the row rules came from the record)."""
    import duckdb

    from mech_exo.checks import recorded

    h = home if isinstance(home, Home) else Home.resolve(home)
    if not h.analytics_db.exists():
        return run_checks(h, now=now), False
    snap = duckdb.connect(str(h.analytics_db), read_only=True)
    try:
        k = recorded.key(h, snap, scope)
        rules = recorded.load(h, k)
        hit = rules is not None
        target = snap if con is None else con
        if rules is None:
            rules = run_checks(h, con=target, now=now, parts=("rules",))
            recorded.save(h, k, rules)
        fresh = run_checks(h, con=target, now=now, parts=("freshness",))
    finally:
        snap.close()
    order = {name: i for i, name in enumerate(SUITES)}
    tagged = [(order.get(o.suite, len(order)), 0, i, o) for i, o in enumerate(rules)]
    tagged += [(order.get(o.suite, len(order)), 1, i, o) for i, o in enumerate(fresh)]
    return [o for *_, o in sorted(tagged, key=lambda t: t[:3])], hit


def failed_check_names(outcomes: Iterable[CheckOutcome], include_warnings: bool = False) -> list[str]:
    """Names of failed checks for a guard's "DATA SUSPECT (failed checks: ...)".

    Only ERROR checks by default: a stale feed is the freshness watch's own WARNING, and listing it
    would mark every loss during a quiet minute as suspect data.
    """
    return [o.name for o in outcomes if not o.passed and (include_warnings or o.severity == ERROR)]


def outcomes_by_asset(outcomes: Iterable[CheckOutcome]) -> dict[str, list[CheckOutcome]]:
    out: dict[str, list[CheckOutcome]] = {}
    for o in outcomes:
        out.setdefault(o.asset, []).append(o)
    return out
