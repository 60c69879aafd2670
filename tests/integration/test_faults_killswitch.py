"""Kill-switch under real faults (issue #10 items 4, 5, 8): a really full filesystem, a really
read-only / unwritable audit log, a really dead drill process.

* Full disk: a small tmpfs (``mount -t tmpfs -o size=2m``) holds the home; a file of zeros is
  written until the kernel answers ENOSPC. The halt must still land (halt file, or the yml rewritten
  in place), loudly; re-enabling must not.
* Audit log: ``data/events`` bind-mounted read-only onto itself (root ignores chmod), or the jsonl
  replaced by a directory; and hand-broken jsonl lines for ``exo kill history``.
* Dead drill: a real ``exo drill rollback`` process, ``kill -9`` while it holds trading off.

Skipped (with the reason) only when this machine does not allow ``mount``.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mech_exo import killswitch as ks
from mech_exo.events import read_events
from mech_exo.home import Home, init_home
from mech_exo.killswitch import halt

REPO = Path(__file__).resolve().parents[2]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_") and k != "EXO_HOME"}
    env.update(PYTHONPATH=str(REPO), USER="oncall", PYTHONUNBUFFERED="1", **extra)
    return env


def exo(home: Home, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mech_exo.cli.main", "--home", str(home.root), *args],
                          capture_output=True, text=True, env=_env(), timeout=timeout)


def _mount(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture(autouse=True)
def _no_telegram(monkeypatch):
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "EXO_HOME"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def small_fs(tmp_path):
    """A real 2 MiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    res = _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt))
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on this machine (needed for a real full disk): {res.stderr.strip()}")
    yield mnt
    _umount(mnt)


def fill(fs: Path) -> Path:
    """Write zeros until the kernel says ENOSPC; prove the filesystem is full."""
    filler = fs / "zeros"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:  # the buffered tail: whatever fits
            fh.close()
        except OSError:
            pass
    with pytest.raises(OSError) as exc:
        with open(fs / "probe", "wb") as fh:
            fh.write(b"x" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    assert exc.value.errno == errno.ENOSPC
    (fs / "probe").unlink(missing_ok=True)
    return filler


@pytest.fixture
def fs_home(small_fs):
    h = Home(small_fs / "home")
    init_home(h)
    return h


def _yml(home):
    return yaml.safe_load(home.killswitch_yml.read_text())


def _events(home):
    return [r for r in read_events(home.event_log("killswitch")) if not r.get("_corrupt")]


# --- 1. a full disk cannot stop a halt -------------------------------------------------------------

def test_exo_kill_off_on_a_full_disk_lands_via_the_halt_file_loudly(fs_home, small_fs):
    assert ks.ensure_halt_file(fs_home)["created"] is True          # exo init / first write
    hp = fs_home.config_dir / "killswitch.halt"
    assert hp.stat().st_size == halt.HALT_SIZE and hp.stat().st_blocks * 512 >= halt.HALT_SIZE  # not sparse
    yml_before = fs_home.killswitch_yml.read_bytes()
    filler = fill(small_fs)

    res = exo(fs_home, "kill", "off", "--reason", "Manual halt - disk full")
    assert res.returncode == 0, res.stderr
    assert not [ln for ln in res.stderr.splitlines() if ln.lower().startswith("error")]  # not "error" after a change
    assert "HALT LANDED VIA THE HALT FILE" in res.stderr and "No space left on device" in res.stderr
    assert str(hp) in res.stderr and "Trading DISABLED" in res.stdout
    assert ks.is_trading_enabled(fs_home) is False
    assert fs_home.killswitch_yml.read_bytes() == yml_before       # the normal write really failed
    st = ks.read_state(fs_home)
    assert (st.reason, st.trigger, st.updated_by, st.halt_status) == ("Manual halt - disk full", "manual",
                                                                      "cli:oncall", "halt")
    assert hp.stat().st_size == halt.HALT_SIZE                      # rewritten in place, same size

    status = exo(fs_home, "kill", "status", "--json")
    p = json.loads(status.stdout)
    assert status.returncode == 0 and p["state"] == "DISABLED" and p["halt_file"]["status"] == "halt"
    assert "says HALT" in exo(fs_home, "kill", "status").stdout

    on = exo(fs_home, "kill", "on", "--reason", "try while full")  # enabling never uses the fallback
    assert on.returncode == 1 and "trading NOT enabled" in on.stderr and "No space left" in on.stderr
    assert ks.is_trading_enabled(fs_home) is False

    filler.unlink()
    ok = exo(fs_home, "kill", "on", "--reason", "Disk freed - resume")
    assert ok.returncode == 0, ok.stderr
    assert ks.is_trading_enabled(fs_home) is True
    assert halt.read(hp).status == "clear"
    hist = _yml(fs_home)["history"]
    assert [h["reason"] for h in hist] == ["Manual halt - disk full", "Disk freed - resume"]
    assert hist[0]["halt_id"] and "halt file" in hist[0]["note"] and "No space left" in hist[0]["note"]
    reasons = [e["reason"] for e in _events(fs_home)]
    assert reasons.count("Manual halt - disk full") == 1 and reasons[-1] == "Disk freed - resume"


def test_guard_halt_on_a_full_disk_keeps_the_approval_policy(fs_home, small_fs):
    """The guards call set_trading: a monthly stop on a full disk still halts, and re-enabling still
    needs the CTO — also after a manual kill on top of it, also after the disk is freed."""
    ks.ensure_halt_file(fs_home)
    filler = fill(small_fs)
    rec = ks.set_trading(fs_home, enabled=False, reason="MONTHLY STOP-LOSS TRIGGERED: -3.10%",
                         trigger="monthly_stop", by="sensor:monthly_drawdown_guard", guard="monthly_drawdown",
                         period="2026-11", level_pct=-3.1)
    assert rec["changed"] is True and rec["via"] == "halt_file"
    assert "No space left" in rec["write_error"] and rec["warnings"][0].startswith("HALT LANDED")
    assert ks.is_trading_enabled(fs_home) is False
    manual = ks.set_trading(fs_home, enabled=False, reason="desk also halts", trigger="manual", by="cli:ann")
    assert manual["via"] == "halt_file"
    hf = halt.read(fs_home.config_dir / "killswitch.halt")
    assert [h["trigger"] for h in hf.halts] == ["monthly_stop", "manual"]
    filler.unlink()
    with pytest.raises(ks.ApprovalRequired, match="monthly_stop needs CTO"):
        ks.set_trading(fs_home, enabled=True, reason="ok", trigger="manual", by="cli:x", approved_by="bob")
    assert ks.is_trading_enabled(fs_home) is False
    ks.set_trading(fs_home, enabled=True, reason="review done", trigger="manual", by="cli:x", approved_by="alice")
    assert ks.is_trading_enabled(fs_home) is True
    hist = ks.read_state(fs_home).history
    assert [(h["trigger"], h["action"]) for h in hist] == [("monthly_stop", "disable"), ("manual", "disable"),
                                                           ("manual", "enable")]
    assert hist[0]["guard"] == "monthly_drawdown" and hist[0]["level_pct"] == -3.1


def test_full_disk_without_a_halt_file_rewrites_the_yml_in_place(fs_home, small_fs):
    """A home that never changed its switch (no halt file yet) still halts: the yml is rewritten
    inside the blocks it already has."""
    hp = fs_home.config_dir / "killswitch.halt"
    assert not hp.exists()
    fill(small_fs)
    res = exo(fs_home, "kill", "off", "--reason", "halt on a fresh full home")
    assert res.returncode == 0, res.stderr
    assert "REWRITING" in res.stderr and "IN PLACE" in res.stderr and "No space left" in res.stderr
    st = ks.read_state(fs_home)
    assert st.readable and st.trading_enabled is False and st.reason == "halt on a fresh full home"
    assert st.history[-1]["by"] == "cli:oncall" and st.history[-1]["action"] == "disable"
    assert ks.is_trading_enabled(fs_home) is False and not hp.exists()


def test_read_only_home_says_the_halt_failed_in_one_line(fs_home, small_fs):
    ks.ensure_halt_file(fs_home)
    res = _mount("-o", "remount,ro", str(small_fs))
    assert res.returncode == 0, res.stderr
    try:
        out = exo(fs_home, "kill", "off", "--reason", "ro")
    finally:
        _mount("-o", "remount,rw", str(small_fs))
    # nothing at all can be written there: the answer is one honest line, never a traceback or "DISABLED"
    assert out.returncode == 1 and "HALT FAILED — trading may still be ENABLED" in out.stderr
    assert "Read-only file system" in out.stderr and "killswitch.yml.lock" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert ks.is_trading_enabled(fs_home) is True      # unchanged, and said so


# --- the halt file's reader: fail closed -----------------------------------------------------------

def test_corrupt_or_torn_halt_file_means_disabled(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    ks.ensure_halt_file(h)
    hp = h.config_dir / "killswitch.halt"
    assert ks.is_trading_enabled(h) is True
    raw = bytearray(hp.read_bytes())
    i = raw.index(b'"CLEAR"')
    raw[i + 1:i + 6] = b"CLEAX"                     # one flipped byte: the checksum no longer matches
    hp.write_bytes(bytes(raw))
    st = ks.read_state(h)
    assert ks.is_trading_enabled(h) is False and not st.readable and str(hp) in st.error and "sha256" in st.error
    res = exo(h, "kill", "status")
    assert res.returncode == 2 and "DISABLED (fail closed)" in res.stdout and str(hp) in res.stdout
    # a disable repairs it (the corrupt file is kept as evidence); enabling over it needed a CTO
    with pytest.raises(ks.ApprovalRequired, match="CTO"):
        ks.set_trading(h, enabled=True, reason="x", trigger="manual", by="t", approved_by="bob")
    ks.set_trading(h, enabled=False, reason="repair", trigger="manual", by="t")
    assert halt.read(hp).status == "clear" and list(h.config_dir.glob("killswitch.halt.corrupt-*"))
    assert ks.read_state(h).readable and ks.is_trading_enabled(h) is False


def test_clear_halt_file_never_enables(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    ks.set_trading(h, enabled=False, reason="off", trigger="manual", by="t")
    hp = h.config_dir / "killswitch.halt"
    halt.write_clear(hp)
    assert halt.read(hp).status == "clear" and ks.is_trading_enabled(h) is False


def test_halt_file_wins_over_an_enabled_yml_until_folded(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    ks.ensure_halt_file(h)
    hp = h.config_dir / "killswitch.halt"
    halt.write_halt(hp, [{"id": "abc", "at": "2026-11-20T15:00:00Z", "reason": "daily stop", "trigger": "daily_stop",
                          "by": "sensor:intraday_pnl_sentinel", "logged": True}])
    assert _yml(h)["trading_enabled"] is True and ks.is_trading_enabled(h) is False
    res = ks.consolidate(h)
    assert res["folded"] == 1 and halt.read(hp).status == "clear"
    assert _yml(h)["trading_enabled"] is False and _yml(h)["history"][-1]["halt_id"] == "abc"
    assert ks.is_trading_enabled(h) is False


# --- 2. the audit log cannot be appended -----------------------------------------------------------

@pytest.fixture
def ro_events(tmp_path):
    """data/events bind-mounted read-only onto itself (root ignores chmod); unmounted afterwards."""
    h = Home(tmp_path / "h")
    init_home(h)
    ev = h.events_dir
    if _mount("--bind", str(ev), str(ev)).returncode != 0:
        pytest.skip("cannot bind-mount on this machine (needed for a real read-only audit log)")
    res = _mount("-o", "remount,bind,ro", str(ev))
    if res.returncode != 0:
        _umount(ev)
        pytest.skip(f"cannot remount read-only: {res.stderr.strip()}")
    yield h
    _umount(ev)


def test_kill_off_with_a_read_only_audit_log_says_the_state_changed(ro_events):
    h = ro_events
    log = h.event_log("killswitch")
    with pytest.raises(OSError):
        log.open("a").write("x")
    res = exo(h, "kill", "off", "--reason", "halt with ro log")
    assert res.returncode == 0, res.stderr
    assert "error:" not in res.stderr and "Trading DISABLED" in res.stdout
    assert "the state DID change" in res.stderr and str(log) in res.stderr and "Read-only file system" in res.stderr
    backlog = h.config_dir / "killswitch.audit-backlog.jsonl"
    assert str(backlog) in res.stderr
    (kept,) = [json.loads(x) for x in backlog.read_text().splitlines()]
    assert kept["reason"] == "halt with ro log" and kept["by"] == "cli:oncall" and kept["at"]
    assert ks.is_trading_enabled(h) is False and log.read_text() == ""
    hist = exo(h, "kill", "history", "--json")
    assert hist.returncode == 0
    (e,) = json.loads(hist.stdout)["entries"]
    assert e["reason"] == "halt with ro log" and e["source"] == "yml+backlog"
    st = json.loads(exo(h, "kill", "status", "--json").stdout)
    assert st["audit_backlog"]["entries"] == 1

    _umount(h.events_dir)                              # the log is writable again: the next write flushes
    on = exo(h, "kill", "on", "--reason", "resume")
    assert on.returncode == 0 and "WARNING" not in on.stderr
    assert [e["reason"] for e in _events(h)] == ["halt with ro log", "resume"]
    assert not backlog.exists()


def test_audit_log_replaced_by_a_directory(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    log = h.event_log("killswitch")
    log.unlink()
    log.mkdir()
    res = exo(h, "kill", "off", "--reason", "dir log")
    assert res.returncode == 0 and "the state DID change" in res.stderr and "IsADirectoryError" in res.stderr
    assert ks.is_trading_enabled(h) is False
    hist = exo(h, "kill", "history")
    assert hist.returncode == 0 and "dir log" in hist.stdout and "cannot read" in hist.stdout


def test_full_disk_keeps_the_audit_record_in_the_halt_file_until_folded(fs_home, small_fs):
    ks.ensure_halt_file(fs_home)
    assert fs_home.event_log("killswitch").stat().st_size == 0   # an empty log needs a new block
    filler = fill(small_fs)
    rec = ks.set_trading(fs_home, enabled=False, reason="full everything", trigger="manual", by="cli:ann")
    assert rec["via"] == "halt_file" and rec["audit"]["logged"] is False and rec["audit"]["kept_in"] is None
    assert "in the halt file" in rec["warnings"][-1]
    assert _events(fs_home) == []
    filler.unlink()
    ks.set_trading(fs_home, enabled=True, reason="ok", trigger="manual", by="cli:ann")
    ev = _events(fs_home)
    assert [e["reason"] for e in ev] == ["full everything", "ok"]
    assert "logged late" in ev[0]["note"] and ev[0]["halt_id"]


# --- kill history on a broken log ------------------------------------------------------------------

def test_history_skips_and_names_every_bad_line(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    ks.set_trading(h, enabled=False, reason="good one", trigger="manual", by="t")
    log = h.event_log("killswitch")
    with open(log, "ab") as fh:
        fh.write(b"{not json\n")
        fh.write(b"123\n")
        fh.write(b'{"reason": "\xff\xfe"}\n')
        fh.write(b'{"at": "2026-11-20T10:00:00Z", "reason": ["a", "list"], "by": {"x": 1}}\n')
        fh.write(b'{"at": "2026-11-20T10:00:0')           # torn last line, no newline
    res = exo(h, "kill", "history", "--days", "3650")
    assert res.returncode == 0, res.stderr
    for n in (2, 3, 4, 6):
        assert f"{log}:{n}" in res.stdout
    assert "partial last line" in res.stdout and "good one" in res.stdout
    p = json.loads(exo(h, "kill", "history", "--days", "3650", "--json").stdout)
    assert [s["line"] for s in p["skipped"]] == [2, 3, 4, 6]
    assert {"good one"} <= {str(e.get("reason")) for e in p["entries"]}
    log.unlink()
    missing = exo(h, "kill", "history")
    assert missing.returncode == 0 and "missing" in missing.stdout and "good one" in missing.stdout


# --- 3. a DISABLED state that belongs to a dead drill ---------------------------------------------

def test_status_names_a_dead_drill_and_what_to_run(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    proc = subprocess.Popen([sys.executable, "-m", "mech_exo.cli.main", "--home", str(h.root), "drill", "rollback",
                             "--wait", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = ks.read_state(h)
            if st.readable and st.trigger == "drill" and not st.trading_enabled:
                break
            assert proc.poll() is None, "the drill process ended before halting"
            time.sleep(0.2)
        else:
            pytest.fail("the drill never halted trading")
        running = json.loads(exo(h, "kill", "status", "--json").stdout)
        assert running["drill"]["status"] == "running" and running["drill"]["pid"] == proc.pid
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    res = exo(h, "kill", "status")
    assert res.returncode == 0 and "Trading DISABLED" in res.stdout
    text = " ".join(res.stdout.split())
    assert f"pid {proc.pid}" in text and "no longer running" in text and "`exo drill status`" in text
    p = json.loads(exo(h, "kill", "status", "--json").stdout)
    assert p["drill"]["status"] == "dead" and p["drill"]["recover"] == "exo drill status"
    assert p["drill"]["backup_path"] and Path(p["drill"]["backup_path"]).is_file()
    # the advice works: exo drill status recovers the dead drill and trading is back to its pre-drill state
    assert exo(h, "drill", "status").returncode == 0
    after = json.loads(exo(h, "kill", "status", "--json").stdout)
    assert after["trading_enabled"] is True and after["drill"] is None


def test_status_names_a_drill_halt_without_a_drill(tmp_path):
    h = Home(tmp_path / "h")
    init_home(h)
    ks.set_trading(h, enabled=False, reason="ROLLBACK_DRILL", trigger="drill", by="drill:D20261120-1")
    p = json.loads(exo(h, "kill", "status", "--json").stdout)
    assert p["drill"]["status"] == "not_running" and "Rollback drill cleanup" in p["drill"]["recover"]
    assert "D20261120-1" in p["drill"]["detail"]


def test_the_guard_runner_halts_on_a_full_disk(fs_home, small_fs, tmp_path):
    """The real guard path (evaluate → apply_decisions → set_trading) on a really full home: a −1 %
    day still halts; the database lives elsewhere, as a published snapshot would not be on the full disk."""
    from test_guard_runner import make_db, run

    ks.ensure_halt_file(fs_home)
    db = make_db(tmp_path / "a.duckdb", day_returns=(-0.01,))
    fill(small_fs)
    _, results = run(fs_home, db)
    halted = [r for r in results if r.get("halted")]
    assert halted and halted[0]["killswitch"]["via"] == "halt_file"
    assert ks.is_trading_enabled(fs_home) is False
    st = ks.read_state(fs_home)
    assert st.trigger == "daily_stop" and st.halt_status == "halt" and st.updated_by == "sensor:test"
