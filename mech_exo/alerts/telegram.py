"""Telegram Bot API client: ``sendMessage`` (JSON) and ``sendDocument`` (multipart) with a retry policy.

Policy (why): an alert must arrive, but a CRITICAL one must not sit in a retry loop for minutes
while the halt waits behind it. So:
* every request has a timeout (``timeout_s``);
* network errors, timeouts and 5xx are retried up to ``max_attempts`` with exponential backoff
  (``backoff_s * 2**(n-1)``);
* 429 is retried after the server's ``parameters.retry_after`` — only if that is within
  ``max_retry_after_s``; longer waits give up at once and the caller parks the message in the outbox;
* other ``ok: false`` answers (bad chat id, bad token) are not retried now (retrying won't help),
  their ``description`` is recorded and the caller outboxes the message for later.
Every text leaving this module is scrubbed of the token.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

from mech_exo.alerts.redact import install_log_filters, scrub
from mech_exo.alerts.settings import TelegramSecrets

MAX_TEXT = 4096      # Bot API limit for sendMessage text
MAX_CAPTION = 1024   # Bot API limit for sendDocument caption


@dataclass
class SendResult:
    delivered: bool
    attempts: int
    error: str | None = None
    status: int | None = None
    waits: list[float] = field(default_factory=list)
    message_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "attempts": self.attempts, "error": self.error,
                "status": self.status, "waits": list(self.waits), "message_id": self.message_id}


class _Answer:
    """One HTTP exchange, classified."""

    def __init__(self, ok: bool, retry: bool, error: str | None, status: int | None,
                 retry_after: float | None = None, message_id: int | None = None):
        self.ok, self.retry, self.error, self.status = ok, retry, error, status
        self.retry_after, self.message_id = retry_after, message_id


def _classify(resp: requests.Response) -> _Answer:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        retry = resp.status_code >= 500 or resp.status_code == 429
        return _Answer(False, retry, f"HTTP {resp.status_code}: response is not Bot API JSON", resp.status_code)
    if body.get("ok") is True and resp.status_code < 400:
        result = body.get("result") if isinstance(body.get("result"), dict) else {}
        return _Answer(True, False, None, resp.status_code, message_id=result.get("message_id"))
    desc = str(body.get("description") or "no description")
    error = f"HTTP {resp.status_code}: {desc}"
    if resp.status_code == 429:
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        try:
            retry_after = float(params.get("retry_after", 1))
        except (TypeError, ValueError):
            retry_after = 1.0
        return _Answer(False, True, error, 429, retry_after=retry_after)
    return _Answer(False, resp.status_code >= 500, error, resp.status_code)


def _post(secrets: TelegramSecrets, method: str, payload: dict[str, Any], attachment: Path | None,
          timeout: float) -> requests.Response:
    url = f"{secrets.api_base}/bot{secrets.token}/{method}"
    if attachment is None:
        return requests.post(url, json=payload, timeout=timeout)
    with open(attachment, "rb") as fh:  # reopened on each attempt: a retry must resend the whole file
        data = {k: str(v) for k, v in payload.items() if v is not None}
        return requests.post(url, data=data, files={"document": (attachment.name, fh)}, timeout=timeout)


def _attempt(secrets: TelegramSecrets, method: str, payload: dict[str, Any], attachment: Path | None,
             timeout: float) -> _Answer:
    try:
        return _classify(_post(secrets, method, payload, attachment, timeout))
    except requests.Timeout:
        return _Answer(False, True, f"timed out after {timeout:g}s", None)
    except requests.RequestException as exc:
        return _Answer(False, True, f"{type(exc).__name__}: {scrub(exc, secrets.token)}", None)
    except OSError as exc:  # attachment unreadable: retrying now won't help
        return _Answer(False, False, f"cannot read attachment {attachment}: {exc.strerror or exc}", None)


def call(secrets: TelegramSecrets, method: str, payload: dict[str, Any], tg_cfg: dict[str, Any], *,
         attachment: Path | None = None, sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send one Bot API request with the retry policy above. Never raises; the result says what happened."""
    install_log_filters()
    if not secrets.token:
        return SendResult(False, 0, "Telegram is not configured (TELEGRAM_BOT_TOKEN not set)")
    timeout, max_attempts = float(tg_cfg["timeout_s"]), int(tg_cfg["max_attempts"])
    backoff, cap = float(tg_cfg["backoff_s"]), float(tg_cfg["max_retry_after_s"])
    result = SendResult(False, 0)
    while result.attempts < max_attempts:
        result.attempts += 1
        ans = _attempt(secrets, method, payload, attachment, timeout)
        result.status, result.error = ans.status, scrub(ans.error, secrets.token) if ans.error else None
        if ans.ok:
            result.delivered, result.message_id = True, ans.message_id
            return result
        if not ans.retry or result.attempts >= max_attempts:
            return result
        if ans.retry_after is not None:
            if ans.retry_after > cap:
                result.error = f"{result.error} (retry_after {ans.retry_after:g}s exceeds cap {cap:g}s; left for the outbox)"
                return result
            wait = ans.retry_after
        else:
            wait = backoff * 2 ** (result.attempts - 1)
        result.waits.append(wait)
        if wait > 0:
            sleep(wait)
    return result


def send_message(secrets: TelegramSecrets, text: str, tg_cfg: dict[str, Any], *, chat_id: str | None = None,
                 **kw: Any) -> SendResult:
    payload: dict[str, Any] = {"chat_id": chat_id or secrets.chat_id, "text": text[:MAX_TEXT]}
    if tg_cfg.get("parse_mode"):
        payload["parse_mode"] = tg_cfg["parse_mode"]
    return call(secrets, "sendMessage", payload, tg_cfg, **kw)


def send_document(secrets: TelegramSecrets, path: Path, caption: str, tg_cfg: dict[str, Any], *,
                  chat_id: str | None = None, **kw: Any) -> SendResult:
    payload = {"chat_id": chat_id or secrets.chat_id, "caption": caption[:MAX_CAPTION]}
    return call(secrets, "sendDocument", payload, tg_cfg, attachment=Path(path), **kw)
