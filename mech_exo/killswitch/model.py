"""The kill-switch's vocabulary: triggers, errors, the state as read."""
from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

TRIGGERS = ("daily_stop", "monthly_stop", "var_breach", "manual", "drill")
SUPER_APPROVER_ROLE = "CTO"
HISTORY_KEYS = ("at", "action", "trading_enabled", "reason", "trigger", "by", "approved_by",
                "guard", "period", "level_pct")
_HEADER = ("# Kill-switch state: the source of truth the trading engine reads "
           "(mech_exo.killswitch.is_trading_enabled).\n"
           "# Written only through `exo kill ...` / the guards (atomic, locked, audited). "
           "Do not hand-edit in production.\n")


class KillSwitchError(Exception):
    """A kill-switch change was refused or could not be made; the message says why and where."""


class KillSwitchIOError(OSError):
    """The kill-switch could not be written and nothing changed (lock, enable or every halt path
    failed). An ``OSError`` (errno of the cause kept) so callers that fall back on I/O failures — the
    drill's emergency restore — still do; ``str()`` is the whole explanation, naming the files."""

    def __init__(self, message: str, cause: OSError | None = None):
        super().__init__(getattr(cause, "errno", None) or errno.EIO, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ApprovalRequired(KillSwitchError):
    """Re-enabling needs ``approved_by`` naming an approver with the required role."""


@dataclass
class KillSwitchState:
    trading_enabled: bool
    reason: str
    trigger: str
    updated_at: str
    updated_by: str
    history: list[dict]
    readable: bool = True
    error: str | None = None
    path: Path = field(kw_only=True)
    # the halt file next to the yml: missing | clear | halt | corrupt, and its records not yet in the yml
    halt_status: str = field(default="missing", kw_only=True)
    halt_path: Path | None = field(default=None, kw_only=True)
    pending_halts: list[dict] = field(default_factory=list, kw_only=True)
    yml_ok: bool = field(default=True, kw_only=True)   # False: the yml itself is missing/corrupt
