"""`exo kill status|history|off|on` on real homes: the yml, the event log and what is printed."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import copy_home

from mech_exo.cli.main import cli
from mech_exo.events import append_event, iso_utc, read_events, utc_now
from mech_exo.home import init_home
from mech_exo.killswitch import read_state, set_trading

EXO = Path(sys.executable).with_name("exo")  # this checkout's own, wherever it was cloned


def run(home, *args, user="oncall"):
    return CliRunner(env={"USER": user}).invoke(cli, ["--home", str(home.root), *args], catch_exceptions=False)


@pytest.fixture
def home(crash_home, tmp_path):
    """A copy of the built home with the config templates (killswitch.yml enabled, alerts.yml approvers)."""
    h = copy_home(crash_home, tmp_path / "h")
    init_home(h)
    return h


def test_status_enabled(home):
    res = run(home, "kill", "status")
    assert res.exit_code == 0 and "Trading ENABLED" in res.output and "Initial state" in res.output
    p = json.loads(run(home, "kill", "status", "--json").stdout)
    assert p["trading_enabled"] is True and p["path"] == str(home.killswitch_yml)


@pytest.mark.parametrize("content", ["trading_enabled: [unclosed\n", "trading_enabled: maybe\nreason: x\n", None])
def test_status_fails_closed_on_unreadable_file(home, content):
    if content is None:
        home.killswitch_yml.unlink()
    else:
        home.killswitch_yml.write_text(content)
    res = run(home, "kill", "status")
    assert res.exit_code == 2
    assert "DISABLED (fail closed)" in res.output and str(home.killswitch_yml) in res.output
    jr = run(home, "kill", "status", "--json")
    assert jr.exit_code == 2
    p = json.loads(jr.stdout)
    assert p["trading_enabled"] is False and p["fail_closed"] is True and str(home.killswitch_yml) in p["error"]


def test_off_writes_state_history_and_event(home):
    res = run(home, "kill", "off", "--reason", "Manual halt - test")
    assert res.exit_code == 0 and "DISABLED" in res.output
    s = read_state(home)
    assert s.trading_enabled is False and s.reason == "Manual halt - test" and s.updated_by == "cli:oncall"
    assert s.history[-1]["action"] == "disable" and s.history[-1]["by"] == "cli:oncall"
    ev = [e for e in read_events(home.event_log("killswitch"))]
    assert ev[-1]["reason"] == "Manual halt - test" and ev[-1]["trading_enabled"] is False
    st = run(home, "kill", "status")
    assert st.exit_code == 0 and "Trading DISABLED" in st.output and "Manual halt - test" in st.output
    again = run(home, "kill", "off", "--reason", "again")
    assert again.exit_code == 0 and "already" in again.output
    assert len(read_state(home).history) == 1


def test_off_dry_run_writes_nothing(home):
    before = home.killswitch_yml.read_bytes()
    log_before = home.event_log("killswitch").read_bytes()
    res = run(home, "kill", "off", "--reason", "Test", "--dry-run")
    assert res.exit_code == 0 and "dry-run" in res.output and "nothing written" in res.output
    assert home.killswitch_yml.read_bytes() == before and home.event_log("killswitch").read_bytes() == log_before


def test_reason_is_required(home):
    res = run(home, "kill", "off")
    assert res.exit_code != 0 and "--reason" in res.output
    blank = run(home, "kill", "off", "--reason", "  ")
    assert blank.exit_code == 1 and "reason is required" in blank.stderr
    assert read_state(home).trading_enabled is True


def test_on_after_monthly_stop_needs_cto_approval(home):
    set_trading(home, enabled=False, reason="MONTHLY STOP-LOSS TRIGGERED: -3.10%", trigger="monthly_stop",
                by="sensor:monthly_drawdown_guard")
    refused = run(home, "kill", "on", "--reason", "Monthly review complete")
    assert refused.exit_code == 1
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "monthly_stop needs CTO" in line and "alice" in line
    dry = run(home, "kill", "on", "--reason", "x", "--approved-by", "bob", "--dry-run")
    assert dry.exit_code == 1 and "RISK_MANAGER" in dry.stderr
    assert read_state(home).trading_enabled is False
    ok = run(home, "kill", "on", "--reason", "Monthly review complete - CTO approved", "--approved-by", "alice")
    assert ok.exit_code == 0 and "ENABLED" in ok.output and "approved by alice" in ok.output
    s = read_state(home)
    assert s.trading_enabled is True and s.history[-1]["approved_by"] == "alice" and s.updated_by == "cli:oncall"


def test_history_merges_yml_and_event_log_and_filters_days(home):
    run(home, "kill", "off", "--reason", "halt one")
    run(home, "kill", "on", "--reason", "resume one")
    append_event(home.event_log("killswitch"), {"at": iso_utc(), "action": "disable", "trading_enabled": False,
                                                "reason": "only in the log", "trigger": "manual", "by": "someone"})
    old = iso_utc(utc_now() - timedelta(days=30))
    append_event(home.event_log("killswitch"), {"at": old, "action": "disable", "reason": "a month ago",
                                                "trigger": "manual", "by": "someone"})
    p = json.loads(run(home, "kill", "history", "--days", "7", "--json").stdout)
    got = {e["reason"]: e["source"] for e in p["entries"]}
    assert got == {"halt one": "yml+log", "resume one": "yml+log", "only in the log": "log"}
    longer = json.loads(run(home, "kill", "history", "--days", "60", "--json").stdout)
    assert "a month ago" in {e["reason"] for e in longer["entries"]}
    text = run(home, "kill", "history", "--days", "7").output
    assert "halt one" in text and "resume one" in text and "only in the log" in text and "a month ago" not in text


def test_real_exo_subprocess_kill_status(home):
    res = subprocess.run([str(EXO), "--home", str(home.root), "kill", "status", "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["trading_enabled"] is True
    home.killswitch_yml.write_text(yaml.safe_dump(["not", "a", "mapping"]))
    bad = subprocess.run([str(EXO), "--home", str(home.root), "kill", "status"], capture_output=True, text=True)
    assert bad.returncode == 2 and "DISABLED (fail closed)" in bad.stdout
