"""Keep the Telegram bot token out of every string we print, log, record or raise.

Why this exists: the Bot API puts the token in the URL path (``/bot<token>/sendMessage``) and
``requests``/``urllib3`` quote that URL in exception messages and DEBUG logs. So every text that
leaves the Telegram client passes through ``scrub``, and urllib3's logger gets a filter.
"""
from __future__ import annotations

import logging
import os
import re

HIDDEN = "<hidden>"
# Telegram tokens look like 123456789:AAH...; hide anything of that shape after "bot" in a URL too.
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
_BOT_PATH = re.compile(r"/bot[^/\s'\"]*:[^/\s'\"]+")  # Bot API tokens are always <digits>:<secret>


def scrub(text: object, token: str | None = None) -> str:
    """``text`` as a string with the token (given or from env) and anything token-shaped removed."""
    s = str(text)
    for t in {token, os.environ.get("TELEGRAM_BOT_TOKEN")}:
        if t:
            s = s.replace(t, HIDDEN)
    s = _BOT_PATH.sub("/bot" + HIDDEN, s)
    return _TOKEN_SHAPE.sub(HIDDEN, s)


class ScrubFilter(logging.Filter):
    """Rewrites log records of HTTP libraries so a DEBUG log never carries the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a malformed record: leave it to logging to complain
            return True
        clean = scrub(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


_installed = False


def install_log_filters() -> None:
    """Idempotent: attach ScrubFilter to the loggers that print request URLs."""
    global _installed
    if _installed:
        return
    for name in ("urllib3.connectionpool", "urllib3", "requests"):
        logging.getLogger(name).addFilter(ScrubFilter())
    _installed = True
