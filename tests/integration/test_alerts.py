"""Alerts against a real local Telegram-shaped HTTP server (tests/telegram_server.py): no mocking of requests."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml
from telegram_server import fail, hang, rate_limited, server_error

from mech_exo.alerts import (
    AlertNotFound,
    ack,
    alert_history,
    alerts_config_summary,
    due_steps,
    escalation_due,
    flush_outbox,
    outbox,
    reset_notices,
    run_escalation,
    send_alert,
    send_test_alert,
)
from mech_exo.alerts.redact import scrub
from mech_exo.alerts.settings import load_alert_settings, telegram_secrets
from mech_exo.config import ConfigError
from mech_exo.events import read_events
from mech_exo.home import Home, init_home
from mech_exo.utils.alerts import send_risk_alert

REPO = Path(__file__).resolve().parents[2]
CHAT = "-1001234567"
T0 = datetime(2026, 11, 24, 14, 0, 0, tzinfo=timezone.utc)

ALERTS_YML = """
channels:
  telegram: {enabled: true, timeout_s: 0.5, max_attempts: 3, backoff_s: 0.0, max_retry_after_s: 2}
  console: {enabled: true}
  log: {enabled: true}
routing:
  CRITICAL: [telegram, console, log]
  WARNING: [telegram, console, log]
  INFO: [console, log]
escalation:
  default:
    - {level: on-call, after_minutes: 0}
    - {level: lead, after_minutes: 15}
    - {level: cto, after_minutes: 30}
  monthly_stop:
    - {level: on-call, after_minutes: 0}
    - {level: lead, after_minutes: 30}
    - {level: cto, after_minutes: 60}
    - {level: incident-team, after_minutes: 61}
contacts:
  on-call: {name: "On-call engineer", telegram_chat_id: null}
  lead: {name: "Risk lead", telegram_chat_id: "-100777"}
  cto: {name: "CTO", telegram_chat_id: null}
  incident-team: {name: "Incident team", telegram_chat_id: null}
"""


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path, monkeypatch) -> Home:
    h = Home.resolve(tmp_path / "home")
    init_home(h)
    h.alerts_yml.write_text(ALERTS_YML, encoding="utf-8")
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    reset_notices()
    yield h
    reset_notices()


@pytest.fixture
def live(home, tg, monkeypatch) -> Home:
    """A home whose Telegram channel points at the local server."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
    return home


def events(home: Home, kind: str | None = None) -> list[dict]:
    return [e for e in read_events(home.event_log("alerts"), strict=True) if kind is None or e["event"] == kind]


def tg_delivery(home: Home, alert_id: str) -> dict:
    return [e for e in events(home, "delivery") if e["alert_id"] == alert_id and e["channel"] == "telegram"][-1]


def set_telegram(home: Home, **kw) -> None:
    """Rewrite the home's alerts.yml with some telegram settings changed."""
    cfg = load_alert_settings(home.alerts_yml)
    cfg["channels"]["telegram"].update(kw)
    home.alerts_yml.write_text(yaml.safe_dump(cfg), encoding="utf-8")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- delivery ----------------------------------------------------------------------------------
def test_message_text_and_chat_id_reach_telegram(live, tg):
    rec = send_alert(live, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%",
                     details={"guard": "intraday-pnl-sentinel"})
    assert rec["delivered"] is True and rec["attempts"] == 1 and rec["duplicate"] is False
    (call,) = tg.calls("sendMessage")
    assert call["token_ok"] and call["json"]["chat_id"] == CHAT
    text = call["json"]["text"]
    assert "CRITICAL DAY LOSS: -0.93%" in text and "CRITICAL" in text and rec["alert_id"] in text
    assert "guard: intraday-pnl-sentinel" in text and f"exo alerts ack {rec['alert_id']}" in text
    alert_ev = [e for e in events(live, "alert") if e["alert_id"] == rec["alert_id"]]
    assert alert_ev and alert_ev[0]["channels"] == ["telegram", "console", "log"]
    assert tg_delivery(live, rec["alert_id"])["delivered"] is True


def test_attachment_sent_as_document_with_its_content(live, tg, tmp_path):
    report = tmp_path / "drill_report.md"
    content = "# Drill report\nstatus: FAIL\n".encode() + bytes(range(256))
    report.write_bytes(content)
    rec = send_alert(live, severity="CRITICAL", type="drill", message="Rollback drill FAILED", attachment=report)
    assert rec["delivered"] is True
    (doc,) = tg.calls("sendDocument")
    assert doc["fields"]["chat_id"] == CHAT and rec["alert_id"] in doc["fields"]["caption"]
    assert doc["files"]["document"]["filename"] == "drill_report.md"
    assert doc["files"]["document"]["content"] == content


def test_ok_false_is_recorded_undelivered_and_outboxed_then_flushed(live, tg):
    tg.queue(fail("Bad Request: chat not found"))
    rec = send_alert(live, severity="WARNING", type="var", message="VaR at 75% of limit")
    assert rec["delivered"] is False
    tgd = tg_delivery(live, rec["alert_id"])
    assert tgd["delivered"] is False and tgd["attempts"] == 1  # a 400 is not retried on the spot
    assert "chat not found" in tgd["error"]
    (item,) = [it for _, it in outbox.pending(live)]
    assert item["alert_id"] == rec["alert_id"] and item["method"] == "sendMessage"
    assert alert_history(live, 1)[0]["outbox_pending"] == 1

    summary = flush_outbox(live)
    assert summary["delivered"] == 1 and summary["pending"] == 0
    assert tg_delivery(live, rec["alert_id"])["delivered"] is True
    assert tg_delivery(live, rec["alert_id"])["attempts"] == 2
    row = alert_history(live, 1)[0]
    assert row["delivered"] is True and row["outbox_pending"] == 0
    assert [c["json"]["text"] for c in tg.calls("sendMessage")][0] == tg.calls("sendMessage")[1]["json"]["text"]


def test_429_retry_after_is_honoured_then_delivered(live, tg):
    tg.queue(rate_limited(1))
    rec = send_alert(live, severity="CRITICAL", type="var", message="VaR breach")
    assert rec["delivered"] is True and rec["attempts"] == 2
    part = rec["deliveries"]["telegram"]["parts"]["sendMessage"]
    assert part["waits"] == [1.0]  # waited what the server asked, not the backoff (0 here)
    assert [c["behaviour"] for c in tg.calls()] == ["429", "ok"]
    assert outbox.pending(live) == []


def test_429_longer_than_the_cap_goes_to_the_outbox_at_once(live, tg):
    tg.queue(rate_limited(600))
    rec = send_alert(live, severity="CRITICAL", type="var", message="VaR breach")
    assert rec["delivered"] is False and rec["attempts"] == 1
    assert "exceeds cap" in tg_delivery(live, rec["alert_id"])["error"]
    assert len(outbox.pending(live)) == 1


def test_500_is_retried_with_exponential_backoff(live, tg):
    set_telegram(live, backoff_s=0.01)
    tg.queue(server_error(), server_error())
    rec = send_alert(live, severity="CRITICAL", type="var", message="VaR breach")
    assert rec["delivered"] is True and rec["attempts"] == 3
    assert rec["deliveries"]["telegram"]["parts"]["sendMessage"]["waits"] == [0.01, 0.02]
    assert [c["behaviour"] for c in tg.calls()] == ["500", "500", "ok"]


def test_500_every_time_ends_in_the_outbox(live, tg):
    tg.queue(server_error(), server_error(), server_error())
    rec = send_alert(live, severity="WARNING", type="var", message="VaR at 80%")
    assert rec["delivered"] is False and rec["attempts"] == 3
    assert "Internal Server Error" in tg_delivery(live, rec["alert_id"])["error"]
    assert len(outbox.pending(live)) == 1


def test_hang_times_out_goes_to_outbox_and_flush_delivers_later(live, tg):
    tg.queue(hang(10), hang(10), hang(10))
    rec = send_alert(live, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP-LOSS TRIGGERED: -3.10%")
    assert rec["delivered"] is False and rec["attempts"] == 3
    assert "timed out" in tg_delivery(live, rec["alert_id"])["error"]
    assert len(outbox.pending(live)) == 1
    summary = flush_outbox(live)
    assert summary == {**summary, "attempted": 1, "delivered": 1, "failed": 0, "pending": 0}
    last = tg.calls("sendMessage")[-1]
    assert last["behaviour"] == "ok" and "MONTHLY STOP-LOSS TRIGGERED: -3.10%" in last["json"]["text"]
    assert tg_delivery(live, rec["alert_id"])["delivered"] is True
    assert tg_delivery(live, rec["alert_id"])["via"] == "outbox"


def test_flush_stops_early_when_telegram_is_down_and_keeps_items(live, tg):
    tg.queue(fail("Bad Request"), fail("Bad Request"))
    a = send_alert(live, severity="WARNING", type="x", message="one")
    b = send_alert(live, severity="WARNING", type="x", message="two")
    assert len(outbox.pending(live)) == 2
    tg.queue(server_error(), server_error(), server_error())
    summary = flush_outbox(live)
    assert summary["attempted"] == 1 and summary["failed"] == 1 and summary["pending"] == 2
    assert summary["stopped_early"]
    items = {it["alert_id"]: it for _, it in outbox.pending(live)}
    assert items[a["alert_id"]]["attempts"] == 4 and items[b["alert_id"]]["attempts"] == 1
    assert flush_outbox(live)["delivered"] == 2 and outbox.pending(live) == []


def test_document_part_failing_alone_is_outboxed_and_redelivered(live, tg, tmp_path):
    report = tmp_path / "r.md"
    report.write_text("report body")
    tg.queue({"kind": "ok"}, fail("Bad Request: file is too big"))
    rec = send_alert(live, severity="CRITICAL", type="drill", message="drill FAIL", attachment=report)
    assert rec["delivered"] is False
    (item,) = [it for _, it in outbox.pending(live)]
    assert item["method"] == "sendDocument"
    assert flush_outbox(live)["delivered"] == 1
    assert tg.calls("sendDocument")[-1]["files"]["document"]["content"] == b"report body"
    assert tg_delivery(live, rec["alert_id"])["delivered"] is True


def test_outbox_item_whose_attachment_vanished_is_buried_not_dropped(live, tg, tmp_path):
    report = tmp_path / "gone.md"
    report.write_text("x")
    tg.queue({"kind": "ok"}, fail("Bad Request"))
    rec = send_alert(live, severity="CRITICAL", type="drill", message="drill FAIL", attachment=report)
    report.unlink()
    summary = flush_outbox(live)
    assert summary["dead"] == 1 and summary["pending"] == 0
    assert list((outbox.outbox_dir(live) / "dead").glob("*.json"))
    last = tg_delivery(live, rec["alert_id"])
    assert last["delivered"] is False and "no longer exists" in last["error"]


def test_wrong_token_is_an_undelivered_401(live, tg, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "987654321:WRONG-token-value-abcdefghij")
    rec = send_alert(live, severity="CRITICAL", type="var", message="VaR breach")
    assert rec["delivered"] is False and rec["attempts"] == 1
    assert "Unauthorized" in tg_delivery(live, rec["alert_id"])["error"]
    assert tg.calls()[0]["behaviour"] == "unauthorized"


# --- dedup, no-token mode, config ----------------------------------------------------------------
def test_dedup_key_sends_once(live, tg):
    first = send_alert(live, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP", dedup_key="monthly:2026-11")
    again = send_alert(live, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP", dedup_key="monthly:2026-11")
    assert again["duplicate"] is True and again["alert_id"] == first["alert_id"] and again["delivered"] is True
    assert len(tg.calls()) == 1 and len(events(live, "alert")) == 1
    other = send_alert(live, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP", dedup_key="monthly:2026-12")
    assert other["duplicate"] is False and len(tg.calls()) == 2


def test_no_token_means_console_and_log_with_one_notice(home, capsys):
    a = send_alert(home, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%")
    b = send_alert(home, severity="WARNING", type="daily_stop", message="day loss -0.5%\nsecond line")
    err = capsys.readouterr().err
    assert err.count("Telegram is not configured") == 1
    assert "[CRITICAL]" in err and "CRITICAL DAY LOSS: -0.93%" in err and a["alert_id"] in err
    assert "[WARNING]" in err and "day loss -0.5% | second line" in err  # one line per alert
    for rec in (a, b):
        assert rec["channels"] == ["console", "log"] and rec["delivered"] is True
        assert "telegram" in rec["skipped"]
    assert [e["alert_id"] for e in events(home, "alert")] == [a["alert_id"], b["alert_id"]]
    assert outbox.pending(home) == []


def test_broken_config_falls_back_to_defaults_loudly_and_still_alerts(home, capsys):
    home.alerts_yml.write_text("channels:\n  telegram: {timeout_s: soon}\n")
    rec = send_alert(home, severity="CRITICAL", type="x", message="still goes out")
    err = capsys.readouterr().err
    assert "channels.telegram.timeout_s" in err and str(home.alerts_yml) in err
    assert "still goes out" in err and rec["config_error"] and rec["alert_id"]
    with pytest.raises(ConfigError, match="timeout_s"):
        load_alert_settings(home.alerts_yml)


def test_send_alert_never_raises_even_when_the_home_is_unwritable(tmp_path, monkeypatch, capsys):
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        monkeypatch.delenv(var, raising=False)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    rec = send_alert(Home(blocker), severity="CRITICAL", type="killswitch", message="HALTED")
    assert rec["delivered"] is False
    err = capsys.readouterr().err
    assert "HALTED" in err and "[CRITICAL]" in err


def test_unknown_severity_is_treated_as_critical_and_said(home):
    rec = send_alert(home, severity="urgent!!", type="x", message="m")
    assert rec["severity"] == "CRITICAL" and "unknown severity" in rec["notes"][0]


def test_send_risk_alert_uses_exo_home(home, monkeypatch, capsys):
    monkeypatch.setenv("EXO_HOME", str(home.root))
    rec = send_risk_alert({"type": "var_breach", "message": "VaR 95% at 104% of limit", "severity": "CRITICAL"})
    assert rec["severity"] == "CRITICAL" and rec["type"] == "var_breach"
    assert [e["message"] for e in events(home, "alert")] == ["VaR 95% at 104% of limit"]


# --- escalation ------------------------------------------------------------------------------------
DEFAULT_CHAIN = [{"level": "on-call", "after_minutes": 0}, {"level": "lead", "after_minutes": 15},
                 {"level": "cto", "after_minutes": 30}]
MONTHLY_CHAIN = [{"level": "on-call", "after_minutes": 0}, {"level": "lead", "after_minutes": 30},
                 {"level": "cto", "after_minutes": 60}, {"level": "incident-team", "after_minutes": 61}]


def levels(chain, minutes, seconds=0, done=(), acked=False):
    return [s["level"] for s in due_steps(chain, T0, T0 + timedelta(minutes=minutes, seconds=seconds), set(done), acked)]


def test_due_steps_boundaries_default_chain():
    assert levels(DEFAULT_CHAIN, 0) == ["on-call"]
    assert levels(DEFAULT_CHAIN, 14, 59, done=["on-call"]) == []
    assert levels(DEFAULT_CHAIN, 15, done=["on-call"]) == ["lead"]
    assert levels(DEFAULT_CHAIN, 29, 59, done=["on-call", "lead"]) == []
    assert levels(DEFAULT_CHAIN, 30, done=["on-call", "lead"]) == ["cto"]
    assert levels(DEFAULT_CHAIN, 45) == ["on-call", "lead", "cto"]  # a late run climbs every missed level
    assert levels(DEFAULT_CHAIN, 45, acked=True) == []


def test_due_steps_boundaries_monthly_chain():
    assert levels(MONTHLY_CHAIN, 29, 59, done=["on-call"]) == []
    assert levels(MONTHLY_CHAIN, 30, done=["on-call"]) == ["lead"]
    assert levels(MONTHLY_CHAIN, 59, 59, done=["on-call", "lead"]) == []
    assert levels(MONTHLY_CHAIN, 60, done=["on-call", "lead"]) == ["cto"]
    assert levels(MONTHLY_CHAIN, 60, 59, done=["on-call", "lead", "cto"]) == []
    assert levels(MONTHLY_CHAIN, 61, done=["on-call", "lead", "cto"]) == ["incident-team"]


def test_escalation_timeline_from_the_log_with_ack_stopping_it(live, tg):
    rec = send_alert(live, severity="CRITICAL", type="daily_stop", message="CRITICAL DAY LOSS: -0.93%", now=T0)
    assert [e["level"] for e in rec["escalations"]] == ["on-call"]  # first level = the alert itself
    assert len(tg.calls()) == 1
    assert escalation_due(live, T0 + timedelta(minutes=14, seconds=59)) == []
    assert run_escalation(live, T0 + timedelta(minutes=14, seconds=59)) == []
    (due,) = escalation_due(live, T0 + timedelta(minutes=15))
    assert due["level"] == "lead" and due["alert_id"] == rec["alert_id"]
    (done,) = run_escalation(live, T0 + timedelta(minutes=15))
    assert done["level"] == "lead" and done["delivered"] is True
    lead_msg = tg.calls("sendMessage")[-1]["json"]
    assert lead_msg["chat_id"] == "-100777" and "ESCALATION" in lead_msg["text"] and rec["alert_id"] in lead_msg["text"]
    assert run_escalation(live, T0 + timedelta(minutes=20)) == []  # each level once
    assert len(tg.calls()) == 2
    result = ack(live, rec["alert_id"], by="alice")
    assert result["acked_by"] == "alice" and result["already_acked"] is False and result["escalation_level"] == "lead"
    assert run_escalation(live, T0 + timedelta(minutes=45)) == [] and len(tg.calls()) == 2
    assert ack(live, rec["alert_id"], by="bob")["already_acked"] is True
    row = alert_history(live, 24, now=T0 + timedelta(minutes=45))[0]
    assert row["acked_by"] == "alice" and row["escalation_level"] == "lead"
    assert [e["level"] for e in events(live, "escalation")] == ["on-call", "lead"]


def test_escalation_without_ack_climbs_monthly_chain_and_skips_non_critical(live, tg):
    m = send_alert(live, severity="CRITICAL", type="monthly_stop", message="MONTHLY STOP", now=T0)
    send_alert(live, severity="WARNING", type="var", message="VaR 75%", now=T0)
    assert run_escalation(live, T0 + timedelta(minutes=29, seconds=59)) == []
    assert [e["level"] for e in run_escalation(live, T0 + timedelta(minutes=30))] == ["lead"]
    assert [e["level"] for e in run_escalation(live, T0 + timedelta(minutes=61))] == ["cto", "incident-team"]
    assert {e["alert_id"] for e in events(live, "escalation")} == {m["alert_id"]}


def test_escalation_without_telegram_still_reaches_console_and_log(home, capsys):
    rec = send_alert(home, severity="CRITICAL", type="daily_stop", message="DAY LOSS", now=T0)
    capsys.readouterr()
    (ev,) = run_escalation(home, T0 + timedelta(minutes=15))
    assert ev["notified_via"] == "console" and ev["level"] == "lead"
    err = capsys.readouterr().err
    assert "[ESCALATION]" in err and rec["alert_id"] in err and "Risk lead" in err


def test_ack_unknown_id_is_a_clear_error(home):
    with pytest.raises(AlertNotFound) as exc:
        ack(home, "A20990101-000000-ffffff", by="alice")
    assert "A20990101-000000-ffffff" in str(exc.value) and "alerts.jsonl" in str(exc.value)
    with pytest.raises(ValueError, match="who acknowledges"):
        ack(home, "whatever", by=" ")


# --- CLI helpers and the run-book script --------------------------------------------------------------
def test_history_window_and_config_summary(live, tg):
    old = send_alert(live, severity="INFO", type="x", message="old", now=T0 - timedelta(hours=30))
    new = send_alert(live, severity="INFO", type="x", message="new", now=T0)
    rows = alert_history(live, 24, now=T0 + timedelta(minutes=1))
    assert [r["alert_id"] for r in rows] == [new["alert_id"]]
    assert old["alert_id"] in [r["alert_id"] for r in alert_history(live, 48, now=T0)]
    s = alerts_config_summary(live)
    assert s["channels"]["telegram"]["token"] == "set (hidden)" and s["channels"]["telegram"]["ready"] is True
    assert s["routing"]["INFO"] == ["console", "log"] and s["escalation"]["monthly_stop"][-1]["level"] == "incident-team"
    assert tg.token not in json.dumps(s)


def test_send_test_alert_dry_run_sends_nothing(live, tg):
    out = send_test_alert(live, channel="telegram", dry_run=True)
    assert out["ok"] and "Test alert" in out["would_send"] and tg.calls() == []


def run_script(home: Home, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "test_telegram_alerts.py"), "--home", str(home.root),
                           *args], capture_output=True, text=True, env=env, timeout=120)


def test_script_sends_through_telegram_and_fails_without_token(live, tg):
    env = {**os.environ}
    r = run_script(live, env)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and len(tg.calls("sendMessage")) == 1
    assert tg.token not in r.stdout + r.stderr
    r = run_script(live, env, "--dry-run")
    assert r.returncode == 0 and "DRY RUN" in r.stdout and len(tg.calls()) == 1
    tg.queue(fail("Bad Request: chat not found"))
    r = run_script(live, env)
    assert r.returncode == 1 and "chat not found" in r.stderr
    env.pop("TELEGRAM_BOT_TOKEN")
    r = run_script(live, env)
    assert r.returncode == 2 and "TELEGRAM_BOT_TOKEN" in r.stderr


# --- the token never leaks ---------------------------------------------------------------------------
def test_token_never_appears_in_output_logs_records_or_errors(live, tg, monkeypatch, capsys, caplog, tmp_path):
    token = tg.token
    caplog.set_level(logging.DEBUG)  # urllib3 logs request URLs (with the token) at DEBUG
    records = []
    tg.queue(fail("Bad Request: chat not found"), hang(10), hang(10), hang(10), server_error(), server_error(),
             server_error())
    report = tmp_path / "r.md"
    report.write_text("r")
    records.append(send_alert(live, severity="CRITICAL", type="a", message="ok-false", attachment=report))
    records.append(send_alert(live, severity="CRITICAL", type="b", message="hang"))
    records.append(send_alert(live, severity="WARNING", type="c", message="500s"))
    monkeypatch.setenv("TELEGRAM_API_BASE", f"http://127.0.0.1:{closed_port()}")  # connection refused
    records.append(send_alert(live, severity="CRITICAL", type="d", message="refused"))
    records.append(flush_outbox(live))
    records.append(run_escalation(live, datetime.now(timezone.utc) + timedelta(hours=2)))
    records.append(alerts_config_summary(live))
    records.append(repr(telegram_secrets()))
    assert "Connection" in tg_delivery(live, records[3]["alert_id"])["error"]  # the refused path really ran
    # the exception text requests itself produces contains the token; scrub removes it
    try:
        requests.post(f"http://127.0.0.1:{closed_port()}/bot{token}/sendMessage", timeout=1)
    except requests.RequestException as exc:
        raw = str(exc)
    assert token in raw  # requests quotes the URL, token included
    assert token not in scrub(raw) and "/bot<hidden>" in scrub(raw)
    captured = capsys.readouterr()
    assert token not in captured.out and token not in captured.err
    assert token not in caplog.text and "/bot<hidden>/sendMessage" in caplog.text
    assert token not in json.dumps(records, default=str) and token not in repr(records)
    files = [p for p in live.root.rglob("*") if p.is_file()]
    assert any(p.name == "alerts.jsonl" for p in files) and any(p.parent.name == "outbox" for p in files)
    for p in files:
        assert token not in p.read_text(errors="replace"), p


# --- more edges ----------------------------------------------------------------------------------------
def test_shipped_template_matches_the_built_in_defaults():
    from mech_exo.alerts.settings import default_settings
    shipped = load_alert_settings(REPO / "config" / "alerts.yml")
    for key in ("channels", "routing", "escalation"):
        assert shipped[key] == default_settings()[key], key


def test_concurrent_senders_with_one_dedup_key_raise_one_alert(home):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        recs = list(pool.map(lambda _: send_alert(home, severity="WARNING", type="var", message="m",
                                                  dedup_key="var:2026-11-24"), range(8)))
    assert len({r["alert_id"] for r in recs}) == 1
    assert sum(not r["duplicate"] for r in recs) == 1 and len(events(home, "alert")) == 1


def test_undelivered_escalation_waits_in_the_outbox_under_its_own_channel(live, tg):
    rec = send_alert(live, severity="CRITICAL", type="daily_stop", message="DAY LOSS", now=T0)
    tg.queue(fail("Bad Request: chat not found"))
    (ev,) = run_escalation(live, T0 + timedelta(minutes=15))
    assert ev["delivered"] is False and ev["outbox_id"]
    (item,) = [it for _, it in outbox.pending(live)]
    assert item["channel"] == "telegram@lead" and item["chat_id"] == "-100777"
    assert run_escalation(live, T0 + timedelta(minutes=16)) == []  # recorded: not re-sent, the outbox has it
    assert flush_outbox(live)["delivered"] == 1
    assert tg.calls("sendMessage")[-1]["json"]["chat_id"] == "-100777"
    row = alert_history(live, 24, now=T0)[0]
    assert row["deliveries"]["telegram@lead"]["delivered"] is True and row["alert_id"] == rec["alert_id"]


def test_corrupt_outbox_file_is_buried_with_a_reason(live, tg):
    bad = outbox.outbox_dir(live) / "00000000000000000000-deadbeef.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("{not json")
    summary = flush_outbox(live)
    assert summary["dead"] == 1 and not bad.exists() and (bad.parent / "dead" / bad.name).exists()
    assert "unreadable outbox file" in events(live, "delivery")[-1]["error"]


def test_scrub_hides_token_shaped_text_even_when_no_token_is_configured(home):
    text = "Max retries exceeded with url: /bot555:other-secret/sendMessage; token 123456:ABCdefGHIjklMNOpqrSTUvwx"
    clean = scrub(text)
    assert "other-secret" not in clean and "ABCdefGHIjklMNOpqrSTUvwx" not in clean
    assert scrub("/home/bottle/report.md") == "/home/bottle/report.md"  # ordinary paths untouched


# --- drills (SPEC §6: every drill reaches Telegram with its report, whatever INFO's routing says) ---
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "live"])
def test_every_passing_drill_goes_to_telegram_with_its_report(live, tg, dry_run):
    from mech_exo import drill as dr

    assert load_alert_settings(live.alerts_yml)["routing"]["INFO"] == ["console", "log"]   # INFO: no Telegram
    rec = dr.run_drill(live, dry_run=dry_run, wait_s=0, skip_frequency_check=True, sleep=lambda s: None)
    assert rec["status"] == "PASS"
    report = live.root / rec["report_path"]
    (msg,) = tg.calls("sendMessage")
    assert rec["drill_id"] in msg["json"]["text"] and "PASS" in msg["json"]["text"] and "INFO" in msg["json"]["text"]
    (doc,) = tg.calls("sendDocument")
    assert doc["files"]["document"]["filename"] == report.name
    assert doc["files"]["document"]["content"] == report.read_bytes()
    assert tg_delivery(live, rec["alert_id"])["delivered"] is True
    # any other INFO keeps its routing: console and log only
    other = send_alert(live, severity="INFO", type="test", message="routine")
    assert "telegram" not in other["channels"] and len(tg.calls("sendMessage")) == 1
