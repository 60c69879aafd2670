"""Kill-switch: fail-closed reads, atomic locked writes, audit trail, re-enable approvals (SPEC §5)."""
from __future__ import annotations

import multiprocessing as mp

import pytest
import yaml

from mech_exo import killswitch as ks
from mech_exo.events import read_events
from mech_exo.home import Home, init_home


@pytest.fixture
def home(tmp_path):
    h = Home(tmp_path / "home")
    init_home(h)
    return h


def _events(home):
    return list(read_events(home.event_log("killswitch")))


def _file(home):
    return yaml.safe_load(home.killswitch_yml.read_text())


# --- reading / fail closed -------------------------------------------------------------------------

def test_fresh_home_is_enabled(home):
    st = ks.read_state(home)
    assert st.readable and st.trading_enabled and st.error is None
    assert st.path == home.killswitch_yml
    assert ks.is_trading_enabled(home) is True


@pytest.mark.parametrize("content, rule", [
    ("trading_enabled: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "mapping"),
    ("trading_enabled: 'yes'\nreason: r\ntrigger: manual\nupdated_at: x\nupdated_by: y\nhistory: []\n", "trading_enabled"),
    ("trading_enabled: true\nreason: r\ntrigger: coffee\nupdated_at: x\nupdated_by: y\nhistory: []\n", "trigger"),
    ("trading_enabled: true\nreason: r\ntrigger: manual\nupdated_at: x\nupdated_by: y\nhistory: 5\n", "history"),
    ("", "mapping"),
])
def test_corrupt_or_invalid_file_fails_closed(home, content, rule):
    home.killswitch_yml.write_text(content)
    st = ks.read_state(home)
    assert st.trading_enabled is False and st.readable is False
    assert str(home.killswitch_yml) in st.error and rule in st.error
    assert ks.is_trading_enabled(home) is False


def test_missing_file_fails_closed(home):
    home.killswitch_yml.unlink()
    st = ks.read_state(home)
    assert not st.trading_enabled and not st.readable and "not found" in st.error
    assert ks.is_trading_enabled(home) is False


def test_is_trading_enabled_defaults_to_exo_home(home, monkeypatch, tmp_path):
    monkeypatch.setenv("EXO_HOME", str(home.root))
    assert ks.is_trading_enabled() is True
    ks.set_trading(home, enabled=False, reason="test", trigger="manual", by="t")
    assert ks.is_trading_enabled() is False
    monkeypatch.setenv("EXO_HOME", str(tmp_path / "nowhere"))
    assert ks.is_trading_enabled() is False


def test_unreadable_directory_is_disabled_not_raised(home):
    home.killswitch_yml.unlink()
    home.killswitch_yml.mkdir()  # reading a directory raises IsADirectoryError
    assert ks.is_trading_enabled(home) is False
    assert "cannot read" in ks.read_state(home).error


# --- writing ---------------------------------------------------------------------------------------

def test_disable_writes_state_history_and_event(home):
    rec = ks.set_trading(home, enabled=False, reason="desk review", trigger="manual", by="cli:ann")
    assert rec["changed"] is True and rec["action"] == "disable" and rec["previous_enabled"] is True
    data = _file(home)
    assert data["trading_enabled"] is False and data["reason"] == "desk review"
    assert data["updated_by"] == "cli:ann" and data["updated_at"].endswith("Z")
    (entry,) = data["history"]
    assert set(ks.HISTORY_KEYS) <= set(entry)
    assert entry["action"] == "disable" and entry["trigger"] == "manual"
    (ev,) = _events(home)
    for key in ("at", "action", "trading_enabled", "previous_enabled", "reason", "trigger", "by",
                "approved_by", "dry_run", "guard", "period", "level_pct"):
        assert key in ev
    assert ev["dry_run"] is False and ev["trading_enabled"] is False
    assert not list(home.config_dir.glob(".killswitch.yml.*.tmp"))
    assert (home.config_dir / "killswitch.yml.lock").exists()


def test_same_state_same_trigger_is_noop(home):
    ks.set_trading(home, enabled=False, reason="a", trigger="daily_stop", by="x")
    before = home.killswitch_yml.read_text()
    rec = ks.set_trading(home, enabled=False, reason="b", trigger="daily_stop", by="x")
    assert rec["changed"] is False
    assert home.killswitch_yml.read_text() == before
    assert len(_events(home)) == 1


def test_history_is_append_only(home):
    ks.set_trading(home, enabled=False, reason="one", trigger="manual", by="x")
    ks.set_trading(home, enabled=True, reason="two", trigger="manual", by="x")
    ks.set_trading(home, enabled=False, reason="three", trigger="daily_stop", by="x", guard="g",
                   period="2026-11-20", level_pct=-0.93)
    hist = ks.history(home)
    assert [h["reason"] for h in hist] == ["one", "two", "three"]
    assert hist[2]["guard"] == "g" and hist[2]["period"] == "2026-11-20" and hist[2]["level_pct"] == -0.93
    assert len(ks.history(home, days=1)) == 3
    assert len(_events(home)) == 3


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reason_required(home, reason):
    with pytest.raises(ks.KillSwitchError, match="reason"):
        ks.set_trading(home, enabled=False, reason=reason, trigger="manual", by="x")
    assert _file(home)["trading_enabled"] is True


def test_unknown_trigger_refused(home):
    with pytest.raises(ks.KillSwitchError, match="trigger"):
        ks.set_trading(home, enabled=False, reason="r", trigger="panic", by="x")


def test_dry_run_writes_nothing(home):
    before = home.killswitch_yml.read_text()
    rec = ks.set_trading(home, enabled=False, reason="try", trigger="manual", by="x", dry_run=True)
    assert rec["dry_run"] is True and rec["changed"] is True and rec["trading_enabled"] is False
    assert home.killswitch_yml.read_text() == before
    assert _events(home) == []
    assert not (home.config_dir / "killswitch.yml.lock").exists()


def test_explicit_path_and_no_event(home, tmp_path):
    copy = tmp_path / "copy" / "killswitch.yml"
    copy.parent.mkdir()
    copy.write_text(home.killswitch_yml.read_text())
    ks.set_trading(home, enabled=False, reason="ROLLBACK_DRILL", trigger="drill", by="drill",
                   path=copy, log_event=False)
    assert ks.read_state(path=copy).trading_enabled is False
    assert ks.read_state(home).trading_enabled is True
    assert _events(home) == []


# --- approvals -------------------------------------------------------------------------------------

def _halt(home, trigger):
    ks.set_trading(home, enabled=False, reason=f"{trigger} hit", trigger=trigger, by="sensor")


def test_monthly_reenable_needs_cto(home):
    _halt(home, "monthly_stop")
    with pytest.raises(ks.ApprovalRequired, match="CTO") as exc:
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="cli:x")
    assert "alice" in str(exc.value)  # says who may approve
    with pytest.raises(ks.ApprovalRequired, match="'bob' has role 'RISK_MANAGER'"):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="cli:x", approved_by="bob")
    with pytest.raises(ks.ApprovalRequired, match="not an approver"):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="cli:x", approved_by="mallory")
    assert ks.is_trading_enabled(home) is False
    rec = ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="cli:x", approved_by="alice")
    assert rec["changed"] and rec["approved_by"] == "alice"
    assert ks.is_trading_enabled(home) is True


@pytest.mark.parametrize("approver", ["bob", "alice"])
def test_var_reenable_needs_risk_manager_or_cto(home, approver):
    _halt(home, "var_breach")
    with pytest.raises(ks.ApprovalRequired, match="RISK_MANAGER"):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x")
    ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x", approved_by=approver)
    assert ks.is_trading_enabled(home)


def test_daily_and_manual_reenable_need_no_approval(home):
    _halt(home, "daily_stop")
    ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x")
    _halt(home, "manual")
    ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x")
    assert ks.is_trading_enabled(home)


def test_manual_kill_on_top_of_monthly_still_needs_cto(home):
    _halt(home, "monthly_stop")
    _halt(home, "manual")
    with pytest.raises(ks.ApprovalRequired, match="monthly_stop needs CTO"):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x", approved_by="bob")


def test_dry_run_checks_approval(home):
    _halt(home, "monthly_stop")
    with pytest.raises(ks.ApprovalRequired):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x", dry_run=True)
    rec = ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x", approved_by="alice",
                         dry_run=True)
    assert rec["changed"] and ks.is_trading_enabled(home) is False


def test_policy_comes_from_risk_yml(home):
    risk = yaml.safe_load(home.risk_yml.read_text())
    risk["reenable"]["daily_stop"] = {"requires_approval": True, "role": "RISK_MANAGER"}
    home.risk_yml.write_text(yaml.safe_dump(risk))
    _halt(home, "daily_stop")
    with pytest.raises(ks.ApprovalRequired, match="daily_stop needs RISK_MANAGER"):
        ks.set_trading(home, enabled=True, reason="ok", trigger="manual", by="x")


# --- corrupt file recovery -------------------------------------------------------------------------

def test_disable_over_corrupt_file_recovers(home):
    ks.set_trading(home, enabled=False, reason="one", trigger="manual", by="x")
    ks.set_trading(home, enabled=True, reason="two", trigger="manual", by="x")
    data = _file(home)
    data["trading_enabled"] = "maybe"  # invalid but history still parseable
    home.killswitch_yml.write_text(yaml.safe_dump(data))
    rec = ks.set_trading(home, enabled=False, reason="fix", trigger="manual", by="x")
    assert rec["changed"] and rec["previous_enabled"] is False and "unreadable" in rec["note"]
    st = ks.read_state(home)
    assert st.readable and st.trading_enabled is False
    assert [h["reason"] for h in st.history] == ["one", "two", "fix"]
    assert "unreadable" in st.history[-1]["note"]
    assert list(home.config_dir.glob("killswitch.yml.corrupt-*")), "the corrupt file is kept as evidence"


def test_disable_over_garbage_file(home):
    home.killswitch_yml.write_text("{{{{ not yaml")
    ks.set_trading(home, enabled=False, reason="fix", trigger="manual", by="x")
    st = ks.read_state(home)
    assert st.readable and not st.trading_enabled and len(st.history) == 1


def test_enable_over_corrupt_file_needs_cto(home):
    home.killswitch_yml.write_text("{{{{ not yaml")
    with pytest.raises(ks.ApprovalRequired, match="CTO"):
        ks.set_trading(home, enabled=True, reason="fix", trigger="manual", by="x", approved_by="bob")
    ks.set_trading(home, enabled=True, reason="fix", trigger="manual", by="x", approved_by="alice")
    assert ks.is_trading_enabled(home)


def test_history_falls_back_to_event_log(home):
    ks.set_trading(home, enabled=False, reason="one", trigger="manual", by="x")
    home.killswitch_yml.write_text("{{{{ not yaml")
    assert [h["reason"] for h in ks.history(home)] == ["one"]


# --- concurrency -----------------------------------------------------------------------------------

def _flip(root, n, idx):
    h = Home(root)
    for i in range(n):
        ks.set_trading(h, enabled=bool(i % 2), reason=f"p{idx}-{i}", trigger="manual", by=f"p{idx}")


def test_concurrent_writers_lose_no_history(home):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_flip, args=(home.root, 20, k)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    st = ks.read_state(home)
    assert st.readable
    events = _events(home)
    # every change that was written (changed=True) is both in the file history and the event log
    assert len(st.history) == len(events)
    assert [h["reason"] for h in st.history] == [e["reason"] for e in events]


# --- halt file and audit backlog (the real faults are in test_faults_killswitch.py) ---------------

def test_halt_file_keeps_every_trigger_when_records_do_not_fit(home):
    from mech_exo.killswitch import halt

    hp = home.config_dir / "killswitch.halt"
    assert halt.ensure(hp) is True and halt.ensure(hp) is False and hp.stat().st_size == halt.HALT_SIZE
    halts = [{"id": f"h{i}", "at": f"2026-11-20T10:{i:02d}:00Z", "reason": "x" * 3000,
              "trigger": ks.TRIGGERS[i % 4], "by": "sensor"} for i in range(12)]
    kept, note = halt.write_halt(hp, halts)
    assert hp.stat().st_size == halt.HALT_SIZE and note
    back = halt.read(hp)
    assert back.status == "halt" and {h["trigger"] for h in back.halts} == set(ks.TRIGGERS[:4])
    assert back.halts[-1]["id"] == "h11"                         # the newest halt is always kept
    st = ks.read_state(home)
    assert st.trading_enabled is False and st.trigger == ks.TRIGGERS[11 % 4]
    assert set(ks.outstanding_triggers(st)) == set(ks.TRIGGERS[:4])


def test_backlog_flush_never_duplicates_a_line(home):
    from mech_exo.killswitch import audit

    log = home.event_log("killswitch")
    rec = {"at": "2026-11-20T10:00:00Z", "action": "disable", "reason": "r", "by": "x"}
    backlog = audit.backlog_path(home.killswitch_yml)
    backlog.write_text(audit.line_of(rec))
    log.write_text(audit.line_of(rec))                            # a flush that died before the unlink
    res = audit.flush(log, home.killswitch_yml)
    assert res == {"flushed": 0, "pending": 0, "error": None, "backlog": str(backlog)}
    assert log.read_text().count('"reason": "r"') == 1 and not backlog.exists()
