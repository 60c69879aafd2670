"""The dbt project's conventions, checked on the files themselves (no build, no database: seconds).

Why: the lineage of a metric must be readable from the model file (issue #13): a macro that calls
ref()/source() inside hides a parent, a ref in the middle of a query hides it in the SQL. So:

* macros are expression-level or take relations as arguments — no ref()/source() inside a macro;
* every model names its parents at the top, in jaffle-shop import CTEs
  (``name as (select * from {{ ref('x') }})``), before any CTE that computes; source() only in staging;
* every model has a primary-key test (unique + not_null on a column, or unique_combination_of_columns);
* the models the guards read carry an enforced contract with a data_type on every column;
* models/exposures.yml lists every model the dashboard, the guards and the CLI query;
* sqlfluff (dialect duckdb, jinja templater with the project's macros; config in .sqlfluff) is clean.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
MACROS = REPO / "macros"

JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
SQL_COMMENT = re.compile(r"--[^\n]*")
REF_OR_SOURCE = re.compile(r"\b(ref|source)\s*\(\s*'([^']+)'(?:\s*,\s*'([^']+)')?\s*\)")
# a top-level CTE header: `with name as (` or `name as (` at the start of a line
CTE_HEADER = re.compile(r"^(?:with\s+)?(\w+)\s+as\s+\($", re.M)
# an import CTE: nothing but `select * from {{ ref(..) }}` (staging: `{{ source(..) }}`), optionally
# with the incremental filter of an incremental staging model
IMPORT_BODY = re.compile(
    r"^\s*select \* from \{\{ (?:ref|source)\([^)]*\) \}\}"
    r"(?:\s*\{% if is_incremental\(\) %\}.*?\{% endif %\})?\s*\),?\s*$", re.S)


def model_files() -> list[Path]:
    return sorted(MODELS.rglob("*.sql"))


def strip_comments(text: str) -> str:
    return SQL_COMMENT.sub("", JINJA_COMMENT.sub("", text))


def model_yml() -> dict[str, dict]:
    """Every model entry of models/**/*.yml by name (the file is remembered for messages)."""
    out: dict[str, dict] = {}
    for path in sorted(MODELS.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for m in doc.get("models", []) or []:
            assert m["name"] not in out, f"{path}: model {m['name']} is documented twice"
            out[m["name"]] = {**m, "_file": str(path.relative_to(REPO))}
    return out


def test_macros_call_no_ref_or_source():
    bad = []
    for path in sorted(MACROS.glob("*.sql")):
        code = JINJA_COMMENT.sub("", path.read_text())
        for m in REF_OR_SOURCE.finditer(code):
            line = code[:m.start()].count("\n") + 1
            bad.append(f"{path.relative_to(REPO)}:{line}: {m.group(0)}")
    assert not bad, ("macros must take relations as arguments (the model passes its import CTE or "
                     "ref()), never call ref()/source() themselves:\n" + "\n".join(bad))


def split_ctes(code: str) -> tuple[str, list[tuple[str, str, int]]]:
    """(text before the first CTE, [(cte name, body up to the next CTE or the final select, offset)])."""
    heads = list(CTE_HEADER.finditer(code))
    if not heads:
        return code, []
    ctes = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(code)
        body = code[h.end():end]
        if i + 1 == len(heads):  # the last CTE ends at its closing parenthesis on a line of its own
            close = re.search(r"^\)\s*$", body, re.M)
            body = body[:close.end()] if close else body
        ctes.append((h.group(1), body, h.start()))
    return code[:heads[0].start()], ctes


@pytest.mark.parametrize("path", model_files(), ids=lambda p: p.stem)
def test_every_model_lists_its_parents_in_import_ctes(path):
    rel = path.relative_to(REPO)
    code = strip_comments(path.read_text())
    header, ctes = split_ctes(code)
    assert ctes, f"{rel}: no CTEs; start the model with import CTEs (name as (select * from {{{{ ref(..) }}}}))"
    imports, computed_seen = [], None
    for name, body, offset in ctes:
        refs = list(REF_OR_SOURCE.finditer(body))
        if IMPORT_BODY.match(body):
            assert computed_seen is None, (f"{rel}: import CTE `{name}` comes after the computing CTE "
                                           f"`{computed_seen}`: list every parent at the top")
            imports += [m.group(0) for m in refs]
            continue
        computed_seen = computed_seen or name
        assert not refs, (f"{rel}:{code[:offset].count(chr(10)) + 1}: CTE `{name}` calls "
                          f"{refs[0].group(0)} inside its logic: import it at the top as "
                          f"`x as (select * from {{{{ {refs[0].group(0)} }}}})` and read `x`")
    assert imports, f"{rel}: no import CTE"
    tail = code[ctes[-1][2]:]
    after = tail[tail.index(ctes[-1][1]) + len(ctes[-1][1]):]
    assert not REF_OR_SOURCE.search(after), f"{rel}: the final select calls ref()/source(): import it at the top"
    # the Jinja header (config, the incremental window) may pass a relation to a macro, but only one
    # that the import CTEs list too, so the top of the file still names every parent
    for m in REF_OR_SOURCE.finditer(header):
        assert m.group(0) in imports, f"{rel}: the header uses {m.group(0)}, which no import CTE lists"
    if "staging" not in path.parts:
        assert not any(i.startswith("source") for i in imports), f"{rel}: only staging models read sources"


def test_every_model_has_a_primary_key_test():
    docs = model_yml()
    missing = []
    for path in model_files():
        m = docs.get(path.stem)
        if m is None:
            missing.append(f"{path.stem}: not documented in any models/**/_models.yml")
            continue
        model_tests = m.get("data_tests") or m.get("tests") or []
        combo = any(isinstance(t, dict) and "unique_combination_of_columns" in t for t in model_tests)
        keyed = []
        for c in m.get("columns", []) or []:
            names = {t if isinstance(t, str) else next(iter(t)) for t in (c.get("data_tests") or c.get("tests") or [])}
            if {"unique", "not_null"} <= names:
                keyed.append(c["name"])
        if not (combo or keyed):
            missing.append(f"{path.stem} ({m['_file']}): no unique+not_null column and no unique_combination_of_columns")
    assert not missing, "every model needs a primary-key test:\n" + "\n".join(missing)


READ_MODULE = REPO / "mech_exo" / "reporting" / "read.py"


def _models_in(text: str, models: set[str]) -> set[str]:
    out = {m.group(1) for m in re.finditer(r"\b(?:from|join)\s+([a-z_0-9]+)\b", text, re.I)} & models
    out |= {m.group(1) for m in re.finditer(r'^\s*[A-Z_]+\s*=\s*"([a-z_0-9]+)"', text, re.M)} & models
    return out


def _read_functions() -> dict[str, str]:
    """The shared read module's functions (and SQL constants) by name -> their source."""
    import ast
    text = READ_MODULE.read_text()
    tree = ast.parse(text)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = ast.get_source_segment(text, node)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.get_source_segment(text, node)
    return out


def _queried_models(paths: list[Path], models: set[str]) -> set[str]:
    """Models a program queries: its own SQL, plus the SQL of every function of the shared read
    module (mech_exo/reporting/read.py) it calls as `read.<name>` — followed through the read
    module's own calls, so a query that moved into the read module still counts for its caller."""
    funcs = _read_functions()
    out: set[str] = set()
    seen: set[str] = set()
    todo: list[str] = []
    for p in paths:
        for f in ([p] if p.is_file() else sorted(p.rglob("*.py"))):
            if f == READ_MODULE:
                continue
            text = f.read_text()
            out |= _models_in(text, models)
            todo += re.findall(r"\bread\.([A-Za-z_][A-Za-z_0-9]*)", text)
    while todo:
        name = todo.pop()
        if name in seen or name not in funcs:
            continue
        seen.add(name)
        out |= _models_in(funcs[name], models)
        todo += [n for n in re.findall(r"\b([A-Za-z_][A-Za-z_0-9]*)\b", funcs[name]) if n in funcs]
    return out


CONSUMERS = {
    "risk_dashboard": ["mech_exo/reporting", "mech_exo/dashboard"],
    "risk_guards": ["mech_exo/guard_runner.py", "mech_exo/guards.py"],
    "exo_cli": ["mech_exo/cli"],
}


def exposures() -> dict[str, set[str]]:
    doc = yaml.safe_load((MODELS / "exposures.yml").read_text())
    out = {}
    for e in doc["exposures"]:
        deps = set()
        for d in e["depends_on"]:
            m = re.fullmatch(r"ref\('([a-z_0-9]+)'\)", d)
            assert m, f"models/exposures.yml: {e['name']}: depends_on entry {d!r} is not ref('<model>')"
            deps.add(m.group(1))
        out[e["name"]] = deps
    return out


def test_exposures_list_every_model_the_programs_query():
    models = {p.stem for p in model_files()}
    exp = exposures()
    assert set(CONSUMERS) <= set(exp), f"models/exposures.yml lacks {sorted(set(CONSUMERS) - set(exp))}"
    for name, deps in exp.items():
        assert deps <= models, f"exposure {name} depends on models that do not exist: {sorted(deps - models)}"
    for name, paths in CONSUMERS.items():
        used = _queried_models([REPO / p for p in paths], models)
        assert used, f"found no model queried by {paths}: the scan is broken"
        assert used <= exp[name], (f"exposure {name} (models/exposures.yml) misses models that "
                                   f"{', '.join(paths)} query: {sorted(used - exp[name])}")


def test_the_models_the_guards_read_have_enforced_contracts():
    docs = model_yml()
    guarded = _queried_models([REPO / "mech_exo" / "guard_runner.py"], {p.stem for p in model_files()})
    assert {"nav_intraday", "mtd_drawdown", "var_daily", "positions_current"} <= guarded, guarded
    for name in sorted(guarded | {"nav_daily"}):
        m = docs[name]
        assert (m.get("config") or {}).get("contract", {}).get("enforced") is True, (
            f"{m['_file']}: {name} is read by the guards: set config: contract: enforced: true")
        untyped = [c["name"] for c in m.get("columns", []) if not c.get("data_type")]
        assert not untyped, f"{m['_file']}: {name}: columns without data_type: {untyped}"


def test_batches_feed_the_incremental_window_through_staging():
    users = [p.stem for p in model_files() if "ref('stg_landing__batches')" in p.read_text()]
    assert {"int_symbol_session_marks", "nav_intraday"} <= set(users), users
    readers = [p.stem for p in model_files() if "source('landing'" in p.read_text()]
    assert all(r.startswith("stg_landing__") for r in readers), readers


def test_sqlfluff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "sqlfluff", "lint", "models", "--format", "json",
                           "--disable-progress-bar", "--processes", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    if "No module named sqlfluff" in proc.stderr:
        pytest.fail("sqlfluff is not installed in this venv (requirements/main.txt lists it): run make setup")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"sqlfluff lint did not report JSON (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    problems = [f"{f['filepath']}:{v['start_line_no']}:{v['start_line_pos']}: {v['code']} {v['description']}"
                for f in report for v in f["violations"]]
    assert not problems, "sqlfluff (config .sqlfluff) found:\n" + "\n".join(problems)
    assert len(report) == len(model_files()), "sqlfluff did not lint every model"
