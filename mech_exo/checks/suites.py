"""The suite files ``expectations/<suite>.yml``: their format, loaded and checked (names file and entry).

Read by ``mech_exo.checks`` (which runs them) and by the Dagster wiring (which declares one asset
check per rule): no Great Expectations import here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from mech_exo.home import REPO_ROOT

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SUITES = ("fills", "marks", "cash_flows", "nav_daily", "nav_intraday", "var_daily")
ERROR, WARN = "ERROR", "WARN"
SEVERITIES = (ERROR, WARN)
NO_DATA = "no data — run exo run"
FRESHNESS_EXPECTATION = "expect_column_values_to_be_between"
_RULE_KEYS = {"expect", "why", "severity"}
_COLUMN_KEYS = ("column", "column_A", "column_B")

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
