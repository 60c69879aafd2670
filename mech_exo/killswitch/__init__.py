"""The kill-switch (SPEC §5): ``config/killswitch.yml`` is the one source of truth the trading engine reads.

Why the care:
* **Fail closed.** A missing, unreadable, corrupt or invalid file means trading is DISABLED — a
  switch we cannot read must never be taken for "on".
* **Atomic, locked writes.** Guards, the CLI and drills can write at the same moment. Every write
  takes an exclusive ``flock`` on the sidecar ``killswitch.yml.lock`` (so read-modify-write is one
  step), writes a temp file in the same directory, fsyncs it, ``os.replace``-s it over the file and
  fsyncs the directory: a reader sees the old or the new file, never half of one.
* **Audit.** History is append-only inside the yml, and each change also lands in
  ``data/events/killswitch.jsonl`` (→ dbt model ``killswitch_events``).
* **Re-enable policy.** Switching back on after a halt whose trigger requires approval
  (``config/risk.yml`` ``reenable``) needs ``approved_by`` naming an approver in
  ``config/alerts.yml`` with the required role; a CTO may approve anything. We look at *every*
  disable since trading was last enabled, not only the latest, so a later ``manual`` kill on top
  of a ``monthly_stop`` cannot be used to skip the CTO's approval.
* **A full disk cannot stop a halt.** When the atomic write fails (ENOSPC, EIO, a read-only
  directory…) a *disable* lands in the pre-allocated halt file ``config/killswitch.halt``
  (:mod:`mech_exo.killswitch.halt`, rewritten in place, no new blocks), or — when there is no halt
  file yet — by rewriting ``killswitch.yml`` in place inside the blocks it already has. A halt file
  saying HALT wins over the yml; an unreadable one means DISABLED. An *enable* never uses a
  fallback: it fails, trading stays off. The next successful write folds the halt records into the
  yml history and only then sets the halt file back to CLEAR. State machine: docs/KILLSWITCH.md.
* **An audit failure is not a failed change.** If ``killswitch.jsonl`` cannot be appended after the
  state changed, the record goes to ``config/killswitch.audit-backlog.jsonl`` and is flushed into the
  log on the next write (:mod:`mech_exo.killswitch.audit`); the result says what changed, which file
  failed, why, and where the record is kept.
"""
from mech_exo.killswitch import audit, halt  # noqa: F401
from mech_exo.killswitch.approval import _approvers, _covers, check_approval, outstanding_triggers, required_roles  # noqa: F401
from mech_exo.killswitch.model import (  # noqa: F401
    _HEADER,
    HISTORY_KEYS,
    SUPER_APPROVER_ROLE,
    TRIGGERS,
    ApprovalRequired,
    KillSwitchError,
    KillSwitchIOError,
    KillSwitchState,
)
from mech_exo.killswitch.state import (  # noqa: F401
    _closed,
    _parse_at,
    _read_yml,
    _recover_history,
    _validate,
    _with_halt_file,
    halt_entry,
    history,
    is_trading_enabled,
    read_state,
)
from mech_exo.killswitch.write import (  # noqa: F401
    _after_yml_written,
    _atomic_write,
    _audit_warnings,
    _change,
    _compact,
    _fold,
    _halt_fallback,
    _keep_corrupt_copy,
    _late_events,
    _lock_or_explain,
    _locked,
    _new_record,
    _render,
    _rewrite_in_place,
    _why,
    consolidate,
    ensure_halt_file,
    set_trading,
)
