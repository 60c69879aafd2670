"""The architecture, held by tests (issue #13): the import contract (.importlinter: layers only
point down, Dagster only in the wiring and mech_exo.flows, the guards pure), no import circles
between modules (imports inside functions count), and modules small enough to have one job."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mech_exo", "dagster_project", "assets")
MAX_LINES = 450


def test_import_contract_is_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail("lint-imports (import-linter) is not installed: `make setup` installs it")
    res = subprocess.run([str(exe), "--config", str(ROOT / ".importlinter")], cwd=ROOT, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert re.search(r"\b0 broken\b", res.stdout), res.stdout[-2000:]


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_between_modules():
    import grimp

    sys.path.insert(0, str(ROOT))
    g = grimp.build_graph(*PACKAGES)
    graph: dict[str, set[str]] = {}
    for m in g.modules:
        deps = set(g.find_modules_directly_imported_by(m))
        # a package importing its own submodules (re-exports in __init__) is structure, not a circle
        graph[m] = {d for d in deps if not (d.startswith(m + ".") or m.startswith(d + "."))}
    circles = _strongly_connected(graph)
    assert circles == [], "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_modules_have_one_job_size():
    big = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                big.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert big == [], f"modules over {MAX_LINES} lines (split by responsibility): {big}"
