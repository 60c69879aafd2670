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
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from mech_exo.config import load_risk_config
from mech_exo.events import iso_utc, utc_now
from mech_exo.guards import session_window
from mech_exo.home import REPO_ROOT, Home

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SUITES = ("fills", "marks", "cash_flows", "nav_daily", "nav_intraday", "var_daily")
ERROR, WARN = "ERROR", "WARN"
SEVERITIES = (ERROR, WARN)
NO_DATA = "no data — run exo run"
FRESHNESS_EXPECTATION = "expect_column_values_to_be_between"
_RULE_KEYS = {"expect", "why", "severity"}
_COLUMN_KEYS = ("column", "column_A", "column_B")
PART_ROWS = 2_000_000      # rows per pandas frame when a suite's rows are checked in parts
# expectations judged row by row (uniqueness too, given frames split by the hash of its column)
ROW_WISE = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_between",
            "expect_column_values_to_be_in_set", "expect_column_values_to_be_unique",
            "expect_column_pair_values_a_to_be_greater_than_b"}


class SuiteError(ValueError):
    """A suite file is unreadable or breaks the format; the message names the file and the entry."""


@dataclass(frozen=True)
class CheckOutcome:
    suite: str
    check: str                 # expectation name + column(s), e.g. expect_column_values_to_be_unique(fill_id)
    passed: bool
    severity: str              # 'ERROR' (validity) | 'WARN' (freshness)
    observed: str              # short text: what was seen
    n_unexpected: int
    asset: str                 # the dbt model / table

    @property
    def name(self) -> str:
        """What an alert lists: ``suite:check``."""
        return f"{self.suite}:{self.check}"

    @property
    def dagster_name(self) -> str:
        """The check as a Dagster check name (letters, digits and underscores only)."""
        return re.sub(r"\W+", "_", f"{self.suite}__{self.check}").strip("_")


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite file: the GX name, its arguments, and why it matters."""
    expect: str
    kwargs: dict
    severity: str = ERROR
    why: str = ""

    @property
    def columns(self) -> list[str]:
        cols = [self.kwargs[k] for k in _COLUMN_KEYS if k in self.kwargs]
        return cols + list(self.kwargs.get("column_list", []))

    @property
    def check(self) -> str:
        return f"{self.expect}({', '.join(self.columns)})"


@dataclass(frozen=True)
class Freshness:
    column: str                # the timestamp column whose newest value is judged
    as_: str                   # name of the age column, e.g. latest_mark_age_minutes
    limit: str | None          # dotted config/risk.yml key holding the limit in minutes

    @property
    def check(self) -> str:
        return f"{FRESHNESS_EXPECTATION}({self.as_})"


@dataclass(frozen=True)
class Suite:
    name: str
    asset: str
    description: str
    rules: tuple[Rule, ...]
    freshness: Freshness | None
    derived: dict
    path: Path
    # the column that marks the rows the latest build wrote (a watermark); with scope='new' the
    # suite reads only those rows: a tick validates what it changed, not the whole history
    new_rows: str | None = None

    def declared(self) -> list[tuple[str, str]]:
        """(check, severity) of every outcome a run of this suite produces, in order."""
        out = [(r.check, r.severity) for r in self.rules]
        return out + ([(self.freshness.check, WARN)] if self.freshness else [])


# --- suite files -----------------------------------------------------------------------------------

def _rule(path: Path, i: int, raw: Any) -> Rule:
    where = f"{path}: expectations[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("expect"), str) or not raw["expect"].startswith("expect_"):
        raise SuiteError(f"{where}: needs 'expect: expect_...' (got {raw!r})")
    severity = str(raw.get("severity", ERROR)).upper()
    if severity not in SEVERITIES:
        raise SuiteError(f"{where}: severity must be one of {SEVERITIES}, got {raw.get('severity')!r}")
    rule = Rule(raw["expect"], {k: v for k, v in raw.items() if k not in _RULE_KEYS}, severity,
                str(raw.get("why", "")))
    if not rule.columns:
        raise SuiteError(f"{where}: {rule.expect} names no column (column, column_A/column_B or column_list)")
    return rule


def load_suite(name: str, directory: Path | None = None) -> Suite:
    """Read ``expectations/<name>.yml``. No GX import: listing checks stays cheap."""
    path = (directory or EXPECTATIONS_DIR) / f"{name}.yml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file (known suites: {', '.join(SUITES)})") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not raw.get("asset"):
        raise SuiteError(f"{path}: expected a mapping with at least 'asset' (the table to check)")
    rules = tuple(_rule(path, i, r) for i, r in enumerate(raw.get("expectations") or []))
    fr = raw.get("freshness")
    if fr is not None and not (isinstance(fr, dict) and fr.get("column") and fr.get("as")):
        raise SuiteError(f"{path}: freshness needs 'column' and 'as' (got {fr!r})")
    derived = raw.get("derived_columns") or {}
    if not isinstance(derived, dict):
        raise SuiteError(f"{path}: derived_columns must map a column name to a SQL expression")
    new_rows = raw.get("new_rows")
    if new_rows is not None and not isinstance(new_rows, str):
        raise SuiteError(f"{path}: new_rows must name the watermark column (got {new_rows!r})")
    return Suite(name=str(raw.get("suite", name)), asset=str(raw["asset"]),
                 description=str(raw.get("description", "")), rules=rules,
                 freshness=Freshness(fr["column"], fr["as"], fr.get("limit")) if fr else None,
                 derived={str(k): str(v) for k, v in derived.items()}, path=path, new_rows=new_rows)


def declared_checks(suites: Iterable[str] | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """asset → [(suite, check, severity)] for every check a run produces (Dagster check specs)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for name in SUITES if suites is None else suites:
        s = load_suite(name)
        out.setdefault(s.asset, []).extend((s.name, c, sev) for c, sev in s.declared())
    return out


# --- reading the data ------------------------------------------------------------------------------

def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _table_columns(con, table: str) -> list[str] | None:
    """Columns of ``table`` as a query resolves it, or None when there is no such table."""
    import duckdb
    try:
        cur = con.execute(f"select * from {_q(table)} limit 0")
    except duckdb.CatalogException:
        return None
    return [d[0] for d in cur.description]


def _scope_where(suite: Suite, columns: list[str], scope: str) -> str:
    """``scope='new'``: only the rows the latest build wrote (``new_rows`` = its watermark), when
    the suite declares one; else every row."""
    if scope == "new" and suite.new_rows and suite.new_rows in columns:
        wm = _q(suite.new_rows)
        return f" where {wm} = (select max({wm}) from {_q(suite.asset)})"
    return ""


def _partitions(con, suite: Suite, columns: list[str], where: str) -> tuple[str, int] | None:
    """(hash key, K) when the rows to check are split into K frames of about ``PART_ROWS`` rows,
    None for one frame. Only for suites whose rules are all row by row (no derived columns, which
    may be window expressions) and whose uniqueness rules share one column set: rows are assigned
    by the hash of that key, so every copy of a value lands in the same frame and each rule's
    verdict over the K frames is exactly its verdict over the whole (a 26M-fill first build would
    otherwise copy every fill into one pandas frame: ~6 GB)."""
    if suite.derived or any(r.expect not in ROW_WISE for r in suite.rules):
        return None
    keys = {tuple(r.columns) for r in suite.rules if r.expect == "expect_column_values_to_be_unique"}
    if len(keys) > 1 or not set(next(iter(keys), ())) <= set(columns):
        return None
    n = con.execute(f"select count(*) from {_q(suite.asset)}{where}").fetchone()[0]
    if n <= PART_ROWS:
        return None
    key = ", ".join(_q(c) for c in next(iter(keys))) if keys else "rowid"
    return f"hash({key})", -(-n // PART_ROWS)


def _read_frame(con, suite: Suite, columns: list[str], where: str = ""):
    """The suite's columns (those the table has) plus derived ones, of the rows ``where`` selects;
    a broken derived column is reported on the rules that use it rather than dropping the whole suite."""
    import duckdb
    wanted = {c for r in suite.rules for c in r.columns} - set(suite.derived)
    plain = [_q(c) for c in columns if c in wanted]
    derived = [f"({expr.replace('{table}', _q(suite.asset))}) as {_q(name)}"
               for name, expr in suite.derived.items()]
    errors: dict[str, str] = {}
    try:
        df = con.execute(f"select {', '.join(plain + derived) or '1 as _row'} from {_q(suite.asset)}{where}").df()
    except duckdb.Error as exc:
        if not derived:
            raise
        errors = {name: f"derived column {name} failed: {str(exc).splitlines()[0]}" for name in suite.derived}
        df = con.execute(f"select {', '.join(plain) or '1 as _row'} from {_q(suite.asset)}{where}").df()
    return df, errors


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


def _raised(r: Any) -> str | None:
    """The message of the exception a GX expectation raised, or None."""
    info = r.exception_info or {}
    errors = [x for x in (info.values() if "raised_exception" not in info else [info])
              if isinstance(x, dict) and x.get("raised_exception")]
    return (str(errors[0].get("exception_message", "")).splitlines() or [""])[0] if errors else None


def _observed(r: Any, rule: Rule) -> tuple[str, int]:
    error = _raised(r)
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


@dataclass
class _Merged:
    """One rule's GX results over several frames, shaped as ``_observed`` reads a GX result."""
    success: bool
    result: dict
    exception_info: dict


def _merge(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    for r in parts:   # an expectation that raised: its error is the outcome
        if _raised(r) is not None:
            return r
    res = [r.result or {} for r in parts]
    shown = [v for x in res for v in (x.get("partial_unexpected_list") or [])][:20]
    return _Merged(all(bool(r.success) for r in parts),
                   {"element_count": sum(int(x.get("element_count") or 0) for x in res),
                    "unexpected_count": sum(int(x.get("unexpected_count") or 0) for x in res),
                    "partial_unexpected_list": shown}, {})


def _run_rules(ctx, con, suite: Suite, columns: list[str], scope: str = "all") -> list[CheckOutcome]:
    where = _scope_where(suite, columns, scope)
    split = _partitions(con, suite, columns, where)
    if split is None:
        frames = [where]
    else:
        key, k = split
        glue = " and " if where else " where "
        frames = [f"{where}{glue}{key} % {k} = {j}" for j in range(k)]
    per_rule: dict[int, list[Any]] = {}
    derived_errors: dict[str, str] = {}
    for j, frame_where in enumerate(frames):
        df, derived_errors = _read_frame(con, suite, columns, frame_where)
        todo = [(i, r) for i, r in enumerate(suite.rules) if not set(r.columns) & set(derived_errors)]
        exps = [_gx_expectation(r, {"i": i}, f"{suite.path}: expectations[{i}]") for i, r in todo]
        name = suite.name if j == 0 else f"{suite.name}__part{j}"
        for i, r in (_validate(ctx, name, df, exps) if exps else {}).items():
            per_rule.setdefault(i, []).append(r)
        del df
    results = {i: _merge(rs) for i, rs in per_rule.items()}
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


def _run_freshness(ctx, con, suite: Suite, risk: Mapping, now: datetime) -> CheckOutcome:
    import duckdb
    import great_expectations as gx
    import pandas as pd
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
    exp = gx.expectations.ExpectColumnValuesToBeBetween(
        column=f.as_, max_value=limit if judged else math.inf, meta={"i": 0})
    result = _validate(ctx, f"{suite.name}_freshness", pd.DataFrame({f.as_: [age]}, dtype="float64"), [exp])[0]
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
        why = f"in session, limit {limit:g} min" + ("" if result.success else " — STALE")
    return CheckOutcome(suite.name, f.check, bool(result.success), WARN, f"{seen}{age_txt} ({why})",
                        0 if result.success else 1, suite.asset)


# --- API -------------------------------------------------------------------------------------------

def _missing_table(suite: Suite) -> list[CheckOutcome]:
    msg = f"table {suite.asset} not found in the analytics snapshot"
    return [CheckOutcome(suite.name, c, False, sev, msg, 0, suite.asset) for c, sev in suite.declared()]


def run_suite(ctx, con, suite: Suite, risk: Mapping, now: datetime, scope: str = "all") -> list[CheckOutcome]:
    columns = _table_columns(con, suite.asset)
    if columns is None:
        return _missing_table(suite)
    out = _run_rules(ctx, con, suite, columns, scope)
    if suite.freshness:
        out.append(_run_freshness(ctx, con, suite, risk, now))
    return out


def run_checks(home: Home | str | Path, con=None, now: datetime | None = None,
               suites: Iterable[str] | None = None, scope: str = "all") -> list[CheckOutcome]:
    """Run the suites (default: all) against ``con`` or the published snapshot (read-only).

    ``scope='new'`` (the pipeline after each build): a suite with ``new_rows`` reads only the rows
    the latest build wrote — after a full build that is every row; after a tick, its window. Rules
    over the whole table stay with dbt's data tests and ingest (fill_id unique across the table).
    ``scope='all'`` (`exo data validate`, the health check): every row.
    Either way, more than ``PART_ROWS`` rows are checked in hash-split frames (``_partitions``), so
    memory holds one frame, not the table.

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
        ctx = _context()
        return [o for s in loaded for o in run_suite(ctx, con, s, risk, now, scope)]
    finally:
        if own:
            con.close()


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
