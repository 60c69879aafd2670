"""The bands (``mech_exo.bands``): hand-computed boundaries, and dbt's ``var_daily.level`` /
``mtd_drawdown.guard_armed`` / ``breached`` held equal to them.

The dbt side is not copied by hand: the test cuts the ``level`` CASE and the ``guard_armed`` /
``breached`` expressions out of ``models/marts/*.sql``, renders them with the project's own
``pct6`` macro (``macros/math.sql``) and the dbt vars of a risk config, and runs that SQL text in
DuckDB over boundary rows. If a model's rule changes and the bands do not (or the reverse), it fails.
No dbt build: seconds.
"""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

from mech_exo import bands as b
from mech_exo import guards as g
from mech_exo.config import dbt_vars, load_risk_config

ROOT = Path(__file__).resolve().parents[2]
RISK = load_risk_config(None)
# a second config whose thresholds are all off the defaults, so a hard-coded number cannot pass
ODD = {**RISK, "var": {**RISK["var"], "warning_pct": 55.5, "critical_pct": 81.25, "halt_pct": 97.0},
       "monthly_stop": {**RISK["monthly_stop"], "threshold_pct": -2.25, "min_history_days": 4},
       "daily_stop": {**RISK["daily_stop"], "threshold_pct": -1.1, "warning_pct": -0.6}}


# --- hand-computed boundaries ----------------------------------------------------------------------

@pytest.mark.parametrize("ret, band", [
    (-0.008, b.STOP), (-0.0080000004, b.STOP), (-0.00799999, b.WARN), (-0.004, b.WARN),
    (-0.0039999, b.OK), (0.0, b.OK), (None, None),
])
def test_day_band_boundaries(ret, band):
    assert b.day_band(ret, RISK["daily_stop"]) == band
    assert b.loss_light(ret, -0.8, -0.4) == {b.STOP: "red", b.WARN: "yellow", b.OK: "green", None: "unknown"}[band]


@pytest.mark.parametrize("u, level", [
    (None, b.INSUFFICIENT), (0.0, b.NORMAL), (0.6999999, b.NORMAL), (0.69999999999, b.WARNING),  # → 70.0 at 6 dp
    (0.7, b.WARNING), (0.9, b.WARNING), (0.9000001, b.CRITICAL), (1.0, b.CRITICAL), (1.0000001, b.BREACH),
])
def test_var_level_boundaries(u, level):
    assert b.var_level(u, u, RISK["var"]) == level
    assert b.var_light(u, RISK["var"]) == b.VAR_LIGHT[level]


def test_var_level_takes_the_larger_utilisation_and_ignores_a_missing_one():
    assert b.var_level(0.5, 0.95, RISK["var"]) == b.CRITICAL
    assert b.var_level(0.95, 0.5, RISK["var"]) == b.CRITICAL
    assert b.var_level(0.75, None, RISK["var"]) == b.WARNING


def test_monthly_breach_needs_arming():
    ms = RISK["monthly_stop"]
    assert b.monthly_breached(-0.03, 10, ms) and not b.monthly_breached(-0.03, 9, ms)
    assert not b.monthly_breached(-0.0299999, 10, ms)
    assert b.monthly_warning_pct(RISK) == -1.5


def test_over_weight_is_strictly_above_the_limit_after_rounding():
    assert not b.over_weight(0.15, 15.0) and not b.over_weight(0.1500000004, 15.0)
    assert b.over_weight(0.150001, 15.0) and b.over_weight(-0.16, 15.0)


def test_describe_names_the_configured_thresholds():
    d = b.describe(RISK)
    assert set(d) == {g.INTRADAY, g.MONTHLY, g.VAR, g.CONCENTRATION, g.FRESHNESS}
    # the defaults give back the sentences the sensors always showed
    assert d[g.INTRADAY] == "Day loss ≤ −0.8 % at any intraday NAV point: halt + CRITICAL; from −0.4 %: WARNING."
    assert d[g.MONTHLY] == "MTD return ≤ −3 % once 10 sessions of history exist: halt + CRITICAL."
    assert d[g.VAR] == "VaR utilisation ≥ 70 % WARNING, > 90 % CRITICAL, > 100 % halt."
    assert d[g.CONCENTRATION] == "A single name above 15 % of NAV: WARNING."
    odd = b.describe(ODD)
    assert "≤ −1.1 %" in odd[g.INTRADAY] and "−0.6 %" in odd[g.INTRADAY]
    assert "≤ −2.25 % once 4 sessions" in odd[g.MONTHLY]
    assert "≥ 55.5 %" in odd[g.VAR] and "> 81.25 %" in odd[g.VAR] and "> 97 % halt" in odd[g.VAR]


def test_guards_judge_with_the_same_bands():
    """judge_var / judge_intraday severities follow the band functions exactly."""
    for u in (0.69, 0.7, 0.9, 0.9000001, 1.0, 1.0000001):
        usd = u * RISK["var"]["limit95_usd"]
        d = g.judge_var({"session_date": "2026-11-20", "var95_usd": usd, "var99_usd": 0.0}, RISK)
        level = b.var_band(b.utilization_pct(usd, RISK["var"]["limit95_usd"]), RISK["var"])
        assert d.severity == {b.NORMAL: None, b.WARNING: "WARNING", b.CRITICAL: "CRITICAL", b.BREACH: "CRITICAL"}[level]
        assert d.halt == (level == b.BREACH)
    for r in (-0.008, -0.00799999, -0.004, -0.0039999):
        d = g.judge_intraday([{"ts": "t", "session_date": "2026-11-20", "day_return": r}], RISK)
        assert d.severity == {b.STOP: "CRITICAL", b.WARN: "WARNING", b.OK: None}[b.day_band(r, RISK["daily_stop"])]


# --- dbt's rule, from the model files --------------------------------------------------------------

def _render(expr: str, risk: dict) -> str:
    """Render a model fragment with the project's macros and the dbt vars of ``risk``."""
    macros = (ROOT / "macros" / "math.sql").read_text()
    env = jinja2.Environment()
    module = env.from_string(macros).make_module()
    vars_ = dbt_vars(risk)
    return env.from_string(expr).render(var=lambda k: vars_[k], pct6=module.pct6).strip()


def _cut(model: str, pattern: str) -> str:
    text = (ROOT / "models" / "marts" / model).read_text()
    m = re.search(pattern, text, re.S)
    assert m, f"models/marts/{model}: the expression this test checks ({pattern!r}) is gone — update the test"
    return m.group(1)


def var_level_sql(risk: dict) -> str:
    return _render(_cut("var_daily.sql", r"(case\s+when var95 is null.*?end)\s+as level"), risk)


def mtd_sql(risk: dict) -> tuple[str, str]:
    armed = _cut("mtd_drawdown.sql", r",\s*([^,]*?)\s+as guard_armed")
    breached = _cut("mtd_drawdown.sql", r"guard_armed,\s*(.*?)\s+as breached")
    return _render(armed, risk), _render(breached, risk)


def _utilisations() -> list[float | None]:
    """Fractions around every band edge (default and odd configs), with float noise and 6-dp rounding edges."""
    edges = [55.5, 70.0, 81.25, 90.0, 97.0, 100.0]
    out: list[float | None] = [None, 0.0, 0.25, 1.5]
    for e in edges:
        f = e / 100
        out += [f, f + 1e-9, f - 1e-9, f + 1e-8, f - 1e-8, f + 5e-9, f - 5e-9, f * (1 + 2 ** -52), f * (1 - 2 ** -52)]
    return out


@pytest.mark.parametrize("risk", [RISK, ODD], ids=["defaults", "odd"])
def test_dbt_var_level_equals_bands(risk):
    sql = var_level_sql(risk)
    us = _utilisations()
    rows = [(u95, u99) for u95 in us for u99 in us if (u95 is None) == (u99 is None)]
    con = duckdb.connect()
    try:
        con.execute("create table t (i integer, var95 double, utilization95 double, utilization99 double)")
        con.executemany("insert into t values (?, ?, ?, ?)",
                        [(i, None if u95 is None else 0.01, u95, u99) for i, (u95, u99) in enumerate(rows)])
        got = dict(con.execute(f"select i, {sql} from t").fetchall())
    finally:
        con.close()
    assert len(got) == len(rows)
    bad = [(u95, u99, got[i], b.var_level(u95, u99, risk["var"])) for i, (u95, u99) in enumerate(rows)
           if got[i] != b.var_level(u95, u99, risk["var"])]
    assert not bad, f"var_daily.level and mech_exo.bands.var_level disagree on {len(bad)} rows, e.g. {bad[:5]}"
    assert {b.INSUFFICIENT, b.NORMAL, b.WARNING, b.CRITICAL, b.BREACH} <= set(got.values())


@pytest.mark.parametrize("risk", [RISK, ODD], ids=["defaults", "odd"])
def test_dbt_monthly_breached_equals_bands(risk):
    armed_sql, breached_sql = mtd_sql(risk)
    ms = risk["monthly_stop"]
    rets = []
    for e in (-3.0, -2.25, -1.5, 0.0):
        f = e / 100
        rets += [f, f + 1e-9, f - 1e-9, f + 5e-9, f - 5e-9, f * (1 + 2 ** -52), f * (1 - 2 ** -52)]
    days = [0, 1, ms["min_history_days"] - 1, ms["min_history_days"], ms["min_history_days"] + 1, 250]
    rows = [(r, d) for r in rets for d in days]
    con = duckdb.connect()
    try:
        con.execute("create table t (i integer, mtd_index double, history_days bigint)")
        con.executemany("insert into t values (?, ?, ?)", [(i, 1 + r, d) for i, (r, d) in enumerate(rows)])
        got = {i: (a, br) for i, a, br in con.execute(f"select i, {armed_sql}, {breached_sql} from t").fetchall()}
        mtd = dict(con.execute("select i, mtd_index - 1 from t").fetchall())  # the model's mtd_return column
    finally:
        con.close()
    bad = []
    for i, (_, d) in enumerate(rows):
        want = (b.monthly_armed(d, ms), b.monthly_breached(mtd[i], d, ms))
        if got[i] != want:
            bad.append((mtd[i], d, got[i], want))
    assert not bad, f"mtd_drawdown guard_armed/breached and mech_exo.bands disagree, e.g. {bad[:5]}"
    assert {True, False} == {br for _, br in got.values()}


def test_sensor_descriptions_follow_the_homes_thresholds(tmp_path):
    """The Dagster sensors describe the home's own thresholds (a fresh process: descriptions are made at
    import), and a malformed risk.yml falls back to the defaults instead of breaking the code location."""
    import os
    import subprocess
    import sys

    probe = ("import json; from dagster_project.guards import sensors as s; "
             "print(json.dumps({n: d for n, (_, d) in s.GUARD_SENSORS.items()} | "
             "{'fresh': s.data_freshness_watch.description}))")
    (tmp_path / "config").mkdir()
    risk = tmp_path / "config" / "risk.yml"

    def descriptions():
        env = {**os.environ, "EXO_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        import json
        return json.loads(out.stdout.strip().splitlines()[-1])

    risk.write_text("daily_stop: {threshold_pct: -1.1, warning_pct: -0.6}\nfreshness: {max_age_minutes: 7}\n")
    d = descriptions()
    assert d["intraday_pnl_sentinel"] == b.describe(load_risk_config(risk))[g.INTRADAY]
    assert "≤ −1.1 %" in d["intraday_pnl_sentinel"] and "older than 7 minutes" in d["fresh"]
    assert d["var_limit_guard"] == "VaR utilisation ≥ 70 % WARNING, > 90 % CRITICAL, > 100 % halt."
    risk.write_text("daily_stop: {threshold_pct: not-a-number}\n")
    assert descriptions()["intraday_pnl_sentinel"] == b.describe(RISK)[g.INTRADAY]
