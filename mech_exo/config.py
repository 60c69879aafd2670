"""Configuration loading: ``config/risk.yml`` and ``config/alerts.yml`` merged over built-in defaults.

Thresholds are *read* here and *enforced* in ``mech_exo/guards.py`` (pure functions).
A malformed file raises ``ConfigError`` naming the file and the key; it never falls back silently.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULT_RISK: dict[str, Any] = {
    "session": {"timezone": "America/New_York", "open": "09:30", "close": "16:00"},
    "var": {"window": 250, "min_obs": 20, "limit95_usd": 2_000_000.0, "limit99_usd": 3_000_000.0,
            "warning_pct": 70.0, "critical_pct": 90.0, "halt_pct": 100.0, "enabled": True},
    "daily_stop": {"enabled": True, "threshold_pct": -0.8, "warning_pct": -0.4, "retrip_step_pct": 0.5},
    "monthly_stop": {"enabled": True, "threshold_pct": -3.0, "min_history_days": 10, "retrip_step_pct": 0.5},
    "concentration": {"enabled": True, "max_weight_pct": 15.0},
    "freshness": {"enabled": True, "max_age_minutes": 5},
    "reenable": {
        "monthly_stop": {"requires_approval": True, "role": "CTO"},
        "var_breach": {"requires_approval": True, "role": "RISK_MANAGER"},
        "daily_stop": {"requires_approval": False},
        "manual": {"requires_approval": False},
        "drill": {"requires_approval": False},
    },
}


class ConfigError(ValueError):
    """A config file is unreadable or a value breaks its rule; the message names file, line and key.

    ``path`` and ``line`` (1-based, None when unknown) are kept for callers that fail closed on it
    (``mech_exo.config_guard``)."""

    def __init__(self, message: str, path: Path | None = None, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line


def key_line(path: Path, dotted: str) -> int | None:
    """1-based line of ``section.key`` in a YAML file (or of ``section`` when the key is absent), for
    error messages; None when the file cannot be composed or the key is not there."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    line = None
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            return line
        for k, v in node.value:
            if getattr(k, "value", None) == part:
                line, node = v.start_mark.line + 1, v
                break
        else:
            return line
    return line


def _value_error(path: Path, dotted: str, rule: str) -> ConfigError:
    line = key_line(path, dotted) if path.name != "<defaults>" else None
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {dotted} {rule}", path, line)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: not valid YAML: {problem}", path, line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.__class__.__name__}: {exc}", path, None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping at the top level, got {type(data).__name__}", path, 1)
    return data


def _hhmm(path: Path, key: str, value: Any) -> str:
    s = str(value)
    parts = s.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
        raise _value_error(path, key, f"must be HH:MM, got {value!r}")
    return f"{int(parts[0]):02d}:{int(parts[1]):02d}"


def load_risk_config(path: Path | None) -> dict[str, Any]:
    """Risk config with defaults filled in and types checked."""
    raw = read_yaml(path) if path else {}
    p = path or Path("<defaults>")
    for section, value in raw.items():
        if isinstance(DEFAULT_RISK.get(section), dict) and not isinstance(value, dict):
            raise _value_error(p, str(section), f"must be a mapping of settings, got {value!r}")
    cfg = _merge(DEFAULT_RISK, raw)
    try:
        ZoneInfo(str(cfg["session"]["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise _value_error(p, "session.timezone",
                           f"{cfg['session']['timezone']!r} is not a known IANA timezone") from None
    cfg["session"]["open"] = _hhmm(p, "session.open", cfg["session"]["open"])
    cfg["session"]["close"] = _hhmm(p, "session.close", cfg["session"]["close"])
    for section, key, typ in [("var", "window", int), ("var", "min_obs", int),
                              ("monthly_stop", "min_history_days", int), ("freshness", "max_age_minutes", float)]:
        try:
            cfg[section][key] = typ(cfg[section][key])
        except (TypeError, ValueError):
            raise _value_error(p, f"{section}.{key}", f"must be a number, got {cfg[section][key]!r}") from None
    for section, key in [("var", "limit95_usd"), ("var", "limit99_usd"), ("var", "warning_pct"),
                         ("var", "critical_pct"), ("var", "halt_pct"), ("daily_stop", "threshold_pct"),
                         ("daily_stop", "warning_pct"), ("daily_stop", "retrip_step_pct"),
                         ("monthly_stop", "threshold_pct"), ("monthly_stop", "retrip_step_pct"),
                         ("concentration", "max_weight_pct")]:
        try:
            cfg[section][key] = float(cfg[section][key])
        except (TypeError, ValueError):
            raise _value_error(p, f"{section}.{key}", f"must be a number, got {cfg[section][key]!r}") from None
    for section in ("var", "daily_stop", "monthly_stop", "concentration", "freshness"):
        if not isinstance(cfg[section].get("enabled", True), bool):
            raise _value_error(p, f"{section}.enabled", f"must be true or false, got {cfg[section]['enabled']!r}")
    if cfg["var"]["min_obs"] < 2 or cfg["var"]["window"] < cfg["var"]["min_obs"]:
        raise _value_error(p, "var.window",
                           f"({cfg['var']['window']}) must be >= var.min_obs ({cfg['var']['min_obs']}) >= 2")
    return cfg


def session_or_default(path: Path | None) -> dict[str, Any]:
    """The session calendar for *scheduling* only (cron timezone, watcher start): the file's when it
    can be read, else the built-in default — so a broken risk.yml never stops the code location from
    loading (its sensors must run to halt). Guards never use this: they fail closed on the error."""
    try:
        return load_risk_config(path)["session"]
    except ConfigError:
        return copy.deepcopy(DEFAULT_RISK["session"])


def dbt_vars(risk: dict[str, Any]) -> dict[str, Any]:
    """The subset of the risk config the dbt models need (passed as ``--vars``)."""
    return {
        "session_timezone": risk["session"]["timezone"],
        "session_close": risk["session"]["close"],
        "var_window": risk["var"]["window"],
        "var_min_obs": risk["var"]["min_obs"],
        "var_limit95_usd": risk["var"]["limit95_usd"],
        "var_limit99_usd": risk["var"]["limit99_usd"],
        "var_warning_pct": risk["var"]["warning_pct"],
        "var_critical_pct": risk["var"]["critical_pct"],
        "var_halt_pct": risk["var"]["halt_pct"],
        "monthly_threshold_pct": risk["monthly_stop"]["threshold_pct"],
        "monthly_min_history_days": risk["monthly_stop"]["min_history_days"],
    }


def load_alerts_config(path: Path | None) -> dict[str, Any]:
    return read_yaml(path) if path else {}
