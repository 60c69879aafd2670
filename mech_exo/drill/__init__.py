"""Rollback drill (SPEC §6): prove, on a schedule, that the kill-switch halts trading and comes back.

A drill is four timed steps on the kill-switch file:

* **A** back up ``config/killswitch.yml`` to ``config/killswitch_backup_YYYYMMDD_HHMMSS.yml`` and
  verify it (re-read, byte-compare, parse);
* **B** kill off with reason ``ROLLBACK_DRILL`` (trigger ``drill``, by ``drill:<id>``), verify by re-reading;
* **C** wait, then check the switch is still the drill's halt;
* **D** restore the pre-drill state (the change is recorded with reason ``ROLLBACK_DRILL_COMPLETE``)
  and verify ``trading_enabled``/``trigger``/``reason`` equal the pre-drill ones.

Why the care:
* **A real halt wins.** If anything else changed the switch during the drill (a guard halted,
  someone switched it on), the drill does not restore over it: it fails and leaves the switch alone.
* **Any failed step ⇒ emergency restore** from the backup, status FAIL, CRITICAL alert; the backup is
  kept on failure and removed after a pass. If the kill-switch's own locked write is broken, the
  restore writes the backup's state atomically itself (history kept, event logged).
* **One drill at a time.** ``.drill_lock`` (created with ``O_EXCL``) names pid, process start,
  drill id and backup path. A lock whose process is gone is *stale*: the next ``exo drill rollback``
  or ``exo drill status`` recovers it (:func:`recover_stale_drill`) — restores the switch from the
  backup when it is still the dead drill's halt, appends an ABORTED record, says so loudly.
* **Dry run** runs the same cycle on a copy under ``data/state/drill_dryrun/`` with no kill-switch
  events, so live state is untouched.

Every finished drill appends one record to ``data/events/drills.jsonl`` (→ dbt ``drill_log``) and
writes ``reports/drills/drill_YYYYMMDD_HHMM.md``, which the alert attaches.
"""
from mech_exo.drill.history import (  # noqa: F401
    badge_for,
    check_overdue,
    drill_status,
    get_last_drill_info,
)
from mech_exo.drill.lock import _proc_start, lock_state, pid_alive, read_lock  # noqa: F401
from mech_exo.drill.model import (  # noqa: F401
    CORRUPT_LOCK_GRACE_S,
    GREEN_BELOW_DAYS,
    REASON_DONE,
    REASON_EMERGENCY,
    REASON_OFF,
    REASON_RECOVERED,
    RED_ABOVE_DAYS,
    STEP_NAMES,
    DrillError,
    DrillRefused,
    DrillRun,
    Progress,
    Step,
    new_drill_id,
)
from mech_exo.drill.recovery import recover_stale_drill  # noqa: F401
from mech_exo.drill.report import render_report  # noqa: F401
from mech_exo.drill.run import _free_backup_name, run_drill  # noqa: F401
from mech_exo.drill.steps import (  # noqa: F401
    emergency_restore,
    step_a_backup,
    step_b_kill_off,
    step_c_wait,
    step_d_restore,
)
