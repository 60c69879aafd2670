"""Alert settings: ``config/alerts.yml`` merged over built-in defaults, plus the Telegram secrets from env.

Why defaults live in code too: an alert must still go out (console + log at least) when a home has
no ``alerts.yml`` or a broken one — an alert is the last thing that may fail. A broken value raises
``ConfigError`` naming the file and the key; ``send_alert`` catches it, falls back to the defaults
and says so loudly (it never swallows it).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mech_exo.config import ConfigError, _merge, read_yaml

SEVERITIES = ("CRITICAL", "WARNING", "INFO")
CHANNELS = ("telegram", "console", "log")
DEFAULT_API_BASE = "https://api.telegram.org"

DEFAULT_ALERTS: dict[str, Any] = {
    "channels": {
        "telegram": {"enabled": True, "timeout_s": 5.0, "max_attempts": 3, "backoff_s": 1.0,
                     "max_retry_after_s": 10.0, "parse_mode": None,
                     # how long a caller (a run, a tick) waits for a message it raised before moving on; the
                     # background deliverer keeps trying, what is not delivered waits in the outbox
                     "grace_s": 2.0,
                     # how long a finishing process waits for its background deliveries before it exits
                     "exit_grace_s": 3.0},
        "console": {"enabled": True},
        "log": {"enabled": True},
    },
    "routing": {
        "CRITICAL": ["telegram", "console", "log"],
        "WARNING": ["telegram", "console", "log"],
        "INFO": ["console", "log"],
    },
    "escalation": {
        "default": [{"level": "on-call", "after_minutes": 0}, {"level": "lead", "after_minutes": 15},
                    {"level": "cto", "after_minutes": 30}],
        "monthly_stop": [{"level": "on-call", "after_minutes": 0}, {"level": "lead", "after_minutes": 30},
                         {"level": "cto", "after_minutes": 60},
                         {"level": "incident-team", "after_minutes": 61}],
    },
    "contacts": {},
    "approvers": [],
}


@dataclass(frozen=True)
class TelegramSecrets:
    """Token and chat from the environment. ``repr`` never shows the token (it ends up in tracebacks)."""
    token: str | None = field(default=None, repr=False)
    chat_id: str | None = None
    api_base: str = DEFAULT_API_BASE

    @property
    def configured(self) -> bool:
        return bool(self.token) and bool(self.chat_id)

    def __repr__(self) -> str:  # explicit: a dataclass repr would be one refactor away from leaking
        return (f"TelegramSecrets(token={'set (hidden)' if self.token else 'not set'}, "
                f"chat_id={'set' if self.chat_id else 'not set'}, api_base={self.api_base!r})")


def telegram_secrets() -> TelegramSecrets:
    token = (os.environ.get("TELEGRAM_BOT_TOKEN") or "").strip() or None
    chat = (os.environ.get("TELEGRAM_CHAT_ID") or "").strip() or None
    base = (os.environ.get("TELEGRAM_API_BASE") or "").strip() or DEFAULT_API_BASE
    return TelegramSecrets(token=token, chat_id=chat, api_base=base.rstrip("/"))


def _number(path: Path, key: str, value: Any, typ: type, minimum: float) -> Any:
    try:
        out = typ(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {key} must be a number, got {value!r}") from None
    if out < minimum:
        raise ConfigError(f"{path}: {key} must be >= {minimum}, got {value!r}")
    return out


def _check_chain(path: Path, name: str, chain: Any) -> list[dict]:
    if not isinstance(chain, list) or not chain:
        raise ConfigError(f"{path}: escalation.{name} must be a non-empty list of {{level, after_minutes}}")
    out = []
    for i, step in enumerate(chain):
        if not isinstance(step, dict) or not step.get("level"):
            raise ConfigError(f"{path}: escalation.{name}[{i}] needs a 'level'")
        minutes = _number(path, f"escalation.{name}[{i}].after_minutes", step.get("after_minutes", 0), float, 0)
        out.append({"level": str(step["level"]), "after_minutes": minutes})
    if [s["after_minutes"] for s in out] != sorted(s["after_minutes"] for s in out):
        raise ConfigError(f"{path}: escalation.{name} levels must be in increasing after_minutes order")
    return out


def validate(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """Types and names checked; numbers coerced. Raises ConfigError naming file and key."""
    tg = cfg["channels"]["telegram"]
    tg["timeout_s"] = _number(path, "channels.telegram.timeout_s", tg["timeout_s"], float, 0.001)
    tg["max_attempts"] = _number(path, "channels.telegram.max_attempts", tg["max_attempts"], int, 1)
    tg["backoff_s"] = _number(path, "channels.telegram.backoff_s", tg["backoff_s"], float, 0)
    tg["max_retry_after_s"] = _number(path, "channels.telegram.max_retry_after_s", tg["max_retry_after_s"], float, 0)
    tg["grace_s"] = _number(path, "channels.telegram.grace_s", tg["grace_s"], float, 0)
    tg["exit_grace_s"] = _number(path, "channels.telegram.exit_grace_s", tg["exit_grace_s"], float, 0)
    routing = cfg.get("routing") or {}
    if not isinstance(routing, dict):
        raise ConfigError(f"{path}: routing must be a mapping severity -> [channels]")
    for sev, chans in routing.items():
        if str(sev).upper() not in SEVERITIES:
            raise ConfigError(f"{path}: routing.{sev}: unknown severity (use one of {', '.join(SEVERITIES)})")
        if not isinstance(chans, list) or any(c not in CHANNELS for c in chans):
            raise ConfigError(f"{path}: routing.{sev} must be a list drawn from {list(CHANNELS)}, got {chans!r}")
    cfg["routing"] = {str(k).upper(): list(v) for k, v in routing.items()}
    esc = cfg.get("escalation") or {}
    if not isinstance(esc, dict) or "default" not in esc:
        raise ConfigError(f"{path}: escalation must be a mapping with at least a 'default' chain")
    cfg["escalation"] = {str(name): _check_chain(path, str(name), chain) for name, chain in esc.items()}
    if not isinstance(cfg.get("contacts") or {}, dict):
        raise ConfigError(f"{path}: contacts must be a mapping level -> {{name, telegram_chat_id}}")
    cfg["contacts"] = cfg.get("contacts") or {}
    return cfg


def load_alert_settings(path: Path | None) -> dict[str, Any]:
    """The validated alert config. ``path`` missing → defaults (a fresh home still alerts)."""
    raw = read_yaml(path) if path else {}
    cfg = _merge(copy.deepcopy(DEFAULT_ALERTS), raw)
    # routing / escalation given in the file replace the defaults wholesale (merging lists is surprising)
    for key in ("routing", "escalation"):
        if key in raw:
            cfg[key] = copy.deepcopy(raw[key])
    return validate(cfg, path or Path("<defaults>"))


def default_settings() -> dict[str, Any]:
    return validate(copy.deepcopy(DEFAULT_ALERTS), Path("<defaults>"))
