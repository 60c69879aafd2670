"""The drill's vocabulary: reasons, step names, badge thresholds, errors, one drill's context."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from mech_exo import killswitch as ks
from mech_exo.events import utc_now
from mech_exo.home import Home

REASON_OFF = "ROLLBACK_DRILL"
REASON_DONE = "ROLLBACK_DRILL_COMPLETE"
REASON_EMERGENCY = "ROLLBACK_DRILL_EMERGENCY_RESTORE"
REASON_RECOVERED = "ROLLBACK_DRILL_RECOVERED"
STEP_NAMES = {"A": "Back up kill-switch", "B": f"Kill off ({REASON_OFF})", "C": "Wait",
              "D": "Restore pre-drill state"}
GREEN_BELOW_DAYS = 90     # badge green when the last live pass is younger than this
RED_ABOVE_DAYS = 120      # badge red when older than this (or never)
CORRUPT_LOCK_GRACE_S = 10  # an unparseable lock younger than this may still be being written

Progress = Callable[..., None]


class DrillError(Exception):
    """A drill step failed; the message names the file and what did not match."""


class DrillRefused(DrillError):
    """A drill may not start (another drill runs, trading already off, switch unreadable)."""


# --- one drill's context and steps ----------------------------------------------------------------

@dataclass
class Step:
    step: str
    name: str
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    ok: bool = False
    detail: str = ""


@dataclass
class DrillRun:
    home: Home
    drill_id: str
    dry_run: bool
    wait_s: int
    started_by: str
    path: Path                      # the kill-switch file drilled (live, or the dry-run copy)
    backup_path: Path
    started_at: datetime = field(default_factory=utc_now)
    pre: ks.KillSwitchState | None = None
    b_changed: bool = False
    backup_written: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def by(self) -> str:
        return f"drill:{self.drill_id}"

    @property
    def log_event(self) -> bool:
        return not self.dry_run


def new_drill_id(now: datetime) -> str:
    return f"D{now.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _dryrun_dir(home: Home) -> Path:
    """Where a dry run's copy of the home's kill-switch lives (live state is never touched)."""
    return home.state_dir / "drill_dryrun"
