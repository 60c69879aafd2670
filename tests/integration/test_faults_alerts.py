"""Alert delivery under real faults (issue #10 item 7, the escalation part of item 8; issue #13's
alerts import circle). Telegram is tests/telegram_server.py — a real local HTTP server — set to
accept and never answer; senders and flushers are real processes where it matters (a process's
exit is part of what is tested). Nothing is mocked."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from telegram_server import fail, hang, never_answer, ok

from mech_exo.alerts import deliverer, escalation_overdue, outbox, reset_notices, send_alert, service_pending
from mech_exo.events import read_events, utc_now
from mech_exo.home import Home, init_home

REPO = Path(__file__).resolve().parents[2]
CHAT = "-1001234567"
LEAD_CHAT = "-100777"

# A deliberately slow retry policy: inline, one hung alert would cost 3 × 2 s + 0.5 + 1 = 7.5 s.
ALERTS_YML = """
channels:
  telegram: {enabled: true, timeout_s: 2, max_attempts: 3, backoff_s: 0.5, max_retry_after_s: 2,
             grace_s: 0.5, exit_grace_s: 1}
routing:
  CRITICAL: [telegram, console, log]
  WARNING: [telegram, console, log]
  INFO: [console, log]
escalation:
  default:
    - {level: on-call, after_minutes: 0}
    - {level: lead, after_minutes: 15}
    - {level: cto, after_minutes: 30}
contacts:
  on-call: {name: "On-call engineer", telegram_chat_id: null}
  lead: {name: "Risk lead", telegram_chat_id: "-100777"}
  cto: {name: "CTO", telegram_chat_id: null}
"""
INLINE_WORST_S = 3 * 2 + 0.5 + 1.0


@pytest.fixture
def home(tmp_path, tg, monkeypatch) -> Home:
    h = Home.resolve(tmp_path / "home")
    init_home(h)
    h.alerts_yml.write_text(ALERTS_YML, encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
    monkeypatch.setenv("EXO_HOME", str(h.root))
    reset_notices()
    yield h
    tg.always(ok())
    deliverer.drain(15)  # leave no background delivery of this test running into the next one
    reset_notices()


def set_telegram(home: Home, **kw) -> None:
    cfg = yaml.safe_load(home.alerts_yml.read_text())
    cfg["channels"]["telegram"].update(kw)
    home.alerts_yml.write_text(yaml.safe_dump(cfg))


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def exo(home: Home, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mech_exo.cli.main", "--home", str(home.root), *args],
                          capture_output=True, text=True, env=env(), timeout=timeout, cwd=REPO)


def sender(home: Home, message: str) -> subprocess.Popen:
    """A real process raising one CRITICAL alert through the run-book entry point, then exiting."""
    code = ("import sys, json; from mech_exo.utils.alerts import send_risk_alert; "
            f"r = send_risk_alert({{'type': 'daily_stop', 'message': {message!r}, 'severity': 'CRITICAL'}}); "
            "print(json.dumps({'alert_id': r['alert_id'], 'delivered': r['delivered'], "
            "'pending': r['deliveries']['telegram'].get('pending')}))")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(), cwd=REPO)


def deliveries(home: Home, alert_id: str, channel: str = "telegram") -> list[dict]:
    return [e for e in read_events(home.event_log("alerts"), strict=True)
            if e.get("event") == "delivery" and e["alert_id"] == alert_id and e["channel"] == channel]


def texts(tg, method: str = "sendMessage") -> list[str]:
    return [(c.get("json") or {}).get("text", "") for c in tg.calls(method)]


def assert_no_token(home: Home, tg, *outputs: str) -> None:
    for out in outputs:
        assert tg.token not in out
    for p in home.root.rglob("*"):
        if p.is_file():
            assert tg.token not in p.read_text(errors="replace"), p


# --- a hung Telegram never holds the caller ----------------------------------------------------------
def test_send_against_a_hung_telegram_returns_within_the_grace_and_parks_the_alert(home, tg):
    set_telegram(home, timeout_s=1, max_attempts=2, backoff_s=0.25)  # inline: 2.25 s per alert
    tg.always(never_answer())
    t0 = time.perf_counter()
    rec = send_alert(home, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%")
    first = time.perf_counter() - t0
    assert first < 0.5 + 0.5, f"send_alert held its caller {first:.2f}s (grace 0.5 s)"
    tg_part = rec["deliveries"]["telegram"]
    assert rec["delivered"] is False and tg_part["pending"] is True and "grace" in tg_part["error"]
    assert rec["deliveries"]["console"]["delivered"] is True  # the human-facing line went out at once
    (item,) = [it for _, it in outbox.pending(home)]          # durable before any send was tried
    assert item["alert_id"] == rec["alert_id"] and "CRITICAL DAY LOSS: -0.93%" in item["text"]
    assert deliveries(home, rec["alert_id"])[0]["via"] == "queued"  # never reads as delivered meanwhile

    # the deliverer is now stalled on the hung request: a second alert does not wait at all
    t1 = time.perf_counter()
    rec2 = send_alert(home, severity="WARNING", type="var", message="VaR at 80%")
    second = time.perf_counter() - t1
    assert second < 0.3 and rec2["deliveries"]["telegram"]["pending"] is True
    assert len(outbox.pending(home)) == 2
    assert tg.calls("sendMessage")  # the hung server really was called (and never answered)

    # the background deliverer gives up after its retry policy; both stay in the outbox, with why
    assert deliverer.drain(2 * 2.25 + 5)
    items = {it["alert_id"]: it for _, it in outbox.pending(home)}
    assert set(items) == {rec["alert_id"], rec2["alert_id"]}
    assert all(it["attempts"] == 2 and "timed out" in it["last_error"] for it in items.values())
    assert deliveries(home, rec["alert_id"])[-1]["delivered"] is False

    # Telegram answers again: `exo alerts flush` (a real process, no daemon) delivers both, exit 0
    tg.always(ok())
    res = exo(home, "alerts", "flush")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 delivered" in res.stdout and "0 still pending" in res.stdout
    assert outbox.pending(home) == []
    assert deliveries(home, rec["alert_id"])[-1] == {**deliveries(home, rec["alert_id"])[-1], "delivered": True,
                                                     "via": "outbox", "attempts": 3}
    assert sum("CRITICAL DAY LOSS: -0.93%" in t for t in texts(tg)) >= 1
    assert_no_token(home, tg, res.stdout, res.stderr)


def test_a_process_that_raised_an_alert_exits_within_its_exit_grace_and_leaves_it_in_the_outbox(home, tg):
    tg.always(never_answer())
    t0 = time.perf_counter()
    proc = sender(home, "CRITICAL DAY LOSS: -1.20%")
    out, err = proc.communicate(timeout=60)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, err
    # interpreter start + grace 0.5 + exit grace 1; inline delivery would have been >= 7.5 s
    assert wall < INLINE_WORST_S - 2, f"the sender took {wall:.2f}s"
    result = json.loads(out.strip().splitlines()[-1])
    assert result["delivered"] is False and result["pending"] is True
    assert "stay in the outbox" in err and "exo alerts flush" in err
    (path, item) = outbox.pending(home)[0]
    assert item["alert_id"] == result["alert_id"]
    assert outbox.claim_holder(home, path) is None  # the dead process's claim died with it

    # while Telegram is still hung, flush says so and exits non-zero (the message stays parked)
    res = exo(home, "alerts", "flush", "--no-escalate")
    assert res.returncode == 1
    assert "1 still pending" in res.stdout and "timed out" in res.stdout and result["alert_id"] in res.stdout
    tg.always(ok())
    res = exo(home, "alerts", "flush", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads(res.stdout)
    assert summary["delivered"] == 1 and summary["pending"] == 0
    assert any("CRITICAL DAY LOSS: -1.20%" in t for t in texts(tg))
    assert_no_token(home, tg, out, err, res.stdout, res.stderr)


def test_flush_exits_non_zero_naming_why_a_message_stays_undeliverable(home, tg, tmp_path):
    tg.queue(fail("Bad Request: chat not found"))
    rec = send_alert(home, severity="WARNING", type="var", message="VaR at 75%")
    assert rec["delivered"] is False and rec["deliveries"]["telegram"]["pending"] is False
    tg.queue(fail("Bad Request: chat not found"))
    res = exo(home, "alerts", "flush")
    assert res.returncode == 1 and "chat not found" in res.stdout and "1 still pending" in res.stdout
    # an attachment that vanished can never go: given up (kept in outbox/dead), also exit 1
    report = tmp_path / "r.md"
    report.write_text("report")
    tg.queue(ok(), fail("Bad Request: file is too big"))
    send_alert(home, severity="CRITICAL", type="drill", message="drill FAIL", attachment=report)
    report.unlink()
    res = exo(home, "alerts", "flush", "--json")
    summary = json.loads(res.stdout)
    # the VaR message (server answers ok now) is delivered, the document given up
    assert res.returncode == 1 and summary["dead"] == 1 and summary["delivered"] == 1 and summary["pending"] == 0
    assert any(it["status"] == "dead" and "no longer exists" in it["error"] for it in summary["items"])


# --- escalation without the daemon ---------------------------------------------------------------------
def test_a_critical_climbs_through_service_pending_with_no_daemon(home, tg):
    at = utc_now() - timedelta(minutes=20)  # raised 20 min ago: the lead (15 min) is 5 min overdue
    rec = send_alert(home, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%", now=at)
    assert [e["level"] for e in rec["escalations"]] == ["on-call"]
    (late,) = escalation_overdue(home)
    assert late["alert_id"] == rec["alert_id"] and late["level"] == "lead" and late["reason"] == "not_escalated"
    assert 4.9 <= late["late_minutes"] <= 5.5 and "neither has run" in late["detail"]
    assert escalation_overdue(home, now=at + timedelta(minutes=16)) == []  # within the slack: not late yet

    out = service_pending(home)
    assert out["error"] is None and [e["level"] for e in out["escalations"]] == ["lead"]
    assert out["escalations"][0]["delivered"] is True
    lead = tg.calls("sendMessage")[-1]["json"]
    assert lead["chat_id"] == LEAD_CHAT and "ESCALATION" in lead["text"] and rec["alert_id"] in lead["text"]
    assert escalation_overdue(home) == []
    assert service_pending(home)["escalations"] == []  # each level once

    out = service_pending(home, now=at + timedelta(minutes=30))
    assert [e["level"] for e in out["escalations"]] == ["cto"]
    levels = [e["level"] for e in read_events(home.event_log("alerts")) if e.get("event") == "escalation"]
    assert levels == ["on-call", "lead", "cto"]


def test_service_pending_is_bounded_on_a_hung_telegram_and_the_miss_is_visible(home, tg):
    at = utc_now() - timedelta(minutes=20)
    rec = send_alert(home, severity="CRITICAL", type="daily_stop", message="DAY LOSS", now=at)
    set_telegram(home, timeout_s=1, max_attempts=2, backoff_s=0.25)
    tg.always(never_answer())
    t0 = time.perf_counter()
    out = service_pending(home, budget_s=0.5)
    elapsed = time.perf_counter() - t0
    assert elapsed < 6.0, f"service_pending took {elapsed:.2f}s on a hung Telegram"
    (esc,) = out["escalations"]
    assert esc["level"] == "lead" and esc["delivered"] is None and esc["outbox_id"]
    assert out["finished"] is False and out["pending"] >= 1
    assert deliverer.drain(2 * 2.25 + 5)
    # five minutes later the lead still has not been told: health sees it, with the reason
    late = [r for r in escalation_overdue(home, now=utc_now() + timedelta(minutes=5)) if r["level"] == "lead"]
    assert late and late[0]["reason"] == "undelivered" and "timed out" in late[0]["last_error"]
    assert late[0]["alert_id"] == rec["alert_id"]
    tg.always(ok())
    res = exo(home, "alerts", "flush", "--json")
    assert res.returncode == 0, res.stdout
    assert any(c["json"]["chat_id"] == LEAD_CHAT for c in tg.calls("sendMessage") if c["behaviour"] == "ok")
    assert escalation_overdue(home, now=utc_now() + timedelta(minutes=5)) == []


# --- two deliverers never double-send ------------------------------------------------------------------
def test_concurrent_deliverers_send_each_message_exactly_once(home, tg):
    n = 6
    tg.queue(*[fail("Bad Request: chat not found")] * n)
    recs = [send_alert(home, severity="WARNING", type="var", message=f"VaR message #{i}") for i in range(n)]
    assert len(outbox.pending(home)) == n and not tg._script
    tg.always(hang(0.3))  # slow but answering: each send holds its claim 0.3 s, so the deliverers overlap
    procs = [subprocess.Popen([sys.executable, "-m", "mech_exo.cli.main", "--home", str(home.root), "alerts", "flush",
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
             for _ in range(2)]
    in_process = service_pending(home, budget_s=0)  # and this process's background deliverer as a third
    results = [p.communicate(timeout=120) for p in procs]
    assert deliverer.drain(30)
    assert all(p.returncode == 0 for p in procs), results
    assert outbox.pending(home) == []
    sent = [t for t in texts(tg) if "VaR message #" in t]
    per_alert = {r["alert_id"]: sum(r["alert_id"] in t for t in sent) for r in recs}
    assert per_alert == {r["alert_id"]: 2 for r in recs}  # the failed first try + exactly one delivery
    summaries = [json.loads(out) for out, _ in results]
    delivered_by_procs = sum(s["delivered"] for s in summaries)
    delivered_here = len([e for r in recs for e in deliveries(home, r["alert_id"])
                          if e["delivered"] and e["via"] == "outbox"])
    assert delivered_here == n and delivered_by_procs <= n and in_process["error"] is None
    assert any(s["in_flight"] for s in summaries) or delivered_by_procs < n  # they really met on the same items


# --- imports in mech_exo.alerts point down -------------------------------------------------------------
LAYERS = [
    {"settings", "redact", "state", "telegram", "outbox"},
    {"common"},
    {"flush"},
    {"deliverer"},
    {"escalation"},
    {"core"},
    {"history", "service"},
    {"selftest"},
]


def alerts_imports() -> dict[str, set[str]]:
    """module -> alerts modules it imports, module-level and inside functions alike (AST, not runtime)."""
    pkg = REPO / "mech_exo" / "alerts"
    names = {p.stem for p in pkg.glob("*.py")} - {"__init__"}
    graph: dict[str, set[str]] = {}
    for mod in names:
        deps: set[str] = set()
        for node in ast.walk(ast.parse((pkg / f"{mod}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "mech_exo.alerts":
                    for a in node.names:
                        deps.add(a.name if a.name in names else "__init__")
                elif node.module.startswith("mech_exo.alerts."):
                    deps.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("mech_exo.alerts"):
                        parts = a.name.split(".")
                        deps.add(parts[2] if len(parts) > 2 else "__init__")
        graph[mod] = deps - {mod}
    return graph


def test_alerts_modules_import_only_downwards_with_no_circle():
    graph = alerts_imports()
    layer = {m: i for i, group in enumerate(LAYERS) for m in group}
    assert set(graph) == set(layer), f"a new module needs a layer in LAYERS: {set(graph) ^ set(layer)}"
    upward = [(m, d) for m, deps in graph.items() for d in deps if d == "__init__" or layer[d] >= layer[m]
              and not (layer[d] == layer[m] == 0)]
    assert upward == [], f"imports that do not point down: {upward}"
    # and no circle at all, even inside the foundation layer
    seen: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        assert seen.get(m) != 1, f"import circle: {' -> '.join(path + [m])}"
        if seen.get(m) == 2:
            return
        seen[m] = 1
        for d in graph[m]:
            visit(d, path + [m])
        seen[m] = 2

    for m in graph:
        visit(m, [])
    assert "core" in graph["service"] or "escalation" in graph["service"]  # the walker really sees imports


# --- the outbox itself cannot be written ---------------------------------------------------------------
@pytest.fixture
def full_outbox(home):
    """The home's outbox directory on a real 1 MB tmpfs, filled to the last byte (ENOSPC)."""
    d = outbox.outbox_dir(home)
    d.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        with open(d / "filler.bin", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)


def test_a_full_outbox_disk_still_sends_the_alert_once_and_says_so(home, tg, full_outbox, capsys):
    with pytest.raises(OSError):  # the fault is real
        outbox.put(home, alert_id="probe", channel="telegram", method="sendMessage", text="x")
    rec = send_alert(home, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%")
    assert rec["delivered"] is True and rec["deliveries"]["telegram"]["outbox_ids"] == []
    assert any("CRITICAL DAY LOSS: -0.93%" in t for t in texts(tg))
    err = capsys.readouterr().err
    assert "could not write the outbox" in err and str(full_outbox) in err and "without a durable copy" in err
    last = deliveries(home, rec["alert_id"])[-1]
    assert last["delivered"] is True and last["via"] == "send" and last["outbox_id"] is None
    assert [p.name for p in full_outbox.iterdir()] == ["filler.bin"]  # no half-written temp files left


# --- the whole decision path: a guard tick during a hung Telegram ----------------------------------------
def test_a_guard_tick_halts_and_returns_within_the_grace_while_telegram_hangs(crash_home, tmp_path, tg, monkeypatch):
    """The issue's scenario with the shipped retry policy (5 s × 3 attempts + 1 + 2 s backoff = 18 s
    per alert inline): the switch goes off first and the tick no longer waits on delivery."""
    from conftest import AFTER_LAST_SESSION, copy_home

    from mech_exo.guard_runner import tick
    from mech_exo.killswitch import read_state

    home = copy_home(crash_home, tmp_path / "h")
    init_home(home)
    cfg = yaml.safe_load(home.alerts_yml.read_text())
    assert cfg["channels"]["telegram"]["timeout_s"] * cfg["channels"]["telegram"]["max_attempts"] >= 15
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
    reset_notices()
    tg.always(never_answer())
    t0 = time.perf_counter()
    results = tick(home, now=AFTER_LAST_SESSION, by="test")
    elapsed = time.perf_counter() - t0
    n_alerts = sum(1 for r in results if r["alert"])
    assert n_alerts >= 1
    st = read_state(home)
    assert not st.trading_enabled and st.reason.startswith("CRITICAL DAY LOSS")
    # one grace (2 s) for the whole tick, however many alerts it raised; inline it was 18 s each
    assert elapsed < 10.0, f"tick took {elapsed:.2f}s with {n_alerts} alert(s) on a hung Telegram"
    halt = next(r for r in results if r["guard"] == "intraday-pnl-sentinel")
    assert halt["halted"] and halt["alert"]["delivered"] is False and halt["alert"]["deliveries"]["telegram"]["pending"]
    parked = [it for _, it in outbox.pending(home)]
    assert any(it["alert_id"] == halt["alert"]["alert_id"] for it in parked)
    t1 = time.perf_counter()
    out = service_pending(home)  # what the end of `exo run` does: bounded again, no second 18 s
    assert time.perf_counter() - t1 < 1.0 and out["error"] is None
    tg.always(ok())
    tg._release.set()  # the hung connections may go now
    assert deliverer.drain(40)  # the background deliverer either delivers (Telegram is back) or gives up
    res = exo(home, "alerts", "flush", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert outbox.pending(home) == []
    assert any("CRITICAL DAY LOSS" in t for t in texts(tg) if t)
    assert_no_token(home, tg, res.stdout, res.stderr)


def test_test_alert_waits_for_the_real_outcome_past_the_grace(home, tg):
    """`exo test alerts` must answer "did it arrive", so it waits out a slow Telegram (1.2 s > grace 0.5 s)."""
    from mech_exo.alerts import send_test_alert

    tg.queue(hang(1.2))
    out = send_test_alert(home, channel="telegram")
    assert out["ok"] is True and out["alert"]["deliveries"]["telegram"]["delivered"] is True
    assert tg.calls("sendMessage")[0]["behaviour"] == "hang"
    tg.always(never_answer())
    set_telegram(home, timeout_s=0.5, max_attempts=1)
    out = send_test_alert(home, channel="telegram")
    assert out["ok"] is False and "timed out" in out["error"]
