"""A halt never waits on an alert: the guard tick on a breaching snapshot while the Telegram Bot API
(a real local server) answers 500, 429 with a long retry_after, or hangs. The switch goes off
first, the alert waits in the outbox, and a later flush delivers it."""
from __future__ import annotations

import time

import pytest
import yaml
from conftest import AFTER_LAST_SESSION, copy_home
from telegram_server import hang, rate_limited, server_error

from mech_exo.alerts import flush_outbox, reset_notices
from mech_exo.events import read_events
from mech_exo.guard_runner import tick
from mech_exo.home import init_home
from mech_exo.killswitch import read_state

CHAT = "-100123"


@pytest.fixture
def breaching(crash_home, tmp_path, tg, monkeypatch):
    home = copy_home(crash_home, tmp_path / "h")
    init_home(home)
    cfg = yaml.safe_load(home.alerts_yml.read_text())
    cfg["channels"]["telegram"].update(timeout_s=0.5, max_attempts=3, backoff_s=0.01, max_retry_after_s=2)
    home.alerts_yml.write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE", tg.url)
    reset_notices()
    return home


@pytest.mark.parametrize("failure", [
    [server_error()] * 3,
    [rate_limited(retry_after=600)],
    [hang(seconds=3)] * 3,
], ids=["500-three-times", "429-retry-after-10min", "hang-past-timeout"])
def test_the_switch_goes_off_whatever_telegram_does(breaching, tg, failure):
    home = breaching
    tg.queue(*failure, *([server_error()] * 20))  # every call of this tick fails
    t0 = time.perf_counter()
    results = tick(home, now=AFTER_LAST_SESSION, by="test")
    elapsed = time.perf_counter() - t0
    st = read_state(home)
    assert not st.trading_enabled and st.reason.startswith("CRITICAL DAY LOSS")
    halt = next(r for r in results if r["guard"] == "intraday-pnl-sentinel")
    assert halt["halted"] and not halt["alert"]["delivered"]
    assert elapsed < 15, "bounded: timeouts and the retry_after cap keep a tick short"
    # the halt was written before Telegram was first called
    first_call = tg.calls()[0]
    assert first_call["method"] == "sendMessage"
    changes = [e for e in read_events(home.event_log("killswitch")) if e.get("trading_enabled") is False]
    assert len(changes) == 1
    # Telegram recovers: the outbox delivers the CRITICAL alert, text intact, token nowhere in the log
    tg.requests.clear()
    tg._script.clear()
    summary = flush_outbox(home)
    assert summary["delivered"] >= 1
    texts = [(c.get("json") or {}).get("text", "") for c in tg.calls("sendMessage")]
    assert any("CRITICAL DAY LOSS" in t for t in texts)
    assert tg.token not in home.event_log("alerts").read_text()
