"""The run-book's scripts run as the on-call runs them: real subprocesses."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mech_exo.home import REPO_ROOT

pytestmark = pytest.mark.slow


def test_e2e_risk_test_passes_on_a_fresh_demo_home():
    out = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "e2e_risk_test.py")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "FAIL" not in out.stdout
    assert "PASS  kill-switch follows the intraday sentinel: worst day return -1.10%" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "8 passed, 0 failed"


def test_e2e_risk_test_fails_loudly_on_a_home_without_data(tmp_path):
    from mech_exo.home import Home, init_home

    home = Home(tmp_path / "empty")
    init_home(home)
    out = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "e2e_risk_test.py"), "--home", str(home.root)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "FAIL" in out.stdout
