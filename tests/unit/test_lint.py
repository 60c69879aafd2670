"""ruff (pyflakes, pycodestyle, import order; config in pyproject.toml) is clean — part of `make test`.
The dbt side has its own linter run (sqlfluff) in the dbt conventions test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean():
    exe = Path(sys.executable).with_name("ruff")
    if not exe.exists():
        pytest.fail("ruff is not installed: `make setup` installs it (requirements/main.txt)")
    res = subprocess.run([str(exe), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
